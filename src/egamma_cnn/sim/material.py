"""Material effects before the calorimeter: bremsstrahlung and photon conversions.

Physics (PDG Review "Passage of particles through matter", §34.4–34.5):

* **Bremsstrahlung.** After traversing t radiation lengths an electron keeps the fraction
  z of its energy with the Bethe–Heitler density f(z) = (−ln z)^(c−1) / Γ(c), c = t/ln 2,
  i.e. −ln z ~ Gamma(c, 1). The inner-detector material X_ID(η) (ATLAS-like, see
  :mod:`.detector`) is split in two halves in radius; each half radiates one photon
  carrying the energy lost there, emitted at a radius drawn from the material
  distribution, along the electron's direction at that radius (helix tangent in the
  2 T field of :mod:`.propagation`). The electron continues with the rest of its energy.
  Its perigee momentum is the pre-brem one; the loss becomes the track's Δp/p
  (ATL-PHYS-PUB-2023-001 Table 4).
* **Conversions.** A photon converts in X radiation lengths with probability
  1 − exp(−7X/9) (high-energy limit). The conversion point is drawn from the truncated
  exponential in material depth and mapped to a radius with the radial material
  distribution; the electron energy fraction x follows dσ/dx ∝ 1 − 4/3·x(1 − x).
* **Charge flips** arise from these two effects together, as ATL-PHYS-PUB-2023-001 §3.1 describes:
  e⁻ → e⁻γ with a hard photon, then γ → e⁺e⁻; if the e⁺ carries most of the energy its
  track can be the one matched to the cluster. The legs of a photon radiated by an
  electron carry that electron's charge as their ``true_charge``.

Everything is vectorised numpy over the flat particle arrays of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egamma_cnn.sim.detector import (
    DetectorConfig,
    id_material_x0,
    material_radius_cdf,
    material_radius_quantile,
)
from egamma_cnn.sim.particles import Origin, ParticleBatch
from egamma_cnn.sim.propagation import SOLENOID_RADIUS_MM, helix_radius_mm

__all__ = ["MaterialOutput", "apply_material"]

ELECTRON_MASS = 0.000511
#: Outer radius of the tracker (mm); material beyond it belongs to the calorimeter stack.
TRACKER_RADIUS_MM = 1100.0
#: Brem photons below this energy (GeV) are not emitted as particles; their energy stays
#: with the electron (a negligible effect on everything downstream).
MIN_BREM_PHOTON_GEV = 0.05


@dataclass
class MaterialOutput:
    """Particles after material effects, with what the tracker and calorimeter need.

    ``particles`` holds every particle that reaches the tracker/calorimeter: generator
    particles (converted photons removed), the post-brem electrons (momentum after all
    radiation, direction of the perigee), brem photons and conversion legs.
    ``momentum_loss`` is the fraction of the perigee momentum each particle lost to
    bremsstrahlung inside the tracker (0 for non-electrons). ``start_x/y/z`` and
    ``start_phi`` give where and in which transverse direction each particle should be
    propagated to the calorimeter from (the last brem point for radiating electrons).
    ``converted`` counts conversions per event; ``conversion_radius`` is set on legs.
    """

    particles: ParticleBatch
    momentum_loss: np.ndarray
    start_x: np.ndarray
    start_y: np.ndarray
    start_z: np.ndarray
    start_phi: np.ndarray
    conversion_radius: np.ndarray


#: Half-length of the tracker (mm): forward particles leave it through its end, so the
#: radial material distribution is compressed to the transverse reach min(1, L/(R sinh|η|)).
TRACKER_HALF_LENGTH_MM = 2700.0


def _reach_scale(eta: np.ndarray) -> np.ndarray:
    """Fraction of the tracker radius a particle at η crosses before leaving through the end."""
    return np.minimum(
        1.0, TRACKER_HALF_LENGTH_MM / (np.sinh(np.abs(eta)) * TRACKER_RADIUS_MM + 1e-9)
    )


def _tangent_phi(phi0, charge, pt, r):
    """Direction and position azimuths of a helix from the beam line at radius r.

    A positive particle bends towards decreasing φ for B along +z. At transverse
    radius r the position angle is φ0 − q·asin(r/2R) and the tangent φ0 − 2q·asin(r/2R),
    with R = p_T/(c·B) the helix radius in the solenoid field (:mod:`.propagation`).
    """
    rr = np.minimum(r, SOLENOID_RADIUS_MM)
    arg = np.clip(rr / (2.0 * helix_radius_mm(np.maximum(pt, 1e-6))), -1.0, 1.0)
    half = charge * np.arcsin(arg)
    return phi0 - 2.0 * half, phi0 - half


def _sample_in_material(rng, lo_fraction, hi_fraction):
    """Radius uniformly distributed in material between two cumulative fractions."""
    u = rng.uniform(size=lo_fraction.shape)
    return material_radius_quantile(lo_fraction + u * (hi_fraction - lo_fraction))


def _columns(p: ParticleBatch, idx: np.ndarray) -> dict:
    return {
        "pdg_id": p.pdg_id[idx],
        "charge": p.charge[idx],
        "px": p.px[idx],
        "py": p.py[idx],
        "pz": p.pz[idx],
        "energy": p.energy[idx],
        "vx": p.vx[idx],
        "vy": p.vy[idx],
        "vz": p.vz[idx],
        "origin": p.origin[idx],
        "vertex_index": p.vertex_index[idx],
        "true_charge": p.true_charge[idx],
        "gen_index": p.gen_index[idx],
        "parent": p.parent[idx],
    }


def _brem(rng, cols, loss_out, start, mat_scale, first_event_col):
    """Radiate electrons in ``cols`` (dict of arrays); return photon columns.

    Modifies electron energies/momenta, loss and start arrays in place.
    """
    is_e = np.abs(cols["pdg_id"]) == 11
    idx = np.flatnonzero(is_e)
    empty = {k: v[:0] for k, v in cols.items()}
    if idx.size == 0:
        return empty, np.zeros(0, np.int64)
    px, py, pz, en = (cols[k][idx] for k in ("px", "py", "pz", "energy"))
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    phi0 = np.arctan2(py, px)
    q = cols["charge"][idx].astype(np.float64)
    r0 = np.hypot(cols["vx"][idx], cols["vy"][idx])
    x_total = id_material_x0(np.abs(eta)) * mat_scale
    reach = _reach_scale(eta)
    f0 = material_radius_cdf(r0 / reach)
    f_mid = f0 + 0.5 * (1.0 - f0)
    photons = []
    photon_rows = []
    remaining = np.ones(idx.size)
    last_r = r0.copy()
    for lo, hi in ((f0, f_mid), (f_mid, np.ones_like(f0))):
        t = x_total * (hi - lo)
        shape = np.maximum(t / np.log(2.0), 1e-9)
        loss = 1.0 - np.exp(-rng.gamma(shape, 1.0))
        loss = np.where(t > 0, loss, 0.0)
        r_emit = _sample_in_material(rng, lo, hi) * reach
        e_now = en * remaining
        e_gamma = e_now * loss
        emit = (
            (e_gamma > MIN_BREM_PHOTON_GEV) & (r_emit > r0) & (r_emit < TRACKER_RADIUS_MM * reach)
        )
        pt_now = pt * remaining
        dir_phi, pos_phi = _tangent_phi(phi0, q, pt_now, r_emit)
        k = np.flatnonzero(emit)
        if k.size:
            g_pt = e_gamma[k] / np.cosh(eta[k])
            parent_flat = first_event_col + idx[k]
            photons.append(
                {
                    "pdg_id": np.full(k.size, 22, np.int32),
                    "charge": np.zeros(k.size, np.int8),
                    "px": g_pt * np.cos(dir_phi[k]),
                    "py": g_pt * np.sin(dir_phi[k]),
                    "pz": g_pt * np.sinh(eta[k]),
                    "energy": e_gamma[k],
                    "vx": r_emit[k] * np.cos(pos_phi[k]),
                    "vy": r_emit[k] * np.sin(pos_phi[k]),
                    "vz": cols["vz"][idx[k]] + (r_emit[k] - r0[k]) * np.sinh(eta[k]),
                    "origin": np.where(
                        cols["origin"][idx[k]] == Origin.BOSON_DECAY,
                        np.int8(Origin.PROMPT_LEPTON_FSR),
                        cols["origin"][idx[k]],
                    ).astype(np.int8),
                    "vertex_index": cols["vertex_index"][idx[k]],
                    "true_charge": cols["true_charge"][idx[k]],
                    "gen_index": cols["gen_index"][idx[k]],
                    "parent": parent_flat.astype(np.int64),
                }
            )
            photon_rows.append(idx[k])
            remaining[k] *= 1.0 - loss[k]
            last_r[k] = r_emit[k]
    # Post-brem electron: same direction at perigee, reduced momentum.
    p_abs = np.sqrt(px**2 + py**2 + pz**2)
    new_e = np.maximum(en * remaining, ELECTRON_MASS * 1.0001)
    new_p = np.sqrt(new_e**2 - ELECTRON_MASS**2)
    scale = new_p / np.maximum(p_abs, 1e-12)
    cols["px"][idx] = px * scale
    cols["py"][idx] = py * scale
    cols["pz"][idx] = pz * scale
    cols["energy"][idx] = new_e
    loss_out[idx] = 1.0 - remaining
    moved = last_r > r0
    dir_phi, pos_phi = _tangent_phi(phi0, q, pt * remaining, last_r)
    sx, sy, sz, sphi = start
    sx[idx] = np.where(moved, last_r * np.cos(pos_phi), sx[idx])
    sy[idx] = np.where(moved, last_r * np.sin(pos_phi), sy[idx])
    sz[idx] = np.where(moved, cols["vz"][idx] + (last_r - r0) * np.sinh(eta), sz[idx])
    sphi[idx] = np.where(moved, dir_phi, sphi[idx])
    if not photons:
        return empty, np.zeros(0, np.int64)
    out = {k: np.concatenate([p[k] for p in photons]) for k in cols}
    # event membership of the photons: the row of their electron
    return out, np.concatenate(photon_rows)


def _convert(rng, cols, mat_scale):
    """Convert photons; return (keep mask, leg columns, leg source rows, radii)."""
    is_g = cols["pdg_id"] == 22
    idx = np.flatnonzero(is_g)
    keep = np.ones(len(cols["pdg_id"]), bool)
    empty = {k: v[:0] for k, v in cols.items()}
    if idx.size == 0:
        return keep, empty, np.zeros(0, np.int64), np.zeros(0)
    px, py, pz, en = (cols[k][idx] for k in ("px", "py", "pz", "energy"))
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    phi = np.arctan2(py, px)
    r0 = np.hypot(cols["vx"][idx], cols["vy"][idx])
    reach = _reach_scale(eta)
    f0 = material_radius_cdf(r0 / reach)
    x_rem = id_material_x0(np.abs(eta)) * mat_scale * (1.0 - f0)
    mu = 7.0 / 9.0
    p_conv = 1.0 - np.exp(-mu * x_rem)
    conv = (rng.uniform(size=idx.size) < p_conv) & (en > 2.2 * ELECTRON_MASS) & (np.abs(eta) < 2.7)
    k = np.flatnonzero(conv)
    if k.size == 0:
        return keep, empty, np.zeros(0, np.int64), np.zeros(0)
    # depth of the conversion within the remaining material (truncated exponential)
    v = rng.uniform(size=k.size)
    depth = -np.log(1.0 - v * p_conv[k]) / mu
    frac = f0[k] + (1.0 - f0[k]) * np.clip(depth / np.maximum(x_rem[k], 1e-12), 0.0, 1.0)
    r_conv = np.maximum(material_radius_quantile(frac) * reach[k], r0[k])
    # energy sharing x with density ∝ 1 − 4/3 x(1−x) (rejection sampling, vectorised)
    x = rng.uniform(size=k.size)
    bad = rng.uniform(size=k.size) * 1.0 > 1.0 - 4.0 / 3.0 * x * (1.0 - x)
    while bad.any():
        x[bad] = rng.uniform(size=bad.sum())
        bad[bad] = rng.uniform(size=bad.sum()) > 1.0 - 4.0 / 3.0 * x[bad] * (1.0 - x[bad])
    e_tot = en[k]
    e1 = np.maximum(x * e_tot, ELECTRON_MASS * 1.001)
    e2 = np.maximum((1.0 - x) * e_tot, ELECTRON_MASS * 1.001)
    vx = cols["vx"][idx[k]] + (r_conv - r0[k]) * np.cos(phi[k])
    vy = cols["vy"][idx[k]] + (r_conv - r0[k]) * np.sin(phi[k])
    vz = cols["vz"][idx[k]] + (r_conv - r0[k]) * np.sinh(eta[k])
    legs = []
    for e_leg, pdg in ((e1, 11), (e2, -11)):
        p_leg = np.sqrt(e_leg**2 - ELECTRON_MASS**2)
        pt_leg = p_leg / np.cosh(eta[k])
        charge = np.full(k.size, -1 if pdg == 11 else 1, np.int8)
        tc = cols["true_charge"][idx[k]]
        legs.append(
            {
                "pdg_id": np.full(k.size, pdg, np.int32),
                "charge": charge,
                "px": pt_leg * np.cos(phi[k]),
                "py": pt_leg * np.sin(phi[k]),
                "pz": pt_leg * np.sinh(eta[k]),
                "energy": e_leg,
                "vx": vx,
                "vy": vy,
                "vz": vz,
                "origin": cols["origin"][idx[k]],
                "vertex_index": cols["vertex_index"][idx[k]],
                "true_charge": np.where(tc != 0, tc, charge).astype(np.int8),
                "gen_index": cols["gen_index"][idx[k]],
                "parent": cols["parent"][idx[k]],
            }
        )
    keep[idx[k]] = False
    out = {key: np.concatenate([legs[0][key], legs[1][key]]) for key in cols}
    rows = np.concatenate([idx[k], idx[k]])
    return keep, out, rows, np.concatenate([r_conv, r_conv])


def apply_material(
    particles: ParticleBatch, config: DetectorConfig, rng: np.random.Generator
) -> MaterialOutput:
    """Apply bremsstrahlung and conversions to the particles of a batch.

    Parameters
    ----------
    particles
        Generator-level final-state particles (pile-up included).
    config
        Detector response; ``config.material_scale`` scales X_ID(η).
    rng
        Random generator (the batch result is a deterministic function of its state).

    Returns
    -------
    MaterialOutput
        Particles sorted by event, in the order: generator particles (post-brem
        electrons, unconverted photons), brem photons, conversion legs (and their brem
        photons). ``parent`` of brem photons and of legs of brem photons points at the
        radiating electron.
    """
    n = len(particles)
    event_of = particles.event_index
    cols = {k: v.copy() for k, v in _columns(particles, np.arange(n)).items()}
    loss = np.zeros(n)
    start = (cols["vx"].copy(), cols["vy"].copy(), cols["vz"].copy(), particles.phi.copy())
    conv_radius = np.full(n, -1.0)
    scale = config.material_scale

    # 1) brem of generator electrons
    g_cols, g_rows = _brem(rng, cols, loss, start, scale, 0)
    # 2) conversions of all photons (generator and brem)
    all_cols = {k: np.concatenate([cols[k], g_cols[k]]) for k in cols}
    all_event = np.concatenate([event_of, event_of[g_rows]])
    keep, legs, leg_rows, leg_r = _convert(rng, all_cols, scale)
    # 3) brem of the conversion legs (their photons are not converted again)
    leg_loss = np.zeros(len(legs["pdg_id"]))
    leg_phi = np.arctan2(legs["py"], legs["px"])
    leg_start = (legs["vx"].copy(), legs["vy"].copy(), legs["vz"].copy(), leg_phi.copy())
    lg_cols, lg_rows = _brem(rng, legs, leg_loss, leg_start, scale, 0)
    # brem photons of legs point at the leg's own parent (the radiating prompt electron)
    if len(lg_rows):
        lg_cols["parent"] = legs["parent"][lg_rows]
    leg_event = all_event[leg_rows]
    lg_event = leg_event[lg_rows]

    g_start = (g_cols["vx"], g_cols["vy"], g_cols["vz"], np.arctan2(g_cols["py"], g_cols["px"]))
    lg_start = (
        lg_cols["vx"],
        lg_cols["vy"],
        lg_cols["vz"],
        np.arctan2(lg_cols["py"], lg_cols["px"]),
    )
    pieces = [
        (cols, event_of, loss, start, conv_radius, keep[:n]),
        (
            g_cols,
            event_of[g_rows],
            np.zeros(len(g_rows)),
            g_start,
            np.full(len(g_rows), -1.0),
            keep[n:],
        ),
        (legs, leg_event, leg_loss, leg_start, leg_r, np.ones(len(leg_event), bool)),
        (
            lg_cols,
            lg_event,
            np.zeros(len(lg_event)),
            lg_start,
            np.full(len(lg_event), -1.0),
            np.ones(len(lg_event), bool),
        ),
    ]
    # parents refer to rows of the first piece (generator electrons); remember them.
    merged = {k: np.concatenate([p[0][k][p[5]] for p in pieces]) for k in cols}
    ev = np.concatenate([p[1][p[5]] for p in pieces])
    loss_all = np.concatenate([p[2][p[5]] for p in pieces])
    sx = np.concatenate([p[3][0][p[5]] for p in pieces])
    sy = np.concatenate([p[3][1][p[5]] for p in pieces])
    sz = np.concatenate([p[3][2][p[5]] for p in pieces])
    sphi = np.concatenate([p[3][3][p[5]] for p in pieces])
    conv_r = np.concatenate([p[4][p[5]] for p in pieces])

    # original parent index (row of piece 0) -> new position after the stable sort
    order = np.argsort(ev, kind="stable")
    new_pos_of_old = np.full(n + 1, -1, np.int64)
    n_first = int(keep[:n].sum())
    first_rows = np.flatnonzero(keep[:n])
    inverse = np.empty(len(order), np.int64)
    inverse[order] = np.arange(len(order))
    new_pos_of_old[first_rows] = inverse[:n_first]
    # generator particles carry the parent of their own generator batch (-1 normally)
    parent = merged["parent"].copy()
    is_secondary = np.arange(len(parent)) >= n_first
    parent[is_secondary] = np.where(
        parent[is_secondary] >= 0, new_pos_of_old[parent[is_secondary]], -1
    )
    parent[~is_secondary] = -1
    merged["parent"] = parent
    counts = np.bincount(ev, minlength=particles.n_events)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = ParticleBatch(offsets=offsets, **{k: v[order] for k, v in merged.items()})
    return MaterialOutput(
        particles=out,
        momentum_loss=loss_all[order],
        start_x=sx[order],
        start_y=sy[order],
        start_z=sz[order],
        start_phi=sphi[order],
        conversion_radius=conv_r[order],
    )
