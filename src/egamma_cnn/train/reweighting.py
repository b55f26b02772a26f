"""Training weights: the kinematic reweighting of ATL-PHYS-PUB-2023-001 §5.1 and Franco's photon-ID
talk.

Electrons (ATL-PHYS-PUB-2023-001 §5.1): "the normalisation and shapes of the E_T and η distributions
of each background class are reweighed in two dimensions to match the ones of signal
electrons", every class is brought to the same normalisation, and the background to
signal ratio is a hyper-parameter (optimal ≈ 4). We implement it as

.. math:: w_i = T_c \\, \\frac{p_{sig}(b_i)}{h_c(b_i)},

for candidate i of class c in the (E_T, |η|) bin b_i, where ``p_sig`` is the normalised
histogram of the signal classes (prompt + charge-flip) and ``h_c`` the histogram of
class c (sums of the candidates' input weights). The class totals ``T_c`` are
``S / n_signal_classes`` for each signal class and ``ratio · S / n_background_classes``
for each background class (S = number of signal candidates), so every signal class has
the same total, every background class the same total, and Σ_bkg / Σ_sig = ``ratio``.
Every class, signal classes included, takes the combined signal shape. Defined
behaviour: a class with no candidates (or with all of them in bins without signal)
gets no weight (its share is not redistributed;
the totals of the others are unchanged; a sample whose background classes all end up
without weight is refused with ``ValueError``), candidates in bins where the signal has no
entries get weight 0 (the networks cannot be told anything about kinematics that
signal never has; their number is reported), and the weights are capped at
``max_weight`` times the mean weight of their class to limit the variance from sparse
bins (capped candidates are counted in the report).

Rare classes: equal class totals make every candidate of a rare class weigh
``T_c / n_c``. Where a class is so rare that this exceeds ``max_class_boost`` times the
mean weight of the whole sample, ``m = (1 + ratio) · S / N``, its total is lowered to
``max_class_boost · m · n_c``, so that a few dozen candidates (the charge flips of our
samples) cannot dominate the loss and its gradient noise. What a capped class gives up
goes to the other classes of its group (signal or background) in equal shares, so that
Σ_sig = S and Σ_bkg / Σ_sig = ``ratio`` still hold unless every class of a group is
capped (``achieved_ratio`` in the report says).

Photons (Franco's photon-ID talk "p_T reweighting"): background (non-prompt) photons get the ratio
of
the signal to the background p_T histograms, normalised so that background and signal
have the same total; signal photons keep weight 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_ABS_ETA_EDGES",
    "DEFAULT_ET_EDGES",
    "ReweightingReport",
    "class_balance_weights",
    "pt_weights",
]

#: (E_T, |η|) binning of the 2-D reweighting.
DEFAULT_ET_EDGES: tuple[float, ...] = (4.5, 7.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 80.0)
DEFAULT_ABS_ETA_EDGES: tuple[float, ...] = (0.0, 0.4, 0.8, 1.15, 1.37, 1.52, 1.81, 2.01, 2.47)


@dataclass(frozen=True)
class ReweightingReport:
    """What the reweighting did, for the model card.

    Attributes
    ----------
    class_totals
        Σ weights per class after reweighting.
    class_counts
        Candidates per class.
    zero_weight
        Candidates per class that got weight 0 (no signal in their bin).
    capped
        Candidates per class whose weight was capped.
    achieved_ratio
        Σ background weights / Σ signal weights after the caps.
    """

    class_totals: list[float]
    class_counts: list[int]
    zero_weight: list[int]
    capped: list[int]
    achieved_ratio: float


def _bins(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bin index with under/overflow folded into the first/last bin."""
    index = np.searchsorted(np.asarray(edges, np.float64), values, side="right") - 1
    return np.clip(index, 0, len(edges) - 2)


def class_balance_weights(
    labels: np.ndarray,
    et: np.ndarray,
    eta: np.ndarray,
    signal_classes: Sequence[int],
    n_classes: int,
    *,
    ratio: float = 4.0,
    et_edges: Sequence[float] = DEFAULT_ET_EDGES,
    abs_eta_edges: Sequence[float] = DEFAULT_ABS_ETA_EDGES,
    input_weight: np.ndarray | None = None,
    max_weight: float = 20.0,
    max_class_boost: float = 10.0,
) -> tuple[np.ndarray, ReweightingReport]:
    """Per-candidate weights of ATL-PHYS-PUB-2023-001 §5.1 (see the module docstring).

    Parameters
    ----------
    labels
        Class of each candidate, in ``[0, n_classes)``.
    et, eta
        E_T (GeV) and η of each candidate.
    signal_classes
        The classes whose combined (E_T, |η|) shape is the target.
    n_classes
        Number of classes.
    ratio
        Σ background weights / Σ signal weights (ATL-PHYS-PUB-2023-001: ≈ 4).
    et_edges, abs_eta_edges
        Binning; under- and overflow go into the first and last bins.
    input_weight
        Weights before reweighting (e.g. generator weights); 1 by default.
    max_weight
        Cap on a weight, in units of its class's mean weight.
    max_class_boost
        Cap on a class's mean weight, in units of the sample's mean weight.

    Returns
    -------
    weights, report
        ``float64[N]`` and a :class:`ReweightingReport`.
    """
    labels = np.asarray(labels, np.int64)
    n = len(labels)
    et, eta = np.asarray(et, np.float64), np.asarray(eta, np.float64)
    if et.shape != (n,) or eta.shape != (n,):
        raise ValueError(f"et and eta must have shape ({n},) like labels")
    if n and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must be in [0, {n_classes}), got {labels.min()}..{labels.max()}")
    if not ratio > 0:
        raise ValueError(f"ratio must be > 0, got {ratio}")
    base = np.ones(n) if input_weight is None else np.asarray(input_weight, np.float64)
    if base.shape != (n,) or np.any(base < 0) or not np.all(np.isfinite(base)):
        raise ValueError(f"input_weight must be finite, non-negative, shape ({n},)")
    signal_classes = sorted(set(int(c) for c in signal_classes))
    background_classes = [c for c in range(n_classes) if c not in signal_classes]
    if not signal_classes or not background_classes:
        raise ValueError("need at least one signal and one background class")
    is_signal = np.isin(labels, signal_classes)
    if not np.any(is_signal & (base > 0)):
        raise ValueError("no signal candidates to take the (E_T, η) shape from")
    n_eta = len(abs_eta_edges) - 1
    flat_bin = _bins(et, et_edges) * n_eta + _bins(np.abs(eta), abs_eta_edges)
    n_bins = (len(et_edges) - 1) * n_eta
    signal_hist = np.bincount(flat_bin[is_signal], base[is_signal], minlength=n_bins)
    signal_pdf = signal_hist / signal_hist.sum()
    s_total = float(base[is_signal].sum())
    sample_mean = (1.0 + ratio) * s_total / float(base.sum())
    unit: dict[int, np.ndarray] = {}  # per class: weights of the right shape, summing to 1
    counts, zero, capped = [], [], []
    for c in range(n_classes):  # loop over the six classes, not candidates
        members = labels == c
        counts.append(int(members.sum()))
        class_hist = np.bincount(flat_bin[members], base[members], minlength=n_bins)
        factor = np.divide(signal_pdf, class_hist, out=np.zeros(n_bins), where=class_hist > 0)
        w = base[members] * factor[flat_bin[members]]
        limit = max_weight * w[w > 0].mean() if np.any(w > 0) else np.inf
        capped.append(int((w > limit).sum()))
        w = np.minimum(w, limit)
        zero.append(int((w == 0).sum()))
        if w.sum() > 0:  # else the class is empty or sits where signal has none
            unit[c] = w / w.sum()
    totals = np.zeros(n_classes)
    for group, group_total in (
        (signal_classes, s_total),
        (background_classes, ratio * s_total),
    ):
        caps = {
            c: max_class_boost * sample_mean * float(base[labels == c].sum())
            for c in group
            if c in unit
        }
        totals_group = _share(group_total, caps)
        for c, value in totals_group.items():
            totals[c] = value
    weights = np.zeros(n)
    for c, w in unit.items():
        weights[labels == c] = w * totals[c]
    background = np.isin(labels, background_classes)
    if not weights[background].sum() > 0:
        raise ValueError(
            f"no background candidates with weight > 0 ({int(background.sum())} background "
            "candidates, none in an (E_T, |η|) bin that has signal): a network cannot learn "
            "to reject a background it never sees"
        )
    achieved = weights[background].sum() / max(weights[is_signal].sum(), 1e-300)
    return weights, ReweightingReport(totals.tolist(), counts, zero, capped, float(achieved))


def _share(total: float, caps: dict[int, float]) -> dict[int, float]:
    """Split ``total`` equally among classes, none above its cap (water-filling).

    Classes whose equal share would exceed their cap get the cap; the rest share what is
    left equally. When every class is capped the sum stays below ``total``.
    """
    share: dict[int, float] = {}
    free = dict(caps)
    remaining = total
    while free:
        equal = remaining / len(free)
        over = {c: cap for c, cap in free.items() if cap < equal}
        if not over:
            share.update({c: equal for c in free})
            break
        for c, cap in over.items():
            share[c] = cap
            remaining -= cap
            del free[c]
    return share


def pt_weights(
    pt: np.ndarray, is_signal: np.ndarray, edges: Sequence[float] | None = None
) -> np.ndarray:
    """Photon p_T reweighting of Franco's photon-ID talk: background to the signal p_T spectrum.

    Signal candidates keep 1; a background candidate in p_T bin b gets
    ``h_sig(b) / h_bkg(b)`` times the factor that makes Σ_bkg = Σ_sig; background in bins
    without signal gets 0. Default bins: 7, 10, 15, 20, 25, 30, 40, 50, 70, 100, ∞ GeV
    (under- and overflow folded into the end bins).
    """
    pt = np.asarray(pt, np.float64)
    is_signal = np.asarray(is_signal, bool)
    if pt.shape != is_signal.shape:
        raise ValueError("pt and is_signal must have the same shape")
    if not is_signal.any() or is_signal.all():
        raise ValueError("pt reweighting needs both signal and background candidates")
    edges = (
        (7.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 70.0, 100.0, 1e9)
        if edges is None
        else edges
    )
    index = _bins(pt, edges)
    n_bins = len(edges) - 1
    h_sig = np.bincount(index[is_signal], minlength=n_bins).astype(np.float64)
    h_bkg = np.bincount(index[~is_signal], minlength=n_bins).astype(np.float64)
    factor = np.divide(h_sig, h_bkg, out=np.zeros(n_bins), where=h_bkg > 0)
    weights = np.where(is_signal, 1.0, factor[index])
    background_sum = weights[~is_signal].sum()
    if not background_sum > 0:
        raise ValueError("no background candidate shares a p_T bin with the signal")
    weights[~is_signal] *= is_signal.sum() / background_sum
    return weights
