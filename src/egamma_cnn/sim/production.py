"""The whole production chain: generator → pile-up → material → calorimeter and tracker →
reconstruction → truth → NanoAOD-style columns → ROOT file.

Determinism and parallelism: a job of N events with seed S is cut into fixed blocks of
``BLOCK_SIZE`` events; block b draws every random number from
``SeedSequence([S, b])``. The output is therefore identical for any number of worker
processes, which only decide who computes which block; blocks are written in order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from tqdm import tqdm

from egamma_cnn.execution.clusters import WorkerDiedError, check_local_workers, task_pool
from egamma_cnn.geometry import cell_centers
from egamma_cnn.sim.calibration_tables import Calibrations, load_default_calibration
from egamma_cnn.sim.calorimeter import simulate_calorimeter
from egamma_cnn.sim.candidates import (
    best_tracks,
    build_candidates,
    leading_particles,
    match_tracks,
    matching_variables,
)
from egamma_cnn.sim.detector import DetectorConfig
from egamma_cnn.sim.generator import PROCESSES, EventGenerator
from egamma_cnn.sim.material import apply_material
from egamma_cnn.sim.particles import ParticleBatch, VertexTable
from egamma_cnn.sim.pileup import MinBiasPool, draw_interactions, mu_profile, overlay
from egamma_cnn.sim.propagation import (
    extrapolate_point_to_calorimeter_array,
    extrapolate_to_calorimeter_array,
)
from egamma_cnn.sim.reconstruction import (
    ReconstructionConfig,
    brem_recovery_energy,
    find_clusters,
    roi_cells,
)
from egamma_cnn.sim.tracker import TrackerConfig, reconstruct_tracks
from egamma_cnn.sim.truth import classify_electrons, photon_is_prompt
from egamma_cnn.sim.writer import check_output_target, remove_stale_temporaries, write_events

__all__ = [
    "BLOCK_SIZE",
    "MAX_PILEUP_MU",
    "ProductionConfig",
    "ReconstructedEvents",
    "produce",
    "reconstruct_events",
    "simulate_events",
]

#: Events per independently seeded block.
BLOCK_SIZE = 100
#: Seed the per-process minimum-bias generator is initialised with (it is reseeded for
#: every block, see :func:`_fresh_minbias`); fixed so that every process starts alike.
MINBIAS_INIT_SEED = 0x9E37
#: Largest mean pile-up ⟨μ⟩ accepted: the HL-LHC design (140–200). The overlay holds every
#: pile-up interaction of a block in memory (about 60 particles each), so an unphysical
#: ⟨μ⟩ (1e6) would grow until the kernel kills the job.
MAX_PILEUP_MU = 200.0
_DEFAULT_RECO = ReconstructionConfig()
_RUN_MC = 410000
_RUN_DATA = 500000


@dataclass(frozen=True)
class ProductionConfig:
    """What to produce.

    Attributes
    ----------
    process
        A process of :data:`egamma_cnn.sim.generator.PROCESSES`.
    n_events
        Number of events written (after generator filters), > 0.
    seed
        Master seed, ≥ 0.
    data_like
        Use :meth:`DetectorConfig.data_like` and write no truth branches.
    pileup_mu
        Mean number of pile-up interactions ⟨μ⟩ (0: none), at most
        :data:`MAX_PILEUP_MU` (200, the HL-LHC design). Per event μ is drawn from a
        Gaussian of width 0.15⟨μ⟩ (MC) or uniform in ±30 % (data-like, another profile).
    """

    process: str
    n_events: int
    seed: int = 1
    data_like: bool = False
    pileup_mu: float = 0.0
    detector: DetectorConfig = field(default_factory=DetectorConfig.mc)

    def __post_init__(self) -> None:
        if self.process not in PROCESSES:
            raise ValueError(
                f"unknown process {self.process!r}; choose from {', '.join(sorted(PROCESSES))}"
            )
        if self.n_events <= 0:
            raise ValueError(f"n_events must be > 0, got {self.n_events}")
        if self.seed < 0:
            raise ValueError(f"seed must be ≥ 0, got {self.seed}")
        if not 0 <= self.pileup_mu <= MAX_PILEUP_MU:
            raise ValueError(
                f"pileup_mu {self.pileup_mu}: the mean pile-up must be in [0, {MAX_PILEUP_MU:g}] "
                f"(the HL-LHC design is 140–200)"
            )
        if self.data_like and self.detector.name != "data-like":
            object.__setattr__(self, "detector", DetectorConfig.data_like())


@dataclass
class BlockTimes:
    """Seconds spent per stage in one block."""

    generator: float = 0.0
    pileup: float = 0.0
    detector: float = 0.0
    reconstruction: float = 0.0
    output: float = 0.0

    def __add__(self, other: BlockTimes) -> BlockTimes:
        return BlockTimes(**{k: getattr(self, k) + getattr(other, k) for k in vars(self)})


def _jagged(flat: np.ndarray, offsets: np.ndarray) -> ak.Array:
    return ak.unflatten(np.ascontiguousarray(flat), np.diff(offsets))


def _local(index: np.ndarray, owner_offsets: np.ndarray, event_of: np.ndarray) -> np.ndarray:
    """Flat indices → indices local to the event (keeping -1)."""
    return np.where(index >= 0, index - owner_offsets[event_of], -1).astype(np.int32)


@dataclass
class ReconstructedEvents:
    """Everything the detector simulation and reconstruction of a batch produce.

    ``reaches``, ``impact_eta`` and ``impact_phi`` say whether each particle after the
    material reaches the calorimeter and where it hits the EM middle layer (NaN where it
    does not; :mod:`.propagation`). ``electron_raw``/``photon_raw`` are the uncalibrated
    candidate energies (electron: window + brem recovery), ``electron_energy``/
    ``photon_energy`` the calibrated ones.
    """

    material: object
    reaches: np.ndarray
    impact_eta: np.ndarray
    impact_phi: np.ndarray
    deposits: object
    tracks: object
    clusters: object
    cands: object
    electron_raw: np.ndarray
    electron_energy: np.ndarray
    photon_raw: np.ndarray
    photon_energy: np.ndarray
    noise: np.ndarray
    times: BlockTimes


def reconstruct_events(
    particles: ParticleBatch,
    vertices: VertexTable,
    detector: DetectorConfig,
    rng: np.random.Generator,
    calibration: Calibrations | None = None,
    reco: ReconstructionConfig = _DEFAULT_RECO,
) -> ReconstructedEvents:
    """Material, calorimeter, tracker, clusters and candidates of a batch of events."""
    calibration = calibration or load_default_calibration()
    times = BlockTimes()
    n_ev = particles.n_events
    t0 = time.perf_counter()
    mat = apply_material(particles, detector, rng)
    p = mat.particles
    impact_eta, impact_phi = extrapolate_point_to_calorimeter_array(
        mat.start_x,
        mat.start_y,
        mat.start_z,
        p.pt * np.cos(mat.start_phi),
        p.pt * np.sin(mat.start_phi),
        p.pz,
        p.charge,
    )
    reaches = np.isfinite(impact_eta)
    seeds = rng.integers(0, 2**63 - 1, n_ev, dtype=np.int64).astype(np.uint64)
    deposits = simulate_calorimeter(p, reaches, impact_eta, impact_phi, detector, seeds)
    base = TrackerConfig()
    tracker_config = dataclasses.replace(
        base,
        hadron_track_efficiency=base.hadron_track_efficiency * detector.hadron_track_efficiency,
    )
    tracks = reconstruct_tracks(p, vertices, mat.momentum_loss, rng, tracker_config)
    t1 = time.perf_counter()
    times.detector = t1 - t0

    noise = detector.noise_gev * detector.noise_scale
    clusters = find_clusters(deposits, noise, None, reco)
    matches = match_tracks(clusters, tracks.offsets, tracks.eta_calo, tracks.phi_calo, reco)
    best = best_tracks(matches, tracks)
    # electron energy of every cluster with a best track: window + brem recovery
    with_track = np.flatnonzero(best >= 0)
    bt = best[with_track]
    dpp = np.clip(np.asarray(tracks.delta_p_over_p, np.float64)[bt], 0.0, 0.95)
    rem_eta, rem_phi = extrapolate_to_calorimeter_array(
        np.asarray(tracks.pt)[bt] * (1.0 - dpp),
        np.asarray(tracks.eta)[bt],
        np.asarray(tracks.phi)[bt],
        np.asarray(tracks.charge)[bt],
        np.asarray(tracks.z0)[bt],
    )
    cl_ev = np.repeat(np.arange(n_ev), np.diff(clusters.offsets))
    recovered = brem_recovery_energy(
        cl_ev[with_track],
        clusters.eta[with_track],
        clusters.phi[with_track],
        rem_eta,
        rem_phi,
        deposits,
        noise,
    )
    el_raw_all = clusters.energy_raw.copy()
    el_raw_all[with_track] += recovered
    el_energy_all = calibration.electron(np.abs(clusters.eta), el_raw_all)
    cands = build_candidates(clusters, tracks, reco, matches=matches, electron_energy=el_energy_all)
    ph_raw = clusters.energy_raw[cands.photon_cluster]
    times.reconstruction = time.perf_counter() - t1
    return ReconstructedEvents(
        material=mat,
        reaches=reaches,
        impact_eta=impact_eta,
        impact_phi=impact_phi,
        deposits=deposits,
        tracks=tracks,
        clusters=clusters,
        cands=cands,
        electron_raw=el_raw_all[cands.electron_cluster],
        electron_energy=el_energy_all[cands.electron_cluster],
        photon_raw=ph_raw,
        photon_energy=calibration.photon(np.abs(clusters.eta[cands.photon_cluster]), ph_raw),
        noise=noise,
        times=times,
    )


def simulate_events(
    particles: ParticleBatch,
    vertices: VertexTable,
    detector: DetectorConfig,
    rng: np.random.Generator,
    calibration: Calibrations | None = None,
    reco: ReconstructionConfig = _DEFAULT_RECO,
    with_truth: bool = True,
    genpart=None,
) -> tuple[dict[str, ak.Array], BlockTimes]:
    """Detector simulation and reconstruction of generator-level events, as columns.

    Returns the NanoAOD-style collections (``Electron``, ``Photon``, ``Track``,
    ``CaloCell`` as jagged records, and event-level ``PV_*``) and the stage timings.
    Usable without Pythia (e.g. with :func:`egamma_cnn.sim.gun.particle_gun`). With
    ``genpart`` (the generator's slimmed record) the truth kinematics are the generator
    particle's; otherwise those of the particle that made the track.
    """
    r = reconstruct_events(particles, vertices, detector, rng, calibration, reco)
    times = r.times
    p = r.material.particles
    tracks, clusters, cands, deposits, noise = r.tracks, r.clusters, r.cands, r.deposits, r.noise
    reaches, impact_eta, impact_phi = r.reaches, r.impact_eta, r.impact_phi
    n_ev = particles.n_events
    t1 = time.perf_counter()
    el_cl, ph_cl = cands.electron_cluster, cands.photon_cluster
    el_ev = np.repeat(np.arange(n_ev), np.diff(cands.electron_offsets))
    ph_ev = np.repeat(np.arange(n_ev), np.diff(cands.photon_offsets))
    # cells around every candidate cluster (a cluster that is both e and γ counts once)
    roi_cl = np.unique(np.concatenate([el_cl, ph_cl]))
    cl_ev = np.repeat(np.arange(n_ev), np.diff(clusters.offsets))
    roi_off = np.concatenate([[0], np.cumsum(np.bincount(cl_ev[roi_cl], minlength=n_ev))])
    cell_off, cells, cell_e = roi_cells(
        roi_off,
        clusters.eta[roi_cl],
        clusters.phi[roi_cl],
        deposits,
        noise,
        detector.roi_radius,
        detector.cell_threshold_sigma,
    )
    times.reconstruction += time.perf_counter() - t1

    t2 = time.perf_counter()
    centres = cell_centers(cells)
    out: dict[str, ak.Array] = {}
    out["CaloCell"] = ak.zip(
        {
            "eta": _jagged(centres["eta"].astype(np.float32), cell_off),
            "phi": _jagged(centres["phi"].astype(np.float32), cell_off),
            "energy": _jagged(cell_e.astype(np.float32), cell_off),
            "sampling": _jagged(centres["sampling"].astype(np.int16), cell_off),
        }
    )
    tr_ev = np.repeat(np.arange(n_ev), np.diff(tracks.offsets))
    track_fields = {
        "pt": tracks.pt,
        "eta": tracks.eta,
        "phi": tracks.phi,
        "charge": tracks.charge,
        "d0": tracks.d0,
        "d0Err": tracks.d0_err,
        "z0": tracks.z0,
        "z0Err": tracks.z0_err,
        "chi2": tracks.chi2,
        "ndof": tracks.ndof,
        "nBLayerHits": tracks.n_blayer_hits,
        "nPixelHits": tracks.n_pixel_hits,
        "nSCTHits": tracks.n_sct_hits,
        "nTRTHits": tracks.n_trt_hits,
        "nTRTHTHits": tracks.n_trt_ht_hits,
        "eProbabilityHT": tracks.e_probability_ht,
        "deltaPOverP": tracks.delta_p_over_p,
        "etaCalo": tracks.eta_calo,
        "phiCalo": tracks.phi_calo,
        "vtxIdx": tracks.vertex_index,
        "isTRTStandalone": tracks.is_trt_standalone,
    }
    float_fields = {
        "pt",
        "eta",
        "phi",
        "d0",
        "d0Err",
        "z0",
        "z0Err",
        "chi2",
        "eProbabilityHT",
        "deltaPOverP",
        "etaCalo",
        "phiCalo",
    }
    int16_fields = {
        "ndof",
        "nBLayerHits",
        "nPixelHits",
        "nSCTHits",
        "nTRTHits",
        "nTRTHTHits",
        "vtxIdx",
    }
    trk_cols = {}
    for name, arr in track_fields.items():
        arr = np.asarray(arr)
        if name in float_fields:
            arr = arr.astype(np.float32)
        elif name in int16_fields:
            arr = arr.astype(np.int16)
        elif name == "charge":
            arr = arr.astype(np.int8)
        elif name == "isTRTStandalone":
            arr = arr.astype(np.bool_)
        trk_cols[name] = arr
    part_of_track = np.asarray(tracks.particle_index, np.int64)
    if with_truth:
        gi = p.gen_index[part_of_track] if len(part_of_track) else np.zeros(0, np.int32)
        trk_cols["genPartIdx"] = gi.astype(np.int32)
    out["Track"] = ak.zip({k: _jagged(v, tracks.offsets) for k, v in trk_cols.items()})

    # electrons
    best = cands.electron_best_track
    trk_eta = np.asarray(tracks.eta)[best]
    trk_phi = np.asarray(tracks.phi)[best]
    e_cl = r.electron_energy
    deta1, dphi_res = matching_variables(clusters, el_cl, tracks, best, e_cl)
    el = {
        "pt": (e_cl / np.cosh(trk_eta)).astype(np.float32),
        "eta": trk_eta.astype(np.float32),
        "phi": trk_phi.astype(np.float32),
        "mass": np.full(len(el_cl), 0.000511, np.float32),
        "charge": np.asarray(tracks.charge)[best].astype(np.int8),
        "clusterEta": clusters.eta[el_cl].astype(np.float32),
        "clusterPhi": clusters.phi[el_cl].astype(np.float32),
        "clusterE": e_cl.astype(np.float32),
        "trackIdx": _local(best, tracks.offsets, el_ev),
    }
    for k in range(cands.electron_tracks.shape[1]):
        el[f"trackIdx{k + 1}"] = _local(cands.electron_tracks[:, k], tracks.offsets, el_ev)
    el["nTracks"] = cands.electron_n_tracks.astype(np.int16)
    el["photonIdx"] = _local(cands.electron_photon, cands.photon_offsets, el_ev)
    el["deltaEta1"] = deta1.astype(np.float32)
    el["deltaPhiRescaled2"] = dphi_res.astype(np.float32)

    # photons
    ph_cl_eta = clusters.eta[ph_cl]
    ph = {
        "pt": (r.photon_energy / np.cosh(ph_cl_eta)).astype(np.float32),
        "eta": ph_cl_eta.astype(np.float32),
        "phi": clusters.phi[ph_cl].astype(np.float32),
        "mass": np.zeros(len(ph_cl), np.float32),
        "clusterEta": ph_cl_eta.astype(np.float32),
        "clusterPhi": clusters.phi[ph_cl].astype(np.float32),
        "clusterE": r.photon_energy.astype(np.float32),
        "conversionType": cands.photon_conversion_type,
        "trackIdx1": _local(cands.photon_tracks[:, 0], tracks.offsets, ph_ev),
        "trackIdx2": _local(cands.photon_tracks[:, 1], tracks.offsets, ph_ev),
        "electronIdx": _local(cands.photon_electron, cands.electron_offsets, ph_ev),
    }
    # conversion radius estimate: the innermost layer radius where the leading track has
    # hits (reconstruction-level; -1 when unconverted)
    lead = cands.photon_tracks[:, 0]
    conv_r = np.full(len(ph_cl), -1.0)
    if len(lead) and len(tracks.pt):
        safe = np.maximum(lead, 0)
        npix = np.asarray(tracks.n_pixel_hits)[safe]
        nsct = np.asarray(tracks.n_sct_hits)[safe]
        r_first = np.where(
            npix >= 3,
            50.5,
            np.where(
                npix >= 1, 122.5, np.where(nsct >= 6, 299.0, np.where(nsct >= 1, 443.0, 554.0))
            ),
        )
        conv_r = np.where(lead >= 0, r_first, -1.0)
    ph["conversionRadius"] = conv_r.astype(np.float32)

    if with_truth:
        lead_p = leading_particles(clusters, p.offsets, impact_eta, impact_phi, p.energy, reaches)
        part = part_of_track[best] if len(best) else np.zeros(0, np.int64)
        lp_el = lead_p[el_cl]
        safe_lp = np.maximum(lp_el, 0)
        el["truthClass"] = classify_electrons(
            p.pdg_id[part],
            p.origin[part],
            p.true_charge[part],
            el["charge"],
            np.where(lp_el >= 0, p.pdg_id[safe_lp], 0),
            np.where(lp_el >= 0, p.origin[safe_lp], 0),
        )
        t_pt, t_eta, t_phi = _truth_kinematics(p, part, genpart, el_ev)
        el["truthPt"] = t_pt.astype(np.float32)
        el["truthEta"] = t_eta.astype(np.float32)
        el["truthPhi"] = t_phi.astype(np.float32)
        el["truthPdgId"] = p.pdg_id[part].astype(np.int32)
        el["truthCharge"] = p.true_charge[part].astype(np.int8)
        el["truthOrigin"] = p.origin[part].astype(np.int8)
        el["genPartIdx"] = p.gen_index[part].astype(np.int32)
        lp_ph = lead_p[ph_cl]
        safe = np.maximum(lp_ph, 0)
        has = lp_ph >= 0
        is_leg = (np.abs(p.pdg_id[safe]) == 11) & (np.hypot(p.vx[safe], p.vy[safe]) > 20.0)
        ph["isPrompt"] = has & photon_is_prompt(p.pdg_id[safe], p.origin[safe], is_leg)
        t_pt, t_eta, t_phi = _truth_kinematics(p, safe, genpart, ph_ev)
        ph["truthPt"] = np.where(has, t_pt, -1).astype(np.float32)
        ph["truthEta"] = np.where(has, t_eta, 0).astype(np.float32)
        ph["truthPhi"] = np.where(has, t_phi, 0).astype(np.float32)
        ph["truthPdgId"] = np.where(has, p.pdg_id[safe], 0).astype(np.int32)
        ph["truthOrigin"] = np.where(has, p.origin[safe], 0).astype(np.int8)
        ph["genPartIdx"] = np.where(has, p.gen_index[safe], -1).astype(np.int32)
    out["Electron"] = ak.zip({k: _jagged(v, cands.electron_offsets) for k, v in el.items()})
    out["Photon"] = ak.zip({k: _jagged(v, cands.photon_offsets) for k, v in ph.items()})
    n_vtx = np.bincount(tr_ev[np.asarray(tracks.vertex_index) >= 0], minlength=n_ev)
    out["PV_z"] = vertices.z[vertices.offsets[:-1]].astype(np.float32)
    out["PV_npvs"] = np.minimum(np.diff(vertices.offsets), np.maximum(n_vtx, 1)).astype(np.int32)
    times.output = time.perf_counter() - t2
    return out, times


def _truth_kinematics(p: ParticleBatch, index: np.ndarray, genpart, event: np.ndarray):
    """(pt, eta, phi) of the generator particle behind each particle (before material
    effects); the particle's own when it has no generator entry or no record is given."""
    pt, eta, phi = p.pt[index], p.eta[index], p.phi[index]
    if genpart is None or len(index) == 0:
        return pt, eta, phi
    gi = p.gen_index[index].astype(np.int64)
    ok = gi >= 0
    flat = np.where(ok, genpart.offsets[event] + gi, 0)
    if len(genpart.pt) == 0:
        return pt, eta, phi
    return (
        np.where(ok, genpart.pt[flat], pt),
        np.where(ok, genpart.eta[flat], eta),
        np.where(ok, genpart.phi[flat], phi),
    )


def _block_seed(seed: int, block: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, block])


def _simulate_block(
    cfg: ProductionConfig, block: int, n_events: int, first_event: int
) -> tuple[dict[str, ak.Array], BlockTimes, dict]:
    ss = _block_seed(cfg.seed, block)
    gen_seed, pu_seed, det_seed, minbias_seed = (int(s.generate_state(1)[0]) for s in ss.spawn(4))
    times = BlockTimes()
    t0 = time.perf_counter()
    gen = EventGenerator(cfg.process, gen_seed % 900_000_000 + 1).generate(n_events)
    times.generator = time.perf_counter() - t0
    t0 = time.perf_counter()
    particles, vertices = gen.particles, gen.vertices
    rng_pu = np.random.default_rng(pu_seed)
    if cfg.pileup_mu > 0:
        kind = "uniform" if cfg.data_like else "gaussian"
        mu = mu_profile(n_events, cfg.pileup_mu, rng_pu, kind=kind)
        n_pu = draw_interactions(mu, rng_pu)
        pool = _fresh_minbias(minbias_seed, int(n_pu.sum()))
        particles, vertices, n_pu = overlay(
            (particles, vertices), pool, mu, rng_pu, n_pileup=n_pu, reuse=False
        )
    else:
        mu = np.zeros(n_events)
        n_pu = np.zeros(n_events, np.int64)
    times.pileup = time.perf_counter() - t0
    cols, sim_times = simulate_events(
        particles,
        vertices,
        cfg.detector,
        np.random.default_rng(det_seed),
        with_truth=not cfg.data_like,
        genpart=None if cfg.data_like else gen.genpart,
    )
    times = times + sim_times
    t0 = time.perf_counter()
    ev = np.arange(first_event + 1, first_event + n_events + 1, dtype=np.uint64)
    run = _RUN_DATA if cfg.data_like else _RUN_MC
    out = {
        "run": np.full(n_events, run, np.uint32),
        "luminosityBlock": (1 + (ev - 1) // 1000).astype(np.uint32),
        "event": ev,
        "Pileup_nTrueInt": mu.astype(np.float32),
        "Pileup_nPU": np.asarray(n_pu).astype(np.int32),
    }
    if not cfg.data_like:
        out["genWeight"] = np.asarray(gen.weight, np.float32)
        g = gen.genpart
        out["GenPart"] = ak.zip(
            {
                "pt": _jagged(g.pt.astype(np.float32), g.offsets),
                "eta": _jagged(g.eta.astype(np.float32), g.offsets),
                "phi": _jagged(g.phi.astype(np.float32), g.offsets),
                "mass": _jagged(g.mass.astype(np.float32), g.offsets),
                "pdgId": _jagged(g.pdg_id.astype(np.int32), g.offsets),
                "status": _jagged(g.status.astype(np.int32), g.offsets),
                "genPartIdxMother": _jagged(g.mother_index.astype(np.int32), g.offsets),
            }
        )
    out.update(cols)
    times.output += time.perf_counter() - t0
    stats = {"n_tried": int(gen.n_tried), "cross_section_pb": float(gen.cross_section_pb)}
    return out, times, stats


_MINBIAS_GENERATOR: list[EventGenerator] = []


def _fresh_minbias(seed: int, n_events: int) -> MinBiasPool:
    """``n_events`` new minimum-bias events for one block: one per pile-up interaction.

    Every interaction of every event gets its own Pythia event, so the pile-up of a
    sample is as independent as its hard scatters (no event copied into many: see
    :mod:`egamma_cnn.sim.pileup`). The generator is initialised once per process with
    :data:`MINBIAS_INIT_SEED` and reseeded from the block's seed
    (:meth:`EventGenerator.reseed`), so a block's pile-up depends on its seed only, not
    on which process ran it or what it ran before. This per-process generator is the
    module's only global state. Cost: about 2 ms per interaction on one core (40 ms per
    event at ⟨μ⟩ = 20), measured in benchmarks/RESULTS.md.
    """
    if not _MINBIAS_GENERATOR:
        _MINBIAS_GENERATOR.append(EventGenerator("minbias", MINBIAS_INIT_SEED))
    generator = _MINBIAS_GENERATOR[0]
    generator.reseed(seed)
    # one spare event when no interaction is drawn: a pool is never empty
    return MinBiasPool.from_generated(generator.generate(max(n_events, 1)))


def _blocks(n_events: int) -> Iterator[tuple[int, int, int]]:
    """(block index, events, first event) of every block, lazily: a job of any size costs
    no memory before its first event."""
    first = 0
    b = 0
    while first < n_events:
        n = min(BLOCK_SIZE, n_events - first)
        yield b, n, first
        first += n
        b += 1


def _in_order(pool: Any, cfg: ProductionConfig, blocks: Iterator, window: int) -> Iterator:
    """Results of ``_simulate_block`` for ``blocks`` in block order, with at most
    ``window`` blocks submitted to ``pool`` and not yet taken."""
    pending: deque = deque()
    for b, n, first in blocks:
        pending.append(pool.submit(_simulate_block, cfg, b, n, first))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` like Ctrl-C until exit, so that a batch
    system's SIGTERM removes the temporary and stops the workers.

    Only where SIGTERM has its default action (kill without cleanup) and in the main
    thread: a handler the caller installed (the CLI's) or an ignored SIGTERM is kept.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _is_temporary_of(filename: Any, out: Path) -> bool:
    """Whether ``filename`` (of an ``OSError``) is a temporary of ``out`` (``.<name>.*``)."""
    if not isinstance(filename, str):
        return False
    path = Path(filename)
    return path.parent == out.parent and path.name.startswith(f".{out.name}.")


def produce(
    cfg: ProductionConfig,
    out: str | Path,
    workers: int = 1,
    progress: bool = True,
    command: str = "",
    settings: Any = None,
    overwrite: bool = False,
) -> dict:
    """Produce a sample file; returns a summary (events, timings, filter efficiency).

    The event blocks are simulated on ``workers`` processes of this machine (at most
    :func:`~egamma_cnn.execution.clusters.max_local_workers`), or on the cluster of
    ``settings`` (:class:`~egamma_cnn.execution.ExecutionSettings`, e.g. an existing
    scheduler); this process writes the file. Blocks are made lazily and at most
    2 × workers are in flight, so memory does not grow with ``cfg.n_events``.

    The file is written under a temporary name in the folder of ``out`` and renamed when
    complete (:func:`~egamma_cnn.sim.writer.write_events`); temporaries that dead runs of
    this host left in that folder (SIGKILL) are removed first. A SIGTERM with its default
    action is turned into ``KeyboardInterrupt`` while this runs in the main thread: an
    interruption (Ctrl-C or SIGTERM) removes the temporary, stops the worker processes
    and raises ``KeyboardInterrupt``. A local worker process that dies (the out-of-memory
    killer's SIGKILL) stops the others and removes the temporary.

    Raises
    ------
    WorkerDiedError
        A local worker process died: the message says how, and names ``out`` (nothing
        written).
    FileExistsError
        ``out`` exists and ``overwrite`` is false.
    ValueError
        ``out`` is not a regular file (a folder, device, FIFO, socket, or a link to one;
        even with ``overwrite``), or ``workers`` is above the limit.
    OSError
        The folder of ``out`` does not exist or cannot be written.
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise OSError(f"output folder {out.parent} does not exist or is not a folder")
    check_output_target(out, overwrite)
    if settings is None:
        check_local_workers(workers)
    remove_stale_temporaries(out.parent)
    totals = {"times": BlockTimes(), "n_tried": 0, "xsec_sum": 0.0, "n_blocks": 0}
    window = 2 * max(workers, getattr(settings, "workers", None) or 1, 1)

    def results():
        if workers <= 1 and settings is None:
            for b, n, first in _blocks(cfg.n_events):
                yield _simulate_block(cfg, b, n, first)
        else:
            with task_pool(settings, workers) as pool:
                yield from _in_order(pool, cfg, _blocks(cfg.n_events), window)

    def stream(simulated: Iterator):
        for cols, times, stats in simulated:
            totals["times"] = totals["times"] + times
            totals["n_tried"] += stats["n_tried"]
            totals["xsec_sum"] += stats["cross_section_pb"]
            totals["n_blocks"] += 1
            bar.update(len(cols["event"]))
            yield cols

    t0 = time.perf_counter()
    metadata = {
        "producer": "egamma-cnn",
        "process": cfg.process,
        "seed": cfg.seed,
        "is_data": cfg.data_like,
        "detector": cfg.detector.as_dict(),
        "pileup_mu": cfg.pileup_mu,
        "block_size": BLOCK_SIZE,
        "command": command,
    }
    with (
        _sigterm_as_interrupt(),
        tqdm(total=cfg.n_events, unit="ev", desc=f"{cfg.process}", disable=not progress) as bar,
    ):
        simulated = results()
        blocks = stream(simulated)
        try:
            n = write_events(out, blocks, metadata, overwrite=overwrite)
        except WorkerDiedError as err:
            raise WorkerDiedError(f"{err} while producing {out}; nothing was written") from None
        except OSError as err:
            if not _is_temporary_of(err.filename, out):
                raise
            # the hidden temporary is ours, not the user's: name the output they gave
            raise OSError(
                f"cannot create {out}: its folder {out.parent} does not take new files "
                f"({err.strerror})"
            ) from None
        finally:  # on an interruption: stop the workers now, not at garbage collection
            blocks.close()
            simulated.close()
    wall = time.perf_counter() - t0
    t = totals["times"]
    return {
        "n_events": n,
        "n_tried": totals["n_tried"],
        "filter_efficiency": n / max(totals["n_tried"], 1),
        "cross_section_pb": totals["xsec_sum"] / totals["n_blocks"] if totals["n_blocks"] else 0.0,
        "wall_s": wall,
        "times": vars(t),
        "path": str(out),
    }
