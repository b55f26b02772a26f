"""Preprocessing: a fileset split into chunks, fast, once, and kept.

Before a run every file must be split into chunks of ``chunk_size`` events (coffea's
"runnable" fileset: ``{"steps": [[start, stop], ...], "num_entries": n, "uuid": ...}``
per file). coffea's ``preprocess`` opens each file's tree with all its branches to count
its entries: about 1 s per CMS NanoAOD file of 2116 branches (4 s with the form), which
every run repeated (issue 19: three quarters of a 20-file tag-and-probe). This module
reads only what the chunks need:

* **entries and UUID** of each file from the file's header and the tree's ``fEntries``
  (uproot's lightweight ``Model_TTree_NumEntries``, as ``uproot.num_entries`` does),
  about 1.5 ms per local file; the files are read in parallel (threads in this
  process, or the tasks of a ``distributed`` client). An egamma-cnn file's provenance
  says whether it is data: a file that contradicts its dataset's ``metadata.is_data``
  is refused (a simulated file in a data dataset would be counted as data). Files of
  other formats are not compared with each other here: the graph is built from the
  form of a dataset's first file, a file that lacks a branch the processor reads fails
  when it is read and is named with the branches it lacks;
* **the form** of each dataset (the description of its branches that a graph is built
  from) is not read here: the graph's first build reads it from the dataset's first
  file, and :func:`remember_forms` keeps it, so that a later run builds its graph without
  opening a file.

Both are kept in a cache (:class:`PreprocessCache`, a folder of small JSON files):

* entries are keyed by the file's identity — its resolved path, size and modification
  time (``st_mtime_ns``) for a local file; a remote file (a URL) is read again each run
  (its header is the cheapest proof of what it is), its form kept by UUID;
* forms are keyed by the file's ROOT UUID (written once per file: a copy has the same
  content) and the tree.

A file that changed (size or time) is read again; a cache entry that cannot be read (a
concurrent writer's half, a hand edit) is read again and rewritten: the cache never
decides an answer that the file would not give. The steps are those coffea's
``preprocess`` makes (``n = max(round(entries / chunk_size), 1)`` chunks of
``ceil(entries / n)`` events), so a run's chunks do not depend on the cache.

A fileset that is already runnable (steps per file: coffea's ``preprocess`` output, or the
``preprocessed.json`` every run writes beside its outputs) is used as it is: its steps
are checked against the file (:func:`check_steps`) and not recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uproot
from coffea.util import compress_form
from uproot.models.TTree import Model_TTree_NumEntries

from egamma_cnn.provenance import METADATA_KEY

__all__ = [
    "CACHE_ENV",
    "FORM_KEYS",
    "FileFacts",
    "PreprocessCache",
    "check_steps",
    "dataset_form",
    "default_cache_dir",
    "file_steps",
    "preprocess_fileset",
    "remember_forms",
    "tree_name",
]

#: The environment variable that moves the cache (default: ``$XDG_CACHE_HOME/egamma-cnn``,
#: else ``~/.cache/egamma-cnn``).
CACHE_ENV = "EGAMMA_CNN_CACHE_DIR"

#: Threads that read file headers at once (remote files wait on the network).
READ_THREADS = 16

#: The version of the cache's entries: entries of another version are read again.
CACHE_VERSION = 2


#: The keys of a dataset's compressed form in a runnable fileset: coffea 2026's
#: ``preprocess`` writes ``compressed_form``, older ones (and coffea's readers still)
#: ``form``.
FORM_KEYS = ("compressed_form", "form")


def dataset_form(spec: Mapping[str, Any]) -> str | None:
    """The compressed form of a runnable dataset (either key of :data:`FORM_KEYS`), or None."""
    for key in FORM_KEYS:
        value = spec.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def default_cache_dir() -> Path:
    """``$EGAMMA_CNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/egamma-cnn``, else
    ``~/.cache/egamma-cnn``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "egamma-cnn"


def _is_remote(file: str) -> bool:
    return "://" in file


@dataclass(frozen=True)
class FileFacts:
    """What the chunks of one tree need: its entries and its file's ROOT UUID; and
    whether an egamma-cnn file is data by its provenance (None: no provenance)."""

    num_entries: int
    uuid: str
    is_data: bool | None = None


#: uproot's classes with the TTree read up to its entries only.
_ENTRIES_ONLY = {**uproot.classes, "TTree": Model_TTree_NumEntries}


def read_file_facts(file: str, tree: str) -> FileFacts:
    """The entries of ``tree`` and the UUID of ``file``, from the header and ``fEntries``
    only (no branch is read, no form made), and ``is_data`` of an egamma-cnn file's
    provenance object (:data:`egamma_cnn.provenance.METADATA_KEY`)."""
    with uproot.open(file, custom_classes=_ENTRIES_ONLY) as handle:
        entries = int(handle[tree].all_members["fEntries"][0])
        is_data = None
        if METADATA_KEY in handle.keys(cycle=False):
            try:
                document = json.loads(str(handle[METADATA_KEY]))
            except ValueError:  # not JSON: not provenance this package can read
                document = None
            if isinstance(document, dict):
                is_data = bool(document.get("is_data", False))
        return FileFacts(entries, str(handle.file.uuid), is_data)


def file_steps(num_entries: int, chunk_size: int) -> list[list[int]]:
    """The chunks of a tree of ``num_entries`` entries, as coffea's ``preprocess`` makes
    them: ``n = max(round(entries / chunk_size), 1)`` chunks of ``ceil(entries / n)``
    events, the last one shorter; ``[[0, 0]]`` for an empty tree."""
    if num_entries == 0:
        return [[0, 0]]
    chunks = max(round(num_entries / chunk_size), 1)
    size = math.ceil(num_entries / chunks)
    return [
        [start, min(start + size, num_entries)]
        for start in range(0, num_entries, size)
        if start < num_entries
    ]


class PreprocessCache:
    """A folder of the entries and forms of files already preprocessed (module docstring).

    Parameters
    ----------
    folder : path or None
        Where the entries are kept (created when first written); None: no cache (every
        file is read, nothing kept).
    """

    def __init__(self, folder: str | os.PathLike[str] | None) -> None:
        self.folder = None if folder is None else Path(folder).expanduser() / "preprocess"

    def __repr__(self) -> str:
        return f"PreprocessCache({self.folder})"

    @staticmethod
    def _local_identity(file: str, tree: str) -> dict[str, Any] | None:
        if _is_remote(file):
            return None
        try:
            status = os.stat(file)
        except OSError:
            return None
        return {
            "file": os.path.realpath(file),
            "size": status.st_size,
            "mtime_ns": status.st_mtime_ns,
            "tree": tree,
        }

    def _path(self, kind: str, identity: Mapping[str, Any]) -> Path | None:
        if self.folder is None:
            return None
        text = json.dumps({"version": CACHE_VERSION, **identity}, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        return self.folder / kind / digest[:2] / f"{digest}.json"

    def _read(self, path: Path | None, identity: Mapping[str, Any]) -> dict[str, Any] | None:
        if path is None:
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # absent, half-written or edited: read the file again
            return None
        if not isinstance(entry, dict) or entry.get("identity") != dict(identity):
            return None
        return entry

    def _write(self, path: Path | None, entry: Mapping[str, Any]) -> None:
        if path is None:
            return
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
            ) as handle:
                temporary = handle.name
                json.dump(entry, handle)
            os.replace(temporary, path)
        except OSError:  # a read-only or full cache: the run goes on without it
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    def facts(self, file: str, tree: str) -> FileFacts | None:
        """The kept entries and UUID of a local ``file`` unchanged since (None: unknown)."""
        identity = self._local_identity(file, tree)
        if identity is None:
            return None
        entry = self._read(self._path("entries", identity), identity)
        if entry is None:
            return None
        try:
            is_data = entry["is_data"]
            return FileFacts(
                int(entry["num_entries"]),
                str(entry["uuid"]),
                None if is_data is None else bool(is_data),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def keep_facts(self, file: str, tree: str, facts: FileFacts) -> None:
        """Keep ``facts`` of a local ``file`` (nothing for a remote one)."""
        identity = self._local_identity(file, tree)
        if identity is not None:
            entry = {
                "identity": identity,
                "num_entries": facts.num_entries,
                "uuid": facts.uuid,
                "is_data": facts.is_data,
            }
            self._write(self._path("entries", identity), entry)

    def form(self, uuid: str, tree: str) -> str | None:
        """The kept form (coffea's compressed JSON) of ``tree`` in the file ``uuid``."""
        identity = {"uuid": uuid, "tree": tree}
        entry = self._read(self._path("forms", identity), identity)
        form = None if entry is None else entry.get("form")
        return form if isinstance(form, str) else None

    def keep_form(self, uuid: str, tree: str, form: str) -> None:
        """Keep the compressed ``form`` of ``tree`` in the file ``uuid``."""
        identity = {"uuid": uuid, "tree": tree}
        self._write(self._path("forms", identity), {"identity": identity, "form": form})


def tree_name(spec: Any) -> str:
    """The tree of a fileset's file entry: the text itself, or coffea's ``object_path``."""
    return spec["object_path"] if isinstance(spec, Mapping) else str(spec)


def _read_all(
    wanted: list[tuple[str, str]], client: Any
) -> dict[tuple[str, str], FileFacts | Exception]:
    """:func:`read_file_facts` of every (file, tree), in parallel; an exception per file
    that cannot be read."""

    def one(item: tuple[str, str]) -> FileFacts | Exception:
        try:
            return read_file_facts(*item)
        except Exception as err:  # the caller reports the file with its reason
            return err

    if not wanted:
        return {}
    if client is not None and not isinstance(client, str):  # a distributed client
        futures = client.map(one, wanted, pure=False)
        return dict(zip(wanted, client.gather(futures), strict=True))
    with ThreadPoolExecutor(min(READ_THREADS, len(wanted))) as pool:
        return dict(zip(wanted, pool.map(one, wanted), strict=True))


def check_steps(dataset: str, file: str, spec: Mapping[str, Any]) -> list[list[int]]:
    """The steps of a runnable file spec, checked (one-line ValueError naming the file).

    Steps are ``[start, stop]`` pairs of integers, ``0 ≤ start ≤ stop``, in increasing
    order without overlap, within ``num_entries`` where it is given.
    """
    steps = spec.get("steps")
    at = f"dataset {dataset!r}: file {file}"
    if not isinstance(steps, list | tuple) or not steps:
        raise ValueError(f"{at}: 'steps' must be a non-empty list of [start, stop], not {steps!r}")
    out: list[list[int]] = []
    for step in steps:
        if (
            not isinstance(step, list | tuple)
            or len(step) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in step)
            or not 0 <= step[0] <= step[1]
        ):
            raise ValueError(
                f"{at}: a step must be [start, stop] with 0 ≤ start ≤ stop, not {step!r}"
            )
        if out and step[0] < out[-1][1]:
            raise ValueError(
                f"{at}: steps overlap or are out of order ({out[-1]} then {list(step)}): "
                "their events would be counted twice"
            )
        out.append([int(step[0]), int(step[1])])
    entries = spec.get("num_entries")
    if entries is not None:
        if not isinstance(entries, int) or isinstance(entries, bool) or entries < 0:
            raise ValueError(f"{at}: 'num_entries' must be an integer ≥ 0, not {entries!r}")
        if out[-1][1] > entries:
            raise ValueError(f"{at}: step {out[-1]} goes past its {entries} entries")
    return out


@dataclass
class Preprocessed:
    """The result of :func:`preprocess_fileset`."""

    #: coffea's runnable fileset (datasets without a readable file left out).
    runnable: dict[str, Any]
    #: ``(dataset, file, reason)`` of every file that could not be read.
    unreadable: list[tuple[str, str, str]]
    #: Files read from disk this run / taken from the cache / given runnable.
    read: int
    cached: int
    given: int
    #: Lines to print: runnable files whose steps leave entries out.
    notes: list[str]


def preprocess_fileset(
    fileset: Mapping[str, Any],
    chunk_size: int,
    cache: PreprocessCache,
    client: Any = None,
) -> Preprocessed:
    """The runnable fileset of ``fileset`` (module docstring).

    Parameters
    ----------
    fileset : mapping
        ``{dataset: {"files": {path: tree or runnable spec}, "metadata": ...,
        "compressed_form": ...}}``
        (checked by :func:`~egamma_cnn.execution.fileset.check_fileset`).
    chunk_size : int
        Events per chunk of the files without steps.
    cache : PreprocessCache
        Entries and forms kept from earlier runs (``PreprocessCache(None)``: none).
    client : distributed.Client, optional
        Reads the files' headers on its workers; None: threads of this process.

    A runnable file whose ``uuid`` differs from the file's now is an error (the file was
    replaced since it was preprocessed: its steps may not fit); one whose steps do not
    cover all its entries is used as given, with a note.
    """
    wanted: list[tuple[str, str]] = []
    known: dict[tuple[str, str], FileFacts] = {}
    cached = 0
    for spec in fileset.values():
        for file, file_spec in spec["files"].items():
            key = (file, tree_name(file_spec))
            facts = cache.facts(*key)
            if facts is not None:
                known[key] = facts
                cached += 1
            elif key not in wanted:
                wanted.append(key)
    read = _read_all(wanted, client)
    for key, facts in read.items():
        if isinstance(facts, FileFacts):
            cache.keep_facts(*key, facts)
    runnable: dict[str, Any] = {}
    unreadable: list[tuple[str, str, str]] = []
    notes: list[str] = []
    given = 0
    for name, spec in fileset.items():
        files: dict[str, Any] = {}
        for file, file_spec in spec["files"].items():
            tree = tree_name(file_spec)
            facts = known.get((file, tree)) or read.get((file, tree))
            if isinstance(facts, Exception):
                reason = " ".join(f"{type(facts).__name__}: {facts}".split())[:300]
                unreadable.append((name, file, reason))
                continue
            assert facts is not None
            _check_kind(name, spec, file, facts)
            if isinstance(file_spec, Mapping) and "steps" in file_spec:
                given += 1
                files[file] = _given_steps(name, file, file_spec, facts, notes)
            else:
                files[file] = {
                    "object_path": tree,
                    "steps": file_steps(facts.num_entries, chunk_size),
                    "num_entries": facts.num_entries,
                    "uuid": facts.uuid,
                }
        if not files:
            continue
        out = {key: value for key, value in spec.items() if key != "files"}
        out["files"] = files
        if dataset_form(out) is None:
            first = next(iter(files.values()))
            form = cache.form(first["uuid"], first["object_path"])
            if form is not None:
                for key in FORM_KEYS:
                    out.pop(key, None)
                out["compressed_form"] = form
        runnable[name] = out
    return Preprocessed(runnable, unreadable, len(read), cached, given, notes)


def _check_kind(name: str, spec: Mapping[str, Any], file: str, facts: FileFacts) -> None:
    """Refuse an egamma-cnn file whose provenance contradicts its dataset's ``is_data``."""
    declared = (spec.get("metadata") or {}).get("is_data")
    if facts.is_data is None or not isinstance(declared, bool) or declared == facts.is_data:
        return
    kinds = {True: "data", False: "simulation"}
    raise ValueError(
        f"dataset {name!r} is declared {kinds[declared]} (metadata.is_data "
        f"{str(declared).lower()}) but its file {file} is {kinds[facts.is_data]} by its "
        "egamma-cnn provenance: a dataset is one kind of file; correct metadata.is_data or "
        "give the file a dataset of its own"
    )


def _given_steps(
    name: str, file: str, spec: Mapping[str, Any], facts: FileFacts, notes: list[str]
) -> dict[str, Any]:
    """A runnable file spec checked against the file as it is now."""
    steps = check_steps(name, file, spec)
    uuid = spec.get("uuid")
    if uuid is not None and str(uuid) != facts.uuid:
        raise ValueError(
            f"dataset {name!r}: file {file} is not the file that was preprocessed (its ROOT "
            f"UUID is {facts.uuid}, the runnable fileset says {uuid}): preprocess it again "
            "(give the fileset without steps)"
        )
    if steps[-1][1] > facts.num_entries:
        raise ValueError(
            f"dataset {name!r}: file {file}: step {steps[-1]} goes past its "
            f"{facts.num_entries} entries"
        )
    covered = sum(stop - start for start, stop in steps)
    if covered != facts.num_entries:
        notes.append(
            f"dataset {name!r}: file {file}: its steps cover {covered} of its "
            f"{facts.num_entries} entries (used as given)"
        )
    return {
        "object_path": tree_name(spec),
        "steps": steps,
        "num_entries": facts.num_entries,
        "uuid": facts.uuid,
    }


def remember_forms(
    runnable: Mapping[str, Any],
    outputs: Mapping[str, Any],
    cache: PreprocessCache,
    base_form_of: Callable[[Any], Any],
) -> int:
    """Keep the form of each dataset of ``runnable`` whose graph read it (no form given);
    the number kept.

    ``outputs``: the graph of each dataset (``apply_to_fileset``'s output by dataset);
    ``base_form_of(output)``: the form its first file was read with (None: not found).
    """
    kept = 0
    for name, spec in runnable.items():
        if dataset_form(spec) is not None or name not in outputs or cache.folder is None:
            continue
        form = base_form_of(outputs[name])
        if form is None:
            continue
        first = next(iter(spec["files"].values()))
        cache.keep_form(first["uuid"], first["object_path"], compress_form(form.to_json()))
        kept += 1
    return kept
