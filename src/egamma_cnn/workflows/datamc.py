"""``egamma-cnn datamc``: probe shower shapes in data and MC, fudge factors, distances, plots.

The CNN score (``compare_only``) gets no fudge factors of its own: fudging applies to
the inputs of an ID. Its fudged distribution is the network run on fudged inputs, which
the second pass gives.

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
  versus E_T (the way Zumbihl's e/γ talk shows them); ``bins/<variable>_et.png`` and
  ``bins/<variable>_eta.png``: the normalised distributions with ratio panels in every
  probe E_T bin and every η bin;
* ``distributions.root`` — every distribution (value × probe E_T × η) of data, MC and
  fudged MC as a TH3 (``data/reta``, ``mc/reta``, ``fudged_mc/reta``, ...), for any other
  projection.

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

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from egamma_cnn.corrections.fudge import write_correctionlib
from egamma_cnn.datamc.analysis import (
    derive_fudge,
    distance_table,
    fudged_distribution,
    gaussian_parameters,
)
from egamma_cnn.execution import dataset_kind, merge_by_kind
from egamma_cnn.features import SHOWER_SHAPE_NAMES
from egamma_cnn.nanoevents import EGammaSchema
from egamma_cnn.plotting import default_style, pyplot
from egamma_cnn.processors.data_mc import DEFAULT_IDS, DataMCProcessor
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.efficiency import weighted_efficiency
from egamma_cnn.workflows.common import run_processor

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
    ids: tuple[str, ...] | None = None,
    fudged_pass: bool = True,
    schemaclass: Any = None,
    step_size: int | None = None,
    scheduler: Any = None,
    settings: Any = None,
) -> dict[str, Any]:
    """Run the data/MC comparison and write every output (module docstring).

    ``settings``: the :class:`~egamma_cnn.execution.ExecutionSettings` (executor,
    retries, permission to skip bad files); ``step_size`` overrides its chunk size.
    ``ids``: the IDs whose efficiencies are compared (default: the likelihood and CNN
    working points, :data:`~egamma_cnn.processors.data_mc.DEFAULT_IDS`).
    ``fudged_pass``: run the MC again with the fudge factors applied (needs the
    egamma-cnn schema, whose columns can be fudged). Fudged MC is the MC with every
    electron fudged, the tags included: its tag selection (``cnn_tight`` by default)
    changes a little with the fudging, and with it the probes — the probe efficiency of
    a Z→ee tag-and-probe hardly depends on which tags are chosen, which is what lets the
    comparison stand.
    """

    config = config or TnPConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    processor = DataMCProcessor(config, variables, ids=DEFAULT_IDS if ids is None else ids)
    if {dataset_kind(fileset, name) for name in fileset} != {"data", "mc"}:
        raise ValueError("the data/MC comparison needs at least one data and one MC dataset")
    schemaclass = schemaclass or EGammaSchema
    if fudged_pass and not issubclass(schemaclass, EGammaSchema):
        raise ValueError(
            "the fudged pass applies the fudge factors through the egamma-cnn schema; "
            f"{schemaclass.__name__} cannot fudge its columns: pass fudged_pass=False"
        )
    settings = getattr(schemaclass, "identification", None)
    if settings is not None and settings.fudge is not None:
        raise ValueError(
            f"the schema already applies the fudge factors of {settings.fudge}: they would "
            "fudge the data too; give the plain schema"
        )
    run = run_processor(
        processor,
        fileset,
        schemaclass=schemaclass,
        step_size=step_size,
        scheduler=scheduler,
        settings=settings,
    )
    results, skipped, left_out = run.outputs, run.skipped_files, run.report()
    merged = merge_by_kind(results, fileset)
    if set(merged) != {"data", "mc"}:
        raise ValueError(f"after the unreadable files {skipped}, data or MC is missing")
    data, mc = merged["data"], merged["mc"]

    factors, distances, parameters, plotted = {}, {}, {}, {}
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
        plotted[variable] = (samples, edges, h)
    fudge_path = write_correctionlib(factors, out_dir / "fudge_factors.json")
    (out_dir / "fudge_table.json").write_text(
        json.dumps({v: f.to_dict() for v, f in factors.items()}, indent=1)
    )
    fudged, not_applied, skipped_fudged = None, [], []
    if fudged_pass:
        # the file fudges what the feature computation makes: the shower shapes
        not_applied = [v for v in factors if v not in SHOWER_SHAPE_NAMES]
        if not_applied:
            print(
                f"fudge factors of {not_applied} are written but the fudged pass cannot "
                "apply them (not shower shapes the features compute)"
            )
        mc_fileset = {n: spec for n, spec in fileset.items() if dataset_kind(fileset, n) == "mc"}
        fudged_run = run_processor(
            processor,
            mc_fileset,
            schemaclass=schemaclass.with_fudge(fudge_path),
            step_size=step_size,
            scheduler=scheduler,
            settings=settings,
        )
        fudged_results, skipped_fudged = fudged_run.outputs, fudged_run.skipped_files
        left_out += [dict(row, fudged_pass=True) for row in fudged_run.report()]
        mc_files = {f for spec in mc_fileset.values() for f in spec["files"]}
        if set(skipped_fudged) != {f for f in skipped if f in mc_files}:
            print(
                f"the fudged pass could not read {skipped_fudged}, the first pass "
                f"{skipped}: MC and fudged MC come from different files"
            )
        merged_fudged = merge_by_kind(fudged_results, fileset)
        if "mc" not in merged_fudged:
            raise ValueError(f"the fudged pass could read no MC file ({skipped_fudged})")
        fudged = merged_fudged["mc"]
        for variable in processor.variables:
            applied = distance_table(data, fudged, None, variable)
            for projection, rows in applied.items():
                for row, applied_row in zip(distances[variable][projection], rows, strict=True):
                    row["fudged_applied"] = (
                        None if variable in not_applied else applied_row["unfudged"]
                    )
    efficiencies = {
        text: {
            sample: _id_efficiencies(output["identification"], text)
            for sample, output in (("data", data), ("mc", mc), ("fudged_mc", fudged))
            if output is not None
        }
        for text in processor.ids
    }
    if processor.ids:
        (out_dir / "id_efficiencies.json").write_text(json.dumps(efficiencies, indent=1))
        _plot_id_efficiencies(efficiencies, out_dir / "id_efficiencies.png")
    for variable, (samples, edges, h) in plotted.items():
        if fudged is not None:  # what the correctionlib file does, candidate by candidate
            samples["fudged_mc"] = fudged["distributions"][variable].values()
        parameters[variable] = {
            f"{sample}_{axis}": _parameters(counts, edges, axis)
            for sample, counts in samples.items()
            for axis in ("et", "eta")
        }
        _plot_variable(
            variable,
            samples,
            edges,
            h,
            distances[variable],
            parameters[variable],
            out_dir / f"{variable}.png",
        )
        for axis in ("et", "eta"):
            _plot_bins(
                variable,
                samples,
                edges,
                np.asarray(h.axes[axis].edges),
                axis,
                out_dir / "bins" / f"{variable}_{axis}.png",
            )
    _write_distributions(
        out_dir / "distributions.root",
        {"data": data, "mc": mc, **({"fudged_mc": fudged} if fudged is not None else {})},
    )
    (out_dir / "distances.json").write_text(json.dumps(distances, indent=1))
    (out_dir / "parameters.json").write_text(json.dumps(parameters, indent=1, default=float))
    summary = {
        "probes": {"data": data["probes"], "mc": mc["probes"]},
        "skipped_files": skipped,
        "skipped_files_fudged_pass": skipped_fudged,
        "left_out": left_out,
        "fudge_factors_not_applied": not_applied,
        "inclusive_distances": {
            v: {
                "unfudged": distances[v]["inclusive"][0]["unfudged"],
                "fudged": distances[v]["inclusive"][0]["fudged"],  # None: compared only
                "fudged_applied": distances[v]["inclusive"][0].get("fudged_applied"),
            }
            for v in distances
        },
        "id_efficiencies": {
            text: {sample: rows["inclusive"] for sample, rows in by_sample.items()}
            for text, by_sample in efficiencies.items()
        },
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _efficiency(passed: float, total: float, variance: float) -> dict[str, Any]:
    """ε = Σw_pass / Σw with the Clopper–Pearson interval of the effective counts."""
    if total <= 0:
        return {"efficiency": None, "error_low": None, "error_high": None, "probes": 0.0}
    eff, low, high = weighted_efficiency(passed, total, variance)
    return {"efficiency": eff, "error_low": low, "error_high": high, "probes": float(total)}


def _id_efficiencies(histogram: Any, text: str) -> dict[str, Any]:
    """Efficiency of ID ``text`` per probe E_T bin (summed over η) and inclusive.

    Inclusive means inside the (E_T, η) binning; the probes outside it are counted in
    ``outside_binning`` (weighted), not in an efficiency.
    """
    selected = histogram[{"id": text}]
    view = selected.view(flow=False)
    values = np.asarray(view["value"])  # passing, et, eta
    variances = np.asarray(view["variance"])
    et_edges = np.asarray(histogram.axes["et"].edges)
    rows = []
    for i in range(len(et_edges) - 1):
        passed, failed = values[1, i].sum(), values[0, i].sum()
        row = _efficiency(passed, passed + failed, variances[:, i].sum())
        rows.append({"et_low": float(et_edges[i]), "et_high": float(et_edges[i + 1]), **row})
    passed, failed = values[1].sum(), values[0].sum()
    everything = float(np.asarray(selected.view(flow=True)["value"]).sum())
    return {
        "et": rows,
        "inclusive": _efficiency(passed, passed + failed, variances.sum()),
        "outside_binning": everything - float(values.sum()),
    }


@default_style
def _plot_id_efficiencies(efficiencies: Mapping[str, Any], path: Path) -> None:
    plt = pyplot()

    names = list(efficiencies)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    fig = plt.figure(figsize=(4.6 * columns, 5.2 * rows))
    grid = fig.add_gridspec(
        3 * rows, columns, height_ratios=[2.6, 1, 0.45] * rows, hspace=0.05, wspace=0.3
    )
    styles = {
        "data": ("black", "o", "data-like"),
        "mc": ("tab:blue", "s", "MC"),
        "fudged_mc": ("tab:red", "^", "fudged MC"),
    }
    for k, name in enumerate(names):
        top = fig.add_subplot(grid[3 * (k // columns), k % columns])
        bottom = fig.add_subplot(grid[3 * (k // columns) + 1, k % columns], sharex=top)
        reference = efficiencies[name].get("data")
        for sample, table in efficiencies[name].items():
            colour, marker, label = styles[sample]
            rows_et = [r for r in table["et"] if r["efficiency"] is not None]
            x = np.array([0.5 * (r["et_low"] + r["et_high"]) for r in rows_et])
            xerr = np.array([0.5 * (r["et_high"] - r["et_low"]) for r in rows_et])
            y = np.array([r["efficiency"] for r in rows_et])
            yerr = np.array([[r["error_low"] for r in rows_et], [r["error_high"] for r in rows_et]])
            inclusive = table["inclusive"]["efficiency"]
            if inclusive is not None:
                label = f"{label} ({inclusive:.3f})"
            top.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=marker, ms=4, color=colour, label=label)
            if sample != "data" and reference is not None:
                ref = {(r["et_low"], r["et_high"]): r["efficiency"] for r in reference["et"]}
                with np.errstate(divide="ignore", invalid="ignore"):
                    denominator = np.array(
                        [ref.get((r["et_low"], r["et_high"])) or np.nan for r in rows_et]
                    )
                    bottom.errorbar(
                        x,
                        y / denominator,
                        xerr=xerr,
                        yerr=yerr / denominator,
                        fmt=marker,
                        ms=4,
                        color=colour,
                    )
        bottom.axhline(1.0, color="grey", lw=1)
        bottom.set_ylim(0.8, 1.2)
        bottom.set_ylabel("/ data", fontsize=8)
        if k // columns == rows - 1:
            bottom.set_xlabel(r"probe $E_T$ [GeV]")
        plt.setp(top.get_xticklabels(), visible=False)
        top.set_ylim(0.4, 1.08)
        top.set_title(name, fontsize=10)
        top.set_ylabel("efficiency (Z-window probes)", fontsize=8)
        top.legend(fontsize=7, loc="lower right")
    fig.suptitle("ID efficiencies: data-like, MC and fudged MC (m_ee 80–100 GeV)", fontsize=11)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _write_distributions(path: Path, outputs: Mapping[str, Any]) -> None:
    """Every distribution (value × probe E_T × η) of every sample as a ROOT TH3."""

    with uproot.recreate(path) as f:
        for sample, output in outputs.items():
            for variable, histogram in output["distributions"].items():
                f[f"{sample}/{variable}"] = histogram


@default_style
def _plot_bins(variable, samples, edges, bin_edges, axis: str, path: Path) -> None:
    """The normalised distributions of every probe E_T (or η) bin, with ratios to data."""
    plt = pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(bin_edges) - 1
    columns = min(5, n)
    rows = -(-n // columns)
    fig = plt.figure(figsize=(3.4 * columns, 3.6 * rows))
    grid = fig.add_gridspec(
        3 * rows, columns, height_ratios=[2.4, 1, 0.9] * rows, hspace=0.05, wspace=0.28
    )
    colours = {"data": "black", "mc": "tab:blue", "fudged_mc": "tab:red"}
    labels = {"data": "data-like", "mc": "MC", "fudged_mc": "fudged MC"}
    centres = 0.5 * (edges[1:] + edges[:-1])
    for k in range(n):
        top = fig.add_subplot(grid[3 * (k // columns), k % columns])
        bottom = fig.add_subplot(grid[3 * (k // columns) + 1, k % columns], sharex=top)
        counts = {
            name: (c[:, k, :] if axis == "et" else c[:, :, k]).sum(axis=1)
            for name, c in samples.items()
        }
        data = counts["data"]
        reference = data / data.sum() if data.sum() > 0 else None
        for name, c in counts.items():
            if c.sum() <= 0:
                continue
            normalised = c / c.sum()
            if name == "data":
                filled = c > 0
                top.errorbar(
                    centres[filled],
                    normalised[filled],
                    fmt="o",
                    ms=2,
                    yerr=np.sqrt(c[filled]) / c.sum(),
                    color="black",
                    label=f"{labels[name]} ({c.sum():.0f})",
                )
                continue
            top.stairs(
                normalised, edges, color=colours[name], label=f"{labels[name]} ({c.sum():.0f})"
            )
            if reference is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    bottom.plot(
                        centres,
                        normalised / reference,
                        drawstyle="steps-mid",
                        color=colours[name],
                        lw=1,
                    )
        bottom.axhline(1.0, color="grey", lw=1)
        bottom.set_ylim(0.5, 1.5)
        bottom.set_xlim(edges[0], edges[-1])
        plt.setp(top.get_xticklabels(), visible=False)
        low, high = bin_edges[k], bin_edges[k + 1]
        if axis == "et":
            top.set_title(f"{low:g} < $E_T$ < {high:g} GeV", fontsize=9)
        else:
            top.set_title(rf"{low:g} < $\eta$ < {high:g}", fontsize=9)
        top.tick_params(labelsize=7)
        bottom.tick_params(labelsize=7)
        if top.get_legend_handles_labels()[0]:
            top.legend(fontsize=6)
        else:
            top.text(0.5, 0.5, "no probes", ha="center", transform=top.transAxes)
        if k % columns == 0:
            top.set_ylabel("fraction", fontsize=8)
            bottom.set_ylabel("/ data", fontsize=8)
        bottom.set_xlabel(variable, fontsize=8)
    fig.suptitle(f"{variable} of the probes per {'E_T' if axis == 'et' else 'η'} bin", fontsize=11)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.05)
    fig.savefig(path, dpi=80)  # no "tight" bounding box: it draws the 40 axes twice
    plt.close(fig)


@default_style
def _plot_variable(variable, samples, edges, histogram, distances, parameters, path) -> None:
    plt = pyplot()

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
            top.errorbar(
                centres,
                v,
                yerr=np.sqrt(inclusive[k]) / max(inclusive[k].sum(), 1),
                fmt="o",
                ms=3,
                color="black",
                label=labels[k],
            )
        else:
            top.stairs(v, edges, color=colours[k], label=labels[k])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio.plot(centres, v / norm["data"], drawstyle="steps-mid", color=colours[k])
    ratio.axhline(1.0, color="grey", lw=1)
    ratio.set_ylim(0.5, 1.5)
    ratio.set_ylabel("/ data")
    ratio.set_xlabel(variable)
    peak = norm["data"].max()
    if peak > 0 and peak > 100 * np.median(norm["data"][norm["data"] > 0]):
        top.set_yscale("log")  # a peaked distribution (the CNN score): see its tails
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
        # fudged: the file applied candidate by candidate where the second pass ran
        fudged_kind = "fudged_applied" if et_rows and "fudged_applied" in et_rows[0] else "fudged"
        for kind, fill in (("unfudged", "full"), (fudged_kind, "none")):
            if et_rows and et_rows[0][kind] is None:
                continue
            values = np.array([r[kind][name] for r in et_rows]) * scale
            label = f"{name}{' (scaled)' if scale != 1 else ''}, {kind.split('_')[0]}"
            colour = "tab:blue" if kind == "unfudged" else "tab:red"
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
        peak_axes.plot(
            x_et, [r["peak"] for r in rows], "o-", ms=3, color=colours[sample], label=labels[sample]
        )
        width_axes.plot(x_et, [r["width"] for r in rows], "o-", ms=3, color=colours[sample])
    peak_axes.set_ylabel("Gaussian peak")
    peak_axes.legend(fontsize=7)
    peak_axes.set_title("parameters versus E_T", fontsize=10)
    plt.setp(peak_axes.get_xticklabels(), visible=False)
    width_axes.set_ylabel("Gaussian width")
    width_axes.set_xlabel(r"probe $E_T$ [GeV]")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
