"""``egamma-cnn isolation``: isolation working points, ID–isolation correlation, cones vs images.

:func:`run_isolation` runs ``egamma_cnn.processors.isolation.IsolationProcessor`` over a
fileset (the format of ``egamma-cnn tnp``; simulation gives the truth-based results,
data the candidate-level ones), adds the outputs per kind (data, MC), and writes into
the output folder:

* ``working_points.json`` and ``working_points.png`` — per isolation working point, the
  efficiency of true electrons (truth classes 0, 1) and of non-prompt candidates (3, 4,
  5) versus E_T and inclusive (MC), and of all candidates (data); on MC the
  factorisation ratios ε(iso | cnn_tight) / ε(iso) and ε(iso | llh_tight) / ε(iso);
* ``correlations.json`` and ``correlations.png`` — Pearson ρ of each ID score (CNN,
  LLH) with each relative isolation, inclusive, versus E_T and versus η, for true
  electrons, non-prompt candidates and data (Franco's photon-ID talk); ``score_vs_isolation.png``
  the
  2-D distributions behind them;
* ``roc.json``, ``roc.png`` and ``auc_vs_cone.png`` — the Collado Umana thesis, ch. 4 on our
  samples: the
  AUC and the background efficiency at ε_S = 0.80, 0.90, 0.95 of every single isolation
  cone I(R₀), of the relative isolation variables and of the image-based CNN score (and
  the likelihood), each cut on its signal side (``signal_side``: high scores, low
  isolation; a cone with AUC < 0.5 is turned round — one smaller than the shower
  selects electrons by a *large* I(R₀), containment rather than isolation), for true
  electrons against non-prompt electrons (truth classes 3 and 4: real electrons inside
  jets, the analogue of the thesis's non-prompt muons),
  against heavy-flavour decays alone, and against every non-prompt candidate;
* ``tnp/`` — with ``tnp_datasets``: the tag-and-probe of the isolation working points
  on those (Z→ee data and MC) datasets: efficiencies, the scale factors as a
  correctionlib file, plots (:func:`egamma_cnn.workflows.run_tnp`);
* ``summary.json``.

``particle="photon"`` (``egamma-cnn isolation --photons``) does the same for photons:
the photon CNN score, Franco's loose point ``Photon.iso_loose``, prompt photons
against non-prompt ones (``Photon.isPrompt``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import hist
import numpy as np

from egamma_cnn.corrections.isolation import ISOLATION_WORKING_POINTS
from egamma_cnn.execution import merge_by_kind
from egamma_cnn.isolation.analysis import (
    HEAVY_FLAVOUR,
    NON_PROMPT,
    NON_PROMPT_ELECTRONS,
    TRUE_ELECTRONS,
    area_under_curve,
    background_efficiency_at,
    correlations,
    factorisation,
    roc_curve,
    working_point_efficiencies,
)
from egamma_cnn.plotting import default_style, pyplot
from egamma_cnn.processors.isolation import ISOLATIONS, IsolationProcessor, discriminant_ranges
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.workflows.common import run_processor
from egamma_cnn.workflows.tnp import run_tnp

__all__ = ["run_isolation"]

#: Signal efficiencies at which the background efficiencies are reported.
SIGNAL_EFFICIENCIES: tuple[float, ...] = (0.80, 0.90, 0.95)
#: Fewest candidates of a class for a ROC curve to be reported.
MIN_CANDIDATES = 20


#: Per particle: the signal and background group names of the outputs.
_NAMES = {
    "electron": ("true electrons", "non-prompt"),
    "photon": ("prompt photons", "non-prompt photons"),
}
#: Per particle: the backgrounds of the ROC curves.
_BACKGROUNDS = {
    "electron": (
        ("non-prompt electrons", NON_PROMPT_ELECTRONS),
        ("heavy flavour", HEAVY_FLAVOUR),
        ("all non-prompt", NON_PROMPT),
    ),
    "photon": (("non-prompt photons", NON_PROMPT),),
}


def _groups(kind: str, particle: str = "electron") -> dict[str, tuple[int, ...]]:
    if kind == "data":
        return {"data candidates": (-1,)}
    signal, background = _NAMES[particle]
    return {signal: TRUE_ELECTRONS, background: NON_PROMPT}


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
        Which candidates; photons: the photon CNN, ``Photon.iso_loose`` (Franco's photon-ID talk)
        and
        prompt against non-prompt photons.
    """
    config = config or TnPConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    processor = IsolationProcessor(config, working_points, kind=particle)
    if tnp_datasets and particle != "electron":
        raise ValueError("the tag-and-probe (tnp_datasets) measures electrons, not photons")
    unknown = sorted(set(tnp_datasets or ()) - set(fileset))
    if unknown:
        raise ValueError(f"tag-and-probe datasets {unknown} are not in the fileset")
    run = run_processor(
        processor,
        fileset,
        schemaclass=schemaclass,
        step_size=step_size,
        scheduler=scheduler,
        settings=settings,
    )
    results, skipped = run.outputs, run.skipped_files
    merged = merge_by_kind(results, fileset)
    summary: dict[str, Any] = {
        "candidates": {kind: int(out["candidates"]) for kind, out in merged.items()},
        "skipped_files": skipped,
        "left_out": run.report(),
        "working_points": dict(processor.working_points),
    }

    # isolation working points
    efficiencies: dict[str, Any] = {}
    for name, spec in processor.working_points.items():
        efficiencies[name] = {"specification": _definition(spec, particle)}
        for kind, out in merged.items():
            for group, classes in _groups(kind, particle).items():
                efficiencies[name][group] = working_point_efficiencies(
                    out["working_points"], name, classes
                )
            if kind != "mc":
                continue
            # Franco's photon-ID talk: does ε(iso) change under the ID?
            for given in processor.given_ids:
                efficiencies[name].setdefault("factorisation", {})[given] = {
                    group: factorisation(out["working_points"], name, classes, given)
                    for group, classes in _groups(kind, particle).items()
                }
    (out_dir / "working_points.json").write_text(json.dumps(efficiencies, indent=1))
    _plot_working_points(efficiencies, out_dir / "working_points.png")
    summary["working_point_efficiencies"] = {
        name: {
            g: v["inclusive"]["efficiency"]
            for g, v in table.items()
            if g not in ("specification", "factorisation")
        }
        for name, table in efficiencies.items()
    }
    summary["factorisation"] = {
        name: {
            given: {group: v["inclusive"] for group, v in by_group.items()}
            for given, by_group in table.get("factorisation", {}).items()
        }
        for name, table in efficiencies.items()
    }

    # ID–isolation correlation
    table: dict[str, Any] = {}
    for kind, out in merged.items():
        for group, classes in _groups(kind, particle).items():
            for score in processor.scores:
                for iso_name, _, _ in ISOLATIONS:
                    key = f"{score} vs {iso_name}"
                    entry = table.setdefault(key, {})
                    entry[group] = {
                        projection: np.atleast_1d(
                            correlations(out["sums"], score, iso_name, classes, projection)
                        ).tolist()
                        for projection in ("inclusive", "et", "eta")
                    }
    table = _no_nan(table)
    (out_dir / "correlations.json").write_text(json.dumps(table, indent=1))
    summary["correlations"] = {
        key: {group: values["inclusive"][0] for group, values in entry.items()}
        for key, entry in table.items()
    }
    _plot_correlations(table, config, out_dir / "correlations.png")
    _plot_score_vs_isolation(merged, processor.scores, particle, out_dir / "score_vs_isolation.png")

    # isolation cones versus the image-based score (simulation only)
    if "mc" in merged and "discriminants" in merged["mc"]:
        ranges = discriminant_ranges(processor.scores)
        roc: dict[str, Any] = {}
        curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        counts = {}
        histograms = merged["mc"]["discriminants"]
        for background_name, background in _BACKGROUNDS[particle]:
            any_histogram = next(iter(histograms.values()))
            n_signal = float(_class_total(any_histogram, TRUE_ELECTRONS))
            n_background = float(_class_total(any_histogram, background))
            counts[background_name] = {"signal": n_signal, "background": n_background}
            if min(n_signal, n_background) < MIN_CANDIDATES:
                roc[background_name] = {
                    "status": f"fewer than {MIN_CANDIDATES} candidates",
                    **counts[background_name],
                }
                continue
            rows = {}
            curves[background_name] = {}
            for name, (_, _, _, higher) in ranges.items():
                eff_s, eff_b = roc_curve(histograms[name], TRUE_ELECTRONS, background, higher)
                auc = area_under_curve(eff_s, eff_b)
                # a cone smaller than the shower selects by containment: a large I(R₀);
                # only the cones may turn (a score below 0.5 would be a bug to show)
                if name.startswith("cone") and auc < 0.5:
                    higher = not higher
                    eff_s, eff_b = roc_curve(histograms[name], TRUE_ELECTRONS, background, higher)
                    auc = area_under_curve(eff_s, eff_b)
                curves[background_name][name] = (eff_s, eff_b)
                rows[name] = {
                    "auc": auc,
                    "signal_side": "above" if higher else "below",
                    **{
                        f"background_efficiency_at_{t:.2f}": background_efficiency_at(
                            eff_s, eff_b, t
                        )
                        for t in SIGNAL_EFFICIENCIES
                    },
                }
            cones = {n: r["auc"] for n, r in rows.items() if n.startswith("cone")}
            best_cone = max(cones, key=lambda n: cones[n])
            roc[background_name] = {
                **counts[background_name],
                "best_cone": best_cone,
                "discriminants": rows,
            }
        roc_json = _no_nan(roc)  # the plots below keep NaN, JSON has None
        (out_dir / "roc.json").write_text(json.dumps(roc_json, indent=1))
        if curves:
            _plot_roc(curves, roc, _NAMES[particle][0], out_dir / "roc.png")
            _plot_auc_vs_cone(roc, out_dir / "auc_vs_cone.png")
        summary["roc"] = {
            background: (
                {
                    "best_cone": entry["best_cone"],
                    **{
                        n: entry["discriminants"][n]["auc"]
                        for n in (
                            entry["best_cone"],
                            *processor.scores,
                            "etcone20_rel",
                            "ptvarcone30_rel",
                        )
                    },
                }
                if "discriminants" in entry
                else entry
            )
            for background, entry in roc_json.items()
        }

    if tnp_datasets:
        tnp_config = replace(config, probe_id=tuple(processor.working_points.values()))
        summary["tnp"] = run_tnp(
            {name: fileset[name] for name in tnp_datasets},
            out_dir / "tnp",
            tnp_config,
            schemaclass=schemaclass,
            step_size=step_size,
            scheduler=scheduler,
            settings=settings,
        )
    summary = _no_nan(summary)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _definition(spec: str, particle: str = "electron") -> str:
    """A built-in working-point column spelled out as its cuts; other specs as they are."""

    cuts = ISOLATION_WORKING_POINTS[particle].get(spec)
    if cuts is None:
        return spec
    return " and ".join(
        f"{column}/{denominator} < {maximum:g}" for column, denominator, maximum in cuts
    )


def _class_total(histogram: Any, classes: Sequence[int]) -> float:

    return float(sum(histogram[{"truth": hist.loc(c)}].sum(flow=True) for c in classes))


def _no_nan(value: Any) -> Any:
    """JSON has no NaN: None instead, recursively."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nan(v) for v in value]
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.floating):
        return float(value)
    return value


_LABELS = {
    "cnn_score": "CNN score (images + tracks + HLVs)",
    "llh_score": "likelihood",
    "etcone20_rel": r"$E_T^{cone20}/p_T$",
    "ptvarcone30_rel": r"$p_T^{varcone30}/p_T$",
    "ptcone20_rel": r"$p_T^{cone20}/p_T$",
    "etcone40_rel": r"$E_T^{cone40}/p_T$",
}


@default_style
def _plot_roc(curves, roc, signal: str, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 5.2), squeeze=False)
    for ax, (background, by_name) in zip(axes[0], curves.items(), strict=True):
        best = roc[background]["best_cone"]
        chosen = ["cnn_score", "llh_score", best, "etcone20_rel", "ptvarcone30_rel"]
        for name in (n for n in chosen if n in by_name):
            eff_s, eff_b = by_name[name]
            auc = roc[background]["discriminants"][name]["auc"]
            label = _LABELS.get(name, f"single cone $I(R_0={name[4:]})$ (best)")
            with np.errstate(divide="ignore"):
                ax.plot(
                    eff_s,
                    1.0 / eff_b,
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


@default_style
def _plot_auc_vs_cone(roc, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.8))
    colours = {
        "non-prompt electrons": "tab:blue",
        "heavy flavour": "tab:red",
        "all non-prompt": "tab:green",
        "non-prompt photons": "tab:blue",
    }
    for background, entry in roc.items():
        if "discriminants" not in entry:
            continue
        rows = entry["discriminants"]
        cones = sorted((float(n[4:]), r["auc"]) for n, r in rows.items() if n.startswith("cone"))
        colour = colours.get(background, "black")
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


@default_style
def _plot_working_points(efficiencies, path: Path) -> None:
    plt = pyplot()
    names = list(efficiencies)
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.5), squeeze=False)
    styles = {
        "true electrons": ("tab:blue", "o"),
        "non-prompt": ("tab:red", "s"),
        "prompt photons": ("tab:blue", "o"),
        "non-prompt photons": ("tab:red", "s"),
        "data candidates": ("black", "^"),
    }
    for ax, name in zip(axes[0], names, strict=True):
        for group, table in efficiencies[name].items():
            if group in ("specification", "factorisation"):
                continue
            rows = [r for r in table["et"] if r["efficiency"] is not None]
            if not rows:
                continue
            colour, marker = styles.get(group, ("grey", "x"))
            x = [0.5 * (r["et_low"] + r["et_high"]) for r in rows]
            xerr = [0.5 * (r["et_high"] - r["et_low"]) for r in rows]
            y = [r["efficiency"] for r in rows]
            yerr = [[r["error_low"] for r in rows], [r["error_high"] for r in rows]]
            inclusive = table["inclusive"]["efficiency"]
            ax.errorbar(
                x,
                y,
                xerr=xerr,
                yerr=yerr,
                fmt=marker,
                ms=4,
                color=colour,
                label=f"{group} ({inclusive:.3f})",
            )
        ax.set_ylim(0.0, 1.05)
        ax.set_xlabel(r"$E_T$ [GeV]")
        ax.set_ylabel("efficiency")
        ax.set_title(f"{name}: {efficiencies[name]['specification']}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@default_style
def _plot_correlations(table, config: TnPConfig, path: Path) -> None:
    plt = pyplot()
    edges = np.asarray(config.et_edges)
    x = 0.5 * (edges[1:] + edges[:-1])
    groups = sorted({g for entry in table.values() for g in entry})
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.5), squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        for key, entry in table.items():
            if group not in entry:
                continue
            values = np.array([np.nan if v is None else v for v in entry[group]["et"]], dtype=float)
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


@default_style
def _plot_score_vs_isolation(merged, scores, particle: str, path: Path) -> None:
    from matplotlib.colors import LogNorm

    plt = pyplot()
    rows = [
        (kind, group, classes)
        for kind, out in merged.items()
        for group, classes in _groups(kind, particle).items()
    ]
    pairs = [(s, i) for s in scores for i, _, _ in ISOLATIONS]
    fig, axes = plt.subplots(
        len(rows), len(pairs), figsize=(4.2 * len(pairs), 3.6 * len(rows)), squeeze=False
    )
    for r, (kind, group, classes) in enumerate(rows):
        histogram = merged[kind]["scores"]
        for c, (score, iso) in enumerate(pairs):
            values = sum(
                histogram[
                    {
                        "score_name": score,
                        "isolation_name": iso,
                        "truth": hist.loc(t),
                        "et": slice(0, len, sum),
                    }
                ].values()
                for t in classes
            )
            axis = histogram.axes
            ax = axes[r, c]
            total = values.sum()
            if total > 0:
                fraction = (values / total).T
                mesh = ax.pcolormesh(
                    axis["score"].edges,
                    axis["isolation"].edges,
                    fraction,
                    norm=LogNorm(vmin=1e-4, vmax=1),
                )
                fig.colorbar(mesh, ax=ax, label="fraction")
            rho = correlations(merged[kind]["sums"], score, iso, classes, "inclusive")
            ax.set_title(f"{group}: ρ = {float(rho):+.3f}", fontsize=9)
            ax.set_xlabel(score)
            ax.set_ylabel(iso.replace("_rel", " / $p_T$"))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
