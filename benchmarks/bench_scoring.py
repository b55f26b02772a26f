"""Scoring throughput of the identification columns and where one chunk's time goes.

Measures, in one run and on one core (numba and onnxruntime single-threaded):

* **throughput** — electron and photon candidates per second through the identification
  columns (inputs built from the cells and tracks, onnxruntime, discriminant and working
  points, awkward wrapping) on events already read, for a sweep of onnxruntime batch
  sizes, with the memo cleared before every call;
* **split of one chunk** — the time of the whole electron column on the file's events
  cut into: reading the branches it needs (uproot, via NanoEvents), building the images,
  the track arrays and the HLVs (the package's builders), inference (``OnnxModel``), and
  the rest (grouping candidates by event, discriminant, working points, wrapping), the
  rest being the total minus the measured parts. The reference in the same run is the
  read time: every figure is also given as a multiple of it.

Run::

    python benchmarks/bench_scoring.py SAMPLE.root [--entries N]

and paste the printed tables into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import awkward as ak
import numpy as np
from timing import best_time

from egamma_cnn.columnar import clear_memo
from egamma_cnn.features import ELECTRON_HLV_NAMES
from egamma_cnn.features.columns import feature_chunk, needed_columns
from egamma_cnn.identification import electron_identification, photon_identification
from egamma_cnn.images import electron_image_batch, track_array_batch
from egamma_cnn.model.onnx_model import load_model
from egamma_cnn.nanoevents import open_events


def _open(path: str, entries: int | None):
    return open_events(path, entry_stop=entries)


def _materialise(events) -> None:
    """Touch every branch the electron column needs (eager NanoEvents hold them read)."""
    for collection in ("CaloCell", "Track", "Electron"):
        for name in events[collection].fields:
            ak.to_numpy(ak.flatten(events[collection][name], axis=None)[:1])


def throughput(path: str, entries: int | None, repeat: int) -> list[tuple[str, int, float]]:
    events = _open(path, entries)
    _materialise(events)
    rows = []
    for batch_size in (16, 64, 256, 1024, 4096):
        for kind in ("electron", "photon"):
            model = load_model(kind, batch_size=batch_size, intra_op_threads=1)

            def run(kind=kind, model=model):
                clear_memo()  # measure the computation, not the memo
                if kind == "electron":
                    out = electron_identification(
                        events.CaloCell, events.Track, events.Electron, model=model
                    )
                else:
                    out = photon_identification(events.CaloCell, events.Photon, model=model)
                return len(ak.flatten(out.cnn_score))

            n = run()
            rows.append((kind, batch_size, n / best_time(run, repeat)))
    return rows


def split(path: str, entries: int | None, repeat: int) -> dict[str, float]:
    model = load_model("electron", batch_size=256, intra_op_threads=1)
    parts: dict[str, float] = {}
    parts["read"] = best_time(lambda: _materialise(_open(path, entries)), repeat)
    events = _open(path, entries)
    _materialise(events)
    parts["images"] = best_time(
        lambda: electron_image_batch(events.CaloCell, events.Electron), repeat
    )
    parts["track arrays"] = best_time(
        lambda: track_array_batch(events.Track, events.Electron), repeat
    )

    def features():
        columns = needed_columns(
            events.CaloCell,
            events.Track,
            events.Electron,
            None,
            "electron",
            ("shower_shapes", "track_variables"),
        )
        return feature_chunk(
            *columns.values(),
            names=tuple(columns),
            kind="electron",
            groups=("shower_shapes", "track_variables"),
        )

    parts["HLVs"] = best_time(features, repeat)
    images = electron_image_batch(events.CaloCell, events.Electron)
    flat = ak.flatten(features())
    inputs = {
        **images,
        "tracks": track_array_batch(events.Track, events.Electron),
        "hlv": np.stack([ak.to_numpy(flat[n]).astype(np.float32) for n in ELECTRON_HLV_NAMES], 1),
    }
    parts["inference"] = best_time(lambda: model.predict(inputs), repeat)

    def total():
        fresh = _open(path, entries)
        electron_identification(fresh.CaloCell, fresh.Track, fresh.Electron, model=model)

    parts["total"] = best_time(total, repeat)
    parts["n_electrons"] = len(inputs["hlv"])
    parts["n_events"] = len(events)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sample", help="an egamma-cnn MC or data-like file")
    parser.add_argument("--entries", type=int, default=None, help="first N events only")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"## Scoring columns — {datetime.date.today()} — {platform.node()} "
        f"({platform.machine()}, {os.cpu_count()} cores, 1 used)\n"
    )
    parts = split(args.sample, args.entries, args.repeat)
    n, read = parts["n_electrons"], parts["read"]
    measured = sum(parts[k] for k in ("read", "images", "track arrays", "HLVs", "inference"))
    parts["rest"] = max(parts["total"] - measured, 0.0)
    print(
        f"One chunk: {parts['n_events']} events, {n} electrons of `{args.sample}`; "
        "`electron_identification` from a fresh read, batch size 256:\n"
    )
    print("| step | seconds | ms per electron | share of total | / read |")
    print("|---|---|---|---|---|")
    for key in ("read", "images", "track arrays", "HLVs", "inference", "rest", "total"):
        seconds = parts[key]
        print(
            f"| {key} | {seconds:.3f} | {seconds / n * 1e3:.3f} | "
            f"{seconds / parts['total']:.0%} | {seconds / read:.1f} |"
        )
    print()
    rows = throughput(args.sample, args.entries, args.repeat)
    print("Throughput of the whole column (events already read), candidates/s on one core:\n")
    print("| batch size | electrons/s | photons/s |")
    print("|---|---|---|")
    for batch_size in sorted({r[1] for r in rows}):
        rates = {kind: rate for kind, b, rate in rows if b == batch_size}
        print(f"| {batch_size} | {rates['electron']:,.0f} | {rates['photon']:,.0f} |")


if __name__ == "__main__":
    main()
