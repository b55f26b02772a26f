"""Data/MC shower-shape processor: distributions and moments of tag-and-probe probes.

``DataMCProcessor(config)`` selects probe electrons with the tag-and-probe selection of
:func:`egamma_cnn.tnp.pairs.tag_probe_pairs` (no second implementation): opposite-charge
pairs with m_ee inside ``mass_window`` (default 80–100 GeV, where the Z→ee purity is
high), every probe once per pair. For every variable of ``variables`` (the shower shapes
of :mod:`egamma_cnn.features`, the CNN score, any electron column) it fills

* ``distributions[variable]`` — a histogram over the variable's range × probe E_T × η;
* ``moments[variable]`` — the weighted count Σw, mean and variance of the variable per
  probe (E_T, η) bin, from the values themselves, not from their binned distribution:
  a histogram with boost-histogram's ``WeightedMean`` storage (:func:`moments_histogram`),
  whose accumulator per bin holds Σw, Σw², the mean μ = Σw v / Σw and
  Σw (v − μ)² (updated one value at a time, Welford's way);
* ``identification`` — the weighted probes passing and failing each ID of ``ids`` (the
  likelihood and CNN working points by default) per probe (E_T, η) bin: the ID
  efficiencies of the Z-window probes, which fudging changes on simulation
  (:func:`egamma_cnn.workflows.run_datamc` runs it a second time on fudged MC); no
  such histogram without IDs (``ids=()``).

Eager or on dask (``hist.dask``). The analysis of the outputs — fudge factors,
statistical distances, Gaussian-fit parameters, plots — is :mod:`egamma_cnn.datamc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import awkward as ak
import dask_histogram
import hist
from coffea import processor

from egamma_cnn.processors.common import (
    check_declared_kind,
    dataset_name,
    histogram_factory,
    is_lazy,
    pair_weights,
)
from egamma_cnn.tnp.config import IdSpec, TnPConfig
from egamma_cnn.tnp.pairs import tag_probe_pairs

__all__ = ["DEFAULT_IDS", "DEFAULT_VARIABLES", "DataMCProcessor", "moments_histogram"]

#: IDs whose probe efficiencies are counted: the likelihood and the CNN working points.
DEFAULT_IDS: tuple[str, ...] = (
    "llh_loose",
    "llh_medium",
    "llh_tight",
    "cnn_loose",
    "cnn_medium",
    "cnn_tight",
)

#: Variables and their histogram ranges (bins, low, high) — probe electrons of Z→ee.
DEFAULT_VARIABLES: dict[str, tuple[int, float, float]] = {
    "reta": (60, 0.85, 1.0),
    "rphi": (60, 0.80, 1.0),
    "weta2": (60, 0.006, 0.016),
    "f1": (60, 0.0, 0.7),
    "f3": (60, -0.01, 0.05),
    "rhad": (60, -0.02, 0.06),
    "eratio": (60, 0.5, 1.0),
    "wstot": (60, 0.0, 4.0),
    "ws3": (60, 0.3, 0.8),
    "fside": (60, 0.0, 0.6),
    "cnn_score": (50, 0.0, 1.0),
}


class DataMCProcessor(processor.ProcessorABC):
    """Distributions and weighted means and variances of probe variables (module docstring).

    Parameters
    ----------
    config : TnPConfig, optional
        The tag-and-probe selection and the probe binning (``et_edges``, ``eta_edges``).
    variables : mapping of str to (bins, low, high), optional
        The variables and their histogram ranges (default :data:`DEFAULT_VARIABLES`).
    mass_window : tuple of float
        m_ee range of the probes (GeV).
    weight : str or None
        Event weight field (``genWeight`` when present).
    ids : sequence of str
        ID specifications (a boolean column, or ``"column <op> number"``) whose probe
        efficiencies are counted (default :data:`DEFAULT_IDS`; ``()`` for none).
    """

    def __init__(
        self,
        config: TnPConfig | None = None,
        variables: dict[str, tuple[int, float, float]] | None = None,
        mass_window: tuple[float, float] = (80.0, 100.0),
        weight: str | None = "genWeight",
        ids: tuple[str, ...] | list[str] = DEFAULT_IDS,
    ) -> None:
        self.config = config or TnPConfig()
        self.ids = tuple(str(IdSpec.parse(text)) for text in ids)
        self.variables = dict(variables or DEFAULT_VARIABLES)
        self.mass_window = mass_window
        self.weight = weight

    def process(self, events: Any) -> dict[str, Any]:
        """The histograms of the probes of one chunk of ``events`` (eager or dask-awkward).

        Returns
        -------
        dict
            ``{dataset: {"events": n, "probes": n, "distributions": {variable: hist},
            "moments": {variable: hist}, "identification": hist}}`` (module docstring;
            no ``identification`` without IDs). ``moments`` computes to a
            ``boost_histogram.Histogram`` on dask (:func:`moments_histogram`).
        """
        config = self.config
        lazy = is_lazy(events)
        check_declared_kind(events, config.electrons, config.truth)
        pairs = tag_probe_pairs(events, config)
        low, high = self.mass_window
        pairs = pairs[pairs.opposite & (pairs.mass > low) & (pairs.mass < high)]
        probes = events[config.electrons][pairs.probe_index]
        flat = ak.flatten(pairs)
        weight = pair_weights(events, self.weight, pairs)
        if weight is None:  # the moments' fill needs explicit unit weights
            weight = ak.values_astype(flat.mass * 0 + 1, "float64")
        et, eta = flat.probe_et, flat.probe_eta
        distributions, moments = {}, {}
        for name, (bins, lo, hi) in self.variables.items():
            try:
                values = ak.flatten(getattr(probes, name))
            except AttributeError:
                raise ValueError(
                    f"the electrons have no column {name!r} to compare (fields: "
                    f"{', '.join(probes.fields)})"
                ) from None
            values = ak.values_astype(values, "float64")
            histogram = (
                histogram_factory(lazy)
                .Reg(bins, lo, hi, name="value", label=name)
                .Variable(list(config.et_edges), name="et", label=r"probe $E_T$ [GeV]")
                .Variable(list(config.eta_edges), name="eta", label=r"probe $\eta$")
                .Weight()
            )
            histogram.fill(value=values, et=et, eta=eta, weight=weight)
            distributions[name] = histogram
            moments[name] = moments_histogram(
                config.et_edges, config.eta_edges, et, eta, values, weight
            )
        output = {
            "events": ak.num(events, axis=0),
            "probes": ak.num(flat, axis=0),
            "distributions": distributions,
            "moments": moments,
        }
        if not self.ids:  # a histogram never filled fails on a distributed cluster
            return {dataset_name(events): output}
        identification = (
            histogram_factory(lazy)
            .StrCategory(list(self.ids), name="id")
            .Boolean(name="passing")
            .Variable(list(config.et_edges), name="et", label=r"probe $E_T$ [GeV]")
            .Variable(list(config.eta_edges), name="eta", label=r"probe $\eta$")
            .Weight()
        )
        for text in self.ids:
            passing = ak.flatten(IdSpec.parse(text).evaluate(probes))
            identification.fill(id=text, passing=passing, et=et, eta=eta, weight=weight)
        return {dataset_name(events): {**output, "identification": identification}}

    def postprocess(self, accumulator: Any) -> Any:
        """The accumulated outputs as they are (nothing to finish)."""
        return accumulator


def moments_histogram(
    et_edges: Sequence[float],
    eta_edges: Sequence[float],
    et: Any,
    eta: Any,
    values: Any,
    weight: Any,
) -> Any:
    """The weighted mean and variance of ``values`` per probe (E_T, η) bin.

    A histogram of probe E_T × η with ``WeightedMean`` storage, filled with the values
    as the sample and the event weights w. Per bin its view holds ``sum_of_weights``
    Σw, ``sum_of_weights_squared`` Σw², ``value`` the mean μ = Σw v / Σw and
    ``_sum_of_weighted_deltas_squared`` Σw (v − μ)²; the variance of the values is
    Σw (v − μ)² / Σw (:func:`egamma_cnn.datamc.analysis.moments`).

    Parameters
    ----------
    et_edges, eta_edges : sequence of float
        The probe binning.
    et, eta, values, weight : array
        Flat arrays of the probes: numpy or awkward (eager), dask-awkward (lazy).

    Returns
    -------
    hist.Hist or dask_histogram.AggHistogram
        Eagerly a filled ``hist.Hist``; lazily a dask collection that computes to a
        ``boost_histogram.Histogram`` with the same named axes and storage.
    """
    reference = (
        hist.Hist.new.Variable(list(et_edges), name="et", label=r"probe $E_T$ [GeV]")
        .Variable(list(eta_edges), name="eta", label=r"probe $\eta$")
        .WeightedMean()
    )
    if not is_lazy(values):
        return reference.fill(et=et, eta=eta, weight=weight, sample=values)
    # hist.dask's fill loses ``sample`` (dask-histogram 2026.2.0: its
    # Histogram._build_taskgraph drops the samples whenever one is given); the
    # dask-histogram factory fills the same storage partition by partition and adds
    # the partitions' accumulators.
    return dask_histogram.factory(et, eta, histref=reference, weights=weight, sample=values)
