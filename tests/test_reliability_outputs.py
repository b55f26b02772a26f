"""Outputs under bad input and interruption: one run per folder, strict JSON, names, SFs.

Issue 17: a rerun leaves no stale file of ours and keeps the user's; a run that fails
while writing leaves the previous run whole and no temporary; ID specifications get one
bounded output name each; the scale-factor file says what it does out of range; empty
samples and the execution settings of every workflow.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import correctionlib
import numpy as np
import pytest

import egamma_cnn.workflows.common as common
import egamma_cnn.workflows.datamc as datamc_workflow
import egamma_cnn.workflows.tnp as tnp_workflow
from egamma_cnn.cli import main
from egamma_cnn.execution import ExecutionSettings
from egamma_cnn.nanoevents import EGammaSchema
from egamma_cnn.runfolder import MANIFEST, check_run_folder, remove_dead_runs, run_folder
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.efficiency import BinEfficiency
from egamma_cnn.tnp.outputs import check_output_names, file_name, root_name
from egamma_cnn.tnp.scale_factors import (
    CORRECTION_NAME,
    ScaleFactors,
    scale_factors,
    write_correctionlib,
)
from egamma_cnn.workflows import run_datamc, run_isolation, run_tnp

DATA = Path(__file__).parent / "data"
FILESET = {
    "data": {"files": {str(DATA / "zee_datalike.root"): "Events"}, "metadata": {"is_data": True}},
    "mc": {"files": {str(DATA / "zee_mc.root"): "Events"}, "metadata": {"is_data": False}},
}


def _temporaries(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.run-")]


# -- the run folder ---------------------------------------------------------------------


def test_a_rerun_replaces_its_own_files_keeps_the_users_and_ends_with_the_manifest(tmp_path):
    out = tmp_path / "out"
    with run_folder(out, workflow="test", inputs={"x": 1}) as staging:
        assert staging.parent == out.parent and staging.name.startswith(".out.run-")
        (staging / "a.json").write_text("{}")
        (staging / "bins").mkdir()
        (staging / "bins" / "old.png").write_bytes(b"png")
    (out / "notes.txt").write_text("mine")  # the user's own file
    manifest = check_run_folder(out)
    assert set(manifest["files"]) == {"a.json", "bins/old.png"}
    assert manifest["files"]["bins/old.png"]["size"] == 3
    assert manifest["workflow"] == "test" and manifest["inputs"] == {"x": 1}
    assert manifest["egamma_cnn_version"] and manifest["created"]
    with run_folder(out, workflow="test") as staging:
        (staging / "a.json").write_text('{"new": 1}')
    assert sorted(p.name for p in out.iterdir()) == ["a.json", MANIFEST, "notes.txt"]
    assert not (out / "bins").exists()  # our folder, emptied: gone
    assert (out / "notes.txt").read_text() == "mine"
    assert set(check_run_folder(out)["files"]) == {"a.json"}
    assert _temporaries(out) == []


def test_a_failed_run_leaves_the_previous_run_whole_and_no_temporary(tmp_path):
    out = tmp_path / "out"
    with run_folder(out, workflow="test") as staging:
        (staging / "a.json").write_text("{}")
    before = check_run_folder(out)
    with pytest.raises(KeyboardInterrupt), run_folder(out, workflow="test") as staging:
        (staging / "a.json").write_text("half")
        raise KeyboardInterrupt
    assert check_run_folder(out) == before and (out / "a.json").read_text() == "{}"
    assert _temporaries(out) == []


def test_a_run_killed_while_moving_its_files_in_is_incomplete_and_cleaned_next(
    tmp_path, monkeypatch
):
    out = tmp_path / "out"
    with run_folder(out, workflow="test") as staging:
        for name in ("a.json", "b.json", "stale.png"):
            (staging / name).write_text(name)
    moved = []

    def killed(source, target):
        if moved:
            raise OSError("killed")
        moved.append(target)
        return shutil.copy2(source, target)

    monkeypatch.setattr("egamma_cnn.runfolder.shutil.move", killed)
    with pytest.raises(OSError, match="killed"), run_folder(out, workflow="test") as staging:
        (staging / "a.json").write_text("new a")
        (staging / "b.json").write_text("new b")
    # new a.json beside the old b.json: no manifest, so not taken for a complete run
    with pytest.raises(ValueError, match=r"no manifest\.json: an incomplete run"):
        check_run_folder(out)
    monkeypatch.undo()
    with run_folder(out, workflow="test") as staging:
        (staging / "a.json").write_text("third")
    # the interrupted run's predecessor's files are still known as ours: removed
    assert sorted(p.name for p in out.iterdir()) == ["a.json", MANIFEST]
    check_run_folder(out)


def test_an_altered_file_or_a_missing_one_does_not_match_the_manifest(tmp_path):
    out = tmp_path / "out"
    with run_folder(out, workflow="test") as staging:
        (staging / "a.json").write_text("{}")
        (staging / "b.json").write_text("{}")
    (out / "a.json").write_text("[]")
    with pytest.raises(ValueError, match=r"a\.json differs from the manifest"):
        check_run_folder(out)
    (out / "a.json").write_text("{}")
    check_run_folder(out)
    (out / "b.json").unlink()
    with pytest.raises(ValueError, match=r"b\.json of the manifest is missing"):
        check_run_folder(out)


def test_temporaries_of_dead_runs_are_removed_those_of_live_ones_kept(tmp_path):
    out = tmp_path / "out"
    with run_folder(out, workflow="test") as staging:
        host, pid, _token = staging.name.removeprefix(".out.run-").rsplit("-", 2)
        assert int(pid) == os.getpid()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    left = tmp_path / f".out.run-{host}-{dead_pid}-0123abcd"
    live = tmp_path / f".out.run-{host}-{os.getpid()}-0123abcd"
    other_host = tmp_path / f".out.run-elsewhere-{dead_pid}-0123abcd"
    for folder in (left, live, other_host):
        folder.mkdir()
        (folder / "half.png").write_bytes(b"x")
    with run_folder(out, workflow="test") as staging:  # the next run cleans up
        (staging / "a.json").write_text("{}")
    assert not left.exists() and live.exists() and other_host.exists()
    assert remove_dead_runs(out) == []


def test_an_output_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        with run_folder(tmp_path / "out", workflow="test"):
            pass


# -- the workflows through it -----------------------------------------------------------


def test_tnp_rerun_with_fewer_ids_and_a_run_failing_while_plotting(tmp_path, monkeypatch):
    out = tmp_path / "tnp"
    config = TnPConfig(probe_id=("cnn_loose", "cnn_score >= 0.5"))
    run_tnp(FILESET, out, config, scheduler="sync")
    assert (out / "efficiency_cnn_loose_et.png").exists()
    assert (out / "sf_cnn_score-ge-0.5.png").exists()
    (out / "my_notes.txt").write_text("keep")
    run_tnp(FILESET, out, TnPConfig(probe_id=("cnn_score >= 0.5",)), scheduler="sync")
    assert not list(out.glob("*cnn_loose*"))  # no stale plot of the ID no longer measured
    assert (out / "my_notes.txt").read_text() == "keep"
    manifest = check_run_folder(out)
    assert manifest["workflow"] == "tnp"
    assert manifest["inputs"]["datasets"]["mc"]["files"] == [str(DATA / "zee_mc.root")]
    assert set(manifest["files"]) == {
        p.name for p in out.iterdir() if p.name not in (MANIFEST, "my_notes.txt")
    }
    for name in manifest["files"]:
        if name.endswith(".json"):  # strict JSON
            json.loads((out / name).read_text(), parse_constant=_refuse)

    def broken(result, out_dir):
        (Path(out_dir) / "sf_half.png").write_bytes(b"half")
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(tnp_workflow, "plot_all", broken)
    with pytest.raises(RuntimeError, match="plotting failed"):
        run_tnp(FILESET, out, config, scheduler="sync")
    assert check_run_folder(out) == manifest  # the previous run, whole
    assert not (out / "sf_half.png").exists() and _temporaries(out) == []


def _refuse(constant):
    raise ValueError(f"not strict JSON: {constant}")


# -- output names of ID specifications --------------------------------------------------


def test_id_output_names_are_one_per_specification_and_bounded(tmp_path):
    ge, le = "cnn_score>=0.5", "cnn_score<=0.5"
    assert file_name(ge) != file_name(le) and root_name("mc", ge, True) != root_name("mc", le, True)
    assert file_name("cnn_score >= 0.50") == file_name(ge)  # spaces, number format
    # a column named like a comparison is not the comparison
    assert file_name("age1") != file_name("a >= 1") and file_name("a_over_b") != file_name(
        "a/b < 1"
    )
    long = " and ".join(f"ptvarcone{k}/pt < 0.{k + 1}" for k in range(40))
    name = file_name(long)
    assert len(name) == 85 and name != file_name(long.replace("0.40", "0.41"))
    for spec in (ge, le, long, "ptvarcone30/pt < 0.15"):
        key = root_name("data", spec, False)
        assert "/" not in key and ";" not in key
        (tmp_path / f"fits_mc_{file_name(spec)}_et15-20.png").write_bytes(b"")  # not too long
    check_output_names([ge, le, long])
    with pytest.raises(ValueError, match=r"'cnn_score>=0.5' and 'cnn_score >= 0.50' are the same"):
        check_output_names([ge, le, "cnn_score >= 0.50"])


def test_duplicate_ids_are_refused_before_anything_runs(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(common, "run_fileset", never)
    twice = ("cnn_score>=0.5", "cnn_score >= 0.5")
    with pytest.raises(ValueError, match="the same"):
        run_tnp(FILESET, tmp_path / "a", TnPConfig(probe_id=twice))
    with pytest.raises(ValueError, match="the same"):
        run_datamc(FILESET, tmp_path / "b", ids=twice)
    with pytest.raises(ValueError, match="the same"):
        run_isolation(FILESET, tmp_path / "c", working_points=dict(zip("xy", twice, strict=True)))
    assert not any(tmp_path.iterdir())  # nothing written


# -- the scale-factor file --------------------------------------------------------------


def _bin(et, eta, efficiency, status="ok"):
    return BinEfficiency(*et, *eta, efficiency, 0.05, 0.05, 100.0, 50.0, "count", status)


def test_scale_factors_out_of_range_nan_and_unmeasured_bins_through_correctionlib(tmp_path):
    et_edges, eta_edges = (20.0, 40.0, 60.0), (-1.37, -0.5, 0.5, 1.37)
    et_bins, eta_bins = list(itertools.pairwise(et_edges)), list(itertools.pairwise(eta_edges))
    data = [_bin(et, eta, 0.8) for et in et_bins for eta in eta_bins]
    mc = [_bin(et, eta, 0.9) for et in et_bins for eta in eta_bins]
    data[1] = _bin(et_bins[0], eta_bins[1], math.nan, "no signal after subtraction")
    data[2] = _bin(et_bins[0], eta_bins[2], 0.0, "negative yield set to 0 in the ratio")
    data[4] = _bin(et_bins[1], eta_bins[1], 0.0)  # a measured zero
    factors = scale_factors(data, mc, "wp")
    assert len(factors.missing) == 2 and factors.value[1, 1] == 0.0
    path = write_correctionlib([factors], tmp_path / "sf.json")
    correction = correctionlib.CorrectionSet.from_file(str(path))[CORRECTION_NAME]
    sf = 0.8 / 0.9

    def evaluate(kind, eta, et):
        return correction.evaluate(kind, "wp", eta, et)

    assert evaluate("sf", -1.0, 30.0) == pytest.approx(sf)
    assert evaluate("sf", -1.0, 5000.0) == pytest.approx(sf)  # above the last edge: last bin
    assert evaluate("sf", 0.0, 5000.0) == 0.0  # the measured zero, in the last E_T bin
    for eta in (0.0, 1.0):  # no signal; a negative yield: 1 ± 1, never a silent 0
        assert (evaluate("sf", eta, 30.0), evaluate("sfup", eta, 30.0)) == (1.0, 2.0)
        assert evaluate("sfdown", eta, 30.0) == 0.0
    assert "wp: 2 bins without a measured SF (1 ± 1)" in correction.description
    assert "wp: 1 bins with a measured SF of 0" in correction.description
    for eta, et in ((2.0, 30.0), (-1.5, 30.0), (0.0, 10.0), (math.nan, 30.0), (0.0, math.nan)):
        with pytest.raises(RuntimeError, match="bounds"):
            evaluate("sf", eta, et)
    with pytest.raises(RuntimeError, match="bounds"):  # NaN in an array: the whole call
        correction.evaluate("sf", "wp", np.array([0.0, np.nan]), np.array([30.0, 30.0]))
    table = ScaleFactors.to_dict(factors)
    assert table["sf"][0][1] is None and len(table["missing_bins"]) == 2


# -- empty samples ----------------------------------------------------------------------


def test_datamc_with_an_empty_side_is_an_error_naming_it(tmp_path, monkeypatch):
    real = datamc_workflow.run_processor

    def mc_without_probes(processor, fileset, **options):
        run = real(processor, fileset, **options)
        run.outputs["mc"]["probes"] = 0  # as an MC file whose events give no pair
        return run

    monkeypatch.setattr(datamc_workflow, "run_processor", mc_without_probes)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"the MC datasets \['mc'\] have no probes"):
        run_datamc(FILESET, out, scheduler="sync", fudged_pass=False, ids=())
    assert not out.exists() and _temporaries(out) == []


# -- the execution settings reach the run -----------------------------------------------


class _Stop(Exception):
    pass


@pytest.mark.parametrize("command", ["tnp", "datamc", "isolation"])
def test_every_workflow_gives_its_execution_settings_to_the_run(command, tmp_path, monkeypatch):
    seen = []

    def run_fileset(processor, fileset, settings, **options):
        seen.append((settings, options["schemaclass"]))
        raise _Stop

    monkeypatch.setattr(common, "run_fileset", run_fileset)
    given = ExecutionSettings(skip_bad_files=True, retries=3, chunk_size=123)
    run = {"tnp": run_tnp, "datamc": run_datamc, "isolation": run_isolation}[command]
    with pytest.raises(_Stop):
        run(FILESET, tmp_path / "a", settings=given, step_size=7)
    settings, _ = seen[-1]
    assert (settings.skip_bad_files, settings.retries, settings.chunk_size) == (True, 3, 7)
    # a schema with its own identification settings keeps them apart from the execution's
    schema = EGammaSchema.with_identification(batch_size=64)
    with pytest.raises(_Stop):
        run(FILESET, tmp_path / "b", settings=given, schemaclass=schema)
    settings, schemaclass = seen[-1]
    assert settings == given and schemaclass.identification.batch_size == 64
    # the command's flags
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps(FILESET))
    flags = ["--skip-bad-files", "--retries", "2", "--step-size", "11", "--workers", "0"]
    with pytest.raises(_Stop):
        main([command, str(fileset), "--out-dir", str(tmp_path / "c"), *flags])
    settings, _ = seen[-1]
    assert (settings.skip_bad_files, settings.retries, settings.chunk_size) == (True, 2, 11)
    assert settings.executor == "iterative"
