"""The CMS-format test files of ``tests/cms_files.py`` are the real formats.

NanoAOD v12 types expected here are those of the public NanoAOD v12 skim
``tests/samples/DYto2E.root`` of ikrommyd/egamma-tnp and of CMSSW 13_0_X
(``CandMCMatchTableProducer.cc``, ``genparticles_cff.py``, cms-sw/cmssw PR #40478);
flat-ntuple types those of egamma-tnp's ``TnPNTuples_el.root`` (EgammaAnalysis-TnPTreeProducer).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import uproot
from cms_files import (
    ELECTRON_MASS,
    write_nanoaod,
    write_tnp_ntuple,
    z_to_ee_event,
)
from coffea.nanoevents import BaseSchema, NanoAODSchema, NanoEventsFactory

#: Branch -> uproot typename in CMS NanoAOD v12 (written out by hand from the sources).
NANOAOD_V12_TYPENAMES = {
    "run": "uint32_t",
    "luminosityBlock": "uint32_t",
    "event": "uint64_t",
    "PV_npvs": "uint8_t",
    "genWeight": "float",
    "Pileup_nTrueInt": "float",
    "nElectron": "int32_t",
    "Electron_pt": "float[]",
    "Electron_eta": "float[]",
    "Electron_phi": "float[]",
    "Electron_mass": "float[]",
    "Electron_charge": "int32_t[]",
    "Electron_pdgId": "int32_t[]",
    "Electron_deltaEtaSC": "float[]",
    "Electron_cutBased": "uint8_t[]",
    "Electron_mvaIso_WP80": "bool[]",
    "Electron_mvaIso_WP90": "bool[]",
    "Electron_photonIdx": "int16_t[]",
    "Electron_genPartIdx": "int16_t[]",
    "Electron_genPartFlav": "uint8_t[]",
    "nPhoton": "int32_t",
    "Photon_pt": "float[]",
    "Photon_eta": "float[]",
    "Photon_phi": "float[]",
    "Photon_cutBased": "uint8_t[]",
    "Photon_mvaID_WP80": "bool[]",
    "Photon_mvaID_WP90": "bool[]",
    "Photon_electronIdx": "int16_t[]",
    "Photon_pixelSeed": "bool[]",
    "Photon_electronVeto": "bool[]",
    "Photon_isScEtaEB": "bool[]",
    "Photon_isScEtaEE": "bool[]",
    "Photon_genPartIdx": "int16_t[]",
    "Photon_genPartFlav": "uint8_t[]",
    "nTrigObj": "int32_t",
    "TrigObj_pt": "float[]",
    "TrigObj_eta": "float[]",
    "TrigObj_phi": "float[]",
    "TrigObj_id": "uint16_t[]",
    "TrigObj_filterBits": "int32_t[]",
    "TrigObj_l1pt": "float[]",
    "TrigObj_l1charge": "int16_t[]",
    "nGenPart": "int32_t",
    "GenPart_pt": "float[]",
    "GenPart_eta": "float[]",
    "GenPart_phi": "float[]",
    "GenPart_mass": "float[]",
    "GenPart_pdgId": "int32_t[]",
    "GenPart_status": "int32_t[]",
    "GenPart_statusFlags": "uint16_t[]",
    "GenPart_genPartIdxMother": "int16_t[]",
    "HLT_Ele30_WPTight_Gsf": "bool",
    "HLT_Ele32_WPTight_Gsf": "bool",
    "HLT_Ele35_WPTight_Gsf": "bool",
}
TRUTH_BRANCHES = {
    "genWeight",
    "Pileup_nTrueInt",
    "Pileup_nPU",
    "Electron_genPartIdx",
    "Electron_genPartFlav",
    "Photon_genPartIdx",
    "Photon_genPartFlav",
}

TAG = (40.0, 0.5, 0.25)
PROBE = (35.0, -1.25, 2.875)


def _mass_by_formula(first, second, mass=ELECTRON_MASS):
    """m² = m1² + m2² + 2 (E1 E2 − p1·p2), p = (p_T cos φ, p_T sin φ, p_T sinh η),
    from the float32 values the file stores, in double precision."""
    vectors = []
    for pt, eta, phi in (first, second):
        pt, eta, phi = (float(np.float32(x)) for x in (pt, eta, phi))
        p = (pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta))
        vectors.append((math.sqrt(sum(c * c for c in p) + mass * mass), p))
    (e1, p1), (e2, p2) = vectors
    dot = sum(a * b for a, b in zip(p1, p2, strict=True))
    return math.sqrt(2 * mass * mass + 2 * (e1 * e2 - dot))


def _open(path, mode="eager"):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Missing cross-reference index")
        factory = NanoEventsFactory.from_root(
            {str(path): "Events"}, schemaclass=NanoAODSchema, mode=mode
        )
        return factory.events()


@pytest.fixture
def mc_file(tmp_path):
    events = [
        z_to_ee_event(
            TAG,
            PROBE,
            probe_filter_bits=2,
            probe_trigger_pt=33.0,
            with_gen=True,
            extra={"genWeight": 2.5, "event": 1001},
        ),
        z_to_ee_event(
            (50.0, 1.0, -1.0),
            (30.0, 2.0, 2.0),
            tag_fields={"cutBased": 2, "deltaEtaSC": 0.125},
            hlt={"Ele35_WPTight_Gsf": True},
            with_gen=True,
            extra={"Photon": [{"pt": 30.0, "eta": 2.0, "phi": 2.0, "electronIdx": 1}]},
        ),
        {"HLT": {}},
    ]
    return write_nanoaod(tmp_path / "nano_mc.root", events)


def test_nanoaod_branches_have_v12_types(mc_file):
    tree = uproot.open(mc_file)["Events"]
    typenames = {name: tree[name].typename for name in tree.keys()}
    wrong = {
        name: (typenames.get(name), expected)
        for name, expected in NANOAOD_V12_TYPENAMES.items()
        if typenames.get(name) != expected
    }
    assert wrong == {}
    assert "Photon_mass" not in typenames  # v12 stores no photon mass
    assert tree["Electron_pt"].title == "Electron_pt[nElectron]/F"


def test_nanoaod_opens_eagerly_with_cross_references(mc_file):
    events = _open(mc_file)
    assert events.event.tolist() == [1001, 2, 3]
    assert events.Electron.charge.tolist() == [[-1, 1], [-1, 1], []]
    assert events.Electron.pdgId.tolist() == [[11, -11], [11, -11], []]
    assert events.Electron.matched_gen.pdgId.tolist() == [[11, -11], [11, -11], []]
    assert events.Electron.matched_gen.distinctParent.pdgId.tolist() == [[23, 23], [23, 23], []]
    assert events.Electron.cutBased.tolist() == [[4, 4], [2, 4], []]
    assert events.Electron.deltaEtaSC.tolist() == [[0.0, 0.0], [0.125, 0.0], []]
    # HLT: a path named in any event is a branch of every event, False where not given.
    assert events.HLT.Ele30_WPTight_Gsf.tolist() == [True, False, False]
    assert events.HLT.Ele32_WPTight_Gsf.tolist() == [True, False, False]
    assert events.HLT.Ele35_WPTight_Gsf.tolist() == [False, True, False]
    assert events.TrigObj.filterBits.tolist() == [[2, 2], [2], []]
    assert events.TrigObj.pt.tolist() == [[40.0, 33.0], [50.0], []]
    assert events.TrigObj.id.tolist() == [[11, 11], [11], []]
    assert events.genWeight.tolist() == [2.5, 1.0, 1.0]
    photon = events.Photon
    assert photon.pt.tolist() == [[], [30.0], []]
    assert photon.mass.tolist() == [[], [0.0], []]
    assert photon.isScEtaEE.tolist() == [[], [True], []]
    assert photon.matched_electron.pt.tolist() == [[], [30.0], []]


def test_nanoaod_opens_with_dask(mc_file):
    events = _open(mc_file, mode="dask")
    computed = events.Electron.pt.compute().tolist()
    assert computed == [[40.0, 35.0], [50.0, 30.0], []]
    assert events.HLT.Ele32_WPTight_Gsf.compute().tolist() == [True, False, False]


def test_z_to_ee_mass_is_the_formula(mc_file):
    events = _open(mc_file)
    pairs = events.Electron[:2]
    masses = (pairs[:, 0] + pairs[:, 1]).mass.tolist()
    expected = [_mass_by_formula(TAG, PROBE), _mass_by_formula((50.0, 1.0, -1.0), (30.0, 2.0, 2.0))]
    assert masses == pytest.approx(expected, rel=1e-6)
    # The generator Z carries the same mass (written in double, stored as float32).
    z_mass = events.GenPart[:2, 0].mass.tolist()
    assert z_mass == pytest.approx(expected, rel=1e-6)


def test_data_file_has_no_truth_branches(tmp_path):
    path = write_nanoaod(
        tmp_path / "nano_data.root",
        [z_to_ee_event(TAG, PROBE, extra={"run": 362695})],
        is_data=True,
    )
    names = set(uproot.open(path)["Events"].keys())
    assert names & TRUTH_BRANCHES == set()
    assert not any(name.startswith(("GenPart", "nGenPart")) for name in names)
    events = _open(path)
    assert "GenPart" not in events.fields
    assert events.run.tolist() == [362695]
    assert events.Electron.pt.tolist() == [[40.0, 35.0]]


def test_data_file_refuses_truth(tmp_path):
    with pytest.raises(ValueError, match="GenPart"):
        write_nanoaod(tmp_path / "x.root", [z_to_ee_event(TAG, PROBE, with_gen=True)], is_data=True)
    with pytest.raises(ValueError, match="genWeight"):
        write_nanoaod(tmp_path / "x.root", [{"genWeight": 1.0}], is_data=True)


def test_unknown_or_missing_fields_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"Electron\[0\].*'ptt'"):
        write_nanoaod(tmp_path / "x.root", [{"Electron": [{"ptt": 1.0, "eta": 0, "phi": 0}]}])
    with pytest.raises(ValueError, match=r"event 0, TrigObj\[0\]: field 'phi' is required"):
        write_nanoaod(tmp_path / "x.root", [{"TrigObj": [{"pt": 1.0, "eta": 0.0}]}])
    with pytest.raises(ValueError, match="without the HLT_ prefix"):
        write_nanoaod(tmp_path / "x.root", [{"HLT": {"HLT_Ele32_WPTight_Gsf": True}}])


ROWS = [
    {
        "tag_Ele_pt": 40.0,
        "tag_Ele_eta": 0.5,
        "tag_Ele_phi": 0.25,
        "tag_sc_eta": 0.5078125,
        "el_pt": 35.0,
        "el_eta": -1.25,
        "el_phi": 2.875,
        "el_sc_eta": -1.265625,
        "passingCutBasedTight122XV1": 1,
        "passHltEle32WPTightGsf": 1,
        "mcTrue": 1,
        "totWeight": 0.75,
    },
    {
        "tag_Ele_pt": 50.0,
        "tag_Ele_eta": -2.0,
        "tag_Ele_phi": 1.0,
        "tag_Ele_q": 1.0,
        "el_pt": 28.0,
        "el_eta": 1.5,
        "el_phi": -2.0,
        "pair_mass": 88.5,
        "passingCutBasedTight122XV1": 0,
        "mcTrue": 0,
    },
]


def test_ntuple_has_cms_names_and_types(tmp_path):
    path = write_tnp_ntuple(tmp_path / "tnp.root", ROWS)
    file = uproot.open(path)
    assert file.classnames()["tnpEleIDs/fitter_tree;1"] == "TTree"
    tree = file["tnpEleIDs/fitter_tree"]
    typenames = {name: tree[name].typename for name in tree.keys()}
    expected = {
        "el_pt": "float",
        "el_eta": "float",
        "el_phi": "float",
        "el_sc_eta": "float",
        "el_q": "float",
        "tag_Ele_pt": "float",
        "tag_Ele_eta": "float",
        "tag_sc_eta": "float",
        "tag_Ele_q": "float",
        "pair_mass": "float",
        "run": "uint32_t",
        "lumi": "uint32_t",
        "event": "uint64_t",
        "truePU": "int32_t",
        "mcTrue": "int32_t",
        "totWeight": "float",
        "passingCutBasedTight122XV1": "int32_t",
        "passHltEle32WPTightGsf": "int32_t",
    }
    assert {name: typenames.get(name) for name in expected} == expected
    values = tree.arrays(library="np")
    assert values["passHltEle32WPTightGsf"].tolist() == [1, 0]  # absent flag = 0
    assert values["el_q"].tolist() == [1.0, -1.0]  # opposite to tag_Ele_q (default -1)
    assert values["el_sc_abseta"].tolist() == [1.265625, 1.5]
    assert values["pair_mass"][1] == np.float32(88.5)
    expected_mass = math.sqrt(2 * 40.0 * 35.0 * (math.cosh(0.5 + 1.25) - math.cos(0.25 - 2.875)))
    assert values["pair_mass"][0] == pytest.approx(expected_mass, rel=1e-6)
    assert values["totWeight"].tolist() == [0.75, 1.0]


def test_ntuple_opens_with_coffea_base_schema(tmp_path):
    path = write_tnp_ntuple(tmp_path / "trig.root", ROWS, directory="tnpEleTrig")
    events = NanoEventsFactory.from_root(
        {str(path): "tnpEleTrig/fitter_tree"}, schemaclass=BaseSchema, mode="eager"
    ).events()
    assert events.tag_Ele_pt.tolist() == [40.0, 50.0]
    assert events.passingCutBasedTight122XV1.tolist() == [1, 0]


def test_photon_ntuple_and_data_ntuple(tmp_path):
    row = {
        "tag_Ele_pt": 40.0,
        "tag_Ele_eta": 0.5,
        "tag_Ele_phi": 0.25,
        "ph_et": 30.0,
        "ph_eta": 1.0,
        "ph_phi": -2.0,
        "passingMVA122XV1wp80": 1,
    }
    path = write_tnp_ntuple(tmp_path / "pho.root", [row], directory="tnpPhoIDs", is_data=True)
    tree = uproot.open(path)["tnpPhoIDs/fitter_tree"]
    names = set(tree.keys())
    assert {"ph_et", "ph_sc_eta", "ph_pt", "passingMVA122XV1wp80"} <= names
    assert not names & {"mcTrue", "totWeight", "el_pt"}
    with pytest.raises(ValueError, match="'mcTrue'"):
        write_tnp_ntuple(
            tmp_path / "x.root", [row | {"mcTrue": 1}], directory="tnpPhoIDs", is_data=True
        )
    with pytest.raises(ValueError, match="unknown branch 'el_pt'"):
        write_tnp_ntuple(tmp_path / "x.root", [row | {"el_pt": 1.0}], directory="tnpPhoIDs")
    with pytest.raises(ValueError, match="0 or 1"):
        write_tnp_ntuple(
            tmp_path / "x.root", [row | {"passingMVA122XV1wp80": 2}], directory="tnpPhoIDs"
        )
