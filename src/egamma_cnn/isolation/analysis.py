"""From the isolation processor's histograms to correlations, ROC curves and efficiencies.

:func:`analyse` turns the processor outputs, added up per kind (``{"mc": ..., "data":
...}``, :func:`egamma_cnn.execution.merge_by_kind`), into an :class:`IsolationResult`:
everything the study writes (:mod:`egamma_cnn.isolation.outputs`) and draws
(:mod:`egamma_cnn.isolation.plots`), with what the run left out. Call it from a notebook
on histograms you already have. Its pieces:

* :func:`correlations` — Pearson ρ(score, isolation) per bin or projection, from the
  exact sums (Franco's photon-ID talk, ID–isolation correlation);
* :func:`roc_curve_from_histogram` — the signal and background efficiencies of every cut
  on one discriminant, from its binned distributions for the two classes, as a
  :class:`~egamma_cnn.model.performance.RocCurve` (the one ROC implementation,
  :func:`~egamma_cnn.model.performance.roc_from_cumulative`), with its AUC and ε_B at a
  given ε_S (the Collado Umana thesis, ch. 4: "background rejection versus signal
  efficiency" and the AUC of isolation cones and of networks on calorimeter images);
* :func:`working_point_efficiencies` — ε = N_pass / N per working point and truth group,
  versus E_T and inclusive, with Clopper–Pearson intervals
  (:func:`egamma_cnn.intervals.binned_efficiencies`), for all candidates or for those
  passing an ID; :func:`factorisation` — ε(iso | ID) / ε(iso).

Truth groups are tuples of truth classes (ATL-PHYS-PUB-2023-001 §3.1): :data:`TRUE_ELECTRONS` (0
prompt, 1 charge flip), :data:`NON_PROMPT` (3 heavy-flavour decays, 4 light-flavour
e/γ, 5 hadrons), :data:`NON_PROMPT_ELECTRONS` (3, 4: real electrons inside jets, the
analogue of the thesis's non-prompt muons, which isolation is there to reject),
:data:`HEAVY_FLAVOUR` (3). Photons use the same classes (prompt → 0, non-prompt → 5);
data has none (:data:`~egamma_cnn.tnp.pairs.TRUTH_NONE`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import hist
import numpy as np

from egamma_cnn.corrections.isolation import ISOLATION_WORKING_POINTS
from egamma_cnn.intervals import binned_efficiencies
from egamma_cnn.isolation.variables import discriminant_ranges
from egamma_cnn.jsonio import json_ready
from egamma_cnn.model.performance import RocCurve, roc_from_cumulative
from egamma_cnn.tnp.pairs import TRUTH_NONE

__all__ = [
    "BACKGROUNDS",
    "GROUP_NAMES",
    "HEAVY_FLAVOUR",
    "MIN_CANDIDATES",
    "NON_PROMPT",
    "NON_PROMPT_ELECTRONS",
    "SIGNAL_EFFICIENCIES",
    "TRUE_ELECTRONS",
    "IsolationResult",
    "analyse",
    "correlation_table",
    "correlations",
    "factorisation",
    "roc_curve_from_histogram",
    "roc_table",
    "truth_groups",
    "working_point_efficiencies",
    "working_point_table",
]

TRUE_ELECTRONS: tuple[int, ...] = (0, 1)
NON_PROMPT: tuple[int, ...] = (3, 4, 5)
NON_PROMPT_ELECTRONS: tuple[int, ...] = (3, 4)
HEAVY_FLAVOUR: tuple[int, ...] = (3,)
#: Signal efficiencies at which the background efficiencies are reported.
SIGNAL_EFFICIENCIES: tuple[float, ...] = (0.80, 0.90, 0.95)
#: Fewest candidates (Σw) of a class for a ROC curve to be reported.
MIN_CANDIDATES = 20
#: Per particle: the names of the signal and the background group of the outputs.
GROUP_NAMES: dict[str, tuple[str, str]] = {
    "electron": ("true electrons", "non-prompt"),
    "photon": ("prompt photons", "non-prompt photons"),
}
#: Per particle: the backgrounds of the ROC curves, (name, truth classes).
BACKGROUNDS: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "electron": (
        ("non-prompt electrons", NON_PROMPT_ELECTRONS),
        ("heavy flavour", HEAVY_FLAVOUR),
        ("all non-prompt", NON_PROMPT),
    ),
    "photon": (("non-prompt photons", NON_PROMPT),),
}
_MOMENTS = ("n", "x", "y", "xx", "yy", "xy")
_PROJECTIONS = ("inclusive", "et", "eta")


def truth_groups(kind: str, particle: str = "electron") -> dict[str, tuple[int, ...]]:
    """The groups of candidates reported for one kind of sample: name → truth classes.

    Data has no truth: all its candidates (class
    :data:`~egamma_cnn.tnp.pairs.TRUTH_NONE`) are one group, ``"data candidates"``;
    simulation has the signal (:data:`TRUE_ELECTRONS`, or prompt photons) and the
    background (:data:`NON_PROMPT`) named by :data:`GROUP_NAMES`.
    """
    if kind == "data":
        return {"data candidates": (TRUTH_NONE,)}
    signal, background = GROUP_NAMES[particle]
    return {signal: TRUE_ELECTRONS, background: NON_PROMPT}


def _classes(truth: int | Sequence[int]) -> tuple[int, ...]:
    return (int(truth),) if np.isscalar(truth) else tuple(int(t) for t in truth)


def _over_truth(histogram: Any, classes: Sequence[int], **selection: Any) -> Any:
    """``histogram[selection]`` of each truth class of ``classes``, added in their order.

    ``selection`` indexes the other axes (e.g. ``et=slice(0, len, sum)``); the result is
    the histogram of the candidates of all the classes together.
    """
    total = None
    for value in classes:
        part = histogram[{**selection, "truth": hist.loc(value)}]
        total = part if total is None else total + part
    return total


def _truth_sum(histogram: Any, selection: dict[str, Any], truth: int | Sequence[int]) -> Any:
    """``histogram[selection]`` summed over the given truth classes (numpy values)."""
    return _over_truth(histogram, _classes(truth), **selection).values()


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
    return np.asarray(_over_truth(histogram, truth).values(flow=True), float)


def _cut_values(histogram: Any) -> np.ndarray:
    """Edges of the value axis, with −inf/+inf for its underflow/overflow bin: the cuts
    between the bins of ``values(flow=True)``, in ascending order."""
    (axis,) = (axis for axis in histogram.axes if axis.name != "truth")
    edges = np.asarray(axis.edges, float)
    low = [-np.inf] if axis.traits.underflow else []
    high = [np.inf] if axis.traits.overflow else []
    return np.concatenate([low, edges, high])


def roc_curve_from_histogram(
    histogram: Any,
    signal: Sequence[int],
    background: Sequence[int],
    higher_is_signal: bool,
) -> RocCurve:
    """ROC curve of a discriminant from its histogram [value, truth].

    A cut at a bin edge t keeps the bins on the signal side (value ≥ t for a score,
    value < t for an isolation); from the signal end of the axis, S_k and B_k are the
    counts (Σw) of the signal and background classes in the k bins kept, and
    ε_S = S_k / S, ε_B = B_k / B (:func:`~egamma_cnn.model.performance.roc_from_cumulative`;
    the Collado Umana thesis, ch. 4). The curve runs from (0, 0) to (1, 1); the flow bins
    count, so a candidate outside the histogram range is a candidate all the same.
    ``curve.auc()`` is the AUC, ``curve.background_efficiency_at(0.9)`` ε_B at ε_S = 0.9.

    Parameters
    ----------
    histogram : hist.Hist
        One value axis and an integer category axis ``truth``.
    signal, background : sequence of int
        The truth classes of the two groups.
    higher_is_signal : bool
        Whether the signal lies at high values (a score) or low ones (an isolation).

    Returns
    -------
    RocCurve
        ``threshold`` holds the cut of each point: from +inf down to −inf for
        ``higher_is_signal``, from −inf up otherwise. NaN efficiencies for a group
        without candidates.
    """
    s = _counts(histogram, signal)
    b = _counts(histogram, background)
    cuts = _cut_values(histogram)
    if not higher_is_signal:
        s, b, cuts = s[::-1], b[::-1], cuts[::-1]
    # keep the bins from the signal end: cumulative sums from the top
    s_cum = np.concatenate([[0.0], np.cumsum(s[::-1])])
    b_cum = np.concatenate([[0.0], np.cumsum(b[::-1])])
    return roc_from_cumulative(s_cum, b_cum, cuts[::-1])


def working_point_efficiencies(
    histogram: Any, working_point: str, truth: Sequence[int], given: str = "all"
) -> dict[str, Any]:
    """Efficiency of ``working_point`` for the truth group, per E_T bin and inclusive.

    ``given``: ``"all"`` candidates, or only those passing that ID (one of the
    processor's ``given_ids``). ε = Σw_pass / Σw with the Clopper–Pearson interval of
    the effective counts n_eff = (Σw)² / Σw²
    (:func:`egamma_cnn.intervals.binned_efficiencies`); ``n`` is Σw. Inclusive means
    inside the E_T × η binning; ``outside_binning`` gives Σw of the candidates outside
    it, which no efficiency contains.
    """
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
    return binned_efficiencies(passed, total, variance, histogram.axes["et"].edges, everything)


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if a["efficiency"] is None or not b["efficiency"]:
        return {"ratio": None, "error": None, "n_given": a["n"]}
    error = 0.5 * (a["error_low"] + a["error_high"]) / b["efficiency"]
    return {"ratio": a["efficiency"] / b["efficiency"], "error": error, "n_given": a["n"]}


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
    return {
        "et": [
            {"et_low": a["et_low"], "et_high": a["et_high"], **_ratio(a, b)}
            for a, b in zip(conditioned["et"], everything["et"], strict=True)
        ],
        "inclusive": _ratio(conditioned["inclusive"], everything["inclusive"]),
    }


# ------------------------------------------------------------------ the whole study


def _definition(spec: str, particle: str = "electron") -> str:
    """A built-in working-point column spelled out as its cuts; other specs as they are."""
    cuts = ISOLATION_WORKING_POINTS[particle].get(spec)
    if cuts is None:
        return spec
    return " and ".join(
        f"{column}/{denominator} < {maximum:g}" for column, denominator, maximum in cuts
    )


def _given_ids(histogram: Any) -> list[str]:
    """The IDs under which the working points were also counted (axis ``given``)."""
    return [str(given) for given in histogram.axes["given"] if given != "all"]


def working_point_table(
    outputs: Mapping[str, Mapping[str, Any]],
    working_points: Mapping[str, str],
    particle: str = "electron",
) -> dict[str, Any]:
    """The efficiencies of every working point (``working_points.json``).

    Per working point: its ``specification`` (a built-in column spelled out as its
    cuts), per truth group of every kind (:func:`truth_groups`) the table of
    :func:`working_point_efficiencies`, and on simulation the ``factorisation``
    ratios ε(iso | ID) / ε(iso) per conditioning ID and group (Franco's photon-ID talk:
    does ε(iso) change under the ID?).
    """
    table: dict[str, Any] = {}
    for name, spec in working_points.items():
        table[name] = {"specification": _definition(spec, particle)}
        for kind, out in outputs.items():
            groups = truth_groups(kind, particle)
            histogram = out["working_points"]
            for group, classes in groups.items():
                table[name][group] = working_point_efficiencies(histogram, name, classes)
            if kind != "mc":
                continue
            for given in _given_ids(histogram):
                table[name].setdefault("factorisation", {})[given] = {
                    group: factorisation(histogram, name, classes, given)
                    for group, classes in groups.items()
                }
    return table


def _axis_names(histogram: Any, axis: str) -> tuple[str, ...]:
    return tuple(str(name) for name in histogram.axes[axis])


def correlation_table(
    outputs: Mapping[str, Mapping[str, Any]], particle: str = "electron"
) -> dict[str, Any]:
    """Pearson ρ of each score with each isolation (``correlations.json``, NaN kept).

    ``"<score> vs <isolation>"`` → truth group → {``inclusive``: [ρ], ``et``: [ρ per E_T
    bin], ``eta``: [ρ per η bin]} (:func:`correlations`).
    """
    table: dict[str, Any] = {}
    for kind, out in outputs.items():
        sums = out["sums"]
        for group, classes in truth_groups(kind, particle).items():
            for score in _axis_names(sums, "score_name"):
                for isolation in _axis_names(sums, "isolation_name"):
                    entry = table.setdefault(f"{score} vs {isolation}", {})
                    entry[group] = {
                        projection: np.atleast_1d(
                            correlations(sums, score, isolation, classes, projection)
                        ).tolist()
                        for projection in _PROJECTIONS
                    }
    return table


def _class_total(histogram: Any, classes: Sequence[int]) -> float:
    return float(sum(histogram[{"truth": hist.loc(c)}].sum(flow=True) for c in classes))


def _discriminant_row(
    histogram: Any, background: Sequence[int], name: str, higher: bool
) -> tuple[dict[str, Any], RocCurve]:
    """AUC, signal side and ε_B at :data:`SIGNAL_EFFICIENCIES` of one discriminant."""
    curve = roc_curve_from_histogram(histogram, TRUE_ELECTRONS, background, higher)
    auc = curve.auc()
    # a cone smaller than the shower selects by containment: a large I(R₀);
    # only the cones may turn (a score below 0.5 would be a bug to show)
    if name.startswith("cone") and auc < 0.5:
        higher = not higher
        curve = roc_curve_from_histogram(histogram, TRUE_ELECTRONS, background, higher)
        auc = curve.auc()
    row = {
        "auc": auc,
        "signal_side": "above" if higher else "below",
        **{
            f"background_efficiency_at_{t:.2f}": curve.background_efficiency_at(t)
            for t in SIGNAL_EFFICIENCIES
        },
    }
    return row, curve


def roc_table(
    discriminants: Mapping[str, Any],
    scores: Sequence[str],
    particle: str = "electron",
) -> tuple[dict[str, Any], dict[str, dict[str, RocCurve]]]:
    """Isolation cones versus the image-based score (``roc.json``, NaN kept), and the curves.

    Per background of :data:`BACKGROUNDS`: the signal and background counts and, with
    at least :data:`MIN_CANDIDATES` of each, per discriminant (the order of
    :func:`~egamma_cnn.isolation.variables.discriminant_ranges`) the AUC, the signal
    side (``above``/``below`` the cut; a cone with AUC < 0.5 is turned round — one
    smaller than the shower selects electrons by a *large* I(R₀), containment rather
    than isolation) and ε_B at ε_S of :data:`SIGNAL_EFFICIENCIES`, and the cone with
    the largest AUC (``best_cone``); with fewer, a ``status`` saying so.
    """
    table: dict[str, Any] = {}
    curves: dict[str, dict[str, RocCurve]] = {}
    any_histogram = next(iter(discriminants.values()))
    for background_name, background in BACKGROUNDS[particle]:
        counts = {
            "signal": _class_total(any_histogram, TRUE_ELECTRONS),
            "background": _class_total(any_histogram, background),
        }
        if min(counts["signal"], counts["background"]) < MIN_CANDIDATES:
            table[background_name] = {"status": f"fewer than {MIN_CANDIDATES} candidates", **counts}
            continue
        rows: dict[str, Any] = {}
        curves[background_name] = {}
        for name, (_, _, _, higher) in discriminant_ranges(tuple(scores)).items():
            if name in discriminants:
                rows[name], curves[background_name][name] = _discriminant_row(
                    discriminants[name], background, name, higher
                )
        cones = {n: r["auc"] for n, r in rows.items() if n.startswith("cone")}
        table[background_name] = {
            **counts,
            "best_cone": max(cones, key=lambda n: cones[n]),
            "discriminants": rows,
        }
    return table, curves


def _score_maps(
    outputs: Mapping[str, Mapping[str, Any]], particle: str
) -> dict[str, tuple[str, Any]]:
    """Per truth group: (kind, the 2-D score × isolation histogram summed over E_T)."""
    maps = {}
    for kind, out in outputs.items():
        for group, classes in truth_groups(kind, particle).items():
            maps[group] = (kind, _over_truth(out["scores"], classes, et=slice(0, len, sum)))
    return maps


@dataclass(frozen=True)
class IsolationResult:
    """Everything the isolation study measures (:func:`analyse`); numbers keep NaN.

    Attributes
    ----------
    particle : str
        ``"electron"`` or ``"photon"``.
    candidates : dict of str to int
        Candidates per kind (``"mc"``, ``"data"``).
    specifications : dict of str to str
        The working points, name → ID specification.
    scores : tuple of str
        The ID scores compared.
    working_points : dict
        :func:`working_point_table`.
    correlations : dict
        :func:`correlation_table`.
    roc : dict or None
        :func:`roc_table`; None without the simulation's discriminant histograms.
    curves : dict
        Background → discriminant → :class:`~egamma_cnn.model.performance.RocCurve`.
    score_maps : dict
        Truth group → (kind, ``hist.Hist`` [score_name, isolation_name, score,
        isolation]): the 2-D distributions behind the correlations.
    et_edges : tuple of float
        The E_T binning of the correlations versus E_T.
    run_report : dict
        What the run that filled the histograms left out
        (:func:`egamma_cnn.workflows.common.run_report`: ``skipped_files``,
        ``left_out``); empty for histograms a user brings. Copied into :meth:`summary`.
    tnp_summary : dict or None
        The summary of the tag-and-probe of the working points
        (:func:`egamma_cnn.workflows.run_isolation` with ``tnp_datasets``), copied into
        :meth:`summary` as ``"tnp"``; None without one.
    """

    particle: str
    candidates: dict[str, int]
    specifications: dict[str, str]
    scores: tuple[str, ...]
    working_points: dict[str, Any]
    correlations: dict[str, Any]
    roc: dict[str, Any] | None
    curves: dict[str, dict[str, RocCurve]]
    score_maps: dict[str, tuple[str, Any]]
    et_edges: tuple[float, ...]
    run_report: dict[str, Any] = field(default_factory=dict)
    tnp_summary: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The numbers, ready for JSON (NaN → None): particle, candidates,
        specifications, working_points, correlations and, from simulation, roc."""
        out: dict[str, Any] = {
            "particle": self.particle,
            "candidates": dict(self.candidates),
            "specifications": dict(self.specifications),
            "working_points": self.working_points,
            "correlations": self.correlations,
        }
        if self.roc is not None:
            out["roc"] = self.roc
        return json_ready(out)

    def summary(self) -> dict[str, Any]:
        """The headline numbers (JSON-ready, ``summary.json``): candidates, what the run
        left out (:attr:`run_report`), the working points, their inclusive efficiencies
        and factorisation ratios, the inclusive correlations, from simulation per
        background the best cone and the AUCs of it, of the scores and of etcone20 / p_T
        and ptvarcone30 / p_T, and the tag-and-probe's summary (:attr:`tnp_summary`)."""
        data = self.to_dict()
        tables = data["working_points"]
        summary: dict[str, Any] = {
            "candidates": data["candidates"],
            **self.run_report,
            "working_points": data["specifications"],
            "working_point_efficiencies": {
                name: {
                    group: values["inclusive"]["efficiency"]
                    for group, values in table.items()
                    if group not in ("specification", "factorisation")
                }
                for name, table in tables.items()
            },
            "factorisation": {
                name: {
                    given: {group: values["inclusive"] for group, values in by_group.items()}
                    for given, by_group in table.get("factorisation", {}).items()
                }
                for name, table in tables.items()
            },
            "correlations": {
                key: {group: values["inclusive"][0] for group, values in entry.items()}
                for key, entry in data["correlations"].items()
            },
        }
        if "roc" in data:
            chosen = (*self.scores, "etcone20_rel", "ptvarcone30_rel")
            summary["roc"] = {
                background: (
                    {
                        "best_cone": entry["best_cone"],
                        **{
                            name: entry["discriminants"][name]["auc"]
                            for name in (entry["best_cone"], *chosen)
                        },
                    }
                    if "discriminants" in entry
                    else entry
                )
                for background, entry in data["roc"].items()
            }
        if self.tnp_summary is not None:
            summary["tnp"] = self.tnp_summary
        return json_ready(summary)


def analyse(
    outputs_by_kind: Mapping[str, Mapping[str, Any]],
    working_points: Mapping[str, str] | None = None,
    *,
    particle: str = "electron",
    run_report: Mapping[str, Any] | None = None,
    tnp_summary: Mapping[str, Any] | None = None,
) -> IsolationResult:
    """The whole isolation study from the processor's histograms.

    Parameters
    ----------
    outputs_by_kind : mapping
        Kind (``"mc"``, ``"data"``) → the outputs of
        ``egamma_cnn.processors.isolation.IsolationProcessor`` added up over the datasets
        of that kind (:func:`egamma_cnn.execution.merge_by_kind`; one dataset's output
        ``out["sample"]`` as ``{"mc": out["sample"]}`` works too).
    working_points : mapping of str to str, optional
        Name → ID specification of the working points, as the processor ran them
        (``processor.working_points``); default: the names of the histogram, each its
        own specification (right for the built-in ``iso_loose`` and ``iso_tight``).
    particle : {"electron", "photon"}
        Which candidates the processor ran on (names of the groups and backgrounds).
    run_report : mapping, optional
        What the run left out (:func:`egamma_cnn.workflows.common.run_report`), for the
        summary.
    tnp_summary : mapping, optional
        The summary of the tag-and-probe of the same working points, for the summary.

    Returns
    -------
    IsolationResult
        Working-point efficiencies and factorisation, correlations, and on simulation
        with discriminant histograms the ROC curves and their AUCs.
    """
    if particle not in GROUP_NAMES:
        raise ValueError(f"particle must be 'electron' or 'photon', not {particle!r}")
    if not outputs_by_kind:
        raise ValueError("outputs_by_kind is empty: no kind (mc, data) to analyse")
    outputs = dict(outputs_by_kind)
    first = next(iter(outputs.values()))
    if working_points is None:
        names = _axis_names(first["working_points"], "working_point")
        working_points = {name: name for name in names}
    scores = _axis_names(first["sums"], "score_name")
    roc, curves = None, {}
    if "mc" in outputs and "discriminants" in outputs["mc"]:
        roc, curves = roc_table(outputs["mc"]["discriminants"], scores, particle)
    return IsolationResult(
        particle=particle,
        candidates={kind: int(out["candidates"]) for kind, out in outputs.items()},
        specifications=dict(working_points),
        scores=scores,
        working_points=working_point_table(outputs, working_points, particle),
        correlations=correlation_table(outputs, particle),
        roc=roc,
        curves=curves,
        score_maps=_score_maps(outputs, particle),
        et_edges=tuple(float(e) for e in first["sums"].axes["et"].edges),
        run_report=dict(run_report or {}),
        tnp_summary=dict(tnp_summary) if tnp_summary is not None else None,
    )
