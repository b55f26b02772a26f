"""Distributed execution: settings, executors, and the fileset runner.

* :class:`ExecutionSettings` — executor (iterative, local, scheduler, slurm, htcondor,
  gateway), chunk size, retries, worker resources, permission to skip bad input;
* :func:`open_executor` — start or connect to it; :func:`task_pool` — the same
  clusters as a ``concurrent.futures`` executor for sample production and training-data
  preparation;
* :func:`run_fileset` — a processor over a fileset with coffea's dataset tools, with a
  report of every file and chunk left out; :func:`check_inputs` — its first step (the
  fileset's form and the files that are not there), before an executor is opened;
* :func:`load_fileset`, :func:`check_fileset`, :func:`dataset_kind`,
  :func:`dataset_kinds`, :func:`merge_by_kind` — filesets in coffea's format, checked
  before anything runs, data or simulation, outputs added up per kind.

Execution serves any processor and any NanoEvents schema: nothing here imports the
identification columns or the studies of this package.
"""

from __future__ import annotations

from egamma_cnn.execution.clusters import (
    MissingExtraError,
    WorkerDiedError,
    open_executor,
    task_pool,
)
from egamma_cnn.execution.fileset import (
    check_fileset,
    dataset_kind,
    dataset_kinds,
    load_fileset,
    merge_by_kind,
)
from egamma_cnn.execution.report import BadInputError, Failure, FilesetRun
from egamma_cnn.execution.runner import check_inputs, run_fileset
from egamma_cnn.execution.settings import EXECUTORS, ExecutionSettings

__all__ = [
    "EXECUTORS",
    "BadInputError",
    "ExecutionSettings",
    "Failure",
    "FilesetRun",
    "MissingExtraError",
    "WorkerDiedError",
    "check_fileset",
    "check_inputs",
    "dataset_kind",
    "dataset_kinds",
    "load_fileset",
    "merge_by_kind",
    "open_executor",
    "run_fileset",
    "task_pool",
]
