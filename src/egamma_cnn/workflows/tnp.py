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
binning (not measured; the scale factors clamp to the edge bins there).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coffea.nanoevents import NanoAODSchema

from egamma_cnn.execution import dataset_kind, merge_by_kind
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.tnp.analysis import analyse, dataset_counts
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.outputs import write_outputs
from egamma_cnn.tnp.plots import plot_all
from egamma_cnn.workflows.common import run_processor, run_report

__all__ = ["NANOAOD_SCHEMA", "run_tnp"]

#: The schema of standard CMS NanoAOD (``egamma-cnn tnp --nanoaod``).
NANOAOD_SCHEMA = NanoAODSchema


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
    run = run_processor(
        TagAndProbeProcessor(config),
        fileset,
        schemaclass=schemaclass,
        step_size=step_size,
        scheduler=scheduler,
        settings=settings,
    )
    result = analyse(
        merge_by_kind(run.outputs, fileset),
        config,
        method=method,
        signal=signal,
        background=background,
        interval=interval,
        datasets={
            name: dataset_counts(output, dataset_kind(fileset, name))
            for name, output in run.outputs.items()
        },
        run_report=run_report(run),
    )
    write_outputs(result, out_dir)
    plot_all(result, out_dir)
    for line in result.warnings:
        print(line)
    return result.summary()
