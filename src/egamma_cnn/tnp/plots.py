"""Plots of the tag-and-probe: efficiencies with a data/MC ratio, scale-factor maps, fits."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from egamma_cnn.plotting import default_style, pyplot
from egamma_cnn.tnp.efficiency import BinEfficiency, FitResult
from egamma_cnn.tnp.scale_factors import ScaleFactors

__all__ = ["plot_efficiency", "plot_fits", "plot_scale_factors"]


def _points(effs: Sequence[BinEfficiency], variable: str):
    if variable == "et":
        low = np.array([e.et_low for e in effs])
        high = np.array([e.et_high for e in effs])
    else:
        low = np.array([e.eta_low for e in effs])
        high = np.array([e.eta_high for e in effs])
    value = np.array([e.efficiency for e in effs])
    errors = np.array([[e.error_low for e in effs], [e.error_high for e in effs]])
    # a bin without an efficiency is left out of the plot (efficiencies.json names it)
    errors = np.where(np.isfinite(errors), errors, 0.0)
    return 0.5 * (low + high), 0.5 * (high - low), value, errors


@default_style
def plot_efficiency(
    curves: Mapping[str, Sequence[BinEfficiency]],
    variable: str,
    path: str | Path,
    *,
    title: str = "",
    reference: str | None = None,
) -> Path:
    """Efficiency versus E_T or η of several samples, with a ratio to ``reference``.

    ``curves`` maps a label (``"data"``, ``"MC"``, ``"MC truth"``) to the efficiencies of
    one projection (:func:`~egamma_cnn.tnp.efficiency.measure` with
    ``projection="et"``/``"eta"``); the lower panel shows each curve over the reference
    (default: the second curve, usually MC), i.e. the scale factor for data.
    """
    plt = pyplot()
    labels = list(curves)
    reference = reference or (labels[1] if len(labels) > 1 else labels[0])
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
    )
    markers = ["o", "s", "^", "v", "D"]
    _, _, y_ref, err_ref = _points(curves[reference], variable)
    colours = plt.get_cmap("tab10").colors
    for k, label in enumerate(labels):
        x, xerr, y, yerr = _points(curves[label], variable)
        style = {"fmt": markers[k % 5], "ms": 4, "capsize": 0, "color": colours[k % 10]}
        measured = np.isfinite(y)
        top.errorbar(
            x[measured],
            y[measured],
            xerr=xerr[measured],
            yerr=yerr[:, measured],
            label=label,
            **style,
        )
        if label != reference:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = y / y_ref
                rel = np.sqrt((yerr.mean(axis=0) / y) ** 2 + (err_ref.mean(axis=0) / y_ref) ** 2)
                error = ratio * rel
            shown = np.isfinite(ratio) & np.isfinite(error)  # no ratio where an ε is 0 or NaN
            bottom.errorbar(
                x[shown],
                ratio[shown],
                xerr=xerr[shown],
                yerr=error[shown],
                label=f"{label} / {reference}",
                **style,
            )
    bottom.axhline(1.0, color="grey", lw=1)
    top.set_ylabel("efficiency")
    top.set_ylim(0.0, 1.15)
    top.legend(loc="lower right")
    top.set_title(title, fontsize=11)
    bottom.set_ylabel(f"ratio to {reference}")
    bottom.legend(fontsize=7, loc="lower left", ncol=2)
    bottom.set_ylim(0.8, 1.2)
    bottom.set_xlabel(r"probe $E_T$ [GeV]" if variable == "et" else r"probe $\eta$")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@default_style
def plot_scale_factors(factors: ScaleFactors, path: str | Path) -> Path:
    """The SF map in (η, E_T) with the value and uncertainty written in each bin."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 6))
    mesh = ax.pcolormesh(
        factors.eta_edges,
        factors.et_edges,
        np.ma.masked_invalid(factors.value),
        cmap="RdBu_r",
        vmin=0.8,
        vmax=1.2,
    )
    fig.colorbar(mesh, ax=ax, label="data / MC")
    for i in range(len(factors.et_edges) - 1):
        for j in range(len(factors.eta_edges) - 1):
            value, error = factors.value[i, j], factors.error[i, j]
            x = 0.5 * (factors.eta_edges[j] + factors.eta_edges[j + 1])
            y = 0.5 * (factors.et_edges[i] + factors.et_edges[i + 1])
            text = "—" if math.isnan(value) else f"{value:.2f}\n±{error:.2f}"
            narrow = factors.eta_edges[j + 1] - factors.eta_edges[j] < 0.3
            ax.text(x, y, text, ha="center", va="center", fontsize=4.5 if narrow else 6.5)
    ax.set_xlabel(r"probe $\eta$")
    ax.set_ylabel(r"probe $E_T$ [GeV]")
    ax.set_title(f"scale factors, {factors.working_point} (— : no measurement)", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@default_style
def plot_fits(
    fits: Mapping[tuple, FitResult],
    efficiencies: Sequence[BinEfficiency],
    mass_edges: np.ndarray,
    path: str | Path,
    title: str = "",
) -> Path:
    """Pass and fail m_ee histograms with the fitted model of every bin, one page."""
    plt = pyplot()
    keys = list(fits)
    n = len(keys)
    columns = 4
    rows = max(1, math.ceil(2 * n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    centres = 0.5 * (mass_edges[1:] + mass_edges[:-1])
    panels = axes.ravel()
    for k, key in enumerate(keys):
        fit = fits[key]
        efficiency = efficiencies[k] if k < len(efficiencies) else None
        for m, (counts, model, background, label) in enumerate(
            (
                (fit.counts_pass, fit.model_pass, fit.background_pass, "pass"),
                (fit.counts_fail, fit.model_fail, fit.background_fail, "fail"),
            )
        ):
            ax = panels[2 * k + m]
            ax.errorbar(centres, counts, yerr=np.sqrt(counts), fmt=".", ms=3, color="black")
            if model is not None:
                ax.plot(centres, model, color="tab:blue", lw=1)
                ax.plot(centres, background, color="tab:red", lw=1, ls="--")
            if efficiency is not None:
                head = f"η {efficiency.eta_low:g} to {efficiency.eta_high:g}, {label}"
                if efficiency.status != "ok":
                    head += "\n" + efficiency.status[:40]
                ax.set_title(head, fontsize=8)
            ax.tick_params(labelsize=6)
    for ax in panels[2 * n :]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
