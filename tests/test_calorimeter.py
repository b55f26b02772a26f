"""Showers: energy bookkeeping, longitudinal and lateral behaviour, noise, clustering."""

import math

import numpy as np
import pytest
from scipy.special import gammainc

from egamma_cnn import geometry as g
from egamma_cnn.sim.calibration_tables import ClusterCalibration, load_default_calibration
from egamma_cnn.sim.calorimeter import _gamma_p, cell_noise, simulate_calorimeter
from egamma_cnn.sim.detector import SHOWER_STACK_SPLIT_ETA, DetectorConfig
from egamma_cnn.sim.gun import particle_gun
from egamma_cnn.sim.material import apply_material
from egamma_cnn.sim.particles import VertexTable
from egamma_cnn.sim.production import reconstruct_events
from egamma_cnn.sim.propagation import (
    CALO_BARREL_HALF_LENGTH_MM,
    CALO_BARREL_RADIUS_MM,
    extrapolate_point_to_calorimeter_array,
    propagate_to_cylinder,
)
from egamma_cnn.sim.reconstruction import find_clusters


def _shoot(pdg, energy, eta, phi=0.3, config=None, n=200, seed=3, material=False):
    config = config or DetectorConfig.mc()
    gun = particle_gun(pdg, np.full(n, energy), np.full(n, eta), np.full(n, phi))
    if material:
        out = apply_material(gun, config, np.random.default_rng(seed))
        gun = out.particles
        x, y, z, phi0 = out.start_x, out.start_y, out.start_z, out.start_phi
    else:
        x, y, z, phi0 = gun.vx, gun.vy, gun.vz, gun.phi
    px, py = gun.pt * np.cos(phi0), gun.pt * np.sin(phi0)
    ie, ip = extrapolate_point_to_calorimeter_array(x, y, z, px, py, gun.pz, gun.charge)
    ok = np.isfinite(ie)
    seeds = np.arange(n, dtype=np.uint64) + np.uint64(seed * 1000)
    return gun, simulate_calorimeter(gun, ok, ie, ip, config, seeds)


def _layer_fractions(dep, n, energy):
    s = g.cell_centers(dep.cells)["sampling"]
    ev = np.repeat(np.arange(n), np.diff(dep.offsets))
    return {
        int(k): np.bincount(ev, weights=dep.energy * (s == k), minlength=n) / energy
        for k in np.unique(s)
    }


def test_photon_energy_bookkeeping_barrel():
    """A 50 GeV photon deposits ~all its energy (minus dead material) in the EM layers."""
    n, e = 300, 50.0
    _, dep = _shoot(22, e, 0.4, n=n)
    ev = np.repeat(np.arange(n), np.diff(dep.offsets))
    total = np.bincount(ev, weights=dep.energy, minlength=n) / e
    assert 0.90 < total.mean() < 1.0
    frac = _layer_fractions(dep, n, e)
    assert frac[2].mean() > 0.5  # most in the middle layer
    assert 0.1 < frac[1].mean() < 0.45  # strips
    assert frac[3].mean() < 0.05
    had = sum(frac.get(s, 0) for s in g.HADRONIC_SAMPLINGS)
    assert np.mean(had) < 0.02


def test_pion_is_wider_and_deeper_than_electron():
    n = 300
    _, dep_e = _shoot(11, 20.0, 0.2, n=n)
    _, dep_pi = _shoot(211, 20.0, 0.2, n=n)
    fe = _layer_fractions(dep_e, n, 20.0)
    fp = _layer_fractions(dep_pi, n, 20.0)
    had_e = sum(fe.get(s, 0) for s in g.HADRONIC_SAMPLINGS)
    had_p = sum(fp.get(s, 0) for s in g.HADRONIC_SAMPLINGS)
    assert np.mean(had_p) > 0.2
    assert np.mean(had_p) > 10 * np.mean(had_e)


def test_muon_is_a_mip():
    n = 100
    _, dep = _shoot(13, 50.0, 0.3, n=n)
    ev = np.repeat(np.arange(n), np.diff(dep.offsets))
    total = np.bincount(ev, weights=dep.energy, minlength=n)
    assert 1.0 < np.median(total) < 6.0


def test_no_energy_outside_the_covered_region():
    _, dep = _shoot(22, 30.0, 3.5, n=20)
    assert len(dep.cells) == 0
    assert dep.offsets.tolist() == [0] * 21


def test_determinism_for_seeds():
    _, a = _shoot(11, 30.0, 1.0, n=50, seed=5)
    _, b = _shoot(11, 30.0, 1.0, n=50, seed=5)
    _, c = _shoot(11, 30.0, 1.0, n=50, seed=6)
    np.testing.assert_array_equal(a.cells, b.cells)
    np.testing.assert_array_equal(a.energy, b.energy)
    assert len(a.cells) != len(c.cells) or not np.array_equal(a.energy, c.energy)


def test_cell_noise_is_standard_normal_and_reproducible():
    values = np.array([cell_noise(np.uint64(12345), c) for c in range(20000)])
    assert abs(values.mean()) < 0.03
    assert abs(values.std() - 1.0) < 0.03
    assert cell_noise(np.uint64(12345), 17) == values[17]
    assert cell_noise(np.uint64(12346), 17) != values[17]


def test_data_like_showers_are_wider_and_deeper():
    n = 300
    _, mc = _shoot(11, 40.0, 0.3, n=n)
    _, data = _shoot(11, 40.0, 0.3, n=n, config=DetectorConfig.data_like())
    f_mc = _layer_fractions(mc, n, 40.0)
    f_data = _layer_fractions(data, n, 40.0)
    assert f_data[3].mean() > f_mc[3].mean()
    assert f_data[1].mean() < f_mc[1].mean()


@pytest.mark.parametrize(("pdg", "eta"), [(11, 0.3), (11, 1.1), (11, 2.0), (22, 0.6), (22, 1.9)])
def test_calibrated_candidate_energy_closes(pdg, eta):
    """With the shipped calibrations the median E_reco/E_true of single e/γ is 1."""
    n, e = 300, 60.0
    rng = np.random.default_rng(9)
    gun = particle_gun(pdg, np.full(n, e), np.full(n, eta), rng.uniform(-3, 3, n))
    zeros = np.zeros(n)
    reco = reconstruct_events(
        gun, VertexTable(np.arange(n + 1), zeros, zeros, zeros), DetectorConfig.mc(), rng
    )
    if pdg == 11:
        offsets, energy = reco.cands.electron_offsets, reco.electron_energy
    else:
        offsets, energy = reco.cands.photon_offsets, reco.photon_energy
    ev = np.repeat(np.arange(n), np.diff(offsets))
    leading = np.zeros(n)
    np.maximum.at(leading, ev, energy)
    found = leading > 0
    assert found.mean() > 0.95
    assert abs(np.median(leading[found] / e) - 1.0) < 0.03


def test_calibration_identity_and_bad_json():
    ident = ClusterCalibration.identity()
    np.testing.assert_allclose(ident(np.array([0.1, 2.0]), np.array([10.0, 50.0])), [10, 50])
    with pytest.raises(KeyError, match="factors"):
        ClusterCalibration.from_json({"abs_eta_edges": [0, 1], "log_energy_centres": [0, 1]})


def test_shipped_calibration_loads_and_seeds_clusters():
    calib = load_default_calibration()
    assert calib.electron.factors.shape == calib.photon.factors.shape
    assert np.all((calib.electron.factors > 0.8) & (calib.electron.factors < 3.0))
    n = 50
    _, dep = _shoot(22, 30.0, 0.5, n=n)
    clusters = find_clusters(dep, DetectorConfig.mc().noise_gev, calib.photon)
    assert np.all(np.diff(clusters.offsets) >= 1)


def test_gamma_p_matches_scipy():
    for a, x in [(4.5, 3.0), (4.5, 10.0), (1.2, 0.1), (8.0, 30.0), (2.0, 2.5), (3.0, 0.0)]:
        assert _gamma_p(a, x) == pytest.approx(gammainc(a, x), abs=1e-10)


@pytest.mark.parametrize(
    ("eta", "barrel"), [(1.44, True), (-1.44, True), (1.46, False), (-1.47, False), (1.478, False)]
)
def test_shower_stack_splits_at_1_45_on_the_barrel_cylinder_too(eta, barrel):
    """Barrel stack for an impact at |η| < 1.45 (detector.SHOWER_STACK_SPLIT_ETA), end-cap
    stack at and beyond, also for impacts on the barrel cylinder (|z| ≤ 3500 mm, up to
    |η| ≈ 1.480), before EMB2's end (1.475) or after it: today's rule, not one split."""
    assert SHOWER_STACK_SPLIT_ETA == 1.45
    n = 40
    _, dep = _shoot(22, 30.0, eta, n=n)
    straight_line = (0.0, 0.0, 0.0, 1.0, 0.0, math.sinh(eta), 0.0)  # the gun's photons
    _, _, z_cyl = propagate_to_cylinder(*straight_line, CALO_BARREL_RADIUS_MM)
    assert abs(z_cyl) <= CALO_BARREL_HALF_LENGTH_MM  # every impact is on the barrel cylinder
    frac = _layer_fractions(dep, n, 30.0)
    in_barrel = sum(np.mean(frac.get(s, 0.0)) for s in (0, 1, 2, 3))
    in_endcap = sum(np.mean(frac.get(s, 0.0)) for s in (4, 5, 6, 7))
    assert (in_barrel > 0.5 > in_endcap) if barrel else (in_endcap > 0.5 > in_barrel)
