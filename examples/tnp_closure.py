"""Closure and data/MC summary of an ``egamma-cnn tnp`` output folder.

    python examples/tnp_closure.py tnp/efficiencies.json

For every working point: the per-bin pulls (ε_TnP − ε_truth)/σ_TnP of the simulation's
tag-and-probe efficiency against the efficiency of its truth-matched electron probes
(the closure test; both come from the same probes, so χ²/ndf below 1 is expected), and
the efficiency integrated over the bins that have one (Σ S_pass / Σ (S_pass + S_fail))
in data and simulation with their ratio (binomial uncertainties).
"""

from __future__ import annotations

import json
import sys

import numpy as np


def _column(bins: list[dict], field: str) -> np.ndarray:
    return np.array([np.nan if b[field] is None else b[field] for b in bins], float)


def summary(path: str) -> None:
    tables = json.load(open(path))
    for working_point, entry in tables.items():
        line = f"{working_point}:"
        if "mc_truth" in entry:
            tnp, truth = (
                _column(entry["mc"], "efficiency"),
                _column(entry["mc_truth"], "efficiency"),
            )
            error = 0.5 * (_column(entry["mc"], "error_low") + _column(entry["mc"], "error_high"))
            ok = np.isfinite(tnp) & np.isfinite(truth) & (error > 0)
            pull = (tnp - truth)[ok] / error[ok]
            line += (
                f" closure over {ok.sum()} bins: |pull| < 2 in {np.mean(np.abs(pull) < 2):.0%}, "
                f"mean pull {pull.mean():+.2f}, χ²/ndf {np.sum(pull**2) / ok.sum():.2f};"
            )
        rates = {}
        for kind in ("mc", "data"):
            if kind not in entry:
                continue
            measured = np.isfinite(_column(entry[kind], "efficiency"))  # bins with an ε
            s_pass = np.clip(_column(entry[kind], "signal_pass")[measured], 0, None)
            s_fail = np.clip(_column(entry[kind], "signal_fail")[measured], 0, None)
            total = np.nansum(s_pass + s_fail)
            eff = np.nansum(s_pass) / total
            rates[kind] = (eff, np.sqrt(eff * (1 - eff) / total))
            line += f" {kind} ε = {eff:.3f} ± {rates[kind][1]:.3f};"
        if len(rates) == 2:
            (e_mc, s_mc), (e_d, s_d) = rates["mc"], rates["data"]
            ratio = e_d / e_mc
            line += f" data/MC {ratio:.3f} ± {ratio * np.hypot(s_mc / e_mc, s_d / e_d):.3f}"
        print(line)


if __name__ == "__main__":
    summary(sys.argv[1] if len(sys.argv) > 1 else "tnp/efficiencies.json")
