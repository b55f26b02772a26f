"""Tag-and-probe: pairs with known counts, efficiency methods, SFs through correctionlib."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import awkward as ak
import dask
import dask_awkward as dak
import hist
import numpy as np
import pytest
import uproot

from egamma_cnn.cli import main
from egamma_cnn.intervals import clopper_pearson, wilson
from egamma_cnn.nanoevents import open_events
from egamma_cnn.plotting import pyplot, save_figure
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor, empty_histogram
from egamma_cnn.tnp import IdSpec, TnPConfig, invariant_mass, tag_probe_pairs
from egamma_cnn.tnp.analysis import analyse, dataset_counts
from egamma_cnn.tnp.efficiency import measure, truth_efficiency
from egamma_cnn.tnp.outputs import file_name, root_name, write_outputs
from egamma_cnn.tnp.pairs import four_momenta
from egamma_cnn.tnp.plots import plot_all
from egamma_cnn.tnp.scale_factors import (
    CORRECTION_NAME,
    ScaleFactors,
    scale_factors,
    write_correctionlib,
)

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
    m = invariant_mass(*([v] for v in (*p1, M_ELECTRON, *p2, M_ELECTRON)))
    assert m.tolist() == pytest.approx([91.1876], abs=1e-3)


def _hand_mass(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2):
    """An independent m_ee: m² = (E₁+E₂)² − |p⃗₁+p⃗₂|², in float64."""
    px = pt1 * np.cos(phi1) + pt2 * np.cos(phi2)
    py = pt1 * np.sin(phi1) + pt2 * np.sin(phi2)
    pz = pt1 * np.sinh(eta1) + pt2 * np.sinh(eta2)
    e1 = np.sqrt((pt1 * np.cosh(eta1)) ** 2 + m1**2)
    e2 = np.sqrt((pt2 * np.cosh(eta2)) ** 2 + m2**2)
    return np.sqrt(np.maximum((e1 + e2) ** 2 - px**2 - py**2 - pz**2, 0.0))


def test_pair_masses_by_vector_equal_the_hand_formula():
    rng = np.random.default_rng(11)
    n = 2000
    kinematics = [
        rng.uniform(5, 120, n),
        rng.uniform(-2.5, 2.5, n),
        rng.uniform(-np.pi, np.pi, n),
        np.full(n, M_ELECTRON),
    ]
    other = [rng.permutation(values) for values in kinematics]
    by_vector = invariant_mass(*(v.astype(np.float32) for v in (*kinematics, *other)))
    assert str(ak.type(by_vector)).endswith("float64")
    by_hand = _hand_mass(*(v.astype(np.float32).astype(np.float64) for v in (*kinematics, *other)))
    # both in float64; m ≪ E (collinear pairs) loses digits to the cancellation in m²
    heavy = by_hand > 20.0
    np.testing.assert_allclose(ak.to_numpy(by_vector)[heavy], by_hand[heavy], rtol=1e-11)
    momenta = four_momenta(*(ak.Array([v]) for v in kinematics))
    assert ak.fields(momenta) == ["pt", "eta", "phi", "mass"]
    np.testing.assert_allclose(ak.to_numpy(momenta.pt[0]), kinematics[0])


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
    fits = {}
    (result,) = measure(h, "good", method="fit", signal="bwcb", fits=fits)
    assert result.status == "ok"
    assert abs(result.efficiency - 0.75) < 3 * result.error + 0.01
    # an extended fit with free yields predicts the observed total: Σν = Σn
    (fit,) = fits.values()
    for counts, model in ((fit.counts_pass, fit.model_pass), (fit.counts_fail, fit.model_fail)):
        assert model.sum() == pytest.approx(counts.sum(), rel=1e-4)
    (empty,) = measure(empty_histogram(config), "good", method="fit", signal="bwcb")
    assert math.isnan(empty.efficiency) and empty.status == "no signal in the fits"
    with pytest.raises(ValueError, match="needs the simulated histogram"):
        measure(h, "good", method="fit", signal="template")


def test_plain_counts_take_their_interval_from_the_intervals_module():
    config = replace(HAND_CONFIG, et_edges=(30.0, 50.0), eta_edges=(0.0, 1.0), probe_min_et=30.0)
    h = _filled(config, [(True, 90.5, 7), (False, 85.5, 3)])  # empty sidebands: counts
    for name, interval in (("wilson", wilson), ("clopper-pearson", clopper_pearson)):
        (result,) = measure(h, "good", interval=name)
        low, high = interval(7, 10)
        assert result.efficiency == 0.7
        assert (result.efficiency - result.error_low, result.efficiency + result.error_high) == (
            pytest.approx(low, rel=1e-12),
            pytest.approx(high, rel=1e-12),
        )
    with pytest.raises(ValueError, match="interval must be one of"):
        measure(h, "good", interval="bayesian")


def test_id_specifications():
    assert IdSpec.parse("cutBased >= 4") == IdSpec.parse(" cutBased>=4.0")
    assert str(IdSpec.parse(" cnn_score>0.9 ")) == "cnn_score > 0.9"
    spec = IdSpec.parse("ptvarcone30 / pt<0.15 & etcone20/pt < 0.2")
    assert str(spec) == "ptvarcone30/pt < 0.15 and etcone20/pt < 0.2"
    assert spec.columns == ("ptvarcone30", "pt", "etcone20")
    for bad in ("cutBased >= 4 4", "__import__('os')", "a or", "", "a/", "a and", "a/b/c <"):
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
    # these files are no real NanoAOD (no deltaEtaSC, no generator record): the kinematic η
    config = TnPConfig.cms_nanoaod(
        tag_eta_field=None, probe_eta_field="eta", tag_min_pt=27.0, truth=None
    )
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
    config = replace(HAND_CONFIG, trigger_objects="TrigObj", tag_id="good and trigger()")
    pairs = tag_probe_pairs(events, config)
    # event 0: only electron 0 can tag now; event 1 unchanged; event 2: one same-sign pair
    assert ak.num(pairs).tolist() == [1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match=r"no collection 'L1' \(trigger_objects"):
        tag_probe_pairs(events, replace(config, trigger_objects="L1"))


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


def test_trigger_matching_wraps_phi_and_works_under_dask_awkward():
    electron = _electron
    events = ak.Array(
        {
            "Electron": [
                [electron(45.0, 0.5, math.pi - 0.02, -1, True), electron(45.0, -0.5, 0.3, 1, True)],
                *_hand_built_events().Electron.tolist(),
            ],
            # ΔR to electron 0 = 0.05 across φ = ±π; nothing near electron 1
            "TrigObj": [[{"eta": 0.5, "phi": -math.pi + 0.03}], *[[]] * 5],
        }
    )
    config = replace(HAND_CONFIG, trigger_objects="TrigObj", tag_id="good and trigger()")
    eager = tag_probe_pairs(events, config)
    assert ak.num(eager).tolist() == [1, 0, 0, 0, 0, 0]
    assert ak.num(tag_probe_pairs(events, replace(config, trigger_dr=0.04))).tolist()[0] == 0
    (lazy,) = dask.compute(tag_probe_pairs(dak.from_awkward(events, npartitions=2), config))
    assert lazy.tolist() == eager.tolist()
    (all_pairs,) = dask.compute(
        tag_probe_pairs(dak.from_awkward(events, npartitions=3), HAND_CONFIG)
    )
    assert all_pairs.tolist() == tag_probe_pairs(events, HAND_CONFIG).tolist()


def _study_outputs(config):
    """Data and MC outputs (their histograms) in a 2 × 2 (E_T, η) grid: data ε = 0.8, MC
    ε = 0.9 in the η < 0 bins, nothing at η > 0; MC probes are true electrons."""
    data, mc = empty_histogram(config), empty_histogram(config)
    for h, eff, truth in ((data, 0.8, -1), (mc, 0.9, 1)):
        n_pass = int(200 * eff)
        for et in (30.0, 50.0):
            h.fill(
                id="good",
                passing=[True] * n_pass + [False] * (200 - n_pass),
                mass=90.5,
                et=et,
                eta=-0.5,
                opposite=True,
                truth=truth,
            )
    return {"mc": {"histogram": mc}, "data": {"histogram": data}}


STUDY_CONFIG = replace(
    HAND_CONFIG,
    et_edges=(20.0, 40.0, 60.0),
    eta_edges=(-1.0, 0.0, 1.0),
    probe_min_et=20.0,
    truth="truthClass",
)


def test_the_study_from_a_notebook_analyse_write_plot(tmp_path):
    report = {"skipped_files": ["gone.root"], "left_out": [{"file": "gone.root"}]}
    result = analyse(_study_outputs(STUDY_CONFIG), STUDY_CONFIG, method="count", run_report=report)
    (good,) = result.ids.values()
    assert list(good.efficiencies) == [
        *("mc", "mc_et", "mc_eta", "data", "data_et", "data_eta"),
        *("mc_truth", "mc_truth_et", "mc_truth_eta"),
    ]
    assert [b.efficiency for b in good.efficiencies["data_et"]] == pytest.approx([0.8, 0.8])
    assert good.efficiencies["mc_truth"][0].efficiency == pytest.approx(0.9)
    assert good.scale_factors.value[:, 0] == pytest.approx([0.8 / 0.9] * 2)
    # the η > 0 bins have no probes: one line per sample, nothing printed
    assert result.warnings == [
        f"good {kind}: 2 of 4 bins without an efficiency (e.g. no signal after "
        "subtraction) — see efficiencies.json"
        for kind in ("mc", "data")
    ]
    written = write_outputs(result, tmp_path)
    assert [p.name for p in written] == [
        "config.json",
        "histograms.root",
        "efficiencies.json",
        "scale_factors.json",
        "scale_factors_table.json",
        "summary.json",
    ]
    assert json.loads((tmp_path / "efficiencies.json").read_text()) == result.efficiency_table()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["method"] == "count" and summary["scale_factors"]["good"]["missing_bins"] == 2
    # what the run left out, after the datasets' counts
    assert list(summary)[:3] == ["datasets", "skipped_files", "left_out"]
    assert summary["skipped_files"] == ["gone.root"] and summary == result.summary()
    assert TnPConfig.from_json(tmp_path / "config.json") == STUDY_CONFIG
    with uproot.open(tmp_path / "histograms.root") as f:
        assert f[root_name("data", "good", False)].to_hist().sum().value == 2 * 40
    plots = plot_all(result, tmp_path)
    assert sorted(p.name for p in plots) == [
        "efficiency_good_et.png",
        "efficiency_good_eta.png",
        "sf_good.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in plots)
    assert json.loads(json.dumps(result.to_dict()))["warnings"] == result.warnings


def test_the_study_of_one_sample_has_no_scale_factors(tmp_path):
    data = _study_outputs(STUDY_CONFIG)["data"]
    result = analyse({"data": data}, STUDY_CONFIG)
    assert "skipped_files" not in result.summary()  # no run, no run report
    assert result.scale_factors == {} and "mc_truth" not in result.ids["good"].efficiencies
    names = [p.name for p in write_outputs(result, tmp_path)]
    assert "scale_factors.json" not in names and "summary.json" in names
    assert [p.name for p in plot_all(result, tmp_path)] == [
        "efficiency_good_et.png",
        "efficiency_good_eta.png",
    ]
    with pytest.raises(ValueError, match="'data' and/or 'mc'"):
        analyse({"signal": data}, STUDY_CONFIG)


def test_the_analysis_counts_in_the_configured_window():
    config = replace(STUDY_CONFIG, signal_window=(85.0, 95.0))
    h = empty_histogram(config)
    # passing probes at 90.5 GeV, failing ones at 82.5: outside the narrow window
    h.fill(id="good", passing=[True] * 30, mass=90.5, et=30.0, eta=-0.5, opposite=True, truth=-1)
    h.fill(id="good", passing=[False] * 10, mass=82.5, et=30.0, eta=-0.5, opposite=True, truth=-1)
    narrow = analyse({"data": {"histogram": h}}, config).ids["good"].efficiencies["data"][0]
    wide = analyse({"data": {"histogram": h}}, STUDY_CONFIG).ids["good"].efficiencies["data"][0]
    assert narrow.efficiency == 1.0 and wide.efficiency == pytest.approx(0.75)


def test_dataset_counts_count_the_probes_outside_the_binning():
    h = empty_histogram(STUDY_CONFIG)
    # E_T above the last edge, η beyond the last edge, and one probe inside
    h.fill(
        id="good",
        passing=True,
        mass=90.5,
        et=[100.0, 30.0, 30.0],
        eta=[0.5, 1.5, 0.5],
        opposite=True,
        truth=-1,
    )
    counts = dataset_counts({"events": np.int64(7), "pairs": 3, "histogram": h}, "data")
    assert counts == {"kind": "data", "events": 7, "pairs": 3, "pairs_outside_the_binning": 2}


def test_scale_factor_summary_by_hand():
    factors = ScaleFactors(
        "good",
        np.array([20.0, 40.0, 60.0]),
        np.array([-1.0, 0.0, 1.0]),
        np.array([[1.0, 0.9], [np.nan, 1.1]]),
        np.array([[0.1, 0.2], [np.nan, 0.0]]),
        missing=[(40.0, 60.0, -1.0, 0.0)],
    )
    summary = factors.summary()
    assert summary["mean"] == pytest.approx(1.0) and summary["missing_bins"] == 1
    # inverse-variance weights 100 and 25; the σ = 0 bin is left out of the weighted mean
    assert summary["weighted_mean"] == pytest.approx((100 * 1.0 + 25 * 0.9) / 125)
    assert summary["weighted_mean_error"] == pytest.approx(1 / math.sqrt(125))


def test_output_names():
    assert file_name("ptvarcone30/pt < 0.15") == "ptvarcone30-over-pt-lt-0.15"
    assert file_name("cutBased >= 4 and x != 1") == "cutBased-ge-4-and-x-ne-1"
    assert root_name("mc", "cutBased >= 4", True) == "mc_cutBased-ge-4_pass"


def test_save_figure_writes_and_closes(tmp_path):
    """egamma_cnn.plotting.save_figure: the one way every study's plots are saved."""
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = save_figure(fig, str(tmp_path / "line.png"), dpi=50, bbox_inches="tight")
    assert path == tmp_path / "line.png" and path.stat().st_size > 1_000
    assert fig.number not in plt.get_fignums()  # closed: its memory is freed


@pytest.mark.parametrize("swapped", ["data", "mc"])
def test_a_dataset_whose_files_contradict_is_data_is_refused_before_it_runs(tmp_path, swapped):
    """MC declared data (or data-like declared MC) gave scale factors of MC against MC."""
    from egamma_cnn.workflows.tnp import run_tnp

    data_dir = Path(__file__).parent / "data"
    files = {"data": data_dir / "zee_datalike.root", "mc": data_dir / "zee_mc.root"}
    if swapped == "data":  # a copy: the same file in two datasets is refused on its own
        files["data"] = shutil.copyfile(data_dir / "zee_mc.root", tmp_path / "mc_as_data.root")
    else:
        files["mc"] = shutil.copyfile(data_dir / "zee_datalike.root", tmp_path / "data_as_mc.root")
    fileset = {
        name: {"files": {str(path): "Events"}, "metadata": {"is_data": name == "data"}}
        for name, path in files.items()
    }
    declared = "data" if swapped == "data" else "simulation"
    with pytest.raises(ValueError, match=f"dataset '{swapped}' is declared {declared}"):
        run_tnp(fileset, tmp_path / "out", scheduler="sync")
    assert not (tmp_path / "out").exists()
