"""Tag–probe pairs of Z→ee events (Zumbihl's e/γ talk, "Event selection: Tag&Probe method").

A *tag* is an electron passing a tight identification and kinematic requirements; a
*probe* is any other electron of the event within the acceptance, with no
identification requirement (so that the probe's ID efficiency is unbiased). Every
ordered pair (tag i, probe j ≠ i) with i passing the tag selection is one entry: an
event with two tight electrons gives two pairs, each electron once as tag and once as
probe ("every combination counted once per role"). Opposite-charge pairs are the
efficiency sample; same-charge pairs are kept separately (charge-flip studies).

Everything is awkward (or dask-awkward) array arithmetic; no loop over events.
"""

from __future__ import annotations

import functools
from typing import Any

import awkward as ak
import numpy as np
import vector

from egamma_cnn.expressions import Expression
from egamma_cnn.tnp.columns import column_reader, has_columns, holds_numbers
from egamma_cnn.tnp.config import IdSpec, TnPConfig, broadcast_to_candidates, quantity

__all__ = [
    "TRUTH_NONE",
    "VECTOR_BEHAVIOR",
    "directions",
    "event_weights",
    "four_momenta",
    "invariant_mass",
    "tag_probe_pairs",
    "trigger_matcher",
]

#: The truth value of a candidate without truth information (data): the probe's truth
#: flag here, the truth class (prompt/non-prompt for photons) of the identification and
#: isolation histograms; the one "no truth" value of the package.
TRUTH_NONE = -1
#: The awkward behaviours of ``vector`` (Lorentz and spatial vectors), attached per array.
VECTOR_BEHAVIOR = vector.backends.awkward.behavior


def four_momenta(pt: Any, eta: Any, phi: Any, mass: Any) -> Any:
    """(p_T, η, φ, m) arrays as ``vector`` Lorentz vectors (``Momentum4D``), in float64.

    Awkward or dask-awkward arrays of any nesting; the records carry the behaviours of
    ``vector.backends.awkward`` (``+``, ``.mass``, ``.deltaR2``, …) without registering
    them globally. float64 because ``vector`` sums (p_T, η, φ, m) vectors through
    coordinate conversions whose float32 round-off reaches 2·10⁻⁵ of m_ee (2 MeV at
    m_Z); in float64 m_ee is exact to 10⁻¹³.
    """
    fields = {"pt": pt, "eta": eta, "phi": phi, "mass": mass}
    return ak.zip(
        {name: ak.values_astype(values, np.float64) for name, values in fields.items()},
        with_name="Momentum4D",
        behavior=VECTOR_BEHAVIOR,
    )


def invariant_mass(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2) -> Any:
    """m of two (p_T, η, φ, m) four-vectors, m² = (E₁+E₂)² − |p⃗₁+p⃗₂|² (GeV), by ``vector``.

    Awkward or dask-awkward arrays (or anything ``ak.zip`` takes), float64.
    """
    return (four_momenta(pt1, eta1, phi1, m1) + four_momenta(pt2, eta2, phi2, m2)).mass


def directions(eta: Any, phi: Any) -> Any:
    """(η, φ) arrays as ``vector`` directions (``Vector3D`` with ρ = 1), for ΔR.

    ΔR² = Δη² + Δφ², Δφ wrapped into [−π, π) (``vector``'s ``deltaR2``); computed in the
    precision of the inputs.
    """
    return ak.zip(
        {"rho": ak.ones_like(eta), "phi": phi, "eta": eta},
        with_name="Vector3D",
        behavior=VECTOR_BEHAVIOR,
    )


def _collection(events: Any, name: str, setting: str) -> Any:
    """``events[name]``, or an error naming the setting and the collections there are."""
    fields = tuple(getattr(events, "fields", None) or ())
    if name not in fields:
        shown = ", ".join(f for f in fields if f[:1].isupper()) or "none"
        raise ValueError(
            f"the events have no collection {name!r} ({setting}; collections: {shown})"
        )
    return events[name]


def trigger_matcher(events: Any, config: TnPConfig, eta: Any, phi: Any) -> Any:
    """The callback of ``trigger(name)`` for candidates at (``eta``, ``phi``).

    ``trigger(name)`` is true for a candidate within ΔR < ``config.trigger_dr`` of a
    trigger object (``config.trigger_objects``, NanoAOD ``TrigObj``) that passes the
    filter ``config.trigger_filters[name]`` (e.g. ``abs(id) == 11 and pt > 30 and
    bit(filterBits, 1)``: an electron leg of the single-electron trigger with its filter
    bit, the CMS NanoAOD trigger-object convention); ``trigger()`` matches any object.
    ΔR² = Δη² + Δφ² with Δφ wrapped (``vector``'s ``deltaR2``). None without
    ``trigger_objects``.
    """
    if config.trigger_objects is None:
        return None
    objects = _collection(events, config.trigger_objects, "trigger_objects")
    candidate = directions(eta, phi)
    cache: dict[str, Any] = {}

    def matched(name: str) -> Any:
        if name in cache:
            return cache[name]
        chosen = objects
        if name:
            text = config.trigger_filters[name]
            reader = column_reader(
                objects,
                f"the trigger filter {name!r} ({text!r})",
                where=f"the trigger objects {config.trigger_objects!r}",
            )
            chosen = objects[Expression.parse(text).evaluate_boolean(reader)]
        for column in ("eta", "phi"):
            if column not in (getattr(chosen, "fields", None) or ()):
                raise ValueError(
                    f"the trigger objects {config.trigger_objects!r} have no column {column!r}"
                )
        target = directions(chosen["eta"], chosen["phi"])
        left, right = ak.unzip(ak.cartesian([candidate, target], nested=True))
        cache[name] = ak.any(left.deltaR2(right) < config.trigger_dr**2, axis=-1)
        return cache[name]

    return matched


def _in_crack(abs_eta: Any, config: TnPConfig) -> Any:
    """|η| inside the barrel–end-cap transition [low, high)."""
    return (abs_eta >= config.crack[0]) & (abs_eta < config.crack[1])


def _truth(candidates: Any, config: TnPConfig, events: Any, where: str) -> Any:
    """Per candidate 1 (a true electron), 0 (not) or :data:`TRUTH_NONE` (no truth here).

    A numeric ``config.truth`` column holds truth classes (``truth_signal`` are true);
    a boolean expression is the decision itself (a missing generator match is 0). The
    truth is read where every column it names can be computed (simulation), else none.
    """
    expression = None if config.truth is None else Expression.parse(config.truth)
    if expression is None or not has_columns(candidates, expression.names):
        return (
            ak.values_astype(
                ak.zeros_like(candidates[candidates.fields[0]], dtype=np.int8), np.int8
            )
            + TRUTH_NONE
        )
    reader = column_reader(candidates, f"truth {config.truth!r}", where=where, events=events)
    values = expression.evaluate(reader)
    if "bool" in str(getattr(values, "type", type(values))):
        is_true = ak.fill_none(values, False)
    else:
        is_true = values == config.truth_signal[0]
        for value in config.truth_signal[1:]:
            is_true = is_true | (values == value)
        is_true = ak.fill_none(is_true, False)
    return ak.values_astype(broadcast_to_candidates(is_true, candidates), np.int8)


@functools.lru_cache(maxsize=8)
def _lumi_mask(path: str) -> Any:
    """coffea's ``LumiMask`` of a golden JSON, read once per process.

    Imported here, not with the module: coffea's luminosity tools compile their numba
    functions when imported (2.4 s per process), which only runs with a golden JSON need.
    """
    from coffea.lumi_tools import LumiMask

    return LumiMask(path)


def _certified(events: Any, config: TnPConfig) -> Any:
    """Data events inside ``config.lumi_mask`` (None: no mask, or not a data dataset).

    The mask applies to the datasets whose metadata says ``is_data`` (as
    ``egamma-cnn tnp`` and coffea's dataset tools pass it); simulation has no certified
    luminosity sections.
    """
    metadata = getattr(events, "metadata", None) or {}
    if config.lumi_mask is None or metadata.get("is_data") is not True:
        return None
    fields = tuple(getattr(events, "fields", None) or ())
    for name in ("run", "luminosityBlock"):
        if name not in fields:
            raise ValueError(f"lumi_mask: the events have no column {name!r}")
    return _lumi_mask(config.lumi_mask)(events.run, events.luminosityBlock)


def _event_selection(events: Any, config: TnPConfig) -> Any:
    """The events' decision of ``config.event_selection`` and of the luminosity mask
    (None: every event)."""
    selected = _certified(events, config)
    if config.event_selection is None:
        return selected
    expression = Expression.parse(config.event_selection, what="event_selection")
    reader = column_reader(
        events,
        f"event_selection {config.event_selection!r}",
        where="the events",
        events=events,
    )
    decision = expression.evaluate_boolean(reader)
    return decision if selected is None else decision & selected


def _phrase(candidates: Any, events: Any, where: str) -> str:
    """How messages name the candidates: ``the Electron candidates``, or ``the rows`` of a
    flat ntuple."""
    return "the rows" if candidates is events else f"the {where} candidates"


def _context(candidates: Any, events: Any) -> Any:
    """The events whose columns a name of the candidates may fall back to (none for the
    rows of a flat ntuple, which are the events)."""
    return None if candidates is events else events


def _selection(
    candidates: Any, events: Any, setting: str, text: str, trigger: Any, where: str
) -> Any:
    """The decision per candidate of the configuration's selection ``setting``."""
    return IdSpec.parse(text, what=setting).evaluate(
        candidates,
        events=_context(candidates, events),
        trigger=trigger,
        where=_phrase(candidates, events, where),
        what=f"the {setting} {text!r}",
    )


def _tag_decision(candidates: Any, events: Any, config: TnPConfig, trigger: Any, where: str) -> Any:
    """Tags: p_T, |η| (and the crack), the tag ID, the event selection."""
    pt = quantity(candidates, "pt", config.pt, where, events)
    eta_setting = "eta" if config.tag_eta_field is None else "tag_eta_field"
    eta = quantity(candidates, eta_setting, config.tag_eta_field or config.eta, where, events)
    abs_eta = np.abs(eta)
    decision = (pt > config.tag_min_pt) & (abs_eta < config.tag_max_abs_eta)
    if config.tag_crack:
        decision = decision & ~_in_crack(abs_eta, config)
    decision = decision & _selection(candidates, events, "tag_id", config.tag_id, trigger, where)
    selected = _event_selection(events, config)
    if selected is not None:
        decision = decision & selected
    return decision


def _probe_decision(
    candidates: Any, events: Any, config: TnPConfig, trigger: Any, where: str
) -> tuple[Any, Any, Any]:
    """Probes: E_T, |η| (the crack with ``probe_crack``), the pre-selection; with the
    binning E_T and η."""
    et = quantity(candidates, "probe_et_field", config.probe_et_field, where, events)
    eta = quantity(
        candidates, "probe_eta_field", config.probe_eta_field or config.eta, where, events
    )
    abs_eta = np.abs(eta)
    decision = (et > config.probe_min_et) & (abs_eta < config.probe_max_abs_eta)
    if config.probe_crack:
        decision = decision & ~_in_crack(abs_eta, config)
    if config.probe_selection is not None:
        text = config.probe_selection
        decision = decision & _selection(
            candidates, events, "probe_selection", text, trigger, where
        )
    return decision, et, eta


def _decisions(candidates: Any, events: Any, config: TnPConfig, trigger: Any, where: str) -> list:
    """The pass decision of every probe ID."""
    return [
        spec.evaluate(
            candidates,
            events=_context(candidates, events),
            trigger=trigger,
            where=_phrase(candidates, events, where),
        )
        for spec in config.ids()
    ]


def tag_probe_pairs(events: Any, config: TnPConfig) -> Any:
    """The tag–probe pairs of every event, as jagged records (flat for ``input_format
    "pairs"``: one record per row that passes).

    Tags (of ``config.electrons``) pass p_T > ``tag_min_pt``, |η_tag| <
    ``tag_max_abs_eta`` outside the crack (``tag_crack``), ``tag_id`` (which may require a
    trigger match, ``trigger(name)``) and the event selection; probes (of
    ``config.probe_collection``) pass E_T > ``probe_min_et``, |η_probe| <
    ``probe_max_abs_eta`` (outside the crack with ``probe_crack``) and
    ``probe_selection``; a probe of another collection lies ΔR ≥ ``tag_probe_min_dr``
    from its tag. With ``truth_tags``, a simulated tag must be true.

    Returns
    -------
    ak.Array or dask_awkward.Array
        Per pair ``mass`` (m_ee, GeV), ``probe_et``, ``probe_eta`` (the binning
        variables), ``opposite`` (opposite charges; always True without charges),
        ``truth`` (1: the probe is a true electron, 0: it is not, -1: no truth) and
        ``pass_<k>`` the decision of probe ID k of ``config.ids()``; ``probe_index`` is
        the probe's position in its event's probe collection
        (``events[config.probe_collection][pairs.probe_index]`` are the probes; 0 for
        flat ntuples).
    """
    if config.input_format == "pairs":
        return _row_pairs(events, config)
    tags = _collection(events, config.electrons, "electrons")
    separate = config.probes is not None and config.probes != config.electrons
    probes = _collection(events, config.probes, "probes") if separate else tags
    tag_name = config.electrons
    probe_name = config.probe_collection

    def matcher(candidates: Any, where: str) -> Any:
        """``trigger(name)`` of ``candidates``; the objects are read when first asked for."""
        if config.trigger_objects is None:
            return None
        made: list = []

        def matched(name: str) -> Any:
            if not made:
                eta_text = config.match_eta_field or config.eta
                eta = quantity(candidates, "match_eta_field", eta_text, where, events)
                phi = quantity(candidates, "phi", config.phi, where, events)
                made.append(trigger_matcher(events, config, eta, phi))
            return made[0](name)

        return matched

    tag_trigger = matcher(tags, tag_name)
    probe_trigger = matcher(probes, probe_name) if separate else tag_trigger
    tag_ok = _tag_decision(tags, events, config, tag_trigger, tag_name)
    probe_ok, probe_et, probe_eta = _probe_decision(
        probes, events, config, probe_trigger, probe_name
    )
    decisions = _decisions(probes, events, config, probe_trigger, probe_name)
    truth = _truth(probes, config, events, f"the {probe_name}")
    if config.truth_tags:
        tag_truth = _truth(tags, config, events, f"the {tag_name}")
        tag_ok = tag_ok & (tag_truth != 0)  # data (no truth): every tag

    tag_momenta = _momenta(tags, config, tag_name, events)
    probe_momenta = _momenta(probes, config, probe_name, events) if separate else tag_momenta
    index = ak.argcartesian([tag_momenta.pt, probe_momenta.pt])
    tag_index, probe_index = index["0"], index["1"]
    if separate:
        apart = tag_momenta[tag_index].deltaR2(probe_momenta[probe_index])
        different = apart >= config.tag_probe_min_dr**2
    else:
        different = tag_index != probe_index
    tag_index, probe_index = tag_index[different], probe_index[different]
    keep = tag_ok[tag_index] & probe_ok[probe_index]
    tag_index, probe_index = tag_index[keep], probe_index[keep]
    if config.pair_selection is not None:
        pair_ok = _pair_selection(
            (tags, tag_name, tag_momenta, tag_index),
            (probes, probe_name, probe_momenta, probe_index),
            events,
            config,
        )
        tag_index, probe_index = tag_index[pair_ok], probe_index[pair_ok]

    fields = {
        "mass": (tag_momenta[tag_index] + probe_momenta[probe_index]).mass,
        "probe_et": probe_et[probe_index],
        "probe_eta": probe_eta[probe_index],
        "opposite": _opposite(
            tags, probes, config, tag_name, probe_name, events, tag_index, probe_index
        ),
        "truth": truth[probe_index],
        "probe_index": probe_index,
    }
    for k, decision in enumerate(decisions):
        fields[f"pass_{k}"] = decision[probe_index]
    return ak.zip(fields, depth_limit=2)


#: The columns of a pair in ``pair_selection`` besides ``tag.*`` and ``probe.*``.
PAIR_COLUMNS = ("mass", "pt", "dr")


def _pair_selection(tag: tuple, probe: tuple, events: Any, config: TnPConfig) -> Any:
    """The decision of ``config.pair_selection`` for every (tag, probe) pair.

    ``tag.<column>`` and ``probe.<column>`` read the candidates' columns (dotted names
    too: ``tag.matched_gen.pdgId``), ``mass`` is m_ee, ``pt`` the pair's p_T and ``dr``
    the ΔR between tag and probe; another name is an event column.
    """
    text = config.pair_selection
    what = f"the pair_selection {text!r}"
    (tags, tag_name, tag_momenta, tag_index) = tag
    (probes, probe_name, probe_momenta, probe_index) = probe
    pair = tag_momenta[tag_index] + probe_momenta[probe_index]
    computed = {
        "mass": lambda: pair.mass,
        "pt": lambda: pair.pt,
        "dr": lambda: tag_momenta[tag_index].deltaR(probe_momenta[probe_index]),
    }
    readers = {
        "tag": (column_reader(tags, what, where=f"the {tag_name} tags", events=None), tag_index),
        "probe": (
            column_reader(probes, what, where=f"the {probe_name} probes", events=None),
            probe_index,
        ),
    }

    def resolve(name: str) -> Any:
        head, _, rest = name.partition(".")
        if head in readers and rest:
            reader, index = readers[head]
            return reader(rest)[index]
        if name in computed:
            return computed[name]()
        found = column_reader(events, what, where="the events", events=events)
        try:
            return found(name)
        except ValueError:
            raise ValueError(
                f"{what}: {name!r} is no column of a pair: write tag.<column>, "
                f"probe.<column>, {', '.join(PAIR_COLUMNS)} or an event column"
            ) from None

    decision = Expression.parse(text, what="pair_selection").evaluate_boolean(resolve)
    return ak.values_astype(ak.zeros_like(tag_index, dtype=bool), bool) | decision


def _momenta(candidates: Any, config: TnPConfig, where: str, events: Any) -> Any:
    """The candidates' (p_T, η, φ, m) as ``vector`` Lorentz vectors."""
    columns = [
        quantity(candidates, setting, getattr(config, setting), where, events)
        for setting in ("pt", "eta", "phi", "mass")
    ]
    return four_momenta(*columns)


def _opposite(tags, probes, config, tag_name, probe_name, events, tag_index, probe_index) -> Any:
    """Opposite charges of each pair (True for every pair without charges)."""
    if config.charge is None:
        return ak.values_astype(ak.zeros_like(tag_index, dtype=bool), bool) | True
    tag_charge = quantity(tags, "charge", config.charge, tag_name, events)
    probe_field = config.probe_charge or config.charge
    probe_charge = quantity(probes, "probe_charge", probe_field, probe_name, events)
    return tag_charge[tag_index] * probe_charge[probe_index] < 0


def event_weights(events: Any, field: str | None) -> Any:
    """The weight of every event (or row) of simulation, or None.

    ``field`` is the configuration's ``weight``: an event column (``genWeight``; flat
    ntuples ``totWeight``) or a numeric expression of event columns, e.g. a product of
    weights ``genWeight * puWeight``. Data (``metadata.is_data`` true) is never weighted;
    simulation (``is_data`` false) must have every column it names, one number per event;
    without ``is_data`` (a processor on events a user opened) the weight is used where the
    files have its columns.

    Raises
    ------
    ValueError
        Simulation without a weight column, or a weight that is not one number per
        event, naming the dataset and the column.
    """
    if field is None:
        return None
    metadata = getattr(events, "metadata", None) or {}
    is_data = metadata.get("is_data")
    if is_data is True:
        return None
    name = metadata.get("dataset", "sample")
    expression = Expression.parse(field, what="weight")
    fields = tuple(getattr(events, "fields", None) or ())
    missing = [n for n in expression.names if n.split(".")[0] not in fields]
    if missing:
        if is_data is False:
            raise ValueError(
                f"dataset {name!r} is simulation but its files have no weight column "
                f"{missing[0]!r} (weight {field!r}): name the weight of your files (weight), "
                "or set weight to null for unweighted simulation"
            )
        return None
    if expression.names == (field.strip(),) and "." not in field:
        values = events[field.strip()]
    else:
        values = expression.evaluate(
            column_reader(events, f"weight {field!r}", where="the events", numbers_only=True)
        )
    if not holds_numbers(values, depth=0, booleans=False):
        raise ValueError(f"weight {field!r} of dataset {name!r} is not one number per event")
    return values


def _row_pairs(rows: Any, config: TnPConfig) -> Any:
    """The pairs of a flat ntuple (one row per tag–probe pair), those that pass."""
    where = "rows"
    if config.truth_tags:
        raise ValueError("truth_tags: a flat ntuple has one truth flag per pair; use truth")
    keep = _tag_decision(rows, rows, config, None, where)
    probe_ok, probe_et, probe_eta = _probe_decision(rows, rows, config, None, where)
    keep = keep & probe_ok
    if config.pair_selection is not None:
        keep = keep & _selection(rows, rows, "pair_selection", config.pair_selection, None, where)
    decisions = _decisions(rows, rows, config, None, where)
    truth = _truth(rows, config, rows, "the rows")
    mass = quantity(rows, "pair_mass", config.pair_mass, where)
    if config.charge is None:
        opposite = ak.zeros_like(mass, dtype=bool) | True
    else:
        tag_charge = quantity(rows, "charge", config.charge, where)
        probe_charge = quantity(rows, "probe_charge", config.probe_charge or config.charge, where)
        opposite = tag_charge * probe_charge < 0
    fields = {
        "mass": ak.values_astype(mass, np.float64),
        "probe_et": probe_et,
        "probe_eta": probe_eta,
        "opposite": opposite,
        "truth": truth,
        "probe_index": ak.zeros_like(mass, dtype=np.int64),
    }
    for k, decision in enumerate(decisions):
        fields[f"pass_{k}"] = decision
    weights = event_weights(rows, config.weight)
    if weights is not None:
        fields["weight"] = weights
    return ak.zip(fields, depth_limit=1)[keep]
