"""Preload of the worker processes of the LocalCluster that :func:`.open_executor` starts.

Ctrl-C in a terminal sends SIGINT to the whole process group: the command *and* the
worker processes of its LocalCluster. The command stops its cluster when interrupted
(it closes the nannies, which stop their workers), so a worker has nothing to do with
the signal; interrupted on its own it would only print a ``KeyboardInterrupt``
traceback per worker. :func:`dask_setup` (run by ``distributed`` in every worker
process named with ``preload=["egamma_cnn.execution.worker_setup"]``) makes the worker
ignore SIGINT. SIGTERM is left alone: the nanny stops a worker with it.

A worker is a new Python (``spawn``) that imports the command's main module before
the preload runs: a Ctrl-C in those first seconds (while the cluster starts) still
reaches it.

Only the LocalCluster of :func:`.open_executor` uses it: workers of a batch system, a
gateway or a scheduler the user started are theirs to configure.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["PRELOAD", "dask_setup", "ignore_interrupts"]

#: The name to give ``distributed`` (``LocalCluster(preload=[PRELOAD])``).
PRELOAD = __name__


def ignore_interrupts() -> bool:
    """Ignore SIGINT in this process; False where it cannot be set (not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return True


def dask_setup(worker: Any) -> None:
    """``distributed``'s preload hook: the worker process ignores SIGINT.

    Parameters
    ----------
    worker : distributed.Worker
        The worker being started (unused: the setting is of its process).
    """
    ignore_interrupts()
