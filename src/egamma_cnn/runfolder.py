"""Output folders of one run: written aside, swapped in, closed by a manifest written last.

Every workflow (``egamma-cnn tnp``, ``datamc``, ``isolation``, the demo's steps) writes
its files through :func:`run_folder`:

1. at the start, the temporary folders of dead runs beside the output folder are removed
   (``.<name>.run-<host>-<pid>-<token>``: a run on this host whose process is gone);
2. the run writes into a fresh hidden temporary folder beside the output folder, created
   exclusively and named with the host and the process id of its owner;
3. on success its files are moved in: first the previous run's ``manifest.json`` is
   taken away (its list kept in ``.manifest-previous.json`` until the new manifest is
   written), then the files the previous manifest lists that this run does not write are
   removed (only those: a file of the user's own in the folder stays), the new files are
   moved in, and ``manifest.json`` is written **last**: every file of the run with its
   size and sha256, the egamma-cnn version, the time, the command line of the process and
   the inputs the workflow names;
4. a run that fails (an exception, Ctrl-C) removes its temporary folder and leaves the
   output folder as the previous run left it.

A run never replaces or removes a file that is not its previous run's. It refuses, with
one line naming the folder and the files, before anything runs: an empty output folder
name, the filesystem root and the home folder itself; an output folder that holds one of
the run's input files (any existing file named in ``inputs``); a folder whose
``manifest.json`` was not written by egamma-cnn (it lacks ``workflow`` and
``egamma_cnn_version``: another tool's, whose files we would remove). The run cannot know
its file names in advance: a new file whose name is taken in the output folder by a file
the previous manifest does not list (a user's own ``config.json``) fails the run when its
files are moved in, before anything in the output folder is touched.

A folder is the complete output of one run exactly when its ``manifest.json`` exists and
every file it lists has the listed size and sha256 (:func:`check_run_folder`); a folder
without a manifest, or whose files do not match it, is an incomplete run (killed while it
moved its files in) or not an egamma-cnn output folder. A run killed with SIGKILL leaves
its temporary folder behind; the next run into the same folder removes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from egamma_cnn import __version__
from egamma_cnn.jsonio import write_json
from egamma_cnn.temporaries import host_name, process_alive

__all__ = ["MANIFEST", "check_run_folder", "remove_dead_runs", "run_folder"]

#: Name of the manifest of a run's output folder, written last.
MANIFEST = "manifest.json"
#: The previous run's file list while a new run moves its files in.
_PREVIOUS = ".manifest-previous.json"
_TAG = ".run-"


def _temporary_pattern(out_dir: Path) -> re.Pattern[str]:
    return re.compile(
        rf"^\.{re.escape(out_dir.name)}{re.escape(_TAG)}(?P<host>[A-Za-z0-9-]+)-"
        r"(?P<pid>[0-9]+)-[0-9a-f]{8}$"
    )


def remove_dead_runs(out_dir: str | Path) -> list[Path]:
    """Remove the temporary folders of dead runs beside ``out_dir``; returns them.

    A temporary folder is a dead run's when it was made on this host by a process that
    no longer exists (a run killed with SIGKILL). Those of live processes and of other
    hosts (a shared file system) are left alone.
    """
    out_dir = Path(out_dir)
    parent = out_dir.parent
    if not parent.is_dir():
        return []
    pattern, host, removed = _temporary_pattern(out_dir), host_name(), []
    for entry in parent.iterdir():
        match = pattern.match(entry.name)
        if match is None or match["host"] != host or process_alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[str]:
    """The regular files under ``folder`` as sorted POSIX paths relative to it."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink()
    )


def _listed(path: Path) -> list[str]:
    """The files a manifest (or the kept previous list) names; [] if none is readable."""
    try:
        files = json.loads(path.read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        return []
    return [name for name in files if isinstance(name, str)]


def _inside(out_dir: Path, name: str) -> Path | None:
    """``out_dir / name`` when ``name`` is a plain relative path inside it, else None."""
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or any(p in ("..", ".", "") for p in parts):
        return None
    return out_dir.joinpath(*parts)


def _check_manifest_is_ours(out_dir: Path) -> None:
    """Refuse a folder whose ``manifest.json`` egamma-cnn did not write (another tool's)."""
    path = out_dir / MANIFEST
    if not path.exists() and not path.is_symlink():
        return
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(
            f"output folder {out_dir}: its {MANIFEST} cannot be read "
            f"({' '.join(str(error).split())}): not an egamma-cnn output folder; choose another "
            "output folder or remove that file"
        ) from None
    if (
        not isinstance(manifest, dict)
        or not path.is_file()
        or not {"workflow", "egamma_cnn_version"} <= set(manifest)
        or not isinstance(manifest.get("files", {}), dict)
    ):
        raise ValueError(
            f"output folder {out_dir}: its {MANIFEST} was not written by egamma-cnn (another "
            "tool's output folder, whose files a run would replace); choose another output folder"
        )


def _input_files(inputs: Any) -> set[Path]:
    """The existing local files ``inputs`` names anywhere (texts in nested mappings, lists)."""
    if isinstance(inputs, Mapping):
        return set().union(*(_input_files(value) for value in inputs.values()))
    if isinstance(inputs, list | tuple | set | frozenset):
        return set().union(*(_input_files(value) for value in inputs))
    if isinstance(inputs, str | Path) and "://" not in str(inputs) and str(inputs):
        path = Path(inputs)
        try:
            if path.is_file():
                return {Path(os.path.realpath(path))}
        except OSError:
            return set()
    return set()


def _check_out_dir(given: str | Path, out_dir: Path, inputs: Mapping[str, Any] | None) -> None:
    """Refuse an output folder a run must not write into (module docstring), before it runs."""
    if not str(given).strip():
        raise ValueError("output folder: an empty name (it would be the current folder)")
    if out_dir == Path(out_dir.anchor):
        raise ValueError(f"output folder {given}: the filesystem root; choose a folder below it")
    try:
        home = Path.home().resolve()
    except (OSError, RuntimeError):  # no home
        home = None
    if out_dir == home:
        raise ValueError(f"output folder {given}: your home folder itself; choose a folder in it")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"output folder {out_dir} exists and is not a folder")
    real = Path(os.path.realpath(out_dir))
    held = sorted(str(f) for f in _input_files(inputs) if f.is_relative_to(real))
    if held:
        raise ValueError(
            f"output folder {out_dir} holds input file(s) of the run ({', '.join(held[:3])}"
            f"{', ...' if len(held) > 3 else ''}); write the outputs into another folder"
        )
    _check_manifest_is_ours(out_dir)


def _taken(out_dir: Path, new: list[str], previous: set[str]) -> list[str]:
    """The names of ``new`` whose place in ``out_dir`` holds something not of the previous run."""
    taken = []
    for name in new:
        target = out_dir / name
        if name not in previous and (target.exists() or target.is_symlink()):
            taken.append(name)
            continue
        for folder in list(Path(name).parents)[:-1]:  # sub-folders of out_dir on the way
            place = out_dir / folder
            if place.is_symlink() or (place.exists() and not place.is_dir()):
                taken.append(folder.as_posix())
                break
    return sorted(set(taken))


def _commit(staging: Path, out_dir: Path, record: dict[str, Any]) -> None:
    """Move the files of ``staging`` into ``out_dir`` (module docstring, step 3)."""
    new = _files(staging)
    _check_manifest_is_ours(out_dir)
    listed = set(_listed(out_dir / MANIFEST)) | set(_listed(out_dir / _PREVIOUS))
    taken = _taken(out_dir, new, listed)
    if taken:
        raise ValueError(
            f"output folder {out_dir}: the run would replace {', '.join(taken[:5])}"
            f"{', ...' if len(taken) > 5 else ''}, not written by its previous run (no "
            f"{MANIFEST} lists it); nothing was written: move that file away or choose another "
            "output folder"
        )
    manifest = {
        **record,
        "files": {
            name: {"size": (staging / name).stat().st_size, "sha256": _sha256(staging / name)}
            for name in new
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = sorted(listed)
    _replace_with_json({"files": previous}, out_dir / _PREVIOUS)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    for name in sorted(set(previous) - set(new) - {MANIFEST, _PREVIOUS}):
        path = _inside(out_dir, name)
        if path is None or not path.is_file() or path.is_symlink():
            continue
        path.unlink()
        for folder in path.parents:  # the folders that held only our files
            if folder == out_dir or not folder.is_relative_to(out_dir):
                break
            try:
                folder.rmdir()
            except OSError:
                break
    # nested runs' manifests last, so that a sub-folder is complete only when its files are
    for name in sorted(new, key=lambda n: (Path(n).name == MANIFEST, n)):
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging / name, target)  # a rename; a copy across file systems
    _replace_with_json(manifest, out_dir / MANIFEST)
    (out_dir / _PREVIOUS).unlink(missing_ok=True)


def _replace_with_json(value: Any, path: Path) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, then a rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}")
    try:
        write_json(value, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def run_folder(
    out_dir: str | Path, *, workflow: str, inputs: Mapping[str, Any] | None = None
) -> Iterator[Path]:
    """A temporary folder to write a run's files into, swapped into ``out_dir`` on success.

    Parameters
    ----------
    out_dir : str or Path
        The output folder (created; the files of a previous run there are replaced, those
        of the user kept).
    workflow : str
        What wrote the folder (``"tnp"``, ``"datamc"``, ...), recorded in the manifest.
    inputs : mapping, optional
        What the run read (e.g. the files per dataset), recorded in the manifest.

    Yields
    ------
    Path
        The temporary folder; write every file of the run into it.

    Raises
    ------
    ValueError
        ``out_dir`` exists and is not a folder, is empty, the filesystem root or the home
        folder, holds an input file of the run or another tool's ``manifest.json``; or
        (when the files are moved in, nothing touched) a file of the run would replace one
        that the previous run did not write.
    """
    given = out_dir
    out_dir = Path(out_dir).resolve()
    _check_out_dir(given, out_dir, inputs)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_runs(out_dir)
    name = f".{out_dir.name}{_TAG}{host_name()}-{os.getpid()}-{secrets.token_hex(4)}"
    staging = out_dir.parent / name
    staging.mkdir(mode=0o700)  # exclusive: fails if it exists
    try:
        yield staging
        _commit(
            staging,
            out_dir,
            {
                "workflow": workflow,
                "egamma_cnn_version": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "command": shlex.join(sys.argv),
                "inputs": dict(inputs or {}),
            },
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_run_folder(out_dir: str | Path) -> dict[str, Any]:
    """The manifest of ``out_dir`` once every file it lists is there, unchanged.

    Raises
    ------
    ValueError
        No manifest (an incomplete run, or not an egamma-cnn output folder), or a listed
        file is missing or differs from its size or sha256 (an incomplete or altered run).
    """
    out_dir = Path(out_dir)
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except FileNotFoundError:
        raise ValueError(
            f"{out_dir}: no {MANIFEST}: an incomplete run (interrupted, or still writing) "
            "or not an egamma-cnn output folder"
        ) from None
    except ValueError as error:
        raise ValueError(f"{out_dir / MANIFEST}: not a manifest ({error})") from None
    for name, entry in manifest.get("files", {}).items():
        path = _inside(out_dir, name)
        if path is None or not path.is_file():
            raise ValueError(f"{out_dir}: {name} of the manifest is missing: an incomplete run")
        if path.stat().st_size != entry.get("size") or _sha256(path) != entry.get("sha256"):
            raise ValueError(f"{out_dir}: {name} differs from the manifest: not the run's file")
    return manifest
