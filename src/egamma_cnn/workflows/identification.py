"""The identification part of ``egamma-cnn demo``: the shipped CNNs over a fileset on dask.

:func:`run_identification` runs
:class:`egamma_cnn.processors.identification.IdentificationSummary` (the electron CNN
score per truth class and CNN-tight decision, and the photon CNN score): it preprocesses
a fileset with coffea's dataset tools, builds one lazy graph with ``apply_to_fileset``
and computes it on a dask scheduler (a ``distributed`` LocalCluster in the demo), then
writes ``summary.json`` (per dataset: events, candidates, CNN-tight fractions per truth
class), ``cnn_score.png`` and ``manifest.json`` as one run
(:func:`egamma_cnn.runfolder.run_folder`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hist

from egamma_cnn.jsonio import write_json
from egamma_cnn.model.discriminant import ELECTRON_CLASS_NAMES
from egamma_cnn.plotting import default_style, pyplot, save_figure
from egamma_cnn.processors.identification import IdentificationSummary
from egamma_cnn.runfolder import run_folder
from egamma_cnn.tnp.pairs import TRUTH_NONE
from egamma_cnn.workflows.common import fileset_inputs, run_processor

__all__ = ["run_identification"]


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    electron, photon = result["electron"], result["photon"]
    per_class = {}
    for k, name in [(TRUTH_NONE, "no truth (data)"), *enumerate(ELECTRON_CLASS_NAMES)]:
        total = float(electron[{"truth": _cat(k)}].sum(flow=True))
        if total > 0:
            tight = float(electron[{"truth": _cat(k), "tight": True}].sum(flow=True))
            per_class[name] = {"electrons": int(total), "cnn_tight_fraction": tight / total}
    photons_by_truth = {
        label: photon[{"prompt": _cat(k)}].sum(flow=True)
        for k, label in [(TRUTH_NONE, "no truth (data)"), (1, "prompt"), (0, "non-prompt")]
    }
    return {
        "events": int(result["events"]),
        "electrons": int(electron.sum(flow=True)),
        "electrons_cnn_tight": int(electron[{"tight": True}].sum(flow=True)),
        "photons": int(photon.sum(flow=True)),
        "photons_by_truth": {label: int(n) for label, n in photons_by_truth.items() if n > 0},
        "photons_cnn_tight": int(photon[{"tight": True}].sum(flow=True)),
        "electrons_by_truth_class": per_class,
    }


def _cat(value: int) -> Any:
    return hist.loc(value)


def run_identification(
    files: dict[str, Path],
    out_dir: Path,
    *,
    scheduler: Any = None,
    step_size: int = 500,
    settings: Any = None,
) -> dict[str, Any]:
    """Score every file with the shipped CNNs on dask; write the summary and the plot.

    Parameters
    ----------
    files : dict of str to Path
        Dataset name → egamma-cnn sample file.
    out_dir : Path
        Where ``summary.json`` and ``cnn_score.png`` go.
    scheduler
        A dask scheduler for ``dask.compute`` (None: the current client or dask's
        default).
    step_size : int
        Events per chunk (dask partition).
    settings : ExecutionSettings, optional
        Executor settings; with ``skip_bad_files`` an unreadable file is left out and
        named, without it the run stops at it.

    Returns
    -------
    dict
        The summary written to ``summary.json``: with permission to skip bad files, a
        file that cannot be read is named in ``"skipped_files"`` (and every left-out
        file or chunk in ``"left_out"``) and the others are processed.
    """
    fileset = {name: {"files": {str(path): "Events"}} for name, path in files.items()}
    inputs = fileset_inputs(fileset)
    with run_folder(out_dir, workflow="identification", inputs=inputs) as staging:
        run = run_processor(
            IdentificationSummary(),
            fileset,
            step_size=step_size,
            scheduler=scheduler,
            settings=settings,
        )
        results = run.outputs
        summary = {name: _summary(result) for name, result in results.items()}
        summary = {
            "datasets": summary,
            "skipped_files": run.skipped_files,
            "left_out": run.report(),
        }
        write_json(summary, staging / "summary.json")
        _plot(results, staging / "cnn_score.png")
    return summary


@default_style
def _plot(results: dict[str, Any], path: Path) -> None:
    """The electron and photon CNN score distributions per dataset and truth."""
    import mplhep

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
    panels = (
        (left, "electron", "truth", [(TRUTH_NONE, "data"), (0, "prompt e"), (5, "LF hadron")]),
        (right, "photon", "prompt", [(TRUTH_NONE, "data"), (1, "prompt γ"), (0, "non-prompt")]),
    )
    for ax, what, axis, groups in panels:
        colours = iter(plt.get_cmap("tab10").colors)
        for name, result in results.items():
            for k, label in groups:
                projection = result[what][{axis: _cat(k), "tight": sum}]
                n = int(projection.sum(flow=True))
                if n > 0:
                    mplhep.histplot(
                        projection / n, ax=ax, color=next(colours), label=f"{name}: {label} ({n})"
                    )
    for ax, what in ((left, "electron"), (right, "photon")):
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"{what} CNN score (shipped model)", fontsize=14)
        ax.set_ylabel(f"fraction of {what}s / 0.02", fontsize=14)
        ax.legend(fontsize=10, loc="upper center")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
