"""Training and test arrays of e/γ candidates, built once from sample files.

The networks read the inputs that the plugin computes at run time — the same
:mod:`egamma_cnn.images` and :mod:`egamma_cnn.features` builders, with no second
implementation of any input — stored as plain ``.npy`` arrays (never pickle) so that
training epochs read memory, not ROOT files:

``<out>/<split>/electron/``
    ``coarse`` float32 (N, 18, 7, 11), ``fine`` float32 (N, 1, 56, 11), ``tracks``
    float32 (N, 5, 13), ``features`` float32 (N, F) with the scalar feature names of
    :func:`egamma_cnn.features.electron_features` (the 26 HLVs among them) in
    ``meta.json``, ``truth_class`` int8, ``et``/``eta`` float32 (cluster E_T and η),
    ``mu`` float32 (⟨μ⟩ of the event), ``process``/``file`` int16 (indices into the
    lists of ``meta.json``), ``event`` int64.
``<out>/<split>/photon/``
    ``strips`` (N, 56, 3), ``middle`` (N, 7, 11), ``back`` (N, 4, 11) float32, ``features``
    (N, F'), ``is_prompt`` bool, ``conversion_type`` int8, ``et``, ``eta``, ``mu``,
    ``process``, ``file``, ``event``.

Every candidate of every file is kept (selections are masks applied later, see
:func:`electron_selection`), in file order and, within a file, in event order.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from tqdm import tqdm

from egamma_cnn.execution.clusters import WorkerDiedError, check_local_workers, task_pool
from egamma_cnn.features import electron_features, photon_features
from egamma_cnn.images import electron_image_batch, photon_image_batch, track_array_batch
from egamma_cnn.jsonio import write_json
from egamma_cnn.nanoevents import open_events
from egamma_cnn.provenance import read_metadata

__all__ = [
    "ELECTRON_ARRAYS",
    "MAX_FILES",
    "PHOTON_ARRAYS",
    "CandidateArrays",
    "electron_selection",
    "load_arrays",
    "prepare_files",
    "read_meta",
    "save_arrays",
    "train_validation_split",
    "validation_mask",
]

#: Per-candidate arrays of the electron set: name → (dtype, shape after the first axis).
ELECTRON_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "coarse": ("float32", (18, 7, 11)),
    "fine": ("float32", (1, 56, 11)),
    "tracks": ("float32", (5, 13)),
    "truth_class": ("int8", ()),
    "et": ("float32", ()),
    "eta": ("float32", ()),
    "mu": ("float32", ()),
    "process": ("int16", ()),
    "file": ("int16", ()),
    "event": ("int64", ()),
}
#: Per-candidate arrays of the photon set.
PHOTON_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "strips": ("float32", (56, 3)),
    "middle": ("float32", (7, 11)),
    "back": ("float32", (4, 11)),
    "is_prompt": ("bool", ()),
    "conversion_type": ("int8", ()),
    "et": ("float32", ()),
    "eta": ("float32", ()),
    "mu": ("float32", ()),
    "process": ("int16", ()),
    "file": ("int16", ()),
    "event": ("int64", ()),
}
_KINDS = {"electron": ELECTRON_ARRAYS, "photon": PHOTON_ARRAYS}
#: Most files of one split: ``file`` is an int16 index.
MAX_FILES = int(np.iinfo(np.int16).max)


def _scalar_features(record: ak.Array) -> tuple[list[str], np.ndarray]:
    """Flat float32 table of the scalar fields of a per-candidate feature record."""
    flat_record = ak.flatten(record, axis=1)
    names, columns = [], []
    for name in record.fields:
        column = flat_record[name]
        if column.ndim == 1:
            names.append(name)
            columns.append(ak.to_numpy(column).astype(np.float32))
    n = len(flat_record)
    table = np.stack(columns, axis=1) if columns else np.zeros((n, 0), np.float32)
    return names, table


def _per_candidate(event_values: Any, candidates: ak.Array) -> np.ndarray:
    values, _ = ak.broadcast_arrays(event_values, candidates.clusterE)
    return ak.to_numpy(ak.flatten(values, axis=1))


def _file_arrays(path: str, process_index: int, file_index: int) -> dict[str, Any]:
    """All arrays of one sample file (runs in a worker process)."""
    events = open_events(path)
    electrons, photons = events.Electron, events.Photon
    if "truthClass" not in electrons.fields:
        raise ValueError(f"{path}: no truth branches (a data-like file cannot be a training file)")
    mu = events.Pileup.nTrueInt
    out: dict[str, Any] = {}

    images = electron_image_batch(events.CaloCell, electrons)
    names, table = _scalar_features(electron_features(events))
    cluster_eta = ak.to_numpy(ak.flatten(electrons.clusterEta)).astype(np.float64)
    cluster_e = ak.to_numpy(ak.flatten(electrons.clusterE)).astype(np.float64)
    out["electron"] = {
        "coarse": images["coarse"],
        "fine": images["fine"],
        "tracks": track_array_batch(events.Track, electrons),
        "features": table,
        "truth_class": ak.to_numpy(ak.flatten(electrons.truthClass)),
        "et": cluster_e / np.cosh(cluster_eta),
        "eta": cluster_eta,
        "mu": _per_candidate(mu, electrons),
        "process": np.full(len(cluster_e), process_index),
        "file": np.full(len(cluster_e), file_index),
        "event": _per_candidate(events.event, electrons),
    }
    out["electron_feature_names"] = names

    images = photon_image_batch(events.CaloCell, photons)
    names, table = _scalar_features(photon_features(events))
    cluster_eta = ak.to_numpy(ak.flatten(photons.clusterEta)).astype(np.float64)
    cluster_e = ak.to_numpy(ak.flatten(photons.clusterE)).astype(np.float64)
    out["photon"] = {
        **images,
        "features": table,
        "is_prompt": ak.to_numpy(ak.flatten(photons.isPrompt)).astype(bool),
        "conversion_type": ak.to_numpy(ak.flatten(photons.conversionType)),
        "et": cluster_e / np.cosh(cluster_eta),
        "eta": cluster_eta,
        "mu": _per_candidate(mu, photons),
        "process": np.full(len(cluster_e), process_index),
        "file": np.full(len(cluster_e), file_index),
        "event": _per_candidate(events.event, photons),
    }
    out["photon_feature_names"] = names
    return out


def _process_of(path: Path) -> str:
    metadata = read_metadata(path)
    if metadata.get("is_data", False):
        raise ValueError(f"{path}: a data-like file cannot be a training file")
    return str(metadata["process"])


def prepare_files(
    files: Sequence[str | Path],
    out_dir: str | Path,
    *,
    workers: int = 1,
    progress: bool = True,
    settings: Any = None,
) -> dict[str, Any]:
    """Build the electron and photon arrays of ``files`` into ``out_dir``.

    Parameters
    ----------
    files
        MC sample files (with truth).
    out_dir
        Folder that receives ``electron/`` and ``photon/`` (see the module docstring).
    workers
        Worker processes; each builds the arrays of whole files. At most
        :func:`~egamma_cnn.execution.clusters.max_local_workers`; they die with this
        process, and an interruption stops them at once.
    settings
        :class:`~egamma_cnn.execution.ExecutionSettings` of a cluster to build them on
        instead (its workers read ``files``, so they must see them; this process writes
        the arrays).

    Returns
    -------
    dict
        The ``meta.json`` written: file and process lists, feature names, counts.

    Raises
    ------
    ValueError
        If no file is given or more than :data:`MAX_FILES`, a file is data-like (no
        truth), files disagree on the feature names, or ``workers`` is above the limit.
    WorkerDiedError
        A local worker process died (out of memory?); ``meta.json`` is not written.
    """
    if settings is None:
        check_local_workers(workers)
    paths = [Path(f).resolve() for f in files]
    if not paths:
        raise ValueError(f"no sample files given for {out_dir}")
    if len(paths) > MAX_FILES:
        raise ValueError(
            f"{len(paths)} sample files for {out_dir}: at most {MAX_FILES} (int16 file index)"
        )
    processes = [_process_of(p) for p in paths]
    process_names = sorted(set(processes))
    counts = {"electron": [], "photon": []}
    for path in paths:
        with uproot.open(path) as root_file:
            tree = root_file["Events"]
            counts["electron"].append(int(tree["nElectron"].array(library="np").sum()))
            counts["photon"].append(int(tree["nPhoton"].array(library="np").sum()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").unlink(missing_ok=True)  # written last: its presence means complete
    arrays: dict[str, dict[str, np.ndarray]] = {}
    feature_names: dict[str, list[str]] = {}
    offsets = {kind: np.concatenate([[0], np.cumsum(c)]) for kind, c in counts.items()}
    for kind, spec in _KINDS.items():
        (out / kind).mkdir(parents=True, exist_ok=True)
        total = int(offsets[kind][-1])
        arrays[kind] = {
            name: np.lib.format.open_memmap(
                out / kind / f"{name}.npy", mode="w+", dtype=dtype, shape=(total, *shape)
            )
            for name, (dtype, shape) in spec.items()
        }

    def store(index: int, result: dict[str, Any]) -> None:
        for kind in _KINDS:
            names = result[f"{kind}_feature_names"]
            if kind not in feature_names:
                feature_names[kind] = names
                total = int(offsets[kind][-1])
                arrays[kind]["features"] = np.lib.format.open_memmap(
                    out / kind / "features.npy",
                    mode="w+",
                    dtype="float32",
                    shape=(total, len(names)),
                )
            elif names != feature_names[kind]:
                raise ValueError(f"{paths[index]}: {kind} feature names differ from the others")
            lo, hi = offsets[kind][index], offsets[kind][index + 1]
            for name, values in result[kind].items():
                if len(values) != hi - lo:
                    raise ValueError(
                        f"{paths[index]}: {kind} {name} has {len(values)} rows, expected {hi - lo}"
                    )
                arrays[kind][name][lo:hi] = values

    try:
        with (
            tqdm(total=len(paths), unit="file", desc="prepare", disable=not progress) as bar,
            task_pool(settings, workers) as pool,
        ):
            futures = {
                pool.submit(_file_arrays, str(p), process_names.index(proc), i): i
                for i, (p, proc) in enumerate(zip(paths, processes, strict=True))
            }
            for future in cf.as_completed(futures):
                try:
                    store(futures[future], future.result())
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                bar.update()
    except WorkerDiedError as err:
        raise WorkerDiedError(
            f"{err} while preparing {out}; {out / 'meta.json'} not written"
        ) from None
    for kind in _KINDS:
        for array in arrays[kind].values():
            array.flush()
    meta = {
        "files": [str(p) for p in paths],
        "file_process": processes,
        "processes": process_names,
        "counts": {kind: int(offsets[kind][-1]) for kind in _KINDS},
        "feature_names": feature_names,
    }
    write_json(meta, out / "meta.json")
    return meta


@dataclass
class CandidateArrays:
    """The arrays of one kind and split, loaded into memory (or memory-mapped).

    Attributes
    ----------
    arrays
        Name → array, every array with the same first axis.
    feature_names
        Column names of ``arrays["features"]``.
    processes, files
        Names behind the ``process`` and ``file`` indices.
    """

    arrays: dict[str, np.ndarray]
    feature_names: list[str]
    processes: list[str]
    files: list[str]

    def __len__(self) -> int:
        return len(self.arrays["et"])

    def features(self, names: Sequence[str]) -> np.ndarray:
        """Columns ``names`` of the feature table, ``float32[N, len(names)]``."""
        missing = [n for n in names if n not in self.feature_names]
        if missing:
            raise ValueError(f"no features {missing}; have {self.feature_names}")
        index = [self.feature_names.index(n) for n in names]
        return np.ascontiguousarray(self.arrays["features"][:, index])

    def subset(self, mask_or_index: np.ndarray) -> CandidateArrays:
        """A copy restricted to a boolean mask or an index array."""
        return CandidateArrays(
            {k: np.asarray(v[mask_or_index]) for k, v in self.arrays.items()},
            self.feature_names,
            self.processes,
            self.files,
        )


def load_arrays(
    folder: str | Path, kind: str, *, mmap: bool = False, names: Sequence[str] | None = None
) -> CandidateArrays:
    """Load the ``kind`` ("electron" or "photon") arrays written by :func:`prepare_files`."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
    folder = Path(folder)
    meta = read_meta(folder)
    if kind not in meta["counts"]:
        raise ValueError(f"{folder / 'meta.json'} lists no {kind} arrays; rerun egamma-cnn prepare")
    wanted = [*_KINDS[kind], "features"] if names is None else list(names)
    arrays = {name: _load_npy(folder / kind / f"{name}.npy", mmap) for name in wanted}
    expected = meta["counts"][kind]
    wrong = {name: len(a) for name, a in arrays.items() if len(a) != expected}
    if wrong:
        raise ValueError(
            f"{folder / kind}: arrays {wrong} do not have the {expected} rows of meta.json"
        )
    return CandidateArrays(arrays, meta["feature_names"][kind], meta["processes"], meta["files"])


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The ``meta.json`` of a split folder written by :func:`prepare_files`, checked.

    Raises
    ------
    FileNotFoundError
        No ``meta.json`` (prepare did not run or did not finish).
    ValueError
        ``meta.json`` is not JSON, or lacks the ``files``/``processes`` lists, the
        per-kind ``counts`` or ``feature_names``: one line naming the file.
    """
    path = Path(folder) / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: run `egamma-cnn prepare` first") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a JSON file ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err}); rerun egamma-cnn prepare") from None

    def strings(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    good = (
        isinstance(meta, dict)
        and strings(meta.get("files"))
        and strings(meta.get("processes"))
        and isinstance(meta.get("counts"), dict)
        and isinstance(meta.get("feature_names"), dict)
        and all(
            isinstance(meta["counts"].get(kind), int)
            and meta["counts"][kind] >= 0
            and strings(meta["feature_names"].get(kind))
            for kind in meta["counts"]
        )
        and set(meta["counts"]) <= set(_KINDS)
    )
    if not good:
        raise ValueError(
            f"{path}: expected the meta.json of egamma-cnn prepare (files, processes, counts "
            "and feature_names per kind); rerun egamma-cnn prepare"
        )
    return meta


def _load_npy(path: Path, mmap: bool) -> np.ndarray:
    """``np.load`` of one prepared array (never pickle); errors name the file."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: rerun egamma-cnn prepare") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a .npy array ({err}); rerun egamma-cnn prepare") from None


def save_arrays(folder: str | Path, kind: str, data: CandidateArrays) -> None:
    """Write ``data`` in the layout of :func:`prepare_files` (for arrays made elsewhere).

    ``folder`` receives ``<kind>/<name>.npy`` for every array and a ``meta.json`` (merged
    with an existing one, so electrons and photons can be written one after the other).
    Every array of :data:`ELECTRON_ARRAYS` or :data:`PHOTON_ARRAYS` and ``features``
    must be present, with one row per candidate.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
    missing = [n for n in [*_KINDS[kind], "features"] if n not in data.arrays]
    if missing:
        raise ValueError(f"{kind} arrays lack {missing}")
    n = len(data)
    for name, array in data.arrays.items():
        if len(array) != n:
            raise ValueError(f"array {name!r} has {len(array)} rows, expected {n}")
    if data.arrays["features"].shape[1:] != (len(data.feature_names),):
        raise ValueError("features must have one column per feature name")
    folder = Path(folder)
    (folder / kind).mkdir(parents=True, exist_ok=True)
    for name, array in data.arrays.items():
        np.save(folder / kind / f"{name}.npy", np.asarray(array))
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if (
        meta.get("processes", data.processes) != data.processes
        or meta.get("files", data.files) != data.files
    ):
        raise ValueError(f"{meta_path} lists other processes or files than these arrays")
    meta.update({"files": data.files, "processes": data.processes})
    meta.setdefault("counts", {})[kind] = n
    meta.setdefault("feature_names", {})[kind] = list(data.feature_names)
    write_json(meta, meta_path)


#: Seed of the train/validation split. It is fixed (not the training seed), so that every
#: network and baseline trained on a sample shares one split, whatever its own seed.
SPLIT_SEED = 20231


def validation_mask(data: CandidateArrays, fraction: float) -> np.ndarray:
    """Candidates of a pseudo-random ``fraction`` of the *events* (whole events go together).

    The choice hashes the file's name and the event number (with :data:`SPLIT_SEED`), so it
    depends neither on the order of the candidates nor on which other files are present.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    name_hash = np.array([zlib.crc32(Path(f).name.encode()) for f in data.files] or [0], np.uint64)
    key = data.arrays["event"].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    key ^= name_hash[data.arrays["file"].astype(np.int64)] * np.uint64(0xBF58476D1CE4E5B9)
    key ^= np.uint64(SPLIT_SEED)
    key ^= key >> np.uint64(31)
    key *= np.uint64(0x94D049BB133111EB)
    key ^= key >> np.uint64(29)
    return (key % np.uint64(1_000_000)).astype(np.float64) < fraction * 1_000_000


def train_validation_split(
    data: CandidateArrays, fraction: float
) -> tuple[CandidateArrays, CandidateArrays]:
    """``(train, validation)`` parts of ``data`` by :func:`validation_mask`."""
    is_val = validation_mask(data, fraction)
    if is_val.all() or not is_val.any():
        raise ValueError(
            f"the validation split of {len(data)} candidates with fraction {fraction} "
            "leaves one part empty; use more events"
        )
    return data.subset(~is_val), data.subset(is_val)


def electron_selection(
    data: CandidateArrays, *, min_et: float = 4.5, max_abs_eta: float = 2.47
) -> np.ndarray:
    """Candidates the electron models are trained and evaluated on (ATL-PHYS-PUB-2023-001 §4.1,
    §6.1).

    E_T > ``min_et`` GeV and |η| < ``max_abs_eta`` (the electron reconstruction
    acceptance), and the standard track-quality requirements of the evaluation sample of
    ATL-PHYS-PUB-2023-001 §6.1: at least two pixel hits and at least seven silicon (pixel + SCT)
    hits
    on the best track.
    """
    pixel, sct = data.features(["nPixelHits", "nSCTHits"]).T
    return (
        (data.arrays["et"] > min_et)
        & (np.abs(data.arrays["eta"]) < max_abs_eta)
        & (pixel >= 2)
        & (pixel + sct >= 7)
    )
