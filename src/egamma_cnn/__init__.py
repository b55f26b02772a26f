"""egamma-cnn: convolutional-network e/γ identification from calorimeter cells for coffea.

The package is built in layers that import one way (docs/ARCHITECTURE.md):

* foundation — :mod:`egamma_cnn.geometry` (the ATLAS-like calorimeter, one source of
  truth), :mod:`egamma_cnn.cellgrid` (the integer η × φ grid of windows),
  :mod:`egamma_cnn.columnar` (jagged columns ↔ numba kernels, eager and on dask),
  :mod:`egamma_cnn.intervals` (efficiency intervals), :mod:`egamma_cnn.provenance`
  (what a sample file says about itself), :mod:`egamma_cnn.filecache` (files loaded
  once per process), :mod:`egamma_cnn.plotting` (the plots' backend and style),
  :mod:`egamma_cnn.jsonio` (JSON outputs);
* runtime — :mod:`egamma_cnn.images`, :mod:`egamma_cnn.features` (network inputs and
  physics features), :mod:`egamma_cnn.model` (ONNX models, discriminant, working
  points, likelihood and cut-based baselines, ROC metrics),
  :mod:`egamma_cnn.corrections` (fudge factors, isolation working points, correctionlib
  writing), :mod:`egamma_cnn.identification` (the CNN columns) and
  :mod:`egamma_cnn.nanoevents` (the coffea schema and behaviours: ``cnn_score`` & co.);
* execution — :mod:`egamma_cnn.execution` (executors, ``run_fileset``, filesets);
* production — :mod:`egamma_cnn.sim` (Pythia8 events through a fast detector
  simulation; the ``sim`` extra) and :mod:`egamma_cnn.train` (the ``train`` extra);
* studies — :mod:`egamma_cnn.tnp`, :mod:`egamma_cnn.datamc`,
  :mod:`egamma_cnn.isolation` (analyse → write → plot, on histograms);
* :mod:`egamma_cnn.processors` — the pre-built coffea processors;
* :mod:`egamma_cnn.workflows` — a processor over a fileset, then its study;
* :mod:`egamma_cnn.cli` — ``egamma-cnn``.
"""

__version__ = "0.1.0"
