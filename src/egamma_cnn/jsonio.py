"""Writing JSON files: the one helper every study's outputs use.

:func:`write_json` writes a value as indented JSON (one space per level, the layout of
every JSON file this package writes) and :func:`json_ready` turns the numbers of a
nested value into what strict JSON allows (NaN → ``null``, numpy floats → Python
floats). Which files go through :func:`json_ready` is the caller's choice: the
tag-and-probe and isolation tables hold ``null`` for an undefined number, the data/MC
tables ``NaN`` (Python's ``json`` extension).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["json_ready", "write_json", "write_text"]


def json_ready(value: Any) -> Any:
    """``value`` with NaN as None, recursively; numpy floats as Python floats.

    Dicts and lists are rebuilt (tuples become lists, as JSON writes them); every other
    value is returned as it is.
    """
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.floating):
        return float(value)
    return value


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` (its folder created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_json(
    value: Any, path: str | Path, *, default: Callable[[Any], Any] | None = None
) -> Path:
    """Write ``value`` as JSON indented by one space to ``path``; returns the path.

    ``json.dumps(value, indent=1, default=default)``: a NaN is written as ``NaN`` (pass
    the value through :func:`json_ready` for ``null``); ``default`` converts what
    ``json`` cannot (e.g. ``float`` for numpy scalars). The folder is created.
    """
    return write_text(json.dumps(value, indent=1, default=default), path)
