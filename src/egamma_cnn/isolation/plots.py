"""Plots of the isolation study, from an :class:`~egamma_cnn.isolation.analysis.IsolationResult`.

* :func:`plot_working_points` — ``working_points.png``: per working point the efficiency
  of each truth group versus E_T (mplhep error bars over the bins);
* :func:`plot_correlations` — ``correlations.png``: ρ(score, isolation) versus E_T per
  group (Franco's photon-ID talk);
* :func:`plot_score_vs_isolation` — ``score_vs_isolation.png``: the 2-D distributions
  behind the correlations (mplhep's ``hist2dplot``);
* :func:`plot_roc` — ``roc.png``: background rejection 1/ε_B against ε_S for the
  scores, the best single cone and two relative isolations (the Collado Umana thesis,
  ch. 4);
* :func:`plot_auc_vs_cone` — ``auc_vs_cone.png``: AUC of the single cones I(R₀) versus
  R₀, with the scores' AUCs as lines;
* :func:`plot_all` — all of them into one folder.

Every plot is drawn in the fixed style of :mod:`egamma_cnn.plotting`, whatever style the
caller has set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.isolation.analysis import IsolationResult
from egamma_cnn.plotting import default_style, pyplot, save_figure

__all__ = [
    "plot_all",
    "plot_auc_vs_cone",
    "plot_correlations",
    "plot_roc",
    "plot_score_vs_isolation",
    "plot_working_points",
]

#: Legend labels of the discriminants drawn in the ROC plot.
_LABELS = {
    "cnn_score": "CNN score (images + tracks + HLVs)",
    "llh_score": "likelihood",
    "etcone20_rel": r"$E_T^{cone20}/p_T$",
    "ptvarcone30_rel": r"$p_T^{varcone30}/p_T$",
    "ptcone20_rel": r"$p_T^{cone20}/p_T$",
    "etcone40_rel": r"$E_T^{cone40}/p_T$",
}
#: The photon's labels where they differ: its CNN reads only the three EM-layer images
#: (Franco's photon-ID talk) and its relative isolations divide by the cluster E_T.
_PHOTON_LABELS = {
    "cnn_score": "photon CNN score (strip, middle, back images)",
    "etcone20_rel": r"$E_T^{cone20}/E_T$",
    "ptvarcone30_rel": r"$p_T^{varcone30}/E_T$",
    "ptcone20_rel": r"$p_T^{cone20}/E_T$",
    "etcone40_rel": r"$E_T^{cone40}/E_T$",
}
#: Colour and marker of each truth group.
_GROUP_STYLES = {
    "true electrons": ("tab:blue", "o"),
    "non-prompt": ("tab:red", "s"),
    "prompt photons": ("tab:blue", "o"),
    "non-prompt photons": ("tab:red", "s"),
    "data candidates": ("black", "^"),
}
#: Colour of each ROC background.
_BACKGROUND_COLOURS = {
    "non-prompt electrons": "tab:blue",
    "heavy flavour": "tab:red",
    "all non-prompt": "tab:green",
    "non-prompt photons": "tab:blue",
}


def _value(value: Any) -> float:
    return np.nan if value is None else float(value)


@default_style
def plot_working_points(result: IsolationResult, path: str | Path) -> Path:
    """Efficiency of every working point versus E_T, one panel per working point.

    Each truth group is drawn as error bars over its E_T bins (Clopper–Pearson
    intervals), labelled with its inclusive efficiency; bins without candidates are
    left out.
    """
    import mplhep

    plt = pyplot()
    tables = result.working_points
    fig, axes = plt.subplots(1, len(tables), figsize=(5.5 * len(tables), 4.5), squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items(), strict=True):
        for group, rows in table.items():
            if group in ("specification", "factorisation"):
                continue
            if all(row["efficiency"] is None for row in rows["et"]):
                continue
            edges = [rows["et"][0]["et_low"], *(row["et_high"] for row in rows["et"])]
            values = np.array([_value(row["efficiency"]) for row in rows["et"]])
            errors = np.array(
                [
                    [_value(row["error_low"]) for row in rows["et"]],
                    [_value(row["error_high"]) for row in rows["et"]],
                ]
            )
            colour, marker = _GROUP_STYLES.get(group, ("grey", "x"))
            inclusive = _value(rows["inclusive"]["efficiency"])
            mplhep.histplot(
                values,
                edges,
                yerr=errors,
                xerr=True,
                histtype="errorbar",
                marker=marker,
                markersize=4,
                color=colour,
                label=f"{group} ({inclusive:.3f})",
                ax=ax,
            )
        ax.set_ylim(0.0, 1.05)
        ax.set_xlabel(r"$E_T$ [GeV]")
        ax.set_ylabel("efficiency")
        ax.set_title(f"{name}: {table['specification']}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


@default_style
def plot_correlations(result: IsolationResult, path: str | Path) -> Path:
    """Pearson ρ(score, isolation) versus E_T, one panel per truth group."""
    plt = pyplot()
    edges = np.asarray(result.et_edges)
    x = 0.5 * (edges[1:] + edges[:-1])
    table = result.correlations
    groups = sorted({g for entry in table.values() for g in entry})
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.5), squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        for key, entry in table.items():
            if group not in entry:
                continue
            values = np.array([_value(v) for v in entry[group]["et"]])
            style = "o-" if key.startswith("cnn") else "s--"
            ax.plot(x, values, style, ms=4, label=key)
        ax.axhline(0.0, color="grey", lw=1)
        ax.set_ylim(-1.0, 1.0)
        ax.set_xlabel(r"$E_T$ [GeV]")
        ax.set_ylabel(r"Pearson $\rho$(score, isolation)")
        ax.set_title(group, fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle("ID–isolation correlation versus $E_T$ (Franco's photon-ID talk)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


@default_style
def plot_score_vs_isolation(result: IsolationResult, path: str | Path) -> Path:
    """The fraction of candidates in each (score, isolation) bin, per truth group (rows)
    and (score, isolation) pair (columns), on a log colour scale; the title gives ρ."""
    import mplhep
    from matplotlib.colors import LogNorm

    plt = pyplot()
    rows = list(result.score_maps.items())
    _, first = rows[0][1]
    pairs = [
        (str(s), str(i)) for s in first.axes["score_name"] for i in first.axes["isolation_name"]
    ]
    fig, axes = plt.subplots(
        len(rows), len(pairs), figsize=(4.2 * len(pairs), 3.6 * len(rows)), squeeze=False
    )
    for r, (group, (_, histogram)) in enumerate(rows):
        for c, (score, iso) in enumerate(pairs):
            ax = axes[r, c]
            values = histogram[{"score_name": score, "isolation_name": iso}].values()
            total = values.sum()
            if total > 0:
                artists = mplhep.hist2dplot(
                    values / total,
                    histogram.axes["score"].edges,
                    histogram.axes["isolation"].edges,
                    norm=LogNorm(vmin=1e-4, vmax=1),
                    ax=ax,
                )
                artists.cbar.set_label("fraction")
            rho = _value(result.correlations[f"{score} vs {iso}"][group]["inclusive"][0])
            ax.set_title(f"{group}: ρ = {rho:+.3f}", fontsize=9)
            ax.set_xlabel(score)
            ax.set_ylabel(iso.replace("_rel", " / $p_T$"))
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def _roc_labels(particle: str) -> dict[str, str]:
    """Legend labels of the ROC plot's discriminants for ``particle``."""
    return {**_LABELS, **(_PHOTON_LABELS if particle == "photon" else {})}


@default_style
def plot_roc(result: IsolationResult, path: str | Path) -> Path:
    """Background rejection 1/ε_B against signal efficiency ε_S, one panel per
    background: the scores, the best single cone, etcone20 / p_T and ptvarcone30 / p_T,
    each labelled with its AUC."""
    plt = pyplot()
    curves, roc = result.curves, result.roc or {}
    signal = {"electron": "true electrons", "photon": "prompt photons"}[result.particle]
    labels = _roc_labels(result.particle)
    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 5.2), squeeze=False)
    for ax, (background, by_name) in zip(axes[0], curves.items(), strict=True):
        best = roc[background]["best_cone"]
        chosen = ["cnn_score", "llh_score", best, "etcone20_rel", "ptvarcone30_rel"]
        for name in (n for n in chosen if n in by_name):
            curve = by_name[name]
            auc = roc[background]["discriminants"][name]["auc"]
            label = labels.get(name, f"single cone $I(R_0={name[4:]})$ (best)")
            ax.plot(
                curve.signal_efficiency,
                curve.rejection(),
                label=f"{label}, AUC {auc:.3f}",
                ls="-" if name.endswith("score") else "--",
            )
        ax.set_yscale("log")
        ax.set_xlim(0.5, 1.0)
        ax.set_ylim(1.0, None)
        ax.set_xlabel(rf"{signal}: efficiency $\varepsilon_S$")
        ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
        n_s, n_b = roc[background]["signal"], roc[background]["background"]
        ax.set_title(f"{signal} ({n_s:.0f}) vs {background} ({n_b:.0f})", fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(
        "isolation cones versus the image-based score (Collado Umana thesis, ch. 4)", fontsize=11
    )
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


@default_style
def plot_auc_vs_cone(result: IsolationResult, path: str | Path) -> Path:
    """AUC of every single cone I(R₀) versus R₀ per background, with the AUCs of the
    CNN score (dashed) and of the likelihood (dotted) as horizontal lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for background, entry in (result.roc or {}).items():
        if "discriminants" not in entry:
            continue
        rows = entry["discriminants"]
        cones = sorted((float(n[4:]), r["auc"]) for n, r in rows.items() if n.startswith("cone"))
        colour = _BACKGROUND_COLOURS.get(background, "black")
        ax.plot(
            [c for c, _ in cones],
            [a for _, a in cones],
            "o-",
            ms=3,
            color=colour,
            label=f"single cone I(R$_0$), vs {background}",
        )
        ax.axhline(
            rows["cnn_score"]["auc"], color=colour, ls="--", label=f"CNN score, vs {background}"
        )
        if "llh_score" in rows:
            ax.axhline(
                rows["llh_score"]["auc"], color=colour, ls=":", label=f"likelihood, vs {background}"
            )
    ax.set_xlabel(r"cone radius $R_0$")
    ax.set_ylabel("AUC (signal vs background)")
    ax.set_title("AUC of single isolation cones and of the ID scores", fontsize=11)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def plot_all(result: IsolationResult, out_dir: str | Path) -> list[Path]:
    """Every plot of the study into ``out_dir`` (created); the ROC plots only where
    a background had enough candidates. Returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        plot_working_points(result, out_dir / "working_points.png"),
        plot_correlations(result, out_dir / "correlations.png"),
        plot_score_vs_isolation(result, out_dir / "score_vs_isolation.png"),
    ]
    if result.curves:
        paths.append(plot_roc(result, out_dir / "roc.png"))
        paths.append(plot_auc_vs_cone(result, out_dir / "auc_vs_cone.png"))
    return paths
