"""Plain-Python reference implementation of ``docs/INPUTS.md``.

A second, deliberately simple implementation of the contract of ``egamma_cnn.images`` and
``egamma_cnn.features``, kept in the test suite to check the numba kernels. Everything
works on ONE candidate of ONE event, with explicit Python loops over cells and pixels.
Window membership and pixel overlaps are exact integer questions on the common grid
(η unit ``u = 0.025/24``, φ unit ``v = 2π/256``); energy sharing weights are exact
fractions. numpy is used only for the output arrays.

Nothing is imported from ``egamma_cnn.images`` or ``egamma_cnn.features``; only
``egamma_cnn.geometry`` (the single source of truth for the cells) is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from egamma_cnn import geometry

__all__ = [
    "CALO_ISO_CONE_RADII",
    "COARSE_SAMPLINGS",
    "ENERGY_FLOW_NAMES",
    "ISOLATION_NAMES",
    "SHOWER_SHAPE_NAMES",
    "TRACK_FEATURES",
    "TRACK_VARIABLE_NAMES",
    "reference_electron_images",
    "reference_energy_flow",
    "reference_isolation",
    "reference_photon_images",
    "reference_shower_shapes",
    "reference_track_array",
    "reference_track_variables",
]

# --------------------------------------------------------------------------------------
# Constants of the contract
# --------------------------------------------------------------------------------------

_S = geometry.CaloSampling

#: Channel order of the electron ``coarse`` image (INPUTS.md §2 table).
_COARSE_NAMES = (
    "PreSamplerB EMB1 EMB2 EMB3 PreSamplerE EME1 EME2 EME3 HEC0 HEC1 HEC2 HEC3 "
    "TileBar0 TileBar1 TileBar2 TileExt0 TileExt1 TileExt2"
)
COARSE_SAMPLINGS: tuple[int, ...] = tuple(int(_S[name]) for name in _COARSE_NAMES.split())
KNOWN_SAMPLINGS = frozenset(int(s) for s in _S)
PRESAMPLERS = (int(_S.PreSamplerB), int(_S.PreSamplerE))
STRIPS = (int(_S.EMB1), int(_S.EME1))  # EM layer 1
MIDDLES = (int(_S.EMB2), int(_S.EME2))  # EM layer 2
BACKS = (int(_S.EMB3), int(_S.EME3))  # EM layer 3
EM = PRESAMPLERS + STRIPS + MIDDLES + BACKS
HADRONIC = tuple(int(_S[f"HEC{k}"]) for k in range(4)) + tuple(
    int(_S[f"Tile{part}{k}"]) for part in ("Bar", "Ext") for k in range(3)
)
FIRST_HADRONIC = (int(_S.HEC0), int(_S.TileBar0), int(_S.TileExt0))

TRACK_FEATURES: tuple[str, ...] = (
    "p_over_e",
    "deta",
    "dphi",
    "nPixelHits",
    "nSCTHits",
    "nTRTHits",
    "d0",
    "d0Err",
    "z0",
    "charge",
    "chi2",
    "ndof",
    "vtxIdx",
)
SHOWER_SHAPE_NAMES: tuple[str, ...] = (
    "reta",
    "rphi",
    "weta2",
    "f1",
    "f3",
    "rhad",
    "rhad1",
    "e_em",
    "wstot",
    "ws3",
    "fside",
    "eratio",
    "deltae",
    "sigmaietaieta",
)
TRACK_VARIABLE_NAMES: tuple[str, ...] = (
    "nBLayerHits",
    "nPixelHits",
    "nSCTHits",
    "ndof",
    "d0",
    "d0sig",
    "dpOverP",
    "qd0sig",
    "qSCTw",
    "eProbabilityHT",
    "deltaEta1",
    "deltaPhiRescaled2",
    "eOverP",
    "etOverPt",
    "nTracks",
    "et",
    "eta",
)
ISOLATION_NAMES: tuple[str, ...] = (
    "etcone20",
    "etcone30",
    "etcone40",
    "ptcone20",
    "ptcone30",
    "ptcone40",
    "ptvarcone20",
    "ptvarcone30",
)
#: 0.025, 0.05, ..., 0.4 written as the decimal numbers (not 0.025 * k).
CALO_ISO_CONE_RADII: tuple[float, ...] = tuple(float(Fraction(k, 40)) for k in range(1, 17))
ENERGY_FLOW_NAMES: tuple[str, ...] = (
    "ptd",
    "efp2_b05",
    "efp2_b1",
    "efp2_b2",
    "efp3_triangle_b05",
    "mass",
)

MIDDLE_ETA = 0.025  # middle-layer cell in η
U = 0.025 / 24  # η unit: used only to turn geometry floats into exact integers
N_PHI = 256  # φ units on the circle
V = 2.0 * math.pi / N_PHI  # φ unit
ETA_PER_MIDDLE = 24  # middle-layer cell = 24 u

TRACK_FIELDS = (
    "pt",
    "eta",
    "phi",
    "charge",
    "d0",
    "d0Err",
    "z0",
    "z0Err",
    "chi2",
    "ndof",
    "nBLayerHits",
    "nPixelHits",
    "nSCTHits",
    "nTRTHits",
    "eProbabilityHT",
    "deltaPOverP",
    "vtxIdx",
)


# --------------------------------------------------------------------------------------
# Cells on the integer grid
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One calorimeter cell of the event, identified in the geometry."""

    sampling: int
    energy: float
    eta: float  # geometry float64 centre
    phi: float
    eta_lo: int  # η span [eta_lo, eta_hi) in u
    eta_hi: int
    phi_lo: int  # φ span [phi_lo, phi_lo + phi_width) in v, phi_lo in [0, 256)
    phi_width: int


def _exact_int(x: float) -> int:
    """A float that the geometry guarantees to be an integer (up to rounding)."""
    n = round(x)
    if abs(x - n) > 1e-6:
        raise AssertionError(f"{x} is not on the integer grid")
    return n


def _cells(cell_eta, cell_phi, cell_energy, cell_sampling) -> list[Cell]:
    """Identify every cell in the geometry; ValueError for the bad inputs of §4."""
    n = len(cell_energy)
    if not (len(cell_eta) == len(cell_phi) == len(cell_sampling) == n):
        raise ValueError("CaloCell_eta/phi/energy/sampling have different lengths")
    cells = []
    for i in range(n):
        energy = float(cell_energy[i])
        if not math.isfinite(energy):
            raise ValueError(f"CaloCell_energy of cell {i} in this event is {energy}")
        sampling = int(cell_sampling[i])
        if sampling not in KNOWN_SAMPLINGS:
            raise ValueError(f"CaloCell_sampling {sampling} (cell {i}) is not a geometry layer")
        eta = float(cell_eta[i])
        phi = float(cell_phi[i])
        if not math.isfinite(eta):
            raise ValueError(f"CaloCell_eta of cell {i} is {eta}")
        if not math.isfinite(phi):
            raise ValueError(f"CaloCell_phi of cell {i} is {phi}")
        cid = int(geometry.cell_id(sampling, eta, phi))
        if cid < 0:
            raise ValueError(
                f"CaloCell_eta/CaloCell_phi ({eta}, {phi}) of cell {i} is not inside a cell "
                f"of sampling {sampling}"
            )
        s, c_eta, c_phi, d_eta, d_phi = geometry.cell_center(cid)
        assert int(s) == sampling
        eta_lo = _exact_int((c_eta - d_eta / 2) / U)
        eta_width = _exact_int(d_eta / U)
        phi_lo = _exact_int((c_phi - d_phi / 2 + math.pi) / V) % N_PHI
        cells.append(
            Cell(
                sampling=sampling,
                energy=energy,
                eta=float(c_eta),
                phi=float(c_phi),
                eta_lo=eta_lo,
                eta_hi=eta_lo + eta_width,
                phi_lo=phi_lo,
                phi_width=_exact_int(d_phi / V),
            )
        )
    return cells


def _centre_cell(cluster_eta, cluster_phi) -> tuple[int, int]:
    """(i_c, j_c): the middle-layer grid cell containing the cluster position."""
    cluster_eta = float(cluster_eta)
    cluster_phi = float(cluster_phi)
    if not math.isfinite(cluster_eta):
        raise ValueError(f"clusterEta is {cluster_eta}")
    if not math.isfinite(cluster_phi):
        raise ValueError(f"clusterPhi is {cluster_phi}")
    i_c = math.floor(cluster_eta / MIDDLE_ETA)
    j_c = math.floor((cluster_phi + math.pi) / V) % N_PHI
    return i_c, j_c


def _circular(x: int, period: int) -> int:
    """x taken on a circle of ``period`` units, in [-period/2, period/2)."""
    return (x + period // 2) % period - period // 2


def _wrap(dphi: float) -> float:
    """An angle difference in [-π, π)."""
    return (dphi + math.pi) % (2.0 * math.pi) - math.pi


@dataclass(frozen=True)
class Window:
    """``[a, b) × [c, d)``: η in u, φ in v (c may be negative or ≥ 256: taken mod 256)."""

    a: int
    b: int
    c: int
    d: int

    def contains(self, cell: Cell) -> bool:
        """Centre-in-window rule: the cell centre lies in the CLOSED window."""
        twice_eta = cell.eta_lo + cell.eta_hi
        if not (2 * self.a <= twice_eta <= 2 * self.b):
            return False
        # doubled φ distance of the centre from the lower edge, on the circle
        twice_dphi = _circular(2 * cell.phi_lo + cell.phi_width - 2 * self.c, 2 * N_PHI)
        return 0 <= twice_dphi <= 2 * (self.d - self.c)


def _window(i_c: int, j_c: int, n_eta: int, n_phi: int) -> Window:
    """n × m middle cells around the centre cell (n, m odd)."""
    return Window(
        ETA_PER_MIDDLE * (i_c - (n_eta - 1) // 2),
        ETA_PER_MIDDLE * (i_c + (n_eta + 1) // 2),
        j_c - (n_phi - 1) // 2,
        j_c + (n_phi + 1) // 2,
    )


def _overlap(lo1: int, hi1: int, lo2: int, hi2: int) -> int:
    return max(0, min(hi1, hi2) - max(lo1, lo2))


def _share(image: np.ndarray, cell: Cell, win: Window, pix_eta: int, pix_phi: int) -> None:
    """Add an included cell's energy to a 2-D image by overlap area (normalised inside)."""
    n_eta = (win.b - win.a) // pix_eta
    n_phi = (win.d - win.c) // pix_phi
    assert image.shape == (n_eta, n_phi)
    # cell φ span relative to the window's lower edge (the cell is near the window)
    phi_lo = _circular(cell.phi_lo - win.c, N_PHI)
    phi_hi = phi_lo + cell.phi_width
    overlaps = {}
    for p in range(n_eta):
        o_eta = _overlap(cell.eta_lo, cell.eta_hi, win.a + p * pix_eta, win.a + (p + 1) * pix_eta)
        if o_eta == 0:
            continue
        for q in range(n_phi):
            o_phi = _overlap(phi_lo, phi_hi, q * pix_phi, (q + 1) * pix_phi)
            if o_phi:
                overlaps[p, q] = o_eta * o_phi
    total = sum(overlaps.values())
    assert total > 0, "an included cell must overlap its image"
    for (p, q), area in overlaps.items():
        image[p, q] += float(Fraction(cell.energy) * Fraction(area, total))


# --------------------------------------------------------------------------------------
# Images (§2)
# --------------------------------------------------------------------------------------


def _electron_window(i_c: int, j_c: int) -> Window:
    return _window(i_c, j_c, 7, 11)


def reference_electron_images(
    cell_eta, cell_phi, cell_energy, cell_sampling, cluster_eta, cluster_phi
) -> dict[str, np.ndarray]:
    """{"coarse": (18, 7, 11), "fine": (1, 56, 11)} float64 energy images (GeV)."""
    cells = _cells(cell_eta, cell_phi, cell_energy, cell_sampling)
    i_c, j_c = _centre_cell(cluster_eta, cluster_phi)
    win = _electron_window(i_c, j_c)
    coarse = np.zeros((len(COARSE_SAMPLINGS), 7, 11))
    fine = np.zeros((1, 56, 11))
    for cell in cells:
        if not win.contains(cell):
            continue
        if cell.sampling in COARSE_SAMPLINGS:
            channel = COARSE_SAMPLINGS.index(cell.sampling)
            _share(coarse[channel], cell, win, 24, 1)
        if cell.sampling in STRIPS:
            _share(fine[0], cell, win, 3, 1)
    return {"coarse": coarse, "fine": fine}


def reference_photon_images(
    cell_eta, cell_phi, cell_energy, cell_sampling, cluster_eta, cluster_phi
) -> dict[str, np.ndarray]:
    """{"strips": (56, 3), "middle": (7, 11), "back": (4, 11)} float64 energy images."""
    cells = _cells(cell_eta, cell_phi, cell_energy, cell_sampling)
    i_c, j_c = _centre_cell(cluster_eta, cluster_phi)
    ewin = _electron_window(i_c, j_c)
    strip_phi = 4 * (j_c // 4)
    strip_win = Window(ewin.a, ewin.b, strip_phi - 4, strip_phi + 8)
    back_eta = 48 * ((i_c - 3) // 2)
    back_win = Window(back_eta, back_eta + 192, ewin.c, ewin.d)
    strips = np.zeros((56, 3))
    middle = np.zeros((7, 11))
    back = np.zeros((4, 11))
    for cell in cells:
        if cell.sampling in STRIPS and strip_win.contains(cell):
            _share(strips, cell, strip_win, 3, 4)
        if cell.sampling in MIDDLES and ewin.contains(cell):
            _share(middle, cell, ewin, 24, 1)
        if cell.sampling in BACKS and back_win.contains(cell):
            _share(back, cell, back_win, 48, 1)
    return {"strips": strips, "middle": middle, "back": back}


# --------------------------------------------------------------------------------------
# Tracks (§2 track array, §3 track variables)
# --------------------------------------------------------------------------------------


def _n_tracks(track: dict) -> int:
    return len(track["pt"])


def _check_index(index, n: int, field: str) -> int:
    index = int(index)
    if index < -1 or index >= n:
        raise ValueError(f"{field} = {index} is outside the event's {n} tracks")
    return index


def _slots(slot_indices, n: int) -> list[int]:
    slots = list(slot_indices)
    if len(slots) != 5:
        raise ValueError("expected 5 slot indices (trackIdx1..trackIdx5)")
    return [_check_index(k, n, f"trackIdx{m + 1}") for m, k in enumerate(slots)]


def _ratio(num: float, den: float) -> float:
    """num/den, 0 when the denominator is ≤ 0."""
    return num / den if den > 0 else 0.0


def _get(track: dict, field: str, k: int) -> float:
    return float(track[field][k])


def reference_track_array(track, best_idx, slot_indices, cluster_e) -> np.ndarray:
    """(5, 13) float64: the slot tracks' TRACK_FEATURES, empty slots zero."""
    n = _n_tracks(track)
    best = _check_index(best_idx, n, "trackIdx")
    slots = _slots(slot_indices, n)
    reference = best if best >= 0 else slots[0]
    out = np.zeros((5, len(TRACK_FEATURES)))
    for m, k in enumerate(slots):
        if k < 0:
            continue
        pt, eta, phi = _get(track, "pt", k), _get(track, "eta", k), _get(track, "phi", k)
        if reference >= 0:
            deta = eta - _get(track, "eta", reference)
            dphi = _wrap(phi - _get(track, "phi", reference))
        else:
            deta = dphi = 0.0
        row = {
            "p_over_e": _ratio(pt * math.cosh(eta), float(cluster_e)),
            "deta": deta,
            "dphi": dphi,
        }
        for name in TRACK_FEATURES[3:]:
            row[name] = _get(track, name, k)
        out[m] = [row[name] for name in TRACK_FEATURES]
    return out


def reference_track_variables(
    track,
    best_idx,
    slot_indices,
    cluster_e,
    cluster_eta,
    n_tracks,
    delta_eta1,
    delta_phi_rescaled2,
) -> dict[str, float]:
    """The 17 TRACK_VARIABLE_NAMES of one electron."""
    n = _n_tracks(track)
    best = _check_index(best_idx, n, "trackIdx")
    slots = _slots(slot_indices, n)
    cluster_e = float(cluster_e)
    cluster_eta = float(cluster_eta)
    out = dict.fromkeys(TRACK_VARIABLE_NAMES, 0.0)
    if best >= 0:
        for name in ("nBLayerHits", "nPixelHits", "nSCTHits", "ndof", "d0", "eProbabilityHT"):
            out[name] = _get(track, name, best)
        d0 = _get(track, "d0", best)
        d0_err = _get(track, "d0Err", best)
        charge = _get(track, "charge", best)
        out["d0sig"] = _ratio(d0, d0_err)
        out["qd0sig"] = _ratio(charge * abs(d0), d0_err)
        out["dpOverP"] = _get(track, "deltaPOverP", best)
        pt = _get(track, "pt", best)
        out["eOverP"] = _ratio(cluster_e, pt * math.cosh(_get(track, "eta", best)))
        out["etOverPt"] = _ratio(cluster_e / math.cosh(cluster_eta), pt)
    num = 0.0
    den = 0.0
    for k in slots:
        if k >= 0:
            num += _get(track, "charge", k) * _get(track, "nSCTHits", k)
            den += _get(track, "nSCTHits", k)
    out["qSCTw"] = _ratio(num, den)
    out["deltaEta1"] = float(delta_eta1)
    out["deltaPhiRescaled2"] = float(delta_phi_rescaled2)
    out["nTracks"] = float(n_tracks)
    out["et"] = cluster_e / math.cosh(cluster_eta)
    out["eta"] = cluster_eta
    return out


# --------------------------------------------------------------------------------------
# Shower shapes (§3)
# --------------------------------------------------------------------------------------


def _sum_energy(cells, win: Window, samplings) -> float:
    return sum(c.energy for c in cells if c.sampling in samplings and win.contains(c))


def _width(weights_and_positions) -> float:
    """√(Σw x²/Σw − (Σw x/Σw)²), 0 when Σw ≤ 0, variance clipped at 0."""
    sw = sum(w for w, _ in weights_and_positions)
    if sw <= 0:
        return 0.0
    mean = sum(w * x for w, x in weights_and_positions) / sw
    mean2 = sum(w * x * x for w, x in weights_and_positions) / sw
    return math.sqrt(max(0.0, mean2 - mean * mean))


def _strip_profile(cells, i_c: int, j_c: int) -> list[float]:
    """p_0 … p_{n-1}: strip energies of the distinct η spans, increasing η."""
    centre_twice = 2 * (ETA_PER_MIDDLE * i_c + 12)  # doubled centre-cell centre, u
    strip_cell = j_c // 4  # strip φ cell (4 v) containing clusterPhi
    # side of clusterPhi relative to that strip cell's centre (4 strip_cell + 2 v);
    # at the centre itself (offset 2) the + side
    neighbour = (strip_cell + 1) % 64 if j_c - 4 * strip_cell >= 2 else (strip_cell - 1) % 64
    by_span: dict[tuple[int, int], float] = {}
    # every native strip of the window is in the profile, with a cell or without one (a
    # strip below the noise threshold is a zero, not a gap): scan the window in steps of u
    for u in range(centre_twice // 2 - 42, centre_twice // 2 + 43):
        for sampling in STRIPS:
            cell = geometry.cell_id(sampling, (u + 0.5) * U, 0.0)
            if cell < 0:
                continue
            _s, eta, _phi, deta, _dphi = geometry.cell_center(cell)
            span = (round((eta - deta / 2) / U), round((eta + deta / 2) / U))
            if abs(span[0] + span[1] - centre_twice) <= 2 * 30:
                by_span.setdefault(span, 0.0)
    for c in cells:
        if c.sampling not in STRIPS:
            continue
        if abs(c.eta_lo + c.eta_hi - centre_twice) > 2 * 30:
            continue
        assert c.phi_width == 4
        if c.phi_lo // 4 not in (strip_cell, neighbour):
            continue
        span = (c.eta_lo, c.eta_hi)
        by_span[span] = by_span.get(span, 0.0) + c.energy
    return [by_span[span] for span in sorted(by_span)]


def _strip_shapes(p: list[float]) -> dict[str, float]:
    out = {"wstot": 0.0, "ws3": 0.0, "fside": 0.0, "eratio": 0.0, "deltae": 0.0}
    n = len(p)
    if n == 0:
        return out
    i_max = 0
    for i in range(n):
        if p[i] > p[i_max]:
            i_max = i
    out["wstot"] = _ws([(p[i], i - i_max) for i in range(n)])
    out["ws3"] = _ws([(p[i], i - i_max) for i in range(n) if abs(i - i_max) <= 1])
    e3 = sum(p[i] for i in range(n) if abs(i - i_max) <= 1)
    e7 = sum(p[i] for i in range(n) if abs(i - i_max) <= 3)
    out["fside"] = _ratio(e7 - e3, e3)

    def value(i):
        return p[i] if 0 <= i < n else -math.inf

    maxima = [i for i in range(n) if p[i] > 0 and p[i] > value(i - 1) and p[i] > value(i + 1)]
    second = None
    for i in maxima:  # largest other than i_max; first in index order on ties
        if i != i_max and (second is None or p[i] > p[second]):
            second = i
    e_max2 = p[second] if second is not None else 0.0
    out["eratio"] = _ratio(p[i_max] - e_max2, p[i_max] + e_max2)
    if second is not None:
        lo, hi = sorted((i_max, second))
        e_min = min(p[i] for i in range(lo + 1, hi))
        out["deltae"] = e_max2 - e_min
    return out


def _ws(terms) -> float:
    """√(Σ p_i d_i² / Σ p_i), 0 when Σ p ≤ 0, radicand clipped at 0."""
    sp = sum(w for w, _ in terms)
    if sp <= 0:
        return 0.0
    return math.sqrt(max(0.0, sum(w * d * d for w, d in terms) / sp))


def reference_shower_shapes(
    cell_eta, cell_phi, cell_energy, cell_sampling, cluster_eta, cluster_phi
) -> dict[str, float]:
    """The 14 SHOWER_SHAPE_NAMES of one candidate."""
    cells = _cells(cell_eta, cell_phi, cell_energy, cell_sampling)
    i_c, j_c = _centre_cell(cluster_eta, cluster_phi)
    w3x3 = _window(i_c, j_c, 3, 3)
    w3x5 = _window(i_c, j_c, 3, 5)
    w3x7 = _window(i_c, j_c, 3, 7)
    w5x5 = _window(i_c, j_c, 5, 5)
    w7x7 = _window(i_c, j_c, 7, 7)
    out = dict.fromkeys(SHOWER_SHAPE_NAMES, 0.0)

    e2_3x3 = _sum_energy(cells, w3x3, MIDDLES)
    e2_3x7 = _sum_energy(cells, w3x7, MIDDLES)
    e2_7x7 = _sum_energy(cells, w7x7, MIDDLES)
    out["reta"] = _ratio(e2_3x7, e2_7x7)
    out["rphi"] = _ratio(e2_3x3, e2_3x7)
    out["weta2"] = _width(
        [(c.energy, c.eta) for c in cells if c.sampling in MIDDLES and w3x5.contains(c)]
    )

    e_em = _sum_energy(cells, w3x7, EM)
    out["e_em"] = e_em
    out["f1"] = _ratio(_sum_energy(cells, w3x7, STRIPS), e_em)
    out["f3"] = _ratio(_sum_energy(cells, w3x7, BACKS), e_em)

    # hadronic leakage: centres within ±120 u in η and ±5 v in φ of the centre-cell centre
    et_had = 0.0
    et_had1 = 0.0
    for c in cells:
        if c.sampling not in HADRONIC:
            continue
        d_eta2 = c.eta_lo + c.eta_hi - 2 * (ETA_PER_MIDDLE * i_c + 12)
        d_phi2 = _circular(2 * c.phi_lo + c.phi_width - (2 * j_c + 1), 2 * N_PHI)
        if abs(d_eta2) <= 2 * 120 and abs(d_phi2) <= 2 * 5:
            et = c.energy / math.cosh(c.eta)
            et_had += et
            if c.sampling in FIRST_HADRONIC:
                et_had1 += et
    et_em = e_em / math.cosh(float(cluster_eta))
    out["rhad"] = _ratio(et_had, et_em)
    out["rhad1"] = _ratio(et_had1, et_em)

    out.update(_strip_shapes(_strip_profile(cells, i_c, j_c)))

    # σ_ηη (CMS) over the middle cells of 5×5
    in5x5 = [c for c in cells if c.sampling in MIDDLES and w5x5.contains(c)]
    e5x5 = sum(c.energy for c in in5x5)
    if e5x5 > 0:
        positive = [c for c in in5x5 if c.energy > 0]
        eta_bar = sum(c.energy * c.eta for c in positive) / sum(c.energy for c in positive)
        weights = [(max(0.0, 4.7 + math.log(c.energy / e5x5)), c.eta) for c in positive]
        sum_w = sum(w for w, _ in weights)
        if sum_w > 0:
            var = sum(w * (eta - eta_bar) ** 2 for w, eta in weights) / sum_w
            out["sigmaietaieta"] = math.sqrt(max(0.0, var))
    return out


# --------------------------------------------------------------------------------------
# Isolation (§3)
# --------------------------------------------------------------------------------------


def _delta_r(eta1: float, phi1: float, eta2: float, phi2: float) -> float:
    return math.hypot(eta1 - eta2, _wrap(phi1 - phi2))


def reference_isolation(
    cell_eta,
    cell_phi,
    cell_energy,
    cell_sampling,
    track,
    pv_z,
    cluster_eta,
    cluster_phi,
    cluster_e,
    direction_track_idx,
    own_track_indices,
) -> dict:
    """ISOLATION_NAMES (floats) and "calo_iso_cones" (list of 16 floats)."""
    cells = _cells(cell_eta, cell_phi, cell_energy, cell_sampling)
    i_c, j_c = _centre_cell(cluster_eta, cluster_phi)
    cluster_eta = float(cluster_eta)
    cluster_phi = float(cluster_phi)
    et_candidate = float(cluster_e) / math.cosh(cluster_eta)
    core = _window(i_c, j_c, 5, 7)
    out: dict = dict.fromkeys(ISOLATION_NAMES, 0.0)
    cones = [0.0] * len(CALO_ISO_CONE_RADII)
    for c in cells:
        dr = _delta_r(c.eta, c.phi, cluster_eta, cluster_phi)
        et = c.energy / math.cosh(c.eta)
        if not core.contains(c):
            for name, radius in (("etcone20", 0.2), ("etcone30", 0.3), ("etcone40", 0.4)):
                if dr < radius:
                    out[name] += et
        for k, radius in enumerate(CALO_ISO_CONE_RADII):
            if dr < radius:
                cones[k] += et
    out["calo_iso_cones"] = [_ratio(s, et_candidate) for s in cones]

    n = _n_tracks(track)
    direction = _check_index(direction_track_idx, n, "trackIdx")
    own = {_check_index(k, n, "trackIdx1..5") for k in own_track_indices} - {-1}
    if direction >= 0:
        eta0, phi0 = _get(track, "eta", direction), _get(track, "phi", direction)
    else:
        eta0, phi0 = cluster_eta, cluster_phi
    var_radius = {}
    for name, r_max in (("ptvarcone20", 0.2), ("ptvarcone30", 0.3)):
        var_radius[name] = min(10.0 / et_candidate, r_max) if et_candidate > 0 else r_max
    for k in range(n):
        if k in own:
            continue
        pt, eta = _get(track, "pt", k), _get(track, "eta", k)
        if not pt > 1.0:
            continue
        if not abs((_get(track, "z0", k) - float(pv_z)) / math.cosh(eta)) < 3.0:  # sinθ
            continue
        dr = _delta_r(eta, _get(track, "phi", k), eta0, phi0)
        for name, radius in (("ptcone20", 0.2), ("ptcone30", 0.3), ("ptcone40", 0.4)):
            if dr < radius:
                out[name] += pt
        for name, radius in var_radius.items():
            if dr < radius:
                out[name] += pt
    return out


# --------------------------------------------------------------------------------------
# Energy flow (§3)
# --------------------------------------------------------------------------------------


def reference_energy_flow(
    cell_eta, cell_phi, cell_energy, cell_sampling, cluster_eta, cluster_phi
) -> dict[str, float]:
    """The 6 ENERGY_FLOW_NAMES on the EM part of the electron coarse image."""
    coarse = reference_electron_images(
        cell_eta, cell_phi, cell_energy, cell_sampling, cluster_eta, cluster_phi
    )["coarse"]
    i_c, j_c = _centre_cell(cluster_eta, cluster_phi)
    em_channels = [ch for ch, s in enumerate(COARSE_SAMPLINGS) if s in EM]
    pixels = []  # (E_T, η, φ) of pixels with E_T > 0
    for p in range(7):
        for q in range(11):
            energy = sum(float(coarse[ch, p, q]) for ch in em_channels)
            eta = (i_c - 3 + p + 0.5) * MIDDLE_ETA  # pixel centre
            phi = -math.pi + (j_c - 5 + q + 0.5) * V  # not wrapped: offsets stay exact
            et = energy / math.cosh(eta)
            if et > 0:
                pixels.append((et, eta, phi))
    out = dict.fromkeys(ENERGY_FLOW_NAMES, 0.0)
    if not pixels:
        return out
    sum_et = sum(et for et, _, _ in pixels)
    z = [et / sum_et for et, _, _ in pixels]
    n = len(pixels)
    theta = [
        [math.hypot(pixels[a][1] - pixels[b][1], pixels[a][2] - pixels[b][2]) for b in range(n)]
        for a in range(n)
    ]
    out["ptd"] = sum(za * za for za in z)
    # ordered pairs a ≠ b (a = b terms vanish for β > 0)
    for name, beta in (("efp2_b05", 0.5), ("efp2_b1", 1.0), ("efp2_b2", 2.0)):
        out[name] = sum(
            z[a] * z[b] * theta[a][b] ** beta for a in range(n) for b in range(n) if a != b
        )
    # ordered triples with repeated indices vanish; the 6 orderings of a < b < c are equal
    triangle = 0.0
    for a in range(n):
        for b in range(a + 1, n):
            zab = z[a] * z[b] * math.sqrt(theta[a][b])
            for c in range(b + 1, n):
                triangle += zab * z[c] * math.sqrt(theta[b][c] * theta[a][c])
    out["efp3_triangle_b05"] = 6.0 * triangle
    e_sum = px = py = pz = 0.0
    for et, eta, phi in pixels:
        e_sum += et * math.cosh(eta)
        px += et * math.cos(phi)
        py += et * math.sin(phi)
        pz += et * math.sinh(eta)
    out["mass"] = math.sqrt(max(0.0, e_sum * e_sum - (px * px + py * py + pz * pz)))
    return out
