"""Export a trained network to ONNX with the metadata the runtime checks.

The graph takes the inputs named by the network's ``input_names()`` (batch axis
dynamic) and returns ``probabilities``; the metadata document of
:mod:`egamma_cnn.model.onnx_model` goes into the file's ``metadata_props``. After
writing, the ONNX Runtime output is compared with the torch output on the given example
inputs and the export fails if any probability differs by more than ``tolerance``.

Files are written whole or not at all: the graph goes into a temporary created
exclusively beside the destination (``.<name>.<random>.partial.onnx``), which replaces the
destination (:func:`os.replace`) only once checked; :func:`update_metadata` writes its
copy the same way. A failure or an interruption removes the temporary.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

import egamma_cnn
from egamma_cnn.geometry import GEOMETRY_VERSION
from egamma_cnn.images import INPUTS_VERSION
from egamma_cnn.model.onnx_model import METADATA_KEY, MODEL_FORMAT, OnnxModel, read_metadata
from egamma_cnn.temporaries import create_exclusively

__all__ = ["base_metadata", "export_onnx", "update_metadata"]

#: ONNX opset of the exported graphs (onnxruntime ≥ 1.18 runs it).
OPSET = 17


class _Positional(nn.Module):
    """Calls ``model(**inputs)`` with positional graph inputs, for the exporter."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]) -> None:
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, inputs, strict=True)))


def base_metadata(kind: str, name: str, description: str) -> dict[str, Any]:
    """The version fields every model records."""
    return {
        "format": MODEL_FORMAT,
        "name": name,
        "kind": kind,
        "description": description,
        "geometry_version": GEOMETRY_VERSION,
        "inputs_version": INPUTS_VERSION,
        "egamma_cnn_version": egamma_cnn.__version__,
        "torch_version": torch.__version__,
    }


def _temporary_beside(path: Path) -> Path:
    """A new empty file beside ``path``, created exclusively (a planted file or link of
    that name is never followed) with the permissions of a new file (umask)."""
    fd, temporary = create_exclusively(
        lambda: path.with_name(f".{path.name}.{secrets.token_hex(8)}.partial.onnx")
    )
    os.close(fd)
    return temporary


def _write_metadata(path: Path, metadata: Mapping[str, Any]) -> None:
    """Replace ``path`` by its graph with ``metadata``, through a temporary: never half-written."""
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(metadata, sort_keys=True)
    onnx.checker.check_model(proto)
    temporary = _temporary_beside(path)
    try:
        onnx.save(proto, str(temporary))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def export_onnx(
    model: nn.Module,
    example_inputs: Mapping[str, np.ndarray],
    path: str | Path,
    metadata: Mapping[str, Any],
    *,
    raw_inputs: Mapping[str, np.ndarray] | None = None,
    tolerance: float = 1e-5,
) -> Path:
    """Write ``model`` as ONNX with ``metadata`` and check ONNX Runtime against torch.

    Parameters
    ----------
    model
        A network of :mod:`.networks` (has ``input_names()``), in eval mode.
    example_inputs
        Inputs as the *graph* receives them (HLVs already transformed), a few candidates.
    path
        Output ``.onnx`` file.
    metadata
        The document of :mod:`egamma_cnn.model.onnx_model` (``inputs`` is filled in here
        from the example inputs when absent).
    raw_inputs
        The same candidates as the *runtime* receives them (HLVs untransformed), to check
        the whole :class:`OnnxModel` path including the preprocessing; defaults to
        ``example_inputs`` when the model has no preprocessing.
    tolerance
        Largest allowed |ONNX Runtime − torch| of a probability.

    Returns
    -------
    Path
        ``path``, written only once the check passed (under a temporary name until then).
        Raises ``RuntimeError`` when the outputs differ by more than tolerance.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = tuple(model.input_names())
    missing = [n for n in names if n not in example_inputs]
    if missing:
        raise ValueError(f"example_inputs lack {missing}")
    model.eval()
    tensors = tuple(torch.from_numpy(np.ascontiguousarray(example_inputs[n])) for n in names)
    wrapper = _Positional(model, names).eval()
    final, path = path, _temporary_beside(path)  # replaces `final` once checked
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                wrapper,
                tensors,
                str(path),
                input_names=list(names),
                output_names=["probabilities"],
                dynamic_axes={
                    **{n: {0: "candidates"} for n in names},
                    "probabilities": {0: "candidates"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        document = dict(metadata)
        document.setdefault(
            "inputs",
            [
                {"name": n, "shape": list(example_inputs[n].shape[1:]), "dtype": "float32"}
                for n in names
            ],
        )
        _write_metadata(path, document)
        with torch.no_grad():
            expected = wrapper(*tensors).numpy()
        runtime = OnnxModel(path)
        got = runtime.predict(dict(raw_inputs if raw_inputs is not None else example_inputs))
        difference = float(np.max(np.abs(got - expected))) if len(got) else 0.0
        if not difference <= tolerance:
            raise RuntimeError(
                f"ONNX Runtime and torch differ by {difference:.2e} > {tolerance:.0e} on "
                f"{final.name}"
            )
        os.replace(path, final)
    finally:
        path.unlink(missing_ok=True)
    return final


def update_metadata(path: str | Path, updates: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``updates`` into the metadata document of an exported model; returns it."""
    path = Path(path)
    metadata = read_metadata(path)  # parsed only: the document may be being repaired
    metadata.update(updates)
    _write_metadata(path, metadata)
    return metadata
