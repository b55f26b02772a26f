"""egamma-cnn: convolutional-network e/γ identification from calorimeter cells for coffea.

The package is built in layers that import one way (docs/ARCHITECTURE.md):

* foundation — :mod:`egamma_cnn.geometry` (the ATLAS-like calorimeter, one source of
  truth), :mod:`egamma_cnn.cellgrid` (the integer η × φ grid of windows),
  :mod:`egamma_cnn.columnar` (jagged columns ↔ numba kernels, eager and on dask),
  :mod:`egamma_cnn.intervals` (efficiency intervals), :mod:`egamma_cnn.provenance`
  (what a sample file says about itself), :mod:`egamma_cnn.filecache` (files loaded
  once per process), :mod:`egamma_cnn.plotting` (the plots' backend and style),
  :mod:`egamma_cnn.jsonio` (strict JSON outputs), :mod:`egamma_cnn.runfolder` (one
  run's output folder: written aside, swapped in, closed by a manifest),
  :mod:`egamma_cnn.temporaries` (files a process owns while it writes);
* runtime — :mod:`egamma_cnn.images`, :mod:`egamma_cnn.features` (network inputs and
  physics features), :mod:`egamma_cnn.model` (ONNX models, discriminant, working
  points, likelihood and cut-based baselines, ROC metrics),
  :mod:`egamma_cnn.corrections` (fudge factors, isolation working points, correctionlib
  writing), :mod:`egamma_cnn.identification` (the CNN columns) and
  :mod:`egamma_cnn.nanoevents` (the coffea schema and behaviours: ``cnn_score`` & co.);
* execution — :mod:`egamma_cnn.execution` (executors, ``run_fileset``, filesets);
* production — :mod:`egamma_cnn.sim` (Pythia8 events through a fast detector
  simulation; the ``sim`` extra) and :mod:`egamma_cnn.train` (the ``train`` extra);
* studies — :mod:`egamma_cnn.tnp`, :mod:`egamma_cnn.datamc`,
  :mod:`egamma_cnn.isolation` (analyse → write → plot, on histograms);
* :mod:`egamma_cnn.processors` — the pre-built coffea processors;
* :mod:`egamma_cnn.workflows` — a processor over a fileset, then its study;
* :mod:`egamma_cnn.cli` — ``egamma-cnn``.

The numba kernels are compiled once and cached (``@numba.njit(cache=True)``): numba writes
its cache into ``__pycache__`` beside each module, else into the user's cache folder, and
refuses to decorate a function when neither is writable. For a read-only installation
without a writable home, importing this package therefore points ``NUMBA_CACHE_DIR`` (when
unset) to a private per-user folder under the system's temporary folder
(:func:`_ensure_numba_cache_dir`).
"""

import atexit
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

__version__ = "0.1.0"

#: Subpackages whose modules hold cached numba kernels (their ``__pycache__`` must be
#: writable for numba's in-tree cache).
_NUMBA_PACKAGES = ("", "features", "images", "sim")


def _writable(folder: Path) -> bool:
    """Whether a file can be made in ``folder`` (created if needed), as numba tests it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _numba_user_cache_dir() -> Path:
    """numba's user-wide cache folder (``numba.misc.appdirs.user_cache_dir``)."""
    if sys.platform == "darwin":
        return Path("~/Library/Caches/numba").expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", "~")).expanduser() / "numba" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()) / "numba"


def _private_cache_dir() -> Path:
    """A folder of this user's own under the temporary folder: ``egamma-cnn-numba-<uid>``,
    made with mode 0o700. One that is a link, not a folder, owned by another user or
    writable by others is refused; a fresh folder of this process (removed at exit) is
    used instead."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    folder = Path(tempfile.gettempdir()) / f"egamma-cnn-numba-{uid if uid is not None else 'user'}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        safe = (
            stat.S_ISDIR(info.st_mode)
            and (uid is None or info.st_uid == uid)
            and not info.st_mode & 0o022
        )
        if safe and _writable(folder):
            return folder
    except OSError:
        pass
    fresh = Path(tempfile.mkdtemp(prefix="egamma-cnn-numba-"))
    atexit.register(shutil.rmtree, fresh, ignore_errors=True)
    return fresh


def _ensure_numba_cache_dir() -> None:
    """Set ``NUMBA_CACHE_DIR`` to :func:`_private_cache_dir` when it is unset and numba
    could write neither beside the package's modules nor into the user's cache folder."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    package = Path(__file__).resolve().parent
    if all(_writable(package / name / "__pycache__") for name in _NUMBA_PACKAGES):
        return
    if _writable(_numba_user_cache_dir()):
        return
    os.environ["NUMBA_CACHE_DIR"] = str(_private_cache_dir())
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba imported before us: let it read the variable again
        config.reload_config()


_ensure_numba_cache_dir()
