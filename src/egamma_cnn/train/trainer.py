"""The training loop shared by every network (ATL-PHYS-PUB-2023-001 §5.3, Franco's photon-ID talk
"Training").

Adam on the weighted categorical cross-entropy, L2 regularisation as Adam's weight
decay, dropout in the networks, a learning rate halved when the validation loss stops
improving (ATL-PHYS-PUB-2023-001: "a variable adaptive learning rate that progressively gets
smaller"), and early stopping: training ends after ``patience`` (default 5) epochs
without improvement of the monitored validation metric, and the weights of the best
epoch are restored.

Data augmentation (``augment``): with the mirror symmetries of
:mod:`egamma_cnn.train.augmentation`, every training batch is mirrored per candidate by
a caller-supplied ``augment_batch`` (random with the seed: a generator per epoch drawn from
``(seed, epoch)``, so that runs and resumed runs are reproducible); the validation data are
never augmented, and the training loss and accuracy of the history are those of the
augmented batches.

Monitored metric: the weighted validation loss by default (smoother than the accuracy
that ATL-PHYS-PUB-2023-001 monitors; ``monitor="accuracy"`` follows the seed).

Reproducible and resumable: the seed fixes the initial weights (``torch.manual_seed``)
and the order of the batches (a ``torch.Generator``); that generator and torch's global
one (dropout) are part of the checkpoint;
after every epoch ``last.pt`` holds the model, optimiser, scheduler, generator state and
history, and ``best.pt`` the best weights. A run started again with the same
``checkpoint_dir``, data and settings continues from ``last.pt`` (a checkpoint of other
data or settings is refused; ``max_epochs`` and ``patience`` may change, since they only
decide when the run stops: a resumed run with a larger patience gives exactly the model
of a single run with that patience). Checkpoints hold tensors and plain Python
values only and are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from egamma_cnn.jsonio import write_json
from egamma_cnn.train.augmentation import parse_symmetries

__all__ = ["TrainingConfig", "TrainingResult", "data_fingerprint", "fit", "predict"]


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of :func:`fit`.

    Attributes
    ----------
    max_epochs
        Upper limit on the number of epochs.
    batch_size
        Candidates per gradient step.
    learning_rate
        Initial Adam learning rate.
    l2
        L2 penalty (Adam weight decay).
    patience
        Epochs without improvement before stopping (ATL-PHYS-PUB-2023-001: 5).
    monitor
        "loss" (weighted validation loss, lower is better) or "accuracy" (weighted).
    lr_patience, lr_factor
        The learning rate is multiplied by ``lr_factor`` after ``lr_patience`` epochs
        without improvement of the validation loss.
    seed
        Seed of the initial weights and of the batch order.
    threads
        torch intra-op threads (0: leave torch's default).
    augment
        Mirror symmetries applied at random to every training candidate
        (:mod:`egamma_cnn.train.augmentation`): ``()`` none, ``("eta",)``, ``("phi",)``
        or ``("eta", "phi")``; the words ``"none"``, ``"eta"``, ``"phi"``, ``"both"`` are
        accepted and normalised to that tuple. Needs a model whose inputs have mirror
        rules (the electron networks).
    """

    max_epochs: int = 40
    batch_size: int = 256
    learning_rate: float = 1e-3
    l2: float = 1e-5
    patience: int = 5
    monitor: str = "loss"
    lr_patience: int = 2
    lr_factor: float = 0.5
    seed: int = 0
    threads: int = 0
    augment: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "augment", parse_symmetries(self.augment))
        if self.monitor not in ("loss", "accuracy"):
            raise ValueError(f"monitor must be 'loss' or 'accuracy', not {self.monitor!r}")
        for name in ("max_epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not self.learning_rate > 0 or self.l2 < 0:
            raise ValueError("learning_rate must be > 0 and l2 ≥ 0")


@dataclass
class TrainingResult:
    """What :func:`fit` returns: per-epoch history and the best epoch."""

    history: list[dict]
    best_epoch: int
    stopped_early: bool
    seconds_per_epoch: float


def _save(obj, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def data_fingerprint(
    inputs: Mapping[str, np.ndarray], labels: np.ndarray, weights: np.ndarray, extra=None
) -> str:
    """A hash of what a training run learns from, to refuse resuming on other data.

    Covers the labels, weights, the input shapes, up to 1000 evenly spaced input rows and
    ``extra`` (JSON-serialisable settings such as the preprocessing tables).
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(labels).tobytes())
    digest.update(np.ascontiguousarray(weights, np.float64).tobytes())
    rows = np.unique(np.linspace(0, max(len(labels) - 1, 0), 1000).astype(np.int64))
    for name, array in inputs.items():
        digest.update(f"{name}{array.shape}".encode())
        if len(array):
            digest.update(np.ascontiguousarray(array[rows]).tobytes())
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()


#: Spawn key of the augmentation generators, apart from any other use of the seed.
_AUGMENT_STREAM = 0xA06


def _defining(config: Mapping[str, object]) -> dict[str, object]:
    """The settings a resumed run must share: all but those that only decide when to stop."""
    return {k: v for k, v in config.items() if k not in ("max_epochs", "patience")}


def _tensors(inputs: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in inputs.items()}


def _check(inputs: Mapping[str, np.ndarray], labels: np.ndarray, weights: np.ndarray, what: str):
    n = len(labels)
    for name, array in inputs.items():
        if len(array) != n:
            raise ValueError(f"{what} input {name!r} has {len(array)} rows, labels have {n}")
    if weights.shape != (n,):
        raise ValueError(f"{what} weights must have shape ({n},), got {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"{what} weights must be finite and non-negative")
    if n == 0:
        raise ValueError(f"the {what} sample is empty")
    if not weights.sum() > 0:
        raise ValueError(f"the {what} weights are all zero")
    for name, array in inputs.items():
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(f"{what} input {name!r} has non-finite values")


def _evaluate(model: nn.Module, inputs, labels, weights, batch_size: int) -> tuple[float, float]:
    model.eval()
    loss_sum = correct = 0.0
    total = float(weights.sum())
    with torch.no_grad():
        for start in range(0, len(labels), batch_size * 4):
            sl = slice(start, start + batch_size * 4)
            logits = model.logits(**{k: t[sl] for k, t in inputs.items()})
            losses = nn.functional.cross_entropy(logits, labels[sl], reduction="none")
            loss_sum += float((losses * weights[sl]).sum())
            correct += float(((logits.argmax(1) == labels[sl]).float() * weights[sl]).sum())
    return loss_sum / total, correct / total


def fit(
    model: nn.Module,
    train_inputs: Mapping[str, np.ndarray],
    train_labels: np.ndarray,
    train_weights: np.ndarray,
    val_inputs: Mapping[str, np.ndarray],
    val_labels: np.ndarray,
    val_weights: np.ndarray,
    config: TrainingConfig,
    checkpoint_dir: str | Path,
    progress: bool = True,
    fingerprint: object = None,
    augment_batch: Callable[[dict[str, np.ndarray], np.random.Generator], dict[str, np.ndarray]]
    | None = None,
) -> TrainingResult:
    """Train ``model`` in place and leave it with the weights of the best epoch.

    Parameters
    ----------
    model
        A module with ``logits(**inputs)``: the inputs are passed by name.
    train_inputs, val_inputs
        Name → float32 array, first axis = candidates.
    train_labels, val_labels
        Integer class per candidate.
    train_weights, val_weights
        Per-candidate weights (the (E_T, η) reweighting of :mod:`.reweighting`).
    config
        :class:`TrainingConfig`.
    checkpoint_dir
        Folder for ``last.pt``, ``best.pt`` and ``history.json``; an existing
        ``last.pt`` is resumed (with the same settings; ``max_epochs`` may be raised).
    progress
        Show a tqdm bar per epoch with the running loss and accuracy.
    fingerprint
        Settings that define the run besides the data (preprocessing tables, network
        configuration); with a hash of the data they are stored in the checkpoint, and a
        checkpoint of another run is refused instead of resumed.
    augment_batch
        Required when ``config.augment`` is set, refused otherwise: called on every
        training batch as ``augment_batch(batch, rng)`` (``batch``: name → numpy copy of the
        batch's rows of ``train_inputs``; ``rng``: a numpy Generator of ``(seed, epoch)``),
        it returns the batch the model sees (e.g.
        :class:`~egamma_cnn.train.augmentation.ElectronAugmentation`, which mirrors the raw
        inputs and then quantile-transforms the HLVs). ``val_inputs`` go to the model as
        they are.

    Raises
    ------
    ValueError
        Inconsistent or non-finite inputs, zero weights, ``config.augment`` without
        ``augment_batch`` (or the reverse), or a checkpoint of another run.
    """
    if config.augment and augment_batch is None:
        raise ValueError(
            f"augment={config.augment} needs inputs with mirror-symmetry rules; augmentation "
            "is implemented for the electron networks (train electron, fcn, calo-cnn)"
        )
    if augment_batch is not None and not config.augment:
        raise ValueError("fit got augment_batch but config.augment is empty")
    _check(train_inputs, train_labels, train_weights, "training")
    _check(val_inputs, val_labels, val_weights, "validation")
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    folder = Path(checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    x_train, x_val = _tensors(train_inputs), _tensors(val_inputs)
    y_train = torch.from_numpy(np.asarray(train_labels, np.int64))
    y_val = torch.from_numpy(np.asarray(val_labels, np.int64))
    # mean weight 1, so that the learning rate means the same whatever the weights' scale
    w_train = torch.from_numpy(np.asarray(train_weights / train_weights.mean(), np.float32))
    w_val = torch.from_numpy(np.asarray(val_weights / val_weights.mean(), np.float32))
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.l2
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience
    )
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict] = []
    best_value, best_epoch, since_best = None, -1, 0
    last = folder / "last.pt"
    run_id = data_fingerprint(train_inputs, train_labels, train_weights, fingerprint)
    run_id += data_fingerprint(val_inputs, val_labels, val_weights)
    if last.exists():
        state = torch.load(last, weights_only=True)
        if state.get("run_id") != run_id:
            raise ValueError(
                f"{last} is the checkpoint of a run on other data or settings; remove "
                f"{folder} or choose another checkpoint folder"
            )
        # settings added later default to the behaviour of the checkpoints without them
        saved = {**asdict(TrainingConfig()), **state["config"]}
        saved["augment"] = tuple(saved["augment"])
        if _defining(saved) != _defining(asdict(config)):
            raise ValueError(
                f"{last} was written with another training configuration; use a new "
                "checkpoint folder or the same settings (only max_epochs and patience may "
                "change)"
            )
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise ValueError(
                f"{last} holds another network (different layers or inputs); remove "
                f"{folder} or choose another checkpoint folder ({str(err).splitlines()[-1]})"
            ) from None
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])  # dropout draws from the global generator
        history = json.loads(state["history"])
        best_value, best_epoch, since_best = state["best"]
    n = len(y_train)
    stopped_early = since_best >= config.patience
    while len(history) < config.max_epochs and not stopped_early:
        epoch = len(history)
        model.train()
        order = torch.randperm(n, generator=generator)
        t0 = time.perf_counter()
        loss_sum = correct = seen = 0.0
        bar = tqdm(
            range(0, n, config.batch_size),
            desc=f"epoch {epoch + 1}/{config.max_epochs}",
            unit="batch",
            disable=not progress,
            leave=False,
        )
        # a generator per epoch: the augmentation of epoch e is the same in a resumed run
        augment_rng = None
        if augment_batch is not None:
            augment_rng = np.random.default_rng(
                np.random.SeedSequence(config.seed, spawn_key=(_AUGMENT_STREAM, epoch))
            )
        for start in bar:
            index = order[start : start + config.batch_size]
            weights = w_train[index]
            batch = {k: t[index] for k, t in x_train.items()}
            if augment_batch is not None:
                mirrored = augment_batch({k: b.numpy() for k, b in batch.items()}, augment_rng)
                batch = _tensors(mirrored)
            logits = model.logits(**batch)
            losses = nn.functional.cross_entropy(logits, y_train[index], reduction="none")
            loss = (losses * weights).mean()  # weights have mean 1 over the sample
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum += float((losses * weights).sum())
                correct += float(((logits.argmax(1) == y_train[index]).float() * weights).sum())
                seen += float(weights.sum())
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}")
        bar.close()
        train_seconds = time.perf_counter() - t0
        val_loss, val_acc = _evaluate(model, x_val, y_val, w_val, config.batch_size)
        if not (np.isfinite(val_loss) and np.isfinite(loss_sum)):
            raise FloatingPointError(
                f"epoch {epoch + 1}: the loss is not finite (training {loss_sum / seen}, "
                f"validation {val_loss}); lower the learning rate or check the inputs"
            )
        scheduler.step(val_loss)
        value = val_loss if config.monitor == "loss" else -val_acc
        improved = best_value is None or value < best_value
        if improved:
            best_value, best_epoch, since_best = value, epoch, 0
            _save(model.state_dict(), folder / "best.pt")
        else:
            since_best += 1
        record = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "seconds": train_seconds,
            "best": improved,
        }
        history.append(record)
        if progress:
            print(
                f"epoch {epoch + 1}: loss {record['train_loss']:.4f} acc "
                f"{record['train_accuracy']:.3f} | val loss {val_loss:.4f} acc {val_acc:.3f} "
                f"| {train_seconds:.0f} s{' *' if improved else ''}",
                flush=True,
            )
        stopped_early = since_best >= config.patience
        _save(
            {
                "run_id": run_id,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "history": json.dumps(history),
                "best": (best_value, best_epoch, since_best),
                "config": asdict(config),
            },
            last,
        )
        write_json(history, folder / "history.json")
    model.load_state_dict(torch.load(folder / "best.pt", weights_only=True))
    model.eval()
    seconds = [h["seconds"] for h in history]
    return TrainingResult(history, best_epoch + 1, stopped_early, float(np.median(seconds)))


def predict(
    model: nn.Module, inputs: Mapping[str, np.ndarray], batch_size: int = 4096
) -> np.ndarray:
    """Probabilities of ``model`` (in eval mode) for numpy inputs, as float32 numpy."""
    model.eval()
    tensors = _tensors(inputs)
    n = len(next(iter(tensors.values())))
    out = []
    with torch.no_grad():
        for start in range(0, max(n, 1), batch_size):  # an empty input gives (0, n_classes)
            batch = {k: t[start : start + batch_size] for k, t in tensors.items()}
            out.append(model(**batch).numpy())
    return np.concatenate(out)
