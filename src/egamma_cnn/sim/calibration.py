"""Derivation of the cluster energy calibration from single particles (MC-based, as in ATLAS).

The raw energy misses what is deposited in the dead material in front of the
calorimeter, outside the window, and behind it. The calibration is the median of
E_true / E_raw in bins of |η_cluster| and E_raw, measured on single particles shot
through the nominal (MC) detector, and applied as C(|η|, E_raw) · E_raw with linear
interpolation in log E_raw; there is one table for electrons (raw = window + brem
recovery) and one for photons (raw = window), as ATLAS calibrates them separately.
They are stored as JSON in the package (``egamma_cnn/data/cluster_calibration.json``)
with the command that made them:

    python -m egamma_cnn.sim.calibration --particles 60000 --seed 20261122

The data-like detector uses the same calibration, as real data use the MC-derived one:
its different response then shows up as a different energy scale. The tables, their JSON
form and the loading of the shipped file are in :mod:`.calibration_tables`, which the
production applies; this module runs the production to derive them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from egamma_cnn.jsonio import write_json
from egamma_cnn.sim.calibration_tables import DATA_FILE, Calibrations, ClusterCalibration
from egamma_cnn.sim.detector import DetectorConfig
from egamma_cnn.sim.gun import particle_gun
from egamma_cnn.sim.particles import VertexTable
from egamma_cnn.sim.production import reconstruct_events

__all__ = ["derive_calibration", "main"]


_ETA_EDGES = np.round(np.arange(0.0, 2.55, 0.1), 3)
_E_CENTRES = np.array([5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0])


def _fit_table(abs_eta: np.ndarray, raw: np.ndarray, truth: np.ndarray):
    e_edges = np.sqrt(_E_CENTRES[1:] * _E_CENTRES[:-1])
    i_eta = np.clip(np.searchsorted(_ETA_EDGES, abs_eta, side="right") - 1, 0, len(_ETA_EDGES) - 2)
    i_e = np.searchsorted(e_edges, raw)
    factors = np.ones((len(_ETA_EDGES) - 1, len(_E_CENTRES)))
    counts = np.zeros_like(factors, dtype=np.int64)
    ratio = truth / np.maximum(raw, 1e-6)
    for a in range(factors.shape[0]):
        for b in range(factors.shape[1]):
            m = (i_eta == a) & (i_e == b)
            counts[a, b] = m.sum()
            if counts[a, b] >= 20:
                factors[a, b] = float(np.median(ratio[m]))
            elif b > 0:
                factors[a, b] = factors[a, b - 1]
    # bins without enough entries at the lowest energy take the next bin's value
    for a in range(factors.shape[0]):
        for b in range(factors.shape[1] - 2, -1, -1):
            if counts[a, b] < 20:
                factors[a, b] = factors[a, b + 1]
    return ClusterCalibration(_ETA_EDGES, np.log(_E_CENTRES), factors), counts


def _gun_candidates(pdg: int, n: int, seed: int):
    """Raw energies of the candidate closest to single particles of type ``pdg``."""
    rng = np.random.default_rng(seed)
    energy = np.exp(rng.uniform(np.log(4.0), np.log(500.0), n))
    eta = rng.uniform(-2.5, 2.5, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    charge_sign = np.where(rng.uniform(size=n) < 0.5, 1, -1)
    gun = particle_gun(pdg * charge_sign if pdg == 11 else pdg, energy, eta, phi)
    zeros = np.zeros(n)
    vertices = VertexTable(np.arange(n + 1, dtype=np.int64), zeros, zeros, zeros)
    reco = reconstruct_events(gun, vertices, DetectorConfig.mc(), rng, Calibrations.identity())
    clusters = reco.clusters
    if pdg == 11:
        cl, off, raw = reco.cands.electron_cluster, reco.cands.electron_offsets, reco.electron_raw
    else:
        cl, off, raw = reco.cands.photon_cluster, reco.cands.photon_offsets, reco.photon_raw
    ev = np.repeat(np.arange(n), np.diff(off))
    dphi = (clusters.phi[cl] - phi[ev] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(clusters.eta[cl] - eta[ev], dphi)
    order = np.lexsort((dr, ev))
    first = order[np.concatenate([[True], np.diff(ev[order]) > 0])] if len(order) else order
    sel = first[dr[first] < 0.1]
    return np.abs(clusters.eta[cl][sel]), raw[sel], energy[ev[sel]]


def derive_calibration(n_particles: int, seed: int) -> tuple[Calibrations, dict]:
    """Shoot single electrons and photons through the MC detector; fit E_true/E_raw.

    Particles have E log-uniform in 4–500 GeV and η uniform in (−2.5, 2.5). For each the
    closest candidate of its type (ΔR < 0.1) is used: electron raw energy = window +
    brem recovery, photon raw energy = window. Returns the calibrations and a summary
    (bin contents and the median E_reco/E_true after calibration).
    """
    tables = {}
    summary = {"n_particles": n_particles, "seed": seed}
    for name, pdg, offset in (("electron", 11, 0), ("photon", 22, 1)):
        abs_eta, raw, truth = _gun_candidates(pdg, n_particles, seed + offset)
        calib, counts = _fit_table(abs_eta, raw, truth)
        tables[name] = calib
        summary[name] = {
            "n_used": len(raw),
            "median_ereco_over_etrue_after": float(np.median(calib(abs_eta, raw) / truth)),
            "bin_counts": counts.tolist(),
        }
    return Calibrations(tables["electron"], tables["photon"]), summary


def main(argv: list[str] | None = None) -> int:
    """Derive the calibration and write it into the package data folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, default=60000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / DATA_FILE
    )
    args = parser.parse_args(argv)
    calib, summary = derive_calibration(args.particles, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "electron": calib.electron.to_json(),
        "photon": calib.photon.to_json(),
        "command": f"python -m egamma_cnn.sim.calibration --particles {args.particles} "
        f"--seed {args.seed}",
        "summary": summary,
    }
    write_json(payload, args.out)
    for name in ("electron", "photon"):
        print(
            f"{name}: median E_reco/E_true after calibration "
            f"{summary[name]['median_ereco_over_etrue_after']:.4f}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
