"""Cell look-ups the reconstruction needs: measured cell energies and window enumeration.

A *measured* cell energy is the true deposit (after sampling fluctuations) plus the
electronic noise σ_s·n(seed, cell) of its layer, n from the counter-based generator of
:func:`egamma_cnn.sim.calorimeter.cell_noise`. Cells without a deposit still carry
noise, so windows and cones are enumerated over the geometry, not over the deposits.
"""

from __future__ import annotations

import numba

from egamma_cnn.geometry import cell_center, cell_id, wrap_phi
from egamma_cnn.sim.calorimeter import cell_noise

__all__ = ["delta_phi", "measured_energy", "window_cells"]

_MIN_DETA = 0.025 / 8.0


@numba.njit(cache=True)
def window_cells(sampling, eta_c, phi_c, half_eta, half_phi, out):
    """Write into ``out`` the cells of ``sampling`` whose centre lies in the window.

    The window is |η − η_c| < half_eta and |Δφ| < half_phi (Δφ wrapped to [-π, π)).
    Returns the number of cells written (``out`` must be large enough).
    """
    n = 0
    eta = eta_c - half_eta - 0.1001
    eta_end = eta_c + half_eta + 0.1001
    while eta < eta_end:
        c = cell_id(sampling, eta, phi_c)
        if c < 0:
            eta += _MIN_DETA
            continue
        _s, ce, cp, de, dp = cell_center(c)
        if abs(ce - eta_c) < half_eta:
            m = int(half_phi / dp) + 2
            for k in range(-m, m + 1):
                p = wrap_phi(cp + k * dp)
                if abs(wrap_phi(p - phi_c)) < half_phi:
                    cc = cell_id(sampling, ce, p)
                    if cc >= 0:
                        out[n] = cc
                        n += 1
        eta = ce + 0.5 * de + 1e-9
    return n


@numba.njit(cache=True)
def measured_energy(cell, dep_cells, dep_energy, lo, hi, event_seed, noise_sigma):
    """Deposit (binary search in the event's sorted deposits) plus noise of one cell."""
    a = lo
    b = hi
    while a < b:
        mid = (a + b) // 2
        if dep_cells[mid] < cell:
            a = mid + 1
        else:
            b = mid
    e = dep_energy[a] if a < hi and dep_cells[a] == cell else 0.0
    s = cell_center(cell)[0]
    return e + noise_sigma[s] * cell_noise(event_seed, cell)


@numba.njit(cache=True)
def delta_phi(a, b):
    """a − b wrapped to [-π, π)."""
    return wrap_phi(a - b)
