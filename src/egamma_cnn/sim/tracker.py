"""ATLAS-like inner-detector (ID) emulation: hits, track parameters, vertices, TRT PID.

This module turns the charged particles of a :class:`~egamma_cnn.sim.particles.ParticleBatch`
into reconstructed tracks (:class:`TrackBatch`, flat with offsets like every other stage).
The field, the helix and the extrapolation to the calorimeter come from
:mod:`.propagation`, which the calorimeter simulation and the candidate reconstruction
use as well.

Everything is vectorised: numba kernels loop over the flat particle (or track) arrays and
all random numbers are drawn in vectorised calls of the caller's
:class:`numpy.random.Generator`, in a fixed order, so that a run is reproducible from the
generator's seed. There is no Python loop over events or particles.

Physics model (one stage after the other in :func:`reconstruct_tracks`)
------------------------------------------------------------------------
1. **Perigee.** The true perigee (d0, z0, φ0) with respect to the beam line (the z axis)
   is computed *exactly* for the helix through the production vertex in the 2 T field
   (:func:`perigee_parameters`), so that displaced particles — conversion legs, K0S/Λ and
   heavy-flavour decay products — get their impact parameters from their production
   vertices — no random displacement is added. A leg produced at radius r pointing
   away from the beam line gets d0 ≈ −q·r²/(2R) from its curvature alone (R the helix
   radius), the charge-correlated offset that makes q×d0/σ(d0) useful against
   charge-flip electrons (ATL-PHYS-PUB-2023-001 Table 4). Sign convention of ATLAS
   (``Trk::Perigee``): the point of closest approach is (−d0 sin φ0, d0 cos φ0, z0).
2. **Hits.** Straight lines in 3-D from the production vertex (the curvature changes
   the crossing z by < 2 % in the silicon for pT > 0.5 GeV and is neglected there; the
   radial reach |c| + R of the helix is checked) are intersected with the surfaces of
   the ID (constants below, after ATLAS, JINST 3 (2008) S08003 ch. 4 and the IBL TDR
   CERN-LHCC-2010-013): 4 pixel barrel layers (the innermost is the IBL and counts as
   the "B-layer" of ATL-PHYS-PUB-2023-001 Table 4), 3 pixel end-cap disks per side, 4 double-sided
   SCT barrel layers and 9 double-sided SCT disks per side (2 hits per module
   crossing). Only surfaces *after* the production point along the flight direction
   are crossed, so a conversion leg produced at r = 200 mm has no pixel hit. The
   resulting mean number of elements crossed by prompt tracks (vertex z spread 45 mm)
   is 4 pixel (5 at 2.0 < |η| < 2.4, where layer 1 and the disks overlap) and 8 SCT
   (7.5–9 at the barrel/end-cap transitions) for all |η| < 2.5; the tests check it.
   The TRT is a volume: the expected number of straws crossed is proportional to the
   radial path in the barrel (554–1082 mm, |z| < 712 mm) and to the |z| path in the
   end-caps (617 < r < 1106 mm, 848 < |z| < 2710 mm), which gives ≈ 35 crossings for
   |η| < 0.6, a dip to ≈ 20 at the barrel/end-cap transition, ≈ 40 at |η| ≈ 1.6 and
   no TRT hit beyond |η| ≈ 2.1. Each crossed element gives a hit with the per-hit
   efficiency (Binomial).
3. **Acceptance and efficiency.** Silicon-seeded (inside-out, "standard") tracks need
   ≥ 7 silicon (pixel + SCT) hits and ≥ 1 pixel hit. Particles that fail it but have
   ≥ 15 TRT hits and pT > 1 GeV are found by the TRT-seeded (outside-in) pass — in
   practice conversion legs and decay products produced beyond the pixel detector:
   with ≥ 4 silicon hits the TRT segment is extended into the SCT ("back-tracking",
   a Si+TRT track keeping its SCT hits, e.g. a leg produced at r = 200 mm); with fewer
   it stays a TRT-standalone track (``is_trt_standalone``, no silicon hit, much poorer
   resolution; legs produced beyond ≈ 450 mm). An extra efficiency models hadronic
   interactions in the material (0.90 for hadrons, 0.99 for e/μ) and the lower
   efficiency of the TRT-seeded pass (0.85). Finally the *reconstructed* pT > 0.5 GeV
   and |η| < 2.5 are required.
4. **Resolution.** σ(q/pT)·pT = a(η)·pT ⊕ b(η), σ(d0) = [σ_d0(η) ⊕ 140 µm·GeV/(pT√sinθ)]
   × lever arm, σ(z0·sinθ) = [σ_z0(η) ⊕ 210 µm·GeV/(pT√sinθ)] × lever arm, with the
   lever-arm factor r_first/r_IBL (r_first: radius of the innermost measurement), so
   that σ(d0) is ~1.5× worse without an IBL hit and ~9× worse for tracks that start in
   the SCT; TRT-standalone tracks have 2.5× worse q/pT, angles and d0 (on top of the
   lever arm from the TRT entry) and σ(z0) = 100 mm (no z measurement in the TRT
   barrel). The reconstructed charge is the sign of the smeared q/pT, so charge
   mis-measurement grows with pT and |η| from the resolution alone.
5. **Fit quality.** ndof = 2·n_pixel + n_SCT + n_TRT − 5 (≥ 1), χ² ~ χ²(ndof), inflated
   by (1 + 2·Δp/p) for radiating electrons.
6. **TRT particle identification.** Each TRT hit is a high-threshold (HT) hit with a
   probability p_HT(γ) that turns on with transition radiation at γ = E/m ≈ 10³;
   ``e_probability_ht`` = L_e/(L_e + L_π) with binomial likelihoods
   (:func:`electron_probability_ht`).
7. **Vertices.** Reconstructed vertices are the true vertices with ≥ 2 reconstructed
   silicon tracks; a track is assigned to the one nearest in z0 within
   3σ(z0) ⊕ 0.5 mm.
8. **Extrapolation.** Each track is propagated from its reconstructed perigee to the EM
   middle layer (:func:`~egamma_cnn.sim.propagation.extrapolate_point_to_calorimeter`):
   ``eta_calo``/``phi_calo``.

Brem contract
-------------
The material stage hands over the *post-brem* electron (momentum p·(1 − loss), with the
direction at the perigee) and ``momentum_loss`` = loss, the fraction of the perigee
momentum lost by bremsstrahlung between the perigee and the last measurement. The
tracker reconstructs the perigee momentum as p_post/(1 − loss) (a GSF-like fit recovers
the pre-brem momentum at the perigee) and reports Δp/p = loss (smeared).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

import numba
import numpy as np

from egamma_cnn.sim.particles import ParticleBatch, VertexTable
from egamma_cnn.sim.propagation import (
    SOLENOID_FIELD_T,
    extrapolate_point_to_calorimeter_array,
    flat_float64,
    helix_circle,
    straight_path_to_radius,
)

__all__ = [
    "PIXEL_BARREL_RADII_MM",
    "SCT_BARREL_RADII_MM",
    "LayerCrossings",
    "TrackBatch",
    "TrackerConfig",
    "electron_probability_ht",
    "layer_crossings",
    "perigee_parameters",
    "perigee_parameters_array",
    "reconstruct_tracks",
    "sigma_d0",
    "sigma_qoverpt",
    "sigma_z0",
    "trt_high_threshold_probability",
]

# --------------------------------------------------------------------------------------
# Inner-detector geometry (ATLAS, JINST 3 (2008) S08003 Table 4.1; IBL TDR)
# --------------------------------------------------------------------------------------

#: Pixel barrel layer radii (mm): IBL (the innermost layer, "B-layer" of ATL-PHYS-PUB-2023-001
#: Table 4 in Run 2), B-layer, layer 1, layer 2.
PIXEL_BARREL_RADII_MM = np.array([33.0, 50.5, 88.5, 122.5])
#: Half-lengths (mm) of the active pixel barrel layers (IBL staves 664 mm long).
PIXEL_BARREL_HALF_LENGTHS_MM = np.array([332.0, 400.5, 400.5, 400.5])
#: |z| (mm) of the three pixel end-cap disks on each side.
PIXEL_DISK_Z_MM = np.array([495.0, 580.0, 650.0])
#: Active radial range (mm) of the pixel disks.
PIXEL_DISK_R_MIN_MM = 88.8
PIXEL_DISK_R_MAX_MM = 149.6
#: SCT barrel layer radii (mm); every module is double-sided (stereo 40 mrad): two hits
#: per layer crossed.
SCT_BARREL_RADII_MM = np.array([299.0, 371.0, 443.0, 514.0])
#: Half-length (mm) of the SCT barrel.
SCT_BARREL_HALF_LENGTH_MM = 749.0
#: |z| (mm) of the nine SCT end-cap disks on each side.
SCT_DISK_Z_MM = np.array([853.8, 934.0, 1091.5, 1299.9, 1399.7, 1771.4, 2115.2, 2505.0, 2720.2])
#: Inner active radius (mm) of each SCT disk: disks 1, 7, 8 lack the inner ring of
#: modules and disk 9 has the outer ring only (approximation of the ATLAS layout).
SCT_DISK_R_MIN_MM = np.array([337.6, 275.0, 275.0, 275.0, 275.0, 275.0, 337.6, 337.6, 438.8])
#: Outer active radius (mm) of the SCT disks.
SCT_DISK_R_MAX_MM = 560.0
#: Hits per SCT module crossing (two single-sided sensors glued back to back).
SCT_HITS_PER_MODULE = 2
#: TRT barrel: straws parallel to the beam between these radii (mm), |z| < half-length.
TRT_BARREL_R_MIN_MM = 554.0
TRT_BARREL_R_MAX_MM = 1082.0
TRT_BARREL_HALF_LENGTH_MM = 712.0
#: Straws crossed per mm of radial path in the TRT barrel: 35 over the full 528 mm
#: (73 straw layers, "typically 36 hits per track": JINST 3 (2008) S08003 ch. 4).
TRT_BARREL_CROSSINGS_PER_MM = 35.0 / 528.0
#: TRT end-caps: radial straws in wheels between these radii and |z| (mm).
TRT_ENDCAP_R_MIN_MM = 617.0
TRT_ENDCAP_R_MAX_MM = 1106.0
TRT_ENDCAP_Z_MIN_MM = 848.0
TRT_ENDCAP_Z_MAX_MM = 2710.0
#: Straws crossed per mm of |z| path in the TRT end-caps: 160 straw planes over 1862 mm,
#: of which a track hits ≈ 40 % (the azimuthal straw pitch exceeds the 4 mm straw
#: diameter at large radius); ≈ 40 crossings at |η| ≈ 1.5–1.7, ≈ 13 at |η| = 2.0.
TRT_ENDCAP_CROSSINGS_PER_MM = 0.036

# --------------------------------------------------------------------------------------
# Resolutions (ATLAS ID: JINST 3 (2008) S08003 ch. 10 "expected track-parameter
# resolutions", σ_X = σ_X(∞) ⊕ multiple-scattering term; IBL TDR CERN-LHCC-2010-013)
# --------------------------------------------------------------------------------------

#: |η| nodes of the η-dependent resolution terms (linear interpolation, constant beyond).
RESOLUTION_ABS_ETA_NODES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
#: Curvature ("sagitta") term a(η) of σ(q/pT)·pT = a·pT ⊕ b, in 1/GeV: 0.05 %·pT at
#: central η, growing forward as the transverse lever arm shrinks and the TRT ends.
QOVERPT_SAGITTA_TERM = np.array([0.0005, 0.0005, 0.0006, 0.0008, 0.0012, 0.0020])
#: Multiple-scattering term b(η) of σ(q/pT)·pT (dimensionless): 1 % centrally, more
#: forward where the ID material is thicker (ATLAS: 1.5 % at |η|≈0.4, 3 % at |η|≈1.6).
QOVERPT_MS_TERM = np.array([0.010, 0.011, 0.013, 0.018, 0.022, 0.025])
#: Intrinsic d0 resolution σ_d0(∞) (mm): ≈ 10 µm centrally, 12 µm at |η|≈1.6.
D0_INTRINSIC_MM = np.array([0.010, 0.010, 0.011, 0.012, 0.015, 0.020])
#: Multiple-scattering term of σ(d0) (mm·GeV), divided by pT·√sinθ: 140 µm·GeV.
D0_MS_MM_GEV = 0.140
#: Intrinsic z0·sinθ resolution (mm): 91 µm at |η|≈0.4, 71 µm at |η|≈1.6.
Z0_SIN_THETA_INTRINSIC_MM = np.array([0.090, 0.090, 0.080, 0.072, 0.080, 0.100])
#: Multiple-scattering term of σ(z0·sinθ) (mm·GeV), divided by pT·√sinθ.
Z0_MS_MM_GEV = 0.210
#: Intrinsic φ0 resolution (rad): 70 µrad centrally, 92 µrad at |η|≈1.6.
PHI_INTRINSIC_RAD = np.array([70e-6, 70e-6, 80e-6, 92e-6, 100e-6, 110e-6])
#: Multiple-scattering term of σ(φ0) (rad·GeV), divided by pT·√sinθ.
PHI_MS_RAD_GEV = 2.7e-3
#: Intrinsic cot θ resolution (dimensionless).
COT_THETA_INTRINSIC = 0.7e-3
#: Multiple-scattering term of σ(cot θ) (GeV), divided by pT·√sinθ.
COT_THETA_MS_GEV = 3.5e-3
#: Relative q/pT resolution added in quadrature for radiating electrons, per unit of
#: Δp/p: the GSF fit recovers the perigee momentum of a radiating electron only
#: approximately (ATLAS GSF electron reconstruction, ATLAS-CONF-2012-047).
BREM_QOVERPT_RESOLUTION = 0.2
#: TRT-standalone tracks: σ(q/pT), angular and d0 resolutions are worse by this factor
#: (no silicon precision hit; the d0 extrapolation from the TRT, ≈ 130 µm per straw,
#: over ≥ 554 mm with a curvature fit: ≈ 1 mm at a few GeV).
TRT_STANDALONE_RESOLUTION_SCALE = 2.5
#: Tracks without any silicon hit: the TRT barrel has no z measurement; z0 and cot θ
#: come from the calorimeter seed of the back-tracking (ATLAS TRT-standalone tracks).
TRT_ONLY_Z0_RESOLUTION_MM = 100.0
TRT_ONLY_COT_THETA_RESOLUTION = 0.02
#: Absolute resolution of the measured Δp/p (GSF-like momentum-loss estimate).
DELTA_P_OVER_P_RESOLUTION = 0.02
#: Relative resolution of the measured Δp/p per unit of true loss.
DELTA_P_OVER_P_RELATIVE_RESOLUTION = 0.1
#: χ² inflation per unit of Δp/p for radiating electrons: χ² → χ²·(1 + k·Δp/p).
CHI2_BREM_INFLATION = 2.0

# --------------------------------------------------------------------------------------
# TRT transition radiation (ATLAS-CONF-2011-128, HT probability versus γ)
# --------------------------------------------------------------------------------------

#: HT probability per TRT hit below the transition-radiation turn-on (pions, muons).
TRT_HT_PROBABILITY_LOW = 0.05
#: HT probability per TRT hit on the transition-radiation plateau (electrons above a
#: few GeV).
TRT_HT_PROBABILITY_PLATEAU = 0.21
#: log10 of the Lorentz factor at the middle of the turn-on (γ ≈ 1.6·10³).
TRT_HT_LOG10_GAMMA_TURN_ON = 3.2
#: Width of the turn-on in log10 γ.
TRT_HT_LOG10_GAMMA_WIDTH = 0.25

ELECTRON_MASS_GEV = 0.000511
PION_MASS_GEV = 0.13957
_PDG_MASS_GEV = {
    11: ELECTRON_MASS_GEV,
    13: 0.105658,
    211: PION_MASS_GEV,
    321: 0.493677,
    2212: 0.938272,
    3112: 1.197449,
    3222: 1.18937,
    3312: 1.32171,
    3334: 1.67245,
}


# --------------------------------------------------------------------------------------
# Configuration and output container
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackerConfig:
    """Settings of the inner-detector emulation; a "data-like" detector changes some.

    Parameters
    ----------
    b_field_t : float
        Solenoid field (T).
    min_pt_gev, max_abs_eta : float
        Reconstructed-track acceptance: pT > min_pt_gev and |η| < max_abs_eta.
    min_silicon_hits, min_pixel_hits : int
        Silicon-seeded tracks need n_pixel + n_SCT ≥ min_silicon_hits and
        n_pixel ≥ min_pixel_hits (ATLAS "loose" track selection).
    pixel_hit_efficiency, sct_hit_efficiency, trt_hit_efficiency : float
        Probability that a crossed pixel layer / SCT side / TRT straw gives a hit
        (ATLAS: ≈ 0.98–0.99 for silicon modules, ≈ 0.94 for TRT straws within the
        track road).
    lepton_track_efficiency, hadron_track_efficiency : float
        Extra efficiency of the pattern recognition for e/μ and for hadrons (the latter
        includes hadronic interactions in the ID material).
    trt_seeded_efficiency : float
        Extra efficiency of the TRT-seeded (outside-in) pass.
    trt_seeded_min_trt_hits : int
        TRT hits required by the TRT-seeded pass.
    trt_seeded_min_pt_gev : float
        pT threshold of the TRT-seeded pass.
    backtracking_min_silicon_hits : int
        A TRT-seeded track with at least this many silicon hits keeps them (Si+TRT
        back-tracked track); with fewer it is TRT-standalone (silicon hits dropped).
    qoverpt_resolution_scale, d0_resolution_scale, z0_resolution_scale,
    angle_resolution_scale : float
        Multiply the corresponding resolutions.
    trt_ht_probability_scale : float
        Multiplies the HT probability per hit (gas mixture / ageing in data).
    chi2_scale : float
        Multiplies every χ² (mis-modelled hit errors).
    vertex_window_nsigma, vertex_window_floor_mm : float
        A track is assigned to a vertex within nsigma·σ(z0) ⊕ floor in z0.
    min_tracks_per_vertex : int
        Tracks a true vertex needs to be reconstructed.
    """

    b_field_t: float = SOLENOID_FIELD_T
    min_pt_gev: float = 0.5
    max_abs_eta: float = 2.5
    min_silicon_hits: int = 7
    min_pixel_hits: int = 1
    pixel_hit_efficiency: float = 0.98
    sct_hit_efficiency: float = 0.98
    trt_hit_efficiency: float = 0.94
    lepton_track_efficiency: float = 0.99
    hadron_track_efficiency: float = 0.90
    trt_seeded_efficiency: float = 0.85
    trt_seeded_min_trt_hits: int = 15
    trt_seeded_min_pt_gev: float = 1.0
    backtracking_min_silicon_hits: int = 4
    qoverpt_resolution_scale: float = 1.0
    d0_resolution_scale: float = 1.0
    z0_resolution_scale: float = 1.0
    angle_resolution_scale: float = 1.0
    trt_ht_probability_scale: float = 1.0
    chi2_scale: float = 1.0
    vertex_window_nsigma: float = 3.0
    vertex_window_floor_mm: float = 0.5
    min_tracks_per_vertex: int = 2

    def __post_init__(self) -> None:
        for name in (
            "pixel_hit_efficiency",
            "sct_hit_efficiency",
            "trt_hit_efficiency",
            "lepton_track_efficiency",
            "hadron_track_efficiency",
            "trt_seeded_efficiency",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"TrackerConfig.{name} = {v} is not in [0, 1]")
        for name in (
            "b_field_t",
            "qoverpt_resolution_scale",
            "d0_resolution_scale",
            "z0_resolution_scale",
            "angle_resolution_scale",
            "chi2_scale",
        ):
            v = getattr(self, name)
            if not v > 0.0:
                raise ValueError(f"TrackerConfig.{name} = {v} must be positive")
        if not 0.0 < self.trt_ht_probability_scale * TRT_HT_PROBABILITY_PLATEAU < 1.0:
            raise ValueError("TrackerConfig.trt_ht_probability_scale gives p_HT outside (0, 1)")


_TRACK_DTYPES = {
    "pt": np.float64,
    "eta": np.float64,
    "phi": np.float64,
    "charge": np.int8,
    "d0": np.float64,
    "d0_err": np.float64,
    "z0": np.float64,
    "z0_err": np.float64,
    "chi2": np.float32,
    "ndof": np.int16,
    "n_blayer_hits": np.int16,
    "n_pixel_hits": np.int16,
    "n_sct_hits": np.int16,
    "n_trt_hits": np.int16,
    "n_trt_ht_hits": np.int16,
    "e_probability_ht": np.float32,
    "delta_p_over_p": np.float32,
    "vertex_index": np.int16,
    "is_trt_standalone": np.bool_,
    "eta_calo": np.float64,
    "phi_calo": np.float64,
    "particle_index": np.int64,
}


@dataclass
class TrackBatch:
    """Reconstructed tracks of a batch of events, flat with ``offsets`` (n_events + 1).

    Tracks are ordered within an event as the particles they come from.

    Fields (units)
    --------------
    pt, eta, phi : perigee transverse momentum (GeV), pseudorapidity, azimuth φ0 (rad,
        [-π, π)). For radiating electrons pT is the pre-brem perigee momentum.
    charge : int8, reconstructed charge, the sign of the smeared q/pT.
    d0, d0_err : transverse impact parameter w.r.t. the beam line and its error (mm);
        ATLAS sign: the point of closest approach is (−d0 sin φ0, d0 cos φ0).
    z0, z0_err : longitudinal impact parameter (z of the point of closest approach, mm)
        and its error.
    chi2, ndof : χ² of the fit and its degrees of freedom 2·n_pixel + n_SCT + n_TRT − 5.
    n_blayer_hits : hits in the innermost pixel layer (IBL, 0 or 1).
    n_pixel_hits, n_sct_hits, n_trt_hits, n_trt_ht_hits : hit counts (pixel includes
        the IBL hit; SCT counts sides; ``n_trt_ht_hits`` ≤ ``n_trt_hits``).
    e_probability_ht : float32, L_e/(L_e + L_π) from the TRT HT hits; 0.5 without TRT
        hits (|η| ≳ 2.0).
    delta_p_over_p : float32, measured fractional momentum loss between the perigee and
        the last measurement (ATL-PHYS-PUB-2023-001 Table 4).
    vertex_index : int16, index in the event's VertexTable of the reconstructed vertex
        the track is assigned to (0 = hard scatter), -1 if none.
    is_trt_standalone : bool, TRT-standalone track (TRT-seeded, no silicon hit; poor
        resolution, σ(z0) = 100 mm, never assigned to a vertex). Back-tracked Si+TRT
        tracks (e.g. conversion legs without pixel hits but with SCT hits) are False.
    eta_calo, phi_calo : η and φ of the track extrapolated from its perigee to the EM
        middle layer (the cylinder r = 1680 mm if crossed within |z| ≤ 3500 mm, else the
        plane |z| = 3900 mm; :mod:`.propagation`), as seen from the
        detector origin; NaN if the track cannot reach it.
    particle_index : int64, flat index of the truth particle in the input ParticleBatch.
    """

    offsets: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    charge: np.ndarray
    d0: np.ndarray
    d0_err: np.ndarray
    z0: np.ndarray
    z0_err: np.ndarray
    chi2: np.ndarray
    ndof: np.ndarray
    n_blayer_hits: np.ndarray
    n_pixel_hits: np.ndarray
    n_sct_hits: np.ndarray
    n_trt_hits: np.ndarray
    n_trt_ht_hits: np.ndarray
    e_probability_ht: np.ndarray
    delta_p_over_p: np.ndarray
    vertex_index: np.ndarray
    is_trt_standalone: np.ndarray
    eta_calo: np.ndarray
    phi_calo: np.ndarray
    particle_index: np.ndarray

    def __post_init__(self) -> None:
        self.offsets = np.asarray(self.offsets, np.int64)
        n = int(self.offsets[-1]) if len(self.offsets) else 0
        for f in fields(self):
            if f.name == "offsets":
                continue
            arr = np.asarray(getattr(self, f.name), dtype=_TRACK_DTYPES[f.name])
            setattr(self, f.name, arr)
            if len(arr) != n:
                raise ValueError(
                    f"TrackBatch.{f.name} has length {len(arr)}, expected {n} (offsets[-1])"
                )

    @property
    def n_events(self) -> int:
        """Number of events in the batch."""
        return len(self.offsets) - 1

    def __len__(self) -> int:
        return int(self.offsets[-1]) if len(self.offsets) else 0

    @property
    def event_index(self) -> np.ndarray:
        """Event number within the batch of every track."""
        return np.repeat(np.arange(self.n_events), np.diff(self.offsets))

    @property
    def n_silicon_hits(self) -> np.ndarray:
        """n_pixel + n_SCT."""
        return (self.n_pixel_hits + self.n_sct_hits).astype(np.int16)

    @classmethod
    def empty(cls, n_events: int = 0) -> TrackBatch:
        """A batch of ``n_events`` events without tracks."""
        kw = {name: np.zeros(0, dtype=dt) for name, dt in _TRACK_DTYPES.items()}
        return cls(offsets=np.zeros(n_events + 1, np.int64), **kw)


# --------------------------------------------------------------------------------------
# Perigee of the helix
# --------------------------------------------------------------------------------------


@numba.njit(cache=True)
def perigee_parameters(
    x: float,
    y: float,
    z: float,
    px: float,
    py: float,
    pz: float,
    charge: float,
    b_field_t: float = SOLENOID_FIELD_T,
) -> tuple[float, float, float]:
    """Exact helix perigee (d0, z0, φ0) w.r.t. the beam line of a particle produced at
    (x, y, z) with momentum p (numba-compiled, scalar).

    The transverse circle (:func:`~egamma_cnn.sim.propagation.helix_circle`) has
    radius R = p_T/(c·B·|q|) and centre c = v + q̂·R·(sin φ, −cos φ) (q̂ = sign of the
    charge, (cos φ, sin φ) = (p_x, p_y)/p_T); with D = |c| the point of closest approach
    to the z axis is PCA = c·(D − R)/D and

        d0 = −q̂·(D − R),   D − R = (|v|² + 2q̂R(vx sin φ − vy cos φ)) / (D + R),

    (ATLAS sign: PCA = (−d0 sin φ0, d0 cos φ0)); φ0 is the direction at the PCA and
    z0 = vz − s·cot θ with s the transverse arc from the PCA to the production point.
    For a neutral particle the straight-line limit is used. The numerically stable form
    of D − R keeps d0 exact for TeV tracks (R ~ 10⁶ mm).

    Returns
    -------
    (d0, z0, phi0) : tuple of float
        mm, mm, rad.
    """
    pt = math.hypot(px, py)
    if pt <= 0.0:
        return (math.hypot(x, y), z, 0.0)
    phi = math.atan2(py, px)
    sphi = py / pt
    cphi = px / pt
    cot = pz / pt
    if charge == 0.0 or b_field_t == 0.0:
        d0 = -x * sphi + y * cphi
        s = x * cphi + y * sphi
        return (d0, z - s * cot, phi)
    cx, cy, rad, sq = helix_circle(x, y, px, py, charge, b_field_t)
    dist = math.hypot(cx, cy)
    if dist == 0.0:  # beam line on the centre: every point is a PCA
        return (-sq * rad, z, phi)
    d_minus_r = (x * x + y * y + 2.0 * sq * rad * (x * sphi - y * cphi)) / (dist + rad)
    ex = cx / dist
    ey = cy / dist
    phi0 = math.atan2(sq * ex, -sq * ey)
    # signed rotation angle (about c) from the PCA (ρ = −R ĉ) to the production point.
    rho_px = -ex
    rho_py = -ey
    rho_vx = (x - cx) / rad
    rho_vy = (y - cy) / rad
    alpha = math.atan2(rho_px * rho_vy - rho_py * rho_vx, rho_px * rho_vx + rho_py * rho_vy)
    s = -sq * alpha * rad
    return (-sq * d_minus_r, z - s * cot, phi0)


@numba.njit(cache=True)
def _perigee_loop(x, y, z, px, py, pz, charge, b, d0, z0, phi0):
    for i in range(len(d0)):
        d0[i], z0[i], phi0[i] = perigee_parameters(
            x[i], y[i], z[i], px[i], py[i], pz[i], charge[i], b
        )


def perigee_parameters_array(
    x, y, z, px, py, pz, charge, b_field_t: float = SOLENOID_FIELD_T
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`perigee_parameters`: (d0, z0, phi0) arrays."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in (x, y, z, px, py, pz, charge)))
    a = flat_float64(x, y, z, px, py, pz, charge)
    d0 = np.empty(len(a[0]), np.float64)
    z0 = np.empty_like(d0)
    phi0 = np.empty_like(d0)
    _perigee_loop(*a, float(b_field_t), d0, z0, phi0)
    return d0.reshape(shape), z0.reshape(shape), phi0.reshape(shape)


# --------------------------------------------------------------------------------------
# Surface crossings
# --------------------------------------------------------------------------------------


class LayerCrossings(NamedTuple):
    """Detector elements crossed by each particle (before hit efficiencies).

    Attributes
    ----------
    blayer : int16, 1 if the IBL (innermost pixel layer) is crossed.
    pixel : int16, pixel layers + disks crossed (IBL included).
    sct : int16, SCT sides crossed (2 per module).
    trt_expected : float64, expected number of TRT straws crossed.
    r_first : float64, radius (mm) of the innermost silicon element crossed (inf if none).
    r_first_after_blayer : float64, same, the IBL excluded.
    r_trt : float64, radius (mm) where the particle enters the TRT (inf if it does not).
    """

    blayer: np.ndarray
    pixel: np.ndarray
    sct: np.ndarray
    trt_expected: np.ndarray
    r_first: np.ndarray
    r_first_after_blayer: np.ndarray
    r_trt: np.ndarray


@numba.njit(cache=True)
def _interval_radial(x, y, ux, uy, rmin, rmax):
    """s-interval (s ≥ 0) of the outgoing line where rmin ≤ r(s) ≤ rmax (s1 > s2: empty)."""
    s2 = straight_path_to_radius(x, y, ux, uy, rmax)
    if math.isnan(s2):
        return 1.0, 0.0
    s1 = straight_path_to_radius(x, y, ux, uy, rmin)
    if math.isnan(s1):
        s1 = 0.0
    return max(s1, 0.0), s2


@numba.njit(cache=True)
def _crossings_kernel(vx, vy, vz, px, py, pz, charge, b):
    n = len(vx)
    blayer = np.zeros(n, np.int16)
    pixel = np.zeros(n, np.int16)
    sct = np.zeros(n, np.int16)
    trt = np.zeros(n, np.float64)
    r_first = np.full(n, np.inf)
    r_first_nb = np.full(n, np.inf)
    r_trt = np.full(n, np.inf)
    for i in range(n):
        pt = math.hypot(px[i], py[i])
        if pt <= 0.0 or charge[i] == 0:
            continue
        x = vx[i]
        y = vy[i]
        z = vz[i]
        ux = px[i] / pt
        uy = py[i] / pt
        cot = pz[i] / pt
        # Radial reach of the helix: |c| + R (the farthest point of the circle).
        reach = math.inf
        if b != 0.0:
            cx, cy, rad, _ = helix_circle(x, y, px[i], py[i], charge[i], b)
            reach = math.hypot(cx, cy) + rad
        # --- pixel barrel
        for j in range(PIXEL_BARREL_RADII_MM.shape[0]):
            r = PIXEL_BARREL_RADII_MM[j]
            if r > reach:
                continue
            s = straight_path_to_radius(x, y, ux, uy, r)
            if not s >= 0.0 or abs(z + s * cot) > PIXEL_BARREL_HALF_LENGTHS_MM[j]:
                continue
            pixel[i] += 1
            r_first[i] = min(r_first[i], r)
            if j == 0:
                blayer[i] = 1
            else:
                r_first_nb[i] = min(r_first_nb[i], r)
        # --- pixel disks and SCT disks (planes): need cot θ ≠ 0
        if cot != 0.0:
            side = 1.0 if cot > 0.0 else -1.0
            for j in range(PIXEL_DISK_Z_MM.shape[0]):
                s = (side * PIXEL_DISK_Z_MM[j] - z) / cot
                if s < 0.0:
                    continue
                r = math.hypot(x + s * ux, y + s * uy)
                if r < PIXEL_DISK_R_MIN_MM or r > PIXEL_DISK_R_MAX_MM or r > reach:
                    continue
                pixel[i] += 1
                r_first[i] = min(r_first[i], r)
                r_first_nb[i] = min(r_first_nb[i], r)
            for j in range(SCT_DISK_Z_MM.shape[0]):
                s = (side * SCT_DISK_Z_MM[j] - z) / cot
                if s < 0.0:
                    continue
                r = math.hypot(x + s * ux, y + s * uy)
                if r < SCT_DISK_R_MIN_MM[j] or r > SCT_DISK_R_MAX_MM or r > reach:
                    continue
                sct[i] += SCT_HITS_PER_MODULE
                r_first[i] = min(r_first[i], r)
                r_first_nb[i] = min(r_first_nb[i], r)
        # --- SCT barrel
        for j in range(SCT_BARREL_RADII_MM.shape[0]):
            r = SCT_BARREL_RADII_MM[j]
            if r > reach:
                continue
            s = straight_path_to_radius(x, y, ux, uy, r)
            if not s >= 0.0 or abs(z + s * cot) > SCT_BARREL_HALF_LENGTH_MM:
                continue
            sct[i] += SCT_HITS_PER_MODULE
            r_first[i] = min(r_first[i], r)
            r_first_nb[i] = min(r_first_nb[i], r)
        # --- TRT barrel: straws crossed ∝ radial path inside the volume
        s1, s2 = _interval_radial(
            x, y, ux, uy, TRT_BARREL_R_MIN_MM, min(TRT_BARREL_R_MAX_MM, reach)
        )
        if cot != 0.0:
            za = (-TRT_BARREL_HALF_LENGTH_MM - z) / cot
            zb = (TRT_BARREL_HALF_LENGTH_MM - z) / cot
            s1 = max(s1, min(za, zb))
            s2 = min(s2, max(za, zb))
        elif abs(z) > TRT_BARREL_HALF_LENGTH_MM:
            s2 = -1.0
        if s2 > s1:
            ra = math.hypot(x + s1 * ux, y + s1 * uy)
            rb = math.hypot(x + s2 * ux, y + s2 * uy)
            trt[i] += TRT_BARREL_CROSSINGS_PER_MM * max(rb - ra, 0.0)
            r_trt[i] = min(r_trt[i], ra)
        # --- TRT end-caps: straws crossed ∝ |z| path inside the volume
        if cot != 0.0:
            s1, s2 = _interval_radial(
                x, y, ux, uy, TRT_ENDCAP_R_MIN_MM, min(TRT_ENDCAP_R_MAX_MM, reach)
            )
            side = 1.0 if cot > 0.0 else -1.0
            za = (side * TRT_ENDCAP_Z_MIN_MM - z) / cot
            zb = (side * TRT_ENDCAP_Z_MAX_MM - z) / cot
            s1 = max(s1, min(za, zb))
            s2 = min(s2, max(za, zb))
            if s2 > s1:
                trt[i] += TRT_ENDCAP_CROSSINGS_PER_MM * (s2 - s1) * abs(cot)
                r_trt[i] = min(r_trt[i], math.hypot(x + s1 * ux, y + s1 * uy))
    return blayer, pixel, sct, trt, r_first, r_first_nb, r_trt


def layer_crossings(
    vx, vy, vz, px, py, pz, charge, b_field_t: float = SOLENOID_FIELD_T
) -> LayerCrossings:
    """Inner-detector elements crossed by charged particles from their production points.

    Straight lines in 3-D from (vx, vy, vz) along p are intersected with the barrel
    cylinders and end-cap disks of the pixel and SCT detectors (module constants); an
    element counts only if it lies *after* the production point along the flight
    direction and within the helix's radial reach |c| + R. The TRT count is the radial
    path in the barrel volume times :data:`TRT_BARREL_CROSSINGS_PER_MM` plus the |z|
    path in the end-cap volumes times :data:`TRT_ENDCAP_CROSSINGS_PER_MM`. Neutral
    particles cross nothing. No efficiency is applied here.

    Parameters
    ----------
    vx, vy, vz : array_like
        Production vertices (mm).
    px, py, pz : array_like
        Momenta (GeV).
    charge : array_like
        Charges (e).
    b_field_t : float
        Solenoid field (T).

    Returns
    -------
    LayerCrossings
    """
    a = flat_float64(vx, vy, vz, px, py, pz)
    q = np.ascontiguousarray(np.broadcast_to(np.asarray(charge, np.int64), a[0].shape))
    return LayerCrossings(*_crossings_kernel(*a, q, float(b_field_t)))


# --------------------------------------------------------------------------------------
# Resolutions and TRT PID
# --------------------------------------------------------------------------------------


def _interp(abs_eta: np.ndarray, table: np.ndarray) -> np.ndarray:
    return np.interp(abs_eta, RESOLUTION_ABS_ETA_NODES, table)


def _ms_denominator(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """pT·√sinθ = p·sin^{3/2}θ, the scaling of multiple-scattering terms."""
    return np.asarray(pt) * np.sqrt(1.0 / np.cosh(eta))


def sigma_qoverpt(pt, eta, config: TrackerConfig | None = None) -> np.ndarray:
    """σ(q/pT) (1/GeV) of a silicon track without brem.

    σ(q/pT)·pT = a(|η|)·pT ⊕ b(|η|) with a = :data:`QOVERPT_SAGITTA_TERM` (0.05 %/GeV
    centrally) and b = :data:`QOVERPT_MS_TERM` (1 % centrally), times
    ``config.qoverpt_resolution_scale``.
    """
    cfg = config or TrackerConfig()
    pt = np.asarray(pt, np.float64)
    abs_eta = np.abs(np.asarray(eta, np.float64))
    rel = np.hypot(_interp(abs_eta, QOVERPT_SAGITTA_TERM) * pt, _interp(abs_eta, QOVERPT_MS_TERM))
    return cfg.qoverpt_resolution_scale * rel / pt


def sigma_d0(
    pt, eta, first_hit_radius_mm=PIXEL_BARREL_RADII_MM[0], config: TrackerConfig | None = None
) -> np.ndarray:
    """σ(d0) (mm) of a silicon track.

    σ(d0) = [σ_d0(|η|) ⊕ 140 µm·GeV/(pT·√sinθ)] · (r_first / r_IBL) with σ_d0 =
    :data:`D0_INTRINSIC_MM` (10 µm centrally) and r_first the radius of the innermost
    hit (the extrapolation error grows linearly with the distance to the beam line),
    times ``config.d0_resolution_scale``.
    """
    cfg = config or TrackerConfig()
    eta = np.asarray(eta, np.float64)
    lever = np.asarray(first_hit_radius_mm, np.float64) / PIXEL_BARREL_RADII_MM[0]
    res = np.hypot(_interp(np.abs(eta), D0_INTRINSIC_MM), D0_MS_MM_GEV / _ms_denominator(pt, eta))
    return cfg.d0_resolution_scale * lever * res


def sigma_z0(
    pt, eta, first_hit_radius_mm=PIXEL_BARREL_RADII_MM[0], config: TrackerConfig | None = None
) -> np.ndarray:
    """σ(z0) (mm) of a silicon track.

    σ(z0) = [σ_z0sinθ(|η|) ⊕ 210 µm·GeV/(pT·√sinθ)] / sinθ · (r_first / r_IBL), with
    σ_z0sinθ = :data:`Z0_SIN_THETA_INTRINSIC_MM` (90 µm centrally), times
    ``config.z0_resolution_scale``.
    """
    cfg = config or TrackerConfig()
    eta = np.asarray(eta, np.float64)
    lever = np.asarray(first_hit_radius_mm, np.float64) / PIXEL_BARREL_RADII_MM[0]
    res = np.hypot(
        _interp(np.abs(eta), Z0_SIN_THETA_INTRINSIC_MM), Z0_MS_MM_GEV / _ms_denominator(pt, eta)
    )
    return cfg.z0_resolution_scale * lever * res * np.cosh(eta)


def trt_high_threshold_probability(gamma, scale: float = 1.0) -> np.ndarray:
    """Probability that a TRT hit is a high-threshold hit, versus the Lorentz factor.

    p_HT(γ) = scale · [p_low + (p_plateau − p_low) / (1 + exp(−(log10 γ − 3.2)/0.25))]

    with p_low = 0.05 and p_plateau = 0.21: transition radiation turns on around
    γ ≈ 10³ (ATLAS-CONF-2011-128, Fig. "HT probability versus γ"), so a pion of a few
    GeV (γ ≈ 30) has ≈ 0.05 and an electron of a few GeV (γ ≈ 10⁴) ≈ 0.2; pions
    reach the turn-on only above ≈ 100 GeV.
    """
    lg = np.log10(np.maximum(np.asarray(gamma, np.float64), 1.0))
    turn_on = 1.0 / (1.0 + np.exp(-(lg - TRT_HT_LOG10_GAMMA_TURN_ON) / TRT_HT_LOG10_GAMMA_WIDTH))
    p = TRT_HT_PROBABILITY_LOW + (TRT_HT_PROBABILITY_PLATEAU - TRT_HT_PROBABILITY_LOW) * turn_on
    return np.clip(scale * p, 1e-6, 1.0 - 1e-6)


def electron_probability_ht(n_ht, n_trt, p_gev, scale: float = 1.0) -> np.ndarray:
    """Electron probability from the TRT high-threshold hits (``eProbabilityHT``).

    With k = n_HT out of n = n_TRT hits and the track momentum p, the likelihoods are
    binomial, L_h = C(n, k)·p_h^k·(1 − p_h)^(n−k) with p_h = p_HT(γ_h),
    γ_h = √(p² + m_h²)/m_h for h = e, π, and

        eProbabilityHT = L_e / (L_e + L_π)

    (the binomial coefficients cancel). With n = 0 (no TRT, |η| ≳ 2.0) both
    likelihoods are 1 and the value is 0.5, "no information".
    """
    k = np.asarray(n_ht, np.float64)
    n = np.asarray(n_trt, np.float64)
    p = np.asarray(p_gev, np.float64)
    pe = trt_high_threshold_probability(np.hypot(p, ELECTRON_MASS_GEV) / ELECTRON_MASS_GEV, scale)
    ppi = trt_high_threshold_probability(np.hypot(p, PION_MASS_GEV) / PION_MASS_GEV, scale)
    ll_e = k * np.log(pe) + (n - k) * np.log1p(-pe)
    ll_pi = k * np.log(ppi) + (n - k) * np.log1p(-ppi)
    return 1.0 / (1.0 + np.exp(np.clip(ll_pi - ll_e, -700.0, 700.0)))


def _particle_mass(pdg_id: np.ndarray, p: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Mass (GeV) from the PDG id for common charged species, else from E² − p²."""
    apdg = np.abs(pdg_id)
    with np.errstate(invalid="ignore"):
        mass = np.sqrt(np.maximum(energy * energy - p * p, 0.0))
    mass = np.where(mass > ELECTRON_MASS_GEV, mass, PION_MASS_GEV)
    for code, m in _PDG_MASS_GEV.items():
        mass = np.where(apdg == code, m, mass)
    return mass


# --------------------------------------------------------------------------------------
# Vertex assignment
# --------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _assign_vertices(toff, z0, z0_err, eligible, truth_vtx, voff, vz, nsigma, floor, min_tracks):
    out = np.full(len(z0), -1, np.int16)
    for e in range(len(toff) - 1):
        v0 = voff[e]
        nv = voff[e + 1] - v0
        if nv == 0:
            continue
        count = np.zeros(nv, np.int64)
        for t in range(toff[e], toff[e + 1]):
            k = truth_vtx[t]
            if eligible[t] and 0 <= k < nv:
                count[k] += 1
        for t in range(toff[e], toff[e + 1]):
            if not eligible[t]:
                continue
            window = math.hypot(nsigma * z0_err[t], floor)
            best = -1
            best_d = math.inf
            for k in range(nv):
                if count[k] < min_tracks:
                    continue
                d = abs(z0[t] - vz[v0 + k])
                if d <= window and d < best_d:
                    best_d = d
                    best = k
            out[t] = best
    return out


# --------------------------------------------------------------------------------------
# Reconstruction
# --------------------------------------------------------------------------------------


def reconstruct_tracks(
    particles: ParticleBatch,
    vertices: VertexTable,
    momentum_loss: np.ndarray,
    rng: np.random.Generator,
    config: TrackerConfig = TrackerConfig(),
) -> TrackBatch:
    """Reconstructed tracks of the charged particles of a batch (see the module docstring).

    Parameters
    ----------
    particles : ParticleBatch
        Particles reaching the inner detector; electrons that radiated carry their
        *post-brem* momentum p·(1 − loss) with the perigee direction.
    vertices : VertexTable
        True interaction vertices (same events); those with ≥ 2 reconstructed silicon
        tracks become the reconstructed vertices.
    momentum_loss : np.ndarray
        Per particle, the fraction of the perigee momentum lost by bremsstrahlung
        between the perigee and the last measurement, 0 ≤ loss < 1 (0 for non-electrons,
        conversion legs included). The perigee momentum is reconstructed as
        p_post / (1 − loss) and Δp/p is loss (smeared by
        :data:`DELTA_P_OVER_P_RESOLUTION` ⊕ 10 %·loss).
    rng : np.random.Generator
        Source of all randomness (vectorised draws in a fixed order).
    config : TrackerConfig
        Detector settings.

    Returns
    -------
    TrackBatch
        One entry per reconstructed track, grouped by event like ``particles``;
        ``particle_index`` links each track to its particle.

    Raises
    ------
    ValueError
        If the inputs disagree in length/number of events or a loss is outside [0, 1).
    """
    n = len(particles)
    n_events = particles.n_events
    if vertices.n_events != n_events:
        raise ValueError(f"vertices has {vertices.n_events} events, particles {n_events}")
    loss_all = np.asarray(momentum_loss, np.float64)
    if loss_all.shape != (n,):
        raise ValueError(f"momentum_loss has shape {loss_all.shape}, expected ({n},)")
    if n and not (np.all(loss_all >= 0.0) and np.all(loss_all < 1.0)):
        raise ValueError("momentum_loss must lie in [0, 1)")
    if n == 0:
        return TrackBatch.empty(n_events)

    b = float(config.b_field_t)
    # Perigee momentum: undo the brem loss (contract of the material stage).
    scale_all = 1.0 / (1.0 - loss_all)
    pt_all = particles.pt * scale_all
    eta_all = particles.eta
    charge_all = particles.charge.astype(np.int64)
    # Pre-selection of candidates that can pass the acceptance (pure speed-up: a
    # particle 20 % below the pT threshold or 0.3 outside |η| is never reconstructed).
    cand = (
        (charge_all != 0)
        & (pt_all > 0.8 * config.min_pt_gev)
        & (np.abs(eta_all) < config.max_abs_eta + 0.3)
        & np.isfinite(pt_all)
    )
    idx = np.flatnonzero(cand)
    loss = loss_all[idx]
    sc = scale_all[idx]
    px = particles.px[idx] * sc
    py = particles.py[idx] * sc
    pz = particles.pz[idx] * sc
    vx = particles.vx[idx]
    vy = particles.vy[idx]
    vz = particles.vz[idx]
    q = charge_all[idx]
    pt = pt_all[idx]
    eta = eta_all[idx]
    apdg = np.abs(particles.pdg_id[idx])

    # ---- hits
    cross = layer_crossings(vx, vy, vz, px, py, pz, q, b)
    n_bl = rng.binomial(cross.blayer.astype(np.int64), config.pixel_hit_efficiency)
    n_pix = n_bl + rng.binomial(
        (cross.pixel - cross.blayer).astype(np.int64), config.pixel_hit_efficiency
    )
    n_sct = rng.binomial(cross.sct.astype(np.int64), config.sct_hit_efficiency)
    n_trt_cross = np.floor(cross.trt_expected + rng.random(len(idx))).astype(np.int64)
    n_trt = rng.binomial(n_trt_cross, config.trt_hit_efficiency)
    n_si = n_pix + n_sct

    # ---- pattern recognition
    standard = (n_pix >= config.min_pixel_hits) & (n_si >= config.min_silicon_hits)
    trt_seeded = (
        ~standard & (n_trt >= config.trt_seeded_min_trt_hits) & (pt > config.trt_seeded_min_pt_gev)
    )
    trt_sa = trt_seeded & (n_si < config.backtracking_min_silicon_hits)
    # A TRT-standalone track carries no silicon hit.
    n_bl = np.where(trt_sa, 0, n_bl)
    n_pix = np.where(trt_sa, 0, n_pix)
    n_sct = np.where(trt_sa, 0, n_sct)
    n_si = n_pix + n_sct
    is_lepton = (apdg == 11) | (apdg == 13)
    eff = np.where(is_lepton, config.lepton_track_efficiency, config.hadron_track_efficiency)
    eff = eff * np.where(trt_seeded, config.trt_seeded_efficiency, 1.0)
    found = (standard | trt_seeded) & (rng.random(len(idx)) < eff)

    sel = np.flatnonzero(found)
    idx = idx[sel]
    loss, px, py, pz, vx, vy, vz, q, pt, eta, apdg = (
        a[sel] for a in (loss, px, py, pz, vx, vy, vz, q, pt, eta, apdg)
    )
    n_bl, n_pix, n_sct, n_trt, n_si, trt_sa, trt_seeded = (
        a[sel] for a in (n_bl, n_pix, n_sct, n_trt, n_si, trt_sa, trt_seeded)
    )
    r_first_nb = cross.r_first_after_blayer[sel]
    r_trt = cross.r_trt[sel]
    m = len(idx)

    # ---- true perigee (exact helix through the production vertex)
    d0_true, z0_true, phi0_true = perigee_parameters_array(vx, vy, vz, px, py, pz, q, b)

    # ---- resolutions
    abs_eta = np.abs(eta)
    cosh_eta = np.cosh(eta)
    ms = _ms_denominator(pt, eta)
    r_first = np.where(n_bl > 0, PIXEL_BARREL_RADII_MM[0], np.where(n_si > 0, r_first_nb, r_trt))
    r_first = np.where(np.isfinite(r_first), r_first, TRT_BARREL_R_MIN_MM)
    sa_scale = np.where(trt_sa, TRT_STANDALONE_RESOLUTION_SCALE, 1.0)

    sig_rel = sigma_qoverpt(pt, eta, config) * pt * sa_scale
    sig_rel = np.hypot(sig_rel, BREM_QOVERPT_RESOLUTION * loss)
    sig_qpt = sig_rel / pt
    sig_phi = (
        config.angle_resolution_scale
        * sa_scale
        * np.hypot(_interp(abs_eta, PHI_INTRINSIC_RAD), PHI_MS_RAD_GEV / ms)
    )
    sig_cot = config.angle_resolution_scale * np.where(
        trt_sa,
        TRT_ONLY_COT_THETA_RESOLUTION,
        sa_scale * np.hypot(COT_THETA_INTRINSIC, COT_THETA_MS_GEV / ms),
    )
    sig_d0 = sigma_d0(pt, eta, r_first, config) * sa_scale
    sig_z0 = np.where(
        trt_sa,
        config.z0_resolution_scale * TRT_ONLY_Z0_RESOLUTION_MM,
        sigma_z0(pt, eta, r_first, config),
    )

    # ---- smearing (order of draws is part of the reproducibility contract)
    qopt = np.sign(q) / pt + sig_qpt * rng.standard_normal(m)
    charge_reco = np.where(qopt >= 0.0, 1, -1).astype(np.int8)
    with np.errstate(divide="ignore"):
        pt_reco = 1.0 / np.abs(qopt)
    phi_reco = np.mod(phi0_true + sig_phi * rng.standard_normal(m) + np.pi, 2 * np.pi) - np.pi
    eta_reco = np.arcsinh(np.sinh(eta) + sig_cot * rng.standard_normal(m))
    d0_reco = d0_true + sig_d0 * rng.standard_normal(m)
    z0_reco = z0_true + sig_z0 * rng.standard_normal(m)

    # ---- fit quality
    ndof = np.maximum(2 * n_pix + n_sct + n_trt - 5, 1)
    chi2 = rng.chisquare(ndof) * config.chi2_scale * (1.0 + CHI2_BREM_INFLATION * loss)

    # ---- TRT high threshold (true γ of the particle crossing the TRT: post-brem)
    p_post = pt / sc[sel] * cosh_eta
    mass = _particle_mass(apdg, p_post, particles.energy[idx])
    p_ht = trt_high_threshold_probability(
        np.hypot(p_post, mass) / mass, config.trt_ht_probability_scale
    )
    n_ht = rng.binomial(n_trt, p_ht)
    eprob = electron_probability_ht(
        n_ht, n_trt, pt_reco * np.cosh(eta_reco), config.trt_ht_probability_scale
    )

    # ---- momentum loss measurement
    dpp = loss + np.hypot(
        DELTA_P_OVER_P_RESOLUTION, DELTA_P_OVER_P_RELATIVE_RESOLUTION * loss
    ) * rng.standard_normal(m)
    dpp = np.clip(dpp, -1.0, 1.0)

    # ---- reconstructed-track acceptance
    keep = (pt_reco > config.min_pt_gev) & (np.abs(eta_reco) < config.max_abs_eta)
    keep &= ~trt_seeded | (pt_reco > config.trt_seeded_min_pt_gev)
    k = np.flatnonzero(keep)
    idx = idx[k]
    event = particles.event_index[idx]
    offsets = np.zeros(n_events + 1, np.int64)
    np.cumsum(np.bincount(event, minlength=n_events), out=offsets[1:])

    pt_o, eta_o, phi_o, q_o = pt_reco[k], eta_reco[k], phi_reco[k], charge_reco[k]
    d0_o, z0_o = d0_reco[k], z0_reco[k]
    sa_o = trt_sa[k]

    # ---- vertices
    vtx = _assign_vertices(
        offsets,
        z0_o,
        sig_z0[k],
        ~sa_o,
        particles.vertex_index[idx].astype(np.int64),
        np.asarray(vertices.offsets, np.int64),
        np.asarray(vertices.z, np.float64),
        float(config.vertex_window_nsigma),
        float(config.vertex_window_floor_mm),
        int(config.min_tracks_per_vertex),
    )

    # ---- extrapolation to the calorimeter from the reconstructed perigee
    sphi = np.sin(phi_o)
    cphi = np.cos(phi_o)
    eta_calo, phi_calo = extrapolate_point_to_calorimeter_array(
        -d0_o * sphi,
        d0_o * cphi,
        z0_o,
        pt_o * cphi,
        pt_o * sphi,
        pt_o * np.sinh(eta_o),
        q_o,
        b,
    )

    return TrackBatch(
        offsets=offsets,
        pt=pt_o,
        eta=eta_o,
        phi=phi_o,
        charge=q_o,
        d0=d0_o,
        d0_err=sig_d0[k],
        z0=z0_o,
        z0_err=sig_z0[k],
        chi2=chi2[k],
        ndof=ndof[k],
        n_blayer_hits=n_bl[k],
        n_pixel_hits=n_pix[k],
        n_sct_hits=n_sct[k],
        n_trt_hits=n_trt[k],
        n_trt_ht_hits=n_ht[k],
        e_probability_ht=eprob[k],
        delta_p_over_p=dpp[k],
        vertex_index=vtx,
        is_trt_standalone=sa_o,
        eta_calo=eta_calo,
        phi_calo=phi_calo,
        particle_index=idx,
    )
