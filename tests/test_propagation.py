"""The solenoid field and the propagation to the calorimeter (egamma_cnn.sim.propagation)."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from egamma_cnn import geometry as g
from egamma_cnn.sim.propagation import (
    CALO_BARREL_HALF_LENGTH_MM,
    CALO_BARREL_RADIUS_MM,
    CALO_ENDCAP_Z_MM,
    CURVATURE_CONSTANT,
    SOLENOID_HALF_LENGTH_MM,
    SOLENOID_RADIUS_MM,
    extrapolate_point_to_calorimeter,
    extrapolate_point_to_calorimeter_array,
    extrapolate_to_calorimeter,
    extrapolate_to_calorimeter_array,
    helix_radius_mm,
    phi_at_radius,
    phi_at_radius_array,
    propagate_to_cylinder,
    propagate_to_plane,
)


def _radius_of_curvature(pt: float) -> float:
    return pt / (CURVATURE_CONSTANT * 2.0)


def test_constants_are_the_geometry_and_the_speed_of_light():
    assert CURVATURE_CONSTANT == 0.299792458e-3
    assert CALO_BARREL_RADIUS_MM == g.LAYER_RADIUS_MM[g.CaloSampling.EMB2]
    assert CALO_ENDCAP_Z_MM == g.LAYER_Z_MM[g.CaloSampling.EME2]
    # R = pT / (c·B·|q|): 1 GeV in 2 T turns on a 1.668 m circle; |q| = 2 halves it.
    assert helix_radius_mm(1.0) == pytest.approx(1000.0 / (0.299792458 * 2.0), rel=1e-15)
    np.testing.assert_allclose(
        helix_radius_mm([1.0, 2.0, 2.0], [-1, 1, 2]), [1667.820476, 3335.640952, 1667.820476]
    )


def test_phi_at_radius_hand_value_and_sign():
    # pT = 1 GeV, B = 2 T, r = 1 m: Δφ = −q·asin(c·2·1 / (2·1)) ≈ −q·0.3047
    expected = math.asin(0.299792458 * 2.0 * 1.0 / 2.0)
    assert phi_at_radius(1.0, 0.0, 0.0, 1.0, 1000.0) == pytest.approx(-expected, abs=1e-12)
    assert phi_at_radius(1.0, 0.0, 0.0, -1.0, 1000.0) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.3047, abs=1e-3)
    # Independent of η inside the solenoid, ∝ 1/pT for small angles, wraps at ±π.
    assert phi_at_radius(1.0, 1.0, 0.0, 1.0, 1000.0) == pytest.approx(-expected, abs=1e-12)
    assert phi_at_radius(100.0, 0.0, 0.5, 1.0, 500.0) == pytest.approx(
        0.5 - 0.299792458 * 2 * 0.5 / 200.0, abs=1e-7
    )
    assert phi_at_radius(1.0, 0.0, 3.1, -1.0, 1000.0) == pytest.approx(
        3.1 + expected - 2 * math.pi, abs=1e-12
    )
    assert phi_at_radius(10.0, 0.0, 1.2, 0.0, 1500.0) == pytest.approx(1.2)


def test_phi_at_radius_straight_after_solenoid():
    pt, r = 2.0, 1500.0
    rad = _radius_of_curvature(pt)
    half = math.asin(SOLENOID_RADIUS_MM / (2 * rad))
    pos = np.array([math.cos(-half), math.sin(-half)]) * SOLENOID_RADIUS_MM
    u = np.array([math.cos(-2 * half), math.sin(-2 * half)])
    b = pos @ u
    s = -b + math.sqrt(b * b - SOLENOID_RADIUS_MM**2 + r * r)
    x, y = pos + s * u
    assert phi_at_radius(pt, 0.3, 0.0, 1.0, r) == pytest.approx(math.atan2(y, x), abs=1e-12)
    # Still bending less than a helix would beyond the field.
    assert abs(phi_at_radius(pt, 0.3, 0.0, 1.0, r)) < math.asin(r / (2 * rad))


def test_phi_at_radius_loopers_are_nan():
    # pT = 0.2 GeV: 2R ≈ 667 mm.
    assert math.isnan(phi_at_radius(0.2, 0.0, 0.0, 1.0, 1000.0))
    assert math.isfinite(phi_at_radius(0.2, 0.0, 0.0, 1.0, 600.0))
    # Forward looper leaves the field through the end of the solenoid and goes on.
    assert math.isfinite(phi_at_radius(0.2, 3.0, 0.0, 1.0, 1000.0))
    eta_c, phi_c = extrapolate_to_calorimeter(0.2, 0.0, 0.0, 1.0, 0.0)
    assert math.isnan(eta_c) and math.isnan(phi_c)


def test_propagation_is_usable_from_numba_and_arrays():
    @numba.njit
    def kernel(pt, eta, phi, q):
        out = np.empty((len(pt), 3))
        for i in range(len(pt)):
            out[i, 0] = phi_at_radius(pt[i], eta[i], phi[i], q[i], 1000.0)
            out[i, 1], out[i, 2] = extrapolate_to_calorimeter(pt[i], eta[i], phi[i], q[i], 0.0)
        return out

    rng = np.random.default_rng(3)
    pt = rng.uniform(1, 50, 50)
    eta = rng.uniform(-2.5, 2.5, 50)
    phi = rng.uniform(-np.pi, np.pi, 50)
    q = rng.choice([-1.0, 1.0], 50)
    out = kernel(pt, eta, phi, q)
    np.testing.assert_allclose(out[:, 0], phi_at_radius_array(pt, eta, phi, q, 1000.0))
    e, p = extrapolate_to_calorimeter_array(pt, eta, phi, q)
    np.testing.assert_allclose(out[:, 1], e)
    np.testing.assert_allclose(out[:, 2], p)
    # Positive particles are found at smaller φ than their direction. The impact η is a
    # little larger in |η| than the direction's: the helix's transverse arc exceeds r.
    dphi = np.angle(np.exp(1j * (p - phi)))
    assert np.all(np.sign(dphi) == -q)
    assert np.all(np.abs(e) >= np.abs(eta) - 1e-12) and np.all(np.abs(e - eta) < 0.02)


def test_positive_particle_bends_to_smaller_phi():
    zeros = np.zeros(2)
    eta, phi = extrapolate_point_to_calorimeter_array(
        zeros, zeros, zeros, np.array([5.0, 5.0]), zeros, zeros, np.array([1, -1])
    )
    assert np.isfinite(eta).all()
    # Δφ at r = 1.15 m: asin(c·2·1.15/(2·5)) ≈ 0.069, then straight to 1.68 m
    assert phi[0] < -0.06 and phi[1] > 0.06
    assert np.isnan(extrapolate_point_to_calorimeter_array(0.0, 0.0, 0.0, 0.2, 0.0, 0.0, 1)[0])


def test_extrapolation_neutral_and_vertex_shift():
    assert extrapolate_to_calorimeter(10.0, 0.5, 1.0, 0.0, 0.0) == pytest.approx((0.5, 1.0))
    eta_c, _ = extrapolate_to_calorimeter(10.0, 0.0, 1.0, 0.0, 100.0)
    assert eta_c == pytest.approx(math.asinh(100.0 / 1680.0))
    # End-cap: a straight neutral at η = 2 hits |z| = 3900 mm at η = 2.
    e, p = extrapolate_point_to_calorimeter_array(0.0, 0.0, 0.0, 1.0, 0.0, math.sinh(-2.0), 0.0)
    assert float(e) == pytest.approx(-2.0) and float(p) == pytest.approx(0.0)


@pytest.mark.parametrize(("z0", "barrel"), [(100.0, True), (150.0, False), (-400.0, True)])
def test_the_surface_is_the_one_crossed(z0, barrel):
    """Barrel cylinder when crossed within |z| ≤ 3500 mm, else the end-cap plane."""
    eta = 1.45
    cot = math.sinh(eta)
    z_cyl = z0 + CALO_BARREL_RADIUS_MM * cot
    assert (abs(z_cyl) <= CALO_BARREL_HALF_LENGTH_MM) == barrel
    if barrel:
        expected = math.asinh(z_cyl / CALO_BARREL_RADIUS_MM)
    else:
        expected = math.asinh(CALO_ENDCAP_Z_MM / ((CALO_ENDCAP_Z_MM - z0) / cot))
    got = extrapolate_point_to_calorimeter(0.0, 0.0, z0, 1.0, 0.0, cot, 0.0)
    assert got == pytest.approx((expected, 0.0), abs=1e-12)


def test_soft_looper_leaving_through_the_solenoid_end_reaches_the_endcap():
    # pT = 0.3 GeV: 2R ≈ 1.0 m < 1.15 m, so it leaves the field through z = 2650 mm;
    # the straight line then crosses r = 1680 mm beyond the barrel, so it hits the plane.
    px, pz = 0.3, 0.3 * math.sinh(1.2)
    _, _, z_cyl = propagate_to_cylinder(0.0, 0.0, 0.0, px, 0.0, pz, 1.0, CALO_BARREL_RADIUS_MM)
    assert z_cyl > CALO_BARREL_HALF_LENGTH_MM
    x, y, z = propagate_to_plane(0.0, 0.0, 0.0, px, 0.0, pz, 1.0, CALO_ENDCAP_Z_MM)
    eta, phi = extrapolate_point_to_calorimeter(0.0, 0.0, 0.0, px, 0.0, pz, 1.0)
    assert (eta, phi) == pytest.approx((math.asinh(z / math.hypot(x, y)), math.atan2(y, x)))


def test_no_field_beyond_the_solenoid_end():
    """A charged particle that starts beyond |z| = 2650 mm goes straight, as a neutral."""
    start = (500.0, 0.0, SOLENOID_HALF_LENGTH_MM + 50.0, 1.0, 0.0, math.sinh(2.0))
    assert extrapolate_point_to_calorimeter(*start, 1.0) == extrapolate_point_to_calorimeter(
        *start, 0.0
    )
    inside = (500.0, 0.0, SOLENOID_HALF_LENGTH_MM - 50.0, 1.0, 0.0, math.sinh(2.0))
    charged = extrapolate_point_to_calorimeter(*inside, 1.0)
    neutral = extrapolate_point_to_calorimeter(*inside, 0.0)
    assert charged[1] < neutral[1]  # bent towards smaller φ over its last 50 mm in z
