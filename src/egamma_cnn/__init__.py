"""egamma-cnn: convolutional-network e/γ identification from calorimeter cells for coffea.

The package is organised by responsibility:

* :mod:`egamma_cnn.geometry` — the ATLAS-like calorimeter (one source of truth).
* :mod:`egamma_cnn.sim` — sample production: Pythia8 events through a fast detector
  simulation, written as NanoAOD-style ROOT files (needs the ``sim`` extra).
* :mod:`egamma_cnn.nanoevents` — the coffea NanoEvents schema that reads those files.
* :mod:`egamma_cnn.images`, :mod:`egamma_cnn.features` — network inputs and physics
  features of every candidate, eagerly or on dask.
* :mod:`egamma_cnn.model` — the shipped ONNX models at run time (onnxruntime), the
  discriminant, working points, the likelihood and cut-based baselines, ROC metrics.
* :mod:`egamma_cnn.train` — training and evaluation of the models (``train`` extra).
* :mod:`egamma_cnn.processors` — pre-built coffea processors.
"""

__version__ = "0.1.0"
