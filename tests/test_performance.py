"""Tests of egamma_cnn.model.performance: ROC curves, AUC, efficiencies, rejections and
the rejection ratio at matched signal efficiency of ATL-PHYS-PUB-2023-001 §6 (Figures 6–11)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from egamma_cnn.intervals import binomial_error, efficiency_upper_limit
from egamma_cnn.model.performance import (
    EfficiencyRejection,
    MatchedRejection,
    RocCurve,
    auc,
    auc_from_cumulative,
    auc_uncertainty,
    bin_index,
    cut_for_efficiency,
    efficiency_and_rejection,
    per_bin,
    rejection_at_matched_efficiency,
    roc_curve,
    roc_from_cumulative,
)

# Tiny sample: signals 0.9, 0.8, 0.3; backgrounds 0.8, 0.5 (one tie at 0.8).
SCORE = np.array([0.9, 0.8, 0.8, 0.5, 0.3])
IS_SIGNAL = np.array([True, True, False, False, True])


def _pairwise_auc(score, is_signal, weight):
    """P(s_sig > s_bkg) + ½ P(s_sig = s_bkg) by brute force over all pairs."""
    s, b = score[is_signal], score[~is_signal]
    ws, wb = weight[is_signal], weight[~is_signal]
    psi = (s[:, None] > b[None, :]) + 0.5 * (s[:, None] == b[None, :])
    return float(ws @ psi @ wb / (ws.sum() * wb.sum()))


# ------------------------------------------------------------------------------ ROC


def test_roc_hand_points_with_a_tie():
    roc = roc_curve(SCORE, IS_SIGNAL)
    np.testing.assert_array_equal(roc.threshold, [np.inf, 0.9, 0.8, 0.5, 0.3])
    np.testing.assert_allclose(roc.signal_efficiency, [0, 1 / 3, 2 / 3, 2 / 3, 1])
    np.testing.assert_allclose(roc.background_efficiency, [0, 0, 0.5, 1, 1])
    np.testing.assert_array_equal(roc.rejection(), [np.inf, np.inf, 2, 1, 1])
    # 0.9 beats both backgrounds, 0.8 ties one and beats one, 0.3 beats none: 3.5 / 6
    assert auc(SCORE, IS_SIGNAL) == pytest.approx(7 / 12, abs=1e-15)


def test_roc_hand_points_weighted():
    weight = np.array([2.0, 1.0, 1.0, 3.0, 1.0])
    roc = roc_curve(SCORE, IS_SIGNAL, weight)
    np.testing.assert_allclose(roc.signal_efficiency, [0, 0.5, 0.75, 0.75, 1])
    np.testing.assert_allclose(roc.background_efficiency, [0, 0, 0.25, 1, 1])
    # pairs weighted by w_s w_b: 2·1 + 2·3 + ½·1·1 + 1·3 = 11.5 out of 4·4
    assert auc(SCORE, IS_SIGNAL, weight) == pytest.approx(11.5 / 16, abs=1e-15)


def test_all_scores_equal_give_one_diagonal_segment():
    roc = roc_curve(np.ones(6), [1, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(roc.signal_efficiency, [0, 1])
    np.testing.assert_array_equal(roc.background_efficiency, [0, 1])
    assert auc(np.ones(6), [1, 0, 1, 0, 0, 1]) == 0.5


def test_roc_is_frozen_and_read_only():
    roc = roc_curve(SCORE, IS_SIGNAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        roc.threshold = np.zeros(5)  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        roc.signal_efficiency[0] = 0.5


def test_background_efficiency_at_interpolates():
    roc = roc_curve(SCORE, IS_SIGNAL)
    # points (ε_sig, ε_bkg): (0,0) (1/3,0) (2/3,0.5) (2/3,1) (1,1)
    assert roc.background_efficiency_at(0.0) == 0.0
    assert roc.background_efficiency_at(1 / 6) == 0.0
    assert roc.background_efficiency_at(0.5) == pytest.approx(0.25)
    assert roc.background_efficiency_at(2 / 3) == pytest.approx(0.5)  # tightest cut
    assert roc.background_efficiency_at(5 / 6) == pytest.approx(1.0)
    assert roc.background_efficiency_at(1.0) == 1.0
    values = roc.background_efficiency_at(np.array([[0.5, 2 / 3]]))
    assert values.shape == (1, 2)
    np.testing.assert_allclose(values, [[0.25, 0.5]])
    with pytest.raises(ValueError, match="signal_efficiency"):
        roc.background_efficiency_at(1.5)


def test_the_core_takes_cumulative_sums():
    """roc_curve and auc only prepare S_k, B_k along decreasing thresholds."""
    # the tiny sample: cuts +inf, 0.9, 0.8, 0.5, 0.3
    signal_sums, background_sums = [0, 1, 2, 2, 3], [0, 0, 1, 2, 2]
    core = roc_from_cumulative(signal_sums, background_sums, [np.inf, 0.9, 0.8, 0.5, 0.3])
    roc = roc_curve(SCORE, IS_SIGNAL)
    for field in ("signal_efficiency", "background_efficiency", "threshold"):
        np.testing.assert_array_equal(getattr(core, field), getattr(roc, field))
    assert auc_from_cumulative(signal_sums, background_sums) == auc(SCORE, IS_SIGNAL)
    assert core.auc() == pytest.approx(7 / 12, abs=1e-15)
    # normalised sums (efficiencies) give the same area
    assert auc_from_cumulative(roc.signal_efficiency, roc.background_efficiency) == (
        pytest.approx(7 / 12, abs=1e-15)
    )
    # an empty class: NaN efficiencies, NaN area, NaN ε_B; no exception
    empty = roc_from_cumulative([0, 1, 2], [0, 0, 0], [np.inf, 1, 0])
    assert np.isnan(empty.background_efficiency).all() and np.isnan(empty.auc())
    assert np.isnan(empty.background_efficiency_at(0.5))
    with pytest.raises(ValueError, match="background_cumulative must have shape"):
        roc_from_cumulative([0, 1], [0, 1, 2], [1, 0])
    with pytest.raises(ValueError, match="threshold"):
        roc_from_cumulative([0, 1], [0, 1], [1, 0, -1])


def test_background_efficiency_at_is_numpy_interp_between_points():
    rng = np.random.default_rng(12)
    score = rng.normal(size=3000)
    is_signal = rng.random(3000) < 1 / (1 + np.exp(-2 * score))
    roc = roc_curve(np.round(score, 2), is_signal)  # ties: vertical and diagonal segments
    assert np.any(np.diff(roc.signal_efficiency) == 0)  # background-only score values
    targets = rng.random(200)
    targets = targets[~np.isin(targets, roc.signal_efficiency)]
    # between points, the arithmetic of numpy.interp (the isolation study's numbers)
    np.testing.assert_array_equal(
        roc.background_efficiency_at(targets),
        np.interp(targets, roc.signal_efficiency, roc.background_efficiency),
    )
    # on a vertical segment: the tightest cut, the smallest ε_B
    k = int(np.flatnonzero(np.diff(roc.signal_efficiency) == 0)[0])
    first = int(np.searchsorted(roc.signal_efficiency, roc.signal_efficiency[k]))
    at = roc.background_efficiency_at(roc.signal_efficiency[k])
    assert at == roc.background_efficiency[first]


def test_roc_endpoints_and_monotonic_on_random_data():
    rng = np.random.default_rng(1)
    score = np.round(rng.normal(size=500), 1)
    is_signal = rng.random(500) < 0.3
    roc = roc_curve(score, is_signal, rng.exponential(size=500))
    assert (roc.signal_efficiency[0], roc.background_efficiency[0]) == (0, 0)
    assert (roc.signal_efficiency[-1], roc.background_efficiency[-1]) == (1, 1)
    assert len(roc.threshold) == len(np.unique(score)) + 1
    assert np.all(np.diff(roc.signal_efficiency) >= 0)
    assert np.all(np.diff(roc.background_efficiency) >= 0)
    assert np.all(np.diff(roc.threshold) < 0)


# ------------------------------------------------------------------------------ AUC


def test_auc_equals_mann_whitney():
    rng = np.random.default_rng(2)
    n_s, n_b = 300, 500
    signal = np.round(rng.normal(1.0, 1.0, n_s), 1)  # rounded: many ties
    background = np.round(rng.normal(0.0, 1.0, n_b), 1)
    score = np.concatenate([signal, background])
    is_signal = np.arange(n_s + n_b) < n_s
    u = stats.mannwhitneyu(signal, background).statistic
    assert auc(score, is_signal) == pytest.approx(u / (n_s * n_b), abs=1e-12)


def test_auc_of_separated_and_reversed_classes():
    score = np.array([0.1, 0.2, 0.3, 0.7, 0.8])
    is_signal = score > 0.5
    assert auc(score, is_signal) == 1.0
    assert auc(score, ~is_signal) == 0.0
    assert auc(-score, is_signal) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-20, 20), st.booleans(), st.integers(0, 4)),
        min_size=2,
        max_size=40,
    )
)
def test_auc_matches_weighted_pairwise_formula(rows):
    score = np.array([r[0] for r in rows], float)
    is_signal = np.array([r[1] for r in rows])
    weight = np.array([r[2] for r in rows], float)
    assume(weight[is_signal].sum() > 0 and weight[~is_signal].sum() > 0)
    expected = _pairwise_auc(score, is_signal, weight)
    assert auc(score, is_signal, weight) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-20, 20), st.booleans()), min_size=2, max_size=40))
def test_roc_invariant_under_monotonic_transforms(rows):
    score = np.array([r[0] for r in rows], float)
    is_signal = np.array([r[1] for r in rows])
    assume(is_signal.any() and not is_signal.all())
    roc = roc_curve(score, is_signal)
    area = auc(score, is_signal)
    for transform in (lambda x: x**3 + 2 * x + 0.5, np.arctan, lambda x: np.exp(x / 7)):
        other = roc_curve(transform(score), is_signal)
        np.testing.assert_array_equal(other.signal_efficiency, roc.signal_efficiency)
        np.testing.assert_array_equal(other.background_efficiency, roc.background_efficiency)
        np.testing.assert_array_equal(other.threshold[1:], transform(roc.threshold[1:]))
        assert auc(transform(score), is_signal) == pytest.approx(area, abs=1e-12)
    # a decreasing transform swaps the roles: A → 1 − A
    assert auc(-score, is_signal) == pytest.approx(1 - area, abs=1e-12)


def test_auc_uncertainty_matches_delong_variance():
    rng = np.random.default_rng(3)
    n_s, n_b = 300, 400
    score = np.concatenate([rng.normal(0.8, 1, n_s), rng.normal(0, 1, n_b)])
    is_signal = np.arange(n_s + n_b) < n_s
    s, b = score[:n_s], score[n_s:]
    psi = (s[:, None] > b[None, :]) + 0.5 * (s[:, None] == b[None, :])
    delong = np.sqrt(psi.mean(1).var(ddof=1) / n_s + psi.mean(0).var(ddof=1) / n_b)
    sigma = auc_uncertainty(score, is_signal, n_bootstrap=300, seed=5)
    assert sigma == pytest.approx(delong, rel=0.2)
    assert auc_uncertainty(score, is_signal, n_bootstrap=20, seed=5) == auc_uncertainty(
        score, is_signal, n_bootstrap=20, seed=5
    )
    with pytest.raises(ValueError, match="n_bootstrap"):
        auc_uncertainty(score, is_signal, n_bootstrap=1)


# ------------------------------------------------------------------------------ cut


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.001, 1.0),
    st.integers(0, 10_000),
    st.booleans(),
)
def test_cut_for_efficiency_is_the_largest_cut_reaching_the_target(target, seed, weighted):
    rng = np.random.default_rng(seed)
    n = 200
    score = np.round(rng.normal(size=n), 2)  # some ties
    is_signal = rng.random(n) < 0.5
    assume(is_signal.sum() > 0)
    weight = rng.exponential(size=n) if weighted else np.ones(n)
    cut = cut_for_efficiency(score, is_signal, target, weight)
    ws, ss = weight[is_signal], score[is_signal]
    assert cut in ss
    assert ws[ss >= cut].sum() / ws.sum() >= target - 1e-12
    # any larger cut passes at most the candidates strictly above this one: below target
    assert ws[ss > cut].sum() / ws.sum() < target


def test_cut_for_efficiency_within_one_candidate():
    rng = np.random.default_rng(4)
    score = rng.normal(size=1000)
    is_signal = np.ones(1000, bool)
    for target in (0.1, 0.5, 0.8, 0.93, 1.0):
        cut = cut_for_efficiency(score, is_signal, target)
        fraction = np.mean(score >= cut)
        assert target <= fraction < target + 1 / 1000 + 1e-12
    assert cut_for_efficiency(score, is_signal, 0.0) == np.inf
    with pytest.raises(ValueError, match="target"):
        cut_for_efficiency(score, is_signal, 1.2)


# ------------------------------------------------------------------ fixed selections


def test_efficiency_and_rejection_hand_values():
    passes = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0], bool)
    is_signal = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    result = efficiency_and_rejection(passes, is_signal)
    assert isinstance(result, EfficiencyRejection)
    assert result.signal_efficiency == 0.75
    assert result.signal_efficiency_error == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    assert result.background_efficiency == pytest.approx(0.2)
    assert result.rejection == pytest.approx(5.0)
    sigma_eff = np.sqrt(0.2 * 0.8 / 5)
    assert result.rejection_error == pytest.approx(sigma_eff / 0.2**2)
    assert (result.n_signal, result.n_background) == (4, 5)
    # Clopper–Pearson: the upper limit ε_up has P(k ≤ 1 | n = 5, ε_up) = 1 − 0.68
    eps_up = 1 / result.rejection_lower_limit
    assert stats.binom.cdf(1, 5, eps_up) == pytest.approx(0.32)
    assert result.rejection_lower_limit < result.rejection


def test_efficiency_uses_effective_counts_for_weights():
    result = efficiency_and_rejection([1, 0, 1, 0], [1, 1, 0, 0], [1.0, 3.0, 2.0, 2.0])
    n_eff = 4**2 / (1 + 9)
    assert result.signal_efficiency == 0.25
    assert result.signal_efficiency_error == pytest.approx(np.sqrt(0.25 * 0.75 / n_eff))
    assert result.background_efficiency == 0.5
    assert result.rejection_error == pytest.approx(np.sqrt(0.25 / 2) / 0.25)


def test_efficiency_errors_and_limits_come_from_the_intervals_module():
    rng = np.random.default_rng(13)
    passes, is_signal = rng.random(500) < 0.3, rng.random(500) < 0.5
    weight = rng.uniform(0.2, 2.0, 500)
    result = efficiency_and_rejection(passes, is_signal, weight)
    ws, wb = weight[is_signal], weight[~is_signal]
    n_eff_s, n_eff_b = ws.sum() ** 2 / np.sum(ws**2), wb.sum() ** 2 / np.sum(wb**2)
    assert result.signal_efficiency_error == binomial_error(result.signal_efficiency, n_eff_s)
    upper = efficiency_upper_limit(result.background_efficiency, n_eff_b, 0.68)
    assert result.rejection_lower_limit == 1.0 / upper
    assert result.rejection_error == pytest.approx(
        binomial_error(result.background_efficiency, n_eff_b) / result.background_efficiency**2
    )


def test_no_background_passing_gives_infinite_rejection_and_finite_limit():
    n = 20
    result = efficiency_and_rejection(np.zeros(n + 2, bool), np.arange(n + 2) < 2)
    assert result.background_efficiency == 0.0
    assert result.rejection == np.inf
    assert result.rejection_error == np.inf
    assert result.rejection_lower_limit == pytest.approx(1 / (1 - 0.32 ** (1 / n)))
    # everything passes: ε_up = 1, the limit is 1
    assert efficiency_and_rejection(np.ones(5), [1, 0, 0, 1, 0]).rejection_lower_limit == 1.0


def test_empty_class_gives_nan():
    result = efficiency_and_rejection([True, False], [True, True])
    assert result.signal_efficiency == 0.5
    assert result.n_background == 0
    for field in ("background_efficiency", "rejection", "rejection_error"):
        assert np.isnan(getattr(result, field))
    assert np.isnan(result.rejection_lower_limit)
    # zero total weight counts as empty
    zero = efficiency_and_rejection([True, False], [False, False], [0.0, 0.0])
    assert np.isnan(zero.signal_efficiency) and np.isnan(zero.signal_efficiency_error)
    assert zero.n_signal == 0 and np.isnan(zero.background_efficiency)


# ------------------------------------------------------------- matched rejection


def test_matched_rejection_of_a_cut_on_the_same_score_is_one():
    rng = np.random.default_rng(6)
    n = 2000
    is_signal = rng.random(n) < 0.4
    score = rng.normal(size=n) + 1.5 * is_signal
    reference_cut = np.sort(score[is_signal])[is_signal.sum() // 3]  # a signal score value
    reference = score >= reference_cut
    result = rejection_at_matched_efficiency(score, is_signal, reference)
    assert isinstance(result, MatchedRejection)
    assert result.cut == reference_cut
    assert result.score_signal_efficiency == result.signal_efficiency
    assert result.ratio == 1.0
    assert result.score_rejection == result.reference_rejection
    rel = result.reference_rejection_error / result.reference_rejection
    assert result.ratio_error == pytest.approx(np.sqrt(2) * rel)


def test_matched_rejection_beats_a_worse_reference():
    rng = np.random.default_rng(7)
    n = 4000
    is_signal = rng.random(n) < 0.5
    score = rng.normal(size=n) + 2.0 * is_signal
    weak = rng.normal(size=n) + 0.5 * is_signal  # a poorer discriminant as reference
    reference = weak >= np.quantile(weak[is_signal], 0.2)
    weight = rng.uniform(0.5, 1.5, n)
    result = rejection_at_matched_efficiency(score, is_signal, reference, weight)
    expected = efficiency_and_rejection(reference, is_signal, weight)
    assert result.signal_efficiency == expected.signal_efficiency
    assert result.reference_rejection == expected.rejection
    assert result.score_signal_efficiency >= result.signal_efficiency
    assert result.ratio > 1 + 5 * result.ratio_error


def test_matched_rejection_with_no_background_passing():
    score = np.array([0.9, 0.8, 0.1, 0.2])
    is_signal = np.array([True, True, False, False])
    result = rejection_at_matched_efficiency(score, is_signal, [True, False, True, False])
    assert result.signal_efficiency == 0.5
    assert result.score_rejection == np.inf and result.reference_rejection == 2.0
    assert result.ratio == np.inf and result.ratio_error == np.inf


# ----------------------------------------------------------------------------- bins


def test_bin_index():
    values = np.array([-1.0, 0.0, 0.5, 1.0, 1.99, 2.0, np.nan, np.inf])
    np.testing.assert_array_equal(bin_index(values, [0, 1, 2]), [-1, 0, 0, 1, 1, -1, -1, -1])
    np.testing.assert_array_equal(bin_index([5.0, np.inf], [0, 1, np.inf]), [1, -1])
    with pytest.raises(ValueError, match="edges"):
        bin_index(values, [0, 2, 1])


def test_per_bin_equals_manual_selection():
    rng = np.random.default_rng(8)
    n = 600
    et = rng.uniform(0, 60, n)
    is_signal = rng.random(n) < 0.5
    score = rng.normal(size=n) + is_signal
    weight = rng.uniform(0.5, 2.0, n)
    idx = bin_index(et, [5, 20, 40, 60])
    areas = per_bin(auc, idx, 3, score, is_signal, weight=weight)
    assert len(areas) == 3
    for b in range(3):
        sel = idx == b
        assert areas[b] == auc(score[sel], is_signal[sel], weight[sel])
    cuts = per_bin(cut_for_efficiency, idx, 3, score, is_signal, target=0.8)
    sel = idx == 1
    assert cuts[1] == cut_for_efficiency(score[sel], is_signal[sel], 0.8)
    # a bin with one class only: the error says which bin
    with pytest.raises(ValueError, match=r"bin 0: .*no signal"):
        per_bin(auc, np.where(is_signal, 1, 0), 2, score, is_signal)
    with pytest.raises(ValueError, match="bins"):
        per_bin(auc, np.full(n, 3), 3, score, is_signal)
    with pytest.raises(ValueError, match="weight"):
        per_bin(auc, idx, 3, score, is_signal, weight=weight[:-1])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: roc_curve(SCORE, IS_SIGNAL[:-1]), "is_signal"),
        (lambda: roc_curve(SCORE, [0, 1, 2, 0, 1]), "is_signal"),
        (lambda: roc_curve(SCORE.reshape(1, -1), IS_SIGNAL), "score"),
        (lambda: auc([0.1, np.nan, 0.3, 0.2, 0.5], IS_SIGNAL), "score"),
        (lambda: auc([0.1, np.inf, 0.3, 0.2, 0.5], IS_SIGNAL), "score"),
        (lambda: auc(SCORE, IS_SIGNAL, [1, 1, -1, 1, 1]), "weight"),
        (lambda: auc(SCORE, IS_SIGNAL, [1, 1, 1]), "weight"),
        (lambda: auc(SCORE, IS_SIGNAL, [1, 1, np.nan, 1, 1]), "weight"),
        (lambda: auc(SCORE, np.ones(5, bool)), "background"),
        (lambda: roc_curve(SCORE, np.zeros(5, bool)), "signal"),
        (lambda: cut_for_efficiency(SCORE, np.zeros(5, bool), 0.5), "signal"),
        (lambda: efficiency_and_rejection([1, 0], [1, 0, 1]), "is_signal"),
        (lambda: efficiency_and_rejection([1, 0, 3], [1, 0, 1]), "passes"),
        (lambda: efficiency_and_rejection([1, 0], [1, 0], [1, -2]), "weight"),
        (lambda: rejection_at_matched_efficiency(SCORE, IS_SIGNAL, [1, 0]), "reference_passes"),
        (lambda: rejection_at_matched_efficiency(SCORE, np.zeros(5), np.ones(5)), "signal"),
    ],
)
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_roc_curve_checks_its_shapes():
    with pytest.raises(ValueError, match="background_efficiency"):
        RocCurve(np.zeros(3), np.zeros(2), np.zeros(3))


def _matched_toy(n_signal, n_background=20000, seed=1):
    rng = np.random.default_rng(seed)
    is_signal = np.r_[np.ones(n_signal, bool), np.zeros(n_background, bool)]
    n = len(is_signal)
    cnn = np.where(is_signal, rng.normal(2.0, 1.0, n), rng.normal(-1.0, 1.0, n))
    llh = np.where(is_signal, rng.normal(1.5, 1.0, n), rng.normal(-1.0, 1.0, n))
    return cnn, is_signal, llh > np.quantile(llh[is_signal], 0.1)


def test_bootstrap_ratio_interval_includes_the_signal_count_uncertainty():
    from egamma_cnn.model.performance import bootstrap_matched_ratio

    # plenty of signal: the interval is about the background-count error around the ratio
    cnn, is_signal, reference = _matched_toy(5000)
    point = rejection_at_matched_efficiency(cnn, is_signal, reference)
    interval = bootstrap_matched_ratio(cnn, is_signal, reference)
    assert interval.low < point.ratio < interval.high
    assert 0.5 < (interval.high - interval.low) / (2 * point.ratio_error) < 3.0
    assert interval.n_undefined == 0 and interval.n_replicas == 400
    # 50 signal candidates: ε_ref and the cut move from replica to replica, and the
    # interval is many times wider than the background-only error
    cnn, is_signal, reference = _matched_toy(50)
    point = rejection_at_matched_efficiency(cnn, is_signal, reference)
    wide = bootstrap_matched_ratio(cnn, is_signal, reference)
    assert wide.low < point.ratio < wide.high
    assert (wide.high - wide.low) > 5 * (2 * point.ratio_error)
    # reproducible; another seed gives other replicas
    assert bootstrap_matched_ratio(cnn, is_signal, reference) == wide
    assert bootstrap_matched_ratio(cnn, is_signal, reference, seed=5) != wide


def test_bootstrap_ratio_against_a_score_cut_to_the_same_efficiency():
    from egamma_cnn.model.performance import bootstrap_matched_ratio

    cnn, is_signal, reference = _matched_toy(3000)
    itself = bootstrap_matched_ratio(cnn, is_signal, reference, reference_score=cnn)
    assert itself.low == itself.high == 1.0  # a score against itself, in every replica
    worse = cnn + np.random.default_rng(2).normal(0.0, 1.5, len(cnn))
    better = bootstrap_matched_ratio(cnn, is_signal, reference, reference_score=worse)
    assert better.low > 1.0


def test_bootstrap_ratio_edges_and_bad_input():
    from egamma_cnn.model.performance import bootstrap_matched_ratio

    cnn, is_signal, reference = _matched_toy(200, n_background=30)
    # a perfect score keeps no background: ratios are infinite, not undefined
    perfect = np.where(is_signal, 10.0, -10.0)
    result = bootstrap_matched_ratio(perfect, is_signal, reference)
    assert result.high == np.inf and result.n_undefined < result.n_replicas
    with pytest.raises(ValueError, match="no signal"):
        bootstrap_matched_ratio(cnn, np.zeros(len(cnn), bool), reference)
    with pytest.raises(ValueError, match="n_replicas"):
        bootstrap_matched_ratio(cnn, is_signal, reference, n_replicas=3)
    with pytest.raises(ValueError, match="reference_score"):
        bootstrap_matched_ratio(cnn, is_signal, reference, reference_score=cnn[:5])
    with pytest.raises(ValueError, match="coverage"):
        bootstrap_matched_ratio(cnn, is_signal, reference, coverage=1.5)
