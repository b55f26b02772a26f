"""A minimal coffea processor that selects CNN-tight electrons and fills histograms.

    python examples/cnn_processor.py [sample.root]

``TightElectronProcessor`` works on eager NanoEvents (this script, one file) and on
dask-awkward ones (``examples/dask_fileset.py`` runs the same class on a LocalCluster):
it asks for ``events.Electron.cnn_tight`` and ``events.Electron.cnn_score`` like any
other column, and the package's schema computes them from the cells and tracks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import awkward as ak
import hist
from coffea import processor

from egamma_cnn.nanoevents import open_events

DEFAULT_SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "zee_mc.root"


def _is_lazy(array) -> bool:
    try:
        import dask_awkward as dak
    except ImportError:  # pragma: no cover
        return False
    return isinstance(array, dak.Array)


class TightElectronProcessor(processor.ProcessorABC):
    """Electron p_T of CNN-tight electrons and the CNN score of all electrons."""

    def process(self, events):
        lazy = _is_lazy(events)
        if lazy:
            import hist.dask as hda

            Hist = hda.Hist
        else:
            Hist = hist.Hist
        electrons = events.Electron
        tight = electrons[electrons.cnn_tight]

        pt = Hist.new.Reg(30, 0, 90, name="pt", label=r"CNN-tight electron $p_T$ [GeV]").Double()
        pt.fill(pt=ak.flatten(tight.pt))
        score = Hist.new.Reg(50, 0, 1, name="score", label="electron CNN score").Double()
        score.fill(score=ak.flatten(electrons.cnn_score))

        dataset = events.metadata.get("dataset", "sample") if events.metadata else "sample"
        return {
            dataset: {
                "events": ak.num(events, axis=0),
                "electrons": ak.sum(ak.num(electrons, axis=1)),
                "tight": ak.sum(ak.num(tight, axis=1)),
                "pt": pt,
                "score": score,
            }
        }

    def postprocess(self, accumulator):
        return accumulator


def main(path: str) -> None:
    events = open_events(path)
    out = TightElectronProcessor().process(events)
    for dataset, result in out.items():
        print(
            f"{dataset}: {result['events']} events, {result['electrons']} electrons, "
            f"{result['tight']} pass CNN tight"
        )
        print(result["pt"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT_SAMPLE))
