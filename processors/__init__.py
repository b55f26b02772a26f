"""Pre-built coffea processors of egamma-cnn, importable as ``egamma_cnn.processors``.

Each module holds one ``coffea.processor.ProcessorABC`` that turns events into the
histograms of a study, eagerly or on dask-awkward:

* :mod:`.tag_and_probe` — ``TagAndProbeProcessor``: pass/fail m_ee histograms of any
  electron ID in probe E_T × η (:mod:`egamma_cnn.tnp`);
* :mod:`.data_mc` — ``DataMCProcessor``: probe shower-shape distributions and moments
  in data and simulation (:mod:`egamma_cnn.datamc`);
* :mod:`.isolation` — ``IsolationProcessor``: ID score × isolation histograms and the
  sums behind the ID–isolation correlation (:mod:`egamma_cnn.isolation`);
* :mod:`.identification` — ``IdentificationSummary``: the CNN scores per truth class;
* :mod:`.common` — what they share (eager or lazy, histogram factory, dataset name).

The processors use the studies' selections and binning; the workflows
(:mod:`egamma_cnn.workflows`) run them over filesets. This package is installed
(editable and wheel) from the top-level ``processors/`` folder through
``[tool.setuptools.package-dir]``.
"""

__all__: list[str] = []
