"""Particle gun: single particles from the origin, one per event, without Pythia.

Used to calibrate the clusters, in the tests (hand-built events) and in the detector
benchmarks, where an event generator would only add noise.
"""

from __future__ import annotations

import numpy as np

from egamma_cnn.sim.particles import Origin, ParticleBatch

__all__ = ["particle_gun"]

_MASS = {11: 0.000511, 22: 0.0, 211: 0.13957, 13: 0.10566, 2112: 0.93957, 130: 0.49761}
_CHARGE = {11: -1, -11: 1, 22: 0, 211: 1, -211: -1, 13: -1, -13: 1, 2112: 0, 130: 0}


def particle_gun(
    pdg_id: int | np.ndarray,
    energy: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    origin: int = Origin.BOSON_DECAY,
) -> ParticleBatch:
    """One particle per event with the given type, energy (GeV), η and φ.

    Raises ``ValueError`` for a particle type the gun does not know or arrays of
    different lengths.
    """
    energy = np.asarray(energy, np.float64)
    eta = np.asarray(eta, np.float64)
    phi = np.asarray(phi, np.float64)
    n = len(energy)
    pdg = np.broadcast_to(np.asarray(pdg_id, np.int64), (n,)).copy()
    if len(eta) != n or len(phi) != n:
        raise ValueError(f"energy, eta, phi lengths differ: {n}, {len(eta)}, {len(phi)}")
    unknown = set(np.unique(pdg).tolist()) - set(_CHARGE)
    if unknown:
        raise ValueError(
            f"particle_gun: unknown pdg id(s) {sorted(unknown)}; known {sorted(_CHARGE)}"
        )
    mass = np.array([_MASS[abs(int(p))] for p in pdg]) if n else np.zeros(0)
    charge = np.array([_CHARGE[int(p)] for p in pdg], np.int8) if n else np.zeros(0, np.int8)
    p = np.sqrt(np.maximum(energy**2 - mass**2, 0.0))
    pt = p / np.cosh(eta)
    zeros = np.zeros(n)
    return ParticleBatch(
        offsets=np.arange(n + 1, dtype=np.int64),
        pdg_id=pdg.astype(np.int32),
        charge=charge,
        px=pt * np.cos(phi),
        py=pt * np.sin(phi),
        pz=pt * np.sinh(eta),
        energy=energy,
        vx=zeros.copy(),
        vy=zeros.copy(),
        vz=zeros.copy(),
        origin=np.full(n, origin, np.int8),
        vertex_index=np.zeros(n, np.int32),
        true_charge=charge.copy(),
        gen_index=np.zeros(n, np.int32),
        parent=np.full(n, -1, np.int64),
    )
