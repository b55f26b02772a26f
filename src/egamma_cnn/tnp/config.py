"""Configuration of the Z→ee tag-and-probe: selections, the IDs under test, binning, fields.

Everything the processor reads from the events is named here, so that one processor runs
on three inputs, each a named preset (:meth:`TnPConfig.preset`) plus overrides:

* ``"egamma-cnn"`` — this package's files (:class:`~egamma_cnn.nanoevents.EGammaSchema`):
  cluster E_T and η, the CNN working points;
* ``"cms-nanoaod"`` — standard CMS NanoAOD (coffea's ``NanoAODSchema``): the supercluster
  η ``eta + deltaEtaSC`` for acceptance, crack and binning, ``cutBased`` IDs, generator
  matching through ``genPartIdx`` (coffea's ``matched_gen``) on simulation;
* ``"cms-nanoaod-photon"`` — the same with the probe reconstructed as a photon
  (``Photon``): photon ID efficiencies of Z→ee electrons;
* ``"cms-tnp-ntuple"`` — a flat CMS e/γ tag-and-probe ntuple, one row per tag–probe pair
  (``el_*``, ``tag_Ele_*``, ``pair_mass``; ``input_format="pairs"``).

Every selection is an expression (:class:`~egamma_cnn.expressions.Expression`): a
column, arithmetic (``eta + deltaEtaSC``), ``abs``, ``min``, ``max``, ``sqrt``, comparisons
(chained: ``1.4442 < abs(eta) < 1.566``), ``and``/``or``/``not``, parentheses, bit tests of
integer fields (``bit(filterBits, 1)``) and ``trigger(name)``: the candidate lies within
ΔR < ``trigger_dr`` of a trigger object passing the named filter of ``trigger_filters``.
An *ID specification* is such an expression over the candidates (:class:`IdSpec`):
``"cnn_tight"``, ``"cnn_score >= 0.9"``, ``"cutBased >= 4"``,
``"ptvarcone30/pt < 0.1 and etcone20/pt < 0.1"``. A name that is no column of the
candidates may be an event-level column (``HLT_Ele32_WPTight_Gsf``). Nothing is executed:
the text is parsed into a whitelisted tree, and every name is checked against the
columns of the files (:mod:`egamma_cnn.tnp.columns`).
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import awkward as ak

from egamma_cnn.expressions import Expression
from egamma_cnn.jsonio import read_json
from egamma_cnn.tnp.columns import column_reader, configured_column
from egamma_cnn.tnp.systematics import check_systematics, check_window_and_sidebands

__all__ = [
    "ATLAS_ETA_EDGES",
    "ATLAS_ET_EDGES",
    "CMS_ETA_EDGES",
    "CMS_ET_EDGES",
    "PRESETS",
    "IdSpec",
    "TnPConfig",
    "configured_column",
    "quantity",
]

#: Probe E_T bin edges (GeV) of the default binning (ATLAS e/γ efficiency binning); the
#: last bin, 80–150 GeV, is open (``open_last_et_bin``): it takes every probe above 80 GeV.
ATLAS_ET_EDGES: tuple[float, ...] = (
    15.0,
    20.0,
    25.0,
    30.0,
    35.0,
    40.0,
    45.0,
    50.0,
    60.0,
    80.0,
    150.0,
)
#: Probe η (signed) bin edges of the default binning; the crack 1.37–1.52 is its own bin.
ATLAS_ETA_EDGES: tuple[float, ...] = (
    -2.47,
    -2.01,
    -1.52,
    -1.37,
    -0.8,
    0.0,
    0.8,
    1.37,
    1.52,
    2.01,
    2.47,
)
#: Probe E_T bin edges (GeV) of the CMS e/γ scale-factor maps (the last bin, 200–500 GeV,
#: open).
CMS_ET_EDGES: tuple[float, ...] = (10.0, 20.0, 35.0, 50.0, 100.0, 200.0, 500.0)
#: Probe supercluster η bin edges of the CMS e/γ scale-factor maps (the barrel–end-cap gap
#: 1.4442–1.566 its own bin).
CMS_ETA_EDGES: tuple[float, ...] = (
    -2.5,
    -2.0,
    -1.566,
    -1.4442,
    -0.8,
    0.0,
    0.8,
    1.4442,
    1.566,
    2.0,
    2.5,
)
#: The CMS barrel–end-cap transition in supercluster |η|.
CMS_CRACK: tuple[float, float] = (1.4442, 1.566)
#: The supercluster η of a CMS NanoAOD electron (``Electron_deltaEtaSC`` = η_SC − η).
CMS_ELECTRON_SC_ETA = "eta + deltaEtaSC"
#: A true electron of CMS NanoAOD simulation: the candidate's generator match
#: (``genPartIdx``, coffea's ``matched_gen``) is a prompt electron (``statusFlags`` bit 0,
#: isPrompt, of the NanoAOD generator-particle table).
CMS_TRUE_ELECTRON = "abs(matched_gen.pdgId) == 11 and bit(matched_gen.statusFlags, 0)"

#: The most m_ee histogram bins (a 10⁹-bin histogram per probe bin fills the memory).
MAX_MASS_BINS = 10_000
#: The most E_T or η bin edges.
MAX_EDGES = 1_000
#: The most probe IDs or trigger filters of one configuration.
MAX_IDS = 200
#: The most bins of one pass/fail histogram (IDs × pass × m_ee × E_T × η × charge × truth,
#: flow bins included): 2·10⁷ weighted bins are 320 MB per dataset.
MAX_HISTOGRAM_BINS = 20_000_000
#: The largest energy, mass or E_T edge (GeV): the LHC's centre-of-mass energy.
MAX_ENERGY = 14_000.0
#: The largest |η| edge and ΔR setting.
MAX_ETA = 10.0
#: Names that read as numbers but are none.
_NOT_NUMBERS = ("nan", "inf", "infinity")
_FILTER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


@dataclass(frozen=True)
class IdSpec:
    """An ID specification: a boolean expression over the candidates' columns.

    Written ``"cnn_tight"``, ``"cutBased >= 4"``, ``"abs(eta + deltaEtaSC) < 1.4442 or
    bit(vidNestedWPBitmap, 3)"``, ``"trigger(ele32) and HLT_Ele32_WPTight_Gsf"``: the
    grammar of :class:`~egamma_cnn.expressions.Expression`. A number in a logical context
    means "≠ 0"; ``a/b`` is undefined where ``b`` is 0, and a comparison with an undefined
    or missing value (an electron without a generator match in ``matched_gen.pdgId``)
    fails. Its text (``str``) is canonical: two ways of writing the same specification
    give the same output names.
    """

    expression: Expression

    @classmethod
    def parse(cls, text: str, what: str = "ID specification") -> IdSpec:
        """Parse a specification; anything else is an error that names it."""
        if not isinstance(text, str):
            raise ValueError(f"{what} {text!r}: expected a string")
        if not text.strip():
            raise ValueError(f"empty {what} {text!r}: name a column, e.g. 'cnn_tight'")
        expression = Expression.parse(text, what=what)
        for name in expression.names:
            if name.lower().lstrip("+-") in _NOT_NUMBERS:
                raise ValueError(f"{what} {text!r}: {name!r} is not a finite number")
        return cls(expression)

    def __str__(self) -> str:
        return str(self.expression)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the specification reads."""
        return self.expression.names

    @property
    def triggers(self) -> tuple[str, ...]:
        """The trigger filters it matches to (``trigger(name)``; ``''`` for ``trigger()``)."""
        return self.expression.triggers

    def evaluate(
        self,
        candidates: Any,
        *,
        events: Any = None,
        trigger: Any = None,
        where: str = "the electrons",
        what: str | None = None,
    ) -> Any:
        """The boolean decision per candidate (awkward or dask-awkward).

        ``events``: the events, for event-level columns (``HLT_...``), whose value is that
        of every candidate of the event; ``trigger``: the callback of ``trigger(name)``
        (:func:`egamma_cnn.tnp.pairs.trigger_matcher`).
        """
        what = what or f"the ID {str(self)!r}"
        reader = column_reader(candidates, what, where=where, events=events)
        decision = self.expression.evaluate_boolean(reader, trigger)
        return broadcast_to_candidates(decision, candidates)


def broadcast_to_candidates(values: Any, candidates: Any) -> Any:
    """``values`` (one per candidate, one per event, or one number) as one per candidate."""
    fields_ = tuple(getattr(candidates, "fields", None) or ())
    if not fields_:
        return values
    template = ak.zeros_like(candidates[fields_[0]], dtype=bool)
    if isinstance(values, bool | numbers.Number):
        return template | bool(values) if isinstance(values, bool) else template + values
    if "bool" in str(getattr(values, "type", "")):
        return template | values
    return ak.values_astype(template, "float64") + values


def quantity(candidates: Any, setting: str, text: str, where: str, events: Any = None) -> Any:
    """The quantity that the configuration's ``setting`` gives (a column name or a numeric
    expression such as ``eta + deltaEtaSC``), one number per candidate.

    Raises
    ------
    ValueError
        One line naming the setting, its text and the valid columns.
    """
    expression = Expression.parse(text, what=setting)
    plain = expression.names == (text.strip(),) and "." not in text
    if plain and not expression.triggers:
        return configured_column(candidates, setting, text.strip(), where)
    phrase = "the rows" if where == "rows" else f"the {where} candidates"
    reader = column_reader(
        candidates, f"{setting} {text!r}", where=phrase, events=events, numbers_only=True
    )
    values = expression.evaluate(reader)
    if "bool" in str(getattr(values, "type", type(values))):
        raise ValueError(f"{setting} {text!r} is a condition, not a quantity")
    return broadcast_to_candidates(values, candidates)


#: Settings that hold an expression (checked when the configuration is made).
_EXPRESSION_FIELDS = (
    "tag_id",
    "probe_selection",
    "event_selection",
    "pair_selection",
    "probe_et_field",
    "probe_eta_field",
    "tag_eta_field",
    "match_eta_field",
    "pair_mass",
    "truth",
    "weight",
)
_INPUT_FORMATS = ("events", "pairs")


@dataclass(frozen=True)
class TnPConfig:
    """Everything the tag-and-probe processor needs to know.

    Parameters
    ----------
    preset : str
        The preset the configuration started from (:data:`PRESETS`); a JSON file with
        ``"preset"`` starts from that preset's settings.
    input_format : {"events", "pairs"}
        ``"events"``: per event a collection of candidates, every (tag, probe) pair formed
        here; ``"pairs"``: a flat ntuple, one row per tag–probe pair (names are columns of
        the row, ``pair_mass`` gives m_ee).
    probe_id : sequence of str
        The pass criteria under test (ID specifications); each gets its pass/fail
        histograms. Several triggers or legs in one run are several criteria.
    tag_id : str
        The tag's selection beyond its p_T and η (an ID specification, e.g.
        ``"cutBased >= 4 and trigger(ele30)"``).
    probe_selection : str or None
        The probe pre-selection, the denominator of every efficiency (e.g.
        ``"cutBased >= 2"`` to measure a trigger on probes passing an ID); None: every
        probe in the acceptance.
    event_selection : str or None
        An event-level requirement (``"HLT_Ele30_WPTight_Gsf"``, any boolean expression of
        event columns); None: every event.
    pair_selection : str or None
        A requirement on the tag and the probe together: ``tag.<column>``,
        ``probe.<column>``, the pair's ``mass``, ``pt`` and ``dr`` (ΔR between tag and
        probe) and event columns, e.g. ``"tag.pt > probe.pt and dr > 0.3"``; on a flat
        ntuple, the row's columns. None: every pair.
    lumi_mask : str or None
        A CMS "golden JSON" of certified runs and luminosity sections (``{"run":
        [[first, last], ...]}``); events of data datasets outside it are not used (coffea's
        ``LumiMask``). A relative path in a configuration file is relative to that file.
        None: every event.
    tag_min_pt, probe_min_et : float
        Tag p_T and probe E_T thresholds (GeV, strict).
    tag_max_abs_eta, probe_max_abs_eta : float
        Acceptance |η| < limit of tags and of probes, each in its own η
        (``tag_eta_field``, ``probe_eta_field``).
    crack : tuple of float
        |η| range of the barrel–end-cap transition [low, high), excluded for tags with
        ``tag_crack`` and for probes with ``probe_crack``.
    mass_range, mass_bins : tuple of float, int
        m_ee histogram range (GeV) and number of bins; pairs outside are not counted.
    signal_window, sidebands : tuple of float, tuple of tuples
        m_ee ranges (GeV) of the counting method: the signal window and the sidebands
        whose pairs estimate the background under it; all inside ``mass_range``. No
        sidebands: no background subtraction.
    et_edges, eta_edges : sequence of float
        Probe E_T and (signed) η bins.
    open_last_et_bin : bool
        The last E_T bin takes every probe at or above the last edge (its nominal upper
        edge is a label), as published scale-factor maps are open at high E_T.
    electrons, probes : str, str or None
        The tag collection and the probe collection (None: the tags' collection; e.g.
        ``"Photon"`` for photon probes, which must lie ΔR ≥ ``tag_probe_min_dr`` from the
        tag).
    pt, eta, phi, mass, charge : str or None
        Four-momentum and charge columns (of both collections; the same names on the
        probe collection). ``charge`` None: no charge information, every pair counts as
        opposite-charge (photon probes have no charge).
    probe_charge : str or None
        The probe's charge column where it differs from ``charge`` (flat ntuples: ``el_q``
        against the tag's ``tag_Ele_q``).
    tag_eta_field, probe_eta_field, match_eta_field : str or None
        The η (a column or an expression such as ``eta + deltaEtaSC``, the supercluster η
        of CMS NanoAOD) of the tag acceptance and crack; of the probe acceptance, crack
        and binning; of the trigger matching. None: ``eta``.
    probe_et_field : str
        The probe's E_T for its threshold and binning.
    pair_mass : str or None
        ``input_format="pairs"``: the m_ee column of the row.
    tag_probe_min_dr : float
        Probes of another collection than the tags: the smallest ΔR to the tag (the
        tag's own photon is no probe).
    truth : str or None
        Simulation: which probes are true electrons (the truth-matched efficiency of the
        closure). A numeric column of truth classes compared with ``truth_signal``
        (egamma-cnn: ``truthClass``) or a boolean expression (CMS NanoAOD:
        ``abs(matched_gen.pdgId) == 11 and bit(matched_gen.statusFlags, 0)``). None: no truth.
    truth_signal : tuple of int
        The truth classes that count as true electrons (prompt, charge flip).
    truth_tags : bool
        On simulation, require the tag to be true too (closure with matched tags).
    trigger_objects : str or None
        The collection of trigger objects (NanoAOD: ``TrigObj``) that ``trigger(name)``
        matches to.
    trigger_filters : dict of str to str
        Named selections of trigger objects (expressions of their columns: ``"abs(id) ==
        11 and pt > 30 and bit(filterBits, 1)"``); ``trigger(name)`` in a selection is
        true for a candidate within ΔR < ``trigger_dr`` of an object passing it.
    trigger_dr : float
        The trigger-matching ΔR.
    weight : str or None
        The event weight of simulation: a column (``genWeight``; flat ntuples
        ``totWeight``) or a product of columns (``genWeight * puWeight``); a simulated
        dataset must have it, data is never weighted. None: unweighted.
    systematics : dict of str to dict
        The variations of the systematic uncertainty, source → overrides
        (:mod:`egamma_cnn.tnp.systematics`).
    """

    preset: str = "egamma-cnn"
    input_format: str = "events"
    probe_id: tuple[str, ...] = ("cnn_loose", "cnn_medium", "cnn_tight")
    tag_id: str = "cnn_tight"
    probe_selection: str | None = None
    event_selection: str | None = None
    pair_selection: str | None = None
    lumi_mask: str | None = None
    tag_min_pt: float = 27.0
    probe_min_et: float = 15.0
    tag_max_abs_eta: float = 2.47
    probe_max_abs_eta: float = 2.47
    crack: tuple[float, float] = (1.37, 1.52)
    tag_crack: bool = True
    probe_crack: bool = False
    mass_range: tuple[float, float] = (60.0, 120.0)
    mass_bins: int = 60
    signal_window: tuple[float, float] = (80.0, 100.0)
    sidebands: tuple[tuple[float, float], ...] = ((60.0, 70.0), (110.0, 120.0))
    et_edges: tuple[float, ...] = ATLAS_ET_EDGES
    eta_edges: tuple[float, ...] = ATLAS_ETA_EDGES
    open_last_et_bin: bool = True
    electrons: str = "Electron"
    probes: str | None = None
    pt: str = "pt"
    eta: str = "eta"
    phi: str = "phi"
    mass: str = "mass"
    charge: str | None = "charge"
    probe_charge: str | None = None
    tag_eta_field: str | None = None
    probe_et_field: str = "cluster_et"
    probe_eta_field: str = "clusterEta"
    match_eta_field: str | None = None
    pair_mass: str | None = None
    tag_probe_min_dr: float = 0.1
    truth: str | None = "truthClass"
    truth_signal: tuple[int, ...] = (0, 1)
    truth_tags: bool = False
    trigger_objects: str | None = None
    trigger_filters: Mapping[str, str] = field(default_factory=dict)
    trigger_dr: float = 0.1
    weight: str | None = "genWeight"
    systematics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_types(self)
        _check_names(self)
        if self.preset not in PRESETS:
            raise ValueError(f"preset {self.preset!r} is not one of {sorted(PRESETS)}")
        if self.input_format not in _INPUT_FORMATS:
            raise ValueError(
                f"input_format must be one of {list(_INPUT_FORMATS)}, got {self.input_format!r}"
            )
        if not self.probe_id:
            raise ValueError("probe_id needs at least one ID to measure")
        if len(self.probe_id) > MAX_IDS:
            raise ValueError(f"probe_id has {len(self.probe_id)} IDs, at most {MAX_IDS}")
        _check_expressions(self)
        if not self.truth_signal:
            raise ValueError(
                "truth_signal needs at least one truth class (egamma-cnn: [0, 1], prompt "
                "and charge flip); set truth to null for no truth-matched efficiency"
            )
        _check_edges("et_edges", self.et_edges)
        _check_edges("eta_edges", self.eta_edges)
        _check_selection(self)
        low, high = self.mass_range
        if not low < high:
            raise ValueError(f"mass_range {self.mass_range} must be an increasing pair")
        if not 1 <= self.mass_bins <= MAX_MASS_BINS:
            raise ValueError(
                f"mass_bins must be between 1 and {MAX_MASS_BINS}, got {self.mass_bins}"
            )
        check_window_and_sidebands(self.signal_window, self.sidebands, self.mass_range)
        _check_ranges(self)
        _check_size(self)
        if self.probe_min_et < self.et_edges[0]:
            raise ValueError(
                f"probe_min_et {self.probe_min_et} is below the first E_T edge "
                f"{self.et_edges[0]}: those probes would fall outside every bin"
            )
        if self.lumi_mask is not None:
            check_lumi_mask(self.lumi_mask)
            # absolute, so that the config.json written beside the outputs reads back
            object.__setattr__(self, "lumi_mask", str(Path(self.lumi_mask).resolve()))
        check_systematics(
            self.systematics,
            self.mass_range,
            signal_window=self.signal_window,
            sidebands=self.sidebands,
        )
        for source, overrides in self.systematics.items():
            if "tag_id" in overrides:
                IdSpec.parse(overrides["tag_id"], what=f"systematic {source!r} tag_id")

    # -- presets -----------------------------------------------------------------------

    @classmethod
    def preset_config(cls, name: str, **changes: Any) -> TnPConfig:
        """The configuration of the named preset (:data:`PRESETS`) with ``changes``."""
        if name not in PRESETS:
            raise ValueError(f"preset {name!r} is not one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], "preset": name, **changes})

    @classmethod
    def cms_nanoaod(cls, **changes: Any) -> TnPConfig:
        """The settings for standard CMS NanoAOD (the ``"cms-nanoaod"`` preset)."""
        return cls.preset_config("cms-nanoaod", **changes)

    # -- derived -------------------------------------------------------------------------

    def ids(self) -> list[IdSpec]:
        """The parsed probe IDs."""
        return [IdSpec.parse(text) for text in self.probe_id]

    @property
    def probe_collection(self) -> str:
        """The collection of the probes (the tags' unless ``probes`` is set)."""
        return self.probes or self.electrons

    @property
    def probe_et_label(self) -> str:
        """The axis label of the probe's E_T setting: p_T, E_T or the column's name."""
        field = self.probe_et_field.strip()
        if field in ("pt", "el_pt", "ph_pt") or field.endswith("_pt"):
            return r"probe $p_T$ [GeV]"
        if field in ("cluster_et", "et", "el_et", "ph_et", "el_sc_et", "ph_sc_et"):
            return r"probe $E_T$ [GeV]"
        return f"probe {field} [GeV]"

    @property
    def probe_eta_label(self) -> str:
        """The axis label of the probe's η setting: η, η_SC, η_cluster or the text."""
        field = (self.probe_eta_field or self.eta).strip()
        if "deltaEtaSC" in field or "sc_eta" in field or "superclusterEta" in field:
            return r"probe $\eta_{SC}$"
        if field == "clusterEta":
            return r"probe $\eta_{cluster}$"
        if field in ("eta", "el_eta", "ph_eta"):
            return r"probe $\eta$"
        return f"probe {field}"

    @property
    def max_abs_eta(self) -> float:
        """The wider of the tag and probe |η| limits (the acceptance of candidates)."""
        return max(self.tag_max_abs_eta, self.probe_max_abs_eta)

    def selections(self) -> dict[str, str]:
        """Every expression of the configuration by its setting (for checks and messages)."""
        found = {
            name: getattr(self, name)
            for name in ("event_selection", "tag_id", "probe_selection")
            if getattr(self, name) is not None
        }
        for k, text in enumerate(self.probe_id):
            found[f"probe_id[{k}]"] = text
        for name, text in self.trigger_filters.items():
            found[f"trigger_filters.{name}"] = text
        return found

    # -- files ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        data = asdict(self)
        data["trigger_filters"] = dict(self.trigger_filters)
        data["systematics"] = {k: dict(v) for k, v in self.systematics.items()}
        return data

    def to_json(self) -> str:
        """The configuration as JSON (written next to the outputs)."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: TnPConfig | None = None) -> TnPConfig:
        """A configuration from JSON values: ``data["preset"]`` (or ``base``, or the
        ``"egamma-cnn"`` preset) with the settings of ``data`` on top.

        ``max_abs_eta`` sets both ``tag_max_abs_eta`` and ``probe_max_abs_eta``.

        Raises
        ------
        ValueError
            A setting that is unknown or of the wrong type or value, named.
        """
        if not isinstance(data, Mapping):
            raise ValueError(
                f"expected a JSON object of tag-and-probe settings, got a {type(data).__name__}"
            )
        data = dict(data)
        known = {f.name for f in fields(cls)}
        if "max_abs_eta" in data:
            limit = data.pop("max_abs_eta")
            data.setdefault("tag_max_abs_eta", limit)
            data.setdefault("probe_max_abs_eta", limit)
        unknown = sorted(set(data) - known)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown tag-and-probe settings {unknown}{hint}")
        for key in (*_LIST_FIELDS, *_PAIR_FIELDS, *_EDGE_FIELDS):
            if key in data:
                if not isinstance(data[key], list | tuple):
                    raise ValueError(f"{key} must be a JSON list, got {json.dumps(data[key])}")
                data[key] = tuple(data[key])
        if "sidebands" in data:
            data["sidebands"] = tuple(
                tuple(band) if isinstance(band, list) else band for band in data["sidebands"]
            )
        for key in ("trigger_filters", "systematics"):
            if key in data and not isinstance(data[key], dict):
                raise ValueError(f"{key} must be a JSON object, got {json.dumps(data[key])}")
        preset = data.get("preset")
        if preset is not None:
            if not isinstance(preset, str) or preset not in PRESETS:
                raise ValueError(f"preset {preset!r} is not one of {sorted(PRESETS)}")
            return cls.preset_config(preset, **data)
        if base is not None:
            return replace(base, **data)
        return cls(**data)

    @classmethod
    def from_json(cls, path: str | Path, base: TnPConfig | None = None) -> TnPConfig:
        """Read a configuration written by :meth:`to_json` (or by hand).

        Settings not in the file come from its ``"preset"``, else from ``base`` (the
        command line's ``--nanoaod`` gives the CMS NanoAOD preset), else the defaults.

        Raises
        ------
        ValueError
            The file is missing, a folder, unreadable, not UTF-8 or not JSON, or not a
            JSON object of known settings of the right types and values; one line naming
            the file (and the setting and its value).
        """
        data = read_json(Path(path))
        if isinstance(data, dict) and isinstance(data.get("lumi_mask"), str):
            data["lumi_mask"] = str((Path(path).parent / data["lumi_mask"]).resolve())
        try:
            return cls.from_dict(data, base)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


#: What every CMS preset shares: tags above 30 GeV, probes above 10 GeV, the CMS
#: scale-factor binning, acceptance and crack, m_ee 50–130 GeV.
_CMS: dict[str, Any] = {
    "tag_min_pt": 30.0,
    "probe_min_et": 10.0,
    "et_edges": CMS_ET_EDGES,
    "eta_edges": CMS_ETA_EDGES,
    "tag_max_abs_eta": 2.5,
    "probe_max_abs_eta": 2.5,
    "crack": CMS_CRACK,
    "mass_range": (50.0, 130.0),
    "mass_bins": 80,
}
#: What the CMS NanoAOD presets add: cut-based Tight tags in the supercluster η, probes'
#: p_T, generator-matched truth, TrigObj.
_CMS_NANOAOD: dict[str, Any] = {
    **_CMS,
    "tag_id": "cutBased >= 4",
    "probe_et_field": "pt",
    "tag_eta_field": CMS_ELECTRON_SC_ETA,
    "truth": CMS_TRUE_ELECTRON,
    "trigger_objects": "TrigObj",
}

#: The presets: settings over the defaults of :class:`TnPConfig` (module docstring).
PRESETS: dict[str, dict[str, Any]] = {
    "egamma-cnn": {},
    "cms-nanoaod": {
        **_CMS_NANOAOD,
        "probe_id": ("cutBased >= 2", "cutBased >= 3", "cutBased >= 4"),
        "probe_eta_field": CMS_ELECTRON_SC_ETA,
    },
    "cms-nanoaod-photon": {
        **_CMS_NANOAOD,
        "probes": "Photon",
        "probe_id": ("cutBased >= 1", "cutBased >= 2", "cutBased >= 3"),
        "probe_eta_field": "eta",
        "charge": None,
    },
    "cms-tnp-ntuple": {
        **_CMS,
        "input_format": "pairs",
        "probe_id": ("passingCutBasedLoose122XV1", "passingCutBasedTight122XV1"),
        "tag_id": "true",
        "pt": "tag_Ele_pt",
        "tag_eta_field": "tag_sc_eta",
        "charge": "tag_Ele_q",
        "probe_charge": "el_q",
        "probe_et_field": "el_pt",
        "probe_eta_field": "el_sc_eta",
        "pair_mass": "pair_mass",
        "truth": "mcTrue == 1",
        "weight": "totWeight",
    },
}


_NUMBER_FIELDS = (
    "tag_min_pt",
    "probe_min_et",
    "tag_max_abs_eta",
    "probe_max_abs_eta",
    "trigger_dr",
    "tag_probe_min_dr",
)
_BOOL_FIELDS = ("tag_crack", "probe_crack", "open_last_et_bin", "truth_tags")
_NAME_FIELDS = ("tag_id", "electrons", "pt", "eta", "phi", "mass", "probe_et_field")
_OPTIONAL_NAME_FIELDS = (
    "probes",
    "charge",
    "probe_charge",
    "tag_eta_field",
    "probe_eta_field",
    "match_eta_field",
    "pair_mass",
    "probe_selection",
    "event_selection",
    "pair_selection",
    "lumi_mask",
    "truth",
    "trigger_objects",
    "weight",
)
#: Settings that name a collection or a column (no expression).
_PLAIN_NAMES = ("electrons", "probes", "pt", "eta", "phi", "mass", "charge", "probe_charge")
_PLAIN_NAMES_OPTIONAL = ("trigger_objects",)
_LIST_FIELDS = ("probe_id", "truth_signal", "sidebands")
_PAIR_FIELDS = ("crack", "mass_range", "signal_window")
_EDGE_FIELDS = ("et_edges", "eta_edges")


def _is_number(value: Any) -> bool:
    """A finite int or float (a bool is no number here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _wrong(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"{name} must be {expected}, got {value!r}")


def _check_types(config: TnPConfig) -> None:
    """Refuse a setting of the wrong type, naming it and its value."""
    for name in _NUMBER_FIELDS:
        if not _is_number(getattr(config, name)):
            raise _wrong(name, getattr(config, name), "a finite number")
    for name in _BOOL_FIELDS:
        if not isinstance(getattr(config, name), bool):
            raise _wrong(name, getattr(config, name), "true or false")
    if not isinstance(config.mass_bins, numbers.Integral) or isinstance(config.mass_bins, bool):
        raise _wrong("mass_bins", config.mass_bins, "an integer")
    for name in ("preset", "input_format", *_NAME_FIELDS):
        if not isinstance(getattr(config, name), str):
            raise _wrong(name, getattr(config, name), "a string")
    for name in _OPTIONAL_NAME_FIELDS:
        if not isinstance(getattr(config, name), str | None):
            raise _wrong(name, getattr(config, name), "a string or null")
    probe_id = config.probe_id
    if not _is_sequence(probe_id) or not all(isinstance(text, str) for text in probe_id):
        raise _wrong("probe_id", probe_id, "a list of ID specifications (strings)")
    for name in _PAIR_FIELDS:
        value = getattr(config, name)
        if not _is_sequence(value) or len(value) != 2 or not all(map(_is_number, value)):
            raise _wrong(name, value, "a pair of finite numbers")
    for name in _EDGE_FIELDS:
        value = getattr(config, name)
        if not _is_sequence(value) or not all(map(_is_number, value)):
            raise _wrong(name, value, "a list of finite numbers")
    bands = config.sidebands
    if not _is_sequence(bands) or not all(
        _is_sequence(band) and len(band) == 2 and all(map(_is_number, band)) for band in bands
    ):
        raise _wrong("sidebands", bands, "a list of pairs of finite numbers")
    truth_signal = config.truth_signal
    if not _is_sequence(truth_signal) or not all(
        isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in truth_signal
    ):
        raise _wrong("truth_signal", truth_signal, "a list of integer truth classes")
    filters = config.trigger_filters
    if not isinstance(filters, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in filters.items()
    ):
        raise _wrong("trigger_filters", filters, "an object of name: selection (strings)")
    if not isinstance(config.systematics, Mapping):
        raise _wrong("systematics", config.systematics, "an object of source: overrides")


def _check_edges(name: str, edges: Sequence[float]) -> None:
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"{name} must be at least two increasing numbers, got {edges}")
    if len(edges) > MAX_EDGES:
        raise ValueError(f"{name} has {len(edges)} edges, at most {MAX_EDGES} are allowed")


def _check_names(config: TnPConfig) -> None:
    """Refuse empty and private names (``__class__``): the names must be columns."""
    for name in (*_PLAIN_NAMES, *_PLAIN_NAMES_OPTIONAL):
        value = getattr(config, name)
        if value is None:
            continue
        if not value.strip():
            raise ValueError(f"{name} must name a column, got {value!r}")
        if value.startswith("_"):
            raise ValueError(f"{name} {value!r} is a private name, not a column")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
            raise ValueError(f"{name} {value!r} is not a column name")


def _check_expressions(config: TnPConfig) -> None:
    """Parse every expression of the configuration, and refuse the combinations that
    would measure something else than asked."""
    for name in _EXPRESSION_FIELDS:
        text = getattr(config, name)
        if isinstance(text, str) and text.strip().startswith("_"):
            raise ValueError(f"{name} {text!r} is a private name, not a column")
        if text is not None:
            if name == "tag_id":
                IdSpec.parse(text)
            else:
                Expression.parse(text, what=name)
    for text in config.probe_id:
        IdSpec.parse(text)
    if len(config.trigger_filters) > MAX_IDS:
        raise ValueError(f"trigger_filters has {len(config.trigger_filters)}, at most {MAX_IDS}")
    for name, text in config.trigger_filters.items():
        if not _FILTER_NAME.match(name):
            raise ValueError(
                f"trigger filter name {name!r} must be a letter then letters, digits or _ "
                "(at most 40)"
            )
        expression = Expression.parse(text, what=f"trigger filter {name!r}")
        if expression.triggers:
            raise ValueError(f"trigger filter {name!r}: trigger(...) cannot select trigger objects")
    used = {
        trigger
        for text in config.selections().values()
        for trigger in Expression.parse(text).triggers
    }
    for source, overrides in config.systematics.items():
        if isinstance(overrides, Mapping) and isinstance(overrides.get("tag_id"), str):
            used |= set(IdSpec.parse(overrides["tag_id"], what=f"systematic {source!r}").triggers)
    if config.pair_selection is not None:
        pair = Expression.parse(config.pair_selection, what="pair_selection")
        if pair.triggers:
            raise ValueError(
                "pair_selection: trigger(...) applies to tags or probes: put it into tag_id "
                "or probe_selection"
            )
    if used and config.trigger_objects is None:
        raise ValueError(
            f"trigger({sorted(used)[0]}) needs trigger_objects, the collection of trigger "
            "objects (CMS NanoAOD: TrigObj)"
        )
    unknown = sorted(name for name in used if name and name not in config.trigger_filters)
    if unknown:
        raise ValueError(
            f"trigger({unknown[0]}) names no trigger filter (trigger_filters: "
            f"{sorted(config.trigger_filters) or 'none'})"
        )
    if config.input_format == "pairs":
        if config.pair_mass is None:
            raise ValueError('input_format "pairs" needs pair_mass, the m_ee column of the row')
        if config.probes is not None or used or config.lumi_mask is not None:
            raise ValueError(
                'input_format "pairs" reads one row per pair: probes, trigger(...) and '
                "lumi_mask apply to events with candidates only (use the ntuple's flags)"
            )
    elif config.pair_mass is not None:
        raise ValueError('pair_mass is the m_ee column of input_format "pairs" only')


def check_lumi_mask(path: str) -> None:
    """Refuse a ``lumi_mask`` that is no CMS golden JSON: ``{"<run>": [[first, last],
    ...]}`` with integer runs and increasing luminosity-section ranges.

    Raises
    ------
    ValueError
        One line naming the file and what is wrong.
    """
    data = read_json(Path(path))
    if not isinstance(data, dict) or not data:
        raise ValueError(f"lumi_mask {path}: expected a JSON object run -> [[first, last], ...]")
    for run, ranges in data.items():
        if not str(run).isdigit():
            raise ValueError(f"lumi_mask {path}: {run!r} is not a run number")
        if not isinstance(ranges, list) or not all(
            isinstance(r, list)
            and len(r) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in r)
            and 0 < r[0] <= r[1]
            for r in ranges
        ):
            raise ValueError(
                f"lumi_mask {path}: run {run} must list [first, last] luminosity sections, "
                f"got {json.dumps(ranges)[:80]}"
            )


def _check_ranges(config: TnPConfig) -> None:
    """Refuse masses, energies and η outside physical ranges (before, a histogram axis of
    ±10³⁰⁸ failed deep inside boost-histogram), and windows that hold no m_ee bin.

    The counting windows are applied in whole m_ee bins: a bin counts when its centre lies
    inside the window; a window or sideband with no bin centre inside is refused here,
    before any file is read.
    """
    low, high = config.mass_range
    if not 0 <= low < high <= MAX_ENERGY:
        raise ValueError(f"mass_range {list(config.mass_range)} must lie in 0–{MAX_ENERGY:g} GeV")
    if config.et_edges[0] < 0 or config.et_edges[-1] > MAX_ENERGY:
        raise ValueError(f"et_edges must lie in 0–{MAX_ENERGY:g} GeV, got {list(config.et_edges)}")
    if max(abs(config.eta_edges[0]), abs(config.eta_edges[-1])) > MAX_ETA:
        raise ValueError(f"eta_edges must lie in ±{MAX_ETA:g}, got {list(config.eta_edges)}")
    for name in ("trigger_dr", "tag_probe_min_dr"):
        if getattr(config, name) > MAX_ETA:
            raise ValueError(f"{name} must be at most {MAX_ETA:g}, got {getattr(config, name)}")
    width = (high - low) / config.mass_bins
    centres = [low + (k + 0.5) * width for k in range(config.mass_bins)]
    windows = [("signal_window", config.signal_window)]
    windows += [(f"sideband {k + 1}", band) for k, band in enumerate(config.sidebands)]
    for name, (a, b) in windows:
        if not any(a <= c < b for c in centres):
            raise ValueError(
                f"{name} {[a, b]} holds no m_ee bin: the {config.mass_bins} bins of mass_range "
                f"{list(config.mass_range)} are {width:g} GeV wide (a bin counts when its centre "
                "is inside)"
            )


def _check_size(config: TnPConfig) -> None:
    """Refuse a pass/fail histogram too large for memory (the axes are bounded one by one,
    not their product)."""
    bins = (
        len(config.probe_id)
        * 2
        * (config.mass_bins + 2)
        * (len(config.et_edges) + 1)
        * (len(config.eta_edges) + 1)
        * 2
        * 3
    )
    if bins > MAX_HISTOGRAM_BINS:
        raise ValueError(
            f"the pass/fail histogram would have {bins:.3g} bins ({len(config.probe_id)} IDs × "
            f"{config.mass_bins} m_ee × {len(config.et_edges) - 1} E_T × "
            f"{len(config.eta_edges) - 1} η bins, ...), at most {MAX_HISTOGRAM_BINS:.0e}: use "
            "fewer bins or IDs"
        )


def _check_selection(config: TnPConfig) -> None:
    """Refuse thresholds and η ranges that would select nothing or silently nothing less."""
    for name in ("tag_min_pt", "probe_min_et"):
        if getattr(config, name) < 0:
            raise ValueError(f"{name} must be ≥ 0 GeV, got {getattr(config, name)}")
    for name in ("tag_max_abs_eta", "probe_max_abs_eta"):
        if getattr(config, name) <= 0:
            raise ValueError(f"{name} must be > 0, got {getattr(config, name)}")
    if config.trigger_dr <= 0:
        raise ValueError(f"trigger_dr must be > 0, got {config.trigger_dr}")
    if config.tag_probe_min_dr < 0:
        raise ValueError(f"tag_probe_min_dr must be ≥ 0, got {config.tag_probe_min_dr}")
    low, high = config.crack
    if not 0 <= low < high:
        raise ValueError(f"crack {list(config.crack)} must be a |η| range 0 ≤ low < high")
    for side in ("tag", "probe"):
        if getattr(config, f"{side}_crack") and high >= getattr(config, f"{side}_max_abs_eta"):
            raise ValueError(
                f"crack {list(config.crack)} must be a |η| range 0 ≤ low < high < "
                f"{side}_max_abs_eta {getattr(config, f'{side}_max_abs_eta')}"
            )
