"""Writing NanoAOD-style ROOT files with uproot.

Collections are written as records of jagged arrays, which uproot turns into the
NanoAOD convention ``nElectron`` + ``Electron_pt`` …, readable by coffea's NanoEvents
(:class:`egamma_cnn.nanoevents.EGammaSchema`). The file is written under a temporary
name in the same folder and renamed only when complete, so a crashed or interrupted job
never leaves a file that looks finished. Provenance goes into a ``TObjString`` named
``egamma_cnn_metadata`` (JSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import awkward as ak
import uproot

from egamma_cnn.provenance import METADATA_KEY

__all__ = ["METADATA_KEY", "write_events"]


def write_events(
    path: str | os.PathLike,
    blocks: Iterable[dict[str, ak.Array]],
    metadata: dict,
    tree_name: str = "Events",
) -> int:
    """Write blocks of events (dicts of branch/collection arrays) into one ROOT file.

    Parameters
    ----------
    path
        Destination; its folder must exist and be writable.
    blocks
        Iterable of ``{name: array}``; flat arrays become branches, jagged record
        arrays become NanoAOD collections. Every block must have the same fields.
    metadata
        JSON-serialisable provenance (process, seed, detector, command, ...).
    tree_name
        TTree name.

    Returns
    -------
    int
        Number of events written.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    n_events = 0
    try:
        with uproot.recreate(tmp) as fout:
            first = True
            for block in blocks:
                n_block = len(next(iter(block.values())))
                if first:
                    # mktree: a TTree (``fout[name] = ...`` writes an RNTuple in uproot ≥ 5.7)
                    fout.mktree(tree_name, {k: v.type for k, v in _as_arrays(block).items()})
                    fout[tree_name].extend(_as_arrays(block))
                    first = False
                else:
                    fout[tree_name].extend(_as_arrays(block))
                n_events += n_block
            if first:
                raise ValueError("write_events: no blocks to write")
            fout[METADATA_KEY] = json.dumps({**metadata, "n_events": n_events}, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n_events


def _as_arrays(block: dict) -> dict[str, ak.Array]:
    return {k: ak.Array(v) if not isinstance(v, ak.Array) else v for k, v in block.items()}
