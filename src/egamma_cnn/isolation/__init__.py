"""Isolation: working points, ID–isolation correlation, isolation cones versus images.

The processor is ``egamma_cnn.processors.isolation.IsolationProcessor``; this package
turns its histograms into results and files, in the shape of every study:

* :func:`~egamma_cnn.isolation.analysis.analyse` — the histograms (merged per kind)
  → an :class:`~egamma_cnn.isolation.analysis.IsolationResult` (:mod:`.analysis`);
* :func:`~egamma_cnn.isolation.outputs.write_outputs` — its JSON tables and summary
  (:mod:`.outputs`);
* :func:`~egamma_cnn.isolation.plots.plot_all` — its plots (:mod:`.plots`, matplotlib
  imported when drawing).

The names of the variables compared are in :mod:`.variables`.
:func:`egamma_cnn.workflows.run_isolation` (``egamma-cnn isolation``) runs the processor
over a fileset and does all of it.
"""

from __future__ import annotations

from egamma_cnn.isolation.analysis import (
    HEAVY_FLAVOUR,
    NON_PROMPT,
    NON_PROMPT_ELECTRONS,
    TRUE_ELECTRONS,
    IsolationResult,
    analyse,
    correlations,
    factorisation,
    roc_curve_from_histogram,
    working_point_efficiencies,
)
from egamma_cnn.isolation.outputs import write_outputs
from egamma_cnn.isolation.plots import plot_all

__all__ = [
    "HEAVY_FLAVOUR",
    "NON_PROMPT",
    "NON_PROMPT_ELECTRONS",
    "TRUE_ELECTRONS",
    "IsolationResult",
    "analyse",
    "correlations",
    "factorisation",
    "plot_all",
    "roc_curve_from_histogram",
    "working_point_efficiencies",
    "write_outputs",
]
