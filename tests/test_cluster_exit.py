"""No process of the default LocalCluster outlives the command or the library call.

Each worker process records its pid through an extra worker preload (the dask setting
``distributed.worker.preload``, which :func:`~egamma_cnn.execution.open_executor` keeps
and adds its own to); after the command returns, none of them, nor any other descendant
seen while it ran, is alive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")

DATA = Path(__file__).parent / "data"

RECORD_PID = """
import os
from pathlib import Path


def dask_setup(worker):
    folder = Path(os.environ["EGAMMA_TEST_PID_DIR"])
    (folder / str(os.getpid())).write_text(str(os.getppid()))
"""


def _run_watched(args: list[str], tmp_path: Path, limit_s: float) -> tuple[int, str, set[int]]:
    """Run ``args``; returns (exit code, stderr, pids of every descendant seen or recorded)."""
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    preload = tmp_path / "record_pid.py"
    preload.write_text(RECORD_PID)
    env = {
        **os.environ,
        "EGAMMA_TEST_PID_DIR": str(pid_dir),
        "DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([str(preload)]),
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    process = subprocess.Popen(
        args,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: set[int] = set()
    deadline = time.monotonic() + limit_s
    try:
        while process.poll() is None and time.monotonic() < deadline:
            try:
                seen.update(c.pid for c in psutil.Process(process.pid).children(recursive=True))
            except psutil.Error:
                pass
            time.sleep(0.1)
        assert process.poll() is not None, f"still running after {limit_s} s"
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
    recorded = {int(p.name) for p in pid_dir.iterdir()}
    return process.returncode, stderr, seen | recorded


def _left_alive(pids: set[int], wait_s: float = 3.0) -> list[str]:
    """Those of ``pids`` still alive (not zombies) after at most ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = []
        for pid in pids:
            try:
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(" ".join(process.cmdline()))
            except psutil.Error:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_a_tnp_run_on_the_local_cluster_leaves_no_process(tmp_path):
    fileset = tmp_path / "fileset.json"
    fileset.write_text(
        json.dumps(
            {
                "mc": {
                    "files": {str(DATA / "zee_mc.root"): "Events"},
                    "metadata": {"is_data": False},
                }
            }
        )
    )
    command = [sys.executable, "-m", "egamma_cnn.cli", "tnp", str(fileset)]
    code, stderr, pids = _run_watched(
        [*command, "--out-dir", str(tmp_path / "out"), "--workers", "1"], tmp_path, 60
    )
    assert code == 0, stderr
    recorded = list((tmp_path / "pids").iterdir())
    assert len(recorded) == 1, "the worker did not record itself"
    assert not _left_alive(pids)


def test_a_script_without_main_guard_fails_instead_of_hanging(tmp_path):
    """Its workers import the script again and would open clusters of their own: before,
    the command and a worker waited for each other for ever (and the worker outlived a
    SIGTERM of the command)."""
    script = tmp_path / "no_guard.py"
    script.write_text(
        textwrap.dedent(
            """
            from egamma_cnn.execution import ExecutionSettings, open_executor

            with open_executor(ExecutionSettings(executor="local", workers=1)) as client:
                print(client.submit(sum, [1, 2]).result())
            """
        )
    )
    started = time.monotonic()
    code, stderr, pids = _run_watched([sys.executable, str(script)], tmp_path, 60)
    assert code == 1 and time.monotonic() - started < 60
    assert 'put the script\'s code under `if __name__ == "__main__":`' in stderr
    assert "WorkerDiedError: a worker process of the local cluster ended while it started" in (
        stderr
    )
    assert not _left_alive(pids)


def _malloc_trim_threshold() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_workers_keep_the_adaptive_malloc_threshold(monkeypatch):
    """distributed's MALLOC_TRIM_THRESHOLD_=65536 made uproot 4× slower in a worker; the
    workers of open_executor do not get it (a value the user sets is kept)."""
    from egamma_cnn.execution import ExecutionSettings, open_executor

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with open_executor(ExecutionSettings(workers=1)) as client:
        assert set(client.run(_malloc_trim_threshold).values()) == {None}
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    from egamma_cnn.execution.clusters import worker_environment

    assert worker_environment()["MALLOC_TRIM_THRESHOLD_"] == "131072"
