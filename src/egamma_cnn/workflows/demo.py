"""``egamma-cnn demo``: the README's main job on the embedded default, end to end.

:func:`run_demo` generates small samples with the shipped detector (Z→ee and JF17 at
⟨μ⟩ = 20, a data-like Z→ee at ⟨μ⟩ = 25), validates them, then on a ``distributed``
LocalCluster scores every candidate with the shipped CNNs and runs the three pre-built
studies over them: the tag-and-probe of the CNN working points, the data/MC comparison
with fudge factors, and the isolation study. Every step writes into its own folder of
``out_dir`` (``validation/``, ``identification/``, ``tnp/``, ``datamc/``,
``isolation/``); those of the workflows are each written as one run, closed by its
``manifest.json`` (:func:`egamma_cnn.runfolder.run_folder`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from egamma_cnn.execution.settings import check_local_workers
from egamma_cnn.sim.production import ProductionConfig, produce
from egamma_cnn.sim.validation import validate
from egamma_cnn.workflows.datamc import run_datamc
from egamma_cnn.workflows.identification import run_identification
from egamma_cnn.workflows.isolation import run_isolation
from egamma_cnn.workflows.tnp import run_tnp

__all__ = ["run_demo"]


def run_demo(out_dir: str | Path, *, events: int = 1000, workers: int = 2) -> dict[str, Any]:
    """Generate, validate, score and run every study (module docstring); the summaries.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created); the samples are written there too.
    events : int
        Z→ee events of the MC and of the data-like sample (JF17: half as many).
    workers : int
        Processes for the generation and workers of the LocalCluster, at most
        :func:`~egamma_cnn.execution.settings.max_local_workers` (``ValueError`` before
        anything is printed or created).
    """
    from dask.distributed import Client, LocalCluster

    check_local_workers(workers)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out-dir: {out_dir} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    jobs = (
        ("zee", "zee", events, 20.0, False),
        ("jf17", "jf17", max(events // 2, 1), 20.0, False),
        ("data_zee", "zee", events, 25.0, True),
    )
    for name, process, n, mu, data_like in jobs:
        path = out_dir / f"{name}.root"
        kind = "data-like" if data_like else "MC"
        print(f"generating {n} {kind} {process} events (<mu> = {mu}) -> {path}")
        produce(
            ProductionConfig(
                process=process, n_events=n, seed=len(files) + 1, pileup_mu=mu, data_like=data_like
            ),
            path,
            workers=workers,
            command=f"egamma-cnn demo --events {events}",
            overwrite=True,  # the demo's own samples: a rerun remakes them
        )
        files[name] = path
    summary = validate(
        [files["zee"], files["jf17"]], out_dir / "validation", data_files=[files["data_zee"]]
    )
    print(json.dumps(summary, indent=1))
    print(f"plots and summary.json in {out_dir / 'validation'}")

    print(f"scoring the samples with the shipped CNNs on a LocalCluster of {workers}")
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        identification = run_identification(files, out_dir / "identification")
        print(json.dumps(identification, indent=1))
        print(f"cnn_score.png and summary.json in {out_dir / 'identification'}")
        print("tag-and-probe of the CNN working points on the Z→ee MC and data-like samples")
        fileset = {
            "zee_mc": {"files": {str(files["zee"]): "Events"}, "metadata": {"is_data": False}},
            "zee_data": {
                "files": {str(files["data_zee"]): "Events"},
                "metadata": {"is_data": True},
            },
        }
        tnp = run_tnp(fileset, out_dir / "tnp", step_size=max(events // 2, 100))
        print(json.dumps(tnp, indent=1))
        print(f"efficiencies, scale factors (correctionlib) and plots in {out_dir / 'tnp'}")
        print("data/MC comparison of the probe shower shapes, fudge factors, distances")
        datamc = run_datamc(fileset, out_dir / "datamc", step_size=max(events // 2, 100))
        print(json.dumps(datamc["id_efficiencies"], indent=1))
        print(f"fudge factors, distances, fudged-MC efficiencies and plots in {out_dir / 'datamc'}")
        print("isolation: working points, ID–isolation correlation, cones vs the CNN score")
        isolation_fileset = {
            **fileset,
            "jf17_mc": {"files": {str(files["jf17"]): "Events"}, "metadata": {"is_data": False}},
        }
        isolation = run_isolation(
            isolation_fileset,
            out_dir / "isolation",
            tnp_datasets=("zee_mc", "zee_data"),
            step_size=max(events // 2, 100),
        )
    print(
        json.dumps(
            {k: isolation[k] for k in ("working_point_efficiencies", "roc") if k in isolation},
            indent=1,
        )
    )
    print(f"isolation results, plots and the isolation SFs in {out_dir / 'isolation'}")
    return {
        "validation": summary,
        "identification": identification,
        "tnp": tnp,
        "datamc": datamc,
        "isolation": isolation,
    }
