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

from egamma_cnn.geometry import N_CELLS, cell_center, cell_ids, sampling_name

__all__ = [
    "ETA_UNIT",
    "ETA_UNITS_PER_CELL",
    "N_PHI_UNITS",
    "PHI_UNIT",
    "CellTable",
    "centre_cells",
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

_TABLE: dict[str, np.ndarray] = {}


@numba.njit(cache=True)
def _fill_span_table(eta_lo, eta_hi, phi_lo, phi_hi, centre_eta, centre_phi, sampling):
    for cell in range(eta_lo.shape[0]):
        s, eta, phi, deta, dphi = cell_center(cell)
        eta_lo[cell] = round((eta - 0.5 * deta) / (0.025 / 24.0))
        eta_hi[cell] = round((eta + 0.5 * deta) / (0.025 / 24.0))
        lo = round((phi - 0.5 * dphi + math.pi) / (2.0 * math.pi / 256.0))
        phi_lo[cell] = lo
        phi_hi[cell] = lo + round(dphi / (2.0 * math.pi / 256.0))
        centre_eta[cell] = eta
        centre_phi[cell] = phi
        sampling[cell] = s


def _span_table() -> dict[str, np.ndarray]:
    """Per global cell id: integer spans, float64 centre and sampling (built once)."""
    if not _TABLE:
        table = {
            "eta_lo": np.empty(N_CELLS, np.int64),
            "eta_hi": np.empty(N_CELLS, np.int64),
            "phi_lo": np.empty(N_CELLS, np.int64),
            "phi_hi": np.empty(N_CELLS, np.int64),
            "eta": np.empty(N_CELLS, np.float64),
            "phi": np.empty(N_CELLS, np.float64),
            "sampling": np.empty(N_CELLS, np.int64),
        }
        _fill_span_table(
            table["eta_lo"],
            table["eta_hi"],
            table["phi_lo"],
            table["phi_hi"],
            table["eta"],
            table["phi"],
            table["sampling"],
        )
        _TABLE.update(table)
    return _TABLE


@dataclass(frozen=True)
class CellTable:
    """The cells of a batch of events as flat arrays on the integer grid.

    Attributes
    ----------
    offsets : numpy.ndarray
        ``int64[n_events + 1]``: cells of event ``e`` are ``offsets[e]:offsets[e+1]``.
    energy : numpy.ndarray
        Cell energy (GeV), float64.
    sampling : numpy.ndarray
        ATLAS CaloSampling number, int64.
    eta_lo, eta_hi : numpy.ndarray
        η edges in units of :data:`ETA_UNIT` (int64).
    phi_lo, phi_hi : numpy.ndarray
        φ edges in units of :data:`PHI_UNIT`, ``phi_lo`` in ``[0, 256)`` (int64).
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
    energy = np.asarray(energy, np.float64)
    sampling = np.asarray(sampling, np.int64)
    eta = np.asarray(eta, np.float64)
    phi = np.asarray(phi, np.float64)
    n = len(energy)
    if not (len(eta) == len(phi) == len(sampling) == n) or int(offsets[-1]) != n:
        raise ValueError(
            "CaloCell_eta/phi/energy/sampling and the cell counts disagree in length "
            f"({len(eta)}, {len(phi)}, {n}, {len(sampling)}; counts sum to {int(offsets[-1])})"
        )
    bad = np.flatnonzero(~np.isfinite(energy))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"CaloCell_energy is {energy[i]} in event {_event_of(offsets, i)} of this chunk "
            f"(cell {i - int(offsets[_event_of(offsets, i)])}); cell energies must be finite"
        )
    ids = cell_ids(sampling, eta, phi)
    missing = np.flatnonzero(ids < 0)
    if missing.size:
        i = int(missing[0])
        try:
            sampling_name(int(sampling[i]))
        except ValueError:
            raise ValueError(
                f"CaloCell_sampling is {int(sampling[i])} in event {_event_of(offsets, i)} of "
                "this chunk, which is not a layer of egamma_cnn.geometry "
                "(ATLAS CaloSampling 0-14, 18-20)"
            ) from None
        raise ValueError(
            f"CaloCell_eta/CaloCell_phi ({eta[i]:.5f}, {phi[i]:.5f}) in event "
            f"{_event_of(offsets, i)} of this chunk is outside the coverage of sampling "
            f"{sampling_name(int(sampling[i]))}"
        )
    table = _span_table()
    centre_eta = table["eta"][ids]
    centre_phi = table["phi"][ids]
    eta_size = (table["eta_hi"][ids] - table["eta_lo"][ids]) * ETA_UNIT
    phi_size = (table["phi_hi"][ids] - table["phi_lo"][ids]) * PHI_UNIT
    dphi = (phi - centre_phi + math.pi) % (2.0 * math.pi) - math.pi
    off = np.flatnonzero(
        (np.abs(eta - centre_eta) > 0.25 * eta_size) | (np.abs(dphi) > 0.25 * phi_size)
    )
    if off.size:
        i = int(off[0])
        raise ValueError(
            f"CaloCell_eta/CaloCell_phi ({eta[i]:.5f}, {phi[i]:.5f}) in event "
            f"{_event_of(offsets, i)} of this chunk is not the centre of a "
            f"{sampling_name(int(sampling[i]))} cell (nearest centre "
            f"({centre_eta[i]:.5f}, {centre_phi[i]:.5f})): the file was made with another "
            "calorimeter geometry"
        )
    return CellTable(
        offsets=offsets,
        energy=energy,
        sampling=sampling,
        eta_lo=table["eta_lo"][ids],
        eta_hi=table["eta_hi"][ids],
        phi_lo=table["phi_lo"][ids],
        phi_hi=table["phi_hi"][ids],
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
