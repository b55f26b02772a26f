"""Throughput and memory of building network inputs and features, against reading the cells.

Measures, in one run on one core:

* uproot's read time of the cell branches (``nCaloCell``, ``CaloCell_*``) and of every
  branch the builders need, from the file (page cache warm: the best of ``--repeat``);
* the time to build the electron images (coarse + fine), the track arrays, the photon
  images and all electron features from arrays already in memory (numba compiled
  beforehand; best of ``--repeat``);
* the same images and features with the plain-Python reference of the tests
  (``tests/reference.py``) on the first ``--reference-candidates`` electrons;
* the output bytes per candidate and the peak extra memory (tracemalloc) of a build.

Make a sample first, e.g.::

    egamma-cnn generate --process jf17 --events 600 --seed 7 --pileup 20 \\
        --out jf17_mu20.root --workers 2
    python benchmarks/bench_inputs.py jf17_mu20.root

and paste the printed table into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import awkward as ak
import uproot

from egamma_cnn.features import electron_features
from egamma_cnn.images import (
    electron_image_batch,
    photon_image_batch,
    track_array_batch,
)
from egamma_cnn.nanoevents import open_events

CELL_BRANCHES = [
    "nCaloCell",
    "CaloCell_eta",
    "CaloCell_phi",
    "CaloCell_energy",
    "CaloCell_sampling",
]


from timing import best_time  # noqa: E402 - benchmarks/ is the script's folder


def read_cells(path: Path, branches: list[str]) -> None:
    with uproot.open(path) as file:
        file["Events"].arrays(branches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference-candidates", type=int, default=40)
    args = parser.parse_args()

    events = open_events(args.file)
    cells, tracks, electrons, photons = (
        events.CaloCell,
        events.Track,
        events.Electron,
        events.Photon,
    )
    n_events = len(events)
    n_electrons = int(ak.sum(ak.num(electrons)))
    n_photons = int(ak.sum(ak.num(photons)))
    n_cells = int(ak.sum(ak.num(cells)))
    with uproot.open(args.file) as file:
        tree = file["Events"]
        builder_branches = [
            b
            for b in tree.keys()
            if b.startswith(("CaloCell_", "Track_", "Electron_", "PV_"))
            or b in ("nCaloCell", "nTrack", "nElectron")
        ]

    # compile and warm up
    electron_image_batch(cells[:2], electrons[:2])
    track_array_batch(tracks[:2], electrons[:2])
    photon_image_batch(cells[:2], photons[:2])
    electron_features(events[:2])

    read_cell_s = best_time(lambda: read_cells(args.file, CELL_BRANCHES), args.repeat)
    read_all_s = best_time(lambda: read_cells(args.file, builder_branches), args.repeat)
    images_s = best_time(lambda: electron_image_batch(cells, electrons), args.repeat)
    tracks_s = best_time(lambda: track_array_batch(tracks, electrons), args.repeat)
    photons_s = best_time(lambda: photon_image_batch(cells, photons), args.repeat)
    features_s = best_time(lambda: electron_features(events), args.repeat)

    tracemalloc.start()
    batch = electron_image_batch(cells, electrons)
    _, peak_images = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del batch
    tracemalloc.start()
    electron_features(events)
    _, peak_features = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    output_bytes = (18 * 7 * 11 + 56 * 11 + 5 * 13) * 4

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import reference

    n_ref = min(args.reference_candidates, n_electrons)
    flat_rows = []
    for event_index in range(n_events):
        for k in range(len(electrons[event_index])):
            flat_rows.append((event_index, k))
            if len(flat_rows) == n_ref:
                break
        if len(flat_rows) == n_ref:
            break
    cell_lists = {
        e: [ak.to_numpy(cells[name][e]) for name in ("eta", "phi", "energy", "sampling")]
        for e, _ in flat_rows
    }
    start = time.perf_counter()
    for e, k in flat_rows:
        el = electrons[e][k]
        reference.reference_electron_images(*cell_lists[e], el.clusterEta, el.clusterPhi)
    reference_images_s = (time.perf_counter() - start) / max(n_ref, 1)
    start = time.perf_counter()
    for e, k in flat_rows:
        el = electrons[e][k]
        reference.reference_shower_shapes(*cell_lists[e], el.clusterEta, el.clusterPhi)
        reference.reference_energy_flow(*cell_lists[e], el.clusterEta, el.clusterPhi)
    reference_features_s = (time.perf_counter() - start) / max(n_ref, 1)

    per_cand = {
        "electron images": images_s / n_electrons,
        "track arrays": tracks_s / n_electrons,
        "photon images": photons_s / max(n_photons, 1),
        "all electron features": features_s / n_electrons,
    }
    machine = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores, 1 used)"
    print(f"## Input building — {datetime.date.today()} — {machine}\n")
    print(
        f"`python benchmarks/bench_inputs.py {args.file.name}`: {n_events} events, "
        f"{n_electrons} electrons, {n_photons} photons, {n_cells / n_events:.0f} cells/event; "
        f"best of {args.repeat}.\n"
    )
    print("| step | ms per candidate | candidates/s/core | time / cell-branch read time |")
    print("|---|---|---|---|")
    read_per_cand = read_cell_s / n_electrons
    print(
        f"| uproot read of the cell branches | {1e3 * read_per_cand:.3f} | "
        f"{1 / read_per_cand:.0f} | 1 |"
    )
    print(
        f"| uproot read of every branch the builders use | {1e3 * read_all_s / n_electrons:.3f} | "
        f"{n_electrons / read_all_s:.0f} | {read_all_s / read_cell_s:.2f} |"
    )
    for name, seconds in per_cand.items():
        print(
            f"| {name} | {1e3 * seconds:.3f} | {1 / seconds:.0f} | {seconds / read_per_cand:.2f} |"
        )
    print(
        f"| electron images, plain-Python reference | {1e3 * reference_images_s:.1f} | "
        f"{1 / reference_images_s:.0f} | {reference_images_s / read_per_cand:.0f} |"
    )
    print(
        f"| shower shapes + energy flow, plain-Python reference | "
        f"{1e3 * reference_features_s:.1f} | {1 / reference_features_s:.0f} | "
        f"{reference_features_s / read_per_cand:.0f} |"
    )
    print(
        "\nSpeed-up over the reference: images "
        f"×{reference_images_s / per_cand['electron images']:.0f}. "
        f"Output per electron: {output_bytes} bytes (coarse + fine + tracks, float32). "
        f"Peak extra memory while building: images {peak_images / n_electrons:.0f} B/candidate, "
        f"all features {peak_features / n_electrons:.0f} B/candidate (tracemalloc, numpy buffers)."
    )


if __name__ == "__main__":
    main()
