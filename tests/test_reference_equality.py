"""The numba kernels equal the plain-Python reference (tests/reference.py) on random events.

The reference implements docs/INPUTS.md a second time, independently and slowly; the
random events (tests/random_events.py) put candidates in the crack, the end-cap strip
regions, at φ ≈ ±π and exactly on grid edges, with noise cells of negative energy.
"""

from __future__ import annotations

import awkward as ak
import dask_awkward as dak
import numpy as np
import pytest
import reference
from random_events import events_to_awkward, random_event

from egamma_cnn.features import (
    ENERGY_FLOW_NAMES,
    ISOLATION_NAMES,
    SHOWER_SHAPE_NAMES,
    TRACK_VARIABLE_NAMES,
    feature_columns,
)
from egamma_cnn.features.columns import GROUPS
from egamma_cnn.images import (
    electron_image_batch,
    electron_images,
    photon_image_batch,
    track_array_batch,
)

N_EVENTS = 12


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(20261123)
    events = [random_event(rng, n_cells=150, n_tracks=10, n_candidates=3) for _ in range(N_EVENTS)]
    return events, events_to_awkward(events)


def _candidates(events, collection):
    for index, event in enumerate(events):
        for k in range(len(event[collection]["clusterEta"])):
            yield index, event, {name: values[k] for name, values in event[collection].items()}


def _cells(event):
    cells = event["CaloCell"]
    return cells["eta"], cells["phi"], cells["energy"], cells["sampling"]


def test_images_and_track_arrays_equal_the_reference(sample):
    events, arrays = sample
    electrons = electron_image_batch(arrays["CaloCell"], arrays["Electron"])
    tracks = track_array_batch(arrays["Track"], arrays["Electron"])
    photons = photon_image_batch(arrays["CaloCell"], arrays["Photon"])
    n = 0
    for n, (_, event, el) in enumerate(_candidates(events, "Electron")):
        expected = reference.reference_electron_images(
            *_cells(event), el["clusterEta"], el["clusterPhi"]
        )
        for name in ("coarse", "fine"):
            np.testing.assert_allclose(electrons[name][n], expected[name], atol=2e-5, rtol=1e-5)
        slots = [el[f"trackIdx{i}"] for i in range(1, 6)]
        expected_tracks = reference.reference_track_array(
            event["Track"], el["trackIdx"], slots, el["clusterE"]
        )
        np.testing.assert_allclose(tracks[n], expected_tracks, atol=1e-5, rtol=1e-5)
    assert n > 10
    for n, (_, event, ph) in enumerate(_candidates(events, "Photon")):
        expected = reference.reference_photon_images(
            *_cells(event), ph["clusterEta"], ph["clusterPhi"]
        )
        for name in ("strips", "middle", "back"):
            np.testing.assert_allclose(photons[name][n], expected[name], atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["electron", "photon"])
def test_features_equal_the_reference(sample, kind):
    events, arrays = sample
    collection = "Electron" if kind == "electron" else "Photon"
    groups = GROUPS if kind == "electron" else ("shower_shapes", "isolation", "energy_flow")
    features = feature_columns(
        arrays["CaloCell"],
        arrays["Track"],
        arrays[collection],
        arrays["PV_z"],
        kind=kind,
        groups=groups,
    )
    flat = {name: ak.to_numpy(ak.flatten(features[name], axis=1)) for name in features.fields}
    for n, (_, event, cand) in enumerate(_candidates(events, collection)):
        cells = _cells(event)
        expected = reference.reference_shower_shapes(*cells, cand["clusterEta"], cand["clusterPhi"])
        expected |= reference.reference_energy_flow(*cells, cand["clusterEta"], cand["clusterPhi"])
        if kind == "electron":
            slots = [cand[f"trackIdx{i}"] for i in range(1, 6)]
            expected |= reference.reference_isolation(
                *cells,
                event["Track"],
                event["PV_z"],
                cand["clusterEta"],
                cand["clusterPhi"],
                cand["clusterE"],
                cand["trackIdx"],
                [cand["trackIdx"], *slots],
            )
            expected |= reference.reference_track_variables(
                event["Track"],
                cand["trackIdx"],
                slots,
                cand["clusterE"],
                cand["clusterEta"],
                cand["nTracks"],
                cand["deltaEta1"],
                cand["deltaPhiRescaled2"],
            )
        else:
            expected |= reference.reference_isolation(
                *cells,
                event["Track"],
                event["PV_z"],
                cand["clusterEta"],
                cand["clusterPhi"],
                cand["clusterE"],
                -1,
                [cand["trackIdx1"], cand["trackIdx2"]],
            )
        names = SHOWER_SHAPE_NAMES + ISOLATION_NAMES + ENERGY_FLOW_NAMES
        if kind == "electron":
            names += TRACK_VARIABLE_NAMES
        for name in names:
            # energy-flow observables are computed from the float32 image
            tolerance = 1e-5 if name in ENERGY_FLOW_NAMES else 1e-7
            assert flat[name][n] == pytest.approx(expected[name], rel=tolerance, abs=tolerance), (
                name,
                n,
            )
        np.testing.assert_allclose(
            flat["calo_iso_cones"][n], expected["calo_iso_cones"], rtol=1e-7, atol=1e-9
        )


def test_chunks_and_dask_partitions_change_nothing(sample):
    _, arrays = sample
    whole = electron_images(arrays["CaloCell"], arrays["Electron"])
    features = feature_columns(
        arrays["CaloCell"],
        arrays["Track"],
        arrays["Electron"],
        arrays["PV_z"],
        kind="electron",
        groups=GROUPS,
    )
    lazy = {name: dak.from_awkward(array, npartitions=4) for name, array in arrays.items()}
    lazy_images = electron_images(lazy["CaloCell"], lazy["Electron"]).compute()
    lazy_features = feature_columns(
        lazy["CaloCell"],
        lazy["Track"],
        lazy["Electron"],
        lazy["PV_z"],
        kind="electron",
        groups=GROUPS,
    ).compute()
    assert ak.all(ak.flatten(lazy_images.coarse == whole.coarse, axis=None))
    assert ak.all(ak.flatten(lazy_images.fine == whole.fine, axis=None))
    for name in features.fields:
        assert ak.all(ak.flatten(lazy_features[name] == features[name], axis=None)), name
    # eager chunks of uneven sizes
    pieces = [(0, 1), (1, 5), (5, N_EVENTS)]
    joined = ak.concatenate(
        [
            feature_columns(
                arrays["CaloCell"][a:b],
                arrays["Track"][a:b],
                arrays["Electron"][a:b],
                arrays["PV_z"][a:b],
                kind="electron",
                groups=GROUPS,
            )
            for a, b in pieces
        ]
    )
    for name in features.fields:
        assert ak.all(ak.flatten(joined[name] == features[name], axis=None)), name
