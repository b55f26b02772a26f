"""From :class:`~egamma_cnn.execution.ExecutionSettings` to something that computes.

:func:`open_executor` is a context manager that starts (or connects to) what the
settings name and yields either ``"sync"`` (the iterative executor: dask's synchronous
scheduler in this process) or a ``distributed.Client``. What it started it stops on
exit; an existing scheduler is only disconnected from.

:func:`task_pool` gives the independent tasks of sample production and training-data
preparation a ``concurrent.futures`` executor on the same clusters: worker processes of
this machine (``local``), or the ``distributed`` client's executor (every other
executor; the workers then need the input and output folders on a shared filesystem).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
from collections.abc import Iterator
from typing import Any

import dask

from egamma_cnn.execution.settings import ExecutionSettings

__all__ = ["jobqueue_cluster", "open_executor", "task_pool"]


def _missing(package: str, executor: str) -> ImportError:
    return ImportError(
        f"the {executor!r} executor needs {package}: pip install {package} "
        "(it is not a dependency of egamma-cnn)"
    )


def jobqueue_cluster(settings: ExecutionSettings, scale: bool = True) -> Any:
    """The dask-jobqueue cluster of ``settings`` (``scale``: submit its jobs).

    ``cores`` = ``threads_per_worker``, one worker process per job, ``memory`` =
    ``memory_per_worker`` (default 4GiB); every ``jobqueue`` option is passed on.
    ``cluster.job_script()`` shows the job that would be submitted.
    """
    try:
        import dask_jobqueue
    except ImportError:
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
    cluster = cluster_class(**options)
    if scale:
        cluster.scale(jobs=settings.workers)
    return cluster


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
def open_executor(settings: ExecutionSettings) -> Iterator[Any]:
    """Yield ``"sync"`` or a ``distributed.Client`` for ``settings`` (module docstring)."""
    if settings.executor == "iterative":
        yield "sync"
        return
    from distributed import Client, LocalCluster

    if settings.executor == "scheduler":
        with Client(settings.address, timeout="30s") as client:
            yield client
        return
    if settings.executor == "local":
        # a chunk lost with a dying worker is recomputed up to `retries` times
        with dask.config.set({"distributed.scheduler.allowed-failures": settings.retries}):
            cluster = LocalCluster(
                n_workers=settings.workers,
                threads_per_worker=settings.threads_per_worker,
                memory_limit=settings.memory_per_worker or "auto",
                dashboard_address=None,
            )
    elif settings.executor in ("slurm", "htcondor"):
        cluster = jobqueue_cluster(settings)
    else:
        cluster = _gateway_cluster(settings)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def task_pool(settings: ExecutionSettings | None, workers: int = 1) -> Iterator[cf.Executor]:
    """A ``concurrent.futures`` executor for independent tasks (module docstring).

    ``settings`` None or executor ``local``: ``workers`` processes on this machine
    (``iterative``: one); otherwise the cluster of ``settings`` through
    ``distributed.Client.get_executor`` (its futures work with
    ``concurrent.futures.as_completed``).
    """
    if settings is None or settings.executor in ("local", "iterative"):
        size = 1 if settings is not None and settings.executor == "iterative" else workers
        with cf.ProcessPoolExecutor(max_workers=max(size, 1)) as pool:
            yield pool
        return
    with open_executor(settings) as client, client.get_executor(pure=False) as pool:
        yield pool
