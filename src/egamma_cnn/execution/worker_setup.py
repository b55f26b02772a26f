"""Preload of the worker processes of the LocalCluster that :func:`.open_executor` starts.

Ctrl-C in a terminal sends SIGINT to the whole process group: the command *and* the
worker processes of its LocalCluster. The command stops its cluster when interrupted
(it closes the nannies, which stop their workers), so a worker has nothing to do with
the signal; interrupted on its own it would only print a ``KeyboardInterrupt``
traceback per worker. :func:`dask_setup` (run by ``distributed`` in every worker
process named with ``preload=["egamma_cnn.execution.worker_setup"]``) makes the worker
ignore SIGINT.

SIGTERM to the whole process group (``kill -TERM -<pgid>``, a batch system stopping a
job) reaches the workers too. Dying at once, each would be restarted by its nanny (the
command has not yet begun to close the cluster), and the command's close would wait for
the new workers to start (tens of seconds) before it can stop them. A worker therefore
takes SIGTERM as "stop within :data:`SIGTERM_GRACE_S` seconds"
(:func:`delay_sigterm`): the command closes its cluster in that time; a worker sent
SIGTERM alone (its command still running) dies of it after the grace, as it would have
at once. The nanny itself stops a worker through a queue, then with SIGKILL; a worker
whose command dies (even of SIGKILL) exits at once (``distributed`` watches a pipe).

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
import os
import signal
import threading
from typing import Any

__all__ = [
    "PRELOAD",
    "SIGTERM_GRACE_S",
    "StoppedScheduler",
    "dask_setup",
    "delay_sigterm",
    "ignore_interrupts",
]

#: The name to give ``distributed`` (``LocalCluster(preload=[PRELOAD])``).
PRELOAD = __name__
#: Seconds a worker sent SIGTERM waits for its command to stop it before it dies of it.
SIGTERM_GRACE_S = 5.0


def ignore_interrupts() -> bool:
    """Ignore SIGINT in this process; False where it cannot be set (not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return True


def _die_of_sigterm() -> None:
    # a timer's thread cannot restore the signal's default action: exit as a shell
    # reports a death by SIGTERM
    os._exit(128 + signal.SIGTERM)


def delay_sigterm(grace_s: float = SIGTERM_GRACE_S) -> bool:
    """SIGTERM kills this process ``grace_s`` seconds later instead of at once.

    The first SIGTERM starts a timer (a daemon thread) that ends the process with exit
    code 143 (128 + SIGTERM); a process that ends before (closed by its command) just
    ends. False where the handler cannot be set (not the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    timers: list[threading.Timer] = []

    def later(signum: int, frame: Any) -> None:
        if not timers:
            timers.append(threading.Timer(grace_s, _die_of_sigterm))
            timers[0].daemon = True
            timers[0].start()

    signal.signal(signal.SIGTERM, later)
    return True


class StoppedScheduler(logging.Filter):
    """Drops the worker's heartbeat failure: on a LocalCluster its scheduler, in the
    command's process, has stopped (module docstring)."""

    MESSAGE = "Failed to communicate with scheduler during heartbeat"

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.MESSAGE)


def dask_setup(worker: Any) -> None:
    """``distributed``'s preload hook: the worker process ignores SIGINT, dies of SIGTERM
    only after :data:`SIGTERM_GRACE_S` seconds (module docstring), and does not log the
    heartbeat failure of a stopped command (:class:`StoppedScheduler`).

    Parameters
    ----------
    worker : distributed.Worker
        The worker being started (unused: the setting is of its process).
    """
    ignore_interrupts()
    delay_sigterm()
    logging.getLogger("distributed.worker").addFilter(StoppedScheduler())
