"""Electron and photon candidates from clusters and tracks (rules in :mod:`.reconstruction`).

Track–cluster matching and the leading truth particle of each cluster are numba
kernels over the per-event offsets; everything else is numpy over flat arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from egamma_cnn.sim.cells import delta_phi
from egamma_cnn.sim.propagation import extrapolate_to_calorimeter_array
from egamma_cnn.sim.reconstruction import ClusterBatch, ReconstructionConfig

__all__ = [
    "Candidates",
    "best_tracks",
    "build_candidates",
    "leading_particles",
    "match_tracks",
    "matching_variables",
]

MAX_TRACK_SLOTS = 5


@numba.njit(cache=True)
def _match_kernel(
    cl_off, cl_eta, cl_phi, tr_off, tr_eta, tr_phi, max_deta, max_dphi, out_off, out_track, out_dr
):
    n = 0
    out_off[0] = 0
    for ev in range(cl_off.shape[0] - 1):
        for c in range(cl_off[ev], cl_off[ev + 1]):
            start = n
            for t in range(tr_off[ev], tr_off[ev + 1]):
                de = tr_eta[t] - cl_eta[c]
                dp = delta_phi(tr_phi[t], cl_phi[c])
                if abs(de) < max_deta and abs(dp) < max_dphi:
                    out_track[n] = t
                    out_dr[n] = np.sqrt(de * de + dp * dp)
                    n += 1
            # insertion sort by ΔR (few tracks per cluster)
            for a in range(start + 1, n):
                k = a
                while k > start and out_dr[k] < out_dr[k - 1]:
                    out_dr[k], out_dr[k - 1] = out_dr[k - 1], out_dr[k]
                    out_track[k], out_track[k - 1] = out_track[k - 1], out_track[k]
                    k -= 1
            out_off[c + 1] = n
    return n


def match_tracks(
    clusters: ClusterBatch,
    track_offsets,
    track_eta_calo,
    track_phi_calo,
    config: ReconstructionConfig,
):
    """Tracks matched to every cluster, ordered by ΔR (flat track indices, offsets)."""
    n_cl = len(clusters.eta)
    counts = np.diff(track_offsets)
    cl_counts = np.diff(clusters.offsets)
    cap = int(np.sum(cl_counts * counts)) + 1
    off = np.zeros(n_cl + 1, np.int64)
    trk = np.empty(cap, np.int64)
    dr = np.empty(cap)
    n = _match_kernel(
        clusters.offsets,
        clusters.eta,
        clusters.phi,
        np.asarray(track_offsets, np.int64),
        np.asarray(track_eta_calo, np.float64),
        np.asarray(track_phi_calo, np.float64),
        config.match_deta,
        config.match_dphi,
        off,
        trk,
        dr,
    )
    return off, trk[:n], dr[:n]


@numba.njit(cache=True)
def _leading_kernel(cl_off, cl_eta, cl_phi, p_off, p_eta, p_phi, p_energy, p_ok, out):
    for ev in range(cl_off.shape[0] - 1):
        for c in range(cl_off[ev], cl_off[ev + 1]):
            best = -1
            best_e = 0.0
            for i in range(p_off[ev], p_off[ev + 1]):
                if not p_ok[i]:
                    continue
                if abs(p_eta[i] - cl_eta[c]) < 0.05 and abs(delta_phi(p_phi[i], cl_phi[c])) < 0.1:
                    if p_energy[i] > best_e:
                        best_e = p_energy[i]
                        best = i
            out[c] = best


def leading_particles(
    clusters: ClusterBatch, particle_offsets, impact_eta, impact_phi, energy, reaches
) -> np.ndarray:
    """Flat index of the most energetic particle hitting each cluster (-1 if none).

    A particle "hits" the cluster when its calorimeter impact point is within
    |Δη| < 0.05 and |Δφ| < 0.1 of the cluster position.
    """
    out = np.full(len(clusters.eta), -1, np.int64)
    _leading_kernel(
        clusters.offsets,
        clusters.eta,
        clusters.phi,
        np.asarray(particle_offsets, np.int64),
        np.asarray(impact_eta, np.float64),
        np.asarray(impact_phi, np.float64),
        np.asarray(energy, np.float64),
        np.asarray(reaches, np.bool_),
        out,
    )
    return out


@dataclass
class Candidates:
    """Electron and photon candidates of a batch.

    ``electron_cluster``/``photon_cluster`` are flat cluster indices; the ``*_offsets``
    group them per event. Track indices in ``electron_tracks`` (n, 5) and
    ``photon_tracks`` (n, 2) are flat track indices (-1 empty); ``electron_best_track``
    likewise; ``electron_n_tracks`` counts all matched tracks.
    """

    electron_offsets: np.ndarray
    electron_cluster: np.ndarray
    electron_best_track: np.ndarray
    electron_tracks: np.ndarray
    electron_n_tracks: np.ndarray
    electron_photon: np.ndarray  # flat photon index or -1
    photon_offsets: np.ndarray
    photon_cluster: np.ndarray
    photon_tracks: np.ndarray
    photon_conversion_type: np.ndarray
    photon_electron: np.ndarray  # flat electron index or -1


def best_tracks(matches, tracks) -> np.ndarray:
    """Best track of each cluster: the matched silicon (not TRT-standalone) track with the
    smallest ΔR; -1 when there is none. ``matches`` is the output of :func:`match_tracks`."""
    m_off, m_trk, _ = matches
    n_cl = len(m_off) - 1
    standard = ~np.asarray(tracks.is_trt_standalone, bool)
    m_standard = standard[m_trk] if len(m_trk) else np.zeros(0, bool)
    cl_of_match = np.repeat(np.arange(n_cl), np.diff(m_off))
    best = np.full(n_cl, -1, np.int64)
    sel = np.flatnonzero(m_standard)
    if sel.size:
        first = sel[np.concatenate([[True], np.diff(cl_of_match[sel]) > 0])]
        best[cl_of_match[first]] = m_trk[first]
    return best


def build_candidates(
    clusters: ClusterBatch,
    tracks,
    config: ReconstructionConfig,
    matches=None,
    electron_energy: np.ndarray | None = None,
) -> Candidates:
    """Apply the electron and photon definitions of :mod:`.reconstruction`.

    ``matches`` (from :func:`match_tracks`) is computed when not given;
    ``electron_energy`` (per cluster) is the energy an electron candidate made from the
    cluster would have (brem recovery and electron calibration), used for the p_T cut;
    the cluster energy when not given.
    """
    n_cl = len(clusters.eta)
    if matches is None:
        matches = match_tracks(clusters, tracks.offsets, tracks.eta_calo, tracks.phi_calo, config)
    m_off, m_trk, _ = matches
    n_match = np.diff(m_off)
    cl_of_match = np.repeat(np.arange(n_cl), n_match)
    best = best_tracks(matches, tracks)
    has_best = best >= 0
    abs_eta = np.abs(clusters.eta)
    safe_best = np.where(has_best, best, 0)
    trk_eta = np.asarray(tracks.eta)[safe_best] if len(tracks.eta) else np.zeros(n_cl)
    e_el = clusters.energy if electron_energy is None else electron_energy
    el_pt = e_el / np.cosh(trk_eta)
    is_electron = has_best & (el_pt > config.electron_min_pt) & (abs_eta < config.max_abs_eta)
    no_blayer = np.ones(n_cl, bool)
    if len(tracks.eta):
        no_blayer = np.where(has_best, np.asarray(tracks.n_blayer_hits)[safe_best] == 0, True)
    is_photon = no_blayer & (clusters.et > config.photon_min_et) & (abs_eta < config.max_abs_eta)

    # electron track slots (ΔR order) and counts
    slot = np.arange(len(m_trk)) - m_off[cl_of_match]
    el_tracks = np.full((n_cl, MAX_TRACK_SLOTS), -1, np.int64)
    keep = slot < MAX_TRACK_SLOTS
    el_tracks[cl_of_match[keep], slot[keep]] = m_trk[keep]
    # photon conversion tracks: matched tracks without a B-layer hit (≤ 2, ΔR order)
    ph_tracks = np.full((n_cl, 2), -1, np.int64)
    conv_type = np.zeros(n_cl, np.int8)
    if len(m_trk):
        nobl = np.asarray(tracks.n_blayer_hits)[m_trk] == 0
        conv_idx = np.flatnonzero(nobl)
        if conv_idx.size:
            ccl = cl_of_match[conv_idx]
            rank = np.arange(conv_idx.size) - np.searchsorted(ccl, ccl)
            k2 = rank < 2
            ph_tracks[ccl[k2], rank[k2]] = m_trk[conv_idx[k2]]
            q = np.asarray(tracks.charge)
            two = ph_tracks[:, 1] >= 0
            opposite = two & (
                q[np.maximum(ph_tracks[:, 0], 0)] != q[np.maximum(ph_tracks[:, 1], 0)]
            )
            conv_type = np.where(opposite, 2, np.where(ph_tracks[:, 0] >= 0, 1, 0)).astype(np.int8)
            ph_tracks[:, 1] = np.where(opposite, ph_tracks[:, 1], -1)

    ev_of_cl = np.repeat(np.arange(len(clusters.offsets) - 1), np.diff(clusters.offsets))
    el_cl = np.flatnonzero(is_electron)
    ph_cl = np.flatnonzero(is_photon)
    n_ev = len(clusters.offsets) - 1
    el_off = np.concatenate([[0], np.cumsum(np.bincount(ev_of_cl[el_cl], minlength=n_ev))])
    ph_off = np.concatenate([[0], np.cumsum(np.bincount(ev_of_cl[ph_cl], minlength=n_ev))])
    el_index_of_cl = np.full(n_cl, -1, np.int64)
    el_index_of_cl[el_cl] = np.arange(len(el_cl))
    ph_index_of_cl = np.full(n_cl, -1, np.int64)
    ph_index_of_cl[ph_cl] = np.arange(len(ph_cl))
    return Candidates(
        electron_offsets=el_off.astype(np.int64),
        electron_cluster=el_cl,
        electron_best_track=best[el_cl],
        electron_tracks=el_tracks[el_cl],
        electron_n_tracks=n_match[el_cl].astype(np.int16),
        electron_photon=ph_index_of_cl[el_cl],
        photon_offsets=ph_off.astype(np.int64),
        photon_cluster=ph_cl,
        photon_tracks=ph_tracks[ph_cl],
        photon_conversion_type=conv_type[ph_cl],
        photon_electron=el_index_of_cl[ph_cl],
    )


def matching_variables(
    clusters: ClusterBatch, cluster_index, tracks, track_index, energy: np.ndarray
):
    """Δη1 and Δφ_res (ATL-PHYS-PUB-2023-001 Table 4) of candidates with their best track.

    Δη1 = η_cluster(strips) − η_track at the calorimeter; Δφ_res = q·(φ_cluster(middle)
    − φ of the track extrapolated from the perigee with its momentum rescaled to the
    cluster energy).
    """
    trk_eta = np.asarray(tracks.eta)[track_index]
    trk_phi = np.asarray(tracks.phi)[track_index]
    q = np.asarray(tracks.charge)[track_index].astype(np.int64)
    z0 = np.asarray(tracks.z0)[track_index]
    deta1 = clusters.eta1[cluster_index] - np.asarray(tracks.eta_calo)[track_index]
    pt_resc = energy / np.cosh(trk_eta)
    _, phi_resc = extrapolate_to_calorimeter_array(pt_resc, trk_eta, trk_phi, q, z0)
    ok = np.isfinite(phi_resc)  # loopers never reach the calorimeter
    dphi = (clusters.phi[cluster_index] - phi_resc + np.pi) % (2 * np.pi) - np.pi
    return deta1, np.where(ok, q * dphi, 0.0)
