"""Score the electrons of a sample file with the shipped CNN, eagerly, with onnxruntime.

    python examples/score_electrons.py tests/data/zee_mc.root

Prints, per truth class (MC files), the median CNN discriminant and the fraction passing
the Tight working point; and the class fractions of the file, as the arg-max shares of
ATL-PHYS-PUB-2023-001 §7 and as the EM estimate with the training priors taken out (the
better one here, see the model card). The NanoEvents columns
(``events.Electron.cnn_score``) build on this.
"""

from __future__ import annotations

import sys

import awkward as ak
import numpy as np

from egamma_cnn.features import electron_features
from egamma_cnn.images import electron_image_batch, track_array_batch
from egamma_cnn.model import (
    ELECTRON_CLASS_NAMES,
    discriminant,
    load_model,
    predict_class_fractions,
    prior_adjusted_class_fractions,
)
from egamma_cnn.nanoevents import open_events


def main(path: str) -> None:
    events = open_events(path)
    model = load_model("electron")
    inputs = electron_image_batch(events.CaloCell, events.Electron)  # coarse, fine
    inputs["tracks"] = track_array_batch(events.Track, events.Electron)
    features = ak.flatten(electron_features(events))
    names = model.metadata["hlv_names"]
    inputs["hlv"] = np.stack([ak.to_numpy(features[n]) for n in names], axis=1)
    probs = model.predict(inputs)
    score = discriminant(probs, model.metadata["discriminant"]["weights"])
    et, eta = ak.to_numpy(features.et), ak.to_numpy(features.eta)
    tight = model.working_points.passes("tight", score, et, eta)
    print(f"{model}\n{len(score)} electrons in {path}")
    if "truthClass" in events.Electron.fields:
        truth = ak.to_numpy(ak.flatten(events.Electron.truthClass))
        for k, name in enumerate(ELECTRON_CLASS_NAMES):
            chosen = truth == k
            if chosen.any():
                print(
                    f"  {name:14s} {chosen.sum():5d}  median score {np.median(score[chosen]):.3f}"
                    f"  tight {tight[chosen].mean():.2f}"
                )
    for label, fractions in (
        ("arg-max class fractions:", predict_class_fractions(probs)),
        (
            "prior-adjusted (EM) class fractions:",
            prior_adjusted_class_fractions(probs, model.training_priors),
        ),
    ):
        print(label, {k: round(v, 3) for k, v in fractions.items()})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/zee_mc.root")
