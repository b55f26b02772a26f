"""Statistical distances between two binned distributions (Zumbihl's e/γ talk, "Statistical
distances").

Both histograms are first normalised to unit sum, P_i = p_i / Σ p and Q_i = q_i / Σ q,
on the same bins (edges x_0 < … < x_n):

* L1 — d_L1(P, Q) = Σ_i |P_i − Q_i|: the total probability to move, sensitive to the
  mean and the peak position;
* Hellinger — H(P, Q) = (1/√2) · sqrt(Σ_i (√P_i − √Q_i)²), in [0, 1]: sensitive to
  changes in low-probability regions (the tails);
* Wasserstein — W_1(P, Q) = ∫ |F(x) − G(x)| dx with F, G the cumulative distributions:
  the least "work" to move P onto Q, in the units of x. For binned inputs the mass of a
  bin sits at its centre, so W_1 = Σ_k |F_k − G_k| (c_{k+1} − c_k) over the bin centres
  c_k: ``scipy.stats.wasserstein_distance(centres, centres, p, q)``, the bin centres as
  the values and the contents as their weights, computes exactly this sum (it forms F
  and G separately where a hand-written sum would accumulate P − Q: the two agree to
  within the rounding of the cumulative sums, ≲ 1e-16 of the histogram range).

Empty inputs (zero sum) give NaN; negative or non-finite contents are an error.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

__all__ = ["hellinger_distance", "l1_distance", "wasserstein_distance"]


def _normalised(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"the two histograms need the same 1-D shape, got {p.shape}, {q.shape}")
    for name, h in (("first", p), ("second", q)):
        if not np.all(np.isfinite(h)) or np.any(h < 0):
            raise ValueError(f"the {name} histogram has negative or non-finite contents")
    if p.sum() <= 0 or q.sum() <= 0:
        return None
    return p / p.sum(), q / q.sum()


def l1_distance(p: np.ndarray, q: np.ndarray) -> float:
    """d_L1 = Σ |P_i − Q_i| of the normalised histograms (module docstring)."""
    normalised = _normalised(p, q)
    if normalised is None:
        return float("nan")
    return float(np.abs(normalised[0] - normalised[1]).sum())


def hellinger_distance(p: np.ndarray, q: np.ndarray) -> float:
    """H = (1/√2) sqrt(Σ (√P_i − √Q_i)²) of the normalised histograms (module docstring)."""
    normalised = _normalised(p, q)
    if normalised is None:
        return float("nan")
    return float(np.sqrt(np.sum((np.sqrt(normalised[0]) - np.sqrt(normalised[1])) ** 2) / 2))


def wasserstein_distance(p: np.ndarray, q: np.ndarray, edges: np.ndarray) -> float:
    """W_1 = Σ_k |F_k − G_k| (c_{k+1} − c_k) over bin centres c_k (module docstring).

    Parameters
    ----------
    p, q : array_like
        Non-negative contents of the two histograms (normalised here).
    edges : array_like
        The common bin edges, increasing, one more than the bins.

    Returns
    -------
    float
        ``scipy.stats.wasserstein_distance`` of the bin centres weighted by the
        contents, in the units of the edges; NaN when either histogram is empty.
    """
    normalised = _normalised(p, q)
    if normalised is None:
        return float("nan")
    edges = np.asarray(edges, np.float64)
    if edges.shape != (len(normalised[0]) + 1,) or np.any(np.diff(edges) <= 0):
        raise ValueError("edges must be increasing, one more than the bins")
    centres = 0.5 * (edges[1:] + edges[:-1])
    # scipy takes the weights as float64 and normalises them itself
    return float(scipy.stats.wasserstein_distance(centres, centres, p, q))
