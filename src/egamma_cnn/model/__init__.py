"""Runtime side of the identification models: discriminant, working points, preprocessing.

Nothing here imports torch; everything works on numpy arrays of model outputs and inputs.

* :mod:`.discriminant` — the CNN discriminant of seed 000 §5.4 (Eq. 1–2) with
  user-settable class weights and charge-flip as signal or background, and the
  class-fraction prediction of seed 000 §6.2 that can be fed back as weights.
* :mod:`.working_points` — Loose/Medium/Tight cuts on a score that reach target signal
  efficiencies in bins of E_T × |η|, stored as JSON.
* :mod:`.preprocessing` — the quantile transform of the high-level variables
  (seed 000 §5.2) as plain tables.
"""

from __future__ import annotations

from egamma_cnn.model.discriminant import (
    ELECTRON_CLASS_NAMES,
    class_weights,
    discriminant,
    predict_class_fractions,
)
from egamma_cnn.model.preprocessing import QuantileTable
from egamma_cnn.model.working_points import WorkingPoints

__all__ = [
    "ELECTRON_CLASS_NAMES",
    "QuantileTable",
    "WorkingPoints",
    "class_weights",
    "discriminant",
    "predict_class_fractions",
]
