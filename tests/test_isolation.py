"""Isolation: working points (built-in and user-defined), ID–isolation correlation,
ROC curves of isolation cones and scores, the command."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import awkward as ak
import hist
import numpy as np
import pytest
import scipy.stats

from egamma_cnn.cli import main
from egamma_cnn.isolation import (
    analyse,
    correlations,
    factorisation,
    roc_curve_from_histogram,
    working_point_efficiencies,
)
from egamma_cnn.isolation.analysis import roc_table
from egamma_cnn.isolation.outputs import write_outputs
from egamma_cnn.isolation.plots import _roc_labels, plot_all
from egamma_cnn.isolation.variables import discriminant_ranges
from egamma_cnn.model.performance import auc, roc_curve
from egamma_cnn.nanoevents import open_events
from egamma_cnn.processors.isolation import TRUTH_CLASSES, IsolationProcessor
from egamma_cnn.tnp import IdSpec, TnPConfig

DATA = Path(__file__).parent / "data"


def _flat(array):
    return ak.to_numpy(ak.flatten(array))


@pytest.fixture(scope="module")
def processed():
    events = open_events(DATA / "zee_mc.root")
    working_points = {
        "iso_loose": "iso_loose",
        "mine": "ptvarcone30/pt < 0.15 and etcone20/pt < 0.2",
        "track_only": "ptvarcone30/pt < 0.05",
    }
    # E_T bins up to 60 GeV, so that some true electrons lie above the binning
    config = TnPConfig(et_edges=(15.0, 20.0, 30.0, 40.0, 50.0, 60.0))
    out = IsolationProcessor(config, working_points=working_points).process(events)["sample"]
    return events, working_points, out


def test_user_working_point_equals_the_built_in_column_and_hand_counts(processed):
    events, _, out = processed
    config = TnPConfig(et_edges=(15.0, 20.0, 30.0, 40.0, 50.0, 60.0))
    electrons = events.Electron
    keep = (electrons.cluster_et > config.probe_min_et) & (abs(electrons.clusterEta) < 2.47)
    chosen = electrons[keep]
    mine = IdSpec.parse("ptvarcone30/pt < 0.15 and etcone20/pt < 0.2").evaluate(chosen)
    np.testing.assert_array_equal(_flat(mine), _flat(chosen.iso_loose))
    # counts of the histogram against a count by hand (true electrons, inside the binning)
    truth = _flat(chosen.truthClass)
    et = _flat(chosen.cluster_et)
    inside = (et >= config.et_edges[0]) & (et < config.et_edges[-1])
    passing = _flat(chosen.ptvarcone30 < 0.05 * chosen.pt)
    true = np.isin(truth, (0, 1)) & inside
    table = working_point_efficiencies(out["working_points"], "track_only", (0, 1))
    assert table["inclusive"]["n"] == true.sum()
    assert table["inclusive"]["efficiency"] == pytest.approx(passing[true].mean())
    assert 0 < table["inclusive"]["error_low"] < 0.2
    # the true electrons outside the E_T binning are counted, not lost
    assert table["outside_binning"] == np.sum(np.isin(truth, (0, 1)) & ~inside) > 0
    # the factorisation ratio: ε(iso | cnn_tight) / ε(iso), counted by hand
    tight = _flat(chosen.cnn_tight) & true
    ratio = factorisation(out["working_points"], "track_only", (0, 1), "cnn_tight")
    assert ratio["inclusive"]["n_given"] == tight.sum()
    expected = passing[tight].mean() / passing[true].mean()
    assert ratio["inclusive"]["ratio"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="'all' names"):
        IsolationProcessor(given_ids=("all",))


def test_correlations_equal_numpy_and_eager_equals_dask(processed):
    import dask

    events, working_points, out = processed
    config = TnPConfig(et_edges=(15.0, 20.0, 30.0, 40.0, 50.0, 60.0))  # the fixture's
    electrons = events.Electron
    keep = (electrons.cluster_et > config.probe_min_et) & (abs(electrons.clusterEta) < 2.47)
    chosen = electrons[keep]
    truth = _flat(chosen.truthClass)
    x = _flat(chosen.cnn_score).astype(float)
    y = _flat(chosen.etcone20 / chosen.pt).astype(float)
    inside = _flat(chosen.cluster_et) < config.et_edges[-1]
    true = np.isin(truth, (0, 1)) & inside
    expected = np.corrcoef(x[true], y[true])[0, 1]
    got = correlations(out["sums"], "cnn_score", "etcone20_rel", (0, 1), "inclusive")
    assert float(got) == pytest.approx(expected, rel=1e-9)
    assert np.isnan(correlations(out["sums"], "llh_score", "etcone20_rel", -1, "inclusive"))
    lazy = open_events(DATA / "zee_mc.root", mode="dask", steps_per_file=2)
    (computed,) = dask.compute(
        IsolationProcessor(config, working_points=working_points).process(lazy)["sample"]
    )
    for key in ("sums", "working_points"):
        np.testing.assert_allclose(computed[key].values(), out[key].values(), rtol=1e-12)
    for name in ("cnn_score", "ptvarcone30_rel", "cone0.200"):
        np.testing.assert_array_equal(
            computed["discriminants"][name].values(flow=True),
            out["discriminants"][name].values(flow=True),
        )
    # every candidate inside the E_T binning is in each discriminant's histogram
    n = int(np.sum(_flat(chosen.cluster_et) < config.et_edges[-1]))
    assert out["discriminants"]["cone0.400"].sum(flow=True) == n


def _discriminant(values_signal, values_background, edges):
    h = hist.Hist.new.Variable(edges, name="value").IntCategory([0, 3], name="truth").Double()
    h.fill(value=values_signal, truth=0)
    h.fill(value=values_background, truth=3)
    return h


def test_roc_auc_equals_the_mann_whitney_statistic():
    rng = np.random.default_rng(3)
    edges = np.linspace(0.0, 1.0, 201)
    centres = 0.5 * (edges[1:] + edges[:-1])
    # values on the bin centres: binning keeps their order and their ties
    signal = rng.choice(centres, 3000, p=np.linspace(0.1, 1.9, 200) / 200)
    background = rng.choice(centres, 2000)
    outside = np.array([-0.5, 1.5])  # in the flow bins: still counted
    h = _discriminant(np.concatenate([signal, outside]), background, edges)
    curve = roc_curve_from_histogram(h, (0,), (3,), higher_is_signal=True)
    eff_s, eff_b = curve.signal_efficiency, curve.background_efficiency
    assert eff_s[0] == eff_b[0] == 0 and eff_s[-1] == eff_b[-1] == 1
    u = scipy.stats.mannwhitneyu(np.concatenate([signal, outside]), background).statistic
    assert curve.auc() == pytest.approx(u / (3002 * 2000), abs=1e-12)
    # the same with "lower is signal": the mirrored discriminant has the same AUC
    mirrored = _discriminant(1 - np.concatenate([signal, outside]), 1 - background, edges)
    curve2 = roc_curve_from_histogram(mirrored, (0,), (3,), higher_is_signal=False)
    assert curve2.auc() == pytest.approx(u / (3002 * 2000), abs=1e-12)
    # background efficiency at a signal efficiency: the fraction above the same cut
    cut = np.quantile(signal, 0.3)
    target = float(np.mean(signal >= cut)) * 3000 / 3002 + 1 / 3002  # the 1.5 outside
    at = curve.background_efficiency_at(target)
    assert at == pytest.approx(np.mean(background >= cut), abs=0.01)


def test_histogram_and_candidate_roc_curves_are_one_implementation():
    """On values at the bin centres the histogram's curve is the per-candidate curve of
    model.performance, point for point, with the cut values as thresholds."""
    rng = np.random.default_rng(7)
    edges = np.linspace(0.0, 1.0, 51)
    centres = 0.5 * (edges[1:] + edges[:-1])
    signal = rng.choice(centres, 400, p=np.linspace(0.2, 1.8, 50) / 50)
    background = rng.choice(centres, 300)
    values = np.concatenate([signal, background])
    is_signal = np.r_[np.ones(400, bool), np.zeros(300, bool)]
    per_candidate = roc_curve(values, is_signal)
    binned = roc_curve_from_histogram(_discriminant(signal, background, edges), (0,), (3,), True)
    # the binned curve has a point at every edge; the empty bins add repeated points
    keep = np.r_[True, np.diff(binned.signal_efficiency + binned.background_efficiency) > 0]
    np.testing.assert_array_equal(binned.signal_efficiency[keep], per_candidate.signal_efficiency)
    np.testing.assert_array_equal(
        binned.background_efficiency[keep], per_candidate.background_efficiency
    )
    assert binned.auc() == pytest.approx(auc(values, is_signal), abs=1e-15)
    # a point's threshold is its cut: the signal fraction at or above it
    for k in (5, 20, 40):
        t = binned.threshold[k]
        assert binned.signal_efficiency[k] == pytest.approx(np.mean(signal >= t), abs=1e-15)
    assert binned.threshold[0] == np.inf and binned.threshold[-1] == -np.inf
    # lower is signal: cuts value < t, ascending
    lower = roc_curve_from_histogram(_discriminant(signal, background, edges), (0,), (3,), False)
    assert lower.threshold[0] == -np.inf and np.all(np.diff(lower.threshold) > 0)
    k = 12
    assert lower.signal_efficiency[k] == pytest.approx(np.mean(signal < lower.threshold[k]))
    # the ε_B at ε_S of the curve is numpy's linear interpolation, to the bit
    targets = np.array([0.8, 0.9, 0.95, 0.333])
    np.testing.assert_array_equal(
        binned.background_efficiency_at(targets),
        np.interp(targets, binned.signal_efficiency, binned.background_efficiency),
    )


def test_roc_curve_of_an_empty_class_is_nan():
    h = _discriminant([0.2, 0.4], [], np.linspace(0.0, 1.0, 11))
    curve = roc_curve_from_histogram(h, (0,), (3,), True)
    assert np.isnan(curve.auc())
    assert np.isnan(curve.background_efficiency_at(0.9))


def test_analyse_write_and_plot_on_histograms(processed, tmp_path):
    """The notebook path: histograms → analyse → write → plot."""
    _, working_points, out = processed
    result = analyse({"mc": out}, working_points)
    assert result.scores == ("cnn_score", "llh_score")
    assert list(result.working_points) == list(working_points)
    mine = result.working_points["mine"]
    assert mine["specification"] == working_points["mine"]
    assert result.working_points["iso_loose"]["specification"] == (
        "ptvarcone30/pt < 0.15 and etcone20/pt < 0.2"
    )
    assert mine["true electrons"] == working_point_efficiencies(
        out["working_points"], "mine", (0, 1)
    )
    assert set(mine["factorisation"]) == {"cnn_tight", "llh_tight"}
    expected = correlations(out["sums"], "cnn_score", "etcone20_rel", (0, 1), "inclusive")
    got = result.correlations["cnn_score vs etcone20_rel"]["true electrons"]["inclusive"][0]
    assert np.isfinite(got) and got == float(expected)
    # the small test file has 2 non-prompt candidates: no ROC curve, said so
    assert all(v["status"].startswith("fewer than") for v in result.roc.values())
    assert result.curves == {}
    summary = result.summary()
    assert summary["candidates"] == {"mc": int(out["candidates"])}
    assert "skipped_files" not in summary and "tnp" not in summary  # no run, no tnp
    assert (
        summary["working_point_efficiencies"]["mine"]["true electrons"]
        == (mine["true electrons"]["inclusive"]["efficiency"])
    )
    assert summary["roc"] == result.to_dict()["roc"]
    # the files: exactly the JSON of to_dict and summary, NaN written as null
    paths = write_outputs(result, tmp_path)
    names = ["working_points.json", "correlations.json", "roc.json", "summary.json"]
    assert [p.name for p in paths] == names
    data = result.to_dict()
    for path, key in zip(paths[:3], ("working_points", "correlations", "roc"), strict=True):
        assert json.loads(path.read_text()) == data[key]
    assert "NaN" not in (tmp_path / "correlations.json").read_text()
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    # a run's report after the candidates, the tag-and-probe's summary last, NaN as null
    report = {"skipped_files": ["gone.root"], "left_out": [{"file": "gone.root"}]}
    ran = analyse({"mc": out}, working_points, run_report=report, tnp_summary={"sf": float("nan")})
    keys = list(ran.summary())
    assert keys[:3] == ["candidates", "skipped_files", "left_out"] and keys[-1] == "tnp"
    assert ran.summary()["tnp"] == {"sf": None}
    assert {k: v for k, v in ran.summary().items() if k not in (*report, "tnp")} == summary
    pngs = plot_all(result, tmp_path / "plots")
    assert [p.name for p in pngs] == [
        "working_points.png",
        "correlations.png",
        "score_vs_isolation.png",
    ]
    assert all(p.stat().st_size > 20_000 for p in pngs)
    with pytest.raises(ValueError, match="particle"):
        analyse({"mc": out}, particle="muon")
    # without specifications: the histogram's names, built-in columns spelled out
    assert list(analyse({"mc": out}).specifications) == list(working_points)


def _discriminants(rng):
    """Discriminant histograms of 300 true electrons and 100 candidates of each
    non-prompt class, in the processor's format; the smallest cone is reversed
    (signal at large values, as containment makes it)."""
    histograms = {}
    for name, (bins, low, high, higher) in discriminant_ranges().items():
        h = hist.Hist.new.Reg(bins, low, high, name="value")
        h = h.IntCategory(list(TRUTH_CLASSES), name="truth").Double()
        sign = 1.0 if higher or name == "cone0.025" else -1.0
        for truth, n, shift in ((0, 300, 1.0), (1, 50, 1.0), (3, 100, 0.0), (4, 100, 0.0)):
            h.fill(value=0.3 + sign * 0.2 * shift + 0.15 * rng.standard_normal(n), truth=truth)
        histograms[name] = h
    return histograms


def test_roc_table_turns_small_cones_round_and_plots(processed, tmp_path):
    histograms = _discriminants(np.random.default_rng(11))
    table, curves = roc_table(histograms, ("cnn_score", "llh_score"))
    assert table["heavy flavour"]["signal"] == 350 and table["heavy flavour"]["background"] == 100
    assert table["all non-prompt"]["background"] == 200  # no class 5 filled
    rows = table["non-prompt electrons"]["discriminants"]
    assert list(rows) == list(discriminant_ranges())
    assert rows["cone0.025"]["signal_side"] == "above" and rows["cone0.025"]["auc"] > 0.5
    assert rows["cone0.400"]["signal_side"] == "below"
    assert rows["cnn_score"]["signal_side"] == "above"
    best = table["non-prompt electrons"]["best_cone"]
    assert rows[best]["auc"] == max(r["auc"] for n, r in rows.items() if n.startswith("cone"))
    curve = curves["non-prompt electrons"]["cone0.025"]
    assert rows["cone0.025"]["auc"] == curve.auc()
    assert rows["cone0.025"]["background_efficiency_at_0.90"] == (
        curve.background_efficiency_at(0.9)
    )
    assert 0 < rows["cnn_score"]["background_efficiency_at_0.80"] < 0.5
    # the ROC plots of a result with curves
    _, working_points, out = processed
    result = dataclasses.replace(analyse({"mc": out}, working_points), roc=table, curves=curves)
    paths = plot_all(result, tmp_path)
    assert [p.name for p in paths][-2:] == ["roc.png", "auc_vs_cone.png"]
    assert all(p.stat().st_size > 20_000 for p in paths)
    assert set(result.summary()["roc"]["heavy flavour"]) == {
        "best_cone",
        table["heavy flavour"]["best_cone"],
        "cnn_score",
        "llh_score",
        "etcone20_rel",
        "ptvarcone30_rel",
    }


def test_photon_roc_labels_name_the_photon_inputs():
    """The photon CNN reads three EM-layer images only, and its isolations divide by E_T."""
    photon, electron = _roc_labels("photon"), _roc_labels("electron")
    assert "tracks" not in photon["cnn_score"] and "tracks" in electron["cnn_score"]
    assert photon["etcone20_rel"].endswith("/E_T$") and electron["etcone20_rel"].endswith("/p_T$")


def test_the_isolation_command(tmp_path):
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
    args = [
        "isolation",
        str(fileset),
        "--out-dir",
        str(out),
        "--workers",
        "0",
        "--wp",
        "iso_loose",
        "mine=ptvarcone30/pt < 0.1 and etcone20/pt < 0.1",
        "--tnp-datasets",
        "mc",
        "data",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["working_points"]["mine"] == "ptvarcone30/pt < 0.1 and etcone20/pt < 0.1"
    efficiency = summary["working_point_efficiencies"]["mine"]
    assert set(efficiency) == {"true electrons", "non-prompt", "data candidates"}
    assert set(summary["factorisation"]["mine"]) == {"cnn_tight", "llh_tight"}
    # the small test file has too few heavy-flavour decays: said, not drawn
    roc = json.loads((out / "roc.json").read_text())
    assert roc["heavy flavour"]["status"].startswith("fewer than")
    for name in ("working_points", "correlations", "score_vs_isolation"):
        assert (out / f"{name}.png").stat().st_size > 20_000
    sf = correctionlib.CorrectionSet.from_file(str(out / "tnp" / "scale_factors.json"))
    assert len(list(sf)) == 1
    # the run's report and the tag-and-probe's summary reach summary.json
    assert summary["skipped_files"] == [] and summary["left_out"] == []
    tnp_summary = json.loads((out / "tnp" / "summary.json").read_text())
    assert summary["tnp"]["datasets"] == tnp_summary["datasets"]
    with pytest.raises(SystemExit):
        main(["isolation", str(fileset), "--wp", "bad name=iso_loose"])


def test_photons_prompt_against_non_prompt():
    events = open_events(DATA / "zee_mc.root")
    out = IsolationProcessor(kind="photon").process(events)["sample"]
    config = TnPConfig()
    photons = events.Photon
    keep = (photons.cluster_et > config.probe_min_et) & (abs(photons.clusterEta) < 2.47)
    keep = keep & (photons.cluster_et < config.et_edges[-1])
    chosen = photons[keep]
    prompt = _flat(chosen.isPrompt)
    table = working_point_efficiencies(out["working_points"], "iso_loose", (0,))
    assert table["inclusive"]["n"] == prompt.sum()
    assert table["inclusive"]["efficiency"] == pytest.approx(_flat(chosen.iso_loose)[prompt].mean())
    assert list(out["sums"].axes["score_name"]) == ["cnn_score"]  # no photon likelihood
    with pytest.raises(ValueError, match="kind must be"):
        IsolationProcessor(kind="muon")
