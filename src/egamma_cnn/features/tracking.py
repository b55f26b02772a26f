"""Track, track–cluster matching and kinematic variables of electrons (ATL-PHYS-PUB-2023-001 Table
4).

From the best track (``trackIdx``; every best-track variable is 0 without one):

* ``nBLayerHits``, ``nPixelHits``, ``nSCTHits``, ``ndof`` (track fit), ``d0`` (mm),
* ``d0sig`` = d0 / σ(d0), ``qd0sig`` = q · |d0| / σ(d0) (the charge-flip variable of
  ATL-PHYS-PUB-2023-001 §4.2), both 0 when σ(d0) ≤ 0,
* ``dpOverP`` Δp/p (momentum lost between perigee and last measurement),
* ``eProbabilityHT`` (ATL-PHYS-PUB-2023-001 defaults it above |η| = 2.01; the feature is the
  measurement),
* ``eOverP`` = E_cluster / (p_T cosh η)_track, ``etOverPt`` = E_T / p_T,track.

Over the matched tracks (``trackIdx1..5``): ``qSCTw`` ⟨q⟩_SCTw = Σ q_j n_SCT,j / Σ n_SCT,j
(0 when Σ n_SCT = 0; the files keep five matched tracks, so more distant ones do not
enter). Passed through from the candidate: ``deltaEta1``, ``deltaPhiRescaled2``,
``nTracks``. Kinematics: ``et`` = E_cluster / cosh η_cluster and ``eta`` = η_cluster.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["TRACK_VARIABLE_INPUTS", "TRACK_VARIABLE_NAMES", "compute_track_variables"]

#: Output fields of :func:`compute_track_variables`, in column order.
TRACK_VARIABLE_NAMES: tuple[str, ...] = (
    "nBLayerHits",
    "nPixelHits",
    "nSCTHits",
    "ndof",
    "d0",
    "d0sig",
    "dpOverP",
    "qd0sig",
    "qSCTw",
    "eProbabilityHT",
    "deltaEta1",
    "deltaPhiRescaled2",
    "eOverP",
    "etOverPt",
    "nTracks",
    "et",
    "eta",
)

#: Track fields read, in the column order of the kernel's ``track_values``.
TRACK_VARIABLE_INPUTS: tuple[str, ...] = (
    "pt",
    "eta",
    "charge",
    "nBLayerHits",
    "nPixelHits",
    "nSCTHits",
    "ndof",
    "d0",
    "d0Err",
    "deltaPOverP",
    "eProbabilityHT",
)


@numba.njit(cache=True)
def _kernel(track_offsets, tv, cand_offsets, best, slots, cand, out):
    for event in range(cand_offsets.shape[0] - 1):
        first = track_offsets[event]
        for k in range(cand_offsets[event], cand_offsets[event + 1]):
            cluster_e = cand[k, 0]
            cluster_eta = cand[k, 1]
            et = cluster_e / math.cosh(cluster_eta)
            out[k, 10] = cand[k, 2]
            out[k, 11] = cand[k, 3]
            out[k, 14] = cand[k, 4]
            out[k, 15] = et
            out[k, 16] = cluster_eta
            sum_q = sum_n = 0.0
            for slot in range(slots.shape[1]):
                if slots[k, slot] >= 0:
                    t = first + slots[k, slot]
                    sum_q += tv[t, 2] * tv[t, 5]
                    sum_n += tv[t, 5]
            out[k, 8] = sum_q / sum_n if sum_n > 0.0 else 0.0
            if best[k] < 0:
                continue
            t = first + best[k]
            pt = tv[t, 0]
            out[k, 0] = tv[t, 3]
            out[k, 1] = tv[t, 4]
            out[k, 2] = tv[t, 5]
            out[k, 3] = tv[t, 6]
            d0 = tv[t, 7]
            d0_err = tv[t, 8]
            out[k, 4] = d0
            if d0_err > 0.0:
                out[k, 5] = d0 / d0_err
                out[k, 7] = tv[t, 2] * abs(d0) / d0_err
            out[k, 6] = tv[t, 9]
            out[k, 9] = tv[t, 10]
            p = pt * math.cosh(tv[t, 1])
            out[k, 12] = cluster_e / p if p > 0.0 else 0.0
            out[k, 13] = et / pt if pt > 0.0 else 0.0


def compute_track_variables(
    track_offsets: np.ndarray,
    track_values: np.ndarray,
    cand_offsets: np.ndarray,
    best_track: np.ndarray,
    slot_tracks: np.ndarray,
    candidate_values: np.ndarray,
) -> np.ndarray:
    """Track variables ``float64[n_candidates, 17]`` (:data:`TRACK_VARIABLE_NAMES`).

    Parameters
    ----------
    track_offsets : numpy.ndarray
        ``n_events + 1`` offsets of each event's tracks.
    track_values : numpy.ndarray
        ``float64[n_tracks, 11]``, the columns :data:`TRACK_VARIABLE_INPUTS`.
    cand_offsets : numpy.ndarray
        ``n_events + 1`` offsets of each event's candidates.
    best_track, slot_tracks : numpy.ndarray
        Local best-track index ``int64[n]`` and matched-track indices ``int64[n, 5]``
        (-1 for none), already checked against the events' track counts.
    candidate_values : numpy.ndarray
        ``float64[n, 5]``: clusterE, clusterEta, deltaEta1, deltaPhiRescaled2, nTracks.
    """
    out = np.zeros((len(best_track), len(TRACK_VARIABLE_NAMES)))
    _kernel(
        np.asarray(track_offsets, np.int64),
        np.asarray(track_values, np.float64),
        np.asarray(cand_offsets, np.int64),
        np.asarray(best_track, np.int64),
        np.asarray(slot_tracks, np.int64),
        np.asarray(candidate_values, np.float64),
        out,
    )
    return out
