"""The tag-and-probe analysis: from pass/fail m_ee histograms to efficiencies and SFs.

From the outputs of ``egamma_cnn.processors.tag_and_probe.TagAndProbeProcessor`` added
up per kind (``{"data": {...}, "mc": {...}}``, :func:`egamma_cnn.execution.merge_by_kind`;
either kind may be missing), :func:`analyse` measures, for every probe ID of the
configuration,

* the efficiency of every probe (E_T, η) bin of each sample and its projections on E_T
  and on η (:func:`~egamma_cnn.tnp.efficiency.measure`: sideband subtraction or fits,
  the m_ee ranges of the configuration);
* with simulation that has truth, the truth-matched efficiency of the same probes
  (:func:`~egamma_cnn.tnp.efficiency.truth_efficiency`, the closure reference);
* with data and simulation, the scale factors SF = ε_data/ε_MC
  (:func:`~egamma_cnn.tnp.scale_factors.scale_factors`).

The result, a :class:`TnPResult`, holds them with the fits (method ``"fit"``), the pair
counts of each dataset, what the run left out (``run_report``) and the warnings of the
measurement (bins without an efficiency, flagged bins);
:func:`egamma_cnn.tnp.outputs.write_outputs` writes it and
:func:`egamma_cnn.tnp.plots.plot_all` draws it. Nothing here reads files or prints.
The method is the tag-and-probe of Zumbihl's e/γ talk ("Event selection: Tag&Probe
method").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from egamma_cnn.intervals import Interval
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.efficiency import (
    BinEfficiency,
    FitResult,
    Method,
    measure,
    truth_efficiency,
)
from egamma_cnn.tnp.scale_factors import ScaleFactors, scale_factors

__all__ = ["IdResult", "TnPResult", "analyse", "dataset_counts"]

#: The samples a tag-and-probe compares.
SAMPLES = ("data", "mc")
#: The projections measured next to the (E_T, η) bins.
PROJECTIONS = ("et", "eta")


@dataclass(frozen=True)
class IdResult:
    """Everything measured for one probe ID.

    Attributes
    ----------
    probe_id : str
        The ID specification.
    efficiencies : dict of str to list of BinEfficiency
        ``"<sample>"`` (every (E_T, η) bin), ``"<sample>_et"`` and ``"<sample>_eta"`` (the
        projections) for each sample, and ``"mc_truth"``, ``"mc_truth_et"``,
        ``"mc_truth_eta"`` (truth-matched simulation), in this order.
    fits : dict of str to dict
        Method ``"fit"``: per sample the :class:`FitResult` of every (E_T, η) bin, keyed
        (E_T index, η index); empty for counting.
    scale_factors : ScaleFactors or None
        With data and simulation: the data/MC scale factors.
    """

    probe_id: str
    efficiencies: dict[str, list[BinEfficiency]]
    fits: dict[str, dict[tuple[int, int], FitResult]] = field(default_factory=dict)
    scale_factors: ScaleFactors | None = None

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """The efficiencies as JSON-ready lists (the ID's entry of ``efficiencies.json``)."""
        return {key: [b.to_dict() for b in bins] for key, bins in self.efficiencies.items()}


@dataclass(frozen=True)
class TnPResult:
    """The tag-and-probe of every probe ID of ``config`` (:func:`analyse`).

    Attributes
    ----------
    config : TnPConfig
        The configuration the histograms were made and analysed with.
    samples : dict of str to hist.Hist
        The processor's histograms per sample (``"data"``, ``"mc"``).
    method : str
        ``"count"`` or ``"fit"``.
    ids : dict of str to IdResult
        Per probe ID, in the order of ``config.probe_id``.
    datasets : dict of str to dict
        Per dataset the counts of :func:`dataset_counts` (empty when not given).
    run_report : dict
        What the run that filled the histograms left out
        (:func:`egamma_cnn.workflows.common.run_report`: ``skipped_files`` and
        ``left_out``; empty for histograms a user brings); copied into :meth:`summary`.
    warnings : list of str
        Bins without an efficiency and flagged bins, per ID and sample, one line each.
    """

    config: TnPConfig
    samples: dict[str, Any]
    method: str
    ids: dict[str, IdResult]
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_report: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def scale_factors(self) -> dict[str, ScaleFactors]:
        """The scale factors of the IDs that have them (data and simulation)."""
        return {k: r.scale_factors for k, r in self.ids.items() if r.scale_factors is not None}

    @property
    def mass_edges(self) -> np.ndarray:
        """The m_ee bin edges of the histograms (GeV)."""
        histogram = next(iter(self.samples.values()))
        return np.asarray(histogram.axes["mass"].edges)

    def efficiency_table(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Per ID its efficiencies (:meth:`IdResult.to_dict`): ``efficiencies.json``."""
        return {probe_id: result.to_dict() for probe_id, result in self.ids.items()}

    def scale_factor_table(self) -> dict[str, dict[str, Any]]:
        """Per ID the scale-factor grid and its missing bins: ``scale_factors_table.json``."""
        return {probe_id: sf.to_dict() for probe_id, sf in self.scale_factors.items()}

    def summary(self) -> dict[str, Any]:
        """The datasets' counts, the run report, the method and the SF summaries of
        :meth:`ScaleFactors.summary` (with data and simulation): ``summary.json``."""
        summary: dict[str, Any] = {
            "datasets": self.datasets,
            **self.run_report,
            "method": self.method,
        }
        if self.scale_factors:
            summary["scale_factors"] = {k: v.summary() for k, v in self.scale_factors.items()}
        return summary

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready values: the configuration, the efficiency and
        scale-factor tables, the summary and the warnings (not the histograms and fits)."""
        return {
            "config": asdict(self.config),
            "efficiencies": self.efficiency_table(),
            "scale_factors": self.scale_factor_table(),
            "summary": self.summary(),
            "warnings": list(self.warnings),
        }


def dataset_counts(output: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The counts of one dataset's processor output: events, pairs and the pairs whose
    probe lies outside the E_T × η binning (not measured; the SFs clamp there).

    ``output`` is ``{"events": n, "pairs": n, "histogram": hist}``; ``kind`` its sample.
    """
    # axes of one ID: passing, mass, et, eta, opposite, truth; et and η carry an under-
    # and an overflow bin: probes there are outside the binning
    values = np.asarray(output["histogram"][{"id": 0}].view(flow=True)["value"])
    outside = float(values.sum() - values[:, :, 1:-1, 1:-1].sum())
    return {
        "kind": kind,
        "events": int(output["events"]),
        "pairs": int(output["pairs"]),
        "pairs_outside_the_binning": round(outside),
    }


def _warnings(probe_id: str, kind: str, bins: list[BinEfficiency]) -> list[str]:
    """One line for the bins without an efficiency, one for the flagged bins."""
    missing = [b for b in bins if math.isnan(b.efficiency)]
    flagged = [b for b in bins if b.status != "ok" and not math.isnan(b.efficiency)]
    lines = []
    if missing:
        lines.append(
            f"{probe_id} {kind}: {len(missing)} of {len(bins)} bins without an "
            f"efficiency (e.g. {missing[0].status}) — see efficiencies.json"
        )
    if flagged:
        lines.append(
            f"{probe_id} {kind}: {len(flagged)} bins flagged "
            f"(e.g. {flagged[0].status}) — see efficiencies.json"
        )
    return lines


def _analyse_id(
    probe_id: str,
    samples: Mapping[str, Any],
    config: TnPConfig,
    options: Mapping[str, Any],
) -> tuple[IdResult, list[str]]:
    """The efficiencies, fits and SFs of one ID, and its warnings.

    ``options``: the keywords of :func:`measure`; its ``"interval"`` is also that of the
    truth efficiency.
    """
    efficiencies: dict[str, list[BinEfficiency]] = {}
    fits: dict[str, dict[tuple[int, int], FitResult]] = {}
    warnings: list[str] = []
    for kind, histogram in samples.items():
        found: dict = {}
        efficiencies[kind] = measure(histogram, probe_id, fits=found, **options)
        for projection in PROJECTIONS:
            efficiencies[f"{kind}_{projection}"] = measure(
                histogram, probe_id, projection=projection, **options
            )
        if found:
            fits[kind] = found
        warnings += _warnings(probe_id, kind, efficiencies[kind])
    if "mc" in samples and config.truth is not None:
        truth = {"window": config.signal_window, "interval": options["interval"]}
        efficiencies["mc_truth"] = truth_efficiency(samples["mc"], probe_id, **truth)
        for projection in PROJECTIONS:
            efficiencies[f"mc_truth_{projection}"] = truth_efficiency(
                samples["mc"], probe_id, projection=projection, **truth
            )
    factors = None
    if "data" in samples and "mc" in samples:
        factors = scale_factors(efficiencies["data"], efficiencies["mc"], probe_id)
    return IdResult(probe_id, efficiencies, fits, factors), warnings


def analyse(
    outputs_by_kind: Mapping[str, Mapping[str, Any]],
    config: TnPConfig | None = None,
    *,
    method: Method = "count",
    signal: str = "template",
    background: str = "exponential",
    interval: Interval = "clopper-pearson",
    datasets: Mapping[str, Mapping[str, Any]] | None = None,
    run_report: Mapping[str, Any] | None = None,
) -> TnPResult:
    """Efficiencies, truth efficiencies and scale factors of every probe ID.

    Parameters
    ----------
    outputs_by_kind : mapping
        The processor's outputs added up per kind, ``{"data": {...}, "mc": {...}}``
        (:func:`egamma_cnn.execution.merge_by_kind`; one dataset's output
        ``out["sample"]`` as ``{"mc": out["sample"]}`` works too): their
        ``"histogram"`` is measured. One kind alone gives its efficiencies without SFs.
    config : TnPConfig, optional
        The configuration the histograms were made with: its probe IDs, its signal
        window and sidebands (counting, truth efficiency) and its truth field.
    method : {"count", "fit"}
        Sideband subtraction or fits (:mod:`egamma_cnn.tnp.efficiency`).
    signal : {"template", "bwcb"}
        Signal model of the fits; ``"template"`` needs the simulation and becomes
        ``"bwcb"`` (an analytic Breit–Wigner ⊗ Crystal Ball) without it.
    background : {"exponential", "polynomial"}
        Background model of the fits.
    interval : {"clopper-pearson", "wilson"}
        The binomial interval of plain counts (:mod:`egamma_cnn.intervals`).
    datasets : mapping, optional
        Per dataset its :func:`dataset_counts`, for the summary.
    run_report : mapping, optional
        What the run left out (skipped files, chunks;
        :func:`egamma_cnn.workflows.common.run_report`), for the summary.

    Returns
    -------
    TnPResult
        With a warning line per sample and ID for its bins without an efficiency and
        for its flagged bins.
    """
    config = config or TnPConfig()
    unknown = set(outputs_by_kind) - set(SAMPLES)
    if unknown or not outputs_by_kind:
        raise ValueError(
            "outputs_by_kind must hold the outputs of 'data' and/or 'mc', got "
            f"{sorted(outputs_by_kind) or 'none'}"
        )
    samples = {kind: output["histogram"] for kind, output in outputs_by_kind.items()}
    if method == "fit" and "mc" not in samples and signal == "template":
        signal = "bwcb"  # no simulation for templates: analytic signal
    options = {
        "method": method,
        "mc_histogram": samples.get("mc"),
        "window": config.signal_window,
        "sidebands": config.sidebands,
        "interval": interval,
        "signal": signal,
        "background": background,
    }
    ids: dict[str, IdResult] = {}
    warnings: list[str] = []
    for probe_id in config.probe_id:
        ids[probe_id], found = _analyse_id(probe_id, samples, config, options)
        warnings += found
    return TnPResult(
        config=config,
        samples=dict(samples),
        method=method,
        ids=ids,
        datasets={name: dict(counts) for name, counts in (datasets or {}).items()},
        run_report=dict(run_report or {}),
        warnings=warnings,
    )
