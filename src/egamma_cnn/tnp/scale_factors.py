"""Data/MC scale factors of the tag-and-probe efficiencies, as a correctionlib JSON.

SF = ε_data / ε_MC in every probe (η, E_T) bin, with
σ_SF = sqrt(σ_data² + SF² σ_MC²) / ε_MC (uncorrelated samples; each σ the larger side of
the efficiency's interval). :func:`write_correctionlib` writes them as one correctionlib
``Correction`` (schema v2) named ``"egamma_cnn_id_sf"`` whose inputs are

* ``ValType`` — ``"sf"``; ``"sfup"``/``"sfdown"`` (SF ± σ_total);
  ``"stat_up"``/``"stat_down"`` (SF ± σ_stat); ``"syst_up"``/``"syst_down"`` (SF ± σ_syst,
  0 without systematic sources); per source ``"<source>_up"``/``"<source>_down"`` (SF ±
  δ_s), with σ_stat = σ_SF above, δ_s = |SF_s − SF| of the variation s, σ_syst =
  sqrt(Σ_s δ_s²) and σ_total = sqrt(σ_stat² + σ_syst²) (:mod:`egamma_cnn.tnp.systematics`;
  the CMS e/γ convention of one symmetric uncertainty per source); a down variation
  is at least 0,
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
  ``sfdown`` 0 (1 ± 1, a 100 % uncertainty; every other up variation 2 and down 0),
  those bins listed in the correction's
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

__all__ = [
    "CORRECTION_NAME",
    "DEFINITIONS",
    "VALTYPES",
    "ScaleFactors",
    "scale_factors",
    "write_correctionlib",
]

#: Name of the correction in the JSON.
CORRECTION_NAME = "egamma_cnn_id_sf"


@dataclass
class ScaleFactors:
    """Scale factors of one working point on an (E_T, η) grid: ``value[et, eta]``.

    Attributes
    ----------
    working_point : str
        The probe ID.
    et_edges, eta_edges : numpy.ndarray
        The bin edges.
    value, error : numpy.ndarray
        SF and its statistical uncertainty σ_stat per bin (NaN: no SF).
    missing : list of tuple
        The bins without an SF, (E_T low, E_T high, η low, η high).
    sources : dict of str to numpy.ndarray
        Per systematic source δ_s = |SF_s − SF| per bin
        (:func:`egamma_cnn.tnp.systematics.with_systematics`); empty: no systematics.
    unvaried : dict of str to list of tuple
        Per source the bins with an SF whose variation gave none (δ_s = σ_stat there).
    """

    working_point: str
    et_edges: np.ndarray
    eta_edges: np.ndarray
    value: np.ndarray
    error: np.ndarray
    missing: list[tuple[float, float, float, float]] = field(default_factory=list)
    sources: dict[str, np.ndarray] = field(default_factory=dict)
    unvaried: dict[str, list[tuple[float, float, float, float]]] = field(default_factory=dict)

    @property
    def stat(self) -> np.ndarray:
        """σ_stat per bin (the same as ``error``)."""
        return self.error

    @property
    def syst(self) -> np.ndarray:
        """σ_syst = sqrt(Σ_s δ_s²) per bin: 0 without sources, NaN where no SF."""
        total = np.zeros_like(np.asarray(self.value, float))
        for delta in self.sources.values():
            total = total + np.asarray(delta, float) ** 2
        return np.where(np.isfinite(self.value), np.sqrt(total), np.nan)

    @property
    def total(self) -> np.ndarray:
        """σ_total = sqrt(σ_stat² + σ_syst²) per bin (NaN where no SF)."""
        return np.hypot(self.error, self.syst)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready table (NaN as None); with systematic sources also ``stat``,
        ``syst``, ``total``, ``sources`` (δ_s per source) and
        ``sources_without_variation`` (the bins of :attr:`unvaried`)."""
        table: dict[str, Any] = {
            "working_point": self.working_point,
            "et_edges": self.et_edges.tolist(),
            "eta_edges": self.eta_edges.tolist(),
            "sf": grid_to_json(self.value),
            "error": grid_to_json(self.error),
            "missing_bins": [list(m) for m in self.missing],
        }
        if self.sources:
            table["stat"] = grid_to_json(self.stat)
            table["syst"] = grid_to_json(self.syst)
            table["total"] = grid_to_json(self.total)
            table["sources"] = {name: grid_to_json(d) for name, d in self.sources.items()}
            table["sources_without_variation"] = {
                name: [list(b) for b in self.unvaried.get(name, [])] for name in self.sources
            }
        return table

    def summary(self) -> dict[str, Any]:
        """The mean of the measured bin SFs, their inverse-variance weighted mean
        Σ(SF_i/σ_i²)/Σ(1/σ_i²) ± 1/√Σ(1/σ_i²) over the bins with a non-zero σ_stat, and
        the number of bins without an SF (None where there is nothing to average). With
        systematic sources also the mean σ_stat and σ_syst of the measured bins and per
        source the mean and largest δ_s and the number of its bins without a variation."""
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
        if self.sources:
            summary["mean_stat"] = float(error[measured].mean()) if measured.any() else None
            summary["mean_syst"] = float(self.syst[measured].mean()) if measured.any() else None
            summary["systematics"] = {
                name: {
                    "mean_delta": float(delta[measured].mean()) if measured.any() else None,
                    "max_delta": float(delta[measured].max()) if measured.any() else None,
                    "bins_without_variation": len(self.unvaried.get(name, [])),
                }
                for name, delta in self.sources.items()
            }
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


#: The ValTypes every file has: the SF and its combined, statistical and systematic
#: variations (per source ``"<source>_up"``/``"<source>_down"`` follow them).
VALTYPES = ("sf", "sfup", "sfdown", "stat_up", "stat_down", "syst_up", "syst_down")

#: The definitions of the ValTypes, written into the correction's description.
DEFINITIONS = (
    "ValType sf: SF = eff_data/eff_MC; stat_up/stat_down: SF +/- sigma_stat, "
    "sigma_stat = sqrt(sigma_data^2 + SF^2 sigma_MC^2)/eff_MC; <source>_up/<source>_down: "
    "SF +/- delta_s, delta_s = |SF_s - SF| with SF_s measured with the variation s "
    "(sigma_stat where the variation gives no SF); syst_up/syst_down: SF +/- sigma_syst, "
    "sigma_syst = sqrt(sum_s delta_s^2) (0 without sources); sfup/sfdown: SF +/- "
    "sqrt(sigma_stat^2 + sigma_syst^2). Every down variation is at least 0. Bins without "
    "a measured SF: 1, every up variation 2 and every down variation 0."
)


def _source_names(items: Sequence[ScaleFactors]) -> list[str]:
    """The systematic sources shared by every working point (else an error)."""
    names = list(items[0].sources)
    for sf in items[1:]:
        if set(sf.sources) != set(names):
            raise ValueError(
                f"the working points {items[0].working_point!r} and {sf.working_point!r} "
                f"have different systematic sources ({sorted(names)} and "
                f"{sorted(sf.sources)}): one correction needs the same ValTypes for all"
            )
    return names


def _contents(sf: ScaleFactors, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Per ValType the grid written: a bin without an SF is 1, its ups 2, its downs 0."""
    measured = np.isfinite(sf.value)
    value = np.where(measured, sf.value, 1.0)
    widths = {"": sf.total, "stat_": sf.stat, "syst_": sf.syst}
    widths.update({f"{name}_": sf.sources[name] for name in names})
    contents = {"sf": value}
    for prefix, width in widths.items():
        width = np.where(measured, width, 1.0)
        up, down = (f"{prefix}up", f"{prefix}down") if prefix else ("sfup", "sfdown")
        contents[up] = value + width
        contents[down] = np.maximum(value - width, 0.0)
    return contents


def write_correctionlib(
    factors: Mapping[str, ScaleFactors] | Sequence[ScaleFactors],
    path: str | Path,
    description: str = "",
    *,
    eta_variable: str = "eta",
    et_variable: str = "E_T",
) -> Path:
    """Write the scale factors of every working point as a correctionlib JSON (v2).

    Returns the path; the file is validated by correctionlib's schema before it is
    written. The ValTypes are :data:`VALTYPES` and per systematic source (the
    :attr:`ScaleFactors.sources`, the same for every working point)
    ``"<source>_up"``/``"<source>_down"``; their definitions (:data:`DEFINITIONS`), the
    sources, ``description`` and the bins without an SF or without a variation are the
    correction's description. Out of range, NaN, and bins without an SF: the module
    docstring. ``eta_variable`` and ``et_variable`` say which η and E_T the inputs are
    (the configuration's ``probe_eta_field``, e.g. the supercluster η ``eta + deltaEtaSC``
    of CMS NanoAOD, and ``probe_et_field``): a user evaluates the file with those.

    Raises
    ------
    ValueError
        No scale factors, or working points with different systematic sources.
    """
    items = list(factors.values()) if isinstance(factors, Mapping) else list(factors)
    if not items:
        raise ValueError("no scale factors to write")
    names = _source_names(items)
    valtypes = [*VALTYPES, *(f"{name}_{side}" for name in names for side in ("up", "down"))]
    contents = {sf.working_point: _contents(sf, names) for sf in items}

    def binning(sf: ScaleFactors, kind: str) -> Any:
        content = contents[sf.working_point][kind]
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
        for name, bins in sf.unvaried.items():
            if bins:
                notes.append(
                    f"{sf.working_point}: {len(bins)} bins where the variation {name} gives "
                    "no SF (delta = sigma_stat)"
                )
    missing_text = "; ".join(notes)
    sources_text = f" Sources: {', '.join(names)}." if names else ""
    correction = cs.Correction(
        name=CORRECTION_NAME,
        version=1,
        description=(
            "egamma-cnn tag-and-probe scale factors data/MC of the probe IDs (identification, "
            "isolation or trigger criteria). "
            + DEFINITIONS
            + sources_text
            + (" " + description if description else "")
            + (" " + missing_text if missing_text else "")
        ).strip(),
        inputs=[
            cs.Variable(name="ValType", type="string", description=", ".join(valtypes)),
            cs.Variable(name="WorkingPoint", type="string", description="the probe ID"),
            cs.Variable(
                name="eta",
                type="real",
                description=f"probe eta, the probe's {eta_variable}; outside the eta edges "
                "or NaN: an error",
            ),
            cs.Variable(
                name="et",
                type="real",
                description=f"probe E_T [GeV], the probe's {et_variable}; above the last "
                "edge the last bin; below the first edge or NaN: an error",
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
                for kind in valtypes
            ],
        ),
    )
    return write_correction(correction, path)
