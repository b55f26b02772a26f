"""Material effects: conversion rates, brem energy bookkeeping, charge flips from physics."""

import numpy as np

from egamma_cnn.sim.detector import DetectorConfig, id_material_x0
from egamma_cnn.sim.gun import particle_gun
from egamma_cnn.sim.material import apply_material
from egamma_cnn.sim.particles import Origin, ParticleBatch
from egamma_cnn.sim.propagation import phi_at_radius_array


def test_energy_is_conserved_by_brem_and_conversions():
    n = 2000
    rng = np.random.default_rng(4)
    gun = particle_gun(
        np.where(rng.uniform(size=n) < 0.5, 11, 22),
        np.full(n, 40.0),
        rng.uniform(-2.4, 2.4, n),
        rng.uniform(-3, 3, n),
    )
    out = apply_material(gun, DetectorConfig.mc(), rng)
    p = out.particles
    per_event = np.bincount(p.event_index, weights=p.energy, minlength=n)
    np.testing.assert_allclose(per_event, 40.0, rtol=1e-6, atol=2e-3)
    assert p.n_events == n
    assert np.all(np.diff(p.event_index) >= 0)


def test_conversion_probability_follows_material():
    n = 20000
    eta = 0.0
    rng = np.random.default_rng(5)
    gun = particle_gun(22, np.full(n, 30.0), np.full(n, eta), rng.uniform(-3, 3, n))
    out = apply_material(gun, DetectorConfig.mc(), rng)
    p = out.particles
    n_conv = np.sum(out.conversion_radius > 0) / 2
    expected = 1 - np.exp(-7 / 9 * id_material_x0(np.array([eta]))[0])
    assert abs(n_conv / n - expected) < 0.02
    legs = out.conversion_radius > 0
    assert np.all(np.abs(p.pdg_id[legs]) == 11)
    assert np.all(np.hypot(p.vx[legs], p.vy[legs]) > 25.0)
    # more material in the data-like detector -> more conversions
    out_data = apply_material(gun, DetectorConfig.data_like(), np.random.default_rng(5))
    assert np.sum(out_data.conversion_radius > 0) > np.sum(out.conversion_radius > 0)


def test_brem_loss_and_photons():
    n = 5000
    rng = np.random.default_rng(6)
    gun = particle_gun(11, np.full(n, 50.0), np.full(n, 1.0), rng.uniform(-3, 3, n))
    out = apply_material(gun, DetectorConfig.mc(), rng)
    p = out.particles
    prim = (p.parent < 0) & (out.conversion_radius < 0) & (np.abs(p.pdg_id) == 11)
    # mean fraction kept after X0 radiation lengths: exp(-X) (Bethe-Heitler)
    kept = 1 - out.momentum_loss[prim]
    x0 = id_material_x0(np.array([1.0]))[0]
    assert abs(kept.mean() - np.exp(-x0)) < 0.05
    photons = p.pdg_id == 22
    assert photons.sum() > 0.5 * n
    assert np.all(p.parent[photons] >= 0)
    # brem photons of prompt electrons are prompt-lepton FSR and carry the e charge
    assert np.all(p.origin[photons] == Origin.PROMPT_LEPTON_FSR)
    assert np.all(p.true_charge[photons] == -1)


def test_legs_of_brem_photons_remember_the_electron_charge():
    n = 20000
    rng = np.random.default_rng(7)
    gun = particle_gun(11, np.full(n, 60.0), np.full(n, 1.7), rng.uniform(-3, 3, n))
    out = apply_material(gun, DetectorConfig.mc(), rng)
    p = out.particles
    legs = out.conversion_radius > 0
    assert legs.sum() > 100
    # every leg comes from a brem photon of an e-: its true charge is -1, also for e+
    assert np.all(p.true_charge[legs] == -1)
    assert np.any(p.charge[legs] == 1)
    assert np.all(p.parent[legs] >= 0)
    assert np.all(np.abs(p.pdg_id[p.parent[legs]]) == 11)


def test_empty_batch():
    out = apply_material(ParticleBatch.empty(3), DetectorConfig.mc(), np.random.default_rng(1))
    assert out.particles.n_events == 3
    assert len(out.particles) == 0


def test_brem_photons_start_on_the_electron_helix():
    """The first brem photon of an electron from the beam line starts on its helix.

    Its vertex azimuth at radius r is φ0 − q·asin(r/2R) with R = pT/(c·B), the same helix
    as the propagation's (one field, one curvature constant).
    """
    n = 3000
    rng = np.random.default_rng(8)
    pt, eta = 5.0, 0.4
    phi0 = rng.uniform(-3, 3, n)
    gun = particle_gun(11, np.full(n, pt * np.cosh(eta)), np.full(n, eta), phi0)
    out = apply_material(gun, DetectorConfig.mc(), rng)
    p = out.particles
    # events without conversions: no brem photon was removed, none comes from a leg
    converted = np.bincount(p.event_index[out.conversion_radius > 0], minlength=n) > 0
    photons = np.flatnonzero((p.pdg_id == 22) & ~converted[p.event_index])
    radius = np.hypot(p.vx[photons], p.vy[photons])
    ev = p.event_index[photons]
    order = np.lexsort((radius, ev))
    first = order[np.concatenate([[True], np.diff(ev[order]) > 0])]
    assert len(first) > 0.3 * n
    i, r = photons[first], radius[first]
    expected = phi_at_radius_array(pt, eta, phi0[ev[first]], -1.0, r)
    got = np.arctan2(p.vy[i], p.vx[i])
    np.testing.assert_allclose(np.angle(np.exp(1j * (got - expected))), 0.0, atol=1e-8)
    # the photon flies along the helix tangent: twice the position's turning angle
    bend = np.angle(np.exp(1j * (got - phi0[ev[first]])))
    direction = np.arctan2(p.py[i], p.px[i])
    np.testing.assert_allclose(
        np.angle(np.exp(1j * (direction - phi0[ev[first]]))), 2 * bend, atol=1e-8
    )
    assert np.all(bend > 0)  # an electron bends towards larger φ
