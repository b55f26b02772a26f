"""Working points: cuts on a score that reach target signal efficiencies per E_T × |η| bin.

ATL-PHYS-PUB-2023-001 §5.4 and §6 define the Loose, Medium and Tight working points as cuts on the
discriminant chosen to reach target signal efficiencies, binned in E_T and |η|. For a
bin b and a target efficiency ε, the cut is the value ``t_b`` such that the weighted
fraction of signal candidates of that bin with ``score ≥ t_b`` is ε (the weighted
(1 − ε) quantile of the signal scores, taken from below so that at least ε passes).

The denominator is every signal candidate of the bin. A working point that also has a
*prerequisite* (the LLH's track-hit requirements, ATL-PHYS-PUB-2023-001 §6.1) counts the
signal failing it in the denominator too: the cut is the weighted (1 − ε / ε_pre)
quantile of the signal that meets the prerequisite, where ε_pre is the fraction of the
bin's signal that does, so that ``prerequisite & score ≥ t_b`` keeps ε of all signal. Two
working points of the same name and target then keep the same signal, whatever their
requirements: a user swapping ``llh_tight`` for ``cnn_tight`` keeps the signal
efficiency, which is the comparison ATL-PHYS-PUB-2023-001 §6.1 makes (Figs. 10, 13, 14).
Where ε_pre < ε the target cannot be reached: every candidate meeting the prerequisite
passes, and the bin is marked in ``unreachable``.

Working points with different prerequisites need not be nested: where a tighter point's
prerequisite removes more signal than the difference of the two targets, its cut on the
score is looser than the looser point's, and a candidate can pass the tighter point and
fail the looser one (the shipped likelihood's Medium against Loose in 5 of its 30 bins).
An analysis that needs nested menus requires the looser point too.

Defined behaviour at the edges:

* a bin with fewer than ``min_signal`` signal candidates takes the cut derived from all
  signal candidates of its E_T row (every |η| bin of the same E_T bin; its entry in
  ``from_et_row`` is True), or, where the row too has fewer than ``min_signal``, from all
  signal candidates of the sample (its entry in ``from_inclusive`` is True). The E_T row
  comes first because a discriminant's signal distribution changes far more with E_T than
  with |η| (the likelihood's at 4.5–10 GeV sits lower than at 40 GeV): the inclusive cut,
  dominated by high-E_T signal, kept only 61–67 % of the signal of the sparse low-E_T
  bins of a 93 % working point. The JSON says which bins took which;
* candidates with E_T below the first edge or |η| at or beyond the last edge fail every
  working point (outside the calibrated range); E_T at or above the last edge uses the
  last E_T bin (overflow).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_ABS_ETA_EDGES",
    "DEFAULT_ET_EDGES",
    "DEFAULT_TARGETS",
    "WorkingPoints",
]

#: Target signal efficiencies (ATLAS LLH electron working points at E_T ≈ 40 GeV).
DEFAULT_TARGETS: dict[str, float] = {"loose": 0.93, "medium": 0.88, "tight": 0.80}
#: E_T bin edges (GeV) of the working points.
DEFAULT_ET_EDGES: tuple[float, ...] = (4.5, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0)
#: |η| bin edges of the working points (the crack 1.37–1.52 is its own bin).
DEFAULT_ABS_ETA_EDGES: tuple[float, ...] = (0.0, 0.6, 1.37, 1.52, 2.01, 2.47)


def _weighted_cut(
    scores: np.ndarray, weights: np.ndarray, target: float, denominator: float | None = None
) -> tuple[float, bool]:
    """Largest t with Σ w(score ≥ t) ≥ target · denominator (default: Σ w), and whether
    that is reachable (else the lowest score: everything passes)."""
    total = float(weights.sum())
    denominator = total if denominator is None else float(denominator)
    target = target * denominator / total if total > 0 else math.inf
    if target > 1.0 + 1e-12 or len(scores) == 0:
        return (float(scores.min()) if len(scores) else -math.inf), False
    order = np.argsort(-scores, kind="stable")
    s, w = scores[order], weights[order]
    cumulative = np.cumsum(w) / w.sum()
    index = int(np.searchsorted(cumulative, target - 1e-12, side="left"))
    return float(s[min(index, len(s) - 1)]), True


@dataclass(frozen=True)
class WorkingPoints:
    """Binned cuts on a score for named working points.

    Attributes
    ----------
    targets : dict of str to float
        Target signal efficiency of each working point.
    et_edges, abs_eta_edges : tuple of float
        Bin edges (E_T in GeV, |η|), ascending.
    cuts : dict of str to numpy.ndarray
        ``float64[n_et_bins, n_eta_bins]`` per working point: pass iff ``score ≥ cut``.
    from_inclusive : numpy.ndarray
        ``bool[n_et_bins, n_eta_bins]``: bins whose cut came from the inclusive sample.
    from_et_row : numpy.ndarray or None
        ``bool[n_et_bins, n_eta_bins]``: bins whose cut came from the signal of their E_T
        row (all |η| bins). ``None`` (files written before this field existed): no bin.
    score : str
        Name of the score the cuts apply to (documentation; checked by users of the file).
    unreachable : dict of str to numpy.ndarray
        ``bool[n_et_bins, n_eta_bins]`` per working point: bins where the prerequisite
        alone keeps less signal than the target (every candidate meeting it passes).
        Empty for working points derived without a prerequisite (and in files written
        before this field existed).
    """

    targets: dict[str, float]
    et_edges: tuple[float, ...]
    abs_eta_edges: tuple[float, ...]
    cuts: dict[str, np.ndarray]
    from_inclusive: np.ndarray
    score: str = "score"
    unreachable: dict[str, np.ndarray] = field(default_factory=dict)
    from_et_row: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, edges in (("et_edges", self.et_edges), ("abs_eta_edges", self.abs_eta_edges)):
            if len(edges) < 2 or np.any(np.diff(edges) <= 0):
                raise ValueError(f"{name} must be at least two strictly ascending values")
        shape = (len(self.et_edges) - 1, len(self.abs_eta_edges) - 1)
        if set(self.cuts) != set(self.targets):
            raise ValueError("cuts and targets must name the same working points")
        for name, cut in self.cuts.items():
            if np.shape(cut) != shape:
                raise ValueError(f"cuts[{name!r}] must have shape {shape}, got {np.shape(cut)}")
        if np.shape(self.from_inclusive) != shape:
            raise ValueError(f"from_inclusive must have shape {shape}")
        from_et_row = np.zeros(shape, bool) if self.from_et_row is None else self.from_et_row
        if np.shape(from_et_row) != shape:
            raise ValueError(f"from_et_row must have shape {shape}")
        if np.any(np.asarray(from_et_row, bool) & np.asarray(self.from_inclusive, bool)):
            raise ValueError("a bin cannot take both the E_T-row and the inclusive cut")
        object.__setattr__(self, "from_et_row", np.asarray(from_et_row, bool))
        for name, flags in self.unreachable.items():
            if name not in self.targets or np.shape(flags) != shape:
                raise ValueError(f"unreachable[{name!r}] must be a working point's {shape} flags")

    @classmethod
    def derive(
        cls,
        score: np.ndarray,
        et: np.ndarray,
        eta: np.ndarray,
        is_signal: np.ndarray,
        *,
        targets: Mapping[str, float] = DEFAULT_TARGETS,
        et_edges: Sequence[float] = DEFAULT_ET_EDGES,
        abs_eta_edges: Sequence[float] = DEFAULT_ABS_ETA_EDGES,
        weight: np.ndarray | None = None,
        min_signal: int = 50,
        score_name: str = "score",
        prerequisite: np.ndarray | None = None,
    ) -> WorkingPoints:
        """Derive the cuts from a sample with truth (``is_signal``) labels.

        Parameters
        ----------
        score, et, eta, is_signal : array_like
            Per candidate: the score, E_T (GeV), η (signed; |η| is used) and the truth.
        targets : mapping of str to float
            Target efficiency in (0, 1] of each working point.
        et_edges, abs_eta_edges : sequence of float
            Bin edges.
        weight : array_like, optional
            Candidate weights (e.g. generator weights); 1 by default.
        min_signal : int
            Bins with fewer signal candidates take the cut of their E_T row, or the
            inclusive cut where the row has fewer too (module docstring).
        score_name : str
            Stored as :attr:`score`.
        prerequisite : array_like of bool, optional
            Per candidate: whether it meets the working point's other requirements. Signal
            failing it stays in the denominator (module docstring); its scores are not
            used. ``None``: every candidate meets it.
        """
        score = np.asarray(score, np.float64)
        n = len(score)
        et, eta = np.asarray(et, np.float64), np.asarray(eta, np.float64)
        is_signal = np.asarray(is_signal, bool)
        weight = np.ones(n) if weight is None else np.asarray(weight, np.float64)
        meets = np.ones(n, bool) if prerequisite is None else np.asarray(prerequisite, bool)
        checked = (("et", et), ("eta", eta), ("is_signal", is_signal), ("weight", weight))
        for name, array in (*checked, ("prerequisite", meets)):
            if array.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},) like score, got {array.shape}")
        for name, target in targets.items():
            if not 0.0 < float(target) <= 1.0:
                raise ValueError(f"target efficiency of {name!r} must be in (0, 1], got {target}")
        if not np.all(np.isfinite(score)):
            raise ValueError("score has non-finite values")
        if np.any(weight[is_signal] < 0):
            raise ValueError("signal weights must be non-negative")
        if weight[is_signal].sum() <= 0:
            raise ValueError("no signal candidates (with positive weight) to derive cuts from")
        et_edges, abs_eta_edges = tuple(map(float, et_edges)), tuple(map(float, abs_eta_edges))
        et_bin, eta_bin, inside = _bin_indices(et, eta, et_edges, abs_eta_edges)
        shape = (len(et_edges) - 1, len(abs_eta_edges) - 1)
        signal = is_signal & inside
        all_signal = weight[is_signal].sum()
        eligible = is_signal & meets
        if not np.any(eligible):
            raise ValueError("no signal candidate meets the prerequisite")

        def target_cuts(scores, weights, denominator):
            return {
                name: _weighted_cut(scores, weights, float(t), denominator)
                for name, t in targets.items()
            }

        inclusive = target_cuts(score[eligible], weight[eligible], all_signal)
        cuts = {name: np.full(shape, value[0]) for name, value in inclusive.items()}
        unreachable = {name: np.full(shape, not value[1]) for name, value in inclusive.items()}
        from_inclusive = np.ones(shape, bool)
        from_et_row = np.zeros(shape, bool)
        flat_bin = et_bin * shape[1] + eta_bin
        order = np.argsort(flat_bin[signal], kind="stable")
        sig_scores, sig_weights = score[signal][order], weight[signal][order]
        sig_meets = meets[signal][order]
        starts = np.searchsorted(flat_bin[signal][order], np.arange(shape[0] * shape[1] + 1))

        def slice_cuts(lo, hi):
            """The cuts of the signal in [lo, hi), or None where it is too sparse."""
            ok, denominator = sig_meets[lo:hi], sig_weights[lo:hi].sum()
            if hi - lo < min_signal or denominator <= 0 or not ok.any():
                return None
            return target_cuts(sig_scores[lo:hi][ok], sig_weights[lo:hi][ok], denominator)

        # bins are ordered E_T-major, so the signal of E_T row i is one contiguous slice;
        # a row's cuts are derived once, when a sparse bin of it needs them
        row_cuts = functools.cache(
            lambda i: slice_cuts(starts[i * shape[1]], starts[(i + 1) * shape[1]])
        )
        for i, j in np.ndindex(shape):  # loops over bins (tens), not candidates
            b = i * shape[1] + j
            found = slice_cuts(starts[b], starts[b + 1])
            if found is None:
                found = row_cuts(i)
                from_et_row[i, j] = found is not None
            if found is None:
                continue
            from_inclusive[i, j] = False
            for name, (cut, reached) in found.items():
                cuts[name][i, j] = cut
                unreachable[name][i, j] = not reached
        if prerequisite is None:
            unreachable = {}
        return cls(
            dict(targets),
            et_edges,
            abs_eta_edges,
            cuts,
            from_inclusive,
            score_name,
            unreachable,
            from_et_row,
        )

    def cut_values(self, name: str, et: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """The cut of working point ``name`` for each candidate (+inf outside the range)."""
        if name not in self.cuts:
            raise KeyError(f"no working point {name!r}; have {sorted(self.cuts)}")
        et_bin, eta_bin, inside = _bin_indices(
            np.asarray(et, np.float64),
            np.asarray(eta, np.float64),
            self.et_edges,
            self.abs_eta_edges,
        )
        return np.where(inside, self.cuts[name][et_bin, eta_bin], np.inf)

    def passes(self, name: str, score: np.ndarray, et: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Boolean per candidate: ``score ≥ cut`` of its bin (False outside the range)."""
        return np.asarray(score, np.float64) >= self.cut_values(name, et, eta)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the working points."""
        return {
            "score": self.score,
            "targets": dict(self.targets),
            "et_edges": list(self.et_edges),
            "abs_eta_edges": list(self.abs_eta_edges),
            "cuts": {name: cut.tolist() for name, cut in self.cuts.items()},
            "from_inclusive": self.from_inclusive.tolist(),
            "from_et_row": np.asarray(self.from_et_row, bool).tolist(),
            **(
                {"unreachable": {k: v.tolist() for k, v in self.unreachable.items()}}
                if self.unreachable
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkingPoints:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                targets={k: float(v) for k, v in data["targets"].items()},
                et_edges=tuple(data["et_edges"]),
                abs_eta_edges=tuple(data["abs_eta_edges"]),
                cuts={k: np.asarray(v, np.float64) for k, v in data["cuts"].items()},
                from_inclusive=np.asarray(data["from_inclusive"], bool),
                score=str(data.get("score", "score")),
                unreachable={
                    k: np.asarray(v, bool) for k, v in dict(data.get("unreachable", {})).items()
                },
                from_et_row=(
                    np.asarray(data["from_et_row"], bool) if "from_et_row" in data else None
                ),
            )
        except KeyError as err:
            raise ValueError(f"working points are missing the key {err}") from None

    def save(self, path: str | Path) -> None:
        """Write the working points as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> WorkingPoints:
        """Read working points written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _bin_indices(et, eta, et_edges, abs_eta_edges):
    abs_eta = np.abs(eta)
    n_et, n_eta = len(et_edges) - 1, len(abs_eta_edges) - 1
    et_bin = np.searchsorted(et_edges, et, side="right") - 1
    eta_bin = np.searchsorted(abs_eta_edges, abs_eta, side="right") - 1
    inside = (
        np.isfinite(et) & np.isfinite(abs_eta) & (et_bin >= 0) & (eta_bin >= 0) & (eta_bin < n_eta)
    )
    return np.clip(et_bin, 0, n_et - 1), np.clip(eta_bin, 0, n_eta - 1), inside
