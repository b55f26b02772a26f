"""The identification columns: what users type, eager = dask, chunking, edge cases, errors."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import awkward as ak
import dask
import numpy as np
import pytest
import uproot

from egamma_cnn import identification
from egamma_cnn.features import ELECTRON_HLV_NAMES, electron_features
from egamma_cnn.filecache import FileChangedError
from egamma_cnn.identification import (
    LikelihoodFile,
    class_fractions,
    electron_discriminant,
    electron_identification,
    load_identification_model,
    photon_identification,
)
from egamma_cnn.images import electron_image_batch, photon_image_batch, track_array_batch
from egamma_cnn.model import (
    ELECTRON_CLASS_NAMES,
    LIKELIHOOD_INPUTS,
    LikelihoodID,
    ModelMetadataError,
    OnnxModel,
    discriminant,
    load_model,
    predict_class_fractions,
)
from egamma_cnn.model.onnx_model import shipped_model_path
from egamma_cnn.nanoevents import EGammaSchema, open_events

MC = Path(__file__).parent / "data" / "zee_mc.root"
COLLECTIONS = ("CaloCell", "Track", "Electron", "Photon", "GenPart")


def flat(array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array, axis=1))


def rewrite(tmp_path: Path, name: str, *, events=slice(None), empty=(), drop=()) -> Path:
    """A copy of the shipped MC file with some events, empty collections or no branches."""
    with uproot.open(MC) as f:
        arrays = f["Events"].arrays(library="ak")[events]
        metadata = json.dumps(json.loads(f["egamma_cnn_metadata"]))
    tree: dict = {}
    for key in arrays.fields:
        collection = key.split("_", 1)[0]
        if key in drop or (key.startswith("n") and key[1:] in COLLECTIONS):
            continue
        if collection in COLLECTIONS and "_" in key:
            tree.setdefault(collection, {})[key.split("_", 1)[1]] = arrays[key]
        else:
            tree[key] = ak.to_numpy(arrays[key])
    for collection in COLLECTIONS:
        if collection in tree:
            zipped = ak.zip(tree[collection])
            tree[collection] = zipped[:, :0] if collection in empty else zipped
    path = tmp_path / name
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v for k, v in tree.items()})
        f["egamma_cnn_metadata"] = metadata
    return path


@pytest.fixture(scope="module")
def events():
    return open_events(MC)


@pytest.fixture(scope="module")
def ids(events):
    return electron_identification(
        events.CaloCell, events.Track, events.Electron, event_index=events.Electron.eventIndex
    )


def test_the_columns_users_type(events):
    electrons, photons = events.Electron, events.Photon
    score = flat(electrons.cnn_score)
    assert score.dtype == np.float64 and np.all((score >= 0) & (score <= 1))
    assert set(electrons.cnn_probs.fields) == set(ELECTRON_CLASS_NAMES)
    total = sum(flat(electrons.cnn_probs[name]) for name in ELECTRON_CLASS_NAMES)
    np.testing.assert_allclose(total, 1.0, rtol=1e-5)
    for wp in ("cnn_loose", "cnn_medium", "cnn_tight"):
        assert flat(getattr(electrons, wp)).dtype == bool
    tight = electrons[electrons.cnn_tight]
    assert ak.all(tight.cnn_score >= 0)
    assert ak.sum(ak.num(tight)) == flat(electrons.cnn_tight).sum() > 0
    # prompt electrons of a Z→ee file mostly pass tight; LF hadrons mostly fail
    truth = flat(electrons.truthClass)
    assert flat(electrons.cnn_tight)[truth == 0].mean() > 0.6
    assert flat(electrons.cnn_tight)[truth == 5].mean() < 0.2
    assert ak.num(photons.cnn_score).tolist() == ak.num(photons).tolist()
    assert flat(photons.cnn_tight).dtype == bool
    # the features are columns too, and equal to the features functions
    features = electron_features(events)
    for name in ("reta", "weta2", "etcone20", "ptvarcone30", "ptd", "d0sig", "eOverP"):
        np.testing.assert_array_equal(flat(getattr(electrons, name)), flat(features[name]))
    assert electrons.features.mass.ndim == 2  # a name the four-vector owns stays its own
    np.testing.assert_array_equal(flat(electrons.mass), flat(events.Electron.mass))


def test_scores_equal_a_direct_onnxruntime_call(events):
    import onnxruntime as ort

    model = load_model("electron")
    inputs = electron_image_batch(events.CaloCell, events.Electron)
    inputs["tracks"] = track_array_batch(events.Track, events.Electron)
    features = ak.flatten(electron_features(events))
    hlv = np.stack([ak.to_numpy(features[n]) for n in ELECTRON_HLV_NAMES], axis=1)
    hlv = hlv.astype(np.float32)  # the HLVs are float32 inputs, as in training
    inputs["hlv"] = model.preprocessing["hlv"].transform(hlv).astype(np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(shipped_model_path("electron")), options)
    probs = session.run(None, {k: np.ascontiguousarray(v) for k, v in inputs.items()})[0]
    mine = np.stack([flat(events.Electron.cnn_probs[n]) for n in ELECTRON_CLASS_NAMES], axis=1)
    np.testing.assert_array_equal(mine, probs)  # same batch: bit for bit
    weights = model.metadata["discriminant"]["weights"]
    np.testing.assert_array_equal(flat(events.Electron.cnn_score), discriminant(probs, weights))

    photon_model = load_model("photon")
    photon_probs = session_probs = ort.InferenceSession(str(shipped_model_path("photon"))).run(
        None, photon_image_batch(events.CaloCell, events.Photon)
    )[0]
    prompt = photon_model.class_names.index("prompt")
    np.testing.assert_array_equal(flat(events.Photon.cnn_score), session_probs[:, prompt])
    assert len(photon_probs) == ak.sum(ak.num(events.Photon))


def test_eager_equals_dask_bit_for_bit_on_the_same_chunks():
    lazy = open_events(MC, mode="dask", steps_per_file=3)
    lengths = [len(lazy.partitions[i].compute()) for i in range(lazy.npartitions)]
    computed = dask.compute(lazy.Electron.cnn, lazy.Photon.cnn)
    start = 0
    eager_parts = []
    for length in lengths:
        chunk = open_events(MC, entry_start=start, entry_stop=start + length)
        eager_parts.append((chunk.Electron.cnn, chunk.Photon.cnn))
        start += length
    for k in range(2):
        eager = ak.concatenate([part[k] for part in eager_parts])
        assert ak.to_list(computed[k]) == ak.to_list(eager)  # exact equality, every field


def test_chunking_changes_nothing_beyond_float32_rounding(events, ids):
    lazy = open_events(MC, mode="dask", steps_per_file=5)
    other = lazy.Electron.cnn.compute()
    for name in ELECTRON_CLASS_NAMES:
        np.testing.assert_allclose(
            flat(other.cnn_probs[name]), flat(ids.cnn_probs[name]), rtol=1e-5, atol=1e-7
        )
    np.testing.assert_allclose(flat(other.cnn_score), flat(ids.cnn_score), rtol=1e-5, atol=1e-7)
    # the inputs themselves are chunk-invariant to the bit
    whole = electron_features(events)
    part = electron_features(open_events(MC, entry_start=7, entry_stop=31))
    for name in ELECTRON_HLV_NAMES:
        np.testing.assert_array_equal(flat(part[name]), flat(whole[name][7:31]))


def test_selections_of_events_and_candidates(events, ids):
    mask = ak.num(events.Electron) >= 2
    selected = events[mask].Electron
    selected = selected[selected.pt > 20]
    expected = ids[mask][events[mask].Electron.pt > 20]
    np.testing.assert_allclose(flat(selected.cnn_score), flat(expected.cnn_score), rtol=1e-5)
    assert ak.num(selected.cnn_tight).tolist() == ak.num(selected).tolist()
    # reversed order of events: every candidate still finds its own cells
    reverse = events[::-1].Electron
    np.testing.assert_allclose(
        flat(reverse.cnn_score), flat(ids.cnn_score[::-1]), rtol=1e-5, atol=1e-7
    )
    lazy = open_events(MC, mode="dask", steps_per_file=2)
    chosen = lazy[ak.num(lazy.Electron) >= 2].Electron
    chosen = chosen[chosen.pt > 20]
    np.testing.assert_allclose(
        flat(chosen.cnn_score.compute()), flat(expected.cnn_score), rtol=1e-5, atol=1e-7
    )


def test_repeated_columns_run_the_network_once(monkeypatch):
    calls = []
    original = OnnxModel.predict

    def counting(self, inputs):
        calls.append(len(next(iter(inputs.values()))))
        return original(self, inputs)

    monkeypatch.setattr(OnnxModel, "predict", counting)
    fresh = open_events(MC)
    columns = [fresh.Electron.cnn_score, fresh.Electron.cnn_tight, fresh.Electron.cnn_probs]
    assert len(calls) == 1 and len(columns[1]) == len(fresh)
    lazy = open_events(MC, mode="dask")
    calls.clear()
    graph = (lazy.Electron.cnn_score, lazy.Electron.cnn_loose)
    assert all(n == 0 for n in calls)  # building the graph scores nothing
    dask.compute(*graph)
    # one graph key for the same inputs (the empty calls build the graph's typetracers)
    assert [n for n in calls if n > 0] == [ak.sum(ak.num(fresh.Electron))]


def test_no_cells_no_candidates_and_no_events(tmp_path):
    no_cells = open_events(rewrite(tmp_path, "no_cells.root", empty=("CaloCell",)))
    score = flat(no_cells.Electron.cnn_score)
    assert len(score) == ak.sum(ak.num(no_cells.Electron)) and np.all(np.isfinite(score))
    assert np.all(np.isfinite(flat(no_cells.Photon.cnn_score)))

    none = open_events(rewrite(tmp_path, "none.root", empty=("Electron", "Photon")))
    assert ak.num(none.Electron.cnn_score).tolist() == [0] * len(none)
    assert ak.num(none.Photon.cnn_tight).tolist() == [0] * len(none)
    assert class_fractions(none.Electron.cnn_probs) == dict.fromkeys(ELECTRON_CLASS_NAMES, 0.0)

    lazy = open_events(rewrite(tmp_path, "none2.root", empty=("Electron",)), mode="dask")
    assert ak.num(lazy.Electron.cnn_score.compute()).tolist() == [0] * len(none)

    empty = open_events(MC, entry_start=5, entry_stop=5)
    assert len(empty.Electron.cnn_score) == 0 and len(empty.Photon.cnn_score) == 0
    no_events = rewrite(tmp_path, "no_events.root", events=slice(0, 0))
    assert open_events(no_events).Electron.cnn_score.tolist() == []
    assert open_events(no_events, mode="dask").Photon.cnn_tight.compute().tolist() == []


def test_a_missing_branch_is_named(tmp_path):
    events = open_events(rewrite(tmp_path, "no_trt.root", drop=("Track_eProbabilityHT",)))
    with pytest.raises(ValueError, match="eProbabilityHT"):
        _ = events.Electron.cnn_score
    events = open_events(rewrite(tmp_path, "no_energy.root", drop=("CaloCell_energy",)))
    with pytest.raises(ValueError, match="energy"):
        _ = events.Photon.cnn_score


def test_a_model_that_does_not_fit_is_refused(tmp_path, events):
    with pytest.raises(ModelMetadataError, match="not an electron model"):
        EGammaSchema.with_identification(electron_model="photon")
    with pytest.raises(ModelMetadataError, match="not a photon model"):
        photon_identification(events.CaloCell, events.Photon, model="electron")
    # a model made for another geometry
    import onnx

    proto = onnx.load(str(shipped_model_path("electron_fcn")))
    entry = next(p for p in proto.metadata_props if p.key == "egamma_cnn")
    metadata = json.loads(entry.value)
    metadata["geometry_version"] = "other-detector-2"
    entry.value = json.dumps(metadata)
    path = tmp_path / "other_geometry.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(ModelMetadataError, match="geometry"):
        electron_identification(events.CaloCell, events.Track, events.Electron, model=path)


def test_your_own_model_through_the_schema(events):
    schema = EGammaSchema.with_identification(electron_model="electron_fcn", batch_size=16)
    own = open_events(MC, schemaclass=schema)
    fcn = electron_identification(
        events.CaloCell, events.Track, events.Electron, model="electron_fcn"
    )
    np.testing.assert_array_equal(flat(own.Electron.cnn_score), flat(fcn.cnn_score))
    assert not np.array_equal(flat(own.Electron.cnn_score), flat(events.Electron.cnn_score))
    lazy = open_events(MC, schemaclass=schema, mode="dask")
    np.testing.assert_array_equal(flat(lazy.Electron.cnn_score.compute()), flat(fcn.cnn_score))


def test_bring_your_own_ntuple(events, ids):
    cells = ak.zip({f"c_{f}": events.CaloCell[f] for f in ("eta", "phi", "energy", "sampling")})
    electrons = ak.zip(
        {
            ("caloEta" if f == "clusterEta" else f): events.Electron[f]
            for f in events.Electron.fields
            if not f.endswith("G")
        },
        depth_limit=2,
    )
    tracks = ak.zip({f: events.Track[f] for f in events.Track.fields}, depth_limit=2)
    cell_fields = {f: f"c_{f}" for f in ("eta", "phi", "energy", "sampling")}
    mine = electron_identification(
        cells,
        tracks,
        electrons,
        cell_fields=cell_fields,
        electron_fields={"clusterEta": "caloEta"},
    )
    np.testing.assert_array_equal(flat(mine.cnn_score), flat(ids.cnn_score))
    with pytest.raises(ValueError, match=r"no field 'eta'.*cell_fields"):
        electron_identification(cells, tracks, electrons, electron_fields={"clusterEta": "caloEta"})
    with pytest.raises(ValueError, match=r"'cluster_eta' \(given for 'clusterEta'\)"):
        electron_identification(
            cells,
            tracks,
            electrons,
            cell_fields=cell_fields,
            electron_fields={"clusterEta": "cluster_eta"},
        )


def test_own_weights_and_class_fractions_eager_and_lazy(events, ids):
    probs = np.stack([flat(ids.cnn_probs[n]) for n in ELECTRON_CLASS_NAMES], axis=1)
    fractions = class_fractions(ids.cnn_probs)
    assert fractions == predict_class_fractions(probs)
    same_sign = electron_discriminant(ids.cnn_probs, fractions, charge_flip="background")
    np.testing.assert_array_equal(
        flat(same_sign), discriminant(probs, fractions, charge_flip="background")
    )
    lazy = open_events(MC, mode="dask", steps_per_file=2).Electron
    lazy_fractions = class_fractions(lazy.cnn_probs).compute()
    assert lazy_fractions == pytest.approx(fractions)
    lazy_score = electron_discriminant(lazy.cnn_probs, lazy_fractions, "background").compute()
    np.testing.assert_allclose(flat(lazy_score), flat(same_sign), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="charge_flip"):
        electron_discriminant(ids.cnn_probs, None, "maybe")


def test_models_travel_without_their_session():
    model = load_model("electron", batch_size=32)
    model.predict(
        {s.name: np.zeros((2, *s.shape), np.float32) for s in model.inputs if s.name != "hlv"}
        | {"hlv": np.zeros((2, 26), np.float32)}
    )
    clone = pickle.loads(pickle.dumps(model))
    assert clone._session is None and clone.batch_size == 32
    assert dask.base.tokenize(clone) == dask.base.tokenize(load_model("electron", batch_size=32))
    assert dask.base.tokenize(clone) != dask.base.tokenize(load_model("electron", batch_size=64))
    # providers are resolved where the model runs (a GPU worker of a CPU-only client)
    unknown = load_model("electron_fcn", providers=["NoSuchExecutionProvider"])
    with pytest.raises(ValueError, match="not available"):
        unknown.predict({"hlv": np.zeros((1, 26), np.float32)})
    auto = pickle.loads(pickle.dumps(load_model("electron_fcn", providers="auto")))
    assert auto.providers == "auto" and "CPUExecutionProvider" in auto.session.get_providers()


def test_loaded_and_unpickled_models_share_one_cache():
    loaded = load_identification_model(None, "electron", batch_size=48)
    again = load_identification_model("electron", "electron", batch_size=48)
    clone = pickle.loads(pickle.dumps(loaded))
    assert again.metadata is loaded.metadata is clone.metadata  # loaded once
    assert clone.session is loaded.session  # one session per file and settings
    assert load_identification_model(loaded, "electron") is loaded
    with pytest.raises(ValueError, match="settings of a model loaded here"):
        load_identification_model(loaded, "electron", batch_size=8)


def test_likelihood_files_travel_by_path_and_load_once(tmp_path):
    shipped = LikelihoodFile()
    assert shipped.shipped and len(pickle.dumps(shipped)) < 300
    clone = pickle.loads(pickle.dumps(shipped))
    assert clone.get() is shipped.get()  # one LikelihoodID per file per process
    assert dask.base.tokenize(clone) == dask.base.tokenize(shipped)
    reference = LikelihoodID.load(shipped.path)
    values = np.tile(np.linspace(0.1, 0.9, len(LIKELIHOOD_INPUTS)), (3, 1))
    et, eta = np.array([20.0, 40.0, 60.0]), np.array([0.1, -1.0, 2.0])
    np.testing.assert_array_equal(
        clone.get().discriminant(values, et, eta), reference.discriminant(values, et, eta)
    )
    copy = tmp_path / "llh.json"
    copy.write_text(Path(shipped.path).read_text())
    mine = LikelihoodFile(copy)
    assert not mine.shipped and pickle.loads(pickle.dumps(mine)).path == str(copy.resolve())
    assert LikelihoodFile(copy).get().to_dict() == reference.to_dict()


def _write_later(path: Path, text: str) -> None:
    """Rewrite ``path`` with a modification time that surely differs."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_a_likelihood_file_changed_after_pickling_is_refused(tmp_path, monkeypatch):
    document = LikelihoodFile().get().to_dict()
    path = tmp_path / "llh.json"
    _write_later(path, json.dumps(document))
    mine = LikelihoodFile(path)
    pickled = pickle.dumps(mine)
    assert len(pickled) < 300
    changed = json.loads(json.dumps(document))
    changed["likelihood"]["pdf_floor"] = 0.25  # other PDFs: other scores
    _write_later(path, json.dumps(changed))
    with pytest.raises(FileChangedError, match=r"llh\.json changed after the run started"):
        pickle.loads(pickled)
    assert mine.get().to_dict() == document  # the object keeps the file as it opened it
    assert LikelihoodFile(path).get().likelihood.pdf_floor == 0.25  # a new run, the new file
    # the shipped file travels as its name: each worker's own installation, unchecked
    installed = tmp_path / "installed" / "electron_llh.json"
    installed.parent.mkdir()
    _write_later(installed, json.dumps(document))
    monkeypatch.setattr(identification, "_shipped_likelihood_path", lambda: installed)
    shipped = LikelihoodFile()
    assert shipped.shipped
    pickled = pickle.dumps(shipped)
    _write_later(installed, json.dumps(document) + " ")  # reinstalled
    assert pickle.loads(pickled).shipped


def test_a_likelihood_file_of_another_format_is_named_when_opened(tmp_path):
    path = tmp_path / "cuts.json"
    path.write_text(json.dumps({"format": "egamma-cnn-photon-cuts/1"}))
    with pytest.raises(ValueError, match=r"cuts\.json is not a likelihood file .*LLH format"):
        LikelihoodFile(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match=r"cuts\.json is not a likelihood file"):
        LikelihoodFile(path)


def test_the_example_processor_gives_the_same_histograms_eager_and_on_dask():
    import importlib.util

    from coffea.dataset_tools import apply_to_fileset

    path = Path(__file__).parents[1] / "examples" / "cnn_processor.py"
    spec = importlib.util.spec_from_file_location("cnn_processor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    eager = module.TightElectronProcessor().process(open_events(MC))["sample"]
    fileset = {"zee": {"files": {str(MC): {"object_path": "Events", "steps": [[0, 13], [13, 40]]}}}}
    graph = apply_to_fileset(module.TightElectronProcessor(), fileset, schemaclass=EGammaSchema)
    (lazy,) = dask.compute(graph, scheduler="sync")
    lazy = lazy["zee"]["zee"]
    assert lazy["tight"] == eager["tight"] > 0 and lazy["events"] == eager["events"] == 40
    np.testing.assert_array_equal(lazy["pt"].values(flow=True), eager["pt"].values(flow=True))
    assert lazy["score"].sum(flow=True) == eager["electrons"]


def test_the_demo_scores_a_fileset_and_names_a_bad_file(tmp_path, events):
    from egamma_cnn.execution import BadInputError, ExecutionSettings
    from egamma_cnn.workflows.identification import run_identification

    bad = tmp_path / "not_a_sample.root"
    bad.write_text("not ROOT")
    files = {"zee": MC, "broken": bad}
    # without the permission to skip it, the bad file stops the run, named
    with pytest.raises(BadInputError, match=r"not_a_sample\.root"):
        run_identification(files, tmp_path / "out", scheduler="sync", step_size=15)
    summary = run_identification(
        files,
        tmp_path / "out",
        scheduler="sync",
        step_size=15,
        settings=ExecutionSettings(skip_bad_files=True),
    )
    assert summary["skipped_files"] == [str(bad)]
    assert summary["left_out"][0]["file"] == str(bad) and summary["left_out"][0]["reason"]
    zee = summary["datasets"]["zee"]
    assert zee["events"] == len(events)
    assert zee["electrons"] == ak.sum(ak.num(events.Electron))
    assert zee["electrons_cnn_tight"] == ak.sum(events.Electron.cnn_tight)
    assert zee["photons_cnn_tight"] == ak.sum(events.Photon.cnn_tight)
    prompt = flat(events.Electron.truthClass) == 0
    expected = flat(events.Electron.cnn_tight)[prompt].mean()
    assert zee["electrons_by_truth_class"]["prompt"]["cnn_tight_fraction"] == pytest.approx(
        expected
    )
    assert (tmp_path / "out" / "cnn_score.png").stat().st_size > 10_000


def test_selections_the_columns_cannot_follow_are_refused_clearly(events):
    lazy = open_events(MC, mode="dask", steps_per_file=3)
    with pytest.raises(ValueError, match=r"slice it afterwards"):
        _ = lazy[5:12].Electron.cnn_score
    np.testing.assert_array_equal(  # the way the message gives
        flat(lazy.Electron.cnn_score[5:12].compute()), flat(events.Electron.cnn_score[5:12])
    )
    for candidates in (ak.firsts(events.Electron), ak.pad_none(events.Electron, 3)):
        with pytest.raises(ValueError, match="one list per event without missing entries"):
            _ = candidates.cnn_score
    photons = events.Photon
    with pytest.raises(ValueError, match="does not have the candidates' structure"):
        photon_identification(
            events.CaloCell, photons, event_index=photons[photons.pt > 15].eventIndex
        )
    with pytest.raises(ValueError, match="no longer knows the events"):
        _ = open_events(MC, mode="dask").Electron.compute().cnn_score


def test_the_memo_holds_no_inputs_and_no_shared_results(events):
    import gc

    from egamma_cnn.columnar import _MEMO, apply_per_chunk

    values = ak.Array([[1.0, 2.0], [3.0]])
    once = apply_per_chunk(lambda v: v * 1, values, label="t", memo=True)
    twice = apply_per_chunk(lambda v: v * 2, values, label="t", memo=True)
    assert once.tolist() == [[1.0, 2.0], [3.0]] and twice.tolist() == [[2.0, 4.0], [6.0]]

    fresh = open_events(MC)
    record = fresh.Electron.cnn
    record["cnn_score"] = record.cnn_score * 0 + 42.0
    assert flat(fresh.Electron.cnn_score)[0] < 1.0  # the memo is not the user's array
    n_entries = len(_MEMO)
    del fresh, record
    gc.collect()
    assert len(_MEMO) < n_entries  # freeing the events drops their entries


def test_a_replaced_model_file_is_reloaded(tmp_path, events):
    import shutil

    path = tmp_path / "mine.onnx"
    shutil.copyfile(shipped_model_path("electron_fcn"), path)
    first = electron_identification(events.CaloCell, events.Track, events.Electron, model=path)
    shutil.copyfile(shipped_model_path("electron"), path)
    second = electron_identification(events.CaloCell, events.Track, events.Electron, model=path)
    np.testing.assert_array_equal(flat(second.cnn_score), flat(events.Electron.cnn_score))
    assert not np.array_equal(flat(first.cnn_score), flat(second.cnn_score))


def test_likelihood_and_isolation_columns(events):
    from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
    from egamma_cnn.tnp import TnPConfig

    electrons = events.Electron
    features = ak.flatten(electron_features(events))
    llh = LikelihoodID.load(shipped_model_path("electron").parent / "electron_llh.json")
    values = np.stack([ak.to_numpy(features[n]).astype(np.float32) for n in LIKELIHOOD_INPUTS], 1)
    et = flat(electrons.clusterE / np.cosh(electrons.clusterEta)).astype(np.float64)
    eta = flat(electrons.clusterEta).astype(np.float64)
    np.testing.assert_array_equal(flat(electrons.llh_score), llh.discriminant(values, et, eta))
    truth = flat(electrons.truthClass)
    assert flat(electrons.llh_tight)[truth == 0].mean() > 0.5
    assert flat(electrons.llh_tight)[truth == 5].mean() < 0.2
    pt = flat(electrons.pt)
    expected = (ak.to_numpy(features.ptvarcone30) < 0.15 * pt) & (
        ak.to_numpy(features.etcone20) < 0.20 * pt
    )
    np.testing.assert_array_equal(flat(electrons.iso_loose), expected)
    lazy = open_events(MC, mode="dask", steps_per_file=2)
    np.testing.assert_array_equal(
        flat(lazy.Electron.llh_tight.compute()), flat(electrons.llh_tight)
    )
    np.testing.assert_array_equal(
        flat(lazy.Photon.iso_loose.compute()), flat(events.Photon.iso_loose)
    )
    # the tag-and-probe measures them like any other ID
    config = TnPConfig(probe_id=("llh_tight", "iso_loose"))
    h = TagAndProbeProcessor(config).process(events)["sample"]["histogram"]
    assert h[{"id": "iso_loose", "passing": True}].sum(flow=True).value > 0


def test_identification_summary_processor_runs_eagerly_as_on_dask(events):
    """IdentificationSummary eagerly (hist.Hist) gives the histograms of its dask run."""
    # imported here: this test is appended to a file whose imports belong to its other tests
    import hist

    from egamma_cnn.processors.identification import IdentificationSummary
    from egamma_cnn.tnp.pairs import TRUTH_NONE

    eager = IdentificationSummary().process(events)
    assert list(eager) == ["sample"]  # plain files have no dataset name
    out = eager["sample"]
    assert isinstance(out["electron"], hist.Hist) and isinstance(out["photon"], hist.Hist)
    assert int(out["events"]) == len(events)
    electrons = events.Electron
    assert out["electron"].sum(flow=True) == len(flat(electrons.cnn_score))
    tight = out["electron"][{"tight": True}].sum(flow=True)
    assert tight == flat(electrons.cnn_tight).sum()
    # simulation: every electron has a truth class, none the "no truth" value
    assert out["electron"][{"truth": hist.loc(TRUTH_NONE)}].sum(flow=True) == 0
    (lazy,) = dask.compute(IdentificationSummary().process(open_events(MC, mode="dask")))
    for name in ("electron", "photon"):
        np.testing.assert_array_equal(
            out[name].values(flow=True), lazy["sample"][name].values(flow=True)
        )
