"""The whole chain on hand-built events (no Pythia) and on tiny generated samples."""

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from egamma_cnn import geometry as g
from egamma_cnn.nanoevents import open_events
from egamma_cnn.sim.detector import DetectorConfig
from egamma_cnn.sim.gun import particle_gun
from egamma_cnn.sim.particles import Origin, ParticleBatch, VertexTable
from egamma_cnn.sim.production import BLOCK_SIZE, ProductionConfig, produce, simulate_events
from egamma_cnn.sim.truth import ElectronClass


def _vertices(n):
    z = np.zeros(n)
    return VertexTable(np.arange(n + 1, dtype=np.int64), z, z, z)


def _run(gun: ParticleBatch, seed=1, detector=None):
    cols, _ = simulate_events(
        gun, _vertices(gun.n_events), detector or DetectorConfig.mc(), np.random.default_rng(seed)
    )
    return cols


def _leading(collection):
    """The highest-p_T candidate of each event that has one (empty lists otherwise)."""
    return ak.drop_none(collection[ak.argmax(collection.pt, axis=1, keepdims=True)], axis=1)


def test_prompt_electrons_are_class_zero_and_well_measured():
    n = 300
    rng = np.random.default_rng(3)
    gun = particle_gun(
        np.where(rng.uniform(size=n) < 0.5, 11, -11),
        np.full(n, 40.0),
        rng.uniform(-1.3, 1.3, n),
        rng.uniform(-3, 3, n),
    )
    cols = _run(gun)
    lead = ak.flatten(_leading(cols["Electron"]))
    assert len(lead) > 0.97 * n
    classes = ak.to_numpy(lead.truthClass)
    assert np.mean(classes == ElectronClass.PROMPT) > 0.95
    assert set(np.unique(classes)) <= {ElectronClass.PROMPT, ElectronClass.CHARGE_FLIP}
    ratio = ak.to_numpy(lead.pt * np.cosh(lead.clusterEta) / 40.0)
    assert abs(np.median(ratio) - 1.0) < 0.03
    # the best track is the electron's: same sign as the truth for non-flips
    ok = classes == ElectronClass.PROMPT
    assert np.all(ak.to_numpy(lead.charge)[ok] == ak.to_numpy(lead.truthCharge)[ok])


def test_charged_pions_are_light_flavour_hadrons():
    n = 400
    rng = np.random.default_rng(4)
    gun = particle_gun(
        211,
        np.full(n, 30.0),
        rng.uniform(-2.0, 2.0, n),
        rng.uniform(-3, 3, n),
        origin=Origin.HADRON,
    )
    cols = _run(gun)
    el = ak.flatten(cols["Electron"])
    assert len(el) > 0.3 * n  # pions deposit EM energy and fake electrons
    assert np.all(ak.to_numpy(el.truthClass) == ElectronClass.LIGHT_FLAVOUR_HADRON)
    assert np.all(ak.to_numpy(el.truthPdgId) == 211)


def test_prompt_photons_are_prompt_and_some_convert():
    n = 400
    rng = np.random.default_rng(5)
    gun = particle_gun(
        22,
        np.full(n, 50.0),
        rng.uniform(-2.3, 2.3, n),
        rng.uniform(-3, 3, n),
        origin=Origin.PROMPT_PHOTON,
    )
    cols = _run(gun)
    ph = ak.flatten(_leading(cols["Photon"]))
    assert len(ph) > 0.9 * n
    assert np.mean(ak.to_numpy(ph.isPrompt)) > 0.95
    conv = ak.to_numpy(ph.conversionType)
    assert 0.05 < np.mean(conv > 0) < 0.8
    # electrons made from prompt photons (conversions) are class 2
    el = ak.flatten(cols["Electron"])
    if len(el):
        assert np.mean(ak.to_numpy(el.truthClass) == ElectronClass.PHOTON_CONVERSION) > 0.8


def test_pi0_photons_are_not_prompt():
    n = 200
    rng = np.random.default_rng(6)
    gun = particle_gun(
        22,
        np.full(n, 30.0),
        rng.uniform(-1.0, 1.0, n),
        rng.uniform(-3, 3, n),
        origin=Origin.LIGHT_HADRON_DECAY,
    )
    cols = _run(gun)
    ph = ak.flatten(cols["Photon"])
    assert len(ph) > 0.8 * n
    assert not np.any(ak.to_numpy(ph.isPrompt))


def test_events_without_particles_and_data_like_without_truth():
    n = 3
    empty = ParticleBatch.empty(n)
    cols, _ = simulate_events(
        empty, _vertices(n), DetectorConfig.data_like(), np.random.default_rng(1), with_truth=False
    )
    assert ak.num(cols["Electron"]).tolist() == [0, 0, 0]
    assert ak.num(cols["CaloCell"]).tolist() == [0, 0, 0]
    assert "truthClass" not in cols["Electron"].fields
    assert "isPrompt" not in cols["Photon"].fields
    assert "genPartIdx" not in cols["Track"].fields


def test_cells_are_unique_and_above_threshold():
    n = 50
    rng = np.random.default_rng(8)
    gun = particle_gun(11, np.full(n, 25.0), rng.uniform(-2.4, 2.4, n), rng.uniform(-3, 3, n))
    cfg = DetectorConfig.mc()
    cols = _run(gun)
    cells = cols["CaloCell"]
    for ev in range(n):
        ids = g.cell_ids(
            ak.to_numpy(cells.sampling[ev]), ak.to_numpy(cells.eta[ev]), ak.to_numpy(cells.phi[ev])
        )
        assert len(np.unique(ids)) == len(ids)
    sigma = cfg.noise_gev[ak.to_numpy(ak.flatten(cells.sampling))]
    assert np.all(np.abs(ak.to_numpy(ak.flatten(cells.energy))) > 2.0 * sigma * 0.999)


DATA = Path(__file__).parent / "data"
SHIPPED = (DATA / "zee_mc.root", DATA / "zee_datalike.root")  # see tests/data/README.md


def test_shipped_files_read_with_coffea():
    mc, data = SHIPPED
    events = open_events(mc)
    assert len(events) == 40
    el = events.Electron
    assert ak.all(ak.flatten(el.track.pt) > 0)
    assert ak.all(ak.flatten(el.trackIdx >= 0))
    classes = ak.to_numpy(ak.flatten(el.truthClass))
    assert set(np.unique(classes)) <= set(range(6))
    assert np.mean(classes == ElectronClass.PROMPT) > 0.3
    assert ak.all(events.Pileup.nTrueInt > 0)
    meta = json.loads(str(uproot.open(mc)["egamma_cnn_metadata"]))
    assert meta["process"] == "zee" and meta["is_data"] is False and meta["n_events"] == 40
    devents = open_events(data)
    assert "GenPart" not in devents.fields
    assert "truthClass" not in devents.Electron.fields
    assert "genWeight" not in devents.fields
    assert "genPartIdx" not in devents.Track.fields
    dmeta = json.loads(str(uproot.open(data)["egamma_cnn_metadata"]))
    assert dmeta["is_data"] is True and dmeta["detector"]["name"] == "data-like"


def test_determinism_for_a_seed_and_any_worker_count(tmp_path):
    pytest.importorskip("pythia8mc")
    n = BLOCK_SIZE + 5  # two blocks
    a, b, c = tmp_path / "a.root", tmp_path / "b.root", tmp_path / "c.root"
    produce(ProductionConfig("zee", n, seed=21), a, workers=1, progress=False)
    produce(ProductionConfig("zee", n, seed=21), b, workers=2, progress=False)
    produce(ProductionConfig("zee", 5, seed=22), c, workers=1, progress=False)
    ta, tb = uproot.open(a)["Events"].arrays(), uproot.open(b)["Events"].arrays()
    assert ta.fields == tb.fields
    for field in ta.fields:
        assert ak.to_list(ta[field]) == ak.to_list(tb[field]), field
    tc = uproot.open(c)["Events"].arrays()
    assert ak.to_list(tc.Electron_pt) != ak.to_list(ta.Electron_pt[:5])
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
