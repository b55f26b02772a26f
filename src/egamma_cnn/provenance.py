"""Provenance of egamma-cnn sample files: the JSON document every file carries.

:func:`egamma_cnn.sim.writer.write_events` stores the provenance of a sample (process,
seed, detector, whether it is data-like, the command that made it) as a ``TObjString``
named :data:`METADATA_KEY`; :func:`read_metadata` reads it back, for instance to tell
data from simulation in a fileset (:func:`egamma_cnn.execution.load_fileset`) without
opening the event tree. :func:`open_root_file` opens a file with a one-line error for a
path that is no readable ROOT file.
"""

from __future__ import annotations

import json
import os
from typing import Any

import uproot

__all__ = [
    "METADATA_KEY",
    "MissingMetadataError",
    "object_names",
    "open_root_file",
    "read_metadata",
]

#: Name of the provenance ``TObjString`` in an egamma-cnn sample file.
METADATA_KEY = "egamma_cnn_metadata"
#: How many object names of a file an error message lists.
_SHOWN_KEYS = 10


class MissingMetadataError(ValueError, KeyError):
    """A ROOT file without the provenance object (not written by egamma-cnn).

    A :class:`ValueError` (a bad input, reported in one line by the CLI) and, as before,
    a :class:`KeyError`.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def open_root_file(path: str | os.PathLike) -> Any:
    """``uproot.open(path)``, with a one-line :class:`OSError` naming a path that is missing,
    a folder or no readable ROOT file."""
    try:
        return uproot.open(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (OSError, ValueError) as err:
        raise OSError(f"{path}: not a readable ROOT file ({_one_line(err)})") from None


def object_names(fin: Any) -> str:
    """The first names of the objects of an open ROOT file, for error messages."""
    names = sorted(set(fin.keys(cycle=False)))
    shown = ", ".join(names[:_SHOWN_KEYS])
    if len(names) > _SHOWN_KEYS:
        shown += f", ... ({len(names)} in all)"
    return shown or "no objects"


def read_metadata(path: str | os.PathLike) -> dict:
    """The provenance JSON of a file written by :func:`egamma_cnn.sim.writer.write_events`.

    Raises
    ------
    MissingMetadataError
        The file has no provenance object (it was not written by egamma-cnn); a
        ``ValueError`` and a ``KeyError``. The message names the file and its objects.
    ValueError
        The provenance object is not a JSON object.
    OSError
        The file is missing or no readable ROOT file.
    """
    with open_root_file(path) as fin:
        if METADATA_KEY not in fin:
            raise MissingMetadataError(
                f"{path}: no {METADATA_KEY!r} object (not written by egamma-cnn?); "
                f"the file has: {object_names(fin)}"
            )
        try:
            document = json.loads(str(fin[METADATA_KEY]))
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ValueError(f"{path}: the {METADATA_KEY!r} object is not a JSON object")
        return document
