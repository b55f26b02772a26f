"""Training time per epoch and inference throughput of the identification models.

Measures, in one run:

* **training** — seconds per epoch-equivalent of 100 000 candidates for each network
  (the shipped electron CNN, the ATL-PHYS-PUB-2023-001 Table 6 preset, the HLV-only FCN, the photon
  CNN, a Collado et al., PRD 103, 116028 feature network): forward, backward and Adam step on
  batches of 256
  random inputs of the right shapes, with ``--threads`` torch threads; the ratio to the
  shipped CNN is the figure to compare across machines;
* **inference** — candidates per second on one core (onnxruntime with one intra-op
  thread) of each shipped ONNX model through :class:`egamma_cnn.model.OnnxModel`, for a
  sweep of batch sizes, and for reference in the same run the time to *build* the
  electron inputs of the same candidates from a sample file (images, tracks, features),
  so that the inference cost reads as a fraction of the input cost.

Run::

    python benchmarks/bench_models.py tests/data/zee_mc.root --threads 2

and paste the printed tables into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import awkward as ak
import numpy as np
from timing import best_time

from egamma_cnn.features import ELECTRON_HLV_NAMES, electron_features
from egamma_cnn.images import electron_image_batch, photon_image_batch, track_array_batch
from egamma_cnn.model.onnx_model import load_model
from egamma_cnn.nanoevents import open_events


def training_table(threads: int, steps: int) -> list[tuple[str, int, float]]:
    import torch  # the train extra: --skip-training runs the inference tables without it

    from egamma_cnn.train.networks import (
        CPU_DEFAULT,
        TABLE6,
        ElectronCNN,
        ElectronNetConfig,
        FeatureNet,
        PhotonCNN,
    )

    torch.set_num_threads(threads)
    batch = 256
    electron = {
        "coarse": torch.rand(batch, 18, 7, 11),
        "fine": torch.rand(batch, 1, 56, 11),
        "tracks": torch.rand(batch, 5, 13),
        "hlv": torch.randn(batch, 26),
    }
    photon = {
        "strips": torch.rand(batch, 56, 3),
        "middle": torch.rand(batch, 7, 11),
        "back": torch.rand(batch, 4, 11),
    }
    nets = {
        "electron CNN (shipped default)": (ElectronCNN(CPU_DEFAULT), electron, 6),
        "electron CNN (Table 6 preset)": (ElectronCNN(TABLE6), electron, 6),
        "electron FCN (26 HLV)": (
            ElectronCNN(ElectronNetConfig(use_images=False, use_tracks=False)),
            {"hlv": electron["hlv"]},
            6,
        ),
        "photon CNN": (PhotonCNN(), photon, 2),
        "Collado et al. network (10 features)": (
            FeatureNet(10),
            {"features": torch.randn(batch, 10)},
            2,
        ),
    }
    rows = []
    for name, (model, inputs, n_classes) in nets.items():
        optimizer = torch.optim.Adam(model.parameters())
        labels = torch.randint(0, n_classes, (batch,))

        def step(model=model, inputs=inputs, optimizer=optimizer, labels=labels):
            loss = torch.nn.functional.cross_entropy(model.logits(**inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        for _ in range(3):
            step()
        seconds = best_time(lambda step=step: [step() for _ in range(steps)], 3) / (steps * batch)
        n_params = sum(p.numel() for p in model.parameters())
        rows.append((name, n_params, seconds * 100_000))
    return rows


def inference_table(path: str, repeat: int) -> tuple[list, dict]:
    events = open_events(path)
    electrons, photons = events.Electron, events.Photon

    def build():
        images = electron_image_batch(events.CaloCell, electrons)
        tracks = track_array_batch(events.Track, electrons)
        features = electron_features(events)
        return images, tracks, features

    build()
    n_electrons = int(sum(len(e) for e in electrons.clusterE))
    build_seconds = best_time(build, repeat) / n_electrons
    images, tracks, features = build()
    flat = ak.flatten(features)
    hlv = np.stack([ak.to_numpy(flat[n]) for n in ELECTRON_HLV_NAMES], axis=1)
    electron_inputs = {**images, "tracks": tracks, "hlv": hlv}
    photon_inputs = photon_image_batch(events.CaloCell, photons)
    rows = []
    for name, inputs in (
        ("electron", electron_inputs),
        ("electron_fcn", {"hlv": hlv}),
        ("photon", photon_inputs),
    ):
        n = len(next(iter(inputs.values())))
        # tile to a few thousand candidates so that the largest batch is filled
        reps = max(1, 4096 // max(n, 1))
        tiled = {k: np.concatenate([v] * reps) for k, v in inputs.items()}
        for batch_size in (1, 16, 256, 1024, 4096):
            model = load_model(name, batch_size=batch_size, intra_op_threads=1)
            model.predict({k: v[:batch_size] for k, v in tiled.items()})
            subset = tiled if batch_size > 16 else {k: v[:512] for k, v in tiled.items()}
            count = len(next(iter(subset.values())))
            seconds = best_time(lambda m=model, s=subset: m.predict(s), repeat) / count
            rows.append((name, batch_size, 1.0 / seconds, seconds / build_seconds))
    return rows, {"n_electrons": n_electrons, "build_seconds": build_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sample", help="an egamma-cnn MC or data-like file")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training")
    parser.add_argument("--steps", type=int, default=10, help="training steps per timing")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    print(
        f"## Models — {datetime.date.today()} — {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} cores)\n"
    )
    if not args.skip_training:
        rows = training_table(args.threads, args.steps)
        reference = rows[0][2]
        print(f"Training, {args.threads} torch threads, batches of 256, random inputs:\n")
        print("| network | parameters | s per 100k candidates | / shipped CNN |")
        print("|---|---|---|---|")
        for name, n_params, seconds in rows:
            print(f"| {name} | {n_params:,} | {seconds:.1f} | {seconds / reference:.2f} |")
        print()
    rows, info = inference_table(args.sample, args.repeat)
    print(
        f"Inference on one core (onnxruntime, 1 thread) of {args.sample}'s candidates; "
        f"building the electron inputs (images + tracks + all features) costs "
        f"{info['build_seconds'] * 1e3:.3f} ms per electron here "
        f"({info['n_electrons']} electrons):\n"
    )
    print("| model | batch size | candidates/s/core | inference / input building |")
    print("|---|---|---|---|")
    for name, batch_size, rate, ratio in rows:
        print(f"| {name} | {batch_size} | {rate:,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
