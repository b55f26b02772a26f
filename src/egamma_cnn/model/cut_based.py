"""Cut-based photon identification (Loose and Tight menus), a baseline for the photon CNN.

Franco's photon-ID talk Table 1 lists the discriminating variables of the ATLAS cut-based *loose*
and
*tight* photon identification. Each variable gets a one-sided cut, in the direction in
which prompt photons (narrow electromagnetic showers, no hadronic leakage, a single
maximum in the strips) differ from fakes (:data:`CUT_DIRECTIONS`):

* loose menu: R_had (upper), R_η (lower), w_η2 (upper);
* tight menu: the loose variables plus R_φ (lower), w_s3 (upper), w_s,tot (upper),
  f_side (upper), ΔE_s (upper) and E_ratio (lower).

``rhad`` is the ATLAS combined hadronic leakage: the caller passes both columns of
:data:`PHOTON_CUT_INPUTS` and ``rhad1`` is used for |η| < 0.8 or |η| > 1.37, ``rhad`` for
0.8 ≤ |η| ≤ 1.37 (Table 1; :func:`~egamma_cnn.model.likelihood.combined_rhad`). Table 1
also lists f_1, which ATLAS uses only to decide whether the strip cuts apply (f_1 > 0.005);
it is not a cut here.

Acceptance (Table 1): |η| < 2.37 with 1.37 ≤ |η| < 1.52 excluded; photons outside it fail
every menu, as do photons outside the E_T × |η| binning of the cuts.

How the cuts are fitted (:meth:`CutBasedPhotonID.fit`). ATLAS optimises the cuts in bins
of |η| with TMVA; our reproducible stand-in, in each E_T × |η| bin (one E_T bin by
default) and for each menu, puts every variable of the menu at the *same one-sided
prompt-photon quantile* q, and chooses q so that the combined (all cuts of the menu)
weighted prompt-photon efficiency of the bin reaches the menu's target:

* for an upper cut, ``c_v(q)`` is the smallest prompt value whose weighted cumulative
  fraction (from below) is ≥ q, and a photon passes iff ``x_v ≤ c_v(q)``; for a lower cut
  the same from above, and a photon passes iff ``x_v ≥ c_v(q)``; either way the cut alone
  keeps a weighted fraction ≥ q of the bin's prompt photons;
* the combined efficiency ε(q) is a non-decreasing step function of q; q is its exact
  crossing of the target (the limit a bisection on q converges to): the smallest
  attainable ε(q) ≥ target, q taken mid-way along the step where that happens, so the
  achieved efficiency exceeds the target by at most one step (one photon's weight over
  the bin's prompt weight); :attr:`CutBasedPhotonID.efficiency` records it;
* menus whose variables contain those of another menu (tight ⊃ loose) are nested: their
  cuts on the shared variables are never looser than the other menu's, and ε(q) is
  computed with those tightened cuts; hence every tight photon is loose, and the tight
  target must not exceed the loose one.

Bins with fewer than ``min_signal`` prompt photons (unweighted number with positive
weight) take the cuts fitted on the prompt photons of all bins inside the acceptance
together; ``from_inclusive`` records which bins.

Defined behaviour: non-finite inputs (values, E_T or η) raise ValueError naming the column;
weights must be finite and non-negative (zero-weight photons are ignored by the fit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.model.likelihood import (
    _check_edges,
    _check_kinematics,
    _check_labels,
    _check_values,
    _check_weight,
    _kinematic_bins,
    _stack_columns,
    combined_rhad,
)

__all__ = [
    "ACCEPTANCE_ABS_ETA_MAX",
    "CRACK_ABS_ETA",
    "CUT_DIRECTIONS",
    "DEFAULT_PHOTON_ABS_ETA_EDGES",
    "DEFAULT_PHOTON_ET_EDGES",
    "DEFAULT_PHOTON_TARGETS",
    "PHOTON_CUT_INPUTS",
    "PHOTON_CUT_VARIABLES",
    "PHOTON_MENUS",
    "CutBasedPhotonID",
    "in_photon_acceptance",
    "photon_cut_inputs",
]

#: Columns of the ``values`` array.
PHOTON_CUT_INPUTS: tuple[str, ...] = (
    "rhad1",
    "rhad",
    "reta",
    "weta2",
    "rphi",
    "ws3",
    "wstot",
    "fside",
    "deltae",
    "eratio",
)
#: The cut variables (``rhad`` combined from ``rhad1`` and ``rhad`` by |η|).
PHOTON_CUT_VARIABLES: tuple[str, ...] = (
    "rhad",
    "reta",
    "weta2",
    "rphi",
    "ws3",
    "wstot",
    "fside",
    "deltae",
    "eratio",
)
#: Cut direction of each variable: "upper" passes x ≤ cut, "lower" passes x ≥ cut.
CUT_DIRECTIONS: dict[str, str] = {
    "rhad": "upper",
    "reta": "lower",
    "weta2": "upper",
    "rphi": "lower",
    "ws3": "upper",
    "wstot": "upper",
    "fside": "upper",
    "deltae": "upper",
    "eratio": "lower",
}
#: Variables of each menu (Franco's photon-ID talk Table 1).
PHOTON_MENUS: dict[str, tuple[str, ...]] = {
    "loose": ("rhad", "reta", "weta2"),
    "tight": PHOTON_CUT_VARIABLES,
}
#: Target prompt-photon efficiency of each menu in every bin.
DEFAULT_PHOTON_TARGETS: dict[str, float] = {"loose": 0.97, "tight": 0.85}
#: |η| bin edges of the cuts (ATLAS photon ID binning; 1.37–1.52 is the excluded crack).
DEFAULT_PHOTON_ABS_ETA_EDGES: tuple[float, ...] = (
    0.0,
    0.6,
    0.8,
    1.15,
    1.37,
    1.52,
    1.81,
    2.01,
    2.37,
)
#: E_T bin edges (GeV): a single bin, all E_T ≥ 0 (the last edge only bounds the JSON;
#: E_T above it uses the last bin).
DEFAULT_PHOTON_ET_EDGES: tuple[float, ...] = (0.0, 1.0e5)
#: Photons need |η| below this (Franco's photon-ID talk Table 1) ...
ACCEPTANCE_ABS_ETA_MAX: float = 2.37
#: ... and outside this half-open |η| range [1.37, 1.52) (the barrel–end-cap crack).
CRACK_ABS_ETA: tuple[float, float] = (1.37, 1.52)


def in_photon_acceptance(eta: np.ndarray) -> np.ndarray:
    """|η| < 2.37 and not 1.37 ≤ |η| < 1.52 (Franco's photon-ID talk Table 1)."""
    abs_eta = np.abs(np.asarray(eta, np.float64))
    crack = (abs_eta >= CRACK_ABS_ETA[0]) & (abs_eta < CRACK_ABS_ETA[1])
    return (abs_eta < ACCEPTANCE_ABS_ETA_MAX) & ~crack


def photon_cut_inputs(columns: Mapping[str, Any]) -> np.ndarray:
    """Stack named columns (e.g. shower-shape fields) into the ``(N, 10)`` values array."""
    return _stack_columns(columns, PHOTON_CUT_INPUTS)


@dataclass(frozen=True)
class CutBasedPhotonID:
    """Fitted cut-based photon identification.

    Attributes
    ----------
    targets : dict of str to float
        Target prompt-photon efficiency of each menu.
    menus : dict of str to tuple of str
        Variables cut on by each menu (from :data:`PHOTON_CUT_VARIABLES`).
    et_edges, abs_eta_edges : tuple of float
        E_T (GeV) and |η| bin edges of the cuts.
    cuts : dict of str to numpy.ndarray
        Per menu ``float64[n_et_bins, n_eta_bins, len(menus[menu])]``: the cut on each
        variable of the menu, in the menu's order, applied as :data:`CUT_DIRECTIONS`.
    quantile : dict of str to numpy.ndarray
        Per menu ``float64[n_et_bins, n_eta_bins]``: the common one-sided quantile q.
    efficiency : dict of str to numpy.ndarray
        Per menu ``float64[n_et_bins, n_eta_bins]``: the weighted prompt efficiency the
        cuts reached on the sample they were fitted on (the inclusive sample where
        ``from_inclusive``).
    from_inclusive : numpy.ndarray
        ``bool[n_et_bins, n_eta_bins]``: bins whose cuts came from all bins together
        (always so for bins wholly outside the acceptance, whose cuts are never used).
    n_prompt : numpy.ndarray
        ``int64[n_et_bins, n_eta_bins]``: prompt photons (positive weight) in each bin.
    """

    targets: dict[str, float]
    menus: dict[str, tuple[str, ...]]
    et_edges: tuple[float, ...]
    abs_eta_edges: tuple[float, ...]
    cuts: dict[str, np.ndarray]
    quantile: dict[str, np.ndarray]
    efficiency: dict[str, np.ndarray]
    from_inclusive: np.ndarray
    n_prompt: np.ndarray

    def __post_init__(self) -> None:
        menus = _check_menus(self.menus)
        targets = _check_targets(self.targets, menus)
        et_edges = _check_edges("et_edges", self.et_edges)
        abs_eta_edges = _check_edges("abs_eta_edges", self.abs_eta_edges)
        if abs_eta_edges[0] < 0:
            raise ValueError(f"abs_eta_edges must start at ≥ 0, got {abs_eta_edges[0]}")
        shape = (len(et_edges) - 1, len(abs_eta_edges) - 1)
        per_menu = {}
        for key, trailing in (("cuts", True), ("quantile", False), ("efficiency", False)):
            table = getattr(self, key)
            if set(table) != set(targets):
                raise ValueError(
                    f"{key} must name the menus of targets {sorted(targets)}, got {sorted(table)}"
                )
            per_menu[key] = {}
            for menu in targets:
                array = np.asarray(table[menu], np.float64)
                want = (*shape, len(menus[menu])) if trailing else shape
                if array.shape != want:
                    raise ValueError(f"{key}[{menu!r}] must have shape {want}, got {array.shape}")
                if not np.all(np.isfinite(array)):
                    raise ValueError(f"{key}[{menu!r}] has non-finite values")
                per_menu[key][menu] = array
        from_inclusive = np.asarray(self.from_inclusive, bool)
        n_prompt = np.asarray(self.n_prompt, np.int64)
        for name, array in (("from_inclusive", from_inclusive), ("n_prompt", n_prompt)):
            if array.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "menus", {m: menus[m] for m in targets})
        object.__setattr__(self, "et_edges", et_edges)
        object.__setattr__(self, "abs_eta_edges", abs_eta_edges)
        for key, table in per_menu.items():
            object.__setattr__(self, key, table)
        object.__setattr__(self, "from_inclusive", from_inclusive)
        object.__setattr__(self, "n_prompt", n_prompt)

    @classmethod
    def fit(
        cls,
        values: np.ndarray,
        et: np.ndarray,
        eta: np.ndarray,
        is_prompt: np.ndarray,
        *,
        targets: Mapping[str, float] = DEFAULT_PHOTON_TARGETS,
        menus: Mapping[str, Sequence[str]] = PHOTON_MENUS,
        et_edges: Sequence[float] = DEFAULT_PHOTON_ET_EDGES,
        abs_eta_edges: Sequence[float] = DEFAULT_PHOTON_ABS_ETA_EDGES,
        weight: np.ndarray | None = None,
        min_signal: int = 100,
    ) -> CutBasedPhotonID:
        """Fit the cuts of each menu on the prompt photons of a sample.

        Parameters
        ----------
        values : array_like
            ``(N, 10)``: the columns :data:`PHOTON_CUT_INPUTS`, in that order.
        et, eta : array_like
            ``(N,)``: E_T (GeV) and η (signed; |η| is used).
        is_prompt : array_like
            ``(N,)`` bool: prompt photon (signal) or not. Only prompt photons enter the
            fit; the others are accepted so that a labelled sample can be passed whole.
        targets : mapping of str to float
            Target efficiency in (0, 1] of each menu to fit (keys of ``menus``).
        menus : mapping of str to sequence of str
            Variables of each menu.
        et_edges, abs_eta_edges : sequence of float
            Binning of the cuts.
        weight : array_like, optional
            ``(N,)`` finite, non-negative weights; 1 by default.
        min_signal : int
            Bins with fewer prompt photons take the inclusive cuts.
        """
        x = _check_values(values, PHOTON_CUT_INPUTS)
        n = len(x)
        et, eta = _check_kinematics(et, eta, n)
        is_prompt = _check_labels("is_prompt", is_prompt, n)
        weight = _check_weight(weight, n)
        menus = _check_menus(menus)
        targets = _check_targets(targets, menus)
        menus = {m: menus[m] for m in targets}
        et_edges = _check_edges("et_edges", et_edges)
        abs_eta_edges = _check_edges("abs_eta_edges", abs_eta_edges)
        if abs_eta_edges[0] < 0:
            raise ValueError(f"abs_eta_edges must start at ≥ 0, got {abs_eta_edges[0]}")
        if int(min_signal) != min_signal or min_signal < 0:
            raise ValueError(f"min_signal must be a non-negative integer, got {min_signal}")
        order = _fit_order(menus, targets)

        et_bin, eta_bin, inside = _kinematic_bins(et, eta, et_edges, abs_eta_edges)
        shape = (len(et_edges) - 1, len(abs_eta_edges) - 1)
        use = inside & in_photon_acceptance(eta) & is_prompt & (weight > 0)
        if not np.any(use):
            raise ValueError(
                "no prompt photons with positive weight inside the acceptance and the "
                "E_T × |η| binning to fit cuts on"
            )
        y = _signed_columns(x, eta)[use]  # every cut becomes an upper cut on y
        w = weight[use]
        group = (et_bin * shape[1] + eta_bin)[use]
        n_prompt = np.bincount(group, minlength=shape[0] * shape[1]).reshape(shape)
        from_inclusive = (n_prompt < min_signal) | (n_prompt == 0)

        inclusive = _fit_bin(y, w, menus, targets, order)
        cuts = {m: np.empty((*shape, len(menus[m]))) for m in targets}
        quantile = {m: np.empty(shape) for m in targets}
        efficiency = {m: np.empty(shape) for m in targets}
        sort = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[sort], np.arange(shape[0] * shape[1] + 1))
        for b in range(shape[0] * shape[1]):  # loop over bins (tens), not photons
            i, j = divmod(b, shape[1])
            if from_inclusive[i, j]:
                result = inclusive
            else:
                rows = sort[starts[b] : starts[b + 1]]
                result = _fit_bin(y[rows], w[rows], menus, targets, order)
            for m, (cut, q, eff) in result.items():
                cuts[m][i, j], quantile[m][i, j], efficiency[m][i, j] = cut, q, eff
        signs = {m: np.array([_SIGN[v] for v in menus[m]]) for m in menus}
        cuts = {m: cut * signs[m] for m, cut in cuts.items()}  # back to the variables' sign
        return cls(
            targets=targets,
            menus=menus,
            et_edges=et_edges,
            abs_eta_edges=abs_eta_edges,
            cuts=cuts,
            quantile=quantile,
            efficiency=efficiency,
            from_inclusive=from_inclusive,
            n_prompt=n_prompt,
        )

    def cut_values(self, menu: str, et: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """``(N, len(menus[menu]))``: the cuts of ``menu`` in each photon's bin."""
        if menu not in self.cuts:
            raise KeyError(f"no menu {menu!r}; have {sorted(self.cuts)}")
        et, eta = _check_kinematics(et, eta, len(np.asarray(et)))
        et_bin, eta_bin, _ = _kinematic_bins(et, eta, self.et_edges, self.abs_eta_edges)
        return self.cuts[menu][et_bin, eta_bin]

    def passes(self, menu: str, values: np.ndarray, et: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Boolean per photon: inside the acceptance and the binning, and passes every cut.

        Parameters
        ----------
        menu : str
            A menu of :attr:`menus` (``"loose"``, ``"tight"``).
        values : array_like
            ``(N, 10)``: the columns :data:`PHOTON_CUT_INPUTS`.
        et, eta : array_like
            ``(N,)``: E_T (GeV) and η.
        """
        if menu not in self.cuts:
            raise KeyError(f"no menu {menu!r}; have {sorted(self.cuts)}")
        x = _check_values(values, PHOTON_CUT_INPUTS)
        et, eta = _check_kinematics(et, eta, len(x))
        et_bin, eta_bin, inside = _kinematic_bins(et, eta, self.et_edges, self.abs_eta_edges)
        ok = inside & in_photon_acceptance(eta)
        cut = self.cuts[menu][et_bin, eta_bin]
        columns = _columns(x, eta)
        for j, name in enumerate(self.menus[menu]):  # loop over the ≤ 9 variables
            value = columns[name]
            ok &= value <= cut[:, j] if CUT_DIRECTIONS[name] == "upper" else value >= cut[:, j]
        return ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the cuts."""
        return {
            "targets": dict(self.targets),
            "menus": {m: list(v) for m, v in self.menus.items()},
            "directions": {v: CUT_DIRECTIONS[v] for v in PHOTON_CUT_VARIABLES},
            "et_edges": list(self.et_edges),
            "abs_eta_edges": list(self.abs_eta_edges),
            "cuts": {m: c.tolist() for m, c in self.cuts.items()},
            "quantile": {m: q.tolist() for m, q in self.quantile.items()},
            "efficiency": {m: e.tolist() for m, e in self.efficiency.items()},
            "from_inclusive": self.from_inclusive.tolist(),
            "n_prompt": self.n_prompt.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CutBasedPhotonID:
        """Inverse of :meth:`to_dict` (``directions`` must match :data:`CUT_DIRECTIONS`)."""
        try:
            directions = data.get("directions", CUT_DIRECTIONS)
            wrong = {v: d for v, d in directions.items() if CUT_DIRECTIONS.get(v) != d}
            if wrong:
                raise ValueError(
                    f"cut directions {wrong} differ from this version's {CUT_DIRECTIONS}"
                )
            return cls(
                targets={k: float(v) for k, v in data["targets"].items()},
                menus={k: tuple(v) for k, v in data["menus"].items()},
                et_edges=tuple(data["et_edges"]),
                abs_eta_edges=tuple(data["abs_eta_edges"]),
                cuts={k: np.asarray(v, np.float64) for k, v in data["cuts"].items()},
                quantile={k: np.asarray(v, np.float64) for k, v in data["quantile"].items()},
                efficiency={k: np.asarray(v, np.float64) for k, v in data["efficiency"].items()},
                from_inclusive=np.asarray(data["from_inclusive"], bool),
                n_prompt=np.asarray(data["n_prompt"], np.int64),
            )
        except KeyError as err:
            raise ValueError(f"cut-based photon ID is missing the key {err}") from None

    def save(self, path: str | Path) -> None:
        """Write the cuts as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> CutBasedPhotonID:
        """Read cuts written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


# ----------------------------------------------------------------------------- helpers

_SIGN: dict[str, float] = {v: 1.0 if d == "upper" else -1.0 for v, d in CUT_DIRECTIONS.items()}


def _check_menus(menus: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    out = {}
    for menu, variables in menus.items():
        if isinstance(variables, str):
            raise ValueError(f"variables of menu {menu!r} must be a sequence of names")
        names = tuple(str(v) for v in variables)
        unknown = [v for v in names if v not in CUT_DIRECTIONS]
        if unknown:
            raise ValueError(
                f"menu {menu!r} has unknown variables {unknown}; expected some of "
                f"{PHOTON_CUT_VARIABLES}"
            )
        if not names or len(set(names)) != len(names):
            raise ValueError(f"menu {menu!r} must list variables without repeats, got {names}")
        out[str(menu)] = names
    return out


def _check_targets(
    targets: Mapping[str, float], menus: Mapping[str, tuple[str, ...]]
) -> dict[str, float]:
    if not targets:
        raise ValueError("targets must name at least one menu")
    out = {}
    for menu, target in targets.items():
        if menu not in menus:
            raise ValueError(f"target for unknown menu {menu!r}; menus are {sorted(menus)}")
        if not 0.0 < float(target) <= 1.0:
            raise ValueError(f"target efficiency of {menu!r} must be in (0, 1], got {target}")
        out[str(menu)] = float(target)
    _fit_order(menus, out)  # checks the nesting
    return out


def _fit_order(
    menus: Mapping[str, tuple[str, ...]], targets: Mapping[str, float]
) -> list[tuple[str, list[str]]]:
    """Menus in fitting order, each with the earlier menus it contains (its parents)."""
    names = sorted(targets, key=lambda m: (len(menus[m]), -targets[m], m))
    order = []
    for k, menu in enumerate(names):
        parents = [p for p in names[:k] if set(menus[p]) <= set(menus[menu])]
        for p in parents:
            if targets[menu] > targets[p]:
                raise ValueError(
                    f"menu {menu!r} contains the variables of {p!r}, so its target "
                    f"({targets[menu]}) must not exceed {p!r}'s ({targets[p]})"
                )
        order.append((menu, parents))
    return order


def _columns(x: np.ndarray, eta: np.ndarray) -> dict[str, np.ndarray]:
    columns = {"rhad": combined_rhad(x[:, 0], x[:, 1], eta)}
    for name in PHOTON_CUT_VARIABLES[1:]:
        columns[name] = x[:, PHOTON_CUT_INPUTS.index(name)]
    return columns


def _signed_columns(x: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """``(N, 9)`` in :data:`PHOTON_CUT_VARIABLES` order, lower-cut variables negated."""
    columns = _columns(x, eta)
    return np.stack([_SIGN[v] * columns[v] for v in PHOTON_CUT_VARIABLES], axis=1)


def _fit_bin(
    y: np.ndarray,
    w: np.ndarray,
    menus: Mapping[str, tuple[str, ...]],
    targets: Mapping[str, float],
    order: list[tuple[str, list[str]]],
) -> dict[str, tuple[np.ndarray, float, float]]:
    """Cuts (on the signed variables, upper), q and efficiency of each menu in one bin.

    For each variable (upper cut on y): sorted values ``s``, cumulative weight fractions
    ``F`` (``F[-1] = 1``); ``c(q) = s[first k with F[k] ≥ q]``; a photon with ``j`` values
    strictly below its own passes iff ``r = F[j − 1] < q`` (``r = 0`` for ``j = 0``).
    A photon passes the menu iff it passes the parents and ``R = max_v r_v < q``.
    """
    total = w.sum()
    per_variable = {}
    for col, name in enumerate(PHOTON_CUT_VARIABLES):  # loop over the 9 variables
        values = y[:, col]
        sort = np.argsort(values, kind="stable")
        s = values[sort]
        cumulative = np.cumsum(w[sort])
        fraction = cumulative / cumulative[-1]
        r = np.concatenate([[0.0], fraction])[np.searchsorted(s, values, side="left")]
        per_variable[name] = (s, fraction, r)
    result: dict[str, tuple[np.ndarray, float, float]] = {}
    passed: dict[str, np.ndarray] = {}
    for menu, parents in order:
        variables = menus[menu]
        parent_ok = np.ones(len(y), bool)
        for p in parents:
            parent_ok &= passed[p]
        big_r = np.max([per_variable[v][2] for v in variables], axis=0)[parent_ok]
        sort = np.argsort(big_r, kind="stable")
        r_sorted = big_r[sort]
        cumulative = np.cumsum(w[parent_ok][sort]) / total
        k = min(
            int(np.searchsorted(cumulative, targets[menu] - 1e-12, side="left")),
            len(r_sorted) - 1,
        )
        above = r_sorted[r_sorted > r_sorted[k]]
        upper = above[0] if len(above) else 1.0
        q = min(0.5 * (r_sorted[k] + upper), 1.0)
        cut = np.empty(len(variables))
        for j, v in enumerate(variables):
            s, fraction, _ = per_variable[v]
            cut[j] = s[min(int(np.searchsorted(fraction, q, side="left")), len(s) - 1)]
            for p in parents:
                if v in menus[p]:
                    cut[j] = min(cut[j], result[p][0][menus[p].index(v)])
        ok = parent_ok.copy()
        for j, v in enumerate(variables):
            ok &= y[:, PHOTON_CUT_VARIABLES.index(v)] <= cut[j]
        passed[menu] = ok
        result[menu] = (cut, float(q), float(w[ok].sum() / total))
    return result
