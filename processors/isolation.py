"""Isolation processor: isolation working points, ID–isolation correlation, cones vs images.

Per electron candidate in the tag-and-probe acceptance (E_T above the probe threshold,
|η| below ``max_abs_eta``; the selection and binning of
:class:`~egamma_cnn.tnp.config.TnPConfig`) and truth class (``truthClass`` 0–5 on
simulation, :data:`~egamma_cnn.tnp.pairs.TRUTH_NONE` = −1 without truth),
``IsolationProcessor`` fills

* ``working_points`` — candidates passing and failing each isolation working point per
  probe (E_T, η) bin: the built-in ``iso_loose``/``iso_tight`` columns and any
  user-defined point written as an ID specification
  (``"ptvarcone30/pt < 0.1 and etcone20/pt < 0.1"``), for all candidates (``given``
  "all") and for those passing each ID of ``given_ids`` (``cnn_tight``, ``llh_tight``).
  Efficiencies of true electrons and of non-prompt candidates follow from it, and the
  factorisation ratio ε(iso | ID) / ε(iso) — 1 when isolation and ID are independent,
  the assumption under which their SFs are measured separately (Franco's photon-ID
  talk). The data/MC efficiencies and SFs are the tag-and-probe's
  (:func:`egamma_cnn.workflows.run_isolation` runs it for these points);
* ``scores`` — 2-D histograms of each ID score (``cnn_score``, ``llh_score``) versus each
  relative isolation (``ptvarcone30/p_T``, ``etcone20/p_T``) per E_T bin — the question
  of Franco's photon-ID talk whether the CNN is more correlated with isolation than a
  likelihood;
* ``sums`` — exact Σw, Σwx, Σwy, Σwx², Σwy², Σwxy (w the event weight) per (score,
  isolation) pair, truth class and bin, from which
  :func:`egamma_cnn.isolation.analysis.correlations` gives the Pearson coefficients
  ρ = cov(x, y) / (σ_x σ_y);
* ``discriminants`` — finely binned 1-D distributions per truth class (candidates inside
  the E_T binning) of the ID scores, the relative isolation variables and the cone set
  of the Collado Umana thesis, ch. 4, I(R₀) = Σ_{ΔR<R₀} E_T,cell / p_T
  (``calo_iso_cones``, R₀ = 0.025 … 0.4): the ROC curves and AUCs of isolation cones
  versus the image-based score for prompt against non-prompt electrons
  (:func:`egamma_cnn.isolation.analysis.roc_curve_from_histogram`).

``kind="photon"`` runs the same on ``Photon``: the photon CNN score (no likelihood),
Franco's loose point ``Photon.iso_loose``, the ID ``cnn_tight``, and the truth of
``Photon.isPrompt`` mapped onto the classes as prompt → 0, non-prompt → 5, so that the
groups below keep their meaning (prompt photons, fakes).

The names of the scores, isolations and discriminants, and the discriminants' ranges,
are the study's (:mod:`egamma_cnn.isolation.variables`, re-exported here); the study
turns the histograms into results (:func:`egamma_cnn.isolation.analysis.analyse`).

Eager or on dask-awkward (``hist.dask``), like every processor here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import awkward as ak
import numpy as np
from coffea import processor

from egamma_cnn.features import CALO_ISO_CONE_RADII
from egamma_cnn.isolation.analysis import correlations
from egamma_cnn.isolation.variables import (
    ISOLATIONS,
    RELATIVE_ISOLATIONS,
    SCORES,
    discriminant_ranges,
)
from egamma_cnn.processors.common import (
    check_declared_kind,
    dataset_name,
    histogram_factory,
    is_lazy,
)
from egamma_cnn.tnp.config import IdSpec, TnPConfig
from egamma_cnn.tnp.pairs import TRUTH_NONE

__all__ = [
    "DEFAULT_WORKING_POINTS",
    "ISOLATIONS",
    "KINDS",
    "SCORES",
    "TRUTH_CLASSES",
    "IsolationProcessor",
    "correlations",
    "discriminant_ranges",
]

#: Per kind: collection, scores, default working points and conditioning IDs.
KINDS: dict[str, dict[str, Any]] = {
    "electron": {
        "collection": None,  # the configuration's ``electrons``
        "scores": SCORES,
        "working_points": {"iso_loose": "iso_loose", "iso_tight": "iso_tight"},
        "given_ids": ("cnn_tight", "llh_tight"),
    },
    "photon": {
        "collection": "Photon",
        "scores": ("cnn_score",),
        "working_points": {"iso_loose": "iso_loose"},
        "given_ids": ("cnn_tight",),
    },
}
#: Truth classes (ATL-PHYS-PUB-2023-001 §3.1; :data:`~egamma_cnn.tnp.pairs.TRUTH_NONE`:
#: no truth, e.g. data).
TRUTH_CLASSES: tuple[int, ...] = (TRUTH_NONE, 0, 1, 2, 3, 4, 5)
#: The built-in isolation working points (columns of ``Electron``).
DEFAULT_WORKING_POINTS: dict[str, str] = dict(KINDS["electron"]["working_points"])
_MOMENTS = ("n", "x", "y", "xx", "yy", "xy")


class _Flat(NamedTuple):
    """Flat per-candidate arrays of the selected candidates."""

    et: Any
    eta: Any
    truth: Any
    pt: Any
    weight: Any


class IsolationProcessor(processor.ProcessorABC):
    """Isolation working points, ID × isolation, and cones vs scores (module docstring).

    Parameters
    ----------
    config : TnPConfig, optional
        Field names, the truth field, the E_T and η binning, the probe E_T threshold and
        acceptance.
    working_points : mapping of str to str, optional
        Isolation working points, name → ID specification (default: the built-in points
        of ``kind``; add your own, e.g. ``{"my_iso": "ptvarcone30/pt < 0.1 and
        etcone20/pt < 0.1"}``).
    discriminants : bool
        Fill the cones-versus-scores distributions (``False`` skips the 16 cones).
    given_ids : sequence of str, optional
        IDs (ID specifications) under which the working-point efficiencies are also
        counted, for the factorisation test (default ``cnn_tight`` and ``llh_tight``;
        photons ``cnn_tight``).
    kind : {"electron", "photon"}
        Which candidates.
    weight : str or None
        Event weight field (``genWeight`` when present): every histogram and sum is
        weighted by it.
    """

    def __init__(
        self,
        config: TnPConfig | None = None,
        working_points: Mapping[str, str] | None = None,
        discriminants: bool = True,
        given_ids: tuple[str, ...] | list[str] | None = None,
        kind: str = "electron",
        weight: str | None = "genWeight",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be 'electron' or 'photon', not {kind!r}")
        self.config = config or TnPConfig()
        self.kind = kind
        self.weight = weight
        self.collection = KINDS[kind]["collection"] or self.config.electrons
        self.scores: tuple[str, ...] = KINDS[kind]["scores"]
        if given_ids is None:
            given_ids = KINDS[kind]["given_ids"]
        if working_points is None:
            working_points = KINDS[kind]["working_points"]
        working_points = dict(working_points)
        self.working_points = {
            name: str(IdSpec.parse(spec)) for name, spec in working_points.items()
        }
        self.discriminants = discriminants
        self.given_ids = tuple(str(IdSpec.parse(text)) for text in given_ids)
        if "all" in self.given_ids:
            raise ValueError("'all' names the unconditioned efficiencies; it is not an ID")

    def process(self, events: Any) -> dict[str, Any]:
        """The histograms of one chunk of ``events`` (eager or dask-awkward).

        Returns
        -------
        dict
            ``{dataset: {"candidates": n, "working_points": hist, "scores": hist,
            "sums": hist, "discriminants": {name: hist}}}`` (module docstring; no
            ``discriminants`` when the processor was made without them).
        """
        if self.kind == "electron":
            check_declared_kind(events, self.collection, self.config.truth)
        factory = histogram_factory(is_lazy(events))
        candidates, flat = self._candidates(events)
        out: dict[str, Any] = {"candidates": ak.num(flat.et, axis=0)}
        out["working_points"] = self._working_points(factory, candidates, flat)
        scores = {
            name: ak.values_astype(ak.flatten(getattr(candidates, name)), np.float64)
            for name in self.scores
        }
        out["scores"], out["sums"] = self._scores_and_sums(factory, candidates, flat, scores)
        if self.discriminants:
            out["discriminants"] = self._discriminants(factory, candidates, flat, scores)
        return {dataset_name(events): out}

    def _candidates(self, events: Any) -> tuple[Any, _Flat]:
        """The candidates in the acceptance, and their flat E_T, η, truth, p_T and weight.

        Truth: ``Photon.isPrompt`` as class 0 (prompt) or 5 (non-prompt) for photons,
        the configuration's truth field for electrons, else
        :data:`~egamma_cnn.tnp.pairs.TRUTH_NONE`; weight: the event weight of each
        candidate, 1 without the weight field.
        """
        config = self.config
        candidates = events[self.collection]
        et = getattr(candidates, config.probe_et_field)
        eta = getattr(candidates, config.probe_eta_field)
        candidates = candidates[(et > config.probe_min_et) & (np.abs(eta) < config.max_abs_eta)]
        if self.kind == "photon" and "isPrompt" in candidates.fields:
            truth = ak.flatten(ak.where(candidates.isPrompt, 0, 5))
        elif (
            self.kind == "electron"
            and config.truth is not None
            and config.truth in candidates.fields
        ):
            truth = ak.flatten(ak.values_astype(candidates[config.truth], np.int64))
        else:
            truth = ak.flatten(ak.values_astype(candidates[config.pt] * 0, np.int64)) + TRUTH_NONE
        pt = ak.flatten(candidates[config.pt])
        if self.weight is not None and self.weight in events.fields:
            weight = ak.values_astype(
                ak.flatten(ak.broadcast_arrays(events[self.weight], candidates[config.pt])[0]),
                np.float64,
            )
        else:
            weight = ak.values_astype(pt * 0 + 1, np.float64)
        flat = _Flat(
            et=ak.flatten(getattr(candidates, config.probe_et_field)),
            eta=ak.flatten(getattr(candidates, config.probe_eta_field)),
            truth=truth,
            pt=pt,
            weight=weight,
        )
        return candidates, flat

    def _working_points(self, factory: Any, candidates: Any, flat: _Flat) -> Any:
        """``working_points``: passing and failing candidates per working point, given
        ID (``"all"`` or one of ``given_ids``), truth class, E_T and η."""
        histogram = (
            factory.StrCategory(["all", *self.given_ids], name="given")
            .StrCategory(list(self.working_points), name="working_point")
            .Boolean(name="passing")
            .IntCategory(list(TRUTH_CLASSES), name="truth")
            .Variable(list(self.config.et_edges), name="et", label=r"$E_T$ [GeV]")
            .Variable(list(self.config.eta_edges), name="eta", label=r"$\eta$")
            .Weight()
        )
        given = {
            text: ak.values_astype(ak.flatten(IdSpec.parse(text).evaluate(candidates)), np.float64)
            for text in self.given_ids
        }
        for name, spec in self.working_points.items():
            common = {
                "working_point": name,
                "passing": ak.flatten(IdSpec.parse(spec).evaluate(candidates)),
                "truth": flat.truth,
                "et": flat.et,
                "eta": flat.eta,
            }
            histogram.fill(given="all", **common, weight=flat.weight)
            for text, passes_id in given.items():  # the candidates passing the ID only
                histogram.fill(given=text, **common, weight=flat.weight * passes_id)
        return histogram

    def _scores_and_sums(
        self, factory: Any, candidates: Any, flat: _Flat, scores: Mapping[str, Any]
    ) -> tuple[Any, Any]:
        """``scores`` (score × relative isolation per E_T bin) and ``sums`` (the weighted
        moments Σw, Σwx, Σwy, Σwx², Σwy², Σwxy per E_T and η bin) of every pair."""
        et_axis = list(self.config.et_edges)
        isolation_names = [name for name, _, _ in ISOLATIONS]
        score_hist = (
            factory.StrCategory(list(self.scores), name="score_name")
            .StrCategory(isolation_names, name="isolation_name")
            .IntCategory(list(TRUTH_CLASSES), name="truth")
            .Reg(20, 0.0, 1.0, name="score", label="ID score")
            .Reg(20, 0.0, 0.5, name="isolation", label="isolation / $p_T$")
            .Variable(et_axis, name="et")
            .Double()
        )
        sums = (
            factory.StrCategory(list(self.scores), name="score_name")
            .StrCategory(isolation_names, name="isolation_name")
            .IntCategory(list(TRUTH_CLASSES), name="truth")
            .StrCategory(list(_MOMENTS), name="moment")
            .Variable(et_axis, name="et")
            .Variable(list(self.config.eta_edges), name="eta")
            .Double()
        )
        isolations = {
            name: ak.values_astype(ak.flatten(getattr(candidates, column)) / flat.pt, np.float64)
            for name, column, _ in ISOLATIONS
        }
        w = flat.weight
        for score_name, x in scores.items():
            for iso_name, y in isolations.items():
                common = {"score_name": score_name, "isolation_name": iso_name, "truth": flat.truth}
                score_hist.fill(**common, score=x, isolation=y, et=flat.et, weight=w)
                for moment, value in (
                    ("n", w),
                    ("x", w * x),
                    ("y", w * y),
                    ("xx", w * x * x),
                    ("yy", w * y * y),
                    ("xy", w * x * y),
                ):
                    sums.fill(**common, moment=moment, et=flat.et, eta=flat.eta, weight=value)
        return score_hist, sums

    def _discriminants(
        self, factory: Any, candidates: Any, flat: _Flat, scores: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``discriminants``: per truth class, the distribution of each score (as
        log-odds), relative isolation and cone I(R₀) of the candidates inside the E_T
        binning."""
        with np.errstate(divide="ignore"):  # s = 0 or 1: ∓inf, in the flow bins
            values = {name: np.log(x) - np.log1p(-x) for name, x in scores.items()}
        for name in RELATIVE_ISOLATIONS:
            values[f"{name}_rel"] = ak.flatten(getattr(candidates, name)) / flat.pt
        cones = candidates.calo_iso_cones
        for k, radius in enumerate(CALO_ISO_CONE_RADII):
            values[f"cone{radius:.3f}"] = ak.flatten(cones[:, :, k])
        et_edges = self.config.et_edges
        # inside the E_T binning, as every other output
        inside = ak.values_astype((flat.et >= et_edges[0]) & (flat.et < et_edges[-1]), np.float64)
        distributions = {}
        for name, (bins, low, high, _) in discriminant_ranges(self.scores).items():
            histogram = (
                factory.Reg(bins, low, high, name="value", label=name)
                .IntCategory(list(TRUTH_CLASSES), name="truth")
                .Double()
            )
            histogram.fill(
                value=ak.values_astype(values[name], np.float64),
                truth=flat.truth,
                weight=flat.weight * inside,
            )
            distributions[name] = histogram
        return distributions

    def postprocess(self, accumulator: Any) -> Any:
        """The accumulated outputs as they are (nothing to finish)."""
        return accumulator
