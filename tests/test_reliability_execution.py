"""Bad input to the execution layer: every case ends in a one-line error that names the
culprit (dataset, file, entry range, field, value, option) or in a documented skip.

Issue 17, "Errors that must name the culprit": the fileset is checked before anything
runs; a chunk that fails while computing is named by file and entry range (and left out,
reported, with ``skip_bad_files``); a file without the branches of the schema is named
with the branches; the cluster executors without their extra, wrong execution settings
and too many local workers are refused with the option and the value.
"""

from __future__ import annotations

import builtins
import json
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from egamma_cnn.execution import (
    BadInputError,
    ExecutionSettings,
    load_fileset,
    open_executor,
    run_fileset,
    task_pool,
)
from egamma_cnn.execution.clusters import MissingExtraError, max_local_workers
from egamma_cnn.execution.fileset import check_fileset
from egamma_cnn.nanoevents import EGammaSchema
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.sim.writer import write_events
from egamma_cnn.tnp import TnPConfig

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "zee_mc.root"
CHUNK = 10  # events per chunk and per basket of the files written here: 4 of each
ITERATIVE = ExecutionSettings(executor="iterative", chunk_size=CHUNK)


def _blocks(change=None) -> list[dict[str, ak.Array]]:
    """The 40 events of the test sample as collections, in blocks of CHUNK events."""
    with uproot.open(SAMPLE) as f:
        arrays = f["Events"].arrays()
    names = arrays.fields
    collections = [n[1:] for n in names if n.startswith("n") and f"{n[1:]}_pt" in names]
    collections += [n[1:] for n in ("nCaloCell",) if n in names]
    columns: dict[str, ak.Array] = {
        c: ak.zip({m[len(c) + 1 :]: arrays[m] for m in names if m.startswith(f"{c}_")})
        for c in collections
    }
    for name in names:
        if not any(name == f"n{c}" or name.startswith(f"{c}_") for c in collections):
            columns[name] = arrays[name]
    if change is not None:
        columns = change(columns)
    return [{k: v[i : i + CHUNK] for k, v in columns.items()} for i in range(0, 40, CHUNK)]


def _write(path: Path, change=None) -> str:
    write_events(path, _blocks(change), {"is_data": False})
    return str(path)


def _nan_energy(columns: dict) -> dict:
    """The first electron of event 25 (chunk [20, 30)) with a NaN cluster energy."""
    electrons = columns["Electron"]
    energy = ak.to_numpy(ak.flatten(electrons.clusterE)).copy()
    counts = ak.num(electrons.clusterE)
    energy[int(np.sum(counts[:25]))] = np.nan
    columns["Electron"] = ak.with_field(electrons, ak.unflatten(energy, counts), "clusterE")
    return columns


def _without_cells(columns: dict) -> dict:
    del columns["CaloCell"]
    return columns


def _processor() -> TagAndProbeProcessor:
    return TagAndProbeProcessor(TnPConfig(probe_id=("cnn_tight",)))


def _fileset(*files: str, is_data=False) -> dict:
    return {"zee": {"files": {f: "Events" for f in files}, "metadata": {"is_data": is_data}}}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """A good file, one with a NaN energy in [20, 30), one whose CaloCell_energy basket of
    [20, 30) is corrupted, one without the CaloCell branches; 4 baskets each."""
    folder = tmp_path_factory.mktemp("reliability")
    good = _write(folder / "good.root")
    corrupted = folder / "corrupted.root"
    shutil.copy(good, corrupted)
    with uproot.open(good) as f:
        branch = f["Events"]["CaloCell_energy"]
        seek = int(branch.member("fBasketSeek")[2])
        size = int(branch.member("fBasketBytes")[2])
    damaged = bytearray(corrupted.read_bytes())
    damaged[seek + size // 2 : seek + size // 2 + 200] = bytes(200)
    corrupted.write_bytes(bytes(damaged))
    return {
        "good": good,
        "nan": _write(folder / "nan.root", _nan_energy),
        "corrupted": str(corrupted),
        "no_cells": _write(folder / "no_cells.root", _without_cells),
    }


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# -- the fileset, checked before anything runs ---------------------------------------------


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"files": []}, "has no files"),
        ({"files": "a.root"}, "str 'a.root'"),
        ({"files": [1]}, "not 1"),
        ({"files": {"a.root": 3}}, "tree name must be a text, not int 3"),
        ({"files": ["a.root"], "metadata": {"is_data": "yes"}}, "is_data must be true or false"),
        ({"files": ["a.root"], "metadata": ["data"]}, "'metadata' must be a mapping"),
        ({"tree": "Events"}, "needs 'files'"),
    ],
)
def test_a_malformed_fileset_is_named_before_anything_runs(spec, named, tmp_path):
    with pytest.raises(ValueError, match="dataset 'zee'") as err:
        run_fileset(_processor(), {"zee": spec}, ITERATIVE, schemaclass=EGammaSchema)
    assert named in _one_line(err)
    path = tmp_path / "fileset.json"
    path.write_text(json.dumps({"zee": spec}))
    with pytest.raises(ValueError, match=f"{path}: dataset 'zee'") as err:
        load_fileset(path)
    assert named in _one_line(err)
    with pytest.raises(ValueError, match="non-empty mapping"):
        check_fileset([])


def test_missing_files_and_folders_stop_the_run_or_are_left_out(files, tmp_path):
    missing, folder = str(tmp_path / "missing.root"), str(tmp_path)
    fileset = _fileset(files["good"], missing, folder)
    with pytest.raises(BadInputError, match="2 file") as err:
        run_fileset(_processor(), fileset, ITERATIVE, schemaclass=EGammaSchema)
    message = _one_line(err)
    assert f"{missing}: no such file" in message and f"{folder}: a folder" in message
    run = run_fileset(
        _processor(), fileset, ITERATIVE.with_changes(skip_bad_files=True), schemaclass=EGammaSchema
    )
    assert run.skipped_files == sorted([missing, folder])
    assert run.outputs["zee"]["events"] == 40
    # a fileset JSON whose only file is missing, without is_data: the file is named
    path = tmp_path / "fileset.json"
    path.write_text(json.dumps({"zee": {"files": ["missing.root"]}}))
    with pytest.raises(ValueError, match=r"missing\.root \(no such file\)") as err:
        load_fileset(path)
    assert "none of its files can be read" in _one_line(err)
    # with a readable egamma-cnn file beside it, the readable one tells; the run names it
    path.write_text(json.dumps({"zee": {"files": [str(SAMPLE), "missing.root"]}}))
    assert load_fileset(path)["zee"]["metadata"]["is_data"] is False


# -- chunks that fail while computing ------------------------------------------------------


def test_a_chunk_that_fails_in_our_kernels_is_named_or_left_out(files):
    fileset = _fileset(files["nan"])
    with pytest.raises(BadInputError) as err:
        run_fileset(_processor(), fileset, ITERATIVE, schemaclass=EGammaSchema)
    message = _one_line(err)
    assert f"dataset 'zee': {files['nan']} entries [20, 30): ValueError" in message
    assert "clusterE" in message and "--skip-bad-files" in message
    run = run_fileset(
        _processor(), fileset, ITERATIVE.with_changes(skip_bad_files=True), schemaclass=EGammaSchema
    )
    assert [(f.file, f.entry_start, f.entry_stop) for f in run.failures] == [(files["nan"], 20, 30)]
    # the other 30 events, each once: the run equals one over the good chunks alone
    assert run.outputs["zee"]["events"] == 30
    blocks = _blocks(_nan_energy)
    good_chunks = str(Path(files["nan"]).with_name("nan_without_20_30.root"))
    write_events(good_chunks, [*blocks[:2], blocks[3]], {"is_data": False})
    reference = run_fileset(
        _processor(), _fileset(good_chunks), ITERATIVE, schemaclass=EGammaSchema
    )
    assert reference.outputs["zee"]["events"] == 30
    np.testing.assert_array_equal(
        run.outputs["zee"]["histogram"].values(flow=True),
        reference.outputs["zee"]["histogram"].values(flow=True),
    )


def test_a_corrupted_basket_is_named_by_file_and_entry_range(files):
    fileset = _fileset(files["good"], files["corrupted"])
    with pytest.raises(BadInputError) as err:
        run_fileset(_processor(), fileset, ITERATIVE, schemaclass=EGammaSchema)
    assert f"{files['corrupted']} entries [20, 30): " in _one_line(err)
    run = run_fileset(
        _processor(), fileset, ITERATIVE.with_changes(skip_bad_files=True), schemaclass=EGammaSchema
    )
    assert {(f.file, f.entry_start) for f in run.failures} == {(files["corrupted"], 20)}
    assert run.outputs["zee"]["events"] == 70


def test_a_failing_chunk_is_named_on_a_distributed_cluster(files):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
        pytest.raises(BadInputError) as err,
    ):
        run_fileset(
            _processor(),
            _fileset(files["nan"]),
            ITERATIVE.with_changes(retries=0),
            schemaclass=EGammaSchema,
            executor=client,
        )
    assert f"dataset 'zee': {files['nan']} entries [20, 30): ValueError" in _one_line(err)


# -- files without the branches of the schema ----------------------------------------------


@pytest.mark.parametrize("order", ["alone", "after a good file", "before a good file"])
def test_a_file_without_the_cell_branches_is_named_with_them(files, order):
    bad = files["no_cells"]
    listed = {"alone": [bad], "after a good file": [files["good"], bad]}.get(
        order, [bad, files["good"]]
    )
    with pytest.raises(BadInputError) as err:
        run_fileset(_processor(), _fileset(*listed), ITERATIVE, schemaclass=EGammaSchema)
    message = _one_line(err)
    assert f"dataset 'zee': {bad}: it lacks 5 branch(es) that EGammaSchema needs" in message
    assert "CaloCell_energy" in message and files["good"] not in message
    if order != "alone":
        run = run_fileset(
            _processor(),
            _fileset(*listed),
            ITERATIVE.with_changes(skip_bad_files=True),
            schemaclass=EGammaSchema,
        )
        assert run.skipped_files == [bad] and run.outputs["zee"]["events"] == 40


def test_cms_nanoaod_branches_suggest_the_nanoaod_option():
    nanoaod = ["nElectron", "Electron_pt", "Electron_cutBased", "HLT_Ele32_WPTight_Gsf"]
    reason = EGammaSchema.check_branches(nanoaod)
    assert reason is not None and "--nanoaod" in reason and "nCaloCell" in reason
    with uproot.open(SAMPLE) as f:
        assert EGammaSchema.check_branches(f["Events"].keys()) is None


# -- executors and their settings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("executor", "package"), [("slurm", "dask_jobqueue"), ("gateway", "dask_gateway")]
)
def test_a_cluster_executor_without_its_extra_names_the_pip_command(executor, package, monkeypatch):
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name == package:
            raise ModuleNotFoundError(f"No module named {package!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    address = "https://gateway.example" if executor == "gateway" else None
    settings = ExecutionSettings(executor=executor, address=address)
    with pytest.raises(ValueError, match=r"pip install 'egamma-cnn\[cluster\]'") as err:
        with open_executor(settings):
            pass
    assert isinstance(err.value, MissingExtraError) and isinstance(err.value, ImportError)
    assert package.replace("_", "-") in _one_line(err)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"workers": "two"}, "workers must be a positive integer, not 'two'"),
        ({"retries": -1}, "retries must be an integer ≥ 0, not -1"),
        ({"executor": ["local"]}, "executor ['local'] is not one of"),
        ({"memory_per_worker": "lots"}, "memory_per_worker must be an amount of memory"),
        ({"address": 8786}, "address must be a text or null, not 8786"),
        ({"skip_bad_files": "yes"}, "skip_bad_files must be true or false, not 'yes'"),
        ({"jobqueue": ["queue"]}, "jobqueue must be a JSON object of options"),
        ({"gpus": 1}, "unknown execution settings ['gpus']"),
        (["iterative"], "the execution settings are a JSON object"),
    ],
)
def test_execution_settings_name_the_field_and_the_value(content, named, tmp_path):
    path = tmp_path / "execution.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError) as err:
        ExecutionSettings.from_json(path)
    message = _one_line(err)
    assert message.startswith(f"{path}: ") and named in message


def test_local_workers_are_bounded_by_the_cores():
    limit = max_local_workers()
    assert ExecutionSettings(executor="local", workers=limit).workers == limit
    message = f"--workers 100000: at most {limit} local worker processes"
    with pytest.raises(ValueError, match=message) as err:
        ExecutionSettings(executor="local", workers=100_000)
    _one_line(err)
    with pytest.raises(ValueError, match=message):
        ExecutionSettings().with_changes(workers=100_000)
    # batch jobs are not this machine's processes
    assert ExecutionSettings(executor="slurm", workers=100_000).workers == 100_000
    with pytest.raises(ValueError, match=message), task_pool(None, 100_000):
        pass
