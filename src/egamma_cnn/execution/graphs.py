"""Task graphs sent to a ``distributed`` scheduler: small, and finished in the client.

``distributed.Client.compute(collections)`` appends one ``finalize`` task per collection
and ships it with the graph. For a histogram of dask-histogram (``hist.dask``, what every
processor of this package fills) that task is a closure over the histogram *object*,
which holds its whole task graph: every histogram of the output carried a copy of the
graph of its dataset, about 9 MB per histogram on egamma-cnn files (measured, issue 19)
— megabytes per dataset whatever the number of chunks, gigabytes for a facility's
hundreds of datasets.

:func:`submit` sends only the tasks that compute the collections' keys and runs the
post-compute step (``__dask_postcompute__``) in the client, as ``dask.compute`` does:
the graph is what the tasks need (the chunk's file, entry range and form, the
processor's settings; models and tables travel by path,
:class:`egamma_cnn.filecache.PathPickled`), nothing more. :func:`scheduler_graph` is the
graph :func:`submit` sends and :func:`serialised_size` its size in bytes as
``distributed`` serialises it (the figure of its "Sending large graph" warning), for the
tests and benchmarks that keep it small.

Each dataset's graph also holds coffea's and uproot's description of its files: the
form of the tree (every branch: about 280 kB for a CMS NanoAOD file of 2116 branches),
the form the processor reads, and the NanoEvents behaviour (a dict of some hundred
classes), about 0.6 MB per dataset of NanoAOD and 0.1 MB of egamma-cnn files, each
dataset with its own copies of what is the same for all. :func:`share_constants` makes
equal forms and equal large dicts one object before the graph is serialised, so that
pickle writes each once: the graph grows by a few kB per dataset, whatever its files'
format.
"""

from __future__ import annotations

import functools
import hashlib
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import awkward as ak
import cloudpickle
from dask.base import collections_to_dsk, unpack_collections
from dask.core import flatten

__all__ = [
    "Submitted",
    "input_form",
    "scheduler_graph",
    "serialised_size",
    "share_constants",
    "submit",
]

#: A dict of at least this many items is compared by value (NanoEvents behaviours);
#: smaller ones are walked into but kept as they are.
LARGE_DICT = 16

#: The packages whose objects in a graph are walked into (their attributes shared).
WALKED_PACKAGES = frozenset(
    {"dask", "dask_awkward", "dask_histogram", "uproot", "coffea", "awkward", "functools"}
)

_ATOMS = (
    str,
    bytes,
    int,
    float,
    complex,
    bool,
    type(None),
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    range,
    set,
    frozenset,
)


class _Sharer:
    """One pass of :func:`share_constants`: canonical objects by content, replacements
    by identity (each object is walked once, cycles included)."""

    def __init__(self) -> None:
        self.canonical: dict[tuple[str, str], Any] = {}
        self.replacement: dict[int, Any] = {}
        self.alive: list[Any] = []  # keeps the walked objects (and their ids) alive
        self.shared = 0

    def share(self, obj: Any) -> Any:
        if isinstance(obj, _ATOMS):
            return obj
        key = id(obj)
        if key in self.replacement:
            return self.replacement[key]
        self.replacement[key] = obj
        self.alive.append(obj)
        result = self._share(obj)
        self.replacement[key] = result
        return result

    def _canonical(self, kind: str, fingerprint: str, obj: Any) -> Any:
        canonical = self.canonical.setdefault((kind, fingerprint), obj)
        if canonical is not obj:
            self.shared += 1
        return canonical

    def _share(self, obj: Any) -> Any:
        if isinstance(obj, ak.forms.Form):
            canonical = self._canonical("form", obj.to_json(), obj)
            if canonical is not obj:
                return canonical
            # a form that differs (its parameters: the dataset's name) shares its parts
            return self._attributes(obj)
        if isinstance(obj, dict):
            if len(obj) >= LARGE_DICT:
                try:
                    digest = hashlib.sha256(cloudpickle.dumps(obj)).hexdigest()
                except Exception:  # not picklable here: left as it is
                    digest = None
                if digest is not None:
                    canonical = self._canonical("dict", digest, obj)
                    if canonical is not obj:
                        return canonical
            for name, value in list(obj.items()):
                new = self.share(value)
                if new is not value:
                    obj[name] = new
            return obj
        if isinstance(obj, list):
            for index, value in enumerate(obj):
                new = self.share(value)
                if new is not value:
                    obj[index] = new
            return obj
        if isinstance(obj, tuple):
            items = [self.share(value) for value in obj]
            if all(new is old for new, old in zip(items, obj, strict=True)):
                return obj
            return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
        if type(obj).__module__.split(".")[0] not in WALKED_PACKAGES:
            return obj
        if isinstance(obj, functools.partial):
            args = self.share(obj.args)
            keywords = self.share(obj.keywords)
            if args is obj.args and keywords is obj.keywords:
                return obj
            return functools.partial(obj.func, *args, **keywords)
        return self._attributes(obj)

    def _attributes(self, obj: Any) -> Any:
        """``obj`` with each attribute (of its ``__dict__`` and slots) shared."""
        names = list(getattr(obj, "__dict__", {}))
        for cls in type(obj).__mro__:
            slots = getattr(cls, "__slots__", ())
            names += [n for n in slots if n not in ("__dict__", "__weakref__")]
        for name in names:
            try:
                value = getattr(obj, name)
            except AttributeError:  # an unset slot
                continue
            new = self.share(value)
            if new is not value:
                try:
                    setattr(obj, name, new)
                except (AttributeError, TypeError):  # read-only: left as it is
                    pass
        return obj


def share_constants(dsk: Any) -> int:
    """Make equal constants of the graph ``dsk`` one object, in place; the number replaced.

    Walks every layer of the (high-level) graph: its tasks, their arguments, and the
    objects of dask, dask-awkward, dask-histogram, uproot, coffea and awkward they hold
    (uproot's reading function of a chunk, coffea's schema mapping). Awkward forms equal
    by their JSON and dicts of at least :data:`LARGE_DICT` items equal by their pickled
    bytes become the first one met, so that pickle writes each once. Every replacement is
    by an equal value: what the tasks compute does not change.
    """
    sharer = _Sharer()
    layers = getattr(dsk, "layers", None)
    for layer in layers.values() if layers is not None else [dsk]:
        if isinstance(layer, dict):
            sharer.share(layer)
            continue
        for name, value in list(vars(layer).items()):
            new = sharer.share(value)
            if new is not value:
                setattr(layer, name, new)
    return sharer.shared


def scheduler_graph(graph: Any) -> tuple[Any, list[Any], list[tuple[Callable, tuple]], Callable]:
    """The optimised task graph of the collections in ``graph`` (any nesting of dicts,
    lists and tuples of dask collections), without finalize tasks.

    Returns
    -------
    (HighLevelGraph, list, list, callable)
        The graph, the keys of each collection, each collection's post-compute function
        and arguments, and the function that puts the finished results back into
        ``graph``'s structure.
    """
    collections, repack = unpack_collections(graph)
    dsk = collections_to_dsk(collections, optimize_graph=True)
    share_constants(dsk)
    keys = [collection.__dask_keys__() for collection in collections]
    postcomputes = [collection.__dask_postcompute__() for collection in collections]
    return dsk, keys, postcomputes, repack


def serialised_size(graph: Any) -> int:
    """Bytes of ``graph``'s scheduler graph (:func:`scheduler_graph`) as ``distributed``
    serialises it for the scheduler (``serialize(ToPickle(graph))``, the size its
    "Sending large graph" warning reports)."""
    from distributed.protocol import serialize
    from distributed.protocol.serialize import ToPickle

    dsk, _, _, _ = scheduler_graph(graph)
    _, frames = serialize(ToPickle(dsk), on_error="raise")
    return sum(memoryview(frame).nbytes for frame in frames)


@dataclass
class Submitted:
    """Collections being computed on a ``distributed`` client (:func:`submit`)."""

    client: Any
    futures: list[Any]
    postcomputes: list[tuple[Callable, tuple]]
    repack: Callable

    def flat_futures(self) -> list[Any]:
        """Every future of the computation (for a progress bar, ``wait``, ``cancel``)."""
        return list(flatten(self.futures))

    def result(self) -> Any:
        """Gather the results, finish each collection in this process, put them back
        into the structure that was submitted."""
        gathered = self.client.gather(self.futures)
        finished = [
            function(result, *args)
            for result, (function, args) in zip(gathered, self.postcomputes, strict=True)
        ]
        return self.repack(finished)[0]


def submit(graph: Any, client: Any, retries: int = 0) -> Submitted:
    """Send ``graph``'s tasks (:func:`scheduler_graph`) to the ``distributed`` ``client``.

    Parameters
    ----------
    graph : any
        Dask collections, alone or in dicts, lists and tuples (coffea's
        ``apply_to_fileset`` output).
    client : distributed.Client
        Where to compute.
    retries : int
        Retries of a failed task.
    """
    dsk, keys, postcomputes, repack = scheduler_graph(graph)
    futures = client.get(dsk, keys, sync=False, retries=retries)
    return Submitted(client, futures, postcomputes, repack)


def input_form(output: Any) -> Any:
    """The form of the files that ``output`` (the graph of one dataset) reads: the
    ``base_form`` of uproot's reading function in its input layer, every branch of the
    dataset's first file (None where no such layer is found).

    What coffea's ``preprocess(save_form=True)`` would have read from the file: kept
    (:func:`egamma_cnn.execution.preprocessing.remember_forms`), it lets a later run
    build its graph without opening a file.
    """
    collections, _ = unpack_collections(output)
    for collection in collections:
        for layer in collection.__dask_graph__().layers.values():
            form = getattr(getattr(layer, "io_func", None), "base_form", None)
            if isinstance(form, ak.forms.Form):
                return form
    return None
