"""The identification and feature columns of ``Electron`` and ``Photon`` as behaviours.

:mod:`egamma_cnn.nanoevents.methods` declares each column in the class body of its mixin
with the property factories of this module (:func:`id_property`, :func:`llh_property`,
:func:`isolation_property`, :func:`feature_property`), so that
``events.Electron.cnn_score``, ``events.Electron.cnn_tight``, ``events.Electron.reta`` ...
are plain attributes, eager and on dask-awkward alike; every column carries a
:class:`ColumnInfo` (:func:`column_info`), from which :mod:`egamma_cnn.nanoevents.catalog`
writes the table of all columns, ``docs/COLUMNS.md``.
Each property takes the cells and tracks of the collection's original events
(``collection._events()``, coffea's convention for cross-references) and finds every
candidate's event through its ``eventIndex`` field, so the columns are right on any
selection of events or candidates. The computation itself is
:func:`egamma_cnn.identification.electron_identification` /
:func:`~egamma_cnn.identification.photon_identification` and
:func:`egamma_cnn.features.feature_columns`; on eager arrays repeated attributes of the
same collection reuse one result (the memo of :mod:`egamma_cnn.columnar`), on dask the
identical tasks share one graph key.

Which model and which inference settings: :class:`IdentificationSettings`, stored in the
behaviour of the arrays by ``EGammaSchema.with_identification(...)``; the shipped models
with the default settings otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from coffea.util import dask_property

from egamma_cnn.corrections.fudge import FudgeFile
from egamma_cnn.corrections.isolation import ISOLATION_WORKING_POINTS
from egamma_cnn.features import GROUPS, PHOTON_FEATURE_GROUPS, feature_columns
from egamma_cnn.identification import (
    electron_identification,
    electron_likelihood,
    feature_group,
    load_identification_model,
    photon_identification,
)

__all__ = [
    "SETTINGS_KEY",
    "ColumnInfo",
    "IdentificationSettings",
    "column_info",
    "feature_property",
    "id_property",
    "isolation_property",
    "llh_property",
]

#: Key of the :class:`IdentificationSettings` in an array's behaviour dict.
SETTINGS_KEY = "egamma_cnn.identification"

Kind = Literal["electron", "photon"]
ColumnType = Literal["bool", "float", "float[16]", "record"]


@dataclass(frozen=True)
class ColumnInfo:
    """What a column of ``Electron``/``Photon`` is, for the docs table and the tests.

    Parameters
    ----------
    kind : {"electron", "photon"}
        The candidate kind the column is computed for.
    field : str or None
        The field of the computed record it selects (None: the whole record).
    type : {"bool", "float", "float[16]", "record"}
        Per-candidate type of the column (``float[16]``: 16 floats per candidate).
    groups : tuple of str
        What computes it: ``"cnn"`` (:func:`~egamma_cnn.identification.electron_identification`
        / :func:`~egamma_cnn.identification.photon_identification`), ``"likelihood"``
        (:func:`~egamma_cnn.identification.electron_likelihood`), ``"isolation_wp"`` (cuts of
        :data:`~egamma_cnn.corrections.isolation.ISOLATION_WORKING_POINTS` on isolation
        columns), or the :data:`egamma_cnn.features.GROUPS` of
        :func:`~egamma_cnn.features.feature_columns`.
    """

    kind: Kind
    field: str | None
    type: ColumnType
    groups: tuple[str, ...]


def column_info(prop: Any) -> ColumnInfo | None:
    """The :class:`ColumnInfo` of a property made by this module, None for any other."""
    return getattr(getattr(prop, "fget", None), "column_info", None)


@dataclass(frozen=True)
class IdentificationSettings:
    """Models and inference settings of the ``cnn_*`` columns.

    Parameters
    ----------
    electron_model, photon_model : str or os.PathLike, optional
        A shipped model name or the path of an egamma-cnn ONNX file with the same input
        specification (default: the shipped ``"electron"`` and ``"photon"`` models).
    batch_size : int, optional
        Candidates per onnxruntime call (default: :class:`~egamma_cnn.model.OnnxModel`'s).
    intra_op_threads : int, optional
        onnxruntime threads per call (default 1, one per dask worker thread).
    providers : str or tuple of str, optional
        Execution providers, e.g. ``"auto"`` (CUDA with onnxruntime-gpu, else CPU).
    fudge : str, optional
        Absolute path of a fudge-factor correctionlib file: the electron shower-shape
        columns, ``llh_*`` and the CNN's high-level inputs are then fudged (simulation).
    """

    electron_model: str | os.PathLike[str] | None = None
    photon_model: str | os.PathLike[str] | None = None
    batch_size: int | None = None
    intra_op_threads: int | None = None
    providers: str | tuple[str, ...] | None = None
    fudge: str | None = None

    def fudge_file(self) -> Any:
        """The :class:`~egamma_cnn.corrections.FudgeFile` of ``fudge``, or None."""
        if self.fudge is None:
            return None
        return FudgeFile(self.fudge)

    def model(self, kind: str) -> Any:
        """The :class:`~egamma_cnn.model.OnnxModel` for ``kind`` (cached per process)."""
        return load_identification_model(
            self.electron_model if kind == "electron" else self.photon_model,
            kind,
            batch_size=self.batch_size,
            intra_op_threads=self.intra_op_threads,
            providers=list(self.providers) if isinstance(self.providers, tuple) else self.providers,
        )


def _settings(collection: Any) -> IdentificationSettings:
    behavior = getattr(collection, "behavior", None) or {}
    return behavior.get(SETTINGS_KEY) or IdentificationSettings()


def _event_index(collection: Any) -> Any:
    return collection["eventIndex"] if "eventIndex" in collection.fields else None


def _events_of(collection: Any) -> Any:
    """The original events of a NanoEvents collection, or an error that says what to do."""
    try:
        return collection._events()
    except (KeyError, AttributeError):
        raise ValueError(
            "this collection no longer knows the events it was read with (e.g. it was "
            "computed from dask or rebuilt): take the cnn_* and feature columns before "
            "that, or call egamma_cnn.identification.electron_identification(cells, "
            "tracks, electrons) / photon_identification(cells, photons) on it"
        ) from None


def _identification(collection: Any, kind: str) -> Any:
    events = _events_of(collection)
    settings = _settings(collection)
    model = settings.model(kind)
    if kind == "electron":
        pv_z = events["PV"]["z"] if "PV" in events.fields else None
        return electron_identification(
            events["CaloCell"],
            events["Track"],
            collection,
            pv_z=pv_z,
            model=model,
            event_index=_event_index(collection),
            fudge=settings.fudge_file() if "hlv" in {i.name for i in model.inputs} else None,
        )
    return photon_identification(
        events["CaloCell"], collection, model=model, event_index=_event_index(collection)
    )


def _all_groups(kind: str) -> tuple[str, ...]:
    return GROUPS if kind == "electron" else PHOTON_FEATURE_GROUPS


def _features(collection: Any, kind: str, groups: tuple[str, ...] | None = None) -> Any:
    events = _events_of(collection)
    if groups is None:
        groups = _all_groups(kind)
    return feature_columns(
        events["CaloCell"],
        events["Track"],
        collection,
        events["PV"]["z"],
        kind=kind,
        groups=groups,
        event_index=_event_index(collection),
        fudge=_settings(collection).fudge_file() if kind == "electron" else None,
    )


def _collection_property(compute: Any, doc: str, info: ColumnInfo) -> Any:
    """A coffea ``dask_property`` whose eager and dask versions are ``compute(collection)``.

    ``info`` travels on the eager function (``column_info``), which pickles with it.
    """

    def eager(self: Any) -> Any:
        return compute(self)

    def lazy(self: Any, dask_array: Any) -> Any:
        return compute(dask_array)

    eager.__doc__ = doc
    eager.column_info = info  # type: ignore[attr-defined]
    prop = dask_property(eager)
    prop.dask(lazy)
    return prop


#: Per-candidate types of the identification fields that are not booleans (working points).
_ID_TYPES: dict[str | None, ColumnType] = {
    None: "record",
    "cnn_probs": "record",
    "cnn_score": "float",
    "llh_score": "float",
}


def id_property(kind: Kind, field: str | None, doc: str) -> Any:
    """A property with the CNN identification record (``field`` None) or one of its fields.

    Parameters
    ----------
    kind : {"electron", "photon"}
        Which model: :func:`~egamma_cnn.identification.electron_identification` or
        :func:`~egamma_cnn.identification.photon_identification`.
    field : str or None
        ``"cnn_probs"``, ``"cnn_score"`` or a working point ``"cnn_<name>"`` of the model;
        None for the whole record.
    doc : str
        The definition of the column (its docstring).
    """

    def compute(collection: Any) -> Any:
        record = _identification(collection, kind)
        if field is None:
            return record
        if field not in record.fields:
            raise AttributeError(
                f"the {kind} model gives no column {field!r}; it gives {record.fields} "
                "(a model without that working point)"
            )
        return record[field]

    info = ColumnInfo(kind, field, _ID_TYPES.get(field, "bool"), ("cnn",))
    return _collection_property(compute, doc, info)


def feature_property(kind: Kind, field: str | None, doc: str) -> Any:
    """A property with the feature record (``field`` None) or one of its fields.

    A single feature computes only its own group (a shower shape reads no track).

    Parameters
    ----------
    kind : {"electron", "photon"}
        The candidate kind (own tracks of the track isolation, fudge for electrons).
    field : str or None
        A field of :func:`~egamma_cnn.features.feature_columns`; None for the record of
        every feature group of ``kind``.
    doc : str
        The definition of the column (its docstring).
    """
    groups = None if field is None else (feature_group(field),)

    def compute(collection: Any) -> Any:
        record = _features(collection, kind, groups)
        return record if field is None else record[field]

    column_type: ColumnType = (
        "record" if field is None else "float[16]" if field == "calo_iso_cones" else "float"
    )
    info = ColumnInfo(kind, field, column_type, groups or _all_groups(kind))
    return _collection_property(compute, doc, info)


def _likelihood(collection: Any) -> Any:
    events = _events_of(collection)
    return electron_likelihood(
        events["CaloCell"],
        events["Track"],
        collection,
        event_index=_event_index(collection),
        fudge=_settings(collection).fudge_file(),
    )


def llh_property(field: str | None, doc: str) -> Any:
    """A property with the likelihood record (``field`` None) or one of its fields.

    Parameters
    ----------
    field : str or None
        ``"llh_score"`` or a working point ``"llh_<name>"``; None for the whole record of
        :func:`~egamma_cnn.identification.electron_likelihood`.
    doc : str
        The definition of the column (its docstring).
    """

    def compute(collection: Any) -> Any:
        record = _likelihood(collection)
        return record if field is None else record[field]

    info = ColumnInfo("electron", field, _ID_TYPES.get(field, "bool"), ("likelihood",))
    return _collection_property(compute, doc, info)


def isolation_property(kind: Kind, name: str, doc: str = "Isolation working point") -> Any:
    """A boolean property: every cut of isolation working point ``name`` passes.

    Parameters
    ----------
    kind : {"electron", "photon"}
        The candidate kind, a key of
        :data:`~egamma_cnn.corrections.isolation.ISOLATION_WORKING_POINTS`.
    name : str
        The working point, e.g. ``"iso_loose"``.
    doc : str
        What the working point is and its source; the docstring adds its cuts, written
        from :data:`~egamma_cnn.corrections.isolation.ISOLATION_WORKING_POINTS`.
    """
    cuts = ISOLATION_WORKING_POINTS[kind][name]

    def decide(collection: Any) -> Any:
        result = None
        for cut in cuts:
            passes = getattr(collection, cut.column) < cut.maximum * getattr(
                collection, cut.denominator
            )
            result = passes if result is None else result & passes
        return result

    condition = " and ".join(f"{c.column} < {c.maximum} × {c.denominator}" for c in cuts)
    info = ColumnInfo(kind, name, "bool", ("isolation_wp",))
    return _collection_property(decide, f"{doc}: {condition}.", info)
