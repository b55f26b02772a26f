"""Data/MC: distances, fudge-factor closure, the processor on hand-built events, the command."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import hist
import numpy as np
import pytest
import scipy.stats

from egamma_cnn.cli import main
from egamma_cnn.corrections import (
    CORRECTION_NAME,
    FudgeFactors,
    FudgeFile,
    apply_fudge,
    write_correctionlib,
)
from egamma_cnn.datamc import (
    hellinger_distance,
    l1_distance,
    quantile_map,
    wasserstein_distance,
)
from egamma_cnn.datamc.analysis import (
    derive_fudge,
    distance_table,
    fudged_distribution,
    gaussian_parameters,
    moments,
)
from egamma_cnn.processors.data_mc import DataMCProcessor
from egamma_cnn.tnp import TnPConfig

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
    rng = np.random.default_rng(4)
    for _ in range(5):
        p, q = rng.random(30), rng.random(30)
        e = np.sort(rng.uniform(-3, 3, 31))
        c = 0.5 * (e[1:] + e[:-1])
        assert wasserstein_distance(p, q, e) == pytest.approx(
            scipy.stats.wasserstein_distance(c, c, p, q), rel=1e-12
        )
    assert np.isnan(l1_distance([0, 0], [1, 1]))
    with pytest.raises(ValueError, match="negative"):
        l1_distance([-1, 2], [1, 1])


def _output(values: np.ndarray, et: np.ndarray, eta: np.ndarray, config, variables) -> dict:
    """A DataMCProcessor-shaped output filled directly from arrays."""
    processor = DataMCProcessor(config, variables)
    factory = hist.Hist.new
    moments_hist = (
        factory.StrCategory(list(variables), name="variable")
        .StrCategory(["n", "sum", "sum2"], name="moment")
        .Variable(list(config.et_edges), name="et")
        .Variable(list(config.eta_edges), name="eta")
        .Double()
    )
    distributions = {}
    for name, (bins, low, high) in processor.variables.items():
        h = (
            hist.Hist.new.Reg(bins, low, high, name="value")
            .Variable(list(config.et_edges), name="et")
            .Variable(list(config.eta_edges), name="eta")
            .Weight()
        )
        h.fill(value=values, et=et, eta=eta)
        distributions[name] = h
        for moment, w in (("n", np.ones_like(values)), ("sum", values), ("sum2", values**2)):
            moments_hist.fill(variable=name, moment=moment, et=et, eta=eta, weight=w)
    return {"probes": len(values), "moments": moments_hist, "distributions": distributions}


def test_fudge_factors_recover_a_known_shift_and_width(tmp_path):
    import correctionlib

    config = TnPConfig(et_edges=(15.0, 40.0, 80.0), eta_edges=(-2.5, 0.0, 2.5))
    variables = {"reta": (80, 0.80, 1.05)}
    rng = np.random.default_rng(11)
    n = 200_000
    et = rng.uniform(15, 80, n)
    eta = rng.uniform(-2.5, 2.5, n)
    # the MC variable depends on the bin; the "data" is the same shifted and widened
    centre = 0.93 + 0.01 * (et > 40) + 0.005 * (eta > 0)
    mc_values = centre + rng.normal(0, 0.01, n)
    shift, width = 0.004, 1.15
    data_values = centre + shift + width * rng.normal(0, 0.01, n)
    mc = _output(mc_values, et, eta, config, variables)
    data = _output(data_values, et, eta, config, variables)
    factors = derive_fudge(data, mc, "reta")
    np.testing.assert_allclose(factors.shift, shift, atol=2e-4)
    np.testing.assert_allclose(factors.width, width, rtol=0.02)
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

    import math

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
    with pytest.raises(ValueError, match="no column 'nothing'"):
        DataMCProcessor(config, {"nothing": (10, 0, 1)}, weight=None, ids=()).process(events)
    with pytest.raises(ValueError, match="no column 'llh_loose'"):
        DataMCProcessor(config, {"reta": (10, 0.5, 1.0)}, weight=None).process(events)


def test_the_datamc_command(tmp_path):
    import correctionlib

    fileset = tmp_path / "fileset.json"
    fileset.write_text(
        json.dumps(
            {
                "mc": {"files": [str(DATA / "zee_mc.root")]},
                "data": {"files": [str(DATA / "zee_datalike.root")]},
            }
        )
    )
    out = tmp_path / "out"
    assert main(["datamc", str(fileset), "--out-dir", str(out), "--workers", "0"]) == 0
    summary = json.loads((out / "summary.json").read_text())
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
    import uproot

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
    import pickle

    import dask
    from dask.base import tokenize

    from egamma_cnn.nanoevents import EGammaSchema, open_events

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
    with pytest.raises(ValueError, match="changed after it was given"):
        pickle.loads(pickled)


def test_fudge_file_errors(tmp_path):
    from egamma_cnn.corrections import write_correction
    from egamma_cnn.nanoevents import EGammaSchema

    with pytest.raises(FileNotFoundError, match="no fudge-factor file"):
        EGammaSchema.with_fudge(tmp_path / "missing.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ValueError, match="not a correctionlib JSON"):
        FudgeFile(tmp_path / "text.json")
    import correctionlib.schemav2 as cs

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
