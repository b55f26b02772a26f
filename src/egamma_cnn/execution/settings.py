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

from egamma_cnn.execution.preprocessing import default_cache_dir
from egamma_cnn.jsonio import read_json

__all__ = [
    "EXECUTORS",
    "LOCAL_WORKERS_PER_CORE",
    "MAX_CHUNK_SIZE",
    "MAX_RETRIES",
    "MAX_THREADS_PER_WORKER",
    "MIN_MEMORY_PER_WORKER",
    "OPTION_EXECUTORS",
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


#: The most threads of one worker (local: also at most the local worker limit).
MAX_THREADS_PER_WORKER = 1024
#: The most events per chunk.
MAX_CHUNK_SIZE = 1_000_000_000
#: The most retries of a failed chunk.
MAX_RETRIES = 100
#: The least memory of a worker: it needs about 350 MiB once the models and numba
#: kernels are loaded, plus its chunk (docs/EXECUTION.md, "Chunk size and worker memory").
MIN_MEMORY_PER_WORKER = "512MiB"


def _check_memory(text: str) -> None:
    """Refuse a ``memory_per_worker`` that is no amount or less than a worker needs."""
    try:
        amount = parse_bytes(text)
    except (ValueError, TypeError):
        amount = None
    if amount is None:
        raise ValueError(
            f"memory_per_worker must be an amount of memory such as '4GiB', not {text!r}"
        )
    if amount < parse_bytes(MIN_MEMORY_PER_WORKER):
        raise ValueError(
            f"memory_per_worker {text!r} is less than the {MIN_MEMORY_PER_WORKER} a worker "
            "needs (about 350 MiB for the models and kernels, plus its chunk)"
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

#: The options that only some executors use (docs/EXECUTION.md, "Executors"); given
#: with another executor, they are refused rather than ignored.
OPTION_EXECUTORS: dict[str, tuple[str, ...]] = {
    "address": ("scheduler", "gateway"),
    "memory_per_worker": ("local", "slurm", "htcondor"),
    "threads_per_worker": ("local", "slurm", "htcondor"),
    "jobqueue": ("slurm", "htcondor"),
    "gateway": ("gateway",),
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
        chunk, more threads in a worker share its memory): local and batch workers, at
        most :data:`MAX_THREADS_PER_WORKER` (local: :func:`max_local_workers`).
    memory_per_worker : str, optional
        Memory limit of a worker ("4GiB", checked with ``dask.utils.parse_bytes``), at
        least :data:`MIN_MEMORY_PER_WORKER`: local and batch workers.
    address : str, optional
        The scheduler's address (``scheduler``) or the gateway's (``gateway``).
    chunk_size : int
        Events per chunk (coffea's ``step_size``), 1 to :data:`MAX_CHUNK_SIZE`.
    retries : int
        Times a failed chunk task is resubmitted before the run fails (a chunk lost with
        a worker that died is recomputed by the scheduler in any case), 0 to
        :data:`MAX_RETRIES`.
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
    cache : bool
        Keep what preprocessing learns of each file (its entries and UUID; the form of a
        dataset's first file) and use it in later runs over unchanged files
        (:mod:`egamma_cnn.execution.preprocessing`); False: read every file again and
        keep nothing.
    cache_dir : str, optional
        The cache's folder (default: ``$EGAMMA_CNN_CACHE_DIR``, else
        ``$XDG_CACHE_HOME/egamma-cnn``, else ``~/.cache/egamma-cnn``).

    Raises
    ------
    ValueError
        A value of the wrong type or out of its range, or an option the executor does not
        use (:data:`OPTION_EXECUTORS`: ``address`` with ``local``, ``memory_per_worker``
        with ``iterative``, ``jobqueue`` with ``local``, ...), which would be ignored.
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
    cache: bool = True
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.executor, str) or self.executor not in EXECUTORS:
            raise ValueError(f"executor {self.executor!r} is not one of {', '.join(EXECUTORS)}")
        for name, most in (
            ("workers", None),
            ("threads_per_worker", MAX_THREADS_PER_WORKER),
            ("chunk_size", MAX_CHUNK_SIZE),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
            if most is not None and value > most:
                raise ValueError(f"{name} must be at most {most}, not {value}")
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or self.retries < 0:
            raise ValueError(f"retries must be an integer ≥ 0, not {self.retries!r}")
        if self.retries > MAX_RETRIES:
            raise ValueError(
                f"retries must be at most {MAX_RETRIES} (a chunk that fails that often will "
                f"not succeed), not {self.retries}"
            )
        if self.executor == "local":
            check_local_workers(self.workers)
            if self.threads_per_worker > max_local_workers():
                raise ValueError(
                    f"threads_per_worker {self.threads_per_worker}: at most "
                    f"{max_local_workers()} threads on this machine ({LOCAL_WORKERS_PER_CORE} × "
                    "its CPUs)"
                )
        for name in ("memory_per_worker", "address"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a text or null, not {value!r}")
        if self.memory_per_worker is not None:
            _check_memory(self.memory_per_worker)
        if self.executor == "scheduler" and not self.address:
            raise ValueError("executor 'scheduler' needs the scheduler's address (tcp://host:port)")
        if not isinstance(self.cache, bool):
            raise ValueError(f"cache must be true or false, not {self.cache!r}")
        if self.cache_dir is not None and (
            not isinstance(self.cache_dir, str) or not self.cache_dir.strip()
        ):
            raise ValueError(f"cache_dir must be a folder (text) or null, not {self.cache_dir!r}")
        if self.cache_dir is not None and not self.cache:
            raise ValueError(
                f"cache_dir {self.cache_dir!r} is given with cache false: it would be ignored"
            )
        if not isinstance(self.skip_bad_files, bool):
            raise ValueError(f"skip_bad_files must be true or false, not {self.skip_bad_files!r}")
        for name in ("jobqueue", "gateway"):
            value = getattr(self, name)
            if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
                raise ValueError(f"{name} must be a JSON object of options, not {value!r}")
        self._check_used()

    def _check_used(self) -> None:
        """Refuse an option that the executor would ignore (given, then silently dropped).

        Unset options (None, ``{}``, one thread per worker: the defaults) are never
        refused; ``workers`` is not checked, because its default (2) is always set.
        """
        for name, value in (
            ("address", self.address),
            ("memory_per_worker", self.memory_per_worker),
            ("threads_per_worker", None if self.threads_per_worker == 1 else 1),
            ("jobqueue", self.jobqueue or None),
            ("gateway", self.gateway or None),
        ):
            users = OPTION_EXECUTORS[name]
            if value is not None and self.executor not in users:
                raise ValueError(
                    f"{name} {getattr(self, name)!r} is not used by executor "
                    f"{self.executor!r} (only by {', '.join(users)}): remove it or choose "
                    "one of those executors"
                )

    def preprocess_cache_dir(self) -> Path | None:
        """The preprocessing cache's folder (None: no cache, ``cache`` false)."""
        if not self.cache:
            return None
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()

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
            One line naming the file and what is wrong: missing, a folder, unreadable,
            not UTF-8, not JSON, not an object, an unknown key, or a field's wrong type or
            value (the field and the value).
        """
        path = Path(path)
        data = read_json(path)
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
