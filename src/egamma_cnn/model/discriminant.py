"""The multi-class CNN discriminant and class-fraction prediction (ATL-PHYS-PUB-2023-001 §5.4,
§6.2).

The electron CNN returns, per candidate, probabilities ``p_k`` over the six truth classes
of ATL-PHYS-PUB-2023-001 §3.1 (:data:`ELECTRON_CLASS_NAMES`). The final discriminant is Eq. 1,

.. math:: D = \\frac{\\sum_{k \\in sig} w_k p_k}{\\sum_{k \\in bkg} w_k p_k},

with the signal weights and the background weights each normalised to unity, reported
through Eq. 2 as ``D/(1 + D)``, which lies in [0, 1] and orders candidates exactly as D.
Charge-flip electrons are signal by default (most analyses) or background (same-sign
analyses). The weights are best set to the class fractions of the sample (ATL-PHYS-PUB-2023-001
§5.4); :func:`predict_class_fractions` estimates them from the arg-max of the
probabilities (§6.2, the estimator of its Fig. 16 and Table 7),
:func:`prior_adjusted_class_fractions` by the expectation-maximisation of the class
priors, which corrects for the training's class priors, and :func:`class_weights` turns
any fractions into weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

__all__ = [
    "ELECTRON_CLASS_NAMES",
    "class_weights",
    "discriminant",
    "predict_class_fractions",
    "prior_adjusted_class_fractions",
]

#: The six electron classes of ATL-PHYS-PUB-2023-001 §3.1, in the order of the model's output.
ELECTRON_CLASS_NAMES: tuple[str, ...] = (
    "prompt",
    "charge_flip",
    "conversion",
    "heavy_flavour",
    "lf_egamma",
    "lf_hadron",
)

ChargeFlip = Literal["signal", "background"]
Weights = Mapping[str, float] | Sequence[float] | np.ndarray | None


def _signal_mask(charge_flip: ChargeFlip) -> np.ndarray:
    if charge_flip not in ("signal", "background"):
        raise ValueError(f"charge_flip must be 'signal' or 'background', not {charge_flip!r}")
    mask = np.zeros(len(ELECTRON_CLASS_NAMES), bool)
    mask[0] = True
    mask[1] = charge_flip == "signal"
    return mask


def _weight_vector(weights: Weights) -> np.ndarray:
    n = len(ELECTRON_CLASS_NAMES)
    if weights is None:
        return np.ones(n)
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(ELECTRON_CLASS_NAMES)
        if unknown:
            raise ValueError(
                f"unknown class names in weights: {sorted(unknown)}; "
                f"expected some of {ELECTRON_CLASS_NAMES}"
            )
        vector = np.array([float(weights.get(name, 0.0)) for name in ELECTRON_CLASS_NAMES])
    else:
        vector = np.asarray(weights, np.float64)
        if vector.shape != (n,):
            raise ValueError(f"weights must have {n} entries (one per class), got {vector.shape}")
    if not np.all(np.isfinite(vector)) or np.any(vector < 0):
        raise ValueError(f"weights must be finite and non-negative, got {vector.tolist()}")
    return vector


def class_weights(weights: Weights = None, charge_flip: ChargeFlip = "signal") -> np.ndarray:
    """The weights ``w_k`` of Eq. 1, normalised to unity among signal and among background.

    Parameters
    ----------
    weights : mapping of class name to float, sequence of 6 floats, or None
        Relative weights, e.g. the class fractions of the sample. Classes missing from a
        mapping get 0. None gives the agnostic weights (all classes equal).
    charge_flip : {"signal", "background"}
        Whether the charge-flip class counts as signal.

    Returns
    -------
    numpy.ndarray
        ``float64[6]``: signal entries sum to 1, background entries sum to 1.

    Raises
    ------
    ValueError
        If a weight is negative or not finite, a class name is unknown, or all signal or
        all background weights are zero (the discriminant would be undefined).
    """
    signal = _signal_mask(charge_flip)
    vector = _weight_vector(weights)
    sig_sum, bkg_sum = vector[signal].sum(), vector[~signal].sum()
    if sig_sum <= 0 or bkg_sum <= 0:
        raise ValueError(
            "the signal weights and the background weights must each have a positive sum "
            f"(got signal {sig_sum}, background {bkg_sum} with charge_flip={charge_flip!r})"
        )
    return np.where(signal, vector / sig_sum, vector / bkg_sum)


def _check_probabilities(probabilities: np.ndarray) -> np.ndarray:
    probs = np.asarray(probabilities, np.float64)
    n = len(ELECTRON_CLASS_NAMES)
    if probs.ndim != 2 or probs.shape[1] != n:
        raise ValueError(f"probabilities must have shape (N, {n}), got {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError("probabilities must be finite and non-negative")
    return probs


def discriminant(
    probabilities: np.ndarray,
    weights: Weights = None,
    charge_flip: ChargeFlip = "signal",
) -> np.ndarray:
    """The bounded discriminant ``D/(1+D)`` of ATL-PHYS-PUB-2023-001 Eq. 1–2.

    Parameters
    ----------
    probabilities : array_like
        ``(N, 6)`` class probabilities in :data:`ELECTRON_CLASS_NAMES` order.
    weights, charge_flip
        As :func:`class_weights`.

    Returns
    -------
    numpy.ndarray
        ``float64[N]`` in [0, 1], computed as ``S/(S+B)`` with ``S = Σ_sig w p`` and
        ``B = Σ_bkg w p`` (equal to D/(1+D), and finite where D is infinite). A candidate
        with ``S + B = 0`` (all its weighted probabilities zero) gets 0.5.
    """
    probs = _check_probabilities(probabilities)
    w = class_weights(weights, charge_flip)
    signal = _signal_mask(charge_flip)
    s = probs[:, signal] @ w[signal]
    b = probs[:, ~signal] @ w[~signal]
    total = s + b
    return np.divide(s, total, out=np.full_like(s, 0.5), where=total > 0)


def predict_class_fractions(
    probabilities: np.ndarray, sample_weight: np.ndarray | None = None
) -> dict[str, float]:
    """Class fractions of a sample from the arg-max of the probabilities (ATL-PHYS-PUB-2023-001
    §6.2).

    Each candidate is assigned to its most probable class (the first on ties); the
    fraction of class k is the (weighted) share of candidates assigned to k. Feed the
    result to :func:`discriminant` as ``weights`` to tune it to the sample.

    Returns
    -------
    dict of str to float
        Fractions per class name, summing to 1 (all 0 for an empty sample).
    """
    probs = _check_probabilities(probabilities)
    if sample_weight is None:
        sample_weight = np.ones(len(probs))
    sample_weight = np.asarray(sample_weight, np.float64)
    if sample_weight.shape != (len(probs),):
        raise ValueError(
            f"sample_weight must have shape ({len(probs)},), got {sample_weight.shape}"
        )
    counts = np.bincount(
        np.argmax(probs, axis=1), weights=sample_weight, minlength=len(ELECTRON_CLASS_NAMES)
    )
    total = counts.sum()
    fractions = counts / total if total > 0 else np.zeros_like(counts)
    return dict(zip(ELECTRON_CLASS_NAMES, fractions.tolist(), strict=True))


def prior_adjusted_class_fractions(
    probabilities: np.ndarray,
    training_priors: Sequence[float] | Mapping[str, float],
    *,
    max_iterations: int = 500,
    tolerance: float = 1e-7,
) -> dict[str, float]:
    """Class fractions of a sample by expectation-maximisation of its class priors.

    A network trained on classes with priors π_k^train (here the reweighted training
    sample: background/signal = 4, rare classes boosted) returns posteriors p_k(x) for
    *those* priors, so the arg-max of :func:`predict_class_fractions` favours classes
    the training boosted. Saerens, Latinne & Decaestecker, "Adjusting the outputs of a
    classifier to new a priori probabilities: a simple procedure", Neural Computation 14
    (2002) 21, §2.2: starting from π^(0) = π^train, iterate

        p_k^(s)(x_i) = [π_k^(s) / π_k^train] p_k(x_i) / Σ_j [π_j^(s) / π_j^train] p_j(x_i),
        π_k^(s+1) = mean_i p_k^(s)(x_i),

    which converges to the maximum-likelihood class fractions of the sample for a
    calibrated network. The training's (E_T, η) reweighting makes π^train depend on
    E_T and η; one global π^train is an approximation, measured in the model card.

    Parameters
    ----------
    probabilities
        ``(N, 6)`` class probabilities of the sample.
    training_priors
        The class priors the network was trained with (six values, or a mapping by
        class name): the reweighted training class totals, normalised. Recorded in the
        shipped models' metadata: :attr:`OnnxModel.training_priors
        <egamma_cnn.model.onnx_model.OnnxModel.training_priors>`.
    max_iterations, tolerance
        Stop when no fraction moves by more than ``tolerance``.

    Returns
    -------
    dict of str to float
        Fractions per class name, summing to 1 (all 0 for an empty sample).

    Raises
    ------
    ValueError
        Malformed probabilities, or priors that are not six positive finite numbers.
    """
    probs = _check_probabilities(probabilities)
    if isinstance(training_priors, Mapping):
        try:
            training_priors = [training_priors[name] for name in ELECTRON_CLASS_NAMES]
        except KeyError as err:
            raise ValueError(f"training_priors lack the class {err}") from None
    prior = np.asarray(training_priors, np.float64)
    if prior.shape != (len(ELECTRON_CLASS_NAMES),) or not np.all(np.isfinite(prior)):
        raise ValueError(f"training_priors must be {len(ELECTRON_CLASS_NAMES)} finite values")
    if np.any(prior <= 0):
        raise ValueError("training_priors must be positive (a class never trained on has none)")
    prior = prior / prior.sum()
    if len(probs) == 0:
        return dict.fromkeys(ELECTRON_CLASS_NAMES, 0.0)
    fractions = prior.copy()
    for _ in range(max_iterations):
        adjusted = probs * (fractions / prior)
        total = adjusted.sum(axis=1, keepdims=True)
        adjusted = np.divide(adjusted, total, out=np.zeros_like(adjusted), where=total > 0)
        updated = adjusted.mean(axis=0)
        updated = updated / updated.sum() if updated.sum() > 0 else fractions
        converged = np.max(np.abs(updated - fractions)) < tolerance
        fractions = updated
        if converged:
            break
    return dict(zip(ELECTRON_CLASS_NAMES, fractions.tolist(), strict=True))
