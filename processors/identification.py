"""The identification summary processor: CNN scores per truth class, on dask or eagerly.

:class:`IdentificationSummary` histograms, per dataset, the electron CNN score per truth
class (simulation; ``-1`` for data) and CNN-tight decision, and the photon CNN score per
prompt/non-prompt truth and CNN-tight decision: the scoring step of ``egamma-cnn demo``
(:func:`egamma_cnn.workflows.run_identification`), and the smallest example of a
processor that reads ``events.Electron.cnn_score``.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist.dask as hda
from coffea import processor

from egamma_cnn.model.discriminant import ELECTRON_CLASS_NAMES

__all__ = ["NO_TRUTH", "IdentificationSummary"]

#: Truth-class axis value of candidates without truth (data): -1.
NO_TRUTH = -1


class IdentificationSummary(processor.ProcessorABC):
    """Electron CNN score × truth class × tight, and the photon CNN score, per dataset."""

    def process(self, events: Any) -> dict[str, Any]:
        electrons = events.Electron
        if "truthClass" in electrons.fields:
            truth = electrons.truthClass
        else:
            truth = ak.values_astype(electrons.pt * 0, "int8") + NO_TRUTH
        electron_hist = (
            hda.Hist.new.Reg(50, 0, 1, name="score", label="electron CNN score")
            .IntCategory([NO_TRUTH, *range(len(ELECTRON_CLASS_NAMES))], name="truth")
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
            prompt = ak.values_astype(photons.pt * 0, "int8") + NO_TRUTH
        photon_hist = (
            hda.Hist.new.Reg(50, 0, 1, name="score", label="photon CNN score")
            .IntCategory([NO_TRUTH, 0, 1], name="prompt")
            .Boolean(name="tight")
            .Double()
        )
        photon_hist.fill(
            score=ak.flatten(photons.cnn_score),
            prompt=ak.flatten(prompt),
            tight=ak.flatten(photons.cnn_tight),
        )
        dataset = events.metadata.get("dataset", "sample") if events.metadata else "sample"
        return {
            dataset: {
                "events": ak.num(events, axis=0),
                "electron": electron_hist,
                "photon": photon_hist,
            }
        }

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
