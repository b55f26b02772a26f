"""Training weights: ATL-PHYS-PUB-2023-001 §5.1 class balance in (E_T, η), Franco's photon-ID talk
p_T reweighting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egamma_cnn.train.reweighting import (
    DEFAULT_ABS_ETA_EDGES,
    DEFAULT_ET_EDGES,
    class_balance_weights,
    pt_weights,
)


def _sample(rng, n=6000):
    labels = rng.choice(6, size=n, p=[0.40, 0.02, 0.05, 0.03, 0.10, 0.40])
    # signal harder in E_T and more central than the backgrounds
    et = np.where(labels <= 1, rng.uniform(10, 60, n), rng.exponential(8.0, n) + 4.6)
    eta = np.where(labels <= 1, rng.normal(0, 1.0, n), rng.uniform(-2.4, 2.4, n))
    return labels, et, np.clip(eta, -2.46, 2.46)


def _hist(et, eta, weights):
    h, _, _ = np.histogram2d(
        np.clip(et, DEFAULT_ET_EDGES[0], DEFAULT_ET_EDGES[-1] - 1e-6),
        np.abs(eta),
        bins=[DEFAULT_ET_EDGES, DEFAULT_ABS_ETA_EDGES],
        weights=weights,
    )
    return h / h.sum()


def test_class_totals_and_ratio():
    labels, et, eta = _sample(np.random.default_rng(1))
    weights, report = class_balance_weights(
        labels, et, eta, (0, 1), 6, ratio=4.0, max_class_boost=1e9
    )
    n_signal = np.isin(labels, (0, 1)).sum()
    totals = np.array(report.class_totals)
    np.testing.assert_allclose(totals[:2], n_signal / 2)
    np.testing.assert_allclose(totals[2:], 4.0 * n_signal / 4)
    assert weights[labels >= 2].sum() / weights[labels <= 1].sum() == pytest.approx(4.0)
    assert report.class_counts == np.bincount(labels, minlength=6).tolist()


def test_every_class_takes_the_signal_shape():
    labels, et, eta = _sample(np.random.default_rng(2), n=20000)
    weights, report = class_balance_weights(labels, et, eta, (0, 1), 6, max_weight=1e9)
    signal = np.isin(labels, (0, 1))
    target = _hist(et[signal], eta[signal], None)
    for c in range(6):
        members = labels == c
        shape = _hist(et[members], eta[members], weights[members])
        # identical wherever the class has candidates
        covered = _hist(et[members], eta[members], None) > 0
        np.testing.assert_allclose(
            shape[covered], target[covered] / target[covered].sum(), atol=1e-12
        )
    assert report.capped == [0] * 6


def test_rare_classes_are_boosted_at_most_max_class_boost():
    labels, et, eta = _sample(np.random.default_rng(3))
    weights, report = class_balance_weights(labels, et, eta, (0, 1), 6, max_class_boost=3.0)
    n_signal = np.isin(labels, (0, 1)).sum()
    sample_mean = 5.0 * n_signal / len(labels)
    for c in range(6):
        assert weights[labels == c].mean() <= 3.0 * sample_mean * (1 + 1e-12)
    # the charge-flip class (2 % of the sample) is held back, the prompt class takes the
    # rest of the signal total; the background classes keep ratio 4 between them
    cap = 3.0 * sample_mean * (labels == 1).sum()
    assert report.class_totals[1] == pytest.approx(cap)
    assert report.class_totals[0] == pytest.approx(n_signal - cap)
    assert sum(report.class_totals[2:]) == pytest.approx(4.0 * n_signal)
    assert report.achieved_ratio == pytest.approx(4.0)


def test_when_a_whole_group_is_capped_the_ratio_is_reported():
    labels = np.array([0] * 100 + [5] * 2)
    et, eta = np.full(102, 20.0), np.zeros(102)
    _, report = class_balance_weights(labels, et, eta, (0,), 6, max_class_boost=2.0)
    assert report.class_totals[5] == pytest.approx(2.0 * (5.0 * 100 / 102) * 2)
    assert report.achieved_ratio == pytest.approx(report.class_totals[5] / 100)
    assert report.achieved_ratio < 4.0


def test_bins_without_signal_get_zero_weight():
    labels = np.array([0, 0, 0, 5, 5, 5])
    et = np.array([20.0, 20.0, 20.0, 20.0, 20.0, 70.0])  # the last background has no signal
    eta = np.zeros(6)
    weights, report = class_balance_weights(labels, et, eta, (0,), 6)
    assert weights[5] == 0.0
    assert report.zero_weight[5] == 1
    # absent classes get nothing; the present background class takes the whole share
    assert report.class_totals[1:5] == [0.0] * 4
    assert report.class_totals[5] == pytest.approx(4.0 * 3)


def test_weights_are_capped():
    # half the signal sits where there is one background candidate out of 100: that one
    # would weigh 99x the others; capped at 5x the class mean it weighs about 10x
    labels = np.array([0] * 50 + [5] * 100)
    et = np.r_[np.full(25, 20.0), np.full(25, 70.0), np.full(99, 20.0), 70.0]
    weights, report = class_balance_weights(labels, et, np.zeros(150), (0,), 6, max_weight=5.0)
    background = weights[50:]
    assert report.capped[5] == 1
    assert 9.0 < background.max() / np.median(background) < 11.0
    assert background.sum() == pytest.approx(4.0 * 50)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.array([0, 7])}, "labels must be in"),
        ({"ratio": 0.0}, "ratio must be > 0"),
        ({"labels": np.array([5, 5])}, "no signal candidates"),
        ({"input_weight": np.array([1.0, -1.0])}, "input_weight"),
    ],
)
def test_bad_inputs(kwargs, message):
    args = {"labels": np.array([0, 5]), "et": np.array([10.0, 10.0]), "eta": np.zeros(2)}
    args.update({k: v for k, v in kwargs.items() if k in args})
    options = {k: v for k, v in kwargs.items() if k not in args}
    with pytest.raises(ValueError, match=message):
        class_balance_weights(args["labels"], args["et"], args["eta"], (0, 1), 6, **options)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(7.0, 300.0)), min_size=4, max_size=60))
def test_pt_weights_balance_background_to_signal(entries):
    is_signal = np.array([s for s, _ in entries])
    pt = np.array([p for _, p in entries])
    if is_signal.all() or not is_signal.any():
        with pytest.raises(ValueError):
            pt_weights(pt, is_signal)
        return
    edges = np.array([7.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 70.0, 100.0])
    bins = np.searchsorted(edges, pt, side="right")
    if not np.isin(bins[~is_signal], bins[is_signal]).any():
        with pytest.raises(ValueError, match="no background candidate shares a p_T bin"):
            pt_weights(pt, is_signal)
        return
    weights = pt_weights(pt, is_signal)
    assert np.all(weights[is_signal] == 1.0)
    assert np.all(weights >= 0)
    assert weights[~is_signal].sum() == pytest.approx(is_signal.sum())
