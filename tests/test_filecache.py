"""The file cache and the pickle-by-path protocol (egamma_cnn.filecache), and the fudge file
that uses them (egamma_cnn.corrections.FudgeFile: Zumbihl's e/γ talk, "Shower shape studies")."""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from dask.base import tokenize

from egamma_cnn import filecache
from egamma_cnn.corrections import FudgeFactors, FudgeFile, apply_fudge, write_correctionlib
from egamma_cnn.filecache import (
    FileChangedError,
    FileIdentity,
    PathPickled,
    cache_size,
    cached,
    cached_content,
    clear_cache,
    unpickle_by_path,
)


def _touch_later(path: Path, text: str) -> None:
    """Rewrite ``path`` with a modification time that surely differs."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


# --------------------------------------------------------------------------------------
# FileIdentity
# --------------------------------------------------------------------------------------


def test_identity_is_the_file_state(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    identity = FileIdentity.of(path)
    assert identity == FileIdentity.of(tmp_path / "." / "a.txt")  # resolved path
    assert identity.path == str(path.resolve()) and identity.size == 3
    assert identity.digest is None
    identity.check()
    _touch_later(path, "two")
    assert FileIdentity.of(path) != identity
    with pytest.raises(FileChangedError, match=r"a\.txt changed after it was given"):
        identity.check()
    with pytest.raises(FileNotFoundError, match="no file"):
        FileIdentity.of(tmp_path / "missing.txt")


def test_content_identity_reads_the_sha256(tmp_path):
    path = tmp_path / "b.json"
    path.write_bytes(b'{"x": 1}')
    identity, data = FileIdentity.read(path)
    assert data == b'{"x": 1}'
    assert identity.digest == hashlib.sha256(data).hexdigest()
    assert identity.read_bytes() == data
    path.write_bytes(b'{"x": 2}')  # same size, maybe the same mtime: the content decides
    with pytest.raises(FileChangedError, match="SHA-256"):
        identity.read_bytes()


# --------------------------------------------------------------------------------------
# cached
# --------------------------------------------------------------------------------------


def _counting_loader(calls: list):
    def load(identity: FileIdentity, *settings):
        calls.append(settings)
        return Path(identity.path).read_text(), settings

    return load


def test_one_load_per_loader_identity_and_settings(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("one")
    calls: list = []
    load = _counting_loader(calls)
    first = cached(load, FileIdentity.of(path), "x", 1)
    assert cached(load, FileIdentity.of(path), "x", 1) is first
    assert cached(load, FileIdentity.of(path), "x", 2) is not first
    assert calls == [("x", 1), ("x", 2)]
    _touch_later(path, "three")  # a rewritten file is a new key: loaded again
    assert cached(load, FileIdentity.of(path), "x", 1)[0] == "three"
    assert len(calls) == 3
    clear_cache()
    assert cache_size() == 0
    cached(load, FileIdentity.of(path), "x", 1)
    assert len(calls) == 4


def test_threads_share_one_load_and_errors_are_not_cached(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("slow")
    calls = []

    def slow(identity, tag):
        calls.append(tag)
        time.sleep(0.05)
        return object()

    identity = FileIdentity.of(path)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cached(slow, identity, "t")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1

    attempts = []

    def failing(identity):
        attempts.append(1)
        raise ValueError("broken file")

    for _ in range(2):
        with pytest.raises(ValueError, match="broken file"):
            cached(failing, identity)
    assert len(attempts) == 2


def test_content_is_cached_by_its_sha256(tmp_path):
    calls = []

    def parse(data: bytes):
        calls.append(data)
        return data.decode().split()

    data = b"one two"
    digest = hashlib.sha256(data).hexdigest()
    first = cached_content(parse, digest, data)
    assert cached_content(parse, digest, bytes(data)) is first and len(calls) == 1
    clear_cache()  # dropped by the cache: built again from the bytes, no file involved
    assert cached_content(parse, digest, data) == first and len(calls) == 2
    with pytest.raises(ValueError, match="not the content of SHA-256"):
        cached_content(parse, hashlib.sha256(b"other").hexdigest(), data)


def _text(identity: FileIdentity) -> str:
    return Path(identity.path).read_text()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_with_an_empty_cache(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("parent")
    identity = FileIdentity.of(path)
    loaded = cached(_text, identity)
    assert cache_size() >= 1
    pid = os.fork()
    if pid == 0:  # the child: nothing inherited is handed out, its own load is new
        ok = cache_size() == 0 and cached(_text, identity) is not loaded and cache_size() == 1
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cached(_text, identity) is loaded  # the parent keeps its own


def test_the_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(filecache, "MAX_ENTRIES", 3)
    clear_cache()
    path = tmp_path / "e.txt"
    path.write_text("e")
    identity = FileIdentity.of(path)

    def load(identity, k):
        return [k]

    first = cached(load, identity, 0)
    for k in range(1, 4):
        cached(load, identity, k)
    assert cache_size() == 3
    assert cached(load, identity, 0) is not first  # the least recently used went first
    clear_cache()


# --------------------------------------------------------------------------------------
# PathPickled
# --------------------------------------------------------------------------------------


class Table(PathPickled):
    """A toy file-backed object: a scale applied to the numbers of a text file."""

    opened = 0

    def __init__(self, path, scale=1.0):
        Table.opened += 1
        self.path = str(Path(path).resolve())
        self.identity = FileIdentity.of(path)
        self.scale = scale
        self.values = np.array([float(v) for v in Path(path).read_text().split()]) * scale

    def _pickle_where(self):
        return self.path

    def _pickle_settings(self):
        return (self.scale,)


class ShippedTable(Table):
    """A table that ships with a package: named, each process uses its own copy, unchecked."""

    def _pickle_identity(self):
        return None


def test_pickled_by_path_and_reopened_through_the_cache(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text(" ".join(map(str, range(1000))))
    table = Table(path, 2.0)
    data = pickle.dumps(table)
    assert len(data) < 300  # the path and the settings, not the thousand numbers
    Table.opened = 0
    clone = pickle.loads(data)
    assert pickle.loads(data) is clone and Table.opened == 1  # once per process
    np.testing.assert_array_equal(clone.values, table.values)
    assert unpickle_by_path(Table, str(path), (3.0,)).values[1] == 3.0
    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"no file .*table\.txt in this process for Table"):
        pickle.loads(data)


def test_a_file_changed_after_pickling_is_refused(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text("1 2")
    data = pickle.dumps(Table(path, 5.0))
    _touch_later(path, "3 4")  # rewritten after the run started
    with pytest.raises(FileChangedError) as err:
        pickle.loads(data)
    message = str(err.value)
    assert "\n" not in message and str(path.resolve()) in message
    assert "changed after the run started" in message and "Table" in message
    # a run started now sends the new state
    assert pickle.loads(pickle.dumps(Table(path, 5.0))).values.tolist() == [15.0, 20.0]
    # a file that ships with the package is not checked: each worker's own install
    shipped = pickle.dumps(ShippedTable(path, 1.0))
    _touch_later(path, "5 6")
    assert pickle.loads(shipped).values.tolist() == [5.0, 6.0]


# --------------------------------------------------------------------------------------
# FudgeFile: pickled as (path, SHA-256), its evaluator built once per content
# --------------------------------------------------------------------------------------


def _factors(shift: float) -> dict[str, FudgeFactors]:
    et, eta = np.array([0.0, 40.0, 1e4]), np.array([-2.5, 0.0, 2.5])
    centre_mc = np.array([[0.90, 0.91], [0.92, 0.93]])
    return {
        "reta": FudgeFactors("reta", et, eta, centre_mc, centre_mc + shift, np.full((2, 2), 1.1))
    }


def test_fudge_file_travels_by_path_and_refuses_a_rewritten_file(tmp_path):
    path = tmp_path / "fudge_factors.json"
    factors = _factors(0.01)
    write_correctionlib(factors, path)
    fudge = FudgeFile(path)
    data = pickle.dumps(fudge)
    assert len(data) < 400
    clone = pickle.loads(data)
    assert pickle.loads(data) is clone  # one object per content per process
    assert tokenize(clone) == tokenize(fudge) and clone.variables == ("reta",)
    values, et, eta = np.array([0.95, 0.97]), np.array([30.0, 50.0]), np.array([-1.0, 1.0])
    expected = apply_fudge(factors["reta"], values, et, eta)
    np.testing.assert_allclose(fudge.apply({"reta": values}, et, eta)["reta"], expected)
    np.testing.assert_allclose(clone.apply({"reta": values}, et, eta)["reta"], expected)

    write_correctionlib(_factors(0.02), path)
    with pytest.raises(
        FileChangedError, match=r"fudge_factors\.json changed after the run started"
    ):
        pickle.loads(data)
    np.testing.assert_allclose(fudge.apply({"reta": values}, et, eta)["reta"], expected)


def test_a_fudge_file_applies_the_content_it_was_opened_with(tmp_path):
    path = tmp_path / "fudge_factors.json"
    write_correctionlib(_factors(0.02), path)
    values, et, eta = np.array([0.95, 0.97]), np.array([30.0, 50.0]), np.array([-1.0, 1.0])
    expected = apply_fudge(_factors(0.02)["reta"], values, et, eta)
    late = FudgeFile(path)  # opened, not yet applied, when the file is rewritten
    write_correctionlib(_factors(0.03), path)
    assert tokenize(late) != tokenize(FudgeFile(path))
    # the content it was opened with, never the file as it is now (it was verified
    # when read), also after the cache dropped its evaluator
    np.testing.assert_allclose(late.apply({"reta": values}, et, eta)["reta"], expected)
    clear_cache()
    np.testing.assert_allclose(late.apply({"reta": values}, et, eta)["reta"], expected)
    path.unlink()
    np.testing.assert_allclose(late.apply({"reta": values}, et, eta)["reta"], expected)


class DefaultTable(PathPickled):
    """A file-backed object that uses PathPickled's defaults, with one shipped file."""

    shipped_dir: Path | None = None

    def __init__(self, path):
        self.path = str(path)
        self.identity = FileIdentity.of(path)
        self.shipped_name = "builtin" if Path(path).name == "builtin.txt" else None
        self.values = Path(path).read_text()

    @classmethod
    def _shipped_path(cls, name):
        return cls.shipped_dir / "builtin.txt" if name == "builtin" else None


def test_the_defaults_pickle_a_path_or_a_shipped_name(tmp_path):
    own = tmp_path / "own.txt"
    own.write_text("mine")
    DefaultTable.shipped_dir = tmp_path
    (tmp_path / "builtin.txt").write_text("shipped")
    mine, shipped = DefaultTable(own), DefaultTable(tmp_path / "builtin.txt")
    assert mine._pickle_where() == str(own.resolve()) and shipped._pickle_where() == "builtin"
    assert mine._pickle_identity() == mine.identity and shipped._pickle_identity() is None
    assert DefaultTable._locate("builtin") == tmp_path / "builtin.txt"
    assert DefaultTable._locate(str(own)) == own
    data_mine, data_shipped = pickle.dumps(mine), pickle.dumps(shipped)
    clear_cache()
    own.write_text("changed!")  # a user's file rewritten: refused on the receiving side
    (tmp_path / "builtin.txt").write_text("other install")  # a shipped one: unchecked
    assert pickle.loads(data_shipped).values == "other install"
    with pytest.raises(FileChangedError):
        pickle.loads(data_mine)
