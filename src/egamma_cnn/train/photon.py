"""Train the photon CNN (Franco's photon-ID talk) and export it as ONNX with its working points.

Prompt (signal) versus non-prompt photons of the training files in the photon-ID
acceptance (E_T > 7 GeV, |η| < 2.37 outside the crack 1.37–1.52, Franco's photon-ID talk Table 1),
the three EM-layer images at native granularity, the p_T reweighting of Franco's photon-ID talk
(background to the signal spectrum), binary cross-entropy (a two-class softmax), Adam,
early stopping (:mod:`.trainer`).

Working points follow Franco's photon-ID talk ("both match the bkg rej. of cut-based method"): in
each
E_T × |η| bin the CNN cut is set so that the CNN keeps the same fraction of non-prompt
photons of the validation part as the cut-based menu of the same name; the gain is then
read as signal efficiency at equal rejection.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from egamma_cnn.model.cut_based import PHOTON_CUT_INPUTS, CutBasedPhotonID
from egamma_cnn.model.working_points import WorkingPoints
from egamma_cnn.sim.writer import check_output_target
from egamma_cnn.train.dataset import CandidateArrays, load_arrays, train_validation_split
from egamma_cnn.train.export import base_metadata, export_onnx
from egamma_cnn.train.networks import PHOTON_DEFAULT, PhotonCNN
from egamma_cnn.train.reweighting import pt_weights
from egamma_cnn.train.trainer import TrainingConfig, fit, predict

__all__ = [
    "PHOTON_ABS_ETA_EDGES",
    "PHOTON_CLASS_NAMES",
    "PHOTON_ET_EDGES",
    "cut_keeping_background",
    "matched_background_cuts",
    "photon_inputs",
    "photon_selection",
    "train_photon",
]

PHOTON_CLASS_NAMES: tuple[str, str] = ("non_prompt", "prompt")
#: Binning of the photon working points.
PHOTON_ET_EDGES: tuple[float, ...] = (7.0, 15.0, 25.0, 40.0, 60.0)
PHOTON_ABS_ETA_EDGES: tuple[float, ...] = (0.0, 0.8, 1.37, 1.52, 2.01, 2.37)
PHOTON_INPUTS: tuple[str, ...] = ("strips", "middle", "back")


def photon_selection(data: CandidateArrays, min_et: float = 7.0) -> np.ndarray:
    """E_T > ``min_et`` GeV and |η| < 2.37 outside 1.37 ≤ |η| < 1.52 (Franco's photon-ID talk Table
    1)."""
    abs_eta = np.abs(data.arrays["eta"])
    return (data.arrays["et"] > min_et) & (abs_eta < 2.37) & ~((abs_eta >= 1.37) & (abs_eta < 1.52))


def photon_inputs(data: CandidateArrays) -> dict[str, np.ndarray]:
    """The three EM-layer images of ``data`` as float32 arrays."""
    return {n: np.ascontiguousarray(data.arrays[n], np.float32) for n in PHOTON_INPUTS}


def cut_keeping_background(background_scores: np.ndarray, fraction: float) -> float:
    """Smallest cut t with fraction(score ≥ t) ≤ ``fraction`` among ``background_scores``.

    The cut passes exactly ``floor(fraction · n)`` background candidates when the scores
    are distinct (ties at the cut all fail, so never more than the fraction pass).
    """
    ordered = np.sort(np.asarray(background_scores, np.float64))[::-1]
    if len(ordered) == 0:
        raise ValueError("no background scores to place a cut in")
    n_keep = int(np.floor(fraction * len(ordered) + 1e-9))
    if n_keep >= len(ordered):
        return float(ordered[-1])
    return float(np.nextafter(ordered[n_keep], np.inf))


def matched_background_cuts(
    score: np.ndarray,
    is_signal: np.ndarray,
    reference_passes: dict[str, np.ndarray],
    et: np.ndarray,
    eta: np.ndarray,
    *,
    et_edges=PHOTON_ET_EDGES,
    abs_eta_edges=PHOTON_ABS_ETA_EDGES,
    min_background: int = 50,
    score_name: str = "photon_cnn_score",
) -> WorkingPoints:
    """Cuts on ``score`` that keep, per bin, the background fraction of a reference.

    For each working point and E_T × |η| bin, with ε_b the fraction of background that
    the reference selection keeps in that bin, the cut is the smallest score value t such
    that the fraction of background with score ≥ t does not exceed ε_b. Bins with fewer
    than ``min_background`` background candidates use the inclusive cut (flagged in
    ``from_inclusive``). The ``targets`` of the result are the inclusive signal
    efficiencies these cuts reach on the given sample.
    """
    score = np.asarray(score, np.float64)
    is_signal = np.asarray(is_signal, bool)
    et_edges, abs_eta_edges = tuple(map(float, et_edges)), tuple(map(float, abs_eta_edges))
    shape = (len(et_edges) - 1, len(abs_eta_edges) - 1)
    et_bin = np.clip(np.searchsorted(et_edges, et, side="right") - 1, 0, shape[0] - 1)
    eta_bin = np.clip(
        np.searchsorted(abs_eta_edges, np.abs(eta), side="right") - 1, 0, shape[1] - 1
    )

    cuts, targets = {}, {}
    from_inclusive = np.ones(shape, bool)
    background = ~is_signal
    for name, passes in reference_passes.items():
        passes = np.asarray(passes, bool)
        inclusive = cut_keeping_background(score[background], passes[background].mean())
        cut = np.full(shape, inclusive)
        for i in range(shape[0]):  # loop over bins
            for j in range(shape[1]):
                in_bin = (et_bin == i) & (eta_bin == j) & background
                if in_bin.sum() >= min_background:
                    cut[i, j] = cut_keeping_background(score[in_bin], passes[in_bin].mean())
                    from_inclusive[i, j] = False
        cuts[name] = cut
        kept = score[is_signal] >= cut[et_bin[is_signal], eta_bin[is_signal]]
        targets[name] = float(kept.mean()) if kept.size else 0.0
    return WorkingPoints(targets, et_edges, abs_eta_edges, cuts, from_inclusive, score_name)


def train_photon(
    data_dir: str | Path,
    out_path: str | Path,
    cut_based_path: str | Path,
    *,
    net_config: Any = None,
    training: Any = None,
    validation_fraction: float = 0.2,
    name: str = "photon_cnn",
    description: str = "",
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train the photon CNN on ``data_dir/train`` and write it to ``out_path`` (ONNX).

    ``cut_based_path`` is the JSON of the fitted
    :class:`~egamma_cnn.model.cut_based.CutBasedPhotonID` whose rejection the working
    points match. Returns the metadata written into the model. An existing ``out_path``
    is replaced (atomically, once exported) only with ``overwrite``, checked before
    anything is read.

    Raises
    ------
    FileExistsError
        ``out_path`` exists and ``overwrite`` is false.
    ValueError
        ``out_path`` is not a regular file, ``cut_based_path`` is not a cut-based JSON,
        or a part of the training split has no prompt or no non-prompt photon in the
        selection (the split's folder named), before training.
    """
    net_config = PHOTON_DEFAULT if net_config is None else net_config
    training = TrainingConfig() if training is None else training
    out_path = Path(out_path)
    check_output_target(out_path, overwrite)
    try:
        cuts = CutBasedPhotonID.load(cut_based_path)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(
            f"{cut_based_path}: not the photon_cuts.json of egamma-cnn train baselines ({err!r})"
        ) from None
    split_dir = Path(data_dir) / "train"
    data = load_arrays(split_dir, "photon", mmap=True)
    data = data.subset(np.flatnonzero(photon_selection(data)))
    try:
        train, val = train_validation_split(data, validation_fraction)
        labels = {
            p: d.arrays["is_prompt"].astype(np.int64) for p, d in (("train", train), ("val", val))
        }
        weights = {
            p: pt_weights(d.arrays["et"], d.arrays["is_prompt"])
            for p, d in (("train", train), ("val", val))
        }
    except ValueError as err:
        prompt = int(data.arrays["is_prompt"].sum())
        raise ValueError(
            f"{split_dir}, photon selection ({prompt} prompt, {len(data) - prompt} non-prompt "
            f"photons): {err}"
        ) from None
    torch.manual_seed(training.seed)  # the initial weights
    model = PhotonCNN(net_config)
    result = fit(
        model,
        photon_inputs(train),
        labels["train"],
        weights["train"],
        photon_inputs(val),
        labels["val"],
        weights["val"],
        training,
        checkpoint_dir or out_path.with_suffix(".checkpoints"),
        progress=progress,
        fingerprint={"net": net_config.to_dict()},
    )
    val_score = predict(model, photon_inputs(val))[:, 1]
    reference = {
        menu: cuts.passes(
            menu, val.features(PHOTON_CUT_INPUTS), val.arrays["et"], val.arrays["eta"]
        )
        for menu in cuts.menus
    }
    wps = matched_background_cuts(
        val_score, val.arrays["is_prompt"], reference, val.arrays["et"], val.arrays["eta"]
    )
    metadata = base_metadata("photon", name, description)
    counts = {
        p: {
            "prompt": int(d.arrays["is_prompt"].sum()),
            "non_prompt": int((~d.arrays["is_prompt"]).sum()),
        }
        for p, d in (("train", train), ("validation", val))
    }
    metadata.update(
        {
            "inputs": [
                {
                    "name": "strips",
                    "shape": [56, 3],
                    "dtype": "float32",
                    "description": "EM strip layer, 0.025/8 x 2pi/64 pixels, GeV",
                },
                {
                    "name": "middle",
                    "shape": [7, 11],
                    "dtype": "float32",
                    "description": "EM middle layer, 0.025 x 2pi/256 pixels, GeV",
                },
                {
                    "name": "back",
                    "shape": [4, 11],
                    "dtype": "float32",
                    "description": "EM back layer, 0.05 x 2pi/256 pixels, GeV",
                },
            ],
            "class_names": list(PHOTON_CLASS_NAMES),
            "signal_class": "prompt",
            "working_points": wps.to_dict(),
            "working_point_definition": (
                "per E_T x |eta| bin, the CNN keeps the non-prompt fraction of the cut-based "
                "menu of the same name on the validation part (Franco's photon-ID talk)"
            ),
            "network": {"class": "PhotonCNN", "config": net_config.to_dict()},
            "training": {
                "config": asdict(training),
                "validation_fraction": validation_fraction,
                "files": [Path(f).name for f in data.files],
                "candidates": {"train": len(train), "validation": len(val)},
                "class_counts": counts,
                "best_epoch": result.best_epoch,
                "epochs": len(result.history),
                "stopped_early": result.stopped_early,
                "seconds_per_epoch": result.seconds_per_epoch,
                "history": result.history,
            },
        }
    )
    example = val.subset(np.arange(min(64, len(val))))
    export_onnx(model, photon_inputs(example), out_path, metadata)
    return metadata
