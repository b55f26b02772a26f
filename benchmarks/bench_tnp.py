"""Events per second of the tag-and-probe processor: eager on one core and on dask.

Measures, in one run, on the same Z→ee files:

* **eager** — ``TagAndProbeProcessor().process(open_events(file))`` on one core: reading,
  the CNN columns of every electron (the default IDs are the CNN working points), the
  pairs and the histogram fill;
* **dask** — the same processor through ``coffea.dataset_tools.apply_to_fileset`` on a
  ``distributed`` LocalCluster of 1 and of 2 single-threaded workers (graph building and
  the cluster start excluded, the compute included); the 2-worker / 1-worker ratio is
  the scaling on this machine.

Run::

    python benchmarks/bench_tnp.py FILE.root [FILE.root ...] [--step-size 1000]

and paste the table into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import dask


def eager_rate(files: list[str]) -> tuple[int, float]:
    from egamma_cnn.columnar import clear_memo
    from egamma_cnn.nanoevents import open_events
    from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor

    processor = TagAndProbeProcessor()
    processor.process(open_events(files[0], entry_stop=50))  # warm-up (numba, onnxruntime)
    clear_memo()
    n, start = 0, time.perf_counter()
    for path in files:
        events = open_events(path)
        processor.process(events)
        n += len(events)
    return n, time.perf_counter() - start


def cluster_rate(files: list[str], workers: int, step_size: int) -> tuple[int, float]:
    from coffea.dataset_tools import apply_to_fileset, preprocess
    from dask.distributed import Client, LocalCluster

    from egamma_cnn.nanoevents import EGammaSchema
    from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor

    fileset = {"zee": {"files": {path: "Events" for path in files}}}
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        runnable, _ = preprocess(fileset, step_size=step_size)
        graph = apply_to_fileset(TagAndProbeProcessor(), runnable, schemaclass=EGammaSchema)
        # warm every worker (imports, numba, onnxruntime sessions) on a tiny fileset
        small, _ = preprocess(
            {"warm": {"files": {files[0]: "Events"}}}, step_size=max(step_size // 20, 10)
        )
        warm = apply_to_fileset(TagAndProbeProcessor(), small, schemaclass=EGammaSchema)
        client.run(lambda: None)
        dask.compute(warm)
        start = time.perf_counter()
        (out,) = dask.compute(graph)
        seconds = time.perf_counter() - start
    return int(out["zee"]["zee"]["events"]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--step-size", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"## Tag-and-probe processor — {datetime.date.today()} — {platform.node()} "
        f"({platform.machine()}, {os.cpu_count()} cores)\n"
    )
    rows = []
    n, seconds = eager_rate(args.files)
    rows.append(("eager, 1 core", n, seconds))
    for workers in (1, 2):
        n, seconds = cluster_rate(args.files, workers, args.step_size)
        rows.append((f"LocalCluster, {workers} worker{'s' if workers > 1 else ''}", n, seconds))
    one_worker = rows[1][1] / rows[1][2]
    print(
        f"Files: {', '.join(os.path.basename(f) for f in args.files)}; chunks of "
        f"{args.step_size} events on dask.\n"
    )
    print("| mode | events | seconds | events/s | events/s per core | / 1 worker |")
    print("|---|---|---|---|---|---|")
    for mode, n, seconds in rows:
        cores = 2 if "2 workers" in mode else 1
        rate = n / seconds
        print(
            f"| {mode} | {n} | {seconds:.1f} | {rate:.0f} | {rate / cores:.0f} | "
            f"{rate / one_worker:.2f} |"
        )


if __name__ == "__main__":
    main()
