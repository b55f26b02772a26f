"""Physics features (docs/INPUTS.md §3) on small hand-built events, answers worked by hand.

Every cell sits at a geometry cell centre. Grid reminders (docs/INPUTS.md §1): η unit
u = 0.025/24, φ unit v = 2π/256; the centre cell of a cluster is the 0.025 × v cell
containing it; barrel strips are 3u × 4v, end-cap strips at 1.8 < |η| < 2.0 are 4u × 4v.
"""

import math

import awkward as ak
import numpy as np
import pytest

from egamma_cnn import geometry as g
from egamma_cnn.features import (
    CALO_ISO_CONE_RADII,
    ELECTRON_HLV_NAMES,
    ENERGY_FLOW_NAMES,
    ISOLATION_NAMES,
    SHOWER_SHAPE_NAMES,
    TRACK_VARIABLE_NAMES,
    electron_features,
    energy_flow,
    isolation,
    photon_features,
    shower_shapes,
    track_variables,
)

U = 0.025 / 24  # η grid unit
V = 2 * math.pi / 256  # φ grid unit (one middle-layer cell)

ELECTRON_DEFAULTS = {
    "clusterEta": 0.0,
    "clusterPhi": 0.0,
    "clusterE": 50.0,
    "trackIdx": -1,
    "trackIdx1": -1,
    "trackIdx2": -1,
    "trackIdx3": -1,
    "trackIdx4": -1,
    "trackIdx5": -1,
    "nTracks": 0,
    "deltaEta1": 0.0,
    "deltaPhiRescaled2": 0.0,
}
PHOTON_DEFAULTS = {
    "clusterEta": 0.0,
    "clusterPhi": 0.0,
    "clusterE": 50.0,
    "trackIdx1": -1,
    "trackIdx2": -1,
}
TRACK_DEFAULTS = {
    "pt": 10.0,
    "eta": 0.0,
    "phi": 0.0,
    "charge": -1,
    "d0": 0.0,
    "d0Err": 0.01,
    "z0": 0.0,
    "nBLayerHits": 0,
    "nPixelHits": 0,
    "nSCTHits": 0,
    "ndof": 0,
    "deltaPOverP": 0.0,
    "eProbabilityHT": 0.0,
}


# ---------------------------------------------------------------------------------------------
# helpers


def _centre(sampling, eta, phi):
    """Geometry centre (η, φ) of the ``sampling`` cell containing (eta, phi)."""
    _s, e, p, _, _ = g.cell_center(g.cell_id(sampling, eta, phi))
    return e, p


def _records(events, defaults):
    """Jagged records (one list per event) with explicit dtypes, also for empty events."""
    counts = np.array([len(ev) for ev in events], np.int64)
    columns = {}
    for name, default in defaults.items():
        dtype = np.int64 if isinstance(default, int) else np.float64
        values = np.array([r.get(name, default) for ev in events for r in ev], dtype=dtype)
        columns[name] = ak.unflatten(values, counts)
    return ak.zip(columns)


def _cells(events, snap=True):
    """Cells from per-event lists of (sampling, eta, phi, energy), snapped to cell centres."""
    rows = []
    for ev in events:
        row = []
        for s, eta, phi, e in ev:
            if snap:
                eta, phi = _centre(s, eta, phi)
            row.append({"eta": eta, "phi": phi, "energy": e, "sampling": s})
        rows.append(row)
    return _records(rows, {"eta": 0.0, "phi": 0.0, "energy": 0.0, "sampling": 0})


def _electrons(events):
    return _records(events, ELECTRON_DEFAULTS)


def _photons(events):
    return _records(events, PHOTON_DEFAULTS)


def _tracks(events):
    return _records(events, TRACK_DEFAULTS)


def _one(out, event=0, cand=0):
    """Dict of the scalar fields of one candidate."""
    return {k: out[k][event][cand] for k in out.fields if k != "calo_iso_cones"}


# ---------------------------------------------------------------------------------------------
# strip variables


# Barrel: centre cell i_c = 20 (η 0.5–0.525, centre 492u). Strips are [480 + 3m, 483 + 3m)u,
# centre offset 3m − 10.5 from 492u: the ±30u window keeps m = −6 … 13 (20 strips).
# Strip φ: clusterPhi at φ position 130.5v lies in the strip φ cell [128, 132)v, on its upper
# half (130.5 ≥ 130), so the profile uses [128, 132) and [132, 136).
STRIP_PHI_A = -math.pi + 130 * V  # centre of [128, 132)
STRIP_PHI_B = -math.pi + 134 * V  # centre of [132, 136)
STRIP_PHI_OUT_LOW = -math.pi + 126 * V  # [124, 128): the neighbour on the far side
STRIP_PHI_OUT_HIGH = -math.pi + 138 * V  # [136, 140): two cells away
STRIP_CLUSTER_PHI = -math.pi + 130.5 * V


def _barrel_strip(m, phi, energy, sign=1):
    return (1, sign * (481.5 + 3 * m) * U, phi, energy)


def _strip_event(profile_cells, sign, extra=()):
    cells = [_barrel_strip(m, phi, e, sign) for m, phi, e in profile_cells]
    cells += [_barrel_strip(m, phi, e, sign) for m, phi, e in extra]
    # middle-layer cells do not enter the strip variables
    cells.append((2, sign * 0.5125, STRIP_CLUSTER_PHI, 30.0))
    return _cells([cells]), _electrons(
        [[{"clusterEta": sign * 0.51, "clusterPhi": STRIP_CLUSTER_PHI}]]
    )


# cells outside the strip window (η: m = −7 at −31.5u, m = 14 at +31.5u; φ: cells
# [124, 128) and [136, 140)) carry large energies that would change everything if included
STRIP_EXCLUDED = [
    (-7, STRIP_PHI_A, 50.0),
    (14, STRIP_PHI_A, 50.0),
    (2, STRIP_PHI_OUT_LOW, 20.0),
    (2, STRIP_PHI_OUT_HIGH, 20.0),
]


@pytest.mark.parametrize("sign", [1, -1])
def test_strip_variables_with_second_maximum(sign):
    # profile over m = −1 … 7 (indices 0 … 8); two φ cells summed per strip:
    #   p = [0.5, 1.0, 4.0, 10.0, 3.0, 1.0, 2.5, 0.8, 0.2], sum 23
    profile_cells = [
        (-1, STRIP_PHI_A, 0.5),
        (0, STRIP_PHI_B, 1.0),
        (1, STRIP_PHI_A, 3.0),
        (1, STRIP_PHI_B, 1.0),
        (2, STRIP_PHI_A, 7.0),
        (2, STRIP_PHI_B, 3.0),
        (3, STRIP_PHI_A, 3.0),
        (4, STRIP_PHI_A, 1.0),
        (5, STRIP_PHI_A, 2.0),
        (5, STRIP_PHI_B, 0.5),
        (6, STRIP_PHI_A, 0.8),
        (7, STRIP_PHI_B, 0.2),
    ]
    cells, electrons = _strip_event(profile_cells, sign, STRIP_EXCLUDED)
    r = _one(shower_shapes(cells, electrons))
    # i_max = 3; Σ p (i−3)² = 0.5·9 + 1·4 + 4·1 + 0 + 3·1 + 1·4 + 2.5·9 + 0.8·16 + 0.2·25 = 59.8
    assert r["wstot"] == pytest.approx(math.sqrt(59.8 / 23.0))
    # |i − 3| ≤ 1: (4·1 + 3·1) / (4 + 10 + 3)
    assert r["ws3"] == pytest.approx(math.sqrt(7.0 / 17.0))
    # E3 = 17, E7 = p0..p6 = 22
    assert r["fside"] == pytest.approx(5.0 / 17.0)
    # local maxima: 10 (i=3) and 2.5 (i=6); E_min between them = min(3, 1) = 1
    assert r["eratio"] == pytest.approx((10.0 - 2.5) / (10.0 + 2.5))
    assert r["deltae"] == pytest.approx(2.5 - 1.0)


def test_strips_below_threshold_are_zeros_not_gaps():
    # only strips m = 0 (10 GeV) and m = 3 (4 GeV) have cells; m = 1, 2 are below the noise
    # threshold. Native indices: distance 3, so w_stot = √(4·9/14), and m = 3 is a second
    # maximum with the zero strips between as E_min (a gap-closing profile would give
    # distance 1 and no room for a minimum).
    cells, electrons = _strip_event([(0, STRIP_PHI_A, 10.0), (3, STRIP_PHI_A, 4.0)], 1)
    r = _one(shower_shapes(cells, electrons))
    assert r["wstot"] == pytest.approx(math.sqrt(36.0 / 14.0))
    assert r["ws3"] == pytest.approx(0.0)
    assert r["fside"] == pytest.approx(4.0 / 10.0)
    assert r["eratio"] == pytest.approx(6.0 / 14.0)
    assert r["deltae"] == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("position", "own", "neighbour", "other"),
    [
        (130.5, 130, 134, 126),  # upper half of [128, 132)v: neighbour on the + side
        (130.0, 130, 134, 126),  # exactly at the centre: + side
        (129.5, 130, 126, 134),  # lower half: neighbour on the − side
        (1.5, 2, 254, 6),  # lower half of [0, 4)v: the neighbour is across φ = ±π
    ],
)
def test_strip_variables_single_peak(position, own, neighbour, other):
    # p = [1, 3, 8, 3, 1, 1] over m = 0 … 5; i_max = 2; the trailing plateau 1, 1 is no
    # local maximum (not strictly above its neighbour). φ positions in units of v from −π.
    phi_a, phi_b, phi_out = (-math.pi + x * V for x in (own, neighbour, other))
    profile_cells = [
        (0, phi_a, 1.0),
        (1, phi_b, 3.0),
        (2, phi_a, 6.0),
        (2, phi_b, 2.0),
        (3, phi_a, 3.0),
        (4, phi_a, 1.0),
        (5, phi_b, 1.0),
    ]
    excluded = [(-7, phi_a, 50.0), (14, phi_b, 50.0), (2, phi_out, 20.0)]
    cells = [_barrel_strip(m, phi, e) for m, phi, e in profile_cells + excluded]
    electrons = _electrons([[{"clusterEta": 0.51, "clusterPhi": -math.pi + position * V}]])
    r = _one(shower_shapes(_cells([cells]), electrons))
    # Σp = 17; Σ p d² = 1·4 + 3·1 + 0 + 3·1 + 1·4 + 1·9 = 23
    assert r["wstot"] == pytest.approx(math.sqrt(23.0 / 17.0))
    assert r["ws3"] == pytest.approx(math.sqrt(6.0 / 14.0))
    # E3 = 14, E7 = 17 (d = −2 … 3)
    assert r["fside"] == pytest.approx(3.0 / 14.0)
    assert r["eratio"] == pytest.approx(1.0)
    assert r["deltae"] == 0.0


def test_strip_variables_endcap_strips_count_one_index_each():
    # |η| 1.9: centre cell i_c = 76 (1.9–1.925, centre 1836u); strips 0.025/6 = 4u,
    # spans [1824 + 4m, 1828 + 4m)u, centre offset 4m − 10: m = −5 (offset −30, on the
    # closed window's edge: included) … 10; m = −6 (−34) and 11 (+34) are out.
    def strip(m, phi, e):
        return (5, (1826 + 4 * m) * U, phi, e)

    cells = [
        strip(-6, STRIP_PHI_A, 20.0),
        strip(-5, STRIP_PHI_A, 0.5),
        strip(-4, STRIP_PHI_B, 2.0),
        strip(-3, STRIP_PHI_A, 4.0),
        strip(-3, STRIP_PHI_B, 2.0),
        strip(-2, STRIP_PHI_A, 2.0),
        strip(-1, STRIP_PHI_A, 0.5),
        strip(0, STRIP_PHI_B, 1.5),
        strip(11, STRIP_PHI_A, 20.0),
        strip(-3, STRIP_PHI_OUT_LOW, 20.0),
    ]
    r = _one(
        shower_shapes(
            _cells([cells]), _electrons([[{"clusterEta": 1.91, "clusterPhi": STRIP_CLUSTER_PHI}]])
        )
    )
    # p = [0.5, 2, 6, 2, 0.5, 1.5] with one index per end-cap strip; i_max = 2, Σp = 12.5
    # Σ p d² = 0.5·4 + 2·1 + 0 + 2·1 + 0.5·4 + 1.5·9 = 21.5
    assert r["wstot"] == pytest.approx(math.sqrt(21.5 / 12.5))
    assert r["ws3"] == pytest.approx(math.sqrt(4.0 / 10.0))
    assert r["fside"] == pytest.approx(2.5 / 10.0)
    # second maximum: the last strip, 1.5 > 0.5 (outside the profile counts as −∞)
    assert r["eratio"] == pytest.approx((6.0 - 1.5) / (6.0 + 1.5))
    assert r["deltae"] == pytest.approx(1.5 - 0.5)


# ---------------------------------------------------------------------------------------------
# σ_ηη


def test_sigmaietaieta_cms_log_weights():
    eta0, phi0 = _centre(2, 0.5125, -math.pi + 129.5 * V)
    cells = [
        (2, eta0, phi0, 20.0),
        (2, eta0 + 0.025, phi0, 5.0),
        (2, eta0 - 0.025, phi0 + V, 2.0),
        (2, eta0 + 0.05, phi0 - 2 * V, 0.1),  # w = 4.7 + ln(0.1/26.8) < 0 → 0
        (2, eta0 - 0.025, phi0 - V, -0.3),  # E ≤ 0: w = 0, not in η̄, but in E(5×5)
        (2, eta0 + 0.075, phi0, 10.0),  # 7 cells in η: outside 5×5
        (2, eta0, phi0 + 3 * V, 10.0),  # outside 5×5 in φ
        (1, eta0, phi0, 10.0),  # strips do not enter
    ]
    out = shower_shapes(_cells([cells]), _electrons([[{"clusterEta": eta0, "clusterPhi": phi0}]]))
    r = _one(out)
    e55 = 20.0 + 5.0 + 2.0 + 0.1 - 0.3  # 26.8
    etas = [eta0, eta0 + 0.025, eta0 - 0.025]
    energies = [20.0, 5.0, 2.0]
    # η̄ over E > 0 cells: η0 + (5·0.025 − 2·0.025 + 0.1·0.05)/27.1
    mean = eta0 + (5 * 0.025 - 2 * 0.025 + 0.1 * 0.05) / 27.1
    w = [4.7 + math.log(e / e55) for e in energies]  # 4.407, 3.021, 2.105 (all > 0)
    assert 4.7 + math.log(0.1 / e55) < 0
    expected = math.sqrt(sum(wi * (x - mean) ** 2 for wi, x in zip(w, etas, strict=True)) / sum(w))
    assert r["sigmaietaieta"] == pytest.approx(expected, rel=1e-9)
    assert 0.01 < expected < 0.02  # in η units, not cells


# ---------------------------------------------------------------------------------------------
# calorimeter isolation


def test_calo_isolation_cones_and_core():
    # centre cell i_c = 20, j_c = 129: (η0, φ0) = (0.5125, −π + 129.5 v), cluster there
    eta0, phi0 = _centre(2, 0.5125, -math.pi + 129.5 * V)
    tile_phi = -math.pi + 130 * V  # Tile φ cell [128, 132)v, 0.5 v from φ0
    cells = [
        (2, eta0, phi0, 40.0),  # ΔR 0, core
        (12, 0.55, tile_phi, 2.0),  # Tile [0.5, 0.6): centre 36u from η0 → core; ΔR 0.0395
        (2, eta0 + 0.05, phi0 + 2 * V, 30.0),  # core (2 η cells, 2 φ cells); ΔR 0.0701
        (2, eta0, phi0 - 5 * V, -0.5),  # 5 φ cells: outside core; ΔR 0.1227, noise counts
        (2, eta0 + 0.15, phi0, 4.0),  # ΔR 0.15
        (12, 0.75, tile_phi, 1.5),  # Tile [0.7, 0.8), ΔR 0.2378
        (2, eta0 - 0.25, phi0, 3.0),  # ΔR 0.25
        (2, eta0 + 0.35, phi0, 2.0),  # ΔR 0.35
        (2, eta0 + 0.45, phi0, 100.0),  # ΔR 0.45: no cone
    ]
    electrons = _electrons([[{"clusterEta": eta0, "clusterPhi": phi0, "clusterE": 50.0}]])
    tracks = _tracks([[]])
    out = isolation(_cells([cells]), tracks, electrons, ak.Array([0.0]))

    def et(e, eta):
        return e / math.cosh(eta)

    et_centre = et(40.0, eta0)
    et_tile_core = et(2.0, 0.55)
    et_core = et(30.0, eta0 + 0.05)
    et_noise = et(-0.5, eta0)
    et_a = et(4.0, eta0 + 0.15)
    et_tile = et(1.5, 0.75)
    et_b = et(3.0, eta0 - 0.25)
    et_c = et(2.0, eta0 + 0.35)
    r = _one(out)
    etcone20 = et_noise + et_a
    etcone30 = etcone20 + et_tile + et_b
    etcone40 = etcone30 + et_c
    assert r["etcone20"] == pytest.approx(etcone20)
    assert r["etcone30"] == pytest.approx(etcone30)
    assert r["etcone40"] == pytest.approx(etcone40)

    # cone set: no core subtraction, divided by the candidate's E_T = 50 / cosh(η0)
    cones = out["calo_iso_cones"][0][0].to_list()
    assert len(cones) == 16 == len(CALO_ISO_CONE_RADII)
    pt = 50.0 / math.cosh(eta0)
    expected = {
        0.025: et_centre,
        0.05: et_centre + et_tile_core,
        0.1: et_centre + et_tile_core + et_core,
        0.2: et_centre + et_tile_core + et_core + et_noise + et_a,
        0.3: et_centre + et_tile_core + et_core + et_noise + et_a + et_tile + et_b,
        0.4: et_centre + et_tile_core + et_core + et_noise + et_a + et_tile + et_b + et_c,
    }
    for radius, value in expected.items():
        assert cones[CALO_ISO_CONE_RADII.index(radius)] == pytest.approx(value / pt), radius
    assert cones[0] == pytest.approx(0.8)  # 40/cosh η0 over 50/cosh η0


# ---------------------------------------------------------------------------------------------
# track isolation

PV_Z = 5.0
# tracks around (η, φ) = (0.6, 0.04), the best-track direction of electron 0
ISO_TRACKS = [
    {"pt": 40.0, "eta": 0.6, "phi": 0.04, "z0": PV_Z},  # 0: best track of electron 0
    {"pt": 5.0, "eta": 0.6, "phi": 0.09, "z0": PV_Z},  # 1: matched (slot 2), ΔR 0.05
    {"pt": 3.0, "eta": 0.65, "phi": 0.04, "z0": PV_Z},  # 2: ΔR 0.05
    {"pt": 2.0, "eta": 0.45, "phi": 0.04, "z0": PV_Z},  # 3: ΔR 0.15
    {"pt": 4.0, "eta": 0.85, "phi": 0.04, "z0": PV_Z},  # 4: ΔR 0.25
    {"pt": 6.0, "eta": 0.25, "phi": 0.04, "z0": PV_Z},  # 5: ΔR 0.35
    {"pt": 0.9, "eta": 0.62, "phi": 0.04, "z0": PV_Z},  # 6: pT < 1 GeV
    {"pt": 1.0, "eta": 0.6, "phi": 0.02, "z0": PV_Z},  # 7: pT = 1 GeV is not > 1 GeV
    # 8: |Δz0 sin θ| = 5/cosh 0.65 = 4.6 mm ≥ 3 mm: out
    {"pt": 7.0, "eta": 0.65, "phi": 0.04, "z0": PV_Z + 5.0},
    # 9: |Δz0 sin θ| = 3.2/cosh 0.55 = 2.77 mm < 3 mm: in (|Δz0| alone would be 3.2)
    {"pt": 8.0, "eta": 0.55, "phi": 0.04, "z0": PV_Z - 3.2},
]


def test_track_isolation_electrons():
    eta0 = 0.5125
    electrons = _electrons(
        [
            [
                # E_T = 100: ptvarcone radius min(10/100, R_max) = 0.1 for both;
                # direction = best track (0.6, 0.04), not the cluster
                {
                    "clusterEta": eta0,
                    "clusterPhi": 0.01,
                    "clusterE": 100.0 * math.cosh(eta0),
                    "trackIdx": 0,
                    "trackIdx1": 0,
                    "trackIdx2": 1,
                },
                # no tracks of its own: direction = cluster (0.6, 0.04);
                # E_T = 10/0.22: ptvarcone20 radius 0.2, ptvarcone30 radius 0.22
                {"clusterEta": 0.6, "clusterPhi": 0.04, "clusterE": 10.0 / 0.22 * math.cosh(0.6)},
            ]
        ]
    )
    cells = _cells([[(2, eta0, 0.01, 1.0)]])
    out = isolation(cells, _tracks([ISO_TRACKS]), electrons, ak.Array([PV_Z]))
    r0 = _one(out, 0, 0)
    # counted: t2 (3, 0.05), t3 (2, 0.15), t4 (4, 0.25), t5 (6, 0.35), t9 (8, 0.05)
    assert r0["ptcone20"] == pytest.approx(3 + 2 + 8)
    assert r0["ptcone30"] == pytest.approx(3 + 2 + 8 + 4)
    assert r0["ptcone40"] == pytest.approx(3 + 2 + 8 + 4 + 6)
    assert r0["ptvarcone20"] == pytest.approx(3 + 8)
    assert r0["ptvarcone30"] == pytest.approx(3 + 8)
    r1 = _one(out, 0, 1)
    # t0 (40, ΔR 0) and t1 (5, 0.05) are no longer own tracks
    assert r1["ptcone20"] == pytest.approx(40 + 5 + 3 + 2 + 8)
    assert r1["ptcone30"] == pytest.approx(40 + 5 + 3 + 2 + 8 + 4)
    assert r1["ptcone40"] == pytest.approx(40 + 5 + 3 + 2 + 8 + 4 + 6)
    assert r1["ptvarcone20"] == pytest.approx(40 + 5 + 3 + 2 + 8)
    assert r1["ptvarcone30"] == pytest.approx(40 + 5 + 3 + 2 + 8)  # t4 at 0.25 > 0.22


def test_track_isolation_photons_use_cluster_and_skip_conversion_tracks():
    # photon at (0.6, 0.04) with conversion tracks 5 and 1; E_T = 100 → variable radius 0.1.
    # If the direction were conversion track 5's (0.25, 0.04), the answers would differ.
    photons = _photons(
        [
            [
                {
                    "clusterEta": 0.6,
                    "clusterPhi": 0.04,
                    "clusterE": 100.0 * math.cosh(0.6),
                    "trackIdx1": 5,
                    "trackIdx2": 1,
                }
            ]
        ]
    )
    cells = _cells([[(2, 0.6, 0.04, 1.0)]])
    out = isolation(cells, _tracks([ISO_TRACKS]), photons, ak.Array([PV_Z]), kind="photon")
    r = _one(out)
    # counted: t0 (40, 0), t2 (3, 0.05), t3 (2, 0.15), t4 (4, 0.25), t9 (8, 0.05)
    assert r["ptcone20"] == pytest.approx(40 + 3 + 2 + 8)
    assert r["ptcone30"] == pytest.approx(40 + 3 + 2 + 8 + 4)
    assert r["ptcone40"] == pytest.approx(40 + 3 + 2 + 8 + 4)  # t5 is a conversion track
    assert r["ptvarcone20"] == pytest.approx(40 + 3 + 8)
    assert r["ptvarcone30"] == pytest.approx(40 + 3 + 8)


# ---------------------------------------------------------------------------------------------
# energy flow

# centre cell i_c = 20, j_c = 129. Pixel (a, b) of the 7 × 11 grid has its centre at
# η = 0.025 (i_c − 3 + a + 0.5), φ = −π + v (j_c − 5 + b + 0.5); (a, b) = (3, 5) is the
# centre cell.
EF_ETA0 = 0.5125
EF_PHI0 = -math.pi + 129.5 * V


def _ef_event(cells):
    return energy_flow(
        _cells([cells]), _electrons([[{"clusterEta": 0.515, "clusterPhi": EF_PHI0 + 0.003}]])
    )


def _theta(p, q):
    return math.hypot(p[0] - q[0], p[1] - q[1])


def _pair_mass(et1, p1, et2, p2):
    # two massless four-vectors: m² = 2 pT1 pT2 (cosh Δη − cos Δφ)
    return math.sqrt(2 * et1 * et2 * (math.cosh(p1[0] - p2[0]) - math.cos(p1[1] - p2[1])))


def test_energy_flow_two_pixels():
    p1 = (EF_ETA0, EF_PHI0)
    p2 = (EF_ETA0 + 0.05, EF_PHI0 + 2 * V)
    cells = [
        (2, *p1, 20.0),
        (2, *p2, 10.0),
        (2, EF_ETA0 + 0.025, EF_PHI0 + V, -1.0),  # E_T ≤ 0: left out
        (12, 0.55, EF_PHI0, 50.0),  # hadronic: not in the EM image
        (2, EF_ETA0 + 0.1, EF_PHI0, 5.0),  # a = 7: outside the 7 × 11 window
        (2, EF_ETA0, EF_PHI0 + 6 * V, 5.0),  # b = 11: outside
    ]
    r = _one(_ef_event(cells))
    et1 = 20.0 / math.cosh(p1[0])
    et2 = 10.0 / math.cosh(p2[0])
    z1, z2 = et1 / (et1 + et2), et2 / (et1 + et2)
    theta = math.hypot(0.05, 2 * V)
    assert r["ptd"] == pytest.approx(z1**2 + z2**2)
    # ordered pairs: (1, 2) and (2, 1)
    assert r["efp2_b05"] == pytest.approx(2 * z1 * z2 * theta**0.5)
    assert r["efp2_b1"] == pytest.approx(2 * z1 * z2 * theta)
    assert r["efp2_b2"] == pytest.approx(2 * z1 * z2 * theta**2)
    assert r["efp3_triangle_b05"] == 0.0
    assert r["mass"] == pytest.approx(_pair_mass(et1, p1, et2, p2))


def test_energy_flow_sums_em_layers_with_pixel_centre_et():
    # EMB3 cell [0.5, 0.55) × φ0 (centre η 0.525) shares 4 + 4 between pixels a = 3 and 4;
    # EMB2 adds 26 and 6: pixel energies 30 and 10 at η 0.5125 and 0.5375, Δφ = 0.
    cells = [
        (3, 0.525, EF_PHI0, 8.0),
        (2, EF_ETA0, EF_PHI0, 26.0),
        (2, EF_ETA0 + 0.025, EF_PHI0, 6.0),
    ]
    r = _one(_ef_event(cells))
    # E_T with the pixel-centre η (not the EMB3 centre 0.525)
    et1 = 30.0 / math.cosh(0.5125)
    et2 = 10.0 / math.cosh(0.5375)
    z1, z2 = et1 / (et1 + et2), et2 / (et1 + et2)
    assert r["ptd"] == pytest.approx(z1**2 + z2**2, rel=1e-12)
    assert r["efp2_b1"] == pytest.approx(2 * z1 * z2 * 0.025, rel=1e-9)
    assert r["mass"] == pytest.approx(_pair_mass(et1, (0.5125, 0.0), et2, (0.5375, 0.0)), rel=1e-6)


def test_energy_flow_three_pixels_triangle():
    p = [
        (EF_ETA0, EF_PHI0),
        (EF_ETA0 + 0.05, EF_PHI0 + 2 * V),
        (EF_ETA0 - 0.025, EF_PHI0 - 3 * V),
    ]
    energies = [20.0, 10.0, 15.0]
    r = _one(_ef_event([(2, *pos, e) for pos, e in zip(p, energies, strict=True)]))
    et = [e / math.cosh(pos[0]) for pos, e in zip(p, energies, strict=True)]
    z = [x / sum(et) for x in et]
    t12, t23, t13 = _theta(p[0], p[1]), _theta(p[1], p[2]), _theta(p[0], p[2])
    assert r["ptd"] == pytest.approx(sum(x * x for x in z))
    assert r["efp2_b1"] == pytest.approx(
        2 * (z[0] * z[1] * t12 + z[1] * z[2] * t23 + z[0] * z[2] * t13)
    )
    assert r["efp2_b05"] == pytest.approx(
        2 * (z[0] * z[1] * t12**0.5 + z[1] * z[2] * t23**0.5 + z[0] * z[2] * t13**0.5)
    )
    # 3! ordered triples of the one distinct triple
    assert r["efp3_triangle_b05"] == pytest.approx(
        6 * z[0] * z[1] * z[2] * math.sqrt(t12 * t23 * t13)
    )
    # m² of massless vectors = Σ_{a<b} 2 pT_a pT_b (cosh Δη − cos Δφ)
    m2 = sum(_pair_mass(et[a], p[a], et[b], p[b]) ** 2 for a, b in ((0, 1), (1, 2), (0, 2)))
    assert r["mass"] == pytest.approx(math.sqrt(m2))


# ---------------------------------------------------------------------------------------------
# track variables


def test_track_variables():
    tracks = _tracks(
        [
            [
                {
                    "pt": 20.0,
                    "eta": 0.5,
                    "phi": 0.1,
                    "charge": 1,
                    "d0": -0.05,
                    "d0Err": 0.02,
                    "nBLayerHits": 1,
                    "nPixelHits": 4,
                    "nSCTHits": 8,
                    "ndof": 20,
                    "deltaPOverP": 0.1,
                    "eProbabilityHT": 0.3,
                },
                {"pt": 2.0, "charge": 1, "nSCTHits": 6},
                {"pt": 3.0, "charge": -1, "nSCTHits": 4},
                {"pt": 5.0, "eta": 0.5, "d0": 0.2, "d0Err": 0.0, "charge": -1},
            ]
        ]
    )
    electrons = _electrons(
        [
            [
                {
                    "clusterE": 50.0,
                    "clusterEta": 0.52,
                    "clusterPhi": 0.1,
                    "trackIdx": 0,
                    "trackIdx1": 0,
                    "trackIdx2": 1,
                    "trackIdx3": 2,
                    "nTracks": 3,
                    "deltaEta1": 0.002,
                    "deltaPhiRescaled2": -0.004,
                },
                {"clusterE": 30.0, "clusterEta": -1.1, "nTracks": 0, "deltaEta1": 0.5},
                {"clusterE": 40.0, "clusterEta": 0.4, "trackIdx": 3, "trackIdx1": 3},
            ]
        ]
    )
    out = track_variables(tracks, electrons)
    assert set(out.fields) == set(TRACK_VARIABLE_NAMES)
    r = _one(out, 0, 0)
    assert r["nBLayerHits"] == 1
    assert r["nPixelHits"] == 4
    assert r["nSCTHits"] == 8
    assert r["ndof"] == 20
    assert r["d0"] == pytest.approx(-0.05)
    assert r["d0sig"] == pytest.approx(-2.5)  # −0.05 / 0.02
    assert r["qd0sig"] == pytest.approx(2.5)  # (+1)·|−0.05| / 0.02
    assert r["dpOverP"] == pytest.approx(0.1)
    assert r["eProbabilityHT"] == pytest.approx(0.3)
    # (+1·8 + 1·6 − 1·4) / (8 + 6 + 4)
    assert r["qSCTw"] == pytest.approx(10.0 / 18.0)
    assert r["eOverP"] == pytest.approx(50.0 / (20.0 * math.cosh(0.5)))
    assert r["etOverPt"] == pytest.approx(50.0 / math.cosh(0.52) / 20.0)
    assert r["deltaEta1"] == pytest.approx(0.002)
    assert r["deltaPhiRescaled2"] == pytest.approx(-0.004)
    assert r["nTracks"] == 3
    assert r["et"] == pytest.approx(50.0 / math.cosh(0.52))
    assert r["eta"] == pytest.approx(0.52)

    # no best track and no matched tracks: track variables 0, the rest passed through
    r = _one(out, 0, 1)
    for name in (
        "nBLayerHits",
        "nPixelHits",
        "nSCTHits",
        "ndof",
        "d0",
        "d0sig",
        "dpOverP",
        "qd0sig",
        "qSCTw",
        "eProbabilityHT",
        "eOverP",
        "etOverPt",
    ):
        assert r[name] == 0.0, name
    assert r["deltaEta1"] == pytest.approx(0.5)
    assert r["nTracks"] == 0
    assert r["et"] == pytest.approx(30.0 / math.cosh(-1.1))
    assert r["eta"] == pytest.approx(-1.1)

    # σ(d0) = 0: d0sig and qd0sig are 0, not inf
    r = _one(out, 0, 2)
    assert r["d0"] == pytest.approx(0.2)
    assert r["d0sig"] == 0.0
    assert r["qd0sig"] == 0.0
    assert r["qSCTw"] == 0.0  # Σ nSCT = 0
    assert r["eOverP"] == pytest.approx(40.0 / (5.0 * math.cosh(0.5)))


# ---------------------------------------------------------------------------------------------
# whole-event entry points


def _events(cells, tracks, electrons, photons, pv_z):
    return ak.zip(
        {
            "CaloCell": cells,
            "Track": tracks,
            "Electron": electrons,
            "Photon": photons,
            "PV": ak.zip({"z": pv_z}),
        },
        depth_limit=1,
    )


def test_electron_and_photon_features_agree_with_the_groups():
    eta0, phi0 = _centre(2, 0.5125, -math.pi + 129.5 * V)
    cells = _cells([[(2, eta0, phi0, 20.0), (2, eta0 + 0.15, phi0, 2.0), (1, eta0, phi0, 5.0)]])
    tracks = _tracks([[{"pt": 20.0, "eta": eta0, "phi": phi0}, {"pt": 3.0, "eta": 0.6}]])
    electrons = _electrons(
        [[{"clusterEta": eta0, "clusterPhi": phi0, "trackIdx": 0, "trackIdx1": 0}]]
    )
    photons = _photons([[{"clusterEta": eta0, "clusterPhi": phi0}]])
    events = _events(cells, tracks, electrons, photons, ak.Array([0.0]))
    ele = electron_features(events)
    assert set(ELECTRON_HLV_NAMES) <= set(ele.fields)
    pho = photon_features(events)
    assert "qSCTw" not in pho.fields
    for name in SHOWER_SHAPE_NAMES:
        assert ele[name][0][0] == shower_shapes(cells, electrons)[name][0][0]
    for name in ENERGY_FLOW_NAMES:
        assert pho[name][0][0] == energy_flow(cells, photons)[name][0][0]
    iso = isolation(cells, tracks, electrons, ak.Array([0.0]))
    for name in ISOLATION_NAMES:
        assert ele[name][0][0] == iso[name][0][0]
    assert ele["ptcone40"][0][0] == pytest.approx(3.0)  # the best track is its own


# ---------------------------------------------------------------------------------------------
# bad input and empty input


def _ok_candidates():
    return _electrons([[{"clusterEta": 0.1, "clusterPhi": 0.1}]])


def test_nan_energy_names_calocell_energy():
    cells = _cells([[(2, 0.1, 0.1, 1.0), (2, 0.125, 0.1, math.nan)]])
    with pytest.raises(ValueError, match="CaloCell_energy"):
        shower_shapes(cells, _ok_candidates())
    with pytest.raises(ValueError, match="CaloCell_energy"):
        energy_flow(cells, _ok_candidates())


def test_unknown_sampling_names_calocell_sampling():
    cells = _cells([[(17, 0.1, 0.1, 1.0)]], snap=False)
    with pytest.raises(ValueError, match="CaloCell_sampling"):
        shower_shapes(cells, _ok_candidates())


def test_off_centre_cell_names_calocell_eta():
    eta, phi = _centre(2, 0.1, 0.1)
    cells = _cells([[(2, eta + 0.4 * 0.025, phi, 1.0)]], snap=False)  # 0.4 of a cell off
    with pytest.raises(ValueError, match="CaloCell_eta"):
        shower_shapes(cells, _ok_candidates())


def test_nan_cluster_eta_is_an_error():
    cells = _cells([[(2, 0.1, 0.1, 1.0)]])
    with pytest.raises(ValueError, match="clusterEta"):
        shower_shapes(cells, _electrons([[{"clusterEta": math.nan, "clusterPhi": 0.1}]]))


def test_track_index_out_of_range_is_an_error():
    tracks = _tracks([[{"pt": 5.0}, {"pt": 6.0}]])
    with pytest.raises(ValueError, match="trackIdx"):
        track_variables(tracks, _electrons([[{"trackIdx": 2}]]))
    with pytest.raises(ValueError, match="trackIdx3"):
        track_variables(tracks, _electrons([[{"trackIdx": 0, "trackIdx3": 5}]]))
    cells = _cells([[(2, 0.1, 0.1, 1.0)]])
    with pytest.raises(ValueError, match="trackIdx"):
        isolation(cells, tracks, _electrons([[{"trackIdx": 2}]]), ak.Array([0.0]))


def _full_events(n_events, with_candidates):
    cells = _cells([[(2, 0.1, 0.1, 1.0)]] * n_events)
    tracks = _tracks([[{"pt": 5.0}]] * n_events)
    electrons = _electrons(
        [[{"clusterEta": 0.1, "clusterPhi": 0.1}] if with_candidates else []] * n_events
    )
    photons = _photons(
        [[{"clusterEta": 0.1, "clusterPhi": 0.1}] if with_candidates else []] * n_events
    )
    return _events(cells, tracks, electrons, photons, ak.Array(np.zeros(n_events)))


def _expected_electron_fields():
    return {
        *SHOWER_SHAPE_NAMES,
        *ISOLATION_NAMES,
        "calo_iso_cones",
        *ENERGY_FLOW_NAMES,
        *TRACK_VARIABLE_NAMES,
    }


@pytest.mark.parametrize("n_events", [0, 2])
def test_no_candidates_give_zero_length_outputs(n_events):
    events = _full_events(n_events, with_candidates=False)
    ele = electron_features(events)
    assert len(ele) == n_events
    assert ak.num(ele, axis=1).to_list() == [0] * n_events
    assert set(ele.fields) == _expected_electron_fields()
    pho = photon_features(events)
    assert len(pho) == n_events
    assert set(pho.fields) == _expected_electron_fields() - set(TRACK_VARIABLE_NAMES)
    shapes = shower_shapes(events.CaloCell, events.Electron)
    assert set(shapes.fields) == set(SHOWER_SHAPE_NAMES)
    assert len(ak.flatten(shapes.reta)) == 0


def test_zero_events_with_candidates_type():
    events = _full_events(3, with_candidates=True)[:0]
    ele = electron_features(events)
    assert len(ele) == 0
    assert set(ele.fields) == _expected_electron_fields()


def test_candidate_without_cells_gives_zeros():
    cells = _cells([[], [(2, 0.1, 0.1, 1.0)]])
    electrons = _electrons([[{"clusterEta": 0.3, "clusterPhi": 1.0, "clusterE": 0.0}], []])
    tracks = _tracks([[], []])
    events = _events(cells, tracks, electrons, _photons([[], []]), ak.Array([0.0, 0.0]))
    out = electron_features(events)
    assert ak.num(out).to_list() == [1, 0]
    r = _one(out)
    for name in (*SHOWER_SHAPE_NAMES, *ISOLATION_NAMES, *ENERGY_FLOW_NAMES):
        assert r[name] == 0.0, name
    assert r["eratio"] == 0.0
    assert out["calo_iso_cones"][0][0].to_list() == [0.0] * 16
    # E_T = 0: ratios with it are 0, not NaN
    values = np.concatenate(
        [np.asarray(ak.flatten(out[k], axis=None), np.float64) for k in out.fields]
    )
    assert np.all(np.isfinite(values))
