"""Preprocessing from the files' headers, its cache, and runnable filesets as input."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import warnings
from pathlib import Path

import pytest
from coffea.dataset_tools import preprocess

from egamma_cnn import cli
from egamma_cnn.execution import ExecutionSettings, check_fileset, run_fileset
from egamma_cnn.execution.preprocessing import (
    FileFacts,
    PreprocessCache,
    check_steps,
    default_cache_dir,
    file_steps,
    preprocess_fileset,
    read_file_facts,
)
from egamma_cnn.nanoevents import EGammaSchema
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.tnp import TnPConfig

DATA = Path(__file__).parent / "data"
MC = str(DATA / "zee_mc.root")
DATALIKE = str(DATA / "zee_datalike.root")
NTUPLE = str(DATA / "cms_tnp_ntuple_el.root")


def _fileset(*files: str, is_data: bool | None = None) -> dict:
    metadata = {} if is_data is None else {"is_data": is_data}
    return {"mc": {"files": dict.fromkeys(files, "Events"), "metadata": metadata}}


@pytest.mark.parametrize("chunk_size", [7, 13, 19, 40, 1000])
def test_steps_are_those_of_coffea_preprocess(chunk_size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _ = preprocess(
            _fileset(MC, DATALIKE), step_size=chunk_size, scheduler="sync", save_form=False
        )
    ours = preprocess_fileset(_fileset(MC, DATALIKE), chunk_size, PreprocessCache(None)).runnable
    for file in (MC, DATALIKE):
        mine, coffea = ours["mc"]["files"][file], theirs["mc"]["files"][file]
        assert mine["steps"] == coffea["steps"]
        assert mine["num_entries"] == coffea["num_entries"]
        assert mine["uuid"] == coffea["uuid"]


@pytest.mark.parametrize("entries", [1, 2, 39, 40, 41, 1000, 12345])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 100, 20000])
def test_steps_cover_every_entry_once(entries, chunk_size):
    """Contiguous, each entry once, none empty: coffea 2026.9's ``preprocess`` gives 40
    entries in chunks of 3 the steps [44, 40] and [48, 40] (and then refuses its own
    output); these never do."""
    steps = file_steps(entries, chunk_size)
    assert steps[0][0] == 0 and steps[-1][1] == entries
    assert all(start < stop for start, stop in steps)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(steps))


def test_file_facts_of_a_tree_in_any_file():
    assert read_file_facts(MC, "Events").num_entries == 40
    assert read_file_facts(NTUPLE, "fitter_tree").num_entries == 1000
    assert file_steps(0, 10) == [[0, 0]]
    assert file_steps(10, 3) == [[0, 4], [4, 8], [8, 10]]


def test_the_cache_answers_for_unchanged_files_only(tmp_path):
    copy = str(tmp_path / "mc.root")
    shutil.copyfile(MC, copy)
    cache = PreprocessCache(tmp_path / "cache")
    first = preprocess_fileset(_fileset(copy, DATALIKE), 10, cache)
    assert (first.read, first.cached) == (2, 0)
    second = preprocess_fileset(_fileset(copy, DATALIKE), 10, cache)
    assert (second.read, second.cached) == (0, 2)
    assert second.runnable == first.runnable
    # a file rewritten (another modification time) is read again
    stat = os.stat(copy)
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = preprocess_fileset(_fileset(copy, DATALIKE), 10, cache)
    assert (third.read, third.cached) == (1, 1)
    # an entry that cannot be read (a half-written one) is read again and rewritten
    for entry in (tmp_path / "cache").rglob("*.json"):
        entry.write_text("{not json")
    fourth = preprocess_fileset(_fileset(copy, DATALIKE), 10, cache)
    assert (fourth.read, fourth.cached) == (2, 0)
    assert fourth.runnable == first.runnable
    assert preprocess_fileset(_fileset(copy, DATALIKE), 10, cache).cached == 2


def test_a_wrong_count_in_the_cache_is_not_trusted_blindly(tmp_path):
    """An entry whose identity is not the file's (a copied cache) is not used."""
    cache = PreprocessCache(tmp_path / "cache")
    preprocess_fileset(_fileset(MC), 10, cache)
    (entry,) = (tmp_path / "cache").rglob("*.json")
    content = json.loads(entry.read_text())
    content["identity"]["size"] += 1
    content["num_entries"] = 5
    entry.write_text(json.dumps(content))
    again = preprocess_fileset(_fileset(MC), 10, cache)
    assert again.runnable["mc"]["files"][MC]["num_entries"] == 40


def test_without_cache_nothing_is_kept(tmp_path):
    cache = PreprocessCache(None)
    assert preprocess_fileset(_fileset(MC), 10, cache).read == 1
    assert preprocess_fileset(_fileset(MC), 10, cache).read == 1
    assert ExecutionSettings(cache=False).preprocess_cache_dir() is None
    assert ExecutionSettings(cache_dir=str(tmp_path)).preprocess_cache_dir() == tmp_path
    with pytest.raises(ValueError, match=r"cache_dir .* is given with cache false"):
        ExecutionSettings(cache=False, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="cache must be true or false"):
        ExecutionSettings(cache="yes")


def test_the_default_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EGAMMA_CNN_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("EGAMMA_CNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "egamma-cnn"


def test_an_unreadable_file_is_named_with_its_reason(tmp_path):
    broken = tmp_path / "broken.root"
    broken.write_bytes(b"not a root file")
    result = preprocess_fileset(_fileset(MC, str(broken)), 10, PreprocessCache(None))
    ((dataset, file, reason),) = result.unreadable
    assert (dataset, file) == ("mc", str(broken))
    assert reason
    assert list(result.runnable["mc"]["files"]) == [MC]


def test_given_steps_are_checked_against_the_file():
    spec = {"object_path": "Events", "steps": [[0, 10], [10, 20]]}
    given = {"mc": {"files": {MC: spec}, "metadata": {"is_data": False}}}
    result = preprocess_fileset(given, 5, PreprocessCache(None))
    assert result.runnable["mc"]["files"][MC]["steps"] == [[0, 10], [10, 20]]  # as given
    assert result.given == 1
    assert result.notes == [
        f"dataset 'mc': file {MC}: its steps cover 20 of its 40 entries (used as given)"
    ]
    given["mc"]["files"][MC] = {**spec, "uuid": "00000000-0000-0000-0000-000000000000"}
    with pytest.raises(ValueError, match=r"is not the file that was preprocessed"):
        preprocess_fileset(given, 5, PreprocessCache(None))
    given["mc"]["files"][MC] = {"object_path": "Events", "steps": [[0, 41]]}
    with pytest.raises(ValueError, match=r"step \[0, 41\] goes past its 40 entries"):
        preprocess_fileset(given, 5, PreprocessCache(None))
    with pytest.raises(ValueError, match="num_entries"):
        check_steps("mc", MC, {"steps": [[0, 4]], "num_entries": -1})
    with pytest.raises(ValueError, match="non-empty list"):
        check_steps("mc", MC, {"steps": []})


def _count(run) -> int:
    return sum(int(output["events"]) for output in run.outputs.values())


def test_a_run_writes_its_runnable_fileset_and_reads_it_back(tmp_path):
    settings = ExecutionSettings(executor="iterative", chunk_size=15, cache_dir=str(tmp_path))
    processor = TagAndProbeProcessor(TnPConfig(probe_id=("clusterEta < 1",), tag_id="pt > 25"))
    run = run_fileset(processor, _fileset(MC, is_data=False), settings, schemaclass=EGammaSchema)
    assert run.runnable["mc"]["files"][MC]["steps"] == [[0, 14], [14, 28], [28, 40]]
    # the first build's form is kept: a second preprocessing gives the dataset its form
    again = preprocess_fileset(_fileset(MC), 15, PreprocessCache(tmp_path))
    assert again.runnable["mc"].get("compressed_form")
    # a runnable fileset (through JSON) runs the same chunks: only the first two here
    runnable = json.loads(json.dumps(run.runnable))
    runnable["mc"]["files"][MC]["steps"] = [[0, 14], [14, 28]]
    part = run_fileset(processor, check_fileset(runnable), settings, schemaclass=EGammaSchema)
    assert _count(part) == 28
    assert _count(run) == 40
    whole = run_fileset(processor, check_fileset(run.runnable), settings, schemaclass=EGammaSchema)
    assert whole.outputs["mc"]["pairs"] == run.outputs["mc"]["pairs"]
    assert whole.outputs["mc"]["histogram"] == run.outputs["mc"]["histogram"]


def test_the_command_writes_preprocessed_json_and_its_cache(tmp_path, monkeypatch):
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps(_fileset(MC, is_data=False)))
    cache = tmp_path / "cache"
    argv = ["tnp", str(fileset), "--workers", "0", "--id", "clusterEta < 1", "--tag-id", "pt > 25"]
    assert cli.main([*argv, "--out-dir", str(tmp_path / "a"), "--cache-dir", str(cache)]) == 0
    assert list(cache.rglob("*.json"))
    written = json.loads((tmp_path / "a" / "preprocessed.json").read_text())
    assert written["mc"]["files"][MC]["num_entries"] == 40
    again = tmp_path / "again.json"
    again.write_text(json.dumps(written))
    assert cli.main(["tnp", str(again), *argv[2:], "--out-dir", str(tmp_path / "b")]) == 0
    efficiencies = [json.loads((tmp_path / d / "efficiencies.json").read_text()) for d in "ab"]
    assert efficiencies[0] == efficiencies[1]
    # --no-cache keeps nothing
    empty = tmp_path / "empty"
    monkeypatch.setenv("EGAMMA_CNN_CACHE_DIR", str(empty))
    assert cli.main([*argv, "--out-dir", str(tmp_path / "c"), "--no-cache"]) == 0
    assert not empty.exists()
    assert cli.main([*argv, "--out-dir", str(tmp_path / "d")]) == 0
    assert list(empty.rglob("*.json"))


def test_facts_read_in_threads_equal_those_read_one_by_one():
    files = (MC, DATALIKE)
    result = preprocess_fileset(_fileset(*files), 10, PreprocessCache(None))
    for file in files:
        facts = read_file_facts(file, "Events")
        spec = result.runnable["mc"]["files"][file]
        assert FileFacts(spec["num_entries"], spec["uuid"], facts.is_data) == facts


def test_a_file_of_the_other_kind_is_refused_by_its_provenance():
    fileset = _fileset(MC, DATALIKE, is_data=False)
    with pytest.raises(ValueError, match=r"declared simulation .*zee_datalike.root is data"):
        preprocess_fileset(fileset, 10, PreprocessCache(None))
    assert read_file_facts(DATALIKE, "Events").is_data is True
    assert read_file_facts(NTUPLE, "fitter_tree").is_data is None  # not an egamma-cnn file


def test_the_check_before_a_run_builds_one_graph_per_known_form_and_kind(tmp_path):
    """Datasets whose form is known are checked once per form, tree and kind."""
    from egamma_cnn.workflows.common import check_graph_on_first_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runnable, _ = preprocess(
            {
                "a": {"files": {MC: "Events"}, "metadata": {"is_data": False}},
                "b": {"files": {DATALIKE: "Events"}, "metadata": {"is_data": True}},
            },
            step_size=20,
            save_form=True,
            scheduler="sync",
        )
    copies = {}
    for index in range(3):
        copy = tmp_path / f"mc{index}.root"
        shutil.copyfile(MC, copy)
        copies[f"mc{index}"] = {**runnable["a"], "files": {str(copy): "Events"}}
    fileset = {**copies, "data": runnable["b"], "mc_no_form": _fileset(MC, is_data=False)["mc"]}

    calls = []

    class Counting(TagAndProbeProcessor):
        def process(self, events):
            calls.append(events.metadata["dataset"])
            return super().process(events)

    processor = Counting(TnPConfig(probe_id=("clusterEta < 1",), tag_id="pt > 25"))
    check_graph_on_first_files(processor, fileset, EGammaSchema, ExecutionSettings(cache=False))
    # one of the three MC datasets of one form, the data dataset, the one without a form
    assert calls == ["mc0", "data", "mc_no_form"]
