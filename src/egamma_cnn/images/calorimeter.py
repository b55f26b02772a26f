"""Calorimeter images of e/γ candidates from the jagged cells of their events.

Electron images follow ATL-PHYS-PUB-2023-001 §4.4 ("Calorimeter images"):

* ``coarse`` — one channel per calorimeter layer (:data:`COARSE_SAMPLINGS`, 18 channels),
  7 × 11 pixels of 0.025 × 2π/256 in η × φ (0.175 × 0.275) centred on the candidate;
  layers the candidate does not cross are zeros; a coarser cell's energy is shared
  equally among the pixels it covers (a Tile cell of 0.1 × 0.1 gives E/16 to 16 pixels);
  the strip layers enter downscaled.
* ``fine`` — the strip layer (EMB1 + EME1) at 0.025/8 in η: 56 × 11 pixels.

Photon images follow Franco's photon-ID talk ("Low-level input: LAr calorimeter cells (3 layers)"):
the
strip, middle and back EM layers at their native pitch — ``strips`` 56 × 3 (0.025/8 ×
2π/64), ``middle`` 7 × 11, ``back`` 4 × 11 (0.05 × 2π/256).

The rules, exact on the integer grid of :mod:`egamma_cnn.cellgrid` (``docs/INPUTS.md``
§1–2): every window is placed on the middle-layer grid cell that contains the cluster
position; a cell is in an image iff its centre lies in the (closed) window, with all of
its energy, which is shared among the pixels it overlaps in proportion to the overlap
area inside the window — the equal sharing of the seed for cells that cover whole pixels,
overlap weighting for end-cap strips of 0.025/6 against the 0.025/8 fine pitch, and
conservation of the energy of every included cell. φ wraps at ±π. Pixels hold energy E
(GeV, float32); negative noise energies are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from egamma_cnn.cellgrid import ETA_UNITS_PER_CELL, N_PHI_UNITS, CellTable, centre_cells
from egamma_cnn.geometry import CaloSampling

__all__ = [
    "COARSE_SAMPLINGS",
    "ELECTRON_IMAGES",
    "PHOTON_IMAGES",
    "ImageSpec",
    "build_images",
]

#: Samplings of the coarse electron image, in channel order (ATLAS CaloSampling order).
COARSE_SAMPLINGS: tuple[int, ...] = tuple(int(s) for s in CaloSampling)


@dataclass(frozen=True)
class ImageSpec:
    """One image: which samplings fill which channel, and the pixel grid.

    Attributes
    ----------
    name : str
        Field name of the image.
    channels : tuple of tuple of int
        Samplings summed into each channel.
    n_eta, n_phi : int
        Pixels in η and φ.
    eta_pitch, phi_pitch : int
        Pixel size in grid units (η: 0.025/24, φ: 2π/256).
    eta_block, phi_block, phi_shift : int
        Placement of the window's lower corner from the centre cell ``(i_c, j_c)``:
        ``eta_origin = eta_block · floor(24 (i_c − 3) / eta_block)`` and
        ``phi_origin = phi_block · floor((j_c − phi_shift) / phi_block)`` (so that a
        native-pitch grid stays on its layer's cell edges).
    squeeze_channel : bool
        The output has no channel axis (one-channel photon images).
    """

    name: str
    channels: tuple[tuple[int, ...], ...]
    n_eta: int
    n_phi: int
    eta_pitch: int
    phi_pitch: int
    eta_block: int = ETA_UNITS_PER_CELL
    phi_block: int = 1
    phi_shift: int = 5
    squeeze_channel: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one candidate's image."""
        if self.squeeze_channel:
            return (self.n_eta, self.n_phi)
        return (len(self.channels), self.n_eta, self.n_phi)

    def channel_of_sampling(self) -> np.ndarray:
        """``int64[32]``: the channel of each sampling, -1 where it is not in the image."""
        table = np.full(32, -1, np.int64)
        for channel, samplings in enumerate(self.channels):
            for sampling in samplings:
                table[int(sampling)] = channel
        return table


_STRIPS = (int(CaloSampling.EMB1), int(CaloSampling.EME1))
_MIDDLE = (int(CaloSampling.EMB2), int(CaloSampling.EME2))
_BACK = (int(CaloSampling.EMB3), int(CaloSampling.EME3))

#: Electron images of ATL-PHYS-PUB-2023-001 §4.4.
ELECTRON_IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("coarse", tuple((s,) for s in COARSE_SAMPLINGS), 7, 11, 24, 1),
    ImageSpec("fine", (_STRIPS,), 56, 11, 3, 1),
)
#: Photon images (Franco's photon-ID talk): the three LAr EM layers at native pitch.
PHOTON_IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("strips", (_STRIPS,), 56, 3, 3, 4, phi_block=4, phi_shift=4, squeeze_channel=True),
    ImageSpec("middle", (_MIDDLE,), 7, 11, 24, 1, squeeze_channel=True),
    ImageSpec("back", (_BACK,), 4, 11, 48, 1, eta_block=48, squeeze_channel=True),
)


@numba.njit(cache=True)
def _fill(
    cell_offsets,
    energy,
    sampling,
    eta_lo,
    eta_hi,
    phi_lo,
    phi_hi,
    cand_offsets,
    i_c,
    j_c,
    channel_of,
    n_eta,
    n_phi,
    eta_pitch,
    phi_pitch,
    eta_block,
    phi_block,
    phi_shift,
    out,
):
    width_eta = n_eta * eta_pitch
    width_phi = n_phi * phi_pitch
    inv_eta_pitch = 1.0 / eta_pitch
    inv_phi_pitch = 1.0 / phi_pitch
    for event in range(cand_offsets.shape[0] - 1):
        for k in range(cand_offsets[event], cand_offsets[event + 1]):
            eta_origin = eta_block * ((24 * (i_c[k] - 3)) // eta_block)
            phi_origin = phi_block * ((j_c[k] - phi_shift) // phi_block)
            for i in range(cell_offsets[event], cell_offsets[event + 1]):
                a = eta_lo[i] - eta_origin
                b = eta_hi[i] - eta_origin
                if a + b < 0 or a + b > 2 * width_eta:
                    continue
                # φ offset on the circle, in [-128, 128) (256 is a power of two)
                pa = ((phi_lo[i] - phi_origin + N_PHI_UNITS // 2) & (N_PHI_UNITS - 1)) - (
                    N_PHI_UNITS // 2
                )
                pb = pa + (phi_hi[i] - phi_lo[i])
                if pa + pb < 0 or pa + pb > 2 * width_phi:
                    continue
                channel = channel_of[sampling[i]]
                if channel < 0:
                    continue
                ca = max(a, 0)
                cb = min(b, width_eta)
                cpa = max(pa, 0)
                cpb = min(pb, width_phi)
                weight = energy[i] / ((cb - ca) * (cpb - cpa))
                # floor(x / pitch) for 0 ≤ x < 2¹⁶ as int((x + ½) / pitch): exact, and a
                # multiply instead of an integer division in the hottest loop
                first_eta = int((ca + 0.5) * inv_eta_pitch)
                last_eta = int((cb - 0.5) * inv_eta_pitch)
                first_phi = int((cpa + 0.5) * inv_phi_pitch)
                last_phi = int((cpb - 0.5) * inv_phi_pitch)
                for ke in range(first_eta, last_eta + 1):
                    overlap_eta = min(cb, (ke + 1) * eta_pitch) - max(ca, ke * eta_pitch)
                    for kp in range(first_phi, last_phi + 1):
                        overlap_phi = min(cpb, (kp + 1) * phi_pitch) - max(cpa, kp * phi_pitch)
                        out[k, channel, ke, kp] += weight * overlap_eta * overlap_phi


def build_images(
    cells: CellTable,
    cand_offsets: np.ndarray,
    cluster_eta: np.ndarray,
    cluster_phi: np.ndarray,
    specs: tuple[ImageSpec, ...],
) -> dict[str, np.ndarray]:
    """Images of all candidates of a batch of events as contiguous float32 batches.

    Parameters
    ----------
    cells : CellTable
        The events' cells (:func:`egamma_cnn.cellgrid.prepare_cells`).
    cand_offsets : numpy.ndarray
        ``n_events + 1`` offsets of the candidates of each event.
    cluster_eta, cluster_phi : numpy.ndarray
        Flat cluster positions of the candidates.
    specs : tuple of ImageSpec
        :data:`ELECTRON_IMAGES` or :data:`PHOTON_IMAGES` (or custom specs).

    Returns
    -------
    dict of str to numpy.ndarray
        ``name → float32[n_candidates, *spec.shape]``, C-contiguous, candidates in event
        order, ready to be fed to an inference session as they are.
    """
    cand_offsets = np.asarray(cand_offsets, np.int64)
    if len(cand_offsets) != len(cells.offsets):
        raise ValueError(
            f"the cells have {cells.n_events} events but the candidates {len(cand_offsets) - 1}"
        )
    n_candidates = int(cand_offsets[-1])
    if len(cluster_eta) != n_candidates or len(cluster_phi) != n_candidates:
        raise ValueError(
            f"{n_candidates} candidates but {len(cluster_eta)} clusterEta and "
            f"{len(cluster_phi)} clusterPhi values"
        )
    i_c, j_c = centre_cells(cluster_eta, cluster_phi)
    images = {}
    for spec in specs:
        out = np.zeros((n_candidates, len(spec.channels), spec.n_eta, spec.n_phi), np.float32)
        _fill(
            cells.offsets,
            cells.energy,
            cells.sampling,
            cells.eta_lo,
            cells.eta_hi,
            cells.phi_lo,
            cells.phi_hi,
            cand_offsets,
            i_c,
            j_c,
            spec.channel_of_sampling(),
            spec.n_eta,
            spec.n_phi,
            spec.eta_pitch,
            spec.phi_pitch,
            spec.eta_block,
            spec.phi_block,
            spec.phi_shift,
            out,
        )
        images[spec.name] = out.reshape((n_candidates, *spec.shape))
    return images
