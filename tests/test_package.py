"""The installed package: layout, processors mapping, shipped data."""

import re
from pathlib import Path

import egamma_cnn


def test_processors_are_importable_from_the_top_level_folder():
    import egamma_cnn.processors as processors

    assert Path(processors.__file__).parent.name == "processors"
    assert processors.__name__ == "egamma_cnn.processors"


def test_runtime_imports_no_torch_or_pythia():
    import subprocess
    import sys

    code = (
        "import sys, egamma_cnn, egamma_cnn.geometry, egamma_cnn.nanoevents, "
        "egamma_cnn.features, egamma_cnn.images, egamma_cnn.sim.production, "
        "egamma_cnn.sim.validation, egamma_cnn.model, egamma_cnn.train, "
        "egamma_cnn.train.dataset, egamma_cnn.train.samples, egamma_cnn.train.reweighting; "
        "print('torch' in sys.modules, 'pythia8mc' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_calibration_is_shipped():
    data = Path(egamma_cnn.__file__).parent / "data" / "cluster_calibration.json"
    assert data.is_file()
    assert "python -m egamma_cnn.sim.calibration" in data.read_text()


def test_every_subpackage_is_listed_in_pyproject():
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(
        tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    source = root / "src" / "egamma_cnn"
    found = {"egamma_cnn"} | {
        "egamma_cnn." + ".".join(init.parent.relative_to(source).parts)
        for init in source.rglob("__init__.py")
        if init.parent != source
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def test_every_test_named_in_reliability_md_exists():
    """docs/RELIABILITY.md says which test proves each row: those tests must exist."""
    root = Path(__file__).resolve().parent.parent
    text = (root / "docs" / "RELIABILITY.md").read_text()
    named: list[tuple[str, str]] = []
    for row in (line for line in text.splitlines() if line.startswith("|")):
        current = None
        for match in re.finditer(r"(tests/test_\w+\.py)(?:::(test_\w+))?|::(test_\w+)", row):
            if match[1]:
                current = match[1]
                assert (root / current).is_file(), current
                if match[2]:
                    named.append((current, match[2]))
            else:
                assert current is not None, f"{match[0]} without its file in: {row}"
                named.append((current, match[3]))
    assert len(named) > 50
    for file, test in named:
        assert re.search(rf"^def {test}\(", (root / file).read_text(), re.M), f"{file}::{test}"
    files = {file for file, _ in named}
    for path in sorted((root / "tests").glob("test_reliability_*.py")):
        assert f"tests/{path.name}" in files, f"{path.name} proves no row of RELIABILITY.md"
