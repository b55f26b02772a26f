"""Reconstruction: EM clusters, electron and photon candidates, and the cells written.

Clusters follow the ATLAS sliding-window algorithm (ATL-LARG-PUB-2008-002) in
simplified form:

1. *Seeds*: the deposited EM energy (before electronic noise, which at ~0.1 GeV per
   window is far below the threshold) is summed into towers of middle-layer size
   Δη × Δφ = 0.025 × 2π/256 by cell centre; a tower that is the maximum of its 3 × 5
   neighbourhood (0.075 × 0.123) seeds when the 3 × 5 sum has E_T > ``seed_et``
   (2.5 GeV); seeds are kept greedily in decreasing E_T when no stronger seed lies within
   the same 3 × 5 window.
2. *Position*: the energy-weighted barycentre of the 3 × 3 middle-layer cells around
   the seed (ATL-PHYS-PUB-2023-001 Table 4 uses the middle-layer position for Δφ_res).
3. *Energy*: the cells of the presampler and EM layers 1–3 whose centres are inside a
   3 × 7 (barrel) or 5 × 5 (end-cap) middle-layer window around that position, times a
   calibration C(|η|, E) derived from single electrons so that E_reco/E_true ≈ 1
   (:mod:`egamma_cnn.sim.calibration`).

Candidates (ATL-PHYS-PUB-2023-001 §4.1):

* an **electron** is a cluster with at least one matched standard track
  (|Δη| < 0.05, |Δφ| < 0.1 between the track extrapolated to the middle layer and the
  cluster) and p_T = E / cosh(η_track) > 4.5 GeV, |η_cluster| < 2.47. The best track is
  the matched one with the smallest ΔR; the matched tracks are ordered by ΔR
  (ATL-PHYS-PUB-2023-001 §4.3).
* a **photon** is a cluster with E_T > 7 GeV, |η| < 2.47 whose best track (if any) has no
  hit in the innermost pixel layer: a conversion candidate. Its conversion type is 2 when
  two opposite-charge matched tracks without B-layer hit exist, 1 with one, 0 without
  tracks. A cluster whose best track lacks the B-layer hit is both an electron and a
  photon candidate (the ATLAS ambiguity), linked through ``photonIdx``/``electronIdx``.

The cells written are those with |E| > k σ_noise (two-sided) whose centre lies within
ΔR < ``roi_radius`` of any candidate's cluster, each once per event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from egamma_cnn.geometry import EM_SAMPLINGS, REGIONS, cell_center
from egamma_cnn.sim.calorimeter import CellDeposits
from egamma_cnn.sim.cells import delta_phi, measured_energy, window_cells

__all__ = [
    "ClusterBatch",
    "ReconstructionConfig",
    "brem_recovery_energy",
    "find_clusters",
    "roi_cells",
]

_MAX_WINDOW = 8192
_TOWER_ETA_MAX = 2.5
_RECOVERY_MAX_DPHI = 0.3
_TOWER_DETA = 0.025
_ALL_SAMPLINGS = np.array(sorted({int(r.sampling) for r in REGIONS}), np.int64)
_EM = np.array(EM_SAMPLINGS, np.int64)
_MIDDLE = (2, 6)


@dataclass(frozen=True)
class ReconstructionConfig:
    """Thresholds of the reconstruction (GeV unless stated)."""

    seed_et: float = 2.5
    electron_min_pt: float = 4.5
    photon_min_et: float = 7.0
    max_abs_eta: float = 2.47
    match_deta: float = 0.05
    match_dphi: float = 0.10


@dataclass
class ClusterBatch:
    """EM clusters of a batch, flat with offsets.

    ``energy_raw`` is the uncalibrated window sum; ``energy`` the calibrated one;
    ``layer_energy`` (n, 4) the presampler and EM 1–3 sums; ``eta1`` the strip-layer
    barycentre used for Δη1.
    """

    offsets: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    eta1: np.ndarray
    energy_raw: np.ndarray
    energy: np.ndarray
    layer_energy: np.ndarray

    @property
    def et(self) -> np.ndarray:
        """Cluster transverse energy E / cosh η."""
        return self.energy / np.cosh(self.eta)


@numba.njit(cache=True)
def _window_sum(
    samplings,
    eta_c,
    phi_c,
    half_eta,
    half_phi,
    buf,
    dep_cells,
    dep_e,
    lo,
    hi,
    seed,
    noise,
    per_layer,
):
    total = 0.0
    for j in range(samplings.shape[0]):
        s = samplings[j]
        n = window_cells(s, eta_c, phi_c, half_eta, half_phi, buf)
        layer = 0.0
        for k in range(n):
            layer += measured_energy(buf[k], dep_cells, dep_e, lo, hi, seed, noise)
        per_layer[j] = layer
        total += layer
    return total


@numba.njit(cache=True)
def _barycentre(
    sampling, eta_c, phi_c, half_eta, half_phi, buf, dep_cells, dep_e, lo, hi, seed, noise
):
    n = window_cells(sampling, eta_c, phi_c, half_eta, half_phi, buf)
    sw = 0.0
    se = 0.0
    sp = 0.0
    for k in range(n):
        e = measured_energy(buf[k], dep_cells, dep_e, lo, hi, seed, noise)
        if e <= 0.0:
            continue
        _, ce, cp, _, _ = cell_center(buf[k])
        sw += e
        se += e * ce
        sp += e * delta_phi(cp, phi_c)
    if sw <= 0.0:
        return eta_c, phi_c
    p = phi_c + sp / sw
    return se / sw, (p + math.pi) % (2.0 * math.pi) - math.pi


@numba.njit(cache=True)
def _clusters_kernel(
    dep_off,
    dep_cells,
    dep_e,
    seeds,
    noise,
    em,
    seed_et,
    max_eta,
    out_off,
    out_eta,
    out_phi,
    out_eta1,
    out_raw,
    out_layers,
):
    buf = np.empty(_MAX_WINDOW, np.int64)
    per = np.zeros(em.shape[0])
    n_out = 0
    out_off[0] = 0
    # tower grid of middle-layer granularity: EM deposits summed by cell centre
    n_teta = int(2.0 * _TOWER_ETA_MAX / _TOWER_DETA + 0.5)
    n_tphi = 256
    tower = np.zeros((n_teta, n_tphi))
    for ev in range(dep_off.shape[0] - 1):
        lo = dep_off[ev]
        hi = dep_off[ev + 1]
        touched = []
        for i in range(lo, hi):
            s, ce, cp, _de, _dp = cell_center(dep_cells[i])
            if s > 7:
                continue
            a = int((ce + _TOWER_ETA_MAX) / _TOWER_DETA + 1e-6)
            b = int((cp + math.pi) / (2.0 * math.pi / n_tphi) + 1e-6) % n_tphi
            if a < 0 or a >= n_teta:
                continue
            if tower[a, b] == 0.0:
                touched.append(a * n_tphi + b)
            tower[a, b] += dep_e[i]
        # candidate seeds: towers whose 3 x 5 window E_T exceeds the threshold
        cand_eta = []
        cand_phi = []
        cand_et = []
        for t in touched:
            a = t // n_tphi
            b = t - a * n_tphi
            eta_c = -_TOWER_ETA_MAX + (a + 0.5) * _TOWER_DETA
            if abs(eta_c) > max_eta + 0.05 or tower[a, b] < 0.1 * seed_et:
                continue
            total = 0.0
            is_max = True
            for da in range(-1, 2):
                aa = a + da
                if aa < 0 or aa >= n_teta:
                    continue
                for db in range(-2, 3):
                    v = tower[aa, (b + db) % n_tphi]
                    total += v
                    if v > tower[a, b]:
                        is_max = False
            et = total / math.cosh(eta_c)
            if is_max and et > seed_et:
                cand_eta.append(eta_c)
                cand_phi.append(-math.pi + (b + 0.5) * 2.0 * math.pi / n_tphi)
                cand_et.append(et)
        for t in touched:
            a = t // n_tphi
            tower[a, t - a * n_tphi] = 0.0
        order = np.argsort(-np.array(cand_et)) if len(cand_et) else np.zeros(0, np.int64)
        acc_eta = []
        acc_phi = []
        for j in order:
            ok = True
            for a in range(len(acc_eta)):
                if (
                    abs(cand_eta[j] - acc_eta[a]) < 0.075
                    and abs(delta_phi(cand_phi[j], acc_phi[a])) < 0.125
                ):
                    ok = False
                    break
            if ok:
                acc_eta.append(cand_eta[j])
                acc_phi.append(cand_phi[j])
        for a in range(len(acc_eta)):
            s_mid = 2 if abs(acc_eta[a]) < 1.4 else 6
            eta_b, phi_b = _barycentre(
                s_mid,
                acc_eta[a],
                acc_phi[a],
                0.0375,
                0.0368,
                buf,
                dep_cells,
                dep_e,
                lo,
                hi,
                seeds[ev],
                noise,
            )
            if abs(eta_b) < 1.4:
                heta, hphi = 0.0375, 0.0859
            else:
                heta, hphi = 0.0625, 0.0614
            if n_out >= out_eta.shape[0]:
                return -1
            total = _window_sum(
                em, eta_b, phi_b, heta, hphi, buf, dep_cells, dep_e, lo, hi, seeds[ev], noise, per
            )
            out_eta[n_out] = eta_b
            out_phi[n_out] = phi_b
            out_raw[n_out] = total
            # presampler (barrel + end-cap), strips, middle, back
            out_layers[n_out, 0] = per[0] + per[4]
            out_layers[n_out, 1] = per[1] + per[5]
            out_layers[n_out, 2] = per[2] + per[6]
            out_layers[n_out, 3] = per[3] + per[7]
            s_strip = 1 if abs(eta_b) < 1.4 else 5
            e1, _ = _barycentre(
                s_strip, eta_b, phi_b, heta, 0.0982, buf, dep_cells, dep_e, lo, hi, seeds[ev], noise
            )
            out_eta1[n_out] = e1
            n_out += 1
        out_off[ev + 1] = n_out
    return n_out


def find_clusters(
    deposits: CellDeposits,
    noise_sigma: np.ndarray,
    calibrate=None,
    config: ReconstructionConfig = ReconstructionConfig(),
) -> ClusterBatch:
    """Find the EM clusters of every event of a batch.

    Parameters
    ----------
    deposits
        True cell energies from :func:`egamma_cnn.sim.calorimeter.simulate_calorimeter`.
    noise_sigma
        Noise σ per sampling (GeV), already scaled.
    calibrate
        Callable ``(abs_eta, energy_raw) -> energy`` giving ``ClusterBatch.energy``
        (the photon calibration in production); ``None`` leaves the raw energy.
    config
        Thresholds.
    """
    n_ev = len(deposits.offsets) - 1
    cap = max(256, 40 * n_ev)
    while True:
        off = np.zeros(n_ev + 1, np.int64)
        eta, phi, eta1, raw = (np.empty(cap) for _ in range(4))
        layers = np.empty((cap, 4))
        n = _clusters_kernel(
            deposits.offsets,
            deposits.cells,
            deposits.energy,
            deposits.event_seeds,
            np.asarray(noise_sigma, np.float64),
            _EM,
            config.seed_et,
            config.max_abs_eta,
            off,
            eta,
            phi,
            eta1,
            raw,
            layers,
        )
        if n >= 0:
            break
        cap *= 4
    energy = raw[:n].copy() if calibrate is None else calibrate(np.abs(eta[:n]), raw[:n])
    return ClusterBatch(
        off,
        eta[:n].copy(),
        phi[:n].copy(),
        eta1[:n].copy(),
        raw[:n].copy(),
        energy,
        layers[:n].copy(),
    )


@numba.njit(cache=True)
def _roi_kernel(
    cand_off,
    cand_eta,
    cand_phi,
    radius,
    dep_off,
    dep_cells,
    dep_e,
    seeds,
    noise,
    samplings,
    k_sigma,
    out_off,
    out_cells,
    out_e,
):
    buf = np.empty(_MAX_WINDOW, np.int64)
    n_out = 0
    out_off[0] = 0
    for ev in range(cand_off.shape[0] - 1):
        lo = dep_off[ev]
        hi = dep_off[ev + 1]
        start = n_out
        for c in range(cand_off[ev], cand_off[ev + 1]):
            for j in range(samplings.shape[0]):
                s = samplings[j]
                n = window_cells(s, cand_eta[c], cand_phi[c], radius, radius, buf)
                for k in range(n):
                    cell = buf[k]
                    _, ce, cp, _, _ = cell_center(cell)
                    dphi = delta_phi(cp, cand_phi[c])
                    if (ce - cand_eta[c]) ** 2 + dphi * dphi >= radius * radius:
                        continue
                    e = measured_energy(cell, dep_cells, dep_e, lo, hi, seeds[ev], noise)
                    if abs(e) <= k_sigma * noise[s]:
                        continue
                    if n_out >= out_cells.shape[0]:
                        return -1
                    out_cells[n_out] = cell
                    out_e[n_out] = e
                    n_out += 1
        # each cell once: sort this event's cells and drop repeats
        if n_out > start:
            order = np.argsort(out_cells[start:n_out])
            cells = out_cells[start:n_out][order].copy()
            es = out_e[start:n_out][order].copy()
            m = start
            for k in range(cells.shape[0]):
                if k > 0 and cells[k] == cells[k - 1]:
                    continue
                out_cells[m] = cells[k]
                out_e[m] = es[k]
                m += 1
            n_out = m
        out_off[ev + 1] = n_out
    return n_out


def roi_cells(
    cand_offsets: np.ndarray,
    cand_eta: np.ndarray,
    cand_phi: np.ndarray,
    deposits: CellDeposits,
    noise_sigma: np.ndarray,
    radius: float,
    k_sigma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Measured cells within ΔR < radius of the candidates, above k σ (two-sided).

    Returns ``(offsets, cells, energy)`` with the cells of each event sorted and unique.
    """
    n_ev = len(cand_offsets) - 1
    cap = max(4096, 800 * len(cand_eta))
    while True:
        off = np.zeros(n_ev + 1, np.int64)
        cells = np.empty(cap, np.int64)
        energy = np.empty(cap)
        n = _roi_kernel(
            np.asarray(cand_offsets, np.int64),
            np.asarray(cand_eta, np.float64),
            np.asarray(cand_phi, np.float64),
            radius,
            deposits.offsets,
            deposits.cells,
            deposits.energy,
            deposits.event_seeds,
            np.asarray(noise_sigma, np.float64),
            _ALL_SAMPLINGS,
            k_sigma,
            off,
            cells,
            energy,
        )
        if n >= 0:
            break
        cap *= 4
    return off, cells[:n].copy(), energy[:n].copy()


@numba.njit(cache=True)
def _recovery_kernel(
    cand_event, cl_eta, cl_phi, rec_eta, rec_phi, dep_off, dep_cells, dep_e, seeds, noise, em, out
):
    buf = np.empty(_MAX_WINDOW, np.int64)
    for k in range(cand_event.shape[0]):
        out[k] = 0.0
        if not (np.isfinite(rec_eta[k]) and np.isfinite(rec_phi[k])):
            continue
        if abs(cl_eta[k]) < 1.4:
            heta, hphi = 0.0375, 0.0859
        else:
            heta, hphi = 0.0625, 0.0614
        arc = delta_phi(rec_phi[k], cl_phi[k])
        if abs(arc) > _RECOVERY_MAX_DPHI:
            arc = _RECOVERY_MAX_DPHI if arc > 0 else -_RECOVERY_MAX_DPHI
        # the arc from the cluster to two middle cells beyond the remnant's impact
        far = arc + (0.05 if arc > 0 else -0.05)
        if abs(far) <= hphi:
            continue  # the remnant lands inside the cluster window
        centre_phi = cl_phi[k] + 0.5 * far
        half_phi = 0.5 * abs(far)
        ev = cand_event[k]
        lo = dep_off[ev]
        hi = dep_off[ev + 1]
        total = 0.0
        for j in range(em.shape[0]):
            n = window_cells(em[j], cl_eta[k], centre_phi, heta, half_phi, buf)
            for i in range(n):
                _, _ce, cp, _, _ = cell_center(buf[i])
                if abs(delta_phi(cp, cl_phi[k])) < hphi:
                    continue  # already in the main window
                total += measured_energy(buf[i], dep_cells, dep_e, lo, hi, seeds[ev], noise)
        out[k] = total


def brem_recovery_energy(
    cand_event: np.ndarray,
    cluster_eta: np.ndarray,
    cluster_phi: np.ndarray,
    remnant_eta: np.ndarray,
    remnant_phi: np.ndarray,
    deposits: CellDeposits,
    noise_sigma: np.ndarray,
) -> np.ndarray:
    """Energy of the radiating electron's remnant outside the cluster window.

    Track-guided brem recovery in the spirit of ATLAS superclusters (ATLAS, JINST 14
    (2019) P12006, §4): the best track extrapolated to the middle layer with its
    momentum at the last measurement, p·(1 − Δp/p), bounds the arc along which the
    radiating electron's remnant deposits (the bending direction). The EM cells in the
    cluster's η rows, between the cluster window and two middle-layer cells beyond that
    impact (at most |Δφ| = 0.3, the ATLAS satellite window), are added. Returns 0 where
    the impact lies inside the cluster window.
    """
    out = np.zeros(len(cand_event))
    _recovery_kernel(
        np.asarray(cand_event, np.int64),
        np.asarray(cluster_eta, np.float64),
        np.asarray(cluster_phi, np.float64),
        np.asarray(remnant_eta, np.float64),
        np.asarray(remnant_phi, np.float64),
        deposits.offsets,
        deposits.cells,
        deposits.energy,
        deposits.event_seeds,
        np.asarray(noise_sigma, np.float64),
        _EM,
        out,
    )
    return out
