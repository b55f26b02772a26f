"""``egamma-cnn tnp``: the tag-and-probe processor over a fileset, to SFs, tables and plots.

:func:`run_tnp` reads a fileset (coffea's format: ``{dataset: {"files": {path: tree},
"metadata": {"is_data": bool}}}``), runs
``egamma_cnn.processors.tag_and_probe.TagAndProbeProcessor`` on it with coffea's dataset
tools and dask (a progress bar on the terminal), adds the histograms of all data
datasets and of all simulated ones (with their event weights only: several simulated
processes must carry weights already normalised to their cross sections), and writes into
the output folder:

* ``histograms.root`` — per sample (data, mc), ID and pass/fail the opposite-charge
  m_ee × E_T × η histograms (TH3D, readable by ROOT and uproot);
* ``efficiencies.json`` — every bin's efficiency (data, MC, MC truth-matched), with its
  method, uncertainty and status, and the E_T and η projections;
* ``scale_factors.json`` — the correctionlib JSON (:mod:`.scale_factors`) and
  ``scale_factors_table.json`` with the same numbers and the bins without an SF;
* ``efficiency_<id>_et.png``, ``efficiency_<id>_eta.png``, ``sf_<id>.png`` and, for
  fits, ``fits_<sample>_<id>.png``;
* ``config.json`` — the configuration that made them.

A file that cannot be opened is reported by name and left out (``skip_bad_files``);
``summary.json`` counts per dataset the pairs whose probe lies outside the E_T × η
binning (not measured; the scale factors clamp to the edge bins there).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import uproot
from coffea.nanoevents import NanoAODSchema

from egamma_cnn.execution import dataset_kind
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.efficiency import measure, truth_efficiency
from egamma_cnn.tnp.plots import plot_efficiency, plot_fits, plot_scale_factors
from egamma_cnn.tnp.scale_factors import scale_factors, write_correctionlib
from egamma_cnn.workflows.common import run_processor

__all__ = ["NANOAOD_SCHEMA", "run_tnp"]

#: The schema of standard CMS NanoAOD (``egamma-cnn tnp --nanoaod``).
NANOAOD_SCHEMA = NanoAODSchema


def run_tnp(
    fileset: Mapping[str, Any],
    out_dir: str | Path,
    config: TnPConfig | None = None,
    *,
    method: str = "count",
    signal: str = "template",
    background: str = "exponential",
    interval: str = "clopper-pearson",
    schemaclass: Any = None,
    step_size: int | None = None,
    scheduler: Any = None,
    settings: Any = None,
) -> dict[str, Any]:
    """Run the tag-and-probe and write every output (module docstring); returns a summary.

    ``settings``: the :class:`~egamma_cnn.execution.ExecutionSettings` (executor,
    retries, permission to skip bad files); ``step_size`` overrides its chunk size.
    """
    config = config or TnPConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(config.to_json())
    run = run_processor(
        TagAndProbeProcessor(config),
        fileset,
        schemaclass=schemaclass,
        step_size=step_size,
        scheduler=scheduler,
        settings=settings,
    )
    results, skipped = run.outputs, run.skipped_files

    samples: dict[str, Any] = {}
    counts: dict[str, dict[str, int]] = {}
    for name, result in results.items():
        kind = dataset_kind(fileset, name)
        samples[kind] = (
            result["histogram"] if kind not in samples else samples[kind] + result["histogram"]
        )
        # axes of one ID: passing, mass, et, eta, opposite, truth; et and η carry an
        # under- and an overflow bin: probes there are outside the binning
        values = np.asarray(result["histogram"][{"id": 0}].view(flow=True)["value"])
        outside = float(values.sum() - values[:, :, 1:-1, 1:-1].sum())
        counts[name] = {
            "kind": kind,
            "events": int(result["events"]),
            "pairs": int(result["pairs"]),
            "pairs_outside_the_binning": round(outside),
        }
    summary: dict[str, Any] = {
        "datasets": counts,
        "skipped_files": skipped,
        "left_out": run.report(),
        "method": method,
    }
    _write_root(samples, config, out_dir / "histograms.root")

    tables: dict[str, Any] = {}
    factors = {}
    options = {"signal": signal, "background": background, "interval": interval}
    for probe_id in config.probe_id:
        safe = file_name(probe_id)
        entry: dict[str, Any] = {}
        curves: dict[str, dict[str, list]] = {"et": {}, "eta": {}}
        measured = {}
        for kind, histogram in samples.items():
            fits: dict = {}
            kwargs = dict(method=method, mc_histogram=samples.get("mc"), **options)
            if method == "fit" and samples.get("mc") is None and signal == "template":
                kwargs["signal"] = "bwcb"  # no simulation for templates: analytic signal
            bins = measure(histogram, probe_id, fits=fits, **kwargs)
            measured[kind] = bins
            entry[kind] = [b.to_dict() for b in bins]
            for projection in ("et", "eta"):
                projected = measure(histogram, probe_id, projection=projection, **kwargs)
                entry[f"{kind}_{projection}"] = [b.to_dict() for b in projected]
                curves[projection][{"data": "data", "mc": "MC"}[kind]] = projected
            if method == "fit":
                edges = np.asarray(histogram.axes["mass"].edges)
                n_eta = len(config.eta_edges) - 1
                for i in range(len(config.et_edges) - 1):
                    low, high = config.et_edges[i], config.et_edges[i + 1]
                    page = {key: fits[key] for key in list(fits)[i * n_eta : (i + 1) * n_eta]}
                    plot_fits(
                        page,
                        bins[i * n_eta : (i + 1) * n_eta],
                        edges,
                        out_dir / f"fits_{kind}_{safe}_et{low:g}-{high:g}.png",
                        title=f"{kind}: {probe_id}, probe E_T {low:g}–{high:g} GeV",
                    )
            missing = [b for b in bins if math.isnan(b.efficiency)]
            flagged = [b for b in bins if b.status != "ok" and not math.isnan(b.efficiency)]
            if missing:
                print(
                    f"{probe_id} {kind}: {len(missing)} of {len(bins)} bins without an "
                    f"efficiency (e.g. {missing[0].status}) — see efficiencies.json"
                )
            if flagged:
                print(
                    f"{probe_id} {kind}: {len(flagged)} bins flagged "
                    f"(e.g. {flagged[0].status}) — see efficiencies.json"
                )
        if "mc" in samples and config.truth is not None:
            truth = truth_efficiency(samples["mc"], probe_id, interval=interval)
            entry["mc_truth"] = [b.to_dict() for b in truth]
            for projection in ("et", "eta"):
                projected = truth_efficiency(
                    samples["mc"], probe_id, interval=interval, projection=projection
                )
                entry[f"mc_truth_{projection}"] = [b.to_dict() for b in projected]
                if any(not math.isnan(b.efficiency) for b in projected):
                    curves[projection]["MC truth"] = projected
        for projection, curve in curves.items():
            if curve:
                plot_efficiency(
                    curve,
                    projection,
                    out_dir / f"efficiency_{safe}_{projection}.png",
                    title=f"{probe_id} ({method})",
                    reference="MC" if "MC" in curve else None,
                )
        if "data" in measured and "mc" in measured:
            factors[probe_id] = scale_factors(measured["data"], measured["mc"], probe_id)
            plot_scale_factors(factors[probe_id], out_dir / f"sf_{safe}.png")
        tables[probe_id] = entry
    (out_dir / "efficiencies.json").write_text(json.dumps(tables, indent=1))
    if factors:
        write_correctionlib(
            factors, out_dir / "scale_factors.json", description=f"method {method}."
        )
        (out_dir / "scale_factors_table.json").write_text(
            json.dumps({k: v.to_dict() for k, v in factors.items()}, indent=1)
        )
        summary["scale_factors"] = {k: _sf_summary(v) for k, v in factors.items()}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _sf_summary(factors: Any) -> dict[str, Any]:
    """The unweighted mean of the bin SFs and their inverse-variance weighted mean ± error
    (the bins with a measured, non-zero uncertainty)."""
    value, error = np.asarray(factors.value, float), np.asarray(factors.error, float)
    measured = np.isfinite(value)
    weighted = measured & np.isfinite(error) & (error > 0)
    summary: dict[str, Any] = {
        "mean": float(value[measured].mean()) if measured.any() else None,
        "weighted_mean": None,
        "weighted_mean_error": None,
        "missing_bins": len(factors.missing),
    }
    if weighted.any():
        w = 1.0 / error[weighted] ** 2
        summary["weighted_mean"] = float(np.sum(w * value[weighted]) / w.sum())
        summary["weighted_mean_error"] = float(1.0 / np.sqrt(w.sum()))
    return summary


def file_name(spec: str) -> str:
    """A file-name part for an ID specification: ``"ptvarcone30/pt < 0.15"`` →
    ``"ptvarcone30_over_ptlt0.15"``."""
    name = spec.replace(" and ", "_and_").replace(" ", "").replace("/", "_over_")
    for symbol, word in (
        (">=", "ge"),
        ("<=", "le"),
        (">", "gt"),
        ("<", "lt"),
        ("==", "eq"),
        ("!=", "ne"),
        ("&", "_and_"),
    ):
        name = name.replace(symbol, word)
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _write_root(samples: Mapping[str, Any], config: TnPConfig, path: Path) -> None:
    with uproot.recreate(path) as f:
        for kind, histogram in samples.items():
            for probe_id in config.probe_id:
                safe = "".join(c if c.isalnum() else "_" for c in probe_id)
                for passing in (True, False):
                    projection = histogram[
                        {"id": probe_id, "passing": passing, "opposite": True, "truth": sum}
                    ]
                    name = f"{kind}_{safe}_{'pass' if passing else 'fail'}"
                    f[name] = projection
