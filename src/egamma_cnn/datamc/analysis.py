"""From the data/MC processor's histograms to fudge factors, distances and fit parameters.

Inputs are the outputs of ``egamma_cnn.processors.data_mc.DataMCProcessor`` for a data
(-like) and a simulated sample. Per variable:

* :func:`moments` — count, mean and variance per probe (E_T, η) bin from the exact sums;
* :func:`derive_fudge` — the shift/width fudge factors (:mod:`.fudge`), from medians and
  interquartile ranges (:func:`robust_moments`) or from means and widths;
* :func:`fudged_distribution` — the MC histogram after fudging, obtained from the MC
  cumulative distribution: F'(y) = F_MC(c_MC + (y − c_data)/w) (piecewise linear inside
  bins), so no second pass over the MC is needed;
* :func:`distance_table` — L1, Hellinger and Wasserstein distances (:mod:`.distances`)
  of data vs MC and data vs fudged MC, versus E_T (summed over η) and versus η;
* :func:`gaussian_parameters` — the parameters of Zumbihl's e/γ talk "Parameters evolution": the
  mean μ of the distribution, and the width σ and peak position of a Gaussian fitted to
  its core (the highest bin ± 1.5 × the RMS).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from egamma_cnn.corrections.fudge import FudgeFactors
from egamma_cnn.datamc.distances import hellinger_distance, l1_distance, wasserstein_distance
from egamma_cnn.datamc.fudge import fudge_factors

__all__ = [
    "derive_fudge",
    "distance_table",
    "fudged_distribution",
    "gaussian_parameters",
    "moments",
    "robust_moments",
]


def moments(output: dict[str, Any], variable: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, mean, variance) per (E_T, η) bin of ``variable`` (NaN where empty)."""
    h = output["moments"]
    n = h[{"variable": variable, "moment": "n"}].values()
    s = h[{"variable": variable, "moment": "sum"}].values()
    s2 = h[{"variable": variable, "moment": "sum2"}].values()
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s / n
        variance = np.maximum(s2 / n - mean**2, 0.0)
    return n, mean, variance


def _quantiles(counts: np.ndarray, edges: np.ndarray, probabilities) -> np.ndarray:
    """Quantiles of a binned distribution (piecewise-linear CDF); NaN when empty."""
    total = counts.sum()
    if total <= 0:
        return np.full(len(probabilities), np.nan)
    cdf = np.concatenate([[0.0], np.cumsum(counts)]) / total
    keep = np.concatenate([[True], np.diff(cdf) > 0])
    return np.interp(probabilities, cdf[keep], edges[keep])


def robust_moments(
    output: dict[str, Any], variable: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, median, IQR²) per (E_T, η) bin from the binned distribution."""
    h = output["distributions"][variable]
    counts = h.values()
    edges = np.asarray(h.axes["value"].edges)
    shape = counts.shape[1:]
    n, median, iqr2 = np.zeros(shape), np.full(shape, np.nan), np.full(shape, np.nan)
    for i in range(shape[0]):
        for j in range(shape[1]):
            c = counts[:, i, j]
            n[i, j] = c.sum()
            q1, q2, q3 = _quantiles(c, edges, [0.25, 0.5, 0.75])
            median[i, j], iqr2[i, j] = q2, (q3 - q1) ** 2
    return n, median, iqr2


def _group_stats(
    output: dict[str, Any], variable: str, estimator: str, et: slice, eta: slice
) -> tuple[float, float, float]:
    """(count, centre, spread²) of the probes of a group of (E_T, η) bins."""
    if estimator == "quantiles":
        h = output["distributions"][variable]
        counts = h.values()[:, et, eta].sum(axis=(1, 2))
        q1, q2, q3 = _quantiles(counts, np.asarray(h.axes["value"].edges), [0.25, 0.5, 0.75])
        return float(counts.sum()), float(q2), float((q3 - q1) ** 2)
    h = output["moments"]
    n = float(h[{"variable": variable, "moment": "n"}].values()[et, eta].sum())
    s1 = float(h[{"variable": variable, "moment": "sum"}].values()[et, eta].sum())
    s2 = float(h[{"variable": variable, "moment": "sum2"}].values()[et, eta].sum())
    if n <= 0:
        return 0.0, math.nan, math.nan
    return n, s1 / n, max(s2 / n - (s1 / n) ** 2, 0.0)


def derive_fudge(
    data: dict[str, Any],
    mc: dict[str, Any],
    variable: str,
    min_entries: int = 200,
    estimator: str = "quantiles",
) -> FudgeFactors:
    """Fudge factors of ``variable`` from the data and MC outputs of the processor.

    ``estimator="quantiles"`` (default): shift of the medians, ratio of the interquartile
    ranges, from the binned distributions; ``"moments"``: shift of the means, ratio of
    the standard deviations, from the exact sums.

    Each (E_T, η) bin takes its factors from its own probes when data and MC both have
    at least ``min_entries`` of them; otherwise from its η column (all E_T: the shower
    shapes depend on the calorimeter region far more than on E_T), otherwise from all
    probes. Factors from a handful of probes would add their noise to every fudged
    distribution; :attr:`FudgeFactors.source` records the choice per bin.
    """
    if estimator not in ("quantiles", "moments"):
        raise ValueError(f"estimator must be 'quantiles' or 'moments', not {estimator!r}")
    h = mc["moments"]
    et_edges = np.asarray(h.axes["et"].edges)
    eta_edges = np.asarray(h.axes["eta"].edges)
    shape = (len(et_edges) - 1, len(eta_edges) - 1)
    stats_mc = [np.zeros(shape), np.full(shape, np.nan), np.full(shape, np.nan)]
    stats_data = [np.zeros(shape), np.full(shape, np.nan), np.full(shape, np.nan)]
    source = np.full(shape, "none", dtype=object)
    everything = slice(None)
    for i in range(shape[0]):
        for j in range(shape[1]):
            groups = (
                ("bin", slice(i, i + 1), slice(j, j + 1)),
                ("eta column", everything, slice(j, j + 1)),
                ("all probes", everything, everything),
            )
            for label, et, eta in groups:
                m = _group_stats(mc, variable, estimator, et, eta)
                d = _group_stats(data, variable, estimator, et, eta)
                if m[0] >= min_entries and d[0] >= min_entries:
                    for k in range(3):
                        stats_mc[k][i, j], stats_data[k][i, j] = m[k], d[k]
                    source[i, j] = label
                    break
    factors = fudge_factors(
        variable,
        et_edges,
        eta_edges,
        tuple(stats_mc),
        tuple(stats_data),
        min_entries=1,
        estimator=estimator,
    )
    factors.source = source
    return factors


def _transform_counts(counts: np.ndarray, edges: np.ndarray, centre_mc, centre_data, width):
    """Counts of v' = c_data + w (v − c_MC) in the same bins (piecewise-linear CDF)."""
    total = counts.sum()
    if total <= 0 or not np.isfinite(width) or width <= 0:
        return counts.astype(float)
    cdf = np.concatenate([[0.0], np.cumsum(counts)])
    source_edges = centre_mc + (edges - centre_data) / width
    mapped = np.interp(source_edges, edges, cdf, left=0.0, right=total)
    out = np.diff(mapped)
    # what the fudging moves outside the histogram range stays in the edge bins
    out[0] += mapped[0]
    out[-1] += total - mapped[-1]
    return out


def fudged_distribution(output_mc: dict[str, Any], factors: FudgeFactors) -> np.ndarray:
    """MC counts ``[value, et, eta]`` of ``factors.variable`` after fudging, per bin."""
    h = output_mc["distributions"][factors.variable]
    counts = h.values()
    edges = np.asarray(h.axes["value"].edges)
    out = np.zeros_like(counts, dtype=float)
    for i in range(counts.shape[1]):
        for j in range(counts.shape[2]):
            out[:, i, j] = _transform_counts(
                counts[:, i, j],
                edges,
                factors.centre_mc[i, j],
                factors.centre_data[i, j],
                factors.width[i, j],
            )
    return out


def _distances(p: np.ndarray, q: np.ndarray, edges: np.ndarray) -> dict[str, float]:
    return {
        "l1": l1_distance(p, q),
        "hellinger": hellinger_distance(p, q),
        "wasserstein": wasserstein_distance(p, q, edges),
    }


def distance_table(
    data: dict[str, Any],
    mc: dict[str, Any],
    factors: FudgeFactors | None,
    variable: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Distances data–MC and data–fudged MC versus E_T and versus η (and inclusive).

    ``factors`` None (a variable that is compared, not fudged, such as the CNN score):
    the ``"fudged"`` entries are None and ``variable`` names the variable.
    """
    variable = factors.variable if factors is not None else variable
    if variable is None:
        raise ValueError("name the variable when there are no fudge factors")
    h = data["distributions"][variable]
    edges = np.asarray(h.axes["value"].edges)
    counts_data = h.values()
    counts_mc = mc["distributions"][variable].values()
    counts_fudged = fudged_distribution(mc, factors) if factors is not None else None
    et_edges = np.asarray(h.axes["et"].edges)
    eta_edges = np.asarray(h.axes["eta"].edges)
    table: dict[str, list[dict[str, Any]]] = {"et": [], "eta": [], "inclusive": []}
    projections = {
        "et": [(slice(i, i + 1), slice(None)) for i in range(len(et_edges) - 1)],
        "eta": [(slice(None), slice(j, j + 1)) for j in range(len(eta_edges) - 1)],
        "inclusive": [(slice(None), slice(None))],
    }
    for name, cells in projections.items():
        for k, (i, j) in enumerate(cells):
            d = counts_data[:, i, j].sum(axis=(1, 2))
            m = counts_mc[:, i, j].sum(axis=(1, 2))
            f = counts_fudged[:, i, j].sum(axis=(1, 2)) if counts_fudged is not None else None
            low, high = {
                "et": (et_edges[k], et_edges[k + 1]) if name == "et" else (math.nan, math.nan),
                "eta": (eta_edges[k], eta_edges[k + 1]) if name == "eta" else (math.nan, math.nan),
                "inclusive": (math.nan, math.nan),
            }[name]
            table[name].append(
                {
                    "low": float(low),
                    "high": float(high),
                    "n_data": float(d.sum()),
                    "n_mc": float(m.sum()),
                    "unfudged": _distances(d, m, edges),
                    "fudged": _distances(d, f, edges) if f is not None else None,
                }
            )
    return table


def _gaussian(x, norm, mean, sigma):
    return norm * np.exp(-0.5 * ((x - mean) / sigma) ** 2)


def gaussian_parameters(counts: np.ndarray, edges: np.ndarray) -> dict[str, float]:
    """Mean (of the distribution), width and peak position (of a Gaussian fit to its core).

    The fit (scipy ``curve_fit``, Poisson-like weights) covers the highest bin ± 1.5 RMS;
    width = the fitted σ and peak = the fitted Gaussian mean when the fit converges inside
    the range; otherwise the RMS and the highest bin's centre, with the reason in
    ``"status"``. Fewer than 20 entries: NaN.
    """
    from scipy.optimize import curve_fit

    counts = np.asarray(counts, float)
    centres = 0.5 * (edges[1:] + edges[:-1])
    total = counts.sum()
    if total < 20:
        return {"mean": math.nan, "width": math.nan, "peak": math.nan, "status": "too few entries"}
    mean = float(np.sum(counts * centres) / total)
    rms = float(math.sqrt(max(np.sum(counts * (centres - mean) ** 2) / total, 1e-30)))
    top = int(np.argmax(counts))
    peak = float(centres[top])
    window = np.abs(centres - peak) <= 1.5 * rms
    if window.sum() < 4:
        window = np.ones_like(window)
    try:
        values, _ = curve_fit(
            _gaussian,
            centres[window],
            counts[window],
            p0=(counts[top], peak, rms),
            sigma=np.sqrt(np.maximum(counts[window], 1.0)),
            maxfev=5000,
        )
    except (RuntimeError, ValueError):
        return {"mean": mean, "width": rms, "peak": peak, "status": "fit failed: moments given"}
    fitted_mean, fitted_sigma = float(values[1]), abs(float(values[2]))
    if not (edges[0] <= fitted_mean <= edges[-1]):
        return {"mean": mean, "width": rms, "peak": peak, "status": "fit outside: moments given"}
    return {"mean": mean, "width": fitted_sigma, "peak": fitted_mean, "status": "ok"}
