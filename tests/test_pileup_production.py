"""Pile-up in produced samples: fresh minimum-bias for every interaction, so that files of
one process agree within Poisson errors and a block's pile-up depends on its seed only."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from egamma_cnn.sim.production import BLOCK_SIZE, ProductionConfig, produce
from egamma_cnn.sim.validation import per_event_squares, per_file_consistency

pytest.importorskip("pythia8mc")


@pytest.fixture(scope="module")
def zee_files(tmp_path_factory):
    """Four Z→ee files of 60 events at ⟨μ⟩ = 30, seeds 301-304 (about 20 s on one core)."""
    folder = tmp_path_factory.mktemp("pileup")
    paths = []
    for seed in (301, 302, 303, 304):
        path = folder / f"zee_{seed}.root"
        produce(ProductionConfig("zee", 60, seed=seed, pileup_mu=30.0), path, progress=False)
        paths.append(path)
    return paths


def test_per_file_fake_rates_agree_within_poisson_errors(zee_files):
    files = []
    for path in zee_files:
        events = uproot.open(path)["Events"].arrays(
            ["Electron_truthClass", "Pileup_nPU", "Pileup_nTrueInt"]
        )
        counts = np.bincount(ak.to_numpy(ak.flatten(events.Electron_truthClass)), minlength=6)
        files.append(
            {
                "n_events": len(events),
                "class_counts": counts.tolist(),
                "class_counts_squared": per_event_squares(events.Electron_truthClass),
            }
        )
        # the interactions overlaid are Poisson(μ) of each event's μ
        drawn, expected = ak.sum(events.Pileup_nPU), ak.sum(events.Pileup_nTrueInt)
        assert abs(drawn - expected) < 4 * np.sqrt(expected)
    result = per_file_consistency(files)
    hadrons = result["LF hadron"]
    assert hadrons["per_event"] > 0.2  # enough fakes for the test to mean something
    for label, test in result.items():
        assert test["p_value"] > 1e-3, (label, test)


def test_pileup_does_not_depend_on_which_process_ran_a_block(tmp_path):
    """One process runs both blocks (the second after the first's minimum-bias), two
    processes run one each: the same events."""
    n = BLOCK_SIZE + 4
    one, two = tmp_path / "one.root", tmp_path / "two.root"
    cfg = ProductionConfig("zee", n, seed=31, pileup_mu=5.0)
    produce(cfg, one, workers=1, progress=False)
    produce(cfg, two, workers=2, progress=False)
    a, b = uproot.open(one)["Events"].arrays(), uproot.open(two)["Events"].arrays()
    assert ak.sum(a.Pileup_nPU[BLOCK_SIZE:]) > 0
    for field in ("Pileup_nPU", "nCaloCell", "CaloCell_energy", "Electron_pt", "Track_pt"):
        assert ak.to_list(a[field]) == ak.to_list(b[field]), field
