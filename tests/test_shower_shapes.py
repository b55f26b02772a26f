"""Shower shapes on hand-built cells with answers worked out by hand."""

import math

import awkward as ak
import numpy as np
import pytest

from egamma_cnn import geometry as g
from egamma_cnn.features import shower_shapes

DPHI2 = 2 * math.pi / 256


def _cell(sampling, eta, phi):
    """Centre of the cell of ``sampling`` containing (eta, phi)."""
    _s, e, p, _, _ = g.cell_center(g.cell_id(sampling, eta, phi))
    return e, p


def _candidates(cluster_eta, cluster_phi):
    return ak.zip(
        {"clusterEta": cluster_eta, "clusterPhi": cluster_phi, "clusterE": cluster_eta * 0 + 50.0}
    )


def _event():
    eta0, phi0 = _cell(2, 0.0125, 0.01)
    cells = [
        (2, eta0, phi0, 10.0),
        (2, eta0 + 0.025, phi0, 2.0),
        (2, eta0, phi0 + DPHI2, 1.0),
        (2, eta0, phi0 + 3 * DPHI2, 0.5),  # 3x7 but not 3x3 / 3x5
        (2, eta0 + 0.05, phi0, 0.4),  # 7x7 but not 3x7
        (1, *_cell(1, eta0, phi0), 3.0),
        (3, *_cell(3, eta0, phi0), 1.0),
        (0, *_cell(0, eta0, phi0), 0.5),
        (12, *_cell(12, eta0 + 0.03, phi0), 0.9),
        (13, *_cell(13, eta0 + 0.03, phi0), 0.3),
        (12, *_cell(12, eta0 + 0.25, phi0), 5.0),  # outside the 0.24 x 0.24 window
    ]
    s, e, p, en = (np.array(c) for c in zip(*cells, strict=True))
    return eta0, phi0, s, e, p, en


def test_hand_computed_values():
    eta0, phi0, s, e, p, en = _event()
    cells = ak.zip(
        {
            "eta": [e.tolist()],
            "phi": [p.tolist()],
            "energy": [en.tolist()],
            "sampling": [s.tolist()],
        }
    )
    # slight offset of the cluster inside the central cell must not matter
    out = shower_shapes(cells, _candidates(ak.Array([[eta0 + 0.004]]), ak.Array([[phi0 - 0.003]])))
    r = {k: out[k][0][0] for k in out.fields}
    assert r["reta"] == pytest.approx(13.5 / 13.9)
    assert r["rphi"] == pytest.approx(13.0 / 13.5)
    assert r["weta2"] == pytest.approx(0.025 * math.sqrt(22) / 13)
    e_em = 13.5 + 3.0 + 1.0 + 0.5
    assert r["e_em"] == pytest.approx(e_em)
    assert r["f1"] == pytest.approx(3.0 / e_em)
    assert r["f3"] == pytest.approx(1.0 / e_em)
    tile_eta = _cell(12, eta0 + 0.03, phi0)[0]
    et_em = e_em / math.cosh(eta0 + 0.004)
    assert r["rhad1"] == pytest.approx(0.9 / math.cosh(tile_eta) / et_em)
    assert r["rhad"] == pytest.approx((0.9 + 0.3) / math.cosh(tile_eta) / et_em)


def test_defined_values_without_cells_and_candidates():
    empty = ak.Array([[], []], with_name=None)
    cells = ak.zip({"eta": empty, "phi": empty, "energy": empty, "sampling": empty})
    out = shower_shapes(cells, _candidates(ak.Array([[0.3], []]), ak.Array([[1.0], []])))
    assert ak.num(out).tolist() == [1, 0]
    assert all(out[k][0][0] == 0.0 for k in out.fields)


def test_negative_noise_never_gives_nan():
    eta0, phi0 = _cell(2, 0.5, 0.5)
    cells = ak.zip(
        {
            "eta": [[eta0, eta0 + 0.025]],
            "phi": [[phi0, phi0]],
            "energy": [[-0.1, -0.05]],
            "sampling": [[2, 2]],
        }
    )
    out = shower_shapes(cells, _candidates(ak.Array([[eta0]]), ak.Array([[phi0]])))
    assert all(np.isfinite(out[k][0][0]) for k in out.fields)


def test_nan_energy_is_an_error():
    cells = ak.zip({"eta": [[0.1]], "phi": [[0.1]], "energy": [[np.nan]], "sampling": [[2]]})
    with pytest.raises(ValueError, match="CaloCell_energy"):
        shower_shapes(cells, _candidates(ak.Array([[0.1]]), ak.Array([[0.1]])))
