"""Graph size at facility scale and the scheduler's overhead per chunk (issue 19).

Two measurements, each printed as a markdown table:

* **graph scale** — the graph of D datasets × C chunks of the tag-and-probe processor
  (``TagAndProbeProcessor``) built with coffea's ``apply_to_fileset`` on copies of one
  file's preprocessed ("runnable") spec: every dataset has its own name and metadata,
  all point to the same file and nothing is read (the chunks' entry ranges are the file
  cut in C parts, the form travels in the spec, as ``preprocess(save_form=True)`` gives
  it, so building does not open the file again). For each (D, C): the time to build the
  graph, to optimise it (:func:`egamma_cnn.execution.graphs.scheduler_graph`: dask-awkward's
  column optimisation, blockwise fusion, :func:`~egamma_cnn.execution.graphs.share_constants`),
  its size as ``distributed`` serialises it
  (:func:`~egamma_cnn.execution.graphs.serialised_size`) in total, per dataset and per
  chunk, and the time to submit it to a ``distributed`` LocalCluster without workers
  (``client.get(..., sync=False)`` as :func:`~egamma_cnn.execution.graphs.submit` does:
  the call, which serialises the graph, and until the scheduler holds every key; then
  the futures are cancelled, nothing is computed). The slopes per dataset and per chunk
  come from pairs of the sweep. For small D the same graph the old way
  (``distributed.Client.compute`` of the output: the optimised graph plus one
  ``finalize`` task per collection, ``serialize(ToPickle(...))`` exactly as the client
  does) gives the ratio in the same run. Two processors: egamma-cnn Z→ee files with the
  default CNN IDs (``TnPConfig()``, ``EGammaSchema``) and CMS NanoAOD with the trigger
  example (``examples/cms_nanoaod_ele32_trigger.json``, coffea's ``NanoAODSchema``).
* **scheduler overhead** — a trivial processor (count events, fill one 10-bin histogram
  of the electrons' p_T) over many chunks of one event of ``tests/data/zee_mc.root``
  (40 events: 40 chunks per dataset, as many datasets as needed) through
  :func:`egamma_cnn.execution.run_fileset` in-process (dask's sync scheduler) and on a
  LocalCluster of 2 single-threaded worker processes (started before, its start
  reported apart; one warm-up run on each first): the difference per chunk is what the
  scheduler costs a chunk.

Run::

    python benchmarks/bench_graph_scale.py --zee /tmp/bench/zee.root \\
        --cms /tmp/cmsref/DYto2E.root

and paste the tables into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import io
import itertools
import os
import platform
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
CMS_CONFIG = ROOT / "examples" / "cms_nanoaod_ele32_trigger.json"
TINY_FILE = ROOT / "tests" / "data" / "zee_mc.root"


def _pairs(text: str) -> list[tuple[int, int]]:
    """``"1x1,10x100"`` → ``[(1, 1), (10, 100)]`` (datasets × chunks)."""
    pairs = []
    for item in text.split(","):
        datasets, _, chunks = item.strip().partition("x")
        if not (datasets.isdigit() and chunks.isdigit()) or int(datasets) < 1 or int(chunks) < 1:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not DATASETSxCHUNKS (two positive integers, e.g. 10x100)"
            )
        pairs.append((int(datasets), int(chunks)))
    return pairs


def _kib(size: float) -> str:
    return f"{size / 1024:,.1f} kiB"


# --- graph scale ---------------------------------------------------------------------


def preprocessed_spec(path: str) -> dict[str, Any]:
    """coffea's runnable spec of one dataset of one file, with its form."""
    from coffea.dataset_tools import preprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runnable, _ = preprocess(
            {"one": {"files": {path: "Events"}}},
            step_size=10**9,
            save_form=True,
            scheduler="sync",
        )
    spec = runnable["one"]
    if not spec.get("compressed_form"):
        raise RuntimeError(f"coffea's preprocess gave no form for {path}")
    return spec


def replicated_fileset(spec: dict[str, Any], datasets: int, chunks: int) -> dict[str, Any]:
    """``datasets`` copies of ``spec``, each named, with its own metadata, its file cut
    into ``chunks`` entry ranges (nothing is read: only the graph is built)."""
    ((path, file_spec),) = spec["files"].items()
    entries = int(file_spec["num_entries"])
    if chunks > entries:
        raise ValueError(f"{path} has {entries} entries: it cannot make {chunks} chunks")
    edges = [round(k * entries / chunks) for k in range(chunks + 1)]
    steps = [[start, stop] for start, stop in itertools.pairwise(edges)]
    fileset = {}
    for index in range(datasets):
        name = f"dataset_{index:04d}"
        one = copy.deepcopy(spec)
        one["files"][path]["steps"] = steps
        one["metadata"] = {"dataset": name, "index": index}
        fileset[name] = one
    return fileset


def old_serialised(output: Any) -> tuple[int, float, int]:
    """Bytes and seconds of the graph ``distributed.Client.compute(output)`` sent before
    issue 19 (the optimised graph plus a ``finalize`` task per collection, as
    ``Client.compute`` of distributed 2025.3 builds it), and its largest finalize task."""
    import cloudpickle
    from dask._task_spec import Task
    from dask.base import collections_to_dsk, tokenize, unpack_collections
    from dask.highlevelgraph import HighLevelGraph
    from distributed.client import _convert_dask_keys
    from distributed.protocol import serialize
    from distributed.protocol.serialize import ToPickle

    start = time.perf_counter()
    collections, _ = unpack_collections(output)
    dsk = collections_to_dsk(collections, optimize_graph=True)
    finalize: dict[Any, Any] = {}
    largest = 0
    for collection in collections:
        function, extra = collection.__dask_postcompute__()
        task = Task(
            f"finalize-{tokenize(collection)}",
            function,
            _convert_dask_keys(collection.__dask_keys__()),
            *extra,
        )
        finalize[task.key] = task
        largest = max(largest, len(cloudpickle.dumps(task)))
    layers = {"finalize": finalize, **dsk.layers}
    dependencies = {"finalize": set(dsk.layers), **dsk.dependencies}
    graph = HighLevelGraph(layers, dependencies)
    _, frames = serialize(ToPickle(graph), on_error="raise")
    size = sum(memoryview(frame).nbytes for frame in frames)
    return size, time.perf_counter() - start, largest


def _scheduler_holds(dask_scheduler: Any, keys: list[Any]) -> bool:
    return all(key in dask_scheduler.tasks for key in keys)


def submit_times(client: Any, dsk: Any, keys: list[Any]) -> tuple[float, float]:
    """Seconds until ``client.get(dsk, keys, sync=False)`` returns and until the scheduler
    holds every key; the futures are then cancelled."""
    from dask.core import flatten

    flat = list(flatten(keys))
    start = time.perf_counter()
    futures = client.get(dsk, keys, sync=False)
    returned = time.perf_counter() - start
    while not client.run_on_scheduler(_scheduler_holds, keys=flat):
        time.sleep(0.05)
    accepted = time.perf_counter() - start
    client.cancel(list(flatten(futures)))
    return returned, accepted


def graph_scale(
    label: str,
    processor: Any,
    schemaclass: type,
    spec: dict[str, Any],
    sweep: list[tuple[int, int]],
    old_datasets: list[int],
    client: Any,
) -> None:
    """Print the graph-scale table of one processor (module docstring)."""
    from coffea.dataset_tools import apply_to_fileset
    from distributed.protocol import serialize
    from distributed.protocol.serialize import ToPickle

    from egamma_cnn.execution.graphs import scheduler_graph

    print(f"\n### {label}\n")
    print(
        "| datasets × chunks | tasks | build (s) | optimise (s) | serialise (s) | size "
        "| per dataset | per chunk | submit: call (s) | submit: scheduler holds it (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    sizes: dict[tuple[int, int], int] = {}
    old_rows = []
    for datasets, chunks in sweep:
        fileset = replicated_fileset(spec, datasets, chunks)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            output = apply_to_fileset(processor, fileset, schemaclass=schemaclass)
            built = time.perf_counter() - start
            if datasets in old_datasets:
                old_rows.append((datasets, chunks, *old_serialised(output)))
            start = time.perf_counter()
            dsk, keys, _, _ = scheduler_graph(output)
            optimised = time.perf_counter() - start
            start = time.perf_counter()
            _, frames = serialize(ToPickle(dsk), on_error="raise")
            serialised = time.perf_counter() - start
        size = sum(memoryview(frame).nbytes for frame in frames)
        sizes[(datasets, chunks)] = size
        returned, accepted = submit_times(client, dsk, keys)
        tasks = len(dsk.to_dict())  # after: materialised layers would be sent as such
        print(
            f"| {datasets} × {chunks} | {tasks:,} | {built:.1f} | {optimised:.1f} "
            f"| {serialised:.2f} | {_kib(size)} | {_kib(size / datasets)} "
            f"| {size / (datasets * chunks):,.0f} B | {returned:.2f} | {accepted:.2f} |",
            flush=True,
        )
        del output, dsk
    _slopes(sizes)
    if old_rows:
        print(
            "\n| datasets × chunks | old graph (Client.compute, with finalize) "
            "| largest finalize task | serialise, old (s) | new graph | old / new |"
        )
        print("|---|---|---|---|---|---|")
        for datasets, chunks, old, seconds, largest in old_rows:
            new = sizes[(datasets, chunks)]
            print(
                f"| {datasets} × {chunks} | {_kib(old)} | {_kib(largest)} | {seconds:.1f} "
                f"| {_kib(new)} | {old / new:.0f} |"
            )


def _slopes(sizes: dict[tuple[int, int], int]) -> None:
    """Bytes per added dataset (same chunks) and per added chunk (same datasets)."""
    rows = []
    points = sorted(sizes)
    for a in points:
        for b in points:
            if a[1] == b[1] and b[0] > a[0]:
                rows.append(
                    (
                        f"per dataset ({a[0]} → {b[0]} datasets × {a[1]} chunks)",
                        (sizes[b] - sizes[a]) / (b[0] - a[0]),
                    )
                )
            if a[0] == b[0] and b[1] > a[1]:
                rows.append(
                    (
                        f"per chunk ({a[0]} datasets × {a[1]} → {b[1]} chunks)",
                        (sizes[b] - sizes[a]) / (a[0] * (b[1] - a[1])),
                    )
                )
    if rows:
        print("\n| slope | bytes |")
        print("|---|---|")
        for what, value in rows:
            print(f"| {what} | {value:,.0f} |")


# --- scheduler overhead ----------------------------------------------------------------


class EventCounter:
    """A trivial processor: the number of events and a 10-bin histogram of electron p_T."""

    def process(self, events: Any) -> dict[str, Any]:
        import awkward as ak
        import hist.dask as hda

        histogram = hda.Hist.new.Reg(10, 0.0, 100.0, name="pt").Double()
        histogram.fill(pt=ak.flatten(events.Electron.pt))
        return {"events": ak.num(events, axis=0), "pt": histogram}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def overhead_fileset(chunks: int, folder: Path, files_per_dataset: int = 5) -> dict[str, Any]:
    """Copies of ``tests/data/zee_mc.root`` (40 events) in ``folder``, enough for
    ``chunks`` one-event chunks, ``files_per_dataset`` to a dataset (a fileset lists a
    file once: the copies are distinct files)."""
    import uproot

    with uproot.open(TINY_FILE) as handle:
        entries = handle["Events"].num_entries
    files = []
    for index in range(-(-chunks // entries)):
        copy_path = folder / f"tiny_{index:04d}.root"
        shutil.copyfile(TINY_FILE, copy_path)
        files.append(str(copy_path))
    fileset = {}
    for start in range(0, len(files), files_per_dataset):
        name = f"tiny_{start // files_per_dataset:04d}"
        fileset[name] = {
            "files": {path: "Events" for path in files[start : start + files_per_dataset]},
            "metadata": {"dataset": name, "is_data": False},
        }
    return fileset


def _run(fileset: dict[str, Any], settings: Any, executor: Any) -> tuple[float, Any]:
    from coffea.processor import ProcessorABC

    from egamma_cnn.execution import run_fileset
    from egamma_cnn.nanoevents import EGammaSchema

    processor = type("EventCounterProcessor", (EventCounter, ProcessorABC), {})()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_fileset(processor, fileset, settings, schemaclass=EGammaSchema, executor=executor)
    return time.perf_counter() - start, run


def scheduler_overhead(chunks: int) -> None:
    """Print the table of the scheduler's overhead per chunk (module docstring)."""
    folder = Path(tempfile.mkdtemp(prefix="bench_graph_scale_"))
    try:
        _overhead(overhead_fileset(chunks, folder))
    finally:
        shutil.rmtree(folder)


def _overhead(fileset: dict[str, Any]) -> None:
    """Time ``fileset`` in-process and on a 2-worker LocalCluster, print the table."""
    from egamma_cnn.execution import ExecutionSettings, open_executor

    total = 40 * sum(len(spec["files"]) for spec in fileset.values())
    warm = dict(list(fileset.items())[:1])
    sync = ExecutionSettings(executor="iterative", chunk_size=1)
    _run(warm, sync, "sync")
    in_process, run_sync = _run(fileset, sync, "sync")
    local = ExecutionSettings(executor="local", workers=2, threads_per_worker=1, chunk_size=1)
    start = time.perf_counter()
    with open_executor(local) as client:
        started = time.perf_counter() - start
        _run(warm, local, client)
        on_cluster, run_cluster = _run(fileset, local, client)
    counted = sum(int(out["events"]) for out in run_cluster.outputs.values())
    same = all(
        int(run_sync.outputs[name]["events"]) == int(out["events"])
        and (run_sync.outputs[name]["pt"].values() == out["pt"].values()).all()
        for name, out in run_cluster.outputs.items()
    )
    print(
        f"\n### Scheduler overhead: {total} chunks of 1 event, {total // 40} files, "
        f"{len(fileset)} datasets\n"
    )
    print(
        "| run | wall (s) | per chunk (ms) |\n|---|---|---|\n"
        f"| in-process (dask sync scheduler) | {in_process:.1f} "
        f"| {1000 * in_process / total:.1f} |\n"
        f"| LocalCluster, 2 workers × 1 thread (start: {started:.1f} s, not included) "
        f"| {on_cluster:.1f} | {1000 * on_cluster / total:.1f} |\n"
        f"| difference: the scheduler's overhead | {on_cluster - in_process:.1f} "
        f"| {1000 * (on_cluster - in_process) / total:.1f} |\n\n"
        f"LocalCluster / in-process: {on_cluster / in_process:.2f}; events counted on the "
        f"cluster {counted} (of {total}); outputs identical to the in-process run: {same}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zee", default="/tmp/bench/zee.root", help="an egamma-cnn Z→ee file")
    parser.add_argument("--cms", default="/tmp/cmsref/DYto2E.root", help="a CMS NanoAOD file")
    parser.add_argument(
        "--sweep",
        type=_pairs,
        default=_pairs("1x1,10x1,10x100,100x100,300x100,200x20"),
        help="DATASETSxCHUNKS,... of the egamma-cnn graphs (default %(default)s)",
    )
    parser.add_argument(
        "--cms-sweep",
        type=_pairs,
        default=_pairs("1x1,10x1,10x100,50x100"),
        help="DATASETSxCHUNKS,... of the CMS NanoAOD graphs",
    )
    parser.add_argument(
        "--old-datasets",
        default="1,10",
        help="dataset counts whose graph is also serialised the old way (Client.compute)",
    )
    parser.add_argument("--overhead-chunks", type=int, default=2000)
    parser.add_argument(
        "--only", choices=("zee", "cms", "overhead"), action="append", help="run only these parts"
    )
    args = parser.parse_args()
    parts = set(args.only or ("zee", "cms", "overhead"))
    old_datasets = [int(n) for n in args.old_datasets.split(",") if n]

    print(
        f"{datetime.date.today()} — {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} cores), Python {platform.python_version()}"
    )
    if parts & {"zee", "cms"}:
        from coffea.nanoevents import NanoAODSchema
        from distributed import Client, LocalCluster

        from egamma_cnn.nanoevents import EGammaSchema
        from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
        from egamma_cnn.tnp import TnPConfig

        cases = []
        if "zee" in parts:
            cases.append(
                (
                    f"egamma-cnn Z→ee ({Path(args.zee).name}), TnPConfig(): CNN IDs",
                    TagAndProbeProcessor(TnPConfig()),
                    EGammaSchema,
                    preprocessed_spec(args.zee),
                    args.sweep,
                )
            )
        if "cms" in parts:
            cases.append(
                (
                    f"CMS NanoAOD ({Path(args.cms).name}), {CMS_CONFIG.name}",
                    TagAndProbeProcessor(TnPConfig.from_json(CMS_CONFIG)),
                    NanoAODSchema,
                    preprocessed_spec(args.cms),
                    args.cms_sweep,
                )
            )
        with (
            LocalCluster(n_workers=0, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            for label, processor, schemaclass, spec, sweep in cases:
                graph_scale(label, processor, schemaclass, spec, sweep, old_datasets, client)
    if "overhead" in parts:
        scheduler_overhead(args.overhead_chunks)


if __name__ == "__main__":
    main()
