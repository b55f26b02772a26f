"""Mean calorimeter images per truth class, as in ATL-PHYS-PUB-2023-001 Fig. 1 (|η| < 1.3).

    python examples/plot_mean_images.py zee.root jf17.root --out mean_images.png

Classes with fewer than 20 candidates are left out. Each panel is the mean over
candidates of one layer's 7 × 11 coarse image (fine image for the strips) divided by the
candidate's cluster energy, in %.
"""

from __future__ import annotations

import argparse

import awkward as ak
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from egamma_cnn.images import COARSE_SAMPLINGS, electron_images
from egamma_cnn.nanoevents import open_events

CLASSES = {0: "prompt e", 2: "γ conversion", 4: "LF e/γ", 5: "LF hadron"}
LAYERS = [("EMB1 (fine)", None), ("PreSamplerB", 0), ("EMB2", 2), ("EMB3", 3), ("TileBar0", 12)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", default="mean_images.png")
    args = parser.parse_args()
    coarse, fine, classes = [], [], []
    for path in args.files:
        events = open_events(path)
        electrons = events.Electron
        images = electron_images(events.CaloCell, electrons)
        keep = ak.flatten(np.abs(electrons.clusterEta) < 1.3)
        energy = ak.to_numpy(ak.flatten(electrons.clusterE))[keep][:, None, None, None]
        coarse.append(ak.to_numpy(ak.flatten(images.coarse, axis=1))[keep] / energy * 100)
        fine.append(ak.to_numpy(ak.flatten(images.fine, axis=1))[keep] / energy * 100)
        classes.append(ak.to_numpy(ak.flatten(electrons.truthClass))[keep])
    coarse, fine, classes = np.concatenate(coarse), np.concatenate(fine), np.concatenate(classes)
    shown_classes = {c: name for c, name in CLASSES.items() if (classes == c).sum() >= 20}
    rows, cols = len(shown_classes), len(LAYERS)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows), squeeze=False)
    for row, (truth, label) in enumerate(shown_classes.items()):
        selected = classes == truth
        for col, (name, sampling) in enumerate(LAYERS):
            ax = axes[row, col]
            if sampling is None:
                mean = fine[selected, 0].mean(axis=0)
                extent = (-5.5, 5.5, -3.5, 3.5)
            else:
                mean = coarse[selected, COARSE_SAMPLINGS.index(sampling)].mean(axis=0)
                extent = (-5.5, 5.5, -3.5, 3.5)
            shown = ax.imshow(mean, origin="lower", aspect="auto", extent=extent, cmap="viridis")
            fig.colorbar(shown, ax=ax, label="⟨E/E_cluster⟩ [%]")
            ax.set_title(f"{label} ({selected.sum()}): {name}", fontsize=9)
            ax.set_xlabel("φ [middle cells]")
            ax.set_ylabel("η [middle cells]")
    fig.suptitle("Mean electron-candidate images, |η| < 1.3 (cf. ATL-PHYS-PUB-2023-001 Fig. 1)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
