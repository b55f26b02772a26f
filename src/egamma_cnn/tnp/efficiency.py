"""Identification efficiencies from the tag-and-probe pass/fail m_ee histograms.

The efficiency of the ID in a probe (E_T, η) bin is ε = S_pass / (S_pass + S_fail), with
S the number of Z→ee signal probes among the opposite-charge pairs of the bin, passing
or failing the ID. The histograms also hold background (fake probes, non-Z pairs), so S
is estimated in one of two ways (:func:`measure`):

``"count"`` — cut and count with sideband subtraction
    S = N_window − τ·N_sidebands, with N the (weighted) pair counts in the m_ee signal
    window (default 80–100 GeV) and in the two sidebands (default 60–70 and 110–120 GeV)
    and τ = (window width)/(sideband width): exact for a background linear in m_ee when
    the sidebands are symmetric about the window. var(S) = var(N_window) +
    τ² var(N_sidebands). Where the sidebands are empty (no background to subtract) the
    interval is the Clopper–Pearson (or Wilson) interval of the window counts.

``"fit"`` — extended binned maximum-likelihood fits with iminuit
    Pass and fail histograms are fitted separately over the full m_ee range (or the
    bins of ``fit_range``, a systematic variation) with
    S·signal + B·background, expected counts ν_k per bin, by minimising iminuit's
    ``cost.ExtendedBinnedNLL``, 2 Σ (ν_k − n_k + n_k ln(n_k/ν_k)) (Baker and Cousins,
    NIM 221 (1984) 437: −2 ln L up to a constant). (iminuit's ``cost.Template`` fits
    fixed templates; the template here is shifted and smeared by fitted parameters.)
    Signal: the simulated template of true-electron probes of the same bin and
    pass/fail category (or of the E_T row, or of all bins, where the bin has fewer than
    :data:`MIN_TEMPLATE_ENTRIES`), shifted by μ and convolved with a Gaussian resolution σ
    (``signal="template"``), or a Breit–Wigner (m_Z = 91.1876 GeV, Γ_Z = 2.4952 GeV)
    convolved with a Crystal Ball resolution (``signal="bwcb"``). Background: an
    exponential e^{λ m} (``background="exponential"``) or a second-order polynomial
    kept non-negative (``"polynomial"``). The uncertainties of S come from the Hesse
    matrix and are propagated to ε as uncorrelated between the pass and fail fits. A
    fit that does not converge (invalid minimum or no accurate covariance) is reported
    in its bin's ``status`` with ε = NaN, never replaced by another estimate. An empty
    pass or fail histogram gives S = 0 ± 1 for that category without a fit (one event as
    the scale of what an empty histogram cannot exclude).

Efficiency uncertainties: var(ε) = (S_fail² var(S_pass) + S_pass² var(S_fail)) / (S_pass +
S_fail)⁴ for subtracted or fitted yields; Clopper–Pearson or Wilson intervals (at 68.27 %)
for plain counts, as for the truth-matched efficiency of :func:`truth_efficiency`, and
wherever a yield is zero (ε = 0 or 1, where the propagated error would vanish), from
:mod:`egamma_cnn.intervals` (Clopper–Pearson through ``hist.intervals``). Weighted
counts enter the intervals as effective counts n_eff = (Σw)²/Σw². Probes outside the
E_T and η binning are not measured (the runner reports how many).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from iminuit import Minuit
from iminuit.cost import ExtendedBinnedNLL
from scipy import special, stats

from egamma_cnn.intervals import INTERVALS, Interval, efficiency_interval
from egamma_cnn.jsonio import json_ready

__all__ = [
    "MIN_FIT_BINS",
    "MIN_TEMPLATE_ENTRIES",
    "BinEfficiency",
    "FitResult",
    "TnPHistogram",
    "measure",
    "truth_efficiency",
]

Method = Literal["count", "fit"]

#: Z boson mass and width (GeV), PDG.
M_Z, GAMMA_Z = 91.1876, 2.4952


@dataclass(frozen=True)
class BinEfficiency:
    """The efficiency of one probe (E_T, η) bin (or a projection: NaN edges = all)."""

    et_low: float
    et_high: float
    eta_low: float
    eta_high: float
    efficiency: float
    error_low: float
    error_high: float
    signal_pass: float
    signal_fail: float
    method: str
    status: str = "ok"

    @property
    def error(self) -> float:
        """One symmetric uncertainty: the larger of the two sides (conservative)."""
        return max(self.error_low, self.error_high)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (NaN as None)."""
        return json_ready(asdict(self))


class TnPHistogram:
    """Numpy views of the processor's histogram, by ID, pass/fail, charge and truth.

    ``values[passing, mass, et, eta, opposite, truth]`` and the variances for one ID.
    """

    def __init__(self, histogram: Any, probe_id: str) -> None:
        axes = histogram.axes
        if probe_id not in list(axes["id"]):
            raise ValueError(f"no probe ID {probe_id!r} in the histogram; have {list(axes['id'])}")
        view = histogram.view(flow=False)
        k = axes["id"].index(probe_id)
        self.values = np.asarray(view["value"])[k]
        self.variances = np.asarray(view["variance"])[k]
        self.mass_edges = np.asarray(axes["mass"].edges)
        self.et_edges = np.asarray(axes["et"].edges)
        self.eta_edges = np.asarray(axes["eta"].edges)
        self.truth_values = list(axes["truth"])
        self.probe_id = probe_id

    def _select(self, array, passing, et, eta, opposite, truth):
        a = array[int(passing)]  # mass, et, eta, opposite, truth
        a = a.sum(axis=1) if isinstance(et, slice) else a[:, et]  # mass, eta, opposite, truth
        a = a.sum(axis=1) if isinstance(eta, slice) else a[:, eta]  # mass, opposite, truth
        a = a[:, int(opposite)]  # mass, truth
        return a.sum(axis=1) if truth is None else a[:, self.truth_values.index(truth)]

    def mass_counts(
        self,
        passing: bool,
        et: int | slice,
        eta: int | slice,
        opposite: bool = True,
        truth: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """m_ee counts and variances of the selected probes (slices are summed over)."""
        return (
            self._select(self.values, passing, et, eta, opposite, truth),
            self._select(self.variances, passing, et, eta, opposite, truth),
        )


def _window_mask(edges: np.ndarray, low: float, high: float) -> np.ndarray:
    centres = 0.5 * (edges[1:] + edges[:-1])
    return (centres > low) & (centres < high)


def _ratio(
    s_pass: float, v_pass: float, s_fail: float, v_fail: float, interval: str
) -> tuple[float, float, float]:
    """ε = S_p/(S_p+S_f) with the propagated error; binomial at the boundaries.

    Where a yield is zero (ε = 0 or 1) the propagated error vanishes, which is no
    measurement of the uncertainty: the binomial interval of the effective counts is
    used there instead (:func:`~egamma_cnn.intervals.efficiency_interval`).
    """
    total = s_pass + s_fail
    if total <= 0:
        return math.nan, math.nan, math.nan
    if s_pass <= 0 or s_fail <= 0:
        return efficiency_interval(s_pass, total, v_pass + v_fail, interval)
    eff = s_pass / total
    error = math.sqrt(max(s_fail**2 * v_pass + s_pass**2 * v_fail, 0.0)) / total**2
    return eff, min(error, eff), min(error, 1.0 - eff)


def _count(
    pass_n, pass_v, fail_n, fail_v, edges, window, sidebands, interval
) -> tuple[float, float, float, float, float, str]:
    in_window = _window_mask(edges, *window)
    in_side = np.zeros_like(in_window)
    side_width = 0.0
    for low, high in sidebands:
        mask = _window_mask(edges, low, high)
        if not mask.any():
            raise ValueError(
                f"sideband {(low, high)} covers no m_ee bin of the histogram "
                f"({edges[0]:g}-{edges[-1]:g} GeV): it cannot estimate the background"
            )
        in_side |= mask
        side_width += float(np.sum(np.diff(edges)[mask]))
    if not in_window.any():
        raise ValueError(f"the signal window {window} covers no m_ee bin of the histogram")
    tau = float(np.sum(np.diff(edges)[in_window])) / side_width if side_width > 0 else 0.0
    s_p = float(pass_n[in_window].sum() - tau * pass_n[in_side].sum())
    s_f = float(fail_n[in_window].sum() - tau * fail_n[in_side].sum())
    v_p = float(pass_v[in_window].sum() + tau**2 * pass_v[in_side].sum())
    v_f = float(fail_v[in_window].sum() + tau**2 * fail_v[in_side].sum())
    if s_p + s_f <= 0:
        return math.nan, math.nan, math.nan, s_p, s_f, "no signal after subtraction"
    if not sidebands or (pass_n[in_side].sum() == 0 and fail_n[in_side].sum() == 0):
        # nothing subtracted: the window yields are counts, with a binomial interval
        eff, low, high = efficiency_interval(s_p, s_p + s_f, v_p + v_f, interval)
        return eff, low, high, s_p, s_f, "ok"
    eff, low, high = _ratio(max(s_p, 0.0), v_p, max(s_f, 0.0), v_f, interval)
    status = "ok" if s_p >= 0 and s_f >= 0 else "negative yield set to 0 in the ratio"
    return eff, low, high, s_p, s_f, status


# -- fit models -------------------------------------------------------------------------


def _smeared_template(template: np.ndarray, edges: np.ndarray, shift: float, sigma: float):
    """Bin fractions of ``template`` shifted by ``shift`` and Gaussian-smeared by ``sigma``."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = np.diff(edges)
    sigma_eff = math.sqrt(sigma**2 + float(np.mean(width)) ** 2 / 12.0)
    upper = (edges[1:, None] - centres[None, :] - shift) / sigma_eff
    lower = (edges[:-1, None] - centres[None, :] - shift) / sigma_eff
    kernel = 0.5 * (special.erf(upper / math.sqrt(2)) - special.erf(lower / math.sqrt(2)))
    shape = kernel @ template
    total = shape.sum()
    return shape / total if total > 0 else np.full_like(shape, 1.0 / len(shape))


def _bw_cb(edges: np.ndarray, shift: float, sigma: float, alpha: float, n: float):
    """Bin fractions of a Breit–Wigner(m_Z, Γ_Z) ⊗ Crystal Ball(μ=shift, σ, α, n)."""
    step = 0.1
    # the grid reaches 40 GeV beyond the histogram on both sides, always longer than the
    # ±30 GeV resolution kernel, so that "same"-mode convolution keeps it aligned
    grid = np.arange(edges[0] - 40.0, edges[-1] + 40.0, step)
    bw = (GAMMA_Z / (2 * math.pi)) / ((grid - M_Z) ** 2 + GAMMA_Z**2 / 4)
    offsets = np.arange(-30.0, 30.0 + step / 2, step)
    cb = stats.crystalball.pdf(offsets, alpha, n, loc=shift, scale=sigma)
    density = np.convolve(bw, cb, mode="same") * step
    cumulative = np.concatenate([[0.0], np.cumsum(density) * step])
    grid_edges = np.concatenate([grid - step / 2, [grid[-1] + step / 2]])
    at_edges = np.interp(edges, grid_edges, cumulative)
    fractions = np.diff(at_edges)
    total = fractions.sum()
    return fractions / total if total > 0 else np.full(len(edges) - 1, 1.0 / (len(edges) - 1))


def _background_shape(kind: str, edges: np.ndarray, p1: float, p2: float) -> np.ndarray:
    centres = 0.5 * (edges[1:] + edges[:-1])
    x = (centres - centres.mean()) / (edges[-1] - edges[0])
    if kind == "exponential":
        shape = np.exp(p1 * (centres - centres.mean()))
    else:  # polynomial, kept positive
        shape = np.maximum(1.0 + p1 * x + p2 * x * x, 1e-9)
    return shape / shape.sum()


def _at_limit(minuit: Any, name: str) -> str | None:
    """ "low"/"high" when parameter ``name`` ends on its lower/upper limit, else None."""
    low, high = minuit.limits[name]
    value = minuit.values[name]
    for side, bound in (("low", low), ("high", high)):
        if bound is not None and math.isfinite(bound):
            if abs(value - bound) <= 1e-4 * max(1.0, abs(bound)):
                return side
    return None


#: The fit parameters: signal and background yields, the signal shift and resolution
#: (GeV), the background slope(s).
FIT_PARAMETERS = ("s", "b", "shift", "sigma", "p1", "p2")


def _minuit(cost: ExtendedBinnedNLL, n: float, background: str) -> Minuit:
    """Minuit on ``cost`` with the starting values and limits of a Z peak of ~n entries."""
    minuit = Minuit(cost, s=0.8 * n, b=0.2 * n + 1.0, shift=0.0, sigma=1.5, p1=-0.02, p2=0.0)
    minuit.limits["s"] = (0.0, 2.0 * n + 10.0)
    minuit.limits["b"] = (0.0, 2.0 * n + 10.0)
    minuit.limits["shift"] = (-5.0, 5.0)
    minuit.limits["sigma"] = (0.05, 15.0)
    minuit.limits["p1"] = (-1.0, 1.0) if background == "exponential" else (-20.0, 20.0)
    minuit.limits["p2"] = (-20.0, 20.0)
    if background == "exponential":
        minuit.fixed["p2"] = True
    return minuit


def _minimise(minuit: Minuit) -> None:
    """MIGRAD, then again with the physical limits fixed (at most three times).

    Two limits are physical answers: no background (b = 0) and a template that needs no
    extra smearing (σ at its minimum); they are fixed there and the fit repeated, so that
    the covariance of S is taken at an interior point. A background slope on its limit
    while the background is compatible with zero (b < 2 σ_b) is undetermined, not wrong:
    the background is then fixed to zero too.
    """
    minuit.migrad()
    for _ in range(3):
        changed = False
        slope_stuck = any(
            not minuit.fixed[name] and _at_limit(minuit, name) for name in ("p1", "p2")
        )
        no_background = minuit.values["b"] < 2.0 * max(minuit.errors["b"], 1e-9)
        if not minuit.fixed["b"] and (
            _at_limit(minuit, "b") == "low" or (slope_stuck and no_background)
        ):
            minuit.values["b"] = 0.0
            minuit.fixed["b"] = minuit.fixed["p1"] = minuit.fixed["p2"] = True
            changed = True
        if not minuit.fixed["sigma"] and _at_limit(minuit, "sigma") == "low":
            minuit.fixed["sigma"] = True
            changed = True
        if not changed:
            break
        minuit.migrad()


def _fit_status(minuit: Minuit) -> str:
    """ "ok", or why the fit failed: an invalid minimum, a parameter other than a physical
    answer (S = 0, or those :func:`_minimise` fixed) on a limit, an inaccurate covariance."""
    if not minuit.valid:
        return "fit failed: invalid minimum"
    stuck = [
        f"{name} at its {side} limit"
        for name in FIT_PARAMETERS
        if not minuit.fixed[name]
        and (side := _at_limit(minuit, name)) is not None
        and not (name == "s" and side == "low")  # S = 0: no signal, a valid answer
    ]
    if stuck:
        return "fit failed: " + ", ".join(stuck)
    if not minuit.accurate:
        return "fit failed: covariance not accurate"
    return "ok"


def _fit_one(
    counts: np.ndarray,
    variances: np.ndarray,
    edges: np.ndarray,
    signal_model: Callable[[float, float], np.ndarray],
    background: str,
) -> tuple[float, float, str, dict[str, float]]:
    """Fit S·signal + B·background to ``counts``; returns (S, σ_S, status, parameters).

    The cost is iminuit's ``ExtendedBinnedNLL``, whose model is the expected count
    integrated up to each bin edge (the cumulative sum of the ν_k, each kept ≥ 10⁻¹²
    so that no bin has a vanishing expectation). Weighted histograms are fitted as
    effective counts: counts and model scaled by Σw/Σw² (the Poisson statistics the
    weights carry), S and σ_S scaled back, so that σ_S reflects the weights' statistical
    power.
    """
    total = float(counts.sum())
    if total <= 0:
        return 0.0, 1.0, "ok (empty)", {}
    scale = total / float(variances.sum()) if float(variances.sum()) > 0 else 1.0

    def cumulative(xe, s, b, shift, sigma, p1, p2):  # xe: the histogram's edges
        expected = s * signal_model(shift, sigma) + b * _background_shape(background, edges, p1, p2)
        return np.concatenate([[0.0], np.cumsum(np.maximum(expected, 1e-12))])

    scaled = counts * scale
    minuit = _minuit(ExtendedBinnedNLL(scaled, edges, cumulative), float(scaled.sum()), background)
    _minimise(minuit)
    if minuit.valid:
        minuit.hesse()
    values = dict(minuit.values.to_dict())
    status = _fit_status(minuit)
    if status != "ok":
        return math.nan, math.nan, status, values
    values["s"], values["b"] = values["s"] / scale, values["b"] / scale
    return values["s"], float(minuit.errors["s"]) / scale, "ok", values


@dataclass
class FitResult:
    """The pass and fail fits of one bin (for the fit plots)."""

    counts_pass: np.ndarray
    counts_fail: np.ndarray
    model_pass: np.ndarray | None
    model_fail: np.ndarray | None
    background_pass: np.ndarray | None
    background_fail: np.ndarray | None


#: Fewest simulated true-electron probes a signal template is made of (see _template).
MIN_TEMPLATE_ENTRIES = 100


def _template(mc: TnPHistogram, passing: bool, et, eta) -> np.ndarray:
    """The m_ee template of true-electron probes for a bin, from enough simulation.

    The bin's own probes when there are at least :data:`MIN_TEMPLATE_ENTRIES`, else
    those of its E_T row (all η), else of all bins (the Z line shape changes little
    across bins; the fitted shift and resolution absorb the rest). A simulation without
    truth (e.g. NanoAOD read without ``config.truth``) gives its opposite-charge probes
    of any kind instead — a template that includes the simulated background.
    """
    truth = 1
    if mc.mass_counts(passing, slice(None), slice(None), opposite=True, truth=1)[0].sum() <= 0:
        truth = None
    for choice in ((et, eta), (et, slice(None)), (slice(None), slice(None))):
        template, _ = mc.mass_counts(passing, *choice, opposite=True, truth=truth)
        if template.sum() >= MIN_TEMPLATE_ENTRIES:
            return template
    template, _ = mc.mass_counts(passing, slice(None), slice(None), opposite=True, truth=truth)
    if template.sum() <= 0:
        raise ValueError("the simulated histogram has no opposite-charge probes for a template")
    return template


#: Fewest m_ee bins a fit range may hold: more bins than the fit's free parameters.
MIN_FIT_BINS = len(FIT_PARAMETERS) + 1


def _fit_mask(edges: np.ndarray, fit_range: tuple[float, float] | None) -> np.ndarray:
    """The m_ee bins a fit uses: every bin, or those whose centre lies in ``fit_range``."""
    if fit_range is None:
        return np.ones(len(edges) - 1, bool)
    mask = _window_mask(edges, *fit_range)
    if mask.sum() < MIN_FIT_BINS:
        raise ValueError(
            f"the fit_range {list(fit_range)} covers {int(mask.sum())} m_ee bins of the "
            f"histogram ({edges[0]:g}-{edges[-1]:g} GeV); a fit needs at least {MIN_FIT_BINS}"
        )
    return mask


def _padded(values: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    """``values`` of the fitted bins placed into the full m_ee axis, NaN outside."""
    if values is None or mask.all():
        return values
    full = np.full(len(mask), np.nan)
    full[mask] = values
    return full


def _fit_bin(
    hist_data, hist_template, et, eta, signal, background, fits, key, interval, fit_range=None
):
    mask = _fit_mask(hist_data.mass_edges, fit_range)
    # the fitted bins are contiguous: the edges of the first to the last
    first, last = int(np.argmax(mask)), len(mask) - int(np.argmax(mask[::-1]))
    edges = hist_data.mass_edges[first : last + 1]
    results = {}
    for passing in (True, False):
        full_counts, full_variances = hist_data.mass_counts(passing, et, eta, opposite=True)
        counts, variances = full_counts[first:last], full_variances[first:last]
        if signal == "template":
            if hist_template is None:
                raise ValueError("signal='template' needs the simulated histogram (mc=...)")
            template = _template(hist_template, passing, et, eta)[first:last]

            def model(shift, sigma, template=template):
                return _smeared_template(template, edges, shift, sigma)
        else:

            def model(shift, sigma):
                return _bw_cb(edges, shift, sigma, 1.0, 5.0)

        s, error, status, values = _fit_one(counts, variances, edges, model, background)
        if values and status == "ok":
            total_model = values["s"] * model(values["shift"], values["sigma"])
            bkg = values["b"] * _background_shape(background, edges, values["p1"], values["p2"])
            results[passing] = (
                s,
                error,
                status,
                full_counts,
                _padded(total_model + bkg, mask),
                _padded(bkg, mask),
            )
        else:
            results[passing] = (s, error, status, full_counts, None, None)
    if fits is not None:
        fits[key] = FitResult(
            results[True][3],
            results[False][3],
            results[True][4],
            results[False][4],
            results[True][5],
            results[False][5],
        )
    (s_p, e_p, st_p, *_), (s_f, e_f, st_f, *_) = results[True], results[False]
    bad = [
        f"{name}: {st}" for name, st in (("pass", st_p), ("fail", st_f)) if not st.startswith("ok")
    ]
    if bad:
        return math.nan, math.nan, math.nan, s_p, s_f, "; ".join(bad)
    if s_p + s_f <= 0:
        return math.nan, math.nan, math.nan, s_p, s_f, "no signal in the fits"
    eff, low, high = _ratio(s_p, e_p**2, s_f, e_f**2, interval)
    return eff, low, high, s_p, s_f, "ok"


def _edges(edges: np.ndarray, index: int | slice) -> tuple[float, float]:
    if isinstance(index, slice):
        return (math.nan, math.nan)
    return (float(edges[index]), float(edges[index + 1]))


def measure(
    histogram: Any,
    probe_id: str,
    *,
    method: Method = "count",
    mc_histogram: Any = None,
    window: tuple[float, float] = (80.0, 100.0),
    sidebands: Sequence[tuple[float, float]] = ((60.0, 70.0), (110.0, 120.0)),
    interval: Interval = "clopper-pearson",
    signal: Literal["template", "bwcb"] = "template",
    background: Literal["exponential", "polynomial"] = "exponential",
    projection: Literal["bins", "et", "eta"] = "bins",
    fits: dict | None = None,
    fit_range: tuple[float, float] | None = None,
) -> list[BinEfficiency]:
    """Efficiencies of ``probe_id`` from the pass/fail m_ee histogram of the tag-and-probe.

    Parameters
    ----------
    histogram
        The ``"histogram"`` output of
        ``egamma_cnn.processors.tag_and_probe.TagAndProbeProcessor`` (data or
        simulation).
    probe_id : str
        Which ID (an entry of the histogram's ``id`` axis).
    method : {"count", "fit"}
        Sideband subtraction or fits (module docstring).
    mc_histogram
        The simulated histogram whose true-electron probes give the signal templates of
        ``method="fit"`` with ``signal="template"`` (pass ``histogram`` itself for MC).
    window, sidebands
        m_ee ranges (GeV) of the counting method.
    interval : {"clopper-pearson", "wilson"}
        Interval of plain counts.
    signal, background
        Fit models.
    projection : {"bins", "et", "eta"}
        Every (E_T, η) bin, or the efficiency versus E_T (summed over η) or versus η.
    fits : dict, optional
        Filled with a :class:`FitResult` per bin (keys (et index, eta index)); with a
        ``fit_range`` the models are NaN outside it.
    fit_range : tuple of float, optional
        Method ``"fit"``: the m_ee range (GeV) fitted, the bins whose centre lies inside
        it (at least :data:`MIN_FIT_BINS`); the signal template and the background are
        normalised inside it. None: the whole histogram.

    Returns
    -------
    list of BinEfficiency
        One per bin, with the status of its estimate.
    """
    if method not in ("count", "fit"):
        raise ValueError(f"method must be 'count' or 'fit', not {method!r}")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {sorted(INTERVALS)}, not {interval!r}")
    data = TnPHistogram(histogram, probe_id)
    template = TnPHistogram(mc_histogram, probe_id) if mc_histogram is not None else None
    n_et, n_eta = len(data.et_edges) - 1, len(data.eta_edges) - 1
    if projection == "bins":
        cells = [(i, j) for i in range(n_et) for j in range(n_eta)]
    elif projection == "et":
        cells = [(i, slice(None)) for i in range(n_et)]
    elif projection == "eta":
        cells = [(slice(None), j) for j in range(n_eta)]
    else:
        raise ValueError(f"projection must be 'bins', 'et' or 'eta', not {projection!r}")
    out = []
    for et, eta in cells:
        if method == "count":
            pass_n, pass_v = data.mass_counts(True, et, eta)
            fail_n, fail_v = data.mass_counts(False, et, eta)
            result = _count(
                pass_n, pass_v, fail_n, fail_v, data.mass_edges, window, sidebands, interval
            )
        else:
            result = _fit_bin(
                data, template, et, eta, signal, background, fits, (et, eta), interval, fit_range
            )
        eff, low, high, s_p, s_f, status = result
        out.append(
            BinEfficiency(
                *_edges(data.et_edges, et),
                *_edges(data.eta_edges, eta),
                eff,
                low,
                high,
                s_p,
                s_f,
                method,
                status,
            )
        )
    return out


def truth_efficiency(
    histogram: Any,
    probe_id: str,
    *,
    window: tuple[float, float] = (80.0, 100.0),
    interval: Interval = "clopper-pearson",
    projection: Literal["bins", "et", "eta"] = "bins",
) -> list[BinEfficiency]:
    """The efficiency of true-electron probes in the m_ee window (simulation; closure).

    Counts only probes whose truth says they are electrons (the processor's ``truth``
    axis = 1), opposite-charge pairs, m_ee inside ``window``: no background to subtract,
    so ε = k/n with a binomial interval.
    """
    data = TnPHistogram(histogram, probe_id)
    in_window = _window_mask(data.mass_edges, *window)
    n_et, n_eta = len(data.et_edges) - 1, len(data.eta_edges) - 1
    cells = {
        "bins": [(i, j) for i in range(n_et) for j in range(n_eta)],
        "et": [(i, slice(None)) for i in range(n_et)],
        "eta": [(slice(None), j) for j in range(n_eta)],
    }[projection]
    out = []
    for et, eta in cells:
        pass_n, pass_v = data.mass_counts(True, et, eta, truth=1)
        fail_n, fail_v = data.mass_counts(False, et, eta, truth=1)
        k, n = float(pass_n[in_window].sum()), float(fail_n[in_window].sum())
        n += k
        variance = float(pass_v[in_window].sum() + fail_v[in_window].sum())
        if n <= 0:
            eff, low, high, status = math.nan, math.nan, math.nan, "no true-electron probes"
        else:  # effective counts for weighted simulation (unit weights: k of n)
            eff, low, high = efficiency_interval(k, n, variance, interval)
            status = "ok"
        out.append(
            BinEfficiency(
                *_edges(data.et_edges, et),
                *_edges(data.eta_edges, eta),
                eff,
                low,
                high,
                k,
                n - k,
                "truth",
                status,
            )
        )
    return out
