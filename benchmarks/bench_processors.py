"""Events per second of the data/MC and isolation processors against the tag-and-probe.

Measures, in one run, eagerly on one core over the same Z→ee files (each processor on
freshly opened events, so every one computes its columns itself):

* **tag-and-probe** — ``TagAndProbeProcessor`` (the reference: CNN columns of every
  electron, pairs, histogram fill);
* **data/MC** — ``DataMCProcessor`` (shower shapes, CNN and likelihood columns, the
  distributions and moments);
* **data/MC, fudged MC** — the same on ``EGammaSchema.with_fudge(file)`` over the
  simulated files among them (a data-like file is never fudged): the cost of applying a
  fudge-factor file inside the feature computation (the second pass of
  ``egamma-cnn datamc``);
* **isolation** — ``IsolationProcessor`` with and without the 26 cones-versus-scores
  distributions.

Run::

    python benchmarks/bench_processors.py FILE.root [FILE.root ...]

and paste the table into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def _fudge_file(directory: Path) -> Path:
    """A fudge-factor file for every shower shape of the data/MC processor (a small
    shift and a 10 % width change in every bin: the cost does not depend on the values)."""
    import numpy as np

    from egamma_cnn.corrections.fudge import FudgeFactors, write_correctionlib
    from egamma_cnn.processors.data_mc import DEFAULT_VARIABLES
    from egamma_cnn.tnp.config import ATLAS_ET_EDGES, ATLAS_ETA_EDGES

    et, eta = np.asarray(ATLAS_ET_EDGES), np.asarray(ATLAS_ETA_EDGES)
    shape = (len(et) - 1, len(eta) - 1)
    factors = {
        name: FudgeFactors(
            name,
            et,
            eta,
            np.full(shape, 0.5 * (lo + hi)),
            np.full(shape, 0.5 * (lo + hi) + 0.01 * (hi - lo)),
            np.full(shape, 1.1),
        )
        for name, (_, lo, hi) in DEFAULT_VARIABLES.items()
        if name != "cnn_score"
    }
    return write_correctionlib(factors, directory / "fudge.json")


def rate(make_processor, files: list[str], schemaclass=None) -> tuple[int, float]:
    from egamma_cnn.columnar import clear_memo
    from egamma_cnn.nanoevents import open_events

    processor = make_processor()
    options = {} if schemaclass is None else {"schemaclass": schemaclass}
    processor.process(open_events(files[0], entry_stop=50, **options))  # warm-up
    clear_memo()
    n, start = 0, time.perf_counter()
    for path in files:
        events = open_events(path, **options)
        processor.process(events)
        n += len(events)
        clear_memo()
    return n, time.perf_counter() - start


def main() -> None:
    from egamma_cnn.nanoevents import EGammaSchema
    from egamma_cnn.processors.data_mc import DataMCProcessor
    from egamma_cnn.processors.isolation import IsolationProcessor
    from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
    from egamma_cnn.provenance import read_metadata

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    simulated = [f for f in args.files if not read_metadata(f).get("is_data", False)]
    with tempfile.TemporaryDirectory() as directory:
        fudged = EGammaSchema.with_fudge(_fudge_file(Path(directory)))
        runs = {
            "tag-and-probe (reference)": rate(TagAndProbeProcessor, args.files),
            "data/MC": rate(DataMCProcessor, args.files),
            "data/MC, fudged MC": rate(DataMCProcessor, simulated, fudged),
            "isolation": rate(IsolationProcessor, args.files),
            "isolation, no cone distributions": rate(
                lambda: IsolationProcessor(discriminants=False), args.files
            ),
        }
    reference = runs["tag-and-probe (reference)"]
    reference_rate = reference[0] / reference[1]
    print(
        f"## Processors — {datetime.date.today()} — {platform.node()} "
        f"({platform.machine()}, {os.cpu_count()} cores, 1 used)\n"
    )
    print("| processor (eager, one core) | events | s | events/s | / tag-and-probe |")
    print("|---|---|---|---|---|")
    for name, (n, seconds) in runs.items():
        print(
            f"| {name} | {n} | {seconds:.1f} | {n / seconds:.0f} | "
            f"{n / seconds / reference_rate:.2f} |"
        )


if __name__ == "__main__":
    main()
