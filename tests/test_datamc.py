"""Data/MC: distances, fudge-factor closure, the processor on hand-built events, the command."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from pathlib import Path

import awkward as ak
import correctionlib
import correctionlib.schemav2 as cs
import dask
import dask_awkward as dak
import hist
import numpy as np
import pytest
import uproot
from dask.base import tokenize

import egamma_cnn.workflows.datamc as datamc_workflow
from egamma_cnn.cli import main
from egamma_cnn.corrections import (
    CORRECTION_NAME,
    FudgeFactors,
    FudgeFile,
    apply_fudge,
    write_correction,
    write_correctionlib,
)
from egamma_cnn.datamc import (
    hellinger_distance,
    l1_distance,
    quantile_map,
    wasserstein_distance,
)
from egamma_cnn.datamc.analysis import (
    DataMCResult,
    analyse,
    derive_fudge,
    derive_fudge_factors,
    distance_table,
    fudged_distribution,
    gaussian_parameters,
    id_efficiencies,
    moments,
    weighted_mean_histogram,
)
from egamma_cnn.datamc.outputs import write_outputs
from egamma_cnn.datamc.plots import plot_all
from egamma_cnn.execution import ExecutionSettings, Failure, FilesetRun
from egamma_cnn.intervals import efficiency_interval
from egamma_cnn.jsonio import json_ready
from egamma_cnn.nanoevents import EGammaSchema, open_events
from egamma_cnn.processors.data_mc import DataMCProcessor, moments_histogram
from egamma_cnn.tnp import TnPConfig
from egamma_cnn.workflows.common import run_report

DATA = Path(__file__).parent / "data"


def test_distances_by_hand_and_against_scipy():
    assert l1_distance([1, 0, 0], [0, 0, 1]) == 2.0
    assert hellinger_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert hellinger_distance([2, 2], [1, 1]) == 0.0
    # H² = 1 − Σ sqrt(P Q): P = (1/2, 1/2), Q = (1, 0) → H = sqrt(1 − sqrt(1/2))
    assert hellinger_distance([1, 1], [1, 0]) == pytest.approx(np.sqrt(1 - np.sqrt(0.5)))
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    # moving all mass from the first to the last bin centre costs 2
    assert wasserstein_distance([1, 0, 0], [0, 0, 1], edges) == pytest.approx(2.0)
    # scipy's W_1 of the bin centres is the definition Σ_k |F_k − G_k| (c_{k+1} − c_k),
    # to the rounding of the cumulative sums
    rng = np.random.default_rng(4)
    for _ in range(20):
        p, q = rng.random(30), rng.random(30)
        e = np.sort(rng.uniform(-3, 3, 31))
        c = 0.5 * (e[1:] + e[:-1])
        by_hand = np.sum(np.abs(np.cumsum(p / p.sum() - q / q.sum())[:-1]) * np.diff(c))
        assert wasserstein_distance(p, q, e) == pytest.approx(by_hand, rel=1e-14, abs=1e-16)
    assert np.isnan(l1_distance([0, 0], [1, 1]))
    with pytest.raises(ValueError, match="negative"):
        l1_distance([-1, 2], [1, 1])


def _output(values: np.ndarray, et: np.ndarray, eta: np.ndarray, config, variables) -> dict:
    """A DataMCProcessor-shaped output filled directly from arrays.

    One ID, ``"tight"``: the probes with the value above the median of the MC
    (0.93); unit weights.
    """
    processor = DataMCProcessor(config, variables, ids=())
    weight = np.ones_like(values)
    distributions, moments_by_variable = {}, {}
    for name, (bins, low, high) in processor.variables.items():
        h = (
            hist.Hist.new.Reg(bins, low, high, name="value", label=name)
            .Variable(list(config.et_edges), name="et")
            .Variable(list(config.eta_edges), name="eta")
            .Weight()
        )
        h.fill(value=values, et=et, eta=eta)
        distributions[name] = h
        moments_by_variable[name] = moments_histogram(
            config.et_edges, config.eta_edges, et, eta, values, weight
        )
    identification = (
        hist.Hist.new.StrCategory(["tight"], name="id")
        .Boolean(name="passing")
        .Variable(list(config.et_edges), name="et")
        .Variable(list(config.eta_edges), name="eta")
        .Weight()
        .fill(id="tight", passing=values > 0.93, et=et, eta=eta)
    )
    return {
        "probes": len(values),
        "moments": moments_by_variable,
        "distributions": distributions,
        "identification": identification,
    }


def _samples(n: int = 200_000, shift: float = 0.004, width: float = 1.15):
    """Synthetic MC and data outputs: the data is the MC variable shifted and widened."""
    config = TnPConfig(et_edges=(15.0, 40.0, 80.0), eta_edges=(-2.5, 0.0, 2.5))
    variables = {"reta": (80, 0.80, 1.05)}
    rng = np.random.default_rng(11)
    et = rng.uniform(15, 80, n)
    eta = rng.uniform(-2.5, 2.5, n)
    # the MC variable depends on the bin; the "data" is the same shifted and widened
    centre = 0.93 + 0.01 * (et > 40) + 0.005 * (eta > 0)
    mc_values = centre + rng.normal(0, 0.01, n)
    data_values = centre + shift + width * rng.normal(0, 0.01, n)
    mc = _output(mc_values, et, eta, config, variables)
    data = _output(data_values, et, eta, config, variables)
    return data, mc, (mc_values, et, eta)


def test_fudge_factors_recover_a_known_shift_and_width(tmp_path):
    shift, width = 0.004, 1.15
    data, mc, (mc_values, et, eta) = _samples(shift=shift, width=width)
    n = len(mc_values)
    factors = derive_fudge(data, mc, "reta")
    np.testing.assert_allclose(factors.shift, shift, atol=2e-4)
    np.testing.assert_allclose(factors.width, width, rtol=0.02)
    # the means and widths of the WeightedMean moments give the same factors
    by_moments = derive_fudge(data, mc, "reta", estimator="moments")
    np.testing.assert_allclose(by_moments.shift, shift, atol=2e-4)
    np.testing.assert_allclose(by_moments.width, width, rtol=0.02)
    # correctionlib applies exactly what apply_fudge does
    path = write_correctionlib({"reta": factors}, tmp_path / "fudge.json")
    correction = correctionlib.CorrectionSet.from_file(str(path))[CORRECTION_NAME]
    sample = slice(0, 50)
    expected = apply_fudge(factors, mc_values[sample], et[sample], eta[sample])
    got = correction.evaluate("reta", eta[sample], et[sample], mc_values[sample])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # fudging brings the MC onto the data: every distance drops
    table = distance_table(data, mc, factors)
    for row in table["et"] + table["eta"] + table["inclusive"]:
        for name in ("l1", "hellinger", "wasserstein"):
            assert row["fudged"][name] < 0.5 * row["unfudged"][name]
    # and the fudged histogram keeps every probe
    assert fudged_distribution(mc, factors).sum() == pytest.approx(n)
    n_bins, _mean, variance = moments(mc, "reta")
    assert n_bins.sum() == n and np.all(variance > 0)


def test_weighted_mean_moments_are_the_weighted_mean_and_variance():
    """moments(): Σw, Σw v / Σw and Σw (v − μ)² / Σw per bin, eagerly and on dask."""
    rng = np.random.default_rng(7)
    n = 5_000
    et, eta = rng.uniform(15, 80, n), rng.uniform(-2.5, 2.5, n)
    values, weight = 0.95 + 0.01 * rng.normal(size=n), rng.uniform(0.5, 2.0, n)
    et_edges, eta_edges = (15.0, 40.0, 80.0), (-2.5, 0.0, 2.5)
    eager = {"moments": {"v": moments_histogram(et_edges, eta_edges, et, eta, values, weight)}}
    count, mean, variance = moments(eager, "v")
    for i in range(2):
        for j in range(2):
            inside = (np.digitize(et, et_edges) == i + 1) & (np.digitize(eta, eta_edges) == j + 1)
            w, v = weight[inside], values[inside]
            expected_mean = np.average(v, weights=w)
            assert count[i, j] == pytest.approx(w.sum(), rel=1e-12)
            assert mean[i, j] == pytest.approx(expected_mean, rel=1e-12)
            expected = np.average((v - expected_mean) ** 2, weights=w)
            assert variance[i, j] == pytest.approx(expected, rel=1e-12)
    # the dask fill (through the dask-histogram factory) gives the same accumulators
    lazy_arrays = [dak.from_awkward(ak.Array(a), npartitions=3) for a in (et, eta, values, weight)]
    (lazy,) = dask.compute(moments_histogram(et_edges, eta_edges, *lazy_arrays))
    computed = moments({"moments": {"v": lazy}}, "v")
    for got, expected in zip(computed, (count, mean, variance), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    # dask computes to a boost_histogram.Histogram, eager fills a hist.Hist: the analysis
    # sees a hist.Hist of the same axes either way, and the same group moments
    assert not isinstance(lazy, hist.Hist)
    as_read = {
        path: weighted_mean_histogram({"moments": {"v": h}}, "v")
        for path, h in (("eager", eager["moments"]["v"]), ("dask", lazy))
    }
    assert all(isinstance(h, hist.Hist) for h in as_read.values())
    assert as_read["dask"].axes.name == as_read["eager"].axes.name == ("et", "eta")
    group = {path: h[0:len:sum, 0:len:sum] for path, h in as_read.items()}
    assert group["dask"].value == pytest.approx(group["eager"].value, rel=1e-12)
    assert group["dask"].variance == pytest.approx(group["eager"].variance, rel=1e-12)
    # an empty bin has no mean
    empty = {"moments": {"v": moments_histogram(et_edges, eta_edges, [20.0], [0.5], [1.0], [1.0])}}
    _, mean, variance = moments(empty, "v")
    assert mean[0, 1] == 1.0 and variance[0, 1] == 0.0 and np.isnan(mean[1, 1])


def test_analyse_write_and_plot_histograms_one_has(tmp_path):
    """The notebook path: analyse → write → plot on processor outputs one already has."""
    data, mc, _ = _samples(n=20_000)
    result = analyse({"data": data, "mc": mc}, compare_only=())
    assert isinstance(result, DataMCResult) and result.variables == ["reta"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.run_report = {}  # type: ignore[misc]
    # the fudge factors alone (what a fudged pass needs) are those of the study
    alone = derive_fudge_factors({"data": data, "mc": mc}, compare_only=())
    assert list(alone) == ["reta"]
    np.testing.assert_array_equal(alone["reta"].shift, result.factors["reta"].shift)
    np.testing.assert_array_equal(alone["reta"].width, result.factors["reta"].width)
    assert derive_fudge_factors({"data": data, "mc": mc}, compare_only=("reta",)) == {}
    with pytest.raises(ValueError, match="'data' and 'mc'"):
        analyse({"data": data})
    same = json.dumps  # the tables hold NaN (no edges for "inclusive"): compare as text
    assert same(result.distances["reta"]) == same(distance_table(data, mc, result.factors["reta"]))
    np.testing.assert_array_equal(
        result.samples["reta"]["fudged_mc"], fudged_distribution(mc, result.factors["reta"])
    )
    # the efficiency of the ID: ε = Σw_pass / Σw with the interval of intervals
    table = result.efficiencies["tight"]["data"]
    histogram = data["identification"]
    passed = histogram[{"id": "tight", "passing": True}].sum().value
    total = histogram[{"id": "tight"}].sum().value
    expected = efficiency_interval(passed, total, total)
    assert table["inclusive"]["efficiency"] == pytest.approx(expected[0], rel=1e-12)
    assert table["inclusive"]["error_high"] == pytest.approx(expected[2], rel=1e-12)
    assert table == id_efficiencies(histogram, "tight")
    assert set(result.efficiencies["tight"]) == {"data", "mc"}  # no fudged pass
    assert set(result.parameters["reta"]) == {
        f"{s}_{a}" for s in ("data", "mc", "fudged_mc") for a in ("et", "eta")
    }
    assert "skipped_files" not in result.summary()  # no run, no run report
    json.dumps(result.to_dict())  # every number serialisable
    # an eager processor's probe count is a 0-d array: written as an int
    zero_d = analyse(
        {"data": {**data, "probes": np.asarray(7)}, "mc": {**mc, "probes": np.asarray(9)}},
        compare_only=(),
        factors=result.factors,
    )
    assert json.loads(json.dumps(zero_d.summary()))["probes"] == {"data": 7, "mc": 9}
    assert json.loads(json.dumps(zero_d.to_dict()))["probes"] == {"data": 7, "mc": 9}
    written = write_outputs(result, tmp_path)
    assert {p.name for p in written} == {
        "fudge_factors.json",
        "fudge_table.json",
        "id_efficiencies.json",
        "distributions.root",
        "distances.json",
        "parameters.json",
        "summary.json",
    }
    # strict JSON: undefined numbers (the inclusive row has no edges) are null
    text = (tmp_path / "distances.json").read_text()
    assert "NaN" not in text and text == json.dumps(json_ready(result.distances), indent=1)
    with uproot.open(tmp_path / "distributions.root") as f:
        assert set(f.keys(cycle=False, recursive=False)) == {"data", "mc"}
    drawn = plot_all(result, tmp_path)
    assert {str(p.relative_to(tmp_path)) for p in drawn} == {
        "id_efficiencies.png",
        "reta.png",
        "bins/reta_et.png",
        "bins/reta_eta.png",
    }
    assert all(p.stat().st_size > 10_000 for p in drawn)
    # a second pass's output (here the MC itself) gives the applied distances
    again = analyse(
        {"data": data, "mc": mc, "fudged_mc": mc}, compare_only=(), factors=result.factors
    )
    inclusive = again.distances["reta"]["inclusive"][0]
    assert inclusive["fudged_applied"] == inclusive["unfudged"]
    assert set(again.efficiencies["tight"]) == {"data", "mc", "fudged_mc"}


def test_write_outputs_can_leave_the_fudge_factors_to_the_workflow(tmp_path):
    """The workflow writes the fudge factors before the fudged pass, once."""
    data, mc, _ = _samples(n=2_000)
    result = analyse({"data": data, "mc": mc}, compare_only=())
    with_factors = {p.name for p in write_outputs(result, tmp_path / "all")}
    without = {p.name for p in write_outputs(result, tmp_path / "rest", fudge_factors=False)}
    assert with_factors - without == {"fudge_factors.json", "fudge_table.json"}
    assert not (tmp_path / "rest" / "fudge_factors.json").exists()


def test_run_datamc_gives_its_execution_settings_to_the_run(monkeypatch, tmp_path):
    """The ExecutionSettings reach run_processor (not the schema's ID settings)."""
    given = ExecutionSettings(skip_bad_files=True, retries=1, chunk_size=123)
    seen = {}

    class Stop(Exception):
        pass

    def run_processor(processor, fileset, **options):
        seen.update(options)
        raise Stop

    monkeypatch.setattr(datamc_workflow, "run_processor", run_processor)
    fileset = {
        "mc": {"files": [str(DATA / "zee_mc.root")], "metadata": {"is_data": False}},
        "data": {"files": [str(DATA / "zee_datalike.root")], "metadata": {"is_data": True}},
    }
    with pytest.raises(Stop):
        datamc_workflow.run_datamc(fileset, tmp_path, settings=given, step_size=50)
    assert seen["settings"] is given and seen["step_size"] == 50


def test_run_report_names_what_each_pass_left_out():
    """workflows.common.run_report: the one form of a run's report in every summary."""
    bad_file = Failure("mc", "gone.root", "cannot open")
    bad_chunk = Failure("mc", "zee.root", "cannot read", entry_start=0, entry_stop=50)
    first = FilesetRun(outputs={}, failures=[bad_file])
    fudged = FilesetRun(outputs={}, failures=[bad_file, bad_chunk])
    assert run_report(first) == {"skipped_files": ["gone.root"], "left_out": [bad_file.to_dict()]}
    report = run_report(first, fudged_pass=fudged)
    assert list(report) == ["skipped_files", "skipped_files_fudged_pass", "left_out"]
    assert report["skipped_files_fudged_pass"] == ["gone.root"]  # the chunk is no file
    assert report["left_out"] == [
        bad_file.to_dict(),
        {**bad_file.to_dict(), "fudged_pass": True},
        {**bad_chunk.to_dict(), "fudged_pass": True},
    ]
    # a pass that did not run: named, nothing left out
    assert run_report(first, fudged_pass=None)["skipped_files_fudged_pass"] == []


def test_quantile_mapping_and_gaussian_parameters():
    rng = np.random.default_rng(5)
    edges = np.linspace(-5, 10, 301)
    mc, _ = np.histogram(rng.normal(0, 1, 100_000), edges)
    data, _ = np.histogram(rng.exponential(2, 100_000), edges)
    mapped = quantile_map(mc, data, edges, rng.normal(0, 1, 100_000))
    # the mapped Gaussian follows the exponential: its quantiles are 2 ln(1/(1 − p))
    for p in (0.25, 0.5, 0.9):
        assert np.quantile(mapped, p) == pytest.approx(2 * np.log(1 / (1 - p)), rel=0.03)
    counts, _ = np.histogram(rng.normal(3.0, 0.5, 50_000), edges)
    parameters = gaussian_parameters(counts, edges)
    assert parameters["status"] == "ok"
    assert parameters["peak"] == pytest.approx(3.0, abs=0.02)
    assert parameters["width"] == pytest.approx(0.5, rel=0.05)
    assert np.isnan(gaussian_parameters(np.zeros(300), edges)["mean"])


def test_processor_on_hand_built_events_has_exact_moments():
    def electron(pt, eta, phi, charge, reta):
        return {
            "pt": pt,
            "eta": eta,
            "phi": phi,
            "mass": 0.000511,
            "charge": charge,
            "good": True,
            "reta": reta,
        }

    def pair(mass, pt=45.0):
        dphi = math.acos(math.cosh(0.8) - mass**2 / (2 * pt * pt))
        return (pt, 0.4, 0.0), (pt, -0.4, dphi)

    (a1, a2), (b1, b2) = pair(91.0), pair(70.0)
    events = ak.Array(
        {
            "Electron": [
                [electron(*a1, 1, 0.95), electron(*a2, -1, 0.90)],  # in the window: 2 probes
                [electron(*b1, 1, 0.80), electron(*b2, -1, 0.85)],  # m = 70: outside
            ]
        }
    )
    config = TnPConfig(
        probe_id=("good",),
        tag_id="good",
        probe_et_field="pt",
        probe_eta_field="eta",
        truth=None,
    )
    out = DataMCProcessor(config, {"reta": (10, 0.5, 1.0)}, weight=None, ids=("good",))
    out = out.process(events)["sample"]
    assert out["probes"] == 2
    passing = out["identification"][{"id": "good", "et": sum, "eta": sum}].values()
    assert list(passing) == [0.0, 2.0]  # both probes in the window pass, none fails
    n, mean, _variance = moments(out, "reta")
    assert n.sum() == 2
    total_sum = np.nansum(mean * n)
    assert total_sum == pytest.approx(0.95 + 0.90)
    # no IDs, no identification histogram (one never filled fails on a distributed cluster)
    plain = DataMCProcessor(config, {"reta": (10, 0.5, 1.0)}, weight=None, ids=())
    assert "identification" not in plain.process(events)["sample"]
    with pytest.raises(ValueError, match="no column 'nothing'"):
        DataMCProcessor(config, {"nothing": (10, 0, 1)}, weight=None, ids=()).process(events)
    with pytest.raises(ValueError, match="no column 'llh_loose'"):
        DataMCProcessor(config, {"reta": (10, 0.5, 1.0)}, weight=None).process(events)


def test_the_datamc_command(tmp_path, monkeypatch):
    # the study is analysed once, after the fudged pass, on the factors derived before it
    calls = {"analyse": 0, "derive_fudge_factors": 0}
    for name in calls:
        original = getattr(datamc_workflow, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(datamc_workflow, name, counted)
    missing = str(tmp_path / "missing.root")
    fileset = tmp_path / "fileset.json"
    fileset.write_text(
        json.dumps(
            {
                "mc": {"files": [str(DATA / "zee_mc.root")]},
                "data": {"files": [str(DATA / "zee_datalike.root")]},
                "broken_mc": {"files": {missing: "Events"}, "metadata": {"is_data": False}},
            }
        )
    )
    out = tmp_path / "out"
    args = ["datamc", str(fileset), "--out-dir", str(out), "--workers", "0"]
    assert main(args) == 2  # the missing file stops the run without permission
    # with it (the execution settings reach both passes) the file is left out, named
    assert main([*args, "--skip-bad-files"]) == 0
    assert calls == {"analyse": 1, "derive_fudge_factors": 1}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_files"] == [missing]
    assert summary["skipped_files_fudged_pass"] == [missing]
    assert summary["probes"]["data"] > 0 and summary["probes"]["mc"] > 0
    correction = correctionlib.CorrectionSet.from_file(str(out / "fudge_factors.json"))
    assert np.isfinite(correction[CORRECTION_NAME].evaluate("reta", 0.3, 40.0, 0.95))
    assert (out / "reta.png").stat().st_size > 20_000
    distances = json.loads((out / "distances.json").read_text())
    assert {"et", "eta", "inclusive"} <= set(distances["f3"])
    # the fudged pass: the file applied candidate by candidate, and the ID efficiencies
    for variable in ("reta", "cnn_score"):
        assert distances[variable]["inclusive"][0]["fudged_applied"]["l1"] >= 0
    efficiencies = json.loads((out / "id_efficiencies.json").read_text())
    assert set(efficiencies) == {f"{m}_{w}" for m in ("llh", "cnn") for w in WORKING_POINTS}
    for by_sample in efficiencies.values():
        assert set(by_sample) == {"data", "mc", "fudged_mc"}
        # the same MC probes with and without fudging
        assert (
            by_sample["mc"]["inclusive"]["probes"] == by_sample["fudged_mc"]["inclusive"]["probes"]
        )
    assert (out / "id_efficiencies.png").stat().st_size > 20_000
    # every distribution per bin: plots, and the TH3s for any other projection
    assert (out / "bins" / "f1_et.png").stat().st_size > 20_000
    with uproot.open(out / "distributions.root") as f:
        mc_reta = f["mc/reta"].to_hist()
    assert mc_reta.sum(flow=True).value == pytest.approx(summary["probes"]["mc"])


WORKING_POINTS = ("loose", "medium", "tight")


def _write_fudge(path, centre_mc, centre_data, width, variables=("reta", "weta2")):
    et_edges, eta_edges = np.array([5.0, 40.0, 250.0]), np.array([-2.5, 0.0, 2.5])
    ones = np.ones((2, 2))
    factors = {
        v: FudgeFactors(
            v, et_edges, eta_edges, ones * centre_mc[v], ones * centre_data[v], ones * width[v]
        )
        for v in variables
    }
    write_correctionlib(factors, path)
    return factors


def test_fudged_mc_columns_llh_and_cnn(tmp_path):
    """EGammaSchema.with_fudge: fudged shower shapes, and the LLH and CNN see them."""
    path = tmp_path / "fudge.json"
    centre = {"reta": 0.95, "weta2": 0.010}
    factors = _write_fudge(
        path, centre, {"reta": 0.94, "weta2": 0.0106}, {"reta": 1.4, "weta2": 1.2}
    )
    plain = open_events(DATA / "zee_mc.root").Electron
    fudged = open_events(DATA / "zee_mc.root", schemaclass=EGammaSchema.with_fudge(path)).Electron
    flat = lambda a: ak.to_numpy(ak.flatten(a)).astype(float)  # noqa: E731
    expected = apply_fudge(
        factors["reta"], flat(plain.reta), flat(plain.cluster_et), flat(plain.clusterEta)
    )
    np.testing.assert_allclose(flat(fudged.reta), expected, rtol=1e-12)
    np.testing.assert_array_equal(flat(fudged.rphi), flat(plain.rphi))  # no factors: as is
    assert np.mean(flat(fudged.llh_score) != flat(plain.llh_score)) > 0.5
    assert np.mean(flat(fudged.cnn_score) != flat(plain.cnn_score)) > 0.5
    # the same fudge lazily, chunked differently, gives the same columns
    lazy = open_events(
        DATA / "zee_mc.root",
        mode="dask",
        steps_per_file=2,
        schemaclass=EGammaSchema.with_fudge(path),
    ).Electron
    reta, llh = dask.compute(lazy.reta, lazy.llh_score)
    np.testing.assert_allclose(flat(reta), flat(fudged.reta), rtol=1e-12)
    np.testing.assert_allclose(flat(llh), flat(fudged.llh_score), rtol=1e-6)
    # an identity fudge (no shift, width 1) changes nothing
    same = tmp_path / "identity.json"
    _write_fudge(same, centre, centre, {"reta": 1.0, "weta2": 1.0})
    identity = open_events(DATA / "zee_mc.root", schemaclass=EGammaSchema.with_fudge(same)).Electron
    np.testing.assert_array_equal(flat(identity.cnn_score), flat(plain.cnn_score))
    np.testing.assert_array_equal(flat(identity.llh_score), flat(plain.llh_score))
    # the file travels as its path and tokenises by its content
    fudge = FudgeFile(path)
    assert pickle.loads(pickle.dumps(fudge)).variables == ("reta", "weta2")
    assert tokenize(fudge) != tokenize(FudgeFile(same))
    # other identification settings keep the fudge
    kept = EGammaSchema.with_fudge(path).with_identification(batch_size=64)
    assert kept.identification.fudge == str(path) and kept.identification.batch_size == 64
    # a file rewritten after it was given to a run is an error, not a mix of factors
    pickled = pickle.dumps(fudge)
    path.write_text(same.read_text())
    with pytest.raises(ValueError, match="changed after the run started"):
        pickle.loads(pickled)


def test_fudge_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no fudge-factor file"):
        EGammaSchema.with_fudge(tmp_path / "missing.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ValueError, match="not a correctionlib JSON"):
        FudgeFile(tmp_path / "text.json")
    other = cs.Correction(
        name="scale_factors",
        version=1,
        inputs=[cs.Variable(name="x", type="real")],
        output=cs.Variable(name="sf", type="real"),
        data=1.0,
    )
    write_correction(other, tmp_path / "sf.json")
    with pytest.raises(ValueError, match="no correction 'egamma_cnn_fudge'"):
        FudgeFile(tmp_path / "sf.json")


def test_a_fudge_file_that_would_change_nothing_is_refused(tmp_path):
    """Factors of no shower-shape column (another variable set, a misspelt name) changed
    nothing, silently; factors of some of them: a warning names the others."""
    centre = {"Reta": 0.95, "foo": 1.0, "reta": 0.95}
    none_applied = tmp_path / "none.json"
    _write_fudge(none_applied, centre, centre, dict.fromkeys(centre, 1.1), ("Reta", "foo"))
    for make in (EGammaSchema.with_fudge, lambda f: EGammaSchema.with_identification(fudge=f)):
        with pytest.raises(ValueError, match=r"\['Reta', 'foo'\], none of which is a shower"):
            make(none_applied)
    some = tmp_path / "some.json"
    _write_fudge(some, centre, centre, dict.fromkeys(centre, 1.1), ("reta", "foo"))
    with pytest.warns(UserWarning, match=r"fudge factors of \['foo'\] are not applied"):
        EGammaSchema.with_fudge(some)


def test_a_data_like_file_is_never_fudged(tmp_path):
    """The docs said "never give it for data"; now a file without truth branches is refused."""
    path = tmp_path / "fudge.json"
    _write_fudge(path, {"reta": 0.95}, {"reta": 0.94}, {"reta": 1.2}, ("reta",))
    data = Path(__file__).parent / "data" / "zee_datalike.root"
    with pytest.raises(ValueError, match="are for simulation, and this file has no truth"):
        open_events(data, schemaclass=EGammaSchema.with_fudge(path))
    mc = Path(__file__).parent / "data" / "zee_mc.root"
    assert len(open_events(mc, schemaclass=EGammaSchema.with_fudge(path)).Electron.reta) == 40
