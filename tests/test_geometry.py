"""Geometry look-ups: cell ids round-trip through their centres, granularities match SPEC."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egamma_cnn import geometry as g


@pytest.mark.parametrize(
    ("sampling", "abs_eta", "deta", "dphi"),
    [
        (g.CaloSampling.EMB2, 0.3, 0.025, 2 * np.pi / 256),
        (g.CaloSampling.EMB1, 1.0, 0.025 / 8, 2 * np.pi / 64),
        (g.CaloSampling.EME1, 1.9, 0.025 / 6, 2 * np.pi / 64),
        (g.CaloSampling.EME1, 2.2, 0.025 / 4, 2 * np.pi / 64),
        (g.CaloSampling.EME1, 2.45, 0.025, 2 * np.pi / 64),
        (g.CaloSampling.EMB3, 0.5, 0.05, 2 * np.pi / 256),
        (g.CaloSampling.TileBar0, 0.5, 0.1, 2 * np.pi / 64),
        (g.CaloSampling.TileBar2, 0.5, 0.2, 2 * np.pi / 64),
        (g.CaloSampling.HEC2, 2.0, 0.1, 2 * np.pi / 64),
        (g.CaloSampling.PreSamplerB, 0.7, 0.025, 2 * np.pi / 64),
    ],
)
def test_granularity_matches_spec(sampling, abs_eta, deta, dphi):
    for eta in (abs_eta, -abs_eta):
        c = g.cell_id(int(sampling), eta, 0.3)
        s, ce, _, de, dp = g.cell_center(c)
        assert s == sampling
        assert de == pytest.approx(deta)
        assert dp == pytest.approx(dphi)
        assert abs(ce - eta) <= deta / 2 + 1e-12


def test_outside_coverage_is_minus_one():
    assert g.cell_id(int(g.CaloSampling.EMB2), 1.6, 0.0) == -1
    assert g.cell_id(int(g.CaloSampling.EME2), 0.5, 0.0) == -1
    assert g.cell_id(int(g.CaloSampling.HEC0), 2.7, 0.0) == -1
    assert g.cell_id(7, 3.0, 0.0) == -1


def test_cell_ids_are_dense_and_unique():
    regions = [(r, s) for r in g.REGIONS for s in (1, -1)]
    total = sum(r.n_eta * r.n_phi for r, _ in regions)
    assert total == g.N_CELLS
    centres = g.cell_centers(np.arange(g.N_CELLS))
    back = g.cell_ids(centres["sampling"], centres["eta"], centres["phi"])
    np.testing.assert_array_equal(back, np.arange(g.N_CELLS))


@settings(max_examples=300, deadline=None)
@given(
    sampling=st.sampled_from([int(s) for s in g.CaloSampling]),
    eta=st.floats(-2.5, 2.5),
    phi=st.floats(-10.0, 10.0),
)
def test_point_lies_in_its_cell(sampling, eta, phi):
    c = g.cell_id(sampling, eta, phi)
    if c < 0:
        lo, hi = g.layer_coverage(sampling)
        assert not (lo + 1e-9 < abs(eta) < hi - 1e-9)
        return
    s, ce, cp, de, dp = g.cell_center(c)
    assert s == sampling
    assert abs(ce - eta) <= de / 2 + 1e-9
    assert abs(g.wrap_phi(cp - phi)) <= dp / 2 + 1e-9


def test_phi_wraps():
    a = g.cell_id(2, 0.1, np.pi - 1e-6)
    b = g.cell_id(2, 0.1, -np.pi + 1e-6)
    c = g.cell_id(2, 0.1, np.pi + 1e-6)
    assert b == c
    assert a != b


def test_unknown_sampling_name():
    with pytest.raises(ValueError, match="unknown calorimeter sampling 15"):
        g.sampling_name(15)
    with pytest.raises(ValueError, match="outside"):
        g.cell_centers(np.array([g.N_CELLS]))
