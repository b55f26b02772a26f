"""Throughput of ``egamma-cnn tnp`` against egamma-tnp on the same CMS NanoAOD files.

The workload of issue 19: the single-electron trigger efficiency of HLT_Ele32_WPTight_Gsf
(tags matched to it, the trigger match in η_SC) on N copies of a CMS NanoAOD file, the
same selection in both tools (the ``sc_match`` case of ``compare_egamma_tnp.py``, whose
probes agree bin for bin):

* **egamma-tnp** — ``ElectronTagNProbeFromNanoAOD(...).get_1d_pt_eta_phi_tnp_histograms``
  with ``cut_and_count=False`` (m_ee histograms per p_T, η, φ bin, for fits: what egamma-cnn
  fills too) (ikrommyd/egamma-tnp), run in the peer's own interpreter (``--egamma-tnp-python``) on
  dask's synchronous scheduler (in-process) or on a ``distributed`` LocalCluster of 2
  single-threaded workers; it returns the histograms;
* **egamma-cnn** — ``egamma-cnn tnp FILESET --config CONFIG --workers 0`` (in-process) or
  ``--workers 2`` (its default LocalCluster), the configuration being
  ``examples/cms_nanoaod_ele32_trigger.json`` with ``match_eta_field "eta + deltaEtaSC"``;
  it also writes every output (ROOT file, JSON, correctionlib, plots).

Each tool runs as a new process, and its wall time is the command's, start-up included:
what a user waits for. egamma-cnn runs twice per mode: **cold** (an empty preprocessing
cache) and **cached** (the same files again); egamma-tnp keeps nothing between runs and
runs twice as well. The files are read once before anything (the operating system's
cache is warm for every run: the comparison is of the tools, not of the disk).

Install the peer in its own environment::

    python3 -m venv /tmp/egtnp
    /tmp/egtnp/bin/pip install egamma-tnp "coffea[dask,dask-awkward]"

Run, from the repository root with the project's environment::

    .venv/bin/python benchmarks/bench_vs_egamma_tnp.py FILE.root --copies 20 \\
        --egamma-tnp-python /tmp/egtnp/bin/python

and paste the printed table into benchmarks/RESULTS.md. ``FILE.root``: a CMS NanoAOD file
of collision data with ``HLT_Ele32_WPTight_Gsf`` and ``TrigObj`` (egamma-tnp's
``tests/samples/DYto2E.root``, 1000 events of 2022 data, is one).

This file runs under two interpreters, so its module level imports the standard library
only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from compare_egamma_tnp import _ELE32 as ELE32
from compare_egamma_tnp import _TRIGGER_ARGS  # stdlib only: both interpreters import it

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cms_nanoaod_ele32_trigger.json"
#: egamma-tnp's arguments of the example selection: those of the parity check.
PEER_ARGS: dict[str, Any] = _TRIGGER_ARGS


# -- the peer side (runs in egamma-tnp's interpreter) --------------------------------------


def peer_run(files: list[str], workers: int) -> dict[str, Any]:
    """egamma-tnp's p_T, η, φ histograms of the example on ``files``; the probe counts."""
    from egamma_tnp import ElectronTagNProbeFromNanoAOD

    fileset = {"sample": {"files": dict.fromkeys(files, "Events")}}
    client = cluster = None
    if workers:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
        client = Client(cluster)
    try:
        tnp = ElectronTagNProbeFromNanoAOD(fileset, {ELE32: ELE32}, **PEER_ARGS)
        result = tnp.get_1d_pt_eta_phi_tnp_histograms(
            ELE32,
            cut_and_count=False,
            uproot_options={},
            compute=True,
            scheduler=None if workers else "sync",
        )["sample"]
    finally:
        if client is not None:
            client.close()
            cluster.close()
    hists = result["pt"]["barrel"]
    return {name: float(hist.sum().value) for name, hist in hists.items()}


# -- this project's side --------------------------------------------------------------------


def timed(command: list[str], cwd: Path) -> float:
    """Wall time (s) of ``command``; its output on failure."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}... failed: {done.stderr.strip()[-1500:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--copies", type=int, default=20, help="copies of the file (default 20)")
    parser.add_argument("--egamma-tnp-python", default="/tmp/egtnp/bin/python")
    parser.add_argument("--modes", nargs="+", default=["0", "2"], help="workers: 0 in-process")
    parser.add_argument("--peer-run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer_run:  # inside the peer's interpreter
        spec = json.loads(args.peer_run)
        print(json.dumps(peer_run(spec["files"], spec["workers"])))
        return 0
    if args.file is None:
        parser.error("give a CMS NanoAOD file")
    work = Path(tempfile.mkdtemp(prefix="bench-vs-egamma-tnp-"))
    files = []
    for index in range(args.copies):
        copy = work / "files" / f"nano_{index:03d}.root"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.file, copy)
        files.append(str(copy))
    for file in files:  # the operating system's cache is warm for every run
        Path(file).read_bytes()
    fileset = work / "fileset.json"
    fileset.write_text(
        json.dumps(
            {"data": {"files": dict.fromkeys(files, "Events"), "metadata": {"is_data": True}}}
        )
    )
    config = work / "config.json"
    config.write_text(
        json.dumps({**json.loads(EXAMPLE.read_text()), "match_eta_field": "eta + deltaEtaSC"})
    )
    ours = str(Path(sys.executable).with_name("egamma-cnn"))
    events = 0
    import uproot

    for file in files:
        events += uproot.open(file)["Events"].num_entries
    rows = []
    for mode in args.modes:
        workers = int(mode)
        peer = [
            args.egamma_tnp_python,
            __file__,
            "--peer-run",
            json.dumps({"files": files, "workers": workers}),
        ]
        peer_times = [timed(peer, work) for _ in range(2)]
        cache = work / f"cache_{mode}"
        command = [
            ours,
            "tnp",
            str(fileset),
            "--config",
            str(config),
            "--workers",
            mode,
            "--cache-dir",
            str(cache),
        ]
        our_times = [
            timed([*command, "--out-dir", str(work / f"out_{mode}_{run}")], work)
            for run in ("cold", "cached")
        ]
        label = "in-process" if workers == 0 else f"LocalCluster, {workers} workers"
        for run, peer_time, our_time in zip(("cold", "cached"), peer_times, our_times, strict=True):
            rows.append((label, run, peer_time, our_time))
    print(
        f"## egamma-cnn against egamma-tnp — {datetime.date.today()} — {platform.node()} "
        f"({platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores)\n"
    )
    print(f"{args.copies} copies of {args.file.name}: {events} events; wall time of each command\n")
    print(
        "| mode | run | egamma-tnp s | egamma-tnp events/s | egamma-cnn s | egamma-cnn events/s "
        "| egamma-cnn / egamma-tnp (events/s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, run, peer_time, our_time in rows:
        print(
            f"| {label} | {run} | {peer_time:.1f} | {events / peer_time:.0f} | {our_time:.1f} | "
            f"{events / our_time:.0f} | {peer_time / our_time:.2f} |"
        )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
