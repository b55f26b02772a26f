"""The mirror symmetries of the electron inputs: exact against inputs rebuilt from mirrored
events, involutions, and a reproducible augmented training."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from egamma_cnn.features import ELECTRON_HLV_NAMES, GROUPS
from egamma_cnn.features.columns import feature_columns
from egamma_cnn.images import TRACK_FEATURES, electron_image_batch, track_array_batch
from egamma_cnn.nanoevents import open_events
from egamma_cnn.train.augmentation import (
    FEATURE_SIGNS,
    ElectronAugmentation,
    draw_flips,
    mirror_inputs,
    parse_symmetries,
)

MC = Path(__file__).parent / "data" / "zee_mc.root"

#: Fields whose sign the mirrors change in the files (docs/FILE_SCHEMA.md).
_ETA_ODD = {
    "CaloCell": ("eta",),
    "Track": ("eta", "z0", "etaCalo"),
    "Electron": ("eta", "clusterEta", "deltaEta1"),
}
_PHI_ODD = {
    "CaloCell": ("phi",),
    "Track": ("phi", "phiCalo", "charge", "d0"),
    "Electron": ("phi", "clusterPhi", "charge"),
}


def _mirrored(collection, name: str, eta: bool, phi: bool) -> ak.Array:
    """A plain jagged record of ``collection`` with the fields the mirrors change negated."""
    odd = set(_ETA_ODD[name] if eta else ()) | set(_PHI_ODD[name] if phi else ())
    fields = {}
    for field in collection.fields:
        if field.endswith("G") and field != "genPartIdxG":  # global cross-references
            continue
        values = collection[field]
        fields[field] = -values if field in odd else values
    return ak.zip(fields)


def _inputs(cells, tracks, electrons, pv_z) -> tuple[dict[str, np.ndarray], np.ndarray, list]:
    images = electron_image_batch(cells, electrons)
    features = ak.flatten(
        feature_columns(cells, tracks, electrons, pv_z, kind="electron", groups=GROUPS)
    )
    names = [n for n in features.fields if features[n].ndim == 1]
    table = np.stack([ak.to_numpy(features[n]).astype(np.float32) for n in names], axis=1)
    inputs = {
        "coarse": images["coarse"],
        "fine": images["fine"],
        "tracks": track_array_batch(tracks, electrons),
    }
    return inputs, table, names


@pytest.fixture(scope="module")
def events():
    return open_events(MC)


@pytest.fixture(scope="module")
def original(events):
    return _inputs(
        _mirrored(events.CaloCell, "CaloCell", False, False),
        _mirrored(events.Track, "Track", False, False),
        _mirrored(events.Electron, "Electron", False, False),
        events.PV.z,
    )


@pytest.mark.parametrize(("eta", "phi"), [(True, False), (False, True), (True, True)])
def test_mirrored_inputs_are_the_inputs_of_the_mirrored_events(events, original, eta, phi):
    inputs, table, names = original
    assert set(ELECTRON_HLV_NAMES) <= set(names)
    rebuilt, rebuilt_table, _ = _inputs(
        _mirrored(events.CaloCell, "CaloCell", eta, phi),
        _mirrored(events.Track, "Track", eta, phi),
        _mirrored(events.Electron, "Electron", eta, phi),
        -events.PV.z if eta else events.PV.z,
    )
    mirrored = mirror_inputs({**inputs, "hlv": table}, eta, phi, names)
    # the images are the same numbers, pixel for pixel
    np.testing.assert_array_equal(mirrored["coarse"], rebuilt["coarse"])
    np.testing.assert_array_equal(mirrored["fine"], rebuilt["fine"])
    assert np.abs(inputs["coarse"]).sum() > 0 and not np.array_equal(
        mirrored["coarse"], inputs["coarse"]
    )
    np.testing.assert_allclose(mirrored["tracks"], rebuilt["tracks"], rtol=1e-6, atol=1e-6)
    # every scalar feature of the candidates (the 26 HLVs among them), with its rule
    for j, name in enumerate(names):
        np.testing.assert_allclose(
            mirrored["hlv"][:, j], rebuilt_table[:, j], rtol=2e-5, atol=2e-5, err_msg=name
        )
    # the odd features really change (the test would pass on a table of all-even rules)
    for name in ("eta", "deltaEta1") if eta else ("d0", "qSCTw"):
        column = table[:, names.index(name)]
        assert np.any(column != 0) and np.array_equal(
            mirrored["hlv"][:, names.index(name)], -column
        )


def test_pixels_move_to_their_mirror_positions():
    coarse = np.zeros((2, 18, 7, 11), np.float32)
    fine = np.zeros((2, 1, 56, 11), np.float32)
    coarse[:, 3, 1, 2] = 5.0
    fine[:, 0, 10, 7] = 2.0
    hlv = np.array([[0.7, 0.01, 0.9], [-1.2, -0.02, 0.5]], np.float32)
    out = mirror_inputs(
        {"coarse": coarse, "fine": fine, "hlv": hlv},
        np.array([True, False]),
        np.array([False, True]),
        ("eta", "deltaEta1", "reta"),
    )
    assert out["coarse"][0, 3, 6 - 1, 2] == 5.0 and out["coarse"][0].sum() == 5.0  # η only
    assert out["fine"][0, 0, 55 - 10, 7] == 2.0
    assert out["coarse"][1, 3, 1, 10 - 2] == 5.0 and out["fine"][1, 0, 10, 10 - 7] == 2.0
    np.testing.assert_array_equal(
        out["hlv"][0], hlv[0] * np.float32([-1, -1, 1])
    )  # η-odd, invariant
    np.testing.assert_array_equal(out["hlv"][1], hlv[1])  # φ leaves these three alone
    assert out["coarse"].dtype == np.float32 and coarse[0, 3, 1, 2] == 5.0  # input untouched


def test_each_mirror_is_an_involution(original):
    inputs, table, names = original
    batch = {**inputs, "hlv": table}
    rng = np.random.default_rng(3)
    n = len(table)
    flip_eta, flip_phi = rng.random(n) < 0.5, rng.random(n) < 0.5
    once = mirror_inputs(batch, flip_eta, flip_phi, names)
    twice = mirror_inputs(once, flip_eta, flip_phi, names)
    for key, array in batch.items():
        np.testing.assert_array_equal(twice[key], array, err_msg=key)
        assert not np.array_equal(once[key], array), key


def test_the_phi_mirror_flips_charges_and_curvatures_together(original):
    inputs, table, names = original
    tracks = inputs["tracks"]
    out = mirror_inputs({"tracks": tracks, "hlv": table}, False, True, names)
    feature = {name: j for j, name in enumerate(TRACK_FEATURES)}
    charge = out["tracks"][..., feature["charge"]]
    filled = tracks[..., feature["charge"]] != 0
    assert filled.any()
    np.testing.assert_array_equal(charge, -tracks[..., feature["charge"]])
    for name in ("d0", "dphi"):  # charge × curvature-signed quantities are invariant
        np.testing.assert_array_equal(
            charge * out["tracks"][..., feature[name]],
            tracks[..., feature["charge"]] * tracks[..., feature[name]],
        )
    for name in ("deta", "z0", "p_over_e", "nPixelHits", "chi2"):  # η-odd or even: unchanged
        np.testing.assert_array_equal(out["tracks"][..., feature[name]], tracks[..., feature[name]])
    hlv = {name: out["hlv"][:, j] for j, name in enumerate(names)}
    before = {name: table[:, j] for j, name in enumerate(names)}
    np.testing.assert_array_equal(hlv["deltaPhiRescaled2"], before["deltaPhiRescaled2"])  # q·Δφ
    np.testing.assert_array_equal(hlv["qd0sig"], -before["qd0sig"])
    np.testing.assert_array_equal(hlv["d0sig"] * hlv["qd0sig"], before["d0sig"] * before["qd0sig"])


def test_bad_augment_settings_are_refused():
    from egamma_cnn.train.trainer import TrainingConfig

    assert parse_symmetries("both") == ("eta", "phi")
    assert parse_symmetries(["phi", "eta", "phi"]) == ("eta", "phi")
    assert parse_symmetries("none") == () == parse_symmetries(None)
    with pytest.raises(ValueError, match="unknown symmetry 'theta'"):
        parse_symmetries("theta")
    with pytest.raises(ValueError, match="unknown symmetry 'z'"):
        parse_symmetries(("eta", "z"))
    with pytest.raises(ValueError, match="augment must be one of"):
        parse_symmetries(3)
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    assert TrainingConfig(augment="both").augment == ("eta", "phi")
    with pytest.raises(ValueError, match="unknown symmetry 'etaphi'"):
        TrainingConfig(augment="etaphi")


def test_inputs_and_features_without_a_rule_are_refused():
    hlv = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"no mirror-symmetry rule for the high-level .*'my_var'"):
        mirror_inputs({"hlv": hlv}, True, False, ("eta", "my_var"))
    with pytest.raises(ValueError, match="no mirror-symmetry rule for the input 'strips'"):
        mirror_inputs({"strips": np.zeros((3, 56, 3), np.float32)}, True, False)
    with pytest.raises(ValueError, match="needs hlv_names"):
        mirror_inputs({"hlv": hlv}, True, False)
    with pytest.raises(ValueError, match=r"flip_eta must be a bool or bool\[3\]"):
        mirror_inputs({"hlv": hlv}, np.array([True]), False, ("eta", "et"))
    with pytest.raises(ValueError, match=r"no mirror-symmetry rule .*'my_var'"):
        ElectronAugmentation("eta", ("et", "my_var"))
    with pytest.raises(ValueError, match="at least one symmetry"):
        ElectronAugmentation("none", ("et",))
    assert all(sign in ((1, 1), (-1, 1), (1, -1)) for sign in FEATURE_SIGNS.values())


def test_flips_are_fair_coins_of_the_chosen_symmetries():
    flip_eta, flip_phi = draw_flips(np.random.default_rng(0), 4000, ("phi",))
    assert not flip_eta.any() and 0.45 < flip_phi.mean() < 0.55
    flip_eta, flip_phi = draw_flips(np.random.default_rng(0), 4000, ("eta", "phi"))
    assert 0.22 < (flip_eta & flip_phi).mean() < 0.28


def _train(prepared, tmp_path, augment, name, **net):
    from egamma_cnn.train.electron import train_electron
    from egamma_cnn.train.networks import ElectronNetConfig
    from egamma_cnn.train.trainer import TrainingConfig

    config = ElectronNetConfig(
        coarse_maps=(4, 4), fine_maps=(4, 4), track_maps=(4, 4), hidden=(16, 16), **net
    )
    out = tmp_path / f"{name}.onnx"
    metadata = train_electron(
        prepared,
        out,
        net_config=config,
        training=TrainingConfig(max_epochs=1, batch_size=16, augment=augment),
        progress=False,
    )
    return metadata, out


def test_augmented_training_is_reproducible_and_recorded(prepared, tmp_path):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    import onnx
    from onnx import numpy_helper

    first, first_path = _train(prepared, tmp_path, "both", "a")
    again, again_path = _train(prepared, tmp_path, "both", "b")
    plain, plain_path = _train(prepared, tmp_path, "none", "c")

    def weights(path):
        return [numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer]

    assert first["training"]["config"]["augment"] == ("eta", "phi")
    assert plain["training"]["config"]["augment"] == ()
    for a, b in zip(weights(first_path), weights(again_path), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (
        first["training"]["history"][0]["train_loss"]
        == again["training"]["history"][0]["train_loss"]
    )
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(weights(first_path), weights(plain_path), strict=True)
    )
    # the validation part is never mirrored: its first-epoch loss differs only through
    # the weights, and the working points come from the unmirrored validation part
    assert set(first["working_points"]["cuts"]) == {"loose", "medium", "tight"}


def test_augmented_fcn_trains_and_resuming_with_other_augmentation_is_refused(prepared, tmp_path):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from egamma_cnn.train.electron import train_electron
    from egamma_cnn.train.networks import ElectronNetConfig
    from egamma_cnn.train.trainer import TrainingConfig

    fcn = ElectronNetConfig(hidden=(16, 16), use_images=False, use_tracks=False)
    checkpoints = tmp_path / "checkpoints"

    def run(augment, out):
        return train_electron(
            prepared,
            tmp_path / out,
            net_config=fcn,
            training=TrainingConfig(max_epochs=1, batch_size=16, augment=augment),
            checkpoint_dir=checkpoints,
            progress=False,
        )

    metadata = run("eta", "fcn.onnx")
    assert metadata["training"]["config"]["augment"] == ("eta",)
    assert [i["name"] for i in metadata["inputs"]] == ["hlv"]
    assert len(metadata["training"]["history"]) == 1
    with pytest.raises(ValueError, match="checkpoint of a run on other data or settings"):
        run("phi", "fcn_phi.onnx")
