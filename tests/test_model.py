"""Tests of egamma_cnn.model: discriminant (ATL-PHYS-PUB-2023-001 Eq. 1–2), class fractions (§6.2),
working points, the quantile tables of the HLV preprocessing (§5.2), and the ONNX model as a
coffea.ml_tools wrapper (numpy, awkward and dask-awkward inputs; pickled by path)."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap

import awkward as ak
import cloudpickle
import dask
import dask_awkward as dak
import numpy as np
import onnxruntime as ort
import pytest
from coffea.ml_tools.helper import nonserializable_attribute, numpy_call_wrapper
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from egamma_cnn.filecache import FileChangedError
from egamma_cnn.model import (
    ELECTRON_CLASS_NAMES,
    ModelMetadataError,
    OnnxModel,
    QuantileTable,
    WorkingPoints,
    cached_model,
    class_weights,
    discriminant,
    load_model,
    onnx_model,
    predict_class_fractions,
)
from egamma_cnn.model.onnx_model import read_metadata, shipped_model_path
from egamma_cnn.sim.truth import ElectronClass


def test_class_names_follow_the_truth_codes():
    assert len(ELECTRON_CLASS_NAMES) == len(ElectronClass)
    assert ELECTRON_CLASS_NAMES[ElectronClass.PROMPT] == "prompt"
    assert ELECTRON_CLASS_NAMES[ElectronClass.CHARGE_FLIP] == "charge_flip"


def test_discriminant_hand_values():
    probs = np.array([[0.6, 0.1, 0.1, 0.1, 0.05, 0.05], [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    # agnostic weights, charge flip signal: S = (0.6 + 0.1)/2, B = (0.1+0.1+0.05+0.05)/4
    s, b = 0.35, 0.075
    np.testing.assert_allclose(discriminant(probs), [s / (s + b), 0.0])
    # charge flip in background: S = 0.6, B = (0.1 + 0.1 + 0.1 + 0.05 + 0.05)/5
    s, b = 0.6, 0.08
    np.testing.assert_allclose(discriminant(probs, charge_flip="background")[0], s / (s + b))
    # D/(1+D) form of Eq. 2
    d = s / b
    np.testing.assert_allclose(discriminant(probs, charge_flip="background")[0], d / (1 + d))


def test_weights_by_name_and_normalisation():
    w = class_weights({"prompt": 3, "charge_flip": 1, "lf_hadron": 2})
    np.testing.assert_allclose(w, [0.75, 0.25, 0, 0, 0, 1.0])
    probs = np.array([[0.5, 0.0, 0.3, 0.0, 0.0, 0.2]])
    # conversions have zero weight: only the hadron probability counts in B
    np.testing.assert_allclose(discriminant(probs, {"prompt": 1, "lf_hadron": 1}), 0.5 / 0.7)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"proompt": 1.0}, "unknown class"),
        ([1, 1, 1], "6 entries"),
        ([1, 1, -1, 1, 1, 1], "non-negative"),
        ({"prompt": 1.0}, "positive sum"),
        ({"conversion": 1.0}, "positive sum"),
    ],
)
def test_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        discriminant(np.full((1, 6), 1 / 6), weights)


def test_bad_probabilities_and_charge_flip():
    with pytest.raises(ValueError, match="shape"):
        discriminant(np.ones((3, 5)))
    with pytest.raises(ValueError, match="finite"):
        discriminant(np.full((1, 6), np.nan))
    with pytest.raises(ValueError, match="charge_flip"):
        discriminant(np.full((1, 6), 1 / 6), charge_flip="maybe")


def test_zero_weighted_probabilities_give_one_half():
    probs = np.array([[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    assert discriminant(probs, {"prompt": 1, "lf_hadron": 1})[0] == 0.5


probability_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 30), st.just(6)),
    elements=st.floats(0.0, 1.0, allow_subnormal=False),
).filter(lambda a: np.all(a.sum(axis=1) > 0))


@settings(max_examples=60, deadline=None)
@given(probability_rows, arrays(np.float64, 6, elements=st.floats(0.01, 10.0)))
def test_discriminant_is_bounded_and_monotonic(probs, weights):
    probs = probs / probs.sum(axis=1, keepdims=True)
    score = discriminant(probs, weights)
    assert np.all((score >= 0) & (score <= 1))
    # moving probability from a background class to a signal class never lowers the score
    shifted = probs.copy()
    moved = shifted[:, 5] * 0.5
    shifted[:, 5] -= moved
    shifted[:, 0] += moved
    assert np.all(discriminant(shifted, weights) >= score - 1e-12)
    # the overall normalisation of the weights does not matter (each sum is set to 1)
    np.testing.assert_allclose(discriminant(probs, 7.0 * weights), score)


def test_predicted_fractions_from_argmax():
    probs = np.eye(6)[[0, 0, 5, 5, 5, 2]] * 0.7 + 0.05
    fractions = predict_class_fractions(probs)
    assert fractions["prompt"] == pytest.approx(2 / 6)
    assert fractions["lf_hadron"] == pytest.approx(3 / 6)
    assert fractions["conversion"] == pytest.approx(1 / 6)
    assert sum(fractions.values()) == pytest.approx(1)
    weighted = predict_class_fractions(probs, sample_weight=np.array([1, 1, 0, 0, 0, 2.0]))
    assert weighted["prompt"] == pytest.approx(0.5)
    assert weighted["conversion"] == pytest.approx(0.5)
    # fed back as weights they give a valid discriminant
    assert discriminant(probs, fractions).shape == (6,)
    assert set(predict_class_fractions(np.zeros((0, 6))).values()) == {0.0}
    with pytest.raises(ValueError, match="sample_weight"):
        predict_class_fractions(probs, sample_weight=np.ones(3))


def _toy_sample(seed=1, n=40000):
    rng = np.random.default_rng(seed)
    et = rng.uniform(5, 80, n)
    eta = rng.uniform(-2.47, 2.47, n)
    is_signal = rng.random(n) < 0.5
    # the signal score distribution depends on the bin, so per-bin cuts differ
    score = np.where(is_signal, rng.beta(5, 1 + np.abs(eta), n), rng.beta(1, 4, n))
    return score, et, eta, is_signal


def test_working_points_reach_their_targets_in_every_bin():
    score, et, eta, is_signal = _toy_sample(n=200000)
    wps = WorkingPoints.derive(score, et, eta, is_signal, min_signal=100)
    assert not wps.from_inclusive.any()
    et_edges, eta_edges = np.array(wps.et_edges), np.array(wps.abs_eta_edges)
    for name, target in wps.targets.items():
        passed = wps.passes(name, score, et, eta)
        for i in range(len(et_edges) - 1):
            hi = np.inf if i == len(et_edges) - 2 else et_edges[i + 1]
            for j in range(len(eta_edges) - 1):
                sel = (
                    is_signal
                    & (et >= et_edges[i])
                    & (et < hi)
                    & (np.abs(eta) >= eta_edges[j])
                    & (np.abs(eta) < eta_edges[j + 1])
                )
                efficiency = passed[sel].mean()
                # at least the target, and not more than one candidate above it
                assert target <= efficiency + 1e-12
                assert efficiency <= target + 1.0 / sel.sum() + 1e-12
    # tighter working points cut harder
    assert np.all(wps.cuts["tight"] >= wps.cuts["medium"])
    assert np.all(wps.cuts["medium"] >= wps.cuts["loose"])
    # the cut moves with the η dependence of the signal
    assert wps.cuts["medium"][0, 0] > wps.cuts["medium"][0, -1]


def _bin_masks(wps, et, eta):
    et_edges, eta_edges = np.array(wps.et_edges), np.array(wps.abs_eta_edges)
    for i in range(len(et_edges) - 1):
        hi = np.inf if i == len(et_edges) - 2 else et_edges[i + 1]
        for j in range(len(eta_edges) - 1):
            yield (
                (i, j),
                (
                    (et >= et_edges[i])
                    & (et < hi)
                    & (np.abs(eta) >= eta_edges[j])
                    & (np.abs(eta) < eta_edges[j + 1])
                ),
            )


def test_working_points_with_a_prerequisite_keep_the_same_signal_as_without():
    """The LLH's hit requirements stay in the denominator: a working point with them and
    one without, of the same target, keep the same signal in every bin."""
    score, et, eta, is_signal = _toy_sample(n=200000)
    rng = np.random.default_rng(8)
    # a prerequisite that 90 % of the signal meets, less in the forward bins
    meets = rng.random(len(score)) < np.where(np.abs(eta) > 2.01, 0.85, 0.95)
    plain = WorkingPoints.derive(score, et, eta, is_signal, min_signal=100)
    other = score + 0.3 * rng.normal(size=len(score))  # another discriminant
    with_hits = WorkingPoints.derive(other, et, eta, is_signal, min_signal=100, prerequisite=meets)
    for name, target in plain.targets.items():
        passes_plain = plain.passes(name, score, et, eta)
        passes_hits = meets & with_hits.passes(name, other, et, eta)
        for (i, j), in_bin in _bin_masks(plain, et, eta):
            sel = is_signal & in_bin
            reachable = meets[sel].mean() >= target
            assert with_hits.unreachable[name][i, j] == (not reachable)
            if reachable:
                assert abs(passes_hits[sel].mean() - passes_plain[sel].mean()) <= 2 / sel.sum()
            else:  # the prerequisite alone keeps less than the target: everything else passes
                np.testing.assert_array_equal(passes_hits[sel], meets[sel])
    assert with_hits.unreachable["loose"].any() and not with_hits.unreachable["tight"].any()
    assert plain.unreachable == {}
    # the old definition (target among the signal that meets it) keeps less signal
    among = WorkingPoints.derive(
        other[meets], et[meets], eta[meets], is_signal[meets], min_signal=100
    )
    kept_among = (meets & among.passes("tight", other, et, eta))[is_signal].mean()
    assert kept_among < 0.80 - 0.01
    back = WorkingPoints.from_dict(json.loads(json.dumps(with_hits.to_dict())))
    np.testing.assert_array_equal(back.unreachable["loose"], with_hits.unreachable["loose"])
    with pytest.raises(ValueError, match="prerequisite"):
        WorkingPoints.derive(score, et, eta, is_signal, prerequisite=np.zeros(5, bool))
    with pytest.raises(ValueError, match="meets the prerequisite"):
        WorkingPoints.derive(score, et, eta, is_signal, prerequisite=np.zeros(len(score), bool))


def test_working_points_edges_and_sparse_bins():
    score, et, eta, is_signal = _toy_sample(n=3000)
    wps = WorkingPoints.derive(score, et, eta, is_signal, min_signal=60)
    # the crack bins are sparse here; their E_T rows are not: they take the row's cut
    assert wps.from_et_row[:, 2].any() and not wps.from_inclusive.any()
    i = int(np.flatnonzero(wps.from_et_row[:, 2])[0])
    in_row = is_signal & (et >= wps.et_edges[i]) & (et < wps.et_edges[i + 1])
    row_cut = np.sort(score[in_row])[::-1][int(np.ceil(0.88 * in_row.sum())) - 1]
    np.testing.assert_allclose(wps.cuts["medium"][i, 2], row_cut)
    # a row too sparse as well takes the inclusive cut
    sparse = WorkingPoints.derive(score, et, eta, is_signal, min_signal=400)
    assert sparse.from_inclusive.any() and not (sparse.from_inclusive & sparse.from_et_row).any()
    inclusive = np.sort(score[is_signal])[::-1][int(np.ceil(0.88 * is_signal.sum())) - 1]
    np.testing.assert_allclose(sparse.cuts["medium"][sparse.from_inclusive], inclusive)
    # below the first E_T edge or beyond the last |η| edge: fails; overflow E_T: last bin
    assert not wps.passes("loose", [1.0], [3.0], [0.1])[0]
    assert not wps.passes("loose", [1.0], [30.0], [2.47])[0]
    np.testing.assert_allclose(wps.cut_values("loose", [500.0], [0.1]), wps.cuts["loose"][-1, 0])
    with pytest.raises(KeyError, match="superloose"):
        wps.passes("superloose", [1.0], [30.0], [0.1])


def test_sparse_bins_take_their_et_row_cut_which_follows_an_et_dependent_score():
    """A score whose signal distribution falls with E_T (the likelihood's does at low E_T):
    a sparse low-E_T bin keeps close to its target with the row's cut, far below it with
    the inclusive cut that high-E_T signal dominates."""
    rng = np.random.default_rng(7)
    n = 60000
    et = np.where(rng.random(n) < 0.1, rng.uniform(4.5, 10, n), rng.uniform(20, 50, n))
    eta = rng.uniform(-2.47, 2.47, n)
    is_signal = rng.random(n) < 0.5
    low = et < 10
    score = np.where(is_signal, rng.normal(np.where(low, 0.0, 2.0), 1.0), rng.normal(-3, 1, n))
    # only |η| < 0.6 of the low-E_T row has enough signal of its own
    keep = ~low | (np.abs(eta) < 0.6) | (rng.random(n) < 0.05)
    score, et, eta, is_signal = score[keep], et[keep], eta[keep], is_signal[keep]
    wps = WorkingPoints.derive(score, et, eta, is_signal, min_signal=150)
    assert not wps.from_et_row[0, 0] and wps.from_et_row[0, 1:].all()
    sparse = is_signal & (et < 10) & (np.abs(eta) >= 0.6)
    kept = wps.passes("loose", score, et, eta)[sparse].mean()
    assert abs(kept - 0.93) < 0.04
    inclusive_cut = np.quantile(score[is_signal], 0.07)
    assert (score[sparse] >= inclusive_cut).mean() < 0.75
    back = WorkingPoints.from_dict(json.loads(json.dumps(wps.to_dict())))
    np.testing.assert_array_equal(back.from_et_row, wps.from_et_row)
    old_file = {k: v for k, v in wps.to_dict().items() if k != "from_et_row"}
    assert not WorkingPoints.from_dict(old_file).from_et_row.any()
    with pytest.raises(ValueError, match="both the E_T-row and the inclusive"):
        WorkingPoints(
            wps.targets,
            wps.et_edges,
            wps.abs_eta_edges,
            wps.cuts,
            np.ones_like(wps.from_inclusive),
            from_et_row=np.ones_like(wps.from_inclusive),
        )


def test_working_points_json_round_trip(tmp_path):
    score, et, eta, is_signal = _toy_sample(n=5000)
    wps = WorkingPoints.derive(score, et, eta, is_signal, weight=np.full(5000, 2.0))
    wps.save(tmp_path / "wp.json")
    back = WorkingPoints.load(tmp_path / "wp.json")
    for name in wps.cuts:
        np.testing.assert_array_equal(back.cuts[name], wps.cuts[name])
    np.testing.assert_array_equal(back.from_inclusive, wps.from_inclusive)
    with pytest.raises(ValueError, match="missing the key"):
        WorkingPoints.from_dict({"targets": {}})


def test_working_points_bad_input():
    score, et, eta, is_signal = _toy_sample(n=100)
    with pytest.raises(ValueError, match="et must have shape"):
        WorkingPoints.derive(score, et[:5], eta, is_signal)
    with pytest.raises(ValueError, match="target efficiency"):
        WorkingPoints.derive(score, et, eta, is_signal, targets={"x": 1.5})
    with pytest.raises(ValueError, match="no signal"):
        WorkingPoints.derive(score, et, eta, np.zeros(100, bool))
    with pytest.raises(ValueError, match="ascending"):
        WorkingPoints.derive(score, et, eta, is_signal, et_edges=(10, 5))


def test_quantile_table_gives_a_standard_normal():
    rng = np.random.default_rng(3)
    train = np.column_stack([rng.exponential(2.0, 20000), rng.integers(0, 4, 20000)])
    table = QuantileTable.fit(train, ["rhad", "nPixelHits"])
    test = np.column_stack([rng.exponential(2.0, 20000), rng.integers(0, 4, 20000)])
    z = table.transform(test)
    assert z.dtype == np.float32
    assert stats.kstest(z[:, 0], "norm").pvalue > 1e-3
    # tied values map to one value, in the middle of their probability range
    assert len(np.unique(z[:, 1])) == 4
    np.testing.assert_allclose(z[test[:, 1] == 0, 1][0], stats.norm.ppf(0.125), atol=0.02)
    # outside the fitted range: clipped, finite
    far = table.transform(np.array([[-1e9, -5.0], [1e9, 10.0]]))
    assert np.all(np.isfinite(far)) and far[0, 0] < -5 and far[1, 0] > 5


def test_quantile_table_round_trip_and_errors():
    table = QuantileTable.fit(np.arange(20.0).reshape(10, 2), ["a", "b"], n_quantiles=5)
    assert table.quantiles.shape == (2, 5)
    back = QuantileTable.from_dict(table.to_dict())
    np.testing.assert_array_equal(back.transform(np.ones((3, 2))), table.transform(np.ones((3, 2))))
    with pytest.raises(ValueError, match=r"non-finite values in \['b'\]"):
        table.transform(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        table.transform(np.ones((3, 3)))
    with pytest.raises(ValueError, match="non-decreasing"):
        QuantileTable(("a",), np.array([[2.0, 1.0]]))


# --------------------------------------------------------------------------------------
# OnnxModel: a coffea.ml_tools wrapper
# --------------------------------------------------------------------------------------


def _random_inputs(model: OnnxModel, n: int, seed: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        s.name: np.abs(rng.normal(1.0, 2.0, size=(n, *s.shape))).astype(np.float32)
        for s in model.inputs
    }


def _stacked(record: ak.Array, names) -> np.ndarray:
    return np.stack([ak.to_numpy(record[name]) for name in names], axis=1)


@pytest.fixture(scope="module")
def electron():
    return load_model("electron", batch_size=8)


def test_the_model_is_a_coffea_ml_tools_wrapper(electron):
    assert isinstance(electron, numpy_call_wrapper)
    assert isinstance(electron, nonserializable_attribute)
    fresh = load_model("electron", batch_size=8)
    assert fresh._session is None  # created on first use, in the process that uses it
    inputs = _random_inputs(fresh, 3)
    np.testing.assert_array_equal(fresh(**inputs), fresh.predict(inputs))
    assert fresh._session is not None and fresh.session is electron.session  # one per file


def test_awkward_dask_and_numpy_calls_give_the_same_probabilities(electron):
    inputs = _random_inputs(electron, 24)
    expected = electron.predict(inputs)
    assert expected.dtype == np.float32 and expected.shape == (24, 6)
    assert np.allclose(expected.sum(axis=1), 1.0, atol=1e-5)
    names = electron.class_names
    # awkward: regular arrays, and lists of lists as a user may build them
    regular = electron(**{k: ak.from_numpy(v) for k, v in inputs.items()})
    assert regular.fields == list(ELECTRON_CLASS_NAMES)
    np.testing.assert_array_equal(_stacked(regular, names), expected)
    lists = electron(**{k: ak.Array(v.tolist()) for k, v in inputs.items()})
    np.testing.assert_array_equal(_stacked(lists, names), expected)
    # dask-awkward: partitions of batch_size candidates, the batches of the numpy call
    lazy = electron(**_dask_inputs(inputs, 3))
    assert isinstance(lazy, dak.Array) and lazy.fields == list(ELECTRON_CLASS_NAMES)
    (computed,) = dask.compute(lazy, scheduler="sync")
    np.testing.assert_array_equal(_stacked(computed, names), expected)
    assert computed.layout.form == lazy.form == regular.layout.form  # the meta is the output's


def _dask_inputs(inputs: dict[str, np.ndarray], npartitions: int) -> dict[str, dak.Array]:
    """Lists of lists, as a user may build them, in ``npartitions`` partitions."""
    return {
        k: dak.from_awkward(ak.Array(v.tolist()), npartitions=npartitions)
        for k, v in inputs.items()
    }


def test_building_the_dask_graph_runs_no_inference(electron):
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    gpu = load_model("electron", batch_size=8, providers=providers)
    inputs = _random_inputs(gpu, 24)
    lazy = gpu(**_dask_inputs(inputs, 3))  # on a CPU-only client: no session, no error
    assert gpu._session is None and lazy.fields == list(ELECTRON_CLASS_NAMES)
    (optimized,) = dask.optimize(lazy)  # the column optimisation meets typetracers only
    assert gpu._session is None
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(ValueError, match="not available"):  # where it runs, it is checked
            optimized.compute(scheduler="sync")
    # the inputs are checked on the client from their forms
    with pytest.raises(ModelMetadataError, match=r"missing \['hlv'\]"):
        gpu(**{k: v for k, v in _dask_inputs(inputs, 3).items() if k != "hlv"})
    with pytest.raises(ModelMetadataError, match="'fine' has type"):
        gpu(**_dask_inputs(inputs, 3) | {"fine": dak.from_awkward(ak.Array([[1.0]] * 24), 3)})
    with pytest.raises(TypeError, match=r"\['hlv'\] are not dask-awkward arrays"):
        gpu(**_dask_inputs(inputs, 3) | {"hlv": inputs["hlv"]})


def test_the_dask_graph_has_the_same_keys_for_the_same_model_and_inputs(electron):
    inputs = _dask_inputs(_random_inputs(electron, 12), 2)
    first = electron(**inputs)
    second = electron(**inputs)
    other_object = load_model("electron", batch_size=8)(**inputs)
    assert first.name == second.name == other_object.name
    assert set(first.__dask_graph__()) == set(other_object.__dask_graph__())
    assert load_model("electron", batch_size=16)(**inputs).name != first.name


_WORKER = """
    import pickle
    import sys

    import awkward as ak
    import dask

    with open(sys.argv[1], "rb") as handle:
        graph, keys = pickle.load(handle)
    unpickled = {m: m in sys.modules for m in ("torch", "coffea.ml_tools")}
    parts = dask.get(graph, keys)
    computed = {m: m in sys.modules for m in ("torch", "coffea.ml_tools")}
    with open(sys.argv[2], "wb") as handle:
        pickle.dump((unpickled, computed, ak.to_list(ak.concatenate(parts))), handle)
"""


def test_a_worker_of_the_dask_graph_imports_neither_torch_nor_coffea_ml_tools(electron, tmp_path):
    inputs = _random_inputs(electron, 16, seed=8)
    (lazy,) = dask.optimize(electron(**_dask_inputs(inputs, 2)))
    graph = tmp_path / "graph.pkl"
    graph.write_bytes(cloudpickle.dumps((dict(lazy.__dask_graph__()), lazy.__dask_keys__())))
    out = tmp_path / "out.pkl"
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_WORKER), str(graph), str(out)],
        check=True,
        timeout=300,
    )
    unpickled, computed, records = pickle.loads(out.read_bytes())
    assert unpickled == computed == {"torch": False, "coffea.ml_tools": False}
    got = np.array([[r[name] for name in electron.class_names] for r in records], np.float32)
    np.testing.assert_array_equal(got, electron.predict(inputs))


def test_inputs_grouped_by_event_come_back_grouped(electron):
    inputs = _random_inputs(electron, 16, seed=6)
    expected = electron.predict(inputs)
    counts = np.array([3, 0, 5, 0, 8])
    per_event = {k: ak.unflatten(ak.from_numpy(v), counts) for k, v in inputs.items()}
    eager = electron(**per_event)
    assert ak.num(eager).tolist() == counts.tolist()
    np.testing.assert_array_equal(_stacked(ak.flatten(eager), electron.class_names), expected)
    lazy = electron(**{k: dak.from_awkward(v, npartitions=1) for k, v in per_event.items()})
    (computed,) = dask.compute(lazy, scheduler="sync")
    assert computed.tolist() == eager.tolist()


def test_chunks_without_candidates(electron):
    inputs = _random_inputs(electron, 8, seed=7)
    counts = np.array([0, 0, 3, 5])  # the first partition of two events has no candidates
    per_event = {k: ak.unflatten(ak.from_numpy(v), counts) for k, v in inputs.items()}
    lazy = electron(**{k: dak.from_awkward(v, npartitions=2) for k, v in per_event.items()})
    (computed,) = dask.compute(lazy, scheduler="sync")
    assert ak.num(computed).tolist() == counts.tolist()
    np.testing.assert_array_equal(
        _stacked(ak.flatten(computed), electron.class_names), electron.predict(inputs)
    )
    none = electron(**{k: ak.from_numpy(v[:0]) for k, v in inputs.items()})
    assert len(none) == 0 and none.fields == list(ELECTRON_CLASS_NAMES)


def test_the_model_pickles_as_its_file_and_settings(electron):
    inputs = _random_inputs(electron, 10)
    expected = electron.predict(inputs)
    data = pickle.dumps(electron)
    assert len(data) < 400  # "where + settings", not the metadata and quantile tables
    clone = pickle.loads(data)
    assert clone._session is None and clone.batch_size == 8
    assert clone.shipped_name == "electron" and clone.metadata == electron.metadata
    assert dask.base.tokenize(clone) == dask.base.tokenize(electron)
    np.testing.assert_array_equal(clone.predict(inputs), expected)
    assert clone.session is electron.session  # the session of this process, shared


def test_inputs_are_checked_with_the_offending_input_named(electron):
    inputs = _random_inputs(electron, 4)
    with pytest.raises(ModelMetadataError, match=r"missing \['hlv'\]"):
        electron.predict({k: v for k, v in inputs.items() if k != "hlv"})
    with pytest.raises(ModelMetadataError, match=r"input 'fine' has shape \(4, 2\)"):
        electron.predict(inputs | {"fine": np.zeros((4, 2), np.float32)})
    bad = inputs["hlv"].copy()
    bad[2, 5] = np.nan
    with pytest.raises(ModelMetadataError, match=r"'hlv' has non-finite values .*candidate 2"):
        electron.predict(inputs | {"hlv": bad})
    with pytest.raises(ModelMetadataError, match="'hlv' has dtype <U"):
        electron.predict(inputs | {"hlv": inputs["hlv"].astype(str)})
    with pytest.raises(ModelMetadataError, match=r"different numbers of candidates \[3, 4\]"):
        electron.predict(inputs | {"hlv": inputs["hlv"][:3]})
    with pytest.raises(TypeError, match="by name"):
        electron(inputs["coarse"])
    ragged = ak.Array([*inputs["hlv"][:3].tolist(), [1.0, 2.0]])
    with pytest.raises(ModelMetadataError, match="'hlv' has lists of other lengths than 26"):
        electron(**{k: ak.from_numpy(v) for k, v in inputs.items()} | {"hlv": ragged})
    holes = ak.Array([[None if j < 2 else 1.0 for j in range(26)], *inputs["hlv"][1:].tolist()])
    with pytest.raises(ModelMetadataError, match="'hlv' has missing values"):
        electron(**{k: ak.from_numpy(v) for k, v in inputs.items()} | {"hlv": holes})


def test_cached_models_follow_their_file(tmp_path):
    first = cached_model("electron_fcn", intra_op_threads=2)
    second = cached_model("electron_fcn", intra_op_threads=2)
    assert second is not first and second.metadata is first.metadata  # one load
    path = tmp_path / "mine.onnx"
    shutil.copyfile(shipped_model_path("electron_fcn"), path)
    mine = cached_model(path, intra_op_threads=2)
    assert [s.name for s in mine.inputs] == ["hlv"]
    shutil.copyfile(shipped_model_path("electron"), path)  # rewritten in place
    assert [s.name for s in cached_model(path).inputs] == ["coarse", "fine", "tracks", "hlv"]
    with pytest.raises(FileChangedError, match=r"mine\.onnx changed after it was given"):
        _ = mine.session  # never the graph of another model under this model's metadata
    with pytest.raises(FileNotFoundError, match="no model file"):
        cached_model(tmp_path / "missing.onnx")


def _copy_over(source, path):
    """Copy ``source`` over ``path`` with a modification time that surely differs."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    shutil.copyfile(source, path)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_a_model_file_changed_after_pickling_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "mine.onnx"
    _copy_over(shipped_model_path("electron_fcn"), path)
    data = pickle.dumps(load_model(path, batch_size=8))
    assert len(data) < 500
    _copy_over(shipped_model_path("electron"), path)  # another model over the file
    with pytest.raises(FileChangedError, match=r"mine\.onnx changed after the run started"):
        pickle.loads(data)
    assert [s.name for s in pickle.loads(pickle.dumps(load_model(path))).inputs] == [
        "coarse",
        "fine",
        "tracks",
        "hlv",
    ]
    # a shipped model travels as its name: each worker's own installation, unchecked
    installed = tmp_path / "installed" / "electron_fcn.onnx"
    installed.parent.mkdir()
    _copy_over(shipped_model_path("electron_fcn"), installed)
    real = onnx_model.shipped_model_path
    monkeypatch.setattr(
        onnx_model,
        "shipped_model_path",
        lambda name: installed if name == "electron_fcn" else real(name),
    )
    shipped = load_model("electron_fcn", batch_size=8)
    assert shipped.shipped_name == "electron_fcn"
    data = pickle.dumps(shipped)
    _copy_over(shipped_model_path("electron_fcn"), installed)  # reinstalled: a new mtime
    assert pickle.loads(data).shipped_name == "electron_fcn"


def test_every_session_checks_its_file_whatever_the_settings(tmp_path):
    path = tmp_path / "mine.onnx"
    _copy_over(shipped_model_path("electron_fcn"), path)
    default = load_model(path)  # CPU, one thread: the session that checked the graph
    threads = load_model(path, intra_op_threads=2)
    assert default._session is None and threads._session is None
    _copy_over(shipped_model_path("electron"), path)
    for model in (default, threads):
        with pytest.raises(FileChangedError, match=r"mine\.onnx changed after it was given"):
            _ = model.session


def test_settings_and_names_of_models_are_checked():
    with pytest.raises(TypeError, match=r"cached_model\(\) got an unexpected keyword .*batch_sise"):
        cached_model("electron", batch_sise=8)
    shipped = r"\(shipped models: electron, electron_fcn, photon\)"
    for load in (cached_model, load_model):
        with pytest.raises(FileNotFoundError, match=rf"no model file \S*/electrn {shipped}"):
            load("electrn")
    assert cached_model("electron_fcn", batch_size=8).batch_size == 8


@pytest.mark.parametrize("content", [b"junk", b"", b"\x08\x07" * 50])
def test_a_file_that_is_not_onnx_is_named(tmp_path, content):
    """onnxruntime's own exceptions (InvalidProtobuf, ...) become one line naming the file."""
    path = tmp_path / "not_a_model.onnx"
    path.write_bytes(content)
    with pytest.raises(
        ModelMetadataError, match=r"not_a_model\.onnx: not a loadable ONNX model"
    ) as err:
        read_metadata(path)
    assert "\n" not in str(err.value)
    with pytest.raises(ModelMetadataError, match="not a loadable ONNX model"):
        OnnxModel(path)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer ≥ 1, got 0"),
        ({"batch_size": 1.5}, "batch_size must be an integer ≥ 1, got 1.5"),
        ({"batch_size": True}, "batch_size must be an integer ≥ 1, got True"),
        ({"intra_op_threads": -1}, "intra_op_threads must be an integer ≥ 0, got -1"),
        ({"intra_op_threads": "2"}, "intra_op_threads must be an integer ≥ 0, got '2'"),
    ],
)
def test_inference_settings_are_integers_not_cut(settings, message):
    """batch_size 1.5 used to become 1 and intra_op_threads -1 was passed on."""
    with pytest.raises(ValueError, match=re.escape(message)):
        OnnxModel(shipped_model_path("electron"), **settings)


def test_inference_sessions_use_the_measured_options_and_settable_threads():
    """One intra-op thread by default (a dask worker core), settable; ORT_ENABLE_ALL."""
    default = cached_model("electron_fcn").session.get_session_options()
    assert default.intra_op_num_threads == 1 and default.inter_op_num_threads == 1
    assert default.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert default.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    two = cached_model("electron_fcn", intra_op_threads=2)
    assert two.session.get_session_options().intra_op_num_threads == 2
    clone = pickle.loads(pickle.dumps(two))  # a worker gets the setting, not the session
    assert clone._session is None
    assert clone.session.get_session_options().intra_op_num_threads == 2


def test_prior_adjusted_class_fractions_undo_the_training_priors():
    """A calibrated network trained with priors π_train scores a sample with other class
    fractions: the EM estimate finds those fractions, the arg-max share does not."""
    from egamma_cnn.model import prior_adjusted_class_fractions

    rng = np.random.default_rng(4)
    means = np.array([0.0, 1.5, 3.0, 4.5, 6.0, 7.5])  # overlapping 1-D class densities
    train_prior = np.array([0.2, 0.05, 0.15, 0.1, 0.2, 0.3])
    true = np.array([0.5, 0.002, 0.01, 0.003, 0.03, 0.455])
    labels = rng.choice(6, 100000, p=true)
    x = rng.normal(means[labels], 1.0)
    likelihood = np.exp(-0.5 * (x[:, None] - means[None, :]) ** 2)
    posterior = likelihood * train_prior
    posterior /= posterior.sum(axis=1, keepdims=True)
    adjusted = prior_adjusted_class_fractions(posterior, train_prior)
    argmax = predict_class_fractions(posterior)
    estimate = np.array([adjusted[c] for c in ELECTRON_CLASS_NAMES])
    shares = np.array([argmax[c] for c in ELECTRON_CLASS_NAMES])
    assert np.max(np.abs(estimate - true)) < 0.01
    assert np.max(np.abs(shares - true)) > 0.05
    assert sum(adjusted.values()) == pytest.approx(1.0)
    # a network trained with the sample's own priors: the estimate stays at them
    own = likelihood * true
    own /= own.sum(axis=1, keepdims=True)
    same = prior_adjusted_class_fractions(own, dict(zip(ELECTRON_CLASS_NAMES, true, strict=True)))
    assert max(abs(same[c] - t) for c, t in zip(ELECTRON_CLASS_NAMES, true, strict=True)) < 0.01
    assert prior_adjusted_class_fractions(np.zeros((0, 6)), train_prior)["prompt"] == 0.0
    with pytest.raises(ValueError, match="positive"):
        prior_adjusted_class_fractions(posterior, [0, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="lack the class"):
        prior_adjusted_class_fractions(posterior, {"prompt": 1.0})


def test_training_priors_are_the_reweighted_training_class_totals():
    model = load_model("electron")
    totals = model.metadata["training"]["reweighting"]["train"]["class_totals"]
    assert model.training_priors == [float(t) for t in totals]
    assert len(model.training_priors) == len(model.class_names) == 6
