"""Detector description and response settings of the fast simulation.

Two things live here, both plain data:

* the longitudinal *stacks* a particle crosses — dead material and calorimeter layers
  with their thickness in radiation lengths X0 and interaction lengths λ (ATLAS-like,
  ATL-PHYS-PUB-2023-001 §2: EM calorimeter ≈ 22 X0 ≈ 1.2 λ at η = 0, Tile ≈ 7.4 λ, HEC ≈ 10 λ) and
  the material budget before the calorimeter (approximating the ATLAS Run-2 figures,
  EPJC 77 (2017) 332): inside the tracker X_ID(η) ≈ 0.4 X0 at η = 0 rising to ≈ 1.2 X0
  at |η| = 1.7, which drives conversions and bremsstrahlung in the field, and services
  outside it (up to 0.7 X0 near |η| = 1.7) that count as dead material in front of the
  calorimeter;
* :class:`DetectorConfig`, the response parameters (noise, sampling terms, shower
  widths, material scale, energy scale). :meth:`DetectorConfig.data_like` returns the
  deliberately different response used for the data-like samples.

The data-like response differs from the MC one in documented ways, so that the data/MC
studies have something real to measure: lateral EM showers 8 % wider, showers 6 %
deeper (more energy in EM layer 3, less in the strips), 20 % more electronic noise,
8 % more inner-detector material (more conversions and brem), a 1 % lower EM energy
scale, and a 3 % lower tracking efficiency for hadrons.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from egamma_cnn.geometry import CaloSampling as S

__all__ = [
    "BARREL_STACK",
    "CRACK_EXTRA_X0",
    "ENDCAP_STACK",
    "FALLBACK_SAMPLING",
    "SHOWER_STACK_SPLIT_ETA",
    "DetectorConfig",
    "id_material_x0",
    "material_radius_cdf",
    "material_radius_quantile",
    "services_x0",
]

# --------------------------------------------------------------------------------------
# Inner-detector material budget (radiation lengths traversed up to r = 1.1 m).
# ATLAS Run-2 ID material: ~0.5 X0 at η=0, peak ~2 X0 around |η|=1.7, ~1.2 X0 at 2.5.
_ID_ETA = np.array([0.0, 0.5, 1.0, 1.3, 1.5, 1.7, 2.0, 2.5, 5.0])
_ID_X0 = np.array([0.40, 0.45, 0.65, 0.90, 1.10, 1.20, 1.00, 0.90, 0.90])
# Services and supports between the tracker envelope and the calorimeter (patch panels,
# cables, ID end-plates; the bulk of the ATLAS material peak around |η| ≈ 1.5–1.8). They
# sit outside the solenoid's field volume, so they pre-shower like the cryostat and are
# part of the calorimeter's dead material in front, not of the tracker.
_SERVICES_X0 = np.array([0.0, 0.0, 0.2, 0.3, 0.5, 0.7, 0.5, 0.3, 0.3])

# Radial distribution of that material: beam pipe + pixel (30–150 mm) 25 %, SCT
# (280–520 mm) 35 %, TRT and services (550–1100 mm) 40 %. Piecewise-linear CDF in r.
_MAT_R = np.array([0.0, 30.0, 150.0, 280.0, 520.0, 550.0, 1100.0])
_MAT_CDF = np.array([0.0, 0.0, 0.25, 0.25, 0.60, 0.60, 1.0])


def id_material_x0(abs_eta: np.ndarray) -> np.ndarray:
    """Inner-detector material X_ID(|η|) in radiation lengths (linear interpolation)."""
    return np.interp(np.abs(abs_eta), _ID_ETA, _ID_X0)


def services_x0(abs_eta: np.ndarray) -> np.ndarray:
    """Service material outside the tracker, in front of the calorimeter (X0)."""
    return np.interp(np.abs(abs_eta), _ID_ETA, _SERVICES_X0)


def material_radius_cdf(radius_mm: np.ndarray) -> np.ndarray:
    """Fraction of the inner-detector material inside transverse radius r (mm)."""
    return np.interp(radius_mm, _MAT_R, _MAT_CDF)


def material_radius_quantile(fraction: np.ndarray) -> np.ndarray:
    """Inverse of :func:`material_radius_cdf`: radius (mm) below which a fraction lies."""
    # Drop the flat pieces so that np.interp is well defined on a strictly increasing CDF.
    cdf, r = _MAT_CDF[1:], _MAT_R[1:]
    keep = np.concatenate([[True], np.diff(cdf) > 0])
    return np.interp(fraction, cdf[keep], r[keep])


# --------------------------------------------------------------------------------------
# Longitudinal stacks. Each row: (sampling or -1 for dead material, X0, λ) at normal
# incidence. The EM calorimeter (Pb/LAr accordion) has λ ≈ 0.055 X0; Tile (Fe/scint.)
# and HEC (Cu/LAr) have λ ≈ 0.1 X0 ... written per row. The dead material in front of
# the calorimeter (solenoid, cryostat) comes on top of the ID material X_ID(η).
DEAD = -1


@dataclass(frozen=True)
class Stack:
    """Ordered longitudinal layers crossed by a particle in one detector region."""

    sampling: np.ndarray  # int64, -1 = dead
    x0: np.ndarray  # float64, radiation lengths at normal incidence
    lam: np.ndarray  # float64, interaction lengths at normal incidence


def _stack(rows: list[tuple[int, float, float]]) -> Stack:
    return Stack(
        np.array([r[0] for r in rows], np.int64),
        np.array([r[1] for r in rows], np.float64),
        np.array([r[2] for r in rows], np.float64),
    )


#: |η| of the impact on the EM middle layer below which a particle showers in
#: :data:`BARREL_STACK`, at or above which in :data:`ENDCAP_STACK` (the calorimeter
#: simulation, :mod:`.calorimeter`). It is a modelling choice inside the crack
#: (1.37 < |η| < 1.52), not the end of the EM barrel (EMB2 ends at |η| = 1.475 in the
#: geometry): impacts on the barrel cylinder of :mod:`.propagation` (|z| ≤ 3500 mm,
#: |η| ≲ 1.480) at 1.45 ≤ |η| shower in the end-cap stack, and the reconstruction
#: switches to end-cap windows at |η| = 1.4. The shipped cluster calibration was derived
#: with these boundaries; making them one needs the reconstruction and the calibration
#: changed together (a follow-up; :mod:`.propagation`, "Calorimeter surfaces").
SHOWER_STACK_SPLIT_ETA = 1.45

#: Barrel (impact |η| < :data:`SHOWER_STACK_SPLIT_ETA` = 1.45). The first row is the
#: solenoid + cryostat; X_ID is added to it.
BARREL_STACK = _stack(
    [
        (DEAD, 1.8, 0.30),
        (S.PreSamplerB, 0.3, 0.02),
        (S.EMB1, 4.3, 0.24),
        (S.EMB2, 16.0, 0.88),
        (S.EMB3, 2.0, 0.11),
        (DEAD, 2.0, 0.30),
        (S.TileBar0, 14.0, 1.5),
        (S.TileBar1, 39.0, 4.1),
        (S.TileBar2, 17.0, 1.8),
    ]
)

#: End-cap (1.45 = :data:`SHOWER_STACK_SPLIT_ETA` ≤ impact |η| < 2.5). The presampler row
#: is active only for 1.5 < |η| < 1.8.
ENDCAP_STACK = _stack(
    [
        (DEAD, 1.5, 0.25),
        (S.PreSamplerE, 0.3, 0.02),
        (S.EME1, 4.0, 0.22),
        (S.EME2, 20.0, 1.10),
        (S.EME3, 3.0, 0.17),
        (DEAD, 1.5, 0.25),
        (S.HEC0, 15.0, 1.5),
        (S.HEC1, 28.0, 2.8),
        (S.HEC2, 28.0, 2.8),
        (S.HEC3, 28.0, 2.8),
    ]
)

#: Extra dead material in the barrel/end-cap transition (crack), 1.37 < |η| < 1.52,
#: in X0 (cryostat walls and services; ATL-PHYS-PUB-2023-001 §2 "relatively large amount of
#: inactive material").
CRACK_EXTRA_X0 = 4.0

# Which sampling replaces another when a shower spot falls outside its η coverage
# (barrel ↔ end-cap overlap, and Tile barrel ↔ extended barrel ↔ HEC).
FALLBACK_SAMPLING = np.full(32, -1, np.int64)
for _a, _b in [
    (S.PreSamplerB, S.PreSamplerE),
    (S.PreSamplerE, S.PreSamplerB),
    (S.EMB1, S.EME1),
    (S.EME1, S.EMB1),
    (S.EMB2, S.EME2),
    (S.EME2, S.EMB2),
    (S.EMB3, S.EME3),
    (S.EME3, S.EMB3),
    (S.TileBar0, S.TileExt0),
    (S.TileBar1, S.TileExt1),
    (S.TileBar2, S.TileExt2),
    (S.TileExt0, S.TileBar0),
    (S.TileExt1, S.TileBar1),
    (S.TileExt2, S.TileBar2),
    (S.HEC0, S.TileExt0),
    (S.HEC1, S.TileExt1),
    (S.HEC2, S.TileExt2),
    (S.HEC3, S.TileExt2),
]:
    FALLBACK_SAMPLING[int(_a)] = int(_b)


def _per_sampling(values: dict[int, float], default: float = 0.0) -> np.ndarray:
    out = np.full(32, default, np.float64)
    for k, v in values.items():
        out[int(k)] = v
    return out


# Electronic noise per cell (GeV, no pile-up), ATLAS-like: presampler ~30 MeV,
# strips ~10 MeV, middle ~25 MeV, back ~15 MeV, Tile ~20–40 MeV, HEC ~150 MeV.
_NOISE_GEV = {
    S.PreSamplerB: 0.030,
    S.EMB1: 0.010,
    S.EMB2: 0.025,
    S.EMB3: 0.015,
    S.PreSamplerE: 0.035,
    S.EME1: 0.012,
    S.EME2: 0.030,
    S.EME3: 0.020,
    S.HEC0: 0.150,
    S.HEC1: 0.150,
    S.HEC2: 0.150,
    S.HEC3: 0.150,
    S.TileBar0: 0.020,
    S.TileBar1: 0.020,
    S.TileBar2: 0.040,
    S.TileExt0: 0.020,
    S.TileExt1: 0.020,
    S.TileExt2: 0.040,
}
# Stochastic (sampling) term a of σ/E = a/√E per cell: LAr EM 10 %, HEC 70 %, Tile 50 %.
_SAMPLING_TERM = {
    **{s: 0.10 for s in (0, 1, 2, 3, 4, 5, 6, 7)},
    **{s: 0.70 for s in (8, 9, 10, 11)},
    **{s: 0.50 for s in (12, 13, 14, 18, 19, 20)},
}


@dataclass(frozen=True)
class DetectorConfig:
    """Response parameters of the fast simulation (all dimensionless unless stated).

    Attributes
    ----------
    name : str
        ``"mc"`` or ``"data-like"``; written into the file metadata.
    noise_gev : np.ndarray
        Electronic noise σ per cell, indexed by sampling number (GeV).
    noise_scale : float
        Multiplies ``noise_gev``.
    sampling_term : np.ndarray
        Stochastic term a (GeV^½) per sampling: a cell of energy E is smeared by
        σ = a √E.
    moliere_radius_mm : float
        Molière radius R_M of the EM calorimeter; lateral profiles are in units of R_M
        (Grindhammer–Peters).
    lateral_scale : float
        Scales every lateral EM displacement (data-like: wider showers).
    depth_scale : float
        Scales the longitudinal EM shower depth (data-like: deeper showers, more energy
        in EM layer 3).
    critical_energy_gev : float
        Critical energy E_c of the EM calorimeter for the shower-maximum depth
        T = ln(E/E_c) − 0.858 (Grindhammer–Peters).
    material_scale : float
        Scales the inner-detector material X_ID(η).
    em_energy_scale : float
        Overall response of the EM calorimeter cells.
    h_over_e : float
        Response of the non-electromagnetic part of hadronic showers relative to the
        EM part (non-compensation, ATLAS ≈ 0.7).
    hadron_track_efficiency : float
        Extra tracking efficiency for hadrons (multiplies the tracker's own).
    cell_threshold_sigma : float
        Cells are written when |E| > this many σ_noise (two-sided, as topo-clustering).
    roi_radius : float
        Cells with centre within ΔR of a candidate's cluster are written.
    """

    name: str = "mc"
    noise_gev: np.ndarray = field(default_factory=lambda: _per_sampling(_NOISE_GEV, 0.05))
    noise_scale: float = 1.0
    sampling_term: np.ndarray = field(default_factory=lambda: _per_sampling(_SAMPLING_TERM, 0.1))
    moliere_radius_mm: float = 39.0
    lateral_scale: float = 1.0
    depth_scale: float = 1.0
    critical_energy_gev: float = 0.0105
    material_scale: float = 1.0
    em_energy_scale: float = 1.0
    h_over_e: float = 0.7
    hadron_track_efficiency: float = 1.0
    cell_threshold_sigma: float = 2.0
    roi_radius: float = 0.4

    @classmethod
    def mc(cls) -> DetectorConfig:
        """The nominal (simulation) response."""
        return cls()

    @classmethod
    def data_like(cls) -> DetectorConfig:
        """The deliberately different response that stands in for collision data.

        Lateral EM showers ×1.08, EM depth ×1.06, noise ×1.2, ID material ×1.08,
        EM energy scale ×0.99, hadron tracking efficiency ×0.97 (module docstring).
        """
        return dataclasses.replace(
            cls(),
            name="data-like",
            noise_scale=1.2,
            lateral_scale=1.08,
            depth_scale=1.06,
            material_scale=1.08,
            em_energy_scale=0.99,
            hadron_track_efficiency=0.97,
        )

    def as_dict(self) -> dict:
        """JSON-serialisable description, for the file metadata."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return out

    def __hash__(self) -> int:  # ndarray fields are not hashable
        return hash(self.name)
