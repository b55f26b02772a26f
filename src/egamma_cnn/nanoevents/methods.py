"""Behaviours of the egamma-cnn NanoEvents collections: what each collection can do.

This module is the "methods" half of coffea's schema/behaviour split (compare
``coffea.nanoevents.methods.nanoaod``); :mod:`egamma_cnn.nanoevents.schema` is the other
half and says how the flat branches of a sample file become these collections.

Collections and their mixins
----------------------------
``Electron`` and ``Photon``
    Reconstructed e/γ candidates: Lorentz vectors in (pt, eta, phi, mass) with a charge
    (``coffea.nanoevents.methods.candidate.PtEtaPhiMCandidate``), so that ``e1 + e2`` is a
    candidate with the summed four-momentum and charge. Photons carry charge 0 (filled by
    the schema). Cross-references: ``Electron.track`` (best track),
    ``Electron.matched_tracks`` (the ≤ 5 matched tracks in ΔR order, ATL-PHYS-PUB-2023-001 §4),
    ``Electron.photon``, ``Photon.tracks`` (conversion tracks), ``Photon.electron`` and,
    on simulation, ``genPart``. The identification and feature columns (``cnn_*``,
    ``llh_*``, ``iso_*``, ``features`` and one column per feature, e.g. ``reta``) are
    declared one by one in the class bodies with their definitions, made by the property
    factories of :mod:`egamma_cnn.nanoevents.id_columns`; ``docs/COLUMNS.md``
    (:mod:`egamma_cnn.nanoevents.catalog`) lists them all.
``Track``
    Inner-detector tracks: a ``PtEtaPhiMCandidate`` with mass 0 (filled by the schema; no
    particle hypothesis is implied) and ``Track.genPart`` on simulation.
``CaloCell``
    Calorimeter cells of the regions of interest: ``et`` = E/cosh η, ``sampling_name``
    and layer masks ``is_em``/``is_hadronic``/``is_strip``, all taken from
    :mod:`egamma_cnn.geometry`.
``GenParticle`` (the ``GenPart`` collection)
    coffea's NanoAOD generator particle (``parent``, ``children``, ``distinctParent``, ...);
    our files carry no ``statusFlags``, so ``hasFlags`` is not available.

Every cross-reference works on eager and on dask-awkward arrays, and on any slice of the
events (the schema stores global indices, as coffea's NanoAOD schema does). On files
without truth information (data) the truth cross-references raise ``AttributeError``, so
``hasattr(events.Electron, "genPart")`` is ``False`` there.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import awkward as ak
import numpy as np
from coffea.nanoevents.methods import base, candidate, nanoaod, vector
from coffea.util import dask_property

from egamma_cnn.geometry import (
    EM_SAMPLINGS,
    HADRONIC_SAMPLINGS,
    STRIP_SAMPLINGS,
    CaloSampling,
)
from egamma_cnn.nanoevents.id_columns import (
    feature_property,
    id_property,
    isolation_property,
    llh_property,
)

__all__ = [
    "CaloCell",
    "EGammaEvents",
    "Electron",
    "GenParticle",
    "Photon",
    "Track",
    "behavior",
]

behavior: dict[Any, Any] = {}
"""The awkward behaviour registry of the egamma-cnn collections (pass it to ``ak.Array``)."""
behavior.update(base.behavior)
# vector behaviour is included in the candidate behaviour
behavior.update(candidate.behavior)


class EGammaEvents(behavior["NanoEvents"]):
    """The top-level record of one event of an egamma-cnn sample file."""

    def __repr__(self) -> str:
        return "<EGamma event>"


behavior["NanoEvents"] = EGammaEvents


# --------------------------------------------------------------------------------------
# Cross-references
# --------------------------------------------------------------------------------------


def _resolve(collection: Any, target: str, index_field: str, drop_missing: bool) -> Any:
    """Take the ``target`` collection at the global indices ``collection[index_field]``.

    Works on an awkward array (eager or virtual) and on a dask-awkward array alike: every
    operation used here dispatches on the array type. A negative global index (no link)
    gives ``None``, or is removed from the list when ``drop_missing`` is set.
    """
    if index_field not in collection.fields:
        raise AttributeError(
            f"cannot resolve {target}: no field {index_field!r}, because the file lacks "
            f"the index branch or the {target} collection (files of real data carry no "
            "truth information)"
        )
    index = collection[index_field]
    if drop_missing:
        index = index[index >= 0]
    return collection._events()[target]._apply_global_index(index)


def _cross_reference(
    target: str, index_field: str, doc: str, *, drop_missing: bool = False
) -> property:
    """A property that resolves a global index of the schema into ``target``.

    Parameters
    ----------
    target : str
        Name of the collection pointed to, e.g. ``"Track"``.
    index_field : str
        The global index field built by the schema, e.g. ``"trackIdxG"``.
    doc : str
        Docstring of the property.
    drop_missing : bool
        For list-valued (nested) indices: remove the empty slots (index -1) instead of
        returning ``None`` for them.

    Returns
    -------
    property
        A coffea ``dask_property`` whose eager and dask versions share one body.
    """

    def eager(self: Any) -> Any:
        return _resolve(self, target, index_field, drop_missing)

    def lazy(self: Any, dask_array: Any) -> Any:
        return _resolve(dask_array, target, index_field, drop_missing)

    eager.__doc__ = doc
    prop = dask_property(eager)
    prop.dask(lazy)
    return prop


def _finish_vector_mixin(name: str, copy_from: str) -> None:
    """Complete the registration of a vector mixin class named ``name``.

    Copies the cross-class operator behaviours of ``copy_from`` onto ``name`` *after* the
    ``ak.mixin_class`` decorator has run, without overwriting the ones it registered (so
    that ``Candidate.add`` keeps propagating the charge, see scikit-hep/coffea#1578), and
    sets the projection classes that vector operations return.
    """
    for key, value in ak._util.copy_behaviors(copy_from, name, behavior).items():
        behavior.setdefault(key, value)
    array_cls = behavior["*", name]
    record_cls = behavior[name]
    array_cls.ProjectionClass2D = vector.TwoVectorArray
    array_cls.ProjectionClass3D = vector.ThreeVectorArray
    array_cls.ProjectionClass4D = array_cls
    array_cls.MomentumClass = vector.LorentzVectorArray
    record_cls.ProjectionClass2D = vector.TwoVectorRecord
    record_cls.ProjectionClass3D = vector.ThreeVectorRecord
    record_cls.ProjectionClass4D = record_cls
    record_cls.MomentumClass = vector.LorentzVectorRecord


def _set_repr(name: str) -> None:
    """Give records of the mixin ``name`` the short repr coffea uses (its class name)."""

    def __repr__(self: Any) -> str:
        return name

    behavior[name].__repr__ = __repr__


# --------------------------------------------------------------------------------------
# Collections
# --------------------------------------------------------------------------------------


#: Definitions of the feature columns that Electron and Photon share, word for word.
_SHARED_DOCS: dict[str, str] = {
    "f1": (
        "f₁ = E₁(3×7)/E_EM, the strip-layer fraction, E_EM the energy of the presamplers "
        "and EM layers 1–3 in 3 × 7 (ATL-PHYS-PUB-2023-001 Table 3)."
    ),
    "e_em": (
        "E_EM in GeV: the energy of the presamplers and EM layers 1–3 in 3 × 7 middle cells "
        "around the centre cell (docs/INPUTS.md §3)."
    ),
    "sigmaietaieta": (
        "σ_ηη = √(Σ w_i (η_i − η̄)²/Σ w_i) over the middle-layer cells in 5 × 5, "
        "w_i = max(0, 4.7 + ln(E_i/E_5×5)), η̄ the energy-weighted mean η, in η units "
        "(the CMS σ_ηη, cited by Collado et al., PRD 103, 116028 §4.5)."
    ),
    "etcone30": "E_T^cone30 in GeV: etcone20 with ΔR < 0.3 (ATLAS etcone).",
    "etcone40": (
        "E_T^cone40 in GeV: etcone20 with ΔR < 0.4, the widest complete cone of the files "
        "(ATLAS etcone)."
    ),
    "ptcone30": "p_T^cone30 in GeV: ptcone20 with ΔR < 0.3 (ATLAS ptcone).",
    "ptcone40": "p_T^cone40 in GeV: ptcone20 with ΔR < 0.4 (ATLAS ptcone).",
    "ptvarcone20": (
        "p_T^varcone20 in GeV: ptcone20 with ΔR < min(10 GeV/E_T, 0.2), E_T the cluster "
        "E_T (ATLAS ptvarcone)."
    ),
    "ptvarcone30": (
        "p_T^varcone30 in GeV: ptcone20 with ΔR < min(10 GeV/E_T, 0.3), E_T the cluster "
        "E_T (ATLAS ptvarcone)."
    ),
    "calo_iso_cones": (
        "I(R₀) = Σ_{ΔR<R₀} E_T,cell / E_T for the 16 cones R₀ = 0.025, 0.05, …, 0.4, no "
        "core subtraction, E_T the cluster E_T (0 when E_T ≤ 0) (the Collado Umana "
        "thesis, ch. 4)."
    ),
    "ptd": (
        "p_T^D as Collado et al., PRD 103, 116028 §5 define it: Σ_a z_a² (the κ = 2 "
        "energy-flow polynomial), z_a = E_T,a/Σ_b E_T,b over the pixels with E_T > 0 of "
        "the EM part of the 7 × 11 coarse image. It is the square of the p_T^D of "
        "jet-substructure studies (√(Σ p_T,i²)/Σ p_T,i, CMS-PAS-JME-13-002): compare "
        "√ptd with that."
    ),
    "efp2_b05": (
        "Two-point EFP Σ_{a,b} z_a z_b θ_ab^β with β = ½ over ordered pixel pairs, "
        "θ_ab = √(Δη² + Δφ²) (Collado et al., PRD 103, 116028 §5; Komiske, Metodiev, "
        "Thaler, JHEP 04 (2018) 013)."
    ),
    "efp2_b1": "Two-point EFP Σ_{a,b} z_a z_b θ_ab^β with β = 1 (as efp2_b05).",
    "efp2_b2": "Two-point EFP Σ_{a,b} z_a z_b θ_ab^β with β = 2 (as efp2_b05).",
    "efp3_triangle_b05": (
        "Triangle EFP Σ_{a,b,c} z_a z_b z_c θ_ab^½ θ_bc^½ θ_ca^½ over ordered pixel "
        "triples (Collado et al., PRD 103, 116028 §5)."
    ),
}


@ak.mixin_class(behavior)
class Electron(candidate.PtEtaPhiMCandidate, base.NanoCollection, base.Systematic):
    """Reconstructed electron candidate (cluster + best track).

    The four-momentum is (pt, eta, phi, mass) with the electron mass; ``clusterEta``,
    ``clusterPhi`` and ``clusterE`` give the calorimeter cluster. On simulation
    ``truthClass`` is the ATL-PHYS-PUB-2023-001 §3.1 class (0 prompt, 1 charge-flip, 2 photon
    conversion, 3 heavy flavour, 4 light-flavour e/γ, 5 light-flavour hadron).

    The columns below are computed from the cells and tracks of each electron's event. On
    simulation read with ``EGammaSchema.with_fudge``, the features named in the fudge file
    are the fudged values, and ``llh_*`` and the CNN's high-level inputs use them
    (Zumbihl's e/γ talk).
    """

    track = _cross_reference(
        "Track",
        "trackIdxG",
        """The best matched track (``Electron_trackIdx``); ``None`` where there is none.""",
    )
    matched_tracks = _cross_reference(
        "Track",
        "matchedTracksIdxG",
        """The up-to-five matched tracks in increasing ΔR to the cluster, as a list.

        Built from ``Electron_trackIdx1``..``trackIdx5``; empty slots (-1) are removed, so
        the list length is ``min(nTracks, 5)``.
        """,
        drop_missing=True,
    )
    photon = _cross_reference(
        "Photon",
        "photonIdxG",
        """The same cluster reconstructed as a photon (``Electron_photonIdx``), or ``None``.""",
    )
    genPart = _cross_reference(
        "GenPart",
        "genPartIdxG",
        """The truth-matched generator particle (simulation only), or ``None``.""",
    )
    # coffea NanoAOD names, so that code written for CMS NanoAOD runs unchanged
    matched_photon = photon
    matched_gen = genPart

    @property
    def cluster_et(self) -> Any:
        """Cluster transverse energy E_cluster / cosh η_cluster (GeV): the E_T of the IDs."""
        return self.clusterE / np.cosh(self.clusterEta)

    # ----------------------------------------------------------------------------------
    # Identification columns (docs/COLUMNS.md lists every column with its definition)
    # ----------------------------------------------------------------------------------

    cnn = id_property(
        "electron",
        None,
        "Every CNN column of the electron as one record (``cnn_probs``, ``cnn_score`` and "
        "one boolean per working point of the model), computed once per collection "
        "(ATL-PHYS-PUB-2023-001 §5.4).",
    )
    cnn_probs = id_property(
        "electron",
        "cnn_probs",
        "The six class probabilities p_k of the electron CNN, a record of float32 named by "
        "class: prompt, charge_flip, conversion, heavy_flavour, lf_egamma, lf_hadron "
        "(ATL-PHYS-PUB-2023-001 §3.1).",
    )
    cnn_score = id_property(
        "electron",
        "cnn_score",
        "The discriminant D/(1+D) ∈ [0, 1], D = Σ_sig w_k p_k / Σ_bkg w_k p_k with the "
        "model's default class weights w_k (each set normalised to 1) and charge-flip "
        "choice (signal for the shipped model) (ATL-PHYS-PUB-2023-001 Eq. 1–2, §5.4).",
    )
    cnn_loose = id_property(
        "electron",
        "cnn_loose",
        "Passes the CNN Loose working point: cnn_score ≥ the cut of the candidate's cluster "
        "E_T × |η| bin, set by the model's targets (93 % signal efficiency for the shipped "
        "model); False outside the binned E_T × |η| range (ATL-PHYS-PUB-2023-001 §5.4).",
    )
    cnn_medium = id_property(
        "electron",
        "cnn_medium",
        "Passes the CNN Medium working point: cnn_score ≥ the cut of the cluster E_T × |η| "
        "bin, set by the model's targets (88 % signal efficiency for the shipped model; "
        "ATL-PHYS-PUB-2023-001 §5.4).",
    )
    cnn_tight = id_property(
        "electron",
        "cnn_tight",
        "Passes the CNN Tight working point: cnn_score ≥ the cut of the cluster E_T × |η| "
        "bin, set by the model's targets (80 % signal efficiency for the shipped model; "
        "ATL-PHYS-PUB-2023-001 §5.4).",
    )
    llh = llh_property(
        None,
        "The likelihood baseline's columns as one record (``llh_score`` and its working "
        "points), computed once per collection (ATL-PHYS-PUB-2023-001 §6.1).",
    )
    llh_score = llh_property(
        "llh_score",
        "The likelihood discriminant d = L_S/(L_S + L_B) ∈ [0, 1], L = Π_v P_v the product "
        "of the signal or background PDFs of the shower-shape and track variables in the "
        "candidate's E_T × |η| bin (ATL-PHYS-PUB-2023-001 §6.1).",
    )
    llh_loose = llh_property(
        "llh_loose",
        "Passes the LLH Loose working point: ≥ 2 pixel and ≥ 7 silicon hits on the track and "
        "the cut on d of the E_T × |η| bin; together they keep 93 % of all signal in the "
        "shipped likelihood, the same signal as cnn_loose (ATL-PHYS-PUB-2023-001 §6.1).",
    )
    llh_medium = llh_property(
        "llh_medium",
        "Passes the LLH Medium working point: ≥ 2 pixel, ≥ 7 silicon and ≥ 1 B-layer hits and "
        "the cut on d; together they keep 88 % of all signal in the shipped likelihood, the "
        "same signal as cnn_medium (ATL-PHYS-PUB-2023-001 §6.1).",
    )
    llh_tight = llh_property(
        "llh_tight",
        "Passes the LLH Tight working point: ≥ 2 pixel, ≥ 7 silicon and ≥ 1 B-layer hits and "
        "the cut on d; together they keep 80 % of all signal in the shipped likelihood, the "
        "same signal as cnn_tight (ATL-PHYS-PUB-2023-001 §6.1).",
    )
    iso_loose = isolation_property(
        "electron",
        "iso_loose",
        "Loose isolation working point, fixed cuts in the style of the ATLAS isolation "
        "(egamma_cnn.corrections.isolation)",
    )
    iso_tight = isolation_property(
        "electron",
        "iso_tight",
        'Tight isolation working point, fixed cuts in the style of the ATLAS "Tight" '
        "isolation (egamma_cnn.corrections.isolation)",
    )

    # ----------------------------------------------------------------------------------
    # Feature columns (egamma_cnn.features; windows and rules in docs/INPUTS.md §3).
    # Not declared, because the file or the four-vector has them: mass, et, eta (read
    # them from .features) and the file fields of _FILE_FIELDS.
    # ----------------------------------------------------------------------------------

    features = feature_property(
        "electron",
        None,
        "Every feature of egamma_cnn.features (shower shapes, isolation, energy flow, track "
        "variables) as one record, in one pass over the cells (docs/INPUTS.md §3).",
    )
    reta = feature_property(
        "electron",
        "reta",
        "R_η = E₂(3×7)/E₂(7×7): middle-layer energy in 3 × 7 over 7 × 7 middle cells "
        "(η × φ) around the centre cell (ATL-PHYS-PUB-2023-001 Table 3).",
    )
    rphi = feature_property(
        "electron",
        "rphi",
        "R_φ = E₂(3×3)/E₂(3×7): middle-layer energy in 3 × 3 over 3 × 7 middle cells "
        "(ATL-PHYS-PUB-2023-001 Table 3).",
    )
    weta2 = feature_property(
        "electron",
        "weta2",
        "w_η2 = √(Σ E_i η_i²/Σ E_i − (Σ E_i η_i/Σ E_i)²), the η width of the middle-layer "
        "cells in 3 × 5, η_i the cell centres (ATL-PHYS-PUB-2023-001 Table 3).",
    )
    f1 = feature_property("electron", "f1", _SHARED_DOCS["f1"])
    f3 = feature_property(
        "electron",
        "f3",
        "f₃ = E₃(3×7)/E_EM, the back-layer fraction; always the measurement (the ID of "
        "ATL-PHYS-PUB-2023-001 Table 3 defaults it above |η| = 2.01).",
    )
    rhad = feature_property(
        "electron",
        "rhad",
        "R_had = E_T(hadronic)/E_T(EM): E_T = E/cosh η_cell of the hadronic cells within "
        "±0.125 × ±5·2π/256 of the centre cell (the 0.24 × 0.24 leakage window) over "
        "E_T(EM) = E_EM/cosh η_cluster (ATL-PHYS-PUB-2023-001 Table 3).",
    )
    rhad1 = feature_property(
        "electron",
        "rhad1",
        "R_had1 = E_T(HEC0, TileBar0, TileExt0)/E_T(EM): the first hadronic layer in the "
        "window of rhad (ATL-PHYS-PUB-2023-001 Table 3).",
    )
    e_em = feature_property("electron", "e_em", _SHARED_DOCS["e_em"])
    wstot = feature_property(
        "electron",
        "wstot",
        "w_s,tot = √(Σ p_i (i − i_max)²/Σ p_i) over the strip profile p_i (±0.0625 in η, "
        "20 barrel strips, two strip φ cells), i_max the hottest strip, in strips "
        "(ATL-PHYS-PUB-2023-001 Table 3).",
    )
    ws3 = feature_property(
        "electron",
        "ws3",
        "w_s3: the width of wstot over the three strips |i − i_max| ≤ 1 "
        "(ATL-PHYS-PUB-2023-001 Table 3).",
    )
    fside = feature_property(
        "electron",
        "fside",
        "f_side = (E₇ − E₃)/E₃, E_k the strip-profile energy in the k strips centred on "
        "i_max (ATL-PHYS-PUB-2023-001 Table 3).",
    )
    eratio = feature_property(
        "electron",
        "eratio",
        "E_ratio = (E_max1 − E_max2)/(E_max1 + E_max2), E_max2 the largest other local "
        "maximum of the strip profile (0 without one: E_ratio = 1 for a single peak) "
        "(ATL-PHYS-PUB-2023-001 Table 3).",
    )
    deltae = feature_property(
        "electron",
        "deltae",
        "ΔE_s = E_max2 − E_min in GeV, E_min the lowest strip between the two maxima of "
        "the strip profile; 0 without a second maximum (ATL-PHYS-PUB-2023-001 Table 3).",
    )
    sigmaietaieta = feature_property("electron", "sigmaietaieta", _SHARED_DOCS["sigmaietaieta"])
    etcone20 = feature_property(
        "electron",
        "etcone20",
        "E_T^cone20 in GeV: Σ E/cosh η of the cells of every layer with ΔR < 0.2 to the "
        "cluster, minus the 5 × 7 middle-cell core; no pile-up or leakage correction "
        '(ATLAS etcone; Franco\'s photon-ID talk, "Calo-based isolation").',
    )
    etcone30 = feature_property("electron", "etcone30", _SHARED_DOCS["etcone30"])
    etcone40 = feature_property("electron", "etcone40", _SHARED_DOCS["etcone40"])
    ptcone20 = feature_property(
        "electron",
        "ptcone20",
        "p_T^cone20 in GeV: Σ p_T of the tracks with p_T > 1 GeV and "
        "|(z0 − z_PV) sin θ| < 3 mm within ΔR < 0.2 of the best track (of the cluster "
        "without one), the electron's best and matched tracks left out (ATLAS ptcone; "
        'Franco\'s photon-ID talk, "Track-based isolation").',
    )
    ptcone30 = feature_property("electron", "ptcone30", _SHARED_DOCS["ptcone30"])
    ptcone40 = feature_property("electron", "ptcone40", _SHARED_DOCS["ptcone40"])
    ptvarcone20 = feature_property("electron", "ptvarcone20", _SHARED_DOCS["ptvarcone20"])
    ptvarcone30 = feature_property("electron", "ptvarcone30", _SHARED_DOCS["ptvarcone30"])
    calo_iso_cones = feature_property("electron", "calo_iso_cones", _SHARED_DOCS["calo_iso_cones"])
    ptd = feature_property("electron", "ptd", _SHARED_DOCS["ptd"])
    efp2_b05 = feature_property("electron", "efp2_b05", _SHARED_DOCS["efp2_b05"])
    efp2_b1 = feature_property("electron", "efp2_b1", _SHARED_DOCS["efp2_b1"])
    efp2_b2 = feature_property("electron", "efp2_b2", _SHARED_DOCS["efp2_b2"])
    efp3_triangle_b05 = feature_property(
        "electron", "efp3_triangle_b05", _SHARED_DOCS["efp3_triangle_b05"]
    )
    nBLayerHits = feature_property(
        "electron",
        "nBLayerHits",
        "Hits of the best track in the innermost pixel layer (B-layer); 0 without a best "
        "track (ATL-PHYS-PUB-2023-001 Table 4).",
    )
    nPixelHits = feature_property(
        "electron",
        "nPixelHits",
        "Pixel hits of the best track; 0 without one (ATL-PHYS-PUB-2023-001 Table 4).",
    )
    nSCTHits = feature_property(
        "electron",
        "nSCTHits",
        "SCT hits of the best track; 0 without one (ATL-PHYS-PUB-2023-001 Table 4).",
    )
    ndof = feature_property(
        "electron",
        "ndof",
        "Degrees of freedom of the best track's fit; 0 without one "
        "(ATL-PHYS-PUB-2023-001 Table 4).",
    )
    d0 = feature_property(
        "electron",
        "d0",
        "Transverse impact parameter d0 of the best track in mm; 0 without one "
        "(ATL-PHYS-PUB-2023-001 Table 4).",
    )
    d0sig = feature_property(
        "electron",
        "d0sig",
        "d0/σ(d0) of the best track; 0 when σ(d0) ≤ 0 or without a track "
        "(ATL-PHYS-PUB-2023-001 Table 4).",
    )
    dpOverP = feature_property(
        "electron",
        "dpOverP",
        "Δp/p of the best track, the momentum lost between the perigee and the last "
        "measurement (ATL-PHYS-PUB-2023-001 Table 4).",
    )
    qd0sig = feature_property(
        "electron",
        "qd0sig",
        "q·|d0|/σ(d0) of the best track, the charge-flip variable; 0 when σ(d0) ≤ 0 "
        "(ATL-PHYS-PUB-2023-001 §4.2, Table 4).",
    )
    qSCTw = feature_property(
        "electron",
        "qSCTw",
        "⟨q⟩_SCTw = Σ_j q_j n_SCT,j/Σ_j n_SCT,j over the ≤ 5 matched tracks; 0 when "
        "Σ n_SCT = 0 (ATL-PHYS-PUB-2023-001 Table 4).",
    )
    eProbabilityHT = feature_property(
        "electron",
        "eProbabilityHT",
        "TRT high-threshold electron probability of the best track; always the "
        "measurement (the ID of ATL-PHYS-PUB-2023-001 Table 4 defaults it above "
        "|η| = 2.01).",
    )
    eOverP = feature_property(
        "electron",
        "eOverP",
        "E/p = E_cluster/(p_T cosh η) of the best track; 0 without one "
        "(ATL-PHYS-PUB-2023-001 Table 4).",
    )
    etOverPt = feature_property(
        "electron",
        "etOverPt",
        "E_T/p_T = (E_cluster/cosh η_cluster)/p_T of the best track; 0 without one "
        "(ATL-PHYS-PUB-2023-001 Table 4).",
    )


_finish_vector_mixin("Electron", "PtEtaPhiMCandidate")
_set_repr("Electron")


@ak.mixin_class(behavior)
class Photon(candidate.PtEtaPhiMCandidate, base.NanoCollection, base.Systematic):
    """Reconstructed photon candidate (charge 0, filled by the schema).

    ``conversionType`` is 0 (unconverted), 1 (one-track) or 2 (two-track conversion) and
    ``conversionRadius`` the conversion radius in mm (-1 when unconverted).
    """

    tracks = _cross_reference(
        "Track",
        "tracksIdxG",
        """The conversion tracks (``Photon_trackIdx1``, ``trackIdx2``) as a list.

        Empty slots are removed: the list is empty for an unconverted photon.
        """,
        drop_missing=True,
    )
    electron = _cross_reference(
        "Electron",
        "electronIdxG",
        """The same cluster reconstructed as an electron (``Photon_electronIdx``), or ``None``.""",
    )
    genPart = _cross_reference(
        "GenPart",
        "genPartIdxG",
        """The truth-matched generator particle (simulation only), or ``None``.""",
    )
    # coffea NanoAOD names
    matched_electron = electron
    matched_gen = genPart

    @property
    def cluster_et(self) -> Any:
        """Cluster transverse energy E_cluster / cosh η_cluster (GeV)."""
        return self.clusterE / np.cosh(self.clusterEta)

    @property
    def isConverted(self) -> Any:
        """``True`` for a converted photon (``conversionType > 0``)."""
        return self.conversionType > 0

    # ----------------------------------------------------------------------------------
    # Identification columns (docs/COLUMNS.md lists every column with its definition)
    # ----------------------------------------------------------------------------------

    cnn = id_property(
        "photon",
        None,
        "Every CNN column of the photon as one record (``cnn_score`` and one boolean per "
        "working point of the model), computed once per collection (Franco's photon-ID "
        "talk).",
    )
    cnn_score = id_property(
        "photon",
        "cnn_score",
        "The photon CNN's prompt-photon probability ∈ [0, 1], from the three EM layers at "
        "native granularity (Franco's photon-ID talk).",
    )
    cnn_loose = id_property(
        "photon",
        "cnn_loose",
        "Passes the photon CNN loose working point: cnn_score ≥ the cut of the cluster "
        "E_T × |η| bin that keeps the non-prompt fraction of the cut-based Loose menu "
        "(Franco's photon-ID talk).",
    )
    cnn_tight = id_property(
        "photon",
        "cnn_tight",
        "Passes the photon CNN tight working point: cnn_score ≥ the cut of the cluster "
        "E_T × |η| bin that keeps the non-prompt fraction of the cut-based Tight menu "
        "(Franco's photon-ID talk).",
    )
    iso_loose = isolation_property(
        "photon",
        "iso_loose",
        "Loose photon isolation working point, cluster E_T as cluster_et (Franco's "
        'photon-ID talk, "Calo-based isolation", "Track-based isolation")',
    )

    # ----------------------------------------------------------------------------------
    # Feature columns (egamma_cnn.features; windows and rules in docs/INPUTS.md §3), never
    # fudged. Not declared, because the four-vector has it: mass (read it from .features).
    # ----------------------------------------------------------------------------------

    features = feature_property(
        "photon",
        None,
        "Every photon feature of egamma_cnn.features (shower shapes, isolation, energy "
        "flow) as one record, in one pass over the cells (docs/INPUTS.md §3).",
    )
    reta = feature_property(
        "photon",
        "reta",
        "R_η = E₂(3×7)/E₂(7×7): middle-layer energy in 3 × 7 over 7 × 7 middle cells "
        "(η × φ) around the centre cell (Franco's photon-ID talk, Table 1).",
    )
    rphi = feature_property(
        "photon",
        "rphi",
        "R_φ = E₂(3×3)/E₂(3×7): middle-layer energy in 3 × 3 over 3 × 7 middle cells "
        "(Franco's photon-ID talk, Table 1).",
    )
    weta2 = feature_property(
        "photon",
        "weta2",
        "w_η2 = √(Σ E_i η_i²/Σ E_i − (Σ E_i η_i/Σ E_i)²), the η width of the middle-layer "
        "cells in 3 × 5, η_i the cell centres (Franco's photon-ID talk, Table 1).",
    )
    f1 = feature_property("photon", "f1", _SHARED_DOCS["f1"])
    f3 = feature_property(
        "photon",
        "f3",
        "f₃ = E₃(3×7)/E_EM, the back-layer fraction (ATL-PHYS-PUB-2023-001 Table 3).",
    )
    rhad = feature_property(
        "photon",
        "rhad",
        "R_had = E_T(hadronic)/E_T(EM): E_T = E/cosh η_cell of the hadronic cells within "
        "±0.125 × ±5·2π/256 of the centre cell (the 0.24 × 0.24 leakage window) over "
        "E_T(EM) = E_EM/cosh η_cluster (Franco's photon-ID talk, Table 1).",
    )
    rhad1 = feature_property(
        "photon",
        "rhad1",
        "R_had1 = E_T(HEC0, TileBar0, TileExt0)/E_T(EM): the first hadronic layer in the "
        "window of rhad (Franco's photon-ID talk, Table 1).",
    )
    e_em = feature_property("photon", "e_em", _SHARED_DOCS["e_em"])
    wstot = feature_property(
        "photon",
        "wstot",
        "w_s,tot = √(Σ p_i (i − i_max)²/Σ p_i) over the strip profile p_i (±0.0625 in η, "
        "20 barrel strips, two strip φ cells), i_max the hottest strip, in strips "
        "(Franco's photon-ID talk, Table 1).",
    )
    ws3 = feature_property(
        "photon",
        "ws3",
        "w_s3: the width of wstot over the three strips |i − i_max| ≤ 1 (Franco's "
        "photon-ID talk, Table 1).",
    )
    fside = feature_property(
        "photon",
        "fside",
        "f_side = (E₇ − E₃)/E₃, E_k the strip-profile energy in the k strips centred on "
        "i_max (Franco's photon-ID talk, Table 1).",
    )
    eratio = feature_property(
        "photon",
        "eratio",
        "E_ratio = (E_max1 − E_max2)/(E_max1 + E_max2), E_max2 the largest other local "
        "maximum of the strip profile (0 without one: E_ratio = 1 for a single peak) "
        "(Franco's photon-ID talk, Table 1).",
    )
    deltae = feature_property(
        "photon",
        "deltae",
        "ΔE_s = E_max2 − E_min in GeV, E_min the lowest strip between the two maxima of "
        "the strip profile; 0 without a second maximum (Franco's photon-ID talk, Table 1).",
    )
    sigmaietaieta = feature_property("photon", "sigmaietaieta", _SHARED_DOCS["sigmaietaieta"])
    etcone20 = feature_property(
        "photon",
        "etcone20",
        "E_T^cone20 in GeV: Σ E/cosh η of the cells of every layer with ΔR < 0.2 to the "
        "cluster, minus the 5 × 7 middle-cell core; no pile-up or leakage correction "
        '(Franco\'s photon-ID talk, "Calo-based isolation").',
    )
    etcone30 = feature_property("photon", "etcone30", _SHARED_DOCS["etcone30"])
    etcone40 = feature_property("photon", "etcone40", _SHARED_DOCS["etcone40"])
    ptcone20 = feature_property(
        "photon",
        "ptcone20",
        "p_T^cone20 in GeV: Σ p_T of the tracks with p_T > 1 GeV and "
        "|(z0 − z_PV) sin θ| < 3 mm within ΔR < 0.2 of the cluster, the conversion tracks "
        'left out (Franco\'s photon-ID talk, "Track-based isolation").',
    )
    ptcone30 = feature_property("photon", "ptcone30", _SHARED_DOCS["ptcone30"])
    ptcone40 = feature_property("photon", "ptcone40", _SHARED_DOCS["ptcone40"])
    ptvarcone20 = feature_property("photon", "ptvarcone20", _SHARED_DOCS["ptvarcone20"])
    ptvarcone30 = feature_property("photon", "ptvarcone30", _SHARED_DOCS["ptvarcone30"])
    calo_iso_cones = feature_property("photon", "calo_iso_cones", _SHARED_DOCS["calo_iso_cones"])
    ptd = feature_property("photon", "ptd", _SHARED_DOCS["ptd"])
    efp2_b05 = feature_property("photon", "efp2_b05", _SHARED_DOCS["efp2_b05"])
    efp2_b1 = feature_property("photon", "efp2_b1", _SHARED_DOCS["efp2_b1"])
    efp2_b2 = feature_property("photon", "efp2_b2", _SHARED_DOCS["efp2_b2"])
    efp3_triangle_b05 = feature_property(
        "photon", "efp3_triangle_b05", _SHARED_DOCS["efp3_triangle_b05"]
    )


_finish_vector_mixin("Photon", "PtEtaPhiMCandidate")
_set_repr("Photon")


@ak.mixin_class(behavior)
class Track(candidate.PtEtaPhiMCandidate, base.NanoCollection):
    """Inner-detector track; a massless (pt, eta, phi) candidate with its charge.

    ``etaCalo``/``phiCalo`` are the track extrapolated to the second EM layer and the 13
    per-track features of ATL-PHYS-PUB-2023-001 Table 5 are fields of the collection.
    """

    genPart = _cross_reference(
        "GenPart",
        "genPartIdxG",
        """The generator particle that made the track (simulation only), or ``None``.""",
    )
    matched_gen = genPart


_finish_vector_mixin("Track", "PtEtaPhiMCandidate")
_set_repr("Track")


def _any_of(values: Any, choices: tuple[int, ...]) -> Any:
    """Element-wise ``values in choices`` for (dask-)awkward arrays."""
    return functools.reduce(operator.or_, (values == c for c in choices))


_SAMPLINGS: tuple[CaloSampling, ...] = tuple(CaloSampling)


def _sampling_names(sampling: Any) -> Any:
    """Map CaloSampling numbers to their names (``None`` for an unknown number).

    The position of each number in :class:`~egamma_cnn.geometry.CaloSampling` is found
    with element-wise comparisons, then the positions become an option-indexed view of
    the names; only operations that also run on dask-awkward's typetracer are used. A
    single number (the field of one cell record) gives a ``str`` or ``None``.
    """
    if not isinstance(sampling, ak.Array):
        return next((s.name for s in _SAMPLINGS if s == int(sampling)), None)
    position = functools.reduce(
        operator.add,
        ((sampling == int(s)) * (k + 1) for k, s in enumerate(_SAMPLINGS)),
    )
    position = ak.values_astype(position - 1, np.int64)
    names = ak.to_layout(ak.to_backend([s.name for s in _SAMPLINGS], ak.backend(sampling)))

    def action(layout: ak.contents.Content, **kwargs: Any) -> ak.contents.Content | None:
        if layout.is_numpy:
            return ak.contents.IndexedOptionArray(ak.index.Index64(layout.data), names)
        return None

    return ak.transform(action, position, behavior=sampling.behavior)


@ak.mixin_class(behavior)
class CaloCell(base.NanoCollection):
    """Calorimeter cell of the regions of interest around the e/γ candidates.

    Fields ``eta``, ``phi``, ``energy`` (GeV) and ``sampling`` (ATLAS CaloSampling number,
    see :class:`egamma_cnn.geometry.CaloSampling`); each cell appears once per event.
    """

    @property
    def et(self) -> Any:
        """Transverse energy E/cosh η in GeV."""
        return self.energy / np.cosh(self.eta)

    @property
    def sampling_name(self) -> Any:
        """ATLAS name of the cell's layer (``"EMB2"``, ``"TileBar0"``, ...) as a string."""
        return _sampling_names(self.sampling)

    @property
    def is_em(self) -> Any:
        """``True`` for cells of the EM calorimeter, presamplers included."""
        return _any_of(self.sampling, EM_SAMPLINGS)

    @property
    def is_hadronic(self) -> Any:
        """``True`` for cells of the hadronic calorimeter (Tile and HEC)."""
        return _any_of(self.sampling, HADRONIC_SAMPLINGS)

    @property
    def is_strip(self) -> Any:
        """``True`` for cells of the strip layer (EMB1, EME1)."""
        return _any_of(self.sampling, STRIP_SAMPLINGS)


_set_repr("CaloCell")


@ak.mixin_class(behavior)
class GenParticle(nanoaod.GenParticle):
    """Generator particle (``GenPart``), coffea's NanoAOD one without status flags.

    ``parent``, ``children``, ``distinctParent``, ``distinctChildren`` work as in coffea
    (from ``genPartIdxMother``); ``hasFlags`` raises because our files carry no
    ``statusFlags``.
    """

    def hasFlags(self, *flags: str) -> Any:
        """Not available: egamma-cnn files carry no ``GenPart_statusFlags``."""
        raise AttributeError(
            "GenPart.hasFlags needs GenPart_statusFlags, which egamma-cnn files do not "
            "carry; use pdgId, status and the parent/children links instead"
        )


_finish_vector_mixin("GenParticle", "PtEtaPhiMLorentzVector")
_set_repr("GenParticle")


# --------------------------------------------------------------------------------------
# Identification and feature columns: declared in the class bodies of Electron and Photon
# --------------------------------------------------------------------------------------

#: Branches of the egamma-cnn format that a computed feature of the same name must not hide:
#: the track variables ``nTracks``, ``deltaEta1`` and ``deltaPhiRescaled2`` of
#: :mod:`egamma_cnn.features` are these branches passed through, so they are not declared
#: as columns (nor are ``mass``, ``et`` and ``eta``, the four-vector's own; the feature
#: values are in ``.features``). tests/test_columns.py checks both rules.
_FILE_FIELDS: frozenset[str] = frozenset({"nTracks", "deltaEta1", "deltaPhiRescaled2"})
