"""Preload of the worker processes of the LocalCluster that :func:`.open_executor` starts.

Ctrl-C in a terminal sends SIGINT to the whole process group: the command *and* the
worker processes of its LocalCluster. The command stops its cluster when interrupted
(it closes the nannies, which stop their workers), so a worker has nothing to do with
the signal; interrupted on its own it would only print a ``KeyboardInterrupt``
traceback per worker. :func:`dask_setup` (run by ``distributed`` in every worker
process named with ``preload=["egamma_cnn.execution.worker_setup"]``) makes the worker
ignore SIGINT. SIGTERM is left alone: the nanny stops a worker with it.

When the command stops (SIGTERM from a batch system, Ctrl-C), its scheduler goes first; a
worker whose heartbeat falls in the moment before its nanny stops it logs "Failed to
communicate with scheduler during heartbeat" with a traceback of the closed connection.
On a LocalCluster the scheduler lives in the command's process, so that message only
says the command has stopped: :func:`dask_setup` drops it (:class:`StoppedScheduler`).

A worker is a new Python (``spawn``) that imports the command's main module before
the preload runs: a Ctrl-C in those first seconds (while the cluster starts) still
reaches it.

Only the LocalCluster of :func:`.open_executor` uses it: workers of a batch system, a
gateway or a scheduler the user started are theirs to configure.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

__all__ = ["PRELOAD", "StoppedScheduler", "dask_setup", "ignore_interrupts"]

#: The name to give ``distributed`` (``LocalCluster(preload=[PRELOAD])``).
PRELOAD = __name__


def ignore_interrupts() -> bool:
    """Ignore SIGINT in this process; False where it cannot be set (not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return True


class StoppedScheduler(logging.Filter):
    """Drops the worker's heartbeat failure: on a LocalCluster its scheduler, in the
    command's process, has stopped (module docstring)."""

    MESSAGE = "Failed to communicate with scheduler during heartbeat"

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.MESSAGE)


def dask_setup(worker: Any) -> None:
    """``distributed``'s preload hook: the worker process ignores SIGINT, and does not log
    the heartbeat failure of a stopped command (:class:`StoppedScheduler`).

    Parameters
    ----------
    worker : distributed.Worker
        The worker being started (unused: the setting is of its process).
    """
    ignore_interrupts()
    logging.getLogger("distributed.worker").addFilter(StoppedScheduler())
