"""Bad output folders, options and filesets: one line naming the culprit, nothing lost.

Issue 17, third round: a run never replaces a file it did not write (an input named like
an output, a user's ``config.json``, another tool's folder); tag-and-probe without both
kinds of sample says so; CLI options name themselves; a file is never counted twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import egamma_cnn.workflows.tnp as tnp_workflow
from egamma_cnn.cli import main
from egamma_cnn.execution import check_fileset, load_fileset
from egamma_cnn.runfolder import MANIFEST, check_run_folder, run_folder
from egamma_cnn.workflows import run_isolation, run_tnp

DATA = Path(__file__).parent / "data"
MC = DATA / "zee_mc.root"
DATALIKE = DATA / "zee_datalike.root"
FILESET = {
    "data": {"files": {str(DATALIKE): "Events"}, "metadata": {"is_data": True}},
    "mc": {"files": {str(MC): "Events"}, "metadata": {"is_data": False}},
}


def _temporaries(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.run-")]


def _error(capsys) -> str:
    return capsys.readouterr().err.strip()


# -- output folders -----------------------------------------------------------------------


def test_an_output_folder_holding_an_input_file_is_refused_before_the_run(tmp_path):
    out = tmp_path / "inp"
    out.mkdir()
    source = out / "histograms.root"  # an input named like an output
    source.write_bytes(MC.read_bytes())
    inputs = {"datasets": {"mc": {"files": [str(source)], "is_data": False}}}
    with pytest.raises(ValueError, match=r"holds input file\(s\) of the run .*histograms\.root"):
        with run_folder(out, workflow="tnp", inputs=inputs):
            raise AssertionError("the run must not start")
    assert source.read_bytes() == MC.read_bytes() and _temporaries(out) == []


def test_a_users_file_named_like_an_output_fails_the_commit_leaving_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text('{"mine": 1}')
    with pytest.raises(ValueError, match=r"would replace config\.json, not written by"):
        with run_folder(out, workflow="test") as staging:
            (staging / "config.json").write_text("{}")
            (staging / "other.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]
    assert (out / "config.json").read_text() == '{"mine": 1}' and _temporaries(out) == []
    # a file in the place of one of the run's sub-folders is the user's too
    (out / "plots").write_text("mine")
    with pytest.raises(ValueError, match=r"would replace plots,"):
        with run_folder(out, workflow="test") as staging:
            (staging / "plots").mkdir()
            (staging / "plots" / "a.png").write_bytes(b"png")
    assert (out / "plots").read_text() == "mine"
    # our own files are replaced by the next run as before
    other = tmp_path / "ours"
    for content in ("1", "2"):
        with run_folder(other, workflow="test") as staging:
            (staging / "config.json").write_text(content)
    assert (other / "config.json").read_text() == "2" and check_run_folder(other)


@pytest.mark.parametrize(
    "manifest",
    ['{"files": {"important.dat": {}}}', "not json", '["a list"]', '{"workflow": "x"}'],
)
def test_a_folder_with_another_tools_manifest_is_refused(tmp_path, manifest):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / MANIFEST).write_text(manifest)
    (out / "important.dat").write_text("keep")
    with pytest.raises(ValueError, match=r"theirs: its manifest\.json (was not written|cannot)"):
        with run_folder(out, workflow="test") as staging:
            (staging / "a.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["important.dat", MANIFEST]
    assert (out / "important.dat").read_text() == "keep"


@pytest.mark.parametrize("name", ["", "/"])
def test_an_empty_output_folder_name_and_the_root_are_refused(name, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"an empty name|the filesystem root"):
        with run_folder(name, workflow="test"):
            raise AssertionError("the run must not start")
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps(FILESET))
    for command in ("tnp", "datamc", "isolation", "validate"):
        given = [str(MC)] if command == "validate" else [str(fileset)]
        with pytest.raises(SystemExit) as exit_:
            main([command, *given, "--out-dir", name])
        assert exit_.value.code == 2
        assert "argument --out-dir: " in _error(capsys)


def test_the_home_folder_itself_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps(FILESET))
    with pytest.raises(SystemExit) as exit_:
        main(["tnp", str(fileset), "--out-dir", str(tmp_path)])
    assert exit_.value.code == 2 and "your home folder itself" in _error(capsys)
    with pytest.raises(ValueError, match="your home folder itself"):
        with run_folder(tmp_path, workflow="test"):
            raise AssertionError("the run must not start")


# -- tag-and-probe without both kinds -------------------------------------------------------


def test_tnp_refuses_a_side_without_a_single_pair_naming_its_datasets(tmp_path, monkeypatch):
    real = tnp_workflow.run_processor

    def mc_without_pairs(processor, fileset, **options):
        run = real(processor, fileset, **options)
        run.outputs["mc"]["pairs"] = 0  # as an MC sample of 0 events
        return run

    monkeypatch.setattr(tnp_workflow, "run_processor", mc_without_pairs)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"the MC dataset\(s\) 'mc' give no tag-probe pair"):
        run_tnp(FILESET, out, scheduler="sync")
    assert not out.exists() and _temporaries(out) == []


@pytest.mark.parametrize("kind", ["data", "mc"])
def test_tnp_with_one_kind_only_says_there_are_no_scale_factors(kind, tmp_path, capsys):
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps({kind: FILESET[kind]}))
    out = tmp_path / "out"
    assert main(["tnp", str(fileset), "--out-dir", str(out), "--workers", "0"]) == 0
    missing = "MC" if kind == "data" else "data"
    line = f"no scale factors: the fileset has no {missing} dataset"
    printed = capsys.readouterr().out.splitlines()
    assert any(text.startswith(line) for text in printed)
    assert printed[-1].startswith(f"efficiencies and plots in {out}; {line}")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["no_scale_factors"].startswith(line) and "scale_factors" not in summary
    assert not (out / "scale_factors.json").exists()


def test_isolation_tnp_datasets_need_data_and_mc(tmp_path):
    for names, missing in ((["mc"], "no data"), (["data"], "no MC")):
        with pytest.raises(ValueError, match=rf"datasets \['{names[0]}'\] have {missing} dataset"):
            run_isolation(FILESET, tmp_path / "out", tnp_datasets=names, scheduler="sync")
    assert not (tmp_path / "out").exists()


# -- options --------------------------------------------------------------------------------


@pytest.fixture
def fileset_json(tmp_path) -> Path:
    path = tmp_path / "fileset.json"
    path.write_text(json.dumps(FILESET))
    return path


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def test_an_empty_tag_id_is_refused_not_the_default(fileset_json, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert _exit_code(["tnp", str(fileset_json), "--tag-id", "", "--out-dir", out]) == 2
    assert "--tag-id '': empty ID specification" in _error(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("wp", "message"),
    [
        (["a=cnn_tight", "a=cnn_loose"], "--wp: the working point 'a' is given twice"),
        (["myiso="], "--wp 'myiso=': an empty SPEC after '='"),
        (["myiso= "], "--wp 'myiso= ': an empty SPEC after '='"),
    ],
)
def test_working_points_given_twice_or_empty_are_refused(
    wp, message, fileset_json, tmp_path, capsys
):
    argv = ["isolation", str(fileset_json), "--out-dir", str(tmp_path / "o"), "--wp", *wp]
    assert _exit_code(argv) == 2
    assert message in _error(capsys)


@pytest.mark.parametrize("option", ["--config", "--execution-config", "fileset"])
@pytest.mark.parametrize("what", ["missing", "folder"])
def test_a_missing_or_folder_input_json_names_its_option(
    option, what, fileset_json, tmp_path, capsys
):
    bad = str(tmp_path / "nothere.json") if what == "missing" else str(tmp_path)
    reason = "no such file" if what == "missing" else "a folder, not a file"
    for command in ("tnp", "datamc", "isolation"):
        if option == "fileset":
            argv = [command, bad]
        else:
            argv = [command, str(fileset_json), option, bad]
        assert _exit_code(argv) == 2
        assert f"argument {option}: {bad}: {reason}" in _error(capsys)
    if option == "fileset":  # egamma-cnn run PROCESSOR --fileset
        assert _exit_code(["run", "tnp", "--fileset", bad]) == 2
        assert f"argument --fileset: {bad}: {reason}" in _error(capsys)


# -- filesets -------------------------------------------------------------------------------


def test_a_file_in_two_datasets_is_refused(tmp_path):
    fileset = {
        "mc": {"files": [str(MC)], "metadata": {"is_data": False}},
        "mc2": {"files": [str(MC)], "metadata": {"is_data": False}},
    }
    with pytest.raises(ValueError, match=r"listed twice, as .*zee_mc\.root in dataset 'mc' and"):
        check_fileset(fileset)


def test_a_file_through_a_link_or_another_spelling_is_refused(tmp_path):
    (tmp_path / "z.root").write_bytes(MC.read_bytes())
    os.symlink("z.root", tmp_path / "zl.root")
    (tmp_path / "sub").mkdir()
    for other in ("zl.root", "sub/../z.root", str(tmp_path / "z.root")):
        path = tmp_path / "fileset.json"
        path.write_text(json.dumps({"zee": {"files": ["z.root", other]}}))
        with pytest.raises(ValueError, match=r"fileset\.json: the same file is listed twice"):
            load_fileset(path)
    # files that do not exist: the same real path is the same file; remote by the text
    with pytest.raises(ValueError, match="listed twice"):
        check_fileset({"a": {"files": ["gone.root"]}, "b": {"files": ["./gone.root"]}})
    remote = "root://host//store/a.root"
    with pytest.raises(ValueError, match="listed twice"):
        check_fileset({"a": {"files": [remote]}, "b": {"files": [remote]}})
    assert check_fileset({"a": {"files": [remote]}, "b": {"files": [remote + "x"]}})


def test_a_runnable_fileset_with_bad_steps_is_refused_by_name(tmp_path):
    fileset = {
        "data": {"files": {str(DATALIKE): {"object_path": "Events", "steps": [[0, 5]]}}},
        "mc": {"files": [str(MC)]},
    }
    assert check_fileset(fileset)["data"]["files"][str(DATALIKE)]["steps"] == [[0, 5]]
    fileset["data"]["files"][str(DATALIKE)]["steps"] = [[0, 5], [3, 8]]
    with pytest.raises(ValueError, match=r"dataset 'data': file .* steps overlap"):
        check_fileset(fileset)
    fileset["data"]["files"][str(DATALIKE)]["steps"] = [[5, 2]]
    with pytest.raises(ValueError, match=r"a step must be \[start, stop\]"):
        check_fileset(fileset)
    # coffea's object_path alone stays accepted
    fileset["data"]["files"][str(DATALIKE)] = {"object_path": "Events"}
    assert check_fileset(fileset)["data"]["files"][str(DATALIKE)] == {"object_path": "Events"}
