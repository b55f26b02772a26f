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
    on simulation, ``genPart``.
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


@ak.mixin_class(behavior)
class Electron(candidate.PtEtaPhiMCandidate, base.NanoCollection, base.Systematic):
    """Reconstructed electron candidate (cluster + best track).

    The four-momentum is (pt, eta, phi, mass) with the electron mass; ``clusterEta``,
    ``clusterPhi`` and ``clusterE`` give the calorimeter cluster. On simulation
    ``truthClass`` is the ATL-PHYS-PUB-2023-001 §3.1 class (0 prompt, 1 charge-flip, 2 photon
    conversion, 3 heavy flavour, 4 light-flavour e/γ, 5 light-flavour hadron).
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
# Identification and feature columns (see .id_columns)
# --------------------------------------------------------------------------------------

#: Branches of the egamma-cnn format that a computed feature of the same name must not hide.
_FILE_FIELDS: frozenset[str] = frozenset({"nTracks", "deltaEta1", "deltaPhiRescaled2"})


def _attach_columns() -> None:
    from egamma_cnn.features import (
        ENERGY_FLOW_NAMES,
        ISOLATION_NAMES,
        SHOWER_SHAPE_NAMES,
        TRACK_VARIABLE_NAMES,
    )
    from egamma_cnn.nanoevents.id_columns import (
        ISOLATION_WORKING_POINTS,
        feature_property,
        id_property,
        isolation_property,
        llh_property,
    )

    cnn_columns = {
        (Electron, "electron"): {
            "cnn": "All CNN columns of the electron as one record (computed once).",
            "cnn_probs": (
                "The six class probabilities (ATL-PHYS-PUB-2023-001 §3.1), a record named by class."
            ),
            "cnn_score": (
                "The discriminant D/(1+D) of ATL-PHYS-PUB-2023-001 Eq. 1–2, model default weights."
            ),
            "cnn_loose": "Passes the CNN Loose working point (E_T × |η| binned cut on cnn_score).",
            "cnn_medium": "Passes the CNN Medium working point.",
            "cnn_tight": "Passes the CNN Tight working point.",
        },
        (Photon, "photon"): {
            "cnn": "All CNN columns of the photon as one record (computed once).",
            "cnn_score": "The photon CNN's prompt-photon probability (Franco's photon-ID talk).",
            "cnn_loose": "Passes the photon CNN loose working point (E_T × |η| binned).",
            "cnn_tight": "Passes the photon CNN tight working point.",
        },
    }
    for (cls, kind), columns in cnn_columns.items():
        for name, doc in columns.items():
            setattr(cls, name, id_property(kind, None if name == "cnn" else name, doc))

    likelihood_columns = {
        "llh": "The likelihood baseline's columns as one record (ATL-PHYS-PUB-2023-001 §6.1).",
        "llh_score": "The likelihood discriminant d = L_S/(L_S + L_B).",
        "llh_loose": "Passes the LLH Loose working point (cut on d and track hits).",
        "llh_medium": "Passes the LLH Medium working point.",
        "llh_tight": "Passes the LLH Tight working point.",
    }
    for name, doc in likelihood_columns.items():
        setattr(Electron, name, llh_property(None if name == "llh" else name, doc))
    for cls, kind in ((Electron, "electron"), (Photon, "photon")):
        for name in ISOLATION_WORKING_POINTS[kind]:
            setattr(cls, name, isolation_property(kind, name))

    kinds = {
        Electron: (
            "electron",
            (*SHOWER_SHAPE_NAMES, *ISOLATION_NAMES, *ENERGY_FLOW_NAMES, *TRACK_VARIABLE_NAMES),
        ),
        Photon: ("photon", (*SHOWER_SHAPE_NAMES, *ISOLATION_NAMES, *ENERGY_FLOW_NAMES)),
    }
    for cls, (kind, names) in kinds.items():
        cls.features = feature_property(
            kind, None, "Every feature of :mod:`egamma_cnn.features` as one record."
        )
        for name in (*names, "calo_iso_cones"):
            if name in _FILE_FIELDS or hasattr(cls, name):
                continue  # e.g. mass, eta: the four-vector's own; read them from .features
            setattr(
                cls,
                name,
                feature_property(kind, name, f"``{name}`` of :mod:`egamma_cnn.features`."),
            )


_attach_columns()
