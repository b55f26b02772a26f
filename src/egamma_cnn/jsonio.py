"""Writing JSON files: the one helper every output of the package goes through.

Every JSON file egamma-cnn writes is strict JSON (RFC 8259), readable by any JSON
parser: an undefined number (NaN, ±inf: an efficiency without probes, a distance of an
empty distribution) is written as ``null``. :func:`json_ready` makes a value so (NaN and
±inf → ``None``, numpy scalars and arrays → Python numbers and lists) and
:func:`write_json` applies it, then refuses anything that is still not JSON
(``allow_nan=False``), so that no ``NaN`` can ever reach a file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["json_ready", "read_json", "write_json", "write_text"]


def json_ready(value: Any) -> Any:
    """``value`` as strict JSON allows it, recursively.

    NaN and ±inf become None (``null``: undefined); numpy floats, integers and booleans
    become Python numbers; numpy arrays, tuples and lists become lists; dicts are
    rebuilt. Every other value is returned as it is.
    """
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
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
    """Write ``value`` as strict JSON indented by one space to ``path``; returns the path.

    The value goes through :func:`json_ready` (NaN and ±inf → ``null``); ``default``
    converts what ``json`` cannot otherwise (its result goes through :func:`json_ready`
    too). The folder is created.

    Raises
    ------
    ValueError
        Something in ``value`` is still not strict JSON.
    """

    def converted(item: Any) -> Any:
        if default is None:
            raise TypeError(f"{type(item).__name__} is not JSON: {item!r}")
        return json_ready(default(item))

    return write_text(
        json.dumps(json_ready(value), indent=1, default=converted, allow_nan=False), path
    )


def read_json(path: str | Path) -> Any:
    """The JSON value of the file ``path``; every way of failing is one line naming it.

    Raises
    ------
    ValueError
        ``PATH: no such file``, ``a folder, not a JSON file``, ``not a JSON text file
        (not UTF-8: ...)``, ``cannot be read (...)`` or ``not valid JSON (...)``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: a folder, not a JSON file") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a JSON text file (not UTF-8: {err.reason})") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
