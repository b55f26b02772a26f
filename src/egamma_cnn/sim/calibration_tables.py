"""Cluster energy calibration tables: C(|η|, E_raw), applied as C · E_raw.

The raw energy of a cluster misses what is deposited in the dead material in front of
the calorimeter, outside the window, and behind it. A calibration table holds the median
of E_true / E_raw in bins of |η_cluster| and E_raw (MC-based, as in ATLAS), applied with
linear interpolation in log E_raw; there is one table for electrons (raw = window + brem
recovery) and one for photons (raw = window). The tables shipped with the package
(``egamma_cnn/data/cluster_calibration.json``) are derived by :mod:`.calibration`; the
production (:mod:`.production`) applies them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = [
    "DATA_FILE",
    "Calibrations",
    "ClusterCalibration",
    "load_default_calibration",
]

#: Name of the shipped calibration file in the package's ``data`` folder.
DATA_FILE = "cluster_calibration.json"


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
        i_eta = np.clip(
            np.searchsorted(self.abs_eta_edges, abs_eta, side="right") - 1,
            0,
            len(self.abs_eta_edges) - 2,
        )
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


@dataclass(frozen=True)
class Calibrations:
    """The electron (window + brem recovery) and photon (window) calibrations."""

    electron: ClusterCalibration
    photon: ClusterCalibration

    @classmethod
    def identity(cls) -> Calibrations:
        """No correction for either."""
        return cls(ClusterCalibration.identity(), ClusterCalibration.identity())


def load_default_calibration() -> Calibrations:
    """The calibrations shipped with the package (identity if never derived)."""
    path = resources.files("egamma_cnn") / "data" / DATA_FILE
    if not path.is_file():
        return Calibrations.identity()
    data = json.loads(path.read_text())
    for key in ("electron", "photon"):
        if key not in data:
            raise KeyError(f"{path}: no {key!r} calibration table")
    return Calibrations(
        ClusterCalibration.from_json(data["electron"]), ClusterCalibration.from_json(data["photon"])
    )
