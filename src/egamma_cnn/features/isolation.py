"""Calorimeter and track isolation of e/γ candidates from cells and tracks.

Calorimeter isolation (ATLAS ``etcone``; Franco's photon-ID talk "Calo-based isolation", Collado et
al., PRD 103, 116028 §4.6
but in E_T and with the core removed):

* ``etcone20/30/40`` = Σ E_T of the cells of every layer whose centre lies at
  ΔR < 0.2/0.3/0.4 from the cluster position, minus the core: the cells in the 5 × 7
  middle-cell window (Δη × Δφ = 0.125 × 0.172) around the centre cell are left out. E_T =
  E / cosh η of the cell centre; negative (noise) cells count, so the noise averages out.
  No pile-up or leakage correction. The files keep cells within ΔR < 0.4 of every
  candidate, so 0.4 is the widest complete cone.
* ``calo_iso_cones``: the cone set of the Collado Umana thesis, ch. 4, I(R₀) = Σ_{ΔR<R₀} E_T,cell /
  p_T
  for R₀ in :data:`CALO_ISO_CONE_RADII` (0.025 … 0.4 by 0.025; the thesis scans to 0.45,
  beyond the cells a file keeps), without core subtraction as in the thesis; p_T is the
  candidate's E_T = clusterE / cosh(clusterEta) (0 when E_T ≤ 0).

Track isolation (Franco's photon-ID talk "Track-based isolation"; ATLAS ``ptcone``/``ptvarcone``):

* ``ptcone20/30/40`` = Σ p_T of the tracks with p_T > 1 GeV and |(z0 − z_PV) sin θ| < 3 mm
  within ΔR < R of the candidate direction, excluding the candidate's own tracks
  (electrons: best and matched tracks, direction = best track, or the cluster without one;
  photons: conversion tracks, direction = cluster).
* ``ptvarcone20/30``: the same with R = min(10 GeV / E_T, R_max), R_max = 0.2, 0.3.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from egamma_cnn.cellgrid import CellTable, centre_cells, doubled_phi_offset

__all__ = [
    "CALO_ISOLATION_NAMES",
    "CALO_ISO_CONE_RADII",
    "ISOLATION_NAMES",
    "TRACK_ISOLATION_NAMES",
    "TRACK_ISO_MAX_Z0SINTHETA",
    "TRACK_ISO_MIN_PT",
    "compute_calo_isolation",
    "compute_track_isolation",
]

#: Cone radii of the Collado Umana thesis cone set.
CALO_ISO_CONE_RADII: tuple[float, ...] = tuple(round(0.025 * i, 3) for i in range(1, 17))
#: Calorimeter isolation outputs (core-subtracted cones).
CALO_ISOLATION_NAMES: tuple[str, ...] = ("etcone20", "etcone30", "etcone40")
#: Track isolation outputs.
TRACK_ISOLATION_NAMES: tuple[str, ...] = (
    "ptcone20",
    "ptcone30",
    "ptcone40",
    "ptvarcone20",
    "ptvarcone30",
)
#: All scalar isolation outputs.
ISOLATION_NAMES: tuple[str, ...] = CALO_ISOLATION_NAMES + TRACK_ISOLATION_NAMES
#: Minimum track p_T (GeV) in the track cones.
TRACK_ISO_MIN_PT: float = 1.0
#: Maximum |(z0 − z_PV) sin θ| (mm) of a track in the track cones.
TRACK_ISO_MAX_Z0SINTHETA: float = 3.0

_CONES = np.array([0.2, 0.3, 0.4])
_CONE_SET = np.array(CALO_ISO_CONE_RADII)


@numba.njit(cache=True)
def _delta_r2(eta1, phi1, eta2, phi2):
    dphi = (phi1 - phi2 + math.pi) % (2.0 * math.pi) - math.pi
    return (eta1 - eta2) ** 2 + dphi * dphi


@numba.njit(cache=True)
def _calo_kernel(
    cell_offsets,
    energy,
    eta_lo,
    eta_hi,
    phi_lo,
    phi_hi,
    cell_eta,
    cell_phi,
    cand_offsets,
    i_c,
    j_c,
    cluster_eta,
    cluster_phi,
    candidate_et,
    cones,
    cone_set,
    out,
    out_set,
):
    for event in range(cand_offsets.shape[0] - 1):
        for k in range(cand_offsets[event], cand_offsets[event + 1]):
            centre2 = 48 * i_c[k] + 24
            for i in range(cell_offsets[event], cell_offsets[event + 1]):
                dr2 = _delta_r2(cell_eta[i], cell_phi[i], cluster_eta[k], cluster_phi[k])
                et = energy[i] / math.cosh(cell_eta[i])
                for c in range(cone_set.shape[0]):
                    if dr2 < cone_set[c] * cone_set[c]:
                        out_set[k, c] += et
                d_phi2 = doubled_phi_offset(phi_lo[i], phi_hi[i], j_c[k])
                in_core = abs(eta_lo[i] + eta_hi[i] - centre2) <= 120 and abs(d_phi2) <= 7
                if in_core:
                    continue
                for c in range(cones.shape[0]):
                    if dr2 < cones[c] * cones[c]:
                        out[k, c] += et
            for c in range(cone_set.shape[0]):
                out_set[k, c] = out_set[k, c] / candidate_et[k] if candidate_et[k] > 0.0 else 0.0


def compute_calo_isolation(
    cells: CellTable,
    cand_offsets: np.ndarray,
    cluster_eta: np.ndarray,
    cluster_phi: np.ndarray,
    cluster_e: np.ndarray,
    *,
    cone_set: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``(etcone, cone_set)``: ``float64[n, 3]`` (:data:`CALO_ISOLATION_NAMES`) and
    ``float64[n, 16]`` (I(R₀) for :data:`CALO_ISO_CONE_RADII`).

    With ``cone_set=False`` the 16 cones are not summed and the second array is
    ``float64[n, 0]``; the etcone values are the same (the cones never enter them).
    """
    cand_offsets = np.asarray(cand_offsets, np.int64)
    if len(cand_offsets) != len(cells.offsets):
        raise ValueError(
            f"the cells have {cells.n_events} events but the candidates {len(cand_offsets) - 1}"
        )
    cluster_eta = np.asarray(cluster_eta, np.float64)
    cluster_phi = np.asarray(cluster_phi, np.float64)
    i_c, j_c = centre_cells(cluster_eta, cluster_phi)
    candidate_et = np.asarray(cluster_e, np.float64) / np.cosh(cluster_eta)
    n = int(cand_offsets[-1])
    out = np.zeros((n, len(_CONES)))
    radii = _CONE_SET if cone_set else _CONE_SET[:0]
    out_set = np.zeros((n, len(radii)))
    _calo_kernel(
        cells.offsets,
        cells.energy,
        cells.eta_lo,
        cells.eta_hi,
        cells.phi_lo,
        cells.phi_hi,
        cells.eta,
        cells.phi,
        cand_offsets,
        i_c,
        j_c,
        cluster_eta,
        cluster_phi,
        candidate_et,
        _CONES,
        radii,
        out,
        out_set,
    )
    return out, out_set


@numba.njit(cache=True)
def _track_kernel(
    track_offsets,
    pt,
    eta,
    phi,
    z0,
    pv_z,
    cand_offsets,
    direction_eta,
    direction_phi,
    candidate_et,
    own,
    min_pt,
    max_z0sintheta,
    out,
):
    for event in range(cand_offsets.shape[0] - 1):
        first = track_offsets[event]
        for k in range(cand_offsets[event], cand_offsets[event + 1]):
            var20 = min(10.0 / candidate_et[k], 0.2) if candidate_et[k] > 0.0 else 0.2
            var30 = min(10.0 / candidate_et[k], 0.3) if candidate_et[k] > 0.0 else 0.3
            for t in range(first, track_offsets[event + 1]):
                if pt[t] <= min_pt:
                    continue
                if abs((z0[t] - pv_z[event]) / math.cosh(eta[t])) >= max_z0sintheta:
                    continue
                is_own = False
                for j in range(own.shape[1]):
                    if own[k, j] >= 0 and first + own[k, j] == t:
                        is_own = True
                if is_own:
                    continue
                dr2 = _delta_r2(eta[t], phi[t], direction_eta[k], direction_phi[k])
                if dr2 < 0.04:
                    out[k, 0] += pt[t]
                if dr2 < 0.09:
                    out[k, 1] += pt[t]
                if dr2 < 0.16:
                    out[k, 2] += pt[t]
                if dr2 < var20 * var20:
                    out[k, 3] += pt[t]
                if dr2 < var30 * var30:
                    out[k, 4] += pt[t]


def compute_track_isolation(
    track_offsets: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    z0: np.ndarray,
    pv_z: np.ndarray,
    cand_offsets: np.ndarray,
    direction_eta: np.ndarray,
    direction_phi: np.ndarray,
    candidate_et: np.ndarray,
    own_tracks: np.ndarray,
) -> np.ndarray:
    """Track isolation ``float64[n, 5]`` in :data:`TRACK_ISOLATION_NAMES` order.

    ``own_tracks`` is ``int64[n, m]`` local track indices of each candidate's own tracks
    (-1 empty), left out of every cone; ``pv_z`` is the hard-scatter vertex z per event.
    A candidate with E_T ≤ 0 uses R_max for the variable cones.
    """
    cand_offsets = np.asarray(cand_offsets, np.int64)
    pv_z = np.asarray(pv_z, np.float64)
    if not np.all(np.isfinite(pv_z)):
        raise ValueError("PV_z contains NaN or infinite values")
    out = np.zeros((int(cand_offsets[-1]), len(TRACK_ISOLATION_NAMES)))
    _track_kernel(
        np.asarray(track_offsets, np.int64),
        np.asarray(pt, np.float64),
        np.asarray(eta, np.float64),
        np.asarray(phi, np.float64),
        np.asarray(z0, np.float64),
        pv_z,
        cand_offsets,
        np.asarray(direction_eta, np.float64),
        np.asarray(direction_phi, np.float64),
        np.asarray(candidate_et, np.float64),
        np.asarray(own_tracks, np.int64),
        TRACK_ISO_MIN_PT,
        TRACK_ISO_MAX_Z0SINTHETA,
        out,
    )
    return out
