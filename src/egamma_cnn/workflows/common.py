"""What every workflow shares: run a processor, report what was left out, write one run's folder.

:func:`run_processor` is the door from the workflows to
:func:`egamma_cnn.execution.run_fileset`: it applies a chunk size given with the
workflow's own arguments over the :class:`~egamma_cnn.execution.ExecutionSettings`, and
reads the files with the egamma-cnn schema unless the caller names another one.
:func:`run_report` is what a run left out, in the form every study's summary carries:
each workflow gives it to the study's ``analyse`` (``run_report=``), whose result puts
it into ``summary()`` and ``summary.json``. :func:`fileset_inputs` is what a run read, as
the manifest of its output folder records it: every workflow writes its files through
:func:`egamma_cnn.runfolder.run_folder` (a temporary folder swapped in on success, stale
files of the previous run removed, ``manifest.json`` written last).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import uproot
from coffea.nanoevents import NanoEventsFactory
from coffea.util import decompress_form

from egamma_cnn.execution import ExecutionSettings, FilesetRun, run_fileset
from egamma_cnn.execution.preprocessing import PreprocessCache, dataset_form
from egamma_cnn.nanoevents import EGammaSchema

__all__ = [
    "PREPROCESSED_NAME",
    "check_graph_on_first_files",
    "fileset_inputs",
    "run_processor",
    "run_report",
    "write_preprocessed",
]

#: The runnable fileset a run writes beside its outputs (an input of a later run).
PREPROCESSED_NAME = "preprocessed.json"


def check_graph_on_first_files(
    processor: Any,
    fileset: Mapping[str, Any],
    schemaclass: Any,
    settings: ExecutionSettings | None = None,
) -> None:
    """Build ``processor``'s graph on the first file of every dataset, so that a selection
    naming a column the files lack (a typo in ``--id``, a trigger path the files do not
    have, a field of another format) is an error before any chunk of any file runs (and
    before the preprocessing of every file, which takes seconds per file).

    The graph is built lazily (dask-awkward, from the file's form): no event is read and
    nothing is computed, the checks are those the run itself makes when it builds its graph.
    The form is the one the preprocessing cache of ``settings`` kept for the file (a
    runnable fileset's ``"compressed_form"``, or an earlier run's), else read from the
    file. Datasets whose form is known are checked once per distinct form, tree and ``is_data`` (the
    processor's graph depends on nothing else of them; a facility's hundreds of datasets
    of one format cost one check per kind instead of a second each).

    A file that cannot be opened is left to the run (which names it, or skips it with
    ``skip_bad_files``); only the processor's refusals (``ValueError``) are raised here.

    Raises
    ------
    ValueError
        The processor's error, with the dataset and the file it was checked on.
    """
    cache = PreprocessCache((settings or ExecutionSettings()).preprocess_cache_dir())
    checked: set[tuple[Any, ...]] = set()
    for name, spec in fileset.items():
        files = spec.get("files") if isinstance(spec, Mapping) else None
        if isinstance(files, list | tuple) and files:
            files = {files[0]: "Events"}
        if not isinstance(files, Mapping) or not files:
            continue
        path, tree = next(iter(files.items()))
        if isinstance(tree, Mapping):
            tree = tree.get("object_path")
        metadata = {**(spec.get("metadata") or {}), "dataset": name}
        tree = tree or "Events"
        compressed = _known_compressed_form(spec, str(path), tree, cache)
        if compressed is not None:
            key = (compressed, tree, metadata.get("is_data"))
            if key in checked:
                continue
            checked.add(key)
        form = _decompressed(compressed)
        try:
            with uproot.open(str(path)) as file:
                file[tree]
        except Exception:  # an unreadable file: the run names it (or skips it)
            continue
        schema = schemaclass or EGammaSchema
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                events = NanoEventsFactory.from_root(
                    {str(path): tree},
                    schemaclass=schema,
                    mode="dask",
                    metadata=metadata,
                    known_base_form=form,
                ).events()
        except Exception as err:  # the schema refuses the file: another format
            reason = " ".join(str(err).split())[:200]
            raise ValueError(
                f"dataset {name!r} ({path}): its tree {tree!r} cannot be read as "
                f"{schema.__name__} ({reason}); --preset or --nanoaod choose the format of "
                "the files"
            ) from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                processor.process(events)
        except ValueError as err:
            raise ValueError(f"dataset {name!r} ({path}): {err}") from None


def _known_compressed_form(
    spec: Mapping[str, Any], path: str, tree: str, cache: PreprocessCache
) -> str | None:
    """The (compressed) form of ``path``'s ``tree`` without opening it: the dataset's
    compressed form (a runnable fileset), else the one the cache kept for the file (None: not
    known)."""
    compressed = dataset_form(spec)
    if compressed is not None:
        return compressed
    facts = cache.facts(path, tree)
    return None if facts is None else cache.form(facts.uuid, tree)


def _decompressed(compressed: str | None) -> Any:
    """The awkward form of coffea's compressed form (None: none, or unreadable: the file
    is opened instead)."""
    if compressed is None:
        return None
    try:
        return ak.forms.from_json(decompress_form(compressed))
    except Exception:  # a form that cannot be read: the file is opened instead
        return None


def fileset_inputs(fileset: Mapping[str, Any]) -> dict[str, Any]:
    """The files of every dataset of ``fileset`` and whether it is data: the ``inputs`` a
    run's manifest records."""
    inputs = {}
    for name, spec in fileset.items():
        files = spec.get("files", []) if isinstance(spec, Mapping) else spec
        metadata = spec.get("metadata") or {} if isinstance(spec, Mapping) else {}
        inputs[name] = {
            "files": sorted(str(f) for f in files),
            "is_data": metadata.get("is_data") if isinstance(metadata, Mapping) else None,
        }
    return {"datasets": inputs}


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


def run_report(run: FilesetRun, **passes: FilesetRun | None) -> dict[str, Any]:
    """What ``run`` left out, as the JSON-ready entries of a study's summary.

    Parameters
    ----------
    run : FilesetRun
        The run of the processor over the fileset.
    **passes : FilesetRun or None
        Further runs of the same study by name (the data/MC study's ``fudged_pass``);
        None for a pass that did not run.

    Returns
    -------
    dict
        ``skipped_files``: the files of ``run`` left out whole
        (:attr:`FilesetRun.skipped_files`); ``skipped_files_<name>`` for each further
        pass (empty when it did not run); ``left_out``: every file and chunk left out
        (:meth:`FilesetRun.report`), those of ``run`` first, then those of each further
        pass marked ``<name>: True``.
    """
    report: dict[str, Any] = {"skipped_files": run.skipped_files}
    left_out = run.report()
    for name, other in passes.items():
        report[f"skipped_files_{name}"] = other.skipped_files if other is not None else []
        if other is not None:
            left_out += [{**row, name: True} for row in other.report()]
    report["left_out"] = left_out
    return report


def write_preprocessed(run: FilesetRun, folder: Path) -> Path:
    """Write the runnable fileset of ``run`` (:attr:`FilesetRun.runnable`: every file's
    steps, entries and UUID, each dataset's form where known) as ``preprocessed.json``
    into ``folder``: given back as the fileset of a later run, it runs the same chunks
    without preprocessing (a file that changed since is refused by its UUID)."""
    path = Path(folder) / PREPROCESSED_NAME
    path.write_text(json.dumps(run.runnable, indent=1) + "\n", encoding="utf-8")
    return path
