"""egamma-cnn: convolutional-network e/γ identification from calorimeter cells for coffea.

The package is organised by responsibility:

* :mod:`egamma_cnn.geometry` — the ATLAS-like calorimeter (one source of truth).
* :mod:`egamma_cnn.sim` — sample production: Pythia8 events through a fast detector
  simulation, written as NanoAOD-style ROOT files (needs the ``sim`` extra).
* :mod:`egamma_cnn.nanoevents` — the coffea NanoEvents schema that reads those files.
* :mod:`egamma_cnn.processors` — pre-built coffea processors.
"""

__version__ = "0.1.0"
