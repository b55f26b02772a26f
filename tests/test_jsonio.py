"""egamma_cnn.jsonio: the JSON files of every study, with the layout and NaN of each."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from egamma_cnn.jsonio import json_ready, write_json, write_text


def test_write_json_is_indented_json_with_nan_as_written(tmp_path):
    value = {"a": [1, 2.5], "b": {"c": math.nan}}
    path = write_json(value, tmp_path / "deep" / "table.json")  # the folder is made
    assert path == tmp_path / "deep" / "table.json"
    assert path.read_text() == json.dumps(value, indent=1)
    assert "NaN" in path.read_text()  # as Python's json writes it, unless json_ready
    ready = write_json(json_ready(value), tmp_path / "ready.json")
    assert json.loads(ready.read_text()) == {"a": [1, 2.5], "b": {"c": None}}
    # default: what json cannot write by itself
    converted = write_json({"x": np.float32(0.5)}, tmp_path / "x.json", default=float)
    assert json.loads(converted.read_text()) == {"x": 0.5}
    with pytest.raises(TypeError):
        write_json({"x": np.float32(0.5)}, tmp_path / "y.json")
    assert write_text("text", tmp_path / "t.txt").read_text() == "text"


def test_json_ready_replaces_nan_and_numpy_floats_recursively():
    ready = json_ready({"a": (np.float64(1.5), np.nan), "b": [float("nan"), {"c": 2}], "d": "x"})
    assert ready == {"a": [1.5, None], "b": [None, {"c": 2}], "d": "x"}
    assert type(ready["a"][0]) is float
    assert json_ready(np.int64(3)) == 3  # other values as they are
