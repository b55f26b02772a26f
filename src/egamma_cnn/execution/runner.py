"""Run a coffea processor over a fileset with coffea's dataset tools, on any executor.

:func:`run_fileset` is the one way every command of this package processes files:

1. ``coffea.dataset_tools.preprocess`` splits every file into chunks of
   ``chunk_size`` events (on the executor). A file that cannot be opened is found here;
   its reason is read again from uproot so that the report can name it.
2. ``apply_to_fileset`` builds one lazy dask graph of the processor over every chunk
   (with ``skip_bad_files``, uproot's read-error report is requested too, so a chunk
   that cannot be read becomes an empty chunk *and* a line of the report).
3. The graph is computed on the executor with a progress bar; a failed chunk task is
   retried ``retries`` times, and a chunk lost with a worker is recomputed by the
   scheduler, so nothing is lost or counted twice.

Bad input is never dropped silently: without ``skip_bad_files`` the first bad file or
chunk stops the run with an error that names it; with it, :class:`FilesetRun` lists
every file and chunk left out and why (``report()``, and the runners write it into
their ``summary.json``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import dask
import uproot
from coffea.dataset_tools import apply_to_fileset, preprocess
from coffea.nanoevents import BaseSchema
from dask.diagnostics import ProgressBar

from egamma_cnn.execution.clusters import open_executor
from egamma_cnn.execution.report import BadInputError, Failure, FilesetRun
from egamma_cnn.execution.settings import ExecutionSettings

__all__ = ["run_fileset"]


def _one_line(message: str, limit: int = 300) -> str:
    """An exception message on one line (uproot's span several), at most ``limit`` chars."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open_reason(file: str, tree: str) -> str:
    """Why uproot cannot open ``file`` (read again for the report)."""
    try:
        with uproot.open(file) as handle:
            handle[tree].num_entries  # noqa: B018 - reading it is the check
    except Exception as err:  # any failure is the reason we report
        return f"{type(err).__name__}: {_one_line(str(err))}".strip()
    return "it could not be opened while preprocessing (it opens now: a transient error?)"


def _files(spec: Mapping[str, Any]) -> dict[str, str]:
    files = spec["files"]
    return {f: "Events" for f in files} if isinstance(files, list) else dict(files)


def _chunk_failures(reports: Mapping[str, Any]) -> list[Failure]:
    failures = []
    for dataset, report in reports.items():
        for row in report.to_list():
            if not row["exception"]:
                continue
            args = [a.strip("'\"") for a in row["args"]]
            reason = f"{row['exception']}: {_one_line(row['message'] or '')}".strip()
            failures.append(
                Failure(dataset, args[0], reason, entry_start=int(args[2]), entry_stop=int(args[3]))
            )
    return failures


def _compute(graph: Any, executor: Any, retries: int) -> Any:
    """Compute with a progress bar on a distributed client or dask's local scheduler."""
    if executor is not None and not isinstance(executor, str):  # a distributed Client
        from distributed import progress

        futures = executor.compute(graph, retries=retries)
        progress(futures)
        print()
        result = executor.gather(futures)
        return tuple(result) if isinstance(graph, tuple) else result
    with ProgressBar():
        (out,) = dask.compute(graph, scheduler=executor)
    return out


def run_fileset(
    processor: Any,
    fileset: Mapping[str, Any],
    settings: ExecutionSettings | None = None,
    *,
    schemaclass: type[BaseSchema],
    executor: Any = None,
) -> FilesetRun:
    """Run ``processor`` over ``fileset`` (module docstring).

    Parameters
    ----------
    processor : coffea.processor.ProcessorABC
        The processor; its ``process`` must work on dask-awkward NanoEvents.
    fileset : mapping
        ``{dataset: {"files": {path: tree} or [paths], "metadata": {...}}}``.
    settings : ExecutionSettings, optional
        Executor, chunk size, retries, permission to skip bad input.
    schemaclass : type
        The NanoEvents schema of the files (:class:`~egamma_cnn.nanoevents.EGammaSchema`
        for egamma-cnn samples, coffea's ``NanoAODSchema`` for CMS NanoAOD, ...): there
        is no default, because the executor serves any schema.
    executor : "sync", a distributed Client, or None
        Where to compute, when the caller holds it already; None: open the executor of
        ``settings`` for this run (or use the ``distributed`` client of the context).

    Raises
    ------
    BadInputError
        Without ``skip_bad_files``: every file that cannot be opened (named, with the
        reason), or the first chunk that cannot be read.
    ValueError
        No file at all can be opened.
    TypeError
        ``schemaclass`` is not a NanoEvents schema class.
    """
    if not (isinstance(schemaclass, type) and issubclass(schemaclass, BaseSchema)):
        raise TypeError(
            f"run_fileset needs schemaclass=<a NanoEvents schema class>, not {schemaclass!r}: "
            "EGammaSchema for egamma-cnn files, coffea's NanoAODSchema for CMS NanoAOD"
        )
    settings = settings or ExecutionSettings()
    context: Any = contextlib.nullcontext(executor)
    if executor is None:
        try:
            from distributed import get_client

            executor = get_client()  # the caller's cluster (a notebook, the demo)
            context = contextlib.nullcontext(executor)
        except (ImportError, ValueError):
            context = open_executor(settings)
    normalised = {name: {**spec, "files": _files(spec)} for name, spec in fileset.items()}
    with context as executor:
        runnable, _ = preprocess(
            normalised,
            step_size=settings.chunk_size,
            skip_bad_files=True,
            file_exceptions=(Exception,),
            allow_empty_datasets=True,
            scheduler=executor if isinstance(executor, str) else None,
        )
        failures = [
            Failure(name, file, _open_reason(file, tree))
            for name, spec in normalised.items()
            for file, tree in spec["files"].items()
            if file not in (runnable.get(name) or {}).get("files", {})
        ]
        if failures and not settings.skip_bad_files:
            listed = "; ".join(str(f) for f in failures)
            raise BadInputError(
                f"{len(failures)} file(s) cannot be opened: {listed}. Remove them, or give "
                "the permission to go on without them (skip_bad_files, --skip-bad-files): "
                "the report then names every file and chunk left out"
            )
        for failure in failures:
            print(f"skipped {failure}")
        runnable = {name: spec for name, spec in runnable.items() if spec.get("files")}
        if not runnable:
            raise ValueError(f"none of the files can be opened: {[str(f) for f in failures]}")
        uproot_options = (
            {"allow_read_errors_with_report": (Exception,)} if settings.skip_bad_files else {}
        )
        graph = apply_to_fileset(
            processor,
            runnable,
            schemaclass=schemaclass,
            uproot_options=uproot_options,
        )
        try:
            computed = _compute(graph, executor, settings.retries)
        except Exception as err:
            if settings.skip_bad_files:
                raise
            raise BadInputError(
                f"the run stopped at a failed chunk: {type(err).__name__}: {err}. With the "
                "permission to go on (skip_bad_files, --skip-bad-files) such chunks are "
                "left out and reported by file and entry range"
            ) from err
    if settings.skip_bad_files:
        outputs, reports = computed
        chunk_failures = _chunk_failures(reports)
        for failure in chunk_failures:
            print(f"left out {failure}")
        failures += chunk_failures
    else:
        outputs = computed
    # the pre-built processors key their output by dataset (coffea's convention)
    unwrapped = {
        name: out[name] if isinstance(out, dict) and list(out) == [name] else out
        for name, out in ((name, outputs[name]) for name in runnable)
    }
    return FilesetRun(unwrapped, failures)
