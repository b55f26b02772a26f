"""Every command-line flag reaches the run it configures.

Each command's work function is replaced by a recorder; a flag passes when the recorded
call with the flag differs from the call without it, in the place the flag names, and
holds the value given. A flag that is parsed and then dropped fails here. (That each of
those arguments changes the result is tested where the function is: test_tnp.py,
test_datamc.py, test_isolation.py, test_production.py, test_distributed.py, ...)
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from coffea.nanoevents import BaseSchema, NanoAODSchema

from egamma_cnn import cli

DATA = Path(__file__).parent / "data"


class _Recorder:
    """Records the arguments of the last call; returns what the CLI prints."""

    def __init__(self, returns: Any) -> None:
        self.returns = returns
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.args, self.kwargs = args, kwargs
        self.calls += 1
        return self.returns


@pytest.fixture
def fileset(tmp_path: Path) -> Path:
    path = tmp_path / "fileset.json"
    path.write_text(
        json.dumps(
            {
                "data": {
                    "files": {str(DATA / "zee_datalike.root"): "Events"},
                    "metadata": {"is_data": True},
                },
                "mc": {
                    "files": {str(DATA / "zee_mc.root"): "Events"},
                    "metadata": {"is_data": False},
                },
            }
        )
    )
    return path


@pytest.fixture
def executors(monkeypatch) -> list[Any]:
    """The settings each processor command opens its executor with (none is started)."""
    opened: list[Any] = []

    @contextlib.contextmanager
    def fake_open(settings):
        opened.append(settings)
        yield "executor"

    monkeypatch.setattr(cli, "open_executor", fake_open)
    return opened


def _call(monkeypatch, target: str, returns: Any, argv: list[str]) -> _Recorder:
    recorder = _Recorder(returns)
    monkeypatch.setattr(target, recorder)
    assert cli.main(argv) == 0
    return recorder


# ---------------------------------------------------------------- processor commands

_PROCESSOR_TARGETS = {
    "tnp": "egamma_cnn.workflows.tnp.run_tnp",
    "datamc": "egamma_cnn.workflows.datamc.run_datamc",
    "isolation": "egamma_cnn.workflows.isolation.run_isolation",
}

# flag → (what of the recorded settings it sets, the value it must hold)
_EXECUTION_FLAGS = [
    (["--executor", "iterative"], "executor", "iterative"),
    (["--executor", "scheduler", "--address", "tcp://h:8786"], "address", "tcp://h:8786"),
    (["--workers", "3"], "workers", 3),
    (["--workers", "0"], "executor", "iterative"),
    (["--chunk-size", "777"], "chunk_size", 777),
    (["--step-size", "555"], "chunk_size", 555),
    (["--retries", "0"], "retries", 0),
    (["--memory-per-worker", "3GiB"], "memory_per_worker", "3GiB"),
    (["--skip-bad-files"], "skip_bad_files", True),
    (["--no-cache"], "cache", False),
    (["--cache-dir", "/tmp/egamma-cnn-test-cache"], "cache_dir", "/tmp/egamma-cnn-test-cache"),
]


def _argv(command: str, fileset: Path, out: Path, extra: list[str], via_run: bool) -> list[str]:
    if via_run:
        return ["run", command, "--fileset", str(fileset), "--out-dir", str(out), *extra]
    return [command, str(fileset), "--out-dir", str(out), *extra]


@pytest.mark.parametrize("via_run", [False, True], ids=["command", "run"])
@pytest.mark.parametrize("command", sorted(_PROCESSOR_TARGETS))
@pytest.mark.parametrize(("flag", "field", "value"), _EXECUTION_FLAGS)
def test_execution_flags_reach_the_run(
    monkeypatch, fileset, executors, tmp_path, command, via_run, flag, field, value
):
    target = _PROCESSOR_TARGETS[command]
    base = _call(monkeypatch, target, {}, _argv(command, fileset, tmp_path, [], via_run))
    changed = _call(monkeypatch, target, {}, _argv(command, fileset, tmp_path, flag, via_run))
    before, after = base.kwargs["settings"], changed.kwargs["settings"]
    assert getattr(before, field) != value
    assert getattr(after, field) == value
    # the executor is opened with the same settings the run gets
    assert executors[-1] == after
    assert changed.kwargs["scheduler"] == "executor"


@pytest.mark.parametrize("command", sorted(_PROCESSOR_TARGETS))
def test_execution_config_file_reaches_the_run(monkeypatch, fileset, executors, tmp_path, command):
    config = tmp_path / "execution.json"
    config.write_text(json.dumps({"retries": 7, "chunk_size": 1234}))
    argv = _argv(command, fileset, tmp_path, ["--execution-config", str(config)], False)
    settings = _call(monkeypatch, _PROCESSOR_TARGETS[command], {}, argv).kwargs["settings"]
    assert (settings.retries, settings.chunk_size) == (7, 1234)
    # a flag given on top overrides the file
    argv += ["--retries", "1"]
    settings = _call(monkeypatch, _PROCESSOR_TARGETS[command], {}, argv).kwargs["settings"]
    assert (settings.retries, settings.chunk_size) == (1, 1234)


@pytest.mark.parametrize("command", sorted(_PROCESSOR_TARGETS))
def test_out_dir_and_config_reach_the_run(monkeypatch, fileset, executors, tmp_path, command):
    config = tmp_path / "tnp_config.json"
    config.write_text(json.dumps({"mass_bins": 30, "tag_min_pt": 32.0}))
    out = tmp_path / "elsewhere"
    target = _PROCESSOR_TARGETS[command]
    base = _call(monkeypatch, target, {}, [command, str(fileset), "--out-dir", str(out)])
    assert base.args[1] == out
    assert base.args[2].mass_bins != 30
    changed = _call(monkeypatch, target, {}, [command, str(fileset), "--config", str(config)])
    assert (changed.args[2].mass_bins, changed.args[2].tag_min_pt) == (30, 32.0)


_TNP_FLAGS = [
    (
        ["--id", "cnn_score >= 0.5", "llh_tight"],
        lambda r: r.args[2].probe_id,
        ("cnn_score >= 0.5", "llh_tight"),
    ),
    (["--tag-id", "llh_tight"], lambda r: r.args[2].tag_id, "llh_tight"),
    (["--method", "fit"], lambda r: r.kwargs["method"], "fit"),
    (["--signal", "bwcb"], lambda r: r.kwargs["signal"], "bwcb"),
    (["--background", "polynomial"], lambda r: r.kwargs["background"], "polynomial"),
    (["--interval", "wilson"], lambda r: r.kwargs["interval"], "wilson"),
    (["--nanoaod"], lambda r: r.kwargs["schemaclass"], NanoAODSchema),
    (["--nanoaod"], lambda r: r.args[2].tag_id, "cutBased >= 4"),
    (["--preset", "cms-nanoaod-photon"], lambda r: r.args[2].probes, "Photon"),
    (["--preset", "cms-nanoaod-photon"], lambda r: r.kwargs["schemaclass"], NanoAODSchema),
    (["--preset", "cms-tnp-ntuple"], lambda r: r.args[2].input_format, "pairs"),
    (["--preset", "cms-tnp-ntuple"], lambda r: r.kwargs["schemaclass"], BaseSchema),
]


@pytest.mark.parametrize(("flag", "read", "value"), _TNP_FLAGS)
def test_tnp_flags_reach_the_run(monkeypatch, fileset, executors, tmp_path, flag, read, value):
    target = _PROCESSOR_TARGETS["tnp"]
    base = _call(monkeypatch, target, {}, ["tnp", str(fileset), "--out-dir", str(tmp_path)])
    changed = _call(monkeypatch, target, {}, ["tnp", str(fileset), *flag])
    assert read(base) != value
    assert read(changed) == value


_DATAMC_FLAGS = [
    (["--id", "llh_tight"], lambda r: r.kwargs["ids"], ("llh_tight",)),
    (["--id"], lambda r: r.kwargs["ids"], ()),
    (["--no-fudged-pass"], lambda r: r.kwargs["fudged_pass"], False),
]


@pytest.mark.parametrize(("flag", "read", "value"), _DATAMC_FLAGS)
def test_datamc_flags_reach_the_run(monkeypatch, fileset, executors, tmp_path, flag, read, value):
    target = _PROCESSOR_TARGETS["datamc"]
    base = _call(monkeypatch, target, {}, ["datamc", str(fileset)])
    changed = _call(monkeypatch, target, {}, ["datamc", str(fileset), *flag])
    assert read(base) != value
    assert read(changed) == value


_ISOLATION_FLAGS = [
    (
        ["--wp", "mine=ptvarcone30/pt < 0.1", "iso_tight"],
        lambda r: r.kwargs["working_points"],
        {"mine": "ptvarcone30/pt < 0.1", "iso_tight": "iso_tight"},
    ),
    (["--tnp-datasets", "data", "mc"], lambda r: r.kwargs["tnp_datasets"], ["data", "mc"]),
    (["--photons"], lambda r: r.kwargs["particle"], "photon"),
]


@pytest.mark.parametrize(("flag", "read", "value"), _ISOLATION_FLAGS)
def test_isolation_flags_reach_the_run(
    monkeypatch, fileset, executors, tmp_path, flag, read, value
):
    target = _PROCESSOR_TARGETS["isolation"]
    base = _call(monkeypatch, target, {}, ["isolation", str(fileset)])
    changed = _call(monkeypatch, target, {}, ["isolation", str(fileset), *flag])
    assert read(base) != value
    assert read(changed) == value


# ---------------------------------------------------------------- production commands

_SUMMARY = {
    "n_events": 1,
    "path": "x",
    "wall_s": 0.0,
    "filter_efficiency": 1.0,
    "times": dict.fromkeys(("generator", "pileup", "detector", "reconstruction", "output"), 0.0),
}

_GENERATE_FLAGS = [
    (["--process", "jf17"], lambda r: r.args[0].process, "jf17"),
    (["--events", "9"], lambda r: r.args[0].n_events, 9),
    (["--seed", "77"], lambda r: r.args[0].seed, 77),
    (["--data-like"], lambda r: r.args[0].data_like, True),
    (["--pileup", "12.5"], lambda r: r.args[0].pileup_mu, 12.5),
    (["--workers", "2"], lambda r: r.kwargs["workers"], 2),
    (["--no-progress"], lambda r: r.kwargs["progress"], False),
    (["--overwrite"], lambda r: r.kwargs["overwrite"], True),
    (
        ["--executor", "iterative"],
        lambda r: getattr(r.kwargs["settings"], "executor", None),
        "iterative",
    ),
    (
        ["--address", "tcp://h:1"],
        lambda r: getattr(r.kwargs["settings"], "address", None),
        "tcp://h:1",
    ),
]


@pytest.mark.parametrize(("flag", "read", "value"), _GENERATE_FLAGS)
def test_generate_flags_reach_the_run(monkeypatch, tmp_path, flag, read, value):
    target = "egamma_cnn.sim.production.produce"
    argv = ["generate", "--process", "zee", "--events", "5", "--out", str(tmp_path / "x.root")]
    base = _call(monkeypatch, target, _SUMMARY, argv)
    changed = _call(monkeypatch, target, _SUMMARY, [*argv, *flag])
    assert read(base) != value
    assert read(changed) == value
    assert changed.args[1] == tmp_path / "x.root"


def test_cluster_config_file_reaches_generate(monkeypatch, tmp_path):
    config = tmp_path / "execution.json"
    config.write_text(json.dumps({"executor": "scheduler", "address": "tcp://a:2"}))
    argv = ["generate", "--process", "zee", "--events", "5", "--out", str(tmp_path / "x.root")]
    recorder = _call(
        monkeypatch,
        "egamma_cnn.sim.production.produce",
        _SUMMARY,
        [*argv, "--execution-config", str(config)],
    )
    assert recorder.kwargs["settings"].address == "tcp://a:2"


def test_validate_flags_reach_the_run(monkeypatch, tmp_path):
    target = "egamma_cnn.sim.validation.validate"
    mc, data = DATA / "zee_mc.root", DATA / "zee_datalike.root"
    recorder = _call(
        monkeypatch,
        target,
        {},
        ["validate", str(mc), "--data", str(data), "--out-dir", str(tmp_path / "v")],
    )
    assert recorder.args == ([mc], tmp_path / "v")
    assert recorder.kwargs == {"data_files": [data]}
    assert _call(monkeypatch, target, {}, ["validate", str(mc)]).kwargs == {"data_files": []}


_DEMO_FLAGS = [
    (["--out-dir", "d2"], lambda r: r.args[0], Path("d2")),
    (["--events", "123"], lambda r: r.kwargs["events"], 123),
    (["--workers", "1"], lambda r: r.kwargs["workers"], 1),
]


@pytest.mark.parametrize(("flag", "read", "value"), _DEMO_FLAGS)
def test_demo_flags_reach_the_run(monkeypatch, flag, read, value):
    target = "egamma_cnn.workflows.demo.run_demo"
    base = _call(monkeypatch, target, {}, ["demo"])
    changed = _call(monkeypatch, target, {}, ["demo", *flag])
    assert read(base) != value
    assert read(changed) == value


_SAMPLES_FLAGS = [
    (["--rounds", "6"], lambda r: r.args[0].rounds, 6),
    (["--pileup", "5"], lambda r: r.args[0].pileup_mu, 5.0),
    (["--workers", "2"], lambda r: r.kwargs["workers"], 2),
    (["--base-seed", "700000"], lambda r: r.args[0].files()[0].seed, 700_000),
    (["--test-every", "1"], lambda r: {f.split for f in r.args[0].files()}, {"test"}),
    (
        ["--executor", "iterative"],
        lambda r: getattr(r.kwargs["settings"], "executor", None),
        "iterative",
    ),
]


@pytest.mark.parametrize(("flag", "read", "value"), _SAMPLES_FLAGS)
def test_train_samples_flags_reach_the_run(monkeypatch, tmp_path, flag, read, value):
    target = "egamma_cnn.train.samples.produce_plan"
    argv = ["train-samples", "--rounds", "5", "--out-dir", str(tmp_path)]
    base = _call(monkeypatch, target, [], argv)
    changed = _call(monkeypatch, target, [], [*argv, *flag])
    assert base.args[1] == tmp_path
    assert read(base) != value
    assert read(changed) == value


def test_prepare_flags_reach_the_run(monkeypatch, tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    for name in ("a.root", "b.root"):
        (samples / name).write_bytes(b"")
    plan = {"files": [{"name": "a.root", "split": "train"}, {"name": "b.root", "split": "test"}]}
    (samples / "plan.json").write_text(json.dumps(plan))
    target = "egamma_cnn.train.dataset.prepare_files"
    argv = ["prepare", "--samples", str(samples), "--out", str(tmp_path / "p")]
    base = _call(monkeypatch, target, {"counts": {}}, argv)
    # the last call is the test split's, written into the run's temporary folder
    files, folder = base.args
    assert files == [samples / "b.root"] and folder.name == "test"
    assert folder.parent.name.startswith(".p.run-") and folder.parent.parent == tmp_path
    assert base.kwargs["workers"] == 1 and base.kwargs["settings"] is None
    changed = _call(
        monkeypatch, target, {"counts": {}}, [*argv, "--workers", "2", "--executor", "iterative"]
    )
    assert changed.kwargs["workers"] == 2
    assert changed.kwargs["settings"].executor == "iterative"


@pytest.fixture
def prepared_folder(tmp_path: Path) -> Path:
    data = tmp_path / "prepared"
    (data / "train").mkdir(parents=True)
    meta = {"files": [], "processes": [], "counts": {}, "feature_names": {}}
    (data / "train" / "meta.json").write_text(json.dumps(meta))
    return data


def _train(monkeypatch, data: Path, out: Path, what: str, extra: list[str]) -> _Recorder:
    pytest.importorskip("torch")
    target = {
        "electron": "egamma_cnn.train.electron.train_electron",
        "fcn": "egamma_cnn.train.electron.train_electron",
        "calo-cnn": "egamma_cnn.train.electron.train_electron",
        "photon": "egamma_cnn.train.photon.train_photon",
        "baselines": "egamma_cnn.train.baselines.train_baselines",
    }[what]
    argv = ["train", what, "--data", str(data), "--out", str(out), *extra]
    return _call(monkeypatch, target, {"training": {}}, argv)


def _training(field: str) -> Any:
    return lambda recorder: getattr(recorder.kwargs["training"], field)


# (command, flags, the command and flags of the call compared with, what is read, value)
_TRAIN_FLAGS = [
    (
        "electron",
        ["--max-epochs", "3"],
        "electron",
        [],
        _training("max_epochs"),
        3,
    ),
    (
        "electron",
        ["--batch-size", "64"],
        "electron",
        [],
        _training("batch_size"),
        64,
    ),
    ("electron", ["--seed", "9"], "electron", [], _training("seed"), 9),
    ("electron", ["--threads", "2"], "electron", [], _training("threads"), 2),
    ("electron", ["--l2", "0.01"], "electron", [], _training("l2"), 0.01),
    ("electron", ["--patience", "12"], "electron", [], _training("patience"), 12),
    ("electron", ["--augment", "both"], "electron", [], _training("augment"), ("eta", "phi")),
    ("fcn", ["--augment", "eta"], "fcn", [], _training("augment"), ("eta",)),
    (
        "electron",
        ["--dropout", "0.3"],
        "electron",
        [],
        lambda r: r.kwargs["net_config"].dropout,
        0.3,
    ),
    ("electron", ["--ratio", "2"], "electron", [], lambda r: r.kwargs["ratio"], 2.0),
    ("electron", ["--no-progress"], "electron", [], lambda r: r.kwargs["progress"], False),
    (
        "fcn",
        [],
        "electron",
        [],
        lambda r: (r.kwargs["name"], r.kwargs["net_config"].use_images),
        ("electron_fcn", False),
    ),
    (
        "calo-cnn",
        [],
        "electron",
        [],
        lambda r: (r.kwargs["hlv_names"], r.kwargs["net_config"].use_tracks),
        (("et", "eta"), False),
    ),
    (
        "photon",
        ["--cuts", "c.json", "--dropout", "0.4"],
        "photon",
        ["--cuts", "c.json"],
        lambda r: r.kwargs["net_config"].dropout,
        0.4,
    ),
    (
        "photon",
        ["--cuts", "d.json"],
        "photon",
        ["--cuts", "c.json"],
        lambda r: str(r.args[2]),
        "d.json",
    ),
    ("baselines", ["--seeds", "5"], "baselines", [], lambda r: r.kwargs["n_seeds"], 5),
    ("electron", ["--overwrite"], "electron", [], lambda r: r.kwargs["overwrite"], True),
    ("baselines", ["--overwrite"], "baselines", [], lambda r: r.kwargs["overwrite"], True),
]


@pytest.mark.parametrize(("what", "flag", "base_what", "base_flag", "read", "value"), _TRAIN_FLAGS)
def test_train_flags_reach_the_training(
    monkeypatch, prepared_folder, tmp_path, what, flag, base_what, base_flag, read, value
):
    out = tmp_path / ("b" if what == "baselines" else "m.onnx")
    base = _train(monkeypatch, prepared_folder, out, base_what, base_flag)
    changed = _train(monkeypatch, prepared_folder, out, what, flag)
    assert read(base) != value
    assert read(changed) == value


def test_train_preset_reaches_the_training(monkeypatch, prepared_folder, tmp_path):
    from egamma_cnn.train.networks import CPU_DEFAULT, TABLE6

    base = _train(monkeypatch, prepared_folder, tmp_path / "m.onnx", "electron", [])
    table6 = _train(
        monkeypatch, prepared_folder, tmp_path / "m.onnx", "electron", ["--preset", "table6"]
    )
    assert base.kwargs["net_config"] == CPU_DEFAULT
    assert table6.kwargs["net_config"] == TABLE6 != CPU_DEFAULT


def test_evaluate_arguments_reach_the_run(monkeypatch, tmp_path):
    recorder = _call(
        monkeypatch,
        "egamma_cnn.train.evaluation.evaluate",
        {"headline": {}},
        [
            "evaluate",
            "--data",
            str(tmp_path / "d"),
            "--models",
            str(tmp_path / "m"),
            "--out-dir",
            str(tmp_path / "o"),
        ],
    )
    assert recorder.args == (tmp_path / "d", tmp_path / "m", tmp_path / "o")
    assert recorder.kwargs == {"record": True}
    argv = ["evaluate", "--data", "d", "--models", "m", "--out-dir", str(tmp_path / "o")]
    no_record = _call(
        monkeypatch,
        "egamma_cnn.train.evaluation.evaluate",
        {"headline": {}},
        [*argv, "--no-record"],
    )
    assert no_record.kwargs == {"record": False}


@pytest.mark.parametrize("command", sorted(_PROCESSOR_TARGETS))
def test_missing_files_stop_the_command_before_an_executor_opens(
    monkeypatch, executors, tmp_path, capsys, command
):
    path = tmp_path / "fileset.json"
    missing = tmp_path / "gone.root"
    path.write_text(
        json.dumps(
            {
                "data": {"files": [str(DATA / "zee_datalike.root")], "metadata": {"is_data": True}},
                "mc": {"files": [str(missing)], "metadata": {"is_data": False}},
            }
        )
    )
    recorder = _Recorder({})
    monkeypatch.setattr(_PROCESSOR_TARGETS[command], recorder)
    assert cli.main([command, str(path), "--out-dir", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(missing) in error and "no such file" in error
    assert executors == [] and recorder.args == ()
    # with the permission to go on, the command runs (the run reports the file left out)
    assert cli.main([command, str(path), "--skip-bad-files"]) == 0
    assert executors[-1].skip_bad_files


def test_prepare_of_an_evaluation_only_plan_prepares_its_test_split(monkeypatch, tmp_path):
    """A plan of `train-samples --test-every 1` has test files only: prepare writes the
    test split and nothing else; a plan without files is refused."""
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "t.root").write_bytes(b"")
    plan = {"files": [{"name": "t.root", "split": "test"}]}
    (samples / "plan.json").write_text(json.dumps(plan))
    target = "egamma_cnn.train.dataset.prepare_files"
    argv = ["prepare", "--samples", str(samples), "--out", str(tmp_path / "p")]
    recorder = _call(monkeypatch, target, {"counts": {}}, argv)
    assert recorder.calls == 1
    files, folder = recorder.args
    assert files == [samples / "t.root"] and folder.name == "test"
    (samples / "plan.json").write_text(json.dumps({"files": []}))
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv[:-1], str(tmp_path / "q")])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("what", ["photon", "baselines"])
def test_train_augment_is_refused_where_it_has_no_meaning(prepared_folder, tmp_path, what, capsys):
    argv = ["train", what, "--data", str(prepared_folder), "--out", str(tmp_path / "x.onnx")]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--augment", "eta", "--cuts", "c.json"])
    assert exit_info.value.code == 2
    assert f"--augment applies to train electron, fcn and calo-cnn, not {what}" in (
        capsys.readouterr().err
    )
