"""Performance of identification scores: ROC curves, AUC, efficiencies and rejections.

ATL-PHYS-PUB-2023-001 §6 characterises the electron CNN by

* ROC curves (Figures 6–9): the signal efficiency ε_sig against the background
  rejection R = 1/ε_bkg obtained by varying a cut ``score ≥ t`` on the discriminant;
* rejection ratios at matched efficiency (Figures 10–11): a reference selection (an LLH
  working point) has signal efficiency ε_ref and rejection R_ref; the score is cut so
  that its signal efficiency is ε_ref and its rejection R_score is compared through
  R_score / R_ref, in bins of E_T and η.

This module computes these quantities from per-candidate arrays with numpy, and it is
the one ROC implementation of the package: :func:`roc_from_cumulative` and
:func:`auc_from_cumulative` turn cumulative signal and background sums along decreasing
thresholds into a :class:`RocCurve` and its area; :func:`roc_curve` prepares those sums
from per-candidate scores, and the isolation study
(:func:`egamma_cnn.isolation.analysis.roc_curve_from_histogram`) from binned
distributions. Efficiency errors and limits come from :mod:`egamma_cnn.intervals`.
Definitions, for candidate weights ``w_i ≥ 0`` (1 by default) and a selection
``pass_i``:

.. math:: ε_{sig} = \\frac{\\sum_{i \\in sig} w_i\\,pass_i}{\\sum_{i \\in sig} w_i},
          \\qquad ε_{bkg} = \\frac{\\sum_{i \\in bkg} w_i\\,pass_i}{\\sum_{i \\in bkg} w_i},
          \\qquad R = 1/ε_{bkg}.

Statistical uncertainties are binomial with the effective number of candidates
``N_eff = (Σw)² / Σw²`` (equal to the count for unit weights).

Defined behaviour at the edges:

* :func:`roc_curve`, :func:`auc`, :func:`auc_uncertainty` and :func:`cut_for_efficiency`
  raise ``ValueError`` when a class they need has no candidate with positive weight;
* :func:`efficiency_and_rejection` returns NaN for the quantities of such a class
  instead, so that loops over sparsely populated bins (:func:`per_bin`) do not stop;
* when no background passes, the rejection and its error are ``inf`` and the field
  ``rejection_lower_limit`` gives a finite one-sided 68 % CL lower limit.

Every function checks its inputs and names the argument that is wrong: arrays of
unequal shape, non-finite scores, negative or non-finite weights, labels that are
not boolean.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from egamma_cnn.intervals import (
    COVERAGE,
    binomial_error,
    effective_count,
    efficiency_upper_limit,
)
from egamma_cnn.model.working_points import _weighted_cut

__all__ = [
    "BootstrapInterval",
    "EfficiencyRejection",
    "MatchedRejection",
    "RocCurve",
    "auc",
    "auc_from_cumulative",
    "auc_uncertainty",
    "bin_index",
    "bootstrap_matched_ratio",
    "cut_for_efficiency",
    "efficiency_and_rejection",
    "per_bin",
    "rejection_at_matched_efficiency",
    "roc_curve",
    "roc_from_cumulative",
]

#: Confidence level of the one-sided Clopper–Pearson limit on the rejection.
_LIMIT_CL = 0.68


# --------------------------------------------------------------------------- inputs


def _score_array(score: Any) -> np.ndarray:
    array = np.asarray(score)
    if array.ndim != 1:
        raise ValueError(f"score must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"score must be real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError("score has non-finite values")
    return array


def _bool_array(values: Any, name: str, n: int, like: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like {like}, got {array.shape}")
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "biuf" or not np.all((array == 0) | (array == 1)):
        raise ValueError(f"{name} must be boolean (or 0/1), got dtype {array.dtype}")
    return array.astype(bool)


def _weight_array(weight: Any, n: int, like: str) -> np.ndarray:
    if weight is None:
        return np.ones(n)
    array = np.asarray(weight)
    if array.shape != (n,):
        raise ValueError(f"weight must have shape ({n},) like {like}, got {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"weight must be real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError("weight has non-finite values")
    if np.any(array < 0):
        raise ValueError("weight has negative values; only non-negative weights are supported")
    return array


def _score_inputs(score, is_signal, weight) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    score = _score_array(score)
    n = len(score)
    return (
        score,
        _bool_array(is_signal, "is_signal", n, "score"),
        _weight_array(weight, n, "score"),
    )


def _require_both_classes(signal_weight: float, background_weight: float) -> None:
    if not signal_weight > 0:
        raise ValueError("is_signal selects no signal candidate with positive weight")
    if not background_weight > 0:
        raise ValueError("is_signal selects no background candidate with positive weight")


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.setflags(write=False)
    return array


# ------------------------------------------------------------------------------ ROC


@dataclass(frozen=True)
class RocCurve:
    """ROC curve: the efficiencies of a sequence of ever looser cuts on a discriminant.

    Point ``k`` is the cut at ``threshold[k]``. The first point keeps nothing
    (efficiencies 0), the last everything (efficiencies 1), and both efficiencies are
    non-decreasing in between (for non-negative weights). For per-candidate scores
    (:func:`roc_curve`) the cuts are ``score ≥ threshold``: ``+inf`` first, then each
    distinct score value in decreasing order, so that candidates with equal scores
    enter or leave together (ties give one diagonal segment, never a staircase). For
    binned distributions
    (:func:`egamma_cnn.isolation.analysis.roc_curve_from_histogram`) the cuts are the
    bin edges, from the signal end of the axis.

    Attributes
    ----------
    signal_efficiency, background_efficiency : numpy.ndarray
        ``float64[n_cuts]``: ε_sig and ε_bkg of each cut (read-only).
    threshold : numpy.ndarray
        ``float64[n_cuts]``: the cut value of each point.
    """

    signal_efficiency: np.ndarray
    background_efficiency: np.ndarray
    threshold: np.ndarray

    def __post_init__(self) -> None:
        shape = np.shape(self.threshold)
        for name in ("signal_efficiency", "background_efficiency"):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name} must have shape {shape} like threshold")

    def rejection(self) -> np.ndarray:
        """Background rejection ``1/ε_bkg`` of each point (``inf`` where ε_bkg = 0)."""
        with np.errstate(divide="ignore"):
            return 1.0 / self.background_efficiency

    def auc(self) -> float:
        """Area under the curve, ∫ ε_sig dε_bkg (:func:`auc_from_cumulative`).

        The same number as :func:`auc` on the candidates behind the curve, up to the
        rounding of the normalised efficiencies (a few 1e-16); NaN when a class is
        empty.
        """
        return auc_from_cumulative(self.signal_efficiency, self.background_efficiency)

    def background_efficiency_at(self, signal_efficiency: Any) -> float | np.ndarray:
        """ε_bkg at the given ε_sig, interpolated linearly along the curve.

        Between two points whose signal efficiencies differ, ε_bkg is interpolated
        linearly in ε_sig, ε_bkg = ε_bkg,0 + s (ε_sig − ε_sig,0) with the slope
        s = (ε_bkg,1 − ε_bkg,0) / (ε_sig,1 − ε_sig,0) (the arithmetic of
        ``numpy.interp``). At a signal efficiency that the curve takes at several
        points (a vertical segment, from background-only score values), the smallest
        background efficiency is returned: that of the tightest cut reaching it, the
        same cut that :func:`cut_for_efficiency` picks. NaN for a curve with an empty
        class (NaN efficiencies).

        Parameters
        ----------
        signal_efficiency : float or array_like
            Values in [0, 1].

        Returns
        -------
        float or numpy.ndarray
            A float for a scalar argument, an array of the argument's shape otherwise.
        """
        target = np.asarray(signal_efficiency, np.float64)
        if not np.all((target >= 0) & (target <= 1)):
            raise ValueError("signal_efficiency must lie in [0, 1]")
        x, y = self.background_efficiency, self.signal_efficiency
        if len(y) < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            result = np.full(target.shape, np.nan)
            return float(result) if result.ndim == 0 else result
        j = np.clip(np.searchsorted(y, target, side="left"), 1, len(y) - 1)
        y0, y1, x0, x1 = y[j - 1], y[j], x[j - 1], x[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (x1 - x0) / (y1 - y0)
            inside = slope * (target - y0) + x0
        result = np.where(target == y1, x1, inside)
        result = np.where(target <= y[0], x[0], result)
        return float(result) if result.ndim == 0 else result


def roc_from_cumulative(
    signal_cumulative: Any, background_cumulative: Any, threshold: Any
) -> RocCurve:
    """The ROC curve from the Σw passing each of a sequence of ever looser cuts.

    The core of every ROC curve of the package: with S_k and B_k the summed weights of
    the signal and of the background candidates that pass cut k (cut 0 keeps nothing,
    the last cut everything),

    .. math:: ε_{sig,k} = S_k / S_{last}, \\qquad ε_{bkg,k} = B_k / B_{last}

    (ATL-PHYS-PUB-2023-001 §6; the Collado Umana thesis, ch. 4). :func:`roc_curve`
    prepares the sums from per-candidate scores (one cut per distinct score), the
    isolation study from histograms (one cut per bin edge).

    Parameters
    ----------
    signal_cumulative, background_cumulative : array_like
        ``float[n_cuts]``: S_k and B_k, non-decreasing for non-negative weights.
    threshold : array_like
        ``float[n_cuts]``: the cut value of each point.

    Returns
    -------
    RocCurve
        NaN efficiencies for a class whose total (last sum) is 0; callers that need
        both classes check that first.
    """
    s = np.asarray(signal_cumulative, np.float64)
    b = np.asarray(background_cumulative, np.float64)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"signal_cumulative must be a non-empty 1-D array, got shape {s.shape}")
    if b.shape != s.shape:
        raise ValueError(
            f"background_cumulative must have shape {s.shape} like signal_cumulative, got {b.shape}"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        signal_efficiency, background_efficiency = s / s[-1], b / b[-1]
    return RocCurve(
        signal_efficiency=_frozen(signal_efficiency),
        background_efficiency=_frozen(background_efficiency),
        threshold=_frozen(np.asarray(threshold, np.float64)),
    )


def auc_from_cumulative(signal_cumulative: Any, background_cumulative: Any) -> float:
    """Area under the ROC curve from the sums of :func:`roc_from_cumulative`, or from
    its efficiencies (sums normalised to 1).

    .. math:: A = \\int_0^1 ε_{sig}\\, dε_{bkg}
              = \\frac{\\sum_k (B_k − B_{k−1})(S_k + S_{k−1})}{2\\, S_{last} B_{last}}

    by the trapezoid rule, which is exact for the grouped curve (a diagonal segment of
    tied values contributes the ½ of the ties). NaN when a total is not positive.
    """
    s = np.asarray(signal_cumulative, np.float64)
    b = np.asarray(background_cumulative, np.float64)
    total_s, total_b = s[-1], b[-1]
    if not (total_s > 0 and total_b > 0):
        return float("nan")
    area = np.sum(np.diff(b) * (s[1:] + s[:-1]))
    return float(area / (2.0 * total_s * total_b))


def _groups(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by decreasing score and the index of the last candidate of each tie group."""
    order = np.argsort(-score, kind="stable")
    ordered = score[order]
    ends = np.append(np.flatnonzero(ordered[1:] != ordered[:-1]), len(ordered) - 1)
    return order, ends


def _cumulative(weight_sorted: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Cumulative weight at the end of each group, with a leading 0."""
    return np.concatenate(([0.0], np.cumsum(weight_sorted)[ends]))


def _cumulative_sums(
    score: np.ndarray, is_signal: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S_k, B_k and the thresholds of the cuts ``score ≥ t``: +inf, then each distinct
    score in decreasing order; both classes are required."""
    order, ends = _groups(score)
    w_sorted, sig_sorted = weight[order], is_signal[order]
    cum_s = _cumulative(np.where(sig_sorted, w_sorted, 0.0), ends)
    cum_b = _cumulative(np.where(sig_sorted, 0.0, w_sorted), ends)
    _require_both_classes(cum_s[-1], cum_b[-1])
    return cum_s, cum_b, np.concatenate(([np.inf], score[order][ends]))


def roc_curve(score: Any, is_signal: Any, weight: Any = None) -> RocCurve:
    """ROC curve of ``score`` for the cuts ``score ≥ t`` (ATL-PHYS-PUB-2023-001 §6, Figures 6–9).

    Parameters
    ----------
    score : array_like
        ``float[n]``, finite: the discriminant, larger is more signal-like.
    is_signal : array_like
        ``bool[n]`` (or 0/1): truth label.
    weight : array_like, optional
        ``float[n]``, finite and non-negative; 1 by default.

    Returns
    -------
    RocCurve
        One point per distinct score value plus the leading ``(0, 0)`` point at
        ``threshold = +inf``; the last point is ``(1, 1)``
        (:func:`roc_from_cumulative` of the cumulative sums along decreasing scores).

    Raises
    ------
    ValueError
        For malformed inputs, or if either class has no candidate with positive weight.
    """
    cum_s, cum_b, threshold = _cumulative_sums(*_score_inputs(score, is_signal, weight))
    return roc_from_cumulative(cum_s, cum_b, threshold)


def auc(score: Any, is_signal: Any, weight: Any = None) -> float:
    """Area under the ROC curve in the "signal above background" sense.

    .. math:: A = P(s_{sig} > s_{bkg}) + \\tfrac12 P(s_{sig} = s_{bkg})
              = \\int_0^1 ε_{sig}\\, dε_{bkg},

    for a signal and a background candidate drawn with probabilities proportional to
    their weights. It is computed from the grouped ROC curve by the trapezoid rule
    (:func:`auc_from_cumulative`), which is exact (ties contribute the ½ term). A = 1
    for perfectly separated classes, 0 for perfectly reversed ones, ½ for a score
    unrelated to the truth; for unit weights A = U / (n_sig n_bkg) with U the
    Mann–Whitney statistic.

    Parameters are those of :func:`roc_curve`, and so are the errors.
    """
    cum_s, cum_b, _ = _cumulative_sums(*_score_inputs(score, is_signal, weight))
    return auc_from_cumulative(cum_s, cum_b)


def auc_uncertainty(
    score: Any,
    is_signal: Any,
    weight: Any = None,
    n_bootstrap: int = 100,
    seed: int | np.random.Generator | None = 0,
) -> float:
    """Bootstrap standard deviation of :func:`auc`.

    Each replica resamples, with replacement, ``n_sig`` of the signal candidates and
    ``n_bkg`` of the background candidates (a stratified bootstrap, so both classes
    are always present); a candidate drawn ``k`` times enters with weight ``k w_i``.
    The result is the standard deviation (``ddof=1``) of the replica AUCs. Replicas in
    which a class ends up with zero total weight (possible only when some weights are
    zero) are skipped; NaN is returned if fewer than two replicas remain.

    Parameters
    ----------
    score, is_signal, weight
        As for :func:`auc`.
    n_bootstrap : int
        Number of replicas, at least 2.
    seed : int, numpy.random.Generator or None
        Seed of (or) the random generator; the default makes the result reproducible.
    """
    score, is_signal, weight = _score_inputs(score, is_signal, weight)
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be an integer ≥ 2, got {n_bootstrap}")
    _require_both_classes(weight[is_signal].sum(), weight[~is_signal].sum())
    rng = np.random.default_rng(seed)
    order, ends = _groups(score)
    w_sorted, sig_sorted = weight[order], is_signal[order]
    sig_pos, bkg_pos = np.flatnonzero(sig_sorted), np.flatnonzero(~sig_sorted)
    values = np.empty(int(n_bootstrap))
    for r in range(int(n_bootstrap)):  # loop over replicas; each replica is vectorised
        multiplicity = np.zeros(len(score))
        multiplicity[sig_pos] = np.bincount(
            rng.integers(0, len(sig_pos), len(sig_pos)), minlength=len(sig_pos)
        )
        multiplicity[bkg_pos] = np.bincount(
            rng.integers(0, len(bkg_pos), len(bkg_pos)), minlength=len(bkg_pos)
        )
        w = w_sorted * multiplicity
        values[r] = auc_from_cumulative(
            _cumulative(np.where(sig_sorted, w, 0.0), ends),
            _cumulative(np.where(sig_sorted, 0.0, w), ends),
        )
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1)) if len(values) >= 2 else float("nan")


def cut_for_efficiency(score: Any, is_signal: Any, target: float, weight: Any = None) -> float:
    """Largest cut ``t`` whose weighted signal efficiency ``ε_sig(score ≥ t)`` is ≥ target.

    The cut is the score of a signal candidate: the weighted (1 − target) quantile of
    the signal scores taken from below, the rule of the working points
    (:class:`~egamma_cnn.model.working_points.WorkingPoints`). With unit weights and
    no ties the efficiency reached exceeds the target by less than one candidate,
    ``1/n_sig``. A target of 0 gives ``+inf`` (nothing passes).

    Parameters
    ----------
    score, is_signal, weight
        As for :func:`roc_curve`; background candidates are ignored.
    target : float
        Target signal efficiency in [0, 1].

    Raises
    ------
    ValueError
        For malformed inputs, a target outside [0, 1], or no signal with positive weight.
    """
    score, is_signal, weight = _score_inputs(score, is_signal, weight)
    target = float(target)
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target efficiency must be in [0, 1], got {target}")
    if not weight[is_signal].sum() > 0:
        raise ValueError("is_signal selects no signal candidate with positive weight")
    if target == 0.0:
        return float("inf")
    return _weighted_cut(score[is_signal], weight[is_signal], target)[0]


# ------------------------------------------------------------------ fixed selections


@dataclass(frozen=True)
class EfficiencyRejection:
    """Signal efficiency and background rejection of a fixed selection.

    Attributes
    ----------
    signal_efficiency : float
        ε_sig (NaN if the signal class has zero total weight).
    signal_efficiency_error : float
        ``sqrt(ε_sig (1 − ε_sig) / N_eff,sig)`` (0 at ε_sig = 0 or 1; NaN if no signal).
    background_efficiency : float
        ε_bkg (NaN if the background class has zero total weight).
    rejection : float
        ``R = 1/ε_bkg``; ``inf`` when no background weight passes.
    rejection_error : float
        ``σ_R = σ_ε,bkg / ε_bkg²`` with ``σ_ε,bkg = sqrt(ε_bkg (1 − ε_bkg) / N_eff,bkg)``;
        ``inf`` when no background weight passes.
    rejection_lower_limit : float
        One-sided 68 % CL lower limit ``1/ε_up`` on R, where ε_up is the Clopper–Pearson
        upper limit on ε_bkg for ``k = ε_bkg N_eff`` passing out of ``N_eff`` (non-integer
        effective counts for weighted candidates): ``ε_up = B⁻¹(0.68; k + 1, N_eff − k)``
        (the Beta quantile), which for ``k = 0`` is ``1 − 0.32^(1/N_eff)``, and ε_up = 1
        when everything passes. Finite even when no background passes.
    n_signal, n_background : int
        Number of candidates in each class (whatever their weights).
    """

    signal_efficiency: float
    signal_efficiency_error: float
    background_efficiency: float
    rejection: float
    rejection_error: float
    rejection_lower_limit: float
    n_signal: int
    n_background: int


def _efficiency(passes: np.ndarray, weight: np.ndarray) -> tuple[float, float, float]:
    """Efficiency, its binomial error √(ε(1 − ε)/N_eff) and the effective count
    N_eff = (Σw)² / Σw² (:mod:`egamma_cnn.intervals`; NaN when Σw = 0)."""
    total = float(weight.sum())
    if not total > 0:
        return float("nan"), float("nan"), float("nan")
    efficiency = min(float(weight[passes].sum()) / total, 1.0)
    n_eff = effective_count(total, float(np.sum(weight**2)))
    return efficiency, binomial_error(efficiency, n_eff), n_eff


def _rejection_lower_limit(efficiency: float, n_eff: float) -> float:
    """1/ε_up with ε_up the one-sided Clopper–Pearson upper limit on ε_bkg at 68 % CL
    (:func:`egamma_cnn.intervals.efficiency_upper_limit`); 1 when everything passes."""
    return 1.0 / efficiency_upper_limit(efficiency, n_eff, _LIMIT_CL)


def efficiency_and_rejection(
    passes: Any, is_signal: Any, weight: Any = None
) -> EfficiencyRejection:
    """Signal efficiency and background rejection (with uncertainties) of a selection.

    Parameters
    ----------
    passes : array_like
        ``bool[n]`` (or 0/1): whether each candidate passes the selection.
    is_signal : array_like
        ``bool[n]`` (or 0/1): truth label.
    weight : array_like, optional
        ``float[n]``, finite and non-negative; 1 by default.

    Returns
    -------
    EfficiencyRejection
        See its attributes for the definitions. A class with zero total weight (no
        candidates, or only zero weights) gives NaN for its efficiency, error and, for
        the background, the rejection, its error and its lower limit; nothing is raised.
    """
    passes = np.asarray(passes)
    if passes.ndim != 1:
        raise ValueError(f"passes must be one-dimensional, got shape {passes.shape}")
    n = len(passes)
    passes = _bool_array(passes, "passes", n, "passes")
    is_signal = _bool_array(is_signal, "is_signal", n, "passes")
    weight = _weight_array(weight, n, "passes")
    eff_s, err_s, _ = _efficiency(passes[is_signal], weight[is_signal])
    eff_b, err_b, n_eff_b = _efficiency(passes[~is_signal], weight[~is_signal])
    if eff_b == 0.0:
        rejection, rejection_error = float("inf"), float("inf")
    else:
        rejection, rejection_error = 1.0 / eff_b, err_b / eff_b**2
    return EfficiencyRejection(
        signal_efficiency=eff_s,
        signal_efficiency_error=err_s,
        background_efficiency=eff_b,
        rejection=rejection,
        rejection_error=rejection_error,
        rejection_lower_limit=_rejection_lower_limit(eff_b, n_eff_b),
        n_signal=int(is_signal.sum()),
        n_background=int((~is_signal).sum()),
    )


@dataclass(frozen=True)
class MatchedRejection:
    """Rejection of a score at the signal efficiency of a reference selection.

    Attributes
    ----------
    signal_efficiency : float
        ε_ref, the signal efficiency of the reference selection.
    reference_rejection, reference_rejection_error : float
        R_ref and its error (as in :class:`EfficiencyRejection`).
    score_rejection, score_rejection_error : float
        R_score of the cut ``score ≥ cut`` and its error.
    score_signal_efficiency : float
        Signal efficiency actually reached by the score cut (≥ ε_ref, by less than one
        candidate for unit weights without ties).
    ratio : float
        ``R_score / R_ref`` (IEEE arithmetic when a rejection is infinite: ``inf``, 0 or
        NaN for inf/inf).
    ratio_error : float
        ``ratio · sqrt((σ_R,score/R_score)² + (σ_R,ref/R_ref)²)``, treating the two
        rejections as independent. This is an approximation: both are measured on the
        same background candidates, which are positively correlated, so it usually
        overestimates the error. ``inf`` when either rejection is infinite.
    cut : float
        The cut on the score, :func:`cut_for_efficiency` at ε_ref.
    """

    signal_efficiency: float
    reference_rejection: float
    reference_rejection_error: float
    score_rejection: float
    score_rejection_error: float
    score_signal_efficiency: float
    ratio: float
    ratio_error: float
    cut: float


def rejection_at_matched_efficiency(
    score: Any, is_signal: Any, reference_passes: Any, weight: Any = None
) -> MatchedRejection:
    """Rejection of ``score`` cut to the signal efficiency of a reference selection.

    The construction of ATL-PHYS-PUB-2023-001 Figures 10–11: the reference selection (for example
    an LLH working point, as a boolean array) has signal efficiency ε_ref and
    rejection R_ref; the score is cut at ``t = cut_for_efficiency(score, is_signal,
    ε_ref)`` and its rejection R_score is compared through ``R_score / R_ref``. Apply
    it per E_T × η bin with :func:`per_bin` to reproduce the binned figures.

    Parameters
    ----------
    score, is_signal, weight
        As for :func:`roc_curve`.
    reference_passes : array_like
        ``bool[n]`` (or 0/1): whether each candidate passes the reference selection.

    Raises
    ------
    ValueError
        For malformed inputs or if there is no signal candidate with positive weight
        (ε_ref is then undefined). No background gives NaN rejections and ratio.
    """
    score, is_signal, weight = _score_inputs(score, is_signal, weight)
    reference_passes = _bool_array(reference_passes, "reference_passes", len(score), "score")
    reference = efficiency_and_rejection(reference_passes, is_signal, weight)
    if not np.isfinite(reference.signal_efficiency):
        raise ValueError("is_signal selects no signal candidate with positive weight")
    cut = cut_for_efficiency(score, is_signal, reference.signal_efficiency, weight)
    matched = efficiency_and_rejection(score >= cut, is_signal, weight)
    r_score, r_ref = matched.rejection, reference.rejection
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.float64(r_score) / np.float64(r_ref))
    if np.isinf(r_score) or np.isinf(r_ref):
        ratio_error = float("inf")
    else:
        ratio_error = ratio * float(
            np.hypot(matched.rejection_error / r_score, reference.rejection_error / r_ref)
        )
    return MatchedRejection(
        signal_efficiency=reference.signal_efficiency,
        reference_rejection=r_ref,
        reference_rejection_error=reference.rejection_error,
        score_rejection=r_score,
        score_rejection_error=matched.rejection_error,
        score_signal_efficiency=matched.signal_efficiency,
        ratio=ratio,
        ratio_error=ratio_error,
        cut=cut,
    )


@dataclass(frozen=True)
class BootstrapInterval:
    """A central bootstrap interval of a rejection ratio (:func:`bootstrap_matched_ratio`).

    Attributes
    ----------
    low, high
        The (1 − c)/2 and (1 + c)/2 quantiles of the replicas' ratios (``inf`` where a
        replica's score rejects every background candidate).
    coverage
        c, the central probability of the interval.
    n_replicas
        Replicas drawn.
    n_undefined
        Replicas without a ratio (neither selection keeps a background candidate, or
        a replica without signal or background); the quantiles are over the others.
    """

    low: float
    high: float
    coverage: float
    n_replicas: int
    n_undefined: int


def _replica_background_efficiency(
    score: np.ndarray, is_signal: np.ndarray, weights: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Background efficiency of ``score ≥ t_b`` for each replica b (rows of ``weights``),
    t_b the cut of :func:`cut_for_efficiency` at replica b's target signal efficiency."""
    order = np.argsort(-score, kind="stable")
    ordered = score[order]
    signal = is_signal[order]
    w = weights[:, order]
    signal_cumulative = np.cumsum(np.where(signal, w, 0.0), axis=1)
    background_cumulative = np.cumsum(np.where(signal, 0.0, w), axis=1)
    need = target * signal_cumulative[:, -1] * (1.0 - 1e-12)
    first = np.minimum((signal_cumulative < need[:, None]).sum(axis=1), len(score) - 1)
    # every candidate tied with the cut passes: the last position of the cut's tie group
    tie_end = np.searchsorted(-ordered, -ordered, side="right") - 1
    passed = background_cumulative[np.arange(len(w)), tie_end[first]]
    with np.errstate(divide="ignore", invalid="ignore"):
        return passed / background_cumulative[:, -1]


def bootstrap_matched_ratio(
    score: Any,
    is_signal: Any,
    reference_passes: Any,
    *,
    reference_score: Any = None,
    n_replicas: int = 400,
    coverage: float = COVERAGE,
    seed: int = 0,
    chunk: int = 50,
) -> BootstrapInterval:
    """Bootstrap interval of the rejection ratio at matched efficiency, signal included.

    The ratio of :func:`rejection_at_matched_efficiency`, R_score / R_ref at the signal
    efficiency ε_ref of a reference selection, depends on the signal sample through
    ε_ref and the cut, not only on the background counts that its ``ratio_error``
    propagates. Each replica draws a Poisson(1) weight for every candidate, signal and
    background alike (the Poisson bootstrap: Hanley & MacGibbon, "Creating non-parametric
    bootstrap samples using Poisson frequencies", Comput. Methods Programs Biomed. 83
    (2006) 57), recomputes ε_ref, the score's cut at ε_ref and both rejections, and the
    interval is the central quantile range of the replicas' ratios (the percentile
    interval, Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, §13.3).

    Parameters
    ----------
    score, is_signal
        As for :func:`rejection_at_matched_efficiency` (unit weights).
    reference_passes
        The reference selection that sets ε_ref (an LLH working point).
    reference_score
        If given, the reference is this score cut to ε_ref in each replica (the FCN at
        the LLH working point's efficiency: CNN/FCN); ``reference_passes`` then only
        sets ε_ref.
    n_replicas, coverage, seed
        Replicas, central coverage (one standard deviation by default) and the seed of
        the Poisson draws.
    chunk
        Replicas per vectorised step (memory: about 5 × chunk × n floats).

    Raises
    ------
    ValueError
        For malformed inputs, no signal candidate, or ``n_replicas`` < 10.
    """
    score, is_signal, _ = _score_inputs(score, is_signal, None)
    reference_passes = _bool_array(reference_passes, "reference_passes", len(score), "score")
    if reference_score is not None:
        reference_score = _score_array(reference_score)
        if reference_score.shape != score.shape:
            raise ValueError(
                f"reference_score must have the shape of score {score.shape}, "
                f"got {reference_score.shape}"
            )
    if not np.any(is_signal):
        raise ValueError("is_signal selects no signal candidate")
    if n_replicas < 10:
        raise ValueError(f"n_replicas must be ≥ 10, got {n_replicas}")
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    rng = np.random.default_rng(seed)
    ratios = []
    for start in range(0, n_replicas, chunk):
        size = min(chunk, n_replicas - start)
        weights = rng.poisson(1.0, (size, len(score))).astype(np.float64)
        signal_weight = weights[:, is_signal].sum(axis=1)
        background_weight = weights[:, ~is_signal].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            target = weights[:, is_signal & reference_passes].sum(axis=1) / signal_weight
            if reference_score is None:
                reference = weights[:, ~is_signal & reference_passes].sum(axis=1) / (
                    background_weight
                )
            else:
                reference = _replica_background_efficiency(
                    reference_score, is_signal, weights, np.nan_to_num(target)
                )
            matched = _replica_background_efficiency(
                score, is_signal, weights, np.nan_to_num(target)
            )
            # R_score / R_ref = ε_bkg,ref / ε_bkg,score
            ratio = reference / matched
        undefined = (signal_weight == 0) | (background_weight == 0) | ~(target > 0)
        ratios.append(np.where(undefined, np.nan, ratio))
    values = np.concatenate(ratios)
    defined = values[~np.isnan(values)]
    n_undefined = int(len(values) - len(defined))
    if len(defined) == 0:
        return BootstrapInterval(math.nan, math.nan, coverage, n_replicas, n_undefined)
    low, high = np.quantile(
        defined, [(1 - coverage) / 2, (1 + coverage) / 2], method="inverted_cdf"
    )
    return BootstrapInterval(float(low), float(high), coverage, n_replicas, n_undefined)


# ----------------------------------------------------------------------------- bins


def bin_index(values: Any, edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """Index of the bin ``[edges[k], edges[k+1])`` holding each value, −1 outside.

    Values below the first edge, at or above the last edge, or NaN get −1. Use an
    infinite last edge for an overflow bin. For two-dimensional bins (E_T × |η|)
    combine two indices ``i`` (``n_i`` bins) and ``j`` (``n_j`` bins) as
    ``np.where((i >= 0) & (j >= 0), i * n_j + j, -1)`` with ``n_bins = n_i * n_j``.

    Parameters
    ----------
    values : array_like
        Values to bin (any shape).
    edges : sequence of float
        At least two strictly ascending edges (±inf allowed, NaN not).

    Returns
    -------
    numpy.ndarray
        ``intp`` array of the shape of ``values``.
    """
    edges = np.asarray(edges, np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("edges must be at least two strictly ascending values")
    values = np.asarray(values, np.float64)
    index = np.searchsorted(edges, values, side="right") - 1
    outside = (index < 0) | (index >= len(edges) - 1) | np.isnan(values)
    return np.where(outside, -1, index).astype(np.intp)


def per_bin(
    function: Callable[..., Any],
    bins: Any,
    n_bins: int,
    *arrays: Any,
    weight: Any = None,
    **options: Any,
) -> list[Any]:
    """Apply a per-candidate metric separately in each bin.

    For every bin ``b`` in ``range(n_bins)`` this calls
    ``function(*(a[bins == b] for a in arrays), weight=w[bins == b], **options)``
    (``weight`` is passed only if given) and collects the results in a list. Candidates
    with ``bins == -1`` (outside the binning, see :func:`bin_index`) are left out.
    For example the rejection ratio of Figure 10 in E_T bins::

        idx = bin_index(et, [4.5, 15, 20, 30, 40, np.inf])
        ratios = per_bin(rejection_at_matched_efficiency, idx, 5, score, is_signal, loose)

    Parameters
    ----------
    function : callable
        One of the metrics of this module (or any function of per-candidate arrays).
    bins : array_like
        ``int[n]``: bin of each candidate in ``[0, n_bins)``, or −1.
    n_bins : int
        Number of bins (≥ 1).
    *arrays : array_like
        ``[n]`` per-candidate arrays, passed positionally after slicing.
    weight : array_like, optional
        ``float[n]`` weights, sliced and passed as ``weight=``.
    **options
        Further keyword arguments passed unchanged (e.g. ``target=``, ``n_bootstrap=``).

    Raises
    ------
    ValueError
        For malformed inputs; a ``ValueError`` raised by ``function`` in a bin (an empty
        class, say) is re-raised with the bin number prefixed.
    """
    index = np.asarray(bins)
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise ValueError(
            f"bins must be a one-dimensional integer array, got {index.dtype}{index.shape}"
        )
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    n_bins = int(n_bins)
    if np.any((index < -1) | (index >= n_bins)):
        raise ValueError(f"bins has values outside [-1, {n_bins})")
    n = len(index)
    sliced = [np.asarray(a) for a in arrays]
    for position, array in enumerate(sliced):
        if array.shape[:1] != (n,):
            raise ValueError(
                f"array argument {position} must have length {n} like bins, got shape {array.shape}"
            )
    if weight is not None:
        weight = np.asarray(weight)
        if weight.shape != (n,):
            raise ValueError(f"weight must have shape ({n},) like bins, got {weight.shape}")
    order = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[order], np.arange(n_bins + 1))
    results = []
    for b in range(n_bins):  # loop over bins (tens), not candidates
        take = order[starts[b] : starts[b + 1]]
        kwargs = dict(options)
        if weight is not None:
            kwargs["weight"] = weight[take]
        try:
            results.append(function(*(a[take] for a in sliced), **kwargs))
        except ValueError as err:
            raise ValueError(f"bin {b}: {err}") from err
    return results
