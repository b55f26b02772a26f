"""The built-in isolation working points: cuts on isolation relative to a candidate E_T.

A working point is a conjunction of :class:`IsolationCut` s, each
``column < maximum × denominator`` on columns of the candidate collection (the isolation
variables of :mod:`egamma_cnn.features.isolation` and the candidate's p_T or cluster
E_T). They become the boolean columns ``Electron.iso_loose``, ``Electron.iso_tight`` and
``Photon.iso_loose`` (:mod:`egamma_cnn.nanoevents`); users define points of their own
as ID specifications (``'ptvarcone30/pt < 0.1 and etcone20/pt < 0.1'``,
:class:`egamma_cnn.tnp.config.IdSpec`).

* Electrons, ``iso_loose``: p_T^varcone30 < 0.15 p_T and E_T^cone20 < 0.20 p_T;
  ``iso_tight``: p_T^varcone20 < 0.06 p_T and E_T^cone20 < 0.06 p_T (fixed cuts in the
  style of the ATLAS "Tight" isolation).
* Photons, ``iso_loose``: the loose point recommended in Franco's photon-ID talk
  ("Calo-based isolation", "Track-based isolation"), E_T^cone20 < 0.065 E_T and
  p_T^cone20 < 0.05 E_T, with E_T the cluster E_T.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ISOLATION_WORKING_POINTS", "IsolationCut"]


class IsolationCut(NamedTuple):
    """One cut of a working point: ``column < maximum × denominator``."""

    column: str
    denominator: str
    maximum: float


#: Built-in isolation working points per candidate kind, name → cuts (all must pass).
ISOLATION_WORKING_POINTS: dict[str, dict[str, tuple[IsolationCut, ...]]] = {
    "electron": {
        "iso_loose": (
            IsolationCut("ptvarcone30", "pt", 0.15),
            IsolationCut("etcone20", "pt", 0.20),
        ),
        "iso_tight": (
            IsolationCut("ptvarcone20", "pt", 0.06),
            IsolationCut("etcone20", "pt", 0.06),
        ),
    },
    "photon": {
        "iso_loose": (
            IsolationCut("etcone20", "cluster_et", 0.065),
            IsolationCut("ptcone20", "cluster_et", 0.05),
        ),
    },
}
