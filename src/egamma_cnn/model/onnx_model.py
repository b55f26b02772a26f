"""Run an identification model stored as ONNX, with the metadata that says how to feed it.

Every model the package writes (and any model a user brings with the same input
specification) is one ``.onnx`` file whose ``metadata_props`` hold one JSON document
under the key :data:`METADATA_KEY`:

``format``
    :data:`MODEL_FORMAT`.
``name``, ``kind``, ``description``
    What the model is; ``kind`` is "electron" or "photon".
``inputs``
    ``[{"name", "shape" (without the batch axis), "dtype", "description"}]`` in the
    order of the graph's inputs.
``class_names``
    The output classes (the ``probabilities`` output is ``(N, len(class_names))``).
``preprocessing``
    Input name → ``{"quantile_table": QuantileTable.to_dict()}`` for inputs that are
    transformed outside the graph (the HLVs, ATL-PHYS-PUB-2023-001 §5.2); the caller passes the raw
    values with the columns named by the table.
``geometry_version``, ``inputs_version``
    :data:`egamma_cnn.geometry.GEOMETRY_VERSION` and
    :data:`egamma_cnn.images.INPUTS_VERSION` that the training inputs were built with.
``discriminant``, ``working_points``
    Default class weights and charge-flip choice of the discriminant, and the
    Loose/Medium/Tight cuts (:class:`egamma_cnn.model.WorkingPoints`), for electrons; the
    signal class and working points for photons.
``training``, ``metrics``
    Sample description, settings and headline test metrics (documentation).

:class:`OnnxModel` checks this metadata against the graph when it loads and against
the inputs on every call, and raises an error naming the input, the expected and the
received shape, or the version that differs.

:class:`OnnxModel` is a ``coffea.ml_tools`` wrapper, a sibling of coffea's
``torch_wrapper`` and ``xgboost_wrapper``: the ``onnxruntime.InferenceSession`` is a
non-serialisable attribute created lazily in each process (``_create_session``), the
input checks are ``validate_numpy_input``, the preprocessing and batched inference are
``numpy_call``, and ``model(coarse=..., fine=..., tracks=..., hlv=...)`` runs on numpy,
awkward or dask-awkward arrays of per-candidate inputs. For dask-awkward inputs the
model replaces coffea's generic mapping (``numpy_call_wrapper._call_dask``) by one
``map_partitions`` of :class:`_PartitionInference`, which runs the eager awkward call on
each partition: the graph holds no reference to ``coffea.ml_tools`` (a worker does not
import its backends, torch among them), building it runs no inference (the output's
metadata comes from the class names) and its keys are the same for the same model,
settings and inputs. The model pickles as its file, settings and the file's state
(:mod:`egamma_cnn.filecache`): a few hundred bytes in a dask graph; a worker reopens
the file (a shipped model from its own installation) once per file and settings, and
refuses a file that changed after the run started.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import awkward as ak
import dask_awkward as dak
import numpy as np
import onnxruntime as ort

from egamma_cnn.filecache import FileIdentity, PathPickled, cached, unpickle_by_path
from egamma_cnn.geometry import GEOMETRY_VERSION
from egamma_cnn.images import INPUTS_VERSION
from egamma_cnn.model.discriminant import ELECTRON_CLASS_NAMES
from egamma_cnn.model.preprocessing import QuantileTable
from egamma_cnn.model.working_points import WorkingPoints

__all__ = [
    "METADATA_KEY",
    "MODEL_FORMAT",
    "SHIPPED_MODELS",
    "InputSpec",
    "ModelMetadataError",
    "OnnxModel",
    "cached_model",
    "load_model",
    "read_metadata",
    "shipped_model_path",
]


def _coffea_ml_helper() -> ModuleType:
    """``coffea.ml_tools.helper``, without running ``coffea.ml_tools/__init__.py``.

    The package's ``__init__`` imports every backend wrapper, and ``torch_wrapper``
    imports torch wherever it is installed (seconds and hundreds of MB in every dask
    worker); the runtime imports no torch (tests/test_package.py). The module is loaded
    from coffea's own file under its own name, so that coffea's wrappers, imported
    later, share its classes.

    Two limits follow, because the package ``coffea.ml_tools`` is not imported here:

    * when a user imports ``coffea.ml_tools`` afterwards, its ``__init__`` finds the
      helper already in ``sys.modules`` and Python does not bind it as an attribute of
      the package: ``hasattr(coffea.ml_tools, "helper")`` is False (``from
      coffea.ml_tools.helper import X`` and ``import coffea.ml_tools.helper as h`` work);
    * for the same reason ``coffea.ml_tools.helper.X`` as attribute access fails until
      ``coffea.ml_tools`` itself has been imported (and then by the first limit).

    Setting the attribute here would need the package's module object, which exists
    only once its ``__init__`` has run (what this loader avoids); a package module made
    without running it would, once in ``sys.modules``, make a later ``import
    coffea.ml_tools`` skip the ``__init__``, so that ``from coffea.ml_tools import
    torch_wrapper`` would give the module, not the class. Both limits are therefore
    left as they are.
    """
    name = "coffea.ml_tools.helper"
    if name in sys.modules:
        return sys.modules[name]
    package = importlib.util.find_spec("coffea.ml_tools")
    if package is None or not package.submodule_search_locations:  # pragma: no cover
        raise ImportError("coffea.ml_tools is missing from the installed coffea")
    location = Path(next(iter(package.submodule_search_locations))) / "helper.py"
    spec = importlib.util.spec_from_file_location(name, location)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise ImportError(f"cannot load {location}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


_helper = _coffea_ml_helper()
nonserializable_attribute = _helper.nonserializable_attribute
numpy_call_wrapper = _helper.numpy_call_wrapper

#: Key of the JSON document in the ONNX file's metadata_props.
METADATA_KEY = "egamma_cnn"
#: Format tag of that document.
MODEL_FORMAT = "egamma-cnn-model/1"
#: Models that ship inside the package, by name.
SHIPPED_MODELS: dict[str, str] = {
    "electron": "electron_cnn.onnx",
    "electron_fcn": "electron_fcn.onnx",
    "photon": "photon_cnn.onnx",
}
#: The session that checks a model's graph when it loads (and runs it by default).
_CHECK_PROVIDERS = ("CPUExecutionProvider",)


class ModelMetadataError(ValueError):
    """The model's metadata is missing, malformed, or does not match the inputs."""


@dataclass(frozen=True)
class InputSpec:
    """One input of the model: name, shape without the batch axis, dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "description": self.description,
        }


def shipped_model_path(name: str) -> Path:
    """Path of a model that ships with the package (:data:`SHIPPED_MODELS`)."""
    if name not in SHIPPED_MODELS:
        raise KeyError(f"no shipped model {name!r}; have {sorted(SHIPPED_MODELS)}")
    path = Path(str(resources.files("egamma_cnn") / "data" / "models" / SHIPPED_MODELS[name]))
    if not path.is_file():
        raise FileNotFoundError(f"the shipped model file {path} is missing from the install")
    return path


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The egamma-cnn metadata document of an ONNX file (parsed, not checked, not cached)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = _inference_session(str(path), options, _CHECK_PROVIDERS)
    return _parse_metadata(session, str(path))


def _inference_session(path: str, options: Any, providers: Sequence[str]) -> Any:
    """``ort.InferenceSession``; a file onnxruntime cannot load is a :class:`ModelMetadataError`.

    onnxruntime raises its own exception types (``InvalidProtobuf``, ``Fail``, ...) with a
    multi-line message; this names the file on one line instead.
    """
    try:
        return ort.InferenceSession(path, options, providers=list(providers))
    except (OSError, ValueError):
        raise
    except Exception as err:  # onnxruntime's pybind exceptions derive from Exception only
        reason = " ".join(str(err).split())
        raise ModelMetadataError(f"{path}: not a loadable ONNX model ({reason})") from None


def _parse_metadata(session: Any, label: str) -> dict[str, Any]:
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise ModelMetadataError(
            f"{label}: no {METADATA_KEY!r} metadata; an egamma-cnn model carries its input "
            "specification in the ONNX metadata_props (see egamma_cnn.model.onnx_model)"
        )
    try:
        metadata = json.loads(props[METADATA_KEY])
    except json.JSONDecodeError as err:
        raise ModelMetadataError(
            f"{label}: the {METADATA_KEY!r} metadata is not JSON: {err}"
        ) from None
    if metadata.get("format") != MODEL_FORMAT:
        raise ModelMetadataError(
            f"{label}: metadata format {metadata.get('format')!r}, expected {MODEL_FORMAT!r}"
        )
    for key in ("inputs", "class_names", "geometry_version", "inputs_version"):
        if key not in metadata:
            raise ModelMetadataError(f"{label}: the metadata has no {key!r}")
    return metadata


def _session_options(threads: int) -> Any:
    """The ``SessionOptions`` of every inference session of the package.

    Measured on the shipped electron CNN, inference alone, one core
    (benchmarks/bench_scoring.py, benchmarks/RESULTS.md "Issue 19"): graph optimisation
    ``ORT_ENABLE_ALL`` (the fused, blocked-layout convolutions; the lower levels are 1.4–1.7×
    slower), sequential execution with one inter-op thread (``ORT_PARALLEL`` over the
    four input branches gained nothing), memory pattern and arena on (turning them off gained
    nothing). ``threads`` intra-op threads: 1 by default, one per dask worker core (more
    threads compete with the worker's other tasks for the same cores); settable through
    ``intra_op_threads``.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = True
    options.enable_cpu_mem_arena = True
    return options


def _open_session(identity: FileIdentity, providers: tuple[str, ...], threads: int) -> Any:
    """A new ``InferenceSession`` of the file of ``identity`` (through the file cache)."""
    identity.check()
    return _inference_session(identity.path, _session_options(threads), providers)


def _count(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int ≥ ``minimum``; a float, a bool or a string is refused, not cut.

    (``intra_op_threads`` 0 lets onnxruntime choose the number of threads.)
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _check_providers(providers: Sequence[str] | str | None) -> tuple[str, ...] | str:
    """The providers setting as given (``"auto"`` or a tuple), checked for its form only."""
    if providers is None:
        return _CHECK_PROVIDERS
    if providers == "auto":
        return "auto"
    if isinstance(providers, str):
        providers = [providers]
    if not all(isinstance(p, str) for p in providers) or not providers:
        raise ValueError(f"providers must be 'auto' or a list of provider names, not {providers!r}")
    return tuple(providers)


def _resolve_providers(providers: tuple[str, ...] | str) -> list[str]:
    """The execution providers of this process (``"auto"``: CUDA if offered, then CPU).

    Resolved where the session is created, so that a CPU-only client sends ``"auto"`` to
    GPU workers unresolved.
    """
    available = ort.get_available_providers()
    if providers == "auto":
        gpu = [p for p in ("CUDAExecutionProvider",) if p in available]
        return [*gpu, "CPUExecutionProvider"]
    unknown = [p for p in providers if p not in available]
    if unknown:
        raise ValueError(
            f"execution providers {unknown} are not available in this onnxruntime "
            f"(available: {available}; CUDA needs the onnxruntime-gpu package)"
        )
    return list(providers)


def _same_file(path: Path, shipped_name: str) -> bool:
    try:
        return path.resolve() == shipped_model_path(shipped_name).resolve()
    except FileNotFoundError:
        return False


def _regular(array: ak.Array, shape: tuple[int, ...], name: str) -> ak.Array:
    """Per-candidate ``array`` with the regular inner dimensions ``shape``.

    Variable-length lists (``N * var * var * float32``) are checked to have the sizes of
    ``shape`` and made regular with known sizes, also for no candidates (a chunk of
    events without any, and the zero-length check of the dask path): the numpy call
    meets ``(N, *shape)`` arrays.
    """
    if array.ndim != len(shape) + 1:
        raise ModelMetadataError(
            f"input {name!r} has type {array.type}, expected {len(shape) + 1} dimensions "
            f"(N, {', '.join(map(str, shape))})"
        )
    out = ak.flatten(array, axis=None)
    if ak.backend(array) != "typetracer":
        for axis, size in enumerate(shape, start=1):
            if not ak.all(ak.num(array, axis=axis) == size, axis=None):
                raise ModelMetadataError(
                    f"input {name!r} has lists of other lengths than {size} at axis {axis}; "
                    f"each candidate must be ({', '.join(map(str, shape))})"
                )
        if len(out) != len(array) * math.prod(shape):  # flatten drops None
            raise ModelMetadataError(f"input {name!r} has missing values (None)")
    layout = out.layout
    for size in reversed(shape):  # as ak.unflatten(out, size), also with no candidates
        layout = ak.contents.RegularArray(layout, size)
    return ak.Array(layout)


def _by_event(record: ak.Array, per_event: ak.Array) -> ak.Array:
    """The per-candidate ``record`` grouped by the events of ``per_event``."""
    return ak.unflatten(record, ak.num(per_event, axis=1))


class OnnxModel(PathPickled, nonserializable_attribute, numpy_call_wrapper):
    """An egamma-cnn ONNX model: metadata checks, preprocessing and batched inference.

    A ``coffea.ml_tools`` wrapper (``numpy_call_wrapper``): call it with one keyword per
    input of the metadata, numpy, awkward or dask-awkward arrays of the candidates::

        probs = model(coarse=coarse, fine=fine, tracks=tracks, hlv=hlv)

    gives for awkward inputs one record per candidate with a float32 field per class
    (:attr:`class_names`), lazily for dask-awkward ones (one ``map_partitions``), and
    ``float32[N, n_classes]`` for numpy inputs (:meth:`predict`). Inputs with an extra
    leading event axis (``events * var * ...``) are flattened and the result is grouped
    back by event. Inputs with a quantile table are given untransformed.

    Parameters
    ----------
    path
        The ``.onnx`` file.
    providers
        onnxruntime execution providers: a list (default ``["CPUExecutionProvider"]``;
        ``["CUDAExecutionProvider", "CPUExecutionProvider"]`` with onnxruntime-gpu), or
        ``"auto"``: CUDA where the installed onnxruntime offers it, else the CPU.
    intra_op_threads
        Threads of one inference call (default 1: one per dask worker core).
    batch_size
        Candidates per inference call. onnxruntime's CPU kernels vectorise across the
        candidates of a call, so a candidate's probabilities are reproducible bit for bit
        for the same batches (the same chunking of the events, eagerly or on dask) and
        may differ in the last bit of float32 when the events are chunked differently.
    check_versions
        Refuse a model whose geometry or input version differs from this package's
        (default True).

    Notes
    -----
    The ``InferenceSession`` (:attr:`session`) is created on first use in each process
    through :func:`egamma_cnn.filecache.cached` and shared there by every
    :class:`OnnxModel` of the same file and settings; it is never pickled. Creating it
    checks that the file is still the one the model was loaded from, whatever the
    settings (with the default ones the session is the one that checked the graph at
    load time): a file rewritten after the model was loaded is a
    :class:`~egamma_cnn.filecache.FileChangedError`, not a session of another model.
    The model pickles as (file, settings, the file's size and modification time) and a
    worker opens the file at the same path, refusing it when it changed after the run
    started (a shipped model: the file of the worker's own installation, unchecked).

    Under dask-awkward, ``model(**inputs)`` checks the inputs' names, dimensions and
    dtypes on the client from their metadata (no inference, no session: a client
    without the GPU of ``providers`` builds the graph) and maps
    :class:`_PartitionInference` over the partitions.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        providers: Sequence[str] | str | None = None,
        intra_op_threads: int = 1,
        batch_size: int = 256,
        check_versions: bool = True,
    ) -> None:
        nonserializable_attribute.__init__(self, ["session"])
        numpy_call_wrapper.__init__(self)
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no model file {self.path}")
        self.identity = FileIdentity.of(self.path)
        self.shipped_name = next(
            (name for name in SHIPPED_MODELS if _same_file(self.path, name)), None
        )
        self.providers, self.intra_op_threads, self.batch_size, self.check_versions = (
            self._settings(
                providers=providers,
                intra_op_threads=intra_op_threads,
                batch_size=batch_size,
                check_versions=check_versions,
            )
        )
        # metadata and graph checks on a CPU session: the inference session (maybe on a
        # GPU) is made where the model runs
        checks = cached(_open_session, self.identity, _CHECK_PROVIDERS, 1)
        self.metadata = _parse_metadata(checks, str(self.path))
        self.inputs = tuple(
            InputSpec(i["name"], tuple(i["shape"]), i.get("dtype", "float32"))
            for i in self.metadata["inputs"]
        )
        self.class_names: tuple[str, ...] = tuple(self.metadata["class_names"])
        self._check_graph(checks)
        if check_versions:
            self._check_versions()
        self.preprocessing: dict[str, QuantileTable] = {
            name: QuantileTable.from_dict(spec["quantile_table"])
            for name, spec in self.metadata.get("preprocessing", {}).items()
        }
        self._check_preprocessing()
        wp = self.metadata.get("working_points")
        self.working_points: WorkingPoints | None = (
            WorkingPoints.from_dict(wp) if wp is not None else None
        )

    @property
    def training_priors(self) -> list[float] | None:
        """The class priors the network was trained with, or None if not recorded.

        The class totals of the reweighted training sample
        (``training.reweighting.train.class_totals`` in the metadata), one positive value
        per class: what :func:`~egamma_cnn.model.prior_adjusted_class_fractions` takes
        out of the network's probabilities.
        """
        try:
            totals = [
                float(t) for t in self.metadata["training"]["reweighting"]["train"]["class_totals"]
            ]
        except (KeyError, TypeError, ValueError):
            return None
        if len(totals) != len(self.class_names) or not all(t > 0 for t in totals):
            return None
        return totals

    # -- the session: lazy, per process, never pickled -------------------------------------
    def _create_session(self) -> Any:
        """The ``onnxruntime.InferenceSession`` of this process (``self.session``).

        Raises :class:`~egamma_cnn.filecache.FileChangedError` when the file changed
        since the model was loaded (also when the cached session of these settings was
        made before the change).
        """
        providers = tuple(_resolve_providers(self.providers))
        self.identity.check()
        return cached(_open_session, self.identity, providers, self.intra_op_threads)

    @staticmethod
    def _settings(
        *,
        providers: Sequence[str] | str | None = None,
        intra_op_threads: int = 1,
        batch_size: int = 256,
        check_versions: bool = True,
    ) -> tuple[tuple[str, ...] | str, int, int, bool]:
        """The settings as one normalised tuple, the key of the pickle and of the cache.

        (providers checked by :func:`_check_providers`, intra_op_threads, batch_size,
        check_versions): the one place of their defaults and their order, for the
        constructor, the pickle (:meth:`_pickle_settings`, :meth:`_open`) and
        :func:`cached_model`.
        """
        return (
            _check_providers(providers),
            _count("intra_op_threads", intra_op_threads, minimum=0),
            _count("batch_size", batch_size, minimum=1),
            bool(check_versions),
        )

    # -- pickled as (where, settings, file state): filecache.PathPickled -----------------
    @classmethod
    def _shipped_path(cls, name: str) -> Path | None:
        return shipped_model_path(name) if name in SHIPPED_MODELS else None

    def _pickle_settings(self) -> tuple[Hashable, ...]:
        return self._settings(
            providers=self.providers,
            intra_op_threads=self.intra_op_threads,
            batch_size=self.batch_size,
            check_versions=self.check_versions,
        )

    @classmethod
    def _open(cls, identity: FileIdentity, where: str, settings: tuple[Hashable, ...]) -> OnnxModel:
        providers, intra_op_threads, batch_size, check_versions = settings
        return cls(
            identity.path,
            providers=providers,
            intra_op_threads=intra_op_threads,
            batch_size=batch_size,
            check_versions=check_versions,
        )

    def _restored(self) -> OnnxModel:
        """A view of the cached model without a session (it gets the shared one on use)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._session = None
        return clone

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """Deterministic dask token: the same file and settings give the same graph keys."""
        return (
            "egamma_cnn.OnnxModel",
            self.shipped_name or str(self.path),
            self.identity.size,
            self.identity.mtime_ns,
            self.providers,
            self.intra_op_threads,
            self.batch_size,
        )

    # -- checks ---------------------------------------------------------------------------
    def _check_graph(self, session: Any) -> None:
        graph_inputs = session.get_inputs()
        names = [i.name for i in graph_inputs]
        if names != [spec.name for spec in self.inputs]:
            raise ModelMetadataError(
                f"{self.path}: the graph's inputs {names} differ from the metadata's "
                f"{[spec.name for spec in self.inputs]}"
            )
        for graph_input, spec in zip(graph_inputs, self.inputs, strict=True):
            if graph_input.type != f"tensor({'float' if spec.dtype == 'float32' else spec.dtype})":
                raise ModelMetadataError(
                    f"{self.path}: input {spec.name!r} is {graph_input.type} in the graph but "
                    f"{spec.dtype} in the metadata"
                )
            graph_shape = tuple(graph_input.shape[1:])
            fixed = tuple(d if isinstance(d, int) else None for d in graph_shape)
            if len(fixed) != len(spec.shape) or any(
                g is not None and g != s for g, s in zip(fixed, spec.shape, strict=True)
            ):
                raise ModelMetadataError(
                    f"{self.path}: input {spec.name!r} has shape {graph_shape} in the graph "
                    f"but {spec.shape} in the metadata"
                )
        outputs = session.get_outputs()
        n_out = outputs[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(self.class_names):
            raise ModelMetadataError(
                f"{self.path}: {n_out} outputs but {len(self.class_names)} class names"
            )

    def _check_preprocessing(self) -> None:
        shapes = {spec.name: spec.shape for spec in self.inputs}
        for name, table in self.preprocessing.items():
            if name not in shapes:
                raise ModelMetadataError(
                    f"{self.path}: preprocessing for {name!r}, which is not an input "
                    f"({sorted(shapes)})"
                )
            if shapes[name] != (len(table.names),):
                raise ModelMetadataError(
                    f"{self.path}: the quantile table of {name!r} has {len(table.names)} "
                    f"columns, the input has shape {shapes[name]}"
                )
        hlv = self.preprocessing.get("hlv")
        if hlv is not None and tuple(self.metadata.get("hlv_names", hlv.names)) != hlv.names:
            raise ModelMetadataError(
                f"{self.path}: hlv_names {self.metadata['hlv_names']} differ from the "
                f"quantile table's columns {list(hlv.names)}"
            )
        if "discriminant" in self.metadata and self.class_names != ELECTRON_CLASS_NAMES:
            raise ModelMetadataError(
                f"{self.path}: a model with an electron discriminant must have the classes "
                f"{list(ELECTRON_CLASS_NAMES)} in this order, not {list(self.class_names)}"
            )

    def _check_versions(self) -> None:
        for key, ours in (
            ("geometry_version", GEOMETRY_VERSION),
            ("inputs_version", INPUTS_VERSION),
        ):
            if self.metadata[key] != ours:
                raise ModelMetadataError(
                    f"{self.path}: the model was trained on inputs with {key} "
                    f"{self.metadata[key]!r}, this egamma-cnn builds {ours!r}; retrain it or "
                    "pass check_versions=False if you know the inputs are the same"
                )

    def _by_name(self, args: tuple[Any, ...]) -> None:
        if args:
            raise TypeError(
                f"{self.path.name}: pass the inputs by name "
                f"({', '.join(f'{s.name}=...' for s in self.inputs)}), not by position"
            )

    def _per_event_input(self, inputs: Mapping[str, Any]) -> Any:
        """The first input given per event (``events * var * ...``), or None."""
        shapes = {spec.name: spec.shape for spec in self.inputs}
        return next(
            (
                array
                for name, array in inputs.items()
                if name in shapes
                and not isinstance(array, np.ndarray)
                and array.ndim == len(shapes[name]) + 2
            ),
            None,
        )

    # -- coffea.ml_tools: numpy -----------------------------------------------------------
    def validate_numpy_input(self, *args: Any, **inputs: Any) -> None:
        """Check the numpy inputs: names, shapes ``(N, *shape)``, dtypes, finite values.

        Raises :class:`ModelMetadataError` naming the input, what was expected and what
        was received (for non-finite values: the first candidate that has one).
        """
        self._by_name(args)
        expected = [spec.name for spec in self.inputs]
        missing = [name for name in expected if name not in inputs]
        extra = [name for name in inputs if name not in expected]
        if missing or extra:
            raise ModelMetadataError(
                f"{self.path.name}: inputs {sorted(inputs)} do not match the model's "
                f"{expected} (missing {missing}, unexpected {extra})"
            )
        lengths = set()
        for spec in self.inputs:
            array = np.asarray(inputs[spec.name])
            if array.ndim != len(spec.shape) + 1 or tuple(array.shape[1:]) != spec.shape:
                raise ModelMetadataError(
                    f"{self.path.name}: input {spec.name!r} has shape {array.shape}, "
                    f"expected (N, {', '.join(map(str, spec.shape))})"
                )
            if array.dtype.kind not in "biuf":
                raise ModelMetadataError(
                    f"{self.path.name}: input {spec.name!r} has dtype {array.dtype}, expected "
                    f"numbers (they are given to the model as {spec.dtype})"
                )
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                bad = int(np.flatnonzero(~np.all(np.isfinite(array.reshape(len(array), -1)), 1))[0])
                raise ModelMetadataError(
                    f"{self.path.name}: input {spec.name!r} has non-finite values "
                    f"(first at candidate {bad})"
                )
            lengths.add(len(array))
        if len(lengths) > 1:
            raise ModelMetadataError(
                f"{self.path.name}: inputs have different numbers of candidates {sorted(lengths)}"
            )

    def numpy_call(self, *args: Any, **inputs: Any) -> np.ndarray:
        """Class probabilities ``float32[N, n_classes]`` of validated numpy inputs.

        Each input is cast to its dtype of the metadata first (the quantile tables were
        fitted on float32 values, so a float64 caller gets exactly the numbers the training
        saw), transformed by its quantile table if it has one (ATL-PHYS-PUB-2023-001 §5.2),
        and the candidates are run in batches of :attr:`batch_size`.
        """
        arrays: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            array = np.asarray(inputs[spec.name]).astype(spec.dtype, copy=False)
            if spec.name in self.preprocessing:
                array = self.preprocessing[spec.name].transform(array)
            arrays[spec.name] = np.ascontiguousarray(array, dtype=spec.dtype)
        n = len(next(iter(arrays.values()))) if arrays else 0
        if n == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        output = self.session.get_outputs()[0].name
        batches = [
            self.session.run(
                [output], {k: v[start : start + self.batch_size] for k, v in arrays.items()}
            )[0]
            for start in range(0, n, self.batch_size)  # loop over batches
        ]
        return np.concatenate(batches).astype(np.float32, copy=False)

    def predict(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Class probabilities ``float32[N, n_classes]`` for raw numpy inputs.

        ``inputs`` maps every input name of the metadata to an array ``(N, *shape)``;
        inputs with a quantile table are given untransformed (the table is applied here).
        The same as ``model(**inputs)``: :meth:`validate_numpy_input`, then
        :meth:`numpy_call`.
        """
        return self._call_numpy(**dict(inputs))

    # -- coffea.ml_tools: awkward and dask-awkward -----------------------------------------
    def prepare_awkward(self, *args: Any, **inputs: Any) -> tuple[tuple[()], dict[str, Any]]:
        """Per-candidate inputs with regular inner dimensions, for the numpy call.

        Inputs given per event (``events * var * ...``) are flattened to the candidates.
        The model's own dask path (:meth:`_call_dask`) calls it per partition on awkward
        arrays; given dask-awkward arrays directly (coffea's generic path), each input
        gets one ``map_partitions`` that checks and regularises its chunks.
        """
        self._by_name(args)
        lib = self.get_awkward_lib(**inputs)
        shapes = {spec.name: spec.shape for spec in self.inputs}
        out: dict[str, Any] = {}
        for name, array in inputs.items():
            shape = shapes.get(name)
            if shape is None or isinstance(array, np.ndarray):
                out[name] = array  # an unexpected name: validate_numpy_input names it
                continue
            if array.ndim == len(shape) + 2:
                array = lib.flatten(array, axis=1)
            if lib is ak:
                out[name] = _regular(array, shape, name)
            else:
                out[name] = lib.map_partitions(
                    _regular, array, shape, name, label=f"onnx-input-{name}"
                )
        return (), out

    def postprocess_awkward(self, return_array: Any, *args: Any, **inputs: Any) -> Any:
        """One record per candidate with a field per class (grouped by event if given so)."""
        lib = ak if isinstance(return_array, ak.Array) else self.get_awkward_lib(**inputs)
        record = lib.zip({name: return_array[:, k] for k, name in enumerate(self.class_names)})
        per_event = self._per_event_input(inputs)
        if per_event is None:
            return record
        if lib is ak:
            return _by_event(record, per_event)
        return lib.map_partitions(_by_event, record, per_event, label="onnx-by-event")

    def _call_dask(self, *args: Any, **inputs: Any) -> Any:
        """``model(**inputs)`` for dask-awkward inputs: one ``map_partitions``.

        Replaces coffea's ``numpy_call_wrapper._call_dask``, whose graph refers to
        ``coffea.ml_tools.helper`` (a worker that unpickles it imports
        ``coffea.ml_tools`` and with it torch), which runs an inference on length-one
        inputs on the client while the graph is built (a session with the model's
        providers, which a CPU-only client may not have), and which puts the model in
        the graph as a ``dask.delayed`` of random key. Here the inputs are checked on
        zero-length arrays of their forms (:meth:`validate_numpy_input`: names, shapes,
        dtypes; no session), the output's metadata is a typetracer record of a float32
        field per class, and each partition runs the eager awkward call
        (:class:`_PartitionInference`), so the result is the eager one partition by
        partition. The task keys follow from the model's ``__dask_tokenize__`` and the
        inputs' names.
        """
        self._by_name(args)
        others = [name for name, array in inputs.items() if not isinstance(array, dak.Array)]
        if others:
            raise TypeError(
                f"{self.path.name}: inputs {others} are not dask-awkward arrays; pass every "
                "input as a dask-awkward array with the same partitions"
            )
        self._call_awkward(
            **{name: ak.Array(array.form.length_zero_array()) for name, array in inputs.items()}
        )
        call = _PartitionInference(self, tuple(inputs), self._per_event_input(inputs) is not None)
        return dak.map_partitions(
            call, *inputs.values(), label=f"onnx-{self.path.stem}", meta=call.meta()
        )

    def __repr__(self) -> str:
        shapes = ", ".join(f"{s.name}{list(s.shape)}" for s in self.inputs)
        name = self.metadata.get("name", self.path.name)
        return f"OnnxModel({name!r}: {shapes} -> {list(self.class_names)})"


class _PartitionInference:
    """What dask-awkward runs on each partition of ``model(**dask_awkward_inputs)``.

    A module-level class, so that the graph refers to this module (and to
    :class:`OnnxModel`, which pickles as its file: :mod:`egamma_cnn.filecache`), never
    to ``coffea.ml_tools``. On a partition it is the eager call,
    ``model(**inputs)`` on awkward arrays (inputs → numpy → ``_call_numpy`` → one record
    per candidate, grouped by event when the inputs are): the same numbers as the eager
    call on the same chunk. On typetracers (dask-awkward's column optimisation) it
    touches every input, so that they are read, and returns :meth:`meta` without an
    inference.
    """

    def __init__(self, model: OnnxModel, names: tuple[str, ...], per_event: bool) -> None:
        self.model = model
        self.names = names
        self.per_event = per_event

    def meta(self) -> ak.Array:
        """The output's typetracer: a record of a float32 field per class name."""
        record = ak.zip({name: np.zeros(0, np.float32) for name in self.model.class_names})
        if self.per_event:
            record = ak.unflatten(record, np.zeros(0, np.int64))
        return ak.Array(record.layout.to_typetracer(forget_length=True))

    def __call__(self, *arrays: ak.Array) -> ak.Array:
        if any(ak.backend(array) == "typetracer" for array in arrays):
            for array in arrays:
                ak.typetracer.touch_data(array)
            return self.meta()
        return self.model._call_awkward(**dict(zip(self.names, arrays, strict=True)))

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (
            "egamma_cnn.OnnxModel.partition",
            self.model.__dask_tokenize__(),
            self.names,
            self.per_event,
        )


def _locate_model(name_or_path: str | os.PathLike[str]) -> str:
    """A shipped model's name as it is, else the absolute path of an existing file."""
    if isinstance(name_or_path, str) and name_or_path in SHIPPED_MODELS:
        return name_or_path
    where = os.path.abspath(os.fspath(name_or_path))
    if not os.path.isfile(where):
        raise FileNotFoundError(
            f"no model file {where} (shipped models: {', '.join(SHIPPED_MODELS)})"
        )
    return where


def load_model(name_or_path: str | os.PathLike[str], **kwargs: Any) -> OnnxModel:
    """A shipped model by name (:data:`SHIPPED_MODELS`) or any egamma-cnn ONNX file.

    ``kwargs`` are the settings of :class:`OnnxModel`. Raises ``FileNotFoundError``
    naming the file and the shipped models when ``name_or_path`` is neither.
    """
    where = _locate_model(name_or_path)
    path = shipped_model_path(where) if where in SHIPPED_MODELS else name_or_path
    return OnnxModel(path, **kwargs)


def cached_model(
    name_or_path: str | os.PathLike[str],
    *,
    providers: Sequence[str] | str | None = None,
    intra_op_threads: int = 1,
    batch_size: int = 256,
    check_versions: bool = True,
) -> OnnxModel:
    """:func:`load_model` once per file state and settings per process.

    The model an unpickled :class:`OnnxModel` of the same file and settings is too
    (:mod:`egamma_cnn.filecache`); a file rewritten since gives a new model. The
    settings are those of :class:`OnnxModel`. Raises ``FileNotFoundError`` naming the
    file and the shipped models when ``name_or_path`` is neither.
    """
    settings = OnnxModel._settings(
        providers=providers,
        intra_op_threads=intra_op_threads,
        batch_size=batch_size,
        check_versions=check_versions,
    )
    return unpickle_by_path(OnnxModel, _locate_model(name_or_path), settings)
