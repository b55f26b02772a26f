"""Physics features of e/γ candidates computed from their cells and tracks.

Each function returns one record per candidate, parallel to ``events.Electron`` or
``events.Photon``, eagerly for awkward inputs and lazily for dask-awkward ones::

    features = electron_features(events)
    events["Electron", "reta"] = features.reta        # a column on the candidates

Modules (each states its definitions with their sources):

* :mod:`.shower_shapes` — ATL-PHYS-PUB-2023-001 Table 3, Franco's photon-ID talk Table 1, σ_ηη,
* :mod:`.tracking` — ATL-PHYS-PUB-2023-001 Table 4,
* :mod:`.isolation` — etcone, ptcone, ptvarcone, the Collado Umana thesis cone set,
* :mod:`.energy_flow` — p_T^D, EFPs and the cluster mass of Collado et al., PRD 103, 116028,

with the exact windows in ``docs/INPUTS.md``.
"""

from __future__ import annotations

from typing import Any, Literal

from egamma_cnn.features.columns import GROUPS, PHOTON_FEATURE_GROUPS, feature_columns
from egamma_cnn.features.energy_flow import ENERGY_FLOW_NAMES
from egamma_cnn.features.isolation import (
    CALO_ISO_CONE_RADII,
    CALO_ISOLATION_NAMES,
    ISOLATION_NAMES,
    TRACK_ISOLATION_NAMES,
)
from egamma_cnn.features.shower_shapes import SHOWER_SHAPE_NAMES
from egamma_cnn.features.tracking import TRACK_VARIABLE_NAMES

__all__ = [
    "CALO_ISOLATION_NAMES",
    "CALO_ISO_CONE_RADII",
    "ELECTRON_HLV_NAMES",
    "ENERGY_FLOW_NAMES",
    "GROUPS",
    "ISOLATION_NAMES",
    "PHOTON_FEATURE_GROUPS",
    "SHOWER_SHAPE_NAMES",
    "TRACK_ISOLATION_NAMES",
    "TRACK_VARIABLE_NAMES",
    "electron_features",
    "energy_flow",
    "feature_columns",
    "isolation",
    "photon_features",
    "shower_shapes",
    "track_variables",
]

#: The 26 high-level variables of the electron CNN (ATL-PHYS-PUB-2023-001 Tables 3 and 4), in order.
ELECTRON_HLV_NAMES: tuple[str, ...] = (
    "rhad1",
    "rhad",
    "f3",
    "weta2",
    "rphi",
    "reta",
    "wstot",
    "eratio",
    "f1",
    *TRACK_VARIABLE_NAMES,
)


def shower_shapes(cells: Any, candidates: Any) -> Any:
    """Calorimeter shower shapes (:data:`SHOWER_SHAPE_NAMES`) of every candidate.

    Parameters
    ----------
    cells : ak.Array or dask_awkward.Array
        ``events.CaloCell`` (fields ``eta, phi, energy, sampling``).
    candidates : ak.Array or dask_awkward.Array
        ``events.Electron`` or ``events.Photon`` (``clusterEta, clusterPhi, clusterE``).

    Returns
    -------
    ak.Array or dask_awkward.Array
        Records of float64 fields; definitions in :mod:`.shower_shapes`.
    """
    return feature_columns(
        cells, None, candidates, None, kind="electron", groups=("shower_shapes",)
    )


def track_variables(tracks: Any, electrons: Any) -> Any:
    """Track and matching variables of electrons (:data:`TRACK_VARIABLE_NAMES`).

    ``electrons`` needs ``clusterE, clusterEta, clusterPhi, trackIdx, trackIdx1..5,
    nTracks, deltaEta1, deltaPhiRescaled2``; definitions in :mod:`.tracking`.
    """
    return feature_columns(
        None, tracks, electrons, None, kind="electron", groups=("track_variables",)
    )


def isolation(
    cells: Any,
    tracks: Any,
    candidates: Any,
    pv_z: Any,
    kind: Literal["electron", "photon"] = "electron",
) -> Any:
    """Calorimeter and track isolation of every candidate.

    Returns records with :data:`ISOLATION_NAMES` and ``calo_iso_cones`` (16 values, the
    the Collado Umana thesis cone set at :data:`CALO_ISO_CONE_RADII`). ``pv_z`` is ``events.PV.z``;
    ``kind`` selects the own tracks left out of the track cones (electrons: best and
    matched tracks; photons: conversion tracks). Definitions in :mod:`.isolation`.
    """
    return feature_columns(cells, tracks, candidates, pv_z, kind=kind, groups=("isolation",))


def energy_flow(cells: Any, candidates: Any) -> Any:
    """Energy-flow observables (:data:`ENERGY_FLOW_NAMES`) of every candidate.

    Definitions and the pair-counting convention in :mod:`.energy_flow`.
    """
    return feature_columns(cells, None, candidates, None, kind="electron", groups=("energy_flow",))


def electron_features(events: Any) -> Any:
    """Every feature group of ``events.Electron`` in one pass over the cells.

    ``events`` are NanoEvents of an egamma-cnn file (or any record with ``CaloCell``,
    ``Track``, ``Electron`` and ``PV.z``). Returns one record per electron with the shower
    shapes, isolation, energy-flow observables and track variables; the 26 CNN inputs are
    the fields :data:`ELECTRON_HLV_NAMES`.
    """
    return feature_columns(
        events.CaloCell, events.Track, events.Electron, events.PV.z, kind="electron", groups=GROUPS
    )


def photon_features(events: Any) -> Any:
    """Shower shapes, isolation and energy-flow observables of ``events.Photon``."""
    return feature_columns(
        events.CaloCell,
        events.Track,
        events.Photon,
        events.PV.z,
        kind="photon",
        groups=PHOTON_FEATURE_GROUPS,
    )
