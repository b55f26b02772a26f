"""Where and how a fileset is processed: the executor and its settings, in one object.

:class:`ExecutionSettings` is what ``egamma-cnn run`` and every runner of this package
take: the executor (in-process for debugging, a ``distributed`` LocalCluster, an
existing scheduler, a batch system through dask-jobqueue, a dask-gateway), the chunk
size, the retries, the worker resources, and whether bad files may be left out. It is
read from a small JSON file (:meth:`ExecutionSettings.from_json`), for example for
HTCondor at an analysis facility::

    {"executor": "htcondor", "workers": 50, "memory_per_worker": "4GiB",
     "chunk_size": 50000, "retries": 3, "skip_bad_files": true,
     "jobqueue": {"disk": "4GiB", "job_extra_directives": {"+JobFlavour": "\\"workday\\""}}}
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dask.utils import parse_bytes

__all__ = [
    "EXECUTORS",
    "LOCAL_WORKERS_PER_CORE",
    "ExecutionSettings",
    "check_local_workers",
    "max_local_workers",
]

#: Worker processes per CPU a cluster on this machine may have at most: more only share
#: the CPUs (and their memory), and tens of thousands of processes hang the machine.
LOCAL_WORKERS_PER_CORE = 4


def max_local_workers() -> int:
    """The most worker processes on this machine: :data:`LOCAL_WORKERS_PER_CORE` × its CPUs.

    The CPUs are those this process may run on (``os.sched_getaffinity`` where it exists,
    else ``os.cpu_count``).
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return LOCAL_WORKERS_PER_CORE * (cpus or 1)


def check_local_workers(workers: int, option: str = "--workers") -> None:
    """Raise ``ValueError`` naming ``option`` and the limit above :func:`max_local_workers`.

    Local worker processes (a ``LocalCluster``, :func:`~egamma_cnn.execution.task_pool`)
    only; batch jobs and gateway workers are not this machine's.
    """
    limit = max_local_workers()
    if workers > limit:
        raise ValueError(
            f"{option} {workers}: at most {limit} local worker processes "
            f"({LOCAL_WORKERS_PER_CORE} × the {limit // LOCAL_WORKERS_PER_CORE} CPUs of this "
            "machine); a batch or scheduler executor runs more"
        )


#: The executors: what each one runs on.
EXECUTORS: dict[str, str] = {
    "iterative": "in this process, chunk after chunk (dask's synchronous scheduler): debugging",
    "local": "a distributed LocalCluster of `workers` processes on this machine (default)",
    "scheduler": "an existing dask scheduler at `address` (tcp://host:8786)",
    "slurm": "Slurm jobs through dask-jobqueue (SLURMCluster), `workers` jobs",
    "htcondor": "HTCondor jobs through dask-jobqueue (HTCondorCluster), `workers` jobs",
    "gateway": "a dask-gateway cluster (at `address`, or the gateway's configured one)",
}


@dataclass(frozen=True)
class ExecutionSettings:
    """How a fileset is processed (module docstring).

    Parameters
    ----------
    executor : str
        One of :data:`EXECUTORS`.
    workers : int
        Worker processes (local: at most :data:`LOCAL_WORKERS_PER_CORE` per CPU core of
        this machine), batch jobs (slurm, htcondor) or gateway workers.
    threads_per_worker : int
        Threads per worker (1: the numba and onnxruntime code is single-threaded per
        chunk, more threads in a worker share its memory).
    memory_per_worker : str, optional
        Memory limit of a worker ("4GiB", checked with ``dask.utils.parse_bytes``):
        local and batch workers.
    address : str, optional
        The scheduler's address (``scheduler``) or the gateway's (``gateway``).
    chunk_size : int
        Events per chunk (coffea's ``step_size``).
    retries : int
        Times a failed chunk task is resubmitted before the run fails (a chunk lost with
        a worker that died is recomputed by the scheduler in any case).
    skip_bad_files : bool
        The user's permission to go on past files that cannot be opened and chunks that
        cannot be read: they are left out and every one is reported by name, entry
        range and reason. Without it the first bad file or chunk stops the run with
        that message.
    jobqueue : dict
        Further keyword arguments of the dask-jobqueue cluster (``queue``,
        ``walltime``, ``account``, ``job_extra_directives``, ...).
    gateway : dict
        Cluster options of the dask-gateway (``image``, ``worker_cores``, ...).
    """

    executor: str = "local"
    workers: int = 2
    threads_per_worker: int = 1
    memory_per_worker: str | None = None
    address: str | None = None
    chunk_size: int = 20_000
    retries: int = 3
    skip_bad_files: bool = False
    jobqueue: dict[str, Any] = field(default_factory=dict)
    gateway: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.executor, str) or self.executor not in EXECUTORS:
            raise ValueError(f"executor {self.executor!r} is not one of {', '.join(EXECUTORS)}")
        for name in ("workers", "threads_per_worker", "chunk_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or self.retries < 0:
            raise ValueError(f"retries must be an integer ≥ 0, not {self.retries!r}")
        if self.executor == "local":
            check_local_workers(self.workers)
        for name in ("memory_per_worker", "address"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a text or null, not {value!r}")
        if self.memory_per_worker is not None:
            try:
                parse_bytes(self.memory_per_worker)
            except ValueError:
                raise ValueError(
                    f"memory_per_worker must be an amount of memory such as '4GiB', "
                    f"not {self.memory_per_worker!r}"
                ) from None
        if self.executor == "scheduler" and not self.address:
            raise ValueError("executor 'scheduler' needs the scheduler's address (tcp://host:port)")
        if not isinstance(self.skip_bad_files, bool):
            raise ValueError(f"skip_bad_files must be true or false, not {self.skip_bad_files!r}")
        for name in ("jobqueue", "gateway"):
            value = getattr(self, name)
            if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
                raise ValueError(f"{name} must be a JSON object of options, not {value!r}")

    def with_changes(self, **changes: Any) -> ExecutionSettings:
        """A copy with ``changes`` (None values are ignored: "not given")."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_json(self) -> str:
        """The settings as JSON (what :meth:`from_json` reads)."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, path: str | Path) -> ExecutionSettings:
        """Read settings from a JSON object.

        Raises
        ------
        ValueError
            One line naming the file and what is wrong: not readable JSON, not an
            object, an unknown key, or a field's wrong type or value (the field and the
            value).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a readable JSON file ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(
                f'{path}: the execution settings are a JSON object {{"executor": ...}}, '
                f"not a {type(data).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{path}: unknown execution settings {unknown}; known: {sorted(known)}"
            )
        try:
            return cls(**data)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
