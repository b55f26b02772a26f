"""The solenoid field and the propagation of particles to the calorimeter.

One implementation serves the whole simulation: the calorimeter showers every particle
at its impact point (:mod:`.calorimeter`), the tracker extrapolates every reconstructed
track from its perigee (``Track_etaCalo``/``Track_phiCalo``, :mod:`.tracker`), the
candidate reconstruction extrapolates tracks with the cluster energy (Δφ_res,
:mod:`.candidates`), and the material stage bends radiating electrons (:mod:`.material`).
All of them use the constants below, defined nowhere else.

Field
-----
A uniform field B = :data:`SOLENOID_FIELD_T` = 2 T along +z inside the solenoid volume
r < :data:`SOLENOID_RADIUS_MM` = 1150 mm, |z| < :data:`SOLENOID_HALF_LENGTH_MM` =
2650 mm, and no field outside it (ATLAS, JINST 3 (2008) S08003 §2.1; an idealisation of
the real map). A particle of charge q (units of e) and transverse momentum p_T moves on a
helix of radius

    R [mm] = p_T [GeV] / (c · B [T] · |q|),   c = 0.299792458 GeV/(T·m) = 0.299792458e-3 GeV/(T·mm)

(p_T = |q|·B·R, with 1 e·T·m = 0.299792458 GeV from the speed of light
c = 299 792 458 m/s: :data:`CURVATURE_CONSTANT`), turning clockwise seen from +z for
q > 0 (towards decreasing φ) and advancing dz = R·dψ·cot θ, cot θ = p_z/p_T, per turning
angle dψ. Outside the field volume it continues on the tangent straight line.

Calorimeter surfaces
--------------------
The impact point is taken on the middle EM layer of :mod:`egamma_cnn.geometry`: the
barrel cylinder r = :data:`CALO_BARREL_RADIUS_MM` (EMB2, 1680 mm) when the particle crosses
it within |z| ≤ :data:`CALO_BARREL_HALF_LENGTH_MM`, otherwise the end-cap plane
z = ±:data:`CALO_ENDCAP_Z_MM` (EME2, 3900 mm) on the side it moves to. The rule is
geometric, so that it holds for displaced starts (brem photons, conversion legs, decay
products) and for soft particles that leave the field through the end of the solenoid.
The impact (η, φ) is seen from the detector origin, as the cells' are.

The cylinder is taken up to |z| = :data:`CALO_BARREL_HALF_LENGTH_MM` = 3500 mm, i.e.
up to |η| = asinh(3500 mm / 1680 mm) ≈ 1.480 seen from the origin: a little beyond the end
of the EM barrel, |η| = 1.475 (ATL-PHYS-PUB-2023-001 §2: EM barrel |η| < 1.475, end-cap
1.375 < |η| < 3.2; the end of EMB2 in :mod:`egamma_cnn.geometry`, which would put the end
of the cylinder at 1680 mm · sinh 1.475 ≈ 3479.5 mm). Three |η| boundaries between barrel
and end-cap coexist in the simulation, and they are *not* one split:

* the impact surface, above: barrel cylinder up to |η| ≈ 1.480 (|z| ≤ 3500 mm);
* the shower stack (:mod:`.calorimeter`): an impact with |η| <
  :data:`egamma_cnn.sim.detector.SHOWER_STACK_SPLIT_ETA` = 1.45 showers in the barrel
  stack, one beyond in the end-cap stack, so impacts on the barrel cylinder at
  1.45 ≤ |η| ≤ 1.480 shower in the end-cap stack;
* the reconstruction (:mod:`.reconstruction`) takes barrel windows and samplings for a
  cluster at |η| < 1.4 and end-cap ones beyond, and the shipped cluster calibration
  (:mod:`.calibration_tables`) was derived with these three boundaries as they are.

Making them one split at |η| = 1.475 needs the reconstruction and the calibration changed
together with the stack and this surface (a follow-up): moving the surface and the stack
to 1.475 without them lowered the mean electron E/E_true at 60 GeV in 1.45 ≤ |η| < 1.475
from 1.04 to 0.88 and biased the cluster η there by up to +0.028. An end-cap impact can
also be seen at |η| < 1.480 from the origin when the particle passes beyond the barrel's
end from a start at z > 0 (vertex spread, displaced decays) or leaves the field through
the end of the solenoid and reaches the plane at r > 1680 mm (soft loopers); those shower
in the stack their |η| selects.

Everything is a scalar numba kernel (callable from other kernels) with a vectorised
``*_array`` wrapper over broadcast numpy arrays; unreachable targets give NaN.

Compiled kernels and the geometry
---------------------------------
Numba freezes the module globals a kernel reads into its compiled code, and its on-disk
cache (``cache=True``) is invalidated only when the kernel's own source file changes. The
kernels therefore read only the constants written in this file (the field model above);
the calorimeter surfaces (radius and end-cap z from :mod:`egamma_cnn.geometry`, the
barrel half-length from this file) are arguments whose defaults are the constants below.
A kernel that calls :func:`extrapolate_point_to_calorimeter` or
:func:`extrapolate_to_calorimeter` must pass them explicitly (as the ``*_array`` wrappers
do): an omitted default would be frozen into the caller's cache.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from egamma_cnn.geometry import LAYER_RADIUS_MM, LAYER_Z_MM, CaloSampling

__all__ = [
    "CALO_BARREL_HALF_LENGTH_MM",
    "CALO_BARREL_RADIUS_MM",
    "CALO_ENDCAP_Z_MM",
    "CURVATURE_CONSTANT",
    "SOLENOID_FIELD_T",
    "SOLENOID_HALF_LENGTH_MM",
    "SOLENOID_RADIUS_MM",
    "extrapolate_point_to_calorimeter",
    "extrapolate_point_to_calorimeter_array",
    "extrapolate_to_calorimeter",
    "extrapolate_to_calorimeter_array",
    "flat_float64",
    "helix_circle",
    "helix_radius_mm",
    "phi_at_radius",
    "phi_at_radius_array",
    "propagate_to_cylinder",
    "propagate_to_plane",
    "straight_path_to_radius",
]

#: Solenoid field (T), along +z (ATLAS: 2 T; JINST 3 (2008) S08003 §2.1).
SOLENOID_FIELD_T = 2.0
#: Radius (mm) of the field volume: the solenoid's inner warm bore (ATLAS ≈ 1150 mm).
#: Inside r < SOLENOID_RADIUS_MM and |z| < SOLENOID_HALF_LENGTH_MM the field is taken
#: uniform; outside it is zero (straight lines), an idealisation of the real map.
SOLENOID_RADIUS_MM = 1150.0
#: Half-length (mm) of the field volume (ATLAS solenoid 5.3 m long).
SOLENOID_HALF_LENGTH_MM = 2650.0
#: p_T = c·B·R·|q| with c = 0.299792458 GeV/(T·m) = 0.299792458e-3 GeV/(T·mm): a particle
#: of unit charge and transverse momentum p_T [GeV] moves on a circle of radius
#: R [mm] = p_T / (CURVATURE_CONSTANT · B [T]).
CURVATURE_CONSTANT = 0.299792458e-3
#: Radius (mm) of the EM barrel middle layer (EMB2 of the geometry), the barrel target.
CALO_BARREL_RADIUS_MM = float(LAYER_RADIUS_MM[CaloSampling.EMB2])
#: |z| (mm) where the barrel target cylinder ends; beyond it the end-cap plane is the
#: target. 3500 mm is |η| = asinh(3500/1680) ≈ 1.480 seen from the origin, a little beyond
#: the end of EMB2 (|η| = 1.475, |z| ≈ 3479.5 mm at r = 1680 mm); it is not the shower
#: stack's split (1.45) nor the reconstruction's (1.4): see the module docstring.
CALO_BARREL_HALF_LENGTH_MM = 3500.0
#: |z| (mm) of the EM end-cap middle layer (EME2 of the geometry), the end-cap target.
CALO_ENDCAP_Z_MM = float(LAYER_Z_MM[CaloSampling.EME2])

_TWO_PI = 2.0 * math.pi


def helix_radius_mm(pt, charge=1.0, b_field_t: float = SOLENOID_FIELD_T) -> np.ndarray:
    """Radius of curvature R [mm] = p_T / (c·B·|q|) in the solenoid (vectorised).

    Parameters
    ----------
    pt : array_like
        Transverse momentum (GeV).
    charge : array_like
        Charge in units of e (non-zero).
    b_field_t : float
        Field (T).
    """
    return np.asarray(pt, np.float64) / (
        CURVATURE_CONSTANT * b_field_t * np.abs(np.asarray(charge, np.float64))
    )


# --------------------------------------------------------------------------------------
# Scalar numba kernels: helices and straight lines
# --------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _wrap_phi(phi: float) -> float:
    """Map an angle to [-π, π)."""
    return (phi + math.pi) % _TWO_PI - math.pi


@numba.njit(cache=True)
def straight_path_to_radius(x: float, y: float, ux: float, uy: float, r: float) -> float:
    """Transverse path s of the outgoing crossing of a straight line with a cylinder.

    The line is (x, y) + s·(ux, uy) with |u| = 1 and the cylinder has radius r:
    s = −(p·u) + √((p·u)² − |p|² + r²). Numba-compiled, scalar.

    Returns
    -------
    float
        s (mm, negative when the crossing lies behind the start); NaN if the line never
        reaches r.
    """
    b = x * ux + y * uy
    disc = b * b - (x * x + y * y) + r * r
    if disc < 0.0:
        return math.nan
    return -b + math.sqrt(disc)


@numba.njit(cache=True)
def helix_circle(
    x: float,
    y: float,
    px: float,
    py: float,
    charge: float,
    b_field_t: float = SOLENOID_FIELD_T,
) -> tuple[float, float, float, float]:
    """Transverse circle of the helix of a particle at (x, y) with momentum p.

    The radius of curvature is R [mm] = p_T / (c·B·|q|), c = 0.299792458e-3 GeV/(T·mm)
    (:data:`CURVATURE_CONSTANT`; JINST 3 (2008) S08003 §2.1 for B), and with
    û = (p_x, p_y)/p_T and q̂ the sign of the charge the centre is

        c = (x, y) + q̂·R·(û_y, −û_x),

    so that a positive particle turns clockwise seen from +z (towards decreasing φ) for B
    along +z. Numba-compiled, scalar: the one definition of the helix that the
    propagation, the perigee of the tracks (:func:`egamma_cnn.sim.tracker.perigee_parameters`)
    and the tracker's radial reach use.

    Parameters
    ----------
    x, y : float
        Transverse position (mm).
    px, py : float
        Transverse momentum components (GeV).
    charge : float
        Charge in units of e.
    b_field_t : float
        Field (T).

    Returns
    -------
    (cx, cy, rad, sq) : tuple of float
        Centre (mm), radius R (mm) and q̂ = ±1; (NaN, NaN, +inf, 0) for a straight line
        (charge or field zero) and (NaN, NaN, NaN, 0) for p_T = 0.
    """
    pt = math.hypot(px, py)
    if not pt > 0.0:
        return (math.nan, math.nan, math.nan, 0.0)
    if charge == 0.0 or b_field_t == 0.0:
        return (math.nan, math.nan, math.inf, 0.0)
    ux = px / pt
    uy = py / pt
    sq = 1.0 if charge > 0.0 else -1.0
    rad = pt / (CURVATURE_CONSTANT * b_field_t * abs(charge))
    return (x + sq * rad * uy, y - sq * rad * ux, rad, sq)


@numba.njit(cache=True)
def _start_state(
    x: float,
    y: float,
    z: float,
    px: float,
    py: float,
    pz: float,
    pt: float,
    charge: float,
    b_field_t: float,
) -> tuple[float, float, float, bool, float, float, float, float]:
    """Common start of the propagation kernels.

    Returns (û_x, û_y, cot θ = p_z/p_T, helical, c_x, c_y, R, q̂) with ``helical`` true
    when the particle is charged and starts inside the field volume, so that it moves on
    the helix of :func:`helix_circle` until it leaves that volume. ``pt`` is
    p_T = hypot(p_x, p_y), which the callers have checked to be > 0.
    """
    ux = px / pt
    uy = py / pt
    cot = pz / pt
    helical = charge != 0.0 and b_field_t != 0.0 and _in_field(x, y, z)
    cx, cy, rad, sq = helix_circle(x, y, px, py, charge, b_field_t)
    return ux, uy, cot, helical, cx, cy, rad, sq


@numba.njit(cache=True)
def _psi_to_radius(
    x: float, y: float, cx: float, cy: float, rad: float, sq: float, r: float
) -> float:
    """Smallest positive turning angle ψ after which a helix reaches transverse radius r.

    The particle is at (x, y) on the circle of centre (cx, cy) and radius ``rad``; its
    position angle about the centre decreases by sq·ψ (sq = sign of the charge, B along
    +z). Solves |c + rad·(cos α, sin α)| = r: cos(α − β) = (r² − |c|² − rad²)/(2·rad·|c|)
    with β the azimuth of c. Returns +inf if the circle never reaches r.
    """
    c2 = cx * cx + cy * cy
    cabs = math.sqrt(c2)
    if cabs == 0.0:
        return math.inf
    cosarg = (r * r - c2 - rad * rad) / (2.0 * rad * cabs)
    if cosarg < -1.0 or cosarg > 1.0:
        return math.inf
    a = math.acos(cosarg)
    a0 = math.atan2(y - cy, x - cx)
    beta = math.atan2(cy, cx)
    best = math.inf
    for sgn in (-1.0, 1.0):
        psi = (sq * (a0 - beta - sgn * a)) % _TWO_PI
        if psi > 1e-12 and psi < best:
            best = psi
    return best


@numba.njit(cache=True)
def _helix_point(
    x: float,
    y: float,
    z: float,
    cx: float,
    cy: float,
    rad: float,
    sq: float,
    cot: float,
    psi: float,
) -> tuple[float, float, float, float, float]:
    """Position and transverse unit direction after turning by ψ on the helix."""
    a = math.atan2(y - cy, x - cx) - sq * psi
    return (
        cx + rad * math.cos(a),
        cy + rad * math.sin(a),
        z + rad * psi * cot,
        sq * math.sin(a),
        -sq * math.cos(a),
    )


@numba.njit(cache=True)
def _in_field(x: float, y: float, z: float) -> bool:
    return x * x + y * y < SOLENOID_RADIUS_MM * SOLENOID_RADIUS_MM and (
        abs(z) < SOLENOID_HALF_LENGTH_MM
    )


@numba.njit(cache=True)
def _field_exit(psi_r: float, z: float, rad: float, cot: float) -> float:
    """Turning angle ψ at which a helix from z leaves the solenoid volume.

    The first of ``psi_r``, where it reaches the solenoid radius
    (:func:`_psi_to_radius`), and the end |z| = SOLENOID_HALF_LENGTH_MM it moves
    towards, reached at ψ_z = (±L − z)/(R·cot θ) since z advances by R·ψ·cot θ
    (+inf for cot θ = 0).
    """
    psi_z = math.inf
    if cot > 0.0:
        psi_z = (SOLENOID_HALF_LENGTH_MM - z) / (rad * cot)
    elif cot < 0.0:
        psi_z = (-SOLENOID_HALF_LENGTH_MM - z) / (rad * cot)
    return min(psi_r, psi_z)


@numba.njit(cache=True)
def propagate_to_cylinder(
    x: float,
    y: float,
    z: float,
    px: float,
    py: float,
    pz: float,
    charge: float,
    r_mm: float,
    b_field_t: float = SOLENOID_FIELD_T,
) -> tuple[float, float, float]:
    """Point where a particle starting at (x, y, z) with momentum p first crosses the
    cylinder of transverse radius ``r_mm`` (numba-compiled, scalar).

    Helix inside the solenoid volume (r < 1150 mm, |z| < 2650 mm, uniform ``b_field_t``
    along +z, a positive charge turning clockwise, i.e. towards decreasing φ), straight
    line outside it. Radius of curvature R [mm] = p_T / (c·B·|q|),
    c = 0.299792458e-3 GeV/(T·mm) (module docstring).

    Parameters
    ----------
    x, y, z : float
        Start point (mm).
    px, py, pz : float
        Momentum at the start point (GeV).
    charge : float
        Charge in units of e (0 for a straight line).
    r_mm : float
        Target radius (mm).
    b_field_t : float
        Field (T).

    Returns
    -------
    (x, y, z) : tuple of float
        Crossing point (mm); NaNs if the particle never reaches the cylinder (it loops
        inside the field, or moves away from it on a straight line).
    """
    nan3 = (math.nan, math.nan, math.nan)
    pt = math.hypot(px, py)
    if pt <= 0.0 or not math.isfinite(pt):
        return nan3
    ux, uy, cot, helical, cx, cy, rad, sq = _start_state(x, y, z, px, py, pz, pt, charge, b_field_t)
    if helical:
        psi_r = _psi_to_radius(x, y, cx, cy, rad, sq, SOLENOID_RADIUS_MM)
        psi_exit = _field_exit(psi_r, z, rad, cot)
        if r_mm < SOLENOID_RADIUS_MM:
            psi_t = _psi_to_radius(x, y, cx, cy, rad, sq, r_mm)
            if psi_t <= psi_exit and math.isfinite(psi_t):
                xe, ye, ze, _, _ = _helix_point(x, y, z, cx, cy, rad, sq, cot, psi_t)
                return (xe, ye, ze)
        if not math.isfinite(psi_exit):
            return nan3  # loops inside the field for ever
        x, y, z, ux, uy = _helix_point(x, y, z, cx, cy, rad, sq, cot, psi_exit)
    s = straight_path_to_radius(x, y, ux, uy, r_mm)
    if not s >= 0.0:
        return nan3
    return (x + s * ux, y + s * uy, z + s * cot)


@numba.njit(cache=True)
def propagate_to_plane(
    x: float,
    y: float,
    z: float,
    px: float,
    py: float,
    pz: float,
    charge: float,
    z_mm: float,
    b_field_t: float = SOLENOID_FIELD_T,
) -> tuple[float, float, float]:
    """Point where a particle starting at (x, y, z) with momentum p crosses the plane
    z = ``z_mm`` (numba-compiled, scalar); same field model as
    :func:`propagate_to_cylinder`.

    Returns
    -------
    (x, y, z) : tuple of float
        Crossing point (mm); NaNs if the particle moves away from the plane.
    """
    nan3 = (math.nan, math.nan, math.nan)
    pt = math.hypot(px, py)
    if pt <= 0.0 or not math.isfinite(pt) or pz == 0.0:
        return nan3
    ux, uy, cot, helical, cx, cy, rad, sq = _start_state(x, y, z, px, py, pz, pt, charge, b_field_t)
    if (z_mm - z) / cot < 0.0:
        return nan3
    if helical:
        psi_r = _psi_to_radius(x, y, cx, cy, rad, sq, SOLENOID_RADIUS_MM)
        psi_t = (z_mm - z) / (rad * cot)
        if abs(z_mm) <= SOLENOID_HALF_LENGTH_MM and psi_t <= psi_r:
            xe, ye, _, _, _ = _helix_point(x, y, z, cx, cy, rad, sq, cot, psi_t)
            return (xe, ye, z_mm)
        psi_exit = _field_exit(psi_r, z, rad, cot)
        x, y, z, ux, uy = _helix_point(x, y, z, cx, cy, rad, sq, cot, psi_exit)
    s = (z_mm - z) / cot
    if s < 0.0:
        return nan3
    return (x + s * ux, y + s * uy, z_mm)


@numba.njit(cache=True)
def phi_at_radius(
    pt: float,
    eta: float,
    phi: float,
    charge: float,
    r_mm: float,
    b_field_t: float = SOLENOID_FIELD_T,
) -> float:
    """Azimuth of the position where a particle from the beam line crosses radius r.

    The particle starts at the origin with (pT, η, φ). Inside the solenoid volume
    (r < 1150 mm, |z| < 2650 mm) it follows the helix, whose position azimuth at
    transverse radius r is

        φ(r) = φ − q·asin(r / 2R),   R = p_T / (c·B)  ⇔  Δφ = −q·asin(c·B[T]·r[m] / (2·p_T[GeV]))

    with c = 0.299792458 GeV/(T·m) (a positive charge bends towards decreasing φ for B
    along +z); outside it continues on the tangent straight line. Numba-compiled:
    callable from other kernels; see :func:`phi_at_radius_array` for arrays.

    Parameters
    ----------
    pt : float
        Transverse momentum (GeV).
    eta, phi : float
        Direction at the origin.
    charge : float
        Charge in units of e.
    r_mm : float
        Transverse radius (mm).
    b_field_t : float
        Solenoid field (T).

    Returns
    -------
    float
        φ in [-π, π); NaN when the particle never reaches r (it loops: 2R < r inside the
        field without leaving it through the end of the solenoid).
    """
    x, y, _ = propagate_to_cylinder(
        0.0,
        0.0,
        0.0,
        pt * math.cos(phi),
        pt * math.sin(phi),
        pt * math.sinh(eta),
        charge,
        r_mm,
        b_field_t,
    )
    if math.isnan(x):
        return math.nan
    return _wrap_phi(math.atan2(y, x))


@numba.njit(cache=True)
def extrapolate_point_to_calorimeter(
    x: float,
    y: float,
    z: float,
    px: float,
    py: float,
    pz: float,
    charge: float,
    b_field_t: float = SOLENOID_FIELD_T,
    barrel_radius_mm: float = CALO_BARREL_RADIUS_MM,
    barrel_half_length_mm: float = CALO_BARREL_HALF_LENGTH_MM,
    endcap_z_mm: float = CALO_ENDCAP_Z_MM,
) -> tuple[float, float]:
    """(η, φ) of the impact on the EM middle layer of a particle starting at (x, y, z).

    The target is the barrel cylinder r = 1680 mm if the particle crosses it within
    |z| ≤ 3500 mm (|η| ≲ 1.480 seen from the origin), else the end-cap plane
    |z| = 3900 mm on the side the particle moves to (module docstring); helix in the
    solenoid, straight line after it. The impact point's η and φ are seen from the
    detector origin (detector coordinates, as the calorimeter cells'). Numba-compiled.

    Parameters
    ----------
    x, y, z : float
        Start point (mm).
    px, py, pz : float
        Momentum at the start point (GeV).
    charge : float
        Charge in units of e (0 for a straight line).
    b_field_t : float
        Solenoid field (T).
    barrel_radius_mm, barrel_half_length_mm, endcap_z_mm : float
        The calorimeter surfaces (defaults: :data:`CALO_BARREL_RADIUS_MM`,
        :data:`CALO_BARREL_HALF_LENGTH_MM`, :data:`CALO_ENDCAP_Z_MM`); a calling kernel
        passes them explicitly (module docstring).

    Returns
    -------
    (eta, phi) : tuple of float
        NaNs if the particle cannot reach the surface (loops in the field, or p_T = 0).
    """
    xi, yi, zi = propagate_to_cylinder(x, y, z, px, py, pz, charge, barrel_radius_mm, b_field_t)
    if not abs(zi) <= barrel_half_length_mm:  # beyond the barrel, or never crosses it
        zt = endcap_z_mm if pz > 0.0 else -endcap_z_mm
        xi, yi, zi = propagate_to_plane(x, y, z, px, py, pz, charge, zt, b_field_t)
    if math.isnan(xi):
        return (math.nan, math.nan)
    ri = math.hypot(xi, yi)
    if ri == 0.0:
        return (math.copysign(math.inf, zi), 0.0)
    return (math.asinh(zi / ri), _wrap_phi(math.atan2(yi, xi)))


@numba.njit(cache=True)
def extrapolate_to_calorimeter(
    pt: float,
    eta: float,
    phi: float,
    charge: float,
    z0: float,
    b_field_t: float = SOLENOID_FIELD_T,
    barrel_radius_mm: float = CALO_BARREL_RADIUS_MM,
    barrel_half_length_mm: float = CALO_BARREL_HALF_LENGTH_MM,
    endcap_z_mm: float = CALO_ENDCAP_Z_MM,
) -> tuple[float, float]:
    """(η, φ) of the impact on the EM middle layer of a particle from (0, 0, z0).

    :func:`extrapolate_point_to_calorimeter` from the beam line: helix in the solenoid,
    straight line after it, to the barrel cylinder r = 1680 mm (crossed within
    |z| ≤ 3500 mm) or the end-cap plane |z| = 3900 mm. The returned η is that of the
    impact point seen from the origin, so it differs from the direction η when z0 ≠ 0.
    Numba-compiled; see :func:`extrapolate_to_calorimeter_array` for arrays.

    Parameters
    ----------
    pt, eta, phi : float
        Momentum at the start (GeV, rad).
    charge : float
        Charge in units of e.
    z0 : float
        z of the start point on the beam line (mm).
    b_field_t : float
        Solenoid field (T).
    barrel_radius_mm, barrel_half_length_mm, endcap_z_mm : float
        The calorimeter surfaces (defaults: :data:`CALO_BARREL_RADIUS_MM`,
        :data:`CALO_BARREL_HALF_LENGTH_MM`, :data:`CALO_ENDCAP_Z_MM`); a calling kernel
        passes them explicitly (module docstring).

    Returns
    -------
    (eta_calo, phi_calo) : tuple of float
        NaNs if the particle loops and never reaches the calorimeter.
    """
    return extrapolate_point_to_calorimeter(
        0.0,
        0.0,
        z0,
        pt * math.cos(phi),
        pt * math.sin(phi),
        pt * math.sinh(eta),
        charge,
        b_field_t,
        barrel_radius_mm,
        barrel_half_length_mm,
        endcap_z_mm,
    )


# --------------------------------------------------------------------------------------
# Array wrappers of the scalar kernels
# --------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _phi_at_radius_loop(pt, eta, phi, charge, r, b, out):
    for i in range(len(out)):
        out[i] = phi_at_radius(pt[i], eta[i], phi[i], charge[i], r[i], b)


@numba.njit(cache=True)
def _extrapolate_loop(x, y, z, px, py, pz, charge, b, surfaces, eta_out, phi_out):
    r_barrel, z_barrel, z_endcap = surfaces
    for i in range(len(eta_out)):
        e, p = extrapolate_point_to_calorimeter(
            x[i], y[i], z[i], px[i], py[i], pz[i], charge[i], b, r_barrel, z_barrel, z_endcap
        )
        eta_out[i] = e
        phi_out[i] = p


def flat_float64(*arrays) -> list[np.ndarray]:
    """Broadcast array-likes together; return them as flat contiguous float64 arrays.

    The common input step of the vectorised wrappers of the numba kernels.
    """
    out = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in arrays])
    return [np.ascontiguousarray(a).ravel() for a in out]


def phi_at_radius_array(
    pt, eta, phi, charge, r_mm, b_field_t: float = SOLENOID_FIELD_T
) -> np.ndarray:
    """Vectorised :func:`phi_at_radius` (arguments broadcast; NaN where unreachable)."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in (pt, eta, phi, charge, r_mm)))
    a = flat_float64(pt, eta, phi, charge, r_mm)
    out = np.empty(len(a[0]), np.float64)
    _phi_at_radius_loop(*a, float(b_field_t), out)
    return out.reshape(shape)


def extrapolate_point_to_calorimeter_array(
    x,
    y,
    z,
    px,
    py,
    pz,
    charge,
    b_field_t: float = SOLENOID_FIELD_T,
    barrel_radius_mm: float = CALO_BARREL_RADIUS_MM,
    barrel_half_length_mm: float = CALO_BARREL_HALF_LENGTH_MM,
    endcap_z_mm: float = CALO_ENDCAP_Z_MM,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`extrapolate_point_to_calorimeter`: (eta_calo, phi_calo).

    Arguments broadcast; NaN where the particle does not reach the calorimeter.
    """
    shape = np.broadcast_shapes(*(np.shape(a) for a in (x, y, z, px, py, pz, charge)))
    a = flat_float64(x, y, z, px, py, pz, charge)
    eta_out = np.empty(len(a[0]), np.float64)
    phi_out = np.empty(len(a[0]), np.float64)
    surfaces = (float(barrel_radius_mm), float(barrel_half_length_mm), float(endcap_z_mm))
    _extrapolate_loop(*a, float(b_field_t), surfaces, eta_out, phi_out)
    return eta_out.reshape(shape), phi_out.reshape(shape)


def extrapolate_to_calorimeter_array(
    pt,
    eta,
    phi,
    charge,
    z0=0.0,
    b_field_t: float = SOLENOID_FIELD_T,
    barrel_radius_mm: float = CALO_BARREL_RADIUS_MM,
    barrel_half_length_mm: float = CALO_BARREL_HALF_LENGTH_MM,
    endcap_z_mm: float = CALO_ENDCAP_Z_MM,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`extrapolate_to_calorimeter`: (eta_calo, phi_calo)."""
    pt, eta, phi, charge, z0 = np.broadcast_arrays(
        *[np.asarray(a, dtype=np.float64) for a in (pt, eta, phi, charge, z0)]
    )
    return extrapolate_point_to_calorimeter_array(
        np.zeros_like(pt),
        np.zeros_like(pt),
        z0,
        pt * np.cos(phi),
        pt * np.sin(phi),
        pt * np.sinh(eta),
        charge,
        b_field_t,
        barrel_radius_mm,
        barrel_half_length_mm,
        endcap_z_mm,
    )
