"""Configuration of the Z→ee tag-and-probe: selections, the ID under test, binning, fields.

Everything the processor reads from the events is named here, so that the same
processor runs on egamma-cnn files (:class:`~egamma_cnn.nanoevents.EGammaSchema`) and on
standard CMS NanoAOD (coffea's ``NanoAODSchema``): :meth:`TnPConfig.cms_nanoaod` gives
the NanoAOD field names and ``Electron.cutBased >= 4`` as the ID.

An *ID specification* is a column of the electron collection, optionally compared with a
number: ``"cnn_tight"`` (a boolean column, or a behaviour such as the CNN working
points), ``"cnn_score >= 0.9"``, ``"cutBased >= 4"``, ``"mvaIso_WP90"``; a column may
be divided by another (``"ptvarcone30/pt < 0.15"``) and terms joined by ``and``, which
defines isolation working points of one's own (``"ptvarcone30/pt < 0.1 and
etcone20/pt < 0.1"``). Nothing else is evaluated: the string is parsed, never executed.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import operator
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import awkward as ak

from egamma_cnn.jsonio import read_json

__all__ = ["ATLAS_ETA_EDGES", "ATLAS_ET_EDGES", "IdSpec", "IdTerm", "TnPConfig"]

#: Probe E_T bin edges (GeV) of the default binning (ATLAS e/γ efficiency binning).
ATLAS_ET_EDGES: tuple[float, ...] = (15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0, 80.0)
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

_OPERATORS = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_TERM = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:/\s*([A-Za-z_][A-Za-z0-9_]*)\s*)?"
    r"(?:(>=|<=|==|!=|>|<)\s*([-+0-9.A-Za-z]+))?\s*$"
)
_AND = re.compile(r"\s+and\s+|\s*&\s*")


@dataclass(frozen=True)
class IdTerm:
    """One requirement: ``column``, ``column <op> number`` or ``column / denominator <op>
    number`` (a ratio, e.g. a relative isolation ``ptvarcone30 / pt < 0.15``)."""

    column: str
    op: str | None = None
    value: float | None = None
    denominator: str | None = None

    def __str__(self) -> str:
        name = self.column if self.denominator is None else f"{self.column}/{self.denominator}"
        if self.op is None:
            return name
        value = int(self.value) if float(self.value).is_integer() else self.value
        return f"{name} {self.op} {value}"


#: Modules whose classes make up the array machinery, not the physics behaviours of a
#: collection: their attributes (``ndim``, ``type``, ``layout``, ``behavior``, ``mask``, ...)
#: are no columns.
_ARRAY_MODULES = ("awkward", "dask_awkward", "builtins", "collections", "abc", "typing")
#: Descriptor types of the columns that behaviours define (coffea's ``dask_property``
#: makes ``_DaskProperty`` objects; ``property`` also covers the package's column factories).
_COLUMN_DESCRIPTORS = ("property", "cached_property", "_DaskProperty")
#: How many valid names an error message lists.
_SHOWN_NAMES = 12
#: The most m_ee histogram bins (a 10⁹-bin histogram per probe bin fills the memory).
MAX_MASS_BINS = 10_000
#: The most E_T or η bin edges.
MAX_EDGES = 1_000


def _form(array: Any) -> Any:
    """The awkward form of an eager or a dask-awkward array (None for anything else)."""
    if isinstance(array, ak.Array):
        return array.layout.form
    form = getattr(array, "form", None)
    return form if isinstance(form, ak.forms.Form) else None


def _leaf_form(form: Any) -> Any:
    """The form under the lists and options of ``form``."""
    while form is not None and hasattr(form, "content") and not form.is_record:
        form = form.content
    return form


def _behaviour_columns(collection: Any) -> tuple[str, ...]:
    """Public properties that the behaviour classes of ``collection``'s records define.

    These are the computed columns (``cnn_tight``, coffea's ``isTight``, the four-vector's
    ``energy``); the attributes of the awkward array itself are not among them.
    """
    leaf = _leaf_form(_form(collection))
    behavior = getattr(collection, "behavior", None)
    if leaf is None or not leaf.is_record or not behavior:
        return ()
    record_class = behavior.get(leaf.parameter("__record__"))
    if not isinstance(record_class, type):
        return ()
    names: dict[str, None] = {}
    for cls in record_class.__mro__:
        if cls.__module__.split(".")[0] in _ARRAY_MODULES:
            continue
        for name, value in vars(cls).items():
            if not name.startswith("_") and type(value).__name__ in _COLUMN_DESCRIPTORS:
                names[name] = None
    return tuple(names)


def _valid_names(collection: Any) -> tuple[str, ...]:
    """Every name an ID specification may read: the fields, then the behaviours' columns."""
    fields = tuple(getattr(collection, "fields", None) or ())
    return tuple(dict.fromkeys((*fields, *_behaviour_columns(collection))))


def _some(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN_NAMES])
    more = len(names) - _SHOWN_NAMES
    return f"{shown}, ... ({len(names)} in all)" if more > 0 else shown or "none"


def _list_depth(form: Any) -> int:
    """How many lists (of any kind) ``form`` has above its record or numbers."""
    depth = 0
    while form is not None and hasattr(form, "content") and not form.is_record:
        if form.is_list:
            depth += 1
        form = form.content
    return depth


def _one_number_per_candidate(collection: Any, values: Any, booleans: bool) -> bool:
    """Whether ``values`` hold one number (or, with ``booleans``, boolean) per candidate of
    ``collection``: numbers at the depth of the collection's records, no lists or records."""
    form = _form(values)
    leaf = _leaf_form(form)
    if not isinstance(leaf, ak.forms.NumpyForm) or leaf.inner_shape:
        return False
    if leaf.primitive == "bool" and not booleans:
        return False
    return _list_depth(form) == _list_depth(_form(collection))


def _column(electrons: Any, name: str, spec: str) -> Any:
    """The column ``name`` of the collection, refused unless it is a field or a behaviour's
    column holding one number or boolean per candidate."""
    valid = _valid_names(electrons)
    if name not in valid:
        raise ValueError(
            f"the electrons have no column {name!r} for the ID {spec!r} (columns: {_some(valid)})"
        )
    try:
        values = getattr(electrons, name)
    except AttributeError as err:  # a behaviour whose inputs these electrons lack
        raise ValueError(
            f"the column {name!r} of the ID {spec!r} cannot be computed from these "
            f"electrons ({' '.join(str(err).split())})"
        ) from None
    if not _one_number_per_candidate(electrons, values, booleans=True):
        raise ValueError(
            f"the column {name!r} of the ID {spec!r} is not one number or boolean per "
            f"candidate (numeric columns: {_some(_numeric(electrons, valid))})"
        )
    return values


def configured_column(collection: Any, setting: str, name: str, where: str) -> Any:
    """The column ``name`` that the configuration's ``setting`` names, checked.

    The rule of the ID specifications (a field of the collection or a column its
    behaviours define, never an attribute of the array such as ``ndim`` or ``layout``),
    for a quantity: one number per candidate, not a boolean, not a list or a record.

    Parameters
    ----------
    collection : ak.Array or dask_awkward.Array
        The candidates (e.g. ``events.Electron``).
    setting, name : str
        The configuration's setting (``probe_eta_field``) and the column it names.
    where : str
        The collection's name for messages (``Electron``).

    Raises
    ------
    ValueError
        One line naming the setting, the column and the collection, and the valid names.
    """
    valid = _valid_names(collection)
    if name not in valid:
        raise ValueError(
            f"{setting} {name!r} is not a column of {where} (columns: {_some(valid)}); "
            "name the fields of your files in the tag-and-probe configuration"
        )
    try:
        values = getattr(collection, name)
    except AttributeError as err:  # a behaviour whose inputs this collection lacks
        raise ValueError(
            f"{setting} {name!r} cannot be computed from {where} ({' '.join(str(err).split())})"
        ) from None
    if not _one_number_per_candidate(collection, values, booleans=False):
        numeric = _numeric(collection, valid, booleans=False)
        raise ValueError(
            f"{setting} {name!r} of {where} is not one number per candidate "
            f"(numeric columns: {_some(numeric)})"
        )
    return values


def _numeric(electrons: Any, names: Sequence[str], booleans: bool = True) -> tuple[str, ...]:
    """The fields among ``names`` that hold one number (or boolean) per candidate (for
    messages)."""
    form = _leaf_form(_form(electrons))
    if form is None or not form.is_record:
        return ()

    def holds_numbers(content: Any) -> bool:
        return (
            isinstance(content, ak.forms.NumpyForm)
            and not content.inner_shape
            and (booleans or content.primitive != "bool")
        )

    return tuple(
        name
        for name in names
        if name in form.fields
        and _list_depth(form.content(name)) == 0
        and holds_numbers(_leaf_form(form.content(name)))
    )


@dataclass(frozen=True)
class IdSpec:
    """An ID specification: one or more :class:`IdTerm`, all required.

    Written ``"cnn_tight"``, ``"cutBased >= 4"``, or terms joined by ``and`` (or ``&``):
    ``"ptvarcone30/pt < 0.15 and etcone20/pt < 0.2"`` — a user-defined isolation working
    point. A ratio term ``a/b <op> x`` is evaluated as ``b > 0 and a <op> x·b``: a
    candidate with a denominator ≤ 0 fails it (no division by zero, no sign flip).
    """

    terms: tuple[IdTerm, ...]

    @classmethod
    def parse(cls, text: str) -> IdSpec:
        """Parse a specification; anything else is an error that names it."""
        if not isinstance(text, str):
            raise ValueError(f"ID specification {text!r}: expected a string")
        if not text.strip():
            raise ValueError(
                "empty ID specification: give a column, e.g. 'cnn_tight' or 'cutBased >= 4'"
            )
        terms = []
        for part in _AND.split(text.strip()):
            match = _TERM.match(part)
            if match is None:
                raise ValueError(
                    f"ID specification {text!r}: expected a column name, optionally divided "
                    "by a column and followed by one of >= > <= < == != and a number, terms "
                    "joined by 'and' (e.g. 'cnn_tight', 'cutBased >= 4', "
                    "'ptvarcone30/pt < 0.15 and etcone20/pt < 0.2')"
                )
            column, denominator, op, value = match.groups()
            if denominator is not None and op is None:
                raise ValueError(f"ID specification {text!r}: a ratio needs a comparison")
            for name in (column, denominator):
                if name is not None and name.startswith("_"):
                    raise ValueError(
                        f"ID specification {text!r}: {name!r} is a private name, not a column"
                    )
            try:
                number = float(value) if value is not None else None
            except ValueError:
                raise ValueError(f"ID specification {text!r}: {value!r} is not a number") from None
            if number is not None and not math.isfinite(number):
                raise ValueError(
                    f"ID specification {text!r}: the threshold {value!r} is not a finite number"
                )
            terms.append(IdTerm(column, op, number, denominator))
        return cls(tuple(terms))

    def __str__(self) -> str:
        return " and ".join(str(term) for term in self.terms)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the specification reads."""
        names = [n for t in self.terms for n in (t.column, t.denominator) if n is not None]
        return tuple(dict.fromkeys(names))

    def evaluate(self, electrons: Any) -> Any:
        """The boolean decision per electron (awkward or dask-awkward)."""
        result = None
        for term in self.terms:
            values = _column(electrons, term.column, str(self))
            if term.op is None:
                passes = values if _is_boolean(values) else values != 0
            elif term.denominator is None:
                passes = _OPERATORS[term.op](values, term.value)
            else:
                denominator = _column(electrons, term.denominator, str(self))
                passes = (denominator > 0) & _OPERATORS[term.op](values, term.value * denominator)
            result = passes if result is None else result & passes
        return result


def _is_boolean(values: Any) -> bool:
    try:
        return "bool" in str(values.type)
    except Exception:  # pragma: no cover - exotic arrays
        return False


@dataclass(frozen=True)
class TnPConfig:
    """Everything the tag-and-probe processor needs to know.

    Parameters
    ----------
    probe_id : sequence of str
        The IDs under test (ID specifications); each gets its pass/fail histograms.
    tag_id : str
        The tag's ID (default: the tightest CNN working point).
    tag_min_pt, probe_min_et : float
        Tag p_T and probe E_T thresholds (GeV).
    max_abs_eta : float
        Acceptance |η| < max_abs_eta for tags and probes, outside the crack for tags.
    crack : tuple of float
        |η| range of the barrel–end-cap transition, excluded for tags.
    mass_range, mass_bins : tuple of float, int
        m_ee histogram range (GeV) and number of bins.
    signal_window, sidebands : tuple of float, tuple of tuples
        m_ee ranges (GeV) of the counting method: the signal window and the sidebands
        whose pairs estimate the background under it; all inside ``mass_range``. No
        sidebands: no background subtraction.
    et_edges, eta_edges : sequence of float
        Probe E_T and (signed) η bins.
    electrons, pt, eta, phi, mass, charge : str
        Collection and field names; ``et`` and ``probe_eta`` the probe's E_T and η for the
        binning (egamma-cnn: the cluster E_T and η through ``cluster_et``/``clusterEta``).
    probe_et_field, probe_eta_field : str
        Fields (or behaviours) of the electrons used for the probe binning.
    truth : str or None
        Truth-class field (MC): probes with a truth class in ``truth_signal`` are the true
        electrons of the truth-matched efficiency (closure). None: no truth.
    truth_signal : tuple of int
        The truth classes that count as true electrons (prompt, charge flip).
    trigger_objects : str or None
        A collection of trigger objects; tags must match one within ΔR < ``trigger_dr``.
    """

    probe_id: tuple[str, ...] = ("cnn_loose", "cnn_medium", "cnn_tight")
    tag_id: str = "cnn_tight"
    tag_min_pt: float = 27.0
    probe_min_et: float = 15.0
    max_abs_eta: float = 2.47
    crack: tuple[float, float] = (1.37, 1.52)
    mass_range: tuple[float, float] = (60.0, 120.0)
    mass_bins: int = 60
    signal_window: tuple[float, float] = (80.0, 100.0)
    sidebands: tuple[tuple[float, float], ...] = ((60.0, 70.0), (110.0, 120.0))
    et_edges: tuple[float, ...] = ATLAS_ET_EDGES
    eta_edges: tuple[float, ...] = ATLAS_ETA_EDGES
    electrons: str = "Electron"
    pt: str = "pt"
    eta: str = "eta"
    phi: str = "phi"
    mass: str = "mass"
    charge: str = "charge"
    probe_et_field: str = "cluster_et"
    probe_eta_field: str = "clusterEta"
    truth: str | None = "truthClass"
    truth_signal: tuple[int, ...] = (0, 1)
    trigger_objects: str | None = None
    trigger_dr: float = 0.1

    def __post_init__(self) -> None:
        _check_types(self)
        _check_names(self)
        for text in (*self.probe_id, self.tag_id):
            IdSpec.parse(text)
        if not self.probe_id:
            raise ValueError("probe_id needs at least one ID to measure")
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
        for name, (a, b) in (
            ("signal_window", self.signal_window),
            *tuple((f"sideband {k + 1}", band) for k, band in enumerate(self.sidebands)),
        ):
            if not (low <= a < b <= high):
                raise ValueError(
                    f"{name} {(a, b)} must be an interval inside mass_range {self.mass_range}"
                )
        _check_sidebands(self.signal_window, self.sidebands)
        if self.probe_min_et < self.et_edges[0]:
            raise ValueError(
                f"probe_min_et {self.probe_min_et} is below the first E_T edge "
                f"{self.et_edges[0]}: those probes would fall outside every bin"
            )

    @classmethod
    def cms_nanoaod(cls, **changes: Any) -> TnPConfig:
        """The settings for standard CMS NanoAOD: cut-based Tight (``cutBased >= 4``)."""
        base = cls(
            probe_id=("cutBased >= 2", "cutBased >= 3", "cutBased >= 4"),
            tag_id="cutBased >= 4",
            probe_et_field="pt",
            probe_eta_field="eta",
            eta_edges=(-2.5, -2.0, -1.566, -1.444, -0.8, 0.0, 0.8, 1.444, 1.566, 2.0, 2.5),
            max_abs_eta=2.5,
            crack=(1.444, 1.566),
            truth=None,
        )
        return replace(base, **changes)

    def ids(self) -> list[IdSpec]:
        """The parsed probe IDs."""
        return [IdSpec.parse(text) for text in self.probe_id]

    def to_json(self) -> str:
        """The configuration as JSON (written next to the outputs)."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, path: str | Path) -> TnPConfig:
        """Read a configuration written by :meth:`to_json` (or by hand).

        Raises
        ------
        ValueError
            The file is missing, a folder, unreadable, not UTF-8 or not JSON, or not a
            JSON object of known settings of the right types and values; one line naming
            the file (and the setting and its value).
        """
        data = read_json(Path(path))
        if not isinstance(data, dict):
            raise ValueError(
                f"{path}: expected a JSON object of tag-and-probe settings, "
                f"got a {type(data).__name__}"
            )
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown tag-and-probe settings {sorted(unknown)}")
        for key in (
            "probe_id",
            "et_edges",
            "eta_edges",
            "crack",
            "mass_range",
            "truth_signal",
            "signal_window",
            "sidebands",
        ):
            if key in data:
                if not isinstance(data[key], list):
                    raise ValueError(
                        f"{path}: {key} must be a JSON list, got {json.dumps(data[key])}"
                    )
                data[key] = tuple(data[key])
        if "sidebands" in data:
            data["sidebands"] = tuple(
                tuple(band) if isinstance(band, list) else band for band in data["sidebands"]
            )
        try:
            return cls(**data)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


_NUMBER_FIELDS = ("tag_min_pt", "probe_min_et", "max_abs_eta", "trigger_dr")
_NAME_FIELDS = (
    "tag_id",
    "electrons",
    "pt",
    "eta",
    "phi",
    "mass",
    "charge",
    "probe_et_field",
    "probe_eta_field",
)
_OPTIONAL_NAME_FIELDS = ("truth", "trigger_objects")
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
    if not isinstance(config.mass_bins, numbers.Integral) or isinstance(config.mass_bins, bool):
        raise _wrong("mass_bins", config.mass_bins, "an integer")
    for name in _NAME_FIELDS:
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


def _check_edges(name: str, edges: Sequence[float]) -> None:
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"{name} must be at least two increasing numbers, got {edges}")
    if len(edges) > MAX_EDGES:
        raise ValueError(f"{name} has {len(edges)} edges, at most {MAX_EDGES} are allowed")


def _check_names(config: TnPConfig) -> None:
    """Refuse empty and private names (``__class__``): the names must be columns."""
    for name in (*_NAME_FIELDS[1:], *_OPTIONAL_NAME_FIELDS):
        value = getattr(config, name)
        if value is None:
            continue
        if not value.strip():
            raise ValueError(f"{name} must name a column, got {value!r}")
        if value.startswith("_"):
            raise ValueError(f"{name} {value!r} is a private name, not a column")


def _check_selection(config: TnPConfig) -> None:
    """Refuse thresholds and η ranges that would select nothing or silently nothing less."""
    for name in ("tag_min_pt", "probe_min_et"):
        if getattr(config, name) < 0:
            raise ValueError(f"{name} must be ≥ 0 GeV, got {getattr(config, name)}")
    if config.max_abs_eta <= 0:
        raise ValueError(f"max_abs_eta must be > 0, got {config.max_abs_eta}")
    if config.trigger_dr <= 0:
        raise ValueError(f"trigger_dr must be > 0, got {config.trigger_dr}")
    low, high = config.crack
    if not 0 <= low < high < config.max_abs_eta:
        raise ValueError(
            f"crack {list(config.crack)} must be a |η| range 0 ≤ low < high < max_abs_eta "
            f"{config.max_abs_eta}"
        )


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two intervals share more than an edge."""
    return max(a[0], b[0]) < min(a[1], b[1])


def _check_sidebands(window: Sequence[float], bands: Sequence[Sequence[float]]) -> None:
    """Refuse sidebands that overlap the signal window or one another: their pairs would
    count as background under the signal, or twice."""
    for k, band in enumerate(bands):
        if _overlap(band, window):
            raise ValueError(
                f"sideband {k + 1} {list(band)} overlaps the signal_window {list(window)}: "
                "sidebands must lie outside it"
            )
        for j in range(k):
            if _overlap(band, bands[j]):
                raise ValueError(
                    f"sideband {k + 1} {list(band)} overlaps sideband {j + 1} {list(bands[j])}"
                )
