"""Files loaded once per process, and objects that travel in a task graph as their path.

The package's one deliberate piece of global state (docs/ARCHITECTURE.md). An ONNX model
(:class:`egamma_cnn.model.OnnxModel` and its ``onnxruntime.InferenceSession``), a
likelihood file (:class:`egamma_cnn.identification.LikelihoodFile`) and a fudge-factor
file (:class:`egamma_cnn.corrections.FudgeFile`) are opened from a file; every chunk of
events that a dask worker scores needs them, and none of them should be rebuilt per
chunk or shipped inside the graph. This module gives them

* :class:`FileIdentity` — what makes an opened file "the same file": its resolved path,
  size and modification time (``st_mtime_ns``), plus the SHA-256 of its content for the
  classes that identify a file by its content (a fudge-factor file);
* :func:`cached` — one thread-safe, process-wide cache of loaded objects, keyed by
  (loader, identity, settings): a file rewritten in place has a new identity and is
  loaded again, never mixed with the old one;
* :class:`PathPickled` — the one pickle-by-path protocol: such an object pickles as
  (its class, where its file is, its settings), a few hundred bytes, and the receiving
  process reopens it through :func:`cached` (once per file and settings per process).

The cache holds at most :data:`MAX_ENTRIES` objects, the least recently used going
first; it holds no event data. It imports nothing of the package (foundation layer).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

__all__ = [
    "MAX_ENTRIES",
    "FileChangedError",
    "FileIdentity",
    "PathPickled",
    "cache_size",
    "cached",
    "clear_cache",
    "unpickle_by_path",
]

T = TypeVar("T")

#: Most objects the cache holds (least recently used dropped first).
MAX_ENTRIES = 128


class FileChangedError(ValueError):
    """A file changed on disk after an object was opened from it."""


@dataclass(frozen=True)
class FileIdentity:
    """One state of one file: resolved path, size, modification time, content digest.

    Two identities are equal when the file is the same file in the same state; a file
    rewritten in place (new size or mtime, or new content where ``digest`` is used) has a
    new identity.

    Attributes
    ----------
    path : str
        The resolved absolute path.
    size : int
        ``st_size`` in bytes.
    mtime_ns : int
        ``st_mtime_ns``.
    digest : str or None
        SHA-256 (hex) of the content, for identities made by :meth:`read`; None for
        identities made by :meth:`of` (from ``stat`` alone).
    """

    path: str
    size: int
    mtime_ns: int
    digest: str | None = None

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileIdentity:
        """The identity of ``path`` now, from ``stat`` (size and mtime; no read).

        Raises ``FileNotFoundError`` naming the file when there is none.
        """
        resolved = _resolved(path)
        stat = resolved.stat()
        return cls(str(resolved), stat.st_size, stat.st_mtime_ns)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> tuple[FileIdentity, bytes]:
        """The content of ``path`` and its identity with the content's SHA-256."""
        resolved = _resolved(path)
        with open(resolved, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read()
        digest = hashlib.sha256(data).hexdigest()
        return cls(str(resolved), stat.st_size, stat.st_mtime_ns, digest), data

    def check(self) -> None:
        """Raise :class:`FileChangedError` when the file is no longer in this state."""
        if self.digest is not None:
            self.read_bytes()
        else:
            self._compare(self.of(self.path))

    def read_bytes(self) -> bytes:
        """The file's content, checked to be the content of this identity."""
        now, data = FileIdentity.read(self.path)
        self._compare(now)
        return data

    def _compare(self, now: FileIdentity) -> None:
        if self.digest is not None:
            same = now.digest == self.digest
        else:
            same = (now.size, now.mtime_ns) == (self.size, self.mtime_ns)
        if not same:
            what = (
                f"SHA-256 {self.digest[:12]}… → {now.digest[:12]}…"
                if self.digest is not None and now.digest is not None
                else f"size {self.size} → {now.size}, mtime_ns {self.mtime_ns} → {now.mtime_ns}"
            )
            raise FileChangedError(
                f"the file {self.path} changed after it was given to the run ({what}); "
                "rerun with the new file"
            )


def _resolved(path: str | os.PathLike[str]) -> Path:
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f"no file {resolved}")
    return resolved


# --------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------

_ENTRIES: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_LOADING: dict[tuple[Any, ...], threading.Lock] = {}
_LOCK = threading.Lock()


def _reset_locks_in_child() -> None:  # a lock held by another thread at fork stays held
    global _LOCK
    _LOCK = threading.Lock()
    _LOADING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_in_child)


def cached(loader: Callable[..., T], identity: FileIdentity, *settings: Hashable) -> T:
    """``loader(identity, *settings)``, called once per process for each key.

    The key is (``loader``, ``identity``, ``settings``); ``settings`` must be hashable.
    Threads asking for the same key wait for one load; different keys load in parallel
    (a loader may itself call :func:`cached`). A loader that raises caches nothing. The
    loader reads the file through ``identity`` (:meth:`FileIdentity.read_bytes` or
    :meth:`FileIdentity.check` first), so that a file rewritten since its identity was
    taken is an error, not a silent mix of two versions.
    """
    key = (loader, identity, settings)
    with _LOCK:
        if key in _ENTRIES:
            _ENTRIES.move_to_end(key)
            return _ENTRIES[key]
        lock = _LOADING.setdefault(key, threading.Lock())
    try:
        with lock:
            with _LOCK:
                if key in _ENTRIES:  # loaded by another thread while this one waited
                    _ENTRIES.move_to_end(key)
                    return _ENTRIES[key]
            value = loader(identity, *settings)
            with _LOCK:
                _ENTRIES[key] = value
                while len(_ENTRIES) > MAX_ENTRIES:
                    _ENTRIES.popitem(last=False)
            return value
    finally:
        with _LOCK:
            if _LOADING.get(key) is lock:
                del _LOADING[key]


def clear_cache() -> None:
    """Forget every loaded object (the next use loads the files again)."""
    with _LOCK:
        _ENTRIES.clear()


def cache_size() -> int:
    """Number of objects the cache holds."""
    with _LOCK:
        return len(_ENTRIES)


# --------------------------------------------------------------------------------------
# Pickling by path
# --------------------------------------------------------------------------------------


class PathPickled:
    """Mixin: an object opened from one file that pickles as (class, where, settings).

    A subclass defines

    * :meth:`_pickle_where` — where its file is: an absolute path, or the name of a file
      that ships with the package (resolved by :meth:`_locate` in the receiving
      process's own installation);
    * :meth:`_pickle_settings` — a tuple of hashable settings (what the constructor needs
      besides the file);
    * optionally :meth:`_locate`, :meth:`_open` (default ``cls(path, *settings)``) and
      :meth:`_restored` (what one unpickling returns: by default the cached object).

    Unpickling (:func:`unpickle_by_path`) takes the file's identity in the receiving
    process and returns the object :func:`cached` holds for (``_open``, identity, where,
    settings): one object per file state and settings per process, however many tasks
    carry it. With ``_identity_by_content`` the identity includes the SHA-256 of the
    content (the file is read on every unpickling).
    """

    #: Identify the file by its content's SHA-256 (else by path, size and mtime).
    _identity_by_content: ClassVar[bool] = False

    def _pickle_where(self) -> str:
        raise NotImplementedError

    def _pickle_settings(self) -> tuple[Hashable, ...]:
        return ()

    @classmethod
    def _locate(cls, where: str) -> Path:
        """The file of ``where`` in this process (a path as it is)."""
        return Path(where)

    @classmethod
    def _open(cls, identity: FileIdentity, where: str, settings: tuple[Hashable, ...]) -> Any:
        """A new object from the file of ``identity`` (called through :func:`cached`)."""
        return cls(identity.path, *settings)

    def _restored(self) -> Any:
        """What one unpickling returns from the cached object (default: the object)."""
        return self

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (unpickle_by_path, (type(self), self._pickle_where(), self._pickle_settings()))


def unpickle_by_path(cls: type[PathPickled], where: str, settings: tuple[Hashable, ...]) -> Any:
    """Reopen a :class:`PathPickled` object in this process, through :func:`cached`."""
    path = cls._locate(where)
    try:
        identity = FileIdentity.read(path)[0] if cls._identity_by_content else FileIdentity.of(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no file {path} in this process for {cls.__name__} (a dask worker opens the "
            "file at the path the client gave: put it on a file system they share)"
        ) from None
    return cached(cls._open, identity, where, settings)._restored()
