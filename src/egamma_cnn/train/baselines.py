"""The baselines the shipped models are compared with, trained on the same samples.

* The electron likelihood (LLH, ATL-PHYS-PUB-2023-001 §6.1): 1-D signal and background PDFs of the
  LLH variables per E_T × |η| bin (:class:`egamma_cnn.model.likelihood.Likelihood`),
  signal = prompt + charge-flip, fitted on the training part; Loose/Medium/Tight cuts
  on the discriminant derived on the validation part so that the working point, hit
  requirements included, keeps the target efficiency of
  :data:`egamma_cnn.model.working_points.DEFAULT_TARGETS` of *all* signal candidates of
  each E_T × |η| bin: the same denominator and targets as the CNN's working points, so
  that ``llh_tight`` and ``cnn_tight`` keep the same signal.
* The photon cut-based selection (Franco's photon-ID talk Table 1,
  :class:`egamma_cnn.model.cut_based.CutBasedPhotonID`), loose and tight menus.
* The networks of Collado et al., PRD 103, 116028 Table I/II: fully-connected networks on the seven
  standard
  features (R_had, w_η2, R_φ, R_η, σ_ηη and the calorimeter isolation in ΔR < 0.3 and
  0.4, here relative to E_T) and on those seven plus the energy-flow observables of
  Collado et al., PRD 103, 116028 §5 (p_T^D, the two-point EFP with β = ½, and the cluster mass).
  Both also
  get E_T and η, as parameters the way ATL-PHYS-PUB-2023-001 §4.2 gives them to its networks: seed
  001's sample had one narrow energy range, ours spans 4.5 to over 100 GeV, where the
  EFPs and the mass scale with the energy (without E_T the network cannot tell a soft
  jet's mass from a hard electron's, and adding the EFPs then *lowers* the AUC on the
  unweighted test sample, which we saw). Binary
  signal (prompt + charge-flip) versus background, balanced in (E_T, η) and
  normalisation (ratio 1, as the balanced samples of Collado et al., PRD 103, 116028), trained for
  several
  seeds so that their AUC is a mean ± spread.

Every baseline is written to one folder: ``electron_llh.json``, ``photon_cuts.json`` and
``feature_nets/<set>_seed<k>.onnx``, as one run (:func:`egamma_cnn.runfolder.run_folder`:
written aside, swapped in on success and closed by ``manifest.json``; a failed or
interrupted run leaves the folder as it was). A folder that already holds baselines is
replaced only with ``overwrite``; other files in it (the networks of ``egamma-cnn train``)
stay. The feature networks' resumable checkpoints stay in
``feature_nets/<set>_seed<k>.checkpoints`` of the folder (not part of the run).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from egamma_cnn.model.cut_based import PHOTON_CUT_INPUTS, CutBasedPhotonID
from egamma_cnn.model.likelihood import (
    LIKELIHOOD_INPUTS,
    Likelihood,
    LikelihoodID,
    llh_hit_requirements,
)
from egamma_cnn.model.preprocessing import QuantileTable
from egamma_cnn.model.working_points import DEFAULT_TARGETS, WorkingPoints
from egamma_cnn.runfolder import run_folder
from egamma_cnn.train.dataset import (
    CandidateArrays,
    electron_selection,
    load_arrays,
    train_validation_split,
)
from egamma_cnn.train.electron import SIGNAL_CLASSES
from egamma_cnn.train.export import base_metadata, export_onnx
from egamma_cnn.train.networks import FeatureNet
from egamma_cnn.train.photon import photon_selection
from egamma_cnn.train.reweighting import class_balance_weights
from egamma_cnn.train.trainer import fit

__all__ = [
    "BASELINE_FILES",
    "FEATURE_SETS",
    "feature_table",
    "fit_electron_llh",
    "fit_photon_cuts",
    "llh_scores",
    "train_baselines",
    "train_feature_net",
]

#: the electron paper's feature sets: the seven standard features, and those plus the EFPs.
_HL7 = ("rhad", "weta2", "rphi", "reta", "sigmaietaieta", "etcone30_rel", "etcone40_rel")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "hl7": (*_HL7, "et", "eta"),
    "hl7_efp": (*_HL7, "ptd", "efp2_b05", "mass", "et", "eta"),
}


def feature_table(data: CandidateArrays, names: tuple[str, ...]) -> np.ndarray:
    """Feature columns by name; ``<x>_rel`` is feature ``x`` divided by the cluster E_T."""
    columns = []
    for name in names:
        if name.endswith("_rel"):
            columns.append(data.features([name[: -len("_rel")]])[:, 0] / data.arrays["et"])
        else:
            columns.append(data.features([name])[:, 0])
    return np.stack(columns, axis=1).astype(np.float32)


def fit_electron_llh(train: CandidateArrays, validation: CandidateArrays):
    """The LLH: PDFs fitted on ``train``, working-point cuts derived on ``validation``.

    The cuts come from candidates the PDFs were not fitted on: on the fitting sample the
    discriminant of signal is biased high (the histograms follow its fluctuations), and
    cuts derived there give lower efficiencies than their targets on new data. The hit
    requirements are the working points' prerequisite: signal failing them stays in the
    denominator (:meth:`WorkingPoints.derive`).
    """
    likelihood = Likelihood.fit(
        train.features(LIKELIHOOD_INPUTS),
        train.arrays["et"],
        train.arrays["eta"],
        np.isin(train.arrays["truth_class"], SIGNAL_CLASSES),
    )
    et, eta = validation.arrays["et"], validation.arrays["eta"]
    is_signal = np.isin(validation.arrays["truth_class"], SIGNAL_CLASSES)
    score = likelihood.discriminant(validation.features(LIKELIHOOD_INPUTS), et, eta)
    hits = validation.features(["nBLayerHits", "nPixelHits", "nSCTHits"]).T
    working_points = {}
    for name in ("loose", "medium", "tight"):
        working_points[name] = WorkingPoints.derive(
            score,
            et,
            eta,
            is_signal,
            targets={name: DEFAULT_TARGETS[name]},
            score_name="llh",
            prerequisite=llh_hit_requirements(*hits, name),
        )
    return LikelihoodID(likelihood, working_points)


def llh_scores(llh, data: CandidateArrays) -> dict[str, np.ndarray]:
    """LLH discriminant and working-point decisions (hits included) of ``data``."""
    et, eta = data.arrays["et"], data.arrays["eta"]
    values = data.features(LIKELIHOOD_INPUTS)
    score = llh.discriminant(values, et, eta)
    hits = data.features(["nBLayerHits", "nPixelHits", "nSCTHits"]).T
    out = {"llh": score}
    for name in llh.working_points:
        out[name] = llh.passes(name, values, et, eta, *hits, discriminant=score)
    return out


def fit_photon_cuts(train: CandidateArrays):
    """Fit the loose and tight photon cut-based menus on ``train``."""
    return CutBasedPhotonID.fit(
        train.features(PHOTON_CUT_INPUTS),
        train.arrays["et"],
        train.arrays["eta"],
        train.arrays["is_prompt"],
    )


def train_feature_net(
    train: CandidateArrays,
    val: CandidateArrays,
    names: tuple[str, ...],
    out_path: Path,
    training: Any,
    progress: bool = False,
    checkpoint_dir: Path | None = None,
) -> dict[str, Any]:
    """Train one binary FeatureNet on ``names`` and export it (ONNX, quantile table inside).

    The trainer's checkpoints go to ``checkpoint_dir`` (default: ``out_path`` with the
    suffix ``.checkpoints``).
    """
    x_train, x_val = feature_table(train, names), feature_table(val, names)
    table = QuantileTable.fit(x_train, names)
    labels, weights = {}, {}
    for part, data in (("train", train), ("val", val)):
        labels[part] = np.isin(data.arrays["truth_class"], SIGNAL_CLASSES).astype(np.int64)
        weights[part], _ = class_balance_weights(
            labels[part], data.arrays["et"], data.arrays["eta"], (1,), 2, ratio=1.0
        )
    torch.manual_seed(training.seed)  # the initial weights
    model = FeatureNet(len(names))
    result = fit(
        model,
        {"features": table.transform(x_train)},
        labels["train"],
        weights["train"],
        {"features": table.transform(x_val)},
        labels["val"],
        weights["val"],
        training,
        checkpoint_dir or out_path.with_suffix(".checkpoints"),
        progress=progress,
        fingerprint={"features": list(names), "table": table.to_dict()},
    )
    metadata = base_metadata(
        "electron", out_path.stem, f"Collado et al., PRD 103, 116028 network on {list(names)}"
    )
    metadata.update(
        {
            "inputs": [{"name": "features", "shape": [len(names)], "dtype": "float32"}],
            "feature_names": list(names),
            "class_names": ["background", "signal"],
            "preprocessing": {"features": {"quantile_table": table.to_dict()}},
            "training": {
                "config": asdict(training),
                "best_epoch": result.best_epoch,
                "epochs": len(result.history),
                "seconds_per_epoch": result.seconds_per_epoch,
            },
        }
    )
    example = slice(0, min(64, len(x_val)))
    export_onnx(
        model,
        {"features": table.transform(x_val[example])},
        out_path,
        metadata,
        raw_inputs={"features": x_val[example]},
    )
    return metadata


#: The files of a baselines folder (what ``overwrite`` protects).
BASELINE_FILES: tuple[str, ...] = ("electron_llh.json", "photon_cuts.json", "feature_nets/*.onnx")


def train_baselines(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    training: Any,
    n_seeds: int = 3,
    validation_fraction: float = 0.2,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Fit the LLH and the photon cuts, and train the Collado et al., PRD 103, 116028 networks for
    ``n_seeds``; write them into ``out_dir`` as one run (module docstring).

    Raises
    ------
    ValueError
        ``out_dir`` exists and is not a folder; or the training split has no signal or no
        background electron, or no prompt or no non-prompt photon, in the selection (the
        split's folder named), checked before anything is fitted.
    FileExistsError
        ``out_dir`` holds baselines of an earlier run and ``overwrite`` is false.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder; the baselines need a folder")
    earlier = [pattern for pattern in BASELINE_FILES if any(out.glob(pattern))]
    if earlier and not overwrite:
        raise FileExistsError(
            f"{out} holds the baselines of an earlier run ({', '.join(earlier)}): give "
            "--overwrite (overwrite=True) to replace them"
        )
    split_dir = Path(data_dir) / "train"
    electrons = load_arrays(
        split_dir,
        "electron",
        mmap=True,
        names=["truth_class", "et", "eta", "event", "file", "features"],
    )
    electrons = electrons.subset(np.flatnonzero(electron_selection(electrons)))
    photons = load_arrays(
        split_dir,
        "photon",
        mmap=True,
        names=["is_prompt", "et", "eta", "event", "file", "features"],
    )
    photons = photons.subset(np.flatnonzero(photon_selection(photons)))
    n_signal = int(np.isin(electrons.arrays["truth_class"], SIGNAL_CLASSES).sum())
    n_prompt = int(photons.arrays["is_prompt"].sum())
    for kind, n_sig, n_all, names in (
        ("electron", n_signal, len(electrons), "signal and background"),
        ("photon", n_prompt, len(photons), "prompt and non-prompt"),
    ):
        if n_sig == 0 or n_sig == n_all:
            raise ValueError(
                f"{split_dir}: the {kind} selection has {n_sig} {names.split(' and ')[0]} and "
                f"{n_all - n_sig} {names.split(' and ')[1]} candidates; the baselines need both"
            )
    try:
        train, val = train_validation_split(electrons, validation_fraction)
        photon_train = train_validation_split(photons, validation_fraction)[0]
    except ValueError as err:
        raise ValueError(f"{split_dir}: {err}") from None

    summary: dict[str, Any] = {"llh_candidates": len(train), "feature_nets": {}}
    with run_folder(out, workflow="train baselines", inputs={"data": str(data_dir)}) as staging:
        (staging / "feature_nets").mkdir()
        if progress:
            print(f"LLH: fitting on {len(train)} candidates", flush=True)
        fit_electron_llh(train, val).save(staging / "electron_llh.json")
        fit_photon_cuts(photon_train).save(staging / "photon_cuts.json")
        for set_name, names in FEATURE_SETS.items():
            for seed in range(n_seeds):
                if progress:
                    print(f"{set_name}: seed {seed}", flush=True)
                name = f"{set_name}_seed{seed}"
                try:
                    metadata = train_feature_net(
                        train,
                        val,
                        names,
                        staging / "feature_nets" / f"{name}.onnx",
                        replace(training, seed=seed),
                        progress=progress,
                        checkpoint_dir=out / "feature_nets" / f"{name}.checkpoints",
                    )
                except ValueError as err:
                    raise ValueError(f"{split_dir}, {name}: {err}") from None
                summary["feature_nets"][name] = metadata["training"]
    return summary
