"""Runtime side of the identification models: inference, discriminant, working points.

Nothing here imports torch; everything works on numpy arrays and ONNX files.

* :mod:`.onnx_model` — :class:`OnnxModel` runs an egamma-cnn ONNX model (the shipped
  electron and photon CNNs, :func:`load_model`, or a user's own with the same input
  specification) with its metadata checked against the inputs; a ``coffea.ml_tools``
  wrapper (numpy, awkward and dask-awkward inputs), opened once per process and file
  (:func:`cached_model`, :mod:`egamma_cnn.filecache`).
* :mod:`.discriminant` — the CNN discriminant of ATL-PHYS-PUB-2023-001 §5.4 (Eq. 1–2) with
  user-settable class weights and charge-flip as signal or background, and the
  class-fraction prediction of ATL-PHYS-PUB-2023-001 §6.2 that can be fed back as weights.
* :mod:`.working_points` — Loose/Medium/Tight cuts on a score that reach target signal
  efficiencies in bins of E_T × |η|, stored as JSON.
* :mod:`.preprocessing` — the quantile transform of the high-level variables
  (ATL-PHYS-PUB-2023-001 §5.2) as plain tables.
* :mod:`.likelihood` — the electron likelihood (LLH) baseline of ATL-PHYS-PUB-2023-001 §6.1.
* :mod:`.cut_based` — the photon cut-based selection of Franco's photon-ID talk Table 1.
* :mod:`.performance` — ROC curves, AUC, efficiencies and rejections (ATL-PHYS-PUB-2023-001 §6).
"""

from __future__ import annotations

from egamma_cnn.model.cut_based import PHOTON_CUT_INPUTS, CutBasedPhotonID
from egamma_cnn.model.discriminant import (
    ELECTRON_CLASS_NAMES,
    class_weights,
    discriminant,
    predict_class_fractions,
    prior_adjusted_class_fractions,
)
from egamma_cnn.model.likelihood import (
    LIKELIHOOD_INPUTS,
    Likelihood,
    LikelihoodID,
    llh_hit_requirements,
)
from egamma_cnn.model.onnx_model import (
    SHIPPED_MODELS,
    InputSpec,
    ModelMetadataError,
    OnnxModel,
    cached_model,
    load_model,
)
from egamma_cnn.model.performance import (
    auc,
    cut_for_efficiency,
    efficiency_and_rejection,
    rejection_at_matched_efficiency,
    roc_curve,
)
from egamma_cnn.model.preprocessing import QuantileTable
from egamma_cnn.model.working_points import WorkingPoints

__all__ = [
    "ELECTRON_CLASS_NAMES",
    "LIKELIHOOD_INPUTS",
    "PHOTON_CUT_INPUTS",
    "SHIPPED_MODELS",
    "CutBasedPhotonID",
    "InputSpec",
    "Likelihood",
    "LikelihoodID",
    "ModelMetadataError",
    "OnnxModel",
    "QuantileTable",
    "WorkingPoints",
    "auc",
    "cached_model",
    "class_weights",
    "cut_for_efficiency",
    "discriminant",
    "efficiency_and_rejection",
    "llh_hit_requirements",
    "load_model",
    "predict_class_fractions",
    "prior_adjusted_class_fractions",
    "rejection_at_matched_efficiency",
    "roc_curve",
]
