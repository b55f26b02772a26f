"""Calorimeter images and track arrays: hand-built cases and properties."""

from __future__ import annotations

import math
from pathlib import Path

import awkward as ak
import dask_awkward as dak
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egamma_cnn import geometry as g
from egamma_cnn.cellgrid import prepare_cells
from egamma_cnn.images import (
    COARSE_SAMPLINGS,
    TRACK_FEATURES,
    electron_image_batch,
    electron_images,
    photon_images,
    track_array_batch,
    track_arrays,
)

DATA = Path(__file__).parent / "data"
V = 2 * math.pi / 256  # φ pitch of the middle layer
SAMPLINGS = [int(s) for s in g.CaloSampling]


def centre(sampling, eta, phi):
    """(η, φ) of the centre of the cell of ``sampling`` containing (η, φ)."""
    cell = g.cell_id(sampling, eta, phi)
    assert cell >= 0, (sampling, eta, phi)
    _s, e, p, _, _ = g.cell_center(cell)
    return e, p


def l2_centre(i_eta, j_phi):
    """Centre of the middle-layer grid cell (i, j)."""
    return 0.025 * (i_eta + 0.5), -math.pi + V * (j_phi + 0.5)


def make_cells(cells_per_event):
    """Jagged cell records from lists of (sampling, eta, phi, energy)."""
    columns = {"eta": [], "phi": [], "energy": [], "sampling": []}
    for cells in cells_per_event:
        columns["sampling"].append([c[0] for c in cells])
        columns["eta"].append([c[1] for c in cells])
        columns["phi"].append([c[2] for c in cells])
        columns["energy"].append([c[3] for c in cells])
    return ak.zip({k: ak.Array(v) for k, v in columns.items()})


def make_candidates(positions_per_event):
    return ak.zip(
        {
            "clusterEta": ak.Array([[p[0] for p in ev] for ev in positions_per_event]),
            "clusterPhi": ak.Array([[p[1] for p in ev] for ev in positions_per_event]),
            "clusterE": ak.Array([[50.0 for _ in ev] for ev in positions_per_event]),
        }
    )


def channel(sampling):
    return COARSE_SAMPLINGS.index(sampling)


# ---------------------------------------------------------------------------------------
# Hand-built cases


def test_tile_cell_is_shared_equally_over_sixteen_pixels():
    # centre cell i_c = 12 (η 0.3–0.325), j_c = 100; window η [0.225, 0.4), φ pixels 95..105
    eta0, phi0 = l2_centre(12, 100)
    # the Tile cell [0.3, 0.4) in η covers pixels 3..6; φ cell [96, 100) units → pixels 1..4
    tile_eta, tile_phi = centre(12, 0.35, -math.pi + V * 98)
    images = electron_image_batch(
        make_cells([[(12, tile_eta, tile_phi, 8.0)]]), make_candidates([[(eta0, phi0)]])
    )
    image = images["coarse"][0, channel(12)]
    expected = np.zeros((7, 11))
    expected[3:7, 1:5] = 0.5
    np.testing.assert_allclose(image, expected, rtol=1e-6)
    assert images["coarse"][0].sum() == pytest.approx(8.0)


def test_cell_centred_on_the_window_edge_is_included_whole():
    # EMB3 cells are 0.05 wide; with i_c = 13 the window is η [0.25, 0.425). The cell
    # [0.4, 0.45) has its centre 0.425 exactly on the upper edge: in, all 3 GeV in pixel 6.
    # The cell [0.2, 0.25) has its centre 0.225 outside: out.
    eta0, phi0 = l2_centre(13, 40)
    cells = [(3, *centre(3, 0.42, phi0), 3.0), (3, *centre(3, 0.22, phi0), 5.0)]
    image = electron_image_batch(make_cells([cells]), make_candidates([[(eta0, phi0)]]))["coarse"][
        0, channel(3)
    ]
    assert image[6, 5] == pytest.approx(3.0)
    assert image.sum() == pytest.approx(3.0)


def test_endcap_strips_are_overlap_weighted_in_the_fine_image():
    # 1.8 < |η| < 2.0: strips of 0.025/6 = 4 grid units against fine pixels of 3 units.
    # Window of i_c = 76 (η 1.9–1.925) starts at 24·73 = 1752 units (η 1.825).
    eta0, phi0 = l2_centre(76, 10)
    # the strip [1752 + 4, 1752 + 8) units covers fine pixels 1 (units 3–6: overlap 2)
    # and 2 (units 6–9: overlap 2): half each
    strip_eta = (1752 + 6) * 0.025 / 24
    cells = [(5, *centre(5, strip_eta, phi0), 1.2)]
    fine = electron_image_batch(make_cells([cells]), make_candidates([[(eta0, phi0)]]))["fine"]
    profile = fine[0, 0].sum(axis=1)
    assert profile[1] == pytest.approx(0.6)
    assert profile[2] == pytest.approx(0.6)
    assert fine.sum() == pytest.approx(1.2)
    # the strip's φ cell (4 units) is shared over the φ pixels of the window it covers
    assert np.count_nonzero(fine[0, 0, 1]) in (3, 4)


def test_strip_in_the_coarse_image_goes_to_the_pixel_that_contains_it():
    eta0, phi0 = l2_centre(20, 200)
    strip_eta = 0.025 * 21 + 0.025 / 16  # first strip of middle cell 21 → pixel 4 in η
    cells = [(1, *centre(1, strip_eta, phi0), 2.0)]
    coarse = electron_image_batch(make_cells([cells]), make_candidates([[(eta0, phi0)]]))["coarse"][
        0, channel(1)
    ]
    assert coarse[4].sum() == pytest.approx(2.0)
    assert coarse.sum() == pytest.approx(2.0)


def test_layers_not_crossed_are_zero_and_channels_follow_coarse_samplings():
    eta0, phi0 = l2_centre(4, 7)
    cells = [(s, *centre(s, eta0, phi0), 1.0) for s in (0, 1, 2, 3, 12, 13, 14)]
    coarse = electron_image_batch(make_cells([cells]), make_candidates([[(eta0, phi0)]]))["coarse"][
        0
    ]
    sums = coarse.sum(axis=(1, 2))
    for s in SAMPLINGS:
        assert sums[channel(s)] == pytest.approx(1.0 if s in (0, 1, 2, 3, 12, 13, 14) else 0.0)


def test_photon_images_native_pitch():
    eta0, phi0 = l2_centre(30, 64)  # j_c = 64: strip φ cells [60, 64), [64, 68), [68, 72)
    cells = [
        (1, *centre(1, eta0, phi0), 4.0),  # strip at η pixel 8·3 + 4 = 28? see below
        (2, eta0, phi0, 10.0),
        (3, *centre(3, eta0, phi0), 2.0),
    ]
    images = photon_images(make_cells([cells]), make_candidates([[(eta0, phi0)]]))
    strips = np.asarray(images.strips[0][0])
    middle = np.asarray(images.middle[0][0])
    back = np.asarray(images.back[0][0])
    assert strips.shape == (56, 3) and middle.shape == (7, 11) and back.shape == (4, 11)
    # the strip containing the centre of cell 30 is the 5th of its 8 strips: η pixel 24 + 4
    assert strips[28, 1] == pytest.approx(4.0)
    assert middle[3, 5] == pytest.approx(10.0)
    # i_c − 3 = 27 is odd: the back window starts at middle index 26, the centre cell's
    # back cell [30, 32) is back pixel 2
    assert back[2, 5] == pytest.approx(2.0)
    assert back.sum() == pytest.approx(2.0)


def test_track_array_hand_values():
    tracks = ak.zip(
        {
            "pt": [[40.0, 2.0, 5.0]],
            "eta": [[0.5, 0.55, 0.3]],
            "phi": [[3.1, -3.1, 3.0]],
            "nPixelHits": [[4, 3, 0]],
            "nSCTHits": [[8, 7, 6]],
            "nTRTHits": [[30, 20, 0]],
            "d0": [[0.01, -0.2, 1.0]],
            "d0Err": [[0.01, 0.02, 0.1]],
            "z0": [[1.0, 2.0, 3.0]],
            "charge": [[-1, 1, -1]],
            "chi2": [[30.0, 20.0, 10.0]],
            "ndof": [[35, 25, 15]],
            "vtxIdx": [[0, 0, -1]],
        }
    )
    electrons = ak.zip(
        {
            "clusterE": [[45.0]],
            "trackIdx": [[0]],
            "trackIdx1": [[0]],
            "trackIdx2": [[1]],
            "trackIdx3": [[-1]],
            "trackIdx4": [[-1]],
            "trackIdx5": [[-1]],
        }
    )
    arrays = track_array_batch(tracks, electrons)
    assert arrays.shape == (1, 5, len(TRACK_FEATURES))
    first, second = arrays[0, 0], arrays[0, 1]
    assert first[0] == pytest.approx(40 * math.cosh(0.5) / 45, rel=1e-6)
    assert first[1] == 0 and first[2] == 0
    assert second[1] == pytest.approx(0.05, abs=1e-6)
    # φ difference across the seam: −3.1 − 3.1 + 2π
    assert second[2] == pytest.approx(2 * math.pi - 6.2, abs=1e-6)
    assert second[3:].tolist() == pytest.approx([3, 7, 20, -0.2, 0.02, 2.0, 1, 20, 25, 0])
    assert not arrays[0, 2:].any()
    jagged = track_arrays(tracks, electrons)
    assert str(jagged.type) == "1 * var * 5 * 13 * float32"


def test_track_index_out_of_range_is_an_error():
    tracks = ak.zip({name: [[1.0]] for name in ("pt", "eta", "phi")})
    tracks = ak.with_field(tracks, [[0.0]], "nPixelHits")
    for name in ("nSCTHits", "nTRTHits", "d0", "d0Err", "z0", "charge", "chi2", "ndof"):
        tracks = ak.with_field(tracks, [[0.0]], name)
    tracks = ak.with_field(tracks, [[0]], "vtxIdx")
    fields = {"clusterE": [[10.0]], "trackIdx": [[0]]}
    fields.update({f"trackIdx{i}": [[-1]] for i in range(1, 6)})
    fields["trackIdx2"] = [[3]]
    with pytest.raises(ValueError, match="trackIdx2 is 3"):
        track_arrays(tracks, ak.zip(fields))


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ((2, 0.0125, 0.01, float("nan")), "CaloCell_energy"),
        ((2, 0.0125, 0.01, float("inf")), "CaloCell_energy"),
        ((17, 0.0125, 0.01, 1.0), "CaloCell_sampling is 17"),
        ((2, 0.0, 0.01, 1.0), "not the centre"),
        ((12, 1.2, 0.01, 1.0), "outside the coverage"),
    ],
)
def test_bad_cells_are_named(cell, message):
    with pytest.raises(ValueError, match=message):
        electron_images(make_cells([[cell]]), make_candidates([[(0.0125, 0.01)]]))


def test_nan_cluster_position_is_named():
    with pytest.raises(ValueError, match="clusterPhi"):
        electron_images(make_cells([[]]), make_candidates([[(0.1, float("nan"))]]))


def test_empty_events_candidates_and_files():
    cells = make_cells([[], [(2, *l2_centre(4, 4), 1.0)], []])
    images = electron_images(cells, make_candidates([[], [], [(0.2, 0.3)]]))
    assert ak.num(images).tolist() == [0, 0, 1]
    assert not np.asarray(images.coarse[2]).any()  # a candidate with no cells: zeros
    none = electron_images(cells[:0], make_candidates([[], [], []])[:0])
    assert len(none) == 0
    assert (
        str(none.type) == "0 * var * {coarse: 18 * 7 * 11 * float32, fine: 1 * 56 * 11 * float32}"
    )


def test_batch_and_awkward_share_one_buffer():
    cells = make_cells([[(2, *l2_centre(4, 4), 1.0)]])
    images = electron_images(cells, make_candidates([[(0.11, -math.pi + V * 4.5)]]))
    layout = images.coarse.layout
    assert isinstance(layout, ak.contents.ListOffsetArray)
    assert layout.content.data.flags["C_CONTIGUOUS"]
    assert layout.content.data.shape == (1, 18, 7, 11)


# ---------------------------------------------------------------------------------------
# Properties on random events


def random_event(rng, cluster_eta, cluster_phi, n_cells=150, spread=0.3):
    """Cells at true cell centres of random layers around one cluster position."""
    cells = {}
    for _ in range(n_cells):
        sampling = SAMPLINGS[rng.integers(len(SAMPLINGS))]
        eta = cluster_eta + rng.uniform(-spread, spread)
        phi = float(g.wrap_phi(cluster_phi + rng.uniform(-spread, spread)))
        cell = g.cell_id(sampling, eta, phi)
        if cell >= 0:
            _s, e, p, _, _ = g.cell_center(cell)
            cells[cell] = (sampling, e, p, float(rng.normal(0.5, 1.0)))
    return list(cells.values())


def in_window_energy(cells, cluster_eta, cluster_phi, samplings):
    """Energy of the cells whose centres lie in the closed 7 × 11 window (grid units)."""
    table = prepare_cells(
        np.array([0, len(cells)]),
        np.array([c[1] for c in cells]),
        np.array([c[2] for c in cells]),
        np.array([c[3] for c in cells]),
        np.array([c[0] for c in cells]),
    )
    i_c = math.floor(cluster_eta / 0.025)
    j_c = math.floor((cluster_phi + math.pi) / V) % 256
    total = 0.0
    for k, cell in enumerate(cells):
        if cell[0] not in samplings:
            continue
        eta2 = table.eta_lo[k] + table.eta_hi[k] - 2 * 24 * (i_c - 3)
        rel = (table.phi_lo[k] - (j_c - 5)) % 256
        rel = rel - 256 if rel >= 128 else rel
        phi2 = 2 * rel + table.phi_hi[k] - table.phi_lo[k]
        if 0 <= eta2 <= 2 * 168 and 0 <= phi2 <= 22:
            total += cell[3]
    return total


positions = st.tuples(
    st.floats(-2.45, 2.45, allow_nan=False), st.floats(-math.pi, math.pi, exclude_max=True)
)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), position=positions)
def test_pixels_sum_to_the_in_window_cell_energy(seed, position):
    rng = np.random.default_rng(seed)
    cells = random_event(rng, *position)
    batch = electron_image_batch(make_cells([cells]), make_candidates([[position]]))
    expected = in_window_energy(cells, *position, set(SAMPLINGS))
    assert batch["coarse"].sum(dtype=np.float64) == pytest.approx(expected, abs=1e-4)
    strips = in_window_energy(cells, *position, {1, 5})
    assert batch["fine"].sum(dtype=np.float64) == pytest.approx(strips, abs=1e-4)
    assert batch["coarse"][0, [channel(1), channel(5)]].sum(dtype=np.float64) == pytest.approx(
        strips, abs=1e-4
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    i_c=st.integers(-24, 16),
    j_c=st.integers(0, 255),
    shift_eta=st.integers(-1, 1),
    shift_phi=st.integers(-8, 8),
)
def test_translation_invariance(seed, i_c, j_c, shift_eta, shift_phi):
    # |η| < 0.8 has one granularity per layer; moving cells and cluster by 8 middle cells
    # in η (0.2: a whole Tile back cell) and 4k in φ (a whole coarse φ cell) moves the grid
    # onto itself.
    rng = np.random.default_rng(seed)
    eta0 = 0.025 * (i_c + rng.uniform(0.01, 0.99))
    phi0 = -math.pi + V * (j_c + rng.uniform(0.01, 0.99))
    cells = [c for c in random_event(rng, eta0, phi0, spread=0.2) if abs(c[1]) < 0.55]
    d_eta, d_phi = 0.2 * shift_eta, 4 * V * shift_phi
    moved = [(s, e + d_eta, float(g.wrap_phi(p + d_phi)), en) for s, e, p, en in cells]
    first = electron_image_batch(make_cells([cells]), make_candidates([[(eta0, phi0)]]))
    second = electron_image_batch(
        make_cells([moved]),
        make_candidates([[(eta0 + d_eta, float(g.wrap_phi(phi0 + d_phi)))]]),
    )
    for name in first:
        np.testing.assert_allclose(first[name], second[name], atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), eta=st.floats(-2.4, 2.4), epsilon=st.floats(0.001, 0.04))
def test_phi_seam(seed, eta, epsilon):
    # a candidate at φ = π − ε and the same event rotated by a whole number of coarse φ
    # cells so that the candidate sits at −π + ε' give the same images
    rng = np.random.default_rng(seed)
    phi0 = math.pi - epsilon
    cells = random_event(rng, eta, phi0, spread=0.25)
    rotation = 4 * V * math.ceil(2 * epsilon / (4 * V))
    rotated = [(s, e, float(g.wrap_phi(p + rotation)), en) for s, e, p, en in cells]
    new_phi = float(g.wrap_phi(phi0 + rotation))
    assert new_phi < 0
    before = electron_image_batch(make_cells([cells]), make_candidates([[(eta, phi0)]]))
    after = electron_image_batch(make_cells([rotated]), make_candidates([[(eta, new_phi)]]))
    for name in before:
        np.testing.assert_allclose(before[name], after[name], atol=1e-5)
    photon_before = photon_images(make_cells([cells]), make_candidates([[(eta, phi0)]]))
    photon_after = photon_images(make_cells([rotated]), make_candidates([[(eta, new_phi)]]))
    for name in photon_before.fields:
        np.testing.assert_allclose(
            ak.to_numpy(photon_before[name][0]), ak.to_numpy(photon_after[name][0]), atol=1e-5
        )


@pytest.mark.filterwarnings("ignore:You have set steps_per_file:RuntimeWarning")
def test_chunk_invariance_and_eager_equals_dask():
    from egamma_cnn.nanoevents import open_events

    events = open_events(DATA / "zee_mc.root")
    whole = electron_images(events.CaloCell, events.Electron)
    parts = [
        electron_images(events.CaloCell[a:b], events.Electron[a:b]) for a, b in ((0, 13), (13, 40))
    ]
    joined = ak.concatenate(parts)
    assert ak.all(ak.flatten(joined.coarse == whole.coarse, axis=None))
    assert ak.all(ak.flatten(joined.fine == whole.fine, axis=None))

    lazy = open_events(DATA / "zee_mc.root", mode="dask", steps_per_file=3)
    images = electron_images(lazy.CaloCell, lazy.Electron)
    assert isinstance(images, dak.Array)
    columns = set().union(*dak.necessary_columns(images).values())
    assert columns == {
        "nCaloCell",
        "CaloCell_eta",
        "CaloCell_phi",
        "CaloCell_energy",
        "CaloCell_sampling",
        "nElectron",
        "Electron_clusterEta",
        "Electron_clusterPhi",
    }
    computed = images.compute()
    assert ak.all(ak.flatten(computed.coarse == whole.coarse, axis=None))
    tracks = track_arrays(lazy.Track, lazy.Electron).compute()
    assert ak.all(ak.flatten(tracks == track_arrays(events.Track, events.Electron), axis=None))
    photons = photon_images(lazy.CaloCell, lazy.Photon).compute()
    eager_photons = photon_images(events.CaloCell, events.Photon)
    for name in ("strips", "middle", "back"):
        assert ak.all(ak.flatten(photons[name] == eager_photons[name], axis=None))
