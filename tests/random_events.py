"""Random, realistic-ish events for comparing the numba kernels with ``tests/reference.py``.

``random_event(rng)`` gives one event as a dict of numpy arrays with the file's field
names and dtypes (``docs/FILE_SCHEMA.md``):

* ``"CaloCell"``: eta, phi, energy, sampling: cells at true geometry cell centres (unique
  ids), most of them close to the candidates so that every window is populated, some with
  negative (noise) energies;
* ``"Track"``: the fields of API.md, some tracks close to the candidates;
* ``"Electron"``: clusterEta, clusterPhi, clusterE, trackIdx, trackIdx1..5, nTracks,
  deltaEta1, deltaPhiRescaled2; ``"Photon"``: clusterEta, clusterPhi, clusterE,
  trackIdx1, trackIdx2 (valid local indices or -1);
* ``"PV_z"``: a float.

Candidates lie at random |η| < 2.5 with extra weight on the crack, the end-cap strip
regions 1.8–2.5, φ near ±π and positions exactly on the middle-cell grid.
``events_to_awkward(events)`` turns a list of them into jagged ak.Arrays.
"""

from __future__ import annotations

import math

import awkward as ak
import numpy as np

from egamma_cnn import geometry

__all__ = ["events_to_awkward", "random_event"]

_SAMPLINGS = np.array([int(s) for s in geometry.CaloSampling], np.int64)
_COVERAGE = {int(s): geometry.layer_coverage(int(s)) for s in geometry.CaloSampling}
_V = 2.0 * math.pi / 256

TRACK_DTYPES = {
    "pt": np.float32,
    "eta": np.float32,
    "phi": np.float32,
    "charge": np.int8,
    "d0": np.float32,
    "d0Err": np.float32,
    "z0": np.float32,
    "z0Err": np.float32,
    "chi2": np.float32,
    "ndof": np.int16,
    "nBLayerHits": np.int16,
    "nPixelHits": np.int16,
    "nSCTHits": np.int16,
    "nTRTHits": np.int16,
    "eProbabilityHT": np.float32,
    "deltaPOverP": np.float32,
    "vtxIdx": np.int16,
}
ELECTRON_DTYPES = {
    "clusterEta": np.float32,
    "clusterPhi": np.float32,
    "clusterE": np.float32,
    "trackIdx": np.int32,
    **{f"trackIdx{k}": np.int32 for k in range(1, 6)},
    "nTracks": np.int16,
    "deltaEta1": np.float32,
    "deltaPhiRescaled2": np.float32,
}
PHOTON_DTYPES = {
    "clusterEta": np.float32,
    "clusterPhi": np.float32,
    "clusterE": np.float32,
    "trackIdx1": np.int32,
    "trackIdx2": np.int32,
}
CELL_DTYPES = {"eta": np.float32, "phi": np.float32, "energy": np.float32, "sampling": np.int16}


def _wrap(phi):
    return (phi + np.pi) % (2 * np.pi) - np.pi


def _candidate_positions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    kind = rng.integers(0, 6, n)
    sign = rng.choice([-1.0, 1.0], n)
    eta = rng.uniform(-2.5, 2.5, n)
    eta = np.where(kind == 1, sign * rng.uniform(1.3, 1.6, n), eta)  # crack region
    eta = np.where(kind == 2, sign * rng.uniform(1.75, 2.499, n), eta)  # end-cap strips
    on_grid = sign * 0.025 * rng.integers(0, 99, n)  # exactly on a middle-cell edge
    eta = np.where(kind == 3, on_grid, eta)
    phi = rng.uniform(-np.pi, np.pi, n)
    near_pi = sign * (np.pi - rng.uniform(0.0, 0.15, n))
    phi = np.where((kind == 4) | (rng.random(n) < 0.15), near_pi, phi)
    phi = np.where(kind == 5, -np.pi + _V * rng.integers(0, 256, n), phi)  # on a φ edge
    # keep φ in [-π, π) after the float32 cast
    phi = np.clip(phi.astype(np.float32), np.float32(-np.pi), np.nextafter(np.float32(np.pi), 0))
    return eta.astype(np.float32), phi


def _shower_points(rng, eta0, phi0):
    """Dense (sampling, η, φ) points of one shower: strips, middle and other layers."""
    sampling, eta, phi = [], [], []
    # strips: every strip within ±0.075 in η, in five φ positions (0.05 apart)
    d_eta, d_phi = np.meshgrid(np.arange(-0.075, 0.075, 0.0025), 0.05 * np.arange(-2, 3))
    for s in (1, 5):
        sampling.append(np.full(d_eta.size, s))
        eta.append(eta0 + d_eta.ravel())
        phi.append(phi0 + d_phi.ravel())
    # middle: 9 x 13 middle cells
    d_eta, d_phi = np.meshgrid(0.025 * np.arange(-4, 5), _V * np.arange(-6, 7))
    for s in (2, 6):
        sampling.append(np.full(d_eta.size, s))
        eta.append(eta0 + d_eta.ravel())
        phi.append(phi0 + d_phi.ravel())
    # presamplers, back and hadronic layers: scattered near the shower
    n = 60
    sampling.append(rng.choice([0, 3, 4, 7, *_SAMPLINGS[8:]], n))
    eta.append(eta0 + rng.normal(0, 0.06, n))
    phi.append(phi0 + rng.normal(0, 0.06, n))
    sampling, eta, phi = (np.concatenate(x) for x in (sampling, eta, phi))
    keep = rng.random(len(eta)) < 0.7
    return sampling[keep], eta[keep], phi[keep]


def _cells(rng, n_cells, cand_eta, cand_phi):
    """Showers around every candidate (one or two peaks) plus ``n_cells`` scattered cells."""
    # scattered: 80 % within a few 0.1 of a candidate, 20 % anywhere
    n_try = 2 * n_cells + 20
    sampling = [rng.choice(_SAMPLINGS, n_try)]
    eta = rng.uniform(-2.5, 2.5, n_try)
    phi = rng.uniform(-np.pi, np.pi, n_try)
    if len(cand_eta):
        near = rng.random(n_try) < 0.8
        which = rng.integers(0, len(cand_eta), n_try)
        spread = rng.choice([0.03, 0.08, 0.25], n_try)
        eta = np.where(near, cand_eta[which] + rng.normal(0, 1, n_try) * spread, eta)
        phi = np.where(near, cand_phi[which] + rng.normal(0, 1, n_try) * spread, phi)
    ids = geometry.cell_ids(sampling[0], eta, _wrap(phi))
    ids = ids[ids >= 0]
    _, first = np.unique(ids, return_index=True)
    scattered = ids[np.sort(first)][:n_cells]
    shower = [
        geometry.cell_ids(*_shower_points(rng, e, p))
        for e, p in zip(cand_eta, cand_phi, strict=True)
    ]
    ids = np.concatenate([scattered, *shower])
    ids = ids[ids >= 0]
    _, first = np.unique(ids, return_index=True)
    ids = rng.permutation(ids[first])  # each cell once, random order
    centres = geometry.cell_centers(ids)
    n = len(ids)
    # energies: exponential background, 20 % pure noise, plus Gaussian showers
    energy = rng.exponential(0.5, n) * rng.choice([0.1, 1.0, 10.0], n)
    energy = np.where(rng.random(n) < 0.2, rng.normal(0.0, 0.15, n), energy)
    for e0, p0 in zip(cand_eta, cand_phi, strict=True):
        peaks = [(e0, p0, rng.uniform(2, 30), rng.uniform(0.01, 0.04))]
        if rng.random() < 0.5:  # a second (π0-like) peak
            peaks.append((e0 + rng.normal(0, 0.03), p0, rng.uniform(1, 30), 0.006))
        for pe, pp, amp, width in peaks:
            d2 = (centres["eta"] - pe) ** 2 + _wrap(centres["phi"] - pp) ** 2
            energy += (
                amp
                * np.exp(-0.5 * d2 / width**2)
                * np.where(np.isin(centres["sampling"], (1, 5)), 0.1, 1.0)
            )
    return {
        "eta": centres["eta"].astype(np.float32),
        "phi": centres["phi"].astype(np.float32),
        "energy": energy.astype(np.float32),
        "sampling": centres["sampling"].astype(np.int16),
    }


def _tracks(rng, n_tracks, cand_eta, cand_phi, pv_z):
    n = n_tracks
    near = (rng.random(n) < 0.6) & (len(cand_eta) > 0)
    which = rng.integers(0, max(len(cand_eta), 1), n)
    if len(cand_eta):
        eta = np.where(near, cand_eta[which] + rng.normal(0, 0.02, n), rng.uniform(-2.5, 2.5, n))
        phi = np.where(near, cand_phi[which] + rng.normal(0, 0.03, n), rng.uniform(-3, 3, n))
        ring = rng.random(n) < 0.4  # in the isolation cones (ΔR ~ 0.1-0.4)
        eta = np.where(ring, cand_eta[which] + rng.normal(0, 0.2, n), eta)
        phi = np.where(ring, cand_phi[which] + rng.normal(0, 0.2, n), phi)
    else:
        eta = rng.uniform(-2.5, 2.5, n)
        phi = rng.uniform(-np.pi, np.pi, n)
    out = {
        "pt": rng.exponential(8.0, n) + 0.4,
        "eta": eta,
        "phi": _wrap(phi),
        "charge": rng.choice([-1, 1], n),
        "d0": rng.normal(0, 0.05, n),
        "d0Err": rng.uniform(0.005, 0.1, n),
        "z0": pv_z + rng.normal(0, 1, n) * rng.choice([0.5, 3.0, 30.0], n),
        "z0Err": rng.uniform(0.01, 0.3, n),
        "chi2": rng.uniform(0, 40, n),
        "ndof": rng.integers(5, 40, n),
        "nBLayerHits": rng.integers(0, 3, n),
        "nPixelHits": rng.integers(0, 6, n),
        "nSCTHits": rng.integers(0, 10, n),
        "nTRTHits": rng.integers(0, 40, n),
        "eProbabilityHT": rng.uniform(0, 1, n),
        "deltaPOverP": rng.uniform(0, 0.6, n),
        "vtxIdx": rng.integers(-1, 3, n),
    }
    return {k: np.asarray(v).astype(TRACK_DTYPES[k]) for k, v in out.items()}


def _matched(rng, tracks, eta, phi, max_slots):
    """Track indices by ΔR to (eta, phi) within 0.1, plus noise: (slots, n_matched)."""
    n = len(tracks["pt"])
    if n == 0:
        return [-1] * max_slots, 0
    dr = np.hypot(tracks["eta"] - eta, _wrap(tracks["phi"] - phi))
    order = [int(k) for k in np.argsort(dr, kind="stable") if dr[k] < 0.1]
    if rng.random() < 0.15:  # an unrelated track also matched
        order.append(int(rng.integers(0, n)))
    order = list(dict.fromkeys(order))
    slots = (order + [-1] * max_slots)[:max_slots]
    return slots, len(order)


def random_event(
    rng: np.random.Generator, n_cells: int = 300, n_tracks: int = 12, n_candidates: int = 3
) -> dict:
    """One random event: {"CaloCell", "Track", "Electron", "Photon": field dicts, "PV_z"}."""
    pv_z = float(rng.normal(0.0, 40.0))
    cand_eta, cand_phi = _candidate_positions(rng, n_candidates)
    cells = _cells(rng, n_cells, cand_eta, cand_phi)
    tracks = _tracks(rng, n_tracks, cand_eta, cand_phi, pv_z)

    electrons = {k: [] for k in ELECTRON_DTYPES}
    for eta, phi in zip(cand_eta, cand_phi, strict=True):
        slots, n_matched = _matched(rng, tracks, eta, phi, 5)
        best = slots[0] if rng.random() < 0.85 else -1
        electrons["clusterEta"].append(eta)
        electrons["clusterPhi"].append(phi)
        electrons["clusterE"].append(rng.uniform(5.0, 200.0))
        electrons["trackIdx"].append(best)
        for k in range(5):
            electrons[f"trackIdx{k + 1}"].append(slots[k])
        electrons["nTracks"].append(n_matched)
        electrons["deltaEta1"].append(rng.normal(0, 0.005))
        electrons["deltaPhiRescaled2"].append(rng.normal(0, 0.01))

    photons = {k: [] for k in PHOTON_DTYPES}
    n_photons = int(rng.integers(0, n_candidates + 1)) if n_candidates else 0
    for k in rng.permutation(n_candidates)[:n_photons]:
        eta, phi = cand_eta[k], cand_phi[k]
        if rng.random() < 0.3:  # a nearby, different cluster position
            eta = np.float32(np.clip(eta + rng.normal(0, 0.02), -2.49, 2.49))
            phi = np.float32(_wrap(phi + rng.normal(0, 0.02)))
        slots, _ = _matched(rng, tracks, eta, phi, 2)
        n_conv = int(rng.integers(0, 3))
        photons["clusterEta"].append(eta)
        photons["clusterPhi"].append(phi)
        photons["clusterE"].append(rng.uniform(5.0, 200.0))
        photons["trackIdx1"].append(slots[0] if n_conv >= 1 else -1)
        photons["trackIdx2"].append(slots[1] if n_conv >= 2 else -1)

    return {
        "CaloCell": cells,
        "Track": tracks,
        "Electron": {k: np.asarray(v, ELECTRON_DTYPES[k]) for k, v in electrons.items()},
        "Photon": {k: np.asarray(v, PHOTON_DTYPES[k]) for k, v in photons.items()},
        "PV_z": np.float32(pv_z),
    }


def _jagged(events, collection, dtypes):
    counts = np.array([len(next(iter(e[collection].values()))) for e in events], np.int64)
    fields = {}
    for name, dtype in dtypes.items():
        parts = [np.asarray(e[collection][name], dtype) for e in events]
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype)
        fields[name] = ak.unflatten(flat, counts)
    return ak.zip(fields)


def events_to_awkward(events: list[dict]) -> dict[str, ak.Array]:
    """Jagged ak.Arrays "CaloCell", "Track", "Electron", "Photon" and a flat "PV_z"."""
    return {
        "CaloCell": _jagged(events, "CaloCell", CELL_DTYPES),
        "Track": _jagged(events, "Track", TRACK_DTYPES),
        "Electron": _jagged(events, "Electron", ELECTRON_DTYPES),
        "Photon": _jagged(events, "Photon", PHOTON_DTYPES),
        "PV_z": ak.Array(np.array([e["PV_z"] for e in events], np.float32)),
    }
