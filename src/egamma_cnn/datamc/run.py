"""``egamma-cnn datamc``: probe shower shapes in data and MC, fudge factors, distances, plots.

The CNN score (``compare_only``) is compared but not fudged: fudging applies to the
inputs of an ID, and a fudged score would need the network run on fudged inputs.

:func:`run_datamc` runs ``egamma_cnn.processors.data_mc.DataMCProcessor`` over a fileset
(the format of ``egamma-cnn tnp``, one or more data and MC datasets), adds the data and
the MC outputs, and writes into the output folder:

* ``fudge_factors.json`` — the correctionlib file of the shift/width fudge factors, and
  ``fudge_table.json`` with the same numbers;
* ``distances.json`` — L1, Hellinger, Wasserstein distances of data vs MC and data vs
  fudged MC per variable, versus E_T, versus η and inclusive;
* ``parameters.json`` — Gaussian-fit mean, width and peak per variable versus E_T and η,
  for data, MC and fudged MC;
* per variable ``<variable>.png``: the normalised inclusive distributions of data, MC and
  fudged MC with the ratio to data, the three distances versus E_T and the parameters
  versus E_T (the way seed 002 shows them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.datamc.analysis import (
    derive_fudge,
    distance_table,
    fudged_distribution,
    gaussian_parameters,
)
from egamma_cnn.datamc.fudge import write_correctionlib
from egamma_cnn.fileset import dataset_kind, run_over_fileset
from egamma_cnn.tnp.config import TnPConfig

__all__ = ["run_datamc"]


def _parameters(counts: np.ndarray, edges: np.ndarray, axis: str) -> list[dict[str, Any]]:
    """Gaussian parameters of counts[value, et, eta] versus E_T or η."""
    rows = []
    n = counts.shape[1] if axis == "et" else counts.shape[2]
    for k in range(n):
        projected = counts[:, k, :].sum(axis=1) if axis == "et" else counts[:, :, k].sum(axis=1)
        rows.append(gaussian_parameters(projected, edges))
    return rows


def run_datamc(
    fileset: Mapping[str, Any],
    out_dir: str | Path,
    config: TnPConfig | None = None,
    *,
    variables: dict[str, tuple[int, float, float]] | None = None,
    compare_only: tuple[str, ...] = ("cnn_score",),
    estimator: str = "quantiles",
    schemaclass: Any = None,
    step_size: int = 20_000,
    scheduler: Any = None,
) -> dict[str, Any]:
    """Run the data/MC comparison and write every output (module docstring)."""
    from egamma_cnn.processors.data_mc import DataMCProcessor

    config = config or TnPConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    processor = DataMCProcessor(config, variables)
    if {dataset_kind(fileset, name) for name in fileset} != {"data", "mc"}:
        raise ValueError("the data/MC comparison needs at least one data and one MC dataset")
    results, skipped = run_over_fileset(
        processor, fileset, schemaclass=schemaclass, step_size=step_size, scheduler=scheduler
    )
    merged: dict[str, dict[str, Any]] = {}
    for name, result in results.items():
        kind = dataset_kind(fileset, name)
        if kind not in merged:
            merged[kind] = {
                "probes": int(result["probes"]),
                "moments": result["moments"],
                "distributions": dict(result["distributions"]),
            }
        else:
            merged[kind]["probes"] += int(result["probes"])
            merged[kind]["moments"] = merged[kind]["moments"] + result["moments"]
            for v, h in result["distributions"].items():
                merged[kind]["distributions"][v] = merged[kind]["distributions"][v] + h
    if set(merged) != {"data", "mc"}:
        raise ValueError(f"after the unreadable files {skipped}, data or MC is missing")
    data, mc = merged["data"], merged["mc"]

    factors, distances, parameters = {}, {}, {}
    for variable in processor.variables:
        h = data["distributions"][variable]
        edges = np.asarray(h.axes["value"].edges)
        samples = {"data": h.values(), "mc": mc["distributions"][variable].values()}
        if variable in compare_only:
            distances[variable] = distance_table(data, mc, None, variable)
        else:
            factors[variable] = derive_fudge(data, mc, variable, estimator=estimator)
            distances[variable] = distance_table(data, mc, factors[variable])
            samples["fudged_mc"] = fudged_distribution(mc, factors[variable])
        parameters[variable] = {
            f"{sample}_{axis}": _parameters(counts, edges, axis)
            for sample, counts in samples.items()
            for axis in ("et", "eta")
        }
        _plot_variable(variable, samples, edges, h, distances[variable], parameters[variable],
                       out_dir / f"{variable}.png")  # fmt: skip
    write_correctionlib(factors, out_dir / "fudge_factors.json")
    (out_dir / "fudge_table.json").write_text(
        json.dumps({v: f.to_dict() for v, f in factors.items()}, indent=1)
    )
    (out_dir / "distances.json").write_text(json.dumps(distances, indent=1))
    (out_dir / "parameters.json").write_text(json.dumps(parameters, indent=1, default=float))
    summary = {
        "probes": {"data": data["probes"], "mc": mc["probes"]},
        "skipped_files": skipped,
        "inclusive_distances": {
            v: {
                "unfudged": distances[v]["inclusive"][0]["unfudged"],
                "fudged": distances[v]["inclusive"][0]["fudged"],  # None: compared only
            }
            for v in distances
        },
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _plot_variable(variable, samples, edges, histogram, distances, parameters, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(15, 8))
    grid = fig.add_gridspec(3, 3, height_ratios=[3, 1.2, 0.01], hspace=0.08, wspace=0.3)
    top = fig.add_subplot(grid[0, 0])
    ratio = fig.add_subplot(grid[1, 0], sharex=top)
    colours = {"data": "black", "mc": "tab:blue", "fudged_mc": "tab:red"}
    labels = {"data": "data-like", "mc": "MC", "fudged_mc": "fudged MC"}
    centres = 0.5 * (edges[1:] + edges[:-1])
    inclusive = {k: v.sum(axis=(1, 2)) for k, v in samples.items()}
    norm = {k: v / v.sum() if v.sum() > 0 else v for k, v in inclusive.items()}
    for k, v in norm.items():
        if k == "data":
            top.errorbar(centres, v, yerr=np.sqrt(inclusive[k]) / max(inclusive[k].sum(), 1),
                         fmt="o", ms=3, color="black", label=labels[k])  # fmt: skip
        else:
            top.stairs(v, edges, color=colours[k], label=labels[k])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio.plot(centres, v / norm["data"], drawstyle="steps-mid", color=colours[k])
    ratio.axhline(1.0, color="grey", lw=1)
    ratio.set_ylim(0.5, 1.5)
    ratio.set_ylabel("/ data")
    ratio.set_xlabel(variable)
    top.set_ylabel("fraction of probes")
    top.legend(fontsize=8)
    top.set_title(f"{variable}: probe electrons, all bins", fontsize=10)
    plt.setp(top.get_xticklabels(), visible=False)

    et_rows = distances["et"]
    x = np.array([0.5 * (r["low"] + r["high"]) for r in et_rows])
    distance_axes = fig.add_subplot(grid[0, 1])
    for name, marker in (("l1", "o"), ("hellinger", "s"), ("wasserstein", "^")):
        scale = 1.0
        if name == "wasserstein":
            spread = np.nanmax([r["unfudged"][name] for r in et_rows] + [1e-12])
            scale = 1.0 / spread if spread > 0 else 1.0
        for kind, fill in (("unfudged", "full"), ("fudged", "none")):
            if et_rows and et_rows[0][kind] is None:
                continue
            values = np.array([r[kind][name] for r in et_rows]) * scale
            label = f"{name}{' (scaled)' if scale != 1 else ''}, {kind}"
            colour = {"unfudged": "tab:blue", "fudged": "tab:red"}[kind]
            distance_axes.plot(
                x, values, marker=marker, fillstyle=fill, ls="none", color=colour, label=label
            )
    distance_axes.set_xlabel(r"probe $E_T$ [GeV]")
    distance_axes.set_ylabel("distance to data")
    distance_axes.set_title("data vs MC (full) and vs fudged MC (open)", fontsize=10)
    distance_axes.legend(fontsize=6, ncol=2)

    et_edges = np.asarray(histogram.axes["et"].edges)
    x_et = 0.5 * (et_edges[1:] + et_edges[:-1])
    peak_axes = fig.add_subplot(grid[0, 2])
    width_axes = fig.add_subplot(grid[1, 2], sharex=peak_axes)
    for sample in ("data", "mc", "fudged_mc"):
        if f"{sample}_et" not in parameters:
            continue
        rows = parameters[f"{sample}_et"]
        peak_axes.plot(x_et, [r["peak"] for r in rows], "o-", ms=3, color=colours[sample],
                       label=labels[sample])  # fmt: skip
        width_axes.plot(x_et, [r["width"] for r in rows], "o-", ms=3, color=colours[sample])
    peak_axes.set_ylabel("Gaussian peak")
    peak_axes.legend(fontsize=7)
    peak_axes.set_title("parameters versus E_T", fontsize=10)
    plt.setp(peak_axes.get_xticklabels(), visible=False)
    width_axes.set_ylabel("Gaussian width")
    width_axes.set_xlabel(r"probe $E_T$ [GeV]")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
