"""Data/MC scale factors of the tag-and-probe efficiencies, as a correctionlib JSON.

SF = ε_data / ε_MC in every probe (η, E_T) bin, with
σ_SF = sqrt(σ_data² + SF² σ_MC²) / ε_MC (uncorrelated samples; each σ the larger side of
the efficiency's interval). :func:`write_correctionlib` writes them as one correctionlib
``Correction`` (schema v2) named ``"egamma_cnn_id_sf"`` whose inputs are

* ``ValType`` — ``"sf"``, ``"sfup"`` (SF + σ) or ``"sfdown"`` (SF − σ),
* ``WorkingPoint`` — the probe ID, e.g. ``"cnn_tight"``,
* ``eta`` — the probe η (signed), ``et`` — its E_T (GeV),

so that ``correctionlib.CorrectionSet.from_file(path)["egamma_cnn_id_sf"].evaluate("sf",
"cnn_tight", eta, et)`` gives the weight. Outside the binning the edge bins are used
(``flow="clamp"``): an electron above the last E_T edge gets the SF of the last E_T bin,
an extrapolation the measurement does not cover. A bin where data or MC has no
efficiency (no signal, a failed fit) has no measured SF: it is written as 1 with
``sfup`` 2 and ``sfdown`` 0 (a 100 % uncertainty), and listed in the correction's description and in
:attr:`ScaleFactors.missing` — a defined, visible value, never an invented one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import correctionlib.schemav2 as cs
import numpy as np

from egamma_cnn.corrections.writing import grid_to_json, write_correction
from egamma_cnn.tnp.efficiency import BinEfficiency

__all__ = ["CORRECTION_NAME", "ScaleFactors", "scale_factors", "write_correctionlib"]

#: Name of the correction in the JSON.
CORRECTION_NAME = "egamma_cnn_id_sf"


@dataclass
class ScaleFactors:
    """Scale factors of one working point on an (E_T, η) grid: ``value[et, eta]``."""

    working_point: str
    et_edges: np.ndarray
    eta_edges: np.ndarray
    value: np.ndarray
    error: np.ndarray
    missing: list[tuple[float, float, float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready table (NaN as None)."""
        return {
            "working_point": self.working_point,
            "et_edges": self.et_edges.tolist(),
            "eta_edges": self.eta_edges.tolist(),
            "sf": grid_to_json(self.value),
            "error": grid_to_json(self.error),
            "missing_bins": [list(m) for m in self.missing],
        }

    def summary(self) -> dict[str, Any]:
        """The mean of the measured bin SFs, their inverse-variance weighted mean
        Σ(SF_i/σ_i²)/Σ(1/σ_i²) ± 1/√Σ(1/σ_i²) over the bins with a non-zero σ, and the
        number of bins without an SF (None where there is nothing to average)."""
        value, error = np.asarray(self.value, float), np.asarray(self.error, float)
        measured = np.isfinite(value)
        weighted = measured & np.isfinite(error) & (error > 0)
        summary: dict[str, Any] = {
            "mean": float(value[measured].mean()) if measured.any() else None,
            "weighted_mean": None,
            "weighted_mean_error": None,
            "missing_bins": len(self.missing),
        }
        if weighted.any():
            w = 1.0 / error[weighted] ** 2
            summary["weighted_mean"] = float(np.sum(w * value[weighted]) / w.sum())
            summary["weighted_mean_error"] = float(1.0 / np.sqrt(w.sum()))
        return summary


def _grid(efficiencies: Sequence[BinEfficiency]):
    et_edges = np.unique([e.et_low for e in efficiencies] + [e.et_high for e in efficiencies])
    eta_edges = np.unique([e.eta_low for e in efficiencies] + [e.eta_high for e in efficiencies])
    if np.isnan(et_edges).any() or np.isnan(eta_edges).any():
        raise ValueError(
            "scale factors need the efficiencies of every (E_T, η) bin, not a projection"
        )
    value = np.full((len(et_edges) - 1, len(eta_edges) - 1), np.nan)
    error = np.full_like(value, np.nan)
    for e in efficiencies:
        i = int(np.searchsorted(et_edges, e.et_low))
        j = int(np.searchsorted(eta_edges, e.eta_low))
        value[i, j] = e.efficiency
        error[i, j] = e.error
    return et_edges, eta_edges, value, error


def scale_factors(
    data: Sequence[BinEfficiency], mc: Sequence[BinEfficiency], working_point: str
) -> ScaleFactors:
    """SF = ε_data/ε_MC per bin (see the module docstring) from :func:`measure` outputs."""
    et_d, eta_d, eff_d, err_d = _grid(data)
    et_m, eta_m, eff_m, err_m = _grid(mc)
    if not (np.array_equal(et_d, et_m) and np.array_equal(eta_d, eta_m)):
        raise ValueError("data and MC efficiencies have different binnings")
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = eff_d / eff_m
        # σ_SF = sqrt(σ_d² + SF² σ_m²) / ε_MC: also defined for a measured ε_data = 0
        error = np.sqrt(err_d**2 + sf**2 * err_m**2) / eff_m
    bad = ~np.isfinite(sf) | ~np.isfinite(error) | (eff_m <= 0)
    sf[bad] = np.nan
    error[bad] = np.nan
    missing = [
        (float(et_d[i]), float(et_d[i + 1]), float(eta_d[j]), float(eta_d[j + 1]))
        for i, j in zip(*np.nonzero(bad), strict=True)
    ]
    return ScaleFactors(working_point, et_d, eta_d, sf, error, missing)


def write_correctionlib(
    factors: Mapping[str, ScaleFactors] | Sequence[ScaleFactors],
    path: str | Path,
    description: str = "",
) -> Path:
    """Write the scale factors of every working point as a correctionlib JSON (v2).

    Returns the path; the file is validated by correctionlib's schema before it is
    written.
    """
    items = list(factors.values()) if isinstance(factors, Mapping) else list(factors)
    if not items:
        raise ValueError("no scale factors to write")

    def binning(sf: ScaleFactors, kind: str) -> Any:
        value = np.where(np.isnan(sf.value), 1.0, sf.value)
        error = np.where(np.isnan(sf.error), 1.0, sf.error)
        content = {"sf": value, "sfup": value + error, "sfdown": np.maximum(value - error, 0.0)}[
            kind
        ]
        return cs.MultiBinning(
            nodetype="multibinning",
            inputs=["eta", "et"],
            edges=[sf.eta_edges.tolist(), sf.et_edges.tolist()],
            content=[float(v) for v in content.T.ravel()],  # η outer, E_T inner
            flow="clamp",
        )

    missing_text = "; ".join(
        f"{sf.working_point}: {len(sf.missing)} bins without a measured SF (1 ± 1)"
        for sf in items
        if sf.missing
    )
    correction = cs.Correction(
        name=CORRECTION_NAME,
        version=1,
        description=(
            "egamma-cnn tag-and-probe identification scale factors data/MC. "
            + description
            + (" " + missing_text if missing_text else "")
        ).strip(),
        inputs=[
            cs.Variable(name="ValType", type="string", description="sf, sfup or sfdown"),
            cs.Variable(name="WorkingPoint", type="string", description="the probe ID"),
            cs.Variable(name="eta", type="real", description="probe eta"),
            cs.Variable(name="et", type="real", description="probe E_T [GeV]"),
        ],
        output=cs.Variable(name="weight", type="real", description="scale factor"),
        data=cs.Category(
            nodetype="category",
            input="ValType",
            content=[
                cs.CategoryItem(
                    key=kind,
                    value=cs.Category(
                        nodetype="category",
                        input="WorkingPoint",
                        content=[
                            cs.CategoryItem(key=sf.working_point, value=binning(sf, kind))
                            for sf in items
                        ],
                    ),
                )
                for kind in ("sf", "sfup", "sfdown")
            ],
        ),
    )
    return write_correction(correction, path)
