"""egamma_cnn.intervals: the efficiency intervals every study uses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from egamma_cnn.intervals import (
    binned_efficiencies,
    binomial_error,
    clopper_pearson,
    effective_count,
    efficiency_interval,
    efficiency_upper_limit,
    wilson,
)


def test_clopper_pearson_hand_values():
    # 0 of 10: the upper end solves (1 - p)^10 = (1 - 0.6827) / 2
    low, high = clopper_pearson(0, 10)
    assert low == 0.0
    assert high == pytest.approx(1 - ((1 - 0.682689492137086) / 2) ** (1 / 10), rel=1e-12)
    low, high = clopper_pearson(10, 10)
    assert high == 1.0 and low == pytest.approx(((1 - 0.682689492137086) / 2) ** (1 / 10))
    assert clopper_pearson(3, 0) == (0.0, 1.0)


def test_wilson_hand_value():
    # k = 5, n = 10, z = 1: centre 0.5, half-width sqrt(0.025 + 1/400) / 1.1
    low, high = wilson(5, 10, coverage=stats.norm.cdf(1) - stats.norm.cdf(-1))
    half = math.sqrt(0.25 / 10 + 1 / 400) / 1.1
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), rel=1e-12)


def test_weighted_efficiency_uses_the_effective_count():
    weights = np.array([0.5, 2.0, 1.0, 1.5, 3.0])
    passes = np.array([True, False, True, True, False])
    n_eff = effective_count(weights.sum(), (weights**2).sum())
    eff, down, up = efficiency_interval(weights[passes].sum(), weights.sum(), (weights**2).sum())
    low, high = clopper_pearson(eff * n_eff, n_eff)
    assert eff == pytest.approx(3.0 / 8.0)
    assert (eff - down, eff + up) == pytest.approx((low, high))
    assert n_eff == pytest.approx(64 / 16.5)


def test_empty_samples_have_defined_values():
    assert all(math.isnan(v) for v in efficiency_interval(0.0, 0.0, 0.0))
    assert math.isnan(binomial_error(0.5, 0.0))
    assert efficiency_upper_limit(1.0, 20.0, 0.95) == 1.0
    assert math.isnan(efficiency_upper_limit(math.nan, 20.0, 0.95))
    with pytest.raises(ValueError, match="interval must be one of"):
        efficiency_interval(1.0, 2.0, 2.0, interval="bayesian")


def test_upper_limit_of_no_passing_candidate():
    # k = 0: the 95 % upper limit solves (1 - p)^n = 0.05
    assert efficiency_upper_limit(0.0, 50.0, 0.95) == pytest.approx(1 - 0.05 ** (1 / 50))


@given(
    n=st.integers(min_value=1, max_value=10_000),
    fraction=st.floats(min_value=0.0, max_value=1.0),
    method=st.sampled_from(["clopper-pearson", "wilson"]),
)
def test_the_interval_contains_the_efficiency(n, fraction, method):
    k = round(fraction * n)
    eff, down, up = efficiency_interval(k, n, n, interval=method)
    assert eff == k / n
    assert 0.0 <= eff - down <= eff + 1e-12 and eff - 1e-12 <= eff + up <= 1.0
    assert down >= -1e-12 and up >= -1e-12


def test_negative_weights_outside_zero_one_give_an_interval():
    """Σw_pass > Σw or < 0 (negative MC weights): defined values, no exception."""
    eff, down, up = efficiency_interval(10.0, 8.0, 12.0)
    assert eff == 1.25 and up == 0.0 and 0.0 < down
    assert clopper_pearson(9.0, 8.0)[1] == 1.0 and wilson(9.0, 8.0)[1] == 1.0
    eff, down, up = efficiency_interval(-1.0, 8.0, 12.0)
    assert eff == -0.125 and down == 0.0 and up > 0.0
    assert clopper_pearson(-1.0, 8.0)[0] == 0.0


def test_an_unknown_interval_is_refused_even_for_an_empty_bin():
    with pytest.raises(ValueError, match="interval must be one of"):
        efficiency_interval(0.0, 0.0, 0.0, interval="jeffreys")


def test_binned_efficiencies_per_bin_inclusive_and_outside():
    """One table for the data/MC ID efficiencies and the isolation working points."""
    edges = [15.0, 40.0, 80.0, 250.0]
    passed, total, variance = [8.0, 0.0, 3.0], [10.0, 0.0, 4.0], [10.0, 0.0, 4.0]
    table = binned_efficiencies(passed, total, variance, edges, 20.0, count="probes")
    assert list(table) == ["et", "inclusive", "outside_binning"]
    first, empty, last = table["et"]
    efficiency, low, high = efficiency_interval(8, 10, 10)
    assert first == {
        "et_low": 15.0,
        "et_high": 40.0,
        "efficiency": efficiency,
        "error_low": low,
        "error_high": high,
        "probes": 10.0,
    }
    # a bin without candidates has no efficiency (JSON null), and a count of 0
    assert empty == {
        "et_low": 40.0,
        "et_high": 80.0,
        "efficiency": None,
        "error_low": None,
        "error_high": None,
        "probes": 0.0,
    }
    assert last["efficiency"] == 0.75
    # inclusive: the sums over the bins; outside: everything that is in no bin
    assert table["inclusive"]["efficiency"] == pytest.approx(11 / 14)
    assert table["inclusive"]["probes"] == 14.0
    assert table["outside_binning"] == 6.0
    # weights: the interval of the effective counts; the key names follow the axis
    weighted = binned_efficiencies([2.0], [4.0], [8.0], [0.0, 1.0], 4.0, axis="eta")
    (row,) = weighted["eta"]
    assert list(row)[:2] == ["eta_low", "eta_high"] and row["n"] == 4.0
    assert (row["efficiency"], row["error_low"], row["error_high"]) == efficiency_interval(
        2.0, 4.0, 8.0
    )
    assert weighted["outside_binning"] == 0.0
    with pytest.raises(ValueError, match="one value per bin"):
        binned_efficiencies([1.0], [2.0], [2.0], [0.0, 1.0, 2.0], 2.0)


def _sums(per_event_counts):
    return (
        [int(np.sum(x)) for x in per_event_counts],
        [int(np.sum(np.square(x))) for x in per_event_counts],
        [len(x) for x in per_event_counts],
    )


def test_rate_homogeneity_of_equal_and_unequal_rates():
    from egamma_cnn.intervals import rate_homogeneity

    rng = np.random.default_rng(3)
    sizes = rng.integers(200, 800, 30)
    poisson = rate_homogeneity(*_sums([rng.poisson(0.7, n) for n in sizes]))
    assert abs(poisson.rate - 0.7) < 0.03 and poisson.ndof == (29, int(sizes.sum()) - 30)
    assert poisson.p_value > 0.001 and 0.5 < poisson.f_statistic < 1.6
    # clusters of five per event: wider per-event errors, still one rate
    clustered = rate_homogeneity(*_sums([5 * rng.poisson(0.14, n) for n in sizes]))
    assert clustered.p_value > 0.001
    # each sample's events all copies of 20 events: the rates scatter like 20 events' worth
    copied = rate_homogeneity(*_sums([np.tile(rng.poisson(0.7, 20), n // 20) for n in sizes]))
    assert copied.p_value < 1e-6 and copied.f_statistic > 5
    shifted = rate_homogeneity(*_sums([rng.poisson(0.5, 5000), rng.poisson(0.6, 5000)]))
    assert shifted.p_value < 1e-3


def test_rate_homogeneity_hand_values_and_degenerate_samples():
    from egamma_cnn.intervals import rate_homogeneity

    # [0, 2] and [2, 4]: rates 1 and 3, r̄ = 2; between 2·1 + 2·1 = 4 on 1 dof,
    # within (4 − 2) + (20 − 18) = 4 on 2 dof: F = 4 / 2 = 2, p = P(F(1, 2) ≥ 2)
    hand = rate_homogeneity([2, 6], [4, 20], [2, 2])
    assert hand.rates == (1.0, 3.0) and hand.f_statistic == pytest.approx(2.0)
    assert hand.p_value == pytest.approx(stats.f.sf(2.0, 1, 2))
    assert rate_homogeneity([0, 0], [0, 0], [3, 4]).p_value == 1.0
    assert rate_homogeneity([3, 8], [3, 16], [3, 4]).p_value == 0.0  # all-1 vs all-2 events


@pytest.mark.parametrize(
    ("sums", "squares", "events", "match"),
    [
        ([1], [1], [2], "at least two"),
        ([1, 2], [1, 2], [1], "equal"),
        ([1, -1], [1, 1], [2, 2], "≥ 0"),
        ([1, 2], [1, 4], [2, 0], "≥ 1 event"),
        ([1, np.nan], [1, 1], [2, 2], "finite"),
        ([4, 1], [2, 1], [2, 2], "no counts"),
        ([1, 1], [1, 1], [1, 1], "more events"),
    ],
)
def test_rate_homogeneity_refuses_bad_input(sums, squares, events, match):
    from egamma_cnn.intervals import rate_homogeneity

    with pytest.raises(ValueError, match=match):
        rate_homogeneity(sums, squares, events)
