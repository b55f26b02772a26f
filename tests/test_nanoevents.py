"""Tests of :mod:`egamma_cnn.nanoevents`: the schema, the cross-references and behaviours.

Two tiny files are written with uproot in the format of SPEC.md ("Sample files"): a
simulated one with truth branches and a data-like one without. Every cross-reference is
checked against the value it must point to, computed here from the lists the files were
written from, and the dask results are compared field by field with the eager ones.
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import dask
import dask_awkward  # noqa: F401 - registers the "awkward" dask config defaults
import numpy as np
import pytest
import uproot
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from egamma_cnn.nanoevents import EGammaSchema, open_events

ELECTRON_MASS = 0.000511

# ---------------------------------------------------------------------------------------
# The branches of a sample file (SPEC.md); name -> dtype. Truth branches are MC only.
# ---------------------------------------------------------------------------------------

TRACK = {
    "pt": "f4",
    "eta": "f4",
    "phi": "f4",
    "charge": "i1",
    "d0": "f4",
    "d0Err": "f4",
    "z0": "f4",
    "z0Err": "f4",
    "chi2": "f4",
    "ndof": "i2",
    "nBLayerHits": "i2",
    "nPixelHits": "i2",
    "nSCTHits": "i2",
    "nTRTHits": "i2",
    "nTRTHTHits": "i2",
    "eProbabilityHT": "f4",
    "deltaPOverP": "f4",
    "etaCalo": "f4",
    "phiCalo": "f4",
    "vtxIdx": "i2",
    "isTRTStandalone": "?",
}
TRACK_MC = {"genPartIdx": "i4"}
ELECTRON = {
    "pt": "f4",
    "eta": "f4",
    "phi": "f4",
    "mass": "f4",
    "charge": "i1",
    "clusterEta": "f4",
    "clusterPhi": "f4",
    "clusterE": "f4",
    "trackIdx": "i4",
    "trackIdx1": "i4",
    "trackIdx2": "i4",
    "trackIdx3": "i4",
    "trackIdx4": "i4",
    "trackIdx5": "i4",
    "nTracks": "i2",
    "photonIdx": "i4",
    "deltaEta1": "f4",
    "deltaPhiRescaled2": "f4",
}
ELECTRON_MC = {
    "truthClass": "i1",
    "truthPt": "f4",
    "truthEta": "f4",
    "truthPhi": "f4",
    "truthPdgId": "i4",
    "truthCharge": "i1",
    "genPartIdx": "i4",
}
PHOTON = {
    "pt": "f4",
    "eta": "f4",
    "phi": "f4",
    "mass": "f4",
    "clusterEta": "f4",
    "clusterPhi": "f4",
    "clusterE": "f4",
    "conversionType": "i1",
    "conversionRadius": "f4",
    "trackIdx1": "i4",
    "trackIdx2": "i4",
    "electronIdx": "i4",
}
PHOTON_MC = {
    "isPrompt": "?",
    "truthPt": "f4",
    "truthEta": "f4",
    "truthPhi": "f4",
    "truthPdgId": "i4",
    "genPartIdx": "i4",
}
CALOCELL = {"eta": "f4", "phi": "f4", "energy": "f4", "sampling": "i2"}
GENPART = {
    "pt": "f4",
    "eta": "f4",
    "phi": "f4",
    "mass": "f4",
    "pdgId": "i4",
    "status": "i4",
    "genPartIdxMother": "i4",
}

# Index defaults: "no link" is -1, everything else 0.
_MINUS_ONE = {"trackIdx", "photonIdx", "electronIdx", "genPartIdx", "genPartIdxMother"} | {
    f"trackIdx{i}" for i in range(1, 6)
}


def _e(pt: float, eta: float, phi: float, tracks: list[int], **kw: Any) -> dict[str, Any]:
    """An electron row: ``tracks`` are the matched-track indices in ΔR order."""
    row = {"pt": pt, "eta": eta, "phi": phi, "mass": ELECTRON_MASS, "charge": -1}
    row.update({f"trackIdx{i + 1}": t for i, t in enumerate(tracks)})
    row["nTracks"] = len(tracks)
    row["trackIdx"] = tracks[0] if tracks else -1
    row.update(kw)
    return row


#: Per event: lists of rows (dicts); missing fields take the defaults above.
EVENTS: list[dict[str, list[dict[str, Any]]]] = [
    {  # event 0: two electrons (3 and 0 matched tracks), a converted photon
        "Track": [
            {"pt": 10.0, "eta": 0.52, "phi": 0.11, "charge": -1, "genPartIdx": 2},
            {"pt": 38.0, "eta": 0.50, "phi": 0.10, "charge": -1, "genPartIdx": 2},
            {"pt": 5.0, "eta": 1.20, "phi": -2.0, "charge": 1, "genPartIdx": -1},
            {"pt": 12.0, "eta": 0.49, "phi": 0.12, "charge": 1, "genPartIdx": 1},
        ],
        "Electron": [
            _e(40.0, 0.5, 0.1, [1, 3, 0], charge=-1, photonIdx=0, genPartIdx=2, truthClass=0),
            _e(30.0, -0.3, 2.5, [], charge=1, truthClass=5),
        ],
        "Photon": [
            {
                "pt": 41.0,
                "eta": 0.5,
                "phi": 0.1,
                "conversionType": 2,
                "conversionRadius": 300.0,
                "trackIdx1": 3,
                "trackIdx2": 2,
                "electronIdx": 0,
                "genPartIdx": 1,
                "isPrompt": True,
            },
        ],
        "CaloCell": [
            {"eta": 0.5, "phi": 0.1, "energy": 20.0, "sampling": 2},
            {"eta": 0.5125, "phi": 0.1, "energy": 5.0, "sampling": 1},
            {"eta": -0.3, "phi": 2.5, "energy": 3.0, "sampling": 12},
        ],
        "GenPart": [
            {"pt": 90.0, "pdgId": 23, "status": 62},
            {"pt": 42.0, "eta": 0.5, "pdgId": 22, "status": 1, "genPartIdxMother": 0},
            {
                "pt": 41.0,
                "eta": 0.5,
                "phi": 0.1,
                "pdgId": 11,
                "status": 1,
                "genPartIdxMother": 0,
                "mass": ELECTRON_MASS,
            },
        ],
    },
    {  # event 1: no electrons, no cells, no tracks; one unconverted photon
        "Track": [],
        "Electron": [],
        "Photon": [{"pt": 25.0, "eta": -1.0, "phi": -1.0, "conversionRadius": -1.0}],
        "CaloCell": [],
        "GenPart": [{"pt": 25.0, "eta": -1.0, "phi": -1.0, "pdgId": 22, "status": 1}],
    },
    {  # event 2: one electron with one matched track (index 0 of *this* event)
        "Track": [
            {"pt": 21.0, "eta": -1.1, "phi": 3.0, "charge": 1, "genPartIdx": 0},
            {"pt": 2.0, "eta": 2.0, "phi": 0.0, "charge": -1, "genPartIdx": -1},
        ],
        "Electron": [_e(22.0, -1.1, 3.0, [0], charge=1, genPartIdx=0, truthClass=1)],
        "Photon": [],
        "CaloCell": [
            {"eta": -1.1, "phi": 3.0, "energy": 30.0, "sampling": 2},
            {"eta": -1.1, "phi": 3.0, "energy": 1.0, "sampling": 20},
        ],
        "GenPart": [
            {"pt": 22.0, "eta": -1.1, "phi": 3.0, "pdgId": -11, "status": 1, "genPartIdxMother": 1},
            {"pt": 50.0, "pdgId": 24, "status": 62},
        ],
    },
]


def _collection(name: str, columns: dict[str, str]) -> ak.Array:
    """Zip the rows of collection ``name`` of all EVENTS into a jagged record array."""
    counts = [len(ev[name]) for ev in EVENTS]
    rows = [row for ev in EVENTS for row in ev[name]]
    return ak.zip(
        {
            field: ak.unflatten(
                np.array(
                    [row.get(field, -1 if field in _MINUS_ONE else 0) for row in rows],
                    dtype=dtype,
                ),
                counts,
            )
            for field, dtype in columns.items()
        }
    )


def _write(path: Path, *, mc: bool) -> Path:
    n = len(EVENTS)
    tree: dict[str, Any] = {
        "run": np.full(n, 1, np.uint32),
        "luminosityBlock": np.full(n, 7, np.uint32),
        "event": np.arange(100, 100 + n, dtype=np.uint64),
        "Pileup_nTrueInt": np.array([40.5, 51.0, 62.2], np.float32),
        "Pileup_nPU": np.array([40, 51, 62], np.int32),
        "PV_z": np.array([1.0, -3.0, 12.0], np.float32),
        "PV_npvs": np.array([30, 41, 50], np.int32),
        "CaloCell": _collection("CaloCell", CALOCELL),
        "Track": _collection("Track", TRACK | (TRACK_MC if mc else {})),
        "Electron": _collection("Electron", ELECTRON | (ELECTRON_MC if mc else {})),
        "Photon": _collection("Photon", PHOTON | (PHOTON_MC if mc else {})),
    }
    if mc:
        tree["genWeight"] = np.array([1.0, 0.5, -1.0], np.float32)
        tree["GenPart"] = _collection("GenPart", GENPART)
    with uproot.recreate(path) as f:
        f.mktree("Events", tree)
        f["egamma_cnn_metadata"] = json.dumps({"isData": not mc, "generator": "test"})
    return path


@pytest.fixture(scope="module")
def mc_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("nano") / "mc.root", mc=True)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("nano") / "data.root", mc=False)


@pytest.fixture(scope="module")
def mc_events(mc_file: Path) -> ak.Array:
    return NanoEventsFactory.from_root(
        {str(mc_file): "Events"}, schemaclass=EGammaSchema, mode="eager"
    ).events()


def _expected(collection: str, link: str, target: str, field: str) -> list[list[Any]]:
    """``target[field]`` at the local index ``link`` of each row, from the EVENTS lists."""
    return [
        [ev[target][row[link]][field] if row.get(link, -1) >= 0 else None for row in ev[collection]]
        for ev in EVENTS
    ]


def _approx(values: Any) -> Any:
    return pytest.approx(values, rel=1e-6)


# ---------------------------------------------------------------------------------------
# Cross-references
# ---------------------------------------------------------------------------------------


def test_collections_and_event_fields(mc_events: ak.Array) -> None:
    for name in ("Electron", "Photon", "Track", "CaloCell", "GenPart", "Pileup", "PV"):
        assert name in mc_events.fields
    assert ak.to_list(mc_events.event) == [100, 101, 102]
    assert ak.to_list(ak.num(mc_events.Electron)) == [2, 0, 1]
    assert ak.to_list(ak.num(mc_events.CaloCell)) == [3, 0, 2]
    assert ak.to_list(mc_events.Pileup.nTrueInt) == _approx([40.5, 51.0, 62.2])
    assert ak.to_list(mc_events.PV.npvs) == [30, 41, 50]


def test_electron_best_track(mc_events: ak.Array) -> None:
    got = ak.to_list(mc_events.Electron.track.pt)
    want = _expected("Electron", "trackIdx", "Track", "pt")
    assert want == [[38.0, None], [], [21.0]]
    assert got == want


def test_electron_matched_tracks_order_and_length(mc_events: ak.Array) -> None:
    matched = mc_events.Electron.matched_tracks
    assert ak.to_list(ak.num(matched, axis=2)) == [[3, 0], [], [1]]
    assert ak.to_list(ak.num(matched, axis=2)) == ak.to_list(
        np.minimum(mc_events.Electron.nTracks, 5)
    )
    # slot order (ΔR order) is kept: tracks 1, 3, 0 of event 0, track 0 of event 2
    assert ak.to_list(matched.pt) == [[[38.0, 12.0, 10.0], []], [], [[21.0]]]
    assert ak.to_list(matched.charge) == [[[-1, 1, -1], []], [], [[1]]]
    assert not ak.any(ak.is_none(matched.pt, axis=2))  # empty slots removed, not None


def test_photon_tracks_and_links(mc_events: ak.Array) -> None:
    assert ak.to_list(mc_events.Photon.tracks.pt) == [[[12.0, 5.0]], [[]], []]
    assert ak.to_list(mc_events.Photon.isConverted) == [[True], [False], []]
    assert ak.to_list(mc_events.Photon.electron.pt) == _expected(
        "Photon", "electronIdx", "Electron", "pt"
    )
    assert ak.to_list(mc_events.Electron.photon.pt) == [[41.0, None], [], [None]]
    # the round trip electron -> photon -> electron comes back to the same electron
    back = mc_events.Electron.photon.electron.pt
    assert ak.to_list(back) == [[40.0, None], [], [None]]
    # coffea NanoAOD aliases
    assert ak.to_list(mc_events.Electron.matched_photon.pt) == ak.to_list(
        mc_events.Electron.photon.pt
    )


def test_truth_links(mc_events: ak.Array) -> None:
    assert ak.to_list(mc_events.Track.genPart.pdgId) == _expected(
        "Track", "genPartIdx", "GenPart", "pdgId"
    )
    assert ak.to_list(mc_events.Electron.genPart.pdgId) == [[11, None], [], [-11]]
    assert ak.to_list(mc_events.Photon.genPart.pdgId) == [[22], [None], []]
    assert ak.to_list(mc_events.Electron.matched_gen.pdgId) == [[11, None], [], [-11]]
    assert ak.to_list(mc_events.GenPart.parent.pdgId) == [[None, 23, 23], [None], [24, None]]
    assert ak.to_list(mc_events.Electron.truthClass) == [[0, 5], [], [1]]
    with pytest.raises(AttributeError, match="statusFlags"):
        mc_events.GenPart.hasFlags("isPrompt")


def test_links_survive_slicing_and_selection(mc_events: ak.Array) -> None:
    # global indices: after dropping event 0, event 2's electron still finds its own track
    assert ak.to_list(mc_events[1:].Electron.track.pt) == [[], [21.0]]
    assert ak.to_list(mc_events[2].Electron.matched_tracks.pt) == [[21.0]]
    hard = mc_events.Electron[mc_events.Electron.pt > 35.0]
    assert ak.to_list(hard.matched_tracks.pt) == [[[38.0, 12.0, 10.0]], [], []]
    one = mc_events.Electron[0, 0]
    assert ak.to_list(one.matched_tracks.pt) == [38.0, 12.0, 10.0]


def _jagged(lists: list[list[Any]], dtype: type) -> ak.Array:
    """A jagged array of ``dtype`` (also when every list is empty)."""
    flat = np.array([x for sub in lists for x in sub], dtype=dtype)
    return ak.unflatten(flat, [len(sub) for sub in lists])


@st.composite
def _random_events(draw: st.DrawFn) -> list[tuple[int, list[list[int]]]]:
    """Events as (number of tracks, matched-track lists of the electrons in ΔR order)."""
    events = []
    for _ in range(draw(st.integers(1, 5))):
        n_tracks = draw(st.integers(0, 7))
        electrons = [
            draw(st.permutations(range(n_tracks)).map(lambda p, k=k: list(p[:k])))
            for k in draw(st.lists(st.integers(0, min(n_tracks, 5)), max_size=3))
        ]
        events.append((n_tracks, electrons))
    return events


@settings(max_examples=15, deadline=None)
@given(_random_events())
def test_matched_tracks_property(events: list[tuple[int, list[list[int]]]]) -> None:
    # a track's pt encodes (event, index), so every resolved link can be traced back
    track_pt = [[100.0 * ev + i for i in range(n)] for ev, (n, _) in enumerate(events)]
    slots = [[m + [-1] * (5 - len(m)) for m in electrons] for _, electrons in events]
    n_electrons = [len(electrons) for _, electrons in events]
    electron = {f"trackIdx{i + 1}": [[s[i] for s in ev] for ev in slots] for i in range(5)}
    electron["trackIdx"] = [[s[0] for s in ev] for ev in slots]
    for field, value in (("pt", 10.0), ("eta", 0.0), ("phi", 0.0), ("mass", ELECTRON_MASS)):
        electron[field] = [[value] * n for n in n_electrons]
    electron["charge"] = [[-1] * n for n in n_electrons]
    zeros = [[0.0] * n for n, _ in events]
    columns = {
        "run": np.ones(len(events), np.uint32),
        "luminosityBlock": np.ones(len(events), np.uint32),
        "event": np.arange(len(events), dtype=np.uint64),
        "Track": ak.zip(
            {
                k: _jagged(v, np.float32)
                for k, v in (("pt", track_pt), ("eta", zeros), ("phi", zeros), ("charge", zeros))
            }
        ),
        "Electron": ak.zip(
            {k: _jagged(v, np.int32 if "Idx" in k else np.float32) for k, v in electron.items()}
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.root"
        with uproot.recreate(path) as f:
            f.mktree("Events", columns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # no Photon/GenPart here
            got = open_events(path)
        want = [[[100.0 * ev + t for t in m] for m in es] for ev, (_, es) in enumerate(events)]
        assert ak.to_list(got.Electron.matched_tracks.pt) == want
        best = [[m[0] if m else None for m in ms] for ms in want]
        assert ak.to_list(got.Electron.track.pt) == best


# ---------------------------------------------------------------------------------------
# Behaviours
# ---------------------------------------------------------------------------------------


def _p4(pt: float, eta: float, phi: float, mass: float) -> np.ndarray:
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return np.array([math.sqrt(px**2 + py**2 + pz**2 + mass**2), px, py, pz])


def test_four_vector_sum_of_two_electrons(mc_events: ak.Array) -> None:
    e1, e2 = mc_events.Electron[0, 0], mc_events.Electron[0, 1]
    total = _p4(40.0, 0.5, 0.1, ELECTRON_MASS) + _p4(30.0, -0.3, 2.5, ELECTRON_MASS)
    mass = math.sqrt(total[0] ** 2 - total[1] ** 2 - total[2] ** 2 - total[3] ** 2)
    # massless check of the hand value: m² ≈ 2 pT1 pT2 (cosh Δη − cos Δφ)
    assert mass == pytest.approx(
        math.sqrt(2 * 40.0 * 30.0 * (math.cosh(0.8) - math.cos(2.4))), rel=1e-6
    )
    pair = e1 + e2
    assert pair.mass == pytest.approx(mass, rel=1e-5)
    assert pair.charge == 0
    pairs = ak.combinations(mc_events.Electron, 2, fields=["a", "b"])
    masses = (pairs.a + pairs.b).mass
    assert ak.to_list(ak.num(masses)) == [1, 0, 0]
    assert masses[0, 0] == pytest.approx(mass, rel=1e-5)
    assert e1.delta_r(mc_events.Photon[0, 0]) == pytest.approx(0.0, abs=1e-6)


def test_photon_and_track_are_candidates(mc_events: ak.Array) -> None:
    assert ak.to_list(mc_events.Photon.charge) == [[0.0], [0.0], []]
    assert ak.to_list(mc_events.Track.mass) == [[0.0] * 4, [], [0.0] * 2]
    trk = mc_events.Track[0, 1]
    assert trk.energy == pytest.approx(38.0 * math.cosh(0.5), rel=1e-6)
    gamma_e = mc_events.Photon[0, 0] + mc_events.Electron[0, 0]
    assert gamma_e.charge == -1


def test_calocell_behaviour(mc_events: ak.Array) -> None:
    cells = mc_events.CaloCell
    want = [[c["energy"] / math.cosh(c["eta"]) for c in ev["CaloCell"]] for ev in EVENTS]
    for got_ev, want_ev in zip(ak.to_list(cells.et), want, strict=True):
        assert got_ev == pytest.approx(want_ev, rel=1e-6)
    assert ak.to_list(cells.sampling_name) == [
        ["EMB2", "EMB1", "TileBar0"],
        [],
        ["EMB2", "TileExt2"],
    ]
    assert cells[2, 1].sampling_name == "TileExt2"
    assert cells[0, 2].et == pytest.approx(3.0 / math.cosh(-0.3), rel=1e-6)
    assert ak.to_list(cells.is_em) == [[True, True, False], [], [True, False]]
    assert ak.to_list(cells.is_hadronic) == [[False, False, True], [], [False, True]]
    assert ak.to_list(cells.is_strip) == [[False, True, False], [], [False, False]]


# ---------------------------------------------------------------------------------------
# Data files, dask, the convenience function
# ---------------------------------------------------------------------------------------


def test_data_file_has_no_truth(data_file: Path) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*cross-reference.*")
        events = open_events(data_file)
    assert "GenPart" not in events.fields
    assert "genWeight" not in events.fields
    truth = {"genPartIdx", "genPartIdxG", "truthClass", "truthPt", "isPrompt"}
    for name in ("Electron", "Photon", "Track"):
        assert not truth & set(events[name].fields), name
        assert not hasattr(events[name], "genPart")
    assert ak.to_list(events.Electron.matched_tracks.pt) == [[[38.0, 12.0, 10.0], []], [], [[21.0]]]
    assert ak.to_list(events.Photon.electron.pt) == [[40.0], [None], []]


def _observables(events: Any) -> dict[str, Any]:
    """Everything compared between eager and dask."""
    electrons = events.Electron
    pairs = ak.combinations(electrons, 2, fields=["a", "b"])
    return {
        "track_pt": electrons.track.pt,
        "matched_pt": electrons.matched_tracks.pt,
        "matched_d0": electrons.matched_tracks.d0,
        "photon_pt": electrons.photon.pt,
        "photon_tracks": events.Photon.tracks.eta,
        "photon_electron": events.Photon.electron.phi,
        "track_gen": events.Track.genPart.pdgId,
        "electron_gen": electrons.genPart.pt,
        "gen_parent": events.GenPart.parent.pdgId,
        "mee": (pairs.a + pairs.b).mass,
        "cell_et": events.CaloCell.et,
        "cell_name": events.CaloCell.sampling_name,
        "sliced": events[1:].Electron.track.pt,
        "selected": electrons[electrons.pt > 35.0].matched_tracks.pt,
    }


def _assert_same(computed: dict[str, Any], eager: dict[str, Any]) -> None:
    assert computed.keys() == eager.keys()
    for key, value in eager.items():
        assert ak.to_list(computed[key]) == ak.to_list(value), key


def test_dask_equals_eager(mc_file: Path, mc_events: ak.Array) -> None:
    lazy = open_events(mc_file, mode="dask")
    (computed,) = dask.compute(_observables(lazy))
    _assert_same(computed, _observables(mc_events))


def test_virtual_equals_eager(mc_file: Path, mc_events: ak.Array) -> None:
    _assert_same(_observables(open_events(mc_file, mode="virtual")), _observables(mc_events))


def test_dask_across_partitions(mc_file: Path, mc_events: ak.Array) -> None:
    # event 2 sits alone in the second partition: its local indices must resolve there
    source = {str(mc_file): {"object_path": "Events", "steps": [[0, 2], [2, 3]]}}
    lazy = NanoEventsFactory.from_root(source, schemaclass=EGammaSchema, mode="dask").events()
    assert lazy.npartitions == 2
    (computed,) = dask.compute(_observables(lazy))
    _assert_same(computed, _observables(mc_events))


def test_dask_data_file(data_file: Path) -> None:
    lazy = open_events(data_file, mode="dask")
    assert "GenPart" not in lazy.fields
    with pytest.raises(AttributeError):
        lazy.Electron.genPart  # noqa: B018
    assert ak.to_list(lazy.Electron.track.pt.compute()) == [[38.0, None], [], [21.0]]


def test_rntuple_input_is_rejected(tmp_path: Path) -> None:
    n = len(EVENTS)
    with uproot.recreate(tmp_path / "rntuple.root") as f:
        # uproot >= 5.7 writes an RNTuple on assignment; NanoAOD needs a TTree
        f["Events"] = {
            "run": np.ones(n, np.uint32),
            "luminosityBlock": np.ones(n, np.uint32),
            "event": np.arange(n, dtype=np.uint64),
            "Electron": _collection("Electron", ELECTRON),
        }
    with pytest.raises(ValueError, match="RNTuple"):
        open_events(tmp_path / "rntuple.root")


def test_schema_rejects_nanoaod_versions(mc_file: Path) -> None:
    with pytest.raises(ValueError, match="single format version"):
        NanoEventsFactory.from_root(
            {str(mc_file): "Events"}, schemaclass=EGammaSchema.v7, mode="eager"
        ).events()
    with pytest.raises(TypeError, match="EGammaSchema or a subclass"):
        open_events(mc_file, schemaclass=NanoAODSchema)
