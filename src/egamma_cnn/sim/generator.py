"""Pythia8 event generation: processes, generator filters, truth origins and GenPart.

This module is the first stage of the simulation chain. It runs Pythia8 (``pythia8mc``,
the ``sim`` extra) for the e/γ processes of ATL-PHYS-PUB-2023-001 §3.2 (
"Simulated samples used for CNN training and performance evaluation") at the Run-3
centre-of-mass energy of 13.6 TeV, applies the generator-level filters, classifies the
origin of every final-state particle (ATL-PHYS-PUB-2023-001 §3.1) and returns flat, columnar
containers (:class:`~egamma_cnn.sim.particles.ParticleBatch`) for the detector simulation.

Physics choices
---------------
* Tune: the ATLAS A14 tune with NNPDF2.3LO (``Tune:pp = 21``), as in ATL-PHYS-PUB-2023-001 §3.2 for
  the Pythia8 samples. NNPDF2.3 QED LO is built into Pythia (``PDF:pSet = 13``), so no
  LHAPDF is needed. Minimum bias uses the Monash 2013 tune (``Tune:pp = 14``): the
  ATLAS A3 minimum-bias tune of ATL-PHYS-PUB-2023-001 is not shipped with Pythia, A14 is an
  underlying-event tune that is not meant for soft inclusive events, and Monash was
  tuned to minimum-bias data with the same NNPDF2.3LO PDF.
* Decays: Pythia defaults. K0S, Λ, Σ, Ξ, Ω decay with displaced production vertices;
  π±, K±, K0L, μ± are stable (``mayDecay = off``) and are left to the detector.
* Units: GeV and mm, Pythia's own.

Event-record access
-------------------
Events are taken from Pythia in batches with ``Pythia.nextBatch`` (the awkward-array
interface of ``pythia8mc``), which translates the whole event record in C++. Measured on
Z→ee (about 1200 record entries per event): ``next()`` alone 6.1 ms/event; ``next()``
plus a Python loop over ``pythia.event`` reading 12 attributes per particle 13.4 ms/event
(indexed access ``event[i]``: 17.2 ms/event); ``nextBatch`` plus conversion to flat numpy
arrays 7.0-7.8 ms/event, i.e. the translation costs under 1 ms/event (one shared CPU core,
timings reproducible to ≈ 10%). Everything after the batch is vectorised numpy or numba:
origins, GenPart and the output containers add ≈ 0.8 ms/event.

Truth origins
-------------
:func:`classify_origins` follows each particle's ``mother1`` chain by pointer doubling
and assigns one :class:`~egamma_cnn.sim.particles.Origin` code (the rules are in its
docstring). In Pythia the first mother is always the informative one: the emitter of a
shower branching, the decaying particle, the copied particle, or the first parton of a
fragmenting string.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import awkward as ak
import numba
import numpy as np

from egamma_cnn.sim.particles import Origin, ParticleBatch, VertexTable

__all__ = [
    "BEAM_SPOT_SIGMA_XY_MM",
    "BEAM_SPOT_SIGMA_Z_MM",
    "COMMON_SETTINGS",
    "ECM_GEV",
    "JF_ETA_MAX",
    "JF_GRID_STEP",
    "JF_PTHAT_FRACTION",
    "JF_WINDOW",
    "PROCESSES",
    "EventGenerator",
    "GenParticles",
    "GeneratedEvents",
    "ProcessConfig",
    "classify_origins",
    "derive_seeds",
    "jf_filter",
    "jf_max_window_et",
]

#: Centre-of-mass energy of the LHC Run 3 [GeV].
ECM_GEV = 13600.0
#: Gaussian width of the luminous region along the beam [mm] (ATLAS Run 3, ≈ 35–45 mm).
BEAM_SPOT_SIGMA_Z_MM = 45.0
#: Transverse Gaussian width of the luminous region [mm] (≈ 15 µm).
BEAM_SPOT_SIGMA_XY_MM = 0.015

#: JF filter (ATL-PHYS-PUB-2023-001 §3.2): |η| range of the grid, window size and grid step in η
#: and φ.
JF_ETA_MAX = 2.7
JF_WINDOW = 0.1
JF_GRID_STEP = 0.05

#: Pythia's upper limit for ``Random:seed``.
_PYTHIA_SEED_MAX = 900_000_000
_MB_TO_PB = 1.0e9

_A14 = "Tune:pp = 21"  # ATLAS A14 central tune, NNPDF2.3LO (internal PDF set 13)
_MONASH = "Tune:pp = 14"  # Monash 2013 (Pythia default)

#: Settings common to every process (beam energy, silence). The tune comes first in each
#: process' own settings because ``Tune:pp`` resets the parameters it owns.
COMMON_SETTINGS: tuple[str, ...] = (
    f"Beams:eCM = {ECM_GEV:g}",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Init:showProcesses = off",
    "Init:showMultipartonInteractions = off",
)


@dataclass(frozen=True)
class ProcessConfig:
    """One generated process: Pythia settings plus an optional generator filter.

    Attributes
    ----------
    name
        Short name used on the command line and in file metadata.
    description
        The physics, its purpose in the training sample and its source.
    pythia_settings
        ``readString`` lines, applied after :data:`COMMON_SETTINGS`.
    jet_filter_et
        Threshold [GeV] of the JF filter (:func:`jf_filter`); ``None`` for no filter.
    photon_filter_pt
        If set, keep only events with a final-state photon of origin
        ``PROMPT_LEPTON_FSR`` above this p_T [GeV] and within ``photon_filter_abs_eta``.
    photon_filter_abs_eta
        |η| acceptance of the photon filter.
    """

    name: str
    description: str
    pythia_settings: tuple[str, ...]
    jet_filter_et: float | None = None
    photon_filter_pt: float | None = None
    photon_filter_abs_eta: float = 2.5


_ZEE_SETTINGS = (
    _A14,
    "WeakSingleBoson:ffbar2gmZ = on",
    "23:onMode = off",
    "23:onIfAny = 11",
    "PhaseSpace:mHatMin = 60.",
)

#: JF samples: PhaseSpace:pTHatMin as a fraction of the filter threshold.
#:
#: The JF filter wants E_T above threshold in one 0.1×0.1 window, i.e. a leading hadron or
#: π0 cluster carrying a large share of a jet's E_T, so the filter efficiency rises slowly
#: with pTHat and a pTHatMin at the threshold would cut away accepted events. Measured at
#: 13.6 TeV with A14 by generating with pTHatMin lowered to 0.5-0.6 × threshold (60k JF17,
#: 10k JF35, 40k JF50 events), the fraction of filter-accepted events with pTHat below
#: f × threshold is, for f = 0.7 / 0.75 / 0.8 / 0.85 / 1.0:
#: JF17 0.8% / 1.4% / 1.8% / 2.4% / 6.5%; JF35 0 / 1.0% / 1.9% / 1.9% / 8.7% (±1.4%);
#: JF50 0.6% / 1.2% / 2.3% / 3.0% / 8.9% (statistical uncertainty 0.2-0.8% for JF17 and
#: JF50). With f = 0.8 about 2% of the events the filter would accept are never generated
#: (a deficit of the filtered sample at low window E_T), and the filter efficiency is
#: ≈ 4.2% (JF17), 5.6% (JF35), 8.3% (JF50), against ≈ 3.3%, 4.5%, 6.6% at f = 0.75.
#: ATLAS's DC14-era JF17 used pTHatMin = 15 GeV (f = 0.88).
JF_PTHAT_FRACTION = 0.8


def _jf_settings(threshold: float) -> tuple[str, ...]:
    return (
        _A14,
        "HardQCD:all = on",
        "PromptPhoton:all = on",
        f"PhaseSpace:pTHatMin = {JF_PTHAT_FRACTION * threshold:.1f}",
    )


def _jf_config(threshold: int) -> ProcessConfig:
    return ProcessConfig(
        name=f"jf{threshold}",
        description=(
            f"JF{threshold} (ATL-PHYS-PUB-2023-001 §3.2): Pythia8 A14 2→2 QCD (HardQCD:all) plus "
            "qg→qγ and qq̄→gγ (PromptPhoton:all) with pTHatMin = "
            f"{JF_PTHAT_FRACTION * threshold:.1f} GeV, filtered on Σ E_T > "
            f"{threshold} GeV of final-state particles (no μ, ν) in a 0.1×0.1 η×φ "
            "window, |η| < 2.7. Source of light-flavour hadron fakes, light-flavour "
            "e/γ and heavy-flavour electrons."
        ),
        pythia_settings=_jf_settings(float(threshold)),
        jet_filter_et=float(threshold),
    )


#: The processes of ATL-PHYS-PUB-2023-001 §3.2 at 13.6 TeV, by name.
PROCESSES: dict[str, ProcessConfig] = {
    "zee": ProcessConfig(
        name="zee",
        description=(
            "Drell-Yan Z/γ*→ee with m(ee) > 60 GeV (ATL-PHYS-PUB-2023-001 §3.2, 'Z→ee' and "
            "'Drell-Yan γ*/Z→ee'), Pythia8 A14, full γ*/Z interference. Source of "
            "prompt and charge-flip electrons and of tag-and-probe pairs."
        ),
        pythia_settings=_ZEE_SETTINGS,
    ),
    "wenu": ProcessConfig(
        name="wenu",
        description=(
            "W±→e±ν (ATL-PHYS-PUB-2023-001 §3.2, 'W→eν'), Pythia8 A14 (WeakSingleBoson:ffbar2W). "
            "Source of prompt electrons."
        ),
        pythia_settings=(
            _A14,
            "WeakSingleBoson:ffbar2W = on",
            "24:onMode = off",
            "24:onIfAny = 11",
        ),
    ),
    "jf17": _jf_config(17),
    "jf35": _jf_config(35),
    "jf50": _jf_config(50),
    "gammajet": ProcessConfig(
        name="gammajet",
        description=(
            "γ+jet (ATL-PHYS-PUB-2023-001 §3.2, 'photon+jets'): qg→qγ and qq̄→gγ "
            "(PromptPhoton:all), "
            "Pythia8 A14, pTHatMin = 15 GeV. Source of prompt photons and their "
            "conversions."
        ),
        pythia_settings=(_A14, "PromptPhoton:all = on", "PhaseSpace:pTHatMin = 15."),
    ),
    "zeegamma": ProcessConfig(
        name="zeegamma",
        description=(
            "Z/γ*→ee (m > 60 GeV) with a generator filter requiring a final-state photon "
            "with p_T > 10 GeV and |η| < 2.5 radiated by a Z-decay electron "
            "(origin PROMPT_LEPTON_FSR), Pythia8 A14 with its QED final-state shower. "
            "Source of radiative Z→eeγ photons for photon studies (Franco's photon-ID talk)."
        ),
        pythia_settings=_ZEE_SETTINGS,
        photon_filter_pt=10.0,
        photon_filter_abs_eta=2.5,
    ),
    "minbias": ProcessConfig(
        name="minbias",
        description=(
            "Inelastic pp (SoftQCD:inelastic: non-diffractive plus diffractive) for "
            "pile-up overlay (ATL-PHYS-PUB-2023-001 §3.2), Pythia8 Monash 2013 "
            "(the A3 tune used by "
            "ATLAS is not shipped with Pythia)."
        ),
        pythia_settings=(_MONASH, "SoftQCD:inelastic = on"),
    ),
}


# ----------------------------------------------------------------------------------------
# JF filter (ATL-PHYS-PUB-2023-001 §3.2)
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _grid_cell(eta, phi, eta_max, step, n_eta, dphi, n_phi):
    """(η, φ) cell of a particle, or (-1, -1) outside |η| < eta_max."""
    if not (abs(eta) < eta_max):
        return -1, -1
    ie = min(int((eta + eta_max) / step), n_eta - 1)
    ip = int((phi + math.pi) / dphi) % n_phi  # φ + π ≥ 0: truncation is floor
    return ie, ip


@numba.njit(cache=True)
def _max_window_et_kernel(offsets, eta, phi, et, eta_max, step, n_eta, n_phi, n_win_eta, n_win_phi):
    n_events = len(offsets) - 1
    dphi = 2.0 * math.pi / n_phi
    grid = np.zeros((n_eta, n_phi))
    out = np.zeros(n_events)
    for iev in range(n_events):
        lo = offsets[iev]
        hi = offsets[iev + 1]
        for i in range(lo, hi):
            ie, ip = _grid_cell(eta[i], phi[i], eta_max, step, n_eta, dphi, n_phi)
            if ie >= 0:
                grid[ie, ip] += et[i]
        # every window that contains a non-empty cell; windows stay inside the η range
        best = 0.0
        for i in range(lo, hi):
            ie, ip = _grid_cell(eta[i], phi[i], eta_max, step, n_eta, dphi, n_phi)
            if ie < 0:
                continue
            for a in range(n_win_eta):
                e0 = ie - a
                if e0 < 0 or e0 + n_win_eta > n_eta:
                    continue
                for b in range(n_win_phi):
                    p0 = ip - b
                    s = 0.0
                    for de in range(n_win_eta):
                        for dp in range(n_win_phi):
                            s += grid[e0 + de, (p0 + dp) % n_phi]
                    best = max(best, s)
        out[iev] = best
        for i in range(lo, hi):  # reset only the touched cells
            ie, ip = _grid_cell(eta[i], phi[i], eta_max, step, n_eta, dphi, n_phi)
            if ie >= 0:
                grid[ie, ip] = 0.0
    return out


def jf_max_window_et(
    offsets: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    et: np.ndarray,
    eta_max: float = JF_ETA_MAX,
    window: float = JF_WINDOW,
    step: float = JF_GRID_STEP,
) -> np.ndarray:
    """Largest E_T sum in a sliding Δη×Δφ window, per event (the JF filter variable).

    The (η, φ) plane within |η| < ``eta_max`` is divided into cells of ``step`` in η and
    ``2π / round(2π / step)`` in φ; a window is ``round(window / step)`` cells on each
    side (2×2 cells of 0.05 for the 0.1×0.1 window of ATL-PHYS-PUB-2023-001 §3.2) and slides by one
    cell, wrapping in φ and staying inside the η range. Particles at |η| ≥ ``eta_max``
    are ignored.

    Parameters
    ----------
    offsets
        Event boundaries, length ``n_events + 1``.
    eta, phi, et
        Flat per-particle η, φ and E_T [GeV] of the particles to sum (the caller selects
        them: final-state hard-scatter particles except muons and neutrinos).
    eta_max, window, step
        Grid extent, window size and grid step.

    Returns
    -------
    numpy.ndarray
        float64 per event; 0 for an event without particles in range.
    """
    n_eta = max(1, round(2.0 * eta_max / step))
    n_phi = round(2.0 * math.pi / step)
    n_win = max(1, round(window / step))
    n_win_phi = max(1, round(window / (2.0 * math.pi / n_phi)))
    return _max_window_et_kernel(
        np.asarray(offsets, np.int64),
        np.asarray(eta, np.float64),
        np.asarray(phi, np.float64),
        np.asarray(et, np.float64),
        float(eta_max),
        float(step),
        int(n_eta),
        int(n_phi),
        int(n_win),
        int(n_win_phi),
    )


def jf_filter(
    offsets: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    et: np.ndarray,
    threshold: float,
    eta_max: float = JF_ETA_MAX,
    window: float = JF_WINDOW,
    step: float = JF_GRID_STEP,
) -> np.ndarray:
    """ATLAS JF generator filter (ATL-PHYS-PUB-2023-001 §3.2): accept events with a window above
    threshold.

    An event passes if the E_T of final-state hard-scatter particles (muons and neutrinos
    excluded by the caller) summed in some 0.1×0.1 window of η×φ within |η| < 2.7
    exceeds ``threshold`` (17, 35 or 50 GeV for JF17/35/50). See
    :func:`jf_max_window_et` for the grid.

    Returns
    -------
    numpy.ndarray
        bool per event.
    """
    return jf_max_window_et(offsets, eta, phi, et, eta_max, window, step) > threshold


# ----------------------------------------------------------------------------------------
# PDG helpers and origin classification (ATL-PHYS-PUB-2023-001 §3.1)
# ----------------------------------------------------------------------------------------

_F_LIGHT = np.uint8(1)  # light-flavour hadron
_F_HEAVY = np.uint8(2)  # b- or c-hadron (quarkonia excluded)
_F_BOSON = np.uint8(4)  # W, Z, γ* (s-channel) or a quarkonium (prompt J/ψ rule)
_F_TAU_DECAY = np.uint8(8)  # a τ decay product (not a photon radiated by the τ)
_F_PROMPT_PHOTON = np.uint8(16)  # hard-process photon or photon radiated off a quark
_F_LEPTON_FSR = np.uint8(32)  # photon radiated by a boson-decay lepton

_MAX_DOUBLINGS = 24  # chains up to 2**24 entries: always enough


def _hadron_kinds(apdg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is_hadron, is_heavy_hadron, is_quarkonium) from |PDG id| (PDG numbering scheme)."""
    nq1 = (apdg // 1000) % 10
    nq2 = (apdg // 100) % 10
    nq3 = (apdg // 10) % 10
    # 99xxxxx: Pythia's diffractive states and colour-octet onia; 990: pomeron
    valid = (apdg >= 100) & (apdg < 9_900_000) & (apdg != 990) & (nq2 > 0) & (nq3 > 0)
    baryon = valid & (nq1 > 0)
    meson = valid & (nq1 == 0)
    is_hadron = baryon | meson
    heaviest = np.where(baryon, nq1, nq2)
    heavy = is_hadron & ((heaviest == 4) | (heaviest == 5))
    onium = meson & (nq2 == nq3) & ((nq2 == 4) | (nq2 == 5))
    return is_hadron, heavy & ~onium, onium


def _sanitize_mothers(mother1: np.ndarray) -> np.ndarray:
    """Mother pointers with 'no mother' (negative, out of range or self) → sentinel n."""
    n = len(mother1)
    m = np.asarray(mother1, np.int64).copy()
    bad = (m < 0) | (m >= n) | (m == np.arange(n))
    m[bad] = n
    return np.append(m, n)  # the sentinel is its own mother


def _doubling_levels(anc: np.ndarray) -> list[np.ndarray]:
    """Ancestor tables at distances 1, 2, 4, ... until every chain reached the sentinel."""
    sentinel = len(anc) - 1
    levels = [anc]
    for _ in range(_MAX_DOUBLINGS):
        if np.all(anc == sentinel):
            break
        anc = anc[anc]
        levels.append(anc)
    return levels


def _accumulate(levels: list[np.ndarray], flags: np.ndarray) -> np.ndarray:
    """OR of ``flags`` over all strict ancestors (flags has the sentinel slot, value 0)."""
    acc = flags[levels[0]]
    for anc in levels[:-1]:
        acc = acc | acc[anc]
    return acc


def classify_origins(
    pdg_id: np.ndarray,
    status: np.ndarray,
    mother1: np.ndarray,
    mother2: np.ndarray,
    is_final: np.ndarray,
) -> np.ndarray:
    """Truth origin (:class:`~egamma_cnn.sim.particles.Origin`) of every record entry.

    Works on the full Pythia event record of one event (index 0 the system entry, whose
    mother is itself), or on several records concatenated, provided ``mother1`` holds
    *global* indices (each event's offset added). Mothers that are negative, out of
    range or the entry itself end a chain. The chain of an entry is followed through
    ``mother1`` by pointer doubling (log₂ of the chain length numpy steps), OR-ing flags
    of its strict ancestors: light-flavour hadron, b/c hadron (quarkonia excluded; the
    beam particles, status 11-19, do not count),
    W/Z/γ* boson (PDG 23, 24, or 22 with |status| 22; a quarkonium counts as a boson so
    that a prompt J/ψ→ee gives prompt electrons, ATL-PHYS-PUB-2023-001 §3.1), τ, prompt photon and
    lepton-FSR photon.

    Rules, in priority order:

    * final hadron → ``HADRON`` (whatever it came from);
    * μ, τ, ν → ``OTHER_LEPTON``;
    * e± or γ with a b/c-hadron ancestor → ``HEAVY_FLAVOUR``;
    * e± or γ with a light-hadron ancestor → ``LIGHT_HADRON_DECAY``;
    * e± or γ from a τ decay (status 91-99 daughter of a τ, or its descendant) →
      ``OTHER_LEPTON`` (e.g. Z→ττ, τ→eνν);
    * a photon radiated by a charged lepton from a boson decay (photon whose mother is
      e/μ/τ with a boson ancestor, no hadron ancestor and not a τ decay product), and
      e± or γ descending from such a photon → ``PROMPT_LEPTON_FSR``;
    * a hard-process photon (|status| 23 or 33) or a photon whose mother is a quark
      (QCD-shower ISR/FSR photon), and e±/γ descending from one → ``PROMPT_PHOTON``;
    * e± with a boson ancestor → ``BOSON_DECAY``;
    * anything else → ``UNKNOWN``.

    Parameters
    ----------
    pdg_id, status, mother1, mother2, is_final
        Record columns (Pythia conventions). ``mother2`` and ``is_final`` are accepted
        so that the whole record can be passed, but the rules need neither: in Pythia
        the first mother is the emitter, the decaying or copied particle, or the first
        parton of a string, and non-final entries (e.g. the Born-level Z-decay electron)
        get the code their chain implies.

    Returns
    -------
    numpy.ndarray
        int8 origin code per entry (meaningful for final-state entries).
    """
    del mother2, is_final  # see Parameters
    pdg = np.asarray(pdg_id, np.int64)
    apdg = np.abs(pdg)
    astatus = np.abs(np.asarray(status, np.int64))
    n = len(pdg)
    if n == 0:
        return np.zeros(0, np.int8)
    anc = _sanitize_mothers(mother1)
    m1 = anc[:n]

    is_hadron, heavy, onium = _hadron_kinds(apdg)
    photon = pdg == 22
    boson = (apdg == 23) | (apdg == 24) | (photon & (astatus == 22)) | onium
    mother_apdg = np.append(apdg, 0)[m1]
    prompt_photon = (
        photon
        & ~boson
        & (mother_apdg != 22)
        & ((astatus == 23) | (astatus == 33) | ((mother_apdg >= 1) & (mother_apdg <= 6)))
    )
    # τ decay products carry status 91-99; photons the τ radiates in the shower do not
    tau_decay = (mother_apdg == 15) & (apdg != 15) & (astatus >= 91) & (astatus <= 99)
    # the beam protons (status 11-19) are hadrons but no particle "comes from" them
    produced = (astatus < 11) | (astatus > 19)
    own = np.zeros(n + 1, np.uint8)
    for mask, bit in (
        (is_hadron & ~heavy & ~onium & produced, _F_LIGHT),
        (heavy & produced, _F_HEAVY),
        (boson, _F_BOSON),
        (tau_decay, _F_TAU_DECAY),
        (prompt_photon, _F_PROMPT_PHOTON),
    ):
        own[:n][mask] |= bit

    levels = _doubling_levels(anc)
    ancestors = _accumulate(levels, own)  # OR over strict ancestors, length n + 1
    self_or_anc = own | ancestors

    # second pass: a photon radiated by a boson-decay lepton needs its mother's ancestry
    mother_flags = self_or_anc[m1]
    lepton_fsr = (
        photon
        & ((mother_apdg == 11) | (mother_apdg == 13) | (mother_apdg == 15))
        & ((mother_flags & _F_BOSON) != 0)
        & ((mother_flags & (_F_LIGHT | _F_HEAVY | _F_TAU_DECAY)) == 0)
    )
    fsr_own = np.zeros(n + 1, np.uint8)
    fsr_own[:n][lepton_fsr] = _F_LEPTON_FSR
    fsr_chain = (fsr_own | _accumulate(levels, fsr_own))[:n] != 0
    anc_flags = ancestors[:n]
    soa = self_or_anc[:n]

    e_or_gamma = (apdg == 11) | photon
    other_lepton = (apdg >= 12) & (apdg <= 18)  # μ, τ, ν (and 4th-generation codes)
    rules = (
        (is_hadron, Origin.HADRON),
        (other_lepton, Origin.OTHER_LEPTON),
        (e_or_gamma & ((anc_flags & _F_HEAVY) != 0), Origin.HEAVY_FLAVOUR),
        (e_or_gamma & ((anc_flags & _F_LIGHT) != 0), Origin.LIGHT_HADRON_DECAY),
        (e_or_gamma & ((soa & _F_TAU_DECAY) != 0), Origin.OTHER_LEPTON),
        (e_or_gamma & fsr_chain, Origin.PROMPT_LEPTON_FSR),
        (e_or_gamma & ((soa & _F_PROMPT_PHOTON) != 0), Origin.PROMPT_PHOTON),
        ((apdg == 11) & ((anc_flags & _F_BOSON) != 0), Origin.BOSON_DECAY),
    )
    origin = np.select(
        [cond for cond, _ in rules], [int(code) for _, code in rules], default=int(Origin.UNKNOWN)
    )
    return origin.astype(np.int8)


def _nearest_kept_ancestor(levels: list[np.ndarray], keep: np.ndarray) -> np.ndarray:
    """Flat index of the nearest strict ancestor with ``keep`` true, -1 if none.

    ``keep`` has the sentinel slot (False). Pointer doubling: ``found`` at distance ≤ L
    combines as ``found_L(i) if found_L(i) ≥ 0 else found_L(anc_L(i))``.
    """
    n1 = len(keep)
    idx = np.arange(n1)
    first = levels[0]
    found = np.where(keep[first], first, -1)
    for anc in levels[:-1]:
        found = np.where(found >= 0, found, found[anc])
    found[idx == n1 - 1] = -1
    return found


# ----------------------------------------------------------------------------------------
# Containers
# ----------------------------------------------------------------------------------------


@dataclass
class GenParticles:
    """Slimmed generator record of a batch of events (NanoAOD ``GenPart``), flat with offsets.

    Kept entries: hard-process W, Z and γ* (last copy) and their direct decay leptons;
    hard-process, quark-radiated and lepton-FSR photons with p_T > 5 GeV (the first
    entry of each such photon); b- and c-hadrons (quarkonia included) with p_T > 3 GeV;
    every final-state e± and γ with p_T > 2 GeV. ``mother_index`` is the index, within
    the same event's slimmed list, of the nearest kept ancestor along the ``mother1``
    chain (-1 if none), like NanoAOD's ``genPartIdxMother``. ``status`` is HepMC-like:
    1 final state, 2 decayed hadron, τ or μ, 4 beam, otherwise Pythia's |status|.
    ``origin`` is the :func:`classify_origins` code of the entry. Kinematics are at the
    generator level (GeV); ``mass`` is Pythia's generated mass.
    """

    offsets: np.ndarray  # int64, n_events + 1
    pdg_id: np.ndarray  # int32
    status: np.ndarray  # int32
    pt: np.ndarray  # float64
    eta: np.ndarray
    phi: np.ndarray
    mass: np.ndarray
    mother_index: np.ndarray  # int32, local index or -1
    origin: np.ndarray  # int8

    #: NanoAOD branch suffixes (``GenPart_<name>``) of the fields.
    NANOAOD_NAMES: ClassVar[dict[str, str]] = {
        "pdg_id": "pdgId",
        "status": "status",
        "pt": "pt",
        "eta": "eta",
        "phi": "phi",
        "mass": "mass",
        "mother_index": "genPartIdxMother",
        "origin": "origin",
    }

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.offsets) - 1

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def branches(self) -> dict[str, np.ndarray]:
        """Flat NanoAOD-style columns ``{"GenPart_pdgId": ..., ...}`` (plus counts)."""
        out = {"nGenPart": np.diff(self.offsets).astype(np.int32)}
        for attr, name in self.NANOAOD_NAMES.items():
            out[f"GenPart_{name}"] = getattr(self, attr)
        return out

    @classmethod
    def concatenate_events(cls, parts: list[GenParticles]) -> GenParticles:
        """Concatenate along the event axis (indices are event-local, so unchanged)."""
        if not parts:
            return _empty_genparts(0)
        shift = np.cumsum([0] + [len(p) for p in parts[:-1]])
        offsets = np.concatenate(
            [[0]] + [p.offsets[1:] + s for p, s in zip(parts, shift, strict=True)]
        )
        kw = {name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.NANOAOD_NAMES}
        return cls(offsets=offsets.astype(np.int64), **kw)


def _empty_genparts(n_events: int) -> GenParticles:
    z = np.zeros(0)
    return GenParticles(
        offsets=np.zeros(n_events + 1, np.int64),
        pdg_id=np.zeros(0, np.int32),
        status=np.zeros(0, np.int32),
        pt=z,
        eta=z.copy(),
        phi=z.copy(),
        mass=z.copy(),
        mother_index=np.zeros(0, np.int32),
        origin=np.zeros(0, np.int8),
    )


@dataclass
class GeneratedEvents:
    """Output of :meth:`EventGenerator.generate` for one batch of accepted events.

    Attributes
    ----------
    particles
        Final-state particles (neutrinos dropped, |η| < 5), production vertices shifted
        by the event's hard-scatter vertex, ``vertex_index`` 0.
    genpart
        Slimmed generator record; ``particles.gen_index`` points into it.
    vertices
        One vertex per event: the smeared hard-scatter vertex [mm].
    n_tried
        Events Pythia generated (successfully) to obtain these, filter rejections included.
    cross_section_pb
        Pythia's estimate of the generated cross section ``sigmaGen`` [pb] *before* the
        generator filter (multiply by :attr:`filter_efficiency` for the filtered sample).
    weight
        Per-event generator weight (``genWeight``; 1 for these unweighted processes).
    process
        Name of the process.
    """

    particles: ParticleBatch
    genpart: GenParticles
    vertices: VertexTable
    n_tried: int
    cross_section_pb: float
    weight: np.ndarray
    process: str = ""
    cross_section_error_pb: float = 0.0

    @property
    def n_events(self) -> int:
        """Number of accepted events."""
        return self.particles.n_events

    @property
    def filter_efficiency(self) -> float:
        """Accepted over tried events (1 for unfiltered processes)."""
        return self.n_events / self.n_tried if self.n_tried else 0.0

    @property
    def filtered_cross_section_pb(self) -> float:
        """Cross section of the filtered sample [pb]: σ_gen × filter efficiency."""
        return self.cross_section_pb * self.filter_efficiency


# ----------------------------------------------------------------------------------------
# Batch record helpers
# ----------------------------------------------------------------------------------------


@dataclass
class _Record:
    """Full Pythia event records of a batch, flat (mothers event-local, Pythia indices)."""

    offsets: np.ndarray
    pdg: np.ndarray
    status: np.ndarray
    mother1: np.ndarray
    mother2: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    m: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vz: np.ndarray
    weight: np.ndarray  # per event

    @classmethod
    def from_awkward(cls, batch: ak.Array) -> _Record:
        prt = batch["prt"]
        counts = ak.to_numpy(ak.num(prt, axis=1)).astype(np.int64)
        flat = ak.flatten(prt, axis=1)
        mom = flat["p"]
        vprod = flat["vProd"]

        def col(a: Any, dtype: Any) -> np.ndarray:
            return np.asarray(ak.to_numpy(a), dtype=dtype)

        def vcol(name: str) -> np.ndarray:
            return col(ak.fill_none(vprod[name], 0.0), np.float64)

        weights = batch["info"]["weights"]
        w = col(ak.fill_none(ak.firsts(weights, axis=1), 1.0), np.float64)
        return cls(
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            pdg=col(flat["id"], np.int32),
            status=col(flat["status"], np.int32),
            mother1=col(flat["mother1"], np.int64),
            mother2=col(flat["mother2"], np.int64),
            px=col(mom["px"], np.float64),
            py=col(mom["py"], np.float64),
            pz=col(mom["pz"], np.float64),
            e=col(mom["e"], np.float64),
            m=col(flat["m"], np.float64),
            vx=vcol("px"),
            vy=vcol("py"),
            vz=vcol("pz"),
            weight=w,
        )

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    def event_start(self) -> np.ndarray:
        """Offset of each entry's event (to turn local mother indices global)."""
        return np.repeat(self.offsets[:-1], np.diff(self.offsets))

    def select_events(self, index: np.ndarray) -> _Record:
        index = np.asarray(index, np.int64)
        counts = np.diff(self.offsets)[index]
        new_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        rows = _ranges(self.offsets[index], counts)
        kw = {name: getattr(self, name)[rows] for name in _RECORD_COLUMNS}
        return _Record(offsets=new_offsets, weight=self.weight[index], **kw)


_RECORD_COLUMNS = (
    "pdg",
    "status",
    "mother1",
    "mother2",
    "px",
    "py",
    "pz",
    "e",
    "m",
    "vx",
    "vy",
    "vz",
)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for each (s, c), without a Python loop."""
    starts = np.asarray(starts, np.int64)
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    first = np.cumsum(counts) - counts
    return np.repeat(starts - first, counts) + np.arange(total, dtype=np.int64)


def _offsets_of(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Offsets of the entries selected by ``mask`` within each event."""
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    return c[offsets]


def _pt_eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, ...]:
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    eta = np.nan_to_num(np.clip(eta, -20.0, 20.0), nan=0.0)
    return pt, eta, np.arctan2(py, px)


_NEUTRINOS = (12, 14, 16, 18)


def _hepmc_status(
    status: np.ndarray, apdg: np.ndarray, is_hadron: np.ndarray, has_copy: np.ndarray
) -> np.ndarray:
    """HepMC-like status: 1 final, 2 decayed hadron/τ/μ, 4 beam, else |Pythia status|."""
    astatus = np.abs(status)
    decayed = (status < 0) & (is_hadron | (apdg == 15) | (apdg == 13)) & ~has_copy
    beam = (status == -11) | (status == -12)
    return np.select([status > 0, decayed, beam], [1, 2, 4], default=astatus).astype(np.int32)


# ----------------------------------------------------------------------------------------
# The generator
# ----------------------------------------------------------------------------------------


def derive_seeds(seed: int) -> tuple[int, np.random.Generator]:
    """Pythia ``Random:seed`` and the beam-spot random generator derived from ``seed``.

    Both come from ``numpy.random.SeedSequence([seed, "egam"])`` spawned twice, so nearby
    seeds give unrelated streams. The Pythia seed lies in 1..900000000 (Pythia's range).

    Raises
    ------
    ValueError
        If ``seed`` is negative.
    """
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    pythia_ss, vertex_ss = np.random.SeedSequence([int(seed), 0x6567616D]).spawn(2)
    pythia_seed = int(pythia_ss.generate_state(1)[0]) % _PYTHIA_SEED_MAX + 1
    return pythia_seed, np.random.default_rng(vertex_ss)


class EventGenerator:
    """Pythia8 generator for one of :data:`PROCESSES`, with its filter and truth.

    Parameters
    ----------
    process
        Name of a process in :data:`PROCESSES`.
    seed
        Non-negative integer. Pythia's ``Random:seed`` (1..900000000) and the beam-spot
        generator are both derived from it (through ``numpy.random.SeedSequence``), so
        the same seed gives identical output and nearby seeds are independent.
    max_batch
        Most events asked from Pythia in one ``nextBatch`` call (bounds memory: a JF
        record is ≈ 1500 entries).

    Notes
    -----
    The generator is stateful: consecutive :meth:`generate` calls continue the random
    sequence. Events generated past the last one needed are discarded (not counted in
    ``n_tried``).

    The cost of the JF samples is dominated by the filter rejection (efficiencies
    ≈ 4%, 6% and 8% for JF17, JF35 and JF50; see ``JF_PTHAT_FRACTION``).
    """

    def __init__(self, process: str, seed: int, max_batch: int = 500) -> None:
        if process not in PROCESSES:
            raise ValueError(
                f"unknown process {process!r}; valid processes are: {', '.join(PROCESSES)}"
            )
        if max_batch < 1:
            raise ValueError(f"max_batch must be ≥ 1, got {max_batch}")
        self.config = PROCESSES[process]
        self.seed = int(seed)
        self.pythia_seed, self._rng = derive_seeds(self.seed)
        self.max_batch = int(max_batch)

        import pythia8mc  # the 'sim' extra; imported here so the module loads without it

        self._pythia = pythia8mc.Pythia("", False)
        settings = (
            *self.config.pythia_settings,
            *COMMON_SETTINGS,
            "Random:setSeed = on",
            f"Random:seed = {self.pythia_seed}",
        )
        for line in settings:
            if not self._pythia.readString(line):
                raise RuntimeError(f"Pythia rejected setting {line!r} for process {process!r}")
        if not self._pythia.init():
            raise RuntimeError(f"Pythia initialisation failed for process {process!r}")
        self._charge_cache: dict[int, int] = {}
        self._n_tried_total = 0
        self._n_accepted_total = 0

    @property
    def process(self) -> str:
        """Name of the generated process."""
        return self.config.name

    def reseed(self, seed: int) -> None:
        """Restart the random streams from ``seed`` without initialising Pythia again.

        Pythia's ``Random:seed`` (through ``Pythia.rndm.init``) and the beam-spot
        generator are derived from ``seed`` as in the constructor. ``Pythia.init`` costs
        about 5 s for ``minbias`` (the multiparton-interaction tables), which a fresh
        generator per block of 100 events cannot afford. The events after a reseed are
        those of a generator that was initialised with the same constructor seed and
        then reseeded, whatever it generated before (tested in tests/test_pileup.py):
        keep one initialisation seed per use, and reseed per block.
        """
        self.seed = int(seed)
        self.pythia_seed, self._rng = derive_seeds(self.seed)
        self._pythia.rndm.init(self.pythia_seed)
        self._n_tried_total = 0
        self._n_accepted_total = 0

    # -- public -------------------------------------------------------------------------

    def generate(self, n_events: int) -> GeneratedEvents:
        """Generate ``n_events`` events that pass the process' generator filter.

        Parameters
        ----------
        n_events
            Number of accepted events wanted (≥ 0).

        Returns
        -------
        GeneratedEvents
            Final-state particles, slimmed GenPart, hard-scatter vertices, the number of
            events tried, the cross section and the per-event weights.
        """
        if n_events < 0:
            raise ValueError(f"n_events must be ≥ 0, got {n_events}")
        particles: list[ParticleBatch] = []
        genparts: list[GenParticles] = []
        weights: list[np.ndarray] = []
        n_acc = 0
        n_tried = 0
        while n_acc < n_events:
            remaining = n_events - n_acc
            size = min(self.max_batch, self._batch_size(remaining))
            record = _Record.from_awkward(self._pythia.nextBatch(size))
            accept, origins = self._apply_filter(record)
            idx = np.flatnonzero(accept)
            if len(idx) > remaining:
                idx = idx[:remaining]
                used = int(idx[-1]) + 1
            else:
                used = record.n_events
            n_tried += used
            self._n_tried_total += used
            self._n_accepted_total += len(idx)
            if len(idx) == 0:
                continue
            if len(idx) < record.n_events:
                if origins is not None:
                    origins = origins[_ranges(record.offsets[idx], np.diff(record.offsets)[idx])]
                record = record.select_events(idx)
            p, g = self._build(record, origins)
            particles.append(p)
            genparts.append(g)
            weights.append(record.weight)
            n_acc += len(idx)

        batch = ParticleBatch.concatenate_events(particles) if particles else ParticleBatch.empty()
        genpart = GenParticles.concatenate_events(genparts)
        # hard-scatter vertex, one per event, drawn in event order
        vtx = self._rng.normal(
            0.0,
            [BEAM_SPOT_SIGMA_XY_MM, BEAM_SPOT_SIGMA_XY_MM, BEAM_SPOT_SIGMA_Z_MM],
            size=(n_events, 3),
        )
        ev = batch.event_index
        batch.vx += vtx[ev, 0]
        batch.vy += vtx[ev, 1]
        batch.vz += vtx[ev, 2]
        vertices = VertexTable(
            offsets=np.arange(n_events + 1, dtype=np.int64),
            x=vtx[:, 0].copy(),
            y=vtx[:, 1].copy(),
            z=vtx[:, 2].copy(),
        )
        info = self._pythia.infoPython()
        return GeneratedEvents(
            particles=batch,
            genpart=genpart,
            vertices=vertices,
            n_tried=n_tried,
            cross_section_pb=float(info.sigmaGen()) * _MB_TO_PB,
            cross_section_error_pb=float(info.sigmaErr()) * _MB_TO_PB,
            weight=np.concatenate(weights) if weights else np.zeros(0),
            process=self.config.name,
        )

    # -- internals ----------------------------------------------------------------------

    @property
    def _filtered(self) -> bool:
        return self.config.jet_filter_et is not None or self.config.photon_filter_pt is not None

    def _batch_size(self, remaining: int) -> int:
        """Events to ask Pythia for: the expected number needed, +10% for filters."""
        if not self._filtered:
            return remaining
        if self._n_tried_total == 0:
            return remaining
        eff = max(self._n_accepted_total, 0.5) / self._n_tried_total
        return max(1, math.ceil(1.1 * remaining / min(eff, 1.0)))

    def _origins(self, record: _Record) -> np.ndarray:
        start = record.event_start()
        return classify_origins(
            record.pdg,
            record.status,
            record.mother1 + start,
            record.mother2 + start,
            record.status > 0,
        )

    def _apply_filter(self, record: _Record) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-event acceptance, and the origins if the filter needed them."""
        cfg = self.config
        accept = np.ones(record.n_events, bool)
        origins = None
        final = record.status > 0
        if cfg.jet_filter_et is not None:
            apdg = np.abs(record.pdg)
            vis = final & (apdg != 13) & ~np.isin(apdg, _NEUTRINOS)
            pt, eta, phi = _pt_eta_phi(record.px[vis], record.py[vis], record.pz[vis])
            pabs = np.sqrt(pt**2 + record.pz[vis] ** 2)
            with np.errstate(divide="ignore", invalid="ignore"):
                et = np.where(pabs > 0, record.e[vis] * pt / pabs, 0.0)
            accept &= jf_filter(_offsets_of(vis, record.offsets), eta, phi, et, cfg.jet_filter_et)
        if cfg.photon_filter_pt is not None:
            origins = self._origins(record)
            pt, eta, _ = _pt_eta_phi(record.px, record.py, record.pz)
            good = (
                final
                & (record.pdg == 22)
                & (origins == Origin.PROMPT_LEPTON_FSR)
                & (pt > cfg.photon_filter_pt)
                & (np.abs(eta) < cfg.photon_filter_abs_eta)
            )
            accept &= np.diff(_offsets_of(good, record.offsets)) > 0
        return accept, origins

    def _charges(self, pdg: np.ndarray) -> np.ndarray:
        ids, inverse = np.unique(pdg, return_inverse=True)
        pd = self._pythia.particleData
        table = np.empty(len(ids), np.int8)
        for k, pid in enumerate(ids.tolist()):
            q = self._charge_cache.get(pid)
            if q is None:
                q = round(pd.charge(pid))
                self._charge_cache[pid] = q
            table[k] = q
        return table[inverse]

    def _build(
        self, record: _Record, origins: np.ndarray | None
    ) -> tuple[ParticleBatch, GenParticles]:
        """Final-state ParticleBatch and slimmed GenPart of accepted events."""
        if origins is None:
            origins = self._origins(record)
        n = len(record.pdg)
        start = record.event_start()
        apdg = np.abs(record.pdg)
        final = record.status > 0
        pt, eta, phi = _pt_eta_phi(record.px, record.py, record.pz)
        is_hadron, heavy, onium = _hadron_kinds(apdg.astype(np.int64))

        # --- slimmed GenPart ---------------------------------------------------------
        anc = _sanitize_mothers(record.mother1 + start)
        m1 = anc[:n]
        photon = record.pdg == 22
        boson = (apdg == 23) | (apdg == 24) | (photon & (np.abs(record.status) == 22))
        has_copy = np.zeros(n + 1, bool)
        child = np.flatnonzero(m1 < n)
        same = record.pdg[child] == np.append(record.pdg, 0)[m1[child]]
        has_copy[m1[child[same]]] = True
        last_boson = boson & ~has_copy[:n]
        boson_ext = np.append(boson, False)
        decay_lepton = (apdg >= 11) & (apdg <= 16) & boson_ext[m1]
        photon_node = (
            photon
            & ((origins == Origin.PROMPT_PHOTON) | (origins == Origin.PROMPT_LEPTON_FSR))
            & (np.append(record.pdg, 0)[m1] != 22)
            & (pt > 5.0)
        )
        keep = (
            last_boson
            | decay_lepton
            | photon_node
            | ((heavy | onium) & (pt > 3.0))
            | (final & ((apdg == 11) | photon) & (pt > 2.0))
        )
        keep_ext = np.append(keep, False)
        levels = _doubling_levels(anc)
        mother_flat = _nearest_kept_ancestor(levels, keep_ext)[:n]
        kept = np.flatnonzero(keep)
        rank = np.cumsum(keep) - 1  # global slimmed index of kept entries
        g_offsets = _offsets_of(keep, record.offsets)
        ev_of = np.repeat(np.arange(record.n_events), np.diff(record.offsets))
        local = rank - g_offsets[ev_of]  # local slimmed index (valid where keep)
        mk = mother_flat[kept]
        g_mother = np.where(mk >= 0, local[np.maximum(mk, 0)], -1).astype(np.int32)
        genpart = GenParticles(
            offsets=g_offsets.astype(np.int64),
            pdg_id=record.pdg[kept].astype(np.int32),
            status=_hepmc_status(record.status[kept], apdg[kept], is_hadron[kept], has_copy[kept]),
            pt=pt[kept],
            eta=eta[kept],
            phi=phi[kept],
            mass=record.m[kept],
            mother_index=g_mother,
            origin=origins[kept].astype(np.int8),
        )

        # --- final-state particles ---------------------------------------------------
        sel = final & ~np.isin(apdg, _NEUTRINOS) & (np.abs(eta) < 5.0) & (pt > 0.0)
        rows = np.flatnonzero(sel)
        charge = self._charges(record.pdg[rows])
        gen_index = np.where(keep[rows], local[rows], -1).astype(np.int32)
        m = len(rows)
        particles = ParticleBatch(
            offsets=_offsets_of(sel, record.offsets).astype(np.int64),
            pdg_id=record.pdg[rows].astype(np.int32),
            charge=charge,
            px=record.px[rows],
            py=record.py[rows],
            pz=record.pz[rows],
            energy=record.e[rows],
            vx=record.vx[rows],
            vy=record.vy[rows],
            vz=record.vz[rows],
            origin=origins[rows].astype(np.int8),
            vertex_index=np.zeros(m, np.int32),
            true_charge=charge.copy(),
            gen_index=gen_index,
            parent=np.full(m, -1, np.int64),
        )
        return particles, genpart
