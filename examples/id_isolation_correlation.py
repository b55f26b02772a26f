"""Is the CNN more correlated with isolation than the likelihood? (Franco's photon-ID talk)

    python examples/id_isolation_correlation.py FILE.root [FILE.root ...]

Runs ``egamma_cnn.processors.isolation.IsolationProcessor`` eagerly over the files and
prints the Pearson correlation of each ID score (CNN, LLH) with each relative isolation
(ptvarcone30/p_T, etcone20/p_T), for true electrons and for the other candidates, over
all (E_T, η) bins.
"""

from __future__ import annotations

import sys

from egamma_cnn.nanoevents import open_events
from egamma_cnn.processors.isolation import ISOLATIONS, SCORES, IsolationProcessor, correlations


def main(paths: list[str]) -> None:
    sums = None
    for path in paths:
        out = IsolationProcessor().process(open_events(path))["sample"]["sums"]
        sums = out if sums is None else sums + out
    print("| score | isolation | ρ true electrons | ρ other candidates |")
    print("|---|---|---|---|")
    for score in SCORES:
        for name, _, _ in ISOLATIONS:
            true = float(correlations(sums, score, name, (0, 1), "inclusive"))
            other = float(correlations(sums, score, name, (2, 3, 4, 5), "inclusive"))
            print(f"| {score} | {name} | {true:+.3f} | {other:+.3f} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
