"""The models that ship inside the package: present, small, self-describing, and sensible."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

import egamma_cnn
from egamma_cnn.features import ELECTRON_HLV_NAMES, electron_features
from egamma_cnn.images import electron_image_batch, photon_image_batch, track_array_batch
from egamma_cnn.model import (
    SHIPPED_MODELS,
    CutBasedPhotonID,
    LikelihoodID,
    discriminant,
    load_model,
)
from egamma_cnn.model.onnx_model import shipped_model_path
from egamma_cnn.nanoevents import open_events

MC = Path(__file__).parent / "data" / "zee_mc.root"
MODELS = Path(egamma_cnn.__file__).parent / "data" / "models"


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_model_loads_with_its_metadata(name):
    path = shipped_model_path(name)
    assert path.stat().st_size <= 20 * 1024**2
    model = load_model(name)  # checks the geometry and input versions
    metadata = model.metadata
    assert metadata["training"]["candidates"]["train"] > 10_000
    assert model.working_points is not None
    assert "headline" in metadata.get("metrics", {}), "run egamma-cnn evaluate on the models"


def test_model_card_lists_every_shipped_file():
    card = (MODELS / "MODEL_CARD.md").read_text()
    for filename in [*SHIPPED_MODELS.values(), "electron_llh.json", "photon_cuts.json"]:
        assert filename in card
        assert (MODELS / filename).is_file()
    assert "egamma-cnn train-samples" in card and "egamma-cnn evaluate" in card


@pytest.fixture(scope="module")
def events():
    return open_events(MC)


def test_electron_scores_of_a_real_file(events):
    electrons = events.Electron
    inputs = electron_image_batch(events.CaloCell, electrons)
    inputs["tracks"] = track_array_batch(events.Track, electrons)
    features = ak.flatten(electron_features(events))
    inputs["hlv"] = np.stack([ak.to_numpy(features[n]) for n in ELECTRON_HLV_NAMES], axis=1)
    model = load_model("electron")
    probs = model.predict(inputs)
    assert probs.shape == (len(inputs["hlv"]), 6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    score = discriminant(probs, model.metadata["discriminant"]["weights"])
    truth = ak.to_numpy(ak.flatten(electrons.truthClass))
    et = ak.to_numpy(ak.flatten(electrons.clusterE / np.cosh(electrons.clusterEta)))
    hard = et > 15
    # prompt Z electrons score far above the pile-up and underlying-event fakes
    assert np.median(score[(truth == 0) & hard]) > 0.9
    assert np.median(score[truth == 5]) < 0.1
    tight = model.working_points.passes("tight", score, et, features["eta"])
    assert tight[(truth == 0) & hard].mean() > 0.6
    assert tight[truth == 5].mean() < 0.05


def test_photon_and_baseline_files_load(events):
    photons = events.Photon
    probs = load_model("photon").predict(photon_image_batch(events.CaloCell, photons))
    assert np.all((probs >= 0) & (probs <= 1)) and probs.shape[1] == 2
    assert set(CutBasedPhotonID.load(MODELS / "photon_cuts.json").menus) == {"loose", "tight"}
    llh = LikelihoodID.load(MODELS / "electron_llh.json")
    assert set(llh.working_points) == {"loose", "medium", "tight"}
