"""Identification columns: the electron and photon CNNs as awkward columns, eager and on dask.

What an analyst calls, directly or through the NanoEvents behaviours of
:mod:`egamma_cnn.nanoevents` (``events.Electron.cnn_score``)::

    ids = electron_identification(events.CaloCell, events.Track, events.Electron)
    ids.cnn_probs.prompt, ids.cnn_score, ids.cnn_tight

Per chunk of events (an eager array, or one dask partition) the inputs are built by the
code the models were trained with (:mod:`egamma_cnn.images`, :mod:`egamma_cnn.features`),
given to onnxruntime as numpy batches (:meth:`OnnxModel.predict
<egamma_cnn.model.OnnxModel.predict>`, the numpy call of that ``coffea.ml_tools``
wrapper) and the outputs are wrapped back into arrays parallel to the candidates: the
convention of ``coffea.ml_tools`` (awkward → numpy batch → awkward). Under dask-awkward
the same chunk function runs in ``map_partitions``; while the graph is built it only
meets typetracers and computes nothing, and the ONNX session is created lazily in each
worker process. Models, likelihood files and fudge files travel in the graph as their
paths and are opened once per worker (:mod:`egamma_cnn.filecache`).

Columns (ATL-PHYS-PUB-2023-001 §5.4, Franco's photon-ID talk):

* electrons — ``cnn_probs`` (a record of the six class probabilities, named as
  :data:`~egamma_cnn.model.ELECTRON_CLASS_NAMES`), ``cnn_score`` = D/(1+D) of Eq. 1–2
  with the model's default class weights and charge-flip choice, and one boolean per
  working point of the model (``cnn_loose``, ``cnn_medium``, ``cnn_tight`` for the shipped
  model: cuts on ``cnn_score`` binned in the cluster E_T × |η|);
* photons — ``cnn_score`` (the prompt-photon probability) and ``cnn_loose``, ``cnn_tight``.

Working points use the cluster kinematics, E_T = E_cluster / cosh η_cluster and
η = η_cluster; a candidate below the lowest E_T edge or beyond the last |η| edge of the
working points fails them (defined behaviour of
:meth:`~egamma_cnn.model.WorkingPoints.passes`).

"Bring your own ntuple": every function takes the collections with their fields named as
in the egamma-cnn format; for other ntuples pass ``cell_fields``, ``track_fields`` and
``electron_fields``/``photon_fields``, mappings from our field names to yours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import dask
import dask_awkward as dak
import numpy as np

from egamma_cnn.columnar import (
    MissingFieldError,
    apply_on_named_columns,
    apply_per_chunk,
    field_of,
    flat,
    jagged_cell_table,
    offsets_of,
    unflatten_rows,
)
from egamma_cnn.corrections.fudge import FudgeFile
from egamma_cnn.features import (
    CALO_ISOLATION_NAMES,
    ENERGY_FLOW_NAMES,
    GROUPS,
    SHOWER_SHAPE_NAMES,
    TRACK_ISOLATION_NAMES,
    TRACK_VARIABLE_NAMES,
)
from egamma_cnn.features.columns import feature_chunk, feature_values, needed_columns
from egamma_cnn.filecache import FileChangedError, FileIdentity, PathPickled, cached
from egamma_cnn.images import (
    CELL_FIELDS,
    ELECTRON_IMAGES,
    N_TRACK_SLOTS,
    PHOTON_IMAGES,
    TRACK_INPUT_FIELDS,
    check_candidates,
    image_batch_from_columns,
    track_batch_from_columns,
)
from egamma_cnn.images.calorimeter import build_images
from egamma_cnn.images.tracks import check_track_indices
from egamma_cnn.model.discriminant import (
    ELECTRON_CLASS_NAMES,
    discriminant,
    predict_class_fractions,
)
from egamma_cnn.model.likelihood import LIKELIHOOD_INPUTS, LikelihoodID
from egamma_cnn.model.onnx_model import (
    ModelMetadataError,
    OnnxModel,
    cached_model,
    shipped_model_path,
)

__all__ = [
    "FieldMap",
    "LikelihoodFile",
    "class_fractions",
    "electron_discriminant",
    "electron_identification",
    "electron_likelihood",
    "feature_group",
    "load_identification_model",
    "photon_identification",
]

#: The feature group of every HLV name a model may ask for.
_HLV_GROUPS: dict[str, str] = {
    **{name: "shower_shapes" for name in SHOWER_SHAPE_NAMES},
    **{name: "isolation" for name in (*CALO_ISOLATION_NAMES, *TRACK_ISOLATION_NAMES)},
    **{name: "energy_flow" for name in ENERGY_FLOW_NAMES},
    **{name: "track_variables" for name in TRACK_VARIABLE_NAMES},
}


def feature_group(name: str) -> str:
    """The :data:`egamma_cnn.features.GROUPS` entry that computes feature ``name``."""
    if name == "calo_iso_cones":
        return "isolation"
    try:
        return _HLV_GROUPS[name]
    except KeyError:
        raise ValueError(f"no feature {name!r} in egamma_cnn.features") from None


_ELECTRON_INPUTS = {"coarse", "fine", "tracks", "hlv"}
_PHOTON_INPUTS = {"strips", "middle", "back"}
_DEFAULT_MODEL = {"electron": "electron", "photon": "photon"}


# --------------------------------------------------------------------------------------
# Field names of other ntuples
# --------------------------------------------------------------------------------------


class FieldMap:
    """A collection whose fields are looked up under the user's names.

    ``FieldMap(events.cells, {"eta": "cell_eta", "energy": "cell_e"})["eta"]`` is
    ``events.cells["cell_eta"]``; names not in the mapping are looked up unchanged.
    """

    def __init__(self, collection: Any, names: Mapping[str, str], what: str) -> None:
        self.collection = collection
        self.names = dict(names)
        self.what = what

    def __getitem__(self, name: str) -> Any:
        theirs = self.names.get(name, name)
        try:
            return self.collection[theirs]
        except Exception:
            mapped = f" (given for {name!r})" if theirs != name else ""
            raise MissingFieldError(
                f"the {self.what} collection has no field {theirs!r}{mapped}; map the "
                f"egamma-cnn field {name!r} to yours with {self.what}_fields="
                f"{{{name!r}: '...'}}"
            ) from None


def _mapped(collection: Any, names: Mapping[str, str] | None, what: str) -> Any:
    if collection is None or isinstance(collection, FieldMap):
        return collection
    return FieldMap(collection, names or {}, what)


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


def load_identification_model(
    model: str | os.PathLike[str] | OnnxModel | None,
    kind: str,
    *,
    batch_size: int | None = None,
    intra_op_threads: int | None = None,
    providers: Any = None,
) -> OnnxModel:
    """The model to score ``kind`` ("electron" or "photon") candidates with.

    ``model`` is None (the shipped model), a shipped name
    (:data:`~egamma_cnn.model.SHIPPED_MODELS`), the path of an egamma-cnn ONNX file (a
    user's own model with the same input specification), or an :class:`OnnxModel`.
    Models loaded by name or path come from the process's file cache
    (:func:`egamma_cnn.model.onnx_model.cached_model`): loaded once per file state and
    settings, a rewritten file loads again. Raises
    :class:`~egamma_cnn.model.ModelMetadataError` when the model's inputs or classes do
    not make it a ``kind`` model.
    """
    if kind not in _DEFAULT_MODEL:
        raise ValueError(f"kind must be 'electron' or 'photon', not {kind!r}")
    settings = {
        k: v
        for k, v in {
            "batch_size": batch_size,
            "intra_op_threads": intra_op_threads,
            "providers": providers,
        }.items()
        if v is not None
    }
    if isinstance(model, OnnxModel):
        if settings:
            raise ValueError(
                "batch_size, intra_op_threads and providers are settings of a model loaded "
                "here; for an OnnxModel pass them to its constructor"
            )
        loaded = model
    else:
        loaded = cached_model(_DEFAULT_MODEL[kind] if model is None else model, **settings)
    _check_kind(loaded, kind)
    return loaded


def _check_kind(model: OnnxModel, kind: str) -> None:
    names = {spec.name for spec in model.inputs}
    expected = _ELECTRON_INPUTS if kind == "electron" else _PHOTON_INPUTS
    if not names <= expected:
        raise ModelMetadataError(
            f"{model.path.name} is not a{'n' if kind == 'electron' else ''} {kind} model: "
            f"its inputs {sorted(names)} are not among the {kind} inputs {sorted(expected)}"
        )
    if kind == "electron":
        if tuple(model.class_names) != ELECTRON_CLASS_NAMES:
            raise ModelMetadataError(
                f"{model.path.name}: classes {list(model.class_names)}, expected the six "
                f"electron classes {list(ELECTRON_CLASS_NAMES)}"
            )
        unknown = [n for n in model.metadata.get("hlv_names", []) if n not in _HLV_GROUPS]
        if "hlv" in names and (unknown or "hlv_names" not in model.metadata):
            raise ModelMetadataError(
                f"{model.path.name}: its HLV input names {unknown or 'are missing'} are not "
                "features egamma_cnn.features computes"
            )
    else:
        signal = model.metadata.get("signal_class", "prompt")
        if signal not in model.class_names:
            raise ModelMetadataError(
                f"{model.path.name}: signal class {signal!r} not in {list(model.class_names)}"
            )


def _hlv_groups(model: OnnxModel) -> tuple[str, ...]:
    groups = {_HLV_GROUPS[n] for n in model.metadata.get("hlv_names", [])}
    return tuple(g for g in GROUPS if g in groups)


# --------------------------------------------------------------------------------------
# Chunk functions (numpy batches in the middle)
# --------------------------------------------------------------------------------------


def _working_point_columns(model: OnnxModel, score, cluster_e, cluster_eta) -> dict[str, Any]:
    if model.working_points is None:
        return {}
    et = cluster_e / np.cosh(cluster_eta)
    return {
        f"cnn_{name}": model.working_points.passes(name, score, et, cluster_eta)
        for name in model.working_points.cuts
    }


#: The candidate fields holding local indices into the event's tracks.
_OWN_TRACK_FIELDS = ("trackIdx", *(f"trackIdx{slot}" for slot in range(1, N_TRACK_SLOTS + 1)))


def _with_own_tracks_only(col: dict[str, Any], cand_offsets: np.ndarray) -> dict[str, Any]:
    """``col`` with the ``track.*`` columns cut to the tracks the candidates point to.

    The track arrays and the track variables read only the best and matched tracks
    (``trackIdx``, ``trackIdx1..5``) of each candidate; at ⟨μ⟩ = 20 they are about 1 in
    20 of an event's tracks. The referenced tracks keep their events and their order, and
    the candidates' indices are renumbered into them, so every kernel reads the same
    numbers at the same places: the results are bit for bit those on all tracks (not for
    the track isolation, whose cones take every track: the caller keeps all of them
    then). The indices are checked against the full events first (the errors of
    :func:`~egamma_cnn.images.tracks.check_track_indices`, naming the field).
    """
    present = [name for name in _OWN_TRACK_FIELDS if f"cand.{name}" in col]
    track_offsets = offsets_of(col["track.pt"])
    local = np.stack([flat(col[f"cand.{name}"], np.int64) for name in present], axis=1)
    local = local.reshape(len(local), len(present))
    for j, name in enumerate(present):
        check_track_indices(name, local[:, j], track_offsets, cand_offsets)
    event_of = np.repeat(np.arange(len(cand_offsets) - 1), np.diff(cand_offsets))
    has_track = local >= 0
    global_rows = track_offsets[event_of][:, None] + local
    kept = np.unique(global_rows[has_track])
    kept_offsets = np.searchsorted(kept, track_offsets).astype(np.int64)
    renumbered = np.where(
        has_track,
        np.searchsorted(kept, global_rows) - kept_offsets[event_of][:, None],
        -1,
    ).astype(np.int64)
    out = dict(col)
    for name in col:
        if name.startswith("track."):
            out[name] = unflatten_rows(flat(col[name])[kept], kept_offsets)
    for j, name in enumerate(present):
        out[f"cand.{name}"] = unflatten_rows(np.ascontiguousarray(renumbered[:, j]), cand_offsets)
    return out


def _electron_chunk(
    *arrays: Any,
    names: tuple[str, ...],
    model: OnnxModel,
    fudge: Any = None,
    all_features: bool = False,
) -> ak.Array:
    """The electron CNN columns of one eager chunk (``names`` label ``arrays``).

    The cells are identified in the geometry once, for the images and the HLVs, and only
    the HLVs the model reads are computed (:func:`~egamma_cnn.features.columns.feature_values`
    with the model's ``hlv_names``), as flat numpy arrays. ``all_features=True`` keeps the
    former path for comparisons (benchmarks/bench_scoring.py): every output of the HLVs'
    feature groups as awkward records and the cells identified twice. Both give the same
    numbers bit for bit (tests/test_column_speed.py).
    """
    col = dict(zip(names, arrays, strict=True))
    inputs_needed = {spec.name for spec in model.inputs}
    cand_offsets = offsets_of(col["cand.clusterEta"])
    cluster_eta = flat(col["cand.clusterEta"], np.float64)
    cluster_e = flat(col["cand.clusterE"], np.float64)
    check_candidates(cand_offsets, cluster_eta, flat(col["cand.clusterPhi"], np.float64), cluster_e)
    inputs: dict[str, np.ndarray] = {}
    wants_images = bool(inputs_needed & {"coarse", "fine"})
    hlv_groups = _hlv_groups(model) if "hlv" in inputs_needed else ()
    if not all_features and "track.pt" in col and "isolation" not in hlv_groups:
        col = _with_own_tracks_only(col, cand_offsets)
    cells = None
    if not all_features and "cell.eta" in col:
        cells = jagged_cell_table(
            col["cell.eta"], col["cell.phi"], col["cell.energy"], col["cell.sampling"]
        )
    if wants_images and cells is not None:
        images = build_images(
            cells,
            cand_offsets,
            flat(col["cand.clusterEta"]),
            flat(col["cand.clusterPhi"]),
            ELECTRON_IMAGES,
        )
        inputs.update({k: v for k, v in images.items() if k in inputs_needed})
    elif wants_images:
        images, _ = image_batch_from_columns(
            *(col[f"cell.{f}"] for f in CELL_FIELDS),
            col["cand.clusterEta"],
            col["cand.clusterPhi"],
            ELECTRON_IMAGES,
        )
        inputs.update({k: v for k, v in images.items() if k in inputs_needed})
    if "tracks" in inputs_needed:
        inputs["tracks"], _ = track_batch_from_columns(
            *(col[f"track.{f}"] for f in TRACK_INPUT_FIELDS),
            col["cand.clusterE"],
            col["cand.trackIdx"],
            *(col[f"cand.trackIdx{slot}"] for slot in range(1, N_TRACK_SLOTS + 1)),
        )
    if "hlv" in inputs_needed:
        hlv_names = tuple(model.metadata["hlv_names"])
        if all_features:
            record = feature_chunk(
                *arrays,
                names=names,
                kind="electron",
                groups=hlv_groups,
                fudge=fudge,
            )
            flat_record = ak.flatten(record, axis=1)
            columns = {n: ak.to_numpy(flat_record[n]) for n in hlv_names}
        else:
            columns = feature_values(
                col,
                kind="electron",
                groups=hlv_groups,
                names=hlv_names,
                fudge=fudge,
                cells=cells,
            )
        hlv = np.empty((len(cluster_eta), len(hlv_names)), np.float32)
        for j, name in enumerate(hlv_names):
            hlv[:, j] = columns[name]  # float64 → float32, as .astype(np.float32)
        inputs["hlv"] = hlv
    probs = model.predict(inputs)
    settings = model.metadata.get("discriminant", {})
    score = discriminant(probs, settings.get("weights"), settings.get("charge_flip", "signal"))
    fields: dict[str, Any] = {
        "cnn_probs": ak.zip(
            {
                n: unflatten_rows(probs[:, k].copy(), cand_offsets)
                for k, n in enumerate(model.class_names)
            },
            depth_limit=2,
        ),
        "cnn_score": unflatten_rows(score, cand_offsets),
    }
    for name, passes in _working_point_columns(model, score, cluster_e, cluster_eta).items():
        fields[name] = unflatten_rows(passes, cand_offsets)
    return ak.zip(fields, depth_limit=2)


def _photon_chunk(*arrays: Any, names: tuple[str, ...], model: OnnxModel) -> ak.Array:
    col = dict(zip(names, arrays, strict=True))
    cand_offsets = offsets_of(col["cand.clusterEta"])
    cluster_e = flat(col["cand.clusterE"], np.float64)
    cluster_eta = flat(col["cand.clusterEta"], np.float64)
    check_candidates(cand_offsets, cluster_eta, flat(col["cand.clusterPhi"], np.float64), cluster_e)
    images, _ = image_batch_from_columns(
        *(col[f"cell.{f}"] for f in CELL_FIELDS),
        col["cand.clusterEta"],
        col["cand.clusterPhi"],
        PHOTON_IMAGES,
    )
    probs = model.predict({spec.name: images[spec.name] for spec in model.inputs})
    signal = model.class_names.index(model.metadata.get("signal_class", "prompt"))
    score = probs[:, signal].astype(np.float64)
    fields: dict[str, Any] = {"cnn_score": unflatten_rows(score, cand_offsets)}
    passes = _working_point_columns(model, score, cluster_e, cluster_eta)
    for name, values in passes.items():
        fields[name] = unflatten_rows(values, cand_offsets)
    return ak.zip(fields, depth_limit=2)


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def electron_identification(
    cells: Any,
    tracks: Any,
    electrons: Any,
    *,
    pv_z: Any = None,
    model: str | os.PathLike[str] | OnnxModel | None = None,
    event_index: Any = None,
    cell_fields: Mapping[str, str] | None = None,
    track_fields: Mapping[str, str] | None = None,
    electron_fields: Mapping[str, str] | None = None,
    fudge: str | os.PathLike[str] | FudgeFile | None = None,
) -> Any:
    """Electron CNN columns of every electron candidate (ATL-PHYS-PUB-2023-001 §5).

    Parameters
    ----------
    cells, tracks : ak.Array or dask_awkward.Array
        Jagged calorimeter cells (``eta, phi, energy, sampling``) and inner-detector
        tracks (:data:`~egamma_cnn.images.TRACK_INPUT_FIELDS` and the track-variable
        inputs) per event: ``events.CaloCell`` and ``events.Track``.
    electrons : ak.Array or dask_awkward.Array
        Jagged candidates with ``clusterEta, clusterPhi, clusterE, trackIdx,
        trackIdx1..5, nTracks, deltaEta1, deltaPhiRescaled2`` (``events.Electron``); may
        be a selection of the events of ``cells`` when ``event_index`` is given.
    pv_z : ak.Array or dask_awkward.Array, optional
        Hard-scatter vertex z per event, needed only by a model with isolation HLVs.
    model : str, path or OnnxModel, optional
        The shipped electron CNN by default; see :func:`load_identification_model`.
    event_index : ak.Array or dask_awkward.Array, optional
        Per candidate, its event's position among the events of ``cells`` and ``tracks``:
        ``electrons.eventIndex`` of the egamma-cnn schema, with ``cells`` and ``tracks``
        the *unselected* collections of the same chunk (``events.CaloCell``). It must
        have the structure of ``electrons``; without it, ``electrons`` must be grouped by
        exactly the events of ``cells``.
    cell_fields, track_fields, electron_fields : mapping of str to str, optional
        For other ntuples: the user's field name of each egamma-cnn field that differs.
    fudge : str, path or FudgeFile, optional
        A fudge-factor file (``egamma-cnn datamc``'s ``fudge_factors.json``): the
        network's high-level-variable input gets the fudged shower shapes (Zumbihl's e/γ talk, "the
        effect of fudging on the efficiencies"); the images and tracks are unchanged.

    Returns
    -------
    ak.Array or dask_awkward.Array
        One record per candidate: ``cnn_probs`` (record of the six class probabilities),
        ``cnn_score`` (float64, D/(1+D)) and ``cnn_<wp>`` booleans per working point.

    Raises
    ------
    ValueError
        A missing field (named, with how to map it), a track index outside its event,
        or non-finite inputs; :class:`~egamma_cnn.model.ModelMetadataError` when the
        model does not take these inputs.
    """
    return _electron_columns(
        cells,
        tracks,
        electrons,
        pv_z=pv_z,
        model=model,
        event_index=event_index,
        cell_fields=cell_fields,
        track_fields=track_fields,
        electron_fields=electron_fields,
        fudge=fudge,
    )


def _electron_columns(
    cells: Any,
    tracks: Any,
    electrons: Any,
    *,
    pv_z: Any = None,
    model: str | os.PathLike[str] | OnnxModel | None = None,
    event_index: Any = None,
    cell_fields: Mapping[str, str] | None = None,
    track_fields: Mapping[str, str] | None = None,
    electron_fields: Mapping[str, str] | None = None,
    fudge: str | os.PathLike[str] | FudgeFile | None = None,
    all_features: bool = False,
) -> Any:
    """:func:`electron_identification`; ``all_features=True`` runs the former feature path.

    The former path (every output of the HLVs' feature groups, the cells identified for
    the images and again for the HLVs) stays for the before/after comparison of
    benchmarks/bench_scoring.py and the bit-for-bit test of tests/test_column_speed.py.
    """
    onnx = load_identification_model(model, "electron")
    cells = _mapped(cells, cell_fields, "cell")
    tracks = _mapped(tracks, track_fields, "track")
    electrons = _mapped(electrons, electron_fields, "electron")
    inputs = {spec.name for spec in onnx.inputs}
    groups = _hlv_groups(onnx) if "hlv" in inputs else ()
    if groups:
        if "isolation" in groups and pv_z is None:
            raise ValueError(f"{onnx.path.name} uses isolation inputs: pass pv_z (events.PV.z)")
        columns = needed_columns(
            cells, tracks, electrons, pv_z if "isolation" in groups else None, "electron", groups
        )
    else:
        columns = {
            "cand.clusterEta": field_of(electrons, "clusterEta", "electron"),
            "cand.clusterPhi": field_of(electrons, "clusterPhi", "electron"),
            "cand.clusterE": field_of(electrons, "clusterE", "electron"),
        }
    if inputs & {"coarse", "fine"}:
        for name in CELL_FIELDS:
            columns.setdefault(f"cell.{name}", field_of(cells, name, "cell"))
    if "tracks" in inputs:
        for name in TRACK_INPUT_FIELDS:
            columns.setdefault(f"track.{name}", field_of(tracks, name, "track"))
        for name in ("trackIdx", *(f"trackIdx{s}" for s in range(1, N_TRACK_SLOTS + 1))):
            columns.setdefault(f"cand.{name}", field_of(electrons, name, "electron"))
    fudge_file = _fudge_file(fudge)
    if fudge_file is not None and "hlv" not in inputs:
        raise ValueError(
            f"{onnx.path.name} takes no high-level variables: fudge factors cannot change it"
        )
    return apply_on_named_columns(
        _electron_chunk,
        columns,
        event_index,
        label="electron-cnn",
        memo=True,
        model=onnx,
        fudge=fudge_file,
        all_features=all_features,
    )


def photon_identification(
    cells: Any,
    photons: Any,
    *,
    model: str | os.PathLike[str] | OnnxModel | None = None,
    event_index: Any = None,
    cell_fields: Mapping[str, str] | None = None,
    photon_fields: Mapping[str, str] | None = None,
) -> Any:
    """Photon CNN columns of every photon candidate (Franco's photon-ID talk).

    ``photons`` need ``clusterEta, clusterPhi, clusterE``; the other arguments are as in
    :func:`electron_identification`. Returns one record per candidate with ``cnn_score``
    (the prompt-photon probability, float64) and ``cnn_<wp>`` booleans (``cnn_loose``,
    ``cnn_tight`` for the shipped model).
    """
    onnx = load_identification_model(model, "photon")
    cells = _mapped(cells, cell_fields, "cell")
    photons = _mapped(photons, photon_fields, "photon")
    columns = {f"cell.{name}": field_of(cells, name, "cell") for name in CELL_FIELDS}
    for name in ("clusterEta", "clusterPhi", "clusterE"):
        columns[f"cand.{name}"] = field_of(photons, name, "photon")
    return _run(_photon_chunk, columns, event_index, "photon-cnn", onnx)


def _run(function, columns: dict[str, Any], event_index: Any, label: str, model: OnnxModel):
    return apply_on_named_columns(
        function, columns, event_index, label=label, memo=True, model=model
    )


def _stacked_probabilities(probs: ak.Array) -> np.ndarray:
    flat_probs = ak.flatten(probs, axis=1)
    missing = [n for n in ELECTRON_CLASS_NAMES if n not in flat_probs.fields]
    if missing:
        raise ValueError(f"cnn_probs lacks the classes {missing}; pass Electron.cnn_probs")
    return np.stack([ak.to_numpy(flat_probs[n]) for n in ELECTRON_CLASS_NAMES], axis=1).reshape(
        len(flat_probs), len(ELECTRON_CLASS_NAMES)
    )


def _discriminant_chunk(probs: ak.Array, *, weights, charge_flip) -> ak.Array:
    values = discriminant(_stacked_probabilities(probs), weights, charge_flip)
    return unflatten_rows(values, offsets_of(probs))


def electron_discriminant(
    cnn_probs: Any,
    weights: Mapping[str, float] | None = None,
    charge_flip: str = "signal",
) -> Any:
    """D/(1+D) of ATL-PHYS-PUB-2023-001 Eq. 1–2 with your own class weights or charge-flip choice.

    Parameters
    ----------
    cnn_probs : ak.Array or dask_awkward.Array
        ``events.Electron.cnn_probs`` (jagged records of the six class probabilities).
    weights : mapping of class name to float, optional
        Relative class weights, e.g. the sample's class fractions from
        :func:`class_fractions`; None gives the agnostic (equal) weights.
    charge_flip : {"signal", "background"}
        Whether charge-flip electrons count as signal.

    Returns
    -------
    ak.Array or dask_awkward.Array
        float64 per candidate in [0, 1] (see :func:`egamma_cnn.model.discriminant`).
    """
    if not isinstance(weights, Mapping | type(None)):
        raise TypeError("weights must be a mapping of class name to weight, or None")
    weights = dict(weights) if weights is not None else None
    return apply_per_chunk(
        _discriminant_chunk,
        cnn_probs,
        label="electron-discriminant",
        weights=weights,
        charge_flip=charge_flip,
    )


def _argmax_chunk(probs: ak.Array) -> ak.Array:
    stacked = _stacked_probabilities(probs)
    return unflatten_rows(np.argmax(stacked, axis=1).astype(np.int64), offsets_of(probs))


def class_fractions(cnn_probs: Any) -> Any:
    """Predicted class fractions of a sample from the arg-max (ATL-PHYS-PUB-2023-001 §6.2).

    Eager ``cnn_probs`` give ``{class: fraction}`` (the numbers of
    :func:`egamma_cnn.model.predict_class_fractions`, all 0 for an empty sample);
    dask-awkward ones give a ``dask.delayed`` object whose ``.compute()`` is that dict.
    Feed the result to :func:`electron_discriminant` as ``weights``.
    """
    if isinstance(cnn_probs, dak.Array):
        predicted = apply_per_chunk(_argmax_chunk, cnn_probs, label="cnn-argmax")
        counts = [dak.sum(predicted == k, axis=None) for k in range(len(ELECTRON_CLASS_NAMES))]
        return dask.delayed(_fractions_from_counts)(counts)
    return predict_class_fractions(_stacked_probabilities(cnn_probs))


def _fractions_from_counts(counts: list[Any]) -> dict[str, float]:
    values = np.asarray([float(c) for c in counts])
    total = values.sum()
    fractions = values / total if total > 0 else np.zeros_like(values)
    return dict(zip(ELECTRON_CLASS_NAMES, fractions.tolist(), strict=True))


# --------------------------------------------------------------------------------------
# The likelihood baseline as columns
# --------------------------------------------------------------------------------------


#: The likelihood file that ships with the package (beside the shipped models).
SHIPPED_LIKELIHOOD = "electron_llh.json"


def _shipped_likelihood_path() -> Path:
    return shipped_model_path("electron").parent / SHIPPED_LIKELIHOOD


class LikelihoodFile(PathPickled):
    """A likelihood JSON by path, loaded once per process (what travels in a dask graph).

    ``path`` is a file written by :meth:`egamma_cnn.model.LikelihoodID.save`; None is the
    shipped ``electron_llh.json``. The file is read and checked when the object is made
    (through :func:`egamma_cnn.filecache.cached`: once per file state per process) and
    :meth:`get` returns that :class:`~egamma_cnn.model.LikelihoodID` for the object's
    whole life. It pickles as its path and the file's state (size, modification time;
    the shipped file: its name, resolved and unchecked in the receiving process's own
    installation): a process that unpickles it after the file was rewritten raises
    :class:`~egamma_cnn.filecache.FileChangedError`, never a silent switch of PDFs.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a likelihood JSON (the message names it).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        shipped = _shipped_likelihood_path()
        self.path = str(shipped) if path is None else os.path.abspath(os.fspath(path))
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"no likelihood file {self.path}")
        self.identity = FileIdentity.of(self.path)
        self.shipped = Path(self.path).resolve() == shipped.resolve()
        self.shipped_name = SHIPPED_LIKELIHOOD if self.shipped else None
        self._likelihood = cached(_load_likelihood, self.identity)

    @classmethod
    def _shipped_path(cls, name: str) -> Path | None:
        return _shipped_likelihood_path() if name == SHIPPED_LIKELIHOOD else None

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return ("egamma_cnn.LikelihoodFile", self.path, self.identity.size, self.identity.mtime_ns)

    def __repr__(self) -> str:
        return f"LikelihoodFile({self.path!r})"

    def get(self) -> LikelihoodID:
        """The :class:`~egamma_cnn.model.LikelihoodID` of the file as it was opened."""
        return self._likelihood


def _load_likelihood(identity: FileIdentity) -> LikelihoodID:
    """:meth:`LikelihoodID.load` of the file of ``identity``, checked to be that file."""
    try:
        return LikelihoodID.from_dict(json.loads(identity.read_bytes()))
    except FileChangedError:
        raise
    except (ValueError, TypeError, AttributeError) as err:  # not JSON, or another document
        raise ValueError(
            f"{identity.path} is not a likelihood file written by LikelihoodID.save: {err}"
        ) from None


def _fudge_file(fudge: Any) -> FudgeFile | None:
    """``fudge`` as a :class:`~egamma_cnn.corrections.FudgeFile` (None stays None)."""
    if fudge is None or isinstance(fudge, FudgeFile):
        return fudge
    return FudgeFile(fudge)


def _likelihood_chunk(
    *arrays: Any, names: tuple[str, ...], llh: LikelihoodFile, fudge: Any = None
) -> ak.Array:
    likelihood = llh.get()
    col = dict(zip(names, arrays, strict=True))
    cand_offsets = offsets_of(col["cand.clusterEta"])
    cluster_eta = flat(col["cand.clusterEta"], np.float64)
    cluster_e = flat(col["cand.clusterE"], np.float64)
    et = cluster_e / np.cosh(cluster_eta)
    record = ak.flatten(
        feature_chunk(
            *arrays,
            names=names,
            kind="electron",
            groups=("shower_shapes", "track_variables"),
            fudge=fudge,
        ),
        axis=1,
    )
    # float32, as the training tables the PDFs were fitted on
    values = np.stack(
        [ak.to_numpy(record[n]).astype(np.float32) for n in LIKELIHOOD_INPUTS], axis=1
    ).reshape(len(cluster_eta), len(LIKELIHOOD_INPUTS))
    hits = [ak.to_numpy(record[n]) for n in ("nBLayerHits", "nPixelHits", "nSCTHits")]
    score = likelihood.discriminant(values, et, cluster_eta)
    fields = {"llh_score": unflatten_rows(np.asarray(score, np.float64), cand_offsets)}
    for name in likelihood.working_points:
        passes = likelihood.passes(name, values, et, cluster_eta, *hits, discriminant=score)
        fields[f"llh_{name}"] = unflatten_rows(np.asarray(passes, bool), cand_offsets)
    return ak.zip(fields, depth_limit=2)


def electron_likelihood(
    cells: Any,
    tracks: Any,
    electrons: Any,
    *,
    likelihood: str | os.PathLike[str] | None = None,
    event_index: Any = None,
    cell_fields: Mapping[str, str] | None = None,
    track_fields: Mapping[str, str] | None = None,
    electron_fields: Mapping[str, str] | None = None,
    fudge: str | os.PathLike[str] | FudgeFile | None = None,
) -> Any:
    """The likelihood baseline (ATL-PHYS-PUB-2023-001 §6.1) as columns: ``llh_score`` and its WPs.

    d = L_S/(L_S + L_B) from the shipped ``electron_llh.json`` (or ``likelihood``, a file
    written by :meth:`egamma_cnn.model.LikelihoodID.save`), with ``llh_loose``,
    ``llh_medium``, ``llh_tight`` (the cut on d in the E_T × |η| bin and the track-hit
    requirements). Arguments as :func:`electron_identification`; with ``fudge`` the PDFs
    are evaluated on the fudged shower shapes.
    """
    llh = LikelihoodFile(likelihood)
    cells = _mapped(cells, cell_fields, "cell")
    tracks = _mapped(tracks, track_fields, "track")
    electrons = _mapped(electrons, electron_fields, "electron")
    columns = needed_columns(
        cells, tracks, electrons, None, "electron", ("shower_shapes", "track_variables")
    )
    return apply_on_named_columns(
        _likelihood_chunk,
        columns,
        event_index,
        label="electron-llh",
        memo=True,
        llh=llh,
        fudge=_fudge_file(fudge),
    )
