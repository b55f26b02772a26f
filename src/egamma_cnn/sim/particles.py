"""Columnar containers passed between the stages of the simulation.

A batch of events is stored flat, NanoAOD-style: one ``offsets`` array of length
``n_events + 1`` and one contiguous numpy array per field, so that every stage (material,
calorimeter, tracker, reconstruction) is a numba kernel over ``(offsets, contents)``.

Truth origin codes
------------------
Every particle carries the origin of the chain it belongs to, decided from the generator
history (see :mod:`egamma_cnn.sim.generator`). Together with the particle type and the
reconstructed charge this gives the six electron classes of ATL-PHYS-PUB-2023-001 §3.1 (see
:mod:`egamma_cnn.sim.truth`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np

__all__ = ["Origin", "ParticleBatch", "VertexTable"]


class Origin(IntEnum):
    """Where a particle's chain comes from in the generator history."""

    #: Nothing better known (beam remnants, partons, etc.).
    UNKNOWN = 0
    #: A lepton from the decay of a W, Z or γ* of the hard process (incl. τ→e is excluded).
    BOSON_DECAY = 1
    #: A photon radiated by (or an e± from a photon radiated by) a BOSON_DECAY lepton.
    PROMPT_LEPTON_FSR = 2
    #: A photon from the hard process or from the parton shower of a quark (γ+jet, Z→eeγ ISR).
    PROMPT_PHOTON = 3
    #: Decay products of a b- or c-hadron (J/ψ from the hard process excepted).
    HEAVY_FLAVOUR = 4
    #: Decay products (γ, e±) of a light-flavour hadron, e.g. π0 → γγ, Dalitz decays.
    LIGHT_HADRON_DECAY = 5
    #: A hadron itself (π±, K±, p, n, K0L, ...) at the end of the generator chain.
    HADRON = 6
    #: Muons, taus' decay products and other leptons not from a hard-process boson.
    OTHER_LEPTON = 7
    #: Any particle of an overlaid pile-up interaction.
    PILEUP = 8


@dataclass
class ParticleBatch:
    """Final-state particles of a batch of events, flat with offsets.

    Units: GeV for momenta and energies, mm for positions. ``vertex_index`` is 0 for the
    hard scatter and k ≥ 1 for the k-th overlaid pile-up interaction. ``parent`` is the flat
    index (within this batch) of the particle a material-effect secondary came from, -1
    for generator particles. ``true_charge`` is the charge of the generator-level ancestor
    (for an e± from brem followed by conversion: the charge of the original electron, as
    ATL-PHYS-PUB-2023-001 §3.1 defines the true charge of charge-flip electrons). ``gen_index`` is
    the
    index of the generator-level ancestor in the event's slimmed ``GenPart`` record (-1 if
    not stored).
    """

    offsets: np.ndarray  # int64, n_events + 1
    pdg_id: np.ndarray  # int32
    charge: np.ndarray  # int8, in units of e
    px: np.ndarray  # float64
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    vx: np.ndarray  # float64, production vertex
    vy: np.ndarray
    vz: np.ndarray
    origin: np.ndarray  # int8, Origin
    vertex_index: np.ndarray  # int32
    true_charge: np.ndarray  # int8
    gen_index: np.ndarray  # int32
    parent: np.ndarray  # int64

    def __post_init__(self) -> None:
        n = int(self.offsets[-1]) if len(self.offsets) else 0
        for f in fields(self):
            if f.name == "offsets":
                continue
            arr = getattr(self, f.name)
            if len(arr) != n:
                raise ValueError(
                    f"ParticleBatch.{f.name} has length {len(arr)}, expected {n} (offsets[-1])"
                )

    @property
    def n_events(self) -> int:
        """Number of events in the batch."""
        return len(self.offsets) - 1

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def pt(self) -> np.ndarray:
        """Transverse momentum √(px² + py²)."""
        return np.hypot(self.px, self.py)

    @property
    def eta(self) -> np.ndarray:
        """Pseudorapidity −ln tan(θ/2) = asinh(pz/pT); ±∞ is clipped at ±20."""
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.arcsinh(self.pz / self.pt)
        return np.nan_to_num(np.clip(eta, -20.0, 20.0), nan=0.0)

    @property
    def phi(self) -> np.ndarray:
        """Azimuth atan2(py, px) in [-π, π]."""
        return np.arctan2(self.py, self.px)

    @property
    def event_index(self) -> np.ndarray:
        """Event number within the batch of every particle."""
        return np.repeat(np.arange(self.n_events), np.diff(self.offsets))

    @classmethod
    def empty(cls, n_events: int = 0) -> ParticleBatch:
        """A batch of ``n_events`` events without particles."""
        kw = {
            f.name: np.zeros(0, dtype=_DTYPES[f.name]) for f in fields(cls) if f.name != "offsets"
        }
        return cls(offsets=np.zeros(n_events + 1, np.int64), **kw)

    @classmethod
    def concatenate_events(cls, batches: list[ParticleBatch]) -> ParticleBatch:
        """Concatenate batches along the event axis (``parent`` indices are shifted)."""
        if not batches:
            return cls.empty()
        kw = {}
        shift = np.cumsum([0] + [len(b) for b in batches[:-1]])
        for f in fields(cls):
            if f.name == "offsets":
                continue
            if f.name == "parent":
                kw[f.name] = np.concatenate(
                    [
                        np.where(b.parent >= 0, b.parent + s, -1)
                        for b, s in zip(batches, shift, strict=True)
                    ]
                )
            else:
                kw[f.name] = np.concatenate([getattr(b, f.name) for b in batches])
        offsets = np.concatenate(
            [[0]] + [b.offsets[1:] + s for b, s in zip(batches, shift, strict=True)]
        ).astype(np.int64)
        return cls(offsets=offsets, **kw)

    def take(self, index: np.ndarray, offsets: np.ndarray) -> ParticleBatch:
        """A new batch made of the flat rows ``index`` grouped by the new ``offsets``.

        ``parent`` links are remapped to the new positions (-1 where the parent was not
        kept).
        """
        index = np.asarray(index, np.int64)
        remap = np.full(len(self) + 1, -1, np.int64)
        remap[index] = np.arange(len(index))
        kw = {}
        for f in fields(self):
            if f.name == "offsets":
                continue
            arr = getattr(self, f.name)[index]
            if f.name == "parent":
                arr = remap[arr]  # parent -1 maps through the trailing -1
            kw[f.name] = arr
        return type(self)(offsets=np.asarray(offsets, np.int64), **kw)


_DTYPES = {
    "pdg_id": np.int32,
    "charge": np.int8,
    "px": np.float64,
    "py": np.float64,
    "pz": np.float64,
    "energy": np.float64,
    "vx": np.float64,
    "vy": np.float64,
    "vz": np.float64,
    "origin": np.int8,
    "vertex_index": np.int32,
    "true_charge": np.int8,
    "gen_index": np.int32,
    "parent": np.int64,
}


@dataclass
class VertexTable:
    """True interaction vertices of a batch of events, flat with offsets.

    Vertex 0 of every event is the hard scatter; vertex k ≥ 1 is the k-th overlaid
    pile-up interaction, matching ``ParticleBatch.vertex_index``. Positions in mm.
    """

    offsets: np.ndarray  # int64, n_events + 1
    x: np.ndarray  # float64
    y: np.ndarray
    z: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of events in the table."""
        return len(self.offsets) - 1
