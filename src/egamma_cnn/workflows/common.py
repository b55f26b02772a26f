"""What every workflow shares: run a processor over a fileset with the execution settings.

:func:`run_processor` is the door from the workflows to
:func:`egamma_cnn.execution.run_fileset`: it applies a chunk size given with the
workflow's own arguments over the :class:`~egamma_cnn.execution.ExecutionSettings`, and
reads the files with the egamma-cnn schema unless the caller names another one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egamma_cnn.execution import ExecutionSettings, FilesetRun, run_fileset
from egamma_cnn.nanoevents import EGammaSchema

__all__ = ["run_processor"]


def run_processor(
    processor: Any,
    fileset: Mapping[str, Any],
    *,
    schemaclass: Any = None,
    step_size: int | None = None,
    scheduler: Any = None,
    settings: ExecutionSettings | None = None,
) -> FilesetRun:
    """Run a coffea processor over ``fileset``: outputs per dataset, and what was left out.

    Parameters
    ----------
    processor : coffea.processor.ProcessorABC
        The processor; its ``process`` must work on dask-awkward NanoEvents.
    fileset : mapping
        Coffea's fileset format, ``{dataset: {"files": ..., "metadata": ...}}``.
    schemaclass : type, optional
        The NanoEvents schema (default :class:`~egamma_cnn.nanoevents.EGammaSchema`).
    step_size : int, optional
        Events per chunk; overrides the chunk size of ``settings``.
    scheduler : "sync", a distributed Client, or None
        Where to compute when the caller holds it already (None: the client of the
        context, else the executor of ``settings``).
    settings : ExecutionSettings, optional
        Executor, retries and the permission to skip bad input.
    """
    settings = (settings or ExecutionSettings()).with_changes(chunk_size=step_size)
    return run_fileset(
        processor,
        fileset,
        settings,
        schemaclass=schemaclass or EGammaSchema,
        executor=scheduler,
    )
