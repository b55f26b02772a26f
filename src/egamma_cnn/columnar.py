"""Glue between jagged awkward columns and the flat numba kernels, eagerly and on dask.

Every builder of images and features has the same shape: take a few jagged columns of
one chunk of events (cells, tracks, candidates), hand their offsets and contents to a
numba kernel, and wrap the kernel's flat output back into arrays parallel to the
candidates. :func:`apply_per_chunk` runs such a *chunk function* either directly on
awkward arrays or, when any input is a ``dask_awkward.Array``, inside
``dask_awkward.map_partitions``. There the chunk function also meets awkward
*typetracers* (arrays with a form but no data) while dask-awkward builds the graph: we
touch every input column, so that column projection reads exactly those branches, and
return the typetracer of the output's form, obtained by running the chunk function on
zero-length inputs of the same forms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import awkward as ak
import numpy as np

from egamma_cnn.cellgrid import CellTable, prepare_cells

__all__ = [
    "apply_per_chunk",
    "field_of",
    "flat",
    "jagged_cell_table",
    "offsets_of",
    "unflatten_rows",
]


def field_of(collection: Any, name: str, what: str) -> Any:
    """``collection[name]``, or a ``ValueError`` that names the missing field."""
    try:
        return collection[name]
    except Exception:
        raise ValueError(f"the {what} collection has no field {name!r}") from None


def offsets_of(array: ak.Array) -> np.ndarray:
    """``int64[n + 1]`` offsets of a jagged (``var * ...``) array's outer lists."""
    counts = ak.to_numpy(ak.num(array, axis=1)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def flat(array: ak.Array, dtype: Any = None) -> np.ndarray:
    """The contents of a jagged array of numbers as a flat numpy array."""
    values = ak.to_numpy(ak.flatten(array, axis=1))
    return values if dtype is None else np.asarray(values, dtype)


def jagged_cell_table(
    eta: ak.Array, phi: ak.Array, energy: ak.Array, sampling: ak.Array
) -> CellTable:
    """:func:`egamma_cnn.cellgrid.prepare_cells` of the jagged cell columns of a chunk."""
    return prepare_cells(offsets_of(eta), flat(eta), flat(phi), flat(energy), flat(sampling))


def unflatten_rows(values: np.ndarray, offsets: np.ndarray) -> ak.Array:
    """Wrap ``values`` (first axis = all candidates) as ``var * ...`` per event.

    No copy: the numpy buffer becomes the content of a ``ListOffsetArray`` whose inner
    dimensions stay regular (``var * 18 * 7 * 11 * float32`` for a coarse image).
    """
    content = ak.contents.NumpyArray(values)
    layout = ak.contents.ListOffsetArray(ak.index.Index64(offsets), content)
    return ak.Array(layout)


def _is_typetracer(array: Any) -> bool:
    return isinstance(array, ak.Array) and ak.backend(array) == "typetracer"


class _ChunkFunction:
    """A chunk function that also answers typetracer inputs (see module docstring)."""

    def __init__(self, function: Callable[..., ak.Array], kwargs: dict[str, Any]) -> None:
        self.function = function
        self.kwargs = kwargs

    def __call__(self, *arrays: Any) -> ak.Array:
        if any(_is_typetracer(a) for a in arrays):
            for a in arrays:
                if _is_typetracer(a):
                    ak.typetracer.touch_data(a)
            empty = [
                ak.Array(a.layout.form.length_zero_array()) if isinstance(a, ak.Array) else a
                for a in arrays
            ]
            result = self.function(*empty, **self.kwargs)
            return ak.Array(result.layout.to_typetracer(forget_length=True))
        return self.function(*arrays, **self.kwargs)


def apply_per_chunk(
    function: Callable[..., ak.Array], *arrays: Any, label: str, **kwargs: Any
) -> Any:
    """Run ``function(*arrays, **kwargs)`` eagerly, or per partition on dask arrays.

    Parameters
    ----------
    function : callable
        Takes awkward arrays of one chunk (all with the same number of events) and returns
        an awkward array with one entry per event.
    *arrays : ak.Array or dask_awkward.Array
        Event-aligned columns. Pass leaf columns (``cells.eta``, not ``cells``): every
        input is read in full.
    label : str
        Name of the dask task.
    **kwargs
        Passed to ``function`` (plain Python values).

    Returns
    -------
    ak.Array or dask_awkward.Array
        Eager output for eager inputs, a lazy array for dask inputs.
    """
    try:
        import dask_awkward as dak
    except ImportError:  # pragma: no cover - dask-awkward is a runtime dependency
        dak = None
    if dak is not None and any(isinstance(a, dak.Array) for a in arrays):
        return dak.map_partitions(_ChunkFunction(function, kwargs), *arrays, label=label)
    lengths = {len(a) for a in arrays if isinstance(a, ak.Array)}
    if len(lengths) > 1:
        raise ValueError(f"{label}: inputs have different numbers of events {sorted(lengths)}")
    return _ChunkFunction(function, kwargs)(*arrays)
