"""The files of the isolation study: the JSON tables of an :class:`IsolationResult`.

:func:`write_outputs` writes into a folder

* ``working_points.json`` — per working point its specification, the efficiencies of
  each truth group versus E_T and inclusive, and on simulation the factorisation ratios
  (:func:`egamma_cnn.isolation.analysis.working_point_table`);
* ``correlations.json`` — Pearson ρ of each score with each relative isolation,
  inclusive, versus E_T and versus η (:func:`egamma_cnn.isolation.analysis.correlation_table`);
* ``roc.json`` — from simulation: per background the AUC, signal side and background
  efficiencies of every discriminant and the best cone
  (:func:`egamma_cnn.isolation.analysis.roc_table`);

and :func:`write_summary` the ``summary.json`` of a run. JSON has no NaN: an undefined
number is ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from egamma_cnn.isolation.analysis import IsolationResult, json_ready

__all__ = ["write_outputs", "write_summary"]


def _write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, indent=1))
    return path


def write_outputs(result: IsolationResult, out_dir: str | Path) -> list[Path]:
    """Write ``working_points.json``, ``correlations.json`` and (from simulation)
    ``roc.json`` of ``result`` into ``out_dir`` (created); returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    names = {"working_points": "working_points.json", "correlations": "correlations.json"}
    if "roc" in data:
        names["roc"] = "roc.json"
    return [_write(out_dir / name, data[key]) for key, name in names.items()]


def write_summary(summary: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``summary.json`` (a run's summary: :meth:`IsolationResult.summary` and what
    the runner adds; NaN written as null) into ``out_dir``; returns its path."""
    return _write(Path(out_dir) / "summary.json", json_ready(summary))
