"""Small CMS-format files for tests, written with uproot from hand-given events.

Two formats, with the branch names and ROOT types of the real thing:

- **CMS NanoAOD v12** (Run 3, 2022–2023; CMSSW 13_0_X). Types as in the CMSSW 13_0_X
  table producers after cms-sw/cmssw PR #40478 ("Nano: fix array size branch type, support
  16 bit ints, use more 8 or 16 bit integers"): counters ``n<Collection>`` are ``Int_t``,
  object indices ``Short_t``, IDs ``UChar_t``, ``TrigObj_id`` ``UShort_t``,
  ``TrigObj_filterBits`` ``Int_t`` (``ULong64_t`` only from NanoAOD v15, PR #47594),
  ``GenPart_statusFlags`` ``UShort_t``. Checked against the public NanoAOD v12 skim
  ``tests/samples/DYto2E.root`` of ikrommyd/egamma-tnp (branch typenames read with uproot),
  the CMSSW files ``PhysicsTools/NanoAOD/python/genparticles_cff.py``,
  ``PhysicsTools/NanoAOD/plugins/CandMCMatchTableProducer.cc`` (``genPartIdx`` int16,
  ``genPartFlav`` uint8) and ``PhysicsTools/NanoAOD/python/triggerObjects_cff.py``
  (electron ``TrigObj_filterBits``: bit 1, value 2 = "1e (WPTight)"). v12 has no
  ``Photon_mass`` and no ``Photon_superclusterEta`` (added in v13; egamma-tnp
  ``utils/misc.py``); coffea's ``NanoAODSchema`` fills ``Photon.mass = 0``.
- **CMS e/γ tag-and-probe flat ntuple** (EgammaAnalysis-TnPTreeProducer): one row per
  tag–probe pair in ``<directory>/fitter_tree`` (``tnpEleIDs``, ``tnpEleTrig``,
  ``tnpPhoIDs``). Names and types as in ikrommyd/egamma-tnp ``tests/samples/TnPNTuples_el.root``
  and ``TnPNTuples_ph.root``: kinematics ``Float_t`` (``el_q``/``tag_Ele_q`` too),
  ID and HLT flags (``passing*``, ``passHlt*``, ``passHLT*``) ``Int_t`` 0/1, ``run`` and
  ``lumi`` ``UInt_t``, ``event`` ``ULong64_t``, ``truePU`` and ``event_nPV`` ``Int_t``.
  Simulation adds ``mcTrue`` (``Int_t``) and ``totWeight`` (``Float_t``; egm_tnp_analysis
  reads it from a pile-up friend tree, ``weights_<era>.totWeight``; here it is a branch of
  the tree itself).

Everything a test reads back was given by the test: the writers derive only what the
format itself derives (``pdgId`` from the charge, ``|η|`` branches, the ntuple's pair
kinematics when not given), each with its formula in the docstring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

#: Electron mass in GeV (PDG), the mass NanoAOD electrons carry.
ELECTRON_MASS = 0.000511
#: Z boson mass in GeV (PDG), for the generator-level Z of :func:`z_to_ee_event`.
Z_MASS = 91.1876
#: ``TrigObj_filterBits`` of an electron trigger object passing the single-electron
#: WPTight filter: bit 1 (value 2, "1e (WPTight)"), CMSSW ``triggerObjects_cff.py``.
WPTIGHT_FILTER_BIT = 1
#: HLT decisions of :func:`z_to_ee_event` when none are given: both single-electron
#: WPTight paths of 2022 fired.
DEFAULT_HLT: dict[str, bool] = {"Ele30_WPTight_Gsf": True, "Ele32_WPTight_Gsf": True}

_F = np.dtype(np.float32)
_B = np.dtype(np.bool_)
_U8 = np.dtype(np.uint8)
_I16 = np.dtype(np.int16)
_U16 = np.dtype(np.uint16)
_I32 = np.dtype(np.int32)
_U32 = np.dtype(np.uint32)
_U64 = np.dtype(np.uint64)

_REQUIRED = object()

#: Per collection: field -> (numpy dtype of the v12 branch, default). ``_REQUIRED`` fields
#: must be given for every object. ``None`` defaults are derived (see ``_derive``).
ELECTRON_FIELDS: dict[str, tuple[np.dtype, Any]] = {
    "pt": (_F, _REQUIRED),
    "eta": (_F, _REQUIRED),
    "phi": (_F, _REQUIRED),
    "mass": (_F, ELECTRON_MASS),
    "charge": (_I32, -1),
    "pdgId": (_I32, None),  # -11 * charge
    "deltaEtaSC": (_F, 0.0),
    "cutBased": (_U8, 4),
    "cutBased_HEEP": (_B, False),
    "mvaIso": (_F, 0.9),
    "mvaIso_WP80": (_B, True),
    "mvaIso_WP90": (_B, True),
    "mvaNoIso_WP80": (_B, True),
    "mvaNoIso_WP90": (_B, True),
    "vidNestedWPBitmap": (_I32, 0),
    "convVeto": (_B, True),
    "lostHits": (_U8, 0),
    "tightCharge": (_U8, 2),
    "seedGain": (_U8, 12),
    "hoe": (_F, 0.01),
    "sieie": (_F, 0.009),
    "r9": (_F, 0.95),
    "eInvMinusPInv": (_F, 0.0),
    "pfRelIso03_all": (_F, 0.01),
    "miniPFRelIso_all": (_F, 0.01),
    "dxy": (_F, 0.001),
    "dz": (_F, 0.002),
    "photonIdx": (_I16, -1),
    "genPartIdx": (_I16, -1),
    "genPartFlav": (_U8, 0),
}
PHOTON_FIELDS: dict[str, tuple[np.dtype, Any]] = {
    "pt": (_F, _REQUIRED),
    "eta": (_F, _REQUIRED),
    "phi": (_F, _REQUIRED),
    "cutBased": (_U8, 3),
    "mvaID": (_F, 0.9),
    "mvaID_WP80": (_B, True),
    "mvaID_WP90": (_B, True),
    "vidNestedWPBitmap": (_I32, 0),
    "electronVeto": (_B, True),
    "pixelSeed": (_B, False),
    "isScEtaEB": (_B, None),  # |eta| < 1.4442
    "isScEtaEE": (_B, None),  # 1.566 < |eta| < 2.5
    "seedGain": (_U8, 12),
    "hoe": (_F, 0.01),
    "sieie": (_F, 0.009),
    "r9": (_F, 0.95),
    "pfRelIso03_all_quadratic": (_F, 0.01),
    "electronIdx": (_I16, -1),
    "genPartIdx": (_I16, -1),
    "genPartFlav": (_U8, 0),
}
TRIGOBJ_FIELDS: dict[str, tuple[np.dtype, Any]] = {
    "pt": (_F, _REQUIRED),
    "eta": (_F, _REQUIRED),
    "phi": (_F, _REQUIRED),
    "id": (_U16, 11),
    "filterBits": (_I32, 0),
    "l1pt": (_F, 0.0),
    "l1pt_2": (_F, 0.0),
    "l2pt": (_F, 0.0),
    "l1iso": (_I32, 0),
    "l1charge": (_I16, 0),
}
GENPART_FIELDS: dict[str, tuple[np.dtype, Any]] = {
    "pt": (_F, _REQUIRED),
    "eta": (_F, _REQUIRED),
    "phi": (_F, _REQUIRED),
    "mass": (_F, 0.0),
    "pdgId": (_I32, _REQUIRED),
    "status": (_I32, 1),
    "statusFlags": (_U16, 0),
    "genPartIdxMother": (_I16, -1),
}
COLLECTIONS: dict[str, dict[str, tuple[np.dtype, Any]]] = {
    "Electron": ELECTRON_FIELDS,
    "Photon": PHOTON_FIELDS,
    "TrigObj": TRIGOBJ_FIELDS,
    "GenPart": GENPART_FIELDS,
}
#: Fields that exist only in simulation: a data file has none of these branches.
TRUTH_FIELDS: dict[str, tuple[str, ...]] = {
    "Electron": ("genPartIdx", "genPartFlav"),
    "Photon": ("genPartIdx", "genPartFlav"),
}
#: Event-level branches: name -> (dtype, default, simulation only).
EVENT_FIELDS: dict[str, tuple[np.dtype, Any, bool]] = {
    "run": (_U32, 1, False),
    "luminosityBlock": (_U32, 1, False),
    "event": (_U64, None, False),  # 1-based position in the file
    "PV_npvs": (_U8, 30, False),
    "PV_npvsGood": (_U8, 28, False),
    "Rho_fixedGridRhoFastjetAll": (_F, 25.0, False),
    "genWeight": (_F, 1.0, True),
    "Pileup_nTrueInt": (_F, 45.0, True),
    "Pileup_nPU": (_I32, 45, True),
}

#: ``GenPart_statusFlags`` bits (CMSSW ``genparticles_cff.py``): isPrompt (0),
#: fromHardProcess (8), isFirstCopy (12), isLastCopy (13).
GEN_PROMPT_HARD_LAST = (1 << 0) | (1 << 8) | (1 << 13)
GEN_HARD_PROCESS_FIRST = (1 << 7) | (1 << 8) | (1 << 12)


def _check_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a dict, got {type(value).__name__}")
    return value


def _derive(collection: str, field: str, obj: Mapping[str, Any]) -> Any:
    """Derived defaults: Electron ``pdgId = -11·charge``; Photon ``isScEtaEB = |η| < 1.4442``,
    ``isScEtaEE = 1.566 < |η| < 2.5`` (CMSSW ``photons_cff.py``; η stands for the
    supercluster η, which v12 does not store)."""
    if collection == "Electron" and field == "pdgId":
        return -11 * int(obj.get("charge", -1))
    abs_eta = abs(float(obj["eta"]))
    if field == "isScEtaEB":
        return abs_eta < 1.4442
    return 1.566 < abs_eta < 2.5


def _collection_columns(
    name: str, events: Sequence[Mapping[str, Any]], is_data: bool
) -> dict[str, ak.Array]:
    """One jagged column per field of ``name`` (dtype exact, counts shared)."""
    spec = COLLECTIONS[name]
    skipped = TRUTH_FIELDS.get(name, ()) if is_data else ()
    counts = []
    values: dict[str, list[Any]] = {field: [] for field in spec if field not in skipped}
    for index, event in enumerate(events):
        objects = event.get(name, [])
        if not isinstance(objects, Sequence) or isinstance(objects, str | bytes):
            raise ValueError(f"event {index}: {name} must be a list of dicts")
        counts.append(len(objects))
        for position, obj in enumerate(objects):
            where = f"event {index}, {name}[{position}]"
            _check_mapping(obj, where)
            unknown = sorted(set(obj) - set(spec))
            if unknown:
                raise ValueError(
                    f"{where}: unknown field(s) {unknown}; NanoAOD v12 {name} fields here: "
                    f"{sorted(spec)}"
                )
            if is_data and any(field in obj for field in skipped):
                raise ValueError(f"{where}: a data file carries no {list(skipped)}")
            for field, (_, default) in spec.items():
                if field in skipped:
                    continue
                if field in obj:
                    values[field].append(obj[field])
                elif default is _REQUIRED:
                    raise ValueError(f"{where}: field {field!r} is required")
                elif default is None:
                    values[field].append(_derive(name, field, obj))
                else:
                    values[field].append(default)
    return {
        field: ak.unflatten(np.asarray(column, dtype=spec[field][0]), np.asarray(counts))
        for field, column in values.items()
    }


def write_nanoaod(
    path: str | Path,
    events: Sequence[Mapping[str, Any]],
    *,
    is_data: bool = False,
    tree: str = "Events",
) -> Path:
    """Write a CMS NanoAOD v12 file holding exactly ``events``.

    Parameters
    ----------
    path
        The file to write (replaced if it exists).
    events
        One dict per event. Keys: ``"Electron"``, ``"Photon"``, ``"TrigObj"``,
        ``"GenPart"`` (lists of dicts of the fields in :data:`COLLECTIONS`; ``pt``, ``eta``,
        ``phi`` required, ``pdgId`` too for ``GenPart``, others default), ``"HLT"`` (dict
        path name without ``HLT_`` -> bool), and the event fields of :data:`EVENT_FIELDS`
        (``run``, ``luminosityBlock``, ``event``, ``genWeight``, ``Pileup_nTrueInt``, ...).
    is_data
        Collision data: no ``GenPart``, ``genPartIdx``, ``genPartFlav``, ``genWeight`` or
        ``Pileup_*`` branches at all (giving one is an error).
    tree
        Name of the TTree.

    Returns
    -------
    Path
        ``path``.

    Every collection gets its ``n<Collection>`` counter (``Int_t``) and all its branches,
    also when no event has an object (``GenPart`` only in simulation). Every HLT path named
    in any event gets a ``Bool_t`` branch ``HLT_<path>`` in every event (absent = False).
    """
    if not isinstance(events, Sequence) or isinstance(events, str | bytes) or not events:
        raise ValueError("events must be a non-empty list of dicts")
    known = set(COLLECTIONS) | set(EVENT_FIELDS) | {"HLT"}
    hlt_paths: list[str] = []
    for index, event in enumerate(events):
        _check_mapping(event, f"event {index}")
        unknown = sorted(set(event) - known)
        if unknown:
            raise ValueError(f"event {index}: unknown key(s) {unknown}; known: {sorted(known)}")
        if is_data:
            truth = [k for k, (_, _, mc) in EVENT_FIELDS.items() if mc and k in event]
            if "GenPart" in event or truth:
                raise ValueError(
                    f"event {index}: a data file carries no {truth or ['GenPart']} (is_data=True)"
                )
        hlt = _check_mapping(event.get("HLT", {}), f"event {index}: HLT")
        for name, fired in hlt.items():
            if not isinstance(name, str) or name.startswith("HLT_") or not name:
                raise ValueError(
                    f"event {index}: HLT path {name!r} must be named without the HLT_ prefix"
                )
            if not isinstance(fired, bool | np.bool_):
                raise ValueError(f"event {index}: HLT {name} must be True or False, got {fired!r}")
            if name not in hlt_paths:
                hlt_paths.append(name)

    branches: dict[str, Any] = {}
    for name, (dtype, default, mc_only) in EVENT_FIELDS.items():
        if mc_only and is_data:
            continue
        column = [
            event.get(name, index + 1 if default is None else default)
            for index, event in enumerate(events)
        ]
        branches[name] = np.asarray(column, dtype=dtype)
    for name in COLLECTIONS:
        if name == "GenPart" and is_data:
            continue
        branches[name] = ak.zip(_collection_columns(name, events, is_data))
    for name in hlt_paths:
        branches[f"HLT_{name}"] = np.asarray(
            [bool(event.get("HLT", {}).get(name, False)) for event in events], dtype=_B
        )

    path = Path(path)
    with uproot.recreate(path) as file:
        types = {
            key: value.type if isinstance(value, ak.Array) else value.dtype
            for key, value in branches.items()
        }
        written = file.mktree(tree, types, title="Events")
        written.extend(branches)
    return path


#: Flat-ntuple branches (EgammaAnalysis-TnPTreeProducer): name -> dtype. Probe branches
#: use ``{p}`` for the probe prefix (``el`` or ``ph``).
_NTUPLE_COMMON: dict[str, np.dtype] = {
    "run": _U32,
    "lumi": _U32,
    "event": _U64,
    "truePU": _I32,
    "event_nPV": _I32,
    "event_rho": _F,
    "tag_Ele_pt": _F,
    "tag_Ele_eta": _F,
    "tag_Ele_phi": _F,
    "tag_Ele_q": _F,
    "tag_Ele_abseta": _F,
    "tag_sc_eta": _F,
    "tag_sc_abseta": _F,
    "pair_mass": _F,
    "mass": _F,
    "pair_pt": _F,
    "pair_eta": _F,
    "pair_abseta": _F,
}
_NTUPLE_ELECTRON: dict[str, np.dtype] = {
    "el_pt": _F,
    "el_eta": _F,
    "el_phi": _F,
    "el_q": _F,
    "el_et": _F,
    "el_abseta": _F,
    "el_sc_eta": _F,
    "el_sc_abseta": _F,
    "el_sc_phi": _F,
    "el_hoe": _F,
    "el_sieie": _F,
    "el_r9": _F,
}
_NTUPLE_PHOTON: dict[str, np.dtype] = {
    "ph_pt": _F,
    "ph_et": _F,
    "ph_eta": _F,
    "ph_phi": _F,
    "ph_abseta": _F,
    "ph_sc_eta": _F,
    "ph_sc_abseta": _F,
    "ph_sc_phi": _F,
    "ph_hoe": _F,
    "ph_sieie": _F,
    "ph_r9": _F,
}
_NTUPLE_MC: dict[str, np.dtype] = {"mcTrue": _I32, "totWeight": _F}
#: Prefixes of the Int_t 0/1 flag branches (ID working points, HLT filters).
NTUPLE_FLAG_PREFIXES = ("passing", "passHlt", "passHLT")
_NTUPLE_REQUIRED = ("tag_Ele_pt", "tag_Ele_eta", "tag_Ele_phi")


def _massless_pair(pt1: float, eta1: float, phi1: float, pt2: float, eta2: float, phi2: float):
    """Pair (mass, pt, eta) of two massless particles.

    m² = 2 p_T1 p_T2 (cosh Δη − cos Δφ); the pair momentum is the sum of
    (p_T cos φ, p_T sin φ, p_T sinh η).
    """
    mass2 = 2.0 * pt1 * pt2 * (math.cosh(eta1 - eta2) - math.cos(phi1 - phi2))
    px = pt1 * math.cos(phi1) + pt2 * math.cos(phi2)
    py = pt1 * math.sin(phi1) + pt2 * math.sin(phi2)
    pz = pt1 * math.sinh(eta1) + pt2 * math.sinh(eta2)
    pt = math.hypot(px, py)
    eta = math.asinh(pz / pt) if pt > 0 else math.copysign(math.inf, pz)
    return math.sqrt(max(mass2, 0.0)), pt, eta


def write_tnp_ntuple(
    path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    directory: str = "tnpEleIDs",
    tree: str = "fitter_tree",
    is_data: bool = False,
) -> Path:
    """Write a CMS e/γ tag-and-probe flat ntuple: one row per tag–probe pair.

    Parameters
    ----------
    path
        The file to write (replaced if it exists).
    rows
        One dict per pair, branch name -> value. Required: ``tag_Ele_pt``, ``tag_Ele_eta``,
        ``tag_Ele_phi`` and the probe's ``el_pt``/``el_eta``/``el_phi`` (``ph_et``/``ph_eta``/
        ``ph_phi`` in a ``tnpPho*`` directory). Flags (names starting ``passing``,
        ``passHlt``, ``passHLT``) are ``Int_t`` 0/1; a flag named in any row is 0 in rows
        that omit it. Other names must be known branches (see the module tables).
    directory
        TDirectory of the tree: ``tnpEleIDs``, ``tnpEleTrig`` (electron probes, ``el_``) or
        ``tnpPhoIDs`` (photon probes, ``ph_``).
    tree
        Name of the TTree.
    is_data
        Data: no ``mcTrue``/``totWeight`` branches (giving one is an error); simulation has
        them (defaults 1 and 1.0).

    Returns
    -------
    Path
        ``path``.

    Derived when not given: ``*_sc_eta = *_eta``; ``*_abseta = |*_eta|``,
    ``*_sc_abseta = |*_sc_eta|``; ``el_et = el_pt``, ``ph_pt = ph_et``;
    ``pair_mass``/``pair_pt``/``pair_eta`` of the two massless candidates
    (:func:`_massless_pair`) and ``mass = pair_mass``; ``el_q = -tag_Ele_q`` with
    ``tag_Ele_q = -1``; ``run = 1``, ``lumi = 1``, ``event`` = 1-based row index.
    """
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes) or not rows:
        raise ValueError("rows must be a non-empty list of dicts")
    photon = directory.startswith("tnpPho")
    probe = "ph" if photon else "el"
    spec = dict(_NTUPLE_COMMON) | (_NTUPLE_PHOTON if photon else _NTUPLE_ELECTRON)
    if not is_data:
        spec |= _NTUPLE_MC
    probe_pt = "ph_et" if photon else "el_pt"
    required = (*_NTUPLE_REQUIRED, probe_pt, f"{probe}_eta", f"{probe}_phi")
    flags: list[str] = []
    for index, row in enumerate(rows):
        _check_mapping(row, f"row {index}")
        for name in row:
            if name in spec:
                continue
            if isinstance(name, str) and name.startswith(NTUPLE_FLAG_PREFIXES):
                if name not in flags:
                    flags.append(name)
                continue
            if name in _NTUPLE_MC and is_data:
                raise ValueError(f"row {index}: a data ntuple carries no {name!r} (is_data=True)")
            raise ValueError(
                f"row {index}: unknown branch {name!r} for {directory}/{tree}; probe branches "
                f"start with {probe}_, flags with {'/'.join(NTUPLE_FLAG_PREFIXES)}"
            )
        missing = [name for name in required if name not in row]
        if missing:
            raise ValueError(f"row {index}: missing {missing}")

    filled: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        full = dict(row)
        for side in ("tag_Ele", probe):
            sc = "tag_sc" if side == "tag_Ele" else f"{probe}_sc"
            full.setdefault(f"{sc}_eta", full[f"{side}_eta"])
            full.setdefault(f"{side}_abseta", abs(full[f"{side}_eta"]))
            full.setdefault(f"{sc}_abseta", abs(full[f"{sc}_eta"]))
        full.setdefault(f"{probe}_sc_phi", full[f"{probe}_phi"])
        if photon:
            full.setdefault("ph_pt", full["ph_et"])
        else:
            full.setdefault("el_et", full["el_pt"])
            full.setdefault("tag_Ele_q", -1.0)
            full.setdefault("el_q", -full["tag_Ele_q"])
        if photon:
            full.setdefault("tag_Ele_q", -1.0)
        mass, pair_pt, pair_eta = _massless_pair(
            full["tag_Ele_pt"],
            full["tag_Ele_eta"],
            full["tag_Ele_phi"],
            full[probe_pt],
            full[f"{probe}_eta"],
            full[f"{probe}_phi"],
        )
        full.setdefault("pair_mass", mass)
        full.setdefault("mass", full["pair_mass"])
        full.setdefault("pair_pt", pair_pt)
        full.setdefault("pair_eta", pair_eta)
        full.setdefault("pair_abseta", abs(full["pair_eta"]))
        defaults = {
            "run": 1,
            "lumi": 1,
            "event": index + 1,
            "truePU": 45,
            "event_nPV": 30,
            "event_rho": 25.0,
            f"{probe}_hoe": 0.01,
            f"{probe}_sieie": 0.009,
            f"{probe}_r9": 0.95,
            "mcTrue": 1,
            "totWeight": 1.0,
        }
        for name, value in defaults.items():
            if name in spec:
                full.setdefault(name, value)
        for name in flags:
            full.setdefault(name, 0)
        filled.append(full)

    columns: dict[str, np.ndarray] = {}
    for name, dtype in spec.items():
        columns[name] = np.asarray([row[name] for row in filled], dtype=dtype)
    for name in flags:
        values = [row[name] for row in filled]
        bad = [v for v in values if v not in (0, 1) or isinstance(v, float)]
        if bad:
            raise ValueError(f"flag {name}: values must be 0 or 1 (Int_t), got {bad[0]!r}")
        columns[name] = np.asarray(values, dtype=_I32)

    path = Path(path)
    with uproot.recreate(path) as file:
        written = file.mktree(
            f"{directory}/{tree}", {k: v.dtype for k, v in columns.items()}, title=tree
        )
        written.extend(columns)
    return path


def _four_vector(pt: float, eta: float, phi: float, mass: float) -> tuple[float, ...]:
    """(E, px, py, pz) of (p_T, η, φ, m): p = (p_T cos φ, p_T sin φ, p_T sinh η),
    E = √(|p|² + m²)."""
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return math.sqrt(px * px + py * py + pz * pz + mass * mass), px, py, pz


def invariant_mass(*particles: tuple[float, float, float, float]) -> float:
    """m = √((ΣE)² − |Σp|²) of particles given as (p_T, η, φ, m), in double precision."""
    total = [0.0, 0.0, 0.0, 0.0]
    for particle in particles:
        for i, component in enumerate(_four_vector(*particle)):
            total[i] += component
    energy, px, py, pz = total
    return math.sqrt(max(energy * energy - px * px - py * py - pz * pz, 0.0))


def z_to_ee_event(
    tag: tuple[float, float, float],
    probe: tuple[float, float, float],
    *,
    tag_charge: int = -1,
    probe_charge: int | None = None,
    tag_fields: Mapping[str, Any] | None = None,
    probe_fields: Mapping[str, Any] | None = None,
    tag_filter_bits: int | None = 1 << WPTIGHT_FILTER_BIT,
    probe_filter_bits: int | None = None,
    tag_trigger_pt: float | None = None,
    probe_trigger_pt: float | None = None,
    trigger_id: int = 11,
    hlt: Mapping[str, bool] | None = None,
    with_gen: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Z→ee event dict for :func:`write_nanoaod`: electron 0 is the tag, 1 the probe.

    Parameters
    ----------
    tag, probe
        (p_T [GeV], η, φ) of the two electrons; both have the electron mass
        :data:`ELECTRON_MASS`, so m_ee = :func:`invariant_mass` of the two.
    tag_charge, probe_charge
        Charges; the probe's defaults to the opposite of the tag's.
    tag_fields, probe_fields
        Further Electron fields (``cutBased``, ``deltaEtaSC``, ...).
    tag_filter_bits, probe_filter_bits
        ``TrigObj_filterBits`` of a trigger object placed at the electron's (η, φ)
        (ΔR = 0); ``None`` places no object. Default: the tag has the WPTight bit
        (value 2), the probe none.
    tag_trigger_pt, probe_trigger_pt
        p_T of those trigger objects (default: the electron's p_T).
    trigger_id
        ``TrigObj_id`` of the objects (11 electron, 22 photon).
    hlt
        HLT decisions, path name without ``HLT_`` (default: ``Ele30_WPTight_Gsf`` and
        ``Ele32_WPTight_Gsf`` fired).
    with_gen
        Add ``GenPart`` = [Z (23, status 62), e (∓11, status 1), e (±11, status 1)] with the
        electrons' kinematics and mother 0 (the Z), the reconstructed electrons matched
        (``genPartIdx`` 1 and 2, ``genPartFlav`` 1 = prompt electron). Simulation only.
    extra
        Further event keys (``run``, ``event``, ``genWeight``, ``Photon``, ...).
    """
    if probe_charge is None:
        probe_charge = -tag_charge
    electrons = []
    for kinematics, charge, fields in (
        (tag, tag_charge, tag_fields),
        (probe, probe_charge, probe_fields),
    ):
        pt, eta, phi = kinematics
        electrons.append({"pt": pt, "eta": eta, "phi": phi, "charge": charge, **(fields or {})})
    trigger_objects = []
    for electron, bits, trigger_pt in (
        (electrons[0], tag_filter_bits, tag_trigger_pt),
        (electrons[1], probe_filter_bits, probe_trigger_pt),
    ):
        if bits is not None:
            trigger_objects.append(
                {
                    "pt": electron["pt"] if trigger_pt is None else trigger_pt,
                    "eta": electron["eta"],
                    "phi": electron["phi"],
                    "id": trigger_id,
                    "filterBits": bits,
                }
            )
    event: dict[str, Any] = {
        "Electron": electrons,
        "TrigObj": trigger_objects,
        "HLT": dict(hlt)
        if hlt is not None
        else {"Ele30_WPTight_Gsf": True, "Ele32_WPTight_Gsf": True},
    }
    if with_gen:
        particles = [(e["pt"], e["eta"], e["phi"], ELECTRON_MASS) for e in electrons]
        _, px, py, pz = (sum(c) for c in zip(*(_four_vector(*p) for p in particles), strict=True))
        z_pt = math.hypot(px, py)
        z_mass = invariant_mass(*particles)
        genpart = [
            {
                "pt": z_pt,
                "eta": math.asinh(pz / z_pt) if z_pt > 0 else 0.0,
                "phi": math.atan2(py, px),
                "mass": z_mass,
                "pdgId": 23,
                "status": 62,
                "statusFlags": GEN_HARD_PROCESS_FIRST,
                "genPartIdxMother": -1,
            }
        ]
        for position, electron in enumerate(electrons):
            genpart.append(
                {
                    "pt": electron["pt"],
                    "eta": electron["eta"],
                    "phi": electron["phi"],
                    "mass": ELECTRON_MASS,
                    "pdgId": -11 * int(electron["charge"]),
                    "status": 1,
                    "statusFlags": GEN_PROMPT_HARD_LAST,
                    "genPartIdxMother": 0,
                }
            )
            electron.setdefault("genPartIdx", position + 1)
            electron.setdefault("genPartFlav", 1)
        event["GenPart"] = genpart
    event.update(extra or {})
    return event
