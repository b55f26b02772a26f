"""From :class:`~egamma_cnn.execution.ExecutionSettings` to something that computes.

:func:`open_executor` is a context manager that starts (or connects to) what the
settings name and yields either ``"sync"`` (the iterative executor: dask's synchronous
scheduler in this process) or a ``distributed.Client``. What it started it stops on
exit; an existing scheduler is only disconnected from.

:func:`task_pool` gives the independent tasks of sample production and training-data
preparation a ``concurrent.futures`` executor on the same clusters: worker processes of
this machine (``local``), or the ``distributed`` client's executor (every other
executor; the workers then need the input and output folders on a shared filesystem).
A local worker that dies (the out-of-memory killer's SIGKILL, a crash) stops the pool:
its other workers are stopped and :class:`WorkerDiedError` says how the worker died.
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures as cf
import contextlib
import ctypes
import json
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import dask

from egamma_cnn.execution import worker_setup
from egamma_cnn.execution.settings import (
    ExecutionSettings,
    check_local_workers,
    max_local_workers,
)
from egamma_cnn.temporaries import process_alive

__all__ = [
    "MissingExtraError",
    "WorkerDiedError",
    "check_local_workers",
    "jobqueue_cluster",
    "max_local_workers",
    "open_executor",
    "task_pool",
]

#: The optional dependencies (extra) of the batch and gateway executors.
CLUSTER_EXTRA = "cluster"
#: The command that submits the jobs of each batch executor (it must be on PATH).
SUBMIT_COMMANDS: dict[str, str] = {"slurm": "sbatch", "htcondor": "condor_submit"}


class MissingExtraError(ImportError, ValueError):
    """An executor whose package (an optional dependency) is not installed.

    An ``ImportError`` (what it is) and a ``ValueError`` (a user's choice that cannot
    be served here: the command line prints its one-line message).
    """


class WorkerDiedError(RuntimeError):
    """A local worker process of :func:`task_pool` died while the pool was in use.

    Its message is one line saying how (``killed by signal 9 (SIGKILL: out of
    memory?)``, ``exited with code 1``); the callers add what was being made. The
    command line prints it as one line with exit code 2.
    """


def _missing(package: str, executor: str) -> MissingExtraError:
    return MissingExtraError(
        f"the {executor!r} executor needs {package}, which is not installed: "
        f"pip install 'egamma-cnn[{CLUSTER_EXTRA}]' (or pip install {package})"
    )


def jobqueue_cluster(settings: ExecutionSettings, scale: bool = True) -> Any:
    """The dask-jobqueue cluster of ``settings`` (``scale``: submit its jobs).

    ``cores`` = ``threads_per_worker``, one worker process per job, ``memory`` =
    ``memory_per_worker`` (default 4GiB); every ``jobqueue`` option is passed on.
    ``cluster.job_script()`` shows the job that would be submitted.

    Raises
    ------
    MissingExtraError
        dask-jobqueue is not installed.
    ValueError
        One line: the submit command (``sbatch``, ``condor_submit``) is not on PATH
        (checked before anything starts, when ``scale``); an option dask-jobqueue needs
        is missing (HTCondor's ``disk``: the JSON key ``jobqueue.disk`` is named, with an
        example) or unknown (its key is named).
    """
    try:
        import dask_jobqueue
    except ImportError:  # also a module that is there but fails to import
        raise _missing("dask-jobqueue", settings.executor) from None
    cluster_class = {
        "slurm": dask_jobqueue.SLURMCluster,
        "htcondor": dask_jobqueue.HTCondorCluster,
    }[settings.executor]
    options: dict[str, Any] = {
        "cores": settings.threads_per_worker,
        "processes": 1,
        "memory": settings.memory_per_worker or "4GiB",
    }
    options.update(settings.jobqueue)
    submit = SUBMIT_COMMANDS[settings.executor]
    if scale and shutil.which(submit) is None:
        raise ValueError(
            f"the {settings.executor!r} executor submits jobs with {submit}, which is not "
            "on PATH: run on a submit node of your batch system"
        )
    try:
        cluster = cluster_class(**options)
    except ValueError as err:
        raise _jobqueue_error(err, settings.executor) from None
    if scale:
        cluster.scale(jobs=settings.workers)
    return cluster


def _jobqueue_error(err: ValueError, executor: str) -> ValueError:
    """dask-jobqueue's refusal of a missing or unknown option, with its JSON key."""
    unknown = re.search(r"unexpected keyword argument '(\w+)'", str(err))
    if unknown is not None:
        return ValueError(
            f"jobqueue.{unknown[1]} in the execution settings is no option of the "
            f"{executor!r} executor (dask-jobqueue): remove it or correct its name"
        )
    needed = re.search(r"like ``(\w+)=(.+?)``", str(err))
    if needed is None:
        return ValueError(f"the {executor!r} executor: {' '.join(str(err).split())}")
    name = needed[1]
    example = json.dumps({"jobqueue": {name: ast.literal_eval(needed[2])}})
    return ValueError(
        f"the {executor!r} executor needs jobqueue.{name}: set it in the execution "
        f"settings (--execution-config, e.g. {example})"
    )


def _gateway_cluster(settings: ExecutionSettings) -> Any:
    try:
        import dask_gateway
    except ImportError:
        raise _missing("dask-gateway", settings.executor) from None
    gateway = dask_gateway.Gateway(settings.address) if settings.address else dask_gateway.Gateway()
    cluster = gateway.new_cluster(**settings.gateway)
    cluster.scale(settings.workers)
    return cluster


@contextlib.contextmanager
def _signals_held() -> Iterator[list[int]]:
    """SIGINT and SIGTERM held back while the block runs (it starts a cluster).

    A cluster interrupted in its constructor cannot be closed (it is not ours yet):
    ``distributed`` then fails to close it at exit, with a traceback. A signal whose
    handler is Python's (``KeyboardInterrupt``, the command line's) is recorded instead
    and the list yielded holds it: the caller raises it again once the cluster can be
    stopped. Outside the main thread nothing is held (the list stays empty).
    """
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return

    def hold(signum: int, frame: Any) -> None:
        held.append(signum)

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if callable(signal.getsignal(signum)):
            previous[signum] = signal.signal(signum, hold)
    try:
        yield held
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def open_executor(settings: ExecutionSettings) -> Iterator[Any]:
    """Yield ``"sync"`` or a ``distributed.Client`` for ``settings`` (module docstring).

    The worker processes of a ``local`` cluster ignore SIGINT
    (:mod:`.worker_setup`): Ctrl-C, which a terminal sends to the whole process group,
    interrupts this process, which stops them, instead of each printing a traceback.
    SIGINT or SIGTERM while its scheduler starts is held until it has started (then the
    cluster is stopped, and the signal's exception raised); its workers start after that,
    and a signal while they start stops them at once.

    No process of a ``local`` cluster outlives the ``with`` block, however it ends
    (normally, an exception, Ctrl-C, SIGTERM): the cluster is closed, and a worker
    process still there :data:`CLOSE_TIMEOUT_S` seconds later (one still starting, one
    stuck) is killed. A SIGTERM with the default action (a library caller's process) kills
    the workers before this process dies of it.

    Raises
    ------
    MissingExtraError
        ``slurm``, ``htcondor`` or ``gateway`` without its package (dask-jobqueue,
        dask-gateway: ``pip install 'egamma-cnn[cluster]'``); one line, before anything
        is started.
    WorkerDiedError
        A ``local`` worker process ended while it started (one line, with its exit code).
    RuntimeError
        A ``local`` cluster opened while this process is itself being started by
        ``multiprocessing`` (a script without ``if __name__ == "__main__":`` being
        imported again by a worker): the worker stops there instead of starting a
        cluster of its own and hanging.
    """
    if settings.executor == "iterative":
        yield "sync"
        return
    from distributed import Client

    if settings.executor == "scheduler":
        with Client(settings.address, timeout="30s") as client:
            yield client
        return
    if settings.executor == "local":
        with _local_cluster(settings) as client:
            yield client
        return
    if settings.executor in ("slurm", "htcondor"):
        cluster = jobqueue_cluster(settings)
    else:
        cluster = _gateway_cluster(settings)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


#: Seconds a ``local`` cluster has to close itself at the end of :func:`open_executor`
#: (about 2 s on 2 cores; a worker still starting is waited for) before the worker
#: processes still there are killed.
CLOSE_TIMEOUT_S = 10.0
#: The same when the ``with`` block ended with an exception (an error, Ctrl-C, SIGTERM):
#: what the workers hold is lost anyway.
ABORT_CLOSE_TIMEOUT_S = 3.0
#: Seconds given to the cluster's own close once its workers are killed.
AFTER_KILL_S = 5.0
#: Seconds a broken local pool's manager thread has to reap its workers (it terminates
#: them first) before :func:`task_pool` stops them itself.
MANAGER_JOIN_TIMEOUT_S = 10.0
#: The name ``distributed`` gives the worker processes of its nannies.
WORKER_PROCESS_NAME = "Dask Worker process (from Nanny)"


@contextlib.contextmanager
def _local_cluster(settings: ExecutionSettings) -> Iterator[Any]:
    """A LocalCluster of ``settings`` and its client; none of its processes outlives it.

    The cluster starts without workers (its scheduler only, a fraction of a second, with
    the signals held: :func:`_signals_held`), then its workers start while this process
    stays interruptible (:func:`_wait_for_workers`). The worker processes are those of
    ``multiprocessing.active_children()`` that were not there before. Their environment
    is :func:`worker_environment`.
    """
    _refuse_while_bootstrapping()
    # the workers' environment is read when their nannies are made (while they scale)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environment()}):
        yield from _local_cluster_with_environment(settings)


def worker_environment() -> dict[str, Any]:
    """The environment ``distributed`` gives a local worker before it starts, less its
    ``MALLOC_TRIM_THRESHOLD_`` (the value of this process's environment where it sets one).

    ``distributed`` sets ``MALLOC_TRIM_THRESHOLD_=65536`` so that a worker gives freed
    memory back to the system at once. Any explicit threshold also turns off glibc's
    adaptive mmap threshold: every allocation above 128 kB becomes an ``mmap`` and its
    release an ``munmap``, and allocation-heavy Python code slows down. Measured
    (benchmarks/RESULTS.md, issue 19): uproot's reading of a CMS NanoAOD tree's metadata
    (2116 branches, what every chunk of such a file does first) takes 2.0 s in a worker
    with it and 0.5 s without, as in-process; a tag-and-probe on 20 NanoAOD files on one
    worker took 54 s against 19 s in-process. Without it a worker may hold freed memory
    longer (glibc's defaults, as in any Python process).
    """
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ") or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    if "MALLOC_TRIM_THRESHOLD_" in os.environ:  # the user's choice
        environ["MALLOC_TRIM_THRESHOLD_"] = os.environ["MALLOC_TRIM_THRESHOLD_"]
    return environ


def _local_cluster_with_environment(settings: ExecutionSettings) -> Iterator[Any]:
    """:func:`_local_cluster`'s body, in the workers' environment."""
    from distributed import Client, LocalCluster

    before = {p.pid for p in mp.active_children()}
    # a chunk lost with a dying worker is recomputed up to `retries` times; the
    # workers ignore Ctrl-C (worker_setup): this process stops them
    preload = [*(dask.config.get("distributed.worker.preload") or []), worker_setup.PRELOAD]
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": settings.retries}),
        _signals_held() as held,
    ):
        cluster = LocalCluster(
            n_workers=0,
            threads_per_worker=settings.threads_per_worker,
            memory_limit=settings.memory_per_worker or "auto",
            dashboard_address=None,
            preload=preload,
        )
    ended_well = False
    with _sigterm_kills_workers(before):  # also while it closes
        try:
            for signum in held[:1]:  # Ctrl-C or SIGTERM while it started: now it can stop
                signal.raise_signal(signum)
            with Client(cluster) as client:  # before the workers: it would wait for them
                cluster.scale(settings.workers)
                _wait_for_workers(client, settings.workers, before)
                yield client
            ended_well = True
        finally:
            if ended_well:
                _close_local_cluster(cluster, before, CLOSE_TIMEOUT_S)
            else:
                _close_local_cluster(cluster, before, ABORT_CLOSE_TIMEOUT_S, aborted=True)


def _refuse_while_bootstrapping() -> None:
    """Refuse to start a cluster in a process that ``multiprocessing`` is still starting.

    A spawned worker first imports its parent's main script again; a script that opens a
    cluster outside ``if __name__ == "__main__":`` would, in each worker, start a cluster
    whose own worker cannot start (``multiprocessing`` refuses it in a thread, where
    nothing reports it): the worker, and the command waiting for it, would hang for ever.
    ``_inheriting`` is the flag ``multiprocessing`` itself checks for that case.
    """
    if getattr(mp.current_process(), "_inheriting", False):
        raise RuntimeError(
            "a local dask cluster was opened while this worker process imports its "
            "parent's main script: put the script's code under "
            '`if __name__ == "__main__":`'
        )


def _workers_since(before: set[int]) -> list[Any]:
    """The live worker processes of a LocalCluster started since ``before`` (pids)."""
    return [
        p
        for p in mp.active_children()
        if p.pid not in before and p.name.startswith(WORKER_PROCESS_NAME)
    ]


def _kill_workers(before: set[int], wait_s: float = 5.0) -> None:
    """SIGKILL the worker processes started since ``before`` and wait for their end."""
    workers = _workers_since(before)
    for process in workers:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    # wait on their sentinels, not with join(): distributed's own thread reaps them
    sentinels = []
    for process in workers:
        with contextlib.suppress(ValueError, AttributeError):
            sentinels.append(process.sentinel)
    deadline = time.monotonic() + wait_s
    while sentinels and time.monotonic() < deadline:
        for ready in mp_connection.wait(sentinels, max(deadline - time.monotonic(), 0.0)):
            sentinels.remove(ready)


def _wait_for_workers(client: Any, count: int, before: set[int]) -> None:
    """Wait until ``count`` workers are up, interruptibly (SIGINT, SIGTERM reach us).

    Raises
    ------
    WorkerDiedError
        A worker process ended while it started (its nanny would start another, and that
        one would end the same way).
    """
    seen: dict[int, Any] = {}
    while True:
        try:
            client.wait_for_workers(count, timeout=0.25)
            return
        except TimeoutError:
            pass
        seen.update((p.pid, p) for p in _workers_since(before))
        dead = [p.exitcode for p in seen.values() if p.exitcode is not None]
        if dead or len(seen) > count:  # more processes than workers: one was restarted
            how = _how_a_worker_died(dead) if dead else "it was restarted"
            raise WorkerDiedError(
                f"a worker process of the local cluster ended while it started ({how}); "
                "its error, if any, is printed above"
            )


@contextlib.contextmanager
def _sigterm_kills_workers(before: set[int]) -> Iterator[None]:
    """SIGTERM with its default action (die at once) first kills the cluster's workers.

    Only in the main thread, and only where SIGTERM's handler is the default one (a
    library caller's process; the command line raises an exception instead, and the
    cluster is closed on the way out). This process then dies of the SIGTERM as before.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def kill_then_die(signum: int, frame: Any) -> None:
        _kill_workers(before, wait_s=2.0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, kill_then_die)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


async def _close_nannies(cluster: Any) -> None:
    """Close the nannies of ``cluster`` at once (each first marks itself closing).

    A nanny still starting is not yet in ``cluster.workers``, only in the set of what the
    cluster created (``_created``, read if there).
    """
    nannies = {*cluster.workers.values(), *getattr(cluster, "_created", ())}
    await asyncio.gather(*(nanny.close(timeout=1) for nanny in nannies), return_exceptions=True)


def _close_local_cluster(
    cluster: Any, before: set[int], timeout_s: float, aborted: bool = False
) -> None:
    """Close ``cluster`` and stop its event loop; kill its workers after ``timeout_s``.

    ``aborted`` (the ``with`` block raised): the nannies are closed first, without the
    scheduler retiring their workers, so that none restarts a worker that ends (a nanny
    restarts a worker that dies while it starts, even while the cluster closes).

    ``distributed`` closes a worker gracefully, but waits for one that is still starting
    (its whole import) before it can stop it; a close cut short by a timeout would leave
    the cluster half-closed (and ``distributed``'s exit handler would wait 10 s more for
    it). So the close runs whole in a thread; if it is not done after ``timeout_s``, the
    workers are killed, which lets it finish.
    """

    def close() -> None:
        with contextlib.suppress(Exception):
            if aborted:  # stop the nannies first: none restarts a worker that ends
                cluster.sync(_close_nannies, cluster)
        with contextlib.suppress(Exception):
            cluster.__exit__(None, None, None)  # close(), then stop its event loop

    closing = threading.Thread(target=close, name="egamma-cnn close LocalCluster", daemon=True)
    closing.start()
    try:
        closing.join(timeout_s)
    finally:
        if closing.is_alive() or _workers_since(before):
            _kill_workers(before)
            closing.join(AFTER_KILL_S)


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if not process_alive(parent_pid):
            os._exit(1)


def _die_with_parent(parent_pid: int) -> None:
    """Initializer of the local worker processes: they never outlive the parent.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (the kernel kills the worker when its
    parent dies, even by SIGKILL); elsewhere a thread that checks the parent every
    second. Ctrl-C (SIGINT to the whole terminal group) is left to the parent, which stops
    the workers; SIGTERM kills a worker at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    watched = False
    if sys.platform.startswith("linux"):
        try:
            pr_set_pdeathsig = 1
            libc = ctypes.CDLL(None, use_errno=True)
            watched = libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            watched = False
    if not process_alive(parent_pid):  # the parent died before the death signal was set
        os._exit(1)
    if not watched:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


class _LocalPool(cf.ProcessPoolExecutor):
    """A process pool that keeps every worker process it started, to tell how one died."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.started: list[Any] = []
        super().__init__(*args, **kwargs)

    def _spawn_process(self) -> None:
        before = set(self._processes)
        super()._spawn_process()
        self.started.extend(p for pid, p in self._processes.items() if pid not in before)


def _stop_workers(pool: cf.ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Cancel what is queued and stop the worker processes now (SIGTERM, then SIGKILL)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    processes += [p for p in getattr(pool, "started", []) if p not in processes]
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        process.join(max(deadline - time.monotonic(), 0.0))
        if process.is_alive():
            process.kill()
            process.join(1.0)


def _how_a_worker_died(exit_codes: list[int | None]) -> str:
    """How the first dead worker died, from the exit codes of the pool's workers.

    The pool terminates (SIGTERM) the others once one died, so another signal, then a
    SIGTERM, then an exit code is the cause.
    """
    signals = [-code for code in exit_codes if code is not None and code < 0]
    cause = next((n for n in signals if n != signal.SIGTERM), None)
    if cause is None and signals:
        cause = signal.SIGTERM
    if cause is not None:
        try:
            name = signal.Signals(cause).name
        except ValueError:
            name = f"signal {cause}"
        hint = ": out of memory?" if cause == signal.SIGKILL else ""
        return f"killed by signal {cause} ({name}{hint})"
    codes = [code for code in exit_codes if code]
    return f"exited with code {codes[0]}" if codes else "it ended abruptly"


def _worker_died(pool: _LocalPool) -> WorkerDiedError:
    """The one-line error of a pool broken by a dead worker (the workers stopped first).

    The pool's manager thread fails the futures first and reaps the workers after: until
    it has, a process that it is reaping reads as running (``waitpid`` answers only one
    of the two threads), and its exit code would be lost. It is waited for first.
    """
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None and manager is not threading.current_thread():
        manager.join(MANAGER_JOIN_TIMEOUT_S)
    _stop_workers(pool)
    how = _how_a_worker_died([p.exitcode for p in pool.started])
    return WorkerDiedError(f"a worker process died ({how})")


@contextlib.contextmanager
def task_pool(settings: ExecutionSettings | None, workers: int = 1) -> Iterator[cf.Executor]:
    """A ``concurrent.futures`` executor for independent tasks (module docstring).

    ``settings`` None or executor ``local``: ``workers`` processes on this machine
    (``iterative``: one), at most :func:`max_local_workers` (else ``ValueError``);
    otherwise the cluster of ``settings`` through ``distributed.Client.get_executor``
    (its futures work with ``concurrent.futures.as_completed``).

    Local workers die with this process (even when it is killed with SIGKILL) and ignore
    Ctrl-C; an exception in the ``with`` block (``KeyboardInterrupt`` included) cancels
    the queued tasks and stops the workers at once instead of waiting for them.

    Raises
    ------
    WorkerDiedError
        A local worker died (``BrokenProcessPool`` in the ``with`` block): the other
        workers are stopped, and the message says how it died (a signal, an exit code).
    """
    if settings is None or settings.executor in ("local", "iterative"):
        size = 1 if settings is not None and settings.executor == "iterative" else workers
        check_local_workers(size)
        pool = _LocalPool(
            max_workers=max(size, 1), initializer=_die_with_parent, initargs=(os.getpid(),)
        )
        try:
            yield pool
        except BrokenProcessPool:
            raise _worker_died(pool) from None
        except BaseException:
            _stop_workers(pool)
            raise
        pool.shutdown(wait=True)
        return
    with open_executor(settings) as client, client.get_executor(pure=False) as pool:
        yield pool
