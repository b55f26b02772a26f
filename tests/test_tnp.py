"""Tag-and-probe: pairs with known counts, efficiency methods, SFs through correctionlib."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import awkward as ak
import dask
import hist
import numpy as np
import pytest
import uproot

from egamma_cnn.cli import main
from egamma_cnn.nanoevents import open_events
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor, empty_histogram
from egamma_cnn.tnp import IdSpec, IdTerm, TnPConfig, invariant_mass, tag_probe_pairs
from egamma_cnn.tnp.efficiency import clopper_pearson, measure, truth_efficiency, wilson
from egamma_cnn.tnp.scale_factors import CORRECTION_NAME, scale_factors, write_correctionlib

DATA = Path(__file__).parent / "data"
M_ELECTRON = 0.000511


def _electron(pt, eta, phi, charge, good):
    return {"pt": pt, "eta": eta, "phi": phi, "mass": M_ELECTRON, "charge": charge, "good": good}


def _pair_at_mass(mass, pt=45.0, eta1=0.8, eta2=-0.8):
    """Two back-to-back-in-φ electrons with invariant mass ``mass`` (solve for φ)."""
    # m² ≈ 2 pt1 pt2 (cosh Δη − cos Δφ) for massless electrons
    cos_dphi = math.cosh(eta1 - eta2) - mass**2 / (2 * pt * pt)
    dphi = math.acos(max(-1.0, min(1.0, cos_dphi)))
    return (pt, eta1, 0.0), (pt, eta2, dphi)


def _hand_built_events():
    (a1, a2) = _pair_at_mass(91.0)
    (b1, b2) = _pair_at_mass(88.0)
    (c1, c2) = _pair_at_mass(95.0)
    (d1, d2) = _pair_at_mass(90.0, pt=20.0)
    events = [
        # both good, opposite charge: two pairs, both probes pass
        [_electron(*a1, -1, True), _electron(*a2, 1, True)],
        # tag good, probe fails: one pair (the failing electron is no tag)
        [_electron(*b1, 1, True), _electron(*b2, -1, False)],
        # same charge: two same-sign pairs
        [_electron(*c1, 1, True), _electron(*c2, 1, True)],
        # tag below 27 GeV: no pair
        [_electron(*d1, 1, True), _electron(*d2, -1, True)],
        # one electron: no pair
        [_electron(45.0, 0.1, 0.0, 1, True)],
    ]
    return ak.Array({"Electron": events})


HAND_CONFIG = TnPConfig(
    probe_id=("good",),
    tag_id="good",
    probe_et_field="pt",
    probe_eta_field="eta",
    truth=None,
)


def test_hand_built_pairs_have_the_known_counts():
    events = _hand_built_events()
    pairs = tag_probe_pairs(events, HAND_CONFIG)
    assert ak.num(pairs).tolist() == [2, 1, 2, 0, 0]
    np.testing.assert_allclose(
        ak.flatten(pairs.mass).to_numpy(), [91.0, 91.0, 88.0, 95.0, 95.0], atol=1e-3
    )
    assert ak.flatten(pairs.opposite).tolist() == [True, True, True, False, False]
    assert ak.flatten(pairs.pass_0).tolist() == [True, True, False, True, True]
    histogram = TagAndProbeProcessor(HAND_CONFIG, weight=None).process(events)["sample"]
    h = histogram["histogram"]
    base = {"id": "good", "mass": sum, "et": sum, "eta": sum, "truth": sum}
    assert h[{**base, "passing": True, "opposite": True}].value == 2
    assert h[{**base, "passing": False, "opposite": True}].value == 1
    assert h[{**base, "passing": True, "opposite": False}].value == 2
    efficiency = measure(h, "good", projection="et")
    filled = [e for e in efficiency if not math.isnan(e.efficiency)]
    assert len(filled) == 1 and filled[0].efficiency == pytest.approx(2 / 3)
    low, high = clopper_pearson(2, 3)
    assert filled[0].efficiency - filled[0].error_low == pytest.approx(low)
    assert filled[0].efficiency + filled[0].error_high == pytest.approx(high)


def test_invariant_mass_of_a_known_pair():
    (p1, p2) = _pair_at_mass(91.1876, pt=45.0, eta1=1.1, eta2=-0.2)
    m = invariant_mass(*p1, M_ELECTRON, *p2, M_ELECTRON)
    assert m == pytest.approx(91.1876, abs=1e-3)


def _filled(config, counts):
    """A histogram with the given (passing, mass, n) entries in one (E_T, η) bin."""
    h = empty_histogram(config)
    for passing, mass, n in counts:
        h.fill(
            id=config.probe_id[0],
            passing=[passing] * n,
            mass=[mass] * n,
            et=[40.0] * n,
            eta=[0.5] * n,
            opposite=[True] * n,
            truth=[-1] * n,
        )
    return h


def test_sideband_subtraction_removes_a_flat_background():
    config = replace(HAND_CONFIG, et_edges=(30.0, 50.0), eta_edges=(0.0, 1.0), probe_min_et=30.0)
    # window 80-100 (20 GeV), sidebands 60-70 and 110-120 (20 GeV): τ = 1
    h = _filled(
        config,
        [
            (True, 90.5, 100),
            (True, 65.5, 5),
            (True, 115.5, 5),
            (False, 85.5, 50),
            (False, 62.5, 10),
            (False, 112.5, 10),
        ],
    )
    (result,) = measure(h, "good")
    # S_pass = 100 - 10, S_fail = 50 - 20
    assert result.signal_pass == pytest.approx(90) and result.signal_fail == pytest.approx(30)
    assert result.efficiency == pytest.approx(0.75)
    expected = math.sqrt(30**2 * (100 + 10) + 90**2 * (50 + 20)) / 120**2
    assert result.error == pytest.approx(expected)


def test_fits_recover_a_known_efficiency_and_report_what_they_cannot_fit():
    config = replace(HAND_CONFIG, et_edges=(30.0, 50.0), eta_edges=(0.0, 1.0), probe_min_et=30.0)
    rng = np.random.default_rng(7)
    h = empty_histogram(config)
    truth = {True: 3000, False: 1000}
    for passing, n_signal in truth.items():
        signal = rng.normal(91.0, 2.5, n_signal)
        background = 60.0 + rng.exponential(25.0, 800 if passing else 1500)
        mass = np.concatenate([signal, background])
        mass = mass[(mass > 60) & (mass < 120)]
        h.fill(id="good", passing=passing, mass=mass, et=40.0, eta=0.5, opposite=True, truth=-1)
    (result,) = measure(h, "good", method="fit", signal="bwcb")
    assert result.status == "ok"
    assert abs(result.efficiency - 0.75) < 3 * result.error + 0.01
    (empty,) = measure(empty_histogram(config), "good", method="fit", signal="bwcb")
    assert math.isnan(empty.efficiency) and empty.status == "no signal in the fits"
    with pytest.raises(ValueError, match="needs the simulated histogram"):
        measure(h, "good", method="fit", signal="template")


def test_intervals():
    low, high = wilson(0, 10)
    assert low == 0.0 and 0.05 < high < 0.2
    assert clopper_pearson(10, 10)[1] == 1.0
    assert clopper_pearson(5, 10)[0] < 0.5 < clopper_pearson(5, 10)[1]


def test_id_specifications():
    assert IdSpec.parse("cutBased >= 4") == IdSpec((IdTerm("cutBased", ">=", 4.0),))
    assert str(IdSpec.parse(" cnn_score>0.9 ")) == "cnn_score > 0.9"
    spec = IdSpec.parse("ptvarcone30 / pt<0.15 & etcone20/pt < 0.2")
    assert str(spec) == "ptvarcone30/pt < 0.15 and etcone20/pt < 0.2"
    assert spec.columns == ("ptvarcone30", "pt", "etcone20")
    for bad in ("cutBased >= four", "__import__('os')", "a or b", "", "a/b", "a and", "a/b/c < 1"):
        with pytest.raises(ValueError, match="ID specification"):
            IdSpec.parse(bad)
    with pytest.raises(ValueError, match="no column 'nothing'"):
        IdSpec.parse("nothing").evaluate(_hand_built_events().Electron)


def test_config_round_trip(tmp_path):
    config = TnPConfig(probe_id=("cnn_tight", "cnn_score >= 0.95"), mass_bins=30)
    path = tmp_path / "config.json"
    path.write_text(config.to_json())
    assert TnPConfig.from_json(path) == config
    path.write_text(json.dumps({"nonsense": 1}))
    with pytest.raises(ValueError, match="unknown tag-and-probe settings"):
        TnPConfig.from_json(path)


def test_scale_factors_through_correctionlib(tmp_path):
    import correctionlib

    config = replace(
        HAND_CONFIG, et_edges=(20.0, 40.0, 60.0), eta_edges=(-1.0, 0.0, 1.0), probe_min_et=20.0
    )
    data, mc = empty_histogram(config), empty_histogram(config)
    for h, eff in ((data, 0.8), (mc, 0.9)):
        for et in (30.0, 50.0):
            n_pass = int(1000 * eff)
            h.fill(
                id="good",
                passing=[True] * n_pass + [False] * (1000 - n_pass),
                mass=90.5,
                et=et,
                eta=-0.5,
                opposite=True,
                truth=-1,
            )
    factors = scale_factors(measure(data, "good"), measure(mc, "good"), "good")
    assert len(factors.missing) == 2  # the η > 0 bins have no probes
    path = write_correctionlib({"good": factors}, tmp_path / "sf.json")
    correction = correctionlib.CorrectionSet.from_file(str(path))[CORRECTION_NAME]
    sf = correction.evaluate("sf", "good", np.array([-0.5, -0.5, 0.5]), np.array([30.0, 55, 30]))
    np.testing.assert_allclose(sf[:2], 0.8 / 0.9, rtol=1e-9)
    assert sf[2] == 1.0  # no measurement: 1 ± 1, listed in the description
    assert correction.evaluate("sfup", "good", 0.5, 30.0) == 2.0
    assert "2 bins without a measured SF" in correction.description
    assert correction.evaluate("sfup", "good", -0.5, 30.0) > sf[0]
    assert correction.evaluate("sf", "good", -0.5, 500.0) == pytest.approx(sf[1])  # clamp


def test_processor_eager_equals_dask_on_a_sample_file():
    processor = TagAndProbeProcessor()
    eager = processor.process(open_events(DATA / "zee_mc.root"))["sample"]
    lazy = processor.process(open_events(DATA / "zee_mc.root", mode="dask", steps_per_file=2))
    (lazy,) = dask.compute(lazy["sample"])
    assert eager["pairs"] == lazy["pairs"] > 0
    np.testing.assert_array_equal(
        eager["histogram"].values(flow=True), lazy["histogram"].values(flow=True)
    )
    truth = truth_efficiency(eager["histogram"], "cnn_tight", projection="et")
    assert any(not math.isnan(t.efficiency) for t in truth)


def _nanoaod_file(path: Path) -> Path:
    """A small file with the branch names of standard CMS NanoAOD electrons."""
    rng = np.random.default_rng(3)
    n = 200
    counts = rng.integers(0, 4, n)
    total = int(counts.sum())
    pairs = [_pair_at_mass(rng.uniform(85, 97), pt=rng.uniform(40, 60)) for _ in range(total)]
    electron = ak.unflatten(
        ak.zip(
            {
                "pt": np.array([p[0][0] for p in pairs], np.float32),
                "eta": np.array([p[k % 2][1] for k, p in enumerate(pairs)], np.float32),
                "phi": np.array([p[k % 2][2] for k, p in enumerate(pairs)], np.float32),
                "mass": np.full(total, M_ELECTRON, np.float32),
                "charge": np.where(np.arange(total) % 2 == 0, 1, -1).astype(np.int32),
                "cutBased": rng.integers(0, 5, total).astype(np.int32),
            }
        ),
        counts,
    )
    with uproot.recreate(path) as f:
        f.mktree(
            "Events",
            {
                "run": np.ones(n, np.uint32),
                "luminosityBlock": np.ones(n, np.uint32),
                "event": np.arange(n, dtype=np.uint64),
                "Electron": electron,
            },
        )
    return path


def test_runs_on_standard_nanoaod(tmp_path):
    from coffea.dataset_tools import apply_to_fileset
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    path = _nanoaod_file(tmp_path / "nano.root")
    config = TnPConfig.cms_nanoaod()
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager"
    ).events()
    eager = TagAndProbeProcessor(config).process(events)["sample"]
    electrons = events.Electron
    tags = (electrons.pt > 27) & (electrons.cutBased >= 4)
    n_expected = int(ak.sum(ak.sum(tags, axis=1) * (ak.num(electrons) - 1)))
    assert eager["pairs"] <= n_expected and eager["pairs"] > 0
    fileset = {"nano": {"files": {str(path): "Events"}}}
    graph = apply_to_fileset(TagAndProbeProcessor(config), fileset, schemaclass=NanoAODSchema)
    (lazy,) = dask.compute(graph, scheduler="sync")
    np.testing.assert_array_equal(
        lazy["nano"]["nano"]["histogram"].values(flow=True), eager["histogram"].values(flow=True)
    )


def test_the_tnp_command_writes_sfs_that_correctionlib_reads(tmp_path):
    import correctionlib

    fileset = tmp_path / "fileset.json"
    fileset.write_text(
        json.dumps(
            {
                "mc": {"files": {str(DATA / "zee_mc.root"): "Events"}},
                "data": {"files": [str(DATA / "zee_datalike.root")]},
                "broken": {
                    "files": {str(tmp_path / "missing.root"): "Events"},
                    "metadata": {"is_data": True},
                },
            }
        )
    )
    out = tmp_path / "out"
    args = [
        "tnp",
        str(fileset),
        "--out-dir",
        str(out),
        "--workers",
        "0",
        "--id",
        "cnn_tight",
        "--step-size",
        "15",
    ]
    assert main(args) == 2  # the missing file stops the run without permission
    assert main([*args, "--skip-bad-files"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_files"] == [str(tmp_path / "missing.root")]
    assert (
        summary["datasets"]["mc"]["kind"] == "mc" and summary["datasets"]["data"]["kind"] == "data"
    )
    correction = correctionlib.CorrectionSet.from_file(str(out / "scale_factors.json"))
    assert correction[CORRECTION_NAME].evaluate("sf", "cnn_tight", 0.3, 40.0) > 0
    for name in ("efficiency_cnn_tight_et.png", "efficiency_cnn_tight_eta.png", "sf_cnn_tight.png"):
        assert (out / name).stat().st_size > 10_000
    with uproot.open(out / "histograms.root") as f:
        assert f["mc_cnn_tight_pass"].to_hist().sum().value > 0
    efficiencies = json.loads((out / "efficiencies.json").read_text())["cnn_tight"]
    assert {"data", "mc", "mc_truth", "data_et", "mc_eta"} <= set(efficiencies)


def test_unknown_datasets_kind_is_an_error(tmp_path, capsys):
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps({"x": {"files": {str(tmp_path / "none.root"): "Events"}}}))
    assert main(["tnp", str(fileset), "--workers", "0"]) == 2
    assert "is_data" in capsys.readouterr().err
    assert hist  # the histogram library the outputs are made with


def test_tags_can_be_required_to_match_a_trigger_object():
    events = _hand_built_events()
    electrons = events.Electron
    # a trigger object on the first electron of each event only
    trigger = ak.zip({"eta": electrons.eta[:, :1], "phi": electrons.phi[:, :1] + 0.01})
    events = ak.with_field(events, trigger, "TrigObj")
    config = replace(HAND_CONFIG, trigger_objects="TrigObj")
    pairs = tag_probe_pairs(events, config)
    # event 0: only electron 0 can tag now; event 1 unchanged; event 2: one same-sign pair
    assert ak.num(pairs).tolist() == [1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match="no trigger objects 'L1'"):
        tag_probe_pairs(events, replace(HAND_CONFIG, trigger_objects="L1"))


def test_counting_edge_cases_from_the_review():
    config = replace(HAND_CONFIG, et_edges=(30.0, 50.0), eta_edges=(0.0, 1.0), probe_min_et=30.0)
    with pytest.raises(ValueError, match="inside mass_range"):
        replace(config, mass_range=(70.0, 110.0))  # default sidebands outside the range
    # every probe passes: ε = 1 with a real lower uncertainty, not 1 ± 0
    h = _filled(config, [(True, 90.5, 50), (True, 65.5, 5)])
    (all_pass,) = measure(h, "good")
    assert all_pass.efficiency == 1.0 and all_pass.error_low > 0.01
    # weights: the same probes with weight 100 have the same relative uncertainty
    unit, heavy = empty_histogram(config), empty_histogram(config)
    for h, w in ((unit, 1.0), (heavy, 100.0)):
        h.fill(
            id="good",
            passing=[True] * 80 + [False] * 20,
            mass=90.5,
            et=40.0,
            eta=0.5,
            opposite=True,
            truth=-1,
            weight=w,
        )
    (a,), (b,) = measure(unit, "good"), measure(heavy, "good")
    assert a.efficiency == b.efficiency
    assert a.error_low == pytest.approx(b.error_low) and a.error_high == pytest.approx(b.error_high)


def test_a_measured_zero_efficiency_is_a_scale_factor_not_a_gap():
    config = replace(HAND_CONFIG, et_edges=(30.0, 50.0), eta_edges=(0.0, 1.0), probe_min_et=30.0)
    data, mc = empty_histogram(config), empty_histogram(config)
    data.fill(id="good", passing=[False] * 30, mass=90.5, et=40.0, eta=0.5, opposite=True, truth=-1)
    mc.fill(
        id="good",
        passing=[True] * 5 + [False] * 30,
        mass=90.5,
        et=40.0,
        eta=0.5,
        opposite=True,
        truth=-1,
    )
    factors = scale_factors(measure(data, "good"), measure(mc, "good"), "good")
    assert factors.missing == [] and factors.value[0, 0] == 0.0 and factors.error[0, 0] > 0
