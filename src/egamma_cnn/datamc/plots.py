"""Plots of the data/MC study: distributions with ratios, distances, parameters, efficiencies.

Each function draws from a :class:`~egamma_cnn.datamc.analysis.DataMCResult` (or the
efficiency tables of one) into a PNG, in the fixed style of
:func:`egamma_cnn.plotting.default_style`; the histograms are drawn with
``mplhep.histplot``:

* :func:`plot_variable` — ``<variable>.png``: the normalised inclusive distributions of
  data, MC and fudged MC with their ratios to data, the L1, Hellinger and Wasserstein
  distances to data versus probe E_T (Zumbihl's e/γ talk, "Statistical distances"), and
  the Gaussian peak and width versus E_T ("Parameters evolution");
* :func:`plot_bins` — ``bins/<variable>_et.png`` and ``bins/<variable>_eta.png``: the
  normalised distributions with ratio panels in every probe E_T (or η) bin;
* :func:`plot_id_efficiencies` — ``id_efficiencies.png``: the ID efficiencies of data,
  MC and fudged MC versus E_T, with their ratios to data;
* :func:`plot_all` — all of them into a folder.

Data are black points with their statistical (Poisson) errors, MC a solid blue line,
fudged MC a dashed red line; the ratio panels show MC / data and fudged MC / data, with
the data's relative statistical uncertainty as a grey band around 1. (``Hist.plot_ratio``
draws one pair of histograms with black ratio markers, which the three samples here do
not fit; in hist 2.12 it also puts the ratio markers of regular and variable axes at the
lower bin edges, scikit-hep/hist#659.)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.datamc.analysis import DataMCResult
from egamma_cnn.plotting import default_style, pyplot, save_figure

__all__ = [
    "VARIABLE_LABELS",
    "plot_all",
    "plot_bins",
    "plot_id_efficiencies",
    "plot_variable",
]

#: Axis label (symbol, unit) of each variable; a unit "" is dimensionless.
VARIABLE_LABELS: dict[str, tuple[str, str]] = {
    "reta": (r"$R_\eta$", ""),
    "rphi": (r"$R_\phi$", ""),
    "weta2": (r"$w_{\eta 2}$", r"$\eta$ units"),
    "f1": (r"$f_1$", ""),
    "f3": (r"$f_3$", ""),
    "rhad": (r"$R_\mathrm{had}$", ""),
    "rhad1": (r"$R_\mathrm{had1}$", ""),
    "eratio": (r"$E_\mathrm{ratio}$", ""),
    "wstot": (r"$w_{s,\mathrm{tot}}$", "strips"),
    "ws3": (r"$w_{s3}$", "strips"),
    "fside": (r"$f_\mathrm{side}$", ""),
    "deltae": (r"$\Delta E_s$", "GeV"),
    "cnn_score": ("CNN score", ""),
    "llh_score": ("likelihood score", ""),
}

_COLOURS = {"data": "black", "mc": "tab:blue", "fudged_mc": "tab:red"}
_LABELS = {"data": "data", "mc": "MC", "fudged_mc": "fudged MC"}
_LINES = {"mc": "solid", "fudged_mc": "dashed"}
_MARKERS = {"data": "o", "mc": "s", "fudged_mc": "^"}
_OFFSETS = {"data": 0.0, "mc": -0.25, "fudged_mc": 0.25}


def _unit(variable: str) -> str:
    """The variable's unit in brackets after a space; "" when it has none."""
    unit = VARIABLE_LABELS.get(variable, (variable, ""))[1]
    return f" [{unit}]" if unit else ""


def _label(variable: str, prefix: str = "") -> str:
    """``prefix`` + the variable's symbol, with its unit in brackets."""
    symbol = VARIABLE_LABELS.get(variable, (variable, ""))[0]
    return f"{prefix}{symbol}{_unit(variable)}"


def _draw_comparison(top: Any, ratio: Any, counts: Mapping[str, np.ndarray], edges, size=None):
    """Normalised distributions of ``counts`` on ``top`` and their ratios to data below.

    Returns the data's normalised contents (None without data).
    """
    import mplhep

    data = counts.get("data")
    reference = data / data.sum() if data is not None and data.sum() > 0 else None
    for sample, c in counts.items():
        total = c.sum()
        if total <= 0:
            continue
        label = f"{_LABELS[sample]} ({total:.0f})" if size is not None else _LABELS[sample]
        normalised = c / total
        if sample == "data":  # points where there are data, with Poisson errors
            filled = c > 0
            mplhep.histplot(
                np.where(filled, normalised, np.nan),
                edges,
                yerr=np.where(filled, np.sqrt(np.where(filled, c, 0)) / total, np.nan),
                histtype="errorbar",
                color="black",
                markersize=size or 4,
                label=label,
                ax=top,
            )
            continue
        style = {"color": _COLOURS[sample], "linestyle": _LINES[sample]}
        mplhep.histplot(normalised, edges, **style, label=label, ax=top)
        if reference is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                quotient = np.where(reference > 0, normalised / reference, np.nan)
            mplhep.histplot(quotient, edges, **style, edges=False, ax=ratio)
    if reference is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(data > 0, 1.0 / np.sqrt(np.where(data > 0, data, 1.0)), np.nan)
        ratio.stairs(
            1 + relative,
            edges,
            baseline=1 - relative,
            fill=True,
            color="grey",
            alpha=0.3,
            linewidth=0,
        )
    ratio.axhline(1.0, color="grey", lw=1)
    ratio.set_ylim(0.5, 1.5)
    ratio.set_yticks([0.75, 1.0, 1.25])
    ratio.set_xlim(edges[0], edges[-1])
    return reference


def _draw_inclusive(fig: Any, cell: Any, result: DataMCResult, variable: str) -> None:
    """The normalised inclusive distributions and their ratios to data, in ``cell``."""
    plt = pyplot()
    grid = cell.subgridspec(2, 1, height_ratios=[3, 1.2], hspace=0.06)
    top = fig.add_subplot(grid[0])
    ratio = fig.add_subplot(grid[1], sharex=top)
    edges = np.asarray(result.data["distributions"][variable].axes["value"].edges)
    inclusive = {s: counts.sum(axis=(1, 2)) for s, counts in result.samples[variable].items()}
    reference = _draw_comparison(top, ratio, inclusive, edges)
    if reference is not None:
        peak = reference.max()
        if peak > 0 and peak > 100 * np.median(reference[reference > 0]):
            top.set_yscale("log")  # a peaked distribution (the CNN score): see its tails
    ratio.set_ylabel("ratio to data")
    ratio.set_xlabel(_label(variable))
    top.set_xlabel("")
    top.set_ylabel("fraction of probes")
    top.legend(fontsize=8)
    top.set_title(f"{_label(variable)}: probe electrons, all bins", fontsize=10)
    plt.setp(top.get_xticklabels(), visible=False)


def _draw_distances(fig: Any, cell: Any, result: DataMCResult, variable: str) -> None:
    """The L1, Hellinger and Wasserstein distances to data per probe E_T bin, in ``cell``:
    MC full markers, fudged MC open ones (the file applied candidate by candidate where
    the second pass ran)."""
    plt = pyplot()
    et_rows = result.distances[variable]["et"]
    x = np.array([0.5 * (r["low"] + r["high"]) for r in et_rows])
    xerr = np.array([0.5 * (r["high"] - r["low"]) for r in et_rows])
    fudged_kind = "fudged_applied" if et_rows and "fudged_applied" in et_rows[0] else "fudged"
    grid = cell.subgridspec(3, 1, hspace=0.06)
    names = (
        ("l1", "L1 distance", "o"),
        ("hellinger", "Hellinger distance", "s"),
        ("wasserstein", f"Wasserstein $W_1${_unit(variable)}", "^"),
    )
    first = None
    for k, (name, axis_label, marker) in enumerate(names):
        axes = fig.add_subplot(grid[k], sharex=first)
        first = first or axes
        for kind, fill, colour, label in (
            ("unfudged", "full", _COLOURS["mc"], "MC"),
            (fudged_kind, "none", _COLOURS["fudged_mc"], "fudged MC"),
        ):
            if not et_rows or et_rows[0][kind] is None:
                continue
            values = np.array([r[kind][name] for r in et_rows], float)
            axes.errorbar(
                x,
                values,
                xerr=xerr,
                fmt=marker,
                fillstyle=fill,
                ms=5,
                color=colour,
                label=f"data vs {label}",
            )
        axes.set_ylabel(axis_label, fontsize=9)
        axes.set_ylim(bottom=0)
        if k == 0:
            axes.set_title("distances to data per probe $E_T$ bin", fontsize=10)
            axes.legend(fontsize=7)
        if k < len(names) - 1:
            plt.setp(axes.get_xticklabels(), visible=False)
        else:
            axes.set_xlabel(r"probe $E_T$ [GeV]")


def _draw_parameters(fig: Any, cell: Any, result: DataMCResult, variable: str) -> None:
    """The Gaussian peak and width of every sample per probe E_T bin, in ``cell``."""
    plt = pyplot()
    et_edges = np.asarray(result.data["distributions"][variable].axes["et"].edges)
    x_et = 0.5 * (et_edges[1:] + et_edges[:-1])
    grid = cell.subgridspec(2, 1, hspace=0.06)
    peak_axes = fig.add_subplot(grid[0])
    width_axes = fig.add_subplot(grid[1], sharex=peak_axes)
    parameters = result.parameters[variable]
    for sample in result.samples[variable]:
        rows = parameters.get(f"{sample}_et")
        if rows is None:
            continue
        style = {"ms": 4, "color": _COLOURS[sample], "marker": _MARKERS[sample]}
        line = _LINES.get(sample, "solid")
        peak_axes.plot(x_et, [r["peak"] for r in rows], ls=line, label=_LABELS[sample], **style)
        width_axes.plot(x_et, [r["width"] for r in rows], ls=line, **style)
    peak_axes.set_ylabel(f"Gaussian peak{_unit(variable)}")
    peak_axes.legend(fontsize=8)
    peak_axes.set_title("Gaussian-fit parameters per probe $E_T$ bin", fontsize=10)
    plt.setp(peak_axes.get_xticklabels(), visible=False)
    width_axes.set_ylabel(f"Gaussian width{_unit(variable)}")
    width_axes.set_xlabel(r"probe $E_T$ [GeV]")


@default_style
def plot_variable(result: DataMCResult, variable: str, path: str | Path) -> Path:
    """``<variable>.png``: distributions and ratios, distances and parameters versus E_T.

    Left: the normalised inclusive distributions of data, MC and fudged MC, and MC / data
    and fudged MC / data with the data's relative statistical uncertainty (grey band).
    Middle: the L1, Hellinger and Wasserstein distances of MC (full markers) and fudged
    MC (open markers; the file applied candidate by candidate where the fudged pass
    ran) to data per probe E_T bin. Right: the Gaussian peak and width per E_T bin.
    """
    fig = pyplot().figure(figsize=(15, 8))
    outer = fig.add_gridspec(1, 3, wspace=0.3)
    _draw_inclusive(fig, outer[0], result, variable)
    _draw_distances(fig, outer[1], result, variable)
    _draw_parameters(fig, outer[2], result, variable)
    return save_figure(fig, path, dpi=100, bbox_inches="tight")


@default_style
def plot_bins(result: DataMCResult, variable: str, axis: str, path: str | Path) -> Path:
    """The normalised distributions of every probe E_T (``axis="et"``) or η bin, with
    the ratios to data (``bins/<variable>_<axis>.png``)."""
    if axis not in ("et", "eta"):
        raise ValueError(f"axis must be 'et' or 'eta', not {axis!r}")
    plt = pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = result.samples[variable]
    histogram = result.data["distributions"][variable]
    edges = np.asarray(histogram.axes["value"].edges)
    bin_edges = np.asarray(histogram.axes[axis].edges)
    n = len(bin_edges) - 1
    columns = min(5, n)
    rows = -(-n // columns)
    fig = plt.figure(figsize=(3.4 * columns, 3.6 * rows))
    grid = fig.add_gridspec(
        3 * rows, columns, height_ratios=[2.4, 1, 0.9] * rows, hspace=0.05, wspace=0.28
    )
    for k in range(n):
        top = fig.add_subplot(grid[3 * (k // columns), k % columns])
        bottom = fig.add_subplot(grid[3 * (k // columns) + 1, k % columns], sharex=top)
        counts = {
            name: (c[:, k, :] if axis == "et" else c[:, :, k]).sum(axis=1)
            for name, c in samples.items()
        }
        _draw_comparison(top, bottom, counts, edges, size=2)
        top.set_xlabel("")
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
            top.set_ylabel("fraction of probes", fontsize=8)
            bottom.set_ylabel("ratio to data", fontsize=8)
        bottom.set_xlabel(_label(variable), fontsize=8)
    where = "probe $E_T$" if axis == "et" else r"$\eta$"
    fig.suptitle(f"{_label(variable)} of the probes per {where} bin", fontsize=11)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.05)
    return save_figure(fig, path, dpi=80)  # no "tight" box: it draws the 40 axes twice


@default_style
def plot_id_efficiencies(efficiencies: Mapping[str, Any], path: str | Path) -> Path:
    """``id_efficiencies.png``: efficiency versus probe E_T of every ID, with the ratio to
    data, for data, MC and fudged MC (:attr:`DataMCResult.efficiencies`)."""
    plt = pyplot()
    names = list(efficiencies)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    fig = plt.figure(figsize=(4.6 * columns, 5.2 * rows))
    grid = fig.add_gridspec(
        3 * rows, columns, height_ratios=[2.6, 1, 0.45] * rows, hspace=0.05, wspace=0.3
    )
    for k, name in enumerate(names):
        top = fig.add_subplot(grid[3 * (k // columns), k % columns])
        bottom = fig.add_subplot(grid[3 * (k // columns) + 1, k % columns], sharex=top)
        reference = efficiencies[name].get("data")
        ref = (
            {(r["et_low"], r["et_high"]): r["efficiency"] for r in reference["et"]}
            if reference is not None
            else {}
        )
        for sample, table in efficiencies[name].items():
            colour, marker, label = _COLOURS[sample], _MARKERS[sample], _LABELS[sample]
            rows_et = [r for r in table["et"] if r["efficiency"] is not None]
            # MC and fudged MC a little to the left and right of data; the horizontal
            # bars still span the bin
            half = np.array([0.5 * (r["et_high"] - r["et_low"]) for r in rows_et])
            x = np.array([0.5 * (r["et_low"] + r["et_high"]) for r in rows_et])
            x = x + _OFFSETS[sample] * half
            xerr = np.array([half * (1 + _OFFSETS[sample]), half * (1 - _OFFSETS[sample])])
            y = np.array([r["efficiency"] for r in rows_et])
            yerr = np.array([[r["error_low"] for r in rows_et], [r["error_high"] for r in rows_et]])
            inclusive = table["inclusive"]["efficiency"]
            if inclusive is not None:
                label = f"{label} ({inclusive:.3f})"
            top.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=marker, ms=4, color=colour, label=label)
            if sample != "data" and reference is not None:
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
        bottom.set_ylabel("ratio to data", fontsize=8)
        if k // columns == rows - 1:
            bottom.set_xlabel(r"probe $E_T$ [GeV]")
        plt.setp(top.get_xticklabels(), visible=False)
        top.set_ylim(0.4, 1.08)
        top.set_title(name, fontsize=10)
        top.set_ylabel("efficiency (Z-window probes)", fontsize=8)
        top.legend(fontsize=7, loc="lower right", title="inclusive in ()", title_fontsize=7)
    fig.suptitle(r"ID efficiencies: data, MC and fudged MC (80 < $m_{ee}$ < 100 GeV)", fontsize=11)
    return save_figure(fig, path, dpi=100, bbox_inches="tight")


def plot_all(result: DataMCResult, out_dir: str | Path) -> list[Path]:
    """Every plot of the study into ``out_dir`` (module docstring); the files drawn."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = []
    if result.efficiencies:
        drawn.append(plot_id_efficiencies(result.efficiencies, out_dir / "id_efficiencies.png"))
    for variable in result.variables:
        drawn.append(plot_variable(result, variable, out_dir / f"{variable}.png"))
        for axis in ("et", "eta"):
            drawn.append(
                plot_bins(result, variable, axis, out_dir / "bins" / f"{variable}_{axis}.png")
            )
    return drawn
