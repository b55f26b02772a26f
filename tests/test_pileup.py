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


def test_overlay_without_reuse_uses_every_pool_event_once(hard):
    n_pileup = np.array([2, 0, 1, 3])
    # pool event j has j + 1 particles with pdg 1000 + j: the drawn events are identifiable
    pool = MinBiasPool(_batch(np.arange(1, 8)))
    out, _, n_pu = overlay(
        hard, pool, 1.0, np.random.default_rng(0), n_pileup=n_pileup, reuse=False
    )
    np.testing.assert_array_equal(n_pu, n_pileup)
    pu = out.origin == Origin.PILEUP
    drawn, size = np.unique(out.pdg_id[pu], return_counts=True)
    # the first Σn = 6 pool events, each once (all its particles, no copy)
    np.testing.assert_array_equal(drawn, 1000 + np.arange(6))
    np.testing.assert_array_equal(size, np.arange(1, 7))
    # interactions in event order: event 0 gets pool events 0, 1; event 2 gets 2; event 3 gets 3-5
    ev = out.event_index[pu]
    assert sorted(set(out.pdg_id[pu][ev == 0])) == [1000, 1001]
    assert sorted(set(out.pdg_id[pu][ev == 3])) == [1003, 1004, 1005]


def test_overlay_without_reuse_needs_a_pool_event_per_interaction(pool, hard):
    with pytest.raises(ValueError, match="at least 11 events"):
        overlay(hard, pool, 1.0, np.random.default_rng(0), n_pileup=[5, 0, 0, 6], reuse=False)
    with pytest.raises(ValueError, match="n_pileup"):
        overlay(hard, pool, 1.0, np.random.default_rng(0), n_pileup=[1, 1])
    with pytest.raises(ValueError, match="n_pileup"):
        overlay(hard, pool, 1.0, np.random.default_rng(0), n_pileup=[1, -1, 0, 0])


def _pileup_fakes_per_file(reuse: bool, n_files=12, n_events=200, mu=20.0, pool_size=100):
    """Pile-up particles that would make a fake candidate (a rare hard one: 3 % of the
    min-bias events carry one), per event, with each file's pile-up either fresh or drawn
    from a per-file pool of ``pool_size`` events: (Σ, Σ², events) per file."""
    rng = np.random.default_rng(42)
    sums, squares = [], []
    for _ in range(n_files):
        hard = (_batch(np.zeros(n_events, int), pdg=11), _vertices(n_events))
        n_pu = rng.poisson(mu, n_events)
        size = int(n_pu.sum()) if not reuse else pool_size
        pool_batch = _batch(np.ones(size, int))
        pool_batch.px[:] = np.where(rng.random(size) < 0.03, 20.0, 0.5)
        out, _, _ = overlay(hard, MinBiasPool(pool_batch), mu, rng, n_pileup=n_pu, reuse=reuse)
        fake = (out.origin == Origin.PILEUP) & (out.pt > 10.0)
        per_event = np.bincount(out.event_index[fake], minlength=n_events)
        sums.append(per_event.sum())
        squares.append((per_event**2).sum())
    return sums, squares, np.full(n_files, n_events)


def test_reused_pool_makes_per_file_rates_disagree_and_fresh_pileup_does_not():
    """What the production's fresh pile-up fixes, and that the per-file test sees it."""
    from egamma_cnn.intervals import rate_homogeneity

    fresh = rate_homogeneity(*_pileup_fakes_per_file(reuse=False))
    reused = rate_homogeneity(*_pileup_fakes_per_file(reuse=True))
    assert fresh.p_value > 0.01 and 0.3 < fresh.f_statistic < 2.0
    # 4000 interactions from 100 events: every pool event copied about 40 times
    assert reused.p_value < 1e-6 and reused.f_statistic > 10


def test_minbias_reseed_does_not_depend_on_earlier_events():
    pytest.importorskip("pythia8mc")
    from egamma_cnn.sim.generator import EventGenerator

    generator = EventGenerator("minbias", 7)
    generator.reseed(123)
    first = generator.generate(15)
    generator.generate(40)  # history a reseed must forget
    generator.reseed(123)
    again = generator.generate(15)
    np.testing.assert_array_equal(first.particles.offsets, again.particles.offsets)
    np.testing.assert_array_equal(first.particles.px, again.particles.px)
    generator.reseed(124)
    other = generator.generate(15)
    assert not np.array_equal(first.particles.offsets, other.particles.offsets)
