"""Pile-up overlay: minimum-bias events added to each hard-scatter event.

ATL-PHYS-PUB-2023-001 §3.2 models pile-up (multiple pp interactions in the same bunch crossing) by
overlaying the hard-scatter event with inelastic pp events generated with Pythia8. Here
the ``SoftQCD:inelastic`` events (process ``"minbias"`` of :mod:`egamma_cnn.sim.generator`)
come in a :class:`MinBiasPool`, and :func:`overlay` either uses every pool event exactly
once (``reuse=False``: fresh minimum-bias for every interaction, what
:mod:`egamma_cnn.sim.production` does) or samples the pool with replacement
(``reuse=True``). Every overlaid interaction gets its own vertex in the luminous region
and a random rotation about the beam axis. Out-of-time pile-up is not modelled.

Why not a reused pool: a pool of N events sampled for M ≫ N interactions copies each
event M/N times, so one pool event that makes a fake electron candidate makes M/N of
them, and the number of pile-up fakes per file fluctuates like (M/N)·Poisson instead of
Poisson; a sample's background make-up then depends on its seed (a pool of 1000 events
at ⟨μ⟩ = 20 reused each event 30–90 times per file).

Everything is vectorised numpy index arithmetic over the flat
:class:`~egamma_cnn.sim.particles.ParticleBatch` columns; there is no Python loop over
events or interactions.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from egamma_cnn.sim.generator import (
    BEAM_SPOT_SIGMA_XY_MM,
    BEAM_SPOT_SIGMA_Z_MM,
    EventGenerator,
    GeneratedEvents,
    _offsets_of,
    _ranges,
)
from egamma_cnn.sim.particles import Origin, ParticleBatch, VertexTable

__all__ = [
    "POOL_ETA_MAX",
    "POOL_PT_MIN",
    "MinBiasPool",
    "draw_interactions",
    "mu_profile",
    "overlay",
]

#: Pool particles below this p_T [GeV] are dropped (they do not reach the calorimeter
#: in a 2 T field and carry a negligible energy).
POOL_PT_MIN = 0.1
#: Pool particles beyond this |η| are dropped (outside the calorimeter images' reach:
#: EM calorimeter |η| < 3.2 plus a margin for showers).
POOL_ETA_MAX = 3.3


def _exclusive_cumsum(x: np.ndarray) -> np.ndarray:
    out = np.zeros(len(x), np.int64)
    np.cumsum(x[:-1], out=out[1:])
    return out


class MinBiasPool:
    """Minimum-bias events to draw pile-up interactions from.

    Parameters
    ----------
    particles
        One pool event per batch event. Production vertices are *relative to the
        interaction point* (the overlay adds each interaction's vertex); ``parent``
        links, if any, stay within an event.

    See Also
    --------
    MinBiasPool.generate : build a pool with Pythia.
    """

    def __init__(self, particles: ParticleBatch) -> None:
        if particles.n_events < 1:
            raise ValueError("a MinBiasPool needs at least one event")
        self.particles = particles

    @classmethod
    def generate(
        cls,
        n_events: int,
        seed: int,
        pt_min: float = POOL_PT_MIN,
        eta_max: float = POOL_ETA_MAX,
    ) -> MinBiasPool:
        """Generate a pool with ``EventGenerator("minbias", seed)``.

        Particles with p_T ≤ ``pt_min`` or |η| ≥ ``eta_max`` are dropped to save memory,
        and the event's smeared hard-scatter vertex is subtracted from the production
        vertices.
        """
        gen = EventGenerator("minbias", seed).generate(n_events)
        return cls.from_generated(gen, pt_min=pt_min, eta_max=eta_max)

    @classmethod
    def from_generated(
        cls,
        events: GeneratedEvents,
        pt_min: float = POOL_PT_MIN,
        eta_max: float = POOL_ETA_MAX,
    ) -> MinBiasPool:
        """Pool from already generated minimum-bias events (see :meth:`generate`)."""
        p = events.particles
        keep = (p.pt > pt_min) & (np.abs(p.eta) < eta_max)
        offsets = _offsets_of(keep, p.offsets).astype(np.int64)
        pool = p.take(np.flatnonzero(keep), offsets)
        ev = pool.event_index
        vt = events.vertices
        first = vt.offsets[:-1]  # vertex 0 of each event: the interaction point
        pool.vx = pool.vx - vt.x[first][ev]
        pool.vy = pool.vy - vt.y[first][ev]
        pool.vz = pool.vz - vt.z[first][ev]
        pool.origin = np.full(len(pool), int(Origin.PILEUP), np.int8)
        pool.gen_index = np.full(len(pool), -1, np.int32)
        return cls(pool)

    @property
    def n_events(self) -> int:
        """Number of pool events."""
        return self.particles.n_events

    @property
    def sizes(self) -> np.ndarray:
        """Number of particles of each pool event."""
        return np.diff(self.particles.offsets)


def mu_profile(
    n: int,
    mean_mu: float,
    rng: np.random.Generator,
    kind: str = "fixed",
    spread: float | None = None,
) -> np.ndarray:
    """Per-event mean number of interactions μ (``Pileup_nTrueInt``).

    Parameters
    ----------
    n
        Number of events.
    mean_mu
        Mean μ (≥ 0).
    rng
        Random generator.
    kind
        ``"fixed"``: μ = ``mean_mu`` for every event; ``"gaussian"``: μ ~ N(mean, spread)
        clipped at 0 (default spread 0.25 × mean, a Run-3-like spread of μ across
        luminosity blocks); ``"uniform"``: μ ~ U(mean − spread, mean + spread) clipped at
        0 (default spread = mean, i.e. U(0, 2·mean)).
    spread
        Width parameter of the ``"gaussian"`` and ``"uniform"`` profiles.

    Returns
    -------
    numpy.ndarray
        float64, length ``n``.
    """
    if mean_mu < 0:
        raise ValueError(f"mean_mu must be ≥ 0, got {mean_mu}")
    if kind == "fixed":
        return np.full(n, float(mean_mu))
    if kind == "gaussian":
        width = 0.25 * mean_mu if spread is None else spread
        return np.clip(rng.normal(mean_mu, width, n), 0.0, None)
    if kind == "uniform":
        half = mean_mu if spread is None else spread
        return np.clip(rng.uniform(mean_mu - half, mean_mu + half, n), 0.0, None)
    raise ValueError(f"unknown mu profile kind {kind!r}; use 'fixed', 'gaussian' or 'uniform'")


def draw_interactions(mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Number of pile-up interactions of each event, n_i ~ Poisson(μ_i).

    Parameters
    ----------
    mu
        Per-event μ, finite and ≥ 0.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        int64, one count per event.
    """
    mu = np.asarray(mu, np.float64)
    if np.any(~np.isfinite(mu)) or np.any(mu < 0):
        raise ValueError("mu must be finite and ≥ 0 for every event")
    return rng.poisson(mu).astype(np.int64)


def overlay(
    hard: GeneratedEvents | tuple[ParticleBatch, VertexTable],
    pool: MinBiasPool,
    mu: np.ndarray,
    rng: np.random.Generator,
    *,
    n_pileup: np.ndarray | None = None,
    reuse: bool = True,
) -> tuple[ParticleBatch, VertexTable, np.ndarray]:
    """Add Poisson(μ) pile-up interactions from ``pool`` to every hard-scatter event.

    For event i, n_i ~ Poisson(μ_i) interactions (:func:`draw_interactions`, or the
    given ``n_pileup``). With ``reuse=False`` interaction j of the whole batch (events in
    order) is pool event j, so every pool event is used at most once and the pool must
    hold at least Σ n_i events; with ``reuse=True`` pool events are drawn uniformly with
    replacement. Interaction k = 1..n_i gets a vertex x, y ~ N(0, 0.015 mm), z ~ N(0, 45 mm) and a
    rotation by a uniform angle about the beam axis (momenta and production vertices);
    its particles get ``vertex_index`` = (number of vertices the event already had) − 1
    + k, i.e. k for a hard event with its one hard-scatter vertex, ``origin`` PILEUP and
    ``gen_index`` -1. The hard-scatter particles come first in each event, unchanged;
    the interaction vertices are appended to the event's vertices in the same order.

    Parameters
    ----------
    hard
        The hard-scatter events: a :class:`~egamma_cnn.sim.generator.GeneratedEvents`
        or a ``(ParticleBatch, VertexTable)`` pair.
    pool
        Minimum-bias pool.
    mu
        Per-event μ (length ``n_events``; a scalar is broadcast).
    rng
        Random generator (the result is a deterministic function of its state).
    n_pileup
        Interactions per event, drawn beforehand with :func:`draw_interactions` (to
        generate a fresh pool of exactly Σ n_i events); ``None`` draws them here.
    reuse
        Sample the pool with replacement (``True``) or use each pool event once
        (``False``).

    Returns
    -------
    particles : ParticleBatch
        Hard-scatter plus pile-up particles.
    vertices : VertexTable
        Hard-scatter plus pile-up vertices.
    interactions : numpy.ndarray
        int64, the number of pile-up interactions actually overlaid on each event.
    """
    if isinstance(hard, GeneratedEvents):
        hp, hv = hard.particles, hard.vertices
    else:
        hp, hv = hard
    n_ev = hp.n_events
    if hv.n_events != n_ev:
        raise ValueError(f"{n_ev} events of particles but {hv.n_events} of vertices")
    mu = np.broadcast_to(np.asarray(mu, np.float64), (n_ev,))
    if np.any(~np.isfinite(mu)) or np.any(mu < 0):
        raise ValueError("mu must be finite and ≥ 0 for every event")

    # --- interactions ----------------------------------------------------------------
    if n_pileup is None:
        n_pu = draw_interactions(mu, rng)
    else:
        n_pu = np.asarray(n_pileup, np.int64)
        if n_pu.shape != (n_ev,) or np.any(n_pu < 0):
            raise ValueError(f"n_pileup must be {n_ev} non-negative counts, one per event")
    n_int = int(n_pu.sum())
    if reuse:
        pick = rng.integers(0, pool.n_events, n_int)
    elif pool.n_events < n_int:
        raise ValueError(
            f"reuse=False needs a pool of at least {n_int} events (one per interaction), "
            f"got {pool.n_events}"
        )
    else:
        pick = np.arange(n_int)
    vtx = rng.normal(
        0.0,
        [BEAM_SPOT_SIGMA_XY_MM, BEAM_SPOT_SIGMA_XY_MM, BEAM_SPOT_SIGMA_Z_MM],
        size=(n_int, 3),
    )
    angle = rng.uniform(-np.pi, np.pi, n_int)
    int_event = np.repeat(np.arange(n_ev), n_pu)
    int_rank = np.arange(n_int) - np.repeat(_exclusive_cumsum(n_pu), n_pu)  # 0-based k - 1
    n_hv = np.diff(hv.offsets)
    int_vertex_index = n_hv[int_event] + int_rank  # = k when the event had one vertex

    # --- pile-up particles, ordered by event then interaction ----------------------------
    pp = pool.particles
    size = pool.sizes[pick]
    src = _ranges(pp.offsets[pick], size)  # flat rows in the pool
    p_int = np.repeat(np.arange(n_int), size)  # interaction of each pile-up particle
    p_event = int_event[p_int]
    c, s = np.cos(angle)[p_int], np.sin(angle)[p_int]

    # --- merged layout ----------------------------------------------------------------
    n_hard = np.diff(hp.offsets)
    n_pu_part = np.bincount(p_event, minlength=n_ev).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_hard + n_pu_part)]).astype(np.int64)
    hard_dst = offsets[hp.event_index] + (np.arange(len(hp)) - hp.offsets[hp.event_index])
    pu_start = offsets[:-1] + n_hard  # where each event's pile-up block starts
    pu_rank = np.arange(len(src)) - np.repeat(_exclusive_cumsum(n_pu_part), n_pu_part)
    pu_dst = pu_start[p_event] + pu_rank

    pu_cols = {
        "px": c * pp.px[src] - s * pp.py[src],
        "py": s * pp.px[src] + c * pp.py[src],
        "vx": c * pp.vx[src] - s * pp.vy[src] + vtx[p_int, 0],
        "vy": s * pp.vx[src] + c * pp.vy[src] + vtx[p_int, 1],
        "vz": pp.vz[src] + vtx[p_int, 2],
        "origin": np.full(len(src), int(Origin.PILEUP), np.int8),
        "vertex_index": int_vertex_index[p_int].astype(np.int32),
        "gen_index": np.full(len(src), -1, np.int32),
    }
    # parent links stay inside their interaction: pool row → row in the merged batch
    pool_parent = pp.parent[src]
    int_first_dst = pu_dst - (src - pp.offsets[pick][p_int])  # merged row of the event start
    pu_cols["parent"] = np.where(
        pool_parent >= 0, int_first_dst + (pool_parent - pp.offsets[pick][p_int]), -1
    ).astype(np.int64)
    hard_parent = np.where(hp.parent >= 0, hard_dst[np.maximum(hp.parent, 0)], -1)

    total = int(offsets[-1])
    kw = {}
    for f in fields(ParticleBatch):
        if f.name == "offsets":
            continue
        harr = hard_parent if f.name == "parent" else getattr(hp, f.name)
        parr = pu_cols[f.name] if f.name in pu_cols else getattr(pp, f.name)[src]
        out = np.empty(total, dtype=harr.dtype)
        out[hard_dst] = harr
        out[pu_dst] = parr
        kw[f.name] = out
    particles = ParticleBatch(offsets=offsets, **kw)

    # --- vertices ---------------------------------------------------------------------
    v_offsets = np.concatenate([[0], np.cumsum(n_hv + n_pu)]).astype(np.int64)
    hv_event = np.repeat(np.arange(n_ev), n_hv)
    hv_dst = v_offsets[hv_event] + (np.arange(len(hv.x)) - hv.offsets[hv_event])
    iv_dst = v_offsets[int_event] + n_hv[int_event] + int_rank
    xyz = []
    for k, col in enumerate((hv.x, hv.y, hv.z)):
        out = np.empty(int(v_offsets[-1]))
        out[hv_dst] = col
        out[iv_dst] = vtx[:, k]
        xyz.append(out)
    vertices = VertexTable(offsets=v_offsets, x=xyz[0], y=xyz[1], z=xyz[2])
    return particles, vertices, n_pu
