"""`train-samples`, `prepare`, `train` and `evaluate` with bad input and interruptions
(issue 17): one line naming the file, option or value, exit code 2, and outputs that are
written whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest

from egamma_cnn import cli
from egamma_cnn.train.dataset import load_arrays
from egamma_cnn.train.reweighting import class_balance_weights
from egamma_cnn.train.samples import MAX_ROUNDS, SamplePlan, read_plan

DATA = Path(__file__).parent / "data"
MODELS = Path(cli.__file__).parent / "data" / "models"


def _error(capsys) -> str:
    """The one line the command printed on stderr (after prepare's progress bars)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().split("\n") if "\r" not in line]
    assert len(lines) == 1, err
    return lines[0].strip()


def _main(argv: list[str]) -> int:
    """``cli.main``; the parser's errors (SystemExit) as their exit code."""
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exit_info:
        return int(exit_info.code)


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _samples(folder: Path, splits=("train", "test")) -> Path:
    """A sample folder: the shipped Z→ee MC file once per split, and its plan.json."""
    folder.mkdir()
    files = []
    for split in splits:
        name = f"{split}_zee_r000.root"
        shutil.copyfile(DATA / "zee_mc.root", folder / name)
        files.append({"name": name, "split": split})
    (folder / "plan.json").write_text(json.dumps({"files": files}))
    return folder


# -- train-samples ----------------------------------------------------------------------


def test_rounds_are_bounded_before_anything_is_created(tmp_path, capsys):
    out = tmp_path / "samples"
    assert _main(["train-samples", "--rounds", 10**12, "--out-dir", out]) == 2
    assert _error(capsys) == (
        "egamma-cnn: error: --rounds 1000000000000: at most 10000 (a plan of 40000 files, "
        "about 40 CPU-days)"
    )
    assert not out.exists()
    with pytest.raises(ValueError, match=rf"rounds {MAX_ROUNDS + 1}: a plan has 1 to {MAX_ROUNDS}"):
        SamplePlan(rounds=MAX_ROUNDS + 1)
    assert len(SamplePlan(rounds=MAX_ROUNDS).files()) == 4 * MAX_ROUNDS


def test_train_samples_pileup_is_bounded(tmp_path, capsys):
    out = tmp_path / "samples"
    assert _main(["train-samples", "--rounds", 5, "--out-dir", out, "--pileup", "1e6"]) == 2
    assert "argument --pileup: 1e6: the mean pile-up is at most 200" in _error(capsys)
    assert not out.exists()


@pytest.mark.parametrize(("flag", "value"), [("--base-seed", "-1"), ("--test-every", "0")])
def test_train_samples_seed_and_split_options_are_checked(tmp_path, capsys, flag, value):
    out = tmp_path / "samples"
    assert _main(["train-samples", "--rounds", 5, "--out-dir", out, flag, value]) == 2
    error = _error(capsys)
    assert f"argument {flag}: must be" in error and error.endswith(f"got {value}")
    assert not out.exists()
    with pytest.raises(ValueError, match="base_seed must be ≥ 0"):
        SamplePlan(rounds=5, base_seed=-1)
    with pytest.raises(ValueError, match="test_every must be ≥ 1"):
        SamplePlan(rounds=5, test_every=0)


def test_a_broken_plan_of_an_earlier_run_is_named(tmp_path):
    from egamma_cnn.train.samples import produce_plan

    (tmp_path / "plan.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"plan\.json: not a plan of egamma-cnn train-samples"):
        produce_plan(SamplePlan(rounds=5), tmp_path, progress=False)


# -- prepare: the plan ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", 'expected an object {"files": [...'),
        ("{}", 'expected an object {"files": [...'),
        ('{"files": [{"nm": 1}]}', 'files[0] must be an object with a file "name"'),
        ('{"files": [{"name": "../x.root", "split": "train"}]}', "files[0] must be"),
        ('{"files": [{"name": "a.root", "split": "validation"}]}', "files[0] must be"),
        ("not json", "not JSON (Expecting value: line 1 column 1 (char 0))"),
    ],
    ids=["list", "empty", "no-name", "folder-in-name", "bad-split", "not-json"],
)
def test_prepare_names_the_plan_and_what_it_expects(tmp_path, capsys, text, message):
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "plan.json").write_text(text)
    assert _main(["prepare", "--samples", samples, "--out", tmp_path / "p"]) == 2
    line = _error(capsys)
    assert line.startswith(f"egamma-cnn: error: {samples / 'plan.json'}: ")
    assert message.replace("[...", "") in line
    assert not (tmp_path / "p").exists()


def test_prepare_refuses_a_plan_without_a_test_split_before_writing(tmp_path, capsys):
    samples = _samples(tmp_path / "samples", splits=("train",))
    assert read_plan(samples) == [{"name": "train_zee_r000.root", "split": "train"}]
    assert _main(["prepare", "--samples", samples, "--out", tmp_path / "p"]) == 2
    assert _error(capsys) == (
        f"egamma-cnn: error: --samples: {samples / 'plan.json'} lists no test files; prepare "
        "needs a test split (the evaluation's), and a train split unless the plan is "
        "evaluation-only (train-samples --test-every 1)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples"]


def test_prepare_out_that_is_a_file(tmp_path, capsys):
    samples = _samples(tmp_path / "samples")
    out = tmp_path / "z.txt"
    out.write_text("mine")
    assert _main(["prepare", "--samples", samples, "--out", out]) == 2
    assert _error(capsys) == f"egamma-cnn: error: --out: {out} exists and is not a folder"
    assert out.read_text() == "mine"


# -- prepare: one run, swapped in -------------------------------------------------------


def test_sigterm_during_the_test_split_keeps_the_earlier_output(tmp_path, capsys, monkeypatch):
    from egamma_cnn.train import dataset

    samples = _samples(tmp_path / "samples")
    out = tmp_path / "pmix"
    assert _main(["prepare", "--samples", samples, "--out", out]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["workflow"] == "prepare"
    assert {"train/meta.json", "test/meta.json", "test/photon/strips.npy"} <= set(manifest["files"])
    before = _digests(out)
    capsys.readouterr()

    real = dataset.prepare_files

    def prepare_then_terminate(files, out_dir, **options):
        if Path(out_dir).name == "test":  # the train split is written by now
            real(files, out_dir, **options)
            os.kill(os.getpid(), signal.SIGTERM)  # a batch system's SIGTERM, really sent
        return real(files, out_dir, **options)

    monkeypatch.setattr(dataset, "prepare_files", prepare_then_terminate)
    assert _main(["prepare", "--samples", samples, "--out", out]) == 143
    assert _error(capsys) == "egamma-cnn: terminated (SIGTERM)"
    assert _digests(out) == before  # the earlier output, whole and unchanged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pmix", "samples"]  # no temporary


# -- train ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "meta.json: not JSON (Expecting value: line 1 column 1 (char 0))"),
        ("{}", "meta.json: expected the meta.json of egamma-cnn prepare"),
        ('{"files": [], "processes": [], "counts": {"electron": "x"}, "feature_names": {}}', ""),
    ],
    ids=["not-json", "empty", "bad-counts"],
)
def test_train_names_a_broken_meta_json(tmp_path, capsys, text, message):
    data = tmp_path / "td"
    (data / "train").mkdir(parents=True)
    (data / "train" / "meta.json").write_text(text)
    out = tmp_path / "m.onnx"
    assert _main(["train", "electron", "--data", data, "--out", out]) == 2
    line = _error(capsys)
    assert line.startswith(f"egamma-cnn: error: {data / 'train' / 'meta.json'}: ")
    assert message in line
    assert not out.exists()


def test_load_arrays_names_a_broken_array(prepared, tmp_path):
    data = tmp_path / "d"
    shutil.copytree(prepared / "train", data)
    (data / "electron" / "et.npy").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"electron/et\.npy: not a \.npy array"):
        load_arrays(data, "electron")
    (data / "electron" / "et.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"electron/et\.npy not found"):
        load_arrays(data, "electron")


def _no_training(*args, **kwargs):
    raise AssertionError("training started")


def test_train_refuses_an_existing_model_before_training(prepared, tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    from egamma_cnn.train import electron

    monkeypatch.setattr(electron, "fit", _no_training)
    out = tmp_path / "m7.onnx"
    out.write_bytes(b"an earlier model")
    assert _main(["train", "electron", "--data", prepared, "--out", out]) == 2
    assert _error(capsys) == (
        f"egamma-cnn: error: --out: {out} exists: give --overwrite (overwrite=True) to replace it"
    )
    assert out.read_bytes() == b"an earlier model"
    with pytest.raises(FileExistsError, match=r"m7\.onnx exists"):
        electron.train_electron(prepared, out, progress=False)
    # with --overwrite the training is reached (and stopped here by the patched fit)
    with pytest.raises(AssertionError, match="training started"):
        cli.main(["train", "electron", "--data", str(prepared), "--out", str(out), "--overwrite"])
    assert out.read_bytes() == b"an earlier model"


def test_a_failed_export_leaves_the_earlier_model_and_no_temporary(tmp_path):
    pytest.importorskip("torch")
    from egamma_cnn.model.onnx_model import MODEL_FORMAT
    from egamma_cnn.train.export import base_metadata, export_onnx
    from egamma_cnn.train.networks import FeatureNet

    out = tmp_path / "net.onnx"
    out.write_bytes(b"an earlier model")
    metadata = base_metadata("electron", "net", "test") | {"class_names": ["b", "s"]}
    assert metadata["format"] == MODEL_FORMAT
    inputs = {"features": np.zeros((4, 3), np.float32)}
    with pytest.raises(RuntimeError, match="differ by"):
        export_onnx(FeatureNet(3), inputs, out, metadata, tolerance=-1.0)
    assert out.read_bytes() == b"an earlier model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]
    export_onnx(FeatureNet(3), inputs, out, metadata)  # replaces it once checked
    assert out.read_bytes()[:16] != b"an earlier model"[:16]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_baselines_refuse_an_earlier_run_and_keep_it_on_failure(
    prepared, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("torch")
    from egamma_cnn.train import baselines

    models = tmp_path / "models"
    (models / "feature_nets").mkdir(parents=True)
    (models / "electron_llh.json").write_text("earlier")
    (models / "electron_cnn.onnx").write_text("the user's model")
    before = _digests(models)
    argv = ["train", "baselines", "--data", prepared, "--out", models, "--max-epochs", 1]
    assert _main(argv) == 2
    assert _error(capsys) == (
        f"egamma-cnn: error: {models} holds the baselines of an earlier run "
        "(electron_llh.json): give --overwrite (overwrite=True) to replace them"
    )

    def failing(*args, **kwargs):
        raise ValueError("the photon cuts failed")

    monkeypatch.setattr(baselines, "fit_photon_cuts", failing)
    assert _main([*argv, "--overwrite", "--no-progress"]) == 2
    assert _error(capsys) == "egamma-cnn: error: the photon cuts failed"
    assert _digests(models) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # no temporary


def test_training_without_background_is_refused_before_training(
    prepared, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("torch")
    from egamma_cnn.train import electron

    monkeypatch.setattr(electron, "fit", _no_training)
    data = tmp_path / "zee_only"
    shutil.copytree(prepared, data)
    labels = data / "train" / "electron" / "truth_class.npy"
    np.save(labels, np.zeros_like(np.load(labels)))  # every candidate a prompt electron
    out = tmp_path / "m.onnx"
    assert _main(["train", "electron", "--data", data, "--out", out, "--no-progress"]) == 2
    line = _error(capsys)
    assert line.startswith(f"egamma-cnn: error: {data / 'train'} (training part, ")
    assert "no background candidates with weight > 0 (0 background candidates" in line
    assert not out.exists()


def test_background_only_outside_the_signal_bins_gets_no_weight_and_is_refused():
    labels = np.array([0, 0, 5, 5])
    et = np.array([20.0, 20.0, 70.0, 70.0])  # the background sits where signal has none
    with pytest.raises(ValueError, match=r"no background candidates with weight > 0 \(2 "):
        class_balance_weights(labels, et, np.zeros(4), (0, 1), 6)


# -- evaluate ---------------------------------------------------------------------------


def _models(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    shutil.copytree(MODELS, models)
    return models


def test_evaluate_refuses_a_photon_model_as_the_electron_cnn(prepared, tmp_path, capsys):
    models = _models(tmp_path)
    shutil.copyfile(models / "photon_cnn.onnx", models / "electron_cnn.onnx")
    out = tmp_path / "out"
    assert _main(["evaluate", "--data", prepared, "--models", models, "--out-dir", out]) == 2
    assert _error(capsys) == (
        f"egamma-cnn: error: {models / 'electron_cnn.onnx'}: a photon model with inputs "
        "['back', 'middle', 'strips'], where evaluate reads an electron model"
    )
    assert not out.exists()


def test_evaluate_without_prompt_photons_names_the_model_and_split_and_writes_nothing(
    prepared, tmp_path, capsys
):
    models = _models(tmp_path)
    data = tmp_path / "data"
    shutil.copytree(prepared, data)
    prompt = data / "test" / "photon" / "is_prompt.npy"
    np.save(prompt, np.zeros_like(np.load(prompt)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    before = _digests(models)
    assert _main(["evaluate", "--data", data, "--models", models, "--out-dir", out]) == 2
    line = _error(capsys)
    assert line.startswith(f"egamma-cnn: error: photon_cnn.onnx on {data / 'test'}: ")
    assert "the photon selection of the test split has 0 prompt and" in line
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # no half-written plots
    assert _digests(models) == before  # no metrics recorded in the models
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "models", "out"]


def test_evaluate_names_a_broken_baseline_file(prepared, tmp_path, capsys):
    models = _models(tmp_path)
    (models / "electron_llh.json").write_text("not json")
    assert (
        _main(["evaluate", "--data", prepared, "--models", models, "--out-dir", tmp_path / "o"])
        == 2
    )
    line = _error(capsys)
    assert line.startswith(f"egamma-cnn: error: {models / 'electron_llh.json'}: not the ")
    assert not (tmp_path / "o").exists()
