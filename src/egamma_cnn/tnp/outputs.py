"""The files of a tag-and-probe result (:class:`~egamma_cnn.tnp.analysis.TnPResult`).

:func:`write_outputs` writes into a folder

* ``histograms.root`` — per sample (data, mc), ID and pass/fail the opposite-charge
  m_ee × E_T × η histograms, truth summed over (TH3D, readable by ROOT and uproot),
  named ``<sample>_<ID>_pass`` / ``_fail`` (:func:`root_name`);
* ``efficiencies.json`` — every bin's efficiency (data, MC, MC truth-matched) with its
  method, uncertainty and status, and the E_T and η projections;
* ``scale_factors.json`` — with data and simulation, the correctionlib JSON of the
  scale factors (:func:`egamma_cnn.tnp.scale_factors.write_correctionlib`), and
  ``scale_factors_table.json`` with the same numbers and the bins without an SF;
* ``summary.json`` — per dataset the events, pairs and pairs outside the binning, what
  the run left out, the method and per ID the mean and weighted mean SF;
* ``config.json`` — the configuration that made them.

The plots are :func:`egamma_cnn.tnp.plots.plot_all`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import uproot

from egamma_cnn.jsonio import write_json, write_text
from egamma_cnn.tnp.analysis import TnPResult
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.scale_factors import write_correctionlib

__all__ = ["file_name", "root_name", "write_outputs", "write_root"]


def file_name(spec: str) -> str:
    """A file-name part for an ID specification: ``"ptvarcone30/pt < 0.15"`` →
    ``"ptvarcone30_over_ptlt0.15"`` (the plots' names)."""
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


def root_name(sample: str, probe_id: str, passing: bool) -> str:
    """The name of a histogram in ``histograms.root``: ``"mc_cutBased___4_pass"`` (every
    character of the ID other than a letter or digit becomes ``_``)."""
    safe = "".join(c if c.isalnum() else "_" for c in probe_id)
    return f"{sample}_{safe}_{'pass' if passing else 'fail'}"


def write_root(samples: Mapping[str, Any], config: TnPConfig, path: str | Path) -> Path:
    """The opposite-charge pass and fail m_ee × E_T × η histograms of every sample and ID."""
    path = Path(path)
    with uproot.recreate(path) as f:
        for sample, histogram in samples.items():
            for probe_id in config.probe_id:
                for passing in (True, False):
                    selection = {"id": probe_id, "passing": passing, "opposite": True}
                    f[root_name(sample, probe_id, passing)] = histogram[{**selection, "truth": sum}]
    return path


def write_outputs(result: TnPResult, out_dir: str | Path) -> list[Path]:
    """Write the files of the module docstring into ``out_dir`` (created); their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        write_text(result.config.to_json(), out_dir / "config.json"),
        write_root(result.samples, result.config, out_dir / "histograms.root"),
        write_json(result.efficiency_table(), out_dir / "efficiencies.json"),
    ]
    if result.scale_factors:
        written.append(
            write_correctionlib(
                result.scale_factors,
                out_dir / "scale_factors.json",
                description=f"method {result.method}.",
            )
        )
        written.append(
            write_json(result.scale_factor_table(), out_dir / "scale_factors_table.json")
        )
    written.append(write_json(result.summary(), out_dir / "summary.json"))
    return written
