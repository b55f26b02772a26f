"""The electron CNN column computes only what its model reads, with the same numbers bit for bit."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from egamma_cnn.columnar import clear_memo, jagged_cell_table, offsets_of
from egamma_cnn.corrections.fudge import FudgeFactors, FudgeFile, write_correctionlib
from egamma_cnn.features import GROUPS, electron_features
from egamma_cnn.features.columns import GROUP_OUTPUTS, feature_values, needed_columns
from egamma_cnn.features.energy_flow import ENERGY_FLOW_NAMES, compute_energy_flow
from egamma_cnn.features.isolation import compute_calo_isolation
from egamma_cnn.identification import _electron_columns, electron_identification
from egamma_cnn.nanoevents import open_events

DATA = Path(__file__).parent / "data"


def _flat(array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array, axis=1))


def _assert_same_columns(after, before) -> None:
    assert after.fields == before.fields
    for name in after.fields:
        if name == "cnn_probs":
            for cls in after.cnn_probs.fields:
                np.testing.assert_array_equal(
                    _flat(after.cnn_probs[cls]), _flat(before.cnn_probs[cls])
                )
        else:
            np.testing.assert_array_equal(_flat(after[name]), _flat(before[name]))


@pytest.mark.parametrize("sample", ["zee_mc.root", "zee_datalike.root"])
def test_scores_identical_with_and_without_the_saving(sample):
    events = open_events(DATA / sample)
    clear_memo()
    after = electron_identification(events.CaloCell, events.Track, events.Electron)
    before = _electron_columns(events.CaloCell, events.Track, events.Electron, all_features=True)
    assert len(_flat(after.cnn_score)) > 0
    _assert_same_columns(after, before)


def test_scores_identical_on_a_selection_of_candidates():
    """Selected electrons (event_index): the own-track cut renumbers into the right events."""
    events = open_events(DATA / "zee_mc.root")
    electrons = events.Electron[events.Electron.pt > 25]
    kwargs = {"event_index": electrons.eventIndex}
    after = electron_identification(events.CaloCell, events.Track, electrons, **kwargs)
    before = _electron_columns(
        events.CaloCell, events.Track, electrons, all_features=True, **kwargs
    )
    assert 0 < len(_flat(after.cnn_score)) < len(_flat(events.Electron.pt))
    _assert_same_columns(after, before)


def test_scores_identical_with_fudge_factors(tmp_path):
    path = tmp_path / "fudge.json"
    edges_et, edges_eta = np.array([5.0, 40.0, 250.0]), np.array([-2.5, 0.0, 2.5])
    ones = np.ones((2, 2))
    write_correctionlib(
        {"reta": FudgeFactors("reta", edges_et, edges_eta, ones * 0.95, ones * 0.94, ones * 1.4)},
        path,
    )
    events = open_events(DATA / "zee_mc.root")
    cells, tracks, electrons = events.CaloCell, events.Track, events.Electron
    after = electron_identification(cells, tracks, electrons, fudge=path)
    before = _electron_columns(cells, tracks, electrons, fudge=FudgeFile(path), all_features=True)
    plain = electron_identification(cells, tracks, electrons)
    _assert_same_columns(after, before)
    assert np.mean(_flat(after.cnn_score) != _flat(plain.cnn_score)) > 0.5  # the fudge acts


def _columns(events) -> dict:
    return needed_columns(
        events.CaloCell, events.Track, events.Electron, events.PV.z, "electron", GROUPS
    )


def test_feature_values_of_a_subset_are_those_of_the_full_computation():
    events = open_events(DATA / "zee_mc.root")
    columns = _columns(events)
    full = feature_values(columns, kind="electron", groups=GROUPS)
    assert set(full) == {name for group in GROUPS for name in GROUP_OUTPUTS[group]}
    # the public record API still gives every feature, with the same numbers
    record = electron_features(events)
    for name in ("reta", "efp3_triangle_b05", "ptcone20", "eOverP"):
        np.testing.assert_array_equal(_flat(record[name]), full[name])
    assert _flat(record.calo_iso_cones).shape == full["calo_iso_cones"].shape
    for names in (("reta", "eOverP"), ("etcone20",), ("ptd", "mass"), ("ptcone30", "f1")):
        subset = feature_values(columns, kind="electron", groups=GROUPS, names=names)
        assert list(subset) == [n for n in full if n in names]
        for name in names:
            np.testing.assert_array_equal(subset[name], full[name])


def test_feature_values_refuses_a_name_its_groups_do_not_compute():
    events = open_events(DATA / "zee_mc.root")
    columns = needed_columns(
        events.CaloCell, None, events.Electron, None, "electron", ("shower_shapes",)
    )
    with pytest.raises(ValueError, match=r"\['eOverP'\] are not outputs"):
        feature_values(columns, kind="electron", groups=("shower_shapes",), names=("eOverP",))


def test_skipped_triangle_and_cone_set_leave_the_other_values_unchanged():
    events = open_events(DATA / "zee_mc.root")
    cells = jagged_cell_table(
        events.CaloCell.eta, events.CaloCell.phi, events.CaloCell.energy, events.CaloCell.sampling
    )
    offsets = offsets_of(events.Electron.clusterEta)
    eta = _flat(events.Electron.clusterEta).astype(np.float64)
    phi = _flat(events.Electron.clusterPhi).astype(np.float64)
    energy = _flat(events.Electron.clusterE).astype(np.float64)
    with_triangle = compute_energy_flow(cells, offsets, eta, phi)
    without = compute_energy_flow(cells, offsets, eta, phi, triangle=False)
    k = ENERGY_FLOW_NAMES.index("efp3_triangle_b05")
    assert np.all(without[:, k] == 0) and np.any(with_triangle[:, k] != 0)
    others = [j for j in range(len(ENERGY_FLOW_NAMES)) if j != k]
    np.testing.assert_array_equal(without[:, others], with_triangle[:, others])
    etcone, cones = compute_calo_isolation(cells, offsets, eta, phi, energy)
    etcone_only, no_cones = compute_calo_isolation(cells, offsets, eta, phi, energy, cone_set=False)
    np.testing.assert_array_equal(etcone_only, etcone)
    assert no_cones.shape == (len(eta), 0) and cones.shape == (len(eta), 16)


def test_a_bad_track_index_is_named_before_the_tracks_are_cut():
    events = open_events(DATA / "zee_mc.root")
    electrons = events.Electron
    bad = ak.where(ak.local_index(electrons.trackIdx2) == 0, 10_000, electrons.trackIdx2)
    electrons = ak.with_field(electrons, bad, "trackIdx2")
    with pytest.raises(ValueError, match="trackIdx2 is 10000"):
        electron_identification(events.CaloCell, events.Track, electrons)
