"""The processor of ``examples/cnn_processor.py`` on a dask LocalCluster over a fileset.

    python examples/dask_fileset.py [--out-dir DIR] [--workers 2]

The fileset is the two small files shipped with the tests (simulation and data-like);
point it at your own files the same way. coffea's dataset tools split the files into
steps, build one lazy task graph with ``apply_to_fileset`` and the cluster computes it:
every worker opens the ONNX models itself (they are never pickled into the graph). A
file that cannot be read is reported by name and left out (``skip_bad_files``), never
dropped silently. Writes the CNN-tight electron p_T of both datasets to
``DIR/cnn_tight_pt.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dask
from cnn_processor import TightElectronProcessor  # the same class as the eager example
from coffea.dataset_tools import apply_to_fileset, preprocess
from dask.distributed import Client, LocalCluster

from egamma_cnn.nanoevents import EGammaSchema

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("egamma-cnn-example"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    fileset = {
        "zee_mc": {"files": {str(DATA / "zee_mc.root"): "Events"}},
        "zee_datalike": {"files": {str(DATA / "zee_datalike.root"): "Events"}},
    }
    with LocalCluster(n_workers=args.workers, threads_per_worker=1) as cluster, Client(cluster):
        runnable, _updated = preprocess(fileset, step_size=15, skip_bad_files=True)
        for name in fileset:
            missing = set(fileset[name]["files"]) - set(runnable.get(name, {}).get("files", {}))
            for path in sorted(missing):
                print(f"skipped unreadable file {path} of {name}")
        graph = apply_to_fileset(TightElectronProcessor(), runnable, schemaclass=EGammaSchema)
        (out,) = dask.compute(graph)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    fig, ax = plt.subplots(figsize=(7, 5))
    for dataset, result in out.items():
        numbers = result[dataset]
        print(
            f"{dataset}: {numbers['events']} events, {numbers['electrons']} electrons, "
            f"{numbers['tight']} pass CNN tight"
        )
        mplhep.histplot(numbers["pt"], ax=ax, label=f"{dataset} ({numbers['tight']} tight)")
    ax.set_ylabel("Electrons / 3 GeV")
    ax.legend()
    path = args.out_dir / "cnn_tight_pt.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
