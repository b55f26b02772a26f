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

from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.efficiency import measure, truth_efficiency
from egamma_cnn.tnp.scale_factors import scale_factors, write_correctionlib

__all__ = ["load_fileset", "run_tnp"]


def load_fileset(path: str | Path) -> dict[str, Any]:
    """Read a fileset JSON and decide for each dataset whether it is data.

    ``metadata.is_data`` is used where given; otherwise an egamma-cnn sample's own
    provenance (``is_data`` in its ``egamma_cnn_metadata``) decides. A dataset with
    neither is an error that says to add ``"metadata": {"is_data": ...}``.
    """
    from egamma_cnn.sim.writer import read_metadata

    path = Path(path)
    try:
        fileset = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable fileset JSON ({err})") from None
    if not isinstance(fileset, dict) or not fileset:
        raise ValueError(f"{path}: a fileset is a JSON object {{dataset: {{'files': ...}}}}")
    for name, spec in fileset.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("files"), dict | list):
            raise ValueError(f"{path}: dataset {name!r} needs 'files' (path → tree name)")
        if isinstance(spec["files"], list):
            spec["files"] = {f: "Events" for f in spec["files"]}
        spec["files"] = {
            str((path.parent / f).resolve()) if not Path(f).is_absolute() and "://" not in f
            else f: tree
            for f, tree in spec["files"].items()
        }  # fmt: skip
        metadata = spec.setdefault("metadata", {})
        if "is_data" not in metadata:
            flags = set()
            for file in spec["files"]:
                try:
                    flags.add(bool(read_metadata(file).get("is_data", False)))
                except Exception:
                    flags.add(None)
            if len(flags) != 1 or None in flags:
                raise ValueError(
                    f"{path}: dataset {name!r}: say whether it is data with "
                    '"metadata": {"is_data": true|false} (its files do not say it alike)'
                )
            metadata["is_data"] = flags.pop()
    return fileset


def _compute(graph: Any, scheduler: Any) -> Any:
    import dask

    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None and scheduler is None:
        from distributed import progress

        futures = client.compute(graph)
        progress(futures)
        print()
        return futures.result()
    from dask.diagnostics import ProgressBar

    with ProgressBar():
        (out,) = dask.compute(graph, scheduler=scheduler)
    return out


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
    step_size: int = 20_000,
    scheduler: Any = None,
) -> dict[str, Any]:
    """Run the tag-and-probe and write every output (module docstring); returns a summary."""
    from coffea.dataset_tools import apply_to_fileset, preprocess

    from egamma_cnn.nanoevents import EGammaSchema
    from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor

    config = config or TnPConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(config.to_json())
    runnable, _ = preprocess(
        dict(fileset), step_size=step_size, skip_bad_files=True, allow_empty_datasets=True
    )
    runnable = {name: spec for name, spec in runnable.items() if spec.get("files")}
    skipped = sorted(
        f for name, spec in fileset.items() for f in spec["files"]
        if f not in runnable.get(name, {}).get("files", {})
    )  # fmt: skip
    for file in skipped:
        print(f"skipped {file}: it cannot be opened")
    if not runnable:
        raise ValueError(f"none of the files can be opened: {skipped}")
    graph = apply_to_fileset(
        TagAndProbeProcessor(config), runnable, schemaclass=schemaclass or EGammaSchema
    )
    out = _compute(graph, scheduler)

    samples: dict[str, Any] = {}
    counts: dict[str, dict[str, int]] = {}
    for name in runnable:
        result = out[name][name]
        is_data = fileset[name].get("metadata", {}).get("is_data")
        if not isinstance(is_data, bool):
            raise ValueError(
                f"dataset {name!r}: metadata.is_data must be true or false, not {is_data!r} "
                "(load_fileset fills it from egamma-cnn files)"
            )
        kind = "data" if is_data else "mc"
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
    summary: dict[str, Any] = {"datasets": counts, "skipped_files": skipped, "method": method}
    _write_root(samples, config, out_dir / "histograms.root")

    from egamma_cnn.tnp.plots import plot_efficiency, plot_fits, plot_scale_factors

    tables: dict[str, Any] = {}
    factors = {}
    options = {"signal": signal, "background": background, "interval": interval}
    for probe_id in config.probe_id:
        safe = probe_id.replace(" ", "").replace(">=", "ge").replace("<=", "le").replace(">", "gt")
        safe = safe.replace("<", "lt").replace("==", "eq").replace("!=", "ne")
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
                        page, bins[i * n_eta : (i + 1) * n_eta], edges,
                        out_dir / f"fits_{kind}_{safe}_et{low:g}-{high:g}.png",
                        title=f"{kind}: {probe_id}, probe E_T {low:g}–{high:g} GeV",
                    )  # fmt: skip
            missing = [b for b in bins if math.isnan(b.efficiency)]
            flagged = [b for b in bins if b.status != "ok" and not math.isnan(b.efficiency)]
            if missing:
                print(f"{probe_id} {kind}: {len(missing)} of {len(bins)} bins without an "
                      f"efficiency (e.g. {missing[0].status}) — see efficiencies.json")  # fmt: skip
            if flagged:
                print(f"{probe_id} {kind}: {len(flagged)} bins flagged "
                      f"(e.g. {flagged[0].status}) — see efficiencies.json")  # fmt: skip
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
                    curve, projection, out_dir / f"efficiency_{safe}_{projection}.png",
                    title=f"{probe_id} ({method})",
                    reference="MC" if "MC" in curve else None,
                )  # fmt: skip
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
        summary["scale_factors"] = {
            k: {
                "mean": float(np.nanmean(v.value)) if np.isfinite(v.value).any() else None,
                "missing_bins": len(v.missing),
            }
            for k, v in factors.items()
        }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _write_root(samples: Mapping[str, Any], config: TnPConfig, path: Path) -> None:
    import uproot

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
