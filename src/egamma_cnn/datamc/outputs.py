"""The files of the data/MC study: fudge factors, distances, parameters, efficiencies.

:func:`write_outputs` writes a :class:`~egamma_cnn.datamc.analysis.DataMCResult` into a
folder, the files ``egamma-cnn datamc`` gives:

* ``fudge_factors.json`` — the correctionlib file of the shift/width fudge factors
  (:func:`egamma_cnn.corrections.write_correctionlib`), and ``fudge_table.json`` with
  the same numbers (:func:`write_fudge_factors`);
* ``distances.json`` — L1, Hellinger, Wasserstein distances of data vs MC and data vs
  fudged MC per variable, versus E_T, versus η and inclusive;
* ``parameters.json`` — Gaussian-fit mean, width and peak per variable versus E_T and η,
  for data, MC and fudged MC;
* ``id_efficiencies.json`` — the ID efficiencies of data, MC and fudged MC (when IDs
  were compared);
* ``distributions.root`` — every distribution (value × probe E_T × η) of data, MC and
  fudged MC as a TH3 (``data/reta``, ``mc/reta``, ``fudged_mc/reta``, ...);
* ``summary.json`` — :meth:`DataMCResult.summary`: probes, what the runs left out,
  inclusive distances and efficiencies.

The JSON tables are strict JSON: an undefined number (a distance or a parameter of an
empty distribution) is ``null`` (:func:`egamma_cnn.jsonio.write_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import uproot

from egamma_cnn.corrections.fudge import FudgeFactors, write_correctionlib
from egamma_cnn.datamc.analysis import DataMCResult
from egamma_cnn.jsonio import write_json

__all__ = ["write_distributions", "write_fudge_factors", "write_outputs"]


def write_fudge_factors(factors: Mapping[str, FudgeFactors], out_dir: str | Path) -> list[Path]:
    """``fudge_factors.json`` (correctionlib) and ``fudge_table.json`` in ``out_dir``.

    Returns
    -------
    list of Path
        The correctionlib file first (what
        :meth:`egamma_cnn.nanoevents.EGammaSchema.with_fudge` takes), then the table.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    correction = write_correctionlib(factors, out_dir / "fudge_factors.json")
    table = write_json({v: f.to_dict() for v, f in factors.items()}, out_dir / "fudge_table.json")
    return [correction, table]


def write_distributions(path: str | Path, outputs: Mapping[str, Mapping[str, Any]]) -> Path:
    """Every distribution (value × probe E_T × η) of every sample as a ROOT TH3.

    ``outputs`` maps a sample name to its processor output; the histogram of
    ``variable`` is written as ``<sample>/<variable>``.
    """
    path = Path(path)
    with uproot.recreate(path) as f:
        for sample, output in outputs.items():
            for variable, histogram in output["distributions"].items():
                f[f"{sample}/{variable}"] = histogram
    return path


def write_outputs(
    result: DataMCResult, out_dir: str | Path, *, fudge_factors: bool = True
) -> list[Path]:
    """Write every file of the study (module docstring) into ``out_dir``.

    ``fudge_factors`` False leaves out the fudge-factor files, for a caller that wrote
    them already with :func:`write_fudge_factors` (the workflow does, before its fudged
    pass: the same factors, the same content).

    Returns
    -------
    list of Path
        The files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = write_fudge_factors(result.factors, out_dir) if fudge_factors else []
    if result.efficiencies:
        written.append(write_json(result.efficiencies, out_dir / "id_efficiencies.json"))
    written.append(write_distributions(out_dir / "distributions.root", result.outputs))
    written.append(write_json(result.distances, out_dir / "distances.json"))
    written.append(write_json(result.parameters, out_dir / "parameters.json"))
    written.append(write_json(result.summary(), out_dir / "summary.json"))
    return written
