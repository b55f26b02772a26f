"""egamma_cnn.jsonio: the JSON files of every study: strict JSON, undefined numbers null."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from egamma_cnn.jsonio import json_ready, write_json, write_text


def test_write_json_is_indented_strict_json_with_undefined_numbers_as_null(tmp_path):
    value = {"a": [1, 2.5], "b": {"c": math.nan, "d": math.inf, "e": -np.inf}}
    path = write_json(value, tmp_path / "deep" / "table.json")  # the folder is made
    assert path == tmp_path / "deep" / "table.json"
    expected = {"a": [1, 2.5], "b": {"c": None, "d": None, "e": None}}
    assert path.read_text() == json.dumps(expected, indent=1)
    # strict JSON: a parser that refuses NaN and Infinity reads it
    assert json.loads(path.read_text(), parse_constant=_refuse) == expected
    # numpy numbers and arrays are written as numbers and lists
    converted = write_json({"x": np.float32(0.5), "y": np.arange(2)}, tmp_path / "x.json")
    assert json.loads(converted.read_text()) == {"x": 0.5, "y": [0, 1]}
    # default: what json cannot write by itself, made strict too
    defaulted = write_json({"x": {1j}}, tmp_path / "d.json", default=lambda s: [math.nan])
    assert json.loads(defaulted.read_text()) == {"x": [None]}
    with pytest.raises(TypeError, match="set"):
        write_json({"x": {1}}, tmp_path / "y.json")
    assert write_text("text", tmp_path / "t.txt").read_text() == "text"


def _refuse(constant):
    raise ValueError(f"not strict JSON: {constant}")


def test_json_ready_replaces_nan_and_numpy_floats_recursively():
    ready = json_ready({"a": (np.float64(1.5), np.nan), "b": [float("nan"), {"c": 2}], "d": "x"})
    assert ready == {"a": [1.5, None], "b": [None, {"c": 2}], "d": "x"}
    assert type(ready["a"][0]) is float
    assert json_ready(np.int64(3)) == 3 and type(json_ready(np.int64(3))) is int
    assert json_ready([np.inf, np.bool_(True), "x"]) == [None, True, "x"]
