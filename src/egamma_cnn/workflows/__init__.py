"""Workflows: a pre-built processor over a fileset, then its study's analysis, outputs and plots.

Each workflow has the same shape — run the processor on the chosen executor
(:func:`egamma_cnn.workflows.common.run_processor`), add the outputs up per kind (data,
simulation), analyse the histograms, write the results, draw the plots — and is what a
command of ``egamma-cnn`` calls:

* :func:`run_tnp` — ``egamma-cnn tnp``: efficiencies and correctionlib scale factors;
* :func:`run_datamc` — ``egamma-cnn datamc``: shower shapes, fudge factors, fudged MC;
* :func:`run_isolation` — ``egamma-cnn isolation``: working points, ID–isolation
  correlation, isolation cones versus the CNN;
* :func:`run_identification` — the CNN scores per truth class (part of the demo);
* :func:`egamma_cnn.workflows.demo.run_demo` — ``egamma-cnn demo``.

The analysis, writing and plotting steps live in the studies (:mod:`egamma_cnn.tnp`,
:mod:`egamma_cnn.datamc`, :mod:`egamma_cnn.isolation`), so that they can be called from
a notebook on histograms a user already has.
"""

from __future__ import annotations

from egamma_cnn.workflows.datamc import run_datamc
from egamma_cnn.workflows.identification import run_identification
from egamma_cnn.workflows.isolation import run_isolation
from egamma_cnn.workflows.tnp import run_tnp

__all__ = ["run_datamc", "run_identification", "run_isolation", "run_tnp"]
