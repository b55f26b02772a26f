"""Bad tag-and-probe configurations and execution settings: one line naming the culprit.

Issue 17, third round: field names that are array attributes or no numeric columns, empty
or unbounded settings, cracks and sidebands that would silently select the wrong pairs,
unreadable JSON files, and execution options the executor would ignore.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from egamma_cnn.execution.settings import (
    MAX_RETRIES,
    MIN_MEMORY_PER_WORKER,
    ExecutionSettings,
    max_local_workers,
)
from egamma_cnn.nanoevents import open_events
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.tnp import TnPConfig, tag_probe_pairs

DATA_FOLDER = Path(__file__).parent / "data"
MC = DATA_FOLDER / "zee_mc.root"
DATALIKE = DATA_FOLDER / "zee_datalike.root"


@pytest.fixture(scope="module")
def events():
    return open_events(MC)


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def _from_json(tmp_path: Path, content: object) -> pytest.ExceptionInfo:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError) as err:
        TnPConfig.from_json(path)
    assert _one_line(err).startswith(f"{path}: ")
    return err


# --------------------------------------------------------------------------------------
# 1. Field names: columns holding one number per candidate, never array attributes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting", ["pt", "eta", "phi", "mass", "charge", "probe_et_field", "probe_eta_field"]
)
@pytest.mark.parametrize("name", ["__class__", "_meta"])
def test_private_field_names_are_refused_when_parsed(tmp_path, setting, name):
    err = _from_json(tmp_path, {setting: name})
    assert f"{setting} {name!r} is a private name, not a column" in str(err.value)


@pytest.mark.parametrize("setting", ["electrons", "truth", "trigger_objects"])
def test_private_collection_and_truth_names_are_refused(setting):
    with pytest.raises(ValueError, match=f"{setting} '__class__' is a private name"):
        TnPConfig(**{setting: "__class__"})


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        ("probe_eta_field", "ndim"),
        ("probe_et_field", "ndim"),
        ("charge", "ndim"),
        ("pt", "layout"),
        ("eta", "nbytes"),
        ("mass", "fields"),
    ],
)
def test_array_attributes_are_no_columns_of_the_collection(events, setting, name):
    # was: a 47-line TypeError traceback, or "cannot broadcast records in absolute"
    with pytest.raises(ValueError) as err:
        tag_probe_pairs(events, TnPConfig(**{setting: name}))
    message = _one_line(err)
    assert message.startswith(f"{setting} {name!r} is not a column of Electron (columns: pt,")


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        ("probe_eta_field", "cnn_probs"),  # a record per candidate
        ("mass", "cnn_tight"),  # a boolean: was m_ee from True/False, exit 0
        ("probe_et_field", "features"),  # a record of the shower shapes
    ],
)
def test_columns_that_are_no_number_per_candidate_are_refused(events, setting, name):
    with pytest.raises(ValueError) as err:
        tag_probe_pairs(events, TnPConfig(**{setting: name}))
    assert _one_line(err).startswith(
        f"{setting} {name!r} of Electron is not one number per candidate (numeric columns: pt,"
    )


def test_array_attribute_as_field_is_refused_under_dask():
    lazy = open_events(MC, mode="dask")
    with pytest.raises(ValueError, match="probe_eta_field 'ndim' is not a column of Electron"):
        tag_probe_pairs(lazy, TnPConfig(probe_eta_field="ndim"))


def test_good_fields_still_read_fields_and_behaviours(events):
    # cluster_et is a behaviour's column, clusterEta and pt fields
    pairs = tag_probe_pairs(events, TnPConfig())
    assert sum(len(event) for event in pairs.mass.tolist()) > 0
    probes = events.Electron[pairs.probe_index]
    assert pairs.probe_et.tolist() == probes.cluster_et.tolist()
    assert pairs.probe_eta.tolist() == probes.clusterEta.tolist()
    by_pt = tag_probe_pairs(events, TnPConfig(probe_et_field="pt", probe_eta_field="eta"))
    assert by_pt.probe_et.tolist() == events.Electron[by_pt.probe_index].pt.tolist()


# --------------------------------------------------------------------------------------
# 2.–6. Settings that must not be empty, huge or inconsistent
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"truth_signal": []}, "truth_signal needs at least one truth class"),
        ({"mass_bins": 1_000_000_000}, "mass_bins must be between 1 and 10000, got 1000000000"),
        ({"mass_bins": 0}, "mass_bins must be between 1 and 10000, got 0"),
        ({"et_edges": list(range(15, 1516))}, "et_edges has 1501 edges, at most 1000"),
        (
            {"eta_edges": [k / 1000 for k in range(-1200, 1201)]},
            "eta_edges has 2401 edges, at most 1000",
        ),
        ({"crack": [1.52, 1.37]}, r"crack \[1.52, 1.37\] must be a \|η\| range 0 ≤ low < high"),
        ({"crack": [-1, -0.5]}, r"crack \[-1, -0.5\] must be a \|η\| range"),
        ({"crack": [0, 3]}, r"crack \[0, 3\] must be .* < tag_max_abs_eta 2.47"),
        ({"max_abs_eta": 0}, "max_abs_eta must be > 0, got 0"),
        ({"max_abs_eta": -1}, "max_abs_eta must be > 0, got -1"),
        ({"max_abs_eta": 1.0}, r"crack \[1.37, 1.52\] must be .* < tag_max_abs_eta 1.0"),
        ({"tag_min_pt": -5}, "tag_min_pt must be ≥ 0 GeV, got -5"),
        ({"probe_min_et": -1, "et_edges": [-5, 20, 80]}, "probe_min_et must be ≥ 0 GeV, got -1"),
        ({"trigger_dr": 0}, "trigger_dr must be > 0, got 0"),
        ({"trigger_dr": -0.1}, "trigger_dr must be > 0, got -0.1"),
        (
            {"sidebands": [[60, 90], [95, 120]]},
            r"sideband 1 \[60, 90\] overlaps the signal_window \[80.0, 100.0\]",
        ),
        ({"sidebands": [[80, 100]]}, r"sideband 1 \[80, 100\] overlaps the signal_window"),
        (
            {"sidebands": [[60, 75], [65, 80]]},
            r"sideband 2 \[65, 80\] overlaps sideband 1 \[60, 75\]",
        ),
        ({"electrons": ""}, "electrons must name a column, got ''"),
        ({"mass_bins": 10_000}, r"would have 5.19e\+07 bins \(3 IDs × 10000 m_ee"),
        ({"mass_range": [-1e308, 1e308]}, "mass_range .* must lie in 0–14000 GeV"),
        ({"eta_edges": [-1e308, 0, 1e308]}, "eta_edges must lie in ±10"),
        ({"et_edges": [15, 1e9]}, "et_edges must lie in 0–14000 GeV"),
        ({"trigger_dr": 1e200}, "trigger_dr must be at most 10"),
        ({"tag_probe_min_dr": 1e200}, "tag_probe_min_dr must be at most 10"),
        (
            {"mass_bins": 3, "sidebands": [[60, 70]]},
            r"sideband 1 \[60, 70\] holds no m_ee bin: the 3 bins of mass_range",
        ),
        ({"signal_window": [80.2, 80.4]}, r"signal_window \[80.2, 80.4\] holds no m_ee bin"),
    ],
)
def test_settings_out_of_range_are_refused(tmp_path, content, message):
    err = _from_json(tmp_path, content)
    assert err.match(message)


def test_boundary_settings_are_accepted():
    # sidebands touching the window, a crack from 0, thresholds at 0
    config = TnPConfig(
        probe_id=("cnn_tight",),  # 10 000 m_ee bins of 3 IDs: 5·10⁷ bins, refused below
        sidebands=((60.0, 80.0), (100.0, 120.0)),
        crack=(0.0, 0.1),
        tag_min_pt=0.0,
        mass_bins=10_000,
    )
    assert config.mass_bins == 10_000
    assert TnPConfig(sidebands=()).sidebands == ()
    assert TnPConfig.cms_nanoaod().crack == (1.4442, 1.566)
    many = TnPConfig(probe_id=("cnn_tight",), et_edges=tuple(range(15, 1015)))
    assert many.et_edges[-1] == 1014


# --------------------------------------------------------------------------------------
# 4. A misspelt truth field: refused on simulation, fine on data
# --------------------------------------------------------------------------------------


def test_a_missing_truth_field_is_refused_on_simulation():
    # was: exit 0 and every truth-matched efficiency null
    simulation = open_events(MC, metadata={"dataset": "zee_mc", "is_data": False})
    processor = TagAndProbeProcessor(TnPConfig(truth="nope"))
    with pytest.raises(ValueError) as err:
        processor.process(simulation)
    message = _one_line(err)
    assert "'zee_mc' is declared simulation" in message and "truth 'nope' of Electron" in message
    assert "set the configuration's truth to null" in message


def test_a_configured_truth_field_is_fine_on_data():
    data = open_events(DATALIKE, metadata={"dataset": "data", "is_data": True})
    output = TagAndProbeProcessor(TnPConfig()).process(data)
    assert output["data"]["histogram"].sum().value > 0


# --------------------------------------------------------------------------------------
# 7. Files that cannot be read: the file named
# --------------------------------------------------------------------------------------


def _unreadable(tmp_path: Path) -> list[tuple[Path, str]]:
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe garbage")
    broken = tmp_path / "broken.json"
    broken.write_text("{bad")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    return [
        (tmp_path / "missing.json", "no such file"),
        (folder, "a folder, not a JSON file"),
        (binary, "not a JSON text file (not UTF-8"),
        (broken, "not valid JSON"),
    ]


@pytest.mark.parametrize("reader", [TnPConfig.from_json, ExecutionSettings.from_json])
def test_unreadable_files_are_named(tmp_path, reader):
    for path, message in _unreadable(tmp_path):
        with pytest.raises(ValueError) as err:
            reader(path)
        assert _one_line(err).startswith(f"{path}: {message}")


# --------------------------------------------------------------------------------------
# 8. Execution settings out of range
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"memory_per_worker": "-4GiB"}, "memory_per_worker '-4GiB' is less than the 512MiB"),
        ({"memory_per_worker": "1B"}, "memory_per_worker '1B' is less than the 512MiB"),
        ({"retries": 99999999999999999999999}, f"retries must be at most {MAX_RETRIES}"),
        ({"threads_per_worker": 100000}, "threads_per_worker must be at most 1024, not 100000"),
        ({"chunk_size": 10**10}, "chunk_size must be at most 1000000000, not 10000000000"),
        ({"chunk_size": 0}, "chunk_size must be a positive integer, not 0"),
    ],
)
def test_execution_settings_out_of_range(tmp_path, content, message):
    path = tmp_path / "execution.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError) as err:
        ExecutionSettings.from_json(path)
    assert _one_line(err).startswith(f"{path}: {message}")


def test_local_threads_are_bounded_by_the_machine():
    too_many = max_local_workers() + 1
    with pytest.raises(ValueError, match=f"threads_per_worker {too_many}: at most"):
        ExecutionSettings(threads_per_worker=too_many)
    assert ExecutionSettings(threads_per_worker=max_local_workers()).threads_per_worker > 0


def test_sensible_execution_settings_are_accepted():
    settings = ExecutionSettings(memory_per_worker=MIN_MEMORY_PER_WORKER, retries=MAX_RETRIES)
    assert settings.retries == MAX_RETRIES
    assert ExecutionSettings(chunk_size=10**9).chunk_size == 10**9


# --------------------------------------------------------------------------------------
# 9. Options that the executor would ignore
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"executor": "iterative", "address": "tcp://h:8786"},
            "address 'tcp://h:8786' is not used by executor 'iterative' (only by scheduler, "
            "gateway)",
        ),
        (
            {"executor": "iterative", "memory_per_worker": "4GiB"},
            "memory_per_worker '4GiB' is not used by executor 'iterative'",
        ),
        (
            {"executor": "local", "jobqueue": {"queue": "x"}},
            "jobqueue {'queue': 'x'} is not used by executor 'local' (only by slurm, htcondor)",
        ),
        (
            {"executor": "local", "gateway": {"image": "x"}},
            "gateway {'image': 'x'} is not used by executor 'local' (only by gateway)",
        ),
        (
            {"executor": "local", "address": "tcp://h:8786"},
            "address 'tcp://h:8786' is not used by executor 'local'",
        ),
        (
            {"executor": "scheduler", "address": "tcp://h:8786", "memory_per_worker": "4GiB"},
            "memory_per_worker '4GiB' is not used by executor 'scheduler'",
        ),
        (
            {"executor": "gateway", "threads_per_worker": 2},
            "threads_per_worker 2 is not used by executor 'gateway'",
        ),
        (
            {"executor": "slurm", "gateway": {"image": "x"}},
            "gateway {'image': 'x'} is not used by executor 'slurm'",
        ),
    ],
)
def test_options_the_executor_ignores_are_refused(options, message):
    with pytest.raises(ValueError) as err:
        ExecutionSettings(**options)
    assert _one_line(err).startswith(message)


def test_the_defaults_and_unset_flags_trip_nothing(tmp_path):
    # what cli._execution does: the file's settings, then the flags (None: not given)
    for executor in ("iterative", "local", "slurm", "htcondor"):
        settings = ExecutionSettings().with_changes(
            executor=executor, address=None, workers=None, memory_per_worker=None, retries=None
        )
        assert settings.executor == executor
    remote = ExecutionSettings().with_changes(executor="scheduler", address="tcp://h:8786")
    assert remote.address == "tcp://h:8786"
    assert ExecutionSettings(executor="gateway").address is None
    # a file for a local cluster, run with --workers 0: its memory limit would be dropped
    path = tmp_path / "execution.json"
    path.write_text(json.dumps({"executor": "local", "memory_per_worker": "4GiB"}))
    local = ExecutionSettings.from_json(path)
    with pytest.raises(ValueError, match="memory_per_worker '4GiB' is not used by executor"):
        local.with_changes(executor="iterative")


# --------------------------------------------------------------------------------------
# Issue 18: presets, trigger filters, flat ntuples, probe collections
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"preset": "cms"}, r"preset 'cms' is not one of \['cms-nanoaod'"),
        ({"input_format": "rows"}, r"input_format must be one of \['events', 'pairs'\]"),
        ({"tag_id": "cnn_tight and trigger(ele30)"}, r"trigger\(ele30\) needs trigger_objects"),
        (
            {"tag_id": "cnn_tight and trigger(ele30)", "trigger_objects": "TrigObj"},
            r"trigger\(ele30\) names no trigger filter \(trigger_filters: none\)",
        ),
        (
            {"trigger_objects": "TrigObj", "trigger_filters": {"1bad": "pt > 1"}},
            "trigger filter name '1bad' must be a letter",
        ),
        (
            {"trigger_objects": "TrigObj", "trigger_filters": {"a": "trigger(a)"}},
            r"trigger filter 'a': trigger\(...\) cannot select trigger objects",
        ),
        ({"trigger_filters": ["pt > 1"]}, "trigger_filters must be a JSON object"),
        ({"trigger_filters": {"a": 5}}, "trigger_filters must be an object of name: selection"),
        ({"input_format": "pairs"}, 'input_format "pairs" needs pair_mass'),
        ({"pair_mass": "pair_mass"}, 'pair_mass is the m_ee column of input_format "pairs" only'),
        (
            {"input_format": "pairs", "pair_mass": "m", "probes": "Photon"},
            'input_format "pairs" reads one row per pair',
        ),
        ({"event_selection": "HLT_Ele30 and"}, "event_selection 'HLT_Ele30 and': unexpected end"),
        ({"probe_selection": "__class__"}, "probe_selection '__class__' is a private name"),
        ({"probe_eta_field": "eta + "}, r"probe_eta_field 'eta \+ ': unexpected end"),
        ({"tag_crack": 1}, "tag_crack must be true or false, got 1"),
        ({"probe_max_abs_eta": 1.5, "probe_crack": True}, r"< probe_max_abs_eta 1.5"),
        ({"tag_probe_min_dr": -0.1}, "tag_probe_min_dr must be ≥ 0"),
        ({"charge": "q-1"}, "charge 'q-1' is not a column name"),
    ],
)
def test_new_selection_settings_are_checked_when_read(tmp_path, content, message):
    err = _from_json(tmp_path, content)
    assert err.match(message)


def test_a_partial_config_starts_from_its_preset_or_the_given_base(tmp_path):
    path = tmp_path / "partial.json"
    path.write_text(json.dumps({"probe_id": ["mvaIso_WP90"]}))
    nanoaod = TnPConfig.from_json(path, base=TnPConfig.cms_nanoaod())
    assert nanoaod.preset == "cms-nanoaod" and nanoaod.probe_et_field == "pt"
    assert nanoaod.probe_eta_field == "eta + deltaEtaSC" and nanoaod.probe_id == ("mvaIso_WP90",)
    assert TnPConfig.from_json(path).probe_et_field == "cluster_et"  # no base: egamma-cnn
    path.write_text(json.dumps({"preset": "cms-tnp-ntuple", "probe_id": ["passingX"]}))
    ntuple = TnPConfig.from_json(path, base=TnPConfig.cms_nanoaod())  # the file's preset wins
    assert ntuple.input_format == "pairs" and ntuple.pair_mass == "pair_mass"
    path.write_text(json.dumps({"max_abs_eta": 2.0}))
    both = TnPConfig.from_json(path)
    assert both.tag_max_abs_eta == both.probe_max_abs_eta == 2.0
    # the configuration written next to the outputs reads back as the same configuration
    config = TnPConfig.from_json(
        Path(__file__).parent.parent / "examples/cms_nanoaod_ele32_trigger.json"
    )
    path.write_text(config.to_json())
    assert TnPConfig.from_json(path) == config
