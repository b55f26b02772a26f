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

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import awkward as ak
import numpy as np

from egamma_cnn.cellgrid import CellTable, prepare_cells

__all__ = [
    "MissingFieldError",
    "apply_on_candidates",
    "apply_per_chunk",
    "field_of",
    "flat",
    "jagged_cell_table",
    "offsets_of",
    "unflatten_rows",
]


class MissingFieldError(ValueError):
    """A collection lacks a field an input needs (the message names both)."""


def field_of(collection: Any, name: str, what: str) -> Any:
    """``collection[name]``, or a ``ValueError`` that names the missing field."""
    try:
        return collection[name]
    except MissingFieldError:
        raise
    except Exception:
        raise MissingFieldError(f"the {what} collection has no field {name!r}") from None


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


#: Results of memoised eager chunk calls, newest last (see :func:`_memo_key`).
_MEMO: OrderedDict[tuple[Any, ...], tuple[list[Any], ak.Array]] = OrderedDict()
#: How many eager results are kept.
MEMO_SIZE = 8


def _leaf_buffers(layout: Any, out: list[Any]) -> None:
    """Every buffer (data, offsets, indices, masks) of an awkward layout, in tree order."""
    if isinstance(layout, ak.contents.NumpyArray):
        out.append(layout.data)
    for name in ("offsets", "starts", "stops", "index", "mask", "tags"):
        index = getattr(layout, name, None)
        if isinstance(index, ak.index.Index):
            out.append(index.data)
    if isinstance(layout, ak.contents.RecordArray | ak.contents.UnionArray):
        for content in layout.contents:
            _leaf_buffers(content, out)
    elif hasattr(layout, "content"):
        _leaf_buffers(layout.content, out)


def _buffer_identity(buffer: Any) -> tuple[Any, ...]:
    """Where a buffer's memory is (numpy: address, shape, strides, dtype; else identity)."""
    if isinstance(buffer, np.ndarray):
        return (
            buffer.__array_interface__["data"][0],
            buffer.shape,
            buffer.strides,
            buffer.dtype.str,
        )
    return (id(buffer),)


def _memo_key(function: Any, kwargs: dict[str, Any], arrays: tuple[Any, ...]):
    """Key of an eager chunk call: the function, its settings and its input buffers.

    Inputs are identified by the memory of their buffers (not their values): an eager
    NanoEvents column returns views of the same buffers on every access, so asking for
    ``events.Electron.cnn_score`` and then ``events.Electron.cnn_tight`` runs the
    network once. The cache entry keeps the buffers alive, so their memory cannot be
    reused by other arrays while the entry exists.
    """
    from dask.base import tokenize

    buffers: list[Any] = []
    parts: list[Any] = []
    for array in arrays:
        if isinstance(array, ak.Array):
            layout = array.layout
            start = len(buffers)
            _leaf_buffers(layout, buffers)
            parts.append((len(layout), tokenize(layout.form.to_json())))
            parts.extend(_buffer_identity(b) for b in buffers[start:])
        else:
            parts.append(tokenize(array))
    return (
        getattr(function, "__qualname__", repr(function)),
        tokenize(kwargs),
        tuple(parts),
    ), buffers


class _ChunkFunction:
    """A chunk function that also answers typetracer inputs (see module docstring)."""

    def __init__(
        self, function: Callable[..., ak.Array], kwargs: dict[str, Any], memo: bool = False
    ) -> None:
        self.function = function
        self.kwargs = kwargs
        self.memo = memo

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
        if not self.memo:
            return self.function(*arrays, **self.kwargs)
        key, buffers = _memo_key(self.function, self.kwargs, arrays)
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key][1]
        result = self.function(*arrays, **self.kwargs)
        _MEMO[key] = (buffers, result)
        while len(_MEMO) > MEMO_SIZE:
            _MEMO.popitem(last=False)
        return result


def apply_per_chunk(
    function: Callable[..., ak.Array],
    *arrays: Any,
    label: str,
    memo: bool = False,
    **kwargs: Any,
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
    memo : bool
        Eager calls only: return the earlier result of the same function, settings and
        input buffers (the last :data:`MEMO_SIZE` calls are kept).
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
    return _ChunkFunction(function, kwargs, memo)(*arrays)


class _OnCandidateSubset:
    """Chunk function adapter for candidates that may be a subset of their events.

    The builders group candidates by event with the same event list as the cells and
    tracks. After a selection (``events[mask].Electron``, ``events.Electron[cut]``) the
    candidates are fewer and their events are a subset; the per-candidate *event index*
    (the candidate's event position in the chunk the cells come from) restores the
    grouping: the candidates are stably sorted by event index, counted into every event
    of the chunk, passed to the wrapped function, and its per-candidate output is put
    back into the candidates' own order and lists.
    """

    def __init__(self, function: Callable[..., ak.Array], n_event_inputs: int) -> None:
        self.function = function
        self.n_event_inputs = n_event_inputs
        self.__qualname__ = f"on_candidate_subset:{getattr(function, '__qualname__', function)}"

    def __call__(self, *arrays: Any, **kwargs: Any) -> ak.Array:
        event_inputs = arrays[: self.n_event_inputs]
        candidate_inputs = arrays[self.n_event_inputs : -1]
        event_index = arrays[-1]
        n_events = len(event_inputs[0])
        counts = ak.to_numpy(ak.num(event_index, axis=1)).astype(np.int64)
        index = flat(event_index, np.int64)
        if len(index) and (index.min() < 0 or index.max() >= n_events):
            raise ValueError(
                f"candidate event index outside 0..{n_events - 1}: the candidates do not "
                "belong to the events whose cells and tracks were given"
            )
        order = np.argsort(index, kind="stable")
        per_event = np.bincount(index, minlength=n_events)
        regrouped = [ak.unflatten(flat(column)[order], per_event) for column in candidate_inputs]
        result = self.function(*event_inputs, *regrouped, **kwargs)
        flat_result = ak.flatten(result, axis=1)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return ak.unflatten(flat_result[inverse], counts)


def apply_on_candidates(
    function: Callable[..., ak.Array],
    event_inputs: list[Any],
    candidate_inputs: list[Any],
    event_index: Any,
    *,
    label: str,
    memo: bool = False,
    **kwargs: Any,
) -> Any:
    """:func:`apply_per_chunk` for candidates that may be a selected subset of their events.

    Parameters
    ----------
    function : callable
        A chunk function ``function(*event_inputs, *candidate_inputs, **kwargs)`` whose
        candidate inputs are grouped by the same events as the event inputs.
    event_inputs : list
        Event-aligned columns of the full chunk (cells, tracks, vertices).
    candidate_inputs : list
        Jagged candidate columns, possibly of a selection of events and candidates.
    event_index : ak.Array or dask_awkward.Array or None
        Per candidate, the position of its event in the chunk of ``event_inputs``
        (``Electron.eventIndex`` of :class:`~egamma_cnn.nanoevents.EGammaSchema`). None
        when the candidates are grouped by exactly the events of ``event_inputs``.
    memo : bool
        As for :func:`apply_per_chunk`.

    Returns
    -------
    ak.Array or dask_awkward.Array
        Per candidate, in the candidates' own order and lists.
    """
    if event_index is None:
        return apply_per_chunk(
            function, *event_inputs, *candidate_inputs, label=label, memo=memo, **kwargs
        )
    adapter = _OnCandidateSubset(function, len(event_inputs))
    try:
        import dask_awkward as dak
    except ImportError:  # pragma: no cover
        dak = None
    arrays = [*event_inputs, *candidate_inputs, event_index]
    if dak is not None and any(isinstance(a, dak.Array) for a in arrays):
        return dak.map_partitions(_ChunkFunction(adapter, kwargs), *arrays, label=label)
    lengths = {len(a) for a in candidate_inputs} | {len(event_index)}
    if len(lengths) > 1:
        raise ValueError(f"{label}: candidate inputs have different lengths {sorted(lengths)}")
    return _ChunkFunction(adapter, kwargs, memo)(*arrays)
