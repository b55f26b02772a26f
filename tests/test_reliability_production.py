"""`generate` outputs, interruptions and resources (issue 17): refused targets, exclusive
temporaries, cleanup after SIGINT/SIGTERM/SIGKILL with real signals on real processes,
lazy blocks and a bounded worker count."""

import concurrent.futures as cf
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import uproot

from egamma_cnn.execution.clusters import WorkerDiedError, max_local_workers, task_pool
from egamma_cnn.sim import production, writer
from egamma_cnn.sim.production import BLOCK_SIZE, MAX_PILEUP_MU, ProductionConfig, produce
from egamma_cnn.sim.writer import remove_stale_temporaries, temporary_path, write_events
from egamma_cnn.temporaries import host_name
from egamma_cnn.train.dataset import prepare_files
from egamma_cnn.train.samples import SamplePlan, produce_plan

CLI = Path(sys.executable).with_name("egamma-cnn")
CFG = ProductionConfig("zee", 10)


def _blocks(n=3):
    return ({"x": np.arange(i * 5, i * 5 + 5, dtype=np.int32)} for i in range(n))


def _temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- refused targets ---------------------------------------------------------------------


def test_existing_output_is_refused_without_overwrite_and_replaced_with_it(tmp_path):
    out = tmp_path / "sample.root"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match=r"sample\.root exists: give --overwrite"):
        produce(CFG, out, progress=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_events(out, _blocks(), {})
    assert out.read_bytes() == b"precious"
    assert write_events(out, _blocks(), {"k": 1}, overwrite=True) == 15
    assert uproot.open(out)["Events"]["x"].array(library="np").tolist() == list(range(15))
    assert _temporaries(tmp_path) == []


def test_non_regular_targets_are_refused_even_with_overwrite(tmp_path):
    fifo = tmp_path / "pipe.root"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.root"
    folder.mkdir()
    to_fifo = tmp_path / "link_to_fifo.root"
    to_fifo.symlink_to(fifo)
    to_device = tmp_path / "link_to_null.root"
    to_device.symlink_to(os.devnull)
    cases = {fifo: "a FIFO", folder: "a folder", to_fifo: "a FIFO", to_device: "a character device"}
    for target, kind in cases.items():
        with pytest.raises(ValueError, match=f"{target.name} is {kind}.*not a regular file"):
            produce(CFG, target, progress=False, overwrite=True)
        with pytest.raises(ValueError, match=target.name):
            write_events(target, _blocks(), {}, overwrite=True)
    assert fifo.is_fifo() and folder.is_dir() and to_device.resolve() == Path(os.devnull)
    assert _temporaries(tmp_path) == []


def test_dangling_link_needs_overwrite_and_is_replaced_not_followed(tmp_path):
    link = tmp_path / "out.root"
    link.symlink_to(tmp_path / "elsewhere.root")
    with pytest.raises(FileExistsError, match="link to nothing"):
        write_events(link, _blocks(), {})
    write_events(link, _blocks(1), {}, overwrite=True)
    assert not link.is_symlink() and link.is_file()
    assert not (tmp_path / "elsewhere.root").exists()


# -- temporaries -------------------------------------------------------------------------


def test_a_planted_link_at_the_temporary_name_is_not_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch")
    # the name the first try will use, planted before the run
    planted = tmp_path / f".out.root.{host_name()}.{os.getpid()}.{'0' * 16}.tmp"
    planted.symlink_to(victim)
    names = iter(["0" * 16, "1" * 16])
    monkeypatch.setattr(writer.secrets, "token_hex", lambda n: next(names))
    assert write_events(tmp_path / "out.root", _blocks(), {}) == 15
    assert victim.read_text() == "do not touch"
    assert planted.is_symlink()  # left alone; the file went through another name
    assert uproot.open(tmp_path / "out.root")["Events"].num_entries == 15


def test_temporary_is_exclusive_hidden_and_names_its_owner(tmp_path):
    seen = []

    def blocks():
        seen.extend(_temporaries(tmp_path))
        yield {"x": np.arange(3)}

    write_events(tmp_path / "a.root", blocks(), {})
    (name,) = seen
    assert name.startswith(".a.root.") and f".{os.getpid()}." in name
    assert oct((tmp_path / "a.root").stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert _temporaries(tmp_path) == []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_failure_while_writing_removes_the_temporary(tmp_path):
    def blocks():
        yield {"x": np.arange(3)}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_events(tmp_path / "a.root", blocks(), {})
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_runs_are_removed_and_nothing_else(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "s.root"
    stale = temporary_path(out, pid=dead.pid)
    running = temporary_path(out, pid=os.getpid())
    other_host = tmp_path / f".s.root.otherhost.{dead.pid}.{'a' * 16}.tmp"
    unrelated = tmp_path / f".s.root.{dead.pid}.tmp"
    link = temporary_path(tmp_path / "t.root", pid=dead.pid)
    for path in (stale, running, other_host, unrelated):
        path.write_bytes(b"x")
    link.symlink_to(unrelated)
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (running, other_host, unrelated, link)
    )


# -- resources ---------------------------------------------------------------------------


def test_blocks_are_lazy_for_a_huge_job():
    blocks = production._blocks(10**12)
    assert not isinstance(blocks, list)
    assert list(itertools.islice(blocks, 3)) == [(0, 100, 0), (1, 100, 100), (2, 100, 200)]
    assert list(production._blocks(2 * BLOCK_SIZE + 5))[-1] == (2, 5, 2 * BLOCK_SIZE)


class _CountingPool:
    """Futures done at once; records how many were submitted and not yet taken."""

    def __init__(self):
        self.submitted, self.taken, self.most_in_flight = [], 0, 0

    def submit(self, fn, cfg, block, n, first):
        future = cf.Future()
        future.set_result(block)
        self.submitted.append(block)
        self.most_in_flight = max(self.most_in_flight, len(self.submitted) - self.taken)
        return future


def test_pool_gets_a_bounded_window_of_blocks_in_order():
    pool = _CountingPool()
    results = production._in_order(pool, CFG, production._blocks(10**12), window=4)
    taken = []
    for result in itertools.islice(results, 50):
        taken.append(result)
        pool.taken += 1
    assert taken == list(range(50))
    assert pool.most_in_flight <= 4 and len(pool.submitted) <= 50 + 4


def test_worker_count_is_bounded_with_a_clear_message(tmp_path):
    limit = max_local_workers()
    assert limit == 4 * len(os.sched_getaffinity(0))
    message = rf"--workers 100000: at most {limit} local worker processes"
    with pytest.raises(ValueError, match=message):
        produce(CFG, tmp_path / "a.root", workers=100_000, progress=False)
    with pytest.raises(ValueError, match=message), task_pool(None, 100_000):
        pass
    with pytest.raises(ValueError, match=message):
        produce_plan(SamplePlan(rounds=5), tmp_path / "plan", workers=100_000, progress=False)
    with pytest.raises(ValueError, match=message):
        prepare_files(["x.root"], tmp_path / "prep", workers=100_000, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failing_task_stops_the_local_workers_at_once():
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), task_pool(None, 2) as pool:
        slow = [pool.submit(time.sleep, 30) for _ in range(2)]
        pids = list(pool._processes)
        raise KeyboardInterrupt
    assert time.perf_counter() - start < 10
    assert not [pid for pid in pids if _running(pid)]
    # the pool's management thread marks the futures of the killed workers as failed
    # (BrokenProcessPool) asynchronously, and a task that had not started yet (a loaded
    # machine) is cancelled: none is left hanging. (cf.wait does not count a cancelled
    # future that no worker ever picked up as done; Future.done() does.)
    deadline = time.monotonic() + 10
    while not all(f.done() for f in slow) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(f.done() for f in slow)
    assert time.perf_counter() - start < 15


# -- interruptions: real signals on `egamma-cnn generate --workers 2` ----------------------


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group_members(pgid: int) -> list[int]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and _running(process.pid):
                members.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def _start_generate(out: Path, events: int = 400) -> tuple[subprocess.Popen, list[int]]:
    """`generate --workers 2` in its own session, once both workers and the temporary exist."""
    pythia = pytest.importorskip("pythia8mc")
    assert pythia
    command = [str(CLI), "generate", "--process", "zee", "--events", str(events), "--workers", "2"]
    proc = subprocess.Popen(
        [*command, "--no-progress", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = psutil.Process(proc.pid).children(recursive=True)
        if len(workers) >= 2 and _temporaries(out.parent):
            return proc, [w.pid for w in workers]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    pytest.fail("generate did not start its workers and temporary within 30 s")


def _assert_nothing_left(proc: subprocess.Popen, workers: list[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        _group_members(proc.pid) or any(_running(pid) for pid in workers)
    ):
        time.sleep(0.1)
    assert _group_members(proc.pid) == []
    assert not [pid for pid in workers if _running(pid)]


@pytest.mark.parametrize(
    ("signum", "to_group", "code", "line"),
    [
        (signal.SIGTERM, False, 143, "egamma-cnn: terminated (SIGTERM)"),
        (signal.SIGINT, False, 130, "egamma-cnn: interrupted (SIGINT)"),
        (signal.SIGINT, True, 130, "egamma-cnn: interrupted (SIGINT)"),  # Ctrl-C
    ],
    ids=["sigterm", "sigint", "ctrl-c-to-group"],
)
def test_interrupted_generate_leaves_no_temporary_and_no_process(
    tmp_path, signum, to_group, code, line
):
    out = tmp_path / "zee.root"
    proc, workers = _start_generate(out)
    if to_group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert stderr.strip() == line
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []
    _assert_nothing_left(proc, workers)


def test_killed_generate_leaves_no_worker_and_the_next_run_removes_its_temporary(tmp_path):
    out = tmp_path / "zee.root"
    proc, workers = _start_generate(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    _assert_nothing_left(proc, workers)  # the workers die with their parent
    (left,) = _temporaries(tmp_path)
    assert f".{proc.pid}." in left
    produce(ProductionConfig("zee", 5, seed=3), tmp_path / "next.root", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["next.root"]


# -- a worker that dies (the out-of-memory killer's SIGKILL) ----------------------------------


def _kill_yourself(signum: int) -> None:
    os.kill(os.getpid(), signum)


@pytest.mark.parametrize(
    ("signum", "how"),
    [
        (signal.SIGKILL, r"killed by signal 9 \(SIGKILL: out of memory\?\)"),
        (signal.SIGUSR1, rf"killed by signal {int(signal.SIGUSR1)} \(SIGUSR1\)"),
    ],
)
def test_a_dying_worker_stops_the_pool_with_one_line(signum, how):
    with pytest.raises(WorkerDiedError, match=rf"^a worker process died \({how}\)$"):
        with task_pool(None, 2) as pool:
            pids = list(pool._processes)
            slow = pool.submit(time.sleep, 30)
            pool.submit(_kill_yourself, signum).result(timeout=30)
            slow.result(timeout=30)
    assert not [pid for pid in pids if _running(pid)]


def test_a_worker_that_exits_is_reported_with_its_code():
    with pytest.raises(WorkerDiedError, match=r"a worker process died \(exited with code 3\)"):
        with task_pool(None, 1) as pool:
            pool.submit(os._exit, 3).result(timeout=30)


def test_a_worker_killed_during_generate_gives_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "a.root"
    proc, workers = _start_generate(out, events=2000)
    os.kill(workers[0], signal.SIGKILL)  # what the out-of-memory killer does
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert stderr.strip() == (
        "egamma-cnn: error: a worker process died (killed by signal 9 (SIGKILL: out of "
        f"memory?)) while producing {out}; nothing was written"
    )
    assert list(tmp_path.iterdir()) == []  # no temporary, no output
    _assert_nothing_left(proc, workers)


# -- pile-up bound --------------------------------------------------------------------------


@pytest.mark.parametrize("mu", [1e6, 200.5, float("nan"), -1.0])
def test_pileup_is_bounded_by_the_hl_lhc_design(mu):
    with pytest.raises(ValueError, match=r"pileup_mu .*: the mean pile-up must be in \[0, 200\]"):
        ProductionConfig("zee", 2, pileup_mu=mu)
    with pytest.raises(ValueError, match=r"pileup_mu .*: the mean pile-up must be in \[0, 200\]"):
        SamplePlan(rounds=5, pileup_mu=mu)
    assert ProductionConfig("zee", 2, pileup_mu=MAX_PILEUP_MU).pileup_mu == 200.0


def test_a_folder_that_takes_no_files_is_named_not_the_temporary():
    out = Path("/proc/x.root")
    with pytest.raises(OSError, match=r"^cannot create /proc/x\.root: its folder /proc") as info:
        produce(CFG, out, progress=False)
    assert ".x.root." not in str(info.value)
