"""Calorimeter simulation: showers into cells.

Every particle that reaches the calorimeter (its impact point on the EM middle layer comes
from :mod:`egamma_cnn.sim.propagation`) deposits its energy as *spots*, each carrying an
equal share of the shower energy, placed in depth (which layer) and laterally (which cell)
by parameterised profiles, then summed per cell of :mod:`egamma_cnn.geometry`.
All of it runs in numba kernels over the flat particle arrays of a batch.

Electromagnetic showers (e±, γ) — Grindhammer & Peters, "The parameterized simulation
of electromagnetic showers in homogeneous and sampling calorimeters",
arXiv:hep-ex/0001020, §2–3 (homogeneous-medium formulas with Z = 82):

* longitudinal: dE/dt ∝ Gamma(α, β) in depth t (X0), shower maximum
  T = ln(E/E_c) + C (C = −0.5 for e±, +0.5 for γ, Rossi/Longo), α from
  α = 0.21 + (0.492 + 2.38/Z) ln y, with correlated log-normal fluctuations of T and α
  (σ(ln T) = (−1.4 + 1.26 ln y)⁻¹, σ(ln α) = (−0.58 + 0.86 ln y)⁻¹,
  ρ = 0.705 − 0.023 ln y), β = (α − 1)/T;
* lateral: f(r) = p f_C(r) + (1 − p) f_T(r), f_i(r) = 2 r R_i² / (r² + R_i²)² with
  R_C = z1 + z2 τ, R_T = k1 [exp(k3(τ − k2)) + exp(k4(τ − k2))],
  p = p1 exp[(p2 − τ)/p3 − exp((p2 − τ)/p3)], τ = t/T, radii in Molière radii.

Hadronic showers (π±, K±, p, n, K0L, ...): the first interaction happens after an
exponentially distributed depth in interaction lengths λ; a charged hadron leaves
minimum-ionising deposits before it. The energy then splits into an electromagnetic
part (π0 → γγ) with fraction f_em, mean 1 − (E/1 GeV)^(k−1), k = 0.82 (Groom, NIM A572
(2007) 633), fluctuating as a Beta distribution and showered as EM sub-showers spread
around the axis, and a non-EM part with response h/e, a Gamma longitudinal profile in λ
and a wide two-exponential lateral profile. Muons leave MIP deposits in every layer.

Cell response: each cell of true energy E is smeared by the sampling term a√E of its
layer. Electronic noise is *not* added here: it is a counter-based function of (event
seed, cell) (:func:`cell_noise`) so that clustering and cell writing see the same noise
without generating it for the ~190k cells of an event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from egamma_cnn.geometry import N_CELLS, cell_center, cell_id, transverse_distance_mm
from egamma_cnn.sim.detector import (
    BARREL_STACK,
    CRACK_EXTRA_X0,
    ENDCAP_STACK,
    FALLBACK_SAMPLING,
    SHOWER_STACK_SPLIT_ETA,
    DetectorConfig,
    services_x0,
)
from egamma_cnn.sim.particles import ParticleBatch

__all__ = [
    "CellDeposits",
    "cell_noise",
    "simulate_calorimeter",
]

MAX_ETA = 2.6
Z_ABSORBER = 82.0

# Visible MIP energy per stack row (GeV): EM ≈ 12 MeV per X0 at the EM scale; Tile and
# HEC ≈ 0.3 GeV per λ (muons leave ~0.4 GeV in the EM and ~2.5 GeV in the Tile).
_MIP_PER_X0_EM = 0.012
_MIP_PER_LAMBDA_HAD = 0.3

_N_ROWS = max(len(BARREL_STACK.sampling), len(ENDCAP_STACK.sampling))


def _stack_tables():
    samp = np.full((2, _N_ROWS), -2, np.int64)  # -2: no row
    x0 = np.zeros((2, _N_ROWS))
    lam = np.zeros((2, _N_ROWS))
    mip = np.zeros((2, _N_ROWS))
    for k, st in enumerate((BARREL_STACK, ENDCAP_STACK)):
        n = len(st.sampling)
        samp[k, :n] = st.sampling
        x0[k, :n] = st.x0
        lam[k, :n] = st.lam
        is_em = st.lam < 0.1 * st.x0
        mip[k, :n] = np.where(
            st.sampling < 0,
            0.0,
            np.where(is_em, _MIP_PER_X0_EM * st.x0, _MIP_PER_LAMBDA_HAD * st.lam),
        )
    return samp, x0, lam, mip


_STACK_SAMPLING, _STACK_X0, _STACK_LAMBDA, _STACK_MIP = _stack_tables()


# ----------------------------------------------------------------------------- noise
@numba.njit(cache=True, inline="always")
def _splitmix64(x: np.uint64) -> np.uint64:
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = x
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def cell_noise(event_seed: np.uint64, cell: int) -> float:
    """Standard-normal noise value of one cell in one event (counter-based, Box–Muller).

    The same (event_seed, cell) always gives the same value, whichever code asks.
    """
    h1 = _splitmix64(event_seed ^ _splitmix64(np.uint64(cell) * np.uint64(2) + np.uint64(1)))
    h2 = _splitmix64(h1)
    u1 = (float(h1 >> np.uint64(11)) + 0.5) / 9007199254740992.0
    u2 = (float(h2 >> np.uint64(11)) + 0.5) / 9007199254740992.0
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# --------------------------------------------------------------------------- showers
@numba.njit(cache=True)
def _deposit(acc, touched_flag, touched, fallback, n_touched, sampling, eta, phi, energy):
    """Add ``energy`` to the cell of ``sampling`` at (η, φ), or of ``fallback[sampling]``
    where the sampling does not cover η; return the new count of touched cells."""
    if sampling < 0:
        return n_touched
    c = cell_id(sampling, eta, phi)
    if c < 0:
        fb = fallback[sampling]
        if fb >= 0:
            c = cell_id(fb, eta, phi)
        if c < 0:
            return n_touched
    if not touched_flag[c]:
        touched_flag[c] = True
        touched[n_touched] = c
        n_touched += 1
    acc[c] += energy
    return n_touched


@numba.njit(cache=True)
def _row_at(cum, n_rows, depth):
    """Row of a stack containing ``depth`` given cumulative boundaries; -1 beyond."""
    for r in range(n_rows):
        if depth < cum[r + 1]:
            return r
    return -1


@numba.njit(cache=True)
def _gamma_p(a, x):
    """Regularised lower incomplete gamma function P(a, x) (series / continued fraction,
    Numerical Recipes §6.2)."""
    if x <= 0.0:
        return 0.0
    gln = math.lgamma(a)
    if x < a + 1.0:
        ap = a
        term = 1.0 / a
        total = term
        for _ in range(500):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-12:
                break
        return min(total * math.exp(-x + a * math.log(x) - gln), 1.0)
    b = x + 1.0 - a
    c = 1.0e300
    d = 1.0 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < 1e-300:
            d = 1e-300
        c = b + an / c
        if abs(c) < 1e-300:
            c = 1e-300
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-12:
            break
    return max(1.0 - math.exp(-x + a * math.log(x) - gln) * h, 0.0)


@numba.njit(cache=True)
def _lateral_spot(
    acc,
    touched_flag,
    touched,
    fallback,
    n_touched,
    sampling,
    eta,
    phi,
    e_spot,
    tau,
    gp,
    moliere,
    lat_scale,
):
    """Deposit one spot at a radius drawn from the Grindhammer–Peters lateral profile.

    ``gp`` = (z1, z2, k1, k2, k3, k4, p1, p2, p3), the profile parameters of the shower.
    """
    z1, z2, k1, k2, k3, k4, p1, p2, p3 = gp
    tau = min(tau, 4.0)
    r_core = z1 + z2 * tau
    r_tail = k1 * (math.exp(k3 * (tau - k2)) + math.exp(k4 * (tau - k2)))
    u = (p2 - tau) / p3
    p_core = p1 * math.exp(u - math.exp(u))
    radius = r_core if np.random.random() < p_core else r_tail
    v = min(np.random.random(), 0.995)
    r_mm = radius * math.sqrt(v / (1.0 - v)) * moliere * lat_scale
    psi = 2.0 * math.pi * np.random.random()
    rt = transverse_distance_mm(sampling, eta)
    return _deposit(
        acc,
        touched_flag,
        touched,
        fallback,
        n_touched,
        sampling,
        eta + r_mm * math.cos(psi) / rt,
        phi + r_mm * math.sin(psi) / rt,
        e_spot,
    )


@numba.njit(cache=True)
def _em_shower(
    acc,
    touched_flag,
    touched,
    fallback,
    n_touched,
    stack,
    cum_x0,
    n_rows,
    start_x0,
    energy,
    eta,
    phi,
    is_photon,
    moliere,
    lat_scale,
    depth_scale,
    ec,
    response,
):
    """Deposit one EM shower of ``energy`` starting at depth ``start_x0`` (X0)."""
    if energy <= 0.0:
        return n_touched
    y = max(energy / ec, 2.0)
    lny = math.log(y)
    t_hom = lny + (0.5 if is_photon else -0.5)
    t_hom = max(t_hom, 0.5)
    a_hom = 0.21 + (0.492 + 2.38 / Z_ABSORBER) * lny
    lny_f = max(lny, 3.0)
    s_t = 1.0 / (-1.4 + 1.26 * lny_f)
    s_a = 1.0 / (-0.58 + 0.86 * lny_f)
    rho = 0.705 - 0.023 * lny_f
    g1 = np.random.normal()
    g2 = rho * g1 + math.sqrt(max(1.0 - rho * rho, 0.0)) * np.random.normal()
    t_max = t_hom * math.exp(s_t * g1) * depth_scale
    alpha = max(a_hom * math.exp(s_a * g2), 1.05)
    beta = (alpha - 1.0) / max(t_max, 0.1)
    # Spots sample the lateral profile: with N spots the window containment fluctuates by
    # √(f(1−f)/N), so N must be large enough not to add an unphysical lateral term
    # (≈0.9 % at 45 GeV for a 5 % leakage).
    if energy > 2.0:
        n_spots = int(10.0 + 30.0 * energy**0.8)
    else:  # soft (mostly pile-up) showers: their shape fluctuations do not matter
        n_spots = int(4.0 + 8.0 * energy)
    if n_spots > 4000:
        n_spots = 4000
    if energy < 0.1:
        n_spots = 1
    lne = math.log(max(energy, 0.01))
    z1 = 0.0251 + 0.00319 * lne
    z2 = 0.1162 - 0.000381 * Z_ABSORBER
    k1 = 0.659 - 0.00309 * Z_ABSORBER
    k2 = 0.645
    k3 = -2.59
    k4 = 0.3585 + 0.0421 * lne
    p1 = 2.632 - 0.00094 * Z_ABSORBER
    p2 = 0.401 + 0.00187 * Z_ABSORBER
    p3 = max(1.313 - 0.0686 * lne, 0.3)
    gp = (z1, z2, k1, k2, k3, k4, p1, p2, p3)
    if is_photon:
        # pair production first: ~ Exp(9/7 X0)
        start_x0 = start_x0 + np.random.exponential(9.0 / 7.0)
    if energy <= 2.0:
        # Soft showers (mostly pile-up): each spot draws its own depth from the profile.
        e_spot = energy * response / n_spots
        for _ in range(n_spots):
            t = np.random.gamma(alpha, 1.0 / beta)
            row = _row_at(cum_x0, n_rows, start_x0 + t)
            if row < 0 or stack[row] < 0:
                continue
            n_touched = _lateral_spot(
                acc,
                touched_flag,
                touched,
                fallback,
                n_touched,
                stack[row],
                eta,
                phi,
                e_spot,
                t / max(t_max, 0.1),
                gp,
                moliere,
                lat_scale,
            )
        return n_touched
    # Energy per layer from the integrated profile (continuous, so thin layers such as the
    # presampler and EM layer 3 get their share), then lateral spots within each layer.
    prev_cdf = 0.0
    for row in range(n_rows):
        if prev_cdf > 1.0 - 1e-7:
            break
        hi = cum_x0[row + 1] - start_x0
        if hi <= 0.0:
            continue
        lo = max(cum_x0[row] - start_x0, 0.0)
        cdf = _gamma_p(alpha, beta * hi)
        frac = cdf - prev_cdf
        prev_cdf = cdf
        sampling = stack[row]
        if sampling < 0 or frac <= 0.0:
            continue  # dead material
        n_layer = int(n_spots * frac + 0.5)
        if n_layer < 1:
            n_layer = 1
        e_spot = energy * response * frac / n_layer
        # energy-weighted mean depth of the layer: E[t | lo < t < hi] for Gamma(α, β)
        mean_t = (
            (alpha / beta)
            * (_gamma_p(alpha + 1.0, beta * hi) - _gamma_p(alpha + 1.0, beta * lo))
            / frac
        )
        tau = min(max(mean_t, lo), hi) / max(t_max, 0.1)
        for _ in range(n_layer):
            n_touched = _lateral_spot(
                acc,
                touched_flag,
                touched,
                fallback,
                n_touched,
                sampling,
                eta,
                phi,
                e_spot,
                tau,
                gp,
                moliere,
                lat_scale,
            )
    return n_touched


@numba.njit(cache=True)
def _simulate_kernel(
    offsets,
    kind,
    energy,
    eta,
    phi,
    front_x0,
    event_seeds,
    moliere,
    lat_scale,
    depth_scale,
    ec,
    em_scale,
    h_over_e,
    sampling_term,
    stack_split_eta,
    n_cells,
    stack_sampling,
    stack_x0,
    stack_lambda,
    stack_mip,
    fallback,
    out_cells,
    out_energy,
    out_offsets,
):
    """Shower every particle; write sorted (cell, energy) per event.

    ``kind``: 0 = nothing, 1 = e±, 2 = γ, 3 = charged hadron, 4 = neutral hadron, 5 = μ.
    An impact with |η| < ``stack_split_eta`` showers in the barrel stack, one at or
    beyond it in the end-cap stack. The split, the geometry (``n_cells``), the barrel
    and end-cap stacks (rows 0 and 1 of the ``stack_*`` tables of :func:`_stack_tables`)
    and the fallback samplings come as arguments, not globals, so that the cached kernel
    follows the geometry and :mod:`.detector` (numba freezes globals and invalidates its
    cache only when this file changes). Returns the number of cells written (the caller
    grows the outputs when -1).
    """
    n_rows_max = stack_sampling.shape[1]
    acc = np.zeros(n_cells)
    flag = np.zeros(n_cells, np.bool_)
    touched = np.empty(n_cells, np.int64)
    cum_x0 = np.zeros(n_rows_max + 1)
    cum_lam = np.zeros(n_rows_max + 1)
    n_out = 0
    out_offsets[0] = 0
    for ev in range(offsets.shape[0] - 1):
        np.random.seed(np.int64(event_seeds[ev] & np.uint64(0x7FFFFFFF)))
        n_t = 0
        for i in range(offsets[ev], offsets[ev + 1]):
            k = kind[i]
            if k == 0:
                continue
            abs_eta = abs(eta[i])
            if abs_eta > MAX_ETA:
                continue
            s = 0 if abs_eta < stack_split_eta else 1
            pathf = min(math.cosh(abs_eta), 1.6) if s == 0 else 1.0 / math.tanh(abs_eta)
            n_rows = 0
            cum_x0[0] = 0.0
            cum_lam[0] = 0.0
            for r in range(n_rows_max):
                if stack_sampling[s, r] == -2:
                    break
                extra = front_x0[i] if r == 0 else 0.0
                cum_x0[r + 1] = cum_x0[r] + stack_x0[s, r] * pathf + extra
                cum_lam[r + 1] = cum_lam[r] + stack_lambda[s, r] * pathf + 0.2 * extra
                n_rows += 1
            stack = stack_sampling[s, :n_rows]
            e = energy[i]
            if k == 1 or k == 2:
                n_t = _em_shower(
                    acc,
                    flag,
                    touched,
                    fallback,
                    n_t,
                    stack,
                    cum_x0,
                    n_rows,
                    0.0,
                    e,
                    eta[i],
                    phi[i],
                    k == 2,
                    moliere,
                    lat_scale,
                    depth_scale,
                    ec,
                    em_scale,
                )
            elif k == 5:
                for r in range(n_rows):
                    mip = stack_mip[s, r] * pathf * (1.0 + 0.3 * np.random.exponential(1.0))
                    n_t = _deposit(acc, flag, touched, fallback, n_t, stack[r], eta[i], phi[i], mip)
            else:
                depth = np.random.exponential(1.0)
                row_int = _row_at(cum_lam, n_rows, depth)
                last = n_rows if row_int < 0 else row_int
                if k == 3:
                    for r in range(last):
                        mip = stack_mip[s, r] * pathf * (1.0 + 0.3 * np.random.exponential(1.0))
                        if mip > e:
                            mip = e
                        n_t = _deposit(
                            acc, flag, touched, fallback, n_t, stack[r], eta[i], phi[i], mip
                        )
                if row_int < 0:
                    continue  # punch-through
                # position of the interaction in X0 units
                frac = (depth - cum_lam[row_int]) / max(
                    cum_lam[row_int + 1] - cum_lam[row_int], 1e-9
                )
                start_x0 = cum_x0[row_int] + frac * (cum_x0[row_int + 1] - cum_x0[row_int])
                mean_fem = 1.0 - max(e, 1.0) ** (0.82 - 1.0)
                mean_fem = min(max(mean_fem, 0.05), 0.9)
                conc = 6.0
                f_em = np.random.beta(mean_fem * conc, (1.0 - mean_fem) * conc)
                e_em = f_em * e
                # EM part: a few π0 sub-showers spread around the axis
                n_sub = 1 + min(np.random.poisson(0.5 * math.log(1.0 + e)), 3)
                remaining = e_em
                for j in range(n_sub):
                    share = remaining if j == n_sub - 1 else remaining * np.random.random()
                    remaining -= share
                    off = np.random.exponential(25.0)
                    psi = 2.0 * math.pi * np.random.random()
                    rt = transverse_distance_mm(
                        stack[min(row_int, n_rows - 1)]
                        if stack[min(row_int, n_rows - 1)] >= 0
                        else 2,
                        eta[i],
                    )
                    n_t = _em_shower(
                        acc,
                        flag,
                        touched,
                        fallback,
                        n_t,
                        stack,
                        cum_x0,
                        n_rows,
                        start_x0,
                        share,
                        eta[i] + off * math.cos(psi) / rt,
                        phi[i] + off * math.sin(psi) / rt,
                        True,
                        moliere,
                        lat_scale,
                        depth_scale,
                        ec,
                        em_scale,
                    )
                # non-EM part
                e_had = (1.0 - f_em) * e * h_over_e
                n_spots = int(3.0 + 3.0 * e_had**0.7)
                if n_spots > 300:
                    n_spots = 300
                e_spot = e_had / n_spots
                l_mean = max(0.6 + 0.12 * math.log(max(e, 1.0)), 0.4)
                for _ in range(n_spots):
                    d = depth + np.random.gamma(2.0, l_mean / 2.0)
                    row = _row_at(cum_lam, n_rows, d)
                    if row < 0 or stack[row] < 0:
                        continue
                    if np.random.random() < 0.65:
                        r_mm = np.random.exponential(35.0)
                    else:
                        r_mm = np.random.exponential(120.0)
                    psi = 2.0 * math.pi * np.random.random()
                    rt = transverse_distance_mm(stack[row], eta[i])
                    n_t = _deposit(
                        acc,
                        flag,
                        touched,
                        fallback,
                        n_t,
                        stack[row],
                        eta[i] + r_mm * math.cos(psi) / rt,
                        phi[i] + r_mm * math.sin(psi) / rt,
                        e_spot,
                    )
        # sampling fluctuations, then emit sorted sparse cells
        cells = np.sort(touched[:n_t])
        if n_out + n_t > out_cells.shape[0]:
            return -1
        for j in range(n_t):
            c = cells[j]
            e_c = acc[c]
            samp_term = sampling_term[cell_center(c)[0]]
            if e_c > 0.0:
                e_c += samp_term * math.sqrt(e_c) * np.random.normal()
            out_cells[n_out] = c
            out_energy[n_out] = e_c
            n_out += 1
            acc[c] = 0.0
            flag[c] = False
        out_offsets[ev + 1] = n_out
    return n_out


@dataclass
class CellDeposits:
    """Sparse true cell energies of a batch (before electronic noise), flat with offsets.

    ``cells`` are sorted within each event; ``energy`` in GeV at the EM scale.
    ``event_seeds`` are the per-event seeds of the counter-based noise (:func:`cell_noise`).
    """

    offsets: np.ndarray
    cells: np.ndarray
    energy: np.ndarray
    event_seeds: np.ndarray


def particle_kind(pdg_id: np.ndarray) -> np.ndarray:
    """Shower type per particle: 1 e±, 2 γ, 3 charged hadron, 4 neutral hadron, 5 μ, 0 none."""
    a = np.abs(pdg_id)
    kind = np.where(a == 11, 1, np.where(a == 22, 2, np.where(a == 13, 5, 0)))
    charged_hadrons = np.isin(a, [211, 321, 2212, 3222, 3112, 3312, 3334])
    neutral_hadrons = np.isin(a, [2112, 130, 310, 3122, 3322])
    kind = np.where(charged_hadrons, 3, kind)
    kind = np.where(neutral_hadrons, 4, kind)
    return kind.astype(np.int64)


def simulate_calorimeter(
    particles: ParticleBatch,
    reaches: np.ndarray,
    impact_eta: np.ndarray,
    impact_phi: np.ndarray,
    config: DetectorConfig,
    event_seeds: np.ndarray,
) -> CellDeposits:
    """Shower all particles of a batch into calorimeter cells.

    Parameters
    ----------
    particles
        Particles after material effects.
    reaches, impact_eta, impact_phi
        Whether each particle reaches the calorimeter and its impact (η, φ) on the EM
        middle layer (:func:`egamma_cnn.sim.propagation.extrapolate_point_to_calorimeter_array`);
        particles that do not reach it deposit nothing. An impact with
        |η| < :data:`~egamma_cnn.sim.detector.SHOWER_STACK_SPLIT_ETA` = 1.45 showers in
        the barrel stack, one at or beyond it in the end-cap stack. This is not where the
        propagation leaves the barrel cylinder (|z| = 3500 mm, |η| ≈ 1.480) nor the end
        of EMB2 (1.475): impacts on the cylinder at 1.45 ≤ |η| ≲ 1.480 shower in the
        end-cap stack (:mod:`egamma_cnn.sim.propagation`, "Calorimeter surfaces").
    config
        Detector response.
    event_seeds
        uint64 per event; seeds the showers and the counter-based cell noise.
    """
    kind = np.where(reaches, particle_kind(particles.pdg_id), 0)
    abs_eta = np.abs(impact_eta)
    # Dead material in front of the stack: services outside the tracker and the crack.
    # The tracker's own material is not added here: brem and conversions in it are
    # simulated explicitly (:mod:`.material`), which is its whole effect on e and γ.
    front = services_x0(abs_eta)
    front = front + np.where((abs_eta > 1.37) & (abs_eta < 1.52), CRACK_EXTRA_X0, 0.0)
    # kinetic energy for baryons (their rest mass is not deposited)
    a = np.abs(particles.pdg_id)
    energy = particles.energy - np.where(np.isin(a, [2212, 2112]), 0.938, 0.0)
    energy = np.maximum(energy, 0.0)
    capacity = max(1024, 200 * len(particles))
    while True:
        out_cells = np.empty(capacity, np.int64)
        out_energy = np.empty(capacity, np.float64)
        out_offsets = np.zeros(particles.n_events + 1, np.int64)
        n = _simulate_kernel(
            particles.offsets,
            kind,
            energy,
            np.asarray(impact_eta, np.float64),
            np.asarray(impact_phi, np.float64),
            front,
            np.asarray(event_seeds, np.uint64),
            config.moliere_radius_mm,
            config.lateral_scale,
            config.depth_scale,
            config.critical_energy_gev,
            config.em_energy_scale,
            config.h_over_e,
            config.sampling_term,
            SHOWER_STACK_SPLIT_ETA,
            N_CELLS,
            _STACK_SAMPLING,
            _STACK_X0,
            _STACK_LAMBDA,
            _STACK_MIP,
            FALLBACK_SAMPLING,
            out_cells,
            out_energy,
            out_offsets,
        )
        if n >= 0:
            break
        capacity *= 4
    return CellDeposits(
        offsets=out_offsets,
        cells=out_cells[:n].copy(),
        energy=out_energy[:n].copy(),
        event_seeds=np.asarray(event_seeds, np.uint64),
    )
