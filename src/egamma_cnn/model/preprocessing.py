"""Quantile transform of the high-level variables to a standard normal (ATL-PHYS-PUB-2023-001 §5.2).

ATL-PHYS-PUB-2023-001 transforms every HLV with scikit-learn's ``QuantileTransformer`` so that it
follows a standard normal distribution, fitted on the training set. We keep the fitted
transform as plain tables (one ascending array of reference quantiles per variable), so
that it travels as JSON inside the ONNX model's metadata and never as a pickle:

* fit: ``q_j = quantile(x, j/(n−1))`` for ``j = 0 … n−1`` on the training split only;
* transform: ``u = ½ [F(x) + 1 − F⁻(−x)]``, the mean of the forward and the reversed
  linear interpolation of ``x`` in the table (which maps runs of tied quantiles, e.g.
  the zeros of a hit count, to the middle of their probability range, as scikit-learn
  does), clipped to ``[1e−7, 1 − 1e−7]``, then ``z = Φ⁻¹(u)``. Values outside the
  table's range map to the clip limits (±5.2 σ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtri

__all__ = ["QuantileTable"]

_CLIP = 1e-7


@dataclass(frozen=True)
class QuantileTable:
    """Fitted quantile transform of named variables.

    Attributes
    ----------
    names : tuple of str
        Variable names, in the column order of the inputs.
    quantiles : numpy.ndarray
        ``float64[n_variables, n_quantiles]``, each row non-decreasing.
    """

    names: tuple[str, ...]
    quantiles: np.ndarray

    def __post_init__(self) -> None:
        q = np.asarray(self.quantiles, np.float64)
        if q.ndim != 2 or q.shape[0] != len(self.names) or q.shape[1] < 2:
            raise ValueError(f"quantiles must have shape ({len(self.names)}, n ≥ 2), got {q.shape}")
        if not np.all(np.isfinite(q)) or np.any(np.diff(q, axis=1) < 0):
            raise ValueError("every quantile row must be finite and non-decreasing")
        object.__setattr__(self, "quantiles", q)

    @classmethod
    def fit(
        cls, values: np.ndarray, names: Sequence[str], n_quantiles: int = 1000
    ) -> QuantileTable:
        """Fit on ``values`` (``(N, n_variables)``, the training split only)."""
        x = np.asarray(values, np.float64)
        if x.ndim != 2 or x.shape[1] != len(names):
            raise ValueError(f"values must have shape (N, {len(names)}), got {x.shape}")
        if len(x) < 2:
            raise ValueError("at least two entries are needed to fit a quantile table")
        if not np.all(np.isfinite(x)):
            bad = [names[j] for j in np.flatnonzero(~np.all(np.isfinite(x), axis=0))]
            raise ValueError(f"non-finite values in {bad}")
        n = min(int(n_quantiles), len(x))
        q = np.quantile(x, np.linspace(0.0, 1.0, n), axis=0).T
        # np.quantile can break monotonicity by one ulp on plateaus
        return cls(tuple(names), np.maximum.accumulate(q, axis=1))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Map ``(N, n_variables)`` values to standard-normal scores (float32)."""
        x = np.asarray(values, np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise ValueError(f"values must have shape (N, {len(self.names)}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            bad = [self.names[j] for j in np.flatnonzero(~np.all(np.isfinite(x), axis=0))]
            raise ValueError(f"non-finite values in {bad}")
        refs = np.linspace(0.0, 1.0, self.quantiles.shape[1])
        out = np.empty_like(x)
        for j in range(x.shape[1]):  # loop over the ~26 variables, not over candidates
            q = self.quantiles[j]
            forward = np.interp(x[:, j], q, refs)
            backward = 1.0 - np.interp(-x[:, j], -q[::-1], refs)
            out[:, j] = 0.5 * (forward + backward)
        return ndtri(np.clip(out, _CLIP, 1.0 - _CLIP)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"names": [...], "quantiles": [[...], ...]}``."""
        return {"names": list(self.names), "quantiles": self.quantiles.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantileTable:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(tuple(data["names"]), np.asarray(data["quantiles"], np.float64))
        except KeyError as err:
            raise ValueError(f"quantile table is missing the key {err}") from None
