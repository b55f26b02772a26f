"""The integer (η, φ) grid on which every image window and feature window is counted.

Images and shower shapes ask two questions of every cell: *is its centre inside this
window?* and *how much of it covers that pixel?* Asked in floating point, both go wrong on
the edges (a 0.05-wide cell centred exactly on a window edge, an end-cap strip of 0.025/6
against a fine pixel of 0.025/8). Here they are integer questions: every cell edge of
:mod:`egamma_cnn.geometry` is an integer multiple of

* ``ETA_UNIT`` = 0.025/24 in η (the least common multiple of the strip pitches 0.025/8,
  0.025/6 and 0.025/4; a middle-layer cell is 24 units, a Tile cell 96), and
* ``PHI_UNIT`` = 2π/256 in φ (a middle-layer cell; presampler, strip, Tile and HEC cells
  are 4 units), with φ indices taken modulo 256.

:func:`prepare_cells` identifies each cell of a file from ``(sampling, eta, phi)`` in the
geometry (the file's float32 position is only used to find the cell, never as an edge),
validates the input, and returns a :class:`CellTable` of flat arrays for the numba kernels.
The definitions that use this grid are in ``docs/INPUTS.md`` §1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from egamma_cnn.geometry import REGIONS, sampling_name

__all__ = [
    "ETA_UNIT",
    "ETA_UNITS_PER_CELL",
    "N_PHI_UNITS",
    "PHI_UNIT",
    "CellTable",
    "centre_cells",
    "doubled_phi_offset",
    "prepare_cells",
]

#: η unit of the grid: 1/24 of a middle-layer cell.
ETA_UNIT: float = 0.025 / 24.0
#: η units per middle-layer cell (0.025).
ETA_UNITS_PER_CELL: int = 24
#: φ unit of the grid: one middle-layer cell, 2π/256.
PHI_UNIT: float = 2.0 * math.pi / 256.0
#: Number of φ units around the circle.
N_PHI_UNITS: int = 256

# Region table in grid units, one row per (region, side), grouped by sampling, for the
# one-pass cell location kernel. Built from the public geometry.REGIONS.
_rows = [(r, side) for r in REGIONS for side in (1, -1)]
_rows.sort(key=lambda row: int(row[0].sampling))
_R_SIDE = np.array([side for _r, side in _rows], np.int64)
_R_ETA_MIN = np.array([r.abs_eta_min for r, _s in _rows], np.float64)
_R_ETA_MAX = np.array([r.abs_eta_max for r, _s in _rows], np.float64)
_R_DETA = np.array([r.deta for r, _s in _rows], np.float64)
_R_INV_DETA = 1.0 / _R_DETA
_R_ETA_MIN_U = np.array([round(r.abs_eta_min / ETA_UNIT) for r, _s in _rows], np.int64)
_R_DETA_U = np.array([round(r.deta / ETA_UNIT) for r, _s in _rows], np.int64)
_R_NPHI = np.array([r.n_phi for r, _s in _rows], np.int64)
_R_FIRST = np.zeros(33, np.int64)
for _s in range(32):
    _R_FIRST[_s + 1] = _R_FIRST[_s] + sum(1 for r, _side in _rows if int(r.sampling) == _s)
assert all(abs(r.abs_eta_min / ETA_UNIT - round(r.abs_eta_min / ETA_UNIT)) < 1e-6 for r in REGIONS)
assert all(abs(r.deta / ETA_UNIT - round(r.deta / ETA_UNIT)) < 1e-6 for r in REGIONS)
assert all(N_PHI_UNITS % r.n_phi == 0 for r in REGIONS)

# Failure codes of _locate.
_OK, _NOT_FINITE, _UNKNOWN_SAMPLING, _OUTSIDE, _OFF_CENTRE = 0, 1, 2, 3, 4


@numba.njit(cache=True)
def _locate(eta, phi, energy, sampling, eta_lo, eta_hi, phi_lo, phi_hi, centre_eta, centre_phi):
    """Find every cell in the geometry; return (failure code, index) of the first bad one."""
    for i in range(eta.shape[0]):
        if not math.isfinite(energy[i]):
            return _NOT_FINITE, i
        s = sampling[i]
        if s < 0 or s >= 32 or _R_FIRST[s] == _R_FIRST[s + 1]:
            return _UNKNOWN_SAMPLING, i
        cell_eta = np.float64(eta[i])
        abs_eta = abs(cell_eta)
        side = 1 if cell_eta >= 0.0 else -1
        found = False
        for k in range(_R_FIRST[s], _R_FIRST[s + 1]):
            if _R_SIDE[k] != side or abs_eta < _R_ETA_MIN[k] or abs_eta >= _R_ETA_MAX[k]:
                continue
            i_eta = int((abs_eta - _R_ETA_MIN[k]) * _R_INV_DETA[k])
            offset = abs_eta - (_R_ETA_MIN[k] + (i_eta + 0.5) * _R_DETA[k])
            if abs(offset) > 0.25 * _R_DETA[k]:
                return _OFF_CENTRE, i
            n_phi = _R_NPHI[k]
            width = 256 // n_phi
            position = (np.float64(phi[i]) + math.pi) * (256.0 / (2.0 * math.pi))
            i_phi = math.floor(position * (1.0 / width)) % n_phi
            offset_phi = position - (i_phi * width + 0.5 * width)
            offset_phi -= 256.0 * math.floor((offset_phi + 128.0) / 256.0)
            if abs(offset_phi) > 0.25 * width:
                return _OFF_CENTRE, i
            lo = _R_ETA_MIN_U[k] + i_eta * _R_DETA_U[k]
            if side > 0:
                eta_lo[i] = lo
                eta_hi[i] = lo + _R_DETA_U[k]
            else:
                eta_lo[i] = -(lo + _R_DETA_U[k])
                eta_hi[i] = -lo
            phi_lo[i] = i_phi * width
            phi_hi[i] = i_phi * width + width
            centre_eta[i] = 0.5 * (eta_lo[i] + eta_hi[i]) * (0.025 / 24.0)
            centre_phi[i] = -math.pi + (i_phi + 0.5) * width * (2.0 * math.pi / 256.0)
            found = True
            break
        if not found:
            return _OUTSIDE, i
    return _OK, -1


@dataclass(frozen=True)
class CellTable:
    """The cells of a batch of events as flat arrays on the integer grid.

    Attributes
    ----------
    offsets : numpy.ndarray
        ``int64[n_events + 1]``: cells of event ``e`` are ``offsets[e]:offsets[e+1]``.
    energy : numpy.ndarray
        Cell energy (GeV), in the input's float dtype.
    sampling : numpy.ndarray
        ATLAS CaloSampling number, in the input's integer dtype.
    eta_lo, eta_hi : numpy.ndarray
        η edges in units of :data:`ETA_UNIT` (int32).
    phi_lo, phi_hi : numpy.ndarray
        φ edges in units of :data:`PHI_UNIT`, ``phi_lo`` in ``[0, 256)`` (int32).
    eta, phi : numpy.ndarray
        Cell centre of the geometry (float64).
    """

    offsets: np.ndarray
    energy: np.ndarray
    sampling: np.ndarray
    eta_lo: np.ndarray
    eta_hi: np.ndarray
    phi_lo: np.ndarray
    phi_hi: np.ndarray
    eta: np.ndarray
    phi: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.offsets) - 1


def _event_of(offsets: np.ndarray, flat_index: int) -> int:
    return int(np.searchsorted(offsets, flat_index, side="right") - 1)


def prepare_cells(
    offsets: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    energy: np.ndarray,
    sampling: np.ndarray,
) -> CellTable:
    """Identify the cells of a batch of events in the geometry and validate them.

    Parameters
    ----------
    offsets : array of int
        ``n_events + 1`` offsets of the cells of each event into the flat arrays.
    eta, phi, energy, sampling : arrays
        Flat ``CaloCell_eta``, ``CaloCell_phi``, ``CaloCell_energy``, ``CaloCell_sampling``.

    Returns
    -------
    CellTable

    Raises
    ------
    ValueError
        ``CaloCell_energy`` not finite; ``CaloCell_sampling`` not a layer of
        :mod:`egamma_cnn.geometry`; ``CaloCell_eta``/``CaloCell_phi`` not inside a cell of
        that sampling, or farther than a quarter of a cell from its centre (a file made
        with another geometry). Each message names the field, the event (0-based, within
        this batch) and the value.
    """
    offsets = np.asarray(offsets, np.int64)
    # native dtypes (float32 and int16 in the files): numba specialises, nothing is copied
    energy = np.asarray(energy)
    sampling = np.asarray(sampling)
    eta = np.asarray(eta)
    phi = np.asarray(phi)
    for name, values, kind in (
        ("CaloCell_energy", energy, "f"),
        ("CaloCell_eta", eta, "f"),
        ("CaloCell_phi", phi, "f"),
        ("CaloCell_sampling", sampling, "iu"),
    ):
        if not values.size:
            continue
        if values.dtype.kind not in kind:
            raise ValueError(
                f"{name} has dtype {values.dtype}; expected {'float' if kind == 'f' else 'integer'}"
            )
    if not sampling.size:  # empty awkward lists come as float64
        sampling = sampling.astype(np.int64)
    n = len(energy)
    if not (len(eta) == len(phi) == len(sampling) == n) or int(offsets[-1]) != n:
        raise ValueError(
            "CaloCell_eta/phi/energy/sampling and the cell counts disagree in length "
            f"({len(eta)}, {len(phi)}, {n}, {len(sampling)}; counts sum to {int(offsets[-1])})"
        )
    eta_lo = np.empty(n, np.int32)
    eta_hi = np.empty(n, np.int32)
    phi_lo = np.empty(n, np.int32)
    phi_hi = np.empty(n, np.int32)
    centre_eta = np.empty(n, np.float64)
    centre_phi = np.empty(n, np.float64)
    code, i = _locate(
        eta, phi, energy, sampling, eta_lo, eta_hi, phi_lo, phi_hi, centre_eta, centre_phi
    )
    if code != _OK:
        event = _event_of(offsets, i)
        where = f"in event {event} of this chunk (cell {i - offsets[event]})"
        if code == _NOT_FINITE:
            raise ValueError(
                f"CaloCell_energy is {energy[i]} {where}; cell energies must be finite"
            )
        if code == _UNKNOWN_SAMPLING:
            raise ValueError(
                f"CaloCell_sampling is {int(sampling[i])} {where}, which is not a layer of "
                "egamma_cnn.geometry (ATLAS CaloSampling 0-14, 18-20)"
            )
        if code == _OUTSIDE:
            raise ValueError(
                f"CaloCell_eta/CaloCell_phi ({eta[i]:.5f}, {phi[i]:.5f}) {where} is outside "
                f"the coverage of sampling {sampling_name(int(sampling[i]))}"
            )
        raise ValueError(
            f"CaloCell_eta/CaloCell_phi ({eta[i]:.5f}, {phi[i]:.5f}) {where} is not the centre "
            f"of a {sampling_name(int(sampling[i]))} cell: the file was made with another "
            "calorimeter geometry"
        )
    return CellTable(
        offsets=offsets,
        energy=energy,
        sampling=sampling,
        eta_lo=eta_lo,
        eta_hi=eta_hi,
        phi_lo=phi_lo,
        phi_hi=phi_hi,
        eta=centre_eta,
        phi=centre_phi,
    )


def centre_cells(cluster_eta: np.ndarray, cluster_phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle-layer grid cell ``(i_c, j_c)`` containing each cluster position.

    ``i_c = floor(η / 0.025)`` and ``j_c = floor((φ + π) / (2π/256)) mod 256`` on the
    virtual 0.025 × 2π/256 grid (defined at every η, also outside the middle layer).
    The centre of that cell is the centre of every window (``docs/INPUTS.md`` §1).

    Raises
    ------
    ValueError
        If a cluster position is NaN or infinite (named ``clusterEta``/``clusterPhi``).
    """
    cluster_eta = np.asarray(cluster_eta, np.float64)
    cluster_phi = np.asarray(cluster_phi, np.float64)
    for name, values in (("clusterEta", cluster_eta), ("clusterPhi", cluster_phi)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(
                f"{name} is {values[bad[0]]} for candidate {int(bad[0])} of this chunk; "
                "the cluster position must be finite"
            )
    i_c = np.floor(cluster_eta / 0.025).astype(np.int64)
    j_c = np.floor((cluster_phi + math.pi) / PHI_UNIT).astype(np.int64) % N_PHI_UNITS
    return i_c, j_c


@numba.njit(cache=True)
def doubled_phi_offset(phi_lo: int, phi_hi: int, j_c: int) -> int:
    """Twice the φ offset (grid units) of a cell centre from the centre of grid cell ``j_c``.

    Window tests compare doubled offsets so that they are integer: a window of m middle
    cells in φ, centred on the centre cell, holds the cells with ``|offset| ≤ m``.
    """
    rel = (phi_lo - j_c) % 256
    if rel >= 128:
        rel -= 256
    return 2 * rel + (phi_hi - phi_lo) - 1
