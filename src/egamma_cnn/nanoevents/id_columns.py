"""The identification and feature columns of ``Electron`` and ``Photon`` as behaviours.

:mod:`egamma_cnn.nanoevents.methods` attaches the properties made here to its mixins, so
that ``events.Electron.cnn_score``, ``events.Electron.cnn_tight``,
``events.Electron.reta`` ... are plain attributes, eager and on dask-awkward alike.
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
from typing import Any

from coffea.util import dask_property

from egamma_cnn.corrections.fudge import FudgeFile
from egamma_cnn.corrections.isolation import ISOLATION_WORKING_POINTS

__all__ = ["SETTINGS_KEY", "IdentificationSettings", "feature_property", "id_property"]

#: Key of the :class:`IdentificationSettings` in an array's behaviour dict.
SETTINGS_KEY = "egamma_cnn.identification"


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
        from egamma_cnn.identification import load_identification_model

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
    from egamma_cnn.identification import electron_identification, photon_identification

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


def _features(collection: Any, kind: str, groups: tuple[str, ...] | None = None) -> Any:
    from egamma_cnn.features import GROUPS, feature_columns

    events = _events_of(collection)
    if groups is None:
        groups = GROUPS if kind == "electron" else ("shower_shapes", "isolation", "energy_flow")
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


def _collection_property(compute: Any, doc: str) -> Any:
    """A coffea ``dask_property`` whose eager and dask versions are ``compute(collection)``."""

    def eager(self: Any) -> Any:
        return compute(self)

    def lazy(self: Any, dask_array: Any) -> Any:
        return compute(dask_array)

    eager.__doc__ = doc
    prop = dask_property(eager)
    prop.dask(lazy)
    return prop


def id_property(kind: str, field: str | None, doc: str) -> Any:
    """A property with the identification record (``field`` None) or one of its fields."""

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

    return _collection_property(compute, doc)


def feature_property(kind: str, field: str | None, doc: str) -> Any:
    """A property with the feature record (``field`` None) or one of its fields.

    A single feature computes only its own group (a shower shape reads no track).
    """
    from egamma_cnn.identification import feature_group

    groups = None if field is None else (feature_group(field),)

    def compute(collection: Any) -> Any:
        record = _features(collection, kind, groups)
        return record if field is None else record[field]

    return _collection_property(compute, doc)


def _likelihood(collection: Any) -> Any:
    from egamma_cnn.identification import electron_likelihood

    events = _events_of(collection)
    return electron_likelihood(
        events["CaloCell"],
        events["Track"],
        collection,
        event_index=_event_index(collection),
        fudge=_settings(collection).fudge_file(),
    )


def llh_property(field: str | None, doc: str) -> Any:
    """A property with the likelihood record (``field`` None) or one of its fields."""

    def compute(collection: Any) -> Any:
        record = _likelihood(collection)
        return record if field is None else record[field]

    return _collection_property(compute, doc)


def isolation_property(kind: str, name: str) -> Any:
    """A boolean property: every cut of isolation working point ``name`` passes."""
    cuts = ISOLATION_WORKING_POINTS[kind][name]

    def decide(collection: Any) -> Any:
        result = None
        for column, denominator, maximum in cuts:
            passes = getattr(collection, column) < maximum * getattr(collection, denominator)
            result = passes if result is None else result & passes
        return result

    doc = " and ".join(f"{c} < {m} × {d}" for c, d, m in cuts) + " (isolation WP)."
    return _collection_property(decide, doc)
