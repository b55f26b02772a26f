"""Run a coffea processor over a fileset with coffea's dataset tools, on any executor.

:func:`run_fileset` is the one way every command of this package processes files:

0. The fileset is checked before anything runs (:func:`.fileset.check_fileset`: its
   structure, tree names, ``metadata.is_data``), and local files that are missing or
   folders are named (:func:`.fileset.missing_file`).
1. :func:`.preprocessing.preprocess_fileset` splits every file into chunks of
   ``chunk_size`` events from its header (cached; a runnable fileset's steps are used
   as given). A file that cannot be opened is found here, with uproot's reason. If the
   building of the graph fails, the schema's ``check_branches`` (where it has one)
   names the files that lack branches it needs.
2. ``apply_to_fileset`` builds one lazy dask graph of the processor over every chunk
   (with ``skip_bad_files``, uproot's read-error report is requested too, so a chunk
   that cannot be read becomes an empty chunk *and* a line of the report).
3. The graph is computed on the executor with a progress bar; a failed chunk task is
   retried ``retries`` times, and a chunk lost with a worker is recomputed by the
   scheduler, so nothing is lost or counted twice. When the computation fails anyway,
   the graph is computed again file by file, then chunk by chunk of a file that fails,
   and the first failing chunk is named by dataset, file and entry range (with
   ``skip_bad_files``: every failing chunk is left out, reported, and the rest
   computed again).

Bad input is never dropped silently: without ``skip_bad_files`` the first bad file or
chunk stops the run with an error that names it; with it, :class:`FilesetRun` lists
every file and chunk left out and why (``report()``, and the runners write it into
their ``summary.json``).
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import dask
import uproot
from coffea.dataset_tools import apply_to_fileset
from coffea.nanoevents import BaseSchema
from dask.diagnostics import ProgressBar

from egamma_cnn.execution.clusters import open_executor
from egamma_cnn.execution.fileset import check_fileset, missing_file
from egamma_cnn.execution.graphs import input_form, submit
from egamma_cnn.execution.preprocessing import (
    PreprocessCache,
    preprocess_fileset,
    remember_forms,
    tree_name,
)
from egamma_cnn.execution.report import BadInputError, Failure, FilesetRun
from egamma_cnn.execution.settings import ExecutionSettings

__all__ = ["check_inputs", "run_fileset"]


def _one_line(message: str, limit: int = 300) -> str:
    """An exception message on one line (uproot's span several), at most ``limit`` chars."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Warnings of coffea while it preprocesses files and builds a graph that the one-line
#: error of a run names better: a local file that cannot be opened (a dataset left
#: without files is blamed on "xrootd endpoints"), and the cross-references that
#: NanoAODSchema cannot make in a file without the collection (one line per index
#: branch: CMS NanoAOD files of a skim, or files of another format).
QUIET_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    ("There was no populated list of files returned", UserWarning),
    ("Missing cross-reference index", RuntimeWarning),
)


@contextlib.contextmanager
def _quiet_schemas() -> Iterator[None]:
    """Preprocess or build a graph without the noise of coffea's warnings.

    :data:`QUIET_WARNINGS` are silenced; the other warnings of the block are shown when
    it ends well and dropped when it raises (the error of the run says what is wrong,
    and the warnings of a schema reading the wrong files would only bury it).
    """
    with warnings.catch_warnings(record=True) as caught:
        for message, category in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=re.escape(message), category=category)
        yield
    for warning in caught:
        warnings.showwarning(
            warning.message, warning.category, warning.filename, warning.lineno, warning.file
        )


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


def _whole_files(
    failures: list[Failure], schemaclass: type[BaseSchema], runnable: Mapping[str, Any]
) -> list[Failure]:
    """``failures`` of chunks, those of a file that lacks branches its schema needs made
    one failure of the whole file, named with the branches (every chunk of it fails)."""
    out: list[Failure] = []
    explained: dict[tuple[str, str], str | None] = {}
    for failure in failures:
        key = (failure.dataset, failure.file)
        if key not in explained:
            tree = runnable.get(failure.dataset, {}).get("files", {}).get(failure.file, "Events")
            explained[key] = _branch_problem(schemaclass, failure.file, tree)
            if explained[key] is not None:
                out.append(Failure(failure.dataset, failure.file, explained[key]))
        if explained[key] is None:
            out.append(failure)
    return out


def _compute(graph: Any, executor: Any, retries: int) -> Any:
    """Compute with a progress bar on a distributed client or dask's local scheduler."""
    if executor is not None and not isinstance(executor, str):  # a distributed Client
        from distributed import progress

        submitted = submit(graph, executor, retries)
        progress(submitted.flat_futures())
        print()
        return submitted.result()
    with ProgressBar():
        (out,) = dask.compute(graph, scheduler=executor)
    return out


PERMISSION = (
    "with the permission to go on (skip_bad_files, --skip-bad-files) it is left out "
    "and reported by file and entry range"
)


def _reason(err: BaseException) -> str:
    """An exception as ``Type: message`` on one line."""
    return f"{type(err).__name__}: {_one_line(str(err))}".rstrip(": ")


def _branch_problem(schemaclass: type[BaseSchema], file: str, tree: Any) -> str | None:
    """Why ``schemaclass`` cannot read ``file`` by its branch names (None: no reason known).

    Asked only on the failure path: a schema with a ``check_branches`` classmethod
    (:meth:`egamma_cnn.nanoevents.EGammaSchema.check_branches`) is given the branch
    names, which uproot reads with the tree's metadata (no form, no basket).
    """
    check = getattr(schemaclass, "check_branches", None)
    if check is None:
        return None
    try:
        with uproot.open(file) as handle:
            branches = handle[tree_name(tree)].keys()
    except Exception:  # a file that cannot be opened is named by the open check
        return None
    return check(branches)


def _branch_names(file: str, tree: Any) -> frozenset[str] | None:
    """The branch names of ``file``'s tree (None: it cannot be opened); metadata only."""
    try:
        with uproot.open(file) as handle:
            return frozenset(handle[tree_name(tree)].keys())
    except Exception:  # a file that cannot be opened is named by the open check
        return None


def _listed(names: frozenset[str], among: frozenset[str], limit: int = 8) -> str:
    """``names`` (a subset of ``among``) on one line, at most ``limit`` items.

    A collection all of whose branches in ``among`` are there (at least three) is one
    item, ``GenPart_*``, listed first.
    """

    def collection(name: str) -> str | None:
        return name.split("_", 1)[0] if "_" in name else None

    items: list[str] = []
    for name in sorted(names):
        prefix = collection(name)
        if prefix is not None:
            members = {b for b in among if collection(b) == prefix}
            if len(members) > 2 and members <= names:
                if f"{prefix}_*" not in items:
                    items.append(f"{prefix}_*")
                continue
        items.append(name)
    items.sort(key=lambda item: not item.endswith("_*"))  # whole collections first
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _branch_differences(fileset: Mapping[str, Any]) -> list[str]:
    """One line per dataset whose files do not all have the same branches.

    Asked only once a run has failed: the branch names are read with the trees'
    metadata (no form, no basket). Each file is compared with the dataset's first file
    that opens.
    """
    lines = []
    for name, spec in fileset.items():
        branches = {
            file: names
            for file, tree in spec["files"].items()
            if (names := _branch_names(file, tree)) is not None
        }
        if len(branches) < 2:
            continue
        first, *others = branches
        differences = []
        for other in others:
            extra, lacking = branches[other] - branches[first], branches[first] - branches[other]
            if extra:
                listed = _listed(extra, branches[other])
                differences.append(f"{other} has {listed} that {first} lacks")
            if lacking:
                listed = _listed(lacking, branches[first])
                differences.append(f"{other} lacks {listed} that {first} has")
        if differences:
            lines.append(
                f"dataset {name!r}: its files do not have the same branches: "
                f"{'; '.join(differences)}; a dataset is one kind of file (data or simulation, "
                "one format): give the others a dataset of their own"
            )
    return lines


def _failing_datasets(build: Any, runnable: Mapping[str, Any]) -> list[tuple[str, Exception]]:
    """The datasets of ``runnable`` whose graph cannot be built alone, with the error."""
    failed = []
    for name, spec in runnable.items():
        try:
            build({name: spec})
        except Exception as err:  # the error is reported with its dataset
            failed.append((name, err))
    return failed


def _explained(
    err: Exception, fileset: Mapping[str, Any], runnable: Mapping[str, Any] | None, build: Any
) -> Exception | None:
    """``err`` (preprocess or the graph build failed) with the dataset that causes it.

    A dataset whose files differ in their branches is named with the branches that
    differ (a BadInputError); a ValueError of the graph build (a processor refusing its
    input) becomes a ValueError that names the dataset whose graph fails alone, and its
    files. None: nothing to add (the error names its dataset already, or every dataset
    fails alike: the error is not of one dataset).
    """
    differences = _branch_differences(fileset)
    if differences:
        return BadInputError(f"{'; '.join(differences)} ({_reason(err)})")
    if runnable is None or not isinstance(err, ValueError):
        return None
    if any(f"dataset {name!r}" in str(err) for name in runnable):  # it names it already
        return None
    failed = _failing_datasets(build, runnable) if len(runnable) > 1 else [(*runnable, err)]
    if not failed or (len(runnable) > 1 and len(failed) == len(runnable)):
        return None
    name, error = failed[0]
    if f"dataset {name!r}" in str(error):  # it names its dataset already
        return None
    files = ", ".join(runnable[name]["files"])
    return ValueError(f"dataset {name!r} (files: {files}): {_one_line(str(error), 600)}")


def _branch_failures(schemaclass: type[BaseSchema], fileset: Mapping[str, Any]) -> list[Failure]:
    """Every file of ``fileset`` that lacks branches its schema needs."""
    return [
        Failure(name, file, problem)
        for name, spec in fileset.items()
        for file, tree in spec["files"].items()
        if (problem := _branch_problem(schemaclass, file, tree)) is not None
    ]


def _without(fileset: Mapping[str, Any], left_out: list[Failure]) -> dict[str, Any]:
    """``fileset`` less the files (entry_start None) and chunks of ``left_out``.

    Works on the input format (``{path: tree}``) and on preprocess's (``{path:
    {"steps": ...}}``); files without steps left and datasets without files are dropped.
    """
    out = {}
    for name, spec in fileset.items():
        files = {}
        for file, file_spec in spec["files"].items():
            mine = [f for f in left_out if f.dataset == name and f.file == file]
            if any(f.entry_start is None for f in mine):
                continue
            if mine and isinstance(file_spec, Mapping) and "steps" in file_spec:
                gone = {(f.entry_start, f.entry_stop) for f in mine}
                steps = [s for s in file_spec["steps"] if (s[0], s[1]) not in gone]
                if not steps:
                    continue
                file_spec = {**file_spec, "steps": steps}
            files[file] = file_spec
        if files:
            out[name] = {**spec, "files": files}
    return out


def _erring(
    parts: list[tuple[Any, dict[str, Any]]],
    build: Any,
    executor: Any,
    retries: int,
    first_only: bool,
) -> list[tuple[Any, BaseException]]:
    """The parts (label, runnable) whose graph fails, with the exception, in order.

    dask's local schedulers compute them one after the other (stopping at the first
    failure if ``first_only``); a ``distributed`` client computes them all at once.
    """
    failed: list[tuple[Any, BaseException]] = []
    if executor is None or isinstance(executor, str):
        for label, runnable in parts:
            try:
                dask.compute(build(runnable), scheduler=executor)
            except Exception as err:
                failed.append((label, err))
                if first_only:
                    break
        return failed
    from distributed import wait

    submitted: list[tuple[Any, list[Any] | BaseException]] = []
    for label, runnable in parts:
        try:
            futures = submit(build(runnable), executor, retries).flat_futures()
        except Exception as err:  # the graph cannot even be built
            submitted.append((label, err))
            continue
        submitted.append((label, futures))
    pending = [f for _, futures in submitted if isinstance(futures, list) for f in futures]
    try:
        wait(pending)
        for label, futures in submitted:
            if isinstance(futures, BaseException):
                failed.append((label, futures))
                continue
            errors = [f.exception() for f in futures if f.status == "error"]
            if errors:
                failed.append((label, errors[0]))
    finally:
        executor.cancel(pending)
    return failed[:1] if first_only else failed


def _locate(
    runnable: Mapping[str, Any],
    build: Any,
    executor: Any,
    retries: int,
    schemaclass: type[BaseSchema],
    first_only: bool,
) -> list[Failure]:
    """The files and chunks of ``runnable`` whose computation fails on its own.

    Each file is computed alone; of a file that fails, each chunk alone. A file that
    fails while none of its chunks does is named whole. Costs time only once a run has
    failed.
    """
    files = [
        ((name, file), {name: {**spec, "files": {file: file_spec}}})
        for name, spec in runnable.items()
        for file, file_spec in spec["files"].items()
    ]
    culprits: list[Failure] = []
    for (name, file), file_error in _erring(files, build, executor, retries, first_only):
        spec, file_spec = runnable[name], runnable[name]["files"][file]
        chunks = [
            (
                (start, stop),
                {name: {**spec, "files": {file: {**file_spec, "steps": [[start, stop]]}}}},
            )
            for start, stop in file_spec["steps"]
        ]
        explanation = _branch_problem(schemaclass, file, file_spec)
        if explanation is not None:  # the file lacks branches: every chunk of it fails
            culprits.append(Failure(name, file, explanation))
            if first_only:
                break
            continue
        failed_chunks = _erring(chunks, build, executor, retries, first_only)
        if not failed_chunks:
            reason = f"{_reason(file_error)} (the file fails, none of its chunks alone)"
            culprits.append(Failure(name, file, explanation or reason))
        for (start, stop), err in failed_chunks:
            reason = explanation or _reason(err)
            culprits.append(Failure(name, file, reason, entry_start=start, entry_stop=stop))
        if first_only and culprits:
            break
    return culprits


def _prepare(
    build: Any,
    fileset: dict[str, Any],
    settings: ExecutionSettings,
    schemaclass: type[BaseSchema],
    executor: Any,
) -> tuple[dict[str, Any], list[Failure], Any]:
    """Preprocess ``fileset``: the runnable fileset, the files that cannot be opened or
    read with the schema (when they may be left out), and the graph (``build``).

    The chunks come from :func:`.preprocessing.preprocess_fileset` (entries read from the
    files' headers, kept in the cache of ``settings``); the forms the graph's first
    build reads are kept too (:func:`.preprocessing.remember_forms`). A failure of
    building the graph (files whose branches do not make the schema's collections: their
    forms do not merge, a collection is missing) is explained by the schema's
    ``check_branches`` when it can be, and such files are left out with
    ``skip_bad_files``.
    """
    left_out: list[Failure] = []
    cache = PreprocessCache(settings.preprocess_cache_dir())
    while True:
        runnable = None
        try:
            prepared = preprocess_fileset(
                fileset, settings.chunk_size, cache, None if isinstance(executor, str) else executor
            )
            for note in prepared.notes:
                print(note)
            runnable = prepared.runnable
            unopened = [Failure(name, file, reason) for name, file, reason in prepared.unreadable]
            if unopened and not settings.skip_bad_files:
                return runnable, unopened, None  # the caller stops the run
            # the schema's refusals (a missing collection) come here, with the files known
            graph = build(runnable) if runnable else None
            if graph is not None:
                outputs = graph[0] if isinstance(graph, tuple) else graph
                remember_forms(runnable, outputs, cache, input_form)
            return runnable, left_out + unopened, graph
        except ValueError as err:
            if runnable is None:  # the runnable fileset given is wrong: its own message
                raise
            error: Exception = err
        except Exception as err:
            error = err
        problems = _branch_failures(schemaclass, fileset)
        if not problems:
            explained = _explained(error, fileset, runnable, build)
            if explained is None:
                raise error
            raise explained from error
        if not settings.skip_bad_files:
            listed = "; ".join(str(f) for f in problems)
            raise BadInputError(
                f"{len(problems)} file(s) cannot be read with {schemaclass.__name__}: {listed}"
            ) from error
        left_out += problems
        fileset = _without(fileset, problems)
        if not fileset:
            return {}, left_out, None


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
    ValueError
        The fileset is malformed (:func:`~egamma_cnn.execution.fileset.check_fileset`:
        the dataset and the value are named), or no file at all can be read.
    BadInputError
        Without ``skip_bad_files``: every local file that is missing or a folder
        (before anything runs), every file that cannot be opened or lacks branches
        the schema needs (before anything is computed), or the first chunk whose
        computation fails: its dataset, file, entry range [start, stop) and reason.
    TypeError
        ``schemaclass`` is not a NanoEvents schema class.
    """
    if not (isinstance(schemaclass, type) and issubclass(schemaclass, BaseSchema)):
        raise TypeError(
            f"run_fileset needs schemaclass=<a NanoEvents schema class>, not {schemaclass!r}: "
            "EGammaSchema for egamma-cnn files, coffea's NanoAODSchema for CMS NanoAOD"
        )
    settings = settings or ExecutionSettings()
    normalised, failures = check_inputs(fileset, settings)
    context: Any = contextlib.nullcontext(executor)
    if executor is None:
        try:
            from distributed import get_client

            executor = get_client()  # the caller's cluster (a notebook, the demo)
            context = contextlib.nullcontext(executor)
        except (ImportError, ValueError):
            context = open_executor(settings)
    with context as executor:
        uproot_options = (
            {"allow_read_errors_with_report": (Exception,)} if settings.skip_bad_files else {}
        )

        def build(part: Mapping[str, Any]) -> Any:
            with _quiet_schemas():
                return apply_to_fileset(
                    processor, part, schemaclass=schemaclass, uproot_options=uproot_options
                )

        runnable, unopened, graph = _prepare(build, normalised, settings, schemaclass, executor)
        _stop_or_report(unopened, settings, "cannot be opened")
        failures += unopened
        if not runnable:
            raise ValueError(f"none of the files can be read: {'; '.join(map(str, failures))}")
        computed, left_out = _compute_locating(
            runnable, graph, build, executor, settings, schemaclass
        )
        failures += left_out
        runnable = _without(runnable, left_out)
    if settings.skip_bad_files:
        outputs, reports = computed
        chunk_failures = _whole_files(_chunk_failures(reports), schemaclass, runnable)
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
    return FilesetRun(unwrapped, failures, runnable)


def check_inputs(
    fileset: Mapping[str, Any], settings: ExecutionSettings | None = None
) -> tuple[dict[str, dict[str, Any]], list[Failure]]:
    """Check a fileset before anything runs: its form, and the files that are not there.

    The first step of :func:`run_fileset`, callable on its own so that a command can
    check its input before it opens an executor (a cluster takes seconds to start).

    Returns
    -------
    (dict, list of Failure)
        The normalised fileset without the files that cannot be read, and those files
        (left out, with ``skip_bad_files``).

    Raises
    ------
    ValueError
        The fileset is malformed (:func:`~egamma_cnn.execution.fileset.check_fileset`),
        or none of its files is there.
    BadInputError
        Without ``skip_bad_files``: files that are missing, folders, broken links
        (:func:`~egamma_cnn.execution.fileset.missing_file`), all named.
    """
    settings = settings or ExecutionSettings()
    normalised = check_fileset(fileset)
    failures = [
        Failure(name, file, reason)
        for name, spec in normalised.items()
        for file in spec["files"]
        if (reason := missing_file(file)) is not None
    ]
    _stop_or_report(failures, settings, "cannot be read")
    normalised = _without(normalised, failures)
    if not normalised:
        raise ValueError(f"none of the files can be read: {'; '.join(map(str, failures))}")
    return normalised, failures


def _stop_or_report(failures: list[Failure], settings: ExecutionSettings, what: str) -> None:
    """Without ``skip_bad_files`` a BadInputError listing ``failures``; else print them."""
    if failures and not settings.skip_bad_files:
        listed = "; ".join(str(f) for f in failures)
        raise BadInputError(
            f"{len(failures)} file(s) {what}: {listed}. Remove them, or give the permission "
            "to go on without them (skip_bad_files, --skip-bad-files): the report then names "
            "every file and chunk left out"
        )
    for failure in failures:
        print(f"skipped {failure}")


def _compute_locating(
    runnable: dict[str, Any],
    graph: Any,
    build: Any,
    executor: Any,
    settings: ExecutionSettings,
    schemaclass: type[BaseSchema],
) -> tuple[Any, list[Failure]]:
    """Compute ``graph`` (that of ``runnable``); when it fails, name the file and chunk.

    Without ``skip_bad_files`` the first failing chunk (or file) stops the run with a
    BadInputError that names its dataset, file, entry range and reason. With it, every
    failing chunk is left out, reported, and the rest computed again: the result is
    that of the good chunks alone, each counted once.
    """
    left_out: list[Failure] = []
    while True:
        try:
            return _compute(graph, executor, settings.retries), left_out
        except Exception as err:
            print(f"the run failed ({_reason(err)}): computing file by file to find where")
            culprits = _locate(
                runnable,
                build,
                executor,
                settings.retries,
                schemaclass,
                first_only=not settings.skip_bad_files,
            )
            if not culprits:
                raise BadInputError(
                    f"the run failed with {_reason(err)}, but no file or chunk fails when "
                    "computed again on its own (a transient error, or workers lost?): run "
                    "it again"
                ) from err
            if not settings.skip_bad_files:
                raise BadInputError(f"{culprits[0]}; {PERMISSION}") from err
            for failure in culprits:
                print(f"left out {failure}")
            left_out += culprits
            runnable = _without(runnable, culprits)
            if not runnable:
                raise BadInputError(f"every chunk fails: {'; '.join(map(str, left_out))}") from err
            graph = build(runnable)
