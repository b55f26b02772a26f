"""Filesets in coffea's format: reading one, telling data from simulation, merging outputs.

A fileset is ``{dataset: {"files": {path: tree} or [paths], "metadata": {...}}}``.
:func:`load_fileset` reads one from JSON (paths relative to the JSON file) and fills
``metadata.is_data`` from the provenance of egamma-cnn files where the user did not say
it; :func:`dataset_kind` reads it back, and :func:`merge_by_kind` adds processor outputs
up per kind (data, simulation). :func:`egamma_cnn.execution.run_fileset` runs a
processor over a fileset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from egamma_cnn.provenance import read_metadata

__all__ = ["dataset_kind", "load_fileset", "merge_by_kind"]


def load_fileset(path: str | Path) -> dict[str, Any]:
    """Read a fileset JSON and decide for each dataset whether it is data.

    ``metadata.is_data`` is used where given; otherwise an egamma-cnn sample's own
    provenance (``is_data`` in its ``egamma_cnn_metadata``) decides. A dataset with
    neither is an error that says to add ``"metadata": {"is_data": ...}``.
    """
    path = Path(path)
    try:
        fileset = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable fileset JSON ({err})") from None
    if not isinstance(fileset, dict) or not fileset:
        raise ValueError(f"{path}: a fileset is a JSON object {{dataset: {{'files': ...}}}}")
    for name, spec in fileset.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("files"), dict | list):
            raise ValueError(f"{path}: dataset {name!r} needs 'files' (path → tree name)")
        if isinstance(spec["files"], list):
            spec["files"] = {f: "Events" for f in spec["files"]}
        spec["files"] = {
            str((path.parent / f).resolve())
            if not Path(f).is_absolute() and "://" not in f
            else f: tree
            for f, tree in spec["files"].items()
        }
        metadata = spec.setdefault("metadata", {})
        if "is_data" not in metadata:
            flags = set()
            for file in spec["files"]:
                try:
                    flags.add(bool(read_metadata(file).get("is_data", False)))
                except Exception:
                    flags.add(None)
            if len(flags) != 1 or None in flags:
                raise ValueError(
                    f"{path}: dataset {name!r}: say whether it is data with "
                    '"metadata": {"is_data": true|false} (its files do not say it alike)'
                )
            metadata["is_data"] = flags.pop()
    return fileset


def dataset_kind(fileset: Mapping[str, Any], name: str) -> str:
    """``"data"`` or ``"mc"`` from the dataset's ``metadata.is_data`` (a boolean)."""
    is_data = fileset[name].get("metadata", {}).get("is_data")
    if not isinstance(is_data, bool):
        raise ValueError(
            f"dataset {name!r}: metadata.is_data must be true or false, not {is_data!r} "
            "(load_fileset fills it from egamma-cnn files)"
        )
    return "data" if is_data else "mc"


def merge_by_kind(
    results: Mapping[str, Any], fileset: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Processor outputs ``{dataset: {key: value}}`` added up per kind (data, MC).

    Values are histograms or counts (added), or dicts of histograms (added per key);
    counts come back as Python ints.
    """
    merged: dict[str, dict[str, Any]] = {}
    for name, result in results.items():
        kind = dataset_kind(fileset, name)
        total = merged.setdefault(kind, {})
        for key, value in result.items():
            if isinstance(value, dict):
                part = total.setdefault(key, {})
                for sub, histogram in value.items():
                    part[sub] = histogram if sub not in part else part[sub] + histogram
            else:
                if isinstance(value, np.integer | int):
                    value = int(value)
                total[key] = value if key not in total else total[key] + value
    return merged
