"""Training data preparation and the electron/photon training pipelines on the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from egamma_cnn.features import ELECTRON_HLV_NAMES, electron_features
from egamma_cnn.images import electron_image_batch, photon_image_batch, track_array_batch
from egamma_cnn.model.cut_based import PHOTON_CUT_INPUTS
from egamma_cnn.model.likelihood import LikelihoodID
from egamma_cnn.model.onnx_model import OnnxModel
from egamma_cnn.nanoevents import open_events
from egamma_cnn.train.dataset import (
    CandidateArrays,
    electron_selection,
    load_arrays,
    prepare_files,
    save_arrays,
)
from egamma_cnn.train.samples import SamplePlan, produce_plan

DATA = Path(__file__).parent / "data"
MC, DATA_LIKE = DATA / "zee_mc.root", DATA / "zee_datalike.root"


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
        SamplePlan(5, events_per_round=(("ttbar", 10),))
    with pytest.raises(ValueError, match="for the plan to have a test round"):
        SamplePlan(3)


def test_a_folder_keeps_one_plan(tmp_path):
    plan = SamplePlan(2, events_per_round=(("zee", 1),), test_every=2)
    for f in plan.files():  # pretend the files exist: nothing is produced
        (tmp_path / f.name).write_bytes(b"")
    assert produce_plan(plan, tmp_path, progress=False) == []
    other = SamplePlan(2, events_per_round=(("zee", 1),), test_every=2, pileup_mu=40.0)
    with pytest.raises(ValueError, match="describes another plan"):
        produce_plan(other, tmp_path, progress=False)
    more = SamplePlan(3, events_per_round=(("zee", 1),), test_every=2)
    (tmp_path / "train_zee_r002.root").write_bytes(b"")
    assert produce_plan(more, tmp_path, progress=False) == []  # more rounds are fine


def test_electron_training_writes_a_checked_model(prepared, tmp_path):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
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


def _synthetic_photons(rng, n):
    """Prompt photons: narrow middle-layer showers; non-prompt: wider, two-peaked strips."""

    is_prompt = rng.random(n) < 0.5
    width = np.where(is_prompt, 0.8, 1.6)[:, None, None]
    eta_grid, phi_grid = np.meshgrid(np.arange(7) - 3, np.arange(11) - 5, indexing="ij")
    middle = np.exp(-(eta_grid**2 + phi_grid**2)[None] / (2 * width**2)) * 20
    strips = np.zeros((n, 56, 3))
    strips[:, 28, 1] = 5.0
    strips[~is_prompt, 20, 1] = 3.0  # a second maximum: a π0 → γγ
    back = np.full((n, 4, 11), 0.1)
    features = rng.normal(0, 1, (n, len(PHOTON_CUT_INPUTS)))
    features[:, PHOTON_CUT_INPUTS.index("reta")] += np.where(is_prompt, 2.0, 0.0)
    arrays = {
        "strips": (strips + rng.exponential(0.05, strips.shape)).astype(np.float32),
        "middle": (middle + rng.exponential(0.05, middle.shape)).astype(np.float32),
        "back": back.astype(np.float32),
        "is_prompt": is_prompt,
        "conversion_type": np.zeros(n, np.int8),
        "et": rng.uniform(10, 60, n).astype(np.float32),
        "eta": rng.uniform(-1.3, 1.3, n).astype(np.float32),
        "mu": np.full(n, 20.0, np.float32),
        "process": np.zeros(n, np.int16),
        "file": np.zeros(n, np.int16),
        "event": np.arange(n, dtype=np.int64),
        "features": features.astype(np.float32),
    }
    return CandidateArrays(arrays, list(PHOTON_CUT_INPUTS), ["gammajet"], ["synthetic.root"])


def test_photon_training_matches_the_cut_based_rejection(tmp_path):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from egamma_cnn.train.baselines import fit_photon_cuts
    from egamma_cnn.train.photon import train_photon
    from egamma_cnn.train.trainer import TrainingConfig

    photons = _synthetic_photons(np.random.default_rng(5), 1500)
    save_arrays(tmp_path / "train", "photon", photons)
    fit_photon_cuts(photons).save(tmp_path / "cuts.json")
    metadata = train_photon(
        tmp_path,
        tmp_path / "photon.onnx",
        tmp_path / "cuts.json",
        training=TrainingConfig(max_epochs=3, batch_size=64, learning_rate=3e-3),
        progress=False,
    )
    model = OnnxModel(tmp_path / "photon.onnx")
    assert model.class_names == ("non_prompt", "prompt")
    assert set(model.working_points.cuts) == {"loose", "tight"}
    # the toy is easy: at the cut-based rejection the CNN keeps nearly every prompt photon
    assert metadata["working_points"]["targets"]["tight"] > 0.9
    test = _synthetic_photons(np.random.default_rng(6), 400)
    probs = model.predict({k: test.arrays[k] for k in ("strips", "middle", "back")})
    assert ((probs[:, 1] > 0.5) == test.arrays["is_prompt"]).mean() > 0.9


def test_electron_baselines(prepared, tmp_path):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from egamma_cnn.train.baselines import fit_electron_llh, llh_scores  # imports torch

    data = load_arrays(prepared / "train", "electron")
    data = data.subset(electron_selection(data))
    llh = fit_electron_llh(data, data)
    llh.save(tmp_path / "llh.json")
    scores = llh_scores(LikelihoodID.load(tmp_path / "llh.json"), data)
    np.testing.assert_array_equal(scores["llh"], llh_scores(llh, data)["llh"])
    assert np.all((scores["llh"] >= 0) & (scores["llh"] <= 1))
    is_signal = np.isin(data.arrays["truth_class"], (0, 1))
    # the LLH separates prompt electrons from the pile-up jets of this Z→ee sample
    assert scores["llh"][is_signal].mean() > scores["llh"][~is_signal].mean() + 0.3
    for name in ("loose", "medium", "tight"):
        assert scores[name].dtype == bool
    assert scores["tight"][is_signal].mean() <= scores["loose"][is_signal].mean()
    # the working points, hit requirements included, keep their target of all the signal
    # (the denominator of the CNN's working points), as far as the bins' counts allow
    for name, target in (("loose", 0.93), ("medium", 0.88), ("tight", 0.80)):
        kept = scores[name][is_signal].mean()
        assert abs(kept - target) < 3 * np.sqrt(target * (1 - target) / is_signal.sum()) + 0.01
