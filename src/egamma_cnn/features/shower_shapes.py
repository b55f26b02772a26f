"""Calorimeter shower shapes of e/γ candidates from their cells (seed 000 Table 3).

All windows are centred on the middle-layer (EM layer 2) cell that contains the
candidate's cluster position and are counted in middle-layer cells of
Δη × Δφ = 0.025 × 2π/256; a cell belongs to a window iff its centre lies inside it.

* R_η = E₂(3×7) / E₂(7×7), R_φ = E₂(3×3) / E₂(3×7)  (η × φ cells, layer 2 only).
* w_η2 = √(Σ E_i η_i² / Σ E_i − (Σ E_i η_i / Σ E_i)²) over layer-2 cells in 3×5.
* f1 = E₁ / E_EM, f3 = E₃ / E_EM, with E_EM the presampler + layers 1–3 energy in the
  3×7 window (seed 000 sets f3 to a default above |η| = 2.01; that is the ID's job, the
  value here is always the measured ratio).
* R_had = E_T(hadronic) / E_T(EM) and R_had1 = E_T(first hadronic layer) / E_T(EM),
  hadronic cells inside |Δη| < 0.12, |Δφ| < 0.12 (the 0.24 × 0.24 ATLAS leakage window),
  E_T = E / cosh η_cell, E_T(EM) = E_EM / cosh η_cluster.

Defined values: a ratio whose denominator is ≤ 0 is 0; w_η2 is 0 when the window
energy is ≤ 0, and the variance is clipped at 0 before the square root (negative
noise cells may otherwise make it negative). Nothing returns NaN.
"""

from __future__ import annotations

import math

import awkward as ak
import numba
import numpy as np

from egamma_cnn.geometry import cell_center, cell_id

__all__ = ["SHOWER_SHAPE_NAMES", "shower_shapes", "shower_shapes_flat"]

SHOWER_SHAPE_NAMES = ("reta", "rphi", "weta2", "f1", "f3", "rhad", "rhad1", "e_em")
_L2_DPHI = 2.0 * math.pi / 256.0
_L2_DETA = 0.025


@numba.njit(cache=True)
def _wrap(x):
    return (x + math.pi) % (2.0 * math.pi) - math.pi


@numba.njit(cache=True)
def _ratio(a, b):
    return a / b if b > 0.0 else 0.0


@numba.njit(cache=True)
def _kernel(cell_off, c_eta, c_phi, c_e, c_s, cand_off, k_eta, k_phi, out):
    for ev in range(cand_off.shape[0] - 1):
        for k in range(cand_off[ev], cand_off[ev + 1]):
            s2 = 2 if abs(k_eta[k]) < 1.475 else 6
            cid = cell_id(s2, k_eta[k], k_phi[k])
            if cid < 0:
                s2 = 6 if s2 == 2 else 2
                cid = cell_id(s2, k_eta[k], k_phi[k])
            if cid >= 0:
                _, eta0, phi0, _, _ = cell_center(cid)
            else:
                eta0, phi0 = k_eta[k], k_phi[k]
            e37 = e77 = e33 = 0.0
            sw = swe = swe2 = 0.0
            e_layer = np.zeros(4)
            e_had = e_had1 = 0.0
            for i in range(cell_off[ev], cell_off[ev + 1]):
                deta = c_eta[i] - eta0
                dphi = _wrap(c_phi[i] - phi0)
                ne = abs(deta) / _L2_DETA
                nphi = abs(dphi) / _L2_DPHI
                s = c_s[i]
                e = c_e[i]
                if s == 2 or s == 6:
                    if ne < 3.5 and nphi < 3.5:
                        e77 += e
                        if ne < 1.5:
                            e37 += e
                            if nphi < 1.5:
                                e33 += e
                    if ne < 1.5 and nphi < 2.5:
                        sw += e
                        swe += e * c_eta[i]
                        swe2 += e * c_eta[i] * c_eta[i]
                if s <= 7 and ne < 1.5 and nphi < 3.5:
                    if s == 0 or s == 4:
                        e_layer[0] += e
                    elif s == 1 or s == 5:
                        e_layer[1] += e
                    elif s == 2 or s == 6:
                        e_layer[2] += e
                    else:
                        e_layer[3] += e
                if s >= 8 and abs(deta) < 0.12 and abs(dphi) < 0.12:
                    et = e / math.cosh(c_eta[i])
                    e_had += et
                    if s == 8 or s == 12 or s == 18:
                        e_had1 += et
            e_em = e_layer[0] + e_layer[1] + e_layer[2] + e_layer[3]
            et_em = e_em / math.cosh(k_eta[k])
            out[k, 0] = _ratio(e37, e77)
            out[k, 1] = _ratio(e33, e37)
            if sw > 0.0:
                mean = swe / sw
                out[k, 2] = math.sqrt(max(swe2 / sw - mean * mean, 0.0))
            else:
                out[k, 2] = 0.0
            out[k, 3] = _ratio(e_layer[1], e_em)
            out[k, 4] = _ratio(e_layer[3], e_em)
            out[k, 5] = _ratio(e_had, et_em)
            out[k, 6] = _ratio(e_had1, et_em)
            out[k, 7] = e_em


def shower_shapes_flat(
    cell_offsets, cell_eta, cell_phi, cell_energy, cell_sampling, cand_offsets, cand_eta, cand_phi
) -> np.ndarray:
    """Shower shapes over flat buffers: an (n_candidates, 8) array in
    :data:`SHOWER_SHAPE_NAMES` order. ``cell_offsets`` and ``cand_offsets`` group cells and
    candidates by event (same number of events)."""
    cell_offsets = np.asarray(cell_offsets, np.int64)
    cand_offsets = np.asarray(cand_offsets, np.int64)
    if len(cell_offsets) != len(cand_offsets):
        raise ValueError(
            f"cells have {len(cell_offsets) - 1} events but candidates {len(cand_offsets) - 1}"
        )
    energy = np.asarray(cell_energy, np.float64)
    if not np.all(np.isfinite(energy)):
        raise ValueError("CaloCell_energy contains NaN or infinite values")
    out = np.zeros((int(cand_offsets[-1]), len(SHOWER_SHAPE_NAMES)))
    _kernel(
        cell_offsets,
        np.asarray(cell_eta, np.float64),
        np.asarray(cell_phi, np.float64),
        energy,
        np.asarray(cell_sampling, np.int64),
        cand_offsets,
        np.asarray(cand_eta, np.float64),
        np.asarray(cand_phi, np.float64),
        out,
    )
    return out


def shower_shapes(cells: ak.Array, cluster_eta: ak.Array, cluster_phi: ak.Array) -> ak.Array:
    """Shower shapes as a jagged record array parallel to the candidates.

    ``cells`` is the per-event ``CaloCell`` collection (fields eta, phi, energy,
    sampling); ``cluster_eta``/``cluster_phi`` are jagged per event like the candidates.
    """
    n_cells = ak.to_numpy(ak.num(cells, axis=1))
    n_cand = ak.to_numpy(ak.num(cluster_eta, axis=1))
    flat = shower_shapes_flat(
        np.concatenate([[0], np.cumsum(n_cells)]),
        ak.to_numpy(ak.flatten(cells.eta)),
        ak.to_numpy(ak.flatten(cells.phi)),
        ak.to_numpy(ak.flatten(cells.energy)),
        ak.to_numpy(ak.flatten(cells.sampling)),
        np.concatenate([[0], np.cumsum(n_cand)]),
        ak.to_numpy(ak.flatten(cluster_eta)),
        ak.to_numpy(ak.flatten(cluster_phi)),
    )
    return ak.unflatten(
        ak.zip({name: flat[:, j] for j, name in enumerate(SHOWER_SHAPE_NAMES)}), n_cand
    )
