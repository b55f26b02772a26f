"""Performance of the shipped models on the held-out test files, with the seed figures.

Everything is measured on the test split of the sample plan (files and seeds never
used in training), with the models as shipped: ONNX files run through
:class:`egamma_cnn.model.onnx_model.OnnxModel`. The electron candidates pass
:func:`~egamma_cnn.train.dataset.electron_selection`; no kinematic reweighting is
applied (ATL-PHYS-PUB-2023-001 §6.1: the evaluation sample keeps its natural E_T, η and class
composition). The CNN and FCN discriminants use the default class weights stored in
each model (the training class fractions, ATL-PHYS-PUB-2023-001 §5.4).

Produced (``out_dir``):

* ``roc_<cf>_<range>.png`` — ATL-PHYS-PUB-2023-001 Figs. 6–9: ROC curves (signal efficiency vs
  background rejection) against the combined background and each background class, with
  charge-flip in the signal (``cf-signal``) or in the background (``cf-background``), for
  4.5 < E_T ≤ 15 GeV and E_T > 15 GeV; CNN, FCN and LLH curves and the LLH working points.
* ``rejection_ratio_et.png``, ``rejection_ratio_map.png`` — ATL-PHYS-PUB-2023-001 Figs. 10–11: the
  background rejection of the CNN over the LLH and over the FCN at the signal efficiency
  of each LLH working point, bin by bin (charge-flip counted as background, as in Fig. 10).
* ``class_fractions.png`` — ATL-PHYS-PUB-2023-001 Fig. 16: true class fractions per process and the
  difference predicted − true; the Table 7 gains are in ``metrics.json``.
* ``photon_roc.png`` — the photon CNN against the cut-based menus (Franco's photon-ID talk).
* ``metrics.json`` — every number above, and ``headline``; ``tables.md`` — the same as
  Markdown tables for the model card (:func:`markdown_tables`).

The headline metrics are also written into the ``metrics`` entry of the evaluated ONNX
models' metadata, so a shipped model says how well it did on its test sample.

``out_dir`` is written as one run (:func:`egamma_cnn.runfolder.run_folder`): the plots
and metrics go into a temporary folder swapped in on success and closed by
``manifest.json``; a failure leaves ``out_dir`` as it was and the models unchanged.
Every model is checked to be of the kind its name says (an electron model where
``electron_*.onnx`` is read, a photon model for ``photon_cnn.onnx``), and the test split
must hold both signal and background (electrons) and both prompt and non-prompt photons
(when a photon model is evaluated); the errors name the model, the particle and the split.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.jsonio import write_json
from egamma_cnn.model.cut_based import PHOTON_CUT_INPUTS, CutBasedPhotonID
from egamma_cnn.model.discriminant import (
    ELECTRON_CLASS_NAMES,
    discriminant,
    predict_class_fractions,
    prior_adjusted_class_fractions,
)
from egamma_cnn.model.likelihood import LikelihoodID
from egamma_cnn.model.onnx_model import ModelMetadataError, OnnxModel
from egamma_cnn.model.performance import (
    auc,
    auc_uncertainty,
    bin_index,
    bootstrap_matched_ratio,
    cut_for_efficiency,
    efficiency_and_rejection,
    rejection_at_matched_efficiency,
    roc_curve,
)
from egamma_cnn.model.working_points import WorkingPoints
from egamma_cnn.plotting import save_figure
from egamma_cnn.runfolder import run_folder
from egamma_cnn.train.baselines import FEATURE_SETS, feature_table, llh_scores
from egamma_cnn.train.dataset import CandidateArrays, electron_selection, load_arrays
from egamma_cnn.train.electron import electron_inputs
from egamma_cnn.train.export import update_metadata
from egamma_cnn.train.photon import (
    PHOTON_ET_EDGES,
    cut_keeping_background,
    photon_inputs,
    photon_selection,
)

__all__ = ["ET_RANGES", "RATIO_ABS_ETA_EDGES", "RATIO_ET_EDGES", "evaluate", "markdown_tables"]

#: The two E_T ranges of ATL-PHYS-PUB-2023-001 Figs. 5–9 (GeV).
ET_RANGES: dict[str, tuple[float, float]] = {"4.5-15GeV": (4.5, 15.0), "gt15GeV": (15.0, np.inf)}
#: Bins of the rejection ratios (ATL-PHYS-PUB-2023-001 Figs. 10–11).
RATIO_ET_EDGES: tuple[float, ...] = (4.5, 7.0, 10.0, 15.0, 20.0, 30.0, 45.0, np.inf)
RATIO_ABS_ETA_EDGES: tuple[float, ...] = (0.0, 0.6, 1.37, 1.52, 2.01, 2.47)
_LABELS = {
    "prompt": "prompt e",
    "charge_flip": "charge flip",
    "conversion": "γ conversion",
    "heavy_flavour": "heavy flavour",
    "lf_egamma": "LF e/γ",
    "lf_hadron": "LF hadron",
}
_STYLES = {"CNN": ("tab:blue", "-"), "FCN": ("tab:red", "--"), "LLH": ("k", "-")}
_WP_MARKERS = {"loose": "o", "medium": "s", "tight": "^"}


#: The graph inputs of each kind of model.
_KIND_INPUTS: dict[str, set[str]] = {
    "electron": {"coarse", "fine", "tracks", "hlv", "features"},
    "photon": {"strips", "middle", "back"},
}


def _model(path: Path, kind: str) -> OnnxModel:
    """``OnnxModel(path)``, refused unless it is a ``kind`` model (its metadata and inputs)."""
    model = OnnxModel(path)
    names = {spec.name for spec in model.inputs}
    actual = model.metadata.get("kind")
    if actual != kind or not names <= _KIND_INPUTS[kind]:
        raise ModelMetadataError(
            f"{path}: a {actual or 'unknown'} model with inputs {sorted(names)}, where "
            f"evaluate reads a{'n' if kind == 'electron' else ''} {kind} model"
        )
    return model


def _load_json_model(loader: Any, path: Path, what: str) -> Any:
    """``loader(path)`` of a JSON baseline; a missing or malformed file named in one line."""
    if not path.is_file():
        raise FileNotFoundError(f"no {what} file {path} (egamma-cnn train baselines writes it)")
    try:
        return loader(path)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(
            f"{path}: not the {what} JSON of egamma-cnn train baselines ({err!r})"
        ) from None


def _require_both(n_signal: int, n_background: int, message: str) -> None:
    """Refuse a sample without signal or without background (no ROC, no AUC)."""
    if n_signal == 0 or n_background == 0:
        raise ValueError(message)


def _auc_in(score: np.ndarray, is_signal: np.ndarray, mask: np.ndarray) -> float | None:
    """The AUC of the candidates of ``mask``; None where a class is empty there."""
    if not np.any(mask & is_signal) or not np.any(mask & ~is_signal):
        return None
    return auc(score[mask], is_signal[mask])


def _raw_electron_inputs(model: OnnxModel, data: CandidateArrays) -> dict[str, np.ndarray]:
    names = tuple(spec.name for spec in model.inputs)
    return electron_inputs(data, names, None, tuple(model.metadata.get("hlv_names", ())))


def _check_no_overlap(model: OnnxModel, test: CandidateArrays) -> None:
    """Refuse to evaluate a model on files it was trained on."""
    trained = set(model.metadata.get("training", {}).get("files", []))
    overlap = trained & {Path(f).name for f in test.files}
    if overlap:
        raise ValueError(
            f"{model.path.name} was trained on test files {sorted(overlap)[:3]}; "
            "evaluate on the test split of another sample plan"
        )


def _style():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    return plt


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _roc_points(score: np.ndarray, is_signal: np.ndarray, n_points: int = 400):
    """The ROC curve of :func:`~egamma_cnn.model.performance.roc_curve`, for plotting.

    The curve has one point per distinct score; the plots draw it at ``n_points``
    signal efficiencies ε_sig evenly spaced in [0.5, 1], with the background rejection
    ``R = 1/ε_bkg(ε_sig)`` (:meth:`~egamma_cnn.model.performance.RocCurve.background_efficiency_at`;
    ``inf`` where no background passes), ATL-PHYS-PUB-2023-001 Figs. 6–9.
    """
    curve = roc_curve(score, is_signal)
    eff = np.linspace(0.5, 1.0, n_points)
    bkg = np.asarray(curve.background_efficiency_at(eff))
    with np.errstate(divide="ignore"):
        return eff, 1.0 / bkg


def _electron_rocs(plt, out: Path, scores, llh_wps, labels, et, metrics) -> None:
    for cf in ("signal", "background"):
        signal_classes = [0, 1] if cf == "signal" else [0]
        is_signal = np.isin(labels, signal_classes)
        backgrounds = [c for c in range(6) if c not in signal_classes]
        panels = [("combined", backgrounds)] + [(ELECTRON_CLASS_NAMES[c], [c]) for c in backgrounds]
        for range_name, (lo, hi) in ET_RANGES.items():
            in_range = (et > lo) & (et <= hi)
            n_cols = 3
            n_rows = int(np.ceil(len(panels) / n_cols))
            fig, axes = plt.subplots(n_rows, n_cols, figsize=(15, 4.6 * n_rows))
            axes = axes.ravel()
            for ax, (panel, classes) in zip(axes, panels, strict=False):
                mask = in_range & (is_signal | np.isin(labels, classes))
                n_bkg = int((mask & ~is_signal).sum())
                key = f"cf-{cf}/{range_name}/{panel}"
                metrics[key] = {"n_signal": int((mask & is_signal).sum()), "n_background": n_bkg}
                if n_bkg == 0 or not np.any(mask & is_signal):
                    ax.text(0.5, 0.5, "no candidates", ha="center", transform=ax.transAxes)
                    continue
                for name, score in scores[cf].items():
                    eff, rej = _roc_points(score[mask], is_signal[mask])
                    color, line = _STYLES[name]
                    ax.plot(eff, rej, color=color, ls=line, label=name)
                    metrics[key][f"auc_{name}"] = auc(score[mask], is_signal[mask])
                for wp, passes in llh_wps.items():
                    point = efficiency_and_rejection(passes[mask], is_signal[mask])
                    ax.plot(
                        point.signal_efficiency,
                        point.rejection
                        if np.isfinite(point.rejection)
                        else point.rejection_lower_limit,
                        marker=_WP_MARKERS[wp],
                        color="k",
                        ls="none",
                        label=f"LLH {wp}",
                    )
                    matched = rejection_at_matched_efficiency(
                        scores[cf]["CNN"][mask], is_signal[mask], passes[mask]
                    )
                    interval = bootstrap_matched_ratio(
                        scores[cf]["CNN"][mask], is_signal[mask], passes[mask]
                    )
                    metrics[key][f"llh_{wp}"] = {
                        "signal_efficiency": point.signal_efficiency,
                        "llh_rejection": _finite(point.rejection),
                        "cnn_rejection": _finite(matched.score_rejection),
                        "ratio": _finite(matched.ratio),
                        "ratio_error": _finite(matched.ratio_error),
                        "ratio_interval": _interval(interval),
                    }
                ax.set_yscale("log")
                ax.set_xlim(0.5, 1.0)
                ax.set_xlabel("Signal efficiency")
                ax.set_ylabel("Background rejection")
                title = "combined background" if panel == "combined" else _LABELS[panel]
                ax.set_title(f"{title}  ({n_bkg} bkg)", fontsize=13)
                ax.legend(fontsize=10, loc="lower left", ncol=2)
            for ax in axes[len(panels) :]:
                ax.axis("off")
            signal_text = "prompt + charge flip" if cf == "signal" else "prompt only"
            et_text = "4.5 < $E_T$ ≤ 15 GeV" if hi == 15.0 else "$E_T$ > 15 GeV"
            fig.suptitle(f"egamma-cnn test sample, {et_text}, signal = {signal_text}", fontsize=15)
            fig.tight_layout()
            save_figure(fig, out / f"roc_cf-{cf}_{range_name}.png", dpi=90)


def _rejection_ratios(plt, out: Path, scores, llh_wps, labels, et, eta, metrics) -> None:
    """ATL-PHYS-PUB-2023-001 Figs. 10–11 with charge-flip as background (prompt is the signal)."""
    is_signal = labels == 0
    et_bin = bin_index(et, RATIO_ET_EDGES)
    eta_bin = bin_index(np.abs(eta), RATIO_ABS_ETA_EDGES)
    n_et, n_eta = len(RATIO_ET_EDGES) - 1, len(RATIO_ABS_ETA_EDGES) - 1
    result: dict[str, Any] = {
        "et_edges": [_finite(e) for e in RATIO_ET_EDGES],
        "abs_eta_edges": list(RATIO_ABS_ETA_EDGES),
    }
    for reference in ("LLH", "FCN"):
        for wp, passes in llh_wps.items():
            rows = []
            for i in range(n_et):
                mask = et_bin == i
                rows.append(_matched(scores, reference, passes, is_signal, mask))
            result[f"CNN/{reference}/{wp}/et"] = rows
        grid = []
        for i in range(n_et):
            grid.append(
                [
                    _matched(
                        scores,
                        reference,
                        llh_wps["loose"],
                        is_signal,
                        (et_bin == i) & (eta_bin == j),
                        bootstrap=False,
                    )
                    for j in range(n_eta)
                ]
            )
        result[f"CNN/{reference}/loose/map"] = grid
    metrics["rejection_ratios"] = result

    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    centres = np.arange(n_et)
    for ax, reference in zip(axes, ("LLH", "FCN"), strict=True):
        for k, wp in enumerate(llh_wps):
            rows = result[f"CNN/{reference}/{wp}/et"]
            ratio = np.array([r["ratio"] if r["ratio"] is not None else np.nan for r in rows])
            low = np.array([_bound(r, 0, ratio[n]) for n, r in enumerate(rows)])
            high = np.array([_bound(r, 1, ratio[n]) for n, r in enumerate(rows)])
            x = centres + 0.12 * (k - 1)
            bars = ax.errorbar(
                x,
                ratio,
                yerr=[np.maximum(ratio - low, 0), np.maximum(high - ratio, 0)],
                marker=_WP_MARKERS[wp],
                ls="none",
                label=f"at LLH {wp} efficiency",
            )
            for n, row in enumerate(rows):  # an open upper end (∞ in some replicas): an arrow
                interval = row.get("ratio_interval")
                if interval is not None and interval[1] is None and np.isfinite(ratio[n]):
                    ax.annotate(
                        "",
                        xy=(x[n], 10 * ratio[n]),
                        xytext=(x[n], 3 * ratio[n]),
                        arrowprops={"arrowstyle": "->", "color": bars[0].get_color()},
                    )
        ax.axhline(1.0, color="grey", lw=1)
        ax.set_xticks(centres)
        ax.set_xticklabels(_bin_labels(RATIO_ET_EDGES), rotation=30, fontsize=10)
        ax.set_xlabel("$E_T$ [GeV]")
        ax.set_ylabel(f"Rejection CNN / {reference}")
        ax.set_yscale("log")
        ax.legend(fontsize=10)
    fig.suptitle(
        "Background rejection ratio (signal: prompt; charge flip in background)\n"
        "bars: 68 % bootstrap intervals, signal and background resampled; "
        "arrow: no upper end"
    )
    fig.tight_layout()
    save_figure(fig, out / "rejection_ratio_et.png", dpi=90)

    fig, axes = plt.subplots(1, 2, figsize=(15, 5.8))
    for ax, reference in zip(axes, ("LLH", "FCN"), strict=True):
        grid = result[f"CNN/{reference}/loose/map"]
        values = np.array(
            [[c["ratio"] if c["ratio"] is not None else np.nan for c in row] for row in grid]
        )
        image = ax.imshow(
            values.T, origin="lower", cmap="viridis", aspect="auto", norm=_log_norm(values)
        )
        for i in range(n_et):
            for j in range(n_eta):
                if np.isfinite(values[i, j]):
                    ax.text(
                        i, j, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=9, color="w"
                    )
        ax.set_xticks(range(n_et))
        ax.set_xticklabels(_bin_labels(RATIO_ET_EDGES), rotation=30, fontsize=9)
        ax.set_yticks(range(n_eta))
        ax.set_yticklabels(_bin_labels(RATIO_ABS_ETA_EDGES), fontsize=9)
        ax.set_xlabel("$E_T$ [GeV]")
        ax.set_ylabel("|η|")
        ax.set_title(f"CNN / {reference} at LLH Loose efficiency", fontsize=13)
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    save_figure(fig, out / "rejection_ratio_map.png", dpi=90)


def _bound(row: dict[str, Any], side: int, ratio: float) -> float:
    """One end of a row's bootstrap interval for the plot (an open upper end is drawn to
    10× the ratio, a missing interval as none)."""
    interval = row.get("ratio_interval")
    if interval is None or not np.isfinite(ratio):
        return ratio
    value = interval[side]
    return 10 * ratio if value is None else value


def _log_norm(values: np.ndarray):
    from matplotlib.colors import LogNorm

    finite = values[np.isfinite(values) & (values > 0)]
    if finite.size == 0:
        return None
    return LogNorm(vmin=max(finite.min(), 0.1), vmax=max(finite.max(), 1.0))


def _bin_labels(edges) -> list[str]:
    out = []
    for lo, hi in itertools.pairwise(edges):
        out.append(f">{lo:g}" if not np.isfinite(hi) else f"{lo:g}–{hi:g}")
    return out


def _matched(scores, reference, passes, is_signal, mask, bootstrap: bool = True) -> dict[str, Any]:
    """CNN rejection over the reference's at the LLH working point's efficiency in ``mask``.

    ``ratio_error`` propagates the binomial errors of the two background efficiencies
    only; ``ratio_interval`` (with ``bootstrap``) is the 68 % bootstrap interval that
    resamples signal and background (:func:`bootstrap_matched_ratio`), the one to quote.
    """
    n_sig, n_bkg = int((mask & is_signal).sum()), int((mask & ~is_signal).sum())
    row: dict[str, Any] = {"n_signal": n_sig, "n_background": n_bkg}
    if n_sig < 20 or n_bkg < 20:
        return row | {"ratio": None, "ratio_error": None}
    cnn = scores["background"]["CNN"][mask]
    if reference == "LLH":
        matched = rejection_at_matched_efficiency(cnn, is_signal[mask], passes[mask])
        interval = (
            bootstrap_matched_ratio(cnn, is_signal[mask], passes[mask]) if bootstrap else None
        )
    else:  # the FCN cut at the same (LLH) efficiency, then CNN over FCN
        fcn = scores["background"]["FCN"][mask]
        target = efficiency_and_rejection(passes[mask], is_signal[mask]).signal_efficiency
        fcn_cut = cut_for_efficiency(fcn, is_signal[mask], target)
        matched = rejection_at_matched_efficiency(cnn, is_signal[mask], fcn >= fcn_cut)
        interval = (
            bootstrap_matched_ratio(cnn, is_signal[mask], passes[mask], reference_score=fcn)
            if bootstrap
            else None
        )
    return row | {
        "signal_efficiency": matched.signal_efficiency,
        "reference_rejection": _finite(matched.reference_rejection),
        "cnn_rejection": _finite(matched.score_rejection),
        "ratio": _finite(matched.ratio),
        "ratio_error": _finite(matched.ratio_error),
        **({"ratio_interval": _interval(interval)} if interval is not None else {}),
    }


def _interval(interval) -> list[float | None]:
    """A bootstrap interval for JSON: [low, high], ∞ as None (only a lower bound then)."""
    return [_finite(interval.low), _finite(interval.high)]


def _fraction_weights(fractions: dict[str, float]) -> dict[str, float]:
    """Class fractions as discriminant weights; a group without any fraction gets equal ones.

    A sample with no (predicted or true) prompt or charge-flip electron, such as JF17,
    has no signal fractions to weight with; the signal weights are then equal (they only
    set the relative weight of the two signal classes), and likewise for a sample without
    any background.
    """
    weights = dict(fractions)
    if weights["prompt"] + weights["charge_flip"] <= 0:
        weights["prompt"] = weights["charge_flip"] = 1.0
    background = [c for c in ELECTRON_CLASS_NAMES if c not in ("prompt", "charge_flip")]
    if sum(weights[c] for c in background) <= 0:
        weights.update(dict.fromkeys(background, 1.0))
    return weights


#: The Table 7 gains: key → (the weights compared, the weights they are compared with).
_GAINS: dict[str, tuple[str, str]] = {
    "gain_agnostic_to_predicted": ("predicted", "agnostic"),
    "gain_predicted_to_truth": ("truth", "predicted"),
    "gain_agnostic_to_adjusted": ("adjusted", "agnostic"),
}


def _max_deviation(estimate: dict[str, float], truth: dict[str, float]) -> float:
    """The largest |estimated − true| class fraction."""
    return max(abs(estimate[c] - truth[c]) for c in truth)


def _gain(new: float | None, old: float | None) -> float | None:
    """R_new / R_old − 1, or None where either rejection is infinite (None) or R_old is 0."""
    if new is None or old is None or old <= 0:
        return None
    return new / old - 1


def _class_fractions(
    plt, out: Path, probs, labels, process, processes, metrics, training_priors=None
) -> None:
    """ATL-PHYS-PUB-2023-001 §6.2: Fig. 16 and Table 7 (rejection at 90 % signal efficiency).

    The predicted fractions are the note's estimator: the share of candidates whose
    most probable class is k (:func:`predict_class_fractions`). With ``training_priors``
    (the reweighted training class totals of the CNN's metadata) the
    expectation-maximisation estimate that corrects for those priors
    (:func:`prior_adjusted_class_fractions`) is reported beside it (``adjusted``), with
    the largest deviation from the truth of each. For Table 7 each process's background
    is rejected at the cut that keeps 90 % of the signal; the signal is the process's own
    where it has at least 20 signal candidates (Z→ee, W→eν), else the signal of the whole
    test sample (γ+jet, JF17 have none).
    """
    table: dict[str, Any] = {}
    is_signal = np.isin(labels, (0, 1))
    for p, name in enumerate(processes):
        mask = process == p
        if mask.sum() == 0:
            continue
        true = np.bincount(labels[mask], minlength=6) / mask.sum()
        true_fractions = dict(zip(ELECTRON_CLASS_NAMES, true.tolist(), strict=True))
        predicted = predict_class_fractions(probs[mask])
        own_signal = (mask & is_signal).sum() >= 20
        evaluated = mask if own_signal else (mask | is_signal)
        entry: dict[str, Any] = {
            "n": int(mask.sum()),
            "true": true_fractions,
            "predicted": predicted,
            "predicted_max_deviation": _max_deviation(predicted, true_fractions),
            "signal_for_rejection": "own" if own_signal else "whole test sample",
        }
        if training_priors is not None:
            adjusted = prior_adjusted_class_fractions(probs[mask], training_priors)
            entry["adjusted"] = adjusted
            entry["adjusted_max_deviation"] = _max_deviation(adjusted, true_fractions)
        rejections = {}
        if (mask & ~is_signal).sum() >= 20:
            variants = [
                ("agnostic", None),
                ("predicted", _fraction_weights(predicted)),
                ("truth", _fraction_weights(true_fractions)),
            ]
            if "adjusted" in entry:
                variants.append(("adjusted", _fraction_weights(entry["adjusted"])))
            for weights_name, weights in variants:
                score = discriminant(probs[evaluated], weights, "signal")
                cut = cut_for_efficiency(score, is_signal[evaluated], 0.90)
                rejections[weights_name] = _finite(
                    efficiency_and_rejection(score >= cut, is_signal[evaluated]).rejection
                )
        # a rejection of None: no background passes (infinite), so a gain involving it is
        # not a number (the table shows "–"; the rejections stay in rejection_at_90)
        entry["rejection_at_90"] = rejections
        for key, (new_weights, old_weights) in _GAINS.items():
            if new_weights in rejections and old_weights in rejections:
                entry[key] = _gain(rejections[new_weights], rejections[old_weights])
        table[name] = entry
    metrics["class_fractions"] = table

    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    x = np.arange(6)
    for k, (name, entry) in enumerate(table.items()):
        true = np.array([entry["true"][c] for c in ELECTRON_CLASS_NAMES])
        # a class absent from the process has no point on the log axis (not a line to -∞)
        shown = np.where(true > 0, true, np.nan)
        line = axes[0].plot(x, shown, marker="o", label=f"{name} ({entry['n']})")[0]
        for estimator, marker, text in (
            ("predicted", "o", "arg-max"),
            ("adjusted", "x", "prior-adjusted"),
        ):
            if estimator in entry:
                estimate = np.array([entry[estimator][c] for c in ELECTRON_CLASS_NAMES])
                axes[1].plot(
                    x + 0.06 * (k - 1.5),
                    estimate - true,
                    marker=marker,
                    ls="none",
                    color=line.get_color(),
                    label=f"{name}, {text}",
                )
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels([_LABELS[c] for c in ELECTRON_CLASS_NAMES], rotation=30, fontsize=10)
    axes[0].legend(fontsize=10)
    axes[0].set_ylabel("True class fraction")
    axes[0].set_yscale("log")
    axes[1].set_ylabel("Predicted − true fraction")
    axes[1].legend(fontsize=8, ncol=2)
    axes[1].axhline(0, color="grey", lw=1)
    fig.tight_layout()
    save_figure(fig, out / "class_fractions.png", dpi=90)


def _photons(plt, out: Path, data_dir: Path, models: Path, metrics) -> dict[str, Any] | None:
    model_path, cuts_path = models / "photon_cnn.onnx", models / "photon_cuts.json"
    if not (model_path.is_file() and cuts_path.is_file()):
        return None
    photons = load_arrays(data_dir / "test", "photon", mmap=True)
    photons = photons.subset(np.flatnonzero(photon_selection(photons)))
    model = _model(model_path, "photon")
    n_prompt = int(photons.arrays["is_prompt"].sum())
    _require_both(
        n_prompt,
        len(photons) - n_prompt,
        f"{model_path.name} on {data_dir / 'test'}: the photon selection of the test split "
        f"has {n_prompt} prompt and {len(photons) - n_prompt} non-prompt photons; evaluating "
        f"the photon model needs both (without {model_path.name} in {models} only the "
        "electron models are evaluated)",
    )
    if model.working_points is None:
        raise ValueError(f"{model_path} has no working points in its metadata")
    score = model.predict(photon_inputs(photons))[:, 1]
    is_prompt = photons.arrays["is_prompt"]
    et, eta = photons.arrays["et"], photons.arrays["eta"]
    cuts = _load_json_model(CutBasedPhotonID.load, cuts_path, "photon cut-based")
    values = photons.features(PHOTON_CUT_INPUTS)
    result: dict[str, Any] = {
        "n_prompt": int(is_prompt.sum()),
        "n_non_prompt": int((~is_prompt).sum()),
        "auc": auc(score, is_prompt),
    }
    fig, ax = plt.subplots(figsize=(7.5, 6))
    eff, rej = _roc_points(score, is_prompt)
    ax.plot(eff, rej, color="tab:blue", label="photon CNN")
    et_bin = bin_index(et, (*PHOTON_ET_EDGES[:-1], np.inf))
    for menu, marker in (("loose", "o"), ("tight", "^")):
        passes = cuts.passes(menu, values, et, eta)
        point = efficiency_and_rejection(passes, is_prompt)
        background_kept = passes[~is_prompt].mean()
        cnn_cut = cut_keeping_background(score[~is_prompt], background_kept)
        cnn = efficiency_and_rejection(score >= cnn_cut, is_prompt)
        wp = model.working_points
        shipped = efficiency_and_rejection(wp.passes(menu, score, et, eta), is_prompt)
        per_et = []
        for i in range(len(PHOTON_ET_EDGES) - 1):
            m = et_bin == i
            if (m & is_prompt).sum() < 20 or (m & ~is_prompt).sum() < 20:
                per_et.append(None)
                continue
            ref = efficiency_and_rejection(passes[m], is_prompt[m])
            kept = passes[m & ~is_prompt].mean()
            cut_i = cut_keeping_background(score[m & ~is_prompt], kept)
            per_et.append(
                {
                    "cut_based_efficiency": ref.signal_efficiency,
                    "cnn_efficiency_at_equal_rejection": efficiency_and_rejection(
                        score[m] >= cut_i, is_prompt[m]
                    ).signal_efficiency,
                    "rejection": _finite(ref.rejection),
                }
            )
        result[menu] = {
            "cut_based": {
                "efficiency": point.signal_efficiency,
                "rejection": _finite(point.rejection),
            },
            "cnn_at_equal_rejection": {
                "efficiency": cnn.signal_efficiency,
                "rejection": _finite(cnn.rejection),
            },
            "cnn_working_point": {
                "efficiency": shipped.signal_efficiency,
                "rejection": _finite(shipped.rejection),
            },
            "per_et": per_et,
        }
        ax.plot(
            point.signal_efficiency,
            point.rejection,
            marker=marker,
            color="k",
            ls="none",
            label=f"cut-based {menu}",
        )
        ax.plot(
            shipped.signal_efficiency,
            shipped.rejection,
            marker=marker,
            color="tab:blue",
            ls="none",
            mfc="none",
            label=f"CNN {menu} WP",
        )
    ax.set_yscale("log")
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("Prompt-photon efficiency")
    ax.set_ylabel("Non-prompt rejection")
    ax.legend(fontsize=10)
    ax.set_title(
        f"photons, test sample ({result['n_prompt']} prompt, {result['n_non_prompt']} non-prompt)",
        fontsize=12,
    )
    fig.tight_layout()
    save_figure(fig, out / "photon_roc.png", dpi=90)
    metrics["photon"] = result
    return result


def evaluate(
    data_dir: str | Path, models_dir: str | Path, out_dir: str | Path, *, record: bool = True
) -> dict[str, Any]:
    """Evaluate the models of ``models_dir`` on ``data_dir/test``; write plots and metrics.

    With ``record`` (the default) the headline metrics are written into the models'
    metadata; an evaluation on another sample (an independent-seed check) passes
    ``record=False`` so that the models keep the numbers of their own test split.

    ``models_dir`` holds ``electron_cnn.onnx``, ``electron_fcn.onnx``,
    ``electron_llh.json``, ``feature_nets/*.onnx`` and, for photons, ``photon_cnn.onnx``
    and ``photon_cuts.json``; optionally ``seeds/electron_cnn_seed<k>.onnx`` and
    ``seeds/electron_fcn_seed<k>.onnx`` (the same networks trained with other seeds, for
    the spread of the AUC over seeds). Returns the metrics (also written to ``metrics.json``).

    ``out_dir`` is written as one run, and the models' metadata updated only once it is
    complete (module docstring).

    Raises
    ------
    ModelMetadataError
        A model is not of the kind its file name says (e.g. a photon model as
        ``electron_cnn.onnx``).
    ValueError
        The test split lacks signal or background electrons, or prompt or non-prompt
        photons when ``photon_cnn.onnx`` is evaluated; a baseline JSON is malformed.
    FileNotFoundError
        A model or baseline file is missing.
    """
    data_dir, models = Path(data_dir), Path(models_dir)
    inputs = {"data": str(data_dir), "models": str(models)}
    with run_folder(out_dir, workflow="evaluate", inputs=inputs) as staging:
        metrics = _evaluate_into(data_dir, models, staging)
    if record:
        _record_in_models(models, metrics)
    return metrics


def _evaluate_into(data_dir: Path, models: Path, out: Path) -> dict[str, Any]:
    """The work of :func:`evaluate`, writing into ``out`` (the run's temporary folder)."""
    plt = _style()
    test = load_arrays(data_dir / "test", "electron", mmap=True)
    test = test.subset(np.flatnonzero(electron_selection(test)))
    labels = test.arrays["truth_class"].astype(np.int64)
    et, eta = test.arrays["et"], test.arrays["eta"]
    n_signal = int(np.isin(labels, (0, 1)).sum())
    _require_both(
        n_signal,
        len(labels) - n_signal,
        f"electron models of {models} on {data_dir / 'test'}: the electron selection of the "
        f"test split has {n_signal} signal and {len(labels) - n_signal} background "
        "candidates; evaluating needs both",
    )
    cnn = _model(models / "electron_cnn.onnx", "electron")
    fcn = _model(models / "electron_fcn.onnx", "electron")
    for model in (cnn, fcn):
        _check_no_overlap(model, test)
    probs = {
        "CNN": cnn.predict(_raw_electron_inputs(cnn, test)),
        "FCN": fcn.predict(_raw_electron_inputs(fcn, test)),
    }
    weights = {
        "CNN": cnn.metadata["discriminant"]["weights"],
        "FCN": fcn.metadata["discriminant"]["weights"],
    }
    llh = llh_scores(
        _load_json_model(LikelihoodID.load, models / "electron_llh.json", "electron likelihood"),
        test,
    )
    scores = {
        cf: {
            "CNN": discriminant(probs["CNN"], weights["CNN"], cf),
            "FCN": discriminant(probs["FCN"], weights["FCN"], cf),
            "LLH": llh["llh"],
        }
        for cf in ("signal", "background")
    }
    llh_wps = {wp: llh[wp] for wp in ("loose", "medium", "tight")}
    metrics: dict[str, Any] = {
        "test_candidates": len(test),
        "test_class_counts": dict(
            zip(ELECTRON_CLASS_NAMES, np.bincount(labels, minlength=6).tolist(), strict=True)
        ),
        "test_files": [Path(f).name for f in test.files],
        "roc": {},
    }
    _electron_rocs(plt, out, scores, llh_wps, labels, et, metrics["roc"])
    _rejection_ratios(plt, out, scores, llh_wps, labels, et, eta, metrics)

    # Collado et al., PRD 103, 116028 Table I/II: binary signal (prompt + charge flip) vs background
    is_signal = np.isin(labels, (0, 1))
    aucs: dict[str, Any] = {
        "CNN": {
            "auc": auc(scores["signal"]["CNN"], is_signal),
            "bootstrap_error": auc_uncertainty(scores["signal"]["CNN"], is_signal),
        },
        "FCN (26 HLV)": {"auc": auc(scores["signal"]["FCN"], is_signal)},
        "LLH": {"auc": auc(llh["llh"], is_signal)},
    }
    # the calorimeter-only CNN (images + E_T, η) of the Collado et al., PRD 103, 116028 comparison,
    # if trained
    calo_score = None
    if (models / "electron_calo_cnn.onnx").is_file():
        calo = _model(models / "electron_calo_cnn.onnx", "electron")
        calo_score = discriminant(
            calo.predict(_raw_electron_inputs(calo, test)),
            calo.metadata["discriminant"]["weights"],
            "signal",
        )
        aucs["CNN (images + E_T, η)"] = {"auc": auc(calo_score, is_signal)}
    # the same networks trained with other seeds (models/seeds/<name>_seed<k>.onnx)
    for name, key in (("electron_cnn", "CNN"), ("electron_fcn", "FCN (26 HLV)")):
        extra = sorted((models / "seeds").glob(f"{name}_seed*.onnx"))
        if extra:
            values = [aucs[key]["auc"]]
            for path in extra:
                net = _model(path, "electron")
                score = discriminant(
                    net.predict(_raw_electron_inputs(net, test)),
                    net.metadata["discriminant"]["weights"],
                    "signal",
                )
                values.append(auc(score, is_signal))
            aucs[key].update(
                {
                    "mean_over_seeds": float(np.mean(values)),
                    "std_over_seeds": float(np.std(values, ddof=1)) if len(values) > 1 else None,
                    "seeds": len(values),
                    "per_seed": values,
                }
            )
    feature_scores: dict[str, list[np.ndarray]] = {}
    for set_name in FEATURE_SETS:
        feature_scores[set_name] = []
        for path in sorted((models / "feature_nets").glob(f"{set_name}_seed*.onnx")):
            net = _model(path, "electron")  # its metadata names the features it was trained on
            table = feature_table(test, tuple(net.metadata["feature_names"]))
            feature_scores[set_name].append(net.predict({"features": table})[:, 1])
    for set_name, per_seed in feature_scores.items():
        if per_seed:
            values = [auc(score, is_signal) for score in per_seed]
            aucs[set_name] = {
                "auc": float(np.mean(values)),
                "std_over_seeds": float(np.std(values, ddof=1)) if len(values) > 1 else None,
                "seeds": len(values),
                "per_seed": values,
            }
    # and in the two E_T ranges of ATL-PHYS-PUB-2023-001 (Collado et al., PRD 103, 116028 had one
    # narrow range)
    for range_name, (lo, hi) in ET_RANGES.items():
        in_range = (et > lo) & (et <= hi)
        ranged = {
            "CNN": _auc_in(scores["signal"]["CNN"], is_signal, in_range),
            "FCN (26 HLV)": _auc_in(scores["signal"]["FCN"], is_signal, in_range),
            "LLH": _auc_in(llh["llh"], is_signal, in_range),
        }
        if calo_score is not None:
            ranged["CNN (images + E_T, η)"] = _auc_in(calo_score, is_signal, in_range)
        for set_name, per_seed in feature_scores.items():
            values = [_auc_in(score, is_signal, in_range) for score in per_seed]
            if values:
                ranged[set_name] = None if None in values else float(np.mean(values))
        aucs[f"by_et/{range_name}"] = ranged
    metrics["auc_binary"] = aucs
    _class_fractions(
        plt,
        out,
        probs["CNN"],
        labels,
        test.arrays["process"],
        test.processes,
        metrics,
        training_priors=cnn.training_priors,
    )
    metrics["working_points"] = _working_point_efficiencies(
        {"CNN": cnn, "FCN": fcn}, scores["signal"], llh_wps, labels, et, eta
    )
    _photons(plt, out, data_dir, models, metrics)

    high = metrics["roc"].get("cf-signal/gt15GeV/combined", {})
    headline = {
        "test_candidates": len(test),
        "auc_cnn": aucs["CNN"]["auc"],
        "auc_fcn": aucs["FCN (26 HLV)"]["auc"],
        "auc_llh": aucs["LLH"]["auc"],
        "cnn_over_llh_rejection_at_llh_medium_gt15GeV": high.get("llh_medium", {}).get("ratio"),
    }
    if "photon" in metrics:
        headline["photon_auc"] = metrics["photon"]["auc"]
        headline["photon_tight_cut_based_efficiency"] = metrics["photon"]["tight"]["cut_based"][
            "efficiency"
        ]
        headline["photon_tight_cnn_efficiency_at_equal_rejection"] = metrics["photon"]["tight"][
            "cnn_at_equal_rejection"
        ]["efficiency"]
    metrics["headline"] = headline
    write_json(metrics, out / "metrics.json")
    (out / "tables.md").write_text(markdown_tables(metrics))
    return metrics


def _working_point_efficiencies(networks, signal_scores, llh_wps, labels, et, eta):
    """Signal efficiency and rejection of each network's own working points beside the
    LLH's, on one denominator (every selected signal candidate, charge flips included):
    a user who swaps ``llh_tight`` for ``cnn_tight`` should keep the same signal."""
    is_signal = np.isin(labels, (0, 1))
    out: dict[str, Any] = {}
    for wp, llh_passes in llh_wps.items():
        row = {"LLH": _efficiency_row(llh_passes, is_signal)}
        for name, model in networks.items():
            cuts = WorkingPoints.from_dict(model.metadata["working_points"])
            if wp in cuts.cuts:
                row[name] = _efficiency_row(
                    cuts.passes(wp, signal_scores[name], et, eta), is_signal
                )
        out[wp] = row
    return out


def _efficiency_row(passes: np.ndarray, is_signal: np.ndarray) -> dict[str, Any]:
    point = efficiency_and_rejection(passes, is_signal)
    return {
        "signal_efficiency": point.signal_efficiency,
        "signal_efficiency_error": point.signal_efficiency_error,
        "n_signal": int(is_signal.sum()),
        "n_background": int((~is_signal).sum()),
        "rejection": _finite(point.rejection),
    }


def _record_in_models(models: Path, metrics: dict[str, Any]) -> None:
    """Write the headline test metrics into the evaluated models' metadata."""
    electron = {
        "headline": {k: v for k, v in metrics["headline"].items() if not k.startswith("photon")},
        "auc_binary": metrics["auc_binary"],
        "test_candidates": metrics["test_candidates"],
        "test_class_counts": metrics["test_class_counts"],
    }
    update_metadata(models / "electron_cnn.onnx", {"metrics": electron})
    update_metadata(models / "electron_fcn.onnx", {"metrics": electron})
    if "photon" in metrics:
        photon = {k: v for k, v in metrics["photon"].items() if k != "per_et"}
        headline = {k: v for k, v in metrics["headline"].items() if k.startswith("photon")}
        update_metadata(models / "photon_cnn.onnx", {"metrics": {"headline": headline, **photon}})


def _interval_text(interval: list[float | None] | None) -> str:
    if interval is None or interval[0] is None:
        return ""
    high = "∞" if interval[1] is None else f"{interval[1]:.2f}"
    return f" [{interval[0]:.2f}, {high}]"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not np.isfinite(value):
        return "∞" if value > 0 else "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown_tables(metrics: dict[str, Any]) -> str:
    """The numbers of :func:`evaluate` as Markdown tables (the model card's source)."""
    lines = ["## Test sample", ""]
    lines += ["| class | candidates |", "|---|---|"]
    lines += [f"| {_LABELS[c]} | {n} |" for c, n in metrics["test_class_counts"].items()]
    lines += [
        "",
        "## AUC, signal (prompt + charge flip) vs all background "
        "(Collado et al., PRD 103, 116028, Table I)",
        "",
    ]
    lines += [
        "All E_T: mean ± standard deviation over training seeds where several were trained;",
        "the E_T ranges: the shipped (seed 0) network, the seed mean for the feature nets.",
        "",
    ]
    aucs = metrics["auc_binary"]
    ranges = [k for k in aucs if k.startswith("by_et/")]
    header = ["network", "all E_T", *(r.split("/", 1)[1] for r in ranges)]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, entry in aucs.items():
        if name.startswith("by_et/"):
            continue
        value = entry.get("mean_over_seeds", entry["auc"])
        spread = entry.get("std_over_seeds")
        seeds = entry.get("seeds", 1)
        cell = _fmt(value, 4) + (f" ± {spread:.4f} ({seeds} seeds)" if spread is not None else "")
        row = [name, cell, *(_fmt(aucs[r].get(name), 4) for r in ranges)]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "## Rejection at the LLH working-point efficiencies (ATL-PHYS-PUB-2023-001 Figs. 6–9)",
        "",
    ]
    lines += [
        "| signal | E_T | background | n bkg | WP | ε_sig | LLH rejection | CNN rejection "
        "| CNN/LLH |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, entry in metrics["roc"].items():
        cf, range_name, panel = key.split("/")
        signal = "prompt + CF" if cf == "cf-signal" else "prompt"
        for wp in ("loose", "medium", "tight"):
            point = entry.get(f"llh_{wp}")
            if point is None:
                continue
            n_background = entry["n_background"]
            none_pass = f"0/{n_background} pass"
            llh, cnn = point["llh_rejection"], point["cnn_rejection"]
            llh_rejection = _fmt(llh, 1) if llh else none_pass
            cnn_rejection = _fmt(cnn, 1) if cnn else none_pass
            # No background passing means a rejection above n_background: the ratio is
            # then only bounded (never the 0 or ∞ that dividing by "infinity" gives).
            if llh and cnn:
                ratio = _fmt(point["ratio"]) + _interval_text(point.get("ratio_interval"))
            elif cnn and not llh:
                ratio = f"< {cnn / n_background:.2f}"
            elif llh and not cnn:
                ratio = f"> {n_background / llh:.2f}"
            else:
                ratio = "–"
            cells = [
                signal,
                range_name,
                _LABELS.get(panel, panel),
                str(entry["n_background"]),
                wp,
                _fmt(point["signal_efficiency"], 3),
                llh_rejection,
                cnn_rejection,
                ratio,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    ratios = metrics["rejection_ratios"]
    edges = ratios["et_edges"]
    bins = _bin_labels([e if e is not None else np.inf for e in edges])
    lines += [
        "",
        "## Rejection ratios in E_T bins "
        "(ATL-PHYS-PUB-2023-001 Fig. 10; charge flip in background)",
        "",
    ]
    lines += [
        "Each ratio with its 68 % bootstrap interval (signal and background resampled, "
        "400 replicas); ∞: some replicas keep no background with the CNN.",
        "",
    ]
    lines += ["| ratio | WP | " + " | ".join(bins) + " |", "|---|---|" + "---|" * len(bins)]
    for reference in ("LLH", "FCN"):
        for wp in ("loose", "medium", "tight"):
            rows = ratios.get(f"CNN/{reference}/{wp}/et", [])
            cells = [
                _fmt(r["ratio"]) + _interval_text(r.get("ratio_interval"))
                if r["ratio"] is not None
                else "–"
                for r in rows
            ]
            lines.append(f"| CNN/{reference} | {wp} | " + " | ".join(cells) + " |")
    if "working_points" in metrics:
        lines += [
            "",
            "## Working points on one denominator (every selected signal candidate)",
            "",
            "| WP | network | signal efficiency | rejection |",
            "|---|---|---|---|",
        ]
        for wp, row in metrics["working_points"].items():
            for name, entry in row.items():
                rejection = (
                    _fmt(entry["rejection"], 1)
                    if entry["rejection"] is not None
                    else f"0/{entry['n_background']} pass"
                )
                lines.append(
                    f"| {wp} | {name} | {entry['signal_efficiency']:.3f} ± "
                    f"{entry['signal_efficiency_error']:.3f} | {rejection} |"
                )
    lines += ["", "## Class fractions per process (ATL-PHYS-PUB-2023-001 Fig. 16 and Table 7)", ""]
    names = list(ELECTRON_CLASS_NAMES)
    adjusted = any("adjusted" in e for e in metrics["class_fractions"].values())
    lines += [
        "true / arg-max share (the note's estimator)"
        + (" / prior-adjusted (EM)" if adjusted else "")
        + "; the largest deviation from the truth of each; rejection gains at 90 % signal "
        "efficiency (Table 7).",
        "",
        "| process | n | "
        + " | ".join(_LABELS[c] for c in names)
        + " | max. dev. | agnostic → predicted | predicted → truth |"
        + (" agnostic → adjusted |" if adjusted else ""),
        "|---|---|" + "---|" * (len(names) + 3 + adjusted),
    ]
    for process, entry in metrics["class_fractions"].items():
        cells = [
            f"{entry['true'][c]:.3f} / {entry['predicted'][c]:.3f}"
            + (f" / {entry['adjusted'][c]:.3f}" if "adjusted" in entry else "")
            for c in names
        ]
        deviation = f"{entry['predicted_max_deviation']:.3f}" + (
            f" / {entry['adjusted_max_deviation']:.3f}" if "adjusted" in entry else ""
        )
        gains = [
            entry.get(k)
            for k in ("gain_agnostic_to_predicted", "gain_predicted_to_truth")
            + (("gain_agnostic_to_adjusted",) if adjusted else ())
        ]
        lines.append(
            f"| {process} | {entry['n']} | "
            + " | ".join(cells)
            + f" | {deviation} | "
            + " | ".join("–" if g is None else f"{100 * g:.0f} %" for g in gains)
            + " |"
        )
    if "photon" in metrics:
        photon = metrics["photon"]
        lines += [
            "",
            "## Photons: CNN vs cut-based at equal rejection (Franco's photon-ID talk)",
            "",
        ]
        lines += [
            f"Test photons: {photon['n_prompt']} prompt, {photon['n_non_prompt']} non-prompt; "
            f"CNN AUC {photon['auc']:.4f}.",
            "",
            "| menu | rejection | cut-based ε | CNN ε at equal rejection | CNN WP ε "
            "| CNN WP rejection |",
            "|---|---|---|---|---|---|",
        ]
        for menu in ("loose", "tight"):
            entry = photon[menu]
            lines.append(
                f"| {menu} | {_fmt(entry['cut_based']['rejection'])} "
                f"| {_fmt(entry['cut_based']['efficiency'], 3)} "
                f"| {_fmt(entry['cnn_at_equal_rejection']['efficiency'], 3)} "
                f"| {_fmt(entry['cnn_working_point']['efficiency'], 3)} "
                f"| {_fmt(entry['cnn_working_point']['rejection'])} |"
            )
    return "\n".join(lines) + "\n"
