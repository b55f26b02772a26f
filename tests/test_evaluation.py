"""The whole model workflow through the command line: train every model, then evaluate."""

from __future__ import annotations

import json
import shutil

import pytest

from egamma_cnn.cli import main
from egamma_cnn.model.onnx_model import OnnxModel
from egamma_cnn.train.samples import SamplePlan


def test_train_and_evaluate_commands(prepared, tmp_path):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    models, out = tmp_path / "models", tmp_path / "evaluation"
    common = ["--data", str(prepared), "--max-epochs", "1", "--batch-size", "64", "--no-progress"]
    assert main(["train", "baselines", "--out", str(models), "--seeds", "2", *common]) == 0
    assert main(["train", "electron", "--out", str(models / "electron_cnn.onnx"), *common]) == 0
    assert main(["train", "fcn", "--out", str(models / "electron_fcn.onnx"), *common]) == 0
    calo = models / "electron_calo_cnn.onnx"
    assert main(["train", "calo-cnn", "--out", str(calo), *common]) == 0
    assert (
        main(["evaluate", "--data", str(prepared), "--models", str(models), "--out-dir", str(out)])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("auc_cnn", "auc_fcn", "auc_llh"):
        assert 0.0 <= metrics["headline"][key] <= 1.0
    assert metrics["auc_binary"]["hl7"]["seeds"] == 2
    assert "CNN (images + E_T, η)" in metrics["auc_binary"]["by_et/gt15GeV"]
    assert [s["name"] for s in OnnxModel(calo).metadata["inputs"]] == ["coarse", "fine", "hlv"]
    # the evaluation records its headline numbers in the models it evaluated
    shipped = OnnxModel(models / "electron_cnn.onnx").metadata["metrics"]
    assert shipped["headline"]["auc_cnn"] == metrics["headline"]["auc_cnn"]
    assert set(metrics["class_fractions"]) == {"zee"}
    fractions = metrics["class_fractions"]["zee"]
    assert sum(fractions["true"].values()) == pytest.approx(1.0)
    assert sum(fractions["predicted"].values()) == pytest.approx(1.0)
    for name in (
        "roc_cf-signal_gt15GeV",
        "roc_cf-background_4.5-15GeV",
        "rejection_ratio_et",
        "rejection_ratio_map",
        "class_fractions",
    ):
        assert (out / f"{name}.png").stat().st_size > 10_000
    assert "photon" not in metrics  # no photon model in this folder: skipped, not failed
    # every E_T-bin ratio carries its bootstrap interval, which contains it
    for row in metrics["rejection_ratios"]["CNN/LLH/loose/et"]:
        if row["ratio"] is not None:
            low, high = row["ratio_interval"]
            assert low <= row["ratio"] and (high is None or row["ratio"] <= high)
    # the CNN's and the LLH's working points on one denominator
    for wp in ("loose", "medium", "tight"):
        row = metrics["working_points"][wp]
        assert {"LLH", "CNN", "FCN"} <= set(row)
        assert all(0 < entry["signal_efficiency"] <= 1 for entry in row.values())
    assert "## Working points on one denominator" in (out / "tables.md").read_text()
    # an evaluation on another sample leaves the models' recorded numbers alone
    recorded = OnnxModel(models / "electron_cnn.onnx").metadata["metrics"]
    args = ["evaluate", "--data", str(prepared), "--models", str(models), "--no-record"]
    assert main([*args, "--out-dir", str(tmp_path / "again")]) == 0
    assert OnnxModel(models / "electron_cnn.onnx").metadata["metrics"] == recorded
    assert (tmp_path / "again" / "metrics.json").is_file()


def test_train_photon_needs_the_cut_based_file(prepared, tmp_path, capsys):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "photon", "--data", str(prepared), "--out", str(tmp_path / "p.onnx")])
    assert exit_info.value.code == 2
    assert "needs --cuts" in capsys.readouterr().err


def test_prepare_refuses_an_incomplete_plan(tmp_path, capsys):
    plan = SamplePlan(2, events_per_round=(("zee", 1),), test_every=2)
    (tmp_path / "plan.json").write_text(
        json.dumps({"files": [{"name": f.name, "split": f.split} for f in plan.files()]})
    )
    with pytest.raises(SystemExit):
        main(["prepare", "--samples", str(tmp_path), "--out", str(tmp_path / "p")])
    assert "2 files of the plan are missing (train_zee_r000.root, test_zee_r001.root)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["electron", "--out", "model.txt"], "must be an .onnx file"),
        (["electron", "--data", "nowhere", "--out", "m.onnx"], "not found (run prepare)"),
    ],
)
def test_train_refuses_bad_paths_before_training(prepared, tmp_path, capsys, args, message):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    argv = ["train", *args]
    if "--data" not in argv:
        argv += ["--data", str(prepared)]
    argv = [str(tmp_path / a) if a.endswith((".txt", ".onnx")) else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_evaluation_refuses_models_trained_on_the_test_files(prepared, tmp_path, capsys):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    (tmp_path / "data").mkdir()
    shutil.copytree(prepared / "train", tmp_path / "data" / "train")
    shutil.copytree(prepared / "train", tmp_path / "data" / "test")  # the same files
    common = ["--data", str(tmp_path / "data"), "--max-epochs", "1", "--no-progress"]
    models = tmp_path / "models"
    for what in ("electron", "fcn"):
        name = "electron_cnn.onnx" if what == "electron" else "electron_fcn.onnx"
        assert main(["train", what, "--out", str(models / name), *common]) == 0
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(tmp_path / "data"),
                "--models",
                str(models),
                "--out-dir",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert "was trained on test files ['zee_mc.root']" in capsys.readouterr().err


def test_rejection_table_bounds_a_ratio_when_no_background_passes():
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from egamma_cnn.train.evaluation import markdown_tables  # imports torch

    def point(llh, cnn, ratio):
        return {
            "signal_efficiency": 0.9,
            "llh_rejection": llh,
            "cnn_rejection": cnn,
            "ratio": ratio,
            "ratio_error": None,
        }

    metrics = {
        "test_class_counts": {"prompt": 10, "lf_hadron": 400},
        "auc_binary": {},
        "roc": {
            "cf-signal/gt15GeV/lf_hadron": {
                "n_background": 400,
                "llh_loose": point(None, 100.0, 0.0),  # no LLH background passes
                "llh_medium": point(50.0, None, None),  # no CNN background passes
                "llh_tight": point(20.0, 40.0, 2.0) | {"ratio_interval": [1.5, None]},
            }
        },
        "rejection_ratios": {"et_edges": [], "bins": {}},
        "class_fractions": {},
    }
    table = markdown_tables(metrics)
    assert "| 0/400 pass | 100.0 | < 0.25 |" in table
    assert "| 50.0 | 0/400 pass | > 8.00 |" in table
    assert "| 20.0 | 40.0 | 2.00 [1.50, ∞] |" in table


def test_class_fraction_gains_where_a_rejection_is_infinite():
    """A discriminant that rejects every background candidate of a process has no finite
    rejection: the Table 7 gains that involve it are undefined ("–"), not a crash."""
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from egamma_cnn.train.evaluation import _gain, markdown_tables

    assert _gain(3.0, 2.0) == pytest.approx(0.5)
    assert _gain(None, 2.0) is None and _gain(3.0, None) is None and _gain(3.0, 0.0) is None
    fractions = dict.fromkeys(("prompt", "charge_flip", "conversion"), 0.0) | dict.fromkeys(
        ("heavy_flavour", "lf_egamma", "lf_hadron"), 1 / 3
    )
    entry = {
        "n": 10,
        "true": fractions,
        "predicted": fractions,
        "predicted_max_deviation": 0.0,
        "rejection_at_90": {"agnostic": 50.0, "predicted": 80.0, "truth": None},
        "gain_agnostic_to_predicted": 0.6,
        "gain_predicted_to_truth": None,
    }
    metrics = {
        "test_class_counts": {},
        "auc_binary": {},
        "roc": {},
        "rejection_ratios": {"et_edges": []},
        "class_fractions": {"jf17": entry},
    }
    row = next(line for line in markdown_tables(metrics).splitlines() if line.startswith("| jf17"))
    assert row.endswith("| 0.000 | 60 % | – |")
