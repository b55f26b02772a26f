"""Calorimeter shower shapes of e/γ candidates from their cells.

Definitions (``docs/INPUTS.md`` §3 gives them in full, with the integer windows):

Windows "n × m" are n middle-layer cells in η by m in φ (0.025 × 2π/256 each) around
the *centre cell*, the middle-layer grid cell containing the cluster position; a cell is
in a window iff its centre is (closed window, exact on the grid of
:mod:`egamma_cnn.cellgrid`). E_EM is the energy of the presamplers and EM layers 1–3 in
3 × 7.

ATL-PHYS-PUB-2023-001 Table 3 and Franco's photon-ID talk Table 1:

* ``reta`` R_η = E₂(3×7) / E₂(7×7); ``rphi`` R_φ = E₂(3×3) / E₂(3×7) (middle layer).
* ``weta2`` w_η2 = √(Σ E_i η_i² / Σ E_i − (Σ E_i η_i / Σ E_i)²), middle-layer cells in 3×5.
* ``f1`` = E₁(3×7) / E_EM, ``f3`` = E₃(3×7) / E_EM (ATL-PHYS-PUB-2023-001 defaults f3 above
  |η| = 2.01; that is an identification choice, the feature is always the measurement).
* ``rhad`` = E_T(hadronic) / E_T(EM), ``rhad1`` = E_T(HEC0, TileBar0, TileExt0) / E_T(EM):
  hadronic cells within ±0.125 × ±5·2π/256 of the centre cell (10 × 10 middle cells, the
  0.24 × 0.24 ATLAS leakage window on our grid); E_T = E / cosh η_cell,
  E_T(EM) = E_EM / cosh η_cluster.
* ``e_em`` = E_EM (GeV).
* Strip variables, on the strip profile p_i: strips whose centres lie within ±0.03125 in
  η of the centre cell (20 barrel strips), in the strip φ cell containing the cluster and
  its neighbour on the cluster's side (Δη × Δφ ≈ 0.0625 × 0.2), summed over φ per native
  strip; every native strip of the window is an entry, a strip without a cell (below the
  noise threshold) a zero; i_max the hottest strip:

  - ``wstot`` w_s,tot = √(Σ p_i (i − i_max)² / Σ p_i) over the profile,
  - ``ws3`` w_s3 = the same over the three strips |i − i_max| ≤ 1,
  - ``fside`` f_side = (E₇ − E₃) / E₃, E_k over the k strips centred on i_max,
  - ``eratio`` E_ratio = (E_max1 − E_max2) / (E_max1 + E_max2), E_max2 the largest other
    local maximum (strictly above both neighbours and > 0), 0 when there is none,
  - ``deltae`` ΔE_s = E_max2 − E_min, E_min the lowest strip between the two maxima
    (0 without a second maximum).

Collado et al., PRD 103, 116028 §4.5 cites σ_ηη but computes it with |ln E| weights; we use the CMS
definition
(CMS, JINST 10 (2015) P06005, §6): ``sigmaietaieta`` σ_ηη = √(Σ w_i (η_i − η̄)² / Σ w_i)
over the middle-layer cells in 5 × 5, w_i = max(0, 4.7 + ln(E_i / E_5×5)) (0 for
E_i ≤ 0), η̄ the energy-weighted mean η of the cells with E_i > 0, η_i in η units.

Defined values: a ratio whose denominator is ≤ 0 is 0; a width is 0 when its energy sum
is ≤ 0, and a variance is clipped at 0 before the square root (negative noise cells may
make it negative). Nothing is NaN.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from egamma_cnn.cellgrid import (
    ETA_UNIT,
    PHI_UNIT,
    CellTable,
    centre_cells,
    doubled_phi_offset,
)
from egamma_cnn.geometry import REGIONS, STRIP_SAMPLINGS

__all__ = ["SHOWER_SHAPE_NAMES", "compute_shower_shapes"]

#: Output fields of :func:`compute_shower_shapes`, in column order.
SHOWER_SHAPE_NAMES: tuple[str, ...] = (
    "reta",
    "rphi",
    "weta2",
    "f1",
    "f3",
    "rhad",
    "rhad1",
    "e_em",
    "wstot",
    "ws3",
    "fside",
    "eratio",
    "deltae",
    "sigmaietaieta",
)

_PROFILE_BINS = 128  # strip lower edges from c − 64 units: the ±30 window plus one wide strip


def _strip_regions() -> np.ndarray:
    """``int64[n, 3]``: (|η| low edge, high edge, strip width) in grid units of the strip
    layers (barrel and end-cap merged; they share the 0.025/8 pitch where they overlap)."""
    rows = sorted(
        {
            (
                round(r.abs_eta_min / ETA_UNIT),
                round(r.abs_eta_max / ETA_UNIT),
                round(r.deta / ETA_UNIT),
            )
            for r in REGIONS
            if int(r.sampling) in STRIP_SAMPLINGS
        }
    )
    merged: list[list[int]] = []
    for lo, hi, width in rows:
        if merged and merged[-1][2] == width and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi, width])
    return np.array(merged, np.int64)


_STRIP_REGIONS = _strip_regions()


@numba.njit(cache=True)
def _mark_native_strips(centre2, profile_base, profile_on, strip_regions):
    """Mark every native strip whose centre lies in the profile window, with or without a
    cell: a strip below the noise threshold is a zero of the profile, not a gap."""
    for r in range(strip_regions.shape[0]):
        lo = strip_regions[r, 0]
        hi = strip_regions[r, 1]
        width = strip_regions[r, 2]
        for side in (1, -1):
            # strip k spans [lo + k w, lo + (k + 1) w) on the + side, mirrored on the − side
            centre = side * centre2 // 2
            k_first = max((centre - 32 - width - lo) // width, 0)
            k_last = min((centre + 32 - lo) // width, (hi - lo) // width - 1)
            for k in range(k_first, k_last + 1):
                edge_lo = lo + k * width if side > 0 else -(lo + (k + 1) * width)
                if abs(2 * edge_lo + width - centre2) <= 60:
                    b = edge_lo - profile_base
                    if 0 <= b < profile_on.shape[0]:
                        profile_on[b] = True


@numba.njit(cache=True)
def _ratio(numerator, denominator):
    return numerator / denominator if denominator > 0.0 else 0.0


@numba.njit(cache=True)
def _width(s0, s1, s2):
    if s0 <= 0.0:
        return 0.0
    mean = s1 / s0
    return math.sqrt(max(s2 / s0 - mean * mean, 0.0))


@numba.njit(cache=True)
def _strip_variables(profile, n, out, k):
    if n == 0:
        return
    i_max = 0
    for i in range(1, n):
        if profile[i] > profile[i_max]:
            i_max = i
    s0 = s2 = 0.0
    s0_3 = s2_3 = 0.0
    e3 = e7 = 0.0
    for i in range(n):
        d = i - i_max
        s0 += profile[i]
        s2 += profile[i] * d * d
        if abs(d) <= 1:
            s0_3 += profile[i]
            s2_3 += profile[i] * d * d
            e3 += profile[i]
        if abs(d) <= 3:
            e7 += profile[i]
    out[k, 8] = math.sqrt(max(s2 / s0, 0.0)) if s0 > 0.0 else 0.0
    out[k, 9] = math.sqrt(max(s2_3 / s0_3, 0.0)) if s0_3 > 0.0 else 0.0
    out[k, 10] = _ratio(e7 - e3, e3)
    second = -1
    for i in range(n):
        if i == i_max or profile[i] <= 0.0:
            continue
        if i > 0 and profile[i] <= profile[i - 1]:
            continue
        if i < n - 1 and profile[i] <= profile[i + 1]:
            continue
        if second < 0 or profile[i] > profile[second]:
            second = i
    e_max1 = profile[i_max]
    if second < 0:
        out[k, 11] = _ratio(e_max1, e_max1)
        out[k, 12] = 0.0
        return
    e_max2 = profile[second]
    out[k, 11] = _ratio(e_max1 - e_max2, e_max1 + e_max2)
    lo = min(i_max, second)
    hi = max(i_max, second)
    e_min = profile[lo + 1]
    for i in range(lo + 1, hi):
        e_min = min(e_min, profile[i])
    out[k, 12] = e_max2 - e_min


@numba.njit(cache=True)
def _kernel(
    cell_offsets,
    energy,
    sampling,
    eta_lo,
    eta_hi,
    phi_lo,
    phi_hi,
    cell_eta,
    cand_offsets,
    i_c,
    j_c,
    cluster_eta,
    strip_phi_lo,
    strip_regions,
    out,
):
    profile_e = np.zeros(_PROFILE_BINS)
    profile_on = np.zeros(_PROFILE_BINS, np.bool_)
    profile = np.zeros(_PROFILE_BINS)
    sigma_e = np.zeros(128)
    sigma_eta = np.zeros(128)
    for event in range(cand_offsets.shape[0] - 1):
        for k in range(cand_offsets[event], cand_offsets[event + 1]):
            # offsets are compared doubled so that every window test is on integers: a window
            # of n × m middle cells holds |d_eta2| ≤ 24 n and |d_phi2| ≤ m
            centre2 = 48 * i_c[k] + 24  # doubled η of the centre-cell centre
            profile_base = 24 * i_c[k] + 12 - 64
            profile_e[:] = 0.0
            profile_on[:] = False
            e77 = e37 = e33 = 0.0
            w0 = w1 = w2 = 0.0
            e_layer = np.zeros(4)
            et_had = et_had1 = 0.0
            e55 = 0.0
            n_sigma = 0
            for i in range(cell_offsets[event], cell_offsets[event + 1]):
                s = sampling[i]
                e = energy[i]
                d_eta2 = eta_lo[i] + eta_hi[i] - centre2
                d_phi2 = doubled_phi_offset(phi_lo[i], phi_hi[i], j_c[k])
                if s <= 7:
                    if abs(d_eta2) <= 72 and abs(d_phi2) <= 7:
                        if s == 0 or s == 4:
                            e_layer[0] += e
                        elif s == 1 or s == 5:
                            e_layer[1] += e
                        elif s == 2 or s == 6:
                            e_layer[2] += e
                        else:
                            e_layer[3] += e
                    if s == 2 or s == 6:
                        if abs(d_eta2) <= 168 and abs(d_phi2) <= 7:
                            e77 += e
                            if abs(d_eta2) <= 72:
                                e37 += e
                                if abs(d_phi2) <= 3:
                                    e33 += e
                        if abs(d_eta2) <= 72 and abs(d_phi2) <= 5:
                            w0 += e
                            w1 += e * cell_eta[i]
                            w2 += e * cell_eta[i] * cell_eta[i]
                        if abs(d_eta2) <= 120 and abs(d_phi2) <= 5:
                            e55 += e
                            if n_sigma < sigma_e.shape[0]:
                                sigma_e[n_sigma] = e
                                sigma_eta[n_sigma] = cell_eta[i]
                                n_sigma += 1
                    if (s == 1 or s == 5) and abs(d_eta2) <= 60:
                        rel = (phi_lo[i] - strip_phi_lo[k]) % 256
                        if rel == 0 or rel == 4:
                            b = eta_lo[i] - profile_base
                            if 0 <= b < _PROFILE_BINS:
                                profile_e[b] += e
                                profile_on[b] = True
                elif abs(d_eta2) <= 240 and abs(d_phi2) <= 10:
                    et = e / math.cosh(cell_eta[i])
                    et_had += et
                    if s == 8 or s == 12 or s == 18:
                        et_had1 += et
            e_em = e_layer[0] + e_layer[1] + e_layer[2] + e_layer[3]
            et_em = e_em / math.cosh(cluster_eta[k])
            out[k, 0] = _ratio(e37, e77)
            out[k, 1] = _ratio(e33, e37)
            out[k, 2] = _width(w0, w1, w2)
            out[k, 3] = _ratio(e_layer[1], e_em)
            out[k, 4] = _ratio(e_layer[3], e_em)
            out[k, 5] = _ratio(et_had, et_em)
            out[k, 6] = _ratio(et_had1, et_em)
            out[k, 7] = e_em
            _mark_native_strips(centre2, profile_base, profile_on, strip_regions)
            n = 0
            for b in range(_PROFILE_BINS):
                if profile_on[b]:
                    profile[n] = profile_e[b]
                    n += 1
            _strip_variables(profile, n, out, k)
            # σ_ηη (CMS): log weights relative to E(5x5), energy-weighted mean η.
            if e55 > 0.0:
                sum_e = sum_e_eta = 0.0
                for j in range(n_sigma):
                    if sigma_e[j] > 0.0:
                        sum_e += sigma_e[j]
                        sum_e_eta += sigma_e[j] * sigma_eta[j]
                mean = sum_e_eta / sum_e if sum_e > 0.0 else 0.0
                sw = swd = 0.0
                for j in range(n_sigma):
                    if sigma_e[j] > 0.0:
                        w = max(0.0, 4.7 + math.log(sigma_e[j] / e55))
                        sw += w
                        swd += w * (sigma_eta[j] - mean) ** 2
                out[k, 13] = math.sqrt(swd / sw) if sw > 0.0 else 0.0


def strip_phi_window(cluster_phi: np.ndarray) -> np.ndarray:
    """Lower φ edge (grid units, mod 256) of the two strip φ cells of the strip profile.

    The strip φ cell (4 units) containing the cluster, and its neighbour on the side of the
    cluster relative to that cell's centre (the + side when exactly at the centre).
    """
    position = (np.asarray(cluster_phi, np.float64) + math.pi) / PHI_UNIT
    lower = 4 * np.floor(position / 4.0).astype(np.int64)
    below = position < lower + 2.0
    return np.where(below, lower - 4, lower) % 256


def compute_shower_shapes(
    cells: CellTable, cand_offsets: np.ndarray, cluster_eta: np.ndarray, cluster_phi: np.ndarray
) -> np.ndarray:
    """Shower shapes of all candidates: ``float64[n_candidates, 14]`` in
    :data:`SHOWER_SHAPE_NAMES` order.

    Parameters
    ----------
    cells : CellTable
        The events' cells (:func:`egamma_cnn.cellgrid.prepare_cells`).
    cand_offsets : numpy.ndarray
        ``n_events + 1`` offsets of each event's candidates.
    cluster_eta, cluster_phi : numpy.ndarray
        Flat cluster positions of the candidates.
    """
    cand_offsets = np.asarray(cand_offsets, np.int64)
    if len(cand_offsets) != len(cells.offsets):
        raise ValueError(
            f"the cells have {cells.n_events} events but the candidates {len(cand_offsets) - 1}"
        )
    cluster_eta = np.asarray(cluster_eta, np.float64)
    cluster_phi = np.asarray(cluster_phi, np.float64)
    i_c, j_c = centre_cells(cluster_eta, cluster_phi)
    out = np.zeros((int(cand_offsets[-1]), len(SHOWER_SHAPE_NAMES)))
    _kernel(
        cells.offsets,
        cells.energy,
        cells.sampling,
        cells.eta_lo,
        cells.eta_hi,
        cells.phi_lo,
        cells.phi_hi,
        cells.eta,
        cand_offsets,
        i_c,
        j_c,
        cluster_eta,
        strip_phi_window(cluster_phi),
        _STRIP_REGIONS,
        out,
    )
    return out
