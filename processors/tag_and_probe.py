"""The Z→ee tag-and-probe processor: pass/fail m_ee histograms of any electron ID.

``TagAndProbeProcessor(config)`` is a coffea ``ProcessorABC``: ``process(events)`` on
eager NanoEvents or dask-awkward ones (``coffea.dataset_tools.apply_to_fileset``) returns
per dataset one histogram (``hist``; ``hist.dask`` in dask mode) with the axes

* ``id`` — the probe IDs under test (``config.probe_id``),
* ``passing`` — the probe passes that ID,
* ``mass`` — m_ee of the tag–probe pair,
* ``et``, ``eta`` — the probe's E_T and η (``config.et_edges``, ``config.eta_edges``),
* ``opposite`` — True for opposite-charge pairs (the efficiency sample), False for
  same-charge ones (kept for charge-flip studies),
* ``truth`` — 1 true electron probe, 0 not, -1 no truth (data),

plus the number of events and of pairs. :func:`egamma_cnn.tnp.analysis.analyse` turns
the histograms of data and simulation into background-subtracted efficiencies and scale
factors (:mod:`egamma_cnn.tnp.efficiency`, :mod:`egamma_cnn.tnp.scale_factors`). The
pair selection is :func:`egamma_cnn.tnp.pairs.tag_probe_pairs`; every field it reads is
configuration (:class:`egamma_cnn.tnp.TnPConfig`), so the processor also runs on
standard CMS NanoAOD with ``TnPConfig.cms_nanoaod()``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import awkward as ak
import numpy as np
from coffea import processor

from egamma_cnn.processors.common import (
    check_declared_kind,
    dataset_name,
    histogram_factory,
    is_lazy,
    pair_weights,
)
from egamma_cnn.tnp.config import TnPConfig
from egamma_cnn.tnp.pairs import TRUTH_NONE, tag_probe_pairs
from egamma_cnn.tnp.systematics import SELECTION_KEYS

__all__ = ["TagAndProbeProcessor", "empty_histogram"]


def empty_histogram(config: TnPConfig, lazy: bool = False) -> Any:
    """The pass/fail m_ee histogram of :class:`TagAndProbeProcessor`, empty."""
    factory = histogram_factory(lazy)
    low, high = config.mass_range
    return (
        factory.StrCategory(list(config.probe_id), name="id", label="probe ID")
        .Boolean(name="passing", label="probe passes the ID")
        .Reg(config.mass_bins, low, high, name="mass", label=r"$m_{ee}$ [GeV]")
        .Variable(list(config.et_edges), name="et", label=config.probe_et_label)
        .Variable(list(config.eta_edges), name="eta", label=config.probe_eta_label)
        .Boolean(name="opposite", label="opposite-charge tag and probe")
        .IntCategory([TRUTH_NONE, 0, 1], name="truth", label="probe is a true electron")
        .Weight()
    )


class TagAndProbeProcessor(processor.ProcessorABC):
    """Pass/fail m_ee histograms of the probe IDs in probe E_T × η bins (module docstring).

    Parameters
    ----------
    config : TnPConfig, optional
        Selections, IDs, binning and field names (default: egamma-cnn files, the CNN
        working points as probe IDs, CNN tight tags).
    weight : str or None, optional
        Event weight column, used where the files have it (default: the configuration's
        ``weight``, ``genWeight``); None: ``config.weight``.
    """

    def __init__(self, config: TnPConfig | None = None, weight: str | None = None):
        self.config = config or TnPConfig()
        if weight is not None:
            self.config = replace(self.config, weight=weight)
        self.weight = self.config.weight

    def process(self, events: Any) -> dict[str, Any]:
        """The pass/fail m_ee histogram of the tag–probe pairs of one chunk of ``events``.

        Eager or dask-awkward events (``hist`` or ``hist.dask`` histogram).

        Returns
        -------
        dict
            ``{dataset: {"events": n, "pairs": n, "histogram": hist}}`` (module
            docstring), every pair weighted by its event's ``weight`` column; with
            systematic sources that change the tag selection (``tag_id``,
            ``tag_min_pt``), ``"variations": {source: hist}``, the histogram of the pairs
            of that tag selection.
        """
        config = self.config
        lazy = is_lazy(events)
        rows = config.input_format == "pairs"
        check_declared_kind(events, None if rows else config.probe_collection, config.truth)
        try:
            pairs = tag_probe_pairs(events, config)
        except ValueError as err:
            raise ValueError(_with_preset(str(err), config)) from None
        histogram, count = self._histogram(events, pairs, lazy)
        output: dict[str, Any] = {
            "events": ak.num(events, axis=0),
            "pairs": count,
            "histogram": histogram,
        }
        variations = {}
        for source, overrides in config.systematics.items():
            changes = {key: overrides[key] for key in SELECTION_KEYS if key in overrides}
            if changes:
                varied = tag_probe_pairs(events, replace(config, **changes))
                variations[source] = self._histogram(events, varied, lazy)[0]
        if variations:
            output["variations"] = variations
        return {dataset_name(events): output}

    def _histogram(self, events: Any, pairs: Any, lazy: bool) -> tuple[Any, Any]:
        """The pass/fail histogram of ``pairs`` and their number."""
        config = self.config
        if config.input_format == "pairs":
            flat = pairs  # one pair per row that passes, with its row's weight
            weight = flat["weight"] if "weight" in flat.fields else None
        else:
            weight = pair_weights(events, self.weight, pairs)
            flat = ak.flatten(pairs)
        et = flat.probe_et
        if config.open_last_et_bin:  # the last E_T bin takes every probe above its edge
            et = np.minimum(et, np.nextafter(config.et_edges[-1], -np.inf))
        histogram = empty_histogram(config, lazy)
        for k, name in enumerate(config.probe_id):
            histogram.fill(
                id=name,
                passing=flat[f"pass_{k}"],
                mass=flat.mass,
                et=et,
                eta=flat.probe_eta,
                opposite=flat.opposite,
                truth=flat.truth,
                weight=weight,
            )
        return histogram, ak.num(flat, axis=0)

    def postprocess(self, accumulator: Any) -> Any:
        """The accumulated outputs as they are (nothing to finish)."""
        return accumulator


def _with_preset(message: str, config: TnPConfig) -> str:
    """A missing column's message, with the preset the configuration came from: the usual
    cause is a configuration of another input format."""
    if "is not a column of" not in message and "_field '" not in message:
        return message
    return (
        f"{message}; the configuration is the {config.preset!r} preset (--preset, --nanoaod "
        'or "preset" in --config choose the input format)'
    )
