"""Provenance of egamma-cnn sample files: the JSON document every file carries.

:func:`egamma_cnn.sim.writer.write_events` stores the provenance of a sample (process,
seed, detector, whether it is data-like, the command that made it) as a ``TObjString``
named :data:`METADATA_KEY`; :func:`read_metadata` reads it back, for instance to tell
data from simulation in a fileset (:func:`egamma_cnn.execution.load_fileset`) without
opening the event tree.
"""

from __future__ import annotations

import json
import os

import uproot

__all__ = ["METADATA_KEY", "read_metadata"]

#: Name of the provenance ``TObjString`` in an egamma-cnn sample file.
METADATA_KEY = "egamma_cnn_metadata"


def read_metadata(path: str | os.PathLike) -> dict:
    """The provenance JSON of a file written by :func:`egamma_cnn.sim.writer.write_events`.

    Raises
    ------
    KeyError
        The file has no provenance object (it was not written by egamma-cnn).
    """
    with uproot.open(path) as fin:
        if METADATA_KEY not in fin:
            raise KeyError(f"{path}: no {METADATA_KEY!r} object (not written by egamma-cnn?)")
        return json.loads(str(fin[METADATA_KEY]))
