"""The validation fits and the validate() job on the shipped sample."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from egamma_cnn.sim.validation import (
    Z_MASS_GEV,
    Z_WIDTH_GEV,
    compare_data_mc,
    fit_z_peak,
    validate,
    z_electron_shapes,
)


def test_z_peak_fit_recovers_a_known_resolution():
    rng = np.random.default_rng(1)
    n = 20000
    bw = Z_MASS_GEV + 0.5 * Z_WIDTH_GEV * np.tan(np.pi * (rng.uniform(size=n) - 0.5))
    mass = bw + rng.normal(0.3, 2.0, n)
    fit = fit_z_peak(mass)
    assert fit["peak"] == pytest.approx(Z_MASS_GEV + 0.3, abs=0.15)
    assert fit["sigma"] == pytest.approx(2.0, abs=0.15)


def test_z_peak_fit_with_too_few_pairs_is_nan():
    fit = fit_z_peak(np.array([91.0, 90.0]))
    assert np.isnan(fit["peak"]) and np.isnan(fit["sigma"]) and fit["n"] == 2


def test_validate_on_the_shipped_sample(tmp_path):
    sample = Path(__file__).parent / "data" / "zee_mc.root"
    summary = validate([sample], tmp_path)
    for png in ("shower_shapes.png", "class_composition.png", "energy_response.png"):
        assert (tmp_path / png).stat().st_size > 10_000
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["processes"]["zee"]["n_events"] == 40
    assert sum(saved["processes"]["zee"]["class_counts"]) > 0
    assert 0.9 < summary["energy_response"]["median"] < 1.1


def test_validate_refuses_data_like_files(tmp_path):
    sample = Path(__file__).parent / "data" / "zee_datalike.root"
    with pytest.raises(ValueError, match="no truth branches"):
        validate([sample], tmp_path)


def test_data_mc_comparison_runs_without_truth(tmp_path):
    data_dir = Path(__file__).parent / "data"
    shapes = z_electron_shapes(data_dir / "zee_datalike.root")
    assert set(shapes) >= {"reta", "weta2", "f3"}
    assert len(shapes["reta"]) % 2 == 0  # both electrons of each Z-like pair
    out = compare_data_mc([data_dir / "zee_mc.root"], [data_dir / "zee_datalike.root"], tmp_path)
    assert out["n_mc"] > 0 and out["n_data"] > 0
    assert (tmp_path / "data_mc_shower_shapes.png").is_file()


def test_z_shapes_of_a_file_with_a_single_z_like_event(monkeypatch):
    """One Z-like event in a file (a JF17 sample): both its electrons, no IndexError."""
    from egamma_cnn.sim import validation

    sample = Path(__file__).parent / "data" / "zee_mc.root"
    electrons, cells = validation._load(sample, need_truth=False)
    counts = []
    for event in range(len(electrons)):
        window = slice(max(event - 1, 0), event + 1)  # a Z-like event after another event
        monkeypatch.setattr(
            validation, "_load", lambda path, need_truth=False, w=window: (electrons[w], cells[w])
        )
        counts.append(len(z_electron_shapes(sample)["reta"]))
    assert set(counts) <= {0, 2, 4}
    assert 2 in counts


DATA = Path(__file__).parent / "data"


def test_the_same_file_twice_is_refused_also_through_a_link(tmp_path):
    """The same file twice would double every count of summary.json (exit 0 before)."""
    link = tmp_path / "again.root"
    link.symlink_to(DATA / "zee_mc.root")
    for files, data in (
        ([DATA / "zee_mc.root", DATA / "zee_mc.root"], None),
        ([DATA / "zee_mc.root", link], None),
        ([DATA / "zee_mc.root"], [DATA / "zee_datalike.root", DATA / "zee_datalike.root"]),
    ):
        with pytest.raises(ValueError, match="again: give each file once"):
            validate(files, tmp_path / "out", data_files=data)
    assert not (tmp_path / "out").exists()


def test_an_mc_file_given_as_data_is_refused(tmp_path):
    """Before, the data/MC comparison compared the MC file with itself."""
    copy = shutil.copyfile(DATA / "zee_mc.root", tmp_path / "copy.root")
    with pytest.raises(ValueError, match=r"simulation \(MC\) by its provenance"):
        validate([DATA / "zee_mc.root"], tmp_path / "out", data_files=[copy])


def test_a_data_comparison_without_zee_mc_is_refused(tmp_path, monkeypatch):
    """Before, n_mc 0, medians null and numpy warnings, exit 0."""
    from egamma_cnn.sim import validation

    real = validation.read_metadata
    monkeypatch.setattr(
        validation,
        "read_metadata",
        lambda path: {**real(path), "process": "jf17"} if "zee_mc" in str(path) else real(path),
    )
    with pytest.raises(ValueError, match="needs a Z→ee MC file"):
        validate([DATA / "zee_mc.root"], tmp_path / "out", data_files=[DATA / "zee_datalike.root"])
    assert not (tmp_path / "out").exists()


def test_validate_writes_one_run_with_its_manifest(tmp_path, monkeypatch):
    """A failure while drawing leaves the previous validation whole."""
    from egamma_cnn.runfolder import check_run_folder
    from egamma_cnn.sim import validation

    validate([DATA / "zee_mc.root"], tmp_path)
    manifest = check_run_folder(tmp_path)
    assert "summary.json" in manifest["files"] and manifest["workflow"] == "validate"

    def broken(*args, **kwargs):
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(validation, "compare_data_mc", broken)
    with pytest.raises(RuntimeError):
        validate([DATA / "zee_mc.root"], tmp_path, data_files=[DATA / "zee_datalike.root"])
    assert check_run_folder(tmp_path) == manifest
