"""ONNX export and the runtime model: torch = ONNX Runtime, metadata checked on every input."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")

from egamma_cnn.model.onnx_model import ModelMetadataError, OnnxModel  # noqa: E402
from egamma_cnn.model.preprocessing import QuantileTable  # noqa: E402
from egamma_cnn.train.export import base_metadata, export_onnx, update_metadata  # noqa: E402
from egamma_cnn.train.networks import (  # noqa: E402
    CPU_DEFAULT,
    ElectronCNN,
    ElectronNetConfig,
    FeatureNet,
    PhotonCNN,
)

HLV_NAMES = tuple(f"v{i}" for i in range(26))


def _electron_inputs(rng, n):
    coarse = rng.exponential(0.5, (n, 18, 7, 11)).astype(np.float32)
    coarse[:, 9:] = 0.0  # layers not crossed are zeros
    return {
        "coarse": coarse,
        "fine": rng.exponential(0.1, (n, 1, 56, 11)).astype(np.float32),
        "tracks": rng.normal(0, 3, (n, 5, 13)).astype(np.float32),
        "hlv": rng.normal(0, 1, (n, 26)).astype(np.float32),
    }


@pytest.fixture(scope="module")
def electron_model(tmp_path_factory):
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    model = ElectronCNN(CPU_DEFAULT, track_scale=np.linspace(0.5, 2.0, 13)).eval()
    raw = _electron_inputs(rng, 300)
    raw["hlv"] = rng.gamma(2.0, 1.0, (300, 26)).astype(np.float32)
    table = QuantileTable.fit(raw["hlv"], HLV_NAMES, n_quantiles=100)
    graph_inputs = dict(raw, hlv=table.transform(raw["hlv"]))
    metadata = base_metadata("electron", "test_cnn", "a test")
    metadata.update(
        {
            "class_names": [f"c{i}" for i in range(6)],
            "preprocessing": {"hlv": {"quantile_table": table.to_dict()}},
        }
    )
    path = tmp_path_factory.mktemp("model") / "cnn.onnx"
    export_onnx(model, graph_inputs, path, metadata, raw_inputs=raw)
    return model, path, raw, graph_inputs


def test_onnx_runtime_equals_torch(electron_model):
    model, path, raw, graph_inputs = electron_model
    with torch.no_grad():
        expected = model(**{k: torch.from_numpy(v) for k, v in graph_inputs.items()}).numpy()
    runtime = OnnxModel(path, batch_size=64)  # several batches
    got = runtime.predict(raw)
    assert got.shape == (300, 6)
    assert np.max(np.abs(got - expected)) <= 1e-5
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("variant", ["fcn", "photon", "features"])
def test_other_networks_export(variant, tmp_path):
    rng = np.random.default_rng(4)
    torch.manual_seed(4)
    if variant == "fcn":
        model = ElectronCNN(ElectronNetConfig(use_images=False, use_tracks=False))
        inputs = {"hlv": rng.normal(0, 1, (50, 26)).astype(np.float32)}
        classes = 6
    elif variant == "photon":
        model = PhotonCNN()
        inputs = {
            "strips": rng.exponential(0.2, (50, 56, 3)).astype(np.float32),
            "middle": rng.exponential(1.0, (50, 7, 11)).astype(np.float32),
            "back": rng.exponential(0.1, (50, 4, 11)).astype(np.float32),
        }
        classes = 2
    else:
        model = FeatureNet(7)
        inputs = {"features": rng.normal(0, 1, (50, 7)).astype(np.float32)}
        classes = 2
    model.eval()
    metadata = base_metadata("electron", variant, "")
    metadata["class_names"] = [str(i) for i in range(classes)]
    path = export_onnx(model, inputs, tmp_path / f"{variant}.onnx", metadata)
    runtime = OnnxModel(path)
    assert [s.name for s in runtime.inputs] == list(model.input_names())
    with torch.no_grad():
        expected = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()
    assert np.max(np.abs(runtime.predict(inputs) - expected)) <= 1e-5


def test_wrong_shape_names_input_and_expected_shape(electron_model):
    _, path, raw, _ = electron_model
    runtime = OnnxModel(path)
    bad = dict(raw, fine=raw["fine"][:, :, :28])
    with pytest.raises(
        ModelMetadataError, match=r"'fine' has shape \(300, 1, 28, 11\), expected \(N, 1, 56, 11\)"
    ):
        runtime.predict(bad)
    with pytest.raises(ModelMetadataError, match=r"missing \['tracks'\]"):
        runtime.predict({k: v for k, v in raw.items() if k != "tracks"})
    with pytest.raises(ModelMetadataError, match="different numbers of candidates"):
        runtime.predict(dict(raw, hlv=raw["hlv"][:10]))


def test_empty_batch_gives_empty_output(electron_model):
    _, path, raw, _ = electron_model
    out = OnnxModel(path).predict({k: v[:0] for k, v in raw.items()})
    assert out.shape == (0, 6)


def test_version_mismatch_is_refused(electron_model, tmp_path):
    _, path, raw, _ = electron_model
    copy = tmp_path / "old.onnx"
    copy.write_bytes(path.read_bytes())
    update_metadata(copy, {"geometry_version": "atlas-like-0"})
    with pytest.raises(ModelMetadataError, match="geometry_version 'atlas-like-0'"):
        OnnxModel(copy)
    # the user can override when they know better
    assert OnnxModel(copy, check_versions=False).predict(raw).shape == (300, 6)


def test_model_without_metadata_is_refused(tmp_path):
    import onnx

    model = FeatureNet(3).eval()
    path = tmp_path / "plain.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            model, (torch.zeros(1, 3),), str(path), input_names=["features"], dynamo=False
        )
    assert len(onnx.load(str(path)).metadata_props) == 0
    with pytest.raises(ModelMetadataError, match="no 'egamma_cnn' metadata"):
        OnnxModel(path)


def test_session_is_not_pickled(electron_model):
    _, path, raw, _ = electron_model
    runtime = OnnxModel(path)
    runtime.predict({k: v[:5] for k, v in raw.items()})
    clone = pickle.loads(pickle.dumps(runtime))
    assert clone._session is None
    np.testing.assert_array_equal(clone.predict(raw), runtime.predict(raw))


def test_update_metadata_merges(electron_model, tmp_path):
    _, path, _, _ = electron_model
    copy = tmp_path / "m.onnx"
    copy.write_bytes(path.read_bytes())
    merged = update_metadata(copy, {"metrics": {"auc": 0.9}})
    assert merged["metrics"] == {"auc": 0.9}
    assert OnnxModel(copy).metadata["class_names"] == [f"c{i}" for i in range(6)]
    assert json.loads(json.dumps(merged)) == merged


def test_inconsistent_metadata_is_refused(electron_model, tmp_path):
    _, path, _, _ = electron_model
    copy = tmp_path / "bad.onnx"
    copy.write_bytes(path.read_bytes())
    table = OnnxModel(path).metadata["preprocessing"]["hlv"]
    update_metadata(copy, {"preprocessing": {"HLV": table}})
    with pytest.raises(ModelMetadataError, match="preprocessing for 'HLV', which is not an input"):
        OnnxModel(copy)
    update_metadata(copy, {"preprocessing": {"hlv": table}, "hlv_names": list(HLV_NAMES[::-1])})
    with pytest.raises(ModelMetadataError, match="differ from the quantile table"):
        OnnxModel(copy)
    update_metadata(copy, {"hlv_names": list(HLV_NAMES), "discriminant": {"weights": None}})
    with pytest.raises(ModelMetadataError, match="must have the classes"):
        OnnxModel(copy)


def test_non_finite_inputs_are_named(electron_model):
    _, path, raw, _ = electron_model
    bad = dict(raw, coarse=raw["coarse"].copy())
    bad["coarse"][7, 3, 2, 2] = np.inf
    with pytest.raises(
        ModelMetadataError, match=r"'coarse' has non-finite values \(first at candidate 7\)"
    ):
        OnnxModel(path).predict(bad)
