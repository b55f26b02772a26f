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
  (:func:`~egamma_cnn.tnp.scale_factors.scale_factors`) and, for every systematic
  source of ``config.systematics``, the efficiencies of data and simulation measured
  again with its variation, its scale factors and δ_s = |SF_s − SF| per bin
  (:mod:`egamma_cnn.tnp.systematics`).

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
from dataclasses import dataclass, field
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
from egamma_cnn.tnp.systematics import (
    SELECTION_KEYS,
    check_systematics,
    measure_options,
    with_systematics,
)

__all__ = ["IdResult", "TnPResult", "analyse", "dataset_counts", "integrated_efficiency"]

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
        ``"mc_truth_eta"`` (truth-matched simulation), in this order; then, with data,
        simulation and systematic sources, per source ``"data_<source>"`` and
        ``"mc_<source>"``: every (E_T, η) bin measured with the source's variation.
    fits : dict of str to dict
        Method ``"fit"``: per sample the :class:`FitResult` of every (E_T, η) bin, keyed
        (E_T index, η index); empty for counting.
    scale_factors : ScaleFactors or None
        With data and simulation: the data/MC scale factors, with δ_s per systematic
        source (:attr:`ScaleFactors.sources`).
    varied_scale_factors : dict of str to ScaleFactors
        Per systematic source the scale factors SF_s of its variation.
    """

    probe_id: str
    efficiencies: dict[str, list[BinEfficiency]]
    fits: dict[str, dict[tuple[int, int], FitResult]] = field(default_factory=dict)
    scale_factors: ScaleFactors | None = None
    varied_scale_factors: dict[str, ScaleFactors] = field(default_factory=dict)

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
        """The datasets' counts, the run report, the method, per ID and sample the
        efficiency integrated over the bins (:func:`integrated_efficiency`) and the SF
        summaries of :meth:`ScaleFactors.summary` (with data and simulation):
        ``summary.json``."""
        summary: dict[str, Any] = {
            "datasets": self.datasets,
            **self.run_report,
            "method": self.method,
            "efficiencies": {
                probe_id: {
                    kind: integrated_efficiency(result.efficiencies[kind])
                    for kind in (*SAMPLES, "mc_truth")
                    if kind in result.efficiencies
                }
                for probe_id, result in self.ids.items()
            },
        }
        if self.scale_factors:
            summary["scale_factors"] = {k: v.summary() for k, v in self.scale_factors.items()}
        return summary

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready values: the configuration, the efficiency and
        scale-factor tables, the summary and the warnings (not the histograms and fits)."""
        return {
            "config": self.config.to_dict(),
            "efficiencies": self.efficiency_table(),
            "scale_factors": self.scale_factor_table(),
            "summary": self.summary(),
            "warnings": list(self.warnings),
        }


def integrated_efficiency(bins: list[BinEfficiency]) -> dict[str, Any]:
    """The efficiency integrated over the (E_T, η) bins that have one:
    ε = Σ S_pass / Σ (S_pass + S_fail), the signal yields of each bin (background-subtracted
    or fitted), with the bins it sums; None without a bin (a number for a summary, not an
    interval: the per-bin uncertainties are in ``efficiencies.json``)."""
    measured = [b for b in bins if math.isfinite(b.efficiency)]
    passing = sum(max(b.signal_pass, 0.0) for b in measured)
    total = passing + sum(max(b.signal_fail, 0.0) for b in measured)
    return {
        "efficiency": passing / total if total > 0 else None,
        "signal_pass": passing,
        "signal_fail": total - passing,
        "bins": len(measured),
        "bins_without_efficiency": len(bins) - len(measured),
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


def _unvaried_warning(
    probe_id: str, name: str, factors: ScaleFactors, efficiencies: Mapping[str, list]
) -> list[str]:
    """One line for the bins whose variation ``name`` gave no SF (δ = σ_stat there)."""
    bins = factors.unvaried.get(name, [])
    if not bins:
        return []
    reasons = [
        b.status
        for kind in ("data", "mc")
        for b in efficiencies[f"{kind}_{name}"]
        if b.status != "ok" and (b.et_low, b.et_high, b.eta_low, b.eta_high) in bins
    ]
    example = f" (e.g. {reasons[0]})" if reasons else ""
    measured = int(np.isfinite(factors.value).sum())
    return [
        f"{probe_id} systematic {name}: {len(bins)} of {measured} bins with an SF have no "
        f"varied SF{example}; δ = σ_stat there — see scale_factors_table.json"
    ]


def _systematics(
    probe_id: str,
    nominal: ScaleFactors,
    variations: Mapping[str, Mapping[str, Any]],
    systematics: Mapping[str, Mapping[str, Any]],
    options: Mapping[str, Any],
) -> tuple[ScaleFactors, dict[str, ScaleFactors], dict[str, list[BinEfficiency]], list[str]]:
    """Every source's efficiencies, SF_s and δ_s for one ID.

    ``variations``: per source the histograms of ``"data"`` and ``"mc"`` it is measured
    on (the nominal ones, or the source's own for a changed tag selection).
    """
    varied: dict[str, ScaleFactors] = {}
    efficiencies: dict[str, list[BinEfficiency]] = {}
    for name, overrides in systematics.items():
        histograms = variations[name]
        chosen = measure_options(options, overrides)
        chosen["mc_histogram"] = histograms["mc"]
        for kind in SAMPLES:
            efficiencies[f"{kind}_{name}"] = measure(histograms[kind], probe_id, **chosen)
        varied[name] = scale_factors(
            efficiencies[f"data_{name}"], efficiencies[f"mc_{name}"], probe_id
        )
    factors = with_systematics(nominal, varied)
    warnings = [
        line
        for name in systematics
        for line in _unvaried_warning(probe_id, name, factors, efficiencies)
    ]
    return factors, varied, efficiencies, warnings


def _variation_histograms(
    outputs_by_kind: Mapping[str, Mapping[str, Any]],
    systematics: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Per source the data and MC histograms it is measured on: the nominal ones, or for
    a source with a tag-selection key its ``"variations"`` histograms (else an error)."""
    histograms = {}
    for name, overrides in systematics.items():
        if not SELECTION_KEYS & set(overrides):
            histograms[name] = {kind: outputs_by_kind[kind]["histogram"] for kind in SAMPLES}
            continue
        histograms[name] = {}
        for kind in SAMPLES:
            found = outputs_by_kind[kind].get("variations") or {}
            if name not in found:
                keys = ", ".join(sorted(SELECTION_KEYS & set(overrides)))
                raise ValueError(
                    f"systematic {name!r} changes the tag selection ({keys}) but the {kind} "
                    f"output has no variation histogram {name!r} (has "
                    f"{sorted(found) or 'none'}): fill the histograms with this "
                    "configuration's TagAndProbeProcessor"
                )
            histograms[name][kind] = found[name]
    return histograms


def _analyse_id(
    probe_id: str,
    samples: Mapping[str, Any],
    config: TnPConfig,
    options: Mapping[str, Any],
    variations: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[IdResult, list[str]]:
    """The efficiencies, fits and SFs of one ID, and its warnings.

    ``options``: the keywords of :func:`measure`; its ``"interval"`` is also that of the
    truth efficiency. ``variations``: per systematic source its data and MC histograms
    (:func:`_variation_histograms`); None or empty: no systematics.
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
    varied: dict[str, ScaleFactors] = {}
    if "data" in samples and "mc" in samples:
        factors = scale_factors(efficiencies["data"], efficiencies["mc"], probe_id)
        if variations:
            factors, varied, found, lines = _systematics(
                probe_id, factors, variations, config.systematics, options
            )
            efficiencies.update(found)
            warnings += lines
    return IdResult(probe_id, efficiencies, fits, factors, varied), warnings


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
        window and sidebands (counting, truth efficiency), its truth field and its
        systematic sources (``config.systematics``; :mod:`egamma_cnn.tnp.systematics`).
        A source with a tag-selection key is measured on the ``"variations"`` histogram
        of that name in the outputs of data and of simulation.
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
        for its flagged bins, per ID and source for the bins whose variation gave no SF,
        and one line when systematics are configured but not measured (one sample only).

    Raises
    ------
    ValueError
        Outputs of unknown kinds; a systematic source the method cannot apply
        (:func:`~egamma_cnn.tnp.systematics.check_systematics`); a tag-selection source
        without its variation histograms in data and simulation.
    """
    config = config or TnPConfig()
    unknown = set(outputs_by_kind) - set(SAMPLES)
    if unknown or not outputs_by_kind:
        raise ValueError(
            "outputs_by_kind must hold the outputs of 'data' and/or 'mc', got "
            f"{sorted(outputs_by_kind) or 'none'}"
        )
    samples = {kind: output["histogram"] for kind, output in outputs_by_kind.items()}
    systematics = config.systematics
    check_systematics(
        systematics,
        config.mass_range,
        method,
        signal_window=config.signal_window,
        sidebands=config.sidebands,
    )
    variations = None
    warnings: list[str] = []
    if systematics and set(samples) == set(SAMPLES):
        variations = _variation_histograms(outputs_by_kind, systematics)
    elif systematics:
        warnings.append(
            f"systematics {', '.join(systematics)} not measured: they vary scale factors, "
            "which need data and MC"
        )
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
    for probe_id in config.probe_id:
        ids[probe_id], found = _analyse_id(probe_id, samples, config, options, variations)
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
