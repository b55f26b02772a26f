"""Network inputs built from cells and tracks: calorimeter images and matched-track arrays.

Each builder takes the jagged collections of NanoEvents (``events.CaloCell``,
``events.Track``, ``events.Electron``/``events.Photon``) — or any jagged records with the
same field names — and returns arrays parallel to the candidates, eagerly for awkward
inputs and lazily for dask-awkward inputs::

    images = electron_images(events.CaloCell, events.Electron)
    images.coarse      # var * 18 * 7 * 11 * float32, channels = COARSE_SAMPLINGS
    images.fine        # var * 1 * 56 * 11 * float32
    track_arrays(events.Track, events.Electron)  # var * 5 * 13 * float32

For inference the ``*_batch`` functions give the same numbers as one contiguous numpy
batch per input (candidates in event order); the awkward arrays above wrap those very
buffers without a copy. Definitions: :mod:`.calorimeter`, :mod:`.tracks` and
``docs/INPUTS.md``.
"""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import numpy as np

from egamma_cnn.columnar import (
    apply_per_chunk,
    field_of,
    flat,
    jagged_cell_table,
    offsets_of,
    unflatten_rows,
)
from egamma_cnn.geometry import REGIONS
from egamma_cnn.images.calorimeter import (
    COARSE_SAMPLINGS,
    ELECTRON_IMAGES,
    PHOTON_IMAGES,
    ImageSpec,
    build_images,
)
from egamma_cnn.images.tracks import (
    N_TRACK_SLOTS,
    TRACK_FEATURES,
    TRACK_INPUT_FIELDS,
    build_track_arrays,
)

__all__ = [
    "CELL_FIELDS",
    "COARSE_SAMPLINGS",
    "ELECTRON_IMAGES",
    "INPUTS_VERSION",
    "MAX_ABS_CLUSTER_ETA",
    "MAX_CLUSTER_ENERGY_GEV",
    "N_TRACK_SLOTS",
    "PHOTON_IMAGES",
    "TRACK_FEATURES",
    "ImageSpec",
    "cell_columns",
    "check_candidates",
    "electron_image_batch",
    "electron_images",
    "image_batch_from_columns",
    "photon_image_batch",
    "photon_images",
    "track_array_batch",
    "track_arrays",
    "track_batch_from_columns",
]

#: Version of the input definitions of docs/INPUTS.md (windows, sharing, track features).
#: Trained models record it and refuse inputs built to another definition.
INPUTS_VERSION = "1"

#: Cell fields every calorimeter builder reads.
CELL_FIELDS: tuple[str, ...] = ("eta", "phi", "energy", "sampling")


#: Largest cluster energy accepted (GeV): no particle of a 13.6 TeV pp collision carries
#: more than the 6.8 TeV beam energy; 7 TeV leaves room for the energy resolution.
MAX_CLUSTER_ENERGY_GEV: float = 7000.0
#: Largest cluster |η| accepted: the outer edge of the calorimeter of
#: :mod:`egamma_cnn.geometry` (its last cells end there, so no cluster lies beyond).
MAX_ABS_CLUSTER_ETA: float = max(region.abs_eta_max for region in REGIONS)
#: Tolerance on |φ| ≤ π: a float32 φ of π rounds up to 3.1415927 (the files store
#: φ in [-π, π], docs/FILE_SCHEMA.md).
_PHI_TOLERANCE = 1e-5

_CANDIDATE_RANGES: dict[str, tuple[float, float, str]] = {
    "clusterE": (0.0, MAX_CLUSTER_ENERGY_GEV, f"within [0, {MAX_CLUSTER_ENERGY_GEV:g}] GeV"),
    "clusterEta": (
        -MAX_ABS_CLUSTER_ETA,
        MAX_ABS_CLUSTER_ETA,
        f"within |η| ≤ {MAX_ABS_CLUSTER_ETA:g}, the calorimeter of egamma_cnn.geometry",
    ),
    "clusterPhi": (-math.pi - _PHI_TOLERANCE, math.pi + _PHI_TOLERANCE, "within [-π, π]"),
}


def check_candidates(
    cand_offsets: np.ndarray,
    cluster_eta: np.ndarray | None = None,
    cluster_phi: np.ndarray | None = None,
    cluster_e: np.ndarray | None = None,
) -> None:
    """Refuse impossible cluster values of a chunk's candidates, as bad cells are refused.

    Parameters
    ----------
    cand_offsets : array of int
        ``n_events + 1`` offsets of each event's candidates into the flat arrays.
    cluster_eta, cluster_phi, cluster_e : arrays, optional
        Flat ``clusterEta``, ``clusterPhi``, ``clusterE`` of the chunk (None: not checked).

    Raises
    ------
    ValueError
        A value that is not finite or lies outside its range: ``clusterE`` in
        [0, :data:`MAX_CLUSTER_ENERGY_GEV`] GeV, ``|clusterEta|`` ≤
        :data:`MAX_ABS_CLUSTER_ETA`, ``clusterPhi`` in [-π, π] (float32 rounding
        allowed). The message names the field, the value, the event (0-based, within
        this chunk) and the candidate within its event.
    """
    for name, values in (
        ("clusterE", cluster_e),
        ("clusterEta", cluster_eta),
        ("clusterPhi", cluster_phi),
    ):
        if values is None or not len(values):
            continue
        values = np.asarray(values)
        low, high, allowed = _CANDIDATE_RANGES[name]
        good = (values >= low) & (values <= high)  # False for NaN
        if good.all():
            continue
        index = int(np.argmin(good))
        offsets = np.asarray(cand_offsets, np.int64)
        event = int(np.searchsorted(offsets, index, side="right") - 1)
        candidate = index - int(offsets[event])
        raise ValueError(
            f"{name} is {float(values[index]):.7g} for candidate {candidate} of event {event} "
            f"in this chunk; it must be finite and {allowed}"
        )


def cell_columns(cells: Any) -> list[Any]:
    """The four leaf columns of a cell collection, in :data:`CELL_FIELDS` order."""
    return [field_of(cells, name, "cell") for name in CELL_FIELDS]


def image_batch_from_columns(eta, phi, energy, sampling, cluster_eta, cluster_phi, specs):
    """Images of one chunk from jagged columns: ``({name: batch}, candidate offsets)``."""
    cand_offsets = offsets_of(cluster_eta)
    flat_eta, flat_phi = flat(cluster_eta), flat(cluster_phi)
    check_candidates(cand_offsets, flat_eta, flat_phi)
    images = build_images(
        jagged_cell_table(eta, phi, energy, sampling),
        cand_offsets,
        flat_eta,
        flat_phi,
        tuple(specs),
    )
    return images, cand_offsets


def _images_chunk(eta, phi, energy, sampling, cluster_eta, cluster_phi, *, specs):
    """Chunk function: flat kernels in, ``var * image`` records out."""
    images, cand_offsets = image_batch_from_columns(
        eta, phi, energy, sampling, cluster_eta, cluster_phi, specs
    )
    fields = {name: unflatten_rows(batch, cand_offsets) for name, batch in images.items()}
    return ak.zip(fields, depth_limit=2)


def _image_arrays(cells: Any, candidates: Any, specs: tuple[ImageSpec, ...], label: str) -> Any:
    return apply_per_chunk(
        _images_chunk,
        *cell_columns(cells),
        field_of(candidates, "clusterEta", "candidate"),
        field_of(candidates, "clusterPhi", "candidate"),
        label=label,
        specs=specs,
    )


def electron_images(cells: Any, electrons: Any) -> Any:
    """Coarse and fine calorimeter images of every electron candidate (ATL-PHYS-PUB-2023-001 §4.4).

    Parameters
    ----------
    cells : ak.Array or dask_awkward.Array
        Jagged cells per event with fields ``eta, phi, energy, sampling``
        (``events.CaloCell``).
    electrons : ak.Array or dask_awkward.Array
        Jagged candidates with ``clusterEta`` and ``clusterPhi`` (``events.Electron``).

    Returns
    -------
    ak.Array or dask_awkward.Array
        A record per candidate with ``coarse`` (18 × 7 × 11: channels
        :data:`COARSE_SAMPLINGS`, η, φ) and ``fine`` (1 × 56 × 11), float32 energies (GeV).

    Raises
    ------
    ValueError
        For the bad inputs of ``docs/INPUTS.md`` §5, naming the field.
    """
    return _image_arrays(cells, electrons, ELECTRON_IMAGES, "electron-images")


def photon_images(cells: Any, photons: Any) -> Any:
    """Strip, middle and back EM-layer images of every photon candidate (Franco's photon-ID talk).

    Returns a record per candidate with ``strips`` (56 × 3), ``middle`` (7 × 11) and
    ``back`` (4 × 11), float32 energies (GeV); see :mod:`.calorimeter`. Inputs and errors
    as :func:`electron_images`.
    """
    return _image_arrays(cells, photons, PHOTON_IMAGES, "photon-images")


def _image_batch(cells: ak.Array, candidates: ak.Array, specs) -> dict[str, np.ndarray]:
    return image_batch_from_columns(
        *cell_columns(cells),
        field_of(candidates, "clusterEta", "candidate"),
        field_of(candidates, "clusterPhi", "candidate"),
        specs,
    )[0]


def electron_image_batch(cells: ak.Array, electrons: ak.Array) -> dict[str, np.ndarray]:
    """Electron images as contiguous numpy batches for inference (eager arrays only).

    Returns ``{"coarse": float32[N, 18, 7, 11], "fine": float32[N, 1, 56, 11]}`` with the
    N candidates in event order — the same numbers as :func:`electron_images`.
    """
    return _image_batch(cells, electrons, ELECTRON_IMAGES)


def photon_image_batch(cells: ak.Array, photons: ak.Array) -> dict[str, np.ndarray]:
    """Photon images as contiguous numpy batches: ``strips``, ``middle``, ``back``."""
    return _image_batch(cells, photons, PHOTON_IMAGES)


def _track_columns(tracks: Any, electrons: Any) -> list[Any]:
    columns = [field_of(tracks, name, "track") for name in TRACK_INPUT_FIELDS]
    columns.append(field_of(electrons, "clusterE", "candidate"))
    columns.append(field_of(electrons, "trackIdx", "candidate"))
    columns += [
        field_of(electrons, f"trackIdx{slot}", "candidate") for slot in range(1, N_TRACK_SLOTS + 1)
    ]
    return columns


def track_batch_from_columns(*columns: Any) -> tuple[np.ndarray, np.ndarray]:
    """Track arrays of one chunk from jagged columns (order of :func:`_track_columns`)."""
    n_fields = len(TRACK_INPUT_FIELDS)
    track_columns = columns[:n_fields]
    cluster_e, best = columns[n_fields], columns[n_fields + 1]
    slots = columns[n_fields + 2 :]
    track_offsets = offsets_of(track_columns[0])
    values = np.empty((int(track_offsets[-1]), n_fields), np.float64)
    for j, column in enumerate(track_columns):
        values[:, j] = flat(column, np.float64)
    cand_offsets = offsets_of(cluster_e)
    flat_e = flat(cluster_e, np.float64)
    check_candidates(cand_offsets, cluster_e=flat_e)
    slot_tracks = np.stack([flat(s, np.int64) for s in slots], axis=1)
    batch = build_track_arrays(
        track_offsets,
        values,
        cand_offsets,
        flat(best, np.int64),
        slot_tracks,
        flat_e,
    )
    return batch, cand_offsets


def _track_chunk(*columns: Any) -> ak.Array:
    batch, cand_offsets = track_batch_from_columns(*columns)
    return unflatten_rows(batch, cand_offsets)


def track_arrays(tracks: Any, electrons: Any) -> Any:
    """The 5 × 13 matched-track array of every electron candidate (ATL-PHYS-PUB-2023-001 Table 5).

    Parameters
    ----------
    tracks : ak.Array or dask_awkward.Array
        ``events.Track`` (fields :data:`~.tracks.TRACK_INPUT_FIELDS`).
    electrons : ak.Array or dask_awkward.Array
        ``events.Electron`` with ``clusterE``, ``trackIdx`` and ``trackIdx1..5`` (local
        indices into the event's tracks, -1 for none).

    Returns
    -------
    ak.Array or dask_awkward.Array
        ``var * 5 * 13 * float32``, features :data:`TRACK_FEATURES`, empty slots zero.

    Raises
    ------
    ValueError
        If a track index is outside its event's tracks (names the index field).
    """
    return apply_per_chunk(_track_chunk, *_track_columns(tracks, electrons), label="track-arrays")


def track_array_batch(tracks: ak.Array, electrons: ak.Array) -> np.ndarray:
    """Matched-track arrays as one ``float32[N, 5, 13]`` batch (eager arrays only)."""
    return track_batch_from_columns(*_track_columns(tracks, electrons))[0]
