"""The coffea NanoEvents schema of egamma-cnn sample files: how branches become collections.

This module is the "schema" half of coffea's schema/behaviour split (compare
``coffea.nanoevents.schemas.nanoaod``); what the collections can do lives in
:mod:`egamma_cnn.nanoevents.methods`.

The sample files (SPEC.md, "Sample files") are NanoAOD-style: a TTree ``Events`` with
counters ``nX`` and flat branches ``X_field``. uproot >= 5.7 writes an RNTuple, not a
TTree, on ``file["Events"] = {...}``; writers must call ``file.mktree("Events", {...})``,
and the schema rejects an RNTuple input with a message that says so.

:class:`EGammaSchema` reuses coffea's ``NanoAODSchema`` machinery and declares only what
differs:

* the cross-reference table (``*Idx`` branch → target collection), turned into global
  indices (suffix ``G``) so that links resolve on any slice of the events;
* the nested indices built from fixed slots: ``Electron_trackIdx1..5`` →
  ``Electron_matchedTracksIdxG`` and ``Photon_trackIdx1..2`` → ``Photon_tracksIdxG``;
* the columns that 4-vector behaviour needs and the file does not carry:
  ``Photon_charge = 0`` and ``Track_mass = 0``;
* the mixins of our collections;
* ``eventIndex`` of every ``Electron`` and ``Photon``: the position of the candidate's
  event in the chunk that was read (coffea's ``!eventindex`` transform, as the PHYSLITE
  schema uses). It survives any selection of events or candidates and tells the
  identification columns which event's cells and tracks belong to a candidate
  (:func:`egamma_cnn.columnar.apply_on_candidates`).

Files of real data have no ``GenPart`` and no truth branches; the truth links are then
skipped silently (coffea's rule for ``Gen*`` targets), and the collections simply lack
those fields.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from coffea.nanoevents import transforms
from coffea.nanoevents.schemas.nanoaod import NanoAODSchema

from egamma_cnn.features import SHOWER_SHAPE_NAMES
from egamma_cnn.model import SHIPPED_MODELS
from egamma_cnn.nanoevents import methods
from egamma_cnn.nanoevents.id_columns import SETTINGS_KEY, IdentificationSettings

__all__ = ["NANOAOD_MARKERS", "REQUIRED_BRANCHES", "EGammaSchema"]

#: Number of fixed matched-track slots of an electron (``Electron_trackIdx1..5``,
#: ATL-PHYS-PUB-2023-001 §4).
N_ELECTRON_TRACK_SLOTS = 5
#: Number of conversion-track slots of a photon (``Photon_trackIdx1..2``).
N_PHOTON_TRACK_SLOTS = 2
#: The branches of every egamma-cnn sample file, data and simulation (SPEC.md, "Sample
#: files"; truth branches are only in simulation and are not required).
REQUIRED_BRANCHES: tuple[str, ...] = (
    *("run", "luminosityBlock", "event", "Pileup_nTrueInt", "Pileup_nPU", "PV_z", "PV_npvs"),
    "nCaloCell",
    *(f"CaloCell_{name}" for name in ("eta", "phi", "energy", "sampling")),
    "nTrack",
    *(
        f"Track_{name}"
        for name in (
            *("pt", "eta", "phi", "charge", "d0", "d0Err", "z0", "z0Err", "chi2", "ndof"),
            *("nBLayerHits", "nPixelHits", "nSCTHits", "nTRTHits", "nTRTHTHits"),
            *("eProbabilityHT", "deltaPOverP", "etaCalo", "phiCalo", "vtxIdx"),
            "isTRTStandalone",
        )
    ),
    "nElectron",
    *(
        f"Electron_{name}"
        for name in (
            *("pt", "eta", "phi", "mass", "charge", "clusterEta", "clusterPhi", "clusterE"),
            "trackIdx",
            *(f"trackIdx{i}" for i in range(1, 6)),
            *("nTracks", "photonIdx", "deltaEta1", "deltaPhiRescaled2"),
        )
    ),
    "nPhoton",
    *(
        f"Photon_{name}"
        for name in (
            *("pt", "eta", "phi", "mass", "clusterEta", "clusterPhi", "clusterE"),
            *("conversionType", "trackIdx1", "trackIdx2", "electronIdx", "conversionRadius"),
        )
    ),
)
#: Branches (or prefixes) that CMS NanoAOD has and egamma-cnn files do not.
NANOAOD_MARKERS: tuple[str, ...] = ("Electron_cutBased", "Photon_cutBased", "HLT_", "PuppiMET_")

#: Collections that get an ``eventIndex`` field, and the jagged branch it is shaped like.
EVENT_INDEX_SOURCES: dict[str, str] = {"Electron": "Electron_pt", "Photon": "Photon_pt"}


def _add_event_index(base_form: dict[str, Any]) -> None:
    """Add ``<Collection>_eventIndex`` (int64 per candidate) to the flat branch forms."""
    fields, contents = base_form["fields"], base_form["contents"]
    for collection, source in EVENT_INDEX_SOURCES.items():
        name = f"{collection}_eventIndex"
        if source not in fields or name in fields:
            continue
        form = copy.deepcopy(contents[fields.index(source)])
        if not form.get("class", "").startswith("ListOffset"):
            continue
        form["content"] = {
            "class": "NumpyArray",
            "primitive": "int64",
            "inner_shape": [],
            "parameters": {"__doc__": f"position of the {collection}'s event in the chunk"},
            "form_key": quote(f"{source},!load,!eventindex,!content", safe=""),
        }
        fields.append(name)
        contents.append(form)


class EGammaSchema(NanoAODSchema):
    """NanoEvents schema for egamma-cnn sample files.

    Use it as any coffea schema::

        from coffea.nanoevents import NanoEventsFactory
        events = NanoEventsFactory.from_root(
            {path: "Events"}, schemaclass=EGammaSchema, mode="eager"  # or "dask"
        ).events()
        events.Electron.matched_tracks.pt

    Collections: ``Electron``, ``Photon``, ``Track``, ``CaloCell``, ``GenPart`` (simulation
    only) and the event-level records ``Pileup`` and ``PV``; the singletons ``run``,
    ``luminosityBlock``, ``event`` and ``genWeight`` (simulation only). Cross-references
    (see :mod:`egamma_cnn.nanoevents.methods`): ``Electron.track``,
    ``Electron.matched_tracks``, ``Electron.photon``, ``Photon.tracks``,
    ``Photon.electron``, ``Electron/Photon/Track.genPart``, ``GenPart.parent``/``children``.

    Parameters
    ----------
    base_form : dict
        The form of the flat branches, given by the ``NanoEventsFactory``.
    version : str
        Only ``"latest"``: the egamma-cnn format has a single version, and the NanoAOD
        versions of the parent class (``v5``, ``v6``, ``v7``) do not apply.

    Raises
    ------
    ValueError
        For any ``version`` other than ``"latest"``.
    """

    mixins: dict[str, str] = {  # noqa: RUF012 - class-level table, as in coffea
        "Electron": "Electron",
        "Photon": "Photon",
        "Track": "Track",
        "CaloCell": "CaloCell",
        "GenPart": "GenParticle",
    }
    """Mixin (behaviour) name of each collection, implemented in ``methods``."""

    all_cross_references: dict[str, str] = {  # noqa: RUF012
        "Electron_trackIdx": "Track",
        **{f"Electron_trackIdx{i}": "Track" for i in range(1, N_ELECTRON_TRACK_SLOTS + 1)},
        "Electron_photonIdx": "Photon",
        "Electron_genPartIdx": "GenPart",
        **{f"Photon_trackIdx{i}": "Track" for i in range(1, N_PHOTON_TRACK_SLOTS + 1)},
        "Photon_electronIdx": "Electron",
        "Photon_genPartIdx": "GenPart",
        "Track_genPartIdx": "GenPart",
        "GenPart_genPartIdxMother": "GenPart",
    }
    """Local index branch → target collection; each becomes a global index ``<branch>G``."""

    nested_items: dict[str, list[str]] = {  # noqa: RUF012
        "Electron_matchedTracksIdxG": [
            f"Electron_trackIdx{i}G" for i in range(1, N_ELECTRON_TRACK_SLOTS + 1)
        ],
        "Photon_tracksIdxG": [f"Photon_trackIdx{i}G" for i in range(1, N_PHOTON_TRACK_SLOTS + 1)],
    }
    """Lists of global indices built from fixed slots (empty slots hold -1, in slot order)."""

    nested_index_items: dict[str, tuple[str, str]] = {}  # noqa: RUF012
    """No count-based nested collections in our files."""

    # special_items: NanoAODSchema's GenPart parent/children indices are kept as they are.

    full_like_items: dict[str, tuple[Any, tuple[str, float]]] = {  # noqa: RUF012
        "Photon_charge": (transforms.full_like_from_offsets_form, ("oPhoton", 0.0)),
        "Track_mass": (transforms.full_like_from_offsets_form, ("oTrack", 0.0)),
    }
    """Constant columns that 4-vector candidates need (photon charge, massless tracks)."""

    rename_items: dict[str, str] = {}  # noqa: RUF012
    alias_items: dict[str, str] = {}  # noqa: RUF012

    def __init__(self, base_form: dict[str, Any], version: str = "latest") -> None:
        if version != "latest":
            raise ValueError(
                f"EGammaSchema has a single format version; got version={version!r} "
                "(the NanoAOD versions v5/v6/v7 of NanoAODSchema do not apply)"
            )
        nested = sorted(set(self.mixins) & set(base_form.get("fields", ())))
        if nested:
            raise ValueError(
                f"EGammaSchema expects flat NanoAOD branches (n{nested[0]}, {nested[0]}_pt, ...) "
                f"but the input has a record field {nested[0]!r}: it is probably an RNTuple "
                "(uproot >= 5.7 writes one on file['Events'] = {...}); write the TTree with "
                "file.mktree('Events', {...}) instead"
            )
        fudge = getattr(self.identification, "fudge", None)
        if fudge is not None and "Electron_truthClass" not in base_form.get("fields", ()):
            raise ValueError(
                f"the fudge factors of {fudge} are for simulation, and this file has no "
                "truth branches (Electron_truthClass): a data-like file is never fudged"
            )
        _add_event_index(base_form)
        super().__init__(base_form, version="latest")

    #: Models and inference settings of the ``cnn_*`` columns (None: the shipped models).
    identification: Any = None

    required_branches: tuple[str, ...] = REQUIRED_BRANCHES
    """Branches a file must have to be read with this schema (:meth:`check_branches`)."""

    @classmethod
    def check_branches(cls, branches: Iterable[str]) -> str | None:
        """Why a tree with ``branches`` cannot be read with this schema, or None.

        Cheap: ``branches`` are the names of ``uproot.open(file)[tree].keys()``, no form
        is built. :func:`egamma_cnn.execution.run_fileset` asks it of the files of a run
        that failed (a run that succeeds pays nothing) and names the files it refuses.

        Returns
        -------
        str or None
            One line: the missing branches (the first eight, and how many), and
            ``--nanoaod`` when the file looks like CMS NanoAOD.
        """
        present = set(branches)
        missing = [name for name in cls.required_branches if name not in present]
        if not missing:
            return None
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        listed = ", ".join(missing[:8]) + more
        reason = f"it lacks {len(missing)} branch(es) that {cls.__name__} needs: {listed}"
        if any(name.startswith(NANOAOD_MARKERS) for name in present):
            reason += (
                "; it looks like CMS NanoAOD: read it with NanoAODSchema (egamma-cnn tnp --nanoaod)"
            )
        return reason

    @classmethod
    def behavior(cls) -> dict[Any, Any]:
        """Behaviours that implement this schema's mixins (dict)."""
        if cls.identification is None:
            return methods.behavior
        return {**methods.behavior, SETTINGS_KEY: cls.identification}

    @classmethod
    def with_identification(
        cls,
        *,
        electron_model: Any = None,
        photon_model: Any = None,
        batch_size: int | None = None,
        intra_op_threads: int | None = None,
        providers: Any = None,
        fudge: Any = None,
    ) -> type[EGammaSchema]:
        """This schema with other models or inference settings for the ``cnn_*`` columns.

        Settings not given keep their value in this schema (the defaults, or those of an
        earlier ``with_identification``/``with_fudge`` it was made with).

        Parameters
        ----------
        electron_model, photon_model : str or os.PathLike, optional
            A shipped model name or the path of your own egamma-cnn ONNX model with the
            same input specification (checked when a column is first asked for).
        batch_size, intra_op_threads, providers
            onnxruntime settings (:class:`~egamma_cnn.model.OnnxModel`); ``providers``
            ``"auto"`` uses CUDA where onnxruntime-gpu is installed.
        fudge : str or os.PathLike, optional
            A fudge-factor file (``egamma-cnn datamc``'s ``fudge_factors.json``) for
            simulation: the electrons' shower-shape columns are the fudged values, and
            ``llh_*`` and the CNN's high-level-variable input use them ("fudged MC",
            Zumbihl's e/γ talk). Photons are not fudged (the factors are measured on electrons).
            Never give it for data.

        Returns
        -------
        type
            A subclass of :class:`EGammaSchema` to pass as ``schemaclass``; the settings
            travel with the arrays' behaviour to dask workers.

        Examples
        --------
        >>> schema = EGammaSchema.with_identification(batch_size=512)  # doctest: +SKIP
        >>> NanoEventsFactory.from_root({path: "Events"}, schemaclass=schema)  # doctest: +SKIP
        """
        given = {
            "electron_model": _path_or_name(electron_model),
            "photon_model": _path_or_name(photon_model),
            "batch_size": batch_size,
            "intra_op_threads": intra_op_threads,
            "providers": tuple(providers) if isinstance(providers, list | tuple) else providers,
            "fudge": None if fudge is None else os.path.abspath(os.fspath(fudge)),
        }
        # settings of an earlier with_identification/with_fudge stay unless given again
        settings = dataclasses.replace(
            cls.identification or IdentificationSettings(),
            **{name: value for name, value in given.items() if value is not None},
        )
        _check_fudge(settings)  # a missing or wrong file fails here
        settings.model("electron")  # fail here, not in a worker, on a wrong model
        settings.model("photon")
        return type(cls.__name__, (cls,), {"identification": settings})

    @classmethod
    def with_fudge(cls, fudge: Any) -> type[EGammaSchema]:
        """This schema, its identification settings kept, with ``fudge`` applied.

        ``fudge`` is a fudge-factor file (see :meth:`with_identification`); for
        simulation only.
        """
        settings = dataclasses.replace(
            cls.identification or IdentificationSettings(),
            fudge=None if fudge is None else os.path.abspath(os.fspath(fudge)),
        )
        _check_fudge(settings)
        return type(cls.__name__, (cls,), {"identification": settings})


def _check_fudge(settings: IdentificationSettings) -> None:
    """Refuse a fudge-factor file that would change nothing.

    The factors are applied to the shower shapes the feature computation makes
    (:data:`egamma_cnn.features.SHOWER_SHAPE_NAMES`); a file with factors for none of them
    (another variable set, a misspelt ``Reta``) is an error, one with factors for some
    of them a warning that names the others.
    """
    fudge = settings.fudge_file()  # a missing or wrong file fails here
    if fudge is None:
        return
    applied = [name for name in fudge.variables if name in SHOWER_SHAPE_NAMES]
    ignored = [name for name in fudge.variables if name not in SHOWER_SHAPE_NAMES]
    if not applied:
        raise ValueError(
            f"{fudge.path} has fudge factors for {list(fudge.variables)}, none of which is a "
            f"shower-shape column the fudged columns use ({', '.join(SHOWER_SHAPE_NAMES)})"
        )
    if ignored:
        warnings.warn(
            f"{fudge.path}: the fudge factors of {ignored} are not applied (not shower-shape "
            f"columns; those applied: {applied})",
            stacklevel=3,
        )


def _path_or_name(model: Any) -> Any:
    """A shipped model name as it is, a path made absolute (workers resolve it alike)."""
    if model is None or (isinstance(model, str) and model in SHIPPED_MODELS):
        return model
    return os.path.abspath(os.fspath(model))
