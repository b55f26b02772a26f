"""Filesets: reading one, and running a processor over one on dask with a progress bar.

Every command that runs a pre-built processor over a fileset (``egamma-cnn tnp``,
``datamc``, ``isolation``, ``run``, the demo) goes through :func:`run_over_fileset`, a
thin door to :func:`egamma_cnn.execution.run_fileset`: coffea's dataset tools split the
files into chunks, ``apply_to_fileset`` builds one lazy graph, and it is computed on the
executor; bad files and chunks stop the run or, with permission, are reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["dataset_kind", "load_fileset", "merge_by_kind", "run_over_fileset"]


def load_fileset(path: str | Path) -> dict[str, Any]:
    """Read a fileset JSON and decide for each dataset whether it is data.

    ``metadata.is_data`` is used where given; otherwise an egamma-cnn sample's own
    provenance (``is_data`` in its ``egamma_cnn_metadata``) decides. A dataset with
    neither is an error that says to add ``"metadata": {"is_data": ...}``.
    """
    from egamma_cnn.sim.writer import read_metadata

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


def run_over_fileset(
    processor: Any,
    fileset: Mapping[str, Any],
    *,
    schemaclass: Any = None,
    step_size: int | None = None,
    scheduler: Any = None,
    settings: Any = None,
) -> Any:
    """Run a coffea processor over ``fileset``: a
    :class:`~egamma_cnn.execution.FilesetRun` (outputs per dataset, what was left out).

    ``settings`` (:class:`~egamma_cnn.execution.ExecutionSettings`) choose the executor,
    retries and the permission to skip bad input; ``step_size`` overrides its chunk
    size; ``scheduler`` is where to compute when the caller holds it (``"sync"`` or a
    ``distributed`` client; by default the client of the context, else the executor of
    ``settings``). See :func:`egamma_cnn.execution.run_fileset`.
    """
    from egamma_cnn.execution import ExecutionSettings, run_fileset

    settings = (settings or ExecutionSettings()).with_changes(chunk_size=step_size)
    return run_fileset(processor, fileset, settings, schemaclass=schemaclass, executor=scheduler)


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
    import numpy as np

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
