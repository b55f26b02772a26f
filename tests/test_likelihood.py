"""Tests of egamma_cnn.model.likelihood: the ATLAS-style electron LLH baseline
(ATL-PHYS-PUB-2023-001 §6)
and the LLH track-hit requirements (ATL-PHYS-PUB-2023-001 §6.1)."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from egamma_cnn.model.likelihood import (
    DEFAULT_LLH_ABS_ETA_EDGES,
    LIKELIHOOD_INPUTS,
    LIKELIHOOD_VARIABLES,
    Likelihood,
    combined_rhad,
    likelihood_inputs,
    llh_hit_requirements,
)

N_IN = len(LIKELIHOOD_INPUTS)
ONE_BIN = {"et_edges": (0.0, 1000.0), "abs_eta_edges": (0.0, 2.5)}


def _auc(score, is_signal):
    """Mann–Whitney AUC (ties count one half)."""
    ranks = stats.rankdata(score)
    n_s, n_b = is_signal.sum(), (~is_signal).sum()
    return (ranks[is_signal].sum() - n_s * (n_s + 1) / 2) / (n_s * n_b)


def _gaussian_toy(rng, n, shifts, abs_eta=(0.0, 0.5), et=(20.0, 60.0)):
    """Unit Gaussians in every input column; signal shifted by ``shifts`` (name → Δ)."""
    is_signal = np.arange(n) % 2 == 0
    values = rng.normal(size=(n, N_IN))
    for name, shift in shifts.items():
        values[is_signal, LIKELIHOOD_INPUTS.index(name)] += shift
    eta = rng.uniform(*abs_eta, n) * rng.choice([-1.0, 1.0], n)
    return values, rng.uniform(*et, n), eta, is_signal


@functools.cache
def _default_model():
    """A fit with the default binning on a toy that fills every bin but one."""
    rng = np.random.default_rng(7)
    values, et, eta, is_signal = _gaussian_toy(rng, 60_000, {"reta": 1.0, "f1": 0.5}, (0, 2.47))
    low = np.array([7.0, 10.0, 15.0, 20.0, 30.0, 40.0])  # each E_T bin from 7 GeV on, equally
    row = rng.integers(0, len(low), len(et))
    et = low[row] + rng.uniform(0.0, 1.0, len(et)) * np.diff([*low, 100.0])[row]
    et[:150] = rng.uniform(4.5, 7.0, 150)  # the 4.5–7 GeV bin: only 75 + 75 candidates
    return Likelihood.fit(values, et, eta, is_signal, n_bins=20, min_entries=100)


# ------------------------------------------------------------------- discrimination


def test_gaussian_toy_reaches_the_analytic_auc_and_ranks_like_the_true_ratio():
    rng = np.random.default_rng(1)
    shifts = {"reta": 0.5, "wstot": 0.5, "d0sig": 0.5, "deltaEta1": 0.5}
    train = _gaussian_toy(rng, 40_000, shifts)
    test_values, test_et, test_eta, test_signal = _gaussian_toy(rng, 40_000, shifts)
    model = Likelihood.fit(*train, n_bins=40, min_entries=100, **ONE_BIN)
    d = model.discriminant(test_values, test_et, test_eta)
    # unit Gaussians, independent: ln λ = Σ Δ_v x_v + const, AUC = Φ(|Δ| / √2)
    delta = np.array(list(shifts.values()))
    true_ratio = test_values[:, [LIKELIHOOD_INPUTS.index(v) for v in shifts]] @ delta
    expected_auc = stats.norm.cdf(np.linalg.norm(delta) / np.sqrt(2.0))
    assert _auc(true_ratio, test_signal) == pytest.approx(expected_auc, abs=0.01)
    assert _auc(d, test_signal) == pytest.approx(expected_auc, abs=0.012)
    # binning and 10 useless variables cost little against the optimum on the same sample
    assert -0.002 < _auc(true_ratio, test_signal) - _auc(d, test_signal) < 0.01
    assert stats.spearmanr(d, true_ratio)[0] > 0.95
    assert np.all((d >= 0) & (d <= 1))


def test_discriminant_is_the_product_of_the_pdfs():
    model = _default_model()
    rng = np.random.default_rng(3)
    values, et, eta, _ = _gaussian_toy(rng, 50, {}, (0, 2.4), (5.0, 80.0))
    ratio = np.zeros(50)
    for i in range(50):  # by hand, candidate by candidate
        a = np.searchsorted(model.et_edges, et[i], side="right") - 1
        b = np.searchsorted(model.abs_eta_edges, abs(eta[i]), side="right") - 1
        l_s = l_b = 1.0
        for v, name in enumerate(model.variables):
            if name == "rhad":
                x = values[i, 1] if 0.8 <= abs(eta[i]) <= 1.37 else values[i, 0]
            else:
                x = values[i, LIKELIHOOD_INPUTS.index(name)]
            k = np.searchsorted(model.edges[v], x, side="right") - 1
            k = min(max(k, 0), len(model.edges[v]) - 2)
            l_s *= model.signal_pdf[v][a, b, k]
            l_b *= model.background_pdf[v][a, b, k]
        ratio[i] = l_s / (l_s + l_b)
    np.testing.assert_allclose(model.discriminant(values, et, eta), ratio, rtol=1e-9)


def test_pdfs_are_positive_and_normalised_and_weight_scale_free():
    rng = np.random.default_rng(4)
    values, et, eta, is_signal = _gaussian_toy(rng, 4000, {"reta": 1.0})
    weight = rng.uniform(0.5, 2.0, len(et))
    model = Likelihood.fit(values, et, eta, is_signal, weight=weight, n_bins=10, **ONE_BIN)
    for pdf in (*model.signal_pdf, *model.background_pdf):
        assert np.all(pdf > 0)
        np.testing.assert_allclose(pdf.sum(axis=-1), 1.0, atol=1e-12)
    scaled = Likelihood.fit(values, et, eta, is_signal, weight=1e-6 * weight, n_bins=10, **ONE_BIN)
    for a, b in zip(model.signal_pdf, scaled.signal_pdf, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9)


def test_variable_binning_is_pooled_quantiles_with_duplicates_collapsed():
    rng = np.random.default_rng(5)
    values, et, eta, is_signal = _gaussian_toy(rng, 2000, {})
    values[:, LIKELIHOOD_INPUTS.index("f3")] = rng.integers(0, 3, len(et))  # 3 values
    values[:, LIKELIHOOD_INPUTS.index("f1")] = 0.25  # a single value
    model = Likelihood.fit(values, et, eta, is_signal, n_bins=10, **ONE_BIN)
    edges = dict(zip(model.variables, model.edges, strict=True))
    np.testing.assert_array_equal(edges["f3"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(edges["f1"], [-0.25, 0.75])
    reta = values[:, LIKELIHOOD_INPUTS.index("reta")]
    np.testing.assert_array_equal(edges["reta"][[0, -1]], [reta.min(), reta.max()])
    assert len(edges["reta"]) == 11


# ------------------------------------------------------------------ rhad / rhad1


def test_rhad1_is_used_outside_and_rhad_inside_0p8_to_1p37():
    rng = np.random.default_rng(6)
    n = 20_000
    values, et, _, is_signal = _gaussian_toy(rng, n, {"rhad1": -2.0})  # only rhad1 separates
    eta = rng.choice([0.3, -0.3, 1.0, -1.0, 2.0], n)  # bins 0–0.6, 0.8–1.15, 2.01–2.37
    model = Likelihood.fit(
        values, et, eta, is_signal, variables=("rhad",), n_bins=20, min_entries=100
    )
    d = model.discriminant(values, et, eta)
    for abs_eta, separates in ((0.3, True), (1.0, False), (2.0, True)):
        sel = np.abs(eta) == abs_eta
        auc = _auc(d[sel], is_signal[sel])
        assert (auc > 0.9) if separates else (abs(auc - 0.5) < 0.05), (abs_eta, auc)
    # changing the unused column never changes d; changing the used one does
    probe, probe_et = np.full((4, N_IN), -1.0), np.full(4, 30.0)
    probe_eta = np.array([0.3, 1.0, 0.79, 1.37])
    uses_rhad = np.array([False, True, False, True])
    base = model.discriminant(probe, probe_et, probe_eta)
    for column, used in ((0, ~uses_rhad), (1, uses_rhad)):
        moved = probe.copy()
        moved[:, column] = 10.0  # from the middle of the distribution to its last bin
        changed = model.discriminant(moved, probe_et, probe_eta) != base
        np.testing.assert_array_equal(changed, used)
    np.testing.assert_array_equal(
        combined_rhad(np.zeros(5), np.ones(5), [-0.8, 0.7999, 1.37, 1.3701, -2.0]),
        [1, 0, 1, 0, 0],
    )


# ------------------------------------------------------------------- edges of the range


def test_sparse_bins_take_the_inclusive_pdfs_and_are_flagged():
    model = _default_model()
    n_et, n_eta = model.from_inclusive.shape
    assert n_et == 7 and n_eta == len(DEFAULT_LLH_ABS_ETA_EDGES) - 1
    # the 4.5–7 GeV row has ~75 + 75 candidates spread over 9 |η| bins: all flagged
    assert model.from_inclusive[0].all()
    assert not model.from_inclusive[1:].any()
    np.testing.assert_array_equal(
        model.from_inclusive, (model.n_signal < 100) | (model.n_background < 100)
    )
    for pdf in (*model.signal_pdf, *model.background_pdf):
        for j in range(1, n_eta):
            np.testing.assert_array_equal(pdf[0, j], pdf[0, 0])
        assert not np.allclose(pdf[1, 0], pdf[0, 0], rtol=0, atol=1e-12)


def test_out_of_range_candidates_fail_and_overflow_uses_the_last_bin():
    model = _default_model()
    values = np.random.default_rng(8).normal(size=(5, N_IN))
    values[:] = values[0]
    et = np.array([4.4, 30.0, 30.0, 60.0, 1e7])
    eta = np.array([0.1, 2.47, -2.6, 0.1, 0.1])
    d = model.discriminant(values, et, eta)
    np.testing.assert_array_equal(d[:3], 0.0)
    assert 0.0 < d[3] < 1.0 and d[4] == d[3]
    assert np.all(np.isneginf(model.log_likelihood_ratio(values, et, eta)[:3]))
    d_prime = model.transformed(values, et, eta)
    assert np.all(np.isfinite(d_prime))
    np.testing.assert_allclose(d_prime[:3], -np.log(1e12 - 1) / 15.0, rtol=1e-9)


def test_transformed_is_minus_log_of_inverse_minus_one_over_tau():
    model = _default_model()
    rng = np.random.default_rng(9)
    values, et, eta, _ = _gaussian_toy(rng, 200, {}, (0, 2.4), (10, 50))
    d = model.discriminant(values, et, eta)
    expected = -np.log(1.0 / d - 1.0) / 15.0
    np.testing.assert_allclose(model.transformed(values, et, eta), expected, rtol=1e-7)
    np.testing.assert_allclose(model.transformed(values, et, eta, tau=1.0), 15 * expected)
    with pytest.raises(ValueError, match="tau"):
        model.transformed(values, et, eta, tau=0.0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=N_IN, max_size=N_IN),
    st.floats(0.0, 1e5),
    st.floats(-4.0, 4.0),
)
def test_discriminant_is_in_zero_one_for_any_finite_input(row, et, eta):
    model = _default_model()
    values = np.array([row])
    d = model.discriminant(values, [et], [eta])
    assert 0.0 <= d[0] <= 1.0
    assert np.isfinite(model.transformed(values, [et], [eta])[0])


# --------------------------------------------------------------------- JSON and errors


def test_json_round_trip_gives_identical_discriminants(tmp_path):
    model = _default_model()
    model.save(tmp_path / "llh.json")
    loaded = Likelihood.load(tmp_path / "llh.json")
    assert loaded.to_dict() == model.to_dict()
    rng = np.random.default_rng(10)
    values, et, eta, _ = _gaussian_toy(rng, 1000, {}, (0, 2.6), (3.0, 200.0))
    np.testing.assert_array_equal(
        loaded.discriminant(values, et, eta), model.discriminant(values, et, eta)
    )
    broken = model.to_dict()
    del broken["signal_pdf"]
    with pytest.raises(ValueError, match="signal_pdf"):
        Likelihood.from_dict(broken)
    broken = model.to_dict()
    broken["background_pdf"]["reta"][0][0][0] = 0.0
    with pytest.raises(ValueError, match="reta"):
        Likelihood.from_dict(broken)


def test_non_finite_inputs_raise_naming_the_column():
    model = _default_model()
    values = np.zeros((3, N_IN))
    values[1, LIKELIHOOD_INPUTS.index("d0sig")] = np.nan
    with pytest.raises(ValueError, match="d0sig"):
        model.discriminant(values, [10.0] * 3, [0.1] * 3)
    with pytest.raises(ValueError, match="eta"):
        model.discriminant(np.zeros((1, N_IN)), [10.0], [np.inf])
    rng = np.random.default_rng(11)
    values, et, eta, is_signal = _gaussian_toy(rng, 100, {})
    values[5, LIKELIHOOD_INPUTS.index("eProbabilityHT")] = np.inf
    with pytest.raises(ValueError, match="eProbabilityHT"):
        Likelihood.fit(values, et, eta, is_signal)


def test_shapes_names_and_labels_are_validated():
    model = _default_model()
    with pytest.raises(ValueError, match="shape"):
        model.discriminant(np.zeros((2, N_IN - 1)), [10.0] * 2, [0.0] * 2)
    with pytest.raises(ValueError, match="et must have shape"):
        model.discriminant(np.zeros((2, N_IN)), [10.0], [0.0] * 2)
    rng = np.random.default_rng(12)
    values, et, eta, is_signal = _gaussian_toy(rng, 100, {})
    with pytest.raises(ValueError, match="rhad2"):
        Likelihood.fit(values, et, eta, is_signal, variables=("rhad2", "f1"))
    with pytest.raises(ValueError, match="no background"):
        Likelihood.fit(values, et, eta, np.ones(100, bool))
    with pytest.raises(ValueError, match="weight"):
        Likelihood.fit(values, et, eta, is_signal, weight=-np.ones(100))
    with pytest.raises(ValueError, match="missing input columns \\['f3'\\]"):
        likelihood_inputs({name: np.zeros(3) for name in LIKELIHOOD_INPUTS if name != "f3"})
    columns = {name: np.full(2, float(i)) for i, name in enumerate(LIKELIHOOD_INPUTS)}
    np.testing.assert_array_equal(likelihood_inputs(columns)[0], np.arange(N_IN))
    assert dataclasses.is_dataclass(model) and model.variables == LIKELIHOOD_VARIABLES


# ---------------------------------------------------------------- hit requirements


def test_llh_hit_requirements_by_hand():
    #                      B  pix SCT  loose medium/tight
    rows = np.array(
        [
            [1, 2, 5],  # 7 silicon, 2 pixel, B-layer: all pass
            [0, 2, 5],  # no B-layer hit: loose only
            [1, 1, 6],  # one pixel hit: nothing
            [1, 2, 4],  # 6 silicon: nothing
            [0, 3, 8],  # no B-layer: loose only
            [2, 4, 8],  # all
        ]
    )
    expected = {
        "loose": [True, True, False, False, True, True],
        "medium": [True, False, False, False, False, True],
        "tight": [True, False, False, False, False, True],
    }
    for wp, passes in expected.items():
        got = llh_hit_requirements(rows[:, 0], rows[:, 1], rows[:, 2], wp)
        np.testing.assert_array_equal(got, passes, err_msg=wp)
    assert (
        llh_hit_requirements(rows[:, 0], rows[:, 1], rows[:, 2], "Medium").tolist()
        == (expected["medium"])
    )
    with pytest.raises(ValueError, match="veryloose"):
        llh_hit_requirements(rows[:, 0], rows[:, 1], rows[:, 2], "veryloose")
    with pytest.raises(ValueError, match="same shape"):
        llh_hit_requirements(rows[:, 0], rows[:2, 1], rows[:, 2], "loose")
