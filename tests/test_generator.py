"""Tests of egamma_cnn.sim.generator: JF filter, truth origins, and Pythia generation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from egamma_cnn.sim.generator import (
    PROCESSES,
    EventGenerator,
    classify_origins,
    derive_seeds,
    jf_filter,
    jf_max_window_et,
)
from egamma_cnn.sim.particles import Origin

# ---------------------------------------------------------------------------------------
# JF filter
# ---------------------------------------------------------------------------------------


def _jf(events: list[list[tuple[float, float, float]]], threshold: float | None = None):
    counts = [len(e) for e in events]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    flat = [p for e in events for p in e] or [(0.0, 0.0, 0.0)]
    eta, phi, et = (np.array(c, float)[: offsets[-1]] for c in zip(*flat, strict=True))
    if threshold is None:
        return jf_max_window_et(offsets, eta, phi, et)
    return jf_filter(offsets, eta, phi, et, threshold)


def test_jf_single_particle_and_thresholds():
    assert _jf([[(0.3, 1.0, 20.0)]], 17.0).tolist() == [True]
    assert _jf([[(0.3, 1.0, 20.0)]], 35.0).tolist() == [False]
    assert _jf([[]], 0.0).tolist() == [False]  # empty event: max is 0, not > 0


def test_jf_window_sums_neighbours_only():
    near = [(0.51, 0.01, 10.0), (0.54, 0.04, 10.0)]  # same 0.1×0.1 window
    far = [(0.51, 0.01, 10.0), (0.91, 0.01, 10.0)]  # Δη = 0.4
    np.testing.assert_allclose(_jf([near, far]), [20.0, 10.0])


def test_jf_phi_wraps():
    wrap = [(0.0, math.pi - 0.01, 10.0), (0.0, -math.pi + 0.01, 10.0)]
    np.testing.assert_allclose(_jf([wrap]), [20.0])


def test_jf_eta_range():
    out = _jf([[(2.75, 0.0, 50.0)], [(-2.69, 0.0, 50.0)], [(-2.71, 0.0, 50.0)]])
    np.testing.assert_allclose(out, [0.0, 50.0, 0.0])


def _jf_reference(eta, phi, et, eta_max=2.7, step=0.05):
    """Independent brute force: histogram on the grid, all 2×2 windows."""
    n_phi = round(2 * math.pi / step)
    n_eta = round(2 * eta_max / step)
    inside = np.abs(eta) < eta_max
    ie = np.minimum(((eta[inside] + eta_max) / step).astype(int), n_eta - 1)
    ip = np.floor((phi[inside] + math.pi) / (2 * math.pi / n_phi)).astype(int) % n_phi
    grid = np.zeros((n_eta, n_phi))
    np.add.at(grid, (ie, ip), et[inside])
    win = grid[:-1] + grid[1:]
    win = win + np.roll(win, -1, axis=1)
    return win.max() if inside.any() else 0.0


def test_jf_matches_brute_force_on_random_events():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 40, 30)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n = offsets[-1]
    eta = rng.uniform(-3.0, 3.0, n)
    # cluster some particles so that windows sum several of them
    eta[::3] = rng.choice([-1.0, 0.02, 2.6], n // 3 + (n % 3 > 0)) + rng.normal(
        0, 0.03, len(eta[::3])
    )
    phi = rng.uniform(-math.pi, math.pi, n)
    et = rng.exponential(5.0, n)
    got = jf_max_window_et(offsets, eta, phi, et)
    ref = [_jf_reference(eta[a:b], phi[a:b], et[a:b]) for a, b in itertools.pairwise(offsets)]
    np.testing.assert_allclose(got, ref)


# ---------------------------------------------------------------------------------------
# Origin classification on hand-built Pythia-like records
# ---------------------------------------------------------------------------------------


class _Rec:
    """Builds a Pythia-like record: entry 0 the system, 1-2 the beam protons."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, int]] = [(90, -11, 0), (2212, -12, 0), (2212, -12, 0)]

    def add(self, pdg: int, status: int, mother: int) -> int:
        self.rows.append((pdg, status, mother))
        return len(self.rows) - 1

    def classify(self) -> np.ndarray:
        pdg, status, m1 = (np.array(c) for c in zip(*self.rows, strict=True))
        return classify_origins(pdg, status, m1, np.zeros_like(m1), status > 0)


def _zee_with_fsr():
    r = _Rec()
    q = r.add(2, -21, 1)
    r.add(-2, -21, 2)
    z = r.add(23, -22, q)
    z2 = r.add(23, -62, z)  # recoil copy
    e1 = r.add(11, -23, z2)
    e2 = r.add(-11, 23, z2)  # final, no radiation
    e1b = r.add(11, 51, e1)  # after radiating
    g = r.add(22, -51, e1)  # FSR photon that splits
    pe = r.add(11, 51, g)
    pp = r.add(-11, 51, g)
    g2 = r.add(22, 51, e1)  # second FSR photon, final
    return r, dict(e1=e1, e2=e2, e1b=e1b, g=g, pe=pe, pp=pp, g2=g2)


def test_origin_z_to_ee_with_fsr():
    r, i = _zee_with_fsr()
    o = r.classify()
    assert o[i["e2"]] == Origin.BOSON_DECAY
    assert o[i["e1b"]] == Origin.BOSON_DECAY
    assert o[i["e1"]] == Origin.BOSON_DECAY  # Born-level lepton (non-final) too
    for k in ("g", "pe", "pp", "g2"):
        assert o[i[k]] == Origin.PROMPT_LEPTON_FSR, k


def test_origin_heavy_flavour_chain():
    r = _Rec()
    b = r.add(5, -23, 3)
    bhad = r.add(511, -83, b)
    d = r.add(-411, -91, bhad)
    e = r.add(11, 91, d)
    k = r.add(321, 91, d)
    pi0 = r.add(111, -91, d)
    g = r.add(22, 91, pi0)
    jpsi = r.add(443, -91, bhad)
    ej = r.add(11, 91, jpsi)
    o = r.classify()
    assert o[e] == Origin.HEAVY_FLAVOUR
    assert o[g] == Origin.HEAVY_FLAVOUR  # via a light hadron from a D: still heavy flavour
    assert o[ej] == Origin.HEAVY_FLAVOUR  # non-prompt J/ψ
    assert o[k] == Origin.HADRON


def test_origin_light_hadron_decays_and_hadrons():
    r = _Rec()
    q = r.add(1, -23, 3)
    pi0 = r.add(111, -83, q)
    g1 = r.add(22, 91, pi0)
    g2 = r.add(22, 91, pi0)
    eta = r.add(221, -84, q)
    e = r.add(11, 91, eta)  # Dalitz
    pip = r.add(211, 83, q)
    k0l = r.add(130, 84, q)
    n = r.add(2112, 84, q)
    o = r.classify()
    assert o[g1] == o[g2] == o[e] == Origin.LIGHT_HADRON_DECAY
    assert o[pip] == o[k0l] == o[n] == Origin.HADRON


def test_origin_prompt_photons():
    r = _Rec()
    g_in = r.add(21, -21, 1)
    r.add(2, -21, 2)
    q_out = r.add(2, -23, g_in)
    g_hard = r.add(22, -23, g_in)
    g_final = r.add(22, 52, g_hard)  # recoil copy of the hard photon
    e_conv = r.add(11, 51, g_final)  # γ→ee in the QED shower
    g_shower = r.add(22, 51, q_out)  # photon radiated by the outgoing quark
    g_isr = r.add(22, 43, g_in + 1)  # photon radiated by an incoming quark
    o = r.classify()
    for k in (g_final, e_conv, g_shower, g_isr, g_hard):
        assert o[k] == Origin.PROMPT_PHOTON, k


def test_origin_taus_muons_neutrinos_and_w():
    r = _Rec()
    q = r.add(2, -21, 1)
    z = r.add(23, -22, q)
    tau = r.add(15, -23, z)
    r.add(-15, -23, z)
    g_tau = r.add(22, 51, tau)  # radiated by the τ before it decays
    tau2 = r.add(15, -51, tau)
    e_tau = r.add(11, 91, tau2)
    nu = r.add(16, 91, tau2)
    pi0 = r.add(111, -91, tau2)
    g_pi0 = r.add(22, 91, pi0)
    w = r.add(24, -22, q)
    e_w = r.add(11, 23, w)
    mu = r.add(13, 23, z)
    o = r.classify()
    assert o[e_tau] == Origin.OTHER_LEPTON  # τ from Z decaying to e
    assert o[nu] == Origin.OTHER_LEPTON
    assert o[mu] == Origin.OTHER_LEPTON
    assert o[g_tau] == Origin.PROMPT_LEPTON_FSR
    assert o[g_pi0] == Origin.LIGHT_HADRON_DECAY
    assert o[e_w] == Origin.BOSON_DECAY


def test_origin_prompt_jpsi_and_unknown():
    r = _Rec()
    g = r.add(21, -21, 1)
    jpsi = r.add(443, -23, g)
    e = r.add(11, 91, jpsi)
    stray = r.add(22, 63, 1)  # beam-remnant-like photon: no known source
    o = r.classify()
    assert o[e] == Origin.BOSON_DECAY
    assert o[stray] == Origin.UNKNOWN


def test_origin_long_copy_chain_uses_pointer_doubling():
    r = _Rec()
    q = r.add(2, -21, 1)
    last = r.add(23, -22, q)
    for _ in range(300):
        last = r.add(11, -51, last)
    final = r.add(11, 51, last)
    assert r.classify()[final] == Origin.BOSON_DECAY


def test_origin_concatenated_records_with_global_mothers():
    r1, _ = _zee_with_fsr()
    r2 = _Rec()
    q = r2.add(1, -23, 3)
    pi0 = r2.add(111, -83, q)
    g = r2.add(22, 91, pi0)
    cols1 = [np.array(c) for c in zip(*r1.rows, strict=True)]
    cols2 = [np.array(c) for c in zip(*r2.rows, strict=True)]
    shift = len(r1.rows)
    pdg = np.concatenate([cols1[0], cols2[0]])
    status = np.concatenate([cols1[1], cols2[1]])
    m1 = np.concatenate([cols1[2], cols2[2] + shift])
    o = classify_origins(pdg, status, m1, np.zeros_like(m1), status > 0)
    np.testing.assert_array_equal(o[:shift], r1.classify())
    np.testing.assert_array_equal(o[shift:], r2.classify())
    assert o[shift + g] == Origin.LIGHT_HADRON_DECAY
    assert classify_origins(*(np.zeros(0, int),) * 4, np.zeros(0, bool)).shape == (0,)


# ---------------------------------------------------------------------------------------
# Configuration and seeds (no Pythia needed)
# ---------------------------------------------------------------------------------------


def test_unknown_process_names_valid_ones():
    with pytest.raises(ValueError, match=r"zee.*jf17.*minbias"):
        EventGenerator("ttbar", 1)


def test_processes_table():
    assert set(PROCESSES) == {
        "zee",
        "wenu",
        "jf17",
        "jf35",
        "jf50",
        "gammajet",
        "zeegamma",
        "minbias",
    }
    for name, cfg in PROCESSES.items():
        assert cfg.name == name and cfg.description
    assert [PROCESSES[f"jf{t}"].jet_filter_et for t in (17, 35, 50)] == [17.0, 35.0, 50.0]
    assert PROCESSES["zeegamma"].photon_filter_pt == 10.0


def test_derive_seeds_in_pythia_range_and_distinct():
    seeds = [derive_seeds(s)[0] for s in (0, 1, 2, 10**12)]
    assert all(1 <= s <= 900_000_000 for s in seeds)
    assert len(set(seeds)) == len(seeds)
    assert derive_seeds(7)[0] == derive_seeds(7)[0]
    with pytest.raises(ValueError):
        derive_seeds(-1)


# ---------------------------------------------------------------------------------------
# Pythia generation (≤ 20 events per process)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zee():
    pytest.importorskip("pythia8mc")
    return EventGenerator("zee", 11).generate(6)


def test_zee_contents(zee):
    p, g = zee.particles, zee.genpart
    assert p.n_events == g.n_events == zee.vertices.n_events == 6
    assert zee.n_tried == 6 and zee.filter_efficiency == 1.0
    assert zee.cross_section_pb > 100.0
    np.testing.assert_array_equal(zee.weight, np.ones(6))
    # final state only: no neutrinos, |η| < 5, generator particles
    assert not np.isin(np.abs(p.pdg_id), (12, 14, 16)).any()
    assert np.all(np.abs(p.eta) < 5.0)
    assert np.all(p.vertex_index == 0) and np.all(p.parent == -1)
    np.testing.assert_array_equal(p.true_charge, p.charge)
    assert set(np.unique(p.charge[np.abs(p.pdg_id) == 211])) <= {-1, 1}
    # two Z-decay electrons per event (one may have been lost beyond |η| = 5)
    ev = p.event_index
    prompt = (np.abs(p.pdg_id) == 11) & (p.origin == Origin.BOSON_DECAY)
    assert np.all(np.bincount(ev[prompt], minlength=6) >= 1)
    # prompt particles sit at the event's hard-scatter vertex
    np.testing.assert_allclose(p.vz[prompt], zee.vertices.z[ev[prompt]], atol=1e-6)
    # gen_index points at the same particle in GenPart
    has = p.gen_index >= 0
    flat = g.offsets[ev[has]] + p.gen_index[has]
    np.testing.assert_array_equal(g.pdg_id[flat], p.pdg_id[has])
    np.testing.assert_allclose(g.pt[flat], p.pt[has])
    sel = ((np.abs(p.pdg_id) == 11) | (p.pdg_id == 22)) & (p.pt > 2.0)
    assert np.all(p.gen_index[sel] >= 0)
    # GenPart: one Z per event, its decay electrons point at it
    gev = np.repeat(np.arange(6), np.diff(g.offsets))
    assert np.bincount(gev[g.pdg_id == 23], minlength=6).tolist() == [1] * 6
    local = np.arange(len(g)) - g.offsets[gev]
    assert np.all(g.mother_index < local) and np.all(g.mother_index >= -1)
    born = (np.abs(g.pdg_id) == 11) & (g.status != 1)
    mothers = g.offsets[gev[born]] + g.mother_index[born]
    assert np.all(g.pdg_id[mothers] == 23)
    assert set(g.branches()) >= {"nGenPart", "GenPart_pdgId", "GenPart_genPartIdxMother"}


def test_same_seed_same_events(zee):
    again = EventGenerator("zee", 11).generate(6)
    for name in ("offsets", "pdg_id", "px", "vz", "origin", "gen_index"):
        np.testing.assert_array_equal(getattr(again.particles, name), getattr(zee.particles, name))
    np.testing.assert_array_equal(again.vertices.z, zee.vertices.z)
    np.testing.assert_array_equal(again.genpart.pt, zee.genpart.pt)


def test_jf17_events_pass_the_filter():
    pytest.importorskip("pythia8mc")
    out = EventGenerator("jf17", 5).generate(4)
    p = out.particles
    assert p.n_events == 4 and out.n_tried >= 4
    vis = np.abs(p.pdg_id) != 13
    offsets = np.concatenate([[0], np.cumsum(vis)])[p.offsets]
    et = p.energy[vis] * p.pt[vis] / np.sqrt(p.pt[vis] ** 2 + p.pz[vis] ** 2)
    assert jf_filter(offsets, p.eta[vis], p.phi[vis], et, 17.0).all()


def test_zeegamma_has_fsr_photon():
    pytest.importorskip("pythia8mc")
    out = EventGenerator("zeegamma", 3).generate(2)
    p = out.particles
    good = (
        (p.pdg_id == 22)
        & (p.origin == Origin.PROMPT_LEPTON_FSR)
        & (p.pt > 10.0)
        & (np.abs(p.eta) < 2.5)
    )
    assert np.bincount(p.event_index[good], minlength=2).min() >= 1
    assert out.n_tried > out.n_events  # the filter rejects most Z→ee events
