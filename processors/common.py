"""What every pre-built processor needs: eager or dask, a histogram factory, the dataset."""

from __future__ import annotations

from typing import Any

import awkward as ak
import dask_awkward as dak
import hist
import hist.dask as hda

from egamma_cnn.expressions import Expression
from egamma_cnn.tnp.columns import has_columns
from egamma_cnn.tnp.pairs import event_weights

__all__ = [
    "check_declared_kind",
    "dataset_name",
    "histogram_factory",
    "is_lazy",
    "pair_weights",
]


def is_lazy(array: Any) -> bool:
    """Whether ``array`` is a dask-awkward array (the processor runs lazily)."""
    return isinstance(array, dak.Array)


def histogram_factory(lazy: bool) -> Any:
    """``hist.Hist.new``, or ``hist.dask.Hist.new`` (dask-histogram) in dask mode."""
    if lazy:
        return hda.Hist.new
    return hist.Hist.new


def dataset_name(events: Any) -> str:
    """The dataset of NanoEvents (coffea's ``metadata["dataset"]``), else "sample"."""
    try:
        return (events.metadata or {}).get("dataset", "sample")
    except AttributeError:  # plain awkward arrays have no NanoEvents metadata
        return "sample"


def check_declared_kind(events: Any, collection: str | None, truth: str | None) -> None:
    """Refuse a dataset whose files contradict its ``metadata.is_data``.

    Simulation carries the truth (egamma-cnn files: ``Electron.truthClass``; CMS NanoAOD:
    ``Electron.genPartIdx``, read through coffea's ``matched_gen``), data does not: a
    dataset declared data whose files have it, or declared simulation whose files lack it,
    would give plausible numbers from the wrong sample (scale factors of MC against MC).
    ``truth`` is the configuration's truth column or expression; the truth is there when
    every column it names can be computed from the collection (``collection`` None: from
    the events themselves, the rows of a flat ntuple). Checked when the processor
    builds its graph, before any chunk is read; nothing is checked without a truth
    (``truth=None``) or without ``is_data`` in the metadata.

    Raises
    ------
    ValueError
        Naming the dataset, what it is declared and what its files are.
    """
    metadata = getattr(events, "metadata", None) or {}
    is_data = metadata.get("is_data")
    if truth is None or not isinstance(is_data, bool):
        return
    if collection is not None and collection not in events.fields:
        return
    candidates = events if collection is None else events[collection]
    has_truth = has_columns(candidates, Expression.parse(truth).names)
    if is_data == has_truth:
        name = metadata.get("dataset", "sample")
        declared, found = ("data", "carry") if is_data else ("simulation", "lack")
        raise ValueError(
            f"dataset {name!r} is declared {declared} (metadata.is_data {str(is_data).lower()}) "
            f"but its files {found} the truth {truth!r} of {collection or 'the rows'}: correct "
            "metadata.is_data (or set the configuration's truth to null for simulation "
            "without truth)"
        )


def pair_weights(events: Any, field: str | None, pairs: Any) -> Any:
    """The event weight of every pair (flat), or None without weights
    (:func:`egamma_cnn.tnp.pairs.event_weights`: simulation only, checked)."""
    weights = event_weights(events, field)
    if weights is None:
        return None
    return ak.flatten(ak.broadcast_arrays(weights, pairs.mass)[0])
