"""The matched-track array of electron candidates (ATL-PHYS-PUB-2023-001 §4.3 and Table 5).

Up to five tracks matched to the candidate, in the file's slot order (``trackIdx1..5``,
ordered by increasing ΔR to the candidate), thirteen features each
(:data:`TRACK_FEATURES`); empty slots are zeros. Δη_j and Δφ_j are measured from the
candidate position, which ATL-PHYS-PUB-2023-001 Table 5 takes as that of the best matched track
(``trackIdx``): its perigee direction (η_b, φ_b). A candidate without a best track
measures them from its slot-1 track.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["N_TRACK_SLOTS", "TRACK_FEATURES", "TRACK_INPUT_FIELDS", "build_track_arrays"]

#: Matched-track slots of an electron (ATL-PHYS-PUB-2023-001 §4.3).
N_TRACK_SLOTS: int = 5

#: The 13 per-track features of ATL-PHYS-PUB-2023-001 Table 5, in array order.
TRACK_FEATURES: tuple[str, ...] = (
    "p_over_e",
    "deta",
    "dphi",
    "nPixelHits",
    "nSCTHits",
    "nTRTHits",
    "d0",
    "d0Err",
    "z0",
    "charge",
    "chi2",
    "ndof",
    "vtxIdx",
)

#: Track fields read, in the order the kernel takes them (after pt, eta, phi).
TRACK_INPUT_FIELDS: tuple[str, ...] = (
    "pt",
    "eta",
    "phi",
    "nPixelHits",
    "nSCTHits",
    "nTRTHits",
    "d0",
    "d0Err",
    "z0",
    "charge",
    "chi2",
    "ndof",
    "vtxIdx",
)


@numba.njit(cache=True)
def _fill(track_offsets, track_values, cand_offsets, best, slots, cluster_e, out):
    for event in range(cand_offsets.shape[0] - 1):
        first = track_offsets[event]
        for k in range(cand_offsets[event], cand_offsets[event + 1]):
            reference = best[k]
            if reference < 0:
                reference = slots[k, 0]
            if reference < 0:
                continue
            eta_ref = track_values[first + reference, 1]
            phi_ref = track_values[first + reference, 2]
            for slot in range(slots.shape[1]):
                local = slots[k, slot]
                if local < 0:
                    continue
                t = first + local
                pt = track_values[t, 0]
                eta = track_values[t, 1]
                p = pt * math.cosh(eta)
                out[k, slot, 0] = p / cluster_e[k] if cluster_e[k] > 0.0 else 0.0
                out[k, slot, 1] = eta - eta_ref
                out[k, slot, 2] = (track_values[t, 2] - phi_ref + math.pi) % (
                    2.0 * math.pi
                ) - math.pi
                for f in range(3, 13):
                    out[k, slot, f] = track_values[t, f]


def check_track_indices(
    name: str, indices: np.ndarray, track_offsets: np.ndarray, cand_offsets: np.ndarray
) -> None:
    """Raise ``ValueError`` if a local track index points outside its event's tracks.

    ``indices`` is ``int64[n_candidates]`` or ``int64[n_candidates, n_slots]``; -1 means
    no track.
    """
    n_tracks = np.diff(track_offsets)
    event_of_candidate = np.repeat(np.arange(len(n_tracks)), np.diff(cand_offsets))
    limit = n_tracks[event_of_candidate]
    values = indices if indices.ndim == 2 else indices[:, None]
    bad = (values < -1) | (values >= limit[:, None])
    if bad.any():
        k, slot = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} is {int(values[k, slot])} for candidate {int(k)} of this chunk, but its "
            f"event has {int(limit[k])} tracks (valid: -1 or 0..{int(limit[k]) - 1})"
        )


def build_track_arrays(
    track_offsets: np.ndarray,
    track_values: np.ndarray,
    cand_offsets: np.ndarray,
    best_track: np.ndarray,
    slot_tracks: np.ndarray,
    cluster_e: np.ndarray,
) -> np.ndarray:
    """The ``float32[n_candidates, 5, 13]`` matched-track arrays of a batch of events.

    Parameters
    ----------
    track_offsets : numpy.ndarray
        ``n_events + 1`` offsets of each event's tracks.
    track_values : numpy.ndarray
        ``float64[n_tracks, 13]``: the columns :data:`TRACK_INPUT_FIELDS`.
    cand_offsets : numpy.ndarray
        ``n_events + 1`` offsets of each event's candidates.
    best_track : numpy.ndarray
        Local index of the best track of each candidate (``trackIdx``), -1 for none.
    slot_tracks : numpy.ndarray
        ``int64[n_candidates, 5]`` local indices of the matched tracks (-1 empty).
    cluster_e : numpy.ndarray
        Cluster energy E of each candidate (GeV), for p_j/E (0 when E ≤ 0).

    Raises
    ------
    ValueError
        If an index is outside its event's tracks (the message names ``trackIdx`` or
        ``trackIdx<slot>``).
    """
    track_offsets = np.asarray(track_offsets, np.int64)
    cand_offsets = np.asarray(cand_offsets, np.int64)
    best_track = np.asarray(best_track, np.int64)
    slot_tracks = np.asarray(slot_tracks, np.int64)
    if slot_tracks.ndim != 2 or len(slot_tracks) != len(best_track):
        raise ValueError(
            f"slot_tracks must be (n_candidates, n_slots); got shape {slot_tracks.shape}"
        )
    check_track_indices("trackIdx", best_track, track_offsets, cand_offsets)
    for slot in range(slot_tracks.shape[1]):
        check_track_indices(
            f"trackIdx{slot + 1}", slot_tracks[:, slot], track_offsets, cand_offsets
        )
    out = np.zeros((len(best_track), N_TRACK_SLOTS, len(TRACK_FEATURES)), np.float32)
    _fill(
        track_offsets,
        np.asarray(track_values, np.float64),
        cand_offsets,
        best_track,
        slot_tracks,
        np.asarray(cluster_e, np.float64),
        out,
    )
    return out
