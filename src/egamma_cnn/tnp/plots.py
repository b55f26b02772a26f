"""Plots of the tag-and-probe: efficiencies with a ratio panel, scale-factor maps, fits.

:func:`plot_all` draws every plot of a :class:`~egamma_cnn.tnp.analysis.TnPResult`
into a folder:

* ``efficiency_<ID>_et.png``, ``efficiency_<ID>_eta.png`` — the efficiency of data, MC
  and truth-matched MC versus probe E_T (summed over η) and versus η, with each curve
  over MC in a ratio panel (for data: the scale factor of the projection);
* ``sf_<ID>.png`` — with data and MC, the map of the (E_T, η) scale factors with each
  bin's value and uncertainty;
* ``sf_<ID>_systematics.png`` — with systematic sources, per η bin the uncertainty of
  the SF versus E_T: σ_stat, each source's δ_s and σ_syst
  (:mod:`egamma_cnn.tnp.systematics`);
* ``fits_<sample>_<ID>_et<low>-<high>.png`` — method ``"fit"``: the pass and fail m_ee
  histograms of one E_T row with the fitted signal + background and the background.

``<ID>`` is :func:`egamma_cnn.tnp.outputs.file_name` of the probe ID. The points and
histograms are drawn with mplhep (``histplot``, ``hist2dplot``) in the fixed style of
:mod:`egamma_cnn.plotting`. The ratio panel divides efficiencies that carry their own
intervals (sideband-subtracted or fitted yields), so it is computed here rather than by
hist's ``plot_ratio``, whose uncertainties are those of raw counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.plotting import default_style, pyplot, save_figure
from egamma_cnn.tnp.analysis import IdResult, TnPResult
from egamma_cnn.tnp.efficiency import BinEfficiency, FitResult
from egamma_cnn.tnp.outputs import file_name
from egamma_cnn.tnp.scale_factors import ScaleFactors

__all__ = [
    "efficiency_curves",
    "plot_all",
    "plot_efficiency",
    "plot_fits",
    "plot_scale_factors",
    "plot_systematics",
]

#: The label of each sample in the plots.
LABELS = {"data": "data", "mc": "MC", "mc_truth": "MC truth"}


#: The axis labels of egamma-cnn's probes (:attr:`TnPConfig.probe_et_label` for others).
ET_LABEL = r"probe $E_T$ [GeV]"
ETA_LABEL = r"probe $\eta$"


def _ratio_range(ratios: Sequence[np.ndarray]) -> tuple[float, float]:
    """The ratio panel's range: 0.8–1.2, widened (to at most 0–2) so that no point falls
    outside it unseen."""
    values = np.concatenate([np.asarray(r, float) for r in ratios]) if ratios else np.zeros(0)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.8, 1.2
    low = max(0.0, min(0.8, float(values.min()) - 0.05))
    high = min(2.0, max(1.2, float(values.max()) + 0.05))
    return low, high


def _curve(effs: Sequence[BinEfficiency], variable: str):
    """Bin edges, efficiencies and (down, up) errors of a projection; a bin without an
    efficiency is NaN (not drawn; efficiencies.json names it)."""
    if variable == "et":
        low, high = [e.et_low for e in effs], [e.et_high for e in effs]
    else:
        low, high = [e.eta_low for e in effs], [e.eta_high for e in effs]
    edges = np.array([*low, high[-1]], dtype=float)
    value = np.array([e.efficiency for e in effs], dtype=float)
    errors = np.array([[e.error_low for e in effs], [e.error_high for e in effs]], dtype=float)
    return edges, value, np.where(np.isfinite(errors), errors, 0.0)


def _ratio(value, errors, reference, reference_errors):
    """value/reference with the relative errors (mean of the two sides) in quadrature;
    NaN where either efficiency is 0 or missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = value / reference
        relative = np.hypot(errors.mean(axis=0) / value, reference_errors.mean(axis=0) / reference)
        error = ratio * relative
    shown = np.isfinite(ratio) & np.isfinite(error)
    return np.where(shown, ratio, np.nan), np.where(shown, error, 0.0)


def _points(ax: Any, edges, value, errors, **style: Any) -> None:
    import mplhep

    mplhep.histplot(
        value, edges, yerr=errors, xerr=True, histtype="errorbar", ax=ax, markersize=4, **style
    )


@default_style
def plot_efficiency(
    curves: Mapping[str, Sequence[BinEfficiency]],
    variable: str,
    path: str | Path,
    *,
    title: str = "",
    reference: str | None = None,
    et_label: str = ET_LABEL,
    eta_label: str = ETA_LABEL,
    open_last: bool = True,
) -> Path:
    """Efficiency versus E_T or η of several samples, with a ratio to ``reference``.

    ``curves`` maps a label (``"data"``, ``"MC"``, ``"MC truth"``) to the efficiencies of
    one projection (:func:`~egamma_cnn.tnp.efficiency.measure` with
    ``projection="et"``/``"eta"``); the lower panel shows each curve over the reference
    (default: the second curve, usually MC), i.e. the scale factor for data; with one
    curve there is no lower panel. ``open_last``: the last E_T bin takes every probe above
    its edge (its upper edge is a label), said on the plot.
    """
    plt = pyplot()
    labels = list(curves)
    reference = reference or (labels[1] if len(labels) > 1 else labels[0])
    if len(labels) == 1:
        fig, top = plt.subplots(figsize=(7.5, 5.0))
        bottom = None
    else:
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(7.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
        )
    markers = ["o", "s", "^", "v", "D"]
    colours = plt.get_cmap("tab10").colors
    _, y_ref, err_ref = _curve(curves[reference], variable)
    ratios = []
    edges = np.zeros(1)
    for k, label in enumerate(labels):
        edges, value, errors = _curve(curves[label], variable)
        style = {"marker": markers[k % 5], "color": colours[k % 10]}
        _points(top, edges, value, errors, label=label, **style)
        if bottom is not None and label != reference:
            ratio, error = _ratio(value, errors, y_ref, err_ref)
            _points(bottom, edges, ratio, error, label=f"{label} / {reference}", **style)
            ratios.append(ratio)
    top.set_ylabel("efficiency")
    top.set_ylim(0.0, 1.15)
    top.legend(loc="lower right")
    top.set_title(title, fontsize=11)
    axis_label = et_label if variable == "et" else eta_label
    if variable == "et" and open_last and len(edges) > 1:
        top.annotate(
            f"last bin: all probes ≥ {edges[-2]:g} GeV",
            xy=(0.01, 0.98),
            xycoords="axes fraction",
            ha="left",
            va="top",
            fontsize=7,
            color="grey",
        )
    if bottom is None:
        top.set_xlabel(axis_label)
    else:
        top.set_xlabel("")
        bottom.axhline(1.0, color="grey", lw=1)
        bottom.set_ylabel(f"ratio to {reference}")
        bottom.legend(fontsize=7, loc="lower left", ncol=2)
        bottom.set_ylim(*_ratio_range(ratios))
        bottom.set_xlabel(axis_label)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


@default_style
def plot_scale_factors(
    factors: ScaleFactors,
    path: str | Path,
    *,
    et_label: str = ET_LABEL,
    eta_label: str = ETA_LABEL,
) -> Path:
    """The SF map in (η, E_T) with the value and uncertainty written in each bin."""
    import mplhep
    from matplotlib.colors import Normalize

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 6))
    texts = np.array(
        [
            [
                "—" if math.isnan(v) else f"{v:.2f}\n±{e:.2f}"
                for v, e in zip(row, errors, strict=True)
            ]
            for row, errors in zip(factors.value, factors.error, strict=True)
        ]
    )  # [et, eta]
    artists = mplhep.hist2dplot(
        factors.value.T,  # x: η, y: E_T
        factors.eta_edges,
        factors.et_edges,
        labels=texts.T,
        labels_fontsize=6.5,
        cmap="RdBu_r",
        norm=Normalize(0.8, 1.2),  # values outside are drawn in the end colours
        ax=ax,
    )
    artists.cbar.set_label("data / MC")
    # the text of a narrow η bin (the crack) is made smaller; texts run η-major
    narrow = np.repeat(np.diff(factors.eta_edges) < 0.3, len(factors.et_edges) - 1)
    for text, small in zip(artists.text, narrow, strict=True):
        if small:
            text.set_fontsize(4.5)
        if text.get_text() == "—":  # an empty bin: mplhep would grey it out
            text.set_color("black")
    ax.set_xlabel(eta_label)
    ax.set_ylabel(et_label)
    ax.set_title(f"scale factors, {factors.working_point} (— : no measurement)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


@default_style
def plot_systematics(factors: ScaleFactors, path: str | Path, *, et_label: str = ET_LABEL) -> Path:
    """Per η bin (one panel each) σ_stat, δ_s of every source and σ_syst versus E_T.

    A bin without an SF is not drawn. The last E_T bin is drawn to its edge (the
    correction extends it to infinity); an infinite last edge is drawn at twice the
    bin's lower edge.
    """
    import mplhep
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    plt = pyplot()
    n_eta = len(factors.eta_edges) - 1
    columns = min(n_eta, 4)
    rows = math.ceil(n_eta / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.6 * columns, 2.8 * rows), squeeze=False, sharey=True
    )
    colours = plt.get_cmap("tab10").colors
    curves = [
        ("stat", factors.stat, {"color": "grey", "ls": "--", "lw": 2}),
        *(
            (name, delta, {"color": colours[k % 10]})
            for k, (name, delta) in enumerate(factors.sources.items())
        ),
        ("syst (quadrature sum)", factors.syst, {"color": "black", "lw": 2}),
    ]
    et_edges = np.asarray(factors.et_edges, float).copy()
    if not np.isfinite(et_edges[-1]) and len(et_edges) > 2:  # an open last bin: drawn
        et_edges[-1] = 2.0 * et_edges[-2]  # twice as far as its lower edge
    finite = [np.asarray(grid, float) for _, grid, _ in curves]
    finite = np.concatenate([grid[np.isfinite(grid)] for grid in finite])
    top = 1.15 * float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    for j, ax in enumerate(axes.ravel()):
        if j >= n_eta:
            ax.set_visible(False)
            continue
        for label, grid, style in curves:
            mplhep.histplot(
                np.asarray(grid, float)[:, j],
                et_edges,
                ax=ax,
                label=label,
                edges=False,
                **style,
            )
        ax.set_title(
            rf"$\eta$ {factors.eta_edges[j]:g} to {factors.eta_edges[j + 1]:g}", fontsize=9
        )
        ax.set_xlabel(et_label, fontsize=8)
        if et_edges[-1] > 5 * et_edges[0] > 0:  # wide E_T ranges: log
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(et_edges[0], et_edges[-1])
        ax.set_ylim(0.0, top)
        ax.tick_params(labelsize=7)
        if j % columns == 0:
            ax.set_ylabel("uncertainty of the SF", fontsize=8)
    axes[0, 0].legend(fontsize=6, loc="upper right")
    fig.suptitle(f"scale-factor uncertainties, {factors.working_point}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


@default_style
def plot_fits(
    fits: Mapping[tuple, FitResult],
    efficiencies: Sequence[BinEfficiency],
    mass_edges: np.ndarray,
    path: str | Path,
    title: str = "",
) -> Path:
    """Pass and fail m_ee histograms with the fitted model of every bin, one page.

    Points: the counts (± √n); solid: signal + background; dashed: background.
    """
    import mplhep

    plt = pyplot()
    keys = list(fits)
    columns = 4
    rows = max(1, math.ceil(2 * len(keys) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
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
            mplhep.histplot(
                counts,
                mass_edges,
                yerr=np.sqrt(counts),
                histtype="errorbar",
                color="black",
                markersize=3,
                ax=ax,
            )
            if model is not None:
                mplhep.histplot(model, mass_edges, color="tab:blue", lw=1, ax=ax)
                mplhep.histplot(background, mass_edges, color="tab:red", lw=1, ls="--", ax=ax)
            if efficiency is not None:
                head = f"η {efficiency.eta_low:g} to {efficiency.eta_high:g}, {label}"
                if efficiency.status != "ok":
                    head += "\n" + efficiency.status[:40]
                ax.set_title(head, fontsize=8)
            ax.set_xlabel("")
            ax.tick_params(labelsize=6)
    for ax in panels[2 * len(keys) :]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def efficiency_curves(result: IdResult, projection: str) -> dict[str, list[BinEfficiency]]:
    """The curves of one projection by their plot label (data, MC, and MC truth where it
    has an efficiency), in the order of the result's samples."""
    curves = {}
    for key, bins in result.efficiencies.items():
        sample, _, suffix = key.rpartition("_")
        if suffix != projection or sample not in LABELS:
            continue
        if sample == "mc_truth" and all(math.isnan(b.efficiency) for b in bins):
            continue
        curves[LABELS[sample]] = bins
    return curves


def _fit_pages(result: TnPResult, id_result: IdResult, out_dir: Path) -> list[Path]:
    """One page of fits per sample and E_T row."""
    config, safe = result.config, file_name(id_result.probe_id)
    n_eta = len(config.eta_edges) - 1
    paths = []
    for kind, fits in id_result.fits.items():
        bins = id_result.efficiencies[kind]
        for i in range(len(config.et_edges) - 1):
            low, high = config.et_edges[i], config.et_edges[i + 1]
            page = {key: fits[key] for key in list(fits)[i * n_eta : (i + 1) * n_eta]}
            paths.append(
                plot_fits(
                    page,
                    bins[i * n_eta : (i + 1) * n_eta],
                    result.mass_edges,
                    out_dir / f"fits_{kind}_{safe}_et{low:g}-{high:g}.png",
                    title=f"{kind}: {id_result.probe_id}, probe E_T {low:g}–{high:g} GeV",
                )
            )
    return paths


def plot_all(result: TnPResult, out_dir: str | Path) -> list[Path]:
    """Every plot of the module docstring into ``out_dir`` (created); their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    labels = {
        "et_label": result.config.probe_et_label,
        "eta_label": result.config.probe_eta_label,
    }
    for probe_id, id_result in result.ids.items():
        safe = file_name(probe_id)
        paths += _fit_pages(result, id_result, out_dir)
        for projection in ("et", "eta"):
            curves = efficiency_curves(id_result, projection)
            if curves:
                paths.append(
                    plot_efficiency(
                        curves,
                        projection,
                        out_dir / f"efficiency_{safe}_{projection}.png",
                        title=f"{probe_id} ({result.method})",
                        reference="MC" if "MC" in curves else None,
                        open_last=result.config.open_last_et_bin,
                        **labels,
                    )
                )
        factors = id_result.scale_factors
        if factors is not None:
            paths.append(plot_scale_factors(factors, out_dir / f"sf_{safe}.png", **labels))
            if factors.sources:
                paths.append(
                    plot_systematics(
                        factors,
                        out_dir / f"sf_{safe}_systematics.png",
                        et_label=labels["et_label"],
                    )
                )
    return paths
