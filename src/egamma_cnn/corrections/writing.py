"""Writing correctionlib files and JSON tables: what scale factors and fudge factors share.

Every correction this package writes (tag-and-probe scale factors, fudge factors) is a
``correctionlib.schemav2.Correction`` validated by correctionlib's pydantic model and
written as a schema-v2 correction set; tables beside them are JSON with NaN as null.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import correctionlib.schemav2 as cs
import numpy as np

from egamma_cnn.jsonio import json_ready, write_json

__all__ = ["grid_to_json", "write_correction"]


def grid_to_json(grid: np.ndarray) -> list:
    """A 2-D grid of numbers as nested lists, NaN as None (JSON has no NaN)."""
    return json_ready(np.asarray(grid, float).tolist())


def write_correction(correction: Any, path: str | Path) -> Path:
    """Write one ``correctionlib.schemav2.Correction`` as a schema-v2 correction set.

    The set is validated by correctionlib's pydantic model before it is written (indented
    JSON); the folder is created. Returns the path.
    """
    correction_set = cs.CorrectionSet(schema_version=2, corrections=[correction])
    return write_json(json.loads(correction_set.model_dump_json(exclude_unset=True)), path)
