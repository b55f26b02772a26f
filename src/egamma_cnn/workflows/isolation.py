"""``egamma-cnn isolation``: isolation working points, ID–isolation correlation, cones vs images.

:func:`run_isolation` runs ``egamma_cnn.processors.isolation.IsolationProcessor`` over a
fileset (the format of ``egamma-cnn tnp``; simulation gives the truth-based results,
data the candidate-level ones), adds the outputs per kind (data, MC), analyses them
(:func:`egamma_cnn.isolation.analysis.analyse`, with what the run left out:
:func:`egamma_cnn.workflows.common.run_report`), writes the tables
(:func:`egamma_cnn.isolation.outputs.write_outputs`) and draws the plots
(:func:`egamma_cnn.isolation.plots.plot_all`) into the output folder:

* ``working_points.json`` and ``working_points.png`` — per isolation working point, the
  efficiency of true electrons (truth classes 0, 1) and of non-prompt candidates (3, 4,
  5) versus E_T and inclusive (MC), and of all candidates (data); on MC the
  factorisation ratios ε(iso | cnn_tight) / ε(iso) and ε(iso | llh_tight) / ε(iso);
* ``correlations.json`` and ``correlations.png`` — Pearson ρ of each ID score (CNN,
  LLH) with each relative isolation, inclusive, versus E_T and versus η, for true
  electrons, non-prompt candidates and data (Franco's photon-ID talk);
  ``score_vs_isolation.png`` the 2-D distributions behind them;
* ``roc.json``, ``roc.png`` and ``auc_vs_cone.png`` — the Collado Umana thesis, ch. 4
  on our samples: the AUC and the background efficiency at ε_S = 0.80, 0.90, 0.95 of
  every single isolation cone I(R₀), of the relative isolation variables and of the
  image-based CNN score (and the likelihood), each cut on its signal side
  (``signal_side``: high scores, low isolation; a cone with AUC < 0.5 is turned round —
  one smaller than the shower selects electrons by a *large* I(R₀), containment rather
  than isolation), for true electrons against non-prompt electrons (truth classes 3
  and 4: real electrons inside jets, the analogue of the thesis's non-prompt muons),
  against heavy-flavour decays alone, and against every non-prompt candidate;
* ``tnp/`` — with ``tnp_datasets``: the tag-and-probe of the isolation working points
  on those (Z→ee data and MC) datasets, at least one of each kind (else an error before
  anything runs): efficiencies, the scale factors as a
  correctionlib file, plots (:func:`egamma_cnn.workflows.run_tnp`);
* ``summary.json`` — :meth:`egamma_cnn.isolation.analysis.IsolationResult.summary`,
  with the tag-and-probe's summary as ``"tnp"``;
* ``manifest.json``, last: the files are written as one run
  (:func:`egamma_cnn.runfolder.run_folder`), ``tnp/`` with its own manifest inside.

Two working points that are the same specification are an error before anything runs.

``particle="photon"`` (``egamma-cnn isolation --photons``) does the same for photons:
the photon CNN score, Franco's loose point ``Photon.iso_loose``, prompt photons
against non-prompt ones (``Photon.isPrompt``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from egamma_cnn.execution import dataset_kind, dataset_kinds, merge_by_kind
from egamma_cnn.isolation.analysis import analyse
from egamma_cnn.isolation.outputs import write_outputs
from egamma_cnn.isolation.plots import plot_all
from egamma_cnn.processors.isolation import IsolationProcessor
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
from egamma_cnn.workflows.tnp import run_tnp

__all__ = ["run_isolation"]


def _check_tnp_datasets(
    tnp_datasets: Sequence[str] | None, fileset: Mapping[str, Any], particle: str
) -> None:
    """Raise when the tag-and-probe datasets are not in the fileset or not electrons."""
    if tnp_datasets and particle != "electron":
        raise ValueError("the tag-and-probe (tnp_datasets) measures electrons, not photons")
    unknown = sorted(set(tnp_datasets or ()) - set(fileset))
    if unknown:
        raise ValueError(f"tag-and-probe datasets {unknown} are not in the fileset")
    if tnp_datasets:
        kinds = {name: dataset_kind(fileset, name) for name in tnp_datasets}
        lacking = [
            label
            for kind, label in (("data", "data"), ("mc", "MC"))
            if kind not in set(kinds.values())
        ]
        if lacking:
            raise ValueError(
                f"tag-and-probe datasets {sorted(kinds)} have no {' and no '.join(lacking)} "
                "dataset: scale factors need at least one data and one MC dataset"
            )


def run_isolation(
    fileset: Mapping[str, Any],
    out_dir: str | Path,
    config: TnPConfig | None = None,
    *,
    working_points: Mapping[str, str] | None = None,
    tnp_datasets: Sequence[str] | None = None,
    particle: str = "electron",
    schemaclass: Any = None,
    step_size: int | None = None,
    scheduler: Any = None,
    settings: Any = None,
) -> dict[str, Any]:
    """Run the isolation study and write every output (module docstring); returns a summary.

    Parameters
    ----------
    fileset : mapping
        Datasets with ``metadata.is_data`` (:func:`egamma_cnn.execution.load_fileset`).
    out_dir : str or Path
        Output folder (created).
    config : TnPConfig, optional
        Selection, binning and field names (the tag-and-probe's).
    working_points : mapping of str to str, optional
        Isolation working points, name → ID specification; default the built-in
        ``iso_loose`` and ``iso_tight``.
    tnp_datasets : sequence of str, optional
        Z→ee datasets (one data, one MC at least) on which to measure the working points
        with the tag-and-probe and derive their scale factors (electrons only).
    settings : ExecutionSettings, optional
        Executor, retries, permission to skip bad files; ``step_size`` overrides its
        chunk size.
    particle : {"electron", "photon"}
        Which candidates; photons: the photon CNN, ``Photon.iso_loose`` (Franco's
        photon-ID talk) and prompt against non-prompt photons.
    """
    config = config or TnPConfig()
    processor = IsolationProcessor(config, working_points, kind=particle)
    dataset_kinds(fileset)  # every dataset says whether it is data, before anything runs
    _check_tnp_datasets(tnp_datasets, fileset, particle)
    check_output_names(list(processor.working_points.values()), "isolation working point")
    check_graph_on_first_files(processor, fileset, schemaclass, settings)
    execution = {"schemaclass": schemaclass, "step_size": step_size, "scheduler": scheduler}
    with run_folder(out_dir, workflow="isolation", inputs=fileset_inputs(fileset)) as staging:
        run = run_processor(processor, fileset, **execution, settings=settings)
        tnp_summary = None
        if tnp_datasets:
            tnp_summary = run_tnp(
                {name: fileset[name] for name in tnp_datasets},
                staging / "tnp",
                replace(config, probe_id=tuple(processor.working_points.values())),
                **execution,
                settings=settings,
            )
        result = analyse(
            merge_by_kind(run.outputs, fileset),
            processor.working_points,
            particle=particle,
            run_report=run_report(run),
            tnp_summary=tnp_summary,
        )
        write_outputs(result, staging)
        write_preprocessed(run, staging)
        plot_all(result, staging)
    return result.summary()
