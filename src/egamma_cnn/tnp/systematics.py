"""Systematic uncertainties of the tag-and-probe scale factors.

A *source* is one variation of the nominal measurement, configured as
``TnPConfig.systematics = {name: overrides}``, e.g.::

    {"alt_signal": {"signal": "bwcb"},
     "alt_background": {"background": "polynomial"},
     "tight_tag": {"tag_id": "cutBased >= 4 and pt > 50"},
     "wide_window": {"signal_window": [75, 105]}}

The overrides of a source (:data:`ANALYSIS_KEYS`, :data:`SELECTION_KEYS`):

* ``signal`` (``"template"`` or ``"bwcb"``), ``background`` (``"exponential"`` or
  ``"polynomial"``), ``fit_range`` ([low, high] GeV): the fit's signal model, background
  model and fitted m_ee range (method ``"fit"``);
* ``signal_window`` ([low, high] GeV) and ``sidebands`` ([[low, high], ...]): the m_ee
  ranges of the sideband subtraction (method ``"count"``);
* ``tag_id`` (an ID specification) and ``tag_min_pt`` (GeV): a changed tag selection.
  The processor fills, for such a source, a pass/fail histogram of its own
  (``output["variations"][name]``, the axes of the nominal one) for data and for
  simulation; the analysis keys of the same source then apply to that histogram.

For every probe ID measured in data and simulation, each source's efficiencies of data
and of simulation are measured again with its overrides, giving the varied scale factor
SF_s per (E_T, η) bin and its systematic uncertainty (:func:`with_systematics`)

    δ_s = |SF_s − SF|,        σ_syst = sqrt(Σ_s δ_s²),        σ_total = sqrt(σ_stat² + σ_syst²),

one symmetric uncertainty per source added in quadrature, as the CMS e/γ scale-factor
files quote them (CMS e/γ POG, "Electron and photon scale factors", the
``sfup``/``sfdown`` of the egamma correctionlib JSONs; the variations: alternative
signal and background shapes, a tighter tag, a changed mass window, CMS EGM-17-001,
JINST 16 (2021) P05014, section 6). σ_stat is the statistical uncertainty of the
nominal SF (:mod:`egamma_cnn.tnp.scale_factors`).

**A bin whose variation gives no SF** (a failed fit, no signal after subtraction) while
the nominal SF is measured: δ_s is set to σ_stat of that bin — a variation that cannot be
measured is not allowed to claim a vanishing systematic — and the bin is listed per
source (:attr:`ScaleFactors.unvaried`, ``sources_without_variation`` of
``scale_factors_table.json``, a warning line, the correction's description). Bins without
a nominal SF stay without one (1 ± 1 in the correctionlib file, every variation 2/0).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from egamma_cnn.tnp.scale_factors import ScaleFactors

__all__ = [
    "ANALYSIS_KEYS",
    "COUNT_KEYS",
    "FIT_KEYS",
    "SELECTION_KEYS",
    "check_systematics",
    "check_window_and_sidebands",
    "describe_systematics",
    "measure_options",
    "with_systematics",
]

#: Overrides of the fits (method "fit").
FIT_KEYS = frozenset({"signal", "background", "fit_range"})
#: Overrides of the sideband subtraction (method "count").
COUNT_KEYS = frozenset({"signal_window", "sidebands"})
#: Overrides the analysis applies to the histograms.
ANALYSIS_KEYS = FIT_KEYS | COUNT_KEYS
#: Overrides of the tag selection: the processor fills a histogram per such source.
SELECTION_KEYS = frozenset({"tag_id", "tag_min_pt"})
#: The allowed values of the model overrides.
MODELS = {"signal": ("template", "bwcb"), "background": ("exponential", "polynomial")}
#: Longest source name (it becomes a correctionlib ValType and a JSON key).
NAME_LIMIT = 40
_NAME = re.compile(r"[A-Za-z0-9_]+")
#: Names a source cannot have: the correctionlib ValTypes of the combined uncertainties
#: and the suffixes of ``efficiencies.json`` (``"data_<source>"`` next to ``"data_et"``,
#: ``"mc_truth"``).
RESERVED_NAMES = frozenset(
    {
        "sf",
        "sfup",
        "sfdown",
        "stat",
        "syst",
        "total",
        "nominal",
        "et",
        "eta",
        "truth",
        "truth_et",
        "truth_eta",
    }
)


def _is_number(value: Any) -> bool:
    """A finite int or float (a bool is no number here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str | bytes)
        and len(value) == 2
        and all(map(_is_number, value))
    )


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two intervals share more than an edge."""
    return max(a[0], b[0]) < min(a[1], b[1])


def check_window_and_sidebands(
    window: Sequence[float] | None,
    sidebands: Sequence[Sequence[float]],
    mass_range: Sequence[float],
    where: str = "",
) -> None:
    """Refuse a counting window or sidebands that are not increasing intervals inside
    ``mass_range``, sidebands overlapping the window (their pairs would count as
    background under the signal) or one another (counted twice).

    ``window`` None: only the sidebands are checked. ``where`` starts the message
    (``"systematic 'wide': "``). The rules of ``TnPConfig``'s own window and sidebands.

    Raises
    ------
    ValueError
        One line naming the interval and its value.
    """
    low, high = mass_range
    named = [] if window is None else [("signal_window", window)]
    named += [(f"sideband {k + 1}", band) for k, band in enumerate(sidebands)]
    for name, (a, b) in named:
        if not low <= a < b <= high:
            raise ValueError(
                f"{where}{name} {[a, b]} must be an interval inside mass_range {list(mass_range)}"
            )
    for k, band in enumerate(sidebands):
        if window is not None and _overlap(band, window):
            raise ValueError(
                f"{where}sideband {k + 1} {list(band)} overlaps the signal_window "
                f"{list(window)}: sidebands must lie outside it"
            )
        for j in range(k):
            if _overlap(band, sidebands[j]):
                raise ValueError(
                    f"{where}sideband {k + 1} {list(band)} overlaps sideband {j + 1} "
                    f"{list(sidebands[j])}"
                )


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise ValueError(f"systematic names must be strings, got {name!r}")
    if not name or not _NAME.fullmatch(name) or name.startswith("_") or len(name) > NAME_LIMIT:
        raise ValueError(
            f"systematic name {name!r} must be 1-{NAME_LIMIT} letters, digits and _ "
            "(not starting with _): it becomes a correctionlib ValType and a file key"
        )
    if name.lower() in RESERVED_NAMES:
        raise ValueError(
            f"systematic name {name!r} is reserved (the names {sorted(RESERVED_NAMES)} "
            "are taken by the combined uncertainties and the output keys)"
        )


def _check_value(name: str, key: str, value: Any) -> None:
    """The type and range of one override (the intervals: :func:`check_window_and_sidebands`)."""
    where = f"systematic {name!r}: {key}"
    if key in MODELS:
        if value not in MODELS[key]:
            choices = " or ".join(repr(c) for c in MODELS[key])
            raise ValueError(f"{where} must be {choices}, got {value!r}")
    elif key in ("signal_window", "fit_range"):
        if not _is_pair(value) or not value[0] < value[1]:
            raise ValueError(
                f"{where} must be an increasing pair of numbers [low, high], got {value!r}"
            )
    elif key == "sidebands":
        if (
            not isinstance(value, Sequence)
            or isinstance(value, str | bytes)
            or not all(_is_pair(band) for band in value)
        ):
            raise ValueError(f"{where} must be a list of pairs [[low, high], ...], got {value!r}")
    elif key == "tag_id":
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where} must be an ID specification (a string), got {value!r}")
    elif key == "tag_min_pt":
        if not _is_number(value) or value < 0:
            raise ValueError(f"{where} must be a number ≥ 0 (GeV), got {value!r}")


def check_systematics(
    systematics: Mapping[str, Mapping[str, Any]],
    mass_range: tuple[float, float],
    method: str | None = None,
    *,
    signal_window: Sequence[float] | None = None,
    sidebands: Sequence[Sequence[float]] | None = None,
) -> None:
    """Refuse a systematics configuration that is not one variation per named source.

    Parameters
    ----------
    systematics : mapping
        ``{source: {key: value}}`` (module docstring).
    mass_range : tuple of float
        The histogram's m_ee range: every window, sideband and fit range lies inside it.
    method : {"count", "fit"}, optional
        The measurement's method: a source setting what only the other method uses is
        refused. None: not checked (the method is chosen when the analysis runs).
    signal_window, sidebands : optional
        The nominal counting ranges: a source that changes only the window (or only the
        sidebands) keeps the nominal other, and the two must not overlap.

    Raises
    ------
    ValueError
        One line naming the source, the key and the value: not a mapping of mappings, a
        name that is empty, private (``_x``), longer than :data:`NAME_LIMIT`, not of
        ``[A-Za-z0-9_]`` or reserved (:data:`RESERVED_NAMES`); an empty override set; an
        unknown key; a value of the wrong type; a window, sideband or fit range outside
        ``mass_range``, sidebands overlapping the window or one another; a fit key with
        method ``"count"`` or a counting key with method ``"fit"``. A variation equal to
        the nominal measurement is allowed (its δ is 0).
    """
    if not isinstance(systematics, Mapping):
        raise ValueError(
            "systematics must be a mapping of source names to their overrides, got "
            f"{type(systematics).__name__}"
        )
    if method is not None and method not in ("count", "fit"):
        raise ValueError(f"method must be 'count' or 'fit', not {method!r}")
    for name, overrides in systematics.items():
        _check_name(name)
        if not isinstance(overrides, Mapping):
            raise ValueError(
                f"systematic {name!r} must be a mapping of overrides, e.g. "
                f'{{"signal": "bwcb"}}, got {overrides!r}'
            )
        if not overrides:
            raise ValueError(
                f"systematic {name!r} has no overrides: give at least one of "
                f"{sorted(ANALYSIS_KEYS | SELECTION_KEYS)}"
            )
        for key, value in overrides.items():
            if key not in ANALYSIS_KEYS | SELECTION_KEYS:
                raise ValueError(
                    f"systematic {name!r}: unknown key {key!r}; the keys are "
                    f"{sorted(ANALYSIS_KEYS | SELECTION_KEYS)}"
                )
            _check_value(name, key, value)
        where = f"systematic {name!r}: "
        if "fit_range" in overrides:
            low, high = overrides["fit_range"]
            if not mass_range[0] <= low < high <= mass_range[1]:
                raise ValueError(
                    f"{where}fit_range {[low, high]} must be an interval inside mass_range "
                    f"{list(mass_range)}"
                )
        if COUNT_KEYS & set(overrides):
            check_window_and_sidebands(
                overrides.get("signal_window", signal_window),
                overrides.get("sidebands", sidebands) or (),
                mass_range,
                where,
            )
        if method is not None:
            wrong = (FIT_KEYS if method == "count" else COUNT_KEYS) & set(overrides)
            if wrong:
                key = sorted(wrong)[0]
                what = {
                    "signal": "the fit's signal model",
                    "background": "the fit's background model",
                    "fit_range": "the fit's m_ee range",
                    "signal_window": "the counting signal window",
                    "sidebands": "the counting sidebands",
                }[key]
                other = "fit" if method == "count" else "count"
                raise ValueError(
                    f"systematic {name!r} sets {what} ({key}) but the method is "
                    f"{method!r}; use --method {other}"
                )


def measure_options(nominal: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords of :func:`egamma_cnn.tnp.efficiency.measure` for one variation: the
    nominal ones with the source's analysis overrides (windows as tuples of floats)."""
    options = dict(nominal)
    for key in ("signal", "background"):
        if key in overrides:
            options[key] = overrides[key]
    if "signal_window" in overrides:
        options["window"] = tuple(float(v) for v in overrides["signal_window"])
    if "sidebands" in overrides:
        options["sidebands"] = tuple(
            (float(low), float(high)) for low, high in overrides["sidebands"]
        )
    if "fit_range" in overrides:
        options["fit_range"] = tuple(float(v) for v in overrides["fit_range"])
    return options


def with_systematics(nominal: ScaleFactors, varied: Mapping[str, ScaleFactors]) -> ScaleFactors:
    """The nominal scale factors with each source's δ_s = |SF_s − SF| (module docstring).

    ``varied``: per source the scale factors measured with its variation, on the
    nominal binning. Where the nominal SF is measured but SF_s is not, δ_s is the
    nominal statistical uncertainty and the bin is listed in ``unvaried[source]``;
    where the nominal SF is not measured, δ_s is NaN (the bin has no SF).

    Raises
    ------
    ValueError
        A variation on another binning.
    """
    sources: dict[str, np.ndarray] = {}
    unvaried: dict[str, list[tuple[float, float, float, float]]] = {}
    measured = np.isfinite(nominal.value)
    for name, factors in varied.items():
        if not (
            np.array_equal(factors.et_edges, nominal.et_edges)
            and np.array_equal(factors.eta_edges, nominal.eta_edges)
        ):
            raise ValueError(f"systematic {name!r}: the varied scale factors have another binning")
        delta = np.abs(factors.value - nominal.value)
        without = measured & ~np.isfinite(factors.value)
        delta[without] = nominal.error[without]
        delta[~measured] = np.nan
        sources[name] = delta
        unvaried[name] = [
            (
                float(nominal.et_edges[i]),
                float(nominal.et_edges[i + 1]),
                float(nominal.eta_edges[j]),
                float(nominal.eta_edges[j + 1]),
            )
            for i, j in zip(*np.nonzero(without), strict=True)
        ]
    return replace(nominal, sources=sources, unvaried=unvaried)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_systematics(
    systematics: Mapping[str, Mapping[str, Any]], has_simulation: bool = True
) -> str:
    """One sentence naming every source with its overrides, for the correction's
    description (``"Sources: alt_signal (signal=bwcb); tight_tag (tag_id=...)."``).

    ``has_simulation``: whether the measurement had simulation; without it a
    ``signal="template"`` source is fitted with ``bwcb`` (as the nominal fit), which the
    sentence says.
    """
    if not systematics:
        return ""
    parts = []
    for name, overrides in systematics.items():
        items = [f"{key}={_text(value)}" for key, value in overrides.items()]
        if overrides.get("signal") == "template" and not has_simulation:
            items.append("no simulation: fitted with bwcb")
        parts.append(f"{name} ({', '.join(items)})")
    return "Systematic sources: " + "; ".join(parts) + "."
