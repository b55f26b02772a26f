"""The detector's exact mirror symmetries as data augmentation of the electron networks.

Two reflections map a candidate of the simulated detector onto another candidate that the
same detector records, with the same truth class:

``"eta"`` — η → −η (the mirror z → −z)
    The calorimeter of :mod:`egamma_cnn.geometry` is built from |η| regions with both
    sides implied, the tracker of :mod:`egamma_cnn.sim.tracker` has the same disks at ±z,
    the luminous region is centred on z = 0 (:data:`egamma_cnn.sim.generator.
    BEAM_SPOT_SIGMA_Z_MM`), the material maps depend on |η|, and the solenoid field B_z
    (an axial vector) is unchanged by z → −z, so tracks bend the same way and the charge
    is unchanged. Two identical proton beams make the samples symmetric under z → −z.
``"phi"`` — φ → −φ with every charge flipped (the mirror y → −y, then charge conjugation)
    The reflection y → −y reverses B_z; a particle of opposite charge in the unreflected
    field follows exactly the reflected trajectory, so the reflected event with all
    charges flipped is one that the detector records. The curvature signs (charge, d0,
    ⟨q⟩, q·|d0|) flip with the charge; charge-signed variables (q·Δφ) stay. The
    physics is symmetric up to what charge conjugation changes: e⁺ annihilation, π⁺/π⁻
    cross-sections, the charge asymmetry of pp collisions — small differences that the
    simulation models at most partly. The truth classes (prompt, charge-flip, …) are
    unchanged: a charge-flip stays a charge-flip when the true and measured charges both flip.

How each input transforms (sign −1: the value changes sign; ↔: the axis is reversed; the
window of every image is centred on the centre cell, ``docs/INPUTS.md`` §1):

=============================  ==========  ==========  =====================================
input                          η → −η      φ → −φ      why
=============================  ==========  ==========  =====================================
``coarse`` (18, 7, 11)         η axis ↔    φ axis ↔    windows [i_c−3, i_c+4) × [j_c−5, j_c+6)
                                                       of the middle-layer grid are centred
                                                       on cell (i_c, j_c), and the mirrored
                                                       cluster lies in cell (−1−i_c,
                                                       255−j_c); cell edges (integer
                                                       multiples of 0.025/24 from η = 0 and
                                                       of 2π/256 from φ = −π, 256 even) map
                                                       onto cell edges; the closed
                                                       centre-in-window rule and the overlap
                                                       sharing are mirror-symmetric.
                                                       Pixel i → 6 − i (η), k → 10 − k (φ).
``fine`` (1, 56, 11)           η axis ↔    φ axis ↔    the same window at 0.025/8 in η:
                                                       pixel i → 55 − i, k → 10 − k
``tracks`` p_over_e            +           +           p and E are invariant
``tracks`` deta                −1          +           η_j − η_b
``tracks`` dphi                +           −1          wrap(φ_j − φ_b)
``tracks`` nPixel/SCT/TRTHits  +           +           the tracker is symmetric
``tracks`` d0                  +           −1          ATLAS sign: PCA = (−d0 sin φ0, d0 cos φ0);
                                                       d0 = −q̂(D − R) with D − R invariant
``tracks`` d0Err, chi2, ndof   +           +           fit quality
``tracks`` z0                  −1          +           z of the perigee
``tracks`` charge              +           −1          the φ mirror flips every charge
``tracks`` vtxIdx              +           +           vertices are ordered by Σp_T²
HLV ``eta``                    −1          +           η_cluster
HLV ``deltaEta1``              −1          +           η_cluster(strips) − η_track(calo)
HLV ``deltaPhiRescaled2``      +           +           q·Δφ: q and Δφ both flip under φ
HLV ``d0``, ``d0sig``          +           −1          d0 flips (above), σ(d0) does not
HLV ``qd0sig``                 +           −1          q·|d0|/σ(d0): q flips, |d0| does not
HLV ``qSCTw``                  +           −1          Σ q_j n_SCT,j / Σ n_SCT,j
other HLVs and features        +           +           shower shapes (energy ratios and
                                                       widths in windows symmetric about the
                                                       centre or hottest cell), hit counts,
                                                       E/p, E_T, Δp/p, eProbabilityHT,
                                                       isolation cone sums, energy-flow
                                                       observables (pairwise distances)
=============================  ==========  ==========  =====================================

The transforms act on the *raw* inputs (the arrays of ``egamma-cnn prepare`` and the
untransformed HLVs); the HLVs' quantile transform (:class:`~egamma_cnn.model.
preprocessing.QuantileTable`) comes afterwards, since it is not odd (its table is fitted on
a sample whose η distribution is only statistically symmetric). The networks' own input
scaling commutes with the transforms: images are divided by their total energy (invariant
under a permutation of pixels), track features by positive per-feature scales.

Exactness. On the inputs built by :mod:`egamma_cnn.images` and :mod:`egamma_cnn.features`
from a mirrored event, the transforms above are exact (``tests/test_augmentation.py``
rebuilds the inputs from mirrored cells, tracks and candidates and compares), except in
cases of measure zero: a cluster exactly on a cell edge (its centre cell is the upper one
on both sides); a track Δφ of exactly −π (the wrap gives [−π, π)); exact energy ties
where a feature picks the hottest cell; float rounding at the level of 10⁻⁷ in features
that sum float64 cell centres. Inputs without a rule (the photon images, unknown feature
names) are refused, never passed through untransformed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from egamma_cnn.features import (
    CALO_ISOLATION_NAMES,
    ENERGY_FLOW_NAMES,
    ISOLATION_NAMES,
    SHOWER_SHAPE_NAMES,
    TRACK_VARIABLE_NAMES,
)
from egamma_cnn.images import TRACK_FEATURES
from egamma_cnn.model.preprocessing import QuantileTable

__all__ = [
    "AUGMENT_CHOICES",
    "FEATURE_SIGNS",
    "IMAGE_AXES",
    "SYMMETRIES",
    "TRACK_FEATURE_SIGNS",
    "ElectronAugmentation",
    "draw_flips",
    "mirror_inputs",
    "parse_symmetries",
]

#: The two mirror symmetries, in canonical order.
SYMMETRIES: tuple[str, ...] = ("eta", "phi")
#: Values accepted by :func:`parse_symmetries` as one word (``--augment``).
AUGMENT_CHOICES: tuple[str, ...] = ("none", "eta", "phi", "both")

_EVEN = (1, 1)
_ODD_ETA = (-1, 1)
_ODD_PHI = (1, -1)

#: Batch axis (0 = candidates) reversed by each symmetry, per image input.
IMAGE_AXES: dict[str, dict[str, int]] = {
    "coarse": {"eta": 2, "phi": 3},  # (N, 18 channels, 7 η, 11 φ)
    "fine": {"eta": 2, "phi": 3},  # (N, 1, 56 η, 11 φ)
}

#: (sign under η → −η, sign under φ → −φ with the charge flipped) of each track feature.
TRACK_FEATURE_SIGNS: dict[str, tuple[int, int]] = {
    "p_over_e": _EVEN,
    "deta": _ODD_ETA,
    "dphi": _ODD_PHI,
    "nPixelHits": _EVEN,
    "nSCTHits": _EVEN,
    "nTRTHits": _EVEN,
    "d0": _ODD_PHI,
    "d0Err": _EVEN,
    "z0": _ODD_ETA,
    "charge": _ODD_PHI,
    "chi2": _EVEN,
    "ndof": _EVEN,
    "vtxIdx": _EVEN,
}

_ODD_FEATURES = {
    "eta": _ODD_ETA,
    "deltaEta1": _ODD_ETA,
    "d0": _ODD_PHI,
    "d0sig": _ODD_PHI,
    "qd0sig": _ODD_PHI,
    "qSCTw": _ODD_PHI,
}
#: (sign under η → −η, sign under φ → −φ with the charge flipped) of every scalar
#: feature of :func:`egamma_cnn.features.electron_features` (the 26 HLVs among them).
FEATURE_SIGNS: dict[str, tuple[int, int]] = {
    **{
        name: _EVEN
        for name in (
            *SHOWER_SHAPE_NAMES,
            *ISOLATION_NAMES,
            *CALO_ISOLATION_NAMES,
            *ENERGY_FLOW_NAMES,
            *TRACK_VARIABLE_NAMES,
        )
    },
    **_ODD_FEATURES,
}
assert set(TRACK_FEATURE_SIGNS) == set(TRACK_FEATURES)


def parse_symmetries(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """The symmetries named by ``value``, in canonical order (:data:`SYMMETRIES`).

    Parameters
    ----------
    value
        One word of :data:`AUGMENT_CHOICES` (``"none"``, ``"eta"``, ``"phi"``, ``"both"``),
        a sequence of ``"eta"``/``"phi"`` (an empty one, or None: no augmentation).

    Raises
    ------
    ValueError
        For any other word or type; the message names the value and the choices.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        words = {"none": (), "both": SYMMETRIES}.get(value, (value,))
    elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        words = tuple(value)
    else:
        raise ValueError(
            f"augment must be one of {AUGMENT_CHOICES} or a tuple of them, not {value!r}"
        )
    unknown = [w for w in words if w not in SYMMETRIES]
    if unknown:
        raise ValueError(
            f"augment: unknown symmetry {unknown[0]!r}; choose from {AUGMENT_CHOICES} "
            f"(or a tuple of {SYMMETRIES})"
        )
    return tuple(s for s in SYMMETRIES if s in words)


def _signs(table: Mapping[str, tuple[int, int]], names: Sequence[str], what: str) -> np.ndarray:
    """``float32[2, len(names)]``: the sign of each name under η (row 0) and φ (row 1)."""
    missing = [n for n in names if n not in table]
    if missing:
        raise ValueError(
            f"no mirror-symmetry rule for the {what} {missing}; augmentation knows {sorted(table)}"
        )
    return np.array([table[n] for n in names], np.float32).T.copy()


def _flip_axis(array: np.ndarray, flip: np.ndarray, axis: int) -> np.ndarray:
    """``array`` with ``axis`` reversed for the candidates where ``flip`` is true."""
    mask = flip.reshape((-1,) + (1,) * (array.ndim - 1))
    return np.where(mask, np.flip(array, axis=axis), array)


def _as_mask(flip: np.ndarray | bool, n: int, name: str) -> np.ndarray:
    mask = np.broadcast_to(np.asarray(flip, bool), (n,)) if np.ndim(flip) == 0 else flip
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (n,):
        raise ValueError(f"{name} must be a bool or bool[{n}], got {mask.dtype}{list(mask.shape)}")
    return mask


def mirror_inputs(
    inputs: Mapping[str, np.ndarray],
    flip_eta: np.ndarray | bool,
    flip_phi: np.ndarray | bool,
    hlv_names: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Apply η → −η and/or φ → −φ (with the charge) to raw electron inputs, per candidate.

    Parameters
    ----------
    inputs
        Name → raw batch (first axis candidates): ``coarse`` (N, 18, 7, 11), ``fine``
        (N, 1, 56, 11), ``tracks`` (N, 5, 13) in :data:`~egamma_cnn.images.TRACK_FEATURES`
        order, ``hlv`` (N, F) *before* the quantile transform.
    flip_eta, flip_phi
        Per candidate (``bool[N]``) or for all (a bool): which mirrors to apply.
    hlv_names
        The F feature names of ``hlv`` (needed when ``hlv`` is given).

    Returns
    -------
    dict of str to numpy.ndarray
        New arrays of the same names, shapes and dtypes (the inputs are not modified).
        Applying the same flips twice gives the inputs back exactly.

    Raises
    ------
    ValueError
        An input name or feature name without a rule (the table in the module docstring),
        a shape other than above, or flips of the wrong shape.
    """
    out: dict[str, np.ndarray] = {}
    for name, array in inputs.items():
        array = np.asarray(array)
        n = len(array)
        masks = {
            "eta": _as_mask(flip_eta, n, "flip_eta"),
            "phi": _as_mask(flip_phi, n, "flip_phi"),
        }
        if name in IMAGE_AXES:
            if array.ndim != 4:
                raise ValueError(f"input {name!r} must be (N, channels, η, φ), got {array.shape}")
            for symmetry, axis in IMAGE_AXES[name].items():
                array = _flip_axis(array, masks[symmetry], axis)
            out[name] = array
            continue
        if name == "tracks":
            if array.ndim != 3 or array.shape[2] != len(TRACK_FEATURES):
                raise ValueError(
                    f"input 'tracks' must be (N, slots, {len(TRACK_FEATURES)}), got {array.shape}"
                )
            signs = _signs(TRACK_FEATURE_SIGNS, TRACK_FEATURES, "track features")
        elif name == "hlv":
            if hlv_names is None:
                raise ValueError("mirror_inputs: the 'hlv' input needs hlv_names")
            if array.ndim != 2 or array.shape[1] != len(hlv_names):
                raise ValueError(
                    f"input 'hlv' must be (N, {len(hlv_names)}) for hlv_names, got {array.shape}"
                )
            signs = _signs(FEATURE_SIGNS, tuple(hlv_names), "high-level variables")
        else:
            raise ValueError(
                f"no mirror-symmetry rule for the input {name!r}; augmentation knows "
                f"{sorted([*IMAGE_AXES, 'tracks', 'hlv'])} (the electron networks)"
            )
        # factor[k, feature]: the product of the signs of the mirrors applied to candidate k
        factor = np.where(masks["eta"][:, None], signs[0], 1) * np.where(
            masks["phi"][:, None], signs[1], 1
        )
        if array.ndim == 3:
            factor = factor[:, None, :]
        out[name] = (array * factor.astype(array.dtype)).astype(array.dtype, copy=False)
    return out


def draw_flips(
    rng: np.random.Generator, n: int, symmetries: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Independent fair coin per candidate and symmetry: ``(flip_eta, flip_phi)``, bool[n].

    A symmetry not in ``symmetries`` is never applied (and draws nothing); with both, each
    of the four mirror images (identity, η, φ, both) has probability 1/4.
    """
    flips = {s: np.zeros(n, bool) for s in SYMMETRIES}
    for symmetry in parse_symmetries(tuple(symmetries)):
        flips[symmetry] = rng.random(n) < 0.5
    return flips["eta"], flips["phi"]


@dataclass(frozen=True)
class ElectronAugmentation:
    """Per-batch augmentation of the electron networks' training inputs.

    Called by :func:`egamma_cnn.train.trainer.fit` on every training batch: draws the
    mirrors of each candidate (:func:`draw_flips`), applies them to the raw batch
    (:func:`mirror_inputs`), then the HLVs' quantile transform.

    Attributes
    ----------
    symmetries
        A subset of :data:`SYMMETRIES` (any form :func:`parse_symmetries` accepts).
    hlv_names
        Names of the columns of the raw ``hlv`` input.
    hlv_table
        The quantile table applied to ``hlv`` after mirroring (None: left raw).
    """

    symmetries: tuple[str, ...]
    hlv_names: tuple[str, ...]
    hlv_table: QuantileTable | None = None

    def __post_init__(self) -> None:
        symmetries = parse_symmetries(self.symmetries)
        if not symmetries:
            raise ValueError("ElectronAugmentation needs at least one symmetry ('eta', 'phi')")
        object.__setattr__(self, "symmetries", symmetries)
        object.__setattr__(self, "hlv_names", tuple(self.hlv_names))
        _signs(FEATURE_SIGNS, self.hlv_names, "high-level variables")  # refuse early
        if self.hlv_table is not None and tuple(self.hlv_table.names) != self.hlv_names:
            raise ValueError(
                f"the quantile table is for {list(self.hlv_table.names)}, not the "
                f"hlv_names {list(self.hlv_names)}"
            )

    def __call__(
        self, batch: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """The mirrored (and, for ``hlv``, quantile-transformed) batch."""
        n = len(next(iter(batch.values())))
        flip_eta, flip_phi = draw_flips(rng, n, self.symmetries)
        out = mirror_inputs(batch, flip_eta, flip_phi, self.hlv_names)
        if "hlv" in out and self.hlv_table is not None:
            out["hlv"] = self.hlv_table.transform(out["hlv"])
        return out
