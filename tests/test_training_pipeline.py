"""Training data preparation and the electron/photon training pipelines on the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from egamma_cnn.features import ELECTRON_HLV_NAMES, electron_features
from egamma_cnn.images import electron_image_batch, photon_image_batch, track_array_batch
from egamma_cnn.nanoevents import open_events
from egamma_cnn.train.dataset import electron_selection, load_arrays, prepare_files
from egamma_cnn.train.samples import SamplePlan

DATA = Path(__file__).parent / "data"
MC, DATA_LIKE = DATA / "zee_mc.root", DATA / "zee_datalike.root"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prepared")
    prepare_files([MC], folder / "train", progress=False)
    prepare_files([MC], folder / "test", progress=False)
    return folder


def test_prepared_arrays_are_the_builders_outputs(prepared):
    events = open_events(MC)
    data = load_arrays(prepared / "train", "electron")
    images = electron_image_batch(events.CaloCell, events.Electron)
    np.testing.assert_array_equal(data.arrays["coarse"], images["coarse"])
    np.testing.assert_array_equal(data.arrays["fine"], images["fine"])
    np.testing.assert_array_equal(
        data.arrays["tracks"], track_array_batch(events.Track, events.Electron)
    )
    features = ak.flatten(electron_features(events))
    for name in ELECTRON_HLV_NAMES:
        np.testing.assert_array_equal(
            data.features([name])[:, 0], ak.to_numpy(features[name]).astype(np.float32)
        )
    np.testing.assert_array_equal(
        data.arrays["truth_class"], ak.to_numpy(ak.flatten(events.Electron.truthClass))
    )
    photons = load_arrays(prepared / "train", "photon")
    np.testing.assert_array_equal(
        photons.arrays["middle"], photon_image_batch(events.CaloCell, events.Photon)["middle"]
    )
    assert photons.processes == ["zee"]


def test_selection_applies_the_quality_requirements(prepared):
    data = load_arrays(prepared / "train", "electron")
    selected = electron_selection(data)
    pixel, sct = data.features(["nPixelHits", "nSCTHits"]).T
    assert np.all(data.arrays["et"][selected] > 4.5)
    assert np.all(pixel[selected] >= 2) and np.all(pixel[selected] + sct[selected] >= 7)
    assert 0 < selected.sum() < len(data)


def test_data_like_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="data-like file cannot be a training file"):
        prepare_files([DATA_LIKE], tmp_path, progress=False)


def test_sample_plan_is_disjoint_and_stable():
    small, large = SamplePlan(5).files(), SamplePlan(10).files()
    assert large[: len(small)] == small  # more rounds never change the first ones
    seeds = [f.seed for f in large]
    assert len(set(seeds)) == len(seeds)
    assert {f.round for f in large if f.split == "test"} == {4, 9}
    with pytest.raises(ValueError, match="unknown process"):
        SamplePlan(1, events_per_round=(("ttbar", 10),))


def test_electron_training_writes_a_checked_model(prepared, tmp_path):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from egamma_cnn.model.onnx_model import OnnxModel
    from egamma_cnn.train.electron import train_electron
    from egamma_cnn.train.trainer import TrainingConfig

    out = tmp_path / "electron.onnx"
    metadata = train_electron(
        prepared, out, training=TrainingConfig(max_epochs=1, batch_size=32), progress=False
    )
    model = OnnxModel(out)
    assert model.class_names == (
        "prompt",
        "charge_flip",
        "conversion",
        "heavy_flavour",
        "lf_egamma",
        "lf_hadron",
    )
    assert [s.name for s in model.inputs] == ["coarse", "fine", "tracks", "hlv"]
    assert model.preprocessing["hlv"].names == ELECTRON_HLV_NAMES
    assert set(model.working_points.cuts) == {"loose", "medium", "tight"}
    weights = metadata["discriminant"]["weights"]
    assert sum(weights.values()) == pytest.approx(1.0)
    counts = metadata["training"]["candidates"]
    data = load_arrays(prepared / "train", "electron")
    assert counts["train"] + counts["validation"] == electron_selection(data).sum()
    history = json.loads(out.with_suffix(".training.json").read_text())["history"]
    assert len(history) == 1
