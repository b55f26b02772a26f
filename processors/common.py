"""What every pre-built processor needs: eager or dask, a histogram factory, the dataset."""

from __future__ import annotations

from typing import Any

import awkward as ak
import dask_awkward as dak
import hist
import hist.dask as hda

__all__ = ["dataset_name", "histogram_factory", "is_lazy", "pair_weights"]


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


def pair_weights(events: Any, field: str | None, pairs: Any) -> Any:
    """The event weight ``events[field]`` of every pair (flat), or None without weights."""
    if field is None or field not in events.fields:
        return None
    return ak.flatten(ak.broadcast_arrays(events[field], pairs.mass)[0])
