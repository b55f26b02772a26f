"""From the isolation processor's histograms to correlations, ROC curves and efficiencies.

* :func:`correlations` — Pearson ρ(score, isolation) per bin or projection, from the
  exact sums (Franco's photon-ID talk, ID–isolation correlation);
* :func:`roc_curve`, :func:`area_under_curve`, :func:`background_efficiency_at` — the
  signal and background efficiencies of a cut on one discriminant, from its binned
  distributions for the two classes (the Collado Umana thesis, ch. 4: "background rejection versus
  signal
  efficiency" and the AUC of isolation cones and of networks on calorimeter images);
* :func:`working_point_efficiencies` — ε = N_pass / N per working point and truth group,
  versus E_T and inclusive, with Clopper–Pearson intervals, for all candidates or for
  those passing an ID; :func:`factorisation` — ε(iso | ID) / ε(iso).

Truth groups are tuples of truth classes (ATL-PHYS-PUB-2023-001 §3.1): :data:`TRUE_ELECTRONS` (0
prompt, 1 charge flip), :data:`NON_PROMPT` (3 heavy-flavour decays, 4 light-flavour
e/γ, 5 hadrons), :data:`NON_PROMPT_ELECTRONS` (3, 4: real electrons inside jets, the
analogue of the thesis's non-prompt muons, which isolation is there to reject),
:data:`HEAVY_FLAVOUR` (3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "HEAVY_FLAVOUR",
    "NON_PROMPT",
    "NON_PROMPT_ELECTRONS",
    "TRUE_ELECTRONS",
    "area_under_curve",
    "background_efficiency_at",
    "correlations",
    "factorisation",
    "roc_curve",
    "working_point_efficiencies",
]

TRUE_ELECTRONS: tuple[int, ...] = (0, 1)
NON_PROMPT: tuple[int, ...] = (3, 4, 5)
NON_PROMPT_ELECTRONS: tuple[int, ...] = (3, 4)
HEAVY_FLAVOUR: tuple[int, ...] = (3,)
_MOMENTS = ("n", "x", "y", "xx", "yy", "xy")


def _classes(truth: int | Sequence[int]) -> tuple[int, ...]:
    return (int(truth),) if np.isscalar(truth) else tuple(int(t) for t in truth)


def _truth_sum(histogram: Any, selection: dict[str, Any], truth: int | Sequence[int]) -> Any:
    """``histogram[selection]`` summed over the given truth classes (numpy values)."""
    import hist

    total = None
    for value in _classes(truth):
        view = histogram[{**selection, "truth": hist.loc(value)}].values()
        total = view if total is None else total + view
    return total


def correlations(
    sums: Any,
    score_name: str,
    isolation_name: str,
    truth: int | Sequence[int],
    projection: str = "bins",
) -> np.ndarray:
    """Pearson ρ(score, isolation) of the candidates of truth class(es) ``truth``.

    ``projection``: ``"bins"`` ([et, eta]), ``"et"``, ``"eta"`` or ``"inclusive"``.
    ρ = (Σxy/n − x̄ ȳ) / sqrt((Σx²/n − x̄²)(Σy²/n − ȳ²)); NaN where fewer than 10
    candidates or a variance is zero.
    """
    selection = {"score_name": score_name, "isolation_name": isolation_name}
    values = {m: _truth_sum(sums, {**selection, "moment": m}, truth) for m in _MOMENTS}
    if projection == "et":
        values = {m: v.sum(axis=1) for m, v in values.items()}
    elif projection == "eta":
        values = {m: v.sum(axis=0) for m, v in values.items()}
    elif projection == "inclusive":
        values = {m: np.asarray(v.sum()) for m, v in values.items()}
    elif projection != "bins":
        raise ValueError(f"projection must be bins, et, eta or inclusive, not {projection!r}")
    n = values["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x, mean_y = values["x"] / n, values["y"] / n
        cov = values["xy"] / n - mean_x * mean_y
        var_x = values["xx"] / n - mean_x**2
        var_y = values["yy"] / n - mean_y**2
        rho = cov / np.sqrt(var_x * var_y)
    return np.where((n >= 10) & (var_x > 0) & (var_y > 0), rho, np.nan)


def _counts(histogram: Any, truth: Sequence[int]) -> np.ndarray:
    """Counts per value bin, flow bins included (nothing left out), of the truth group."""
    import hist

    total = None
    for value in truth:
        counts = np.asarray(histogram[{"truth": hist.loc(value)}].values(flow=True), float)
        total = counts if total is None else total + counts
    return np.asarray(total, float)


def roc_curve(
    histogram: Any,
    signal: Sequence[int],
    background: Sequence[int],
    higher_is_signal: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(ε_S, ε_B) of every cut on a discriminant, from its histogram [value, truth].

    A cut at a bin edge keeps the bins on the signal side (above it for a score, below
    it for an isolation). Both arrays run from (0, 0) to (1, 1); the flow bins count, so
    a candidate outside the histogram range is a candidate all the same.
    """
    s = _counts(histogram, signal)
    b = _counts(histogram, background)
    if not higher_is_signal:
        s, b = s[::-1], b[::-1]
    # keep the bins from the signal end: cumulative sums from the top
    s_cum = np.concatenate([[0.0], np.cumsum(s[::-1])])
    b_cum = np.concatenate([[0.0], np.cumsum(b[::-1])])
    with np.errstate(divide="ignore", invalid="ignore"):
        return s_cum / s_cum[-1], b_cum / b_cum[-1]


def area_under_curve(signal_efficiency: np.ndarray, background_efficiency: np.ndarray) -> float:
    """AUC = ∫ ε_S dε_B (trapezoids): the probability that a signal candidate is more
    signal-like than a background one (ties count one half)."""
    if not (np.isfinite(signal_efficiency).all() and np.isfinite(background_efficiency).all()):
        return float("nan")
    x, y = np.asarray(background_efficiency, float), np.asarray(signal_efficiency, float)
    return float(np.sum(np.diff(x) * 0.5 * (y[1:] + y[:-1])))


def background_efficiency_at(
    signal_efficiency: np.ndarray, background_efficiency: np.ndarray, target: float
) -> float:
    """ε_B at signal efficiency ``target`` (linear between the cuts)."""
    if not np.isfinite(signal_efficiency).all():
        return float("nan")
    order = np.argsort(signal_efficiency, kind="stable")
    return float(np.interp(target, signal_efficiency[order], background_efficiency[order]))


def working_point_efficiencies(
    histogram: Any, working_point: str, truth: Sequence[int], given: str = "all"
) -> dict[str, Any]:
    """Efficiency of ``working_point`` for the truth group, per E_T bin and inclusive.

    ``given``: ``"all"`` candidates, or only those passing that ID (one of the
    processor's ``given_ids``). ε = Σw_pass / Σw with the Clopper–Pearson interval of
    the effective counts (:func:`egamma_cnn.tnp.efficiency.weighted_efficiency`); ``n``
    is Σw. Inclusive means inside the E_T × η binning; ``outside_binning`` gives Σw of
    the candidates outside it, which no efficiency contains.
    """
    import hist

    from egamma_cnn.tnp.efficiency import weighted_efficiency

    def row(passed: float, total: float, variance: float) -> dict[str, Any]:
        if total <= 0:
            return {"efficiency": None, "error_low": None, "error_high": None, "n": 0.0}
        eff, low, high = weighted_efficiency(passed, total, variance)
        return {"efficiency": eff, "error_low": low, "error_high": high, "n": float(total)}

    passed = total = variance = everything = None
    for value in truth:
        selection = {"given": given, "working_point": working_point, "truth": hist.loc(value)}
        view = histogram[selection].view(flow=False)  # passing, et, eta
        values = np.asarray(view["value"]).sum(axis=2)
        variances = np.asarray(view["variance"]).sum(axis=2)
        flow = float(np.asarray(histogram[selection].view(flow=True)["value"]).sum())
        parts = (values[1], values.sum(axis=0), variances.sum(axis=0), flow)
        if passed is None:
            passed, total, variance, everything = parts
        else:
            passed, total, variance = passed + parts[0], total + parts[1], variance + parts[2]
            everything += flow
    edges = np.asarray(histogram.axes["et"].edges)
    return {
        "et": [
            {
                "et_low": float(edges[i]),
                "et_high": float(edges[i + 1]),
                **row(passed[i], total[i], variance[i]),
            }
            for i in range(len(edges) - 1)
        ],
        "inclusive": row(passed.sum(), total.sum(), variance.sum()),
        "outside_binning": everything - float(total.sum()),
    }


def factorisation(
    histogram: Any, working_point: str, truth: Sequence[int], given: str
) -> dict[str, Any]:
    """r = ε(iso | ID) / ε(iso) per E_T bin and inclusive, with its binomial error.

    The candidates passing the ID are a subset of all of them, so the error of r is that
    of ε(iso | ID) alone scaled by 1/ε(iso) with the subset's correlation neglected — a
    conservative estimate (Franco's photon-ID talk: are ID and isolation SFs separable?).
    """
    conditioned = working_point_efficiencies(histogram, working_point, truth, given)
    everything = working_point_efficiencies(histogram, working_point, truth, "all")

    def ratio(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        if a["efficiency"] is None or not b["efficiency"]:
            return {"ratio": None, "error": None, "n_given": a["n"]}
        error = 0.5 * (a["error_low"] + a["error_high"]) / b["efficiency"]
        return {"ratio": a["efficiency"] / b["efficiency"], "error": error, "n_given": a["n"]}

    return {
        "et": [
            {"et_low": a["et_low"], "et_high": a["et_high"], **ratio(a, b)}
            for a, b in zip(conditioned["et"], everything["et"], strict=True)
        ],
        "inclusive": ratio(conditioned["inclusive"], everything["inclusive"]),
    }
