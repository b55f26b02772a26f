"""The solenoid field and the propagation to the calorimeter (egamma_cnn.sim.propagation)."""

from __future__ import annotations

import ast
import dis
import importlib
import inspect
import math
import pkgutil
import types

import numba
import numpy as np
import pytest
from numba.core.caching import NullCache
from numba.core.registry import CPUDispatcher

import egamma_cnn.sim
from egamma_cnn import geometry as g
from egamma_cnn.sim import cells
from egamma_cnn.sim.detector import SHOWER_STACK_SPLIT_ETA
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
    helix_circle,
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


def test_barrel_surface_ends_at_3500_mm_beyond_the_em_barrel():
    """Today's rule: the cylinder is taken up to |z| = 3500 mm, |η| = asinh(3500/1680)
    ≈ 1.480 from the origin, a little beyond EMB2's end (1.475) and beyond the shower
    stack's split (1.45); one split needs the reconstruction and calibration changed."""
    assert CALO_BARREL_HALF_LENGTH_MM == 3500.0
    eta_end = math.asinh(CALO_BARREL_HALF_LENGTH_MM / CALO_BARREL_RADIUS_MM)
    assert eta_end == pytest.approx(1.4803, abs=1e-4)
    emb2_end = g.layer_coverage(g.CaloSampling.EMB2)[1]
    assert SHOWER_STACK_SPLIT_ETA == 1.45 < emb2_end == 1.475 < eta_end
    # Straight lines from the origin: the barrel cylinder up to |η| ≈ 1.480 (through
    # the stack split and EMB2's end), the end-cap plane beyond; η is kept either way.
    for eta in (1.44, 1.46, 1.474, -1.476, 1.48, -1.4805, 1.49):
        eta_c, _ = extrapolate_point_to_calorimeter(0.0, 0.0, 0.0, 1.0, 0.0, math.sinh(eta), 0.0)
        assert eta_c == pytest.approx(eta, abs=1e-12)
        _, _, z_cyl = propagate_to_cylinder(
            0.0, 0.0, 0.0, 1.0, 0.0, math.sinh(eta), 0.0, CALO_BARREL_RADIUS_MM
        )
        on_barrel = abs(z_cyl) <= CALO_BARREL_HALF_LENGTH_MM
        assert on_barrel == (abs(eta) < eta_end)
        assert on_barrel == (abs(eta) <= 1.48)
    # The switch is at |z| = 3500 mm: a line reaching the cylinder just inside stays on
    # it, one just outside goes to the plane (seen at the plane's |z| = 3900 mm).
    for z_hit, barrel in ((3499.9, True), (3500.1, False)):
        pz = z_hit / CALO_BARREL_RADIUS_MM
        eta_c, _ = extrapolate_point_to_calorimeter(0.0, 0.0, 0.0, 1.0, 0.0, pz, 0.0)
        z_seen = z_hit if barrel else CALO_ENDCAP_Z_MM
        r_seen = CALO_BARREL_RADIUS_MM if barrel else CALO_ENDCAP_Z_MM / pz
        assert eta_c == pytest.approx(math.asinh(z_seen / r_seen), abs=1e-12)


def test_surfaces_are_arguments_with_the_geometry_as_default():
    """A caller can move the surfaces; the defaults are the geometry's middle layers."""
    start = (0.0, 0.0, 0.0, 1.0, 0.0, math.sinh(1.485), 0.0)
    default = extrapolate_point_to_calorimeter(*start)
    explicit = extrapolate_point_to_calorimeter(
        *start, 2.0, CALO_BARREL_RADIUS_MM, CALO_BARREL_HALF_LENGTH_MM, CALO_ENDCAP_Z_MM
    )
    assert default == explicit
    # A longer cylinder catches the η = 1.485 line (same η for a straight line), a
    # smaller radius moves the crossing and a charged particle then bends less.
    longer = extrapolate_point_to_calorimeter(*start, 2.0, 1680.0, 3700.0, 3900.0)
    assert longer == pytest.approx(default, abs=1e-12)
    charged = (*start[:6], 1.0)
    near = extrapolate_point_to_calorimeter(*charged, 2.0, 1300.0, 3700.0, 3900.0)
    far = extrapolate_point_to_calorimeter(*charged, 2.0, 1680.0, 3700.0, 3900.0)
    assert 0.0 > near[1] > far[1]
    # The array wrappers pass them to the kernel.
    e, p = extrapolate_point_to_calorimeter_array(*charged, 2.0, 1300.0, 3700.0, 3900.0)
    assert (float(e), float(p)) == pytest.approx(near, abs=1e-15)
    e, p = extrapolate_to_calorimeter_array(1.0, 1.485, 0.0, 1.0, 0.0, 2.0, 1300.0, 3700.0)
    assert (float(e), float(p)) == pytest.approx(near, abs=1e-15)


def test_helix_circle():
    """R = pT/(c·B·|q|); centre q̂·R·(û_y, −û_x) from the point: clockwise for q > 0."""
    rad = _radius_of_curvature(1.0)
    assert helix_circle(0.0, 0.0, 1.0, 0.0, 1.0) == pytest.approx((0.0, -rad, rad, 1.0))
    assert helix_circle(0.0, 0.0, 1.0, 0.0, -1.0) == pytest.approx((0.0, rad, rad, -1.0))
    cx, cy, r2, sq = helix_circle(10.0, -5.0, 3.0, 4.0, 2.0, 4.0)
    assert r2 == pytest.approx(5.0 / (CURVATURE_CONSTANT * 4.0 * 2.0)) and sq == 1.0
    assert math.hypot(10.0 - cx, -5.0 - cy) == pytest.approx(r2)
    # the momentum is tangent to the circle
    assert (10.0 - cx) * 3.0 + (-5.0 - cy) * 4.0 == pytest.approx(0.0, abs=1e-6)
    assert helix_circle(1.0, 2.0, 3.0, 4.0, 0.0)[2] == math.inf
    assert math.isnan(helix_circle(1.0, 2.0, 0.0, 0.0, 1.0)[0])
    # Every point the propagation finds inside the field lies on that circle.
    start = (30.0, -20.0, 5.0, 0.8, 0.6, 0.4, -1.0)
    cx, cy, rad, _ = helix_circle(30.0, -20.0, 0.8, 0.6, -1.0)
    for r in (100.0, 500.0, 1000.0):
        x, y, _ = propagate_to_cylinder(*start, r)
        assert math.hypot(x, y) == pytest.approx(r)
        assert math.hypot(x - cx, y - cy) == pytest.approx(rad, rel=1e-12)


# --------------------------------------------------------------------------------------
# Cached kernels read no value of another module (numba freezes globals into the
# compiled code and invalidates its cache only when the kernel's own file changes).
# --------------------------------------------------------------------------------------


def _global_names(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _foreign_sources(module: types.ModuleType) -> dict[str, set[str]]:
    """For each module-level name, the other egamma_cnn modules its value comes from."""
    tree = ast.parse(inspect.getsource(module))
    imported: dict[str, str] = {}
    defined: dict[str, list[ast.AST]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("egamma_cnn"):
            for alias in node.names:
                imported[alias.asname or alias.name] = node.module
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        defined.setdefault(n.id, []).append(node)
        elif isinstance(node, ast.FunctionDef):
            defined.setdefault(node.name, []).append(node)
    memo: dict[str, set[str]] = {}

    def resolve(name: str) -> set[str]:
        if name in memo:
            return memo[name]
        memo[name] = set()
        out = {imported[name]} if name in imported else set()
        for node in defined.get(name, []):
            for n in ast.walk(node):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id != name:
                    out |= resolve(n.id)
        memo[name] = out
        return out

    return {name: resolve(name) for name in set(imported) | set(defined)}


def test_cached_sim_kernels_read_no_value_of_another_module():
    """Constants of the geometry, the detector or another sim module reach a cached
    kernel as arguments, never as globals: an edit there would leave stale kernels."""
    offenders = []
    for info in pkgutil.iter_modules(egamma_cnn.sim.__path__):
        module = importlib.import_module(f"egamma_cnn.sim.{info.name}")
        kernels = [
            v
            for v in vars(module).values()
            if isinstance(v, CPUDispatcher) and v.__module__ == module.__name__
        ]
        if not kernels:
            continue
        sources = _foreign_sources(module)
        for kernel in kernels:
            if isinstance(kernel._cache, NullCache):
                continue  # compiled afresh in every process
            for name in _global_names(kernel.py_func.__code__):
                value = kernel.py_func.__globals__.get(name)
                if value is None or isinstance(value, (types.ModuleType, CPUDispatcher)):
                    continue  # modules (math, np) and kernels called
                if callable(value) and not isinstance(value, np.ndarray):
                    continue
                if sources.get(name):
                    offenders.append(f"{module.__name__}.{kernel.__name__}: {name}")
    assert not offenders, offenders


def test_the_audit_sees_a_value_imported_from_the_geometry():
    sources = _foreign_sources(importlib.import_module("egamma_cnn.sim.propagation"))
    assert sources["CALO_BARREL_RADIUS_MM"] == {"egamma_cnn.geometry"}
    assert sources["CALO_ENDCAP_Z_MM"] == {"egamma_cnn.geometry"}
    assert sources["CALO_BARREL_HALF_LENGTH_MM"] == set()
    assert sources["SOLENOID_RADIUS_MM"] == set()


def test_window_scan_step_is_the_finest_eta_cell():
    """cells.window_cells steps over η gaps by a literal: the geometry's finest Δη."""
    assert min(r.deta for r in g.REGIONS) == cells._MIN_DETA
