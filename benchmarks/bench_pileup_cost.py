"""What fresh minimum-bias pile-up costs against the reused pool it replaced.

Every pile-up interaction of a production is a freshly generated minimum-bias event
(``egamma_cnn.sim.production._fresh_minbias``). Before issue 20 a job generated a pool of
1000 events once and drew every interaction from it with replacement, which made each
file's fake make-up depend on its seed. This script times the same blocks both ways in
one process (one core), alternating, so that machine noise cancels in the ratio:

* ``fresh``: the production as it is;
* ``reused pool``: the same code with the interactions drawn from one pool of 1000
  events (generated outside the timing, as the old production did once per job).

    python benchmarks/bench_pileup_cost.py [--mu 20] [--out benchmarks/RESULTS.md]

The events per process are a tenth of a training round (``DEFAULT_ROUND``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import egamma_cnn.sim.production as production
from egamma_cnn.sim.pileup import MinBiasPool, overlay
from egamma_cnn.sim.production import ProductionConfig, _simulate_block

EVENTS = {"zee": 200, "wenu": 100, "gammajet": 300, "jf17": 80}


def _timed(process: str, n: int, mu: float) -> tuple[float, float]:
    """Wall seconds for ``n`` events in blocks of 100 and the pile-up stage's share."""
    cfg = ProductionConfig(process, n, seed=11, pileup_mu=mu)
    total = pileup = 0.0
    for block in range(max(n // 100, 1)):
        t0 = time.perf_counter()
        _, times, _ = _simulate_block(cfg, block + 1, min(100, n), 100 * block)
        total += time.perf_counter() - t0
        pileup += times.pileup
    return total, pileup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mu", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()

    fresh_minbias, fresh_overlay = production._fresh_minbias, production.overlay
    pool = MinBiasPool.generate(1000, seed=5)

    def reused(*a, **k):  # the old design: one pool, drawn with replacement
        return pool

    def overlay_with_replacement(hard, pool_, mu, rng, *, n_pileup=None, reuse=True):
        return overlay(hard, pool_, mu, rng, n_pileup=n_pileup, reuse=True)

    for process in EVENTS:  # compile numba kernels, initialise Pythia for each process
        _simulate_block(ProductionConfig(process, 3, seed=1, pileup_mu=args.mu), 0, 3, 0)
    rows = []
    for process, n in EVENTS.items():
        production._fresh_minbias, production.overlay = fresh_minbias, fresh_overlay
        fresh, fresh_pileup = _timed(process, n, args.mu)
        production._fresh_minbias, production.overlay = reused, overlay_with_replacement
        old, _ = _timed(process, n, args.mu)
        rows.append((process, n, old, fresh, fresh_pileup))
    production._fresh_minbias, production.overlay = fresh_minbias, fresh_overlay

    total_old = sum(r[2] for r in rows)
    total_fresh = sum(r[3] for r in rows)
    interactions = args.mu * sum(EVENTS.values())
    lines = [
        "",
        f"## Fresh pile-up against a reused pool — {dt.date.today()} — {platform.node()} "
        f"({platform.processor() or platform.machine()}, 1 core of {os.cpu_count()})",
        "",
        f"`python benchmarks/bench_pileup_cost.py --mu {args.mu:g}`: a tenth of a training "
        "round, blocks of 100 events, the two ways alternating in one process.",
        "",
        "| process | events | reused pool [s] | fresh [s] | fresh / reused | of which min-bias "
        "generation + overlay [s] |",
        "|---|---|---|---|---|---|",
    ]
    for process, n, old, fresh, fresh_pileup in rows:
        lines.append(
            f"| {process} | {n} | {old:.1f} | {fresh:.1f} | {fresh / old:.2f} | "
            f"{fresh_pileup:.1f} |"
        )
    lines += [
        f"| all | {sum(EVENTS.values())} | {total_old:.1f} | {total_fresh:.1f} | "
        f"{total_fresh / total_old:.2f} | {sum(r[4] for r in rows):.1f} |",
        "",
        f"Fresh pile-up costs {1e3 * sum(r[4] for r in rows) / interactions:.2f} ms per "
        f"interaction (⟨μ⟩ = {args.mu:g}), plus one initialisation of the minimum-bias "
        "generator per process (about 5 s).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with args.out.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
