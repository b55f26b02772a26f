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

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import awkward as ak
import dask_awkward as dak
import numpy as np
from dask.base import tokenize

from egamma_cnn.cellgrid import CellTable, prepare_cells

__all__ = [
    "MissingFieldError",
    "apply_on_candidates",
    "apply_on_named_columns",
    "apply_per_chunk",
    "clear_memo",
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
_MEMO: OrderedDict[tuple[Any, ...], ak.Array] = OrderedDict()
_MEMO_LOCK = threading.Lock()
#: How many eager results are kept (results only: the inputs are never held).
MEMO_SIZE = 16


def clear_memo() -> None:
    """Forget every memoised eager result (see :func:`apply_per_chunk`)."""
    with _MEMO_LOCK:
        _MEMO.clear()
        _REFERENCES.clear()


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


def _owner(buffer: np.ndarray) -> np.ndarray:
    """The outermost numpy array whose memory ``buffer`` views (it keeps the memory)."""
    while isinstance(buffer.base, np.ndarray):
        buffer = buffer.base
    return buffer


def _function_key(function: Any) -> Any:
    """The identity of a chunk function (the wrapped one for a subset adapter)."""
    if isinstance(function, _OnCandidateSubset):
        return ("subset", function.n_event_inputs, _function_key(function.function))
    return function  # by identity: two lambdas are two keys


def _forget(key: tuple[Any, ...]) -> Callable[[Any], None]:
    def callback(_reference: Any) -> None:
        with _MEMO_LOCK:
            _MEMO.pop(key, None)
            _REFERENCES.pop(key, None)

    return callback


def _memo_key(function: Any, kwargs: dict[str, Any], arrays: tuple[Any, ...]):
    """Key of an eager chunk call, and the arrays whose death must drop the entry.

    The key is the function (by identity), its settings (dask token) and, per input,
    its length, form and the memory of its buffers (address, shape, strides, dtype).
    An eager NanoEvents column returns views of the same buffers on every access, so
    asking for ``events.Electron.cnn_score`` and then ``events.Electron.cnn_tight`` runs
    the network once. The entry holds only weak references to the arrays that own that
    memory and is dropped when one of them is freed, so an address can never be reused
    while its entry exists and the memo never keeps a chunk's inputs alive. Returns
    ``None`` when an input has a buffer that is not a numpy array (no memo then).
    """
    owners: dict[int, np.ndarray] = {}
    parts: list[Any] = []
    for array in arrays:
        if not isinstance(array, ak.Array):
            parts.append(tokenize(array))
            continue
        layout = array.layout
        buffers: list[Any] = []
        _leaf_buffers(layout, buffers)
        parts.append((len(layout), tokenize(layout.form.to_json())))
        for buffer in buffers:
            if not isinstance(buffer, np.ndarray):
                return None, []
            owner = _owner(buffer)
            owners[id(owner)] = owner
            address = buffer.__array_interface__["data"][0]
            parts.append((address, buffer.shape, buffer.strides, buffer.dtype.str))
    key = (_function_key(function), tokenize(kwargs), tuple(parts))
    return key, list(owners.values())


#: The weak references of each memo entry (their callbacks drop the entry).
_REFERENCES: dict[tuple[Any, ...], list[Any]] = {}


def _fresh(result: ak.Array) -> ak.Array:
    """A new array over the memoised layout: setting a field on it leaves the memo as is."""
    return ak.Array(result.layout, behavior=result.behavior, attrs=result.attrs)


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
        key, owners = _memo_key(self.function, self.kwargs, arrays)
        if key is not None:
            with _MEMO_LOCK:
                cached = _MEMO.get(key)
                if cached is not None:
                    _MEMO.move_to_end(key)
            if cached is not None:
                return _fresh(cached)
        result = self.function(*arrays, **self.kwargs)
        if key is not None:
            try:
                references = [weakref.ref(owner, _forget(key)) for owner in owners]
            except TypeError:  # an owner that cannot be weakly referenced: no memo
                return result
            with _MEMO_LOCK:
                _MEMO[key] = result
                _MEMO.move_to_end(key)
                _REFERENCES[key] = references
                while len(_MEMO) > MEMO_SIZE:
                    oldest, _ = _MEMO.popitem(last=False)
                    _REFERENCES.pop(oldest, None)
        return _fresh(result)


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
    return _run_chunks(function, list(arrays), list(arrays), label, memo, kwargs)


def _is_dask(array: Any) -> bool:
    return isinstance(array, dak.Array)


def _run_chunks(
    function: Callable[..., ak.Array],
    arrays: list[Any],
    same_length: list[Any],
    label: str,
    memo: bool,
    kwargs: dict[str, Any],
) -> Any:
    """``function(*arrays)`` per dask partition, or eagerly after checking that the arrays
    of ``same_length`` have one length."""
    if any(_is_dask(a) for a in arrays):
        return dak.map_partitions(_ChunkFunction(function, kwargs), *arrays, label=label)
    lengths = {len(a) for a in same_length if isinstance(a, ak.Array)}
    if len(lengths) > 1:
        raise ValueError(f"{label}: inputs have different lengths {sorted(lengths)}")
    return _ChunkFunction(function, kwargs, memo)(*arrays)


def _has_option(form: Any) -> bool:
    """Whether a form has an option (None-able) node anywhere."""
    if form.is_option:
        return True
    if hasattr(form, "contents"):
        return any(_has_option(content) for content in form.contents)
    return hasattr(form, "content") and _has_option(form.content)


def _check_candidate_lists(array: Any, label: str) -> None:
    """Candidates must be lists of plain candidates per event (no None, no nesting)."""
    form = array.form if hasattr(array, "npartitions") else ak.to_layout(array).form
    if getattr(array, "ndim", None) != 2 or _has_option(form):
        type_string = str(array.type)
        type_string = type_string if len(type_string) < 60 else type_string[:57] + "..."
        raise ValueError(
            f"{label}: the candidates must be one list per event without missing entries "
            f"(got type {type_string}); compute the column on the collection "
            "(events.Electron.cnn_score) and then take firsts, pad or combine it"
        )


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
        for column in candidate_inputs:
            if not np.array_equal(ak.to_numpy(ak.num(column, axis=1)), counts):
                raise ValueError(
                    "the event index does not have the candidates' structure: take it from "
                    "the same (selected) collection as the candidates"
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
    for array in (*candidate_inputs, event_index):
        _check_candidate_lists(array, label)
    adapter = _OnCandidateSubset(function, len(event_inputs))
    arrays = [*event_inputs, *candidate_inputs, event_index]
    if any(_is_dask(a) for a in arrays):
        partitions = {a.npartitions for a in arrays if _is_dask(a)}
        if len(partitions) > 1 or not all(_is_dask(a) for a in arrays):
            raise ValueError(
                f"{label}: the candidates are in {sorted(partitions)} partitions but the "
                "events they were read with in another number: a selection that regroups "
                "partitions (a slice such as events[5:12]) cannot be scored; compute the "
                "column on the whole collection first and slice it afterwards "
                "(events.Electron.cnn_score[5:12])"
            )
    return _run_chunks(adapter, arrays, [*candidate_inputs, event_index], label, memo, kwargs)


def apply_on_named_columns(
    function: Callable[..., ak.Array],
    columns: dict[str, Any],
    event_index: Any,
    *,
    label: str,
    memo: bool = False,
    **kwargs: Any,
) -> Any:
    """:func:`apply_on_candidates` for a chunk function that takes ``names=``.

    ``columns`` maps names to columns; those named ``"cand.*"`` are candidate inputs, the
    others event inputs. ``function(*arrays, names=..., **kwargs)`` receives the names in
    the order of its arrays.
    """
    event_names = tuple(n for n in columns if not n.startswith("cand."))
    candidate_names = tuple(n for n in columns if n.startswith("cand."))
    return apply_on_candidates(
        function,
        [columns[n] for n in event_names],
        [columns[n] for n in candidate_names],
        event_index,
        label=label,
        memo=memo,
        names=event_names + candidate_names,
        **kwargs,
    )
