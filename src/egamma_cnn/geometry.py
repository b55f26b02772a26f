"""ATLAS-like calorimeter geometry: layers, coverage, granularity and cell indexing.

This module is the single source of truth for the calorimeter that the simulation fills,
the sample files carry (``CaloCell_sampling``/``CaloCell_eta``/``CaloCell_phi``) and the
image builders read. Nothing else in the package hard-codes a granularity.

Definitions follow ATL-PHYS-PUB-2023-001 §2 ("ATLAS Detector") and SPEC.md
("Calorimeter geometry"):

* EM barrel |η| < 1.475, EM end-cap 1.375 < |η| < 3.2 (simulated up to 2.5), crack
  1.37 < |η| < 1.52.
* Presampler 0.025 × 0.1 (barrel |η| < 1.52, end-cap 1.5 < |η| < 1.8).
* EM layer 1 (strips): Δφ = 0.1; Δη = 0.025/8 for |η| < 1.8, 0.025/6 for 1.8–2.0,
  0.025/4 for 2.0–2.4 and 0.025 for 2.4–2.5.
* EM layer 2: 0.025 × 0.025.  EM layer 3: 0.050 × 0.025 (barrel |η| < 1.35 as in ATLAS).
* Tile |η| < 1.7: 0.1 × 0.1, last layer 0.2 × 0.1 (barrel |η| < 1.0, extended barrel
  0.8 < |η| < 1.7; the extended last layer spans 0.9–1.7 so that 0.2 divides it).
* HEC 1.5 < |η| < 2.5 (simulated range), 0.1 × 0.1, four layers.

Azimuthal segmentation is ``n_phi`` equal cells over 2π, as in ATLAS (Δφ = 2π/64 ≈ 0.098
for "0.1", 2π/256 ≈ 0.0245 for "0.025"); φ is in [-π, π) and wraps.

Cell numbering
--------------
Every layer is made of *regions*: an |η| interval on one side (η > 0 or η < 0) with one
Δη and one ``n_phi``. A region's cells are numbered ``base + i_eta * n_phi + i_phi`` where
``i_eta`` counts outward from the region's inner |η| edge and ``i_phi = floor((φ + π)/Δφ)``.
The global cell id is therefore a dense integer in ``[0, N_CELLS)`` that the numba kernels
use to index flat arrays. Sampling numbers are the ATLAS ``CaloSampling`` ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numba
import numpy as np

__all__ = [
    "EM_SAMPLINGS",
    "FIRST_HADRONIC_SAMPLINGS",
    "GEOMETRY_VERSION",
    "HADRONIC_SAMPLINGS",
    "LAYER_RADIUS_MM",
    "LAYER_Z_MM",
    "N_CELLS",
    "REGIONS",
    "STRIP_SAMPLINGS",
    "CaloSampling",
    "LayerRegion",
    "cell_center",
    "cell_centers",
    "cell_id",
    "cell_ids",
    "layer_coverage",
    "sampling_name",
    "transverse_distance_mm",
    "wrap_phi",
]

#: Version of this geometry. Trained models record it and refuse inputs built with
#: another one; it changes whenever a layer, coverage or granularity changes.
GEOMETRY_VERSION = "atlas-like-1"


class CaloSampling(IntEnum):
    """ATLAS CaloSampling numbering of the calorimeter layers used here."""

    PreSamplerB = 0
    EMB1 = 1
    EMB2 = 2
    EMB3 = 3
    PreSamplerE = 4
    EME1 = 5
    EME2 = 6
    EME3 = 7
    HEC0 = 8
    HEC1 = 9
    HEC2 = 10
    HEC3 = 11
    TileBar0 = 12
    TileBar1 = 13
    TileBar2 = 14
    TileExt0 = 18
    TileExt1 = 19
    TileExt2 = 20


#: Samplings of the electromagnetic calorimeter (presamplers included).
EM_SAMPLINGS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)
#: Strip (first EM) layers, barrel and end-cap.
STRIP_SAMPLINGS: tuple[int, ...] = (1, 5)
#: Samplings of the hadronic calorimeter.
HADRONIC_SAMPLINGS: tuple[int, ...] = (8, 9, 10, 11, 12, 13, 14, 18, 19, 20)
#: The first hadronic layer behind the EM calorimeter in each region (R_had1, ATL-PHYS-PUB-2023-001
#: Table 3).
FIRST_HADRONIC_SAMPLINGS: tuple[int, ...] = (8, 12, 18)

_PI = math.pi
_STRIP = 0.025 / 8.0


@dataclass(frozen=True)
class LayerRegion:
    """One |η| interval of one layer with uniform granularity (both sides are implied)."""

    sampling: int
    abs_eta_min: float
    abs_eta_max: float
    deta: float
    n_phi: int

    @property
    def n_eta(self) -> int:
        """Number of η cells on one side."""
        return round((self.abs_eta_max - self.abs_eta_min) / self.deta)

    @property
    def dphi(self) -> float:
        """Azimuthal cell size 2π/n_phi."""
        return 2.0 * _PI / self.n_phi


#: Uniform-granularity regions of every layer (one side; mirrored for η < 0).
REGIONS: tuple[LayerRegion, ...] = (
    LayerRegion(CaloSampling.PreSamplerB, 0.0, 1.525, 0.025, 64),
    LayerRegion(CaloSampling.EMB1, 0.0, 1.475, _STRIP, 64),
    LayerRegion(CaloSampling.EMB2, 0.0, 1.475, 0.025, 256),
    LayerRegion(CaloSampling.EMB3, 0.0, 1.35, 0.05, 256),
    LayerRegion(CaloSampling.PreSamplerE, 1.5, 1.8, 0.025, 64),
    LayerRegion(CaloSampling.EME1, 1.375, 1.8, _STRIP, 64),
    LayerRegion(CaloSampling.EME1, 1.8, 2.0, 0.025 / 6.0, 64),
    LayerRegion(CaloSampling.EME1, 2.0, 2.4, 0.025 / 4.0, 64),
    LayerRegion(CaloSampling.EME1, 2.4, 2.5, 0.025, 64),
    LayerRegion(CaloSampling.EME2, 1.375, 2.5, 0.025, 256),
    LayerRegion(CaloSampling.EME3, 1.5, 2.5, 0.05, 256),
    LayerRegion(CaloSampling.HEC0, 1.5, 2.5, 0.1, 64),
    LayerRegion(CaloSampling.HEC1, 1.5, 2.5, 0.1, 64),
    LayerRegion(CaloSampling.HEC2, 1.5, 2.5, 0.1, 64),
    LayerRegion(CaloSampling.HEC3, 1.5, 2.5, 0.1, 64),
    LayerRegion(CaloSampling.TileBar0, 0.0, 1.0, 0.1, 64),
    LayerRegion(CaloSampling.TileBar1, 0.0, 1.0, 0.1, 64),
    LayerRegion(CaloSampling.TileBar2, 0.0, 1.0, 0.2, 64),
    LayerRegion(CaloSampling.TileExt0, 0.8, 1.7, 0.1, 64),
    LayerRegion(CaloSampling.TileExt1, 0.8, 1.7, 0.1, 64),
    LayerRegion(CaloSampling.TileExt2, 0.9, 1.7, 0.2, 64),
)

# Flat region table used by the numba kernels: each entry of REGIONS appears twice,
# once per side (side = +1, then -1).
_n_tab = 2 * len(REGIONS)
_REG_SAMPLING = np.empty(_n_tab, np.int64)
_REG_SIDE = np.empty(_n_tab, np.int64)
_REG_ETA_MIN = np.empty(_n_tab, np.float64)
_REG_ETA_MAX = np.empty(_n_tab, np.float64)
_REG_DETA = np.empty(_n_tab, np.float64)
_REG_NETA = np.empty(_n_tab, np.int64)
_REG_NPHI = np.empty(_n_tab, np.int64)
_REG_BASE = np.empty(_n_tab + 1, np.int64)
_base = 0
for _k, (_region, _side) in enumerate((r, s) for r in REGIONS for s in (1, -1)):
    _REG_SAMPLING[_k] = int(_region.sampling)
    _REG_SIDE[_k] = _side
    _REG_ETA_MIN[_k] = _region.abs_eta_min
    _REG_ETA_MAX[_k] = _region.abs_eta_max
    _REG_DETA[_k] = _region.deta
    _REG_NETA[_k] = _region.n_eta
    _REG_NPHI[_k] = _region.n_phi
    _REG_BASE[_k] = _base
    _base += _region.n_eta * _region.n_phi
_REG_BASE[_n_tab] = _base

# Rows of the region table of each sampling, so that look-ups scan only those.
_SAMP_FIRST = np.zeros(32, np.int64)
_SAMP_LAST = np.zeros(32, np.int64)
for _s in range(32):
    _rows = np.flatnonzero(_REG_SAMPLING == _s)
    if len(_rows):
        _SAMP_FIRST[_s] = _rows.min()
        _SAMP_LAST[_s] = _rows.max() + 1

#: Total number of calorimeter cells (both sides, all layers).
N_CELLS: int = int(_base)

_SAMPLING_NAMES = {int(s): s.name for s in CaloSampling}


def sampling_name(sampling: int) -> str:
    """ATLAS name of a sampling number; raises ``ValueError`` for an unknown one."""
    try:
        return _SAMPLING_NAMES[int(sampling)]
    except KeyError:
        raise ValueError(
            f"unknown calorimeter sampling {sampling}; known: {sorted(_SAMPLING_NAMES)}"
        ) from None


def layer_coverage(sampling: int) -> tuple[float, float]:
    """The |η| range ``(min, max)`` covered by one sampling."""
    sampling_name(sampling)
    regions = [r for r in REGIONS if r.sampling == sampling]
    return min(r.abs_eta_min for r in regions), max(r.abs_eta_max for r in regions)


@numba.njit(cache=True)
def wrap_phi(phi: float) -> float:
    """Map an angle to [-π, π)."""
    return (phi + _PI) % (2.0 * _PI) - _PI


@numba.njit(cache=True)
def cell_id(sampling: int, eta: float, phi: float) -> int:
    """Global id of the cell of ``sampling`` that contains (η, φ); -1 where not covered.

    A point exactly on an inner region edge belongs to the outer region (half-open
    intervals ``[abs_eta_min, abs_eta_max)``).
    """
    if sampling < 0 or sampling >= 32:
        return -1
    abs_eta = abs(eta)
    side = 1 if eta >= 0.0 else -1
    for k in range(_SAMP_FIRST[sampling], _SAMP_LAST[sampling]):
        if _REG_SIDE[k] != side:
            continue
        if abs_eta < _REG_ETA_MIN[k] or abs_eta >= _REG_ETA_MAX[k]:
            continue
        i_eta = int((abs_eta - _REG_ETA_MIN[k]) / _REG_DETA[k])
        if i_eta >= _REG_NETA[k]:
            i_eta = _REG_NETA[k] - 1
        n_phi = _REG_NPHI[k]
        i_phi = math.floor((wrap_phi(phi) + _PI) / (2.0 * _PI / n_phi))
        if i_phi >= n_phi:
            i_phi = n_phi - 1
        return _REG_BASE[k] + i_eta * n_phi + i_phi
    return -1


@numba.njit(cache=True)
def _region_of(cell: int) -> int:
    lo = 0
    hi = _REG_SAMPLING.shape[0]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _REG_BASE[mid] <= cell:
            lo = mid
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def cell_center(cell: int) -> tuple[int, float, float, float, float]:
    """``(sampling, eta, phi, deta, dphi)`` of a global cell id (centre and full sizes)."""
    k = _region_of(cell)
    local = cell - _REG_BASE[k]
    n_phi = _REG_NPHI[k]
    i_eta = local // n_phi
    i_phi = local - i_eta * n_phi
    deta = _REG_DETA[k]
    dphi = 2.0 * _PI / n_phi
    abs_eta = _REG_ETA_MIN[k] + (i_eta + 0.5) * deta
    phi = -_PI + (i_phi + 0.5) * dphi
    return _REG_SAMPLING[k], _REG_SIDE[k] * abs_eta, phi, deta, dphi


@numba.njit(cache=True)
def _cell_ids(sampling, eta, phi, out):
    for i in range(eta.shape[0]):
        out[i] = cell_id(sampling[i], eta[i], phi[i])


@numba.njit(cache=True)
def _cell_centers(cells, sampling, eta, phi, deta, dphi):
    for i in range(cells.shape[0]):
        s, e, p, de, dp = cell_center(cells[i])
        sampling[i] = s
        eta[i] = e
        phi[i] = p
        deta[i] = de
        dphi[i] = dp


def cell_ids(sampling: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Vectorised :func:`cell_id` over numpy arrays (broadcast to a common shape)."""
    sampling, eta, phi = np.broadcast_arrays(
        np.asarray(sampling, np.int64), np.asarray(eta, np.float64), np.asarray(phi, np.float64)
    )
    out = np.empty(sampling.size, np.int64)
    _cell_ids(sampling.ravel(), eta.ravel(), phi.ravel(), out)
    return out.reshape(sampling.shape)


def cell_centers(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised :func:`cell_center`: a dict of ``sampling, eta, phi, deta, dphi`` arrays.

    Raises ``ValueError`` when an id is outside ``[0, N_CELLS)``.
    """
    cells = np.asarray(cells, np.int64).ravel()
    if cells.size and (cells.min() < 0 or cells.max() >= N_CELLS):
        bad = cells[(cells < 0) | (cells >= N_CELLS)][0]
        raise ValueError(f"cell id {bad} outside [0, {N_CELLS})")
    out = {
        "sampling": np.empty(cells.size, np.int64),
        "eta": np.empty(cells.size, np.float64),
        "phi": np.empty(cells.size, np.float64),
        "deta": np.empty(cells.size, np.float64),
        "dphi": np.empty(cells.size, np.float64),
    }
    _cell_centers(cells, out["sampling"], out["eta"], out["phi"], out["deta"], out["dphi"])
    return out


#: Depth position of each layer used to turn a lateral shower displacement (mm) into
#: (Δη, Δφ): barrel layers sit at a transverse radius, end-cap layers at a distance |z|
#: from the interaction point. Values (mm) follow the ATLAS detector paper layout
#: (EM barrel 1.5–2.0 m, Tile 2.3–3.9 m, EM end-cap 3.7–4.2 m, HEC 4.3–6.0 m).
LAYER_RADIUS_MM: dict[int, float] = {
    CaloSampling.PreSamplerB: 1440.0,
    CaloSampling.EMB1: 1520.0,
    CaloSampling.EMB2: 1680.0,
    CaloSampling.EMB3: 1880.0,
    CaloSampling.TileBar0: 2450.0,
    CaloSampling.TileBar1: 2950.0,
    CaloSampling.TileBar2: 3600.0,
    CaloSampling.TileExt0: 2450.0,
    CaloSampling.TileExt1: 2950.0,
    CaloSampling.TileExt2: 3600.0,
}
LAYER_Z_MM: dict[int, float] = {
    CaloSampling.PreSamplerE: 3680.0,
    CaloSampling.EME1: 3760.0,
    CaloSampling.EME2: 3900.0,
    CaloSampling.EME3: 4150.0,
    CaloSampling.HEC0: 4350.0,
    CaloSampling.HEC1: 4700.0,
    CaloSampling.HEC2: 5150.0,
    CaloSampling.HEC3: 5600.0,
}

_POS_KIND = np.zeros(32, np.int64)  # 1: barrel radius, 2: end-cap z
_POS_VALUE = np.zeros(32, np.float64)
for _s, _v in LAYER_RADIUS_MM.items():
    _POS_KIND[int(_s)] = 1
    _POS_VALUE[int(_s)] = _v
for _s, _v in LAYER_Z_MM.items():
    _POS_KIND[int(_s)] = 2
    _POS_VALUE[int(_s)] = _v


@numba.njit(cache=True)
def transverse_distance_mm(sampling: int, eta: float) -> float:
    """Transverse distance (mm) from the beam of the layer surface at pseudorapidity η.

    For a barrel layer this is its radius R; for an end-cap layer at |z| = Z it is
    Z / sinh|η|. A lateral displacement ρ perpendicular to a projective direction at
    that point corresponds to Δη ≈ Δφ ≈ ρ / R_T (R_T this distance), which is why end-cap
    showers are wider in (η, φ) than barrel ones.
    """
    kind = _POS_KIND[sampling]
    if kind == 1:
        return _POS_VALUE[sampling]
    return _POS_VALUE[sampling] / max(math.sinh(abs(eta)), 1e-3)
