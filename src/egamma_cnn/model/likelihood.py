"""ATLAS-style electron likelihood (LLH) identification: the baseline the CNN is compared to.

ATL-PHYS-PUB-2023-001 §1 and §6 compare the CNN with the ATLAS likelihood
identification: for each high-level variable (Tables 3–4), probability density functions
(PDFs) of signal and background are built in bins of E_T × |η| and multiplied, neglecting
the correlations between the variables, into one binary discriminant; the Loose, Medium
and Tight working points cut on it (with :class:`~egamma_cnn.model.WorkingPoints`) and add
track-hit requirements (§6.1, :func:`llh_hit_requirements`).

Inputs. The LLH variables are :data:`LIKELIHOOD_VARIABLES`. ``rhad`` there is the ATLAS
combined hadronic leakage, so the caller passes the columns :data:`LIKELIHOOD_INPUTS`
(``rhad1`` and ``rhad`` first, then the other 13 variables in the order of
:data:`LIKELIHOOD_VARIABLES`) and :func:`combined_rhad` takes

    R_had(combined) = R_had    if 0.8 ≤ |η| ≤ 1.37,
                      R_had1   otherwise

(ATLAS convention, Franco's photon-ID talk Table 1: the first hadronic layer alone outside the
region
where the Tile barrel–extended-barrel gap makes it unreliable).

Fit (:meth:`Likelihood.fit`), for each variable v:

* bin edges: the weighted quantiles at probabilities ``j / n_bins`` (``j = 0 … n_bins``;
  the quantile at p is the smallest value whose weighted cumulative fraction is ≥ p) of
  all candidates with positive weight inside the E_T × |η| range, signal and background
  pooled, so the binning is data-driven and the same for S and B in every E_T × |η| bin;
  duplicate edges are collapsed (discrete variables get fewer bins), and a variable with
  a single value gets the two edges ``x ± max(1, |x|)/2``;
* PDFs: in each E_T × |η| bin b and class c (signal, background), with ``h_k`` the summed
  weight of the candidates in value bin k, ``n`` their number and ``w̄ = Σ_k h_k / n``
  their mean weight,

      P_c,b,v(k) = (h_k + α w̄) / (Σ_k h_k + α w̄ K),

  K the number of value bins and α = ``pdf_floor`` (0.5 by default): α entries' worth of
  weight added to every bin (Laplace-type smoothing), so no PDF is zero, each sums to
  one over its K bins, and scaling all weights by a constant changes nothing. PDFs are
  probabilities per bin, not densities: the bin widths cancel in the ratio.
* sparse bins: an E_T × |η| bin with fewer than ``min_entries`` signal *or* fewer than
  ``min_entries`` background candidates (unweighted numbers of candidates with positive
  weight) takes both its signal and background PDFs of every variable from the inclusive
  sample (all E_T × |η| bins together); ``from_inclusive`` records which bins.

Discriminant (:meth:`Likelihood.discriminant`), with ``L_c = Π_v P_c,b,v(k_v(x_v))``:

    d = L_S / (L_S + L_B) = 1 / (1 + exp(ln L_B − ln L_S)),

evaluated from the log-likelihood ratio ``ln L_S − ln L_B`` (a sum of logarithms, never
a product), so it is exact to rounding for any number of variables. ATLAS cuts on the
transformed discriminant (:meth:`Likelihood.transformed`)

    d' = −ln(d⁻¹ − 1) / τ,   τ = 15,

with d clipped into [1e−12, 1 − 1e−12] first, so |d'| ≤ ln(10¹² − 1) / τ (finite).

Defined behaviour at the edges:

* a value below the first (above the last) edge of its variable falls in the first
  (last) value bin; value bins are ``[e_k, e_k+1)``, the last one closed;
* candidates with E_T below the first E_T edge or |η| at or beyond the last |η| edge
  are outside the calibrated range and get d = 0 ("fail"; ln-ratio −∞, d' at its lower
  clip); E_T at or above the last E_T edge uses the last E_T bin (overflow), so the
  default last edge (10⁵ GeV) only keeps the edges finite for JSON;
* non-finite inputs (values, E_T or η) raise ValueError naming the column, inside the
  range or not; weights must be finite and non-negative (zero-weight candidates are
  ignored by the fit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.model.working_points import WorkingPoints

__all__ = [
    "DEFAULT_LLH_ABS_ETA_EDGES",
    "DEFAULT_LLH_ET_EDGES",
    "LIKELIHOOD_INPUTS",
    "LIKELIHOOD_VARIABLES",
    "LLH_FORMAT",
    "LLH_HIT_REQUIREMENTS",
    "RHAD_ABS_ETA_RANGE",
    "Likelihood",
    "LikelihoodID",
    "combined_rhad",
    "likelihood_inputs",
    "llh_hit_requirements",
]

#: The LLH variables (ATL-PHYS-PUB-2023-001 Tables 3–4 as used by the LLH, §1), in PDF order.
LIKELIHOOD_VARIABLES: tuple[str, ...] = (
    "rhad",
    "f3",
    "weta2",
    "rphi",
    "reta",
    "wstot",
    "eratio",
    "f1",
    "d0",
    "d0sig",
    "dpOverP",
    "eProbabilityHT",
    "deltaEta1",
    "deltaPhiRescaled2",
)
#: Columns of the ``values`` array: ``rhad1``, ``rhad``, then the other LLH variables.
LIKELIHOOD_INPUTS: tuple[str, ...] = ("rhad1", "rhad", *LIKELIHOOD_VARIABLES[1:])
#: |η| range (closed) in which the combined hadronic leakage is ``rhad``, else ``rhad1``.
RHAD_ABS_ETA_RANGE: tuple[float, float] = (0.8, 1.37)
#: E_T bin edges (GeV) of the PDFs (ATLAS LLH binning; the last bin takes all E_T ≥ 40).
DEFAULT_LLH_ET_EDGES: tuple[float, ...] = (4.5, 7.0, 10.0, 15.0, 20.0, 30.0, 40.0, 1.0e5)
#: |η| bin edges of the PDFs (ATLAS LLH binning; the crack 1.37–1.52 is its own bin).
DEFAULT_LLH_ABS_ETA_EDGES: tuple[float, ...] = (
    0.0,
    0.6,
    0.8,
    1.15,
    1.37,
    1.52,
    1.81,
    2.01,
    2.37,
    2.47,
)
#: Track-hit requirements of the LLH working points (ATL-PHYS-PUB-2023-001 §6.1): minimum numbers of
#: hits on the main track in the innermost pixel layer (B-layer), the pixel detector and
#: the silicon detectors (pixel + SCT).
LLH_HIT_REQUIREMENTS: dict[str, dict[str, int]] = {
    "loose": {"n_blayer": 0, "n_pixel": 2, "n_silicon": 7},
    "medium": {"n_blayer": 1, "n_pixel": 2, "n_silicon": 7},
    "tight": {"n_blayer": 1, "n_pixel": 2, "n_silicon": 7},
}

_D_CLIP = 1e-12
_LOG_RATIO_CLIP = float(np.log((1.0 - _D_CLIP) / _D_CLIP))


def combined_rhad(rhad1: np.ndarray, rhad: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """ATLAS combined hadronic leakage: ``rhad`` for 0.8 ≤ |η| ≤ 1.37, else ``rhad1``."""
    abs_eta = np.abs(np.asarray(eta, np.float64))
    lo, hi = RHAD_ABS_ETA_RANGE
    use_rhad = (abs_eta >= lo) & (abs_eta <= hi)
    return np.where(use_rhad, np.asarray(rhad, np.float64), np.asarray(rhad1, np.float64))


def likelihood_inputs(columns: Mapping[str, Any]) -> np.ndarray:
    """Stack named columns into the ``(N, 15)`` ``values`` array of :class:`Likelihood`.

    ``columns`` maps every name of :data:`LIKELIHOOD_INPUTS` to a 1-d array (e.g. the
    fields of ``egamma_cnn.features.electron_features``); other names are ignored.
    """
    return _stack_columns(columns, LIKELIHOOD_INPUTS)


def llh_hit_requirements(
    n_blayer: np.ndarray, n_pixel: np.ndarray, n_sct: np.ndarray, working_point: str
) -> np.ndarray:
    """Whether each candidate's main track passes the hit requirements of a LLH working point.

    ATL-PHYS-PUB-2023-001 §6.1: every working point needs at least 2 pixel hits and at least 7
    silicon
    (pixel + SCT) hits; Medium and Tight also need at least one hit in the innermost pixel
    layer (B-layer), against photon conversions. See :data:`LLH_HIT_REQUIREMENTS`.

    Parameters
    ----------
    n_blayer, n_pixel, n_sct : array_like
        Hit counts on the main track (same shape; non-negative, finite).
    working_point : str
        ``"loose"``, ``"medium"`` or ``"tight"`` (case-insensitive).

    Returns
    -------
    numpy.ndarray
        Boolean, the shape of the inputs.
    """
    key = str(working_point).lower()
    if key not in LLH_HIT_REQUIREMENTS:
        raise ValueError(
            f"unknown LLH working point {working_point!r}; expected one of "
            f"{sorted(LLH_HIT_REQUIREMENTS)}"
        )
    counts = {}
    for name, array in (("n_blayer", n_blayer), ("n_pixel", n_pixel), ("n_sct", n_sct)):
        counts[name] = np.asarray(array, np.float64)
        if not np.all(np.isfinite(counts[name])):
            raise ValueError(f"{name} has non-finite values")
    if not counts["n_blayer"].shape == counts["n_pixel"].shape == counts["n_sct"].shape:
        raise ValueError(
            "n_blayer, n_pixel and n_sct must have the same shape, got "
            f"{[c.shape for c in counts.values()]}"
        )
    need = LLH_HIT_REQUIREMENTS[key]
    return (
        (counts["n_blayer"] >= need["n_blayer"])
        & (counts["n_pixel"] >= need["n_pixel"])
        & (counts["n_pixel"] + counts["n_sct"] >= need["n_silicon"])
    )


@dataclass(frozen=True)
class Likelihood:
    """Fitted electron likelihood: binned signal and background PDFs per E_T × |η| bin.

    Attributes
    ----------
    variables : tuple of str
        The LLH variables entering the product, a subset of :data:`LIKELIHOOD_VARIABLES`
        (all of them by default).
    et_edges, abs_eta_edges : tuple of float
        E_T (GeV) and |η| bin edges of the PDFs, finite and strictly ascending.
    edges : tuple of numpy.ndarray
        Per variable: the value bin edges (``float64[K_v + 1]``, strictly ascending).
    signal_pdf, background_pdf : tuple of numpy.ndarray
        Per variable: ``float64[n_et_bins, n_eta_bins, K_v]``, positive, summing to one
        over the last axis.
    from_inclusive : numpy.ndarray
        ``bool[n_et_bins, n_eta_bins]``: bins whose PDFs came from the inclusive sample.
    n_signal, n_background : numpy.ndarray
        ``int64[n_et_bins, n_eta_bins]``: training candidates (positive weight) per bin.
    pdf_floor : float
        α of the PDF floor, in entries (see the module docstring).
    """

    variables: tuple[str, ...]
    et_edges: tuple[float, ...]
    abs_eta_edges: tuple[float, ...]
    edges: tuple[np.ndarray, ...]
    signal_pdf: tuple[np.ndarray, ...]
    background_pdf: tuple[np.ndarray, ...]
    from_inclusive: np.ndarray
    n_signal: np.ndarray
    n_background: np.ndarray
    pdf_floor: float = 0.5

    def __post_init__(self) -> None:
        variables = _check_variables(self.variables)
        et_edges = _check_edges("et_edges", self.et_edges)
        abs_eta_edges = _check_edges("abs_eta_edges", self.abs_eta_edges)
        if abs_eta_edges[0] < 0:
            raise ValueError(f"abs_eta_edges must start at ≥ 0, got {abs_eta_edges[0]}")
        shape = (len(et_edges) - 1, len(abs_eta_edges) - 1)
        n_var = len(variables)
        for name in ("edges", "signal_pdf", "background_pdf"):
            if len(getattr(self, name)) != n_var:
                raise ValueError(
                    f"{name} must have one entry per variable ({n_var}), "
                    f"got {len(getattr(self, name))}"
                )
        edges, pdfs = [], {"signal_pdf": [], "background_pdf": []}
        for v, name in enumerate(variables):
            e = np.asarray(self.edges[v], np.float64)
            if e.ndim != 1 or len(e) < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
                raise ValueError(
                    f"edges of {name!r} must be at least two finite, strictly ascending values"
                )
            edges.append(e)
            for key in pdfs:
                p = np.asarray(getattr(self, key)[v], np.float64)
                if p.shape != (*shape, len(e) - 1):
                    raise ValueError(
                        f"{key} of {name!r} must have shape {(*shape, len(e) - 1)}, got {p.shape}"
                    )
                if not np.all(np.isfinite(p)) or np.any(p <= 0):
                    raise ValueError(f"{key} of {name!r} must be finite and positive")
                if not np.allclose(p.sum(axis=-1), 1.0, rtol=0.0, atol=1e-9):
                    raise ValueError(f"{key} of {name!r} must sum to one over its value bins")
                pdfs[key].append(p)
        arrays = {}
        for name, dtype in (
            ("from_inclusive", bool),
            ("n_signal", np.int64),
            ("n_background", np.int64),
        ):
            arrays[name] = np.asarray(getattr(self, name), dtype)
            if arrays[name].shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {arrays[name].shape}")
        floor = float(self.pdf_floor)
        if not (np.isfinite(floor) and floor > 0):
            raise ValueError(f"pdf_floor must be finite and positive, got {self.pdf_floor}")
        object.__setattr__(self, "variables", variables)
        object.__setattr__(self, "et_edges", et_edges)
        object.__setattr__(self, "abs_eta_edges", abs_eta_edges)
        object.__setattr__(self, "edges", tuple(edges))
        object.__setattr__(self, "signal_pdf", tuple(pdfs["signal_pdf"]))
        object.__setattr__(self, "background_pdf", tuple(pdfs["background_pdf"]))
        for name, array in arrays.items():
            object.__setattr__(self, name, array)
        object.__setattr__(self, "pdf_floor", floor)

    @classmethod
    def fit(
        cls,
        values: np.ndarray,
        et: np.ndarray,
        eta: np.ndarray,
        is_signal: np.ndarray,
        *,
        weight: np.ndarray | None = None,
        variables: Sequence[str] = LIKELIHOOD_VARIABLES,
        et_edges: Sequence[float] = DEFAULT_LLH_ET_EDGES,
        abs_eta_edges: Sequence[float] = DEFAULT_LLH_ABS_ETA_EDGES,
        n_bins: int = 50,
        min_entries: int = 200,
        pdf_floor: float = 0.5,
    ) -> Likelihood:
        """Build the PDFs from a training sample with truth labels.

        Parameters
        ----------
        values : array_like
            ``(N, 15)``: the columns :data:`LIKELIHOOD_INPUTS`, in that order.
        et, eta : array_like
            ``(N,)``: E_T (GeV) and η (signed; |η| is used).
        is_signal : array_like
            ``(N,)`` bool: signal (e.g. prompt and charge-flip electrons, ATL-PHYS-PUB-2023-001
            §6.1)
            or background.
        weight : array_like, optional
            ``(N,)`` finite, non-negative candidate weights; 1 by default.
        variables : sequence of str
            The LLH variables to use (a subset of :data:`LIKELIHOOD_VARIABLES`).
        et_edges, abs_eta_edges : sequence of float
            E_T × |η| binning of the PDFs.
        n_bins : int
            Number of quantile bins per variable before collapsing duplicate edges.
        min_entries : int
            Minimum number of signal and of background candidates for a bin's own PDFs.
        pdf_floor : float
            α of the PDF floor (entries added to every value bin).
        """
        x = _check_values(values, LIKELIHOOD_INPUTS)
        n = len(x)
        et, eta = _check_kinematics(et, eta, n)
        is_signal = _check_labels("is_signal", is_signal, n)
        weight = _check_weight(weight, n)
        variables = _check_variables(variables)
        et_edges = _check_edges("et_edges", et_edges)
        abs_eta_edges = _check_edges("abs_eta_edges", abs_eta_edges)
        if int(n_bins) != n_bins or n_bins < 1:
            raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
        if int(min_entries) != min_entries or min_entries < 0:
            raise ValueError(f"min_entries must be a non-negative integer, got {min_entries}")
        alpha = float(pdf_floor)
        if not (np.isfinite(alpha) and alpha > 0):
            raise ValueError(f"pdf_floor must be finite and positive, got {pdf_floor}")

        et_bin, eta_bin, inside = _kinematic_bins(et, eta, et_edges, abs_eta_edges)
        shape = (len(et_edges) - 1, len(abs_eta_edges) - 1)
        n_groups = shape[0] * shape[1]
        use = inside & (weight > 0)
        classes = {"signal": use & is_signal, "background": use & ~is_signal}
        for name, mask in classes.items():
            if not np.any(mask):
                raise ValueError(
                    f"no {name} candidates with positive weight inside the E_T × |η| range"
                )
        group = et_bin * shape[1] + eta_bin
        counts = {
            name: np.bincount(group[mask], minlength=n_groups).reshape(shape)
            for name, mask in classes.items()
        }
        from_inclusive = np.zeros(shape, bool)
        for c in counts.values():
            from_inclusive |= (c < min_entries) | (c == 0)

        columns = _variable_columns(x, eta, variables)
        edges, pdfs = [], {"signal": [], "background": []}
        for column in columns:  # loop over the variables (≤ 14), never over candidates
            e = _quantile_edges(column[use], weight[use], int(n_bins))
            k = _value_bins(e, column)
            n_k = len(e) - 1
            edges.append(e)
            for name, mask in classes.items():
                h = np.bincount(
                    group[mask] * n_k + k[mask], weights=weight[mask], minlength=n_groups * n_k
                ).reshape(*shape, n_k)
                c = counts[name]
                mean_w = h.sum(axis=-1) / np.maximum(c, 1)
                pdf = _floored_pdf(h, np.where(c > 0, mean_w, 1.0), alpha)
                h_all = h.sum(axis=(0, 1))
                pdf[from_inclusive] = _floored_pdf(h_all, h_all.sum() / c.sum(), alpha)
                pdfs[name].append(pdf)
        return cls(
            variables=variables,
            et_edges=et_edges,
            abs_eta_edges=abs_eta_edges,
            edges=tuple(edges),
            signal_pdf=tuple(pdfs["signal"]),
            background_pdf=tuple(pdfs["background"]),
            from_inclusive=from_inclusive,
            n_signal=counts["signal"],
            n_background=counts["background"],
            pdf_floor=alpha,
        )

    def log_likelihood_ratio(
        self, values: np.ndarray, et: np.ndarray, eta: np.ndarray
    ) -> np.ndarray:
        """``ln L_S − ln L_B`` per candidate (−inf outside the E_T × |η| range)."""
        x = _check_values(values, LIKELIHOOD_INPUTS)
        et, eta = _check_kinematics(et, eta, len(x))
        et_bin, eta_bin, inside = _kinematic_bins(et, eta, self.et_edges, self.abs_eta_edges)
        ratio = np.zeros(len(x))
        columns = _variable_columns(x, eta, self.variables)
        for v, column in enumerate(columns):  # loop over the variables
            k = _value_bins(self.edges[v], column)
            ratio += np.log(self.signal_pdf[v][et_bin, eta_bin, k])
            ratio -= np.log(self.background_pdf[v][et_bin, eta_bin, k])
        return np.where(inside, ratio, -np.inf)

    def discriminant(self, values: np.ndarray, et: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """``d = L_S / (L_S + L_B)`` in [0, 1] per candidate (0 outside the range).

        Parameters
        ----------
        values : array_like
            ``(N, 15)``: the columns :data:`LIKELIHOOD_INPUTS`.
        et, eta : array_like
            ``(N,)``: E_T (GeV) and η.
        """
        ratio = self.log_likelihood_ratio(values, et, eta)
        return np.exp(-np.logaddexp(0.0, -ratio))

    def transformed(
        self, values: np.ndarray, et: np.ndarray, eta: np.ndarray, tau: float = 15.0
    ) -> np.ndarray:
        """ATLAS's ``d' = −ln(d⁻¹ − 1) / τ`` with d clipped into [1e−12, 1 − 1e−12].

        Computed as the log-likelihood ratio clipped to ±ln((1 − 1e−12) / 1e−12), divided
        by τ (the same thing, without the rounding of d near 1).
        """
        tau = float(tau)
        if not (np.isfinite(tau) and tau > 0):
            raise ValueError(f"tau must be finite and positive, got {tau}")
        ratio = self.log_likelihood_ratio(values, et, eta)
        return np.clip(ratio, -_LOG_RATIO_CLIP, _LOG_RATIO_CLIP) / tau

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the likelihood (per-variable entries keyed by name)."""
        return {
            "variables": list(self.variables),
            "et_edges": list(self.et_edges),
            "abs_eta_edges": list(self.abs_eta_edges),
            "pdf_floor": self.pdf_floor,
            "edges": {v: e.tolist() for v, e in zip(self.variables, self.edges, strict=True)},
            "signal_pdf": {
                v: p.tolist() for v, p in zip(self.variables, self.signal_pdf, strict=True)
            },
            "background_pdf": {
                v: p.tolist() for v, p in zip(self.variables, self.background_pdf, strict=True)
            },
            "from_inclusive": self.from_inclusive.tolist(),
            "n_signal": self.n_signal.tolist(),
            "n_background": self.n_background.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Likelihood:
        """Inverse of :meth:`to_dict`."""
        try:
            variables = tuple(data["variables"])
            per_variable = {}
            for key in ("edges", "signal_pdf", "background_pdf"):
                missing = [v for v in variables if v not in data[key]]
                if missing:
                    raise ValueError(f"likelihood {key} has no entry for {missing}")
                per_variable[key] = tuple(np.asarray(data[key][v], np.float64) for v in variables)
            return cls(
                variables=variables,
                et_edges=tuple(data["et_edges"]),
                abs_eta_edges=tuple(data["abs_eta_edges"]),
                from_inclusive=np.asarray(data["from_inclusive"], bool),
                n_signal=np.asarray(data["n_signal"], np.int64),
                n_background=np.asarray(data["n_background"], np.int64),
                pdf_floor=float(data.get("pdf_floor", 0.5)),
                **per_variable,
            )
        except KeyError as err:
            raise ValueError(f"likelihood is missing the key {err}") from None

    def save(self, path: str | Path) -> None:
        """Write the likelihood as JSON."""
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> Likelihood:
        """Read a likelihood written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


# ----------------------------------------------------------------------------- helpers
# Shared with :mod:`.cut_based`.


#: Format tag of a :class:`LikelihoodID` JSON file.
LLH_FORMAT = "egamma-cnn-llh/1"


@dataclass(frozen=True)
class LikelihoodID:
    """The LLH identification: the likelihood and its Loose/Medium/Tight working points.

    A working point passes a candidate iff its discriminant d reaches the working point's
    cut in the candidate's E_T × |η| bin (:class:`~egamma_cnn.model.WorkingPoints`, one
    per working point, derived with the hit requirements as prerequisite: the target is
    the efficiency among *all* signal candidates of the bin, as for the CNN's working
    points, so that the two keep the same signal) *and* its track passes
    :func:`llh_hit_requirements` (ATL-PHYS-PUB-2023-001 §6.1).

    Attributes
    ----------
    likelihood : Likelihood
        The fitted PDFs.
    working_points : dict of str to WorkingPoints
        Cuts on d per working point name ("loose", "medium", "tight").
    """

    likelihood: Likelihood
    working_points: dict[str, Any]

    def discriminant(self, values: Any, et: Any, eta: Any) -> np.ndarray:
        """d = L_S/(L_S + L_B) of each candidate (see :meth:`Likelihood.discriminant`)."""
        return self.likelihood.discriminant(values, et, eta)

    def passes(
        self,
        name: str,
        values: Any,
        et: Any,
        eta: Any,
        n_blayer: Any,
        n_pixel: Any,
        n_sct: Any,
        discriminant: np.ndarray | None = None,
    ) -> np.ndarray:
        """Boolean per candidate: working point ``name`` (cut on d and hit requirements).

        ``values`` are the :data:`LIKELIHOOD_INPUTS` columns; pass ``discriminant`` when
        it is already computed to save the evaluation.
        """
        if name not in self.working_points:
            raise KeyError(f"no LLH working point {name!r}; have {sorted(self.working_points)}")
        d = self.discriminant(values, et, eta) if discriminant is None else discriminant
        cut = self.working_points[name].passes(name, d, et, eta)
        return cut & llh_hit_requirements(n_blayer, n_pixel, n_sct, name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``format`` = :data:`LLH_FORMAT`)."""
        return {
            "format": LLH_FORMAT,
            "likelihood": self.likelihood.to_dict(),
            "working_points": {k: wp.to_dict() for k, wp in self.working_points.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LikelihoodID:
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != LLH_FORMAT:
            raise ValueError(f"LLH format {data.get('format')!r}, expected {LLH_FORMAT!r}")
        try:
            return cls(
                Likelihood.from_dict(data["likelihood"]),
                {k: WorkingPoints.from_dict(v) for k, v in data["working_points"].items()},
            )
        except KeyError as err:
            raise ValueError(f"the LLH document is missing the key {err}") from None

    def save(self, path: str | Path) -> None:
        """Write as JSON."""
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> LikelihoodID:
        """Read a file written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _stack_columns(columns: Mapping[str, Any], names: Sequence[str]) -> np.ndarray:
    missing = [name for name in names if name not in columns]
    if missing:
        raise ValueError(f"missing input columns {missing}; expected {list(names)}")
    arrays = [np.asarray(columns[name], np.float64) for name in names]
    for name, array in zip(names, arrays, strict=True):
        if array.ndim != 1 or len(array) != len(arrays[0]):
            raise ValueError(
                f"column {name!r} must be 1-d with {len(arrays[0])} entries, got {array.shape}"
            )
    return np.stack(arrays, axis=1)


def _check_values(values: Any, names: Sequence[str]) -> np.ndarray:
    x = np.asarray(values, np.float64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(
            f"values must have shape (N, {len(names)}) with columns {list(names)}, got {x.shape}"
        )
    finite = np.isfinite(x)
    if not np.all(finite):
        bad = [names[j] for j in np.flatnonzero(~np.all(finite, axis=0))]
        raise ValueError(f"non-finite values in the input columns {bad}")
    return x


def _check_kinematics(et: Any, eta: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for name, array in (("et", et), ("eta", eta)):
        a = np.asarray(array, np.float64)
        if a.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},) like values, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has non-finite values")
        out.append(a)
    return out[0], out[1]


def _check_labels(name: str, labels: Any, n: int) -> np.ndarray:
    a = np.asarray(labels)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like values, got {a.shape}")
    if a.dtype != bool and not np.all((a == 0) | (a == 1)):
        raise ValueError(f"{name} must be boolean (or 0/1)")
    return a.astype(bool)


def _check_weight(weight: Any, n: int) -> np.ndarray:
    if weight is None:
        return np.ones(n)
    w = np.asarray(weight, np.float64)
    if w.shape != (n,):
        raise ValueError(f"weight must have shape ({n},) like values, got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weight must be finite and non-negative")
    return w


def _check_edges(name: str, edges: Sequence[float]) -> tuple[float, ...]:
    e = tuple(float(v) for v in edges)
    if len(e) < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError(f"{name} must be at least two finite, strictly ascending values")
    return e


def _check_variables(variables: Sequence[str]) -> tuple[str, ...]:
    if isinstance(variables, str):
        raise ValueError("variables must be a sequence of variable names, not a string")
    names = tuple(str(v) for v in variables)
    unknown = [v for v in names if v not in LIKELIHOOD_VARIABLES]
    if unknown:
        raise ValueError(
            f"unknown LLH variables {unknown}; expected some of {LIKELIHOOD_VARIABLES}"
        )
    if not names or len(set(names)) != len(names):
        raise ValueError(f"variables must be non-empty and without repeats, got {list(names)}")
    return names


def _kinematic_bins(
    et: np.ndarray, eta: np.ndarray, et_edges: Sequence[float], abs_eta_edges: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E_T bin, |η| bin (clipped into range) and whether the candidate is inside the range."""
    abs_eta = np.abs(eta)
    n_et, n_eta = len(et_edges) - 1, len(abs_eta_edges) - 1
    et_bin = np.searchsorted(et_edges, et, side="right") - 1
    eta_bin = np.searchsorted(abs_eta_edges, abs_eta, side="right") - 1
    inside = (et_bin >= 0) & (eta_bin >= 0) & (eta_bin < n_eta)
    return np.clip(et_bin, 0, n_et - 1), np.clip(eta_bin, 0, n_eta - 1), inside


def _variable_columns(x: np.ndarray, eta: np.ndarray, variables: Sequence[str]) -> list:
    columns = []
    for name in variables:
        if name == "rhad":
            columns.append(combined_rhad(x[:, 0], x[:, 1], eta))
        else:
            columns.append(x[:, LIKELIHOOD_INPUTS.index(name)])
    return columns


def _quantile_edges(x: np.ndarray, w: np.ndarray, n_bins: int) -> np.ndarray:
    """Weighted quantiles at j / n_bins (smallest value with cumulative fraction ≥ p)."""
    order = np.argsort(x, kind="stable")
    xs, cw = x[order], np.cumsum(w[order])
    p = np.arange(1, n_bins) / n_bins
    index = np.minimum(np.searchsorted(cw, p * cw[-1], side="left"), len(xs) - 1)
    edges = np.unique(np.concatenate([xs[:1], xs[index], xs[-1:]]))
    if len(edges) < 2:
        half = 0.5 * max(1.0, abs(float(edges[0])))
        edges = np.array([edges[0] - half, edges[0] + half])
    return edges


def _value_bins(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Value bin ``[e_k, e_k+1)`` of each x, the last closed; out-of-range to the end bins."""
    return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)


def _floored_pdf(h: np.ndarray, mean_weight: Any, alpha: float) -> np.ndarray:
    """``(h_k + α w̄) / (Σ h + α w̄ K)`` along the last axis."""
    floor = alpha * np.asarray(mean_weight, np.float64)[..., None]
    return (h + floor) / (h.sum(axis=-1, keepdims=True) + floor * h.shape[-1])
