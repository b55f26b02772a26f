"""Temporaries a process owns while it writes: named for their owner, created exclusively.

The one place of what :mod:`egamma_cnn.sim.writer` (sample files),
:mod:`egamma_cnn.runfolder` (output folders), :mod:`egamma_cnn.train.export` (models)
and the local worker pools of :mod:`egamma_cnn.execution.clusters` need:

* :func:`host_name` — this machine's name as it is written into a temporary's name, so
  that on a shared file system a run never takes another host's process ids for its own;
* :func:`process_alive` — whether a process id still exists (a temporary of a dead
  process, killed with SIGKILL, may be removed);
* :func:`create_exclusively` — a new file under a fresh name, created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW``: a file or link planted under that name is never
  followed or overwritten.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

__all__ = ["create_exclusively", "host_name", "process_alive"]


def host_name() -> str:
    """This machine's name in temporary names: letters, digits and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "localhost"


def process_alive(pid: int) -> bool:
    """Whether the process ``pid`` of this host exists (another user's counts)."""
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def create_exclusively(
    fresh_name: Callable[[], Path], flags: int = os.O_WRONLY
) -> tuple[int, Path]:
    """Create a new file under a name ``fresh_name()`` gives; returns (open fd, path).

    The file is made with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (and ``flags``, e.g.
    ``os.O_RDWR``) and the permissions of a new file (mode 0o666 less the umask); a name
    that exists already is drawn again, up to 100 times.

    Raises
    ------
    FileExistsError
        No fresh name could be created.
    OSError
        The folder does not take new files.
    """
    flags |= os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = fresh_name()
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file {path.name} in {path.parent}")
