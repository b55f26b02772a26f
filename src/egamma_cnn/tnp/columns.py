"""The columns an expression of the tag-and-probe configuration may read, and how they are read.

The selections of :class:`~egamma_cnn.tnp.config.TnPConfig` (the tag and probe IDs, the
probe pre-selection, the event selection, the trigger-object filters, the η used for
acceptance and binning) are :class:`~egamma_cnn.expressions.Expression` s over the *columns*
of a collection: its fields (``pt``, ``cutBased``, ``deltaEtaSC``) and the columns its
behaviours define (``cnn_tight``, coffea's ``matched_gen``, the four-vector's
``energy``), never an attribute of the array (``ndim``, ``layout``, ``behavior``). A
dotted name reads a column of a column (``matched_gen.pdgId``: the generator particle an
electron points to through ``genPartIdx``, coffea's NanoAOD cross-reference). A name that is
no column of the candidates may be a column of the events (``HLT.Ele32_WPTight_Gsf``, or
``HLT_Ele32_WPTight_Gsf`` as the branch is called in the file, which coffea's
``NanoAODSchema`` groups into ``events.HLT``): it has one value per event, the same for every
candidate of the event.

:func:`column_reader` makes the ``resolve`` callback that
:meth:`~egamma_cnn.expressions.Expression.evaluate` calls; every name is checked when it
is read, so that a typo is an error naming the name, the expression and the valid columns.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

import awkward as ak

__all__ = ["column_reader", "configured_column", "has_columns", "holds_numbers", "valid_names"]

#: Modules whose classes make up the array machinery, not the physics behaviours of a
#: collection: their attributes (``ndim``, ``type``, ``layout``, ``behavior``, ``mask``, ...)
#: are no columns.
_ARRAY_MODULES = ("awkward", "dask_awkward", "builtins", "collections", "abc", "typing")
#: Descriptor types of the columns that behaviours define (coffea's ``dask_property``
#: makes ``_DaskProperty`` objects; ``property`` also covers the package's column factories).
_COLUMN_DESCRIPTORS = ("property", "cached_property", "_DaskProperty")
#: How many valid names an error message lists.
_SHOWN_NAMES = 12


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


def valid_names(collection: Any) -> tuple[str, ...]:
    """Every name an expression may read of ``collection``: the fields, then the
    behaviours' columns."""
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


def holds_numbers(values: Any, depth: int, booleans: bool) -> bool:
    """Whether ``values`` hold one number (or, with ``booleans``, boolean) per entry at
    list depth ``depth``: numbers, no lists or records below."""
    form = _form(values)
    leaf = _leaf_form(form)
    if not isinstance(leaf, ak.forms.NumpyForm) or leaf.inner_shape:
        return False
    if leaf.primitive == "bool" and not booleans:
        return False
    return _list_depth(form) == depth


def _numeric(collection: Any, names: Sequence[str], booleans: bool = True) -> tuple[str, ...]:
    """The fields among ``names`` that hold one number (or boolean) per candidate (for
    messages)."""
    form = _leaf_form(_form(collection))
    if form is None or not form.is_record:
        return ()

    def holds(content: Any) -> bool:
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
        and holds(_leaf_form(form.content(name)))
    )


def _attribute(values: Any, name: str) -> Any:
    """``values.name``, an AttributeError (or a KeyError of a missing branch) as ValueError."""
    try:
        return getattr(values, name)
    except (AttributeError, KeyError) as err:  # a behaviour whose inputs are missing
        raise LookupError(" ".join(str(err).split())) from None


def has_columns(collection: Any, names: Sequence[str]) -> bool:
    """Whether every (dotted) name's first part is a column of ``collection`` that can be
    computed from its fields (e.g. coffea's ``matched_gen`` needs ``genPartIdx``)."""
    valid = valid_names(collection)
    for name in names:
        head = name.split(".")[0]
        if head not in valid:
            return False
        try:
            _attribute(collection, head)
        except LookupError:
            return False
    return True


def _event_column(events: Any, name: str) -> Any | None:
    """The event-level column ``name`` of ``events`` (``HLT.Ele32_WPTight_Gsf`` or the
    branch name ``HLT_Ele32_WPTight_Gsf`` that coffea groups into ``events.HLT``), or None."""
    if events is None:
        return None
    fields = tuple(getattr(events, "fields", None) or ())
    parts = name.split(".")
    if parts[0] not in fields and len(parts) == 1 and "_" in name:
        group, _, rest = name.partition("_")
        if group in fields and rest in (getattr(events[group], "fields", None) or ()):
            parts = [group, rest]
    if parts[0] not in fields:
        return None
    values = events
    for part in parts:
        if part not in (getattr(values, "fields", None) or ()):
            return None
        values = values[part]
    return values if holds_numbers(values, 0, booleans=True) else None


def _hint(name: str, valid: Sequence[str]) -> str:
    """A suggestion for a name that is not a column: the column a branch name
    (``Electron_pt``) or a near miss (``cutBassed``) means."""
    prefix, _, rest = name.partition("_")
    if rest and prefix[:1].isupper() and rest in valid:
        return f"; write {rest!r}, the column, not the branch name {name!r}"
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.8)
    return f"; did you mean {close[0]!r}?" if close else ""


def _event_group(events: Any, name: str) -> str | None:
    """The collection of the events that ``name`` names a column of (``HLT`` for
    ``HLT_Ele32_WPTight_Gsf`` or ``HLT.Ele32_WPTight_Gsf``), or None."""
    if events is None:
        return None
    fields = tuple(getattr(events, "fields", None) or ())
    for separator in (".", "_"):
        group = name.partition(separator)[0]
        if separator in name and group in fields and getattr(events[group], "fields", None):
            return group
    return None


def column_reader(
    collection: Any,
    what: str,
    *,
    where: str = "the candidates",
    events: Any = None,
    numbers_only: bool = False,
) -> Callable[[str], Any]:
    """The ``resolve`` callback of :meth:`Expression.evaluate` over ``collection``.

    Parameters
    ----------
    collection : ak.Array or dask_awkward.Array
        The candidates (``events.Electron``), or the rows of a flat ntuple.
    what : str
        The expression's name and text for messages (``"the ID 'cutBased >= 4'"``).
    where : str
        The collection's name for messages (``"the electrons"``).
    events : ak.Array or dask_awkward.Array, optional
        The events, whose event-level columns (``HLT_Ele32_WPTight_Gsf``) a name that is no
        column of the candidates reads; None: only the candidates' columns.
    numbers_only : bool
        Refuse boolean columns (quantities such as an η or an E_T).

    Returns
    -------
    callable
        ``resolve(name)``: the column, one number (or boolean) per candidate, or one per
        event for an event-level column.

    Raises
    ------
    ValueError
        (when called) One line naming the column, the expression and the valid columns.
    """
    depth = _list_depth(_form(collection))

    def resolve(name: str) -> Any:
        parts = name.split(".")
        valid = valid_names(collection)
        if parts[0] not in valid:
            found = _event_column(events, name)
            if found is not None:
                return found
            group = _event_group(events, name)
            if group is not None:
                inner = tuple(getattr(events[group], "fields", None) or ())
                raise ValueError(
                    f"the events have no column {name!r} for {what} ({group} columns: "
                    f"{_some(inner)}){_hint(name, valid)}"
                )
            extra = " or of the events" if events is not None else ""
            raise ValueError(
                f"{where} have no column {parts[0]!r} for {what} (columns: {_some(valid)}{extra})"
                f"{_hint(parts[0], valid)}"
            )
        values = collection
        for k, part in enumerate(parts):
            if k > 0:
                inner = valid_names(values)
                if part not in inner:
                    raise ValueError(
                        f"{'.'.join(parts[:k])!r} of {where} has no column {part!r} for {what} "
                        f"(columns: {_some(inner)})"
                    )
            try:
                values = _attribute(values, part)
            except LookupError as err:
                raise ValueError(
                    f"the column {'.'.join(parts[: k + 1])!r} of {what} cannot be computed "
                    f"from {where} ({err})"
                ) from None
        if not holds_numbers(values, depth, booleans=not numbers_only):
            kind = "number" if numbers_only else "number or boolean"
            raise ValueError(
                f"the column {name!r} of {what} is not one {kind} per candidate "
                f"(numeric columns: {_some(_numeric(collection, valid, not numbers_only))})"
            )
        return values

    return resolve


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
    valid = valid_names(collection)
    if name not in valid:
        raise ValueError(
            f"{setting} {name!r} is not a column of {where} (columns: {_some(valid)}); "
            "name the fields of your files in the tag-and-probe configuration"
        )
    try:
        values = _attribute(collection, name)
    except LookupError as err:
        raise ValueError(f"{setting} {name!r} cannot be computed from {where} ({err})") from None
    if not holds_numbers(values, _list_depth(_form(collection)), booleans=False):
        numeric = _numeric(collection, valid, booleans=False)
        raise ValueError(
            f"{setting} {name!r} of {where} is not one number per candidate "
            f"(numeric columns: {_some(numeric)})"
        )
    return values
