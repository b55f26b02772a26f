"""Data/MC scale factors of the tag-and-probe efficiencies, as a correctionlib JSON.

SF = ε_data / ε_MC in every probe (η, E_T) bin, with
σ_SF = sqrt(σ_data² + SF² σ_MC²) / ε_MC (uncorrelated samples; each σ the larger side of
the efficiency's interval). :func:`write_correctionlib` writes them as one correctionlib
``Correction`` (schema v2) named ``"egamma_cnn_id_sf"`` whose inputs are

* ``ValType`` — ``"sf"``, ``"sfup"`` (SF + σ) or ``"sfdown"`` (SF − σ),
* ``WorkingPoint`` — the probe ID, e.g. ``"cnn_tight"``,
* ``eta`` — the probe η (signed), ``et`` — its E_T (GeV),

so that ``correctionlib.CorrectionSet.from_file(path)["egamma_cnn_id_sf"].evaluate("sf",
"cnn_tight", eta, et)`` gives the weight. What it gives where nothing was measured:

* **E_T above the last edge**: the SF of the last E_T bin (the last bin is open, its
  upper edge ``inf``, as published scale-factor maps are) — an extrapolation the
  measurement does not cover;
* **E_T below the first edge, η outside the η edges (the acceptance), a NaN or an
  infinite η or E_T, an unknown working point or ValType**: an error (correctionlib
  raises ``RuntimeError`` ``Index below/above bounds in Binning ...``; ``flow="error"``
  on both axes). No value is made up for a candidate the measurement does not cover;
* **a bin without a measured SF** — data or MC has no efficiency (no signal, a failed
  fit), MC's efficiency is 0, or an efficiency rests on a background-subtracted yield
  that came out negative and was set to 0 (status ``"negative yield set to 0 in the
  ratio"``, typically the crack bin with few probes): ``sf`` 1, ``sfup`` 2 and
  ``sfdown`` 0 (1 ± 1, a 100 % uncertainty), those bins listed in the correction's
  description and in :attr:`ScaleFactors.missing` (and ``missing_bins`` of
  ``scale_factors_table.json``) — a defined, visible value, never a silent 0;
* **a measured SF of 0** (no data probe passes, MC probes do, with plain counts): the
  measurement, kept with its uncertainty, and named in the description.
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
    ok = np.zeros(value.shape, bool)
    for e in efficiencies:
        i = int(np.searchsorted(et_edges, e.et_low))
        j = int(np.searchsorted(eta_edges, e.eta_low))
        value[i, j] = e.efficiency
        error[i, j] = e.error
        ok[i, j] = e.status == "ok"
    return et_edges, eta_edges, value, error, ok


def scale_factors(
    data: Sequence[BinEfficiency], mc: Sequence[BinEfficiency], working_point: str
) -> ScaleFactors:
    """SF = ε_data/ε_MC per bin (see the module docstring) from :func:`measure` outputs.

    A bin is without an SF (NaN, listed in ``missing``) where either efficiency is
    undefined or not of status ``"ok"``, or ε_MC is 0.
    """
    et_d, eta_d, eff_d, err_d, ok_d = _grid(data)
    et_m, eta_m, eff_m, err_m, ok_m = _grid(mc)
    if not (np.array_equal(et_d, et_m) and np.array_equal(eta_d, eta_m)):
        raise ValueError("data and MC efficiencies have different binnings")
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = eff_d / eff_m
        # σ_SF = sqrt(σ_d² + SF² σ_m²) / ε_MC: also defined for a measured ε_data = 0
        error = np.sqrt(err_d**2 + sf**2 * err_m**2) / eff_m
    bad = ~np.isfinite(sf) | ~np.isfinite(error) | (eff_m <= 0) | ~ok_d | ~ok_m
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
    written. Out of range, NaN, and bins without an SF: the module docstring.
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
        # E_T: the last bin open (upper edge inf); below the first edge, NaN: an error
        et_edges = [*sf.et_edges.tolist(), "inf"]
        return cs.Binning(
            nodetype="binning",
            input="eta",
            edges=sf.eta_edges.tolist(),
            content=[
                cs.Binning(
                    nodetype="binning",
                    input="et",
                    edges=et_edges,
                    content=[float(v) for v in (*column, column[-1])],
                    flow="error",
                )
                for column in content.T  # per η bin, the SFs versus E_T
            ],
            flow="error",
        )

    notes = []
    for sf in items:
        if sf.missing:
            missing = len(sf.missing)
            notes.append(f"{sf.working_point}: {missing} bins without a measured SF (1 ± 1)")
        zero = int(np.sum(sf.value == 0.0))
        if zero:
            notes.append(f"{sf.working_point}: {zero} bins with a measured SF of 0")
    missing_text = "; ".join(notes)
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
            cs.Variable(
                name="eta",
                type="real",
                description="probe eta; outside the eta edges or NaN: an error",
            ),
            cs.Variable(
                name="et",
                type="real",
                description="probe E_T [GeV]; above the last edge the last bin; below "
                "the first edge or NaN: an error",
            ),
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
