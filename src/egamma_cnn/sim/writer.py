"""Writing NanoAOD-style ROOT files with uproot.

Collections are written as records of jagged arrays, which uproot turns into the
NanoAOD convention ``nElectron`` + ``Electron_pt`` …, readable by coffea's NanoEvents
(:class:`egamma_cnn.nanoevents.EGammaSchema`). Provenance goes into a ``TObjString``
named ``egamma_cnn_metadata`` (JSON).

Outputs are written safely:

* the destination must be absent, or a regular file (or a link to one) replaced only with
  ``overwrite=True``; a folder, device, FIFO or socket is never written to;
* the file is written into a temporary created exclusively in the destination's folder
  (``O_CREAT | O_EXCL | O_NOFOLLOW``: a planted file or link of that name is never
  followed), named ``.<name>.<host>.<pid>.<random>.tmp``, and renamed into place with
  :func:`os.replace` only when complete, so an interrupted job never leaves a file that
  looks finished;
* an exception (``KeyboardInterrupt`` included) removes the temporary; after a kill that
  cannot be caught (SIGKILL, power loss), :func:`remove_stale_temporaries` (called by
  :func:`egamma_cnn.sim.production.produce` before it starts) removes the temporaries of
  this host whose process no longer exists.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

import awkward as ak
import uproot

from egamma_cnn.provenance import METADATA_KEY
from egamma_cnn.temporaries import create_exclusively, host_name, process_alive

__all__ = [
    "METADATA_KEY",
    "check_output_target",
    "remove_stale_temporaries",
    "temporary_path",
    "write_events",
]

_TEMPORARY = re.compile(
    r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>[1-9][0-9]*)\.[0-9a-f]{16}\.tmp$"
)
_KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISSOCK: "a socket",
}


def temporary_path(path: str | os.PathLike, pid: int | None = None) -> Path:
    """A fresh temporary name for ``path``: ``.<name>.<host>.<pid>.<16 hex digits>.tmp``.

    The name says which process of which host owns it, so that
    :func:`remove_stale_temporaries` can recognise those of dead runs.
    """
    path = Path(path)
    pid = os.getpid() if pid is None else pid
    return path.with_name(f".{path.name}.{host_name()}.{pid}.{secrets.token_hex(8)}.tmp")


def check_output_target(path: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse an output path that must not be written (see the module docstring).

    Raises
    ------
    ValueError
        ``path`` (or what it links to) exists and is not a regular file: a folder, device,
        FIFO or socket, refused even with ``overwrite``.
    FileExistsError
        ``path`` exists (a regular file, or a link) and ``overwrite`` is false.
    OSError
        ``path`` cannot be inspected.
    """
    path = Path(path)
    try:
        st = os.stat(path)  # follows a link: what would be replaced or written through
    except FileNotFoundError:
        if os.path.islink(path) and not overwrite:
            raise FileExistsError(
                f"{path} exists (a link to nothing): give --overwrite (overwrite=True) "
                "to replace it"
            ) from None
        return
    except OSError as err:
        raise OSError(f"cannot inspect the output {path}: {err.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = next((k for test, k in _KINDS.items() if test(st.st_mode)), "not a regular file")
        link = " (through a link)" if os.path.islink(path) else ""
        raise ValueError(
            f"{path} is {kind}{link}, not a regular file: the output must be a new or regular file"
        )
    if not overwrite:
        raise FileExistsError(f"{path} exists: give --overwrite (overwrite=True) to replace it")


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of dead runs of this host in ``folder``; returns them.

    Only regular files named as :func:`temporary_path` names them, with this host's name
    and the id of a process that no longer exists, are removed: temporaries of running
    jobs (here or, on a shared filesystem, on other hosts) and every other file stay.
    """
    host = host_name()
    removed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _TEMPORARY.match(entry.name)
            if match is None or match["host"] != host or process_alive(int(match["pid"])):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                os.unlink(entry.path)
            except (FileNotFoundError, PermissionError):  # removed meanwhile, or not ours
                continue
            removed.append(Path(entry.path))
    return removed


def write_events(
    path: str | os.PathLike,
    blocks: Iterable[dict[str, ak.Array]],
    metadata: dict,
    tree_name: str = "Events",
    overwrite: bool = False,
) -> int:
    """Write blocks of events (dicts of branch/collection arrays) into one ROOT file.

    Parameters
    ----------
    path
        Destination; its folder must exist and be writable. It must not exist, or be a
        regular file (or a link to one) and ``overwrite`` true (module docstring).
    blocks
        Iterable of ``{name: array}``; flat arrays become branches, jagged record
        arrays become NanoAOD collections. Every block must have the same fields.
    metadata
        JSON-serialisable provenance (process, seed, detector, command, ...).
    tree_name
        TTree name.
    overwrite
        Replace an existing regular file at ``path``.

    Returns
    -------
    int
        Number of events written.

    Raises
    ------
    FileExistsError, ValueError, OSError
        As :func:`check_output_target`, before anything is written and again before the
        rename; ``OSError`` also when the temporary was replaced by something else.
    """
    path = Path(path)
    check_output_target(path, overwrite)
    fd, tmp = create_exclusively(lambda: temporary_path(path), os.O_RDWR)
    n_events = 0
    try:
        handle = os.dup(fd)  # kept open after uproot closes its file object
        try:
            with os.fdopen(fd, "w+b") as raw, uproot.recreate(raw) as fout:
                first = True
                for block in blocks:
                    n_block = len(next(iter(block.values())))
                    arrays = _as_arrays(block)
                    if first:
                        # mktree: a TTree (``fout[name] = ...`` writes an RNTuple in uproot ≥ 5.7)
                        fout.mktree(tree_name, {k: v.type for k, v in arrays.items()})
                        first = False
                    fout[tree_name].extend(arrays)
                    n_events += n_block
                if first:
                    raise ValueError("write_events: no blocks to write")
                fout[METADATA_KEY] = json.dumps({**metadata, "n_events": n_events}, sort_keys=True)
            os.fsync(handle)
            written, there = os.fstat(handle), os.lstat(tmp)
            if (written.st_dev, written.st_ino) != (there.st_dev, there.st_ino):
                raise OSError(f"the temporary {tmp} was replaced while {path} was written")
        finally:
            os.close(handle)
        check_output_target(path, overwrite)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n_events


def _as_arrays(block: dict) -> dict[str, ak.Array]:
    return {k: ak.Array(v) if not isinstance(v, ak.Array) else v for k, v in block.items()}
