"""Tests of egamma_cnn.model.cut_based: the loose/tight cut-based photon identification of
Franco's photon-ID talk Table 1, with cuts at a common per-variable quantile fitted to target
efficiencies."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egamma_cnn.model.cut_based import (
    CUT_DIRECTIONS,
    DEFAULT_PHOTON_ABS_ETA_EDGES,
    PHOTON_CUT_INPUTS,
    PHOTON_MENUS,
    CutBasedPhotonID,
    in_photon_acceptance,
    photon_cut_inputs,
)

N_IN = len(PHOTON_CUT_INPUTS)
#: +1 for the inputs cut from above (rhad1 and rhad both feed the upper cut on rhad).
DIRECTION = np.array(
    [1.0 if CUT_DIRECTIONS.get(name, "upper") == "upper" else -1.0 for name in PHOTON_CUT_INPUTS]
)
SPARSE_BIN = DEFAULT_PHOTON_ABS_ETA_EDGES.index(2.01)  # 2.01 ≤ |η| < 2.37
CRACK_BIN = DEFAULT_PHOTON_ABS_ETA_EDGES.index(1.37)


def _toy(rng, n):
    """Unit Gaussians; fakes shifted by one unit towards failing every cut."""
    is_prompt = rng.random(n) < 0.5
    values = rng.normal(size=(n, N_IN)) + np.where(is_prompt, 0.0, 1.0)[:, None] * DIRECTION
    eta = rng.uniform(0.0, 2.47, n) * rng.choice([-1.0, 1.0], n)
    return values, rng.uniform(10.0, 200.0, n), eta, is_prompt


@functools.cache
def _sample():
    rng = np.random.default_rng(42)
    values, et, eta, is_prompt = _toy(rng, 40_000)
    sparse = (np.abs(eta) >= 2.01) & (np.abs(eta) < 2.37) & is_prompt
    keep = ~sparse | (np.cumsum(sparse) <= 60)  # only 60 prompt photons in that bin
    weight = rng.uniform(0.5, 1.5, keep.sum())
    return values[keep], et[keep], eta[keep], is_prompt[keep], weight


@functools.cache
def _model():
    values, et, eta, is_prompt, weight = _sample()
    return CutBasedPhotonID.fit(values, et, eta, is_prompt, weight=weight)


def _good_photon(n=1):
    """Values that pass any cut fitted on the toy (far on the prompt side)."""
    return np.tile(-10.0 * DIRECTION, (n, 1))


# ------------------------------------------------------------------------- targets


def test_per_bin_efficiency_reaches_the_target():
    model = _model()
    values, et, eta, is_prompt, weight = _sample()
    abs_bin = np.searchsorted(DEFAULT_PHOTON_ABS_ETA_EDGES, np.abs(eta), side="right") - 1
    fitted = 0
    for menu, target in model.targets.items():
        passes = model.passes(menu, values, et, eta)
        for j in range(len(DEFAULT_PHOTON_ABS_ETA_EDGES) - 1):
            if model.from_inclusive[0, j]:
                continue
            fitted += 1
            sel = is_prompt & (abs_bin == j)
            efficiency = weight[sel & passes].sum() / weight[sel].sum()
            assert target <= efficiency < target + 0.002, (menu, j, efficiency)
            assert model.efficiency[menu][0, j] == pytest.approx(efficiency, abs=1e-12)
            assert target <= model.quantile[menu][0, j] <= 1.0
    assert fitted == 2 * 6  # every bin but the crack and the sparse one


def test_sparse_and_crack_bins_take_the_inclusive_cuts():
    model = _model()
    assert model.n_prompt[0, SPARSE_BIN] == 60 and model.n_prompt[0, CRACK_BIN] == 0
    expected = np.zeros_like(model.from_inclusive)
    expected[0, [SPARSE_BIN, CRACK_BIN]] = True
    np.testing.assert_array_equal(model.from_inclusive, expected)
    # the inclusive sample = all prompt photons in the acceptance = one bin 0–2.37
    values, et, eta, is_prompt, weight = _sample()
    one_bin = CutBasedPhotonID.fit(
        values, et, eta, is_prompt, weight=weight, abs_eta_edges=(0.0, 2.37)
    )
    for menu in model.cuts:
        for j in (SPARSE_BIN, CRACK_BIN):
            np.testing.assert_array_equal(model.cuts[menu][0, j], one_bin.cuts[menu][0, 0])
        assert not np.array_equal(model.cuts[menu][0, 0], one_bin.cuts[menu][0, 0])


def test_tight_is_a_subset_of_loose_with_cuts_at_least_as_tight():
    model = _model()
    rng = np.random.default_rng(1)
    values, et, eta, _ = _toy(rng, 20_000)
    loose, tight = (model.passes(m, values, et, eta) for m in ("loose", "tight"))
    assert tight.any() and not np.any(tight & ~loose)
    assert tight.sum() < loose.sum()
    for j, name in enumerate(PHOTON_MENUS["loose"]):
        k = PHOTON_MENUS["tight"].index(name)
        sign = 1.0 if CUT_DIRECTIONS[name] == "upper" else -1.0
        assert np.all(sign * model.cuts["tight"][..., k] <= sign * model.cuts["loose"][..., j])


def test_rejection_of_fakes_is_sensible():
    model = _model()
    values, et, eta, is_prompt = _toy(np.random.default_rng(2), 20_000)
    inside = in_photon_acceptance(eta)
    for menu in ("loose", "tight"):
        passes = model.passes(menu, values, et, eta)
        assert passes[inside & is_prompt].mean() > model.targets[menu] - 0.02
        assert passes[inside & ~is_prompt].mean() < 0.8 * passes[inside & is_prompt].mean()


# ------------------------------------------------------------------- acceptance, rhad


def test_crack_and_forward_photons_fail_every_menu():
    model = _model()
    eta = np.array([0.1, -1.36, 1.37, -1.45, 1.5199, 1.52, 2.36, -2.37, 2.4, 3.0])
    expected = np.array([1, 1, 0, 0, 0, 1, 1, 0, 0, 0], bool)
    np.testing.assert_array_equal(in_photon_acceptance(eta), expected)
    for menu in ("loose", "tight"):
        got = model.passes(menu, _good_photon(len(eta)), np.full(len(eta), 50.0), eta)
        np.testing.assert_array_equal(got, expected)


def test_et_binning_range_and_overflow():
    values, et, eta, is_prompt, weight = _sample()
    model = CutBasedPhotonID.fit(
        values, et, eta, is_prompt, weight=weight, et_edges=(20.0, 80.0, 150.0)
    )
    assert model.cuts["tight"].shape == (2, len(DEFAULT_PHOTON_ABS_ETA_EDGES) - 1, 9)
    got = model.passes("loose", _good_photon(3), [19.9, 100.0, 1e6], [0.1] * 3)
    np.testing.assert_array_equal(got, [False, True, True])
    np.testing.assert_array_equal(
        model.cut_values("tight", [1e6], [0.1]), model.cut_values("tight", [100.0], [0.1])
    )


def test_rhad1_is_cut_outside_and_rhad_inside_0p8_to_1p37():
    model = _model()
    eta = np.array([0.3, 0.79, 0.8, 1.2, 1.6, 2.2])
    uses_rhad = np.array([False, False, True, True, False, False])
    et = np.full(len(eta), 50.0)
    for column, used in ((0, ~uses_rhad), (1, uses_rhad)):
        values = _good_photon(len(eta))
        values[:, column] = 10.0  # hadronic leakage far above any cut
        np.testing.assert_array_equal(model.passes("loose", values, et, eta), ~used)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-3.0, 3.0), min_size=N_IN, max_size=N_IN),
    st.sampled_from([0.3, 0.7, 1.0, 1.3, 1.6, 1.9, 2.2, 2.3]),
    st.integers(0, N_IN - 1),
    st.floats(0.0, 5.0),
)
def test_moving_a_variable_towards_fakes_never_turns_fail_into_pass(row, abs_eta, col, step):
    model = _model()
    before = np.array([row])
    after = before.copy()
    after[0, col] += step * DIRECTION[col]  # up for upper cuts, down for lower cuts
    for menu in ("loose", "tight"):
        passed_before = model.passes(menu, before, [50.0], [abs_eta])[0]
        passed_after = model.passes(menu, after, [50.0], [abs_eta])[0]
        assert passed_before or not passed_after


# --------------------------------------------------------------------- JSON and errors


def test_json_round_trip_gives_identical_passes(tmp_path):
    model = _model()
    model.save(tmp_path / "photon_id.json")
    loaded = CutBasedPhotonID.load(tmp_path / "photon_id.json")
    assert loaded.to_dict() == model.to_dict()
    values, et, eta, _ = _toy(np.random.default_rng(3), 5000)
    for menu in ("loose", "tight"):
        np.testing.assert_array_equal(
            loaded.passes(menu, values, et, eta), model.passes(menu, values, et, eta)
        )
    data = model.to_dict()
    data["directions"]["reta"] = "upper"
    with pytest.raises(ValueError, match="reta"):
        CutBasedPhotonID.from_dict(data)
    data = model.to_dict()
    del data["cuts"]
    with pytest.raises(ValueError, match="cuts"):
        CutBasedPhotonID.from_dict(data)


def test_errors_name_what_is_wrong():
    model = _model()
    values, et, eta, is_prompt, _ = _sample()
    bad = values[:3].copy()
    bad[1, PHOTON_CUT_INPUTS.index("fside")] = np.nan
    with pytest.raises(ValueError, match="fside"):
        model.passes("loose", bad, et[:3], eta[:3])
    with pytest.raises(KeyError, match="medium"):
        model.passes("medium", values[:3], et[:3], eta[:3])
    with pytest.raises(ValueError, match="shape"):
        model.passes("loose", values[:3, :9], et[:3], eta[:3])
    with pytest.raises(ValueError, match="must not exceed"):
        CutBasedPhotonID.fit(values, et, eta, is_prompt, targets={"loose": 0.8, "tight": 0.9})
    with pytest.raises(ValueError, match="f1"):
        CutBasedPhotonID.fit(values, et, eta, is_prompt, menus={"loose": ("rhad", "f1")})
    with pytest.raises(ValueError, match="target efficiency of 'tight'"):
        CutBasedPhotonID.fit(values, et, eta, is_prompt, targets={"loose": 0.9, "tight": 0.0})
    with pytest.raises(ValueError, match="no prompt photons"):
        CutBasedPhotonID.fit(values, et, eta, np.zeros(len(et), bool))
    with pytest.raises(ValueError, match="missing input columns \\['ws3'\\]"):
        photon_cut_inputs({name: np.zeros(2) for name in PHOTON_CUT_INPUTS if name != "ws3"})
