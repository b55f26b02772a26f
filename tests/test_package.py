"""The installed package: layout, processors mapping, shipped data."""

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
