"""Build the CNN inputs and the physics features of a sample file, eagerly and on dask.

python examples/images_and_features.py tests/data/zee_mc.root
"""

from __future__ import annotations

import sys

import awkward as ak
import numpy as np

from egamma_cnn.features import ELECTRON_HLV_NAMES, electron_features
from egamma_cnn.geometry import sampling_name
from egamma_cnn.images import COARSE_SAMPLINGS, electron_images, track_arrays
from egamma_cnn.nanoevents import open_events


def main(path: str) -> None:
    events = open_events(path)
    images = electron_images(events.CaloCell, events.Electron)
    print("coarse images:", images.coarse.type)
    mean = ak.to_numpy(ak.flatten(images.coarse, axis=1)).sum(axis=(2, 3)).mean(axis=0)
    for sampling, energy in zip(COARSE_SAMPLINGS, mean, strict=True):
        if energy:
            print(f"  {sampling_name(sampling):12s} mean energy in the window {energy:7.2f} GeV")
    print("track arrays:", track_arrays(events.Track, events.Electron).type)

    features = electron_features(events)
    events["Electron", "reta"] = features.reta  # a plain column on the candidates
    hlv = np.stack([ak.to_numpy(ak.flatten(features[n])) for n in ELECTRON_HLV_NAMES], axis=1)
    print(f"26 HLVs of {len(hlv)} electrons; median R_eta {np.median(hlv[:, 5]):.3f}")

    lazy = open_events(path, mode="dask")
    lazy_features = electron_features(lazy)  # nothing is read until compute()
    same = ak.all(lazy_features.compute().reta == features.reta, axis=None)
    print("dask result equals the eager one:", bool(same))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/zee_mc.root")
