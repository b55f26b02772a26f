"""Cluster energy calibration derived from single electrons (MC-based, as in ATLAS).

The raw sliding-window energy misses what is deposited in the dead material in front
of the calorimeter, outside the window, and behind it. The calibration is the median
of E_true / E_raw in bins of |η_cluster| and E_raw, measured on single electrons shot
through the nominal (MC) detector, and applied as C(|η|, E_raw) · E_raw with linear
interpolation in log E_raw. It is stored as JSON in the package
(``egamma_cnn/data/cluster_calibration.json``) with the command that made it:

    python -m egamma_cnn.sim.calibration --electrons 60000 --seed 20261122

The data-like detector uses the same calibration, as real data use the MC-derived one:
its different response then shows up as a different energy scale.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["ClusterCalibration", "derive_calibration", "load_default_calibration"]

_DATA_FILE = "cluster_calibration.json"


@dataclass(frozen=True)
class ClusterCalibration:
    """Calibration table C(|η|, E_raw): ``factors[i_eta, i_energy]``."""

    abs_eta_edges: np.ndarray
    log_energy_centres: np.ndarray
    factors: np.ndarray

    def __call__(self, abs_eta: np.ndarray, energy_raw: np.ndarray) -> np.ndarray:
        """Calibrated energies C(|η|, E_raw)·E_raw (E_raw ≤ 0 is returned unchanged)."""
        abs_eta = np.asarray(abs_eta, np.float64)
        energy_raw = np.asarray(energy_raw, np.float64)
        i_eta = np.clip(np.searchsorted(self.abs_eta_edges, abs_eta, side="right") - 1, 0,
                        len(self.abs_eta_edges) - 2)
        log_e = np.log(np.maximum(energy_raw, 1e-3))
        x = self.log_energy_centres
        j = np.clip(np.searchsorted(x, log_e) - 1, 0, len(x) - 2)
        w = np.clip((log_e - x[j]) / (x[j + 1] - x[j]), 0.0, 1.0)
        c = (1.0 - w) * self.factors[i_eta, j] + w * self.factors[i_eta, j + 1]
        return np.where(energy_raw > 0, c * energy_raw, energy_raw)

    @classmethod
    def identity(cls) -> ClusterCalibration:
        """No correction (C = 1)."""
        return cls(np.array([0.0, 10.0]), np.log(np.array([1.0, 1000.0])), np.ones((1, 2)))

    def to_json(self) -> dict:
        """JSON-serialisable form."""
        return {
            "abs_eta_edges": self.abs_eta_edges.tolist(),
            "log_energy_centres": self.log_energy_centres.tolist(),
            "factors": self.factors.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict) -> ClusterCalibration:
        """Inverse of :meth:`to_json`; raises ``KeyError`` naming a missing field."""
        for key in ("abs_eta_edges", "log_energy_centres", "factors"):
            if key not in data:
                raise KeyError(f"cluster calibration JSON lacks the field {key!r}")
        return cls(
            np.asarray(data["abs_eta_edges"], np.float64),
            np.asarray(data["log_energy_centres"], np.float64),
            np.asarray(data["factors"], np.float64),
        )


def load_default_calibration() -> ClusterCalibration:
    """The calibration shipped with the package (identity if it was never derived)."""
    path = resources.files("egamma_cnn") / "data" / _DATA_FILE
    if not path.is_file():
        return ClusterCalibration.identity()
    return ClusterCalibration.from_json(json.loads(path.read_text()))


def derive_calibration(n_electrons: int, seed: int) -> tuple[ClusterCalibration, dict]:
    """Shoot single electrons through the MC detector and measure E_true/E_raw per bin.

    Electrons have E log-uniform in 4–500 GeV, η uniform in (−2.5, 2.5). The cluster
    closest to the true impact point (ΔR < 0.1) is used. Returns the calibration and a
    summary (bin contents, the residual median E_reco/E_true after calibration).
    """
    from egamma_cnn.sim.calorimeter import propagate_to_calorimeter, simulate_calorimeter
    from egamma_cnn.sim.detector import DetectorConfig
    from egamma_cnn.sim.gun import particle_gun
    from egamma_cnn.sim.material import apply_material
    from egamma_cnn.sim.reconstruction import find_clusters

    rng = np.random.default_rng(seed)
    energy = np.exp(rng.uniform(np.log(4.0), np.log(500.0), n_electrons))
    eta = rng.uniform(-2.5, 2.5, n_electrons)
    phi = rng.uniform(-np.pi, np.pi, n_electrons)
    pdg = np.where(rng.uniform(size=n_electrons) < 0.5, 11, -11)
    gun = particle_gun(pdg, energy, eta, phi)
    config = DetectorConfig.mc()
    mat = apply_material(gun, config, rng)
    p = mat.particles
    ok, ieta, iphi = propagate_to_calorimeter(
        mat.start_x, mat.start_y, mat.start_z, mat.start_phi, p.pt, p.pz, p.charge
    )
    seeds = rng.integers(0, 2**62, n_electrons, dtype=np.uint64)
    dep = simulate_calorimeter(p, ok, ieta, iphi, config, seeds)
    clusters = find_clusters(dep, config.noise_gev * config.noise_scale,
                             ClusterCalibration.identity())
    ev = np.repeat(np.arange(n_electrons), np.diff(clusters.offsets))
    dphi = (clusters.phi - phi[ev] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(clusters.eta - eta[ev], dphi)
    # closest cluster per event
    order = np.lexsort((dr, ev))
    first = order[np.concatenate([[True], np.diff(ev[order]) > 0])] if len(order) else order
    sel = first[dr[first] < 0.1]
    abs_eta = np.abs(clusters.eta[sel])
    raw = clusters.energy_raw[sel]
    truth = energy[ev[sel]]
    eta_edges = np.round(np.arange(0.0, 2.55, 0.1), 3)
    e_centres = np.array([5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0])
    e_edges = np.sqrt(e_centres[1:] * e_centres[:-1])
    i_eta = np.clip(np.searchsorted(eta_edges, abs_eta, side="right") - 1, 0, len(eta_edges) - 2)
    i_e = np.searchsorted(e_edges, raw)
    factors = np.ones((len(eta_edges) - 1, len(e_centres)))
    counts = np.zeros_like(factors, dtype=np.int64)
    ratio = truth / np.maximum(raw, 1e-6)
    for a in range(factors.shape[0]):
        for b in range(factors.shape[1]):
            m = (i_eta == a) & (i_e == b)
            counts[a, b] = m.sum()
            if m.sum() >= 20:
                factors[a, b] = float(np.median(ratio[m]))
            elif b > 0:
                factors[a, b] = factors[a, b - 1]
    calib = ClusterCalibration(eta_edges, np.log(e_centres), factors)
    closure = np.median(calib(abs_eta, raw) / truth)
    summary = {"n_electrons": n_electrons, "seed": seed, "n_clusters_used": int(len(sel)),
               "median_ereco_over_etrue_after": float(closure), "bin_counts": counts.tolist()}
    return calib, summary


def main(argv: list[str] | None = None) -> int:
    """Derive the calibration and write it into the package data folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--electrons", type=int, default=60000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "data" / _DATA_FILE)
    args = parser.parse_args(argv)
    calib, summary = derive_calibration(args.electrons, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **calib.to_json(),
        "command": f"python -m egamma_cnn.sim.calibration --electrons {args.electrons} "
        f"--seed {args.seed}",
        "summary": summary,
    }
    args.out.write_text(json.dumps(payload, indent=1))
    print(f"wrote {args.out}: median E_reco/E_true after calibration "
          f"{summary['median_ereco_over_etrue_after']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
