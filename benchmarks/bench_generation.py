"""Generation throughput per process and the share of time in Pythia vs the detector.

Runs one block of events per process in this process (one core), with and without
pile-up, and reports per accepted event: Pythia (generation, filter, particle
extraction), the detector simulation (material, calorimeter, tracker), reconstruction
(clusters, candidates, cell writing) and the e/γ candidates produced per second.
The ratio detector/Pythia is measured in the same run, so machine noise cancels.

With pile-up, every interaction is a freshly generated minimum-bias event (the
production's ``_fresh_minbias``); its Pythia time is measured in the block (the stage
"pile-up": minimum-bias generation plus the overlay) and shown beside the hard
process's, and both count as Pythia in the simulation/Pythia ratio. The minimum-bias
generator's one-off initialisation (about 5 s per process) happens in the warm-up block.

    python benchmarks/bench_generation.py [--events 200] [--mu 20] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
from pathlib import Path

import awkward as ak

from egamma_cnn.sim.production import ProductionConfig, _simulate_block

PROCESSES = ("zee", "wenu", "gammajet", "jf17", "zeegamma")


def _run(process: str, n: int, mu: float, seed: int = 5) -> dict:
    cfg = ProductionConfig(process, n, seed=seed, pileup_mu=mu)
    _simulate_block(cfg, 0, 5, 0)  # compile numba kernels and warm caches
    t0 = time.perf_counter()
    cols, times, stats = _simulate_block(cfg, 1, n, 5)
    wall = time.perf_counter() - t0
    n_cand = int(ak.sum(ak.num(cols["Electron"])) + ak.sum(ak.num(cols["Photon"])))
    det = times.detector + times.reconstruction + times.output
    return {
        "process": process,
        "mu": mu,
        "n": n,
        "filter_eff": n / max(stats["n_tried"], 1),
        "pythia_ms": 1e3 * times.generator / n,
        "pileup_ms": 1e3 * times.pileup / n,
        "detector_ms": 1e3 * times.detector / n,
        "reco_ms": 1e3 * (times.reconstruction + times.output) / n,
        "sim_ms": 1e3 * det / n,
        "cand_per_s": n_cand / wall,
        "cand_per_event": n_cand / n,
    }


def _minbias_ms(n: int = 200) -> float:
    from egamma_cnn.sim.generator import EventGenerator

    gen = EventGenerator("minbias", 3)
    gen.generate(5)
    t0 = time.perf_counter()
    gen.generate(n)
    return 1e3 * (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--mu", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()

    rows = [_run(p, args.events, 0.0) for p in PROCESSES]
    rows += [_run(p, args.events, args.mu) for p in ("zee", "jf17")]
    mb = _minbias_ms()

    lines = [
        "",
        f"## Generation throughput — {dt.date.today()} — {platform.node()} "
        f"({platform.processor() or platform.machine()}, 1 core of 2)",
        "",
        f"`python benchmarks/bench_generation.py --events {args.events} --mu {args.mu:g}`; "
        "times per accepted event, one block in one process (numba compiled beforehand).",
        "",
        "| process | ⟨μ⟩ | filter eff. | Pythia ms/ev | detector ms/ev | reco+output ms/ev "
        "| simulation/Pythia | candidates/ev | candidates/s/core |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pythia = r["pythia_ms"] + r["pileup_ms"]
        lines.append(
            f"| {r['process']} | {r['mu']:g} | {r['filter_eff']:.3f} | {r['pythia_ms']:.1f}"
            + (f" (+{r['pileup_ms']:.0f} pile-up)" if r["mu"] > 0 else "")
            + f" | {r['detector_ms']:.1f} | {r['reco_ms']:.1f} | {r['sim_ms'] / pythia:.2f} "
            f"| {r['cand_per_event']:.2f} | {r['cand_per_s']:.0f} |"
        )
    lines += [
        "",
        f"Minimum-bias generation: {mb:.2f} ms/event. Simulation/Pythia compares detector +"
        " reconstruction + output with Pythia's time for every interaction in the event"
        " (with pile-up: the hard process plus its fresh minimum-bias events, generated"
        " and overlaid in the block).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.out.exists():
        args.out.write_text(
            "# Benchmark results\n\nFigures measured on the machine and date"
            " given in each heading; re-run the command shown to reproduce.\n"
        )
    with args.out.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
