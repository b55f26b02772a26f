"""Distributed execution: settings, executors, and the fileset runner.

* :class:`ExecutionSettings` — executor (iterative, local, scheduler, slurm, htcondor,
  gateway), chunk size, retries, worker resources, permission to skip bad input;
* :func:`open_executor` — start or connect to it; :func:`task_pool` — the same
  clusters as a ``concurrent.futures`` executor for sample production and training-data
  preparation;
* :func:`run_fileset` — a processor over a fileset with coffea's dataset tools, with a
  report of every file and chunk left out.
"""

from __future__ import annotations

from egamma_cnn.execution.clusters import open_executor, task_pool
from egamma_cnn.execution.runner import BadInputError, Failure, FilesetRun, run_fileset
from egamma_cnn.execution.settings import EXECUTORS, ExecutionSettings

__all__ = [
    "EXECUTORS",
    "BadInputError",
    "ExecutionSettings",
    "Failure",
    "FilesetRun",
    "open_executor",
    "run_fileset",
    "task_pool",
]
