"""Events per second of the tag-and-probe processor: eager on one core and on dask.

Measures, in one run, on the same Z→ee files:

* **eager** — ``TagAndProbeProcessor().process(open_events(file))`` on one core: reading,
  the CNN columns of every electron (the default IDs are the CNN working points), the
  pairs and the histogram fill. Twice, alternated file by file over ``--repeat`` rounds
  (best round kept): with the electron CNN column as it is ("after": only the features
  the model reads, the cells identified once, the track columns cut to the candidates'
  tracks) and with its former path ("before": ``all_features=True`` of
  ``egamma_cnn.identification._electron_chunk``, patched in for that run);
* **dask** (``--cluster``) — the same processor through
  ``coffea.dataset_tools.apply_to_fileset`` on a ``distributed`` LocalCluster of 1 and of
  2 single-threaded workers (graph building and the cluster start excluded, the compute
  included); the 2-worker / 1-worker ratio is the scaling on this machine.

Run::

    python benchmarks/bench_tnp.py FILE.root [FILE.root ...] [--repeat 3] [--cluster]

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


def eager_rates(files: list[str], repeat: int) -> dict[str, tuple[int, float]]:
    """Events and best seconds of the eager processor, "before" and "after", alternated."""
    from functools import partial

    from egamma_cnn import identification
    from egamma_cnn.columnar import clear_memo
    from egamma_cnn.nanoevents import open_events
    from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor

    processor = TagAndProbeProcessor()
    current = identification._electron_chunk
    former = partial(current, all_features=True)
    paths = {"before": former, "after": current}
    for chunk in paths.values():  # warm-up (numba, onnxruntime)
        identification._electron_chunk = chunk
        processor.process(open_events(files[0], entry_stop=50))
    seconds = {name: [0.0] * repeat for name in paths}
    n = 0
    try:
        for round_ in range(repeat):
            for path in files:
                for name, chunk in paths.items():
                    identification._electron_chunk = chunk
                    clear_memo()
                    start = time.perf_counter()
                    events = open_events(path)
                    processor.process(events)
                    seconds[name][round_] += time.perf_counter() - start
                    if round_ == 0 and name == "after":
                        n += len(events)
    finally:
        identification._electron_chunk = current
    return {name: (n, min(values)) for name, values in seconds.items()}


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
    parser.add_argument("--repeat", type=int, default=3, help="eager rounds (best kept)")
    parser.add_argument("--cluster", action="store_true", help="also on a LocalCluster")
    args = parser.parse_args()
    print(
        f"## Tag-and-probe processor — {datetime.date.today()} — {platform.node()} "
        f"({platform.machine()}, {os.cpu_count()} cores)\n"
    )
    eager = eager_rates(args.files, args.repeat)
    rows = [
        ("eager, 1 core, CNN column before", *eager["before"]),
        ("eager, 1 core, CNN column after", *eager["after"]),
    ]
    if args.cluster:
        for workers in (1, 2):
            n, seconds = cluster_rate(args.files, workers, args.step_size)
            label = f"LocalCluster, {workers} worker{'s' if workers > 1 else ''}"
            rows.append((label, n, seconds))
    reference = rows[0][1] / rows[0][2]
    print(
        f"Files: {', '.join(os.path.basename(f) for f in args.files)}; eager: best of "
        f"{args.repeat} alternated rounds; chunks of {args.step_size} events on dask.\n"
    )
    print("| mode | events | seconds | events/s | events/s per core | / eager before |")
    print("|---|---|---|---|---|---|")
    for mode, n, seconds in rows:
        cores = 2 if "2 workers" in mode else 1
        rate = n / seconds
        print(
            f"| {mode} | {n} | {seconds:.1f} | {rate:.0f} | {rate / cores:.0f} | "
            f"{rate / reference:.2f} |"
        )


if __name__ == "__main__":
    main()
