"""Energy-flow observables of the EM energy around e/γ candidates (Collado et al., PRD 103, 116028
§5).

Energy-flow polynomials (EFPs; Komiske, Metodiev, Thaler, "Energy flow polynomials",
JHEP 04 (2018) 013) of the candidate's electromagnetic image: the presampler and EM
layers 1–3 summed pixel by pixel on the 7 × 11 grid of the coarse electron image
(0.025 × 2π/256, centred on the centre cell; :mod:`egamma_cnn.images`), in E_T with the
pixel-centre η. Pixels with E_T ≤ 0 are left out. Pixel a carries
z_a = E_T,a / Σ_b E_T,b at its centre (η_a, φ_a) — the pixel centre, never an edge, η
first and φ second — and θ_ab = √(Δη_ab² + Δφ_ab²).

Sums run over **ordered** tuples of pixels, the convention of the EnergyFlow package, so
that each unordered pair appears twice; terms with a repeated index vanish for β > 0:

* ``ptd`` p_T^D = Σ_a z_a² (the κ = 2 one-node graph that Collado et al., PRD 103, 116028
  selects). Not the p_T^D of jet substructure, √(Σ p_T,i²)/Σ p_T,i
  (CMS-PAS-JME-13-002): ``ptd`` is its square, and √ptd is the quantity to compare,
* ``efp2_b05``, ``efp2_b1``, ``efp2_b2`` = Σ_{a,b} z_a z_b θ_ab^β, β = ½, 1, 2 (the
  two-point EFP; Collado et al., PRD 103, 116028 selects β = ½),
* ``efp3_triangle_b05`` = Σ_{a,b,c} z_a z_b z_c θ_ab^½ θ_bc^½ θ_ca^½ (the three-point
  triangle Collado et al., PRD 103, 116028 selects together with the mass),
* ``mass`` = √max(0, (Σ E_a)² − |Σ p⃗_a|²) of the pixels as massless four-vectors (GeV).

All are 0 for a candidate with no pixel of positive E_T.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from egamma_cnn.cellgrid import PHI_UNIT, CellTable, centre_cells
from egamma_cnn.geometry import EM_SAMPLINGS
from egamma_cnn.images.calorimeter import ImageSpec, build_images

__all__ = ["EM_IMAGE", "ENERGY_FLOW_NAMES", "compute_energy_flow"]

#: Output fields of :func:`compute_energy_flow`, in column order.
ENERGY_FLOW_NAMES: tuple[str, ...] = (
    "ptd",
    "efp2_b05",
    "efp2_b1",
    "efp2_b2",
    "efp3_triangle_b05",
    "mass",
)

#: The EM image the observables are computed on: EM samplings summed, coarse grid.
EM_IMAGE = ImageSpec("em", (tuple(EM_SAMPLINGS),), 7, 11, 24, 1)


@numba.njit(cache=True)
def _kernel(images, i_c, j_c, triangle_wanted, out):
    n_eta = images.shape[1]
    n_phi = images.shape[2]
    size = n_eta * n_phi
    z = np.empty(size)
    eta = np.empty(size)
    phi = np.empty(size)
    theta_half = np.empty((size, size))
    for k in range(images.shape[0]):
        n = 0
        total = 0.0
        sum_e = sum_px = sum_py = sum_pz = 0.0
        for a in range(n_eta):
            pixel_eta = 0.025 * (i_c[k] - 3 + a + 0.5)
            cosh_eta = math.cosh(pixel_eta)
            for b in range(n_phi):
                et = images[k, a, b] / cosh_eta
                if et <= 0.0:
                    continue
                pixel_phi = -math.pi + PHI_UNIT * (j_c[k] - 5 + b + 0.5)
                z[n] = et
                eta[n] = pixel_eta
                phi[n] = pixel_phi
                total += et
                sum_e += et * cosh_eta
                sum_px += et * math.cos(pixel_phi)
                sum_py += et * math.sin(pixel_phi)
                sum_pz += et * math.sinh(pixel_eta)
                n += 1
        if n == 0:
            continue
        ptd = 0.0
        for a in range(n):
            z[a] /= total
            ptd += z[a] * z[a]
        efp_half = efp_one = efp_two = 0.0
        for a in range(n):
            theta_half[a, a] = 0.0
            for b in range(a + 1, n):
                dphi = (phi[a] - phi[b] + math.pi) % (2.0 * math.pi) - math.pi
                theta2 = (eta[a] - eta[b]) ** 2 + dphi * dphi
                theta = math.sqrt(theta2)
                weight = 2.0 * z[a] * z[b]  # ordered pairs (a, b) and (b, a)
                efp_half += weight * math.sqrt(theta)
                efp_one += weight * theta
                efp_two += weight * theta2
                theta_half[a, b] = math.sqrt(theta)
                theta_half[b, a] = theta_half[a, b]
        triangle = 0.0
        for a in range(n if triangle_wanted else 0):
            for b in range(a + 1, n):
                ab = z[a] * z[b] * theta_half[a, b]
                for c in range(b + 1, n):
                    triangle += ab * z[c] * theta_half[b, c] * theta_half[a, c]
        out[k, 0] = ptd
        out[k, 1] = efp_half
        out[k, 2] = efp_one
        out[k, 3] = efp_two
        out[k, 4] = 6.0 * triangle  # the 3! orderings of each distinct triple
        out[k, 5] = math.sqrt(max(sum_e**2 - sum_px**2 - sum_py**2 - sum_pz**2, 0.0))


def compute_energy_flow(
    cells: CellTable,
    cand_offsets: np.ndarray,
    cluster_eta: np.ndarray,
    cluster_phi: np.ndarray,
    *,
    triangle: bool = True,
) -> np.ndarray:
    """Energy-flow observables ``float64[n_candidates, 6]`` (:data:`ENERGY_FLOW_NAMES`).

    With ``triangle=False`` the three-point EFP (O(n³) in the pixels, the costly one) is
    not summed and its column is 0; the other columns are the same.
    """
    images = build_images(cells, cand_offsets, cluster_eta, cluster_phi, (EM_IMAGE,))["em"]
    i_c, j_c = centre_cells(cluster_eta, cluster_phi)
    out = np.zeros((images.shape[0], len(ENERGY_FLOW_NAMES)))
    _kernel(images[:, 0].astype(np.float64), i_c, j_c, bool(triangle), out)
    return out
