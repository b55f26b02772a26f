"""``egamma-cnn tnp``: the tag-and-probe processor over a fileset, to SFs, tables and plots.

:func:`run_tnp` reads a fileset (coffea's format: ``{dataset: {"files": {path: tree},
"metadata": {"is_data": bool}}}``) and goes through the four steps of every study, each
callable on its own (docs/TNP.md, "From a notebook"):

1. run ``egamma_cnn.processors.tag_and_probe.TagAndProbeProcessor`` on it with coffea's
   dataset tools and dask (a progress bar on the terminal), and add the histograms of
   all data datasets and of all simulated ones (with their event weights only: several
   simulated processes must carry weights already normalised to their cross sections);
2. :func:`egamma_cnn.tnp.analysis.analyse` them: efficiencies, truth efficiencies and
   data/MC scale factors per probe ID, with what the run left out
   (:func:`egamma_cnn.workflows.common.run_report`);
3. :func:`egamma_cnn.tnp.outputs.write_outputs`: ``histograms.root``,
   ``efficiencies.json``, ``scale_factors.json`` (correctionlib) and
   ``scale_factors_table.json``, ``summary.json``, ``config.json``;
4. :func:`egamma_cnn.tnp.plots.plot_all`: ``efficiency_<id>_et.png``,
   ``efficiency_<id>_eta.png``, ``sf_<id>.png`` and, for fits,
   ``fits_<sample>_<id>_et<low>-<high>.png``;

then prints the analysis' warnings (bins without an efficiency, flagged bins). A file
that cannot be opened is reported by name and left out (``skip_bad_files``);
``summary.json`` counts per dataset the pairs whose probe lies outside the E_T × η
binning (not measured; the scale factors give the last E_T bin above the last edge and
an error elsewhere outside: :mod:`egamma_cnn.tnp.scale_factors`).

The files are written as one run (:func:`egamma_cnn.runfolder.run_folder`): into a
temporary folder, moved into ``out_dir`` when everything is written, the previous run's
files that this run does not write (e.g. the plots of an ID no longer measured) removed,
``manifest.json`` last. Two probe IDs that are the same specification (after
normalisation) are an error before anything runs.

Scale factors need data and simulation. With data and simulated datasets, a kind none of
whose datasets gives a single tag-probe pair (an empty sample, a selection nothing passes)
is an error naming its datasets (no scale factors of 1 from nothing). A fileset of one
kind only (only data, only simulation) gives efficiencies without scale factors:
``summary.json`` says why under ``no_scale_factors`` and the line is printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coffea.nanoevents import BaseSchema, NanoAODSchema

from egamma_cnn.execution import FilesetRun, dataset_kind, dataset_kinds, merge_by_kind
from egamma_cnn.nanoevents import EGammaSchema
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.runfolder import run_folder
from egamma_cnn.tnp.analysis import analyse, dataset_counts
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.outputs import check_output_names, write_outputs
from egamma_cnn.tnp.plots import plot_all
from egamma_cnn.tnp.systematics import check_systematics
from egamma_cnn.workflows.common import (
    check_graph_on_first_files,
    fileset_inputs,
    run_processor,
    run_report,
    write_preprocessed,
)

__all__ = ["NANOAOD_SCHEMA", "run_tnp", "schema_for"]

#: The schema of standard CMS NanoAOD (``egamma-cnn tnp --nanoaod``).
NANOAOD_SCHEMA = NanoAODSchema


def schema_for(config: TnPConfig) -> Any:
    """The NanoEvents schema of the configuration's input: coffea's ``BaseSchema`` for a
    flat ntuple (``input_format "pairs"``), ``NanoAODSchema`` for the CMS NanoAOD
    presets, :class:`~egamma_cnn.nanoevents.EGammaSchema` otherwise."""
    if config.input_format == "pairs":
        return BaseSchema
    if config.preset.startswith("cms-nanoaod"):
        return NanoAODSchema
    return EGammaSchema


def run_tnp(
    fileset: Mapping[str, Any],
    out_dir: str | Path,
    config: TnPConfig | None = None,
    *,
    method: str = "count",
    signal: str = "template",
    background: str = "exponential",
    interval: str = "clopper-pearson",
    schemaclass: Any = None,
    step_size: int | None = None,
    scheduler: Any = None,
    settings: Any = None,
) -> dict[str, Any]:
    """Run the tag-and-probe and write every output (module docstring); returns the summary.

    ``method``, ``signal``, ``background``, ``interval``: those of
    :func:`~egamma_cnn.tnp.analysis.analyse`. ``settings``: the
    :class:`~egamma_cnn.execution.ExecutionSettings` (executor, retries, permission to
    skip bad files); ``step_size`` overrides its chunk size.
    """
    config = config or TnPConfig()
    check_output_names(config.probe_id, "probe ID")
    check_systematics(
        config.systematics,
        config.mass_range,
        method,
        signal_window=config.signal_window,
        sidebands=config.sidebands,
    )
    dataset_kinds(fileset)  # every dataset says whether it is data, before anything runs
    schemaclass = schemaclass or schema_for(config)
    check_graph_on_first_files(TagAndProbeProcessor(config), fileset, schemaclass, settings)
    with run_folder(out_dir, workflow="tnp", inputs=fileset_inputs(fileset)) as staging:
        result, run = _measure(
            fileset,
            config,
            dict(method=method, signal=signal, background=background, interval=interval),
            dict(
                schemaclass=schemaclass, step_size=step_size, scheduler=scheduler, settings=settings
            ),
        )
        write_outputs(result, staging)
        write_preprocessed(run, staging)
        plot_all(result, staging)
    for line in result.warnings:
        print(line)
    summary = result.summary()
    if "no_scale_factors" in summary:
        print(summary["no_scale_factors"])
    return summary


def _measure(
    fileset: Mapping[str, Any],
    config: TnPConfig,
    options: Mapping[str, Any],
    execution: Mapping[str, Any],
) -> tuple[Any, FilesetRun]:
    """The processor over ``fileset``, then :func:`~egamma_cnn.tnp.analysis.analyse`;
    the result and the run."""
    run = run_processor(TagAndProbeProcessor(config), fileset, **execution)
    datasets = {
        name: dataset_counts(output, dataset_kind(fileset, name))
        for name, output in run.outputs.items()
    }
    report = run_report(run)
    missing = _no_scale_factors(dataset_kinds(fileset), datasets)
    if missing is not None:
        report["no_scale_factors"] = missing
    result = analyse(
        merge_by_kind(run.outputs, fileset),
        config,
        **options,
        datasets=datasets,
        run_report=report,
    )
    return result, run


def _no_scale_factors(kinds: Mapping[str, str], counts: Mapping[str, Any]) -> str | None:
    """Why no scale factors are made (one kind only), or None; raise for a kind without pairs.

    ``kinds``: ``{dataset: "data" or "mc"}`` of the fileset; ``counts``: the
    :func:`~egamma_cnn.tnp.analysis.dataset_counts` of the datasets that ran.
    """
    present = set(kinds.values())
    if present == {"data", "mc"}:
        for kind, label in (("data", "data"), ("mc", "MC")):
            names = sorted(name for name, k in kinds.items() if k == kind)
            pairs = sum(int(counts.get(name, {}).get("pairs", 0)) for name in names)
            if pairs == 0:
                events = sum(int(counts.get(name, {}).get("events", 0)) for name in names)
                raise ValueError(
                    f"the {label} dataset(s) {', '.join(map(repr, names))} give no tag-probe "
                    f"pair ({events} events read): no scale factors can be measured from them"
                )
        return None
    names = ", ".join(repr(name) for name in sorted(kinds))
    if present == {"data"}:
        return f"no scale factors: the fileset has no MC dataset (only data: {names})"
    return f"no scale factors: the fileset has no data dataset (only MC: {names})"
