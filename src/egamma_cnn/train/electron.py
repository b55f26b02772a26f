"""Train the electron CNN (or its HLV-only FCN variant) and export it as ONNX.

The recipe of ATL-PHYS-PUB-2023-001 §5: candidates of the training files that pass
:func:`~egamma_cnn.train.dataset.electron_selection`; a validation part taken from the
training files by event (the test files are never read here); the 26 HLVs
(:data:`egamma_cnn.features.ELECTRON_HLV_NAMES`) quantile-transformed with a table
fitted on the training part only; the (E_T, η) class reweighting with background/signal
ratio 4 (:mod:`.reweighting`); Adam, weighted categorical cross-entropy, L2 and dropout,
early stopping (:mod:`.trainer`). The exported model carries the quantile table, the
default discriminant weights (the class fractions of the training sample, which seed
000 §5.4 finds close to optimal for an inclusive sample; charge-flip as signal) and the
Loose/Medium/Tight working points derived on the validation part.

With ``TrainingConfig.augment`` the training candidates are mirrored at random in every
batch (η → −η and/or φ → −φ with the charges, :mod:`.augmentation`): the raw inputs are
mirrored first and the HLVs quantile-transformed afterwards (the table is fitted on the
unmirrored training part, as without augmentation); the validation part, the working
points and the exported example are never mirrored. Without ``augment`` the training is
exactly the one without this option.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from egamma_cnn.features import ELECTRON_HLV_NAMES
from egamma_cnn.jsonio import write_json
from egamma_cnn.model.discriminant import ELECTRON_CLASS_NAMES, discriminant
from egamma_cnn.model.preprocessing import QuantileTable
from egamma_cnn.model.working_points import WorkingPoints
from egamma_cnn.sim.writer import check_output_target
from egamma_cnn.train.augmentation import ElectronAugmentation
from egamma_cnn.train.dataset import (
    CandidateArrays,
    electron_selection,
    load_arrays,
    train_validation_split,
)
from egamma_cnn.train.export import base_metadata, export_onnx
from egamma_cnn.train.networks import CPU_DEFAULT, ElectronCNN
from egamma_cnn.train.reweighting import class_balance_weights
from egamma_cnn.train.trainer import TrainingConfig, fit, predict

__all__ = [
    "SIGNAL_CLASSES",
    "electron_inputs",
    "fit_track_scale",
    "train_electron",
]

#: Signal classes of the training target shape and of the default discriminant.
SIGNAL_CLASSES: tuple[int, ...] = (0, 1)

_INPUT_DESCRIPTIONS = {
    "coarse": "every calorimeter layer as a channel (COARSE_SAMPLINGS), 7x11 pixels, GeV",
    "fine": "EM strip layer at 0.025/8 x 2pi/256, 56x11 pixels, GeV",
    "tracks": "5 matched tracks x 13 features (TRACK_FEATURES), empty slots zero",
    "hlv": "the high-level variables named by hlv_names, untransformed",
}


def fit_track_scale(tracks: np.ndarray) -> np.ndarray:
    """Per-feature scale of the 13 track features: the RMS over filled slots (1 if none)."""
    filled = np.any(tracks != 0, axis=2)
    values = tracks[filled]
    if len(values) == 0:
        return np.ones(tracks.shape[2], np.float32)
    rms = np.sqrt(np.mean(values.astype(np.float64) ** 2, axis=0))
    return np.where(rms > 0, rms, 1.0).astype(np.float32)


def electron_inputs(
    data: CandidateArrays,
    names: tuple[str, ...],
    table: QuantileTable | None,
    hlv_names: tuple[str, ...] = ELECTRON_HLV_NAMES,
) -> dict[str, np.ndarray]:
    """The network inputs ``names`` of ``data``; the HLVs transformed by ``table`` if given."""
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name == "hlv":
            hlv = data.features(hlv_names)
            out["hlv"] = table.transform(hlv) if table is not None else hlv
        else:
            out[name] = np.ascontiguousarray(data.arrays[name], np.float32)
    return out


def _class_counts(labels: np.ndarray) -> dict[str, int]:
    counts = np.bincount(labels, minlength=len(ELECTRON_CLASS_NAMES))
    return dict(zip(ELECTRON_CLASS_NAMES, counts.tolist(), strict=True))


def train_electron(
    data_dir: str | Path,
    out_path: str | Path,
    *,
    net_config: Any = None,
    training: Any = None,
    ratio: float = 4.0,
    validation_fraction: float = 0.2,
    max_candidates: int | None = None,
    hlv_names: tuple[str, ...] = ELECTRON_HLV_NAMES,
    name: str = "electron_cnn",
    description: str = "",
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train an electron network on ``data_dir/train`` and write it to ``out_path`` (ONNX).

    Parameters
    ----------
    data_dir
        Output folder of ``egamma-cnn prepare`` (with ``train/``).
    out_path
        The ``.onnx`` file to write.
    net_config
        :class:`~egamma_cnn.train.networks.ElectronNetConfig` (default: CPU_DEFAULT).
    training
        :class:`~egamma_cnn.train.trainer.TrainingConfig`.
    ratio
        Background/signal ratio of the reweighting (ATL-PHYS-PUB-2023-001: 4).
    validation_fraction
        Share of the training events used for early stopping and the working points.
    max_candidates
        Use at most this many selected candidates (a random subset; for quick runs).
    hlv_names
        The high-level variables given to the network (default: the 26 of ATL-PHYS-PUB-2023-001;
        ``("et", "eta")`` with tracks off gives the calorimeter-only CNN of the Collado et al., PRD
        103, 116028
        comparison). ``net_config.n_hlv`` is set to their number.
    checkpoint_dir
        Where the trainer keeps resumable checkpoints (default: next to ``out_path``).
    overwrite
        Replace an existing ``out_path`` (a regular file); checked before anything is
        read or trained. The model replaces it atomically once exported and checked;
        ``<stem>.training.json`` beside it is rewritten with it.

    Returns
    -------
    dict
        The metadata written into the model.

    Raises
    ------
    FileExistsError
        ``out_path`` exists and ``overwrite`` is false.
    ValueError
        ``out_path`` is not a regular file; or the training split has no signal, or no
        background with weight > 0 after the reweighting, in either part (the split's
        folder named), checked before training; or ``training.augment`` is set and an
        HLV of ``hlv_names`` has no mirror-symmetry rule (:mod:`.augmentation`).
    """
    net_config = CPU_DEFAULT if net_config is None else net_config
    net_config = replace(net_config, n_hlv=len(hlv_names))
    training = TrainingConfig() if training is None else training
    out_path = Path(out_path)
    check_output_target(out_path, overwrite)
    hlv_names = tuple(hlv_names)
    if training.augment:  # refuse HLVs without a mirror rule before reading anything
        ElectronAugmentation(training.augment, hlv_names)
    split_dir = Path(data_dir) / "train"
    data = load_arrays(split_dir, "electron", mmap=True)
    selected = np.flatnonzero(electron_selection(data))
    if max_candidates is not None and max_candidates < len(selected):
        rng = np.random.default_rng(training.seed)
        selected = np.sort(rng.choice(selected, max_candidates, replace=False))
    try:
        train, val = train_validation_split(data.subset(selected), validation_fraction)
    except ValueError as err:
        raise ValueError(f"{split_dir}, electron selection: {err}") from None
    files = [Path(f).name for f in data.files]
    processes = data.processes
    del data
    table = QuantileTable.fit(train.features(hlv_names), hlv_names)
    torch.manual_seed(training.seed)  # the initial weights
    model = ElectronCNN(net_config, track_scale=fit_track_scale(train.arrays["tracks"]))
    names = model.input_names()
    weights, report = {}, {}
    for part, arrays in (("train", train), ("val", val)):
        try:
            weights[part], report[part] = class_balance_weights(
                arrays.arrays["truth_class"],
                arrays.arrays["et"],
                arrays.arrays["eta"],
                SIGNAL_CLASSES,
                len(ELECTRON_CLASS_NAMES),
                ratio=ratio,
            )
        except ValueError as err:
            part_name = "training" if part == "train" else "validation"
            raise ValueError(
                f"{split_dir} ({part_name} part, {len(arrays)} selected electron candidates, "
                f"classes {_class_counts(arrays.arrays['truth_class'])}): {err}"
            ) from None
    fingerprint = {"ratio": ratio, "hlv": table.to_dict(), "net": net_config.to_dict()}
    augmentation = None
    if training.augment:
        # mirror the raw HLVs in each batch, then quantile-transform them
        augmentation = ElectronAugmentation(training.augment, hlv_names, table)
        fingerprint["augment"] = list(training.augment)
    result = fit(
        model,
        electron_inputs(train, names, None if augmentation else table, hlv_names),
        train.arrays["truth_class"],
        weights["train"],
        electron_inputs(val, names, table, hlv_names),
        val.arrays["truth_class"],
        weights["val"],
        training,
        checkpoint_dir or out_path.with_suffix(".checkpoints"),
        progress=progress,
        fingerprint=fingerprint,
        augment_batch=augmentation,
    )
    fractions = np.bincount(train.arrays["truth_class"], minlength=6) / len(train)
    default_weights = dict(zip(ELECTRON_CLASS_NAMES, fractions.tolist(), strict=True))
    val_probs = predict(model, electron_inputs(val, names, table, hlv_names))
    score = discriminant(val_probs, default_weights, "signal")
    wps = WorkingPoints.derive(
        score,
        val.arrays["et"],
        val.arrays["eta"],
        np.isin(val.arrays["truth_class"], SIGNAL_CLASSES),
        score_name="cnn_score",
    )
    metadata = base_metadata("electron", name, description)
    metadata.update(
        {
            "inputs": [
                {
                    "name": n,
                    "shape": list(train.arrays[n].shape[1:]) if n != "hlv" else [len(hlv_names)],
                    "dtype": "float32",
                    "description": _INPUT_DESCRIPTIONS[n],
                }
                for n in names
            ],
            "class_names": list(ELECTRON_CLASS_NAMES),
            "hlv_names": list(hlv_names),
            "preprocessing": {"hlv": {"quantile_table": table.to_dict()}},
            "discriminant": {"weights": default_weights, "charge_flip": "signal"},
            "working_points": wps.to_dict(),
            "network": {"class": "ElectronCNN", "config": net_config.to_dict()},
            "training": {
                "config": asdict(training),
                "ratio": ratio,
                "validation_fraction": validation_fraction,
                "files": files,
                "processes": processes,
                "candidates": {"train": len(train), "validation": len(val)},
                "class_counts": {
                    "train": _class_counts(train.arrays["truth_class"]),
                    "validation": _class_counts(val.arrays["truth_class"]),
                },
                "reweighting": {part: asdict(r) for part, r in report.items()},
                "best_epoch": result.best_epoch,
                "epochs": len(result.history),
                "stopped_early": result.stopped_early,
                "seconds_per_epoch": result.seconds_per_epoch,
                "history": result.history,
            },
        }
    )
    example = val.subset(np.arange(min(64, len(val))))
    export_onnx(
        model,
        electron_inputs(example, names, table, hlv_names),
        out_path,
        metadata,
        raw_inputs=electron_inputs(example, names, None, hlv_names),
    )
    write_json(metadata["training"], out_path.with_suffix(".training.json"))
    return metadata
