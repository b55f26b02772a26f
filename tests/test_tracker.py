"""Tests of the inner-detector emulation (egamma_cnn.sim.tracker)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from egamma_cnn.sim.particles import Origin, ParticleBatch, VertexTable
from egamma_cnn.sim.propagation import (
    CURVATURE_CONSTANT,
    extrapolate_point_to_calorimeter_array,
    helix_circle,
    propagate_to_cylinder,
)
from egamma_cnn.sim.tracker import (
    TrackBatch,
    TrackerConfig,
    layer_crossings,
    perigee_parameters,
    reconstruct_tracks,
    sigma_qoverpt,
)

_MASS = {11: 0.000511, 13: 0.105658, 211: 0.13957, 22: 0.0}


def make_batch(
    pdg,
    pt,
    eta,
    phi,
    *,
    charge=None,
    vx=0.0,
    vy=0.0,
    vz=0.0,
    counts=None,
    vertex_index=0,
) -> ParticleBatch:
    """A ParticleBatch of the given particles (one event unless ``counts`` is given)."""
    pt = np.asarray(pt, np.float64)
    n = len(pt)
    pdg = np.broadcast_to(np.asarray(pdg, np.int32), (n,)).copy()
    eta = np.broadcast_to(np.asarray(eta, np.float64), (n,))
    phi = np.broadcast_to(np.asarray(phi, np.float64), (n,))
    if charge is None:
        charge = np.where(pdg == 22, 0, np.where(pdg > 0, 1, -1))
        charge = np.where(np.abs(pdg) == 11, -np.sign(pdg), charge)
        charge = np.where(np.abs(pdg) == 13, -np.sign(pdg), charge)
    charge = np.broadcast_to(np.asarray(charge, np.int8), (n,)).copy()
    mass = np.array([_MASS[abs(int(p))] for p in pdg]) if n else np.zeros(0)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    counts = [n] if counts is None else counts
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def col(v, dt):
        return np.broadcast_to(np.asarray(v, dt), (n,)).copy()

    return ParticleBatch(
        offsets=offsets,
        pdg_id=pdg,
        charge=charge,
        px=px,
        py=py,
        pz=pz,
        energy=np.sqrt(px**2 + py**2 + pz**2 + mass**2),
        vx=col(vx, np.float64),
        vy=col(vy, np.float64),
        vz=col(vz, np.float64),
        origin=col(int(Origin.BOSON_DECAY), np.int8),
        vertex_index=col(vertex_index, np.int32),
        true_charge=charge.copy(),
        gen_index=col(-1, np.int32),
        parent=col(-1, np.int64),
    )


def beamspot(n_events: int, z=0.0) -> VertexTable:
    """One vertex per event at (0, 0, z)."""
    z = np.broadcast_to(np.asarray(z, np.float64), (n_events,)).copy()
    return VertexTable(
        offsets=np.arange(n_events + 1, dtype=np.int64),
        x=np.zeros(n_events),
        y=np.zeros(n_events),
        z=z,
    )


def run(batch: ParticleBatch, seed=1, loss=None, vertices=None, config=None) -> TrackBatch:
    loss = np.zeros(len(batch)) if loss is None else loss
    vertices = beamspot(batch.n_events) if vertices is None else vertices
    return reconstruct_tracks(
        batch, vertices, loss, np.random.default_rng(seed), config or TrackerConfig()
    )


def _radius_of_curvature(pt: float) -> float:
    return pt / (CURVATURE_CONSTANT * 2.0)


# ----------------------------------------------------------------- perigee


def test_perigee_parameters():
    # Prompt: d0 = 0, z0 = vz, φ0 = φ.
    d0, z0, phi0 = perigee_parameters(0.0, 0.0, 12.0, 3.0, 4.0, 1.0, 1.0)
    assert d0 == pytest.approx(0.0, abs=1e-12) and z0 == pytest.approx(12.0)
    assert phi0 == pytest.approx(math.atan2(4.0, 3.0))
    # ATLAS sign: PCA = (−d0 sin φ0, d0 cos φ0); a particle at (0, 0.1) along +x has d0 = +0.1.
    assert perigee_parameters(0.0, 0.1, 0.0, 50.0, 0.0, 0.0, 1.0)[0] == pytest.approx(0.1)
    # A radial conversion leg at r = 100 mm: |d0| ≈ r²/2R, opposite signs for ±.
    rad = _radius_of_curvature(1.0)
    dp = perigee_parameters(100.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0)[0]
    dm = perigee_parameters(100.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0)[0]
    assert abs(dp) == pytest.approx(100.0**2 / (2 * rad), rel=0.01)
    assert dp == pytest.approx(-dm)


@pytest.mark.parametrize("charge", [1.0, -1.0, 2.0])
def test_perigee_lies_on_the_propagated_helix(charge):
    """The perigee and the propagation share one helix (propagation.helix_circle)."""
    x, y, z, px, py, pz = 120.0, -40.0, 7.0, 0.9, 1.3, 0.5
    d0, z0, phi0 = perigee_parameters(x, y, z, px, py, pz, charge)
    cx, cy, rad, sq = helix_circle(x, y, px, py, charge)
    pca = (-d0 * math.sin(phi0), d0 * math.cos(phi0))
    assert math.hypot(pca[0] - cx, pca[1] - cy) == pytest.approx(rad, rel=1e-12)
    # φ0 is tangent there, turning the way the charge says, and the PCA is the circle's
    # point nearest the beam line: |d0| = ||c| − R|.
    assert (pca[0] - cx) * math.cos(phi0) + (pca[1] - cy) * math.sin(phi0) == pytest.approx(
        0.0, abs=1e-9
    )
    assert abs(d0) == pytest.approx(abs(math.hypot(cx, cy) - rad), rel=1e-9)
    # Propagating the perigee state forward reaches the production point's radius on it.
    pt = math.hypot(px, py)
    xr, yr, zr = propagate_to_cylinder(
        *pca, z0, pt * math.cos(phi0), pt * math.sin(phi0), pz, charge, math.hypot(x, y)
    )
    assert (xr, yr, zr) == pytest.approx((x, y, z), abs=1e-6)
    assert sq == math.copysign(1.0, charge)


# ----------------------------------------------------------------- hits


def test_hits_only_outside_production_radius():
    n = 300
    rng = np.random.default_rng(5)
    phi = rng.uniform(-np.pi, np.pi, n)
    eta = rng.uniform(-0.8, 0.8, n)
    pt = np.full(n, 5.0)
    q = np.ones(n)
    for radius, max_pix, max_sct, blayer in [
        (200.0, 0, 8, 0),
        (40.0, 3, 8, 0),
        (350.0, 0, 6, 0),
        (0.0, 4, 8, 1),
    ]:
        c = layer_crossings(
            radius * np.cos(phi),
            radius * np.sin(phi),
            0.0,
            pt * np.cos(phi),
            pt * np.sin(phi),
            pt * np.sinh(eta),
            q,
        )
        assert np.all(c.blayer == blayer)
        assert np.all(c.pixel == max_pix)
        assert np.all(c.sct == max_sct)
        assert np.all(c.trt_expected > 20)
    # Conversion legs at r = 200 mm: found by the TRT-seeded pass and extended into the
    # SCT (back-tracking), without any pixel hit.
    batch = make_batch(11, pt, eta, phi, vx=200 * np.cos(phi), vy=200 * np.sin(phi))
    tr = run(batch)
    assert len(tr) > 0.6 * n
    assert np.all(tr.n_pixel_hits == 0) and np.all(tr.n_blayer_hits == 0)
    assert np.all(tr.n_sct_hits >= 4) and np.all(tr.n_sct_hits <= 8)
    assert not np.any(tr.is_trt_standalone)
    # Legs produced beyond the SCT: TRT-standalone tracks, no silicon hit, poor z0.
    batch = make_batch(11, pt, eta, phi, vx=520 * np.cos(phi), vy=520 * np.sin(phi))
    tsa = run(batch)
    assert len(tsa) > 0.6 * n
    assert np.all(tsa.is_trt_standalone) and np.all(tsa.n_trt_hits >= 15)
    assert np.all(tsa.n_pixel_hits + tsa.n_sct_hits == 0)
    assert np.all(tsa.vertex_index == -1)
    assert np.median(tsa.d0_err) > 3 * np.median(tr.d0_err)
    assert np.all(tsa.z0_err > 10)
    # Legs at r = 40 mm: silicon tracks without an IBL hit, worse d0 resolution.
    tr40 = run(make_batch(11, pt, eta, phi, vx=40 * np.cos(phi), vy=40 * np.sin(phi)))
    tr0 = run(make_batch(11, pt, eta, phi))
    assert np.all(tr40.n_blayer_hits == 0) and not np.any(tr40.is_trt_standalone)
    assert np.all(tr40.n_pixel_hits <= 3)
    assert np.median(tr40.d0_err) > 1.4 * np.median(tr0.d0_err)


def test_hit_counts_versus_eta_prompt():
    rng = np.random.default_rng(2)
    n = 40000
    eta = rng.uniform(0, 2.5, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    pt = np.full(n, 10.0)
    c = layer_crossings(
        0.0, 0.0, rng.normal(0, 45, n), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), 1
    )
    for lo in np.arange(0.0, 2.5, 0.25):
        m = (eta >= lo) & (eta < lo + 0.25)
        assert 3.5 <= c.pixel[m].mean() <= 5.3
        assert 7.0 <= c.sct[m].mean() <= 9.5
    central = eta < 0.5
    assert 30 <= c.trt_expected[central].mean() <= 37
    assert np.mean(c.trt_expected[eta > 2.2]) < 0.1


# ----------------------------------------------------------------- acceptance


def test_acceptance_cuts():
    n = 200
    phi = np.linspace(-3, 3, n)
    assert len(run(make_batch(13, np.full(n, 0.3), 0.5, phi))) == 0  # pT < 0.5 GeV
    assert len(run(make_batch(13, np.full(n, 10.0), 2.7, phi))) == 0  # |η| > 2.5
    assert len(run(make_batch(22, np.full(n, 10.0), 0.5, phi))) == 0  # neutral
    tr = run(make_batch(13, np.full(n, 10.0), 1.0, phi))
    assert len(tr) >= 0.95 * n
    assert np.all(tr.pt > 0.5) and np.all(np.abs(tr.eta) < 2.5)
    assert np.all(tr.n_pixel_hits + tr.n_sct_hits >= 7) and np.all(tr.n_pixel_hits >= 1)
    # Hadrons suffer the extra ≈ 0.90 efficiency.
    trh = run(make_batch(211, np.full(2000, 10.0), 1.0, np.linspace(-3, 3, 2000)))
    assert 0.85 < len(trh) / 2000 < 0.95


def test_empty_inputs_give_valid_empty_batches():
    for n_events in (0, 3):
        tr = run(ParticleBatch.empty(n_events))
        assert isinstance(tr, TrackBatch)
        assert tr.n_events == n_events and len(tr) == 0
        np.testing.assert_array_equal(tr.offsets, np.zeros(n_events + 1))
        assert tr.pt.dtype == np.float64 and tr.charge.dtype == np.int8
        assert tr.ndof.dtype == np.int16 and tr.particle_index.dtype == np.int64
    # Events without particles among others; all particles unreconstructable.
    batch = make_batch(211, [10.0, 10.0, 0.1], 0.2, [0.0, 1.0, 2.0], counts=[0, 2, 0, 1, 0])
    tr = run(batch, seed=4)
    assert tr.n_events == 5
    assert tr.offsets[0] == 0 and tr.offsets[1] == 0
    assert np.all(np.diff(tr.offsets) >= 0)
    assert tr.offsets[3] == tr.offsets[4] == tr.offsets[5] == len(tr)
    np.testing.assert_array_equal(batch.event_index[tr.particle_index], tr.event_index)
    # Neutral-only batch.
    assert len(run(make_batch(22, np.full(4, 5.0), 0.0, 0.0, counts=[2, 2]))) == 0


def test_invalid_inputs():
    batch = make_batch(11, [5.0], 0.0, 0.0)
    with pytest.raises(ValueError):
        run(batch, loss=np.array([1.0]))
    with pytest.raises(ValueError):
        run(batch, loss=np.zeros(2))
    with pytest.raises(ValueError):
        run(batch, vertices=beamspot(2))
    with pytest.raises(ValueError):
        TrackerConfig(pixel_hit_efficiency=1.5)


# ----------------------------------------------------------------- resolution


def _prompt_pions(n, seed):
    rng = np.random.default_rng(seed)
    pt = np.exp(rng.uniform(np.log(1.0), np.log(100.0), n))
    eta = rng.uniform(-2.4, 2.4, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    pdg = rng.choice([211, -211], n)
    return make_batch(pdg, pt, eta, phi, vz=0.0)


def test_pulls_have_unit_width():
    batch = _prompt_pions(20000, 7)
    tr = run(batch, seed=8)
    assert len(tr) > 15000
    silicon = ~tr.is_trt_standalone
    pull_d0 = tr.d0[silicon] / tr.d0_err[silicon]  # prompt: true d0 = 0
    pull_z0 = tr.z0[silicon] / tr.z0_err[silicon]
    i = tr.particle_index[silicon]
    q_true = batch.charge[i]
    qopt_true = q_true / batch.pt[i]
    qopt = tr.charge[silicon] / tr.pt[silicon]
    pull_pt = (qopt - qopt_true) / sigma_qoverpt(batch.pt[i], batch.eta[i])
    for pull in (pull_d0, pull_z0, pull_pt):
        assert abs(np.mean(pull)) < 0.05
        assert 0.95 < np.std(pull) < 1.05


def test_charge_flips_grow_with_pt():
    n = 3000
    rates = []
    for pt in (20.0, 300.0, 3000.0):
        rng = np.random.default_rng(int(pt))
        eta = rng.uniform(2.3, 2.45, n)
        batch = make_batch(13, np.full(n, pt), eta, rng.uniform(-np.pi, np.pi, n))
        tr = run(batch, seed=11)
        rates.append(np.mean(tr.charge != batch.charge[tr.particle_index]))
    assert rates[0] < 0.001
    assert rates[0] < rates[1] < rates[2]
    assert rates[2] > 0.2


def test_trt_electron_probability():
    n = 3000
    rng = np.random.default_rng(12)
    pt = rng.uniform(5, 20, n)
    eta = rng.uniform(-1.5, 1.5, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    te = run(make_batch(11, pt, eta, phi), seed=13)
    tp = run(make_batch(211, pt, eta, phi), seed=13)
    assert te.e_probability_ht.dtype == np.float32
    assert np.mean(te.e_probability_ht) > 0.7 > 0.3 > np.mean(tp.e_probability_ht)
    frac_e = te.n_trt_ht_hits.sum() / te.n_trt_hits.sum()
    frac_p = tp.n_trt_ht_hits.sum() / tp.n_trt_hits.sum()
    assert 0.15 < frac_e < 0.25 and 0.03 < frac_p < 0.08
    # No TRT beyond |η| ≈ 2.1: no HT information.
    tf = run(make_batch(11, pt, 2.3, phi), seed=14)
    assert len(tf) > 0
    assert np.all(tf.n_trt_hits == 0) and np.all(tf.e_probability_ht == 0.5)


def test_brem_contract_and_fit_quality():
    n = 2000
    rng = np.random.default_rng(15)
    eta = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    loss = np.full(n, 0.5)
    post = make_batch(11, np.full(n, 10.0), eta, phi)  # post-brem momentum 10 GeV
    tr = run(post, loss=loss, seed=16)
    ref = run(post, seed=16)
    assert np.median(tr.pt) == pytest.approx(20.0, rel=0.03)
    assert np.mean(tr.delta_p_over_p) == pytest.approx(0.5, abs=0.02)
    assert abs(np.mean(ref.delta_p_over_p)) < 0.01
    assert np.mean(tr.chi2 / tr.ndof) > 1.5 * np.mean(ref.chi2 / ref.ndof)
    assert np.mean(ref.chi2 / ref.ndof) == pytest.approx(1.0, abs=0.05)
    expected_ndof = 2 * ref.n_pixel_hits + ref.n_sct_hits + ref.n_trt_hits - 5
    np.testing.assert_array_equal(ref.ndof, np.maximum(expected_ndof, 1))


def test_displaced_decay_products_have_large_d0():
    # A K0S-like decay 40 mm from the beam line (beyond the IBL), legs not pointing back.
    n = 500
    rng = np.random.default_rng(17)
    phi = rng.uniform(-np.pi, np.pi, n)
    batch = make_batch(
        211, np.full(n, 3.0), 0.3, phi + 0.3, vx=40 * np.cos(phi), vy=40 * np.sin(phi)
    )
    tr = run(batch, seed=18)
    assert np.median(np.abs(tr.d0 / tr.d0_err)) > 20
    assert np.all(tr.n_blayer_hits == 0)


# ----------------------------------------------------------------- vertices


def test_vertex_assignment():
    rng = np.random.default_rng(19)
    nv = [10, 10, 1]
    z_v = [0.0, 40.0, -60.0]
    vidx = np.repeat(np.arange(3), nv)
    n = len(vidx)
    batch = make_batch(
        211,
        rng.uniform(2, 20, n),
        rng.uniform(-1, 1, n),
        rng.uniform(-3, 3, n),
        vz=np.asarray(z_v)[vidx],
        vertex_index=vidx,
    )
    vertices = VertexTable(
        offsets=np.array([0, 3]), x=np.zeros(3), y=np.zeros(3), z=np.asarray(z_v)
    )
    tr = run(batch, vertices=vertices, seed=20)
    truth = batch.vertex_index[tr.particle_index]
    assert tr.vertex_index.dtype == np.int16
    lone = truth == 2
    np.testing.assert_array_equal(tr.vertex_index[~lone], truth[~lone])
    assert np.all(tr.vertex_index[lone] == -1)


def test_reproducible_with_seed():
    batch = _prompt_pions(500, 21)
    a, b = run(batch, seed=22), run(batch, seed=22)
    for name in ("pt", "d0", "z0", "chi2", "n_trt_ht_hits", "eta_calo"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # eta_calo/phi_calo follow the reconstructed track.
    ok = np.isfinite(a.eta_calo)
    assert ok.mean() > 0.99
    assert np.all(np.abs(a.eta_calo[ok] - a.eta[ok]) < 0.1)


def test_eta_calo_is_the_shared_extrapolation_of_the_reconstructed_perigee():
    tr = run(_prompt_pions(300, 23), seed=24)
    sphi, cphi = np.sin(tr.phi), np.cos(tr.phi)
    eta, phi = extrapolate_point_to_calorimeter_array(
        -tr.d0 * sphi,
        tr.d0 * cphi,
        tr.z0,
        tr.pt * cphi,
        tr.pt * sphi,
        tr.pt * np.sinh(tr.eta),
        tr.charge,
    )
    np.testing.assert_array_equal(tr.eta_calo, eta)
    np.testing.assert_array_equal(tr.phi_calo, phi)
