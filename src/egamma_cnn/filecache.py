"""Files loaded once per process, and objects that travel in a task graph as their path.

One of the three pieces of process-wide state the package keeps on purpose
(docs/ARCHITECTURE.md). An ONNX model
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
* :func:`cached_content` — the same cache for content already read and verified,
  keyed by its SHA-256: an object that holds the bytes it was opened with builds from
  them again, and never re-reads a path that may have changed since;
* :class:`PathPickled` — the one pickle-by-path protocol: such an object pickles as
  (its class, where its file is, its settings, the file's state), a few hundred bytes,
  and the receiving process reopens it through :func:`cached` (once per file and
  settings per process), refusing a file that changed after the run started
  (:class:`FileChangedError`).

The cache holds at most :data:`MAX_ENTRIES` objects, the least recently used going
first; it holds no event data. A process forked from one with a full cache starts with
an empty one (an ``onnxruntime.InferenceSession`` must not be shared across ``fork``).
It imports nothing of the package (foundation layer).
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
    "cached_content",
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
        what = _difference((self.size, self.mtime_ns, self.digest), now)
        if what is not None:
            raise FileChangedError(
                f"the file {self.path} changed after it was given to the run ({what}); "
                "rerun with the new file"
            )


def _difference(state: tuple[int, int, str | None], now: FileIdentity) -> str | None:
    """What changed from ``state`` (size, ``st_mtime_ns``, SHA-256 or None) to ``now``.

    With a digest in ``state`` the content is compared (its SHA-256), else the size and
    the modification time; None when they are the same.
    """
    size, mtime_ns, digest = state
    if digest is not None:
        if now.digest == digest:
            return None
        return f"SHA-256 {digest[:12]}… → {(now.digest or '?')[:12]}…"
    if (now.size, now.mtime_ns) == (size, mtime_ns):
        return None
    return f"size {size} → {now.size}, mtime_ns {mtime_ns} → {now.mtime_ns}"


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


#: What a forked child inherited from its parent's cache: kept alive, never used. An
#: ``onnxruntime.InferenceSession`` must not be used across ``fork`` (its thread pool's
#: threads stay in the parent), and freeing one in the child may wait on those threads.
_INHERITED: list[Any] = []


def _reset_in_child() -> None:
    """After ``fork``, in the child: new locks and an empty cache.

    A lock held by another thread at the fork stays held in the child; the child loads
    its own objects (what it inherited is kept in :data:`_INHERITED`, unused).
    """
    global _LOCK
    _LOCK = threading.Lock()
    _LOADING.clear()
    _INHERITED.extend(_ENTRIES.values())
    _ENTRIES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def cached(loader: Callable[..., T], identity: FileIdentity, *settings: Hashable) -> T:
    """``loader(identity, *settings)``, called once per process for each key.

    The key is (``loader``, ``identity``, ``settings``); ``settings`` must be hashable.
    Threads asking for the same key wait for one load; different keys load in parallel
    (a loader may itself call :func:`cached`). A loader that raises caches nothing. The
    loader reads the file through ``identity`` (:meth:`FileIdentity.read_bytes` or
    :meth:`FileIdentity.check` first), so that a file rewritten since its identity was
    taken is an error, not a silent mix of two versions.
    """
    return _cached((loader, identity, settings), lambda: loader(identity, *settings))


def cached_content(loader: Callable[[bytes], T], digest: str, data: bytes) -> T:
    """``loader(data)``, called once per process for each content (key: its SHA-256).

    For an object that read its file once and keeps the bytes (identified by
    ``digest``, the ``FileIdentity.read`` digest): what it builds from them is shared
    with every object of the same content, and built again from ``data`` (never from the
    path) after the cache dropped it. ``data`` is checked against ``digest`` when it is
    loaded; a mismatch is a ``ValueError``.
    """

    def load() -> T:
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError(f"the content given is not the content of SHA-256 {digest[:12]}…")
        return loader(data)

    return _cached((loader, "sha256", digest), load)


def _cached(key: tuple[Any, ...], load: Callable[[], T]) -> T:
    """``load()`` once per process for ``key`` (see :func:`cached`)."""
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
            value = load()
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
    """Mixin: an object opened from one file that pickles as (class, where, settings, state).

    A subclass sets :attr:`path` (its file) and :attr:`identity` (the
    :class:`FileIdentity` it was opened with), and defines

    * :meth:`_pickle_settings` — a tuple of hashable settings (what the constructor needs
      besides the file; default none);
    * for a class whose file may ship with the package: :meth:`_shipped_path` (the
      installed file of a shipped file's name in this process) and, on an object opened
      from such a file, :attr:`shipped_name`;
    * optionally :meth:`_pickle_where` (default: :attr:`shipped_name` for a shipped file,
      else the absolute :attr:`path`), :meth:`_pickle_identity` (default
      :attr:`identity`; None for a shipped file), :meth:`_locate` (default: a shipped
      file's name through :meth:`_shipped_path`, a path as it is), :meth:`_open`
      (default ``cls(path, *settings)``) and :meth:`_restored` (what one unpickling
      returns: by default the cached object).

    The pickle carries the file's state (size and ``st_mtime_ns``, or the SHA-256 of the
    content with ``_identity_by_content``). Unpickling (:func:`unpickle_by_path`) takes
    the file's identity in the receiving process, raises :class:`FileChangedError` when
    it is not that state (the file changed after the run started: the sender and the
    receiver would use two versions of it), and returns the object :func:`cached` holds
    for (``_open``, identity, where, settings): one object per file state and settings
    per process, however many tasks carry it. A file that ships with the package is
    identified by its name and the package version: each process uses its own
    installation's copy, unchecked. With ``_identity_by_content`` the file is read on
    every unpickling. The state is compared as ``stat`` reports it on each side, so the
    workers must see the file itself (a shared file system) or a copy that keeps its
    modification time (``cp -p``, ``rsync -t``).
    """

    #: Identify the file by its content's SHA-256 (else by path, size and mtime).
    _identity_by_content: ClassVar[bool] = False
    #: The file the object was opened from.
    path: str | os.PathLike[str]
    #: The state of the file the object was opened with.
    identity: FileIdentity
    #: The name of the file that ships with the package the object was opened from
    #: (:meth:`_shipped_path`); None for any other file.
    shipped_name: str | None = None

    @classmethod
    def _shipped_path(cls, name: str) -> Path | None:
        """This process's installed file of the shipped file ``name`` (None: not one)."""
        return None

    def _pickle_where(self) -> str:
        """Where the receiving process finds the file: a path, or a shipped file's name."""
        return self.shipped_name if self.shipped_name is not None else os.path.abspath(self.path)

    def _pickle_settings(self) -> tuple[Hashable, ...]:
        return ()

    def _pickle_identity(self) -> FileIdentity | None:
        """The state the receiving process must find (None: not checked)."""
        return None if self.shipped_name is not None else self.identity

    @classmethod
    def _locate(cls, where: str) -> Path:
        """The file of ``where`` in this process (a shipped file's name, or a path as it is)."""
        shipped = cls._shipped_path(where)
        return Path(where) if shipped is None else shipped

    @classmethod
    def _open(cls, identity: FileIdentity, where: str, settings: tuple[Hashable, ...]) -> Any:
        """A new object from the file of ``identity`` (called through :func:`cached`)."""
        return cls(identity.path, *settings)

    def _restored(self) -> Any:
        """What one unpickling returns from the cached object (default: the object)."""
        return self

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        identity = self._pickle_identity()
        state = None if identity is None else (identity.size, identity.mtime_ns, identity.digest)
        return (
            unpickle_by_path,
            (type(self), self._pickle_where(), self._pickle_settings(), state),
        )


def unpickle_by_path(
    cls: type[PathPickled],
    where: str,
    settings: tuple[Hashable, ...],
    state: tuple[int, int, str | None] | None = None,
) -> Any:
    """Reopen a :class:`PathPickled` object in this process, through :func:`cached`.

    ``state`` is the (size, ``st_mtime_ns``, SHA-256 or None) of the file the object was
    pickled with; None skips the check (a file that ships with the package, or an object
    opened here for the first time).

    Raises
    ------
    FileNotFoundError
        No file at ``where`` in this process.
    FileChangedError
        The file is not in ``state``: it changed after the run started.
    """
    path = cls._locate(where)
    try:
        identity = FileIdentity.read(path)[0] if cls._identity_by_content else FileIdentity.of(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no file {path} in this process for {cls.__name__} (a dask worker opens the "
            "file at the path the client gave: put it on a file system they share)"
        ) from None
    if state is not None:
        _check_state(cls, identity, state)
    return cached(_open_checked, identity, cls, where, settings)._restored()


def _open_checked(
    identity: FileIdentity, cls: type[PathPickled], where: str, settings: tuple[Hashable, ...]
) -> Any:
    """``cls._open``, checked to have opened the file in the state of ``identity``."""
    opened = cls._open(identity, where, settings)
    own = getattr(opened, "identity", None)
    if isinstance(own, FileIdentity):  # the file changed between the stat and the open
        _check_state(cls, own, (identity.size, identity.mtime_ns, identity.digest))
    return opened


def _check_state(
    cls: type[PathPickled], identity: FileIdentity, state: tuple[int, int, str | None]
) -> None:
    what = _difference(state, identity)
    if what is not None:
        raise FileChangedError(
            f"the file {identity.path} changed after the run started ({what}): this "
            f"{cls.__name__} was sent with the earlier file; rerun to use the new one"
        )
