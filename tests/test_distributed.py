"""Distributed execution: a real dask scheduler and two workers on loopback.

The tag-and-probe processor over several files through the scheduler's address gives
exactly the result of the iterative (in-process) run; the same with one worker killed
mid-way (its chunks are recomputed, nothing lost or counted twice); a corrupted and a
truncated file are reported by name and entry range.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from egamma_cnn.execution import BadInputError, ExecutionSettings, run_fileset
from egamma_cnn.nanoevents import EGammaSchema
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.tnp import TnPConfig

DATA = Path(__file__).parent / "data"
CHUNK = 10  # events per chunk: 4 chunks per 40-event file


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )


@pytest.fixture
def cluster(tmp_path):
    """A ``dask scheduler`` and two ``dask worker`` processes (no nanny: a killed worker
    stays dead) on 127.0.0.1; yields (address, worker processes)."""
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    processes = [
        _start(
            [
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            tmp_path / "scheduler.log",
        )
    ]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = [
        _start(
            [
                "distributed.cli.dask_worker",
                "--scheduler-file",
                str(scheduler_file),
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--name",
                f"worker{k}",
            ],
            tmp_path / f"worker{k}.log",
        )
        for k in range(2)
    ]
    processes += workers
    try:
        with Client(scheduler_file=str(scheduler_file), timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
        yield address, workers
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _fileset(tmp_path: Path, extra: dict[str, str] | None = None) -> dict:
    files = {}
    for k in range(3):  # three files (copies of the test sample under their own names)
        path = tmp_path / f"zee_{k}.root"
        shutil.copy(DATA / "zee_mc.root", path)
        files[str(path)] = "Events"
    files.update(extra or {})
    return {"zee": {"files": files, "metadata": {"is_data": False}}}


def _processor():
    return TagAndProbeProcessor(TnPConfig(probe_id=("cnn_tight", "cnn_loose")))


def _same(a: dict, b: dict) -> None:
    assert a["events"] == b["events"] and a["pairs"] == b["pairs"]
    np.testing.assert_array_equal(
        a["histogram"].values(flow=True), b["histogram"].values(flow=True)
    )


def test_scheduler_run_equals_the_iterative_run_even_when_a_worker_dies(cluster, tmp_path):
    from distributed import Client

    address, workers = cluster
    fileset = _fileset(tmp_path)
    iterative = run_fileset(
        _processor(),
        fileset,
        ExecutionSettings(executor="iterative", chunk_size=CHUNK),
        schemaclass=EGammaSchema,
    )
    remote = ExecutionSettings(executor="scheduler", address=address, chunk_size=CHUNK)
    distributed = run_fileset(_processor(), fileset, remote, schemaclass=EGammaSchema)
    assert iterative.outputs["zee"]["events"] == 120 and not distributed.failures
    _same(distributed.outputs["zee"], iterative.outputs["zee"])

    # again, killing one worker once the run is under way
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(
            run=run_fileset(_processor(), fileset, remote, schemaclass=EGammaSchema)
        )
    )
    with Client(address) as client:
        thread.start()

        def in_memory(dask_scheduler):
            return sum(1 for t in dask_scheduler.tasks.values() if t.state == "memory")

        deadline = time.monotonic() + 120
        while client.run_on_scheduler(in_memory) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers[1].send_signal(signal.SIGKILL)
        thread.join(timeout=300)
        assert len(client.scheduler_info()["workers"]) == 1  # it is gone for good
    assert not thread.is_alive()
    _same(result["run"].outputs["zee"], iterative.outputs["zee"])


def test_corrupted_and_truncated_files_are_reported_by_name(cluster, tmp_path):
    address, _ = cluster
    sample = (DATA / "zee_mc.root").read_bytes()
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(sample[: len(sample) // 2])
    corrupted = tmp_path / "corrupted.root"
    damaged = bytearray(sample)
    damaged[len(sample) // 3 : len(sample) // 3 + 20_000] = np.random.default_rng(0).bytes(20_000)
    corrupted.write_bytes(bytes(damaged))
    not_root = tmp_path / "not_root.root"
    not_root.write_text("this is no ROOT file")
    bad = {str(p): "Events" for p in (truncated, corrupted, not_root)}
    fileset = _fileset(tmp_path, bad)
    remote = ExecutionSettings(executor="scheduler", address=address, chunk_size=CHUNK)
    with pytest.raises(BadInputError, match=r"not_root\.root"):
        run_fileset(_processor(), fileset, remote, schemaclass=EGammaSchema)
    run = run_fileset(
        _processor(), fileset, remote.with_changes(skip_bad_files=True), schemaclass=EGammaSchema
    )
    # the truncated file has lost its tree's metadata (written at its end): it cannot be
    # split into chunks, and is left out whole; the corrupted one loses chunks
    assert run.skipped_files == sorted([str(not_root), str(truncated)])
    chunks = {(f.file, f.entry_start) for f in run.failures if f.entry_start is not None}
    assert {file for file, _ in chunks} == {str(corrupted)}
    assert all(f.reason for f in run.failures)
    # the good files are all there, and nothing of the bad ones
    good = run_fileset(_processor(), _fileset(tmp_path), remote, schemaclass=EGammaSchema)
    _same(run.outputs["zee"], good.outputs["zee"])


def test_execution_settings_and_the_run_command(tmp_path):
    import json

    from egamma_cnn.cli import main

    path = tmp_path / "execution.json"
    path.write_text(json.dumps({"executor": "iterative", "chunk_size": 15, "retries": 0}))
    settings = ExecutionSettings.from_json(path)
    assert settings.executor == "iterative" and settings.chunk_size == 15
    assert ExecutionSettings(**json.loads(settings.to_json())) == settings
    for bad, message in (
        ({"executor": "spark"}, "not one of"),
        ({"chunk_size": 0}, "positive integer"),
        ({"executor": "scheduler"}, "address"),
        ({"workers": 2, "gpus": 1}, "unknown execution settings"),
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=message):
            ExecutionSettings.from_json(path)
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps(_fileset(tmp_path)))
    out = tmp_path / "out"
    args = [
        "run",
        "tnp",
        "--fileset",
        str(fileset),
        "--out-dir",
        str(out),
        "--executor",
        "iterative",
        "--chunk-size",
        "20",
        "--id",
        "cnn_tight",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["datasets"]["zee"]["events"] == 120 and summary["left_out"] == []
    assert main([*args[:-2], "--workers", "0", "--executor", "local"]) == 2  # contradictory


def test_sample_production_on_the_scheduler_equals_the_local_one(cluster, tmp_path):
    """Production runs through the same cluster: block by block, the same events."""
    pytest.importorskip("pythia8mc")
    import uproot

    from egamma_cnn.cli import main

    address, _ = cluster
    common = ["generate", "--process", "zee", "--events", "150", "--seed", "3", "--no-progress"]
    local, remote = tmp_path / "local.root", tmp_path / "remote.root"
    assert main([*common, "--out", str(local)]) == 0
    assert (
        main([*common, "--out", str(remote), "--executor", "scheduler", "--address", address]) == 0
    )
    with uproot.open(local) as a, uproot.open(remote) as b:
        for branch in ("Electron_pt", "Electron_clusterE", "CaloCell_energy"):
            left, right = a["Events"][branch].array(), b["Events"][branch].array()
            assert left.tolist() == right.tolist()


@pytest.mark.parametrize("executor", ["slurm", "htcondor"])
def test_batch_job_scripts_carry_the_settings(executor):
    pytest.importorskip("dask_jobqueue")
    from egamma_cnn.execution.clusters import jobqueue_cluster

    extra = {"queue": "short", "walltime": "01:30:00"} if executor == "slurm" else {"disk": "2GB"}
    settings = ExecutionSettings(
        executor=executor,
        workers=3,
        threads_per_worker=2,
        memory_per_worker="3GiB",
        jobqueue=extra,
    )
    cluster = jobqueue_cluster(settings, scale=False)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "--nthreads 2" in script
    if executor == "slurm":
        assert "#SBATCH -p short" in script and "#SBATCH -t 01:30:00" in script
        assert "#SBATCH --mem=" in script
    else:
        assert "MY.DaskWorkerCores = 2" in script
        assert "MY.DaskWorkerMemory = 3221225472" in script  # 3 GiB


@pytest.mark.parametrize("schemaclass", [None, "EGammaSchema", dict])
def test_run_fileset_names_a_missing_or_wrong_schema(schemaclass, tmp_path):
    with pytest.raises(TypeError, match="run_fileset needs schemaclass=<a NanoEvents schema"):
        run_fileset(_processor(), _fileset(tmp_path), schemaclass=schemaclass)
