"""Fudge factors: per variable and (E_T, η) bin, the shift and width that turn MC into data.

Zumbihl's e/γ talk ("Shower shape studies"): the simulated shower shapes of electrons differ from
data, and ATLAS corrects ("fudges") them before the likelihood and the networks see them.
Per variable v and probe bin b, from a centre c and a spread of v among tag-and-probe
probe electrons in data and in MC:

* shift  s = c_data − c_MC,
* width  w = spread_data / spread_MC,

and a fudged MC value is v' = c_data + w · (v − c_MC): the MC distribution moved onto the
data centre and stretched to the data spread. The centre and spread are the median and
the interquartile range by default (:func:`egamma_cnn.datamc.analysis.derive_fudge`,
robust against the long one-sided tails of bounded shower shapes such as R_φ or R_had,
which dominate a mean and a standard deviation), or the mean and standard deviation.
:func:`quantile_map` is the option that also corrects shapes two numbers cannot: the
quantile mapping v' = F_data⁻¹(F_MC(v)) from the two binned cumulative distributions
(linear inside bins).

The factors are written and applied by :mod:`egamma_cnn.corrections.fudge` (the
correctionlib file and :class:`~egamma_cnn.corrections.FudgeFile`), which the runtime
columns use without importing this study.
"""

from __future__ import annotations

import numpy as np

from egamma_cnn.corrections.fudge import FudgeFactors

__all__ = ["fudge_factors", "quantile_map"]


def fudge_factors(
    variable: str,
    et_edges: np.ndarray,
    eta_edges: np.ndarray,
    moments_mc: tuple[np.ndarray, np.ndarray, np.ndarray],
    moments_data: tuple[np.ndarray, np.ndarray, np.ndarray],
    min_entries: int = 20,
    estimator: str = "moments",
) -> FudgeFactors:
    """Shift and width per bin from (count, centre, spread²) arrays of MC and data.

    (count, mean, variance) for the moments estimator; (count, median, IQR²) for the
    quantile one — the width is the square root of the ratio of the last entries.

    Bins with fewer than ``min_entries`` probes in either sample, or a zero MC width, get
    shift 0 and width 1 (no correction) — the defined behaviour for a bin that cannot be
    measured; they are visible as such in the tables.
    """
    n_mc, centre_mc, var_mc = (np.asarray(a, np.float64) for a in moments_mc)
    n_d, mean_d, var_d = (np.asarray(a, np.float64) for a in moments_data)
    measurable = (n_mc >= min_entries) & (n_d >= min_entries) & (var_mc > 0)
    width = np.where(
        measurable, np.sqrt(np.where(measurable, var_d / np.where(var_mc > 0, var_mc, 1), 1)), 1.0
    )
    centre_data = np.where(measurable, mean_d, centre_mc)
    centre_mc = np.where(np.isfinite(centre_mc), centre_mc, 0.0)
    centre_data = np.where(np.isfinite(centre_data), centre_data, centre_mc)
    return FudgeFactors(
        variable,
        np.asarray(et_edges, float),
        np.asarray(eta_edges, float),
        centre_mc,
        centre_data,
        width,
        estimator,
    )


def quantile_map(
    counts_mc: np.ndarray, counts_data: np.ndarray, edges: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """v' = F_data⁻¹(F_MC(v)) from binned distributions (piecewise-linear CDFs)."""
    counts_mc = np.asarray(counts_mc, float)
    counts_data = np.asarray(counts_data, float)
    if counts_mc.sum() <= 0 or counts_data.sum() <= 0:
        return np.asarray(values, float).copy()
    cdf_mc = np.concatenate([[0.0], np.cumsum(counts_mc) / counts_mc.sum()])
    cdf_data = np.concatenate([[0.0], np.cumsum(counts_data) / counts_data.sum()])
    u = np.interp(values, edges, cdf_mc)
    # invert the data CDF on its strictly increasing part
    keep = np.concatenate([[True], np.diff(cdf_data) > 0])
    return np.interp(u, cdf_data[keep], np.asarray(edges, float)[keep])
