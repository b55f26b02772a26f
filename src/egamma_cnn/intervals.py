"""Efficiencies and their uncertainties: the one place every study takes them from.

An efficiency ε = k / n of k passing among n candidates is a binomial proportion. With
event weights w the sums are not counts; their statistical size is the *effective*
number of entries (the Kish effective sample size)

    n_eff = (Σw)² / Σw²,   k_eff = ε · n_eff,

which is the plain count for unit weights, and every interval below is the binomial one
of (k_eff, n_eff).

* :func:`clopper_pearson` — the exact (conservative) central interval, from
  ``hist.intervals.clopper_pearson_interval`` (the Beta quantiles
  B⁻¹((1 − c)/2; k, n − k + 1) and B⁻¹((1 + c)/2; k + 1, n − k), with 0 at k = 0 and 1
  at k = n);
* :func:`wilson` — the Wilson score interval
  (p + z²/2n ± z √(p(1 − p)/n + z²/4n²)) / (1 + z²/n) with z the normal quantile of c;
* :func:`efficiency_interval` — ε = Σw_pass / Σw with the interval of the effective
  counts, as (ε, error down, error up): what the tag-and-probe, the isolation study and
  the data/MC comparison report;
* :func:`binned_efficiencies` — that ε per bin of one axis (E_T) and inclusive, with the
  weight outside the binning: the ID efficiencies of the data/MC comparison and the
  working-point efficiencies of the isolation study;
* :func:`binomial_error` — the symmetric (normal-approximation) error √(ε(1 − ε)/n_eff);
* :func:`efficiency_upper_limit` — the one-sided upper limit on ε at confidence level
  c (Clopper–Pearson): B⁻¹(c; k + 1, n − k), used for rejections without a failing
  candidate;
* :func:`rate_homogeneity` — whether several samples share one rate per event of a
  count (one-way analysis of variance of the per-event counts): how the per-file
  candidate rates of a production are checked.

The default coverage is one standard deviation, :data:`COVERAGE` = 0.6827. Every
function gives a defined value for an empty sample (the whole interval [0, 1], or NaN for
the efficiency itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from hist.intervals import clopper_pearson_interval
from scipy import special, stats

__all__ = [
    "COVERAGE",
    "INTERVALS",
    "Interval",
    "RateHomogeneity",
    "binned_efficiencies",
    "binomial_error",
    "clopper_pearson",
    "effective_count",
    "efficiency_interval",
    "efficiency_upper_limit",
    "rate_homogeneity",
    "wilson",
]

#: Central coverage of one standard deviation, P(|z| < 1).
COVERAGE = 0.682689492137086

Interval = Literal["clopper-pearson", "wilson"]


def effective_count(sum_weights: float, sum_weights_squared: float) -> float:
    """n_eff = (Σw)² / Σw²: the number of entries for unit weights; 0 for no entries."""
    if sum_weights_squared <= 0:
        return 0.0
    return sum_weights**2 / sum_weights_squared


def clopper_pearson(k: float, n: float, coverage: float = COVERAGE) -> tuple[float, float]:
    """Clopper–Pearson interval (low, high) of the binomial proportion k/n.

    Exact and conservative; (0, 1) for n ≤ 0. ``k`` and ``n`` may be effective
    (non-integer) counts. A ``k`` outside [0, n] — weighted sums with negative weights
    can put Σw_pass below 0 or above Σw — is taken at the nearer end: the interval of
    an efficiency of 0 or 1.
    """
    if n <= 0:
        return (0.0, 1.0)
    k = min(max(k, 0.0), n)
    low, high = clopper_pearson_interval(np.asarray(k, float), np.asarray(n, float), coverage)
    return (float(low), float(high))


def wilson(k: float, n: float, coverage: float = COVERAGE) -> tuple[float, float]:
    """Wilson score interval (low, high) of the binomial proportion k/n; (0, 1) for n ≤ 0.

    A ``k`` outside [0, n] is taken at the nearer end, as in :func:`clopper_pearson`.
    """
    if n <= 0:
        return (0.0, 1.0)
    z = float(stats.norm.ppf(0.5 + coverage / 2))
    p = min(max(k / n, 0.0), 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


#: The intervals by the names the command line and the configuration use.
INTERVALS = {"clopper-pearson": clopper_pearson, "wilson": wilson}


def efficiency_interval(
    passed: float, total: float, variance: float, interval: Interval = "clopper-pearson"
) -> tuple[float, float, float]:
    """(ε, error down, error up) of ε = Σw_pass / Σw.

    Parameters
    ----------
    passed, total : float
        Σw of the passing candidates and of all of them.
    variance : float
        Σw² of all candidates; n_eff = total² / variance (``total`` itself when the
        variance is not positive, as for counts given without one).
    interval : {"clopper-pearson", "wilson"}
        The binomial interval of (k_eff, n_eff).

    Returns
    -------
    tuple of float
        ε and the distances from ε to the ends of the interval; NaN for an empty sample
        (``total`` ≤ 0). With negative weights ε can leave [0, 1]: it is returned as
        measured, with the interval of ε = 0 or 1 (the error towards the outside is 0).
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {sorted(INTERVALS)}, not {interval!r}")
    if total <= 0:
        return math.nan, math.nan, math.nan
    efficiency = passed / total
    n_eff = effective_count(total, variance) if variance > 0 else total
    low, high = INTERVALS[interval](efficiency * n_eff, n_eff)
    return efficiency, max(efficiency - low, 0.0), max(high - efficiency, 0.0)


def binomial_error(efficiency: float, n_eff: float) -> float:
    """√(ε(1 − ε)/n_eff), the normal-approximation error; NaN for n_eff ≤ 0 or NaN ε."""
    if not n_eff > 0 or not math.isfinite(efficiency):
        return math.nan
    return math.sqrt(max(efficiency * (1.0 - efficiency), 0.0) / n_eff)


def efficiency_upper_limit(efficiency: float, n_eff: float, confidence: float) -> float:
    """One-sided Clopper–Pearson upper limit on ε at ``confidence``: B⁻¹(c; k + 1, n − k).

    With k = ε n_eff; 1 when nothing fails (k ≥ n), NaN for a NaN efficiency.
    """
    if not math.isfinite(efficiency):
        return math.nan
    k = efficiency * n_eff
    if n_eff - k <= 0:
        return 1.0
    return float(special.betaincinv(k + 1.0, n_eff - k, confidence))


def _efficiency_row(passed: float, total: float, variance: float, count: str) -> dict[str, Any]:
    """ε and its errors (:func:`efficiency_interval`) and Σw as ``count``; None when empty."""
    if total <= 0:
        return {"efficiency": None, "error_low": None, "error_high": None, count: 0.0}
    efficiency, low, high = efficiency_interval(passed, total, variance)
    return {"efficiency": efficiency, "error_low": low, "error_high": high, count: float(total)}


def binned_efficiencies(
    passed: Any,
    total: Any,
    variance: Any,
    edges: Any,
    everything: float,
    *,
    axis: str = "et",
    count: str = "n",
) -> dict[str, Any]:
    """ε = Σw_pass / Σw per bin of one axis and inclusive, and the weight outside the bins.

    Each efficiency has the Clopper–Pearson interval of the effective counts
    n_eff = (Σw)² / Σw² (:func:`efficiency_interval`). Inclusive means every bin of the
    binning: Σw_pass, Σw and Σw² summed over the bins; a candidate outside the binning
    (in no bin of this axis or of an axis summed before) is in ``outside_binning``,
    Σw_everything − Σ_bins Σw, and in no efficiency.

    Parameters
    ----------
    passed, total, variance : array_like
        Per bin of the axis: Σw of the passing candidates, Σw and Σw² of all of them.
    edges : array_like
        The bin edges of the axis (one more than the bins).
    everything : float
        Σw of every candidate, those outside the binning included (the flow bins).
    axis : str
        The axis' name, for the keys of the rows (``"et"``: ``et_low``, ``et_high``).
    count : str
        The key of Σw in a row (``"n"``, ``"probes"``).

    Returns
    -------
    dict
        ``axis``: one row per bin (``<axis>_low``, ``<axis>_high``, ``efficiency``,
        ``error_low``, ``error_high``, ``count``; None for the efficiency and its errors
        of a bin without candidates), ``"inclusive"``: the same for all bins,
        ``"outside_binning"``: the Σw outside.
    """
    passed, total, variance = (np.asarray(a, dtype=float) for a in (passed, total, variance))
    edges = np.asarray(edges, dtype=float)
    if not passed.shape == total.shape == variance.shape == (len(edges) - 1,):
        raise ValueError(
            f"passed, total and variance need one value per bin of the {len(edges) - 1} "
            f"bins of {axis}; got shapes {passed.shape}, {total.shape}, {variance.shape}"
        )
    rows = [
        {
            f"{axis}_low": float(edges[i]),
            f"{axis}_high": float(edges[i + 1]),
            **_efficiency_row(passed[i], total[i], variance[i], count),
        }
        for i in range(len(edges) - 1)
    ]
    return {
        axis: rows,
        "inclusive": _efficiency_row(passed.sum(), total.sum(), variance.sum(), count),
        "outside_binning": everything - float(total.sum()),
    }


@dataclass(frozen=True)
class RateHomogeneity:
    """Result of :func:`rate_homogeneity`.

    Attributes
    ----------
    rate
        The pooled rate per event, Σ_i S_i / Σ_i E_i.
    rates
        Each sample's rate S_i / E_i.
    f_statistic
        Between-sample over within-sample mean square; about 1 when the samples share
        one rate, and about m when every event of a sample is copied m times.
    ndof
        (k − 1, E − k) for k samples of E events in all.
    p_value
        P(F ≥ f_statistic): small when the samples' rates differ beyond their
        statistical errors.
    """

    rate: float
    rates: tuple[float, ...]
    f_statistic: float
    ndof: tuple[int, int]
    p_value: float


def rate_homogeneity(sums: Any, sums_of_squares: Any, events: Any) -> RateHomogeneity:
    """Test that samples share one rate per event of a count (candidates, fakes).

    The one-way analysis of variance of the per-event counts x (R. A. Fisher,
    "Statistical Methods for Research Workers", 1925, ch. VII): with sample i holding
    E_i events, S_i = Σ x and Q_i = Σ x², rates r_i = S_i / E_i and pooled
    r̄ = Σ S_i / Σ E_i,

        F = [Σ_i E_i (r_i − r̄)² / (k − 1)] / [Σ_i (Q_i − S_i² / E_i) / (E − k)],

    which follows F(k − 1, E − k) when the events are independent and the rates equal.
    The errors of each rate are those of its events: candidates that come in clusters
    (several fakes from one jet) widen them, as they should. For counts that are
    Poisson per event the denominator is r̄ and F is the index of dispersion
    Σ_i (S_i − r̄ E_i)² / (r̄ E_i) / (k − 1) of Poisson counts.

    Parameters
    ----------
    sums, sums_of_squares
        S_i and Q_i of each sample (non-negative; Q_i ≥ S_i² / E_i).
    events
        E_i ≥ 1 of each sample; at least two samples and more events than samples.

    Returns
    -------
    RateHomogeneity
        Without spread inside the samples (every event of a sample alike): F = 0, p = 1
        if the rates are equal too, else F = inf, p = 0.

    Raises
    ------
    ValueError
        Fewer than two samples, lengths that differ, too few events, or sums that no
        set of counts has.
    """
    total = np.asarray(sums, np.float64)
    squares = np.asarray(sums_of_squares, np.float64)
    n_events = np.asarray(events, np.float64)
    if total.ndim != 1 or not total.shape == squares.shape == n_events.shape:
        raise ValueError(
            f"sums {total.shape}, sums_of_squares {squares.shape} and events "
            f"{n_events.shape} must be three equal 1-D arrays"
        )
    k = len(total)
    if k < 2:
        raise ValueError("the rate comparison needs at least two samples")
    if not (np.all(np.isfinite(total)) and np.all(np.isfinite(squares))):
        raise ValueError("sums and sums_of_squares must be finite")
    if np.any(total < 0) or np.any(~np.isfinite(n_events)) or np.any(n_events < 1):
        raise ValueError("sums must be ≥ 0 and every sample must have ≥ 1 event")
    within_per_sample = squares - total**2 / n_events
    if np.any(within_per_sample < -1e-9 * np.maximum(squares, 1.0)):
        raise ValueError("sums_of_squares below sums² / events: no counts have these sums")
    n_all = float(n_events.sum())
    if n_all <= k:
        raise ValueError(f"{n_all:g} events in {k} samples: need more events than samples")
    rates = total / n_events
    rate = float(total.sum() / n_all)
    ss_between = float(np.sum(n_events * (rates - rate) ** 2))
    ss_within = float(np.sum(np.maximum(within_per_sample, 0.0)))
    ndof = (k - 1, round(n_all) - k)
    if ss_within == 0.0:
        equal = ss_between <= 1e-12 * max(rate, 1.0)
        f_stat, p = (0.0, 1.0) if equal else (math.inf, 0.0)
    else:
        f_stat = (ss_between / ndof[0]) / (ss_within / ndof[1])
        p = float(stats.f.sf(f_stat, *ndof))
    return RateHomogeneity(
        rate=rate,
        rates=tuple(float(r) for r in rates),
        f_statistic=float(f_stat),
        ndof=ndof,
        p_value=p,
    )
