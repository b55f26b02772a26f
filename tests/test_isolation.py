"""Isolation: working points (built-in and user-defined), ID–isolation correlation,
ROC curves of isolation cones and scores, the command."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import hist
import numpy as np
import pytest
import scipy.stats

from egamma_cnn.cli import main
from egamma_cnn.isolation import (
    area_under_curve,
    background_efficiency_at,
    correlations,
    factorisation,
    roc_curve,
    working_point_efficiencies,
)
from egamma_cnn.nanoevents import open_events
from egamma_cnn.processors.isolation import IsolationProcessor
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
    out = IsolationProcessor(working_points=working_points).process(events)["sample"]
    return events, working_points, out


def test_user_working_point_equals_the_built_in_column_and_hand_counts(processed):
    events, _, out = processed
    config = TnPConfig()
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
    config = TnPConfig()
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
        IsolationProcessor(working_points=working_points).process(lazy)["sample"]
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
    eff_s, eff_b = roc_curve(h, (0,), (3,), higher_is_signal=True)
    assert eff_s[0] == eff_b[0] == 0 and eff_s[-1] == eff_b[-1] == 1
    u = scipy.stats.mannwhitneyu(np.concatenate([signal, outside]), background).statistic
    assert area_under_curve(eff_s, eff_b) == pytest.approx(u / (3002 * 2000), abs=1e-12)
    # the same with "lower is signal": the mirrored discriminant has the same AUC
    mirrored = _discriminant(1 - np.concatenate([signal, outside]), 1 - background, edges)
    eff_s2, eff_b2 = roc_curve(mirrored, (0,), (3,), higher_is_signal=False)
    assert area_under_curve(eff_s2, eff_b2) == pytest.approx(u / (3002 * 2000), abs=1e-12)
    # background efficiency at a signal efficiency: the fraction above the same cut
    cut = np.quantile(signal, 0.3)
    target = float(np.mean(signal >= cut)) * 3000 / 3002 + 1 / 3002  # the 1.5 outside
    at = background_efficiency_at(eff_s, eff_b, target)
    assert at == pytest.approx(np.mean(background >= cut), abs=0.01)


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
