"""From the data/MC processor's histograms to fudge factors, distances and fit parameters.

Inputs are the outputs of ``egamma_cnn.processors.data_mc.DataMCProcessor`` added up
per kind (:func:`egamma_cnn.execution.merge_by_kind`): ``{"data": {...}, "mc": {...}}``
for a data(-like) and a simulated sample, with ``"fudged_mc"`` the output of the second
pass over the simulation with the fudge factors applied. :func:`derive_fudge_factors`
gives the fudge factors alone (what the second pass applies); :func:`analyse` makes the
whole study, a :class:`DataMCResult`. The steps they take are public, per variable:

* :func:`moments` — count, mean and variance per probe (E_T, η) bin from the
  ``WeightedMean`` histograms of the values (:func:`weighted_mean_histogram`: a
  ``hist.Hist`` whether the processor ran eagerly or on dask);
* :func:`derive_fudge` — the shift/width fudge factors (:mod:`.fudge`), from medians and
  interquartile ranges (:func:`robust_moments`) or from means and widths;
* :func:`fudged_distribution` — the MC histogram after fudging, obtained from the MC
  cumulative distribution: F'(y) = F_MC(c_MC + (y − c_data)/w) (piecewise linear inside
  bins), so no second pass over the MC is needed;
* :func:`distance_table` — L1, Hellinger and Wasserstein distances (:mod:`.distances`)
  of data vs MC and data vs fudged MC, versus E_T (summed over η) and versus η;
* :func:`gaussian_parameters` — the parameters of Zumbihl's e/γ talk "Parameters evolution": the
  mean μ of the distribution, and the width σ and peak position of a Gaussian fitted to
  its core (the highest bin ± 1.5 × the RMS);
* :func:`id_efficiencies` — the efficiency ε = Σw_pass / Σw of an ID for the probes,
  versus E_T and inclusive, with the Clopper–Pearson interval of the effective counts
  (:func:`egamma_cnn.intervals.binned_efficiencies`).

Writing the results is :mod:`.outputs`, drawing them :mod:`.plots`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import hist
import numpy as np
from scipy.optimize import curve_fit

from egamma_cnn.corrections.fudge import FudgeFactors
from egamma_cnn.datamc.distances import hellinger_distance, l1_distance, wasserstein_distance
from egamma_cnn.datamc.fudge import fudge_factors
from egamma_cnn.features import SHOWER_SHAPE_NAMES
from egamma_cnn.intervals import binned_efficiencies

__all__ = [
    "SAMPLES",
    "DataMCResult",
    "analyse",
    "derive_fudge",
    "derive_fudge_factors",
    "distance_table",
    "fudged_distribution",
    "gaussian_parameters",
    "id_efficiencies",
    "moments",
    "parameters_table",
    "robust_moments",
    "unapplied_factors",
    "weighted_mean_histogram",
]

#: The kinds of processor outputs the study compares: data, MC and (second pass) fudged MC.
SAMPLES: tuple[str, ...] = ("data", "mc", "fudged_mc")


def weighted_mean_histogram(output: Mapping[str, Any], variable: str) -> hist.Hist:
    """The ``WeightedMean`` histogram ``output["moments"][variable]`` as a ``hist.Hist``.

    Eagerly the processor fills a ``hist.Hist``; on dask the dask-histogram factory of
    :func:`egamma_cnn.processors.data_mc.moments_histogram` computes to a
    ``boost_histogram.Histogram`` with the same named axes and storage. Both are
    returned as ``hist.Hist`` (the latter wrapped, its contents unchanged), so that the
    analysis reads one type.
    """
    histogram = output["moments"][variable]
    return histogram if isinstance(histogram, hist.Hist) else hist.Hist(histogram)


def moments(output: Mapping[str, Any], variable: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, mean, variance) per (E_T, η) bin of ``variable`` (NaN where empty).

    From the ``WeightedMean`` histogram ``output["moments"][variable]``
    (:func:`weighted_mean_histogram`), as arrays of shape (E_T bins, η bins):
    count = Σw, mean μ = Σw v / Σw and variance = Σw (v − μ)² / Σw (the weighted
    population variance).
    """
    view = weighted_mean_histogram(output, variable).view(flow=False)
    n = np.asarray(view["sum_of_weights"], np.float64)
    empty = n == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(empty, math.nan, view["value"])
        variance = np.where(
            empty, math.nan, np.maximum(view["_sum_of_weighted_deltas_squared"] / n, 0.0)
        )
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
    h = weighted_mean_histogram(output, variable)
    # the accumulators of the group added by boost-histogram (bins, not flow)
    group = h[
        _summed(et, h.axes[0].size),
        _summed(eta, h.axes[1].size),
    ]
    n = float(group.sum_of_weights)
    if n <= 0:
        return 0.0, math.nan, math.nan
    return n, float(group.value), max(float(group._sum_of_weighted_deltas_squared) / n, 0.0)


def _summed(selection: slice, size: int) -> slice:
    """``selection`` of an axis of ``size`` bins as a boost-histogram sum over those bins."""
    start, stop, _ = selection.indices(size)
    return slice(start, stop, sum)


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
    the standard deviations, from the values themselves (:func:`moments`).

    Each (E_T, η) bin takes its factors from its own probes when data and MC both have
    at least ``min_entries`` of them; otherwise from its η column (all E_T: the shower
    shapes depend on the calorimeter region far more than on E_T), otherwise from all
    probes. Factors from a handful of probes would add their noise to every fudged
    distribution; :attr:`FudgeFactors.source` records the choice per bin.
    """
    if estimator not in ("quantiles", "moments"):
        raise ValueError(f"estimator must be 'quantiles' or 'moments', not {estimator!r}")
    h = mc["distributions"][variable]
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


def parameters_table(counts: np.ndarray, edges: np.ndarray, axis: str) -> list[dict[str, Any]]:
    """:func:`gaussian_parameters` of ``counts[value, et, eta]`` per E_T bin or per η bin.

    ``axis`` ``"et"``: per probe E_T bin, summed over η; ``"eta"``: per η bin, summed over
    E_T.
    """
    if axis not in ("et", "eta"):
        raise ValueError(f"axis must be 'et' or 'eta', not {axis!r}")
    counts = np.asarray(counts)
    rows = []
    n = counts.shape[1] if axis == "et" else counts.shape[2]
    for k in range(n):
        projected = counts[:, k, :].sum(axis=1) if axis == "et" else counts[:, :, k].sum(axis=1)
        rows.append(gaussian_parameters(projected, edges))
    return rows


def id_efficiencies(histogram: Any, text: str) -> dict[str, Any]:
    """Efficiency of ID ``text`` for the probes per E_T bin (summed over η) and inclusive.

    ε = Σw_pass / Σw with the Clopper–Pearson interval of the effective counts
    n_eff = (Σw)² / Σw² (:func:`egamma_cnn.intervals.binned_efficiencies`), from the
    processor's ``identification`` histogram (id × passing × E_T × η, weighted).
    Inclusive means inside the (E_T, η) binning; the probes outside it are counted in
    ``outside_binning`` (weighted), not in an efficiency.

    Returns
    -------
    dict
        ``"et"``: one row per E_T bin (``et_low``, ``et_high``, ``efficiency``,
        ``error_low``, ``error_high``, ``probes``; None for the efficiency of a bin
        without probes), ``"inclusive"``: the same for all bins, ``"outside_binning"``.
    """
    selected = histogram[{"id": text}]
    view = selected.view(flow=False)
    values = np.asarray(view["value"])  # passing, et, eta
    passed = values[1].sum(axis=1)
    return binned_efficiencies(
        passed,
        passed + values[0].sum(axis=1),
        np.asarray(view["variance"]).sum(axis=(0, 2)),
        histogram.axes["et"].edges,
        float(np.asarray(selected.view(flow=True)["value"]).sum()),
        count="probes",
    )


def unapplied_factors(factors: Mapping[str, FudgeFactors]) -> list[str]:
    """The variables of ``factors`` that a fudged pass cannot apply.

    The fudge-factor file is applied inside the feature computation
    (:meth:`egamma_cnn.nanoevents.EGammaSchema.with_fudge`), to the shower shapes it
    computes (:data:`egamma_cnn.features.SHOWER_SHAPE_NAMES`); factors of any other
    column are written but have no effect on fudged MC.
    """
    return [v for v in factors if v not in SHOWER_SHAPE_NAMES]


@dataclass(frozen=True)
class DataMCResult:
    """The data/MC study of one set of processor outputs (:func:`analyse`).

    Attributes
    ----------
    data, mc, fudged_mc : mapping
        The processor outputs added up per kind (``fudged_mc`` None without the
        fudged pass).
    factors : dict of str to FudgeFactors
        The fudge factors per variable (none for the variables compared only).
    distances : dict
        Per variable, :func:`distance_table` (``"et"``, ``"eta"``, ``"inclusive"`` rows),
        with ``"fudged_applied"`` (data vs the fudged MC of the second pass) in every
        row when there is one.
    parameters : dict
        Per variable, ``"<sample>_et"`` and ``"<sample>_eta"``: the
        :func:`gaussian_parameters` per bin (:func:`parameters_table`).
    efficiencies : dict
        Per ID, per sample: :func:`id_efficiencies`.
    samples : dict
        Per variable, per sample: the counts ``[value, et, eta]`` that are compared,
        plotted and fitted; ``"fudged_mc"`` is the fudged MC of the second pass where it
        ran, else the binned transform (:func:`fudged_distribution`).
    not_applied : list of str
        Variables whose fudge factors the fudged pass could not apply
        (:func:`unapplied_factors`); empty without a fudged pass.
    run_report : dict
        What the runs left out (:func:`egamma_cnn.workflows.common.run_report`:
        ``skipped_files``, ``skipped_files_fudged_pass`` and ``left_out``); empty for
        outputs a user brings. Copied into :meth:`summary`.
    """

    data: Mapping[str, Any]
    mc: Mapping[str, Any]
    fudged_mc: Mapping[str, Any] | None
    factors: dict[str, FudgeFactors]
    distances: dict[str, dict[str, list[dict[str, Any]]]]
    parameters: dict[str, dict[str, list[dict[str, Any]]]]
    efficiencies: dict[str, dict[str, dict[str, Any]]]
    samples: dict[str, dict[str, np.ndarray]]
    not_applied: list[str] = field(default_factory=list)
    run_report: dict[str, Any] = field(default_factory=dict)

    @property
    def variables(self) -> list[str]:
        """The variables of the study, in the processor's order."""
        return list(self.samples)

    @property
    def outputs(self) -> dict[str, Mapping[str, Any]]:
        """The processor outputs per sample (data, MC and, where it ran, fudged MC)."""
        outputs = {"data": self.data, "mc": self.mc}
        if self.fudged_mc is not None:
            outputs["fudged_mc"] = self.fudged_mc
        return outputs

    @property
    def probes(self) -> dict[str, int]:
        """The number of probes per sample (the processors' ``"probes"``, as ``int``:
        an eager processor gives a 0-d array, which JSON cannot write)."""
        return {sample: int(output["probes"]) for sample, output in self.outputs.items()}

    def to_dict(self) -> dict[str, Any]:
        """Every number of the study as JSON-serialisable values."""
        return {
            "probes": self.probes,
            "fudge_factors": {v: f.to_dict() for v, f in self.factors.items()},
            "fudge_factors_not_applied": list(self.not_applied),
            "distances": self.distances,
            "parameters": self.parameters,
            "id_efficiencies": self.efficiencies,
        }

    def summary(self) -> dict[str, Any]:
        """The summary of the run (``summary.json``): probes of data and MC, what the
        runs left out (:attr:`run_report`), inclusive distances and efficiencies."""
        probes = self.probes
        return {
            "probes": {"data": probes["data"], "mc": probes["mc"]},
            **self.run_report,
            "fudge_factors_not_applied": list(self.not_applied),
            "inclusive_distances": {
                v: {
                    "unfudged": table["inclusive"][0]["unfudged"],
                    "fudged": table["inclusive"][0]["fudged"],  # None: compared only
                    "fudged_applied": table["inclusive"][0].get("fudged_applied"),
                }
                for v, table in self.distances.items()
            },
            "id_efficiencies": {
                text: {sample: rows["inclusive"] for sample, rows in by_sample.items()}
                for text, by_sample in self.efficiencies.items()
            },
        }


def _by_kind(outputs_by_kind: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The outputs of data, MC and (None when absent) fudged MC, checked."""
    unknown = sorted(set(outputs_by_kind) - set(SAMPLES))
    missing = sorted({"data", "mc"} - set(outputs_by_kind))
    if unknown or missing:
        raise ValueError(
            f"outputs_by_kind needs the outputs of 'data' and 'mc' (and 'fudged_mc' after "
            f"a fudged pass): {missing} missing, {unknown} unknown"
        )
    for kind, label in (("data", "data"), ("mc", "MC")):
        if int(outputs_by_kind[kind].get("probes", 1)) == 0:
            raise ValueError(
                f"the {label} sample has no probes (no tag-probe pair passed the selection): "
                "no data/MC comparison and no fudge factors can be derived from it"
            )
    return {kind: outputs_by_kind.get(kind) for kind in SAMPLES}


def _variables(data: Mapping[str, Any], variables: Sequence[str] | None) -> list[str]:
    """``variables``, or every distribution of the data output."""
    return list(data["distributions"]) if variables is None else list(variables)


def derive_fudge_factors(
    outputs_by_kind: Mapping[str, Mapping[str, Any]],
    *,
    variables: Sequence[str] | None = None,
    compare_only: Sequence[str] = ("cnn_score",),
    estimator: str = "quantiles",
) -> dict[str, FudgeFactors]:
    """The fudge factors of every variable that is fudged: what a fudged pass applies.

    :func:`derive_fudge` of each variable of ``variables`` (default: every distribution
    of the data) but those of ``compare_only``, from the ``"data"`` and ``"mc"`` outputs
    of ``outputs_by_kind`` (as in :func:`analyse`). Nothing else is computed: the
    workflow writes them (:func:`egamma_cnn.datamc.outputs.write_fudge_factors`), runs
    the fudged pass and then :func:`analyse` with ``factors=`` these.
    """
    outputs = _by_kind(outputs_by_kind)
    data, mc = outputs["data"], outputs["mc"]
    return {
        variable: derive_fudge(data, mc, variable, estimator=estimator)
        for variable in _variables(data, variables)
        if variable not in compare_only
    }


def _distance_tables(
    outputs: Mapping[str, Any],
    variables: Sequence[str],
    factors: Mapping[str, FudgeFactors],
    not_applied: Sequence[str],
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per variable :func:`distance_table`, with ``"fudged_applied"`` (data vs the MC of
    the fudged pass; None for a variable whose factors it could not apply) in every row
    when there was a fudged pass."""
    data, mc, fudged_mc = outputs["data"], outputs["mc"], outputs["fudged_mc"]
    distances = {
        variable: distance_table(data, mc, factors.get(variable), variable)
        for variable in variables
    }
    if fudged_mc is None:
        return distances
    for variable in variables:
        applied = distance_table(data, fudged_mc, None, variable)
        for projection, rows in applied.items():
            for row, applied_row in zip(distances[variable][projection], rows, strict=True):
                row["fudged_applied"] = None if variable in not_applied else applied_row["unfudged"]
    return distances


def _compared_counts(
    outputs: Mapping[str, Any], variable: str, factors: Mapping[str, FudgeFactors]
) -> dict[str, np.ndarray]:
    """The counts ``[value, et, eta]`` of ``variable`` of data, MC and fudged MC: the MC
    of the fudged pass where it ran (what the correctionlib file does, candidate by
    candidate), else the binned transform of the MC (a variable with fudge factors)."""
    counts = {
        "data": outputs["data"]["distributions"][variable].values(),
        "mc": outputs["mc"]["distributions"][variable].values(),
    }
    if outputs["fudged_mc"] is not None:
        counts["fudged_mc"] = outputs["fudged_mc"]["distributions"][variable].values()
    elif variable in factors:
        counts["fudged_mc"] = fudged_distribution(outputs["mc"], factors[variable])
    return counts


def _parameters(
    data: Mapping[str, Any], samples: Mapping[str, Mapping[str, np.ndarray]]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per variable and sample, :func:`parameters_table` versus E_T and versus η."""
    parameters = {}
    for variable, by_sample in samples.items():
        edges = np.asarray(data["distributions"][variable].axes["value"].edges)
        parameters[variable] = {
            f"{sample}_{axis}": parameters_table(counts, edges, axis)
            for sample, counts in by_sample.items()
            for axis in ("et", "eta")
        }
    return parameters


def _id_efficiency_tables(
    outputs: Mapping[str, Any], ids: Sequence[str] | None
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per ID (default: every ID of the data's ``identification`` histogram, none
    without one) and sample, :func:`id_efficiencies`."""
    if ids is None:
        data = outputs["data"]
        ids = list(data["identification"].axes["id"]) if "identification" in data else []
    return {
        text: {
            sample: id_efficiencies(output["identification"], text)
            for sample, output in outputs.items()
            if output is not None
        }
        for text in ids
    }


def analyse(
    outputs_by_kind: Mapping[str, Mapping[str, Any]],
    *,
    variables: Sequence[str] | None = None,
    compare_only: Sequence[str] = ("cnn_score",),
    estimator: str = "quantiles",
    factors: Mapping[str, FudgeFactors] | None = None,
    ids: Sequence[str] | None = None,
    run_report: Mapping[str, Any] | None = None,
) -> DataMCResult:
    """The data/MC study of the processor outputs: fudge factors, distances, parameters.

    Parameters
    ----------
    outputs_by_kind : mapping
        ``DataMCProcessor`` outputs added up per kind
        (:func:`egamma_cnn.execution.merge_by_kind`): ``"data"`` and ``"mc"``, and
        ``"fudged_mc"``, the output of the processor run again over the MC with the
        fudge factors applied to every candidate (the ``fudged_applied`` distances, the
        fudged efficiencies). Without ``"fudged_mc"`` the fudged MC is the binned
        transform of the MC (:func:`fudged_distribution`) and has no efficiencies.
    variables : sequence of str, optional
        The variables to study (default: every distribution of the data).
    compare_only : sequence of str
        Variables compared but not fudged (the CNN score: its fudged distribution is
        the network run on fudged inputs).
    estimator : {"quantiles", "moments"}
        The centre and spread of the fudge factors (:func:`derive_fudge`).
    factors : mapping of str to FudgeFactors, optional
        The fudge factors the fudged MC was made with (default: derived here,
        :func:`derive_fudge_factors`).
    ids : sequence of str, optional
        The IDs whose efficiencies are compared (default: every ID of the
        ``identification`` histogram; none without one).
    run_report : mapping, optional
        What the runs left out (:func:`egamma_cnn.workflows.common.run_report`), for the
        summary.

    Returns
    -------
    DataMCResult
    """
    outputs = _by_kind(outputs_by_kind)
    variables = _variables(outputs["data"], variables)
    if factors is None:
        factors = derive_fudge_factors(
            outputs_by_kind, variables=variables, compare_only=compare_only, estimator=estimator
        )
    else:
        factors = {v: factors[v] for v in variables if v not in compare_only}
    not_applied = unapplied_factors(factors) if outputs["fudged_mc"] is not None else []
    samples = {variable: _compared_counts(outputs, variable, factors) for variable in variables}
    return DataMCResult(
        data=outputs["data"],
        mc=outputs["mc"],
        fudged_mc=outputs["fudged_mc"],
        factors=factors,
        distances=_distance_tables(outputs, variables, factors, not_applied),
        parameters=_parameters(outputs["data"], samples),
        efficiencies=_id_efficiency_tables(outputs, ids),
        samples=samples,
        not_applied=not_applied,
        run_report=dict(run_report or {}),
    )
