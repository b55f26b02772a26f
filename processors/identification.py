"""The identification summary processor: CNN scores per truth class, on dask or eagerly.

:class:`IdentificationSummary` histograms, per dataset, the electron CNN score per truth
class (simulation; :data:`~egamma_cnn.tnp.pairs.TRUTH_NONE`, −1, for data) and CNN-tight
decision, and the photon CNN score per prompt/non-prompt truth and CNN-tight decision:
the scoring step of ``egamma-cnn demo`` (:func:`egamma_cnn.workflows.run_identification`),
and the smallest example of a processor that reads ``events.Electron.cnn_score``. The
histograms are ``hist.Hist`` on eager NanoEvents and ``hist.dask`` ones on dask-awkward
NanoEvents (:func:`egamma_cnn.processors.common.histogram_factory`).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
from coffea import processor

from egamma_cnn.model.discriminant import ELECTRON_CLASS_NAMES
from egamma_cnn.processors.common import dataset_name, histogram_factory, is_lazy
from egamma_cnn.tnp.pairs import TRUTH_NONE

__all__ = ["IdentificationSummary"]


class IdentificationSummary(processor.ProcessorABC):
    """Electron CNN score × truth class × tight, and the photon CNN score, per dataset."""

    def process(self, events: Any) -> dict[str, Any]:
        """The score histograms of one chunk of ``events`` (eager or dask-awkward).

        Returns
        -------
        dict
            ``{dataset: {"events": n, "electron": hist, "photon": hist}}``: the electron
            CNN score × truth class (``truthClass``, or −1 without truth) × ``cnn_tight``,
            and the photon CNN score × prompt (``isPrompt`` as 1/0, or −1) ×
            ``cnn_tight``; 50 score bins in [0, 1].
        """
        factory = histogram_factory(is_lazy(events))
        electrons = events.Electron
        if "truthClass" in electrons.fields:
            truth = electrons.truthClass
        else:
            truth = ak.values_astype(electrons.pt * 0, "int8") + TRUTH_NONE
        electron_hist = (
            factory.Reg(50, 0, 1, name="score", label="electron CNN score")
            .IntCategory([TRUTH_NONE, *range(len(ELECTRON_CLASS_NAMES))], name="truth")
            .Boolean(name="tight")
            .Double()
        )
        electron_hist.fill(
            score=ak.flatten(electrons.cnn_score),
            truth=ak.flatten(truth),
            tight=ak.flatten(electrons.cnn_tight),
        )
        photons = events.Photon
        if "isPrompt" in photons.fields:
            prompt = ak.values_astype(photons.isPrompt, "int8")
        else:
            prompt = ak.values_astype(photons.pt * 0, "int8") + TRUTH_NONE
        photon_hist = (
            factory.Reg(50, 0, 1, name="score", label="photon CNN score")
            .IntCategory([TRUTH_NONE, 0, 1], name="prompt")
            .Boolean(name="tight")
            .Double()
        )
        photon_hist.fill(
            score=ak.flatten(photons.cnn_score),
            prompt=ak.flatten(prompt),
            tight=ak.flatten(photons.cnn_tight),
        )
        return {
            dataset_name(events): {
                "events": ak.num(events, axis=0),
                "electron": electron_hist,
                "photon": photon_hist,
            }
        }

    def postprocess(self, accumulator: Any) -> Any:
        """The accumulated outputs as they are (nothing to finish)."""
        return accumulator
