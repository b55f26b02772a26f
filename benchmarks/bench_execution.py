"""Distributed execution: scaling with workers, distance from the I/O limit, memory per chunk.

Measures, in one run, on the same Z→ee files:

* **raw read** — uproot reading exactly the branches the tag-and-probe processor needs
  (found by dask-awkward's column optimisation of the processor's graph), one core: the
  I/O limit of this machine for this job;
* **processor** — ``TagAndProbeProcessor`` through :func:`egamma_cnn.execution.run_fileset`
  on a ``distributed`` LocalCluster of 1 and of 2 single-threaded workers (cluster start
  excluded; preprocessing, graph building and compute included);
* **memory per chunk** — the peak resident memory while a worker processes one chunk
  eagerly, over its resident memory before (after the imports and a warm-up), for
  several chunk sizes, each in a fresh process (Linux: the peak is reset through
  /proc/self/clear_refs), which sizes ``memory_per_worker`` for a chunk size.

Run::

    python benchmarks/bench_execution.py FILE.root [FILE.root ...] [--chunk-size 1000]

and paste the tables into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _processor():
    from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor

    return TagAndProbeProcessor()


def needed_branches(path: str) -> list[str]:
    """The branches the processor's graph reads (dask-awkward column optimisation)."""
    import dask_awkward as dak

    from egamma_cnn.nanoevents import open_events

    events = open_events(path, mode="dask")
    output = _processor().process(events)
    histogram = next(iter(output.values()))["histogram"]
    columns = dak.report_necessary_columns(histogram)
    return sorted({c for cols in columns.values() for c in cols})


def raw_read(files: list[str], branches: list[str]) -> tuple[int, float]:
    import uproot

    n, start = 0, time.perf_counter()
    for path in files:
        with uproot.open(path) as handle:
            tree = handle["Events"]
            tree.arrays(branches, library="ak")
            n += tree.num_entries
    return n, time.perf_counter() - start


def processor_rate(files: list[str], workers: int, chunk_size: int) -> tuple[int, float]:
    from egamma_cnn.execution import ExecutionSettings, open_executor, run_fileset
    from egamma_cnn.nanoevents import EGammaSchema

    settings = ExecutionSettings(executor="local", workers=workers, chunk_size=chunk_size)
    fileset = {"zee": {"files": {path: "Events" for path in files}}}
    with open_executor(settings) as client:
        client.run(lambda: __import__("egamma_cnn.processors.tag_and_probe"))  # warm imports
        start = time.perf_counter()
        run = run_fileset(
            _processor(), fileset, settings, schemaclass=EGammaSchema, executor=client
        )
        seconds = time.perf_counter() - start
    return int(run.outputs["zee"]["events"]), seconds


def _chunk_memory(path: str, size: int, queue: multiprocessing.Queue) -> None:
    from egamma_cnn.columnar import clear_memo
    from egamma_cnn.nanoevents import open_events

    processor = _processor()
    processor.process(open_events(path, entry_stop=50))  # imports, numba, onnxruntime
    clear_memo()
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as handle:  # reset the peak (Linux ≥ 4.0)
        handle.write("5")
    processor.process(open_events(path, entry_stop=size))
    queue.put((before, _status("VmHWM")))


def _status(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def chunk_memory(path: str, size: int) -> tuple[float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_chunk_memory, args=(path, size, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--chunk-size", type=int, default=1000)
    args = parser.parse_args()
    files = [os.path.abspath(f) for f in args.files]
    branches = needed_branches(files[0])
    raw_read(files[:1], branches)  # warm the page cache and uproot's imports
    n_raw, t_raw = raw_read(files, branches)
    runs = {w: processor_rate(files, w, args.chunk_size) for w in (1, 2)}
    print(
        f"## Distributed execution — {datetime.date.today()} — {platform.node()} "
        f"({platform.machine()}, {os.cpu_count()} cores)\n"
    )
    print(
        f"{len(branches)} branches read by the tag-and-probe processor; chunks of "
        f"{args.chunk_size} events.\n"
    )
    print("| what | events | s | events/s | / 1 worker | / raw read |")
    print("|---|---|---|---|---|---|")
    raw_rate = n_raw / t_raw
    print(
        f"| uproot raw read of those branches, 1 core | {n_raw} | {t_raw:.2f} | "
        f"{raw_rate:.0f} | | 1 |"
    )
    one = runs[1][0] / runs[1][1]
    for workers, (n, seconds) in runs.items():
        rate = n / seconds
        print(
            f"| processor, LocalCluster {workers} worker(s) | {n} | {seconds:.1f} | "
            f"{rate:.0f} | {rate / one:.2f} | {rate / raw_rate:.3f} |"
        )
    print("\n| chunk (events) | worker memory before (MiB) | peak after (MiB) | added (MiB) |")
    print("|---|---|---|---|")
    for size in (250, 500, 1000, 2000):
        before, after = chunk_memory(files[0], size)
        print(f"| {size} | {before:.0f} | {after:.0f} | {after - before:.0f} |")


if __name__ == "__main__":
    main()
