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
received shape, or the version that differs. The ``onnxruntime.InferenceSession`` is
created lazily on first use and dropped when the object is pickled (sent to a dask
worker), so each worker process builds its own.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.model.preprocessing import QuantileTable
from egamma_cnn.model.working_points import WorkingPoints

__all__ = [
    "METADATA_KEY",
    "MODEL_FORMAT",
    "SHIPPED_MODELS",
    "InputSpec",
    "ModelMetadataError",
    "OnnxModel",
    "load_model",
    "read_metadata",
    "shipped_model_path",
]

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
    """The egamma-cnn metadata document of an ONNX file (without creating a session)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return _parse_metadata(session, str(path))


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


#: Sessions of this process, by (file, size, mtime, providers, threads).
_SESSIONS: dict[tuple[Any, ...], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(path: Path, providers: tuple[str, ...], intra_op_threads: int) -> Any:
    """One ``InferenceSession`` per file and settings in this process (thread-safe)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, providers, intra_op_threads)
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = intra_op_threads
            options.inter_op_num_threads = 1
            _SESSIONS[key] = ort.InferenceSession(str(path), options, providers=list(providers))
        return _SESSIONS[key]


def _check_providers(providers: Sequence[str] | str | None) -> tuple[str, ...] | str:
    """The providers setting as given (``"auto"`` or a tuple), checked for its form only."""
    if providers is None:
        return ("CPUExecutionProvider",)
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
    import onnxruntime as ort

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


class OnnxModel:
    """An egamma-cnn ONNX model: metadata checks, preprocessing and batched inference.

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

    Notes
    -----
    The ``InferenceSession`` is created on first use in each process and shared there by
    every :class:`OnnxModel` of the same file and settings; it is never pickled, so a
    model can travel inside a dask graph. A worker opens the file at the same path (a
    shipped model at the path of the worker's own installation).
    batch_size
        Candidates per inference call. onnxruntime's CPU kernels vectorise across the
        candidates of a call, so a candidate's probabilities are reproducible bit for bit
        for the same batches (the same chunking of the events, eagerly or on dask) and
        may differ in the last bit of float32 when the events are chunked differently.
    check_versions
        Refuse a model whose geometry or input version differs from this package's
        (default True).
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
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no model file {self.path}")
        self.shipped_name: str | None = next(
            (name for name in SHIPPED_MODELS if _same_file(self.path, name)), None
        )
        self.providers = _check_providers(providers)
        self.intra_op_threads = int(intra_op_threads)
        self.batch_size = int(batch_size)
        self.check_versions = bool(check_versions)
        self._session = None
        # metadata and graph checks on a CPU session: the inference session (maybe on a
        # GPU) is made where predict runs
        self._cpu_session = _session(self.path, ("CPUExecutionProvider",), 1)
        self.metadata = _parse_metadata(self._cpu_session, str(self.path))
        self.inputs = tuple(
            InputSpec(i["name"], tuple(i["shape"]), i.get("dtype", "float32"))
            for i in self.metadata["inputs"]
        )
        self.class_names: tuple[str, ...] = tuple(self.metadata["class_names"])
        self._check_graph()
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

    # -- the session: lazy, never pickled ------------------------------------------------
    @property
    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession``, created on first use in this process."""
        if self._session is None:
            if self.shipped_name is not None:  # the worker's own installed copy
                self.path = shipped_model_path(self.shipped_name)
            if not self.path.is_file():
                raise FileNotFoundError(
                    f"no model file {self.path} in this process (a dask worker needs the "
                    "model at the same path as the client, e.g. on a shared file system)"
                )
            providers = tuple(_resolve_providers(self.providers))
            self._session = _session(self.path, providers, self.intra_op_threads)
        return self._session

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as (where, settings): a few hundred bytes in a dask graph, not the metadata.

        The receiving process reopens the model (a shipped one from its own installation)
        and checks it again; one :class:`OnnxModel` per file and settings per process.
        """
        where = self.shipped_name if self.shipped_name is not None else str(self.path)
        return (
            _restore_model,
            (where, self.providers, self.intra_op_threads, self.batch_size, self.check_versions),
        )

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """Deterministic dask token: the same file and settings give the same graph keys."""
        stat = self.path.stat() if self.path.is_file() else None
        return (
            "egamma_cnn.OnnxModel",
            self.shipped_name or str(self.path),
            stat.st_size if stat else None,
            stat.st_mtime_ns if stat else None,
            self.providers,
            self.intra_op_threads,
            self.batch_size,
        )

    # -- checks ---------------------------------------------------------------------------
    def _check_graph(self) -> None:
        graph_inputs = self._cpu_session.get_inputs()
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
        outputs = self._cpu_session.get_outputs()
        n_out = outputs[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(self.class_names):
            raise ModelMetadataError(
                f"{self.path}: {n_out} outputs but {len(self.class_names)} class names"
            )

    def _check_preprocessing(self) -> None:
        from egamma_cnn.model.discriminant import ELECTRON_CLASS_NAMES

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
        from egamma_cnn.geometry import GEOMETRY_VERSION
        from egamma_cnn.images import INPUTS_VERSION

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

    def _prepare(self, inputs: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
        expected = [spec.name for spec in self.inputs]
        missing = [name for name in expected if name not in inputs]
        extra = [name for name in inputs if name not in expected]
        if missing or extra:
            raise ModelMetadataError(
                f"{self.path.name}: inputs {sorted(inputs)} do not match the model's "
                f"{expected} (missing {missing}, unexpected {extra})"
            )
        arrays: dict[str, np.ndarray] = {}
        lengths = set()
        for spec in self.inputs:
            array = np.asarray(inputs[spec.name])
            if array.ndim != len(spec.shape) + 1 or tuple(array.shape[1:]) != spec.shape:
                raise ModelMetadataError(
                    f"{self.path.name}: input {spec.name!r} has shape {array.shape}, "
                    f"expected (N, {', '.join(map(str, spec.shape))})"
                )
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                bad = int(np.flatnonzero(~np.all(np.isfinite(array.reshape(len(array), -1)), 1))[0])
                raise ModelMetadataError(
                    f"{self.path.name}: input {spec.name!r} has non-finite values "
                    f"(first at candidate {bad})"
                )
            # the input dtype first: the quantile tables were fitted on float32 values, so
            # a float64 caller gets exactly the numbers the training saw
            array = array.astype(spec.dtype, copy=False)
            if spec.name in self.preprocessing:
                array = self.preprocessing[spec.name].transform(array)
            arrays[spec.name] = np.ascontiguousarray(array, dtype=spec.dtype)
            lengths.add(len(array))
        if len(lengths) > 1:
            raise ModelMetadataError(
                f"{self.path.name}: inputs have different numbers of candidates {sorted(lengths)}"
            )
        return arrays, lengths.pop() if lengths else 0

    # -- inference ------------------------------------------------------------------------
    def predict(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Class probabilities ``float32[N, n_classes]`` for raw inputs.

        ``inputs`` maps every input name of the metadata to an array ``(N, *shape)``;
        inputs with a quantile table are given untransformed (the table is applied here).
        """
        arrays, n = self._prepare(inputs)
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

    def __repr__(self) -> str:
        shapes = ", ".join(f"{s.name}{list(s.shape)}" for s in self.inputs)
        name = self.metadata.get("name", self.path.name)
        return f"OnnxModel({name!r}: {shapes} -> {list(self.class_names)})"


_RESTORED: dict[tuple[Any, ...], OnnxModel] = {}
_RESTORED_LOCK = threading.Lock()


def _restore_model(
    where: str, providers: Any, intra_op_threads: int, batch_size: int, check_versions: bool
) -> OnnxModel:
    """Unpickle an :class:`OnnxModel`: reopen it, once per file and settings per process."""
    path = shipped_model_path(where) if where in SHIPPED_MODELS else Path(where)
    if not path.is_file():
        raise FileNotFoundError(
            f"no model file {path} in this process (a dask worker needs the model at the "
            "same path as the client, e.g. on a shared file system)"
        )
    stat = path.stat()
    key = (
        where,
        stat.st_size,
        stat.st_mtime_ns,
        providers,
        intra_op_threads,
        batch_size,
        check_versions,
    )
    with _RESTORED_LOCK:
        if key not in _RESTORED:
            _RESTORED[key] = OnnxModel(
                path,
                providers=providers,
                intra_op_threads=intra_op_threads,
                batch_size=batch_size,
                check_versions=check_versions,
            )
        return _RESTORED[key]


def load_model(name_or_path: str | os.PathLike[str], **kwargs: Any) -> OnnxModel:
    """A shipped model by name (:data:`SHIPPED_MODELS`) or any egamma-cnn ONNX file."""
    if isinstance(name_or_path, str) and name_or_path in SHIPPED_MODELS:
        return OnnxModel(shipped_model_path(name_or_path), **kwargs)
    return OnnxModel(name_or_path, **kwargs)
