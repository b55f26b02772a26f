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
* ``summary.json`` — :meth:`IsolationResult.summary`: candidates, what the run left
  out, the headline numbers and, where it ran, the tag-and-probe's summary.

JSON has no NaN: an undefined number is ``null``.
"""

from __future__ import annotations

from pathlib import Path

from egamma_cnn.isolation.analysis import IsolationResult
from egamma_cnn.jsonio import write_json

__all__ = ["write_outputs"]


def write_outputs(result: IsolationResult, out_dir: str | Path) -> list[Path]:
    """Write ``working_points.json``, ``correlations.json``, (from simulation)
    ``roc.json`` and ``summary.json`` of ``result`` into ``out_dir`` (created); returns
    their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    names = {"working_points": "working_points.json", "correlations": "correlations.json"}
    if "roc" in data:
        names["roc"] = "roc.json"
    written = [write_json(data[key], out_dir / name) for key, name in names.items()]
    written.append(write_json(result.summary(), out_dir / "summary.json"))
    return written
