"""Corrections applied to columns, and the writing of correctionlib files.

* :mod:`.writing` — correctionlib (schema v2) files and JSON tables, shared by the
  scale factors and the fudge factors;
* :mod:`.fudge` — fudge factors: their file format, :func:`apply_fudge` and
  :class:`FudgeFile`, which the feature, likelihood and CNN columns apply (fudged MC);
* :mod:`.isolation` — the built-in isolation working points (``Electron.iso_loose``,
  ``iso_tight``, ``Photon.iso_loose``).

They belong with the runtime (what an analyst's processor touches): the studies that
derive corrections (:mod:`egamma_cnn.datamc`, :mod:`egamma_cnn.tnp`) import them, never
the other way round.
"""

from __future__ import annotations

from egamma_cnn.corrections.fudge import (
    CORRECTION_NAME,
    FudgeFactors,
    FudgeFile,
    apply_fudge,
    write_correctionlib,
)
from egamma_cnn.corrections.isolation import ISOLATION_WORKING_POINTS, IsolationCut
from egamma_cnn.corrections.writing import grid_to_json, write_correction

__all__ = [
    "CORRECTION_NAME",
    "ISOLATION_WORKING_POINTS",
    "FudgeFactors",
    "FudgeFile",
    "IsolationCut",
    "apply_fudge",
    "grid_to_json",
    "write_correction",
    "write_correctionlib",
]
