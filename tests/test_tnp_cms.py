"""The tag-and-probe on CMS inputs (issue 18, "What it must show").

Real public CMS files (``tests/data/cms_*.root``, slimmed copies of egamma-tnp's test
samples; provenance in ``tests/data/CMS_FILES.md``) are measured through the command line
and compared with an independent count written here with plain uproot, numpy and awkward
(no egamma_cnn code): supercluster η, trigger-object matching (ΔR, |id|, p_T, filter
bits), HLT bits and m_ee from (p_T, η, φ, m). Every selection item of the issue also gets
a hand-known answer on a file written with ``tests/cms_files.py`` (the NanoAOD v12 branch
names and types).
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot
from cms_files import write_nanoaod, write_tnp_ntuple, z_to_ee_event
from coffea.nanoevents import BaseSchema, NanoAODSchema, NanoEventsFactory
from hist import loc as hist_loc

from egamma_cnn.cli import main
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.tnp.config import CMS_ET_EDGES, CMS_ETA_EDGES, TnPConfig
from egamma_cnn.tnp.pairs import tag_probe_pairs

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"
REAL_NANOAOD = DATA / "cms_nanoaod_v12_dyto2e.root"
REAL_NTUPLE = DATA / "cms_tnp_ntuple_el.root"
#: The WPTight single-electron filter bit of electron trigger objects (value 2), CMSSW
#: ``PhysicsTools/NanoAOD/python/triggerObjects_cff.py``.
WPTIGHT = 1 << 1


# -- helpers --------------------------------------------------------------------------


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def _fileset(tmp_path: Path, data: list[Path] = (), mc: list[Path] = (), tree="Events") -> Path:
    """A fileset JSON: one data and one simulation dataset (each if given)."""
    spec = {}
    if data:
        spec["data"] = {"files": {str(p): tree for p in data}, "metadata": {"is_data": True}}
    if mc:
        spec["mc"] = {"files": {str(p): tree for p in mc}, "metadata": {"is_data": False}}
    path = tmp_path / "fileset.json"
    path.write_text(json.dumps(spec))
    return path


def _tnp(fileset: Path, out: Path, *options: str) -> int:
    return _exit_code(["tnp", str(fileset), "--out-dir", str(out), "--workers", "0", *options])


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("egamma-cnn: error: ")
    return lines[0]


def _histogram_counts(path: Path, sample: str, probe_id_name: str) -> tuple[np.ndarray, ...]:
    """(pass, fail) of ``histograms.root``: the TH3 m_ee × E_T × η summed over the m_ee bins
    of the range (no flow), as [E_T, η] arrays; ``probe_id_name`` is the output name."""
    with uproot.open(path) as f:
        counts = []
        for side in ("pass", "fail"):
            values = f[f"{sample}_{probe_id_name}_{side}"].values()
            counts.append(values.sum(axis=0))
    return tuple(counts)


def _single_key(path: Path, sample: str) -> str:
    """The output name of the one probe ID in ``histograms.root``."""
    with uproot.open(path) as f:
        names = {key.rsplit(";", 1)[0] for key in f.keys()}
    ids = {n[len(sample) + 1 : -5] for n in names if n.startswith(sample) and n.endswith("_pass")}
    assert len(ids) == 1, names
    return ids.pop()


def _bin_counts(et, eta, passing, et_edges, eta_edges, open_last=True) -> tuple[np.ndarray, ...]:
    """(pass, fail) probe counts per [E_T, η] bin; the last E_T bin open."""
    et, eta, passing = (np.asarray(a) for a in (et, eta, passing))
    i = np.searchsorted(et_edges, et, side="right") - 1
    if open_last:
        i = np.where(et >= et_edges[-1], len(et_edges) - 2, i)
    j = np.searchsorted(eta_edges, eta, side="right") - 1
    inside = (i >= 0) & (i < len(et_edges) - 1) & (j >= 0) & (j < len(eta_edges) - 1)
    shape = (len(et_edges) - 1, len(eta_edges) - 1)
    out = []
    for side in (passing, ~passing):
        grid = np.zeros(shape)
        np.add.at(grid, (i[inside & side], j[inside & side]), 1.0)
        out.append(grid)
    return tuple(out)


def _delta_r2(eta1, phi1, eta2, phi2):
    """ΔR² = Δη² + Δφ², Δφ wrapped into [−π, π)."""
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return (eta1 - eta2) ** 2 + dphi**2


def _pair_mass(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2):
    """m² = (E₁+E₂)² − |p⃗₁+p⃗₂|², p⃗ = (p_T cos φ, p_T sin φ, p_T sinh η), E = √(p² + m²)."""
    total = [0.0, 0.0, 0.0, 0.0]
    for pt, eta, phi, m in ((pt1, eta1, phi1, m1), (pt2, eta2, phi2, m2)):
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        energy = np.sqrt(px**2 + py**2 + pz**2 + m**2)
        for k, value in enumerate((energy, px, py, pz)):
            total[k] = total[k] + value
    e, px, py, pz = total
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))


def _as64(array):
    return ak.values_astype(array, np.float64)


def _trigger_matched(eta, phi, objects, selected, dr=0.1):
    """Per candidate: an object of ``objects[selected]`` within ΔR < ``dr``."""
    chosen = objects[selected]
    left, right = ak.unzip(
        ak.cartesian(
            [ak.zip({"eta": eta, "phi": phi}), ak.zip({"eta": chosen.eta, "phi": chosen.phi})],
            nested=True,
        )
    )
    return ak.any(_delta_r2(left.eta, left.phi, right.eta, right.phi) < dr**2, axis=-1)


def _read_nanoaod(path: Path) -> dict[str, Any]:
    """Electrons, photons and trigger objects of a NanoAOD file with plain uproot (float64
    kinematics), and the event branches."""
    tree = uproot.open(path)["Events"]
    arrays = tree.arrays(
        [k for k in tree.keys() if k.startswith(("Electron_", "Photon_", "TrigObj_", "HLT_"))]
    )

    def collection(prefix):
        names = [f for f in arrays.fields if f.startswith(prefix + "_")]
        return ak.zip({n[len(prefix) + 1 :]: arrays[n] for n in names})

    return {
        "Electron": collection("Electron"),
        "Photon": collection("Photon"),
        "TrigObj": collection("TrigObj"),
        "HLT": arrays,
    }


def _ordered_pairs(n_tags_like, n_probes_like):
    """All (tag index, probe index) pairs per event."""
    index = ak.argcartesian([n_tags_like, n_probes_like])
    return index["0"], index["1"]


# -- the real files -------------------------------------------------------------------


def test_the_slimmed_real_files_keep_every_event_and_the_nanoaod_v12_types():
    with uproot.open(REAL_NANOAOD) as f:
        tree = f["Events"]
        assert tree.num_entries == 1000
        assert f.file.compression.name == "LZMA"
        types = {k: tree[k].typename for k in tree.keys()}
    assert types["nElectron"] == "int32_t" and types["Electron_pt"] == "float[]"
    assert types["Electron_cutBased"] == "uint8_t[]"
    assert types["Electron_deltaEtaSC"] == "float[]"
    assert types["Electron_photonIdx"] == "int16_t[]"
    assert types["TrigObj_id"] == "uint16_t[]" and types["TrigObj_filterBits"] == "int32_t[]"
    assert types["HLT_Ele30_WPTight_Gsf"] == "bool" and types["event"] == "uint64_t"
    assert types["PV_npvs"] == "uint8_t" and types["run"] == "uint32_t"
    assert not any(k.startswith(("GenPart", "genWeight")) for k in types)  # collision data
    with uproot.open(REAL_NTUPLE) as f:
        tree = f["fitter_tree"]
        assert tree.num_entries == 1000
        types = {k: tree[k].typename for k in tree.keys()}
    assert types["el_pt"] == types["tag_Ele_q"] == types["pair_mass"] == "float"
    assert types["passingCutBasedTight122XV1"] == "int32_t" and types["event"] == "uint64_t"
    assert REAL_NANOAOD.stat().st_size < 400_000 and REAL_NTUPLE.stat().st_size < 400_000


def _independent_ele32_trigger_count(path: Path, config: dict) -> tuple[np.ndarray, ...]:
    """The example's pass/fail probes per (E_T, η_SC) bin with plain uproot/awkward.

    Tag: HLT_Ele30_WPTight_Gsf fired, cutBased ≥ 4, p_T > 35 GeV, |η_SC| < 2.17 outside
    1.4442 ≤ |η_SC| < 1.566, within ΔR < 0.1 of a trigger object with |id| = 11, p_T > 30,
    filter bit 1. Probe: another electron, p_T > 27, |η_SC| < 2.5; opposite charge;
    50 ≤ m_ee < 130. Pass: a trigger object with |id| = 11, p_T > 32, bit 1 within
    ΔR < 0.1 and HLT_Ele32_WPTight_Gsf.
    """
    read = _read_nanoaod(path)
    ele, obj, hlt = read["Electron"], read["TrigObj"], read["HLT"]
    eta, phi = _as64(ele.eta), _as64(ele.phi)
    sc_eta = ele.eta + ele.deltaEtaSC  # float32 + float32, as stored
    abs_sc = np.abs(sc_eta)
    electron_trigger = (obj.id == 11) & ((obj.filterBits & WPTIGHT) != 0)
    tag_object = electron_trigger & (obj.pt > 30)
    leg_object = electron_trigger & (obj.pt > 32)
    obj64 = ak.zip({"eta": _as64(obj.eta), "phi": _as64(obj.phi)})
    tag_ok = (
        hlt.HLT_Ele30_WPTight_Gsf
        & (ele.cutBased >= 4)
        & (ele.pt > 35)
        & (abs_sc < 2.17)
        & ~((abs_sc >= 1.4442) & (abs_sc < 1.566))
        & _trigger_matched(eta, phi, obj64, tag_object)
    )
    probe_ok = (ele.pt > 27) & (abs_sc < 2.5)
    passing = _trigger_matched(eta, phi, obj64, leg_object) & hlt.HLT_Ele32_WPTight_Gsf
    t, p = _ordered_pairs(ele.pt, ele.pt)
    keep = (t != p) & tag_ok[t] & probe_ok[p] & (ele.charge[t] * ele.charge[p] < 0)
    t, p = t[keep], p[keep]
    mass = _pair_mass(
        *(_as64(ele[c][t]) for c in ("pt", "eta", "phi", "mass")),
        *(_as64(ele[c][p]) for c in ("pt", "eta", "phi", "mass")),
    )
    window = (mass >= 50) & (mass < 130)
    return _bin_counts(
        ak.flatten(ele.pt[p][window]),
        ak.flatten(sc_eta[p][window]),
        ak.flatten(passing[p][window]),
        config["et_edges"],
        CMS_ETA_EDGES,
    )


def test_the_ele32_trigger_example_equals_an_independent_count_on_real_nanoaod(tmp_path):
    example = EXAMPLES / "cms_nanoaod_ele32_trigger.json"
    out = tmp_path / "out"
    fileset = _fileset(tmp_path, data=[REAL_NANOAOD])
    assert _tnp(fileset, out, "--config", str(example)) == 0
    name = _single_key(out / "histograms.root", "data")
    passed, failed = _histogram_counts(out / "histograms.root", "data", name)
    expected_pass, expected_fail = _independent_ele32_trigger_count(
        REAL_NANOAOD, json.loads(example.read_text())
    )
    assert expected_pass.sum() > 500 and expected_fail.sum() > 20  # a real measurement
    np.testing.assert_array_equal(passed, expected_pass)
    np.testing.assert_array_equal(failed, expected_fail)


# -- hand-known answers on written NanoAOD v12 files -----------------------------------

#: (p_T, η, φ) of a tag and a probe electron with m_ee ≈ 90.2 GeV.
TAG = (40.0, 0.3, 0.0)
PROBE = (40.0, -0.7, 3.1)
#: The tag trigger filter of the CMS single-electron trigger example.
ELE30 = "abs(id) == 11 and pt > 30 and bit(filterBits, 1)"


def _open_nanoaod(path: Path, is_data: bool | None = None):
    metadata = {"dataset": "sample"} if is_data is None else {"dataset": "s", "is_data": is_data}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NanoEventsFactory.from_root(
            {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager", metadata=metadata
        ).events()


def _read_ntuple(path: Path, metadata: dict | None = None):
    """A written flat ntuple (``tnpEleIDs/fitter_tree``) as coffea events, eagerly."""
    options = {} if metadata is None else {"metadata": metadata}
    return NanoEventsFactory.from_root(
        {str(path): "tnpEleIDs/fitter_tree"}, schemaclass=BaseSchema, mode="eager", **options
    ).events()


def _pairs(tmp_path: Path, events: list[dict], config: TnPConfig, *, is_data=False) -> list:
    """The pairs of ``config`` on a NanoAOD file holding ``events``, per event."""
    path = write_nanoaod(tmp_path / "nano.root", events, is_data=is_data)
    return ak.to_list(tag_probe_pairs(_open_nanoaod(path), config))


def _counts(pairs: list) -> list[int]:
    return [len(event) for event in pairs]


def _nano(**changes) -> TnPConfig:
    """The CMS NanoAOD preset: the tag is cutBased ≥ 4 and the probe (cutBased 2) not."""
    return TnPConfig.cms_nanoaod(**{"probe_id": ("cutBased >= 3",), **changes})


def _event(tag=TAG, probe=PROBE, *, probe_cut=2, **options) -> dict:
    probe_fields = {"cutBased": probe_cut, **options.pop("probe_fields", {})}
    return z_to_ee_event(tag, probe, probe_fields=probe_fields, **options)


def test_the_event_selection_is_an_hlt_bit_of_the_event(tmp_path):
    events = [
        _event(hlt={"Ele30_WPTight_Gsf": True, "Ele32_WPTight_Gsf": False}),
        _event(hlt={"Ele30_WPTight_Gsf": False, "Ele32_WPTight_Gsf": True}),
        _event(hlt={"Ele30_WPTight_Gsf": True, "Ele32_WPTight_Gsf": True}),
    ]
    assert _counts(_pairs(tmp_path, events, _nano())) == [1, 1, 1]
    fired = _nano(event_selection="HLT_Ele30_WPTight_Gsf")
    assert _counts(_pairs(tmp_path, events, fired)) == [1, 0, 1]
    either = _nano(event_selection="HLT_Ele30_WPTight_Gsf and not HLT_Ele32_WPTight_Gsf")
    assert _counts(_pairs(tmp_path, events, either)) == [1, 0, 0]


def _trigger_object(pt=40.0, eta=TAG[1], phi=TAG[2], id_=11, bits=WPTIGHT) -> dict:
    return {"pt": pt, "eta": eta, "phi": phi, "id": id_, "filterBits": bits}


def test_the_tag_trigger_match_needs_id_pt_filter_bit_and_delta_r_each(tmp_path):
    on_tag = [
        _trigger_object(),  # passes: 1 pair
        _trigger_object(id_=22),  # a photon object
        _trigger_object(pt=30.0),  # p_T not > 30
        _trigger_object(pt=30.5),  # passes
        _trigger_object(bits=1),  # bit 0 only
        _trigger_object(bits=WPTIGHT | 4),  # bit 1 among others: passes
        _trigger_object(eta=TAG[1] + 0.11),  # ΔR 0.11
        _trigger_object(eta=TAG[1] + 0.09),  # ΔR 0.09: passes
        _trigger_object(phi=TAG[2] + 0.06, eta=TAG[1] + 0.085),  # ΔR 0.104 (Δη and Δφ)
    ]
    events = [_event(extra={"TrigObj": [obj]}) for obj in on_tag]
    # across the φ = ±π seam: the tag at φ = 3.13, the object at φ = −3.13 (Δφ = 0.023)
    seam_tag = (TAG[0], TAG[1], 3.13)
    events.append(
        _event(seam_tag, (40.0, -0.7, 0.0), extra={"TrigObj": [_trigger_object(phi=-3.13)]})
    )
    config = _nano(trigger_filters={"ele30": ELE30}, tag_id="cutBased >= 4 and trigger(ele30)")
    assert _counts(_pairs(tmp_path, events, config)) == [1, 0, 0, 1, 0, 1, 0, 1, 0, 1]
    # trigger() with no filter matches any object, whatever its id, p_T or bits
    any_object = _nano(trigger_objects="TrigObj", tag_id="cutBased >= 4 and trigger()")
    assert _counts(_pairs(tmp_path, events, any_object)) == [1, 1, 1, 1, 1, 1, 0, 1, 0, 1]
    # a probe can be a tag only with its own trigger object: none here
    probes_tight = [_event(probe_cut=4, extra={"TrigObj": [obj]}) for obj in on_tag[:1]]
    assert _counts(_pairs(tmp_path, probes_tight, config)) == [1]
    assert _counts(_pairs(tmp_path, probes_tight, _nano())) == [2]


def _sc(eta: float, delta: float, phi: float, pt: float = 40.0) -> tuple[tuple, dict]:
    return (pt, eta, phi), {"deltaEtaSC": delta}


def test_acceptance_crack_and_binning_use_the_supercluster_eta(tmp_path):
    cases = [
        # (tag η, tag Δη_SC, probe η, probe Δη_SC): pairs
        ((0.3, 0.0, 2.45, 0.08), 0),  # probe η inside 2.5, η_SC = 2.53 outside
        ((0.3, 0.0, 2.53, -0.06), 1),  # probe η outside 2.5, η_SC = 2.47 inside
        ((0.3, 0.0, 1.40, 0.10), 0),  # probe η_SC = 1.50 in the crack (probe_crack)
        ((0.3, 0.0, 1.52, -0.10), 1),  # probe η in the crack, η_SC = 1.42 outside it
        ((1.40, 0.10, -0.5, 0.0), 0),  # tag η_SC = 1.50 in the crack
        ((1.52, -0.10, -0.5, 0.0), 1),  # tag η in the crack, η_SC = 1.42 outside it
        ((2.45, 0.08, -0.5, 0.0), 0),  # tag η_SC = 2.53 outside 2.5
    ]
    events = []
    for (tag_eta, tag_delta, probe_eta, probe_delta), _ in cases:
        tag, tag_fields = _sc(tag_eta, tag_delta, 0.0)
        probe, probe_fields = _sc(probe_eta, probe_delta, 3.0)
        events.append(_event(tag, probe, tag_fields=tag_fields, probe_fields=probe_fields))
    pairs = _pairs(tmp_path, events, _nano(probe_crack=True))
    assert _counts(pairs) == [expected for _, expected in cases]
    # the binning η is η_SC = η + deltaEtaSC (in the file's float32)
    probe_sc = [np.float32(c[2]) + np.float32(c[3]) for c, n in cases if n]
    assert [p["probe_eta"] for event in pairs for p in event] == pytest.approx(
        [float(x) for x in probe_sc], abs=0
    )
    # the same electrons with the plain η: the other half of the cases
    plain = _nano(probe_crack=True, tag_eta_field="eta", probe_eta_field="eta")
    assert _counts(_pairs(tmp_path, events, plain)) == [1, 0, 1, 0, 1, 0, 1]


def test_tags_and_probes_have_their_own_eta_limits(tmp_path):
    central, forward = (40.0, 0.2, 0.0), (40.0, 2.3, 3.0)
    events = [_event(central, forward, probe_cut=4, tag_filter_bits=None)]  # both tight

    def probe_indices(**limits):
        pairs = _pairs(tmp_path, events, _nano(**limits))
        return sorted(p["probe_index"] for p in pairs[0])

    assert probe_indices() == [0, 1]  # both |η_SC| < 2.5: each is tag and probe
    assert probe_indices(tag_max_abs_eta=2.17) == [1]  # the forward one only probes
    assert probe_indices(probe_max_abs_eta=2.17) == [0]  # the forward one only tags
    assert probe_indices(tag_max_abs_eta=2.17, probe_max_abs_eta=2.17) == []


def test_the_probe_crack_is_excluded_only_when_asked(tmp_path):
    events = [_event(probe=(40.0, 1.50, 3.0)), _event(probe=(40.0, 1.60, 3.0))]
    assert _counts(_pairs(tmp_path, events, _nano(probe_crack=False))) == [1, 1]
    assert _counts(_pairs(tmp_path, events, _nano(probe_crack=True))) == [0, 1]
    # the tag crack is its own setting
    crack_tags = [_event(tag=(40.0, 1.50, 0.0))]
    assert _counts(_pairs(tmp_path, crack_tags, _nano(tag_crack=True))) == [0]
    assert _counts(_pairs(tmp_path, crack_tags, _nano(tag_crack=False))) == [1]


def test_the_probe_preselection_is_the_denominator(tmp_path):
    events = [_event(probe_cut=cut) for cut in (0, 1, 2, 3)]
    every = _pairs(tmp_path, events, _nano())
    assert [p["pass_0"] for event in every for p in event] == [False, False, False, True]
    selected = _pairs(tmp_path, events, _nano(probe_selection="cutBased >= 2"))
    assert _counts(selected) == [0, 0, 1, 1]
    assert [p["pass_0"] for event in selected for p in event] == [False, True]


def test_truth_matching_through_genpartidx_and_truth_tags(tmp_path):
    matched = _event(with_gen=True)
    unmatched = _event(with_gen=True, probe_fields={"genPartIdx": -1, "genPartFlav": 0})
    to_photon = _event(with_gen=True)
    to_photon["GenPart"].append(
        {"pt": 40.0, "eta": PROBE[1], "phi": PROBE[2], "pdgId": 22, "status": 1}
    )
    to_photon["Electron"][1]["genPartIdx"] = 3
    tag_unmatched = _event(with_gen=True, tag_fields={"genPartIdx": -1, "genPartFlav": 0})
    events = [matched, unmatched, to_photon, tag_unmatched]
    pairs = _pairs(tmp_path, events, _nano())
    assert [p["truth"] for event in pairs for p in event] == [1, 0, 0, 1]
    with_tags = _pairs(tmp_path, events, _nano(truth_tags=True))
    assert [[p["truth"] for p in event] for event in with_tags] == [[1], [0], [0], []]
    # collision data has no truth: -1, and truth_tags keeps every tag
    data = [_event(), _event()]
    data_pairs = _pairs(tmp_path, data, _nano(truth_tags=True), is_data=True)
    assert [p["truth"] for event in data_pairs for p in event] == [-1, -1]


#: Probe fields and ID expressions with their hand-known decisions.
EXPRESSION_PROBE = {
    "cutBased": 2,
    "convVeto": False,
    "lostHits": 1,
    "vidNestedWPBitmap": 0b1010,
    "hoe": 0.02,
    "sieie": 0.01,
    "mvaIso": 0.5,
}
EXPRESSIONS = {
    "abs(eta) < 1": True,  # η = −0.7
    "abs(eta) < 0.5": False,
    "pt / 4 - 5 > 4.5": True,  # 40/4 − 5 = 5
    "pt * 2 + 1 < 80": False,  # 81
    "cutBased >= 4 or lostHits > 0": True,
    "cutBased >= 4 or convVeto": False,
    "not convVeto": True,
    "not (cutBased >= 2 and lostHits == 1)": False,
    "lostHits == 1 or cutBased >= 4 and convVeto": True,  # `and` binds tighter
    "(lostHits == 1 or cutBased >= 4) and convVeto": False,
    "bit(vidNestedWPBitmap, 3)": True,
    "bit(vidNestedWPBitmap, 2)": False,
    "hoe > sieie": True,  # two columns compared
    "hoe < sieie": False,
    "mvaIso * 100 > pt": True,  # 50 > 40
    "cutBased >= 2 and HLT_Ele32_WPTight_Gsf": True,  # an event column
    "cutBased >= 2 and HLT_Ele30_WPTight_Gsf": False,
}


def test_expressions_as_probe_ids_give_the_hand_known_decisions(tmp_path):
    hlt = {"Ele30_WPTight_Gsf": False, "Ele32_WPTight_Gsf": True}
    events = [_event(probe_fields=EXPRESSION_PROBE, hlt=hlt)]
    config = _nano(probe_id=tuple(EXPRESSIONS))
    (pair,) = _pairs(tmp_path, events, config)[0]
    decisions = {text: pair[f"pass_{k}"] for k, text in enumerate(EXPRESSIONS)}
    assert decisions == EXPRESSIONS


def _processor_histogram(tmp_path: Path, events: list[dict], config: TnPConfig):
    path = write_nanoaod(tmp_path / "nano.root", events)
    output = TagAndProbeProcessor(config).process(_open_nanoaod(path))
    return output["sample"]["histogram"]


def test_a_probe_above_the_last_et_edge_lands_in_the_open_last_bin(tmp_path):
    # probes of 150 and 600 GeV at Δη = 0, Δφ chosen for m_ee ≈ 90 GeV with a 40 GeV tag
    events = []
    for probe_pt in (150.0, 600.0):
        dphi = math.acos(1.0 - 90.0**2 / (2 * 40.0 * probe_pt))
        events.append(_event(probe=(probe_pt, TAG[1], dphi)))
    config = _nano()
    assert config.et_edges == CMS_ET_EDGES and config.et_edges[-1] == 500.0
    opened = _processor_histogram(tmp_path, events, config).project("et").values(flow=True)
    # flow bins: [underflow, 10-20, 20-35, 35-50, 50-100, 100-200, 200-500, overflow]
    assert opened.tolist() == [0, 0, 0, 0, 0, 1, 1, 0]
    closed = replace(config, open_last_et_bin=False)
    shut = _processor_histogram(tmp_path, events, closed).project("et").values(flow=True)
    assert shut.tolist() == [0, 0, 0, 0, 0, 1, 0, 1]


def _probe_for_mass(mass: float, tag_pt: float = 40.0, probe_pt: float = 60.0) -> tuple:
    """(p_T, η, φ) of a probe at Δη = 0 from :data:`TAG`'s η with m_ee ≈ ``mass`` (massless
    m² = 2 p_T1 p_T2 (1 − cos Δφ))."""
    return (probe_pt, TAG[1], math.acos(1.0 - mass**2 / (2 * tag_pt * probe_pt)))


def test_the_signal_window_and_sidebands_of_the_config_change_the_count(tmp_path):
    events = [
        _event(probe=_probe_for_mass(90.5), probe_cut=3),  # passes, in every window
        _event(probe=_probe_for_mass(83.5)),  # fails, in 80-100, not in 85-95
        _event(probe=_probe_for_mass(65.5)),  # fails, in the 60-70 sideband
    ]
    data = write_nanoaod(tmp_path / "data.root", events, is_data=True)
    fileset = _fileset(tmp_path, data=[data])
    base = {
        "preset": "cms-nanoaod",
        "probe_id": ["cutBased >= 3"],
        "et_edges": [10.0, 500.0],
        "eta_edges": [-2.5, 2.5],
    }
    results = {}
    for name, window in {
        "wide": {"signal_window": [80.0, 100.0], "sidebands": []},
        "narrow": {"signal_window": [85.0, 95.0], "sidebands": []},
        "subtracted": {"signal_window": [80.0, 100.0], "sidebands": [[60, 70], [110, 120]]},
    }.items():
        config = tmp_path / f"{name}.json"
        config.write_text(json.dumps({**base, **window}))
        out = tmp_path / name
        assert _tnp(fileset, out, "--config", str(config)) == 0
        (bin_,) = json.loads((out / "efficiencies.json").read_text())["cutBased >= 3"]["data"]
        results[name] = (bin_["signal_pass"], bin_["signal_fail"])
    assert results["wide"] == (1.0, 1.0)
    assert results["narrow"] == (1.0, 0.0)
    # S = N_window − τ N_sidebands, τ = 20 GeV / 20 GeV: the fail in 60-70 is subtracted
    assert results["subtracted"] == (1.0, 0.0)


# -- photon probes ---------------------------------------------------------------------


def test_photon_probes_on_a_written_file_skip_the_tags_own_photon(tmp_path):
    probe_photon = {"pt": 40.0, "eta": PROBE[1], "phi": PROBE[2], "cutBased": 2}
    events = [
        _event(
            extra={
                "Photon": [
                    {"pt": 39.0, "eta": TAG[1], "phi": TAG[2] + 0.05, "cutBased": 3},  # the tag's
                    probe_photon,
                    {"pt": 40.0, "eta": 1.50, "phi": 1.0, "cutBased": 3},  # a third, in the crack
                ]
            }
        )
    ]
    config = TnPConfig.preset_config("cms-nanoaod-photon", probe_id=("cutBased >= 2",))
    (event,) = _pairs(tmp_path, events, config)
    assert [(p["probe_index"], p["pass_0"], p["opposite"]) for p in event] == [
        (1, True, True),
        (2, True, True),
    ]
    # m_ee of the tag electron and the massless photon (NanoAOD v12 has no Photon_mass)
    expected = _pair_mass(*TAG, 0.000511, *PROBE, 0.0)
    assert event[0]["mass"] == pytest.approx(float(expected), rel=1e-6)
    crackless = replace(config, probe_crack=True)
    assert [p["probe_index"] for p in _pairs(tmp_path, events, crackless)[0]] == [1]
    far = replace(config, tag_probe_min_dr=0.04)  # the tag's photon 0.05 away is a probe now
    assert [p["probe_index"] for p in _pairs(tmp_path, events, far)[0]] == [0, 1, 2]


def _independent_photon_count(
    path: Path, probe_cut: int, example: dict | None = None
) -> tuple[np.ndarray, ...]:
    """The cms-nanoaod-photon preset with plain uproot/awkward: tag electron cutBased ≥ 4,
    p_T > 30, |η_SC| < 2.5 outside the crack; probe photon p_T > 10, |η| < 2.5, ΔR ≥ 0.1
    from the tag; 50 ≤ m_ee < 130 (photon mass 0); pass: photon cutBased ≥ ``probe_cut``.

    With ``example`` (examples/cms_nanoaod_photon_id.json): HLT_Ele30_WPTight_Gsf, the tag
    within ΔR < 0.1 of an |id| = 11, p_T > 30, bit-1 trigger object, tag p_T > 35 and
    |η_SC| < 2.17, probe p_T > 20 outside the crack in |η|, its E_T edges.
    """
    read = _read_nanoaod(path)
    ele, pho = read["Electron"], read["Photon"]
    abs_sc = np.abs(ele.eta + ele.deltaEtaSC)
    in_crack = (abs_sc >= 1.4442) & (abs_sc < 1.566)
    tag_ok = (ele.cutBased >= 4) & (ele.pt > 30) & (abs_sc < 2.5) & ~in_crack
    probe_ok = (pho.pt > 10) & (np.abs(pho.eta) < 2.5)
    et_edges = CMS_ET_EDGES
    if example is not None:
        obj = read["TrigObj"]
        selected = (obj.id == 11) & (obj.pt > 30) & ((obj.filterBits & WPTIGHT) != 0)
        objects = ak.zip({"eta": _as64(obj.eta), "phi": _as64(obj.phi)})
        matched = _trigger_matched(_as64(ele.eta), _as64(ele.phi), objects, selected)
        fired = read["HLT"].HLT_Ele30_WPTight_Gsf
        tag_ok = tag_ok & (ele.pt > 35) & (abs_sc < 2.17) & matched & fired
        abs_eta = np.abs(pho.eta)
        probe_ok = (pho.pt > 20) & (abs_eta < 2.5) & ~((abs_eta >= 1.4442) & (abs_eta < 1.566))
        et_edges = example["et_edges"]
    t, p = _ordered_pairs(ele.pt, pho.pt)
    apart = _delta_r2(_as64(ele.eta[t]), _as64(ele.phi[t]), _as64(pho.eta[p]), _as64(pho.phi[p]))
    keep = tag_ok[t] & probe_ok[p] & (apart >= 0.01)
    t, p = t[keep], p[keep]
    mass = _pair_mass(
        *(_as64(ele[c][t]) for c in ("pt", "eta", "phi", "mass")),
        _as64(pho.pt[p]),
        _as64(pho.eta[p]),
        _as64(pho.phi[p]),
        0.0,
    )
    window = (mass >= 50) & (mass < 130)
    return _bin_counts(
        ak.flatten(pho.pt[p][window]),
        ak.flatten(pho.eta[p][window]),
        ak.flatten((pho.cutBased >= probe_cut)[p][window]),
        et_edges,
        CMS_ETA_EDGES,
    )


def test_the_photon_preset_on_real_nanoaod_equals_an_independent_count(tmp_path):
    out = tmp_path / "out"
    fileset = _fileset(tmp_path, data=[REAL_NANOAOD])
    assert _tnp(fileset, out, "--preset", "cms-nanoaod-photon") == 0
    assert json.loads((out / "config.json").read_text())["probes"] == "Photon"
    for cut in (1, 2, 3):
        passed, failed = _histogram_counts(out / "histograms.root", "data", f"cutBased-ge-{cut}")
        expected_pass, expected_fail = _independent_photon_count(REAL_NANOAOD, cut)
        assert expected_pass.sum() > 100 and expected_fail.sum() > 10
        np.testing.assert_array_equal(passed, expected_pass)
        np.testing.assert_array_equal(failed, expected_fail)


def test_the_photon_id_example_on_real_nanoaod_equals_an_independent_count(tmp_path):
    example = EXAMPLES / "cms_nanoaod_photon_id.json"
    out = tmp_path / "out"
    assert _tnp(_fileset(tmp_path, data=[REAL_NANOAOD]), out, "--config", str(example)) == 0
    settings = json.loads(example.read_text())
    passed, failed = _histogram_counts(out / "histograms.root", "data", "cutBased-ge-2")
    expected_pass, expected_fail = _independent_photon_count(REAL_NANOAOD, 2, settings)
    assert expected_pass.sum() > 100 and expected_fail.sum() > 10
    np.testing.assert_array_equal(passed, expected_pass)
    np.testing.assert_array_equal(failed, expected_fail)


# -- flat tag-and-probe ntuples -----------------------------------------------------------


def _independent_ntuple_count(path: Path, flag: str) -> tuple[np.ndarray, ...]:
    """The cms-tnp-ntuple preset row by row with plain uproot/numpy: tag_Ele_pt > 30,
    |tag_sc_eta| < 2.5 outside the crack; el_pt > 10, |el_sc_eta| < 2.5; tag_Ele_q·el_q < 0;
    50 ≤ pair_mass < 130; pass: ``flag`` ≠ 0."""
    rows = uproot.open(path)["fitter_tree"].arrays(library="np")
    tag_abs = np.abs(rows["tag_sc_eta"])
    keep = (
        (rows["tag_Ele_pt"] > 30)
        & (tag_abs < 2.5)
        & ~((tag_abs >= 1.4442) & (tag_abs < 1.566))
        & (rows["el_pt"] > 10)
        & (np.abs(rows["el_sc_eta"]) < 2.5)
        & (rows["tag_Ele_q"] * rows["el_q"] < 0)
        & (rows["pair_mass"] >= 50)
        & (rows["pair_mass"] < 130)
    )
    return _bin_counts(
        rows["el_pt"][keep],
        rows["el_sc_eta"][keep],
        rows[flag][keep] != 0,
        CMS_ET_EDGES,
        CMS_ETA_EDGES,
    )


def test_the_ntuple_preset_on_the_real_ntuple_equals_an_independent_count(tmp_path):
    out = tmp_path / "out"
    fileset = _fileset(tmp_path, data=[REAL_NTUPLE], tree="fitter_tree")
    assert _tnp(fileset, out, "--preset", "cms-tnp-ntuple") == 0
    for flag in ("passingCutBasedLoose122XV1", "passingCutBasedTight122XV1"):
        passed, failed = _histogram_counts(out / "histograms.root", "data", flag)
        expected_pass, expected_fail = _independent_ntuple_count(REAL_NTUPLE, flag)
        assert expected_pass.sum() > 100 and expected_fail.sum() > 10
        np.testing.assert_array_equal(passed, expected_pass)
        np.testing.assert_array_equal(failed, expected_fail)


def test_a_written_ntuple_gives_hand_known_weighted_pass_and_fail(tmp_path):
    common = {"tag_Ele_pt": 40.0, "tag_Ele_eta": 0.3, "tag_Ele_phi": 0.0, "pair_mass": 90.5}
    probe = {"el_pt": 40.0, "el_eta": -0.4, "el_phi": 3.0}
    flag = "passingCutBasedTight122XV1"
    rows = [
        {**common, **probe, flag: 1, "totWeight": 0.5, "mcTrue": 1},
        {**common, **probe, flag: 1, "totWeight": 2.0, "mcTrue": 1},
        {**common, **probe, flag: 0, "totWeight": 1.5, "mcTrue": 0},
        {**common, **probe, flag: 0, "totWeight": 4.0, "mcTrue": 1, "tag_Ele_pt": 25.0},  # no tag
        {**common, **probe, flag: 1, "totWeight": 8.0, "mcTrue": 1, "el_q": -1.0},  # same sign
        {**common, **probe, flag: 0, "totWeight": 16.0, "el_sc_eta": 2.6},  # probe η_SC outside
    ]
    path = write_tnp_ntuple(tmp_path / "ntuple.root", rows)
    config = TnPConfig.preset_config("cms-tnp-ntuple", probe_id=(flag,))
    events = _read_ntuple(path, {"dataset": "mc", "is_data": False})
    output = TagAndProbeProcessor(config).process(events)["mc"]
    assert output["pairs"] == 4  # the tag below 30 GeV and the probe outside |η_SC| 2.5 go
    histogram = output["histogram"][{"id": flag, "mass": sum, "et": sum, "eta": sum}]
    weight = {
        (passing, opposite): histogram[{"passing": passing, "opposite": opposite, "truth": sum}]
        for passing in (True, False)
        for opposite in (True, False)
    }
    assert weight[(True, True)].value == 2.5 and weight[(True, True)].variance == 4.25
    assert weight[(False, True)].value == 1.5
    assert weight[(True, False)].value == 8.0  # the same-sign pair is kept apart
    assert weight[(False, False)].value == 0.0
    assert histogram[{"truth": hist_loc(-1)}].sum().value == 0.0  # simulation: every row has truth


def _ntuple_truth(tmp_path: Path, rows: list[dict], **changes) -> list[int]:
    path = write_tnp_ntuple(tmp_path / "ntuple.root", rows)
    config = TnPConfig.preset_config("cms-tnp-ntuple", probe_id=("el_pt > 0",), **changes)
    events = _read_ntuple(path)
    return ak.to_list(tag_probe_pairs(events, config).truth)


NTUPLE_ROWS = [
    {
        "tag_Ele_pt": 40.0,
        "tag_Ele_eta": 0.3,
        "tag_Ele_phi": 0.0,
        "el_pt": 40.0,
        "el_eta": -0.4,
        "el_phi": 3.0,
        "mcTrue": truth,
    }
    for truth in (1, 0)
]


def test_the_ntuple_truth_reads_mctrue_with_an_explicit_expression(tmp_path):
    assert _ntuple_truth(tmp_path, NTUPLE_ROWS, truth="mcTrue == 1") == [1, 0]
    assert _ntuple_truth(tmp_path, NTUPLE_ROWS, truth="mcTrue", truth_signal=(1,)) == [1, 0]


def test_the_ntuple_preset_counts_mctrue_0_as_not_true(tmp_path):
    assert _ntuple_truth(tmp_path, NTUPLE_ROWS) == [1, 0]


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if any chunk would run: the checks must come before the runner."""

    def refuse(*args, **kwargs):
        raise AssertionError("the runner was called")

    monkeypatch.setattr("egamma_cnn.workflows.tnp.run_processor", refuse)


def _data_files(tmp_path: Path, n: int = 3) -> list[Path]:
    first = write_nanoaod(tmp_path / "data_0.root", [_event(), _event()], is_data=True)
    others = [tmp_path / f"data_{k}.root" for k in range(1, n)]
    for other in others:
        shutil.copyfile(first, other)
    return [first, *others]


def test_a_partial_config_with_nanoaod_starts_from_the_nanoaod_preset(tmp_path):
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"probe_id": ["cutBased >= 3"], "tag_min_pt": 32.0}))
    out = tmp_path / "out"
    fileset = _fileset(tmp_path, data=[REAL_NANOAOD])
    assert _tnp(fileset, out, "--config", str(partial), "--nanoaod") == 0
    written = json.loads((out / "config.json").read_text())
    assert written["preset"] == "cms-nanoaod" and written["tag_min_pt"] == 32.0
    assert written["probe_eta_field"] == "eta + deltaEtaSC" and written["probe_et_field"] == "pt"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["datasets"]["data"]["pairs"] > 900


def test_nanoaod_with_the_egamma_cnn_preset_is_exit_2(tmp_path, capsys, no_run):
    fileset = _fileset(tmp_path, data=[REAL_NANOAOD])
    assert _tnp(fileset, tmp_path / "o", "--nanoaod", "--preset", "egamma-cnn") == 2
    assert "--nanoaod" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_typo_in_id_fails_before_any_chunk_naming_the_column(tmp_path, capsys, no_run):
    fileset = _fileset(tmp_path, data=_data_files(tmp_path))
    code = _tnp(fileset, tmp_path / "o", "--nanoaod", "--id", "cutBassed >= 2")
    assert code == 2
    line = _error_line(capsys)
    assert "cutBassed" in line and "data_0.root" in line
    assert not (tmp_path / "o").exists()


def test_a_trigger_with_no_such_filter_is_one_line_exit_2(tmp_path, capsys, no_run):
    fileset = _fileset(tmp_path, data=_data_files(tmp_path, 1))
    example = str(EXAMPLES / "cms_nanoaod_ele32_trigger.json")
    code = _tnp(fileset, tmp_path / "o", "--config", example, "--id", "trigger(ele35_leg)")
    assert code == 2
    line = _error_line(capsys)
    assert "trigger(ele35_leg) names no trigger filter" in line and "ele32_leg" in line


def test_an_hlt_path_the_file_lacks_is_one_line_exit_2(tmp_path, capsys, no_run):
    fileset = _fileset(tmp_path, data=_data_files(tmp_path))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"preset": "cms-nanoaod", "event_selection": "HLT_Ele115_CaloIdVT_GsfTrkIdT"})
    )
    assert _tnp(fileset, tmp_path / "o", "--config", str(config)) == 2
    line = _error_line(capsys)
    assert "HLT_Ele115_CaloIdVT_GsfTrkIdT" in line and "event_selection" in line
    # the same as a probe ID (an event column in a probe decision)
    code = _tnp(fileset, tmp_path / "o", "--nanoaod", "--id", "HLT_Ele115_CaloIdVT_GsfTrkIdT")
    assert code == 2
    line = _error_line(capsys)
    assert "the events have no column 'HLT_Ele115_CaloIdVT_GsfTrkIdT'" in line
    assert "(HLT columns: " in line and "Ele32_WPTight_Gsf" in line


# -- systematics on CMS inputs ---------------------------------------------------------------


def _id_event(tag_pt: float, mass: float, probe_cut: int, **options) -> dict:
    """A tag of ``tag_pt`` (η 0.3) with its WPTight trigger object and a 60 GeV probe at
    the same η, m_ee ≈ ``mass`` (η_SC bin 0–0.8, E_T bin 50–100)."""
    tag = (tag_pt, TAG[1], 0.0)
    probe = (60.0, TAG[1], math.acos(1.0 - mass**2 / (2 * tag_pt * 60.0)))
    return _event(tag, probe, probe_cut=probe_cut, **options)


def test_the_electron_id_example_writes_every_systematic_source(tmp_path):
    import correctionlib

    data = write_nanoaod(
        tmp_path / "data.root",
        [
            _id_event(45.0, 90.5, 4),
            _id_event(45.0, 90.5, 4),
            _id_event(38.0, 90.5, 2),  # a fail the tight tag (p_T > 40) removes
            _id_event(45.0, 82.5, 2),  # a fail the narrow window (85–95) removes
        ],
        is_data=True,
    )
    mc = write_nanoaod(
        tmp_path / "mc.root",
        [_id_event(45.0, 90.5, cut, with_gen=True) for cut in (4, 4, 4, 2)],
    )
    out = tmp_path / "out"
    example = EXAMPLES / "cms_nanoaod_electron_id.json"
    assert _tnp(_fileset(tmp_path, data=[data], mc=[mc]), out, "--config", str(example)) == 0
    correction = correctionlib.CorrectionSet.from_file(str(out / "scale_factors.json"))
    (name,) = list(correction)
    sf = {
        valtype: correction[name].evaluate(valtype, "cutBased >= 4", 0.3, 60.0)
        for valtype in (
            "sf",
            "sfup",
            "sfdown",
            "stat_up",
            "syst_up",
            "tight_tag_up",
            "tight_tag_down",
            "narrow_window_up",
            "narrow_window_down",
        )
    }
    # data 2/4 against MC 3/4; each variation leaves data 2/3: δ = |(2/3)/(3/4) − 2/3|
    assert sf["sf"] == pytest.approx((2 / 4) / (3 / 4))
    delta = (2 / 3) / (3 / 4) - (2 / 4) / (3 / 4)
    for source in ("tight_tag", "narrow_window"):
        assert sf[f"{source}_up"] - sf["sf"] == pytest.approx(delta)
        assert sf["sf"] - sf[f"{source}_down"] == pytest.approx(delta)
    stat = sf["stat_up"] - sf["sf"]
    assert stat > 0
    assert sf["syst_up"] - sf["sf"] == pytest.approx(math.sqrt(2) * delta)
    assert sf["sfup"] - sf["sf"] == pytest.approx(math.sqrt(stat**2 + 2 * delta**2))
    assert sf["sf"] - sf["sfdown"] == pytest.approx(sf["sfup"] - sf["sf"])
    # IDs every probe passes: SF 1, no variation moves it
    for valtype in ("sf", "tight_tag_up", "narrow_window_down"):
        assert correction[name].evaluate(valtype, "mvaIso_WP90", 0.3, 60.0) == pytest.approx(1.0)


# -- pair-level selections and the luminosity mask -------------------------------------------


def test_a_pair_selection_reads_the_tag_the_probe_and_the_pair(tmp_path):
    # both electrons tight: each is tag and probe; tag p_T 50 and 40, ΔR ≈ 3.1
    events = [_event((50.0, 0.3, 0.0), (40.0, -0.7, 3.1), probe_cut=4, tag_filter_bits=None)]
    config = _nano(probe_id=("cutBased >= 4",))
    both = _pairs(tmp_path, events, config)[0]
    assert sorted(p["probe_index"] for p in both) == [0, 1]
    harder = _pairs(tmp_path, events, replace(config, pair_selection="tag.pt > probe.pt"))[0]
    assert [p["probe_index"] for p in harder] == [1]  # the 50 GeV electron tags the 40 GeV one
    mass = both[0]["mass"]
    window = replace(config, pair_selection=f"abs(mass - {mass:.6f}) < 0.001 and dr > 3")
    assert len(_pairs(tmp_path, events, window)[0]) == 2
    assert _pairs(tmp_path, events, replace(config, pair_selection="dr < 3"))[0] == []
    # columns of columns and event columns: the tag's supercluster η, an HLT bit
    sc = "abs(tag.eta + tag.deltaEtaSC) < 0.5 and HLT_Ele30_WPTight_Gsf and pt > 0"
    assert [
        p["probe_index"] for p in _pairs(tmp_path, events, replace(config, pair_selection=sc))[0]
    ] == [1]
    # a name that is no column of a pair, under dask too
    path = write_nanoaod(tmp_path / "pairs.root", events)
    with pytest.raises(ValueError, match=r"'probe_pt' is no column of a pair: write tag.<column>"):
        tag_probe_pairs(_open_nanoaod(path), replace(config, pair_selection="probe_pt > 1"))
    lazy = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=NanoAODSchema, mode="dask"
    ).events()
    chosen = replace(config, pair_selection="tag.pt > probe.pt")
    assert ak.to_list(tag_probe_pairs(lazy, chosen).compute()) == [harder]
    with pytest.raises(
        ValueError, match=r"pair_selection: trigger\(...\) applies to tags or probes"
    ):
        replace(config, pair_selection="trigger()")


def test_the_lumi_mask_keeps_the_certified_data_events_only(tmp_path):
    events = [
        _event(extra={"run": run, "luminosityBlock": lumi})
        for run, lumi in ((355100, 5), (355100, 20), (355101, 3))
    ]
    golden = tmp_path / "golden.json"
    golden.write_text(json.dumps({"355100": [[1, 10], [15, 15]], "355101": [[3, 3]]}))
    config = _nano(lumi_mask=str(golden))
    data = write_nanoaod(tmp_path / "data.root", events, is_data=True)
    counted = ak.num(tag_probe_pairs(_open_nanoaod(data, is_data=True), config)).tolist()
    assert counted == [1, 0, 1]  # lumi section 20 of run 355100 is not certified
    # simulation has no certified luminosity sections: the mask does not apply
    mc = write_nanoaod(tmp_path / "mc.root", events)
    assert ak.num(tag_probe_pairs(_open_nanoaod(mc, is_data=False), config)).tolist() == [1, 1, 1]
    # a relative path in a configuration file is relative to that file
    folder = tmp_path / "configs"
    folder.mkdir()
    shutil.copy(golden, folder / "golden.json")
    (folder / "config.json").write_text(
        json.dumps({"preset": "cms-nanoaod", "lumi_mask": "golden.json"})
    )
    assert TnPConfig.from_json(folder / "config.json").lumi_mask == str(folder / "golden.json")
    # what is no golden JSON is named
    for content, message in (
        ("[1, 2]", "expected a JSON object run -> "),
        ('{"run1": [[1, 2]]}', "'run1' is not a run number"),
        ('{"1": [[5, 2]]}', r"run 1 must list \[first, last\] luminosity sections"),
    ):
        golden.write_text(content)
        with pytest.raises(ValueError, match=message):
            _nano(lumi_mask=str(golden))
    with pytest.raises(ValueError, match="no such file"):
        _nano(lumi_mask=str(tmp_path / "nothere.json"))


def test_the_trigger_match_eta_the_weight_the_probe_charge_and_the_pair_mass_are_used(tmp_path):
    # the trigger object sits at the tag's supercluster η (η + deltaEtaSC = 0.3 + 0.15):
    # ΔR 0.15 from its track η, 0 from its supercluster η
    event = _event(tag_filter_bits=None, tag_fields={"deltaEtaSC": 0.15})
    event["TrigObj"] = [_trigger_object(eta=TAG[1] + 0.15)]
    config = _nano(trigger_filters={"ele30": ELE30}, tag_id="cutBased >= 4 and trigger(ele30)")
    assert _counts(_pairs(tmp_path, [event], config)) == [0]  # matched in η: no
    in_sc = replace(config, match_eta_field="eta + deltaEtaSC")
    assert _counts(_pairs(tmp_path, [event], in_sc)) == [1]
    # a flat ntuple: the weight column, the probe's charge column, the m_ee column
    row = {"tag_Ele_pt": 40.0, "tag_Ele_eta": 0.3, "tag_Ele_phi": 0.0, "el_pt": 40.0}
    row |= {"el_eta": -0.4, "el_phi": 3.0}
    rows = [{**row, "pair_mass": 90.5, "totWeight": 3.0, "el_q": 1.0, "tag_Ele_q": -1.0}]
    path = write_tnp_ntuple(tmp_path / "ntuple.root", rows)
    events = _read_ntuple(path, {"dataset": "mc", "is_data": False})

    def filled(**changes):
        config = TnPConfig.preset_config("cms-tnp-ntuple", probe_id=("el_pt > 0",), **changes)
        histogram = TagAndProbeProcessor(config).process(events)["mc"]["histogram"]
        return histogram[{"id": 0, "passing": sum, "et": sum, "eta": sum, "truth": sum}]

    assert filled()[{"mass": sum, "opposite": True}].value == 3.0
    assert filled(weight=None)[{"mass": sum, "opposite": True}].value == 1.0
    assert filled(probe_charge="tag_Ele_q")[{"mass": sum, "opposite": False}].value == 3.0
    at_90 = filled()[{"opposite": True}].project("mass")
    at_60 = filled(pair_mass="pair_mass - 30")[{"opposite": True}].project("mass")
    assert at_90[hist_loc(90.5)].value == 3.0 and at_60[hist_loc(60.5)].value == 3.0


# -- the second review: ntuple systematics and kinds, weights, formats, presets ---------------


def _ntuple_events(tmp_path: Path, rows: list[dict], is_data: bool):
    path = write_tnp_ntuple(tmp_path / "rows.root", rows, is_data=is_data)
    return _read_ntuple(path, {"dataset": "rows", "is_data": is_data})


_ROW = {"tag_Ele_pt": 40.0, "tag_Ele_eta": 0.3, "tag_Ele_phi": 0.0}
_ROW |= {"el_pt": 40.0, "el_eta": -0.4, "el_phi": 3.0, "pair_mass": 90.5}


def test_a_tighter_tag_on_a_weighted_ntuple_uses_the_weights_of_its_own_rows(tmp_path):
    rows = [
        {**_ROW, "tag_Ele_pt": pt, "totWeight": w, "mcTrue": 1} for pt, w in ((35, 1.0), (50, 4.0))
    ]
    config = TnPConfig.preset_config(
        "cms-tnp-ntuple", probe_id=("el_pt > 0",), systematics={"tight": {"tag_min_pt": 45.0}}
    )
    output = TagAndProbeProcessor(config).process(_ntuple_events(tmp_path, rows, False))["rows"]
    total = {"id": 0, "passing": sum, "mass": sum, "et": sum, "eta": sum, "truth": sum}
    assert output["histogram"][total][{"opposite": True}].value == 5.0
    assert output["variations"]["tight"][total][{"opposite": True}].value == 4.0


def test_an_ntuple_of_simulation_declared_data_is_refused(tmp_path):
    rows = [{**_ROW, "totWeight": 1.0, "mcTrue": 1}]
    _ntuple_events(tmp_path, rows, False)  # writes rows.root; read it declared data:
    declared = _read_ntuple(tmp_path / "rows.root", {"dataset": "rows", "is_data": True})
    config = TnPConfig.preset_config("cms-tnp-ntuple", probe_id=("el_pt > 0",))
    with pytest.raises(
        ValueError, match=r"'rows' is declared data .* carry the truth 'mcTrue == 1'"
    ):
        TagAndProbeProcessor(config).process(declared)


def test_the_weight_of_simulation_is_required_and_data_is_never_weighted(tmp_path):
    events = [_event(extra={"genWeight": 2.0, "Pileup_nTrueInt": 20.0})]
    mc = write_nanoaod(tmp_path / "mc.root", events)
    config = _nano(probe_id=("cutBased >= 2",))
    total = {"id": 0, "passing": sum, "mass": sum, "et": sum, "eta": sum, "truth": sum}

    def weighted(config, path, is_data):
        output = TagAndProbeProcessor(config).process(_open_nanoaod(path, is_data=is_data))
        return output["s"]["histogram"][total][{"opposite": True}].value

    assert weighted(config, mc, False) == 2.0
    assert weighted(replace(config, weight=None), mc, False) == 1.0
    # a product of weights: genWeight × the true pile-up of the event (20 here)
    assert weighted(replace(config, weight="genWeight * Pileup.nTrueInt"), mc, False) == 40.0
    with pytest.raises(
        ValueError, match=r"no weight column 'puWeight' \(weight 'genWeight \* puWeight'\)"
    ):
        weighted(replace(config, weight="genWeight * puWeight"), mc, False)
    with pytest.raises(
        ValueError, match=r"'s' is simulation but its files have no weight column 'genweight'"
    ):
        weighted(replace(config, weight="genweight"), mc, False)
    with pytest.raises(
        ValueError, match=r"weight 'HLT' of dataset 's' is not one number per event"
    ):
        weighted(replace(config, weight="HLT"), mc, False)
    # the same file read as data (without truth, which data cannot have): not weighted
    assert weighted(replace(config, truth=None), mc, True) == 1.0


def test_the_wrong_format_and_a_contradicting_preset_are_one_line(tmp_path, capsys):
    ntuple = _fileset(tmp_path, data=[REAL_NTUPLE], tree="fitter_tree")
    assert _tnp(ntuple, tmp_path / "o", "--nanoaod") == 2
    line = _error_line(capsys)
    assert "its tree 'fitter_tree' cannot be read as NanoAODSchema" in line
    assert "--preset or --nanoaod choose the format" in line
    nano = _fileset(tmp_path, data=[REAL_NANOAOD])
    photon = str(EXAMPLES / "cms_nanoaod_photon_id.json")
    assert _tnp(nano, tmp_path / "o", "--config", photon, "--preset", "cms-nanoaod") == 2
    assert "--preset cms-nanoaod, but" in _error_line(capsys)


def test_the_scale_factor_file_the_histograms_and_the_plots_name_the_probe_variables(tmp_path):
    config = TnPConfig.cms_nanoaod()
    assert (config.probe_et_label, config.probe_eta_label) == (
        r"probe $p_T$ [GeV]",
        r"probe $\eta_{SC}$",
    )
    assert TnPConfig().probe_eta_label == r"probe $\eta_{cluster}$"
    events = [_event(), _event(probe_cut=4)]
    data = write_nanoaod(tmp_path / "data.root", events, is_data=True)
    mc = write_nanoaod(tmp_path / "mc.root", events)
    fileset = _fileset(tmp_path, data=[data], mc=[mc])
    assert _tnp(fileset, tmp_path / "o", "--nanoaod", "--id", "cutBased >= 4") == 0
    document = json.loads((tmp_path / "o" / "scale_factors.json").read_text())
    inputs = {v["name"]: v["description"] for v in document["corrections"][0]["inputs"]}
    assert "the probe's eta + deltaEtaSC" in inputs["eta"] and "the probe's pt" in inputs["et"]
    with uproot.open(tmp_path / "o" / "histograms.root") as f:
        histogram = f["data_cutBased-ge-4_pass"]
        assert histogram.member("fTitle") == "data: cutBased >= 4, pass"
        titles = [axis.member("fTitle") for axis in histogram.axes]
    assert titles == ["m_{ee} [GeV]", "probe p_{T} [GeV]", "probe #eta_{SC}"]  # ROOT's TLatex


def test_branch_names_and_near_misses_get_a_suggestion(tmp_path, capsys):
    nano = _fileset(tmp_path, data=[REAL_NANOAOD])
    assert _tnp(nano, tmp_path / "o", "--nanoaod", "--id", "Electron_pt > 30") == 2
    assert "write 'pt', the column, not the branch name 'Electron_pt'" in _error_line(capsys)
    assert _tnp(nano, tmp_path / "o", "--nanoaod", "--id", "cutBassed >= 2") == 2
    assert "did you mean 'cutBased'?" in _error_line(capsys)
    config = tmp_path / "typo.json"
    config.write_text(json.dumps({"probe_min_pt": 20}))
    assert _tnp(nano, tmp_path / "o", "--nanoaod", "--config", str(config)) == 2
    assert "unknown tag-and-probe settings ['probe_min_pt'] (did you mean 'probe_min_et'?)" in (
        _error_line(capsys)
    )
