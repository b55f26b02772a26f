"""What the isolation study compares: the ID scores, the relative isolations, the cones.

* :data:`SCORES` — the electron ID scores (the CNN on calorimeter images, tracks and
  high-level variables, and the likelihood); photons have the CNN score only;
* :data:`ISOLATIONS` — the relative isolations of the ID–isolation correlation
  (Franco's photon-ID talk): ptvarcone30 / p_T and etcone20 / p_T;
* :data:`RELATIVE_ISOLATIONS` and the cone set I(R₀) = Σ_{ΔR<R₀} E_T,cell / p_T
  (``Electron.calo_iso_cones``, R₀ = :data:`~egamma_cnn.features.CALO_ISO_CONE_RADII`)
  — with the scores, the discriminants of the cones-versus-images comparison (the
  Collado Umana thesis, ch. 4), whose histogram ranges and signal side
  :func:`discriminant_ranges` gives.

The processor (``egamma_cnn.processors.isolation``) fills its histograms with these
names; the analysis (:mod:`egamma_cnn.isolation.analysis`) reads them back.
"""

from __future__ import annotations

from egamma_cnn.features import CALO_ISO_CONE_RADII

__all__ = ["ISOLATIONS", "RELATIVE_ISOLATIONS", "SCORES", "discriminant_ranges"]

#: ID scores compared (electrons; photons have the CNN score only).
SCORES: tuple[str, ...] = ("cnn_score", "llh_score")
#: Relative isolation variables of the correlation study: (name, column, denominator).
ISOLATIONS: tuple[tuple[str, str, str], ...] = (
    ("ptvarcone30_rel", "ptvarcone30", "pt"),
    ("etcone20_rel", "etcone20", "pt"),
)
#: Isolation columns of the cones-versus-images comparison, each divided by p_T.
RELATIVE_ISOLATIONS: tuple[str, ...] = (
    "etcone20",
    "etcone30",
    "etcone40",
    "ptcone20",
    "ptcone30",
    "ptcone40",
    "ptvarcone20",
    "ptvarcone30",
)


def discriminant_ranges(
    scores: tuple[str, ...] = SCORES,
) -> dict[str, tuple[int, float, float, bool]]:
    """Histogram ranges of the discriminants: name → (bins, low, high, higher is signal).

    Scores are histogrammed as their log-odds ln(s / (1 − s)) (a monotonic map, so the
    ROC curve is the same) in 2000 bins on [−15, 25]: the likelihood puts 80 % of true
    electrons above s = 0.9995, where bins on [0, 1] could not resolve it. Relative
    isolations (``<column>_rel``) and cones (``cone<R₀>``, e.g. ``cone0.200``) have 600
    bins and select signal below the cut. Every value outside is in the flow bins, and
    they enter the ROC curves too. The order is the order of the outputs: scores,
    relative isolations, cones by radius.
    """
    ranges: dict[str, tuple[int, float, float, bool]] = {
        name: (2000, -15.0, 25.0, True) for name in scores
    }
    for name in RELATIVE_ISOLATIONS:
        ranges[f"{name}_rel"] = (600, -0.2, 1.0, False)
    for radius in CALO_ISO_CONE_RADII:
        ranges[f"cone{radius:.3f}"] = (600, -0.2, 2.8, False)
    return ranges
