"""Data/MC shower-shape processor: distributions and moments of tag-and-probe probes.

``DataMCProcessor(config)`` selects probe electrons with the tag-and-probe selection of
:func:`egamma_cnn.tnp.pairs.tag_probe_pairs` (no second implementation): opposite-charge
pairs with m_ee inside ``mass_window`` (default 80–100 GeV, where the Z→ee purity is
high), every probe once per pair. For every variable of ``variables`` (the shower shapes
of :mod:`egamma_cnn.features`, the CNN score, any electron column) it fills

* ``distributions[variable]`` — a histogram over the variable's range × probe E_T × η;
* ``moments`` — Σ1, Σv and Σv² per variable and probe (E_T, η) bin (exact sums, for the
  means and widths of the fudge factors, not binned approximations);
* ``identification`` — the weighted probes passing and failing each ID of ``ids`` (the
  likelihood and CNN working points by default) per probe (E_T, η) bin: the ID
  efficiencies of the Z-window probes, which fudging changes on simulation
  (:func:`egamma_cnn.workflows.run_datamc` runs it a second time on fudged MC).

Eager or on dask (``hist.dask``). The analysis of the outputs — fudge factors,
statistical distances, Gaussian-fit parameters, plots — is :mod:`egamma_cnn.datamc`.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
from coffea import processor

from egamma_cnn.processors.common import dataset_name, histogram_factory, is_lazy, pair_weights
from egamma_cnn.tnp.config import IdSpec, TnPConfig
from egamma_cnn.tnp.pairs import tag_probe_pairs

__all__ = ["DEFAULT_IDS", "DEFAULT_VARIABLES", "DataMCProcessor"]

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
    """Distributions and exact moments of probe variables (module docstring).

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
        config = self.config
        lazy = is_lazy(events)
        pairs = tag_probe_pairs(events, config)
        low, high = self.mass_window
        pairs = pairs[pairs.opposite & (pairs.mass > low) & (pairs.mass < high)]
        probes = events[config.electrons][pairs.probe_index]
        flat = ak.flatten(pairs)
        weight = pair_weights(events, self.weight, pairs)
        if weight is None:  # the moments need explicit unit weights
            weight = ak.values_astype(flat.mass * 0 + 1, "float64")
        et, eta = flat.probe_et, flat.probe_eta
        moments = (
            histogram_factory(lazy)
            .StrCategory(list(self.variables), name="variable")
            .StrCategory(["n", "sum", "sum2"], name="moment")
            .Variable(list(config.et_edges), name="et", label=r"probe $E_T$ [GeV]")
            .Variable(list(config.eta_edges), name="eta", label=r"probe $\eta$")
            .Double()
        )
        distributions = {}
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
            for moment, w in (
                ("n", weight),
                ("sum", weight * values),
                ("sum2", weight * values * values),
            ):
                moments.fill(variable=name, moment=moment, et=et, eta=eta, weight=w)
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
        dataset = dataset_name(events)
        return {
            dataset: {
                "events": ak.num(events, axis=0),
                "probes": ak.num(flat, axis=0),
                "distributions": distributions,
                "moments": moments,
                "identification": identification,
            }
        }

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
