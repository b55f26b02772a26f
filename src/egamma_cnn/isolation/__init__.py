"""Isolation: working points, ID–isolation correlation, isolation cones versus images.

The processor is ``egamma_cnn.processors.isolation.IsolationProcessor``; this package
turns its histograms into results (:mod:`.analysis`) and runs it over a fileset with
every output written (:func:`run_isolation`, ``egamma-cnn isolation``).
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
    "run_isolation",
    "working_point_efficiencies",
]


def __getattr__(name: str):
    if name == "run_isolation":  # imports the plotting and the processors only when used
        from egamma_cnn.isolation.run import run_isolation

        return run_isolation
    raise AttributeError(name)
