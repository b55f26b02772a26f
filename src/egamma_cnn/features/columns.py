"""Feature columns of e/γ candidates: jagged awkward (or dask-awkward) in, records out.

One chunk function computes any subset of the feature groups in a single pass over the
flattened columns of a chunk (the cells are identified in the geometry once), and
:func:`egamma_cnn.columnar.apply_on_named_columns` runs it eagerly or per dask partition. The
public functions of :mod:`egamma_cnn.features` are thin selections of groups.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

import awkward as ak
import numpy as np

from egamma_cnn.cellgrid import CellTable
from egamma_cnn.columnar import (
    apply_on_named_columns,
    field_of,
    flat,
    jagged_cell_table,
    offsets_of,
    unflatten_rows,
)
from egamma_cnn.features.energy_flow import ENERGY_FLOW_NAMES, compute_energy_flow
from egamma_cnn.features.isolation import (
    CALO_ISOLATION_NAMES,
    TRACK_ISOLATION_NAMES,
    compute_calo_isolation,
    compute_track_isolation,
)
from egamma_cnn.features.shower_shapes import SHOWER_SHAPE_NAMES, compute_shower_shapes
from egamma_cnn.features.tracking import (
    TRACK_VARIABLE_INPUTS,
    TRACK_VARIABLE_NAMES,
    compute_track_variables,
)
from egamma_cnn.images import check_candidates
from egamma_cnn.images.tracks import check_track_indices

__all__ = [
    "GROUPS",
    "GROUP_OUTPUTS",
    "PHOTON_FEATURE_GROUPS",
    "feature_chunk",
    "feature_columns",
    "feature_values",
    "needed_columns",
]

Kind = Literal["electron", "photon"]

#: Feature groups that :func:`feature_columns` computes.
GROUPS: tuple[str, ...] = ("shower_shapes", "isolation", "energy_flow", "track_variables")
#: The feature groups of photons (track variables are defined for electrons only).
PHOTON_FEATURE_GROUPS: tuple[str, ...] = ("shower_shapes", "isolation", "energy_flow")

_CELL_FIELDS = ("eta", "phi", "energy", "sampling")
_ISO_TRACK_FIELDS = ("pt", "eta", "phi", "z0")
_OWN_TRACKS = {
    "electron": ("trackIdx", "trackIdx1", "trackIdx2", "trackIdx3", "trackIdx4", "trackIdx5"),
    "photon": ("trackIdx1", "trackIdx2"),
}
_TRACK_VARIABLE_CANDIDATE = ("clusterE", "clusterEta", "deltaEta1", "deltaPhiRescaled2", "nTracks")


def needed_columns(
    cells: Any, tracks: Any, candidates: Any, pv_z: Any, kind: Kind, groups: tuple[str, ...]
) -> dict[str, Any]:
    """The columns the feature ``groups`` read, by the names :func:`feature_values` expects.

    ``cell.*``, ``track.*`` and ``cand.*`` leaf columns of ``cells``, ``tracks`` and
    ``candidates`` (looked up with :func:`egamma_cnn.columnar.field_of`, which names a
    missing field) and ``pv_z`` for the isolation. Raises ``ValueError`` when the
    isolation is asked for without ``pv_z`` or track variables for photons.
    """
    columns: dict[str, Any] = {
        "cand.clusterEta": field_of(candidates, "clusterEta", kind),
        "cand.clusterPhi": field_of(candidates, "clusterPhi", kind),
        "cand.clusterE": field_of(candidates, "clusterE", kind),
    }
    if {"shower_shapes", "isolation", "energy_flow"} & set(groups):
        for name in _CELL_FIELDS:
            columns[f"cell.{name}"] = field_of(cells, name, "cell")
    track_fields: set[str] = set()
    candidate_fields: set[str] = set()
    if "isolation" in groups:
        track_fields |= set(_ISO_TRACK_FIELDS)
        candidate_fields |= set(_OWN_TRACKS[kind])
        if pv_z is None:
            raise ValueError("isolation needs pv_z, the hard-scatter vertex z of each event")
        columns["pv_z"] = pv_z
    if "track_variables" in groups:
        if kind != "electron":
            raise ValueError("track variables are defined for electrons only")
        track_fields |= set(TRACK_VARIABLE_INPUTS)
        candidate_fields |= set(_TRACK_VARIABLE_CANDIDATE) | set(_OWN_TRACKS["electron"])
    for name in sorted(track_fields):
        columns[f"track.{name}"] = field_of(tracks, name, "track")
    for name in sorted(candidate_fields - {n[len("cand.") :] for n in columns}):
        columns[f"cand.{name}"] = field_of(candidates, name, kind)
    return columns


#: The output names of each feature group (``calo_iso_cones`` is the 16-value cone set).
GROUP_OUTPUTS: dict[str, tuple[str, ...]] = {
    "shower_shapes": SHOWER_SHAPE_NAMES,
    "isolation": (*CALO_ISOLATION_NAMES, *TRACK_ISOLATION_NAMES, "calo_iso_cones"),
    "energy_flow": ENERGY_FLOW_NAMES,
    "track_variables": TRACK_VARIABLE_NAMES,
}


def _wanted_outputs(groups: tuple[str, ...], names: Collection[str] | None) -> set[str]:
    """The output names to compute: every output of ``groups``, or ``names`` checked to be some."""
    available = [name for group in groups for name in GROUP_OUTPUTS[group]]
    if names is None:
        return set(available)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"features {unknown} are not outputs of the feature groups {list(groups)}")
    return set(names)


def feature_values(
    col: Mapping[str, Any],
    *,
    kind: Kind,
    groups: tuple[str, ...],
    names: Collection[str] | None = None,
    fudge: Any = None,
    cells: CellTable | None = None,
) -> dict[str, np.ndarray]:
    """Features of one eager chunk as flat numpy arrays, one entry per candidate.

    Parameters
    ----------
    col : mapping of str to ak.Array
        The chunk's columns under the names of :func:`needed_columns` (jagged per event).
    kind : {"electron", "photon"}
        Decides the candidate's own tracks (left out of the track cones) and direction.
    groups : tuple of str
        The feature groups whose columns ``col`` holds (a subset of :data:`GROUPS`).
    names : collection of str, optional
        Compute only these outputs of ``groups`` (e.g. a model's HLV names): a kernel
        whose outputs are not asked for does not run, the calorimeter cone set
        (``calo_iso_cones``) and the three-point EFP (``efp3_triangle_b05``) are skipped
        when not asked for. None computes every output of ``groups``. The values computed
        are bit for bit those of the full computation (the same kernels on the same
        inputs; the skipped outputs never enter the others).
    fudge : egamma_cnn.corrections.FudgeFile, optional
        Fudge factors applied to the outputs the file has factors for.
    cells : CellTable, optional
        The chunk's cells already identified in the geometry
        (:func:`egamma_cnn.columnar.jagged_cell_table` of the ``cell.*`` columns), to
        share them with the images; made here from ``col`` when None.

    Returns
    -------
    dict of str to numpy.ndarray
        Output name → ``float64[n_candidates]`` (``calo_iso_cones``:
        ``float64[n_candidates, 16]``), in the order of the groups' outputs.

    Raises
    ------
    ValueError
        A name not among the outputs of ``groups``; the bad inputs of the kernels
        (cells outside the geometry, track indices outside their events, non-finite
        candidates), each naming the field.
    """
    wanted = _wanted_outputs(groups, names)
    cand_offsets = offsets_of(col["cand.clusterEta"])
    cluster_eta = flat(col["cand.clusterEta"], np.float64)
    cluster_phi = flat(col["cand.clusterPhi"], np.float64)
    cluster_e = flat(col["cand.clusterE"], np.float64)
    check_candidates(cand_offsets, cluster_eta, cluster_phi, cluster_e)
    n = len(cluster_eta)
    blocks: list[tuple[tuple[str, ...], np.ndarray]] = []
    cone_set = None
    if cells is None and "cell.eta" in col:
        cells = jagged_cell_table(
            col["cell.eta"], col["cell.phi"], col["cell.energy"], col["cell.sampling"]
        )
    track_offsets = offsets_of(col["track.pt"]) if "track.pt" in col else None
    own = None
    if track_offsets is not None:
        own_names = [f for f in _OWN_TRACKS[kind] if f"cand.{f}" in col]
        own = np.stack([flat(col[f"cand.{f}"], np.int64) for f in own_names], axis=1)
        for j, name in enumerate(own_names):
            check_track_indices(name, own[:, j], track_offsets, cand_offsets)
    if "shower_shapes" in groups and wanted & set(SHOWER_SHAPE_NAMES):
        values = compute_shower_shapes(cells, cand_offsets, cluster_eta, cluster_phi)
        blocks.append((SHOWER_SHAPE_NAMES, values))
    if "isolation" in groups and wanted & {*CALO_ISOLATION_NAMES, "calo_iso_cones"}:
        etcone, cone_set = compute_calo_isolation(
            cells,
            cand_offsets,
            cluster_eta,
            cluster_phi,
            cluster_e,
            cone_set="calo_iso_cones" in wanted,
        )
        blocks.append((CALO_ISOLATION_NAMES, etcone))
    if "isolation" in groups and wanted & set(TRACK_ISOLATION_NAMES):
        track_eta = flat(col["track.eta"], np.float64)
        track_phi = flat(col["track.phi"], np.float64)
        direction_eta, direction_phi = cluster_eta.copy(), cluster_phi.copy()
        if kind == "electron":
            best = own[:, 0]
            has_best = best >= 0
            event_of = np.repeat(np.arange(len(cand_offsets) - 1), np.diff(cand_offsets))
            global_best = track_offsets[event_of[has_best]] + best[has_best]
            direction_eta[has_best] = track_eta[global_best]
            direction_phi[has_best] = track_phi[global_best]
        blocks.append(
            (
                TRACK_ISOLATION_NAMES,
                compute_track_isolation(
                    track_offsets,
                    flat(col["track.pt"], np.float64),
                    track_eta,
                    track_phi,
                    flat(col["track.z0"], np.float64),
                    ak.to_numpy(col["pv_z"]).astype(np.float64),
                    cand_offsets,
                    direction_eta,
                    direction_phi,
                    cluster_e / np.cosh(cluster_eta),
                    own,
                ),
            )
        )
    if "energy_flow" in groups and wanted & set(ENERGY_FLOW_NAMES):
        values = compute_energy_flow(
            cells,
            cand_offsets,
            cluster_eta,
            cluster_phi,
            triangle="efp3_triangle_b05" in wanted,
        )
        blocks.append((ENERGY_FLOW_NAMES, values))
    if "track_variables" in groups and wanted & set(TRACK_VARIABLE_NAMES):
        track_values = np.stack(
            [flat(col[f"track.{f}"], np.float64) for f in TRACK_VARIABLE_INPUTS], axis=1
        ).reshape(-1, len(TRACK_VARIABLE_INPUTS))
        candidate_values = np.stack(
            [flat(col[f"cand.{f}"], np.float64) for f in _TRACK_VARIABLE_CANDIDATE], axis=1
        ).reshape(-1, len(_TRACK_VARIABLE_CANDIDATE))
        values = compute_track_variables(
            track_offsets, track_values, cand_offsets, own[:, 0], own[:, 1:], candidate_values
        )
        blocks.append((TRACK_VARIABLE_NAMES, values))
    flat_fields: dict[str, np.ndarray] = {}
    for block_names, values in blocks:
        columns = np.ascontiguousarray(values.T.reshape(len(block_names), n))
        for j, name in enumerate(block_names):
            if name in wanted:
                flat_fields[name] = columns[j]
    if fudge is not None:  # fudged MC: data-like shower shapes (egamma_cnn.datamc.fudge)
        flat_fields = fudge.apply(flat_fields, cluster_e / np.cosh(cluster_eta), cluster_eta)
    if "calo_iso_cones" in wanted and cone_set is not None:
        flat_fields["calo_iso_cones"] = np.ascontiguousarray(cone_set)
    return flat_fields


def feature_chunk(
    *arrays: Any,
    names: tuple[str, ...],
    kind: Kind,
    groups: tuple[str, ...],
    fudge: Any = None,
) -> ak.Array:
    """Chunk function of :func:`feature_columns`: every output of ``groups`` as records.

    ``arrays`` are the columns of :func:`needed_columns` in the order of ``names``; the
    values are :func:`feature_values`'s, wrapped per event.
    """
    col = dict(zip(names, arrays, strict=True))
    cand_offsets = offsets_of(col["cand.clusterEta"])
    values = feature_values(col, kind=kind, groups=groups, fudge=fudge)
    fields: dict[str, ak.Array] = {
        name: unflatten_rows(column, cand_offsets) for name, column in values.items()
    }
    return ak.zip(fields, depth_limit=2)


def feature_columns(
    cells: Any,
    tracks: Any,
    candidates: Any,
    pv_z: Any,
    *,
    kind: Kind,
    groups: tuple[str, ...],
    event_index: Any = None,
    fudge: Any = None,
) -> Any:
    """Compute feature ``groups`` (a subset of :data:`GROUPS`) for every candidate.

    Parameters
    ----------
    cells, tracks, candidates : ak.Array or dask_awkward.Array
        ``events.CaloCell``, ``events.Track`` and ``events.Electron``/``events.Photon``
        (or jagged records with the same fields); ``tracks`` may be None when no group
        needs it, ``cells`` when none needs cells.
    pv_z : ak.Array or dask_awkward.Array or None
        Hard-scatter vertex z per event (``events.PV.z``), for the track isolation.
    kind : {"electron", "photon"}
        Decides the candidate's own tracks and direction in the track isolation.
    groups : tuple of str
        Which feature groups to compute.
    event_index : ak.Array or dask_awkward.Array, optional
        Per candidate, the position of its event among the events of ``cells``,
        ``tracks`` and ``pv_z`` (``Electron.eventIndex``): lets ``candidates`` be a
        selection while the cells and tracks are those of the whole chunk. Without it
        the candidates must be grouped by exactly the events of the cells and tracks.
    fudge : egamma_cnn.corrections.FudgeFile, optional
        Fudge factors to apply (MC made data-like): every variable the file has factors
        for is returned fudged in the candidate's (E_T, η) bin.

    Returns
    -------
    ak.Array or dask_awkward.Array
        One record per candidate with the fields of the groups.
    """
    if kind not in _OWN_TRACKS:
        raise ValueError(f"kind must be 'electron' or 'photon', not {kind!r}")
    unknown = set(groups) - set(GROUPS)
    if unknown or not groups:
        raise ValueError(f"groups must be a non-empty subset of {GROUPS}; got {groups}")
    columns = needed_columns(cells, tracks, candidates, pv_z, kind, tuple(groups))
    return apply_on_named_columns(
        feature_chunk,
        columns,
        event_index,
        label=f"{kind}-features",
        memo=True,
        kind=kind,
        groups=tuple(groups),
        fudge=fudge,
    )
