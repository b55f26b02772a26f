"""Isolation processor: ID–isolation correlation of the CNN and the likelihood (seed 004).

Seed 004 ("Existing calibration methods rely on the assumption that ID and isolation are
weakly correlated") asks whether the CNN, which sees the calorimeter images around the
candidate, is more correlated with isolation than a cut-based or likelihood ID. Per
electron (every candidate in the acceptance; on simulation split by truth: true
electrons, non-prompt) and probe-style (E_T, η) bin, ``IsolationProcessor`` fills

* ``scores`` — 2-D histograms of each ID score (``cnn_score``, ``llh_score``) versus each
  relative isolation (``ptvarcone30/p_T``, ``etcone20/p_T``);
* ``sums`` — exact Σ1, Σx, Σy, Σx², Σy², Σxy per (score, isolation) pair, truth group and
  bin, from which :func:`correlations` gives the Pearson coefficients
  ρ = cov(x, y) / (σ_x σ_y).

Isolation working-point efficiencies and SFs are the tag-and-probe's
(``egamma-cnn tnp --id iso_loose iso_tight``), not repeated here.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np
from coffea import processor
from egamma_cnn.processors.common import dataset_name, histogram_factory, is_lazy

from egamma_cnn.tnp.config import TnPConfig

__all__ = ["IsolationProcessor", "correlations"]

#: ID scores compared.
SCORES: tuple[str, ...] = ("cnn_score", "llh_score")
#: Relative isolation variables: (name, isolation column, denominator).
ISOLATIONS: tuple[tuple[str, str, str], ...] = (
    ("ptvarcone30_rel", "ptvarcone30", "pt"),
    ("etcone20_rel", "etcone20", "pt"),
)
#: Truth groups: -1 no truth, 1 true electrons (prompt, charge flip), 0 the others.
GROUPS: tuple[int, ...] = (-1, 0, 1)
_MOMENTS = ("n", "x", "y", "xx", "yy", "xy")


class IsolationProcessor(processor.ProcessorABC):
    """ID-score × isolation distributions and correlation sums (module docstring).

    Parameters
    ----------
    config : TnPConfig, optional
        Field names, the truth classes of true electrons, the E_T and η binning and the
        probe E_T threshold and acceptance.
    """

    def __init__(self, config: TnPConfig | None = None) -> None:
        self.config = config or TnPConfig()

    def process(self, events: Any) -> dict[str, Any]:
        config = self.config
        factory = histogram_factory(is_lazy(events))
        electrons = events[config.electrons]
        et = getattr(electrons, config.probe_et_field)
        eta = getattr(electrons, config.probe_eta_field)
        electrons = electrons[(et > config.probe_min_et) & (np.abs(eta) < config.max_abs_eta)]
        et = ak.flatten(getattr(electrons, config.probe_et_field))
        eta = ak.flatten(getattr(electrons, config.probe_eta_field))
        if config.truth is not None and config.truth in electrons.fields:
            truth_class = electrons[config.truth]
            is_true = truth_class == config.truth_signal[0]
            for value in config.truth_signal[1:]:
                is_true = is_true | (truth_class == value)
            group = ak.flatten(ak.values_astype(is_true, np.int8))
        else:
            group = ak.flatten(ak.values_astype(electrons[config.pt] * 0, np.int8)) - 1
        scores = {name: ak.flatten(getattr(electrons, name)) for name in SCORES}
        pt = ak.flatten(electrons[config.pt])
        isolations = {
            name: ak.flatten(getattr(electrons, column)) / pt for name, column, _ in ISOLATIONS
        }
        score_hist = (
            factory.StrCategory(list(SCORES), name="score_name")
            .StrCategory([name for name, _, _ in ISOLATIONS], name="isolation_name")
            .IntCategory(list(GROUPS), name="truth")
            .Reg(20, 0.0, 1.0, name="score", label="ID score")
            .Reg(20, 0.0, 0.5, name="isolation", label="isolation / $p_T$")
            .Variable(list(config.et_edges), name="et")
            .Variable(list(config.eta_edges), name="eta")
            .Double()
        )
        sums = (
            factory.StrCategory(list(SCORES), name="score_name")
            .StrCategory([name for name, _, _ in ISOLATIONS], name="isolation_name")
            .IntCategory(list(GROUPS), name="truth")
            .StrCategory(list(_MOMENTS), name="moment")
            .Variable(list(config.et_edges), name="et")
            .Variable(list(config.eta_edges), name="eta")
            .Double()
        )
        for score_name, x in scores.items():
            x = ak.values_astype(x, np.float64)
            for iso_name, y in isolations.items():
                y = ak.values_astype(y, np.float64)
                common = {"score_name": score_name, "isolation_name": iso_name, "truth": group}
                score_hist.fill(**common, score=x, isolation=y, et=et, eta=eta)
                for moment, weight in (
                    ("n", x * 0 + 1), ("x", x), ("y", y),
                    ("xx", x * x), ("yy", y * y), ("xy", x * y),
                ):  # fmt: skip
                    sums.fill(**common, moment=moment, et=et, eta=eta, weight=weight)
        dataset = dataset_name(events)
        return {dataset: {"scores": score_hist, "sums": sums}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def correlations(
    sums: Any, score_name: str, isolation_name: str, truth: int, projection: str = "bins"
) -> np.ndarray:
    """Pearson ρ(score, isolation) per bin (``"bins"``: [et, eta]), per E_T or per η.

    ρ = (Σxy/n − x̄ ȳ) / sqrt((Σx²/n − x̄²)(Σy²/n − ȳ²)); NaN where fewer than 10
    candidates or a variance is zero.
    """
    selection = {
        "score_name": score_name,
        "isolation_name": isolation_name,
        "truth": hist.loc(truth),
    }
    values = {m: sums[{**selection, "moment": m}].values() for m in _MOMENTS}
    if projection == "et":
        values = {m: v.sum(axis=1) for m, v in values.items()}
    elif projection == "eta":
        values = {m: v.sum(axis=0) for m, v in values.items()}
    elif projection == "inclusive":
        values = {m: np.asarray(v.sum()) for m, v in values.items()}
    elif projection != "bins":
        raise ValueError(f"projection must be bins, et, eta or inclusive, not {projection!r}")
    n = values["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x, mean_y = values["x"] / n, values["y"] / n
        cov = values["xy"] / n - mean_x * mean_y
        var_x = values["xx"] / n - mean_x**2
        var_y = values["yy"] / n - mean_y**2
        rho = cov / np.sqrt(var_x * var_y)
    return np.where((n >= 10) & (var_x > 0) & (var_y > 0), rho, np.nan)
