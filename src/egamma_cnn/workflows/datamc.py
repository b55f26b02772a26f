"""``egamma-cnn datamc``: probe shower shapes in data and MC, fudge factors, distances, plots.

The CNN score (``compare_only``) gets no fudge factors of its own: fudging applies to
the inputs of an ID. Its fudged distribution is the network run on fudged inputs, which
the second pass gives.

:func:`run_datamc` runs ``egamma_cnn.processors.data_mc.DataMCProcessor`` over a fileset
(the format of ``egamma-cnn tnp``, one or more data and MC datasets) and adds the data
and the MC outputs; then the study's own steps, each callable on histograms one already
has: :func:`egamma_cnn.datamc.analysis.derive_fudge_factors` (the fudge factors alone)
and :func:`egamma_cnn.datamc.outputs.write_fudge_factors` (before the fudged pass, which
reads the file), the fudged pass, :func:`egamma_cnn.datamc.analysis.analyse` once
(distances, parameters, efficiencies of data, MC and fudged MC, with what the runs left
out: :func:`egamma_cnn.workflows.common.run_report`),
:func:`egamma_cnn.datamc.outputs.write_outputs` (the other files) and
:func:`egamma_cnn.datamc.plots.plot_all`. It writes into the output folder:

* ``fudge_factors.json`` — the correctionlib file of the shift/width fudge factors, and
  ``fudge_table.json`` with the same numbers;
* ``distances.json`` — L1, Hellinger, Wasserstein distances of data vs MC and data vs
  fudged MC per variable, versus E_T, versus η and inclusive;
* ``parameters.json`` — Gaussian-fit mean, width and peak per variable versus E_T and η,
  for data, MC and fudged MC;
* per variable ``<variable>.png``: the normalised inclusive distributions of data, MC and
  fudged MC with the ratio to data, the three distances versus E_T and the parameters
  versus E_T (the way Zumbihl's e/γ talk shows them); ``bins/<variable>_et.png`` and
  ``bins/<variable>_eta.png``: the normalised distributions with ratio panels in every
  probe E_T bin and every η bin;
* ``distributions.root`` — every distribution (value × probe E_T × η) of data, MC and
  fudged MC as a TH3 (``data/reta``, ``mc/reta``, ``fudged_mc/reta``, ...), for any other
  projection;
* ``summary.json``, and ``manifest.json`` last: the files are written as one run
  (:func:`egamma_cnn.runfolder.run_folder`: a temporary folder beside ``out_dir``,
  swapped in when complete, the previous run's stale files removed).

Data or MC datasets that give no probe at all are an error that names them (no fudge
factors, no identity); so are two IDs that are the same specification.

With ``fudged_pass`` (default) the processor runs a second time over the MC datasets
with ``fudge_factors.json`` applied to every candidate
(:meth:`egamma_cnn.nanoevents.EGammaSchema.with_fudge`): the shower-shape columns are
the fudged values and the likelihood and the CNN's high-level inputs see them; the
calorimeter images and tracks the CNN also reads are not fudged. This gives

* the event-level fudged distributions (the ``fudged_applied`` distances: what the
  correctionlib file does to the MC, the check of the binned ``fudged`` ones), and the
  CNN score of fudged MC;
* ``id_efficiencies.json`` and ``id_efficiencies.png``: the efficiencies of the
  likelihood and CNN working points for the Z-window probes (m_ee 80–100 GeV, no
  background subtraction) of data, MC and fudged MC, versus E_T and inclusive — the
  effect of fudging on the identification efficiencies (Zumbihl's e/γ talk).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from egamma_cnn.corrections.fudge import FudgeFactors
from egamma_cnn.datamc.analysis import analyse, derive_fudge_factors, unapplied_factors
from egamma_cnn.datamc.outputs import write_fudge_factors, write_outputs
from egamma_cnn.datamc.plots import plot_all
from egamma_cnn.execution import ExecutionSettings, FilesetRun, dataset_kind, merge_by_kind
from egamma_cnn.nanoevents import EGammaSchema
from egamma_cnn.processors.data_mc import DEFAULT_IDS, DataMCProcessor
from egamma_cnn.runfolder import run_folder
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.outputs import check_output_names
from egamma_cnn.workflows.common import (
    check_graph_on_first_files,
    fileset_inputs,
    run_processor,
    run_report,
    write_preprocessed,
)

__all__ = ["run_datamc"]


def run_datamc(
    fileset: Mapping[str, Any],
    out_dir: str | Path,
    config: TnPConfig | None = None,
    *,
    variables: dict[str, tuple[int, float, float]] | None = None,
    compare_only: tuple[str, ...] = ("cnn_score",),
    estimator: str = "quantiles",
    ids: tuple[str, ...] | None = None,
    fudged_pass: bool = True,
    schemaclass: Any = None,
    step_size: int | None = None,
    scheduler: Any = None,
    settings: ExecutionSettings | None = None,
) -> dict[str, Any]:
    """Run the data/MC comparison and write every output (module docstring).

    ``settings``: the :class:`~egamma_cnn.execution.ExecutionSettings` (executor,
    retries, permission to skip bad files) of both passes; ``step_size`` overrides its
    chunk size. ``ids``: the IDs whose efficiencies are compared (default: the
    likelihood and CNN working points, :data:`~egamma_cnn.processors.data_mc.DEFAULT_IDS`).
    ``fudged_pass``: run the MC again with the fudge factors applied (needs the
    egamma-cnn schema, whose columns can be fudged). Fudged MC is the MC with every
    electron fudged, the tags included: its tag selection (``cnn_tight`` by default)
    changes a little with the fudging, and with it the probes — the probe efficiency of
    a Z→ee tag-and-probe hardly depends on which tags are chosen, which is what lets the
    comparison stand.

    Returns
    -------
    dict
        The summary (``summary.json``): probes, files left out, inclusive distances and
        ID efficiencies.
    """
    ids = DEFAULT_IDS if ids is None else tuple(ids)
    check_output_names(ids, "ID")
    processor = DataMCProcessor(config, variables, ids=ids)
    schemaclass = _checked_schema(fileset, schemaclass or EGammaSchema, fudged_pass)
    check_graph_on_first_files(processor, fileset, schemaclass, settings)
    execution = dict(step_size=step_size, scheduler=scheduler, settings=settings)
    with run_folder(out_dir, workflow="datamc", inputs=fileset_inputs(fileset)) as staging:
        run = run_processor(processor, fileset, schemaclass=schemaclass, **execution)
        merged = merge_by_kind(run.outputs, fileset)
        if set(merged) != {"data", "mc"}:
            raise ValueError(
                f"after the unreadable files {run.skipped_files}, data or MC is missing"
            )
        _check_probes(merged, fileset)
        options = dict(
            variables=list(processor.variables), compare_only=compare_only, estimator=estimator
        )
        factors = derive_fudge_factors(merged, **options)
        # the fudged pass reads the file: written first, in the run's temporary folder
        fudge_path = write_fudge_factors(factors, staging)[0]
        fudged_run = None
        if fudged_pass:
            fudged_schema = schemaclass.with_fudge(fudge_path)
            fudged_run = _fudged_pass(processor, fileset, run, fudged_schema, factors, execution)
            merged["fudged_mc"] = _fudged_output(fudged_run, fileset)
        result = analyse(
            merged,
            **options,
            factors=factors,
            ids=processor.ids,
            run_report=run_report(run, fudged_pass=fudged_run),
        )
        write_outputs(result, staging, fudge_factors=False)
        write_preprocessed(run, staging)
        plot_all(result, staging)
    return result.summary()


def _check_probes(merged: Mapping[str, Any], fileset: Mapping[str, Any]) -> None:
    """Raise when the data or the MC datasets gave no probe: nothing to compare or fudge."""
    for kind, label in (("data", "data"), ("mc", "MC")):
        if int(merged[kind]["probes"]) == 0:
            names = sorted(n for n in fileset if dataset_kind(fileset, n) == kind)
            raise ValueError(
                f"the {label} datasets {names} have no probes (no tag-probe pair passed the "
                "selection): no data/MC comparison and no fudge factors without them"
            )


def _checked_schema(fileset: Mapping[str, Any], schemaclass: Any, fudged_pass: bool) -> Any:
    """``schemaclass`` once the fileset and the schema allow the comparison."""
    if {dataset_kind(fileset, name) for name in fileset} != {"data", "mc"}:
        raise ValueError("the data/MC comparison needs at least one data and one MC dataset")
    if fudged_pass and not issubclass(schemaclass, EGammaSchema):
        raise ValueError(
            "the fudged pass applies the fudge factors through the egamma-cnn schema; "
            f"{schemaclass.__name__} cannot fudge its columns: pass fudged_pass=False"
        )
    identification = getattr(schemaclass, "identification", None)
    if identification is not None and identification.fudge is not None:
        raise ValueError(
            f"the schema already applies the fudge factors of {identification.fudge}: they "
            "would fudge the data too; give the plain schema"
        )
    return schemaclass


def _fudged_pass(
    processor: DataMCProcessor,
    fileset: Mapping[str, Any],
    run: FilesetRun,
    schemaclass: Any,
    factors: Mapping[str, FudgeFactors],
    execution: Mapping[str, Any],
) -> FilesetRun:
    """The processor over the MC datasets with ``factors`` applied by ``schemaclass``.

    Says so when the fudge factors of a variable cannot be applied, or when this pass
    could not read the same MC files as the first ``run``.
    """
    # the file fudges what the feature computation makes: the shower shapes
    not_applied = unapplied_factors(factors)
    if not_applied:
        print(
            f"fudge factors of {not_applied} are written but the fudged pass cannot "
            "apply them (not shower shapes the features compute)"
        )
    mc_fileset = {n: spec for n, spec in fileset.items() if dataset_kind(fileset, n) == "mc"}
    fudged_run = run_processor(processor, mc_fileset, schemaclass=schemaclass, **execution)
    mc_files = {f for spec in mc_fileset.values() for f in spec["files"]}
    if set(fudged_run.skipped_files) != {f for f in run.skipped_files if f in mc_files}:
        print(
            f"the fudged pass could not read {fudged_run.skipped_files}, the first pass "
            f"{run.skipped_files}: MC and fudged MC come from different files"
        )
    return fudged_run


def _fudged_output(fudged_run: FilesetRun, fileset: Mapping[str, Any]) -> dict[str, Any]:
    """The fudged MC output, added over the MC datasets of the fudged pass."""
    fudged = merge_by_kind(fudged_run.outputs, fileset).get("mc")
    if fudged is None:
        raise ValueError(f"the fudged pass could read no MC file ({fudged_run.skipped_files})")
    return fudged
