"""Tests of egamma_cnn.sim.pileup: pool, μ profiles and the vectorised overlay."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from egamma_cnn.sim.generator import GeneratedEvents, GenParticles
from egamma_cnn.sim.particles import Origin, ParticleBatch, VertexTable
from egamma_cnn.sim.pileup import MinBiasPool, mu_profile, overlay


def _batch(counts, pdg=None, px=1.0, vx=0.0, parent=None) -> ParticleBatch:
    counts = np.asarray(counts)
    n = int(counts.sum())
    ev = np.repeat(np.arange(len(counts)), counts)
    pdg = ev + 1000 if pdg is None else np.broadcast_to(pdg, n)
    return ParticleBatch(
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        pdg_id=np.asarray(pdg, np.int32).copy(),
        charge=np.ones(n, np.int8),
        px=np.full(n, float(px)),
        py=np.zeros(n),
        pz=np.arange(n, dtype=float),
        energy=np.arange(n, dtype=float) + 2.0,
        vx=np.full(n, float(vx)),
        vy=np.zeros(n),
        vz=np.zeros(n),
        origin=np.full(n, int(Origin.BOSON_DECAY), np.int8),
        vertex_index=np.zeros(n, np.int32),
        true_charge=np.ones(n, np.int8),
        gen_index=np.arange(n, dtype=np.int32),
        parent=np.full(n, -1, np.int64) if parent is None else np.asarray(parent, np.int64),
    )


def _vertices(n: int, z=None) -> VertexTable:
    z = np.linspace(-10, 10, n) if z is None else np.asarray(z, float)
    return VertexTable(offsets=np.arange(n + 1, dtype=np.int64), x=np.zeros(n), y=np.zeros(n), z=z)


@pytest.fixture
def pool() -> MinBiasPool:
    # pool event j has j + 1 particles, all with pdg 1000 + j: each drawn event is identifiable
    return MinBiasPool(_batch([1, 2, 3, 4, 5]))


@pytest.fixture
def hard() -> tuple[ParticleBatch, VertexTable]:
    return _batch([3, 0, 2, 4], pdg=11), _vertices(4)


def test_overlay_counts_vertices_and_labels(pool, hard):
    hp, hv = hard
    mu = np.array([2.0, 5.0, 0.0, 10.0])
    out, vt, n_pu = overlay(hard, pool, mu, np.random.default_rng(1))
    assert n_pu.tolist() != [0, 0, 0, 0] and n_pu[2] == 0
    np.testing.assert_array_equal(np.diff(vt.offsets), 1 + n_pu)
    ev = out.event_index
    total_pu = 0
    for i in range(hp.n_events):
        rows = np.flatnonzero(ev == i)
        nh = hp.offsets[i + 1] - hp.offsets[i]
        first = rows[:nh]  # hard scatter first, unchanged
        for f in fields(ParticleBatch):
            if f.name not in ("offsets", "parent"):
                np.testing.assert_array_equal(
                    getattr(out, f.name)[first],
                    getattr(hp, f.name)[hp.offsets[i] : hp.offsets[i + 1]],
                )
        pu = rows[nh:]
        assert np.all(out.origin[pu] == Origin.PILEUP) and np.all(out.gen_index[pu] == -1)
        ks = out.vertex_index[pu]
        assert np.all(np.diff(ks) >= 0)  # grouped by interaction
        assert set(ks.tolist()) == set(range(1, n_pu[i] + 1))
        for k in range(1, n_pu[i] + 1):
            grp = pu[ks == k]
            # one whole pool event: j + 1 particles of pdg 1000 + j
            j = out.pdg_id[grp[0]] - 1000
            assert np.all(out.pdg_id[grp] == 1000 + j) and len(grp) == j + 1
            np.testing.assert_allclose(
                out.pz[grp], pool.particles.pz[pool.particles.offsets[j] :][: j + 1]
            )
            # pool vertices were at the interaction point: now at this interaction's vertex
            vk = vt.offsets[i] + k
            np.testing.assert_allclose(out.vz[grp], vt.z[vk])
            np.testing.assert_allclose(out.vx[grp], vt.x[vk])
            total_pu += len(grp)
    assert len(out) == len(hp) + total_pu
    np.testing.assert_allclose(vt.z[vt.offsets[:-1]], hv.z)  # hard-scatter vertex stays first


def test_overlay_rotation_preserves_pt_and_links_vertex(pool, hard):
    rotated = MinBiasPool(_batch([2, 3], px=2.0, vx=1.0))
    out, vt, _ = overlay(hard, rotated, np.full(4, 3.0), np.random.default_rng(5))
    pu = out.origin == Origin.PILEUP
    np.testing.assert_allclose(out.pt[pu], 2.0)
    angles = out.phi[pu]
    assert np.ptp(angles) > 0.1  # the same pool particle points in different directions
    ev = out.event_index[pu]
    vk = vt.offsets[ev] + out.vertex_index[pu]
    dphi = np.arctan2(out.vy[pu] - vt.y[vk], out.vx[pu] - vt.x[vk]) - angles
    np.testing.assert_allclose(np.angle(np.exp(1j * dphi)), 0.0, atol=1e-9)


def test_mu_zero_returns_hard_events(pool, hard):
    hp, hv = hard
    out, vt, n_pu = overlay(hard, pool, np.zeros(4), np.random.default_rng(0))
    assert n_pu.tolist() == [0, 0, 0, 0]
    for f in fields(ParticleBatch):
        np.testing.assert_array_equal(getattr(out, f.name), getattr(hp, f.name))
    for name in ("offsets", "x", "y", "z"):
        np.testing.assert_array_equal(getattr(vt, name), getattr(hv, name))


def test_overlay_deterministic_for_a_fixed_rng(pool, hard):
    a = overlay(hard, pool, 4.0, np.random.default_rng(9))
    b = overlay(hard, pool, 4.0, np.random.default_rng(9))
    for f in fields(ParticleBatch):
        np.testing.assert_array_equal(getattr(a[0], f.name), getattr(b[0], f.name))
    np.testing.assert_array_equal(a[1].z, b[1].z)
    np.testing.assert_array_equal(a[2], b[2])


def test_overlay_remaps_parent_links():
    # hard event 1 has a secondary (row 2 of the batch) whose parent is row 1
    hp = _batch([1, 2], pdg=11, parent=[-1, -1, 1])
    pool = MinBiasPool(_batch([2], parent=[-1, 0]))
    out, _, n_pu = overlay((hp, _vertices(2)), pool, np.array([3.0, 3.0]), np.random.default_rng(2))
    has = out.parent >= 0
    assert has.sum() == 1 + n_pu.sum()
    # parents live in the same event, same interaction, and precede their child
    assert np.all(out.event_index[out.parent[has]] == out.event_index[has])
    assert np.all(out.vertex_index[out.parent[has]] == out.vertex_index[has])
    assert np.all(out.parent[has] == np.flatnonzero(has) - 1)


def test_overlay_accepts_generated_events_and_checks_inputs(pool, hard):
    hp, hv = hard
    gen = GeneratedEvents(
        particles=hp,
        genpart=GenParticles.concatenate_events([]),
        vertices=hv,
        n_tried=4,
        cross_section_pb=1.0,
        weight=np.ones(4),
    )
    out, _, _ = overlay(gen, pool, 1.0, np.random.default_rng(3))
    assert out.n_events == 4
    with pytest.raises(ValueError, match="mu"):
        overlay(gen, pool, -1.0, np.random.default_rng(3))
    with pytest.raises(ValueError, match="vertices"):
        overlay((hp, _vertices(3)), pool, 1.0, np.random.default_rng(3))


def test_poisson_mean(pool):
    hp = _batch(np.zeros(4000, int), pdg=11)
    _, _, n_pu = overlay((hp, _vertices(4000)), pool, 3.0, np.random.default_rng(4))
    assert abs(n_pu.mean() - 3.0) < 0.15


def test_mu_profile():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(mu_profile(3, 40.0, rng), [40.0, 40.0, 40.0])
    g = mu_profile(5000, 40.0, rng, "gaussian")
    assert abs(g.mean() - 40.0) < 1.0 and abs(g.std() - 10.0) < 1.0 and g.min() >= 0
    u = mu_profile(5000, 40.0, rng, "uniform", spread=10.0)
    assert u.min() >= 30.0 and u.max() <= 50.0
    assert mu_profile(10, 5.0, rng, "gaussian", spread=50.0).min() >= 0.0
    with pytest.raises(ValueError, match="kind"):
        mu_profile(3, 1.0, rng, "triangle")


def test_pool_from_generated_subtracts_vertex_and_cuts():
    p = _batch([3, 2])
    p.px[:] = [0.05, 1.0, 2.0, 1.0, 1.0]  # first particle below 0.1 GeV
    p.pz[:] = [0.0, 0.0, 0.0, 200.0, 0.0]  # fourth particle at |η| ≈ 6
    p.vz[:] = [5.0, 5.0, 5.5, -3.0, -3.0]
    gen = GeneratedEvents(
        particles=p,
        genpart=GenParticles.concatenate_events([]),
        vertices=_vertices(2, z=[5.0, -3.0]),
        n_tried=2,
        cross_section_pb=1.0,
        weight=np.ones(2),
    )
    pool = MinBiasPool.from_generated(gen)
    assert pool.sizes.tolist() == [2, 1]
    np.testing.assert_allclose(pool.particles.vz, [0.0, 0.5, 0.0])
    assert np.all(pool.particles.origin == Origin.PILEUP)
    with pytest.raises(ValueError):
        MinBiasPool(ParticleBatch.empty())
