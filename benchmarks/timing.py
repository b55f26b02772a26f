"""Timing helper shared by the benchmark scripts (run them as ``python benchmarks/x.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(function: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls (seconds): the least disturbed by a noisy machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
