"""Parity of ``egamma-cnn tnp`` with egamma-tnp, the CMS e/γ tag-and-probe tool, on NanoAOD.

Runs both tools on the same CMS NanoAOD file with the same selection and compares their
passing and failing probes, in total and per probe p_T bin, and the wall time of each:

* **egamma-cnn** — ``egamma-cnn tnp FILESET --config CONFIG --workers 0`` (this
  interpreter's ``egamma-cnn``), the configuration being ``examples/
  cms_nanoaod_ele32_trigger.json`` with the case's overrides; the counts are read from
  ``histograms.root`` (the opposite-charge m_ee × E_T × η TH3 ``data_<ID>_pass`` /
  ``_fail``, summed over m_ee inside ``mass_range`` and over η);
* **egamma-tnp** — ``ElectronTagNProbeFromNanoAOD(...).get_passing_and_failing_probes(...)``
  (``egamma_tnp/nanoaod_efficiency.py``, ikrommyd/egamma-tnp), run by this same file in the
  peer's own interpreter (``--egamma-tnp-python``) through a subprocess on dask's
  synchronous scheduler; it prints every passing and failing probe as JSON, which is
  binned here with the same p_T edges (the last bin open, as in egamma-cnn).

The cases (:data:`CASES`) are the example (the single-electron trigger efficiency of
HLT_Ele32_WPTight_Gsf on tags matched to HLT_Ele30_WPTight_Gsf) and one case per further
egamma-tnp option, each with the egamma-cnn settings that express it — the mapping table
of the parity notes, checked on data. Both tools form every ordered electron pair (i ≠ j):
an event with two tags gives two probes.

Where the probes differ, the probes are listed (event, p_T, η_SC, m_ee, pass) with the
egamma-cnn pairs made by :func:`egamma_cnn.tnp.pairs.tag_probe_pairs`, and each is
explained by a known convention or not: the trigger-matching η (egamma-tnp's
``use_sc_eta`` matches with η_SC, egamma-cnn with ``match_eta_field``), a value at a cut
edge (egamma-tnp's cuts are strict, egamma-cnn's crack is [low, high) and its m_ee window
[low, high); egamma-tnp computes m_ee in float32, egamma-cnn in float64). The script
exits 1 when a difference has no such cause, 2 when a tool fails, 0 otherwise.

Install the peer in its own environment (it needs coffea with dask)::

    python3 -m venv /tmp/egtnp
    /tmp/egtnp/bin/pip install egamma-tnp "coffea[dask,dask-awkward]"

Run, from the repository root with the project's environment::

    .venv/bin/python benchmarks/compare_egamma_tnp.py FILE.root \\
        --egamma-tnp-python /tmp/egtnp/bin/python [--case NAME ...]

``FILE.root`` is a CMS NanoAOD file of collision data with ``HLT_Ele30_WPTight_Gsf``,
``HLT_Ele32_WPTight_Gsf`` and ``TrigObj`` (egamma-tnp's ``tests/samples/DYto2E.root``, a
NanoAOD v12 skim of 2022 data, is one).

This file runs under two interpreters (this project's and the peer's), so its module
level imports the standard library only; each side imports its own packages inside the
functions that run there.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The example configuration every case starts from.
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cms_nanoaod_ele32_trigger.json"
#: egamma-tnp's Z mass for ``mass_range`` given as a number (|m − m_Z| < x).
Z_MASS = 91.1876
#: Cut values whose edges are conventions (strict or half-open) of one tool or the other.
ETA_EDGES = (1.4442, 1.566, 2.17, 2.5)
PT_EDGES = (27.0, 35.0)
#: A value this close to a cut edge is "at the edge" (float32 round-off of η_SC, p_T).
EDGE_TOLERANCE = 1e-5
#: An m_ee this close to a window edge is at the edge (float32 m_ee of egamma-tnp).
MASS_TOLERANCE = 1e-3
#: The probe variables egamma-tnp returns for the comparison.
PEER_VARS = ["el_pt", "el_eta", "el_deltaEtaSC", "event"]


@dataclass(frozen=True)
class Case:
    """One selection, as egamma-tnp's arguments and as egamma-cnn settings.

    ``egamma_tnp`` holds the keyword arguments of ``ElectronTagNProbeFromNanoAOD`` (beside
    ``fileset`` and ``filters``); ``filters`` its filters (name → expression, one);
    ``cut_and_count`` and ``mass_range`` the arguments of
    ``get_passing_and_failing_probes``; ``overrides`` the egamma-cnn settings over the
    example; ``match_eta_differs``: the tools match trigger objects with different η.
    """

    name: str
    description: str
    egamma_tnp: dict[str, Any]
    filters: dict[str, str]
    overrides: dict[str, Any] = field(default_factory=dict)
    cut_and_count: bool = False
    mass_range: Any = (50.0, 130.0)
    match_eta_differs: bool = False


_ELE32 = "HLT_Ele32_WPTight_Gsf"
_TRIGGER_ARGS: dict[str, Any] = {
    "trigger_pt": {_ELE32: 32},
    "filterbit": {_ELE32: 1},
    "tags_pt_cut": 35,
    "probes_pt_cut": 27,
    "tags_abseta_cut": 2.17,
    "probes_abseta_cut": 2.5,
    "use_sc_eta": True,
    "avoid_ecal_transition_tags": True,
    "avoid_ecal_transition_probes": False,
    "require_event_to_pass_hlt_filter": True,
}
_SC_MATCH = {"match_eta_field": "eta + deltaEtaSC"}

#: The comparisons, the example first.
CASES: tuple[Case, ...] = (
    Case(
        "example",
        "examples/cms_nanoaod_ele32_trigger.json as it is (trigger match with the electron η; "
        "egamma-tnp matches with η_SC)",
        _TRIGGER_ARGS,
        {_ELE32: _ELE32},
        match_eta_differs=True,
    ),
    Case(
        "sc_match",
        "the example with match_eta_field 'eta + deltaEtaSC' (egamma-tnp's use_sc_eta=True)",
        _TRIGGER_ARGS,
        {_ELE32: _ELE32},
        overrides=_SC_MATCH,
    ),
    Case(
        "leg_only",
        "require_event_to_pass_hlt_filter=False: probe_id 'trigger(ele32_leg)'",
        {**_TRIGGER_ARGS, "require_event_to_pass_hlt_filter": False},
        {_ELE32: _ELE32},
        overrides={**_SC_MATCH, "probe_id": ["trigger(ele32_leg)"]},
    ),
    Case(
        "electron_eta",
        "use_sc_eta=False, cutbased_id 'cutBased >= 2', avoid_ecal_transition_probes=True: "
        "every η 'eta', probe_selection 'cutBased >= 2', probe_crack",
        {
            **_TRIGGER_ARGS,
            "use_sc_eta": False,
            "cutbased_id": "cutBased >= 2",
            "avoid_ecal_transition_probes": True,
        },
        {_ELE32: _ELE32},
        overrides={
            "tag_eta_field": "eta",
            "probe_eta_field": "eta",
            "match_eta_field": "eta",
            "probe_selection": "cutBased >= 2",
            "probe_crack": True,
        },
    ),
    Case(
        "id_cut_and_count",
        "an ID filter 'cutBased >= 4', cut_and_count (|m_ee − m_Z| < 30): probe_id "
        "'cutBased >= 4', mass_range [m_Z − 30, m_Z + 30]",
        {
            key: value
            for key, value in _TRIGGER_ARGS.items()
            if key not in ("trigger_pt", "filterbit")
        },
        {"cutBased >= 4": "cutBased >= 4"},
        overrides={
            **_SC_MATCH,
            "probe_id": ["cutBased >= 4"],
            "mass_range": [Z_MASS - 30.0, Z_MASS + 30.0],
            "signal_window": [Z_MASS - 30.0, Z_MASS + 30.0],
            "sidebands": [],
        },
        cut_and_count=True,
        mass_range=30.0,
    ),
)


# -- the peer side (runs in egamma-tnp's interpreter) --------------------------------------


def peer_probes(path: str, case: dict[str, Any]) -> dict[str, Any]:
    """egamma-tnp's passing and failing probes of one case, as JSON-ready lists.

    Each probe is ``[event, pt, eta_sc, m_ee, passed]``; η_SC = ``eta + deltaEtaSC`` (the
    supercluster η of NanoAOD v12, as egamma-tnp computes it with ``use_sc_eta``).
    """
    import awkward as ak
    from egamma_tnp import ElectronTagNProbeFromNanoAOD

    filters = case["filters"]
    tnp = ElectronTagNProbeFromNanoAOD(
        {"sample": {"files": {path: "Events"}}}, filters, **case["egamma_tnp"]
    )
    mass_range = case["mass_range"]
    result = tnp.get_passing_and_failing_probes(
        next(iter(filters)),
        cut_and_count=case["cut_and_count"],
        mass_range=tuple(mass_range) if isinstance(mass_range, list) else mass_range,
        vars=PEER_VARS,
        compute=True,
        scheduler="sync",
    )["sample"]
    probes = []
    for kind, passed in (("passing", True), ("failing", False)):
        array = result[kind]
        event = ak.flatten(ak.broadcast_arrays(array["event"], array["el_pt"])[0])
        columns = (
            event,
            ak.flatten(array["el_pt"]),
            ak.flatten(array["el_eta"] + array["el_deltaEtaSC"]),
            ak.flatten(array["pair_mass"]),
        )
        for row in zip(*(column.tolist() for column in columns), strict=True):
            probes.append([*row, passed])
    return {"probes": probes}


# -- this project's side --------------------------------------------------------------------


def run_peer(python: str, path: Path, case: Case) -> tuple[list[list[Any]], float]:
    """egamma-tnp's probes of ``case`` and the subprocess's wall time (s)."""
    spec = {
        "egamma_tnp": case.egamma_tnp,
        "filters": case.filters,
        "cut_and_count": case.cut_and_count,
        "mass_range": case.mass_range,
    }
    command = [python, __file__, str(path), "--peer-case", json.dumps(spec)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as err:
        raise RuntimeError(f"--egamma-tnp-python {python}: {err.strerror}") from None
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"egamma-tnp failed on case {case.name!r}: {done.stderr.strip()[-2000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])["probes"], seconds


def run_ours(path: Path, case: Case, folder: Path) -> tuple[dict[str, list[int]], float, dict]:
    """egamma-cnn's pass/fail counts per p_T bin of ``case``, the CLI's wall time (s) and
    the configuration it ran."""
    import numpy as np
    import uproot

    config = {**json.loads(EXAMPLE.read_text()), **case.overrides}
    config_path = folder / f"{case.name}_config.json"
    config_path.write_text(json.dumps(config, indent=1))
    fileset = folder / "fileset.json"
    fileset.write_text(
        json.dumps({"dy": {"files": {str(path): "Events"}, "metadata": {"is_data": True}}})
    )
    out_dir = folder / case.name
    cli = Path(sys.executable).parent / "egamma-cnn"
    if not cli.is_file():
        raise RuntimeError(f"no {cli}: run this script with the project's .venv/bin/python")
    command = [str(cli), "tnp", str(fileset), "--config", str(config_path)]
    command += ["--out-dir", str(out_dir), "--workers", "0"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"egamma-cnn failed on case {case.name!r}: {done.stderr.strip()[-2000:]}"
        )
    counts: dict[str, list[int]] = {}
    with uproot.open(out_dir / "histograms.root") as histograms:
        for side in ("pass", "fail"):
            names = [key for key in histograms.keys(cycle=False) if key.endswith(f"_{side}")]
            if len(names) != 1:
                raise RuntimeError(
                    f"{case.name}: expected one data_*_{side} histogram, got {names}"
                )
            values = histograms[names[0]].values(flow=True)  # (m_ee, E_T, η) with flow bins
            in_window = values[1:-1]  # pairs outside mass_range sit in the m_ee flow bins
            per_et = in_window.sum(axis=(0, 2))
            per_et[-2] += per_et[-1]  # the last E_T bin is open
            counts[side] = [int(np.rint(x)) for x in per_et[1:-1]]
            if per_et[0]:
                raise RuntimeError(f"{case.name}: {per_et[0]:g} probes below the first E_T edge")
    return counts, seconds, config


def bin_probes(probes: list[list[Any]], edges: list[float]) -> dict[str, list[int]]:
    """Pass/fail counts per p_T bin [edge_i, edge_i+1), the last bin open."""
    counts = {"pass": [0] * (len(edges) - 1), "fail": [0] * (len(edges) - 1)}
    for _, pt, _, _, passed in probes:
        k = sum(pt >= edge for edge in edges[1:-1])
        if pt >= edges[0]:
            counts["pass" if passed else "fail"][k] += 1
    return counts


def our_probes(path: Path, config: dict) -> list[list[Any]]:
    """egamma-cnn's opposite-charge probes inside the m_ee window, one row
    ``[event, pt, eta_sc, m_ee, passed]`` each (the pairs of ``tag_probe_pairs``)."""
    import awkward as ak
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    from egamma_cnn.tnp.config import TnPConfig
    from egamma_cnn.tnp.pairs import tag_probe_pairs

    settings = TnPConfig.from_dict(config)
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager"
    ).events()
    pairs = tag_probe_pairs(events, settings)
    low, high = settings.mass_range
    keep = pairs.opposite & (pairs.mass >= low) & (pairs.mass < high)
    pairs = pairs[keep]
    probes = events.Electron[pairs.probe_index]
    columns = (
        ak.flatten(ak.broadcast_arrays(events.event, pairs.mass)[0]),
        ak.flatten(probes.pt),
        ak.flatten(probes.eta + probes.deltaEtaSC),
        ak.flatten(pairs.mass),
        ak.flatten(pairs.pass_0),
    )
    return [list(row) for row in zip(*(column.tolist() for column in columns), strict=True)]


def flipping_events(path: Path, config: dict) -> set[int]:
    """Events with an electron whose trigger match (any filter of the configuration)
    differs between the electron η and η_SC."""
    import awkward as ak
    import numpy as np
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    from egamma_cnn.tnp.config import TnPConfig
    from egamma_cnn.tnp.pairs import trigger_matcher

    settings = TnPConfig.from_dict(config)
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager"
    ).events()
    electrons = events.Electron
    by_eta = trigger_matcher(events, settings, electrons.eta, electrons.phi)
    by_sc = trigger_matcher(events, settings, electrons.eta + electrons.deltaEtaSC, electrons.phi)
    flips = np.zeros(len(events), dtype=bool)
    for name in settings.trigger_filters:
        flips |= ak.to_numpy(ak.any(by_eta(name) != by_sc(name), axis=1))
    return set(ak.to_numpy(events.event[flips]).tolist())


def cause(probe: list[Any], case: Case, config: dict, flips: set[int]) -> str | None:
    """The known convention that explains a probe one tool has and the other has not."""
    event, pt, eta_sc, mass, _ = probe
    if case.match_eta_differs and event in flips:
        return "trigger-match η (η vs η_SC) flips a match in this event"
    low, high = config["mass_range"]
    if min(abs(mass - low), abs(mass - high)) < MASS_TOLERANCE:
        return "m_ee at a window edge (strict vs [low, high), float32 vs float64)"
    if any(abs(abs(eta_sc) - edge) < EDGE_TOLERANCE for edge in ETA_EDGES):
        return "|η| at a cut edge (strict vs half-open crack)"
    if any(abs(pt - edge) < EDGE_TOLERANCE for edge in PT_EDGES):
        return "p_T at a cut edge"
    return None


def differences(theirs: list, ours: list) -> tuple[list, list]:
    """Probes only egamma-tnp has and probes only egamma-cnn has, with their pass flag
    (a probe is (event, p_T to 10⁻⁴ GeV, pass))."""

    def key(probe: list[Any]) -> tuple:
        return (probe[0], round(probe[1], 4), bool(probe[4]))

    count_theirs = collections.Counter(map(key, theirs))
    count_ours = collections.Counter(map(key, ours))
    only_theirs = count_theirs - count_ours
    only_ours = count_ours - count_theirs
    return (
        [probe for probe in theirs if key(probe) in only_theirs],
        [probe for probe in ours if key(probe) in only_ours],
    )


def table(name: str, edges: list[float], theirs: dict, ours: dict) -> str:
    """The per-bin pass/fail table of both tools."""
    lines = [
        f"{'p_T bin (GeV)':>14} | {'egamma-tnp pass':>15} {'fail':>5} | "
        f"{'egamma-cnn pass':>15} {'fail':>5} | same"
    ]
    for k in range(len(edges) - 1):
        upper = "∞" if k == len(edges) - 2 else f"{edges[k + 1]:g}"
        row = (theirs["pass"][k], theirs["fail"][k], ours["pass"][k], ours["fail"][k])
        same = "yes" if row[:2] == row[2:] else "NO"
        label = f"{edges[k]:g}–{upper}"
        lines.append(f"{label:>14} | {row[0]:>15} {row[1]:>5} | {row[2]:>15} {row[3]:>5} | {same}")
    total = [sum(theirs["pass"]), sum(theirs["fail"]), sum(ours["pass"]), sum(ours["fail"])]
    same = "yes" if total[:2] == total[2:] else "NO"
    lines.append(
        f"{'total':>14} | {total[0]:>15} {total[1]:>5} | {total[2]:>15} {total[3]:>5} | {same}"
    )
    return f"case {name}\n" + "\n".join(lines)


def compare(path: Path, python: str, cases: list[Case]) -> int:
    """Run every case with both tools, print the tables and times; the exit status."""
    edges = json.loads(EXAMPLE.read_text())["et_edges"]
    unexplained = 0
    timings = []
    with tempfile.TemporaryDirectory(prefix="compare_egamma_tnp_") as tmp:
        for case in cases:
            theirs_probes, their_seconds = run_peer(python, path, case)
            ours_counts, our_seconds, config = run_ours(path, case, Path(tmp))
            theirs_counts = bin_probes(theirs_probes, edges)
            timings.append((case.name, their_seconds, our_seconds))
            print(f"\n{case.description}")
            print(table(case.name, edges, theirs_counts, ours_counts))
            if theirs_counts == ours_counts:
                continue
            only_theirs, only_ours = differences(theirs_probes, our_probes(path, config))
            flips = flipping_events(path, config) if case.match_eta_differs else set()
            for who, probes in (("egamma-tnp only", only_theirs), ("egamma-cnn only", only_ours)):
                for probe in probes:
                    reason = cause(probe, case, config, flips)
                    unexplained += reason is None
                    event, pt, eta_sc, mass, passed = probe
                    print(
                        f"  {who}: event {event} p_T {pt:.4f} η_SC {eta_sc:+.5f} m_ee {mass:.4f} "
                        f"{'pass' if passed else 'fail'} — {reason or 'UNEXPLAINED'}"
                    )
    print("\nwall time of each tool (s, one process per case on this machine, this run):")
    print(f"{'case':>18} | {'egamma-tnp':>10} | {'egamma-cnn':>10}")
    for name, theirs, ours in timings:
        print(f"{name:>18} | {theirs:>10.2f} | {ours:>10.2f}")
    print(
        "egamma-tnp: import, dask graph and compute on the synchronous scheduler; egamma-cnn: "
        "the CLI (import, preprocess, process with --workers 0, efficiencies, plots, outputs)"
    )
    if unexplained:
        print(f"\n{unexplained} probe(s) differ without a known cause")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="a CMS NanoAOD file (data, with TrigObj and HLT)")
    parser.add_argument(
        "--egamma-tnp-python",
        default=None,
        help="the interpreter of an environment with egamma-tnp (e.g. /tmp/egtnp/bin/python)",
    )
    names = [case.name for case in CASES]
    parser.add_argument(
        "--case", action="append", choices=names, help="run only these cases (default: all)"
    )
    parser.add_argument("--peer-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer_case is not None:  # inside egamma-tnp's interpreter
        print(json.dumps(peer_probes(str(args.file.resolve()), json.loads(args.peer_case))))
        return 0
    if args.egamma_tnp_python is None:
        parser.error("--egamma-tnp-python is required (the interpreter with egamma-tnp)")
    if not args.file.is_file():
        parser.error(f"{args.file}: no such file")
    chosen = [case for case in CASES if args.case is None or case.name in args.case]
    try:
        return compare(args.file.resolve(), args.egamma_tnp_python, chosen)
    except RuntimeError as err:
        print(f"compare_egamma_tnp: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
