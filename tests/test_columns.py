"""The NanoEvents columns of Electron and Photon: declared by name, documented, catalogued.

Tests :mod:`egamma_cnn.nanoevents.catalog` and the column declarations of
:mod:`egamma_cnn.nanoevents.methods`.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import awkward as ak
import pytest
from coffea.nanoevents.methods import base, candidate

from egamma_cnn.corrections.isolation import ISOLATION_WORKING_POINTS
from egamma_cnn.features import (
    ENERGY_FLOW_NAMES,
    ISOLATION_NAMES,
    SHOWER_SHAPE_NAMES,
    TRACK_VARIABLE_NAMES,
)
from egamma_cnn.identification import feature_group
from egamma_cnn.nanoevents import methods, open_events
from egamma_cnn.nanoevents.catalog import (
    COLLECTIONS,
    column_docs,
    columns,
    columns_markdown,
    undeclared_features,
)

ROOT = Path(__file__).resolve().parents[1]
METHODS_SOURCE = ROOT / "src" / "egamma_cnn" / "nanoevents" / "methods.py"
COLUMNS_MD = ROOT / "docs" / "COLUMNS.md"
SAMPLE = ROOT / "tests" / "data" / "zee_mc.root"

# The columns that methods._attach_columns() set (by setattr loops) before the columns
# were declared in the class bodies, listed from that code (commit 4e47d25): the same
# names must exist, no more and no fewer.
ELECTRON_COLUMNS = frozenset(
    {
        *("cnn", "cnn_probs", "cnn_score", "cnn_loose", "cnn_medium", "cnn_tight"),
        *("llh", "llh_score", "llh_loose", "llh_medium", "llh_tight"),
        *("iso_loose", "iso_tight", "features"),
        *("reta", "rphi", "weta2", "f1", "f3", "rhad", "rhad1", "e_em", "wstot", "ws3"),
        *("fside", "eratio", "deltae", "sigmaietaieta"),
        *("etcone20", "etcone30", "etcone40", "ptcone20", "ptcone30", "ptcone40"),
        *("ptvarcone20", "ptvarcone30", "calo_iso_cones"),
        *("ptd", "efp2_b05", "efp2_b1", "efp2_b2", "efp3_triangle_b05"),
        *("nBLayerHits", "nPixelHits", "nSCTHits", "ndof", "d0", "d0sig", "dpOverP"),
        *("qd0sig", "qSCTw", "eProbabilityHT", "eOverP", "etOverPt"),
    }
)
PHOTON_COLUMNS = frozenset(
    {
        *("cnn", "cnn_score", "cnn_loose", "cnn_tight", "iso_loose", "features"),
        *("reta", "rphi", "weta2", "f1", "f3", "rhad", "rhad1", "e_em", "wstot", "ws3"),
        *("fside", "eratio", "deltae", "sigmaietaieta"),
        *("etcone20", "etcone30", "etcone40", "ptcone20", "ptcone30", "ptcone40"),
        *("ptvarcone20", "ptvarcone30", "calo_iso_cones"),
        *("ptd", "efp2_b05", "efp2_b1", "efp2_b2", "efp3_triangle_b05"),
    }
)
EXPECTED = {"Electron": ELECTRON_COLUMNS, "Photon": PHOTON_COLUMNS}
KIND = {"Electron": "electron", "Photon": "photon"}
FEATURE_NAMES = {
    "Electron": (
        *SHOWER_SHAPE_NAMES,
        *ISOLATION_NAMES,
        *ENERGY_FLOW_NAMES,
        *TRACK_VARIABLE_NAMES,
        "calo_iso_cones",
    ),
    "Photon": (*SHOWER_SHAPE_NAMES, *ISOLATION_NAMES, *ENERGY_FLOW_NAMES, "calo_iso_cones"),
}
FACTORIES = {"id_property", "llh_property", "isolation_property", "feature_property"}


def _declared_in_source(class_name: str) -> dict[str, int]:
    """``name = <factory>(...)`` statements in the class body: name → line in methods.py."""
    tree = ast.parse(METHODS_SOURCE.read_text(encoding="utf-8"))
    (cls,) = (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    declared = {}
    for node in cls.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in FACTORIES
        ):
            (target,) = node.targets
            declared[target.id] = node.lineno
    return declared


@pytest.mark.parametrize("collection", ["Electron", "Photon"])
def test_the_set_of_columns_is_unchanged(collection: str) -> None:
    assert set(columns(collection)) == EXPECTED[collection]


@pytest.mark.parametrize("collection", ["Electron", "Photon"])
def test_every_column_is_declared_by_name_in_its_class_body(collection: str) -> None:
    declared = _declared_in_source(collection)
    assert set(declared) == EXPECTED[collection]
    source = METHODS_SOURCE.read_text(encoding="utf-8")
    for name in EXPECTED[collection]:  # what a grep for "cnn_score =" finds
        assert re.search(rf"^    {name} = \w+_property\(", source, re.MULTILINE), name
        assert name in vars(COLLECTIONS[collection])


def test_no_setattr_loop_attaches_columns() -> None:
    source = METHODS_SOURCE.read_text(encoding="utf-8")
    assert "setattr(" not in source
    assert "_attach_columns" not in source


@pytest.mark.parametrize("collection", ["Electron", "Photon"])
def test_columns_hide_no_file_branch_and_no_four_vector_attribute(collection: str) -> None:
    """A feature is a column unless a file branch or the four-vector has its name."""
    cls = COLLECTIONS[collection]
    bases = (candidate.PtEtaPhiMCandidate, base.NanoCollection, base.Systematic)
    assert all(issubclass(cls, b) for b in bases)
    declared = columns(collection)
    for name in FEATURE_NAMES[collection]:
        taken = name in methods._FILE_FIELDS or any(hasattr(b, name) for b in bases)
        assert (name not in declared) == taken, name
    for name in declared:
        assert not any(hasattr(b, name) for b in bases), name
    assert set(undeclared_features(collection)) == {
        n for n in FEATURE_NAMES[collection] if n not in declared
    }
    expected_hidden = {"mass"} | (
        {"et", "eta", "nTracks", "deltaEta1", "deltaPhiRescaled2"}
        if collection == "Electron"
        else set()
    )
    assert set(undeclared_features(collection)) == expected_hidden


@pytest.mark.parametrize("collection", ["Electron", "Photon"])
def test_every_column_has_a_definition_and_its_group(collection: str) -> None:
    docs = column_docs(collection)
    for name, info in columns(collection).items():
        assert info.kind == KIND[collection]
        assert len(docs[name]) > 40, name  # a definition, not a placeholder
        assert "of :mod:`egamma_cnn.features`." not in docs[name]
        if name in FEATURE_NAMES[collection]:
            assert info.field == name
            assert info.groups == (feature_group(name),)
        elif name.startswith("cnn"):
            assert info.groups == ("cnn",)
        elif name.startswith("llh"):
            assert info.groups == ("likelihood",)
        elif name.startswith("iso_"):
            assert info.groups == ("isolation_wp",)
            for cut in ISOLATION_WORKING_POINTS[KIND[collection]][name]:
                assert f"{cut.column} < {cut.maximum} × {cut.denominator}" in docs[name]
        else:
            assert name == "features"
            assert info.type == "record"


@pytest.fixture(scope="module")
def sample_events() -> ak.Array:
    return open_events(SAMPLE)


_TYPES = {"bool": "bool", "float64": "float", "16 * float64": "float[16]"}


@pytest.mark.parametrize("collection", ["Electron", "Photon"])
def test_catalogued_types_are_the_computed_types(collection: str, sample_events) -> None:
    candidates = sample_events[collection]
    for name, info in columns(collection).items():
        values = getattr(candidates, name)
        content = str(values.type.content.content)  # per candidate, under "n * var *"
        computed = "record" if content.startswith("{") else _TYPES[content]
        assert computed == info.type, name
    assert ak.any(ak.num(candidates) > 0)


def test_docs_table_is_up_to_date() -> None:
    """docs/COLUMNS.md is the output of columns_markdown(); regenerate it if this fails."""
    expected = columns_markdown()
    assert COLUMNS_MD.read_text(encoding="utf-8") == expected, (
        "docs/COLUMNS.md is stale: run python -m egamma_cnn.nanoevents.catalog > docs/COLUMNS.md"
    )


def test_docs_table_lists_every_column_once() -> None:
    rows = [line for line in columns_markdown().splitlines() if line.startswith("| `")]
    cells = [tuple(c.strip() for c in row.strip("|").split(" | ")[:3]) for row in rows]
    listed = {(name.strip("`"), collection) for name, collection, _ in cells}
    assert len(rows) == len(listed) == len(ELECTRON_COLUMNS) + len(PHOTON_COLUMNS)
    assert listed == {(n, c) for c, names in EXPECTED.items() for n in names}
    assert all(len(row.split(" | ")) == 5 for row in rows)  # every "|" of a definition escaped


def test_catalog_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "egamma_cnn.nanoevents.catalog"],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.decode("utf-8") == columns_markdown()
