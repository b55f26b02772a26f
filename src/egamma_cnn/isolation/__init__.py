"""Isolation: working points, ID–isolation correlation, isolation cones versus images.

The processor is ``egamma_cnn.processors.isolation.IsolationProcessor``; this package
turns its histograms into results (:mod:`.analysis`).
:func:`egamma_cnn.workflows.run_isolation` (``egamma-cnn isolation``) runs the processor
over a fileset and writes every output.
"""

from __future__ import annotations

from egamma_cnn.isolation.analysis import (
    HEAVY_FLAVOUR,
    NON_PROMPT,
    NON_PROMPT_ELECTRONS,
    TRUE_ELECTRONS,
    area_under_curve,
    background_efficiency_at,
    correlations,
    factorisation,
    roc_curve,
    working_point_efficiencies,
)

__all__ = [
    "HEAVY_FLAVOUR",
    "NON_PROMPT",
    "NON_PROMPT_ELECTRONS",
    "TRUE_ELECTRONS",
    "area_under_curve",
    "background_efficiency_at",
    "correlations",
    "factorisation",
    "roc_curve",
    "working_point_efficiencies",
]
