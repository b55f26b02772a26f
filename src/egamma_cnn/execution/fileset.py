"""Filesets in coffea's format: reading one, telling data from simulation, merging outputs.

A fileset is ``{dataset: {"files": {path: tree} or [paths], "metadata": {...}}}``.
:func:`check_fileset` checks one before anything runs (one-line errors naming the
dataset and the value), :func:`missing_file` says why a local path is no ROOT file.
:func:`load_fileset` reads one from JSON (paths relative to the JSON file) and fills
``metadata.is_data`` from the provenance of egamma-cnn files where the user did not say
it; :func:`dataset_kind` reads it back, and :func:`merge_by_kind` adds processor outputs
up per kind (data, simulation). :func:`egamma_cnn.execution.run_fileset` runs a
processor over a fileset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.execution.preprocessing import FORM_KEYS, check_steps
from egamma_cnn.jsonio import read_json
from egamma_cnn.provenance import read_metadata

__all__ = [
    "check_fileset",
    "dataset_kind",
    "dataset_kinds",
    "load_fileset",
    "merge_by_kind",
    "missing_file",
]


def _is_remote(file: str) -> bool:
    """A URL (``root://``, ``https://``, ...): its existence is for uproot to check."""
    return "://" in file


def missing_file(file: str) -> str | None:
    """Why the local ``file`` cannot be a ROOT file (absent, a folder, ...), or None.

    Remote files (URLs) are not checked here: uproot names them when it cannot open
    them (:func:`egamma_cnn.execution.run_fileset`).
    """
    if _is_remote(file):
        return None
    path = Path(file)
    if path.is_dir():
        return "a folder, not a ROOT file"
    if not path.exists():
        return "no such file" if not path.is_symlink() else "a broken symbolic link"
    if not path.is_file():
        return "not a regular file"
    return None


def _file_identity(file: str, relative_to: Path | None) -> tuple[Any, ...]:
    """What makes two spellings of ``file`` the same file: the URL of a remote one, the
    device and inode of an existing local one, else its real path."""
    if _is_remote(file):
        return ("url", file)
    path = Path(file) if relative_to is None or Path(file).is_absolute() else relative_to / file
    try:
        status = os.stat(path)
        return ("inode", status.st_dev, status.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def _check_no_file_twice(
    fileset: Mapping[str, Mapping[str, Any]], where: str, relative_to: Path | None
) -> None:
    """Refuse a file that two entries of the fileset name (the same path in two datasets,
    a symbolic link beside its target, two spellings of one path): it would count twice."""
    seen: dict[tuple[Any, ...], tuple[str, str]] = {}
    for name, spec in fileset.items():
        for file in spec["files"]:
            identity = _file_identity(file, relative_to)
            if identity in seen:
                other_name, other_file = seen[identity]
                raise ValueError(
                    f"{where}: the same file is listed twice, as {other_file} in dataset "
                    f"{other_name!r} and as {file} in dataset {name!r}; its events would be "
                    "counted twice"
                )
            seen[identity] = (name, file)


def check_fileset(
    fileset: Any, where: str = "fileset", relative_to: str | Path | None = None
) -> dict[str, dict[str, Any]]:
    """The fileset with every dataset's files as ``{path: tree}``, or a one-line ValueError.

    Checks what can be checked without opening a file: a non-empty mapping of
    datasets; each with ``files``, a non-empty list of paths or mapping path → tree
    name (texts, or coffea's ``{"object_path": tree, ...}``); ``metadata`` a mapping if
    given, and ``metadata.is_data``, if given, true or false. No file may appear twice in
    the whole fileset: local paths are compared by device and inode where the file
    exists, else by real path (a symbolic link and its target, ``a/../b.root`` and
    ``b.root`` are the same file), remote ones by their text. A runnable fileset
    (coffea's ``preprocess`` output, or a run's ``preprocessed.json``: ``"steps"`` per file,
    ``"compressed_form"`` or ``"form"`` per dataset) is accepted, its steps checked
    (:func:`~egamma_cnn.execution.preprocessing.check_steps`). Whether the files exist is
    :func:`missing_file`'s question. ``where`` starts every message (the JSON file);
    ``relative_to`` is the folder relative local paths are read from (the current one
    when None).
    """
    if not isinstance(fileset, Mapping) or not fileset:
        raise ValueError(
            f"{where}: a fileset is a non-empty mapping {{dataset: {{'files': ...}}}}, "
            f"not {_short(fileset)}"
        )
    checked: dict[str, dict[str, Any]] = {}
    for name, spec in fileset.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: a dataset name must be a non-empty text, not {name!r}")
        at = f"{where}: dataset {name!r}"
        if not isinstance(spec, Mapping) or "files" not in spec:
            raise ValueError(f"{at} needs 'files' (a list of paths or path → tree name)")
        files = spec["files"]
        if isinstance(files, list | tuple):
            files = dict.fromkeys(files, "Events")
            paths = list(spec["files"])
        elif isinstance(files, Mapping):
            paths = list(files)
        else:
            raise ValueError(
                f"{at}: 'files' must be a list of paths or path → tree name, not {_short(files)}"
            )
        if not paths:
            raise ValueError(f"{at} has no files")
        for file in paths:
            if not isinstance(file, str) or not file.strip():
                raise ValueError(f"{at}: a file must be a path (text), not {file!r}")
        if len(set(paths)) != len(paths):
            twice = sorted({f for f in paths if paths.count(f) > 1})
            raise ValueError(f"{at}: file(s) listed twice: {', '.join(twice)}")
        for file, tree in files.items():
            object_path = tree.get("object_path") if isinstance(tree, Mapping) else tree
            if not isinstance(object_path, str) or not object_path:
                raise ValueError(
                    f"{at}: file {file}: the tree name must be a text, not {_short(tree)}"
                )
            if isinstance(tree, Mapping) and "steps" in tree:
                check_steps(name, file, tree)
        for key in FORM_KEYS:
            form = spec.get(key)
            if form is not None and not isinstance(form, str):
                raise ValueError(
                    f"{at}: {key!r} must be coffea's compressed form (a text) or null, not "
                    f"{_short(form)}"
                )
        metadata = spec.get("metadata")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValueError(f"{at}: 'metadata' must be a mapping, not {_short(metadata)}")
        if metadata and "is_data" in metadata and not isinstance(metadata["is_data"], bool):
            raise ValueError(
                f"{at}: metadata.is_data must be true or false, not {metadata['is_data']!r}"
            )
        checked[name] = {**spec, "files": dict(files)}
    _check_no_file_twice(checked, where, None if relative_to is None else Path(relative_to))
    return checked


def _short(value: Any, limit: int = 80) -> str:
    """``value`` for a message: its type and a repr of at most ``limit`` characters."""
    text = repr(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"{type(value).__name__} {text}"


def load_fileset(path: str | Path) -> dict[str, Any]:
    """Read a fileset JSON, check it, and decide for each dataset whether it is data.

    Paths are relative to the JSON file. The structure is checked by
    :func:`check_fileset` (one-line errors naming the dataset and the value).
    ``metadata.is_data`` is used where given; otherwise the provenance of the
    dataset's egamma-cnn files (``is_data`` in their ``egamma_cnn_metadata``) decides:
    the files that can be read must agree. A file that is missing or cannot be read is
    left to :func:`~egamma_cnn.execution.run_fileset` (an error, or left out and
    reported with ``skip_bad_files``); a dataset none of whose files can be read, and
    that does not say whether it is data, is an error that names its files and why.
    """
    path = Path(path)
    raw = read_json(path)
    fileset = check_fileset(raw, str(path), relative_to=path.parent)
    for name, spec in fileset.items():
        spec["files"] = {
            str((path.parent / f).resolve())
            if not Path(f).is_absolute() and not _is_remote(f)
            else f: tree
            for f, tree in spec["files"].items()
        }
        metadata = spec["metadata"] = dict(spec.get("metadata") or {})
        if "is_data" not in metadata:
            metadata["is_data"] = _is_data_from_files(spec["files"], f"{path}: dataset {name!r}")
    return fileset


def _is_data_from_files(files: Mapping[str, Any], at: str) -> bool:
    """Whether the readable files of a dataset are data, by their provenance (all alike)."""
    flags: dict[str, bool | None] = {}
    unreadable: list[str] = []
    for file in files:
        reason = missing_file(file)
        if reason is not None:
            unreadable.append(f"{file} ({reason})")
            continue
        try:
            flags[file] = bool(read_metadata(file).get("is_data", False))
        except KeyError:  # opens, but was not written by egamma-cnn
            flags[file] = None
        except Exception as err:  # it cannot be read: its reason goes into the message
            unreadable.append(f"{file} ({type(err).__name__}: {_one_line(str(err), 120)})")
    hint = 'say whether it is data with "metadata": {"is_data": true|false}'
    if not flags:
        raise ValueError(
            f"{at}: none of its files can be read to tell whether it is data: "
            f"{'; '.join(unreadable)}; fix them, or {hint}"
        )
    unknown = sorted(f for f, flag in flags.items() if flag is None)
    if unknown:
        raise ValueError(
            f"{at}: {hint} (file {unknown[0]} has no egamma-cnn provenance"
            f"{f' and {len(unknown) - 1} more' if len(unknown) > 1 else ''})"
        )
    if len(set(flags.values())) != 1:
        data = sorted(f for f, flag in flags.items() if flag)
        mc = sorted(f for f, flag in flags.items() if not flag)
        raise ValueError(
            f"{at}: {hint} (its files do not say it alike: {data[0]} is data, {mc[0]} simulation)"
        )
    return next(iter(flags.values())) is True


def _one_line(message: str, limit: int = 300) -> str:
    """A message on one line, at most ``limit`` characters."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dataset_kinds(fileset: Mapping[str, Any]) -> dict[str, str]:
    """``{dataset: "data" or "mc"}`` of every dataset: check them all before a run."""
    return {name: dataset_kind(fileset, name) for name in fileset}


def dataset_kind(fileset: Mapping[str, Any], name: str) -> str:
    """``"data"`` or ``"mc"`` from the dataset's ``metadata.is_data`` (a boolean)."""
    is_data = fileset[name].get("metadata", {}).get("is_data")
    if not isinstance(is_data, bool):
        raise ValueError(
            f"dataset {name!r}: metadata.is_data must be true or false, not {is_data!r} "
            "(load_fileset fills it from egamma-cnn files)"
        )
    return "data" if is_data else "mc"


def merge_by_kind(
    results: Mapping[str, Any], fileset: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Processor outputs ``{dataset: {key: value}}`` added up per kind (data, MC).

    Values are histograms or counts (added), or dicts of histograms (added per key);
    counts come back as Python ints.
    """
    merged: dict[str, dict[str, Any]] = {}
    for name, result in results.items():
        kind = dataset_kind(fileset, name)
        total = merged.setdefault(kind, {})
        for key, value in result.items():
            if isinstance(value, dict):
                part = total.setdefault(key, {})
                for sub, histogram in value.items():
                    part[sub] = histogram if sub not in part else part[sub] + histogram
            else:
                if isinstance(value, np.integer | int):
                    value = int(value)
                total[key] = value if key not in total else total[key] + value
    return merged
