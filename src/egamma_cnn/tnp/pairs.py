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

from typing import Any

import awkward as ak
import numpy as np
import vector

from egamma_cnn.tnp.config import IdSpec, TnPConfig, configured_column

__all__ = [
    "TRUTH_NONE",
    "VECTOR_BEHAVIOR",
    "directions",
    "four_momenta",
    "invariant_mass",
    "tag_probe_pairs",
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


def _trigger_matched(eta: Any, phi: Any, trigger: Any, config: TnPConfig) -> Any:
    """Electrons at (``eta``, ``phi``) within ΔR < ``config.trigger_dr`` of a trigger
    object (vector's ΔR²)."""
    electron = directions(eta, phi)
    object_ = directions(trigger["eta"], trigger["phi"])
    electron, object_ = ak.unzip(ak.cartesian([electron, object_], nested=True))
    return ak.any(electron.deltaR2(object_) < config.trigger_dr**2, axis=-1)


def tag_probe_pairs(events: Any, config: TnPConfig) -> Any:
    """The tag–probe pairs of every event, as jagged records.

    Returns
    -------
    ak.Array or dask_awkward.Array
        Per event a list of pairs with ``mass`` (m_ee, GeV), ``probe_et``, ``probe_eta``
        (the binning variables), ``opposite`` (opposite charges), ``truth`` (1: the
        probe is a true electron, 0: it is not, -1: no truth) and ``pass_<k>`` the
        decision of probe ID k of ``config.ids()``; ``probe_index`` is the probe's position
        in its event's electrons (``electrons[pairs.probe_index]`` are the probes).
    """
    try:
        electrons = events[config.electrons]
    except Exception:
        raise ValueError(f"the events have no collection {config.electrons!r}") from None
    pt, eta, phi, mass, charge, probe_et, probe_eta = (
        configured_column(electrons, setting, getattr(config, setting), config.electrons)
        for setting in ("pt", "eta", "phi", "mass", "charge", "probe_et_field", "probe_eta_field")
    )

    abs_eta = np.abs(eta)
    in_crack = (abs_eta >= config.crack[0]) & (abs_eta < config.crack[1])
    tag_ok = (
        (pt > config.tag_min_pt)
        & (abs_eta < config.max_abs_eta)
        & ~in_crack
        & IdSpec.parse(config.tag_id).evaluate(electrons)
    )
    if config.trigger_objects is not None:
        try:
            trigger = events[config.trigger_objects]
        except Exception:
            raise ValueError(
                f"the events have no trigger objects {config.trigger_objects!r}"
            ) from None
        tag_ok = tag_ok & _trigger_matched(eta, phi, trigger, config)
    probe_ok = (probe_et > config.probe_min_et) & (np.abs(probe_eta) < config.max_abs_eta)
    decisions = [spec.evaluate(electrons) for spec in config.ids()]
    if config.truth is not None and config.truth in electrons.fields:
        truth_class = configured_column(electrons, "truth", config.truth, config.electrons)
        is_true = truth_class == config.truth_signal[0]
        for value in config.truth_signal[1:]:
            is_true = is_true | (truth_class == value)
        truth = ak.values_astype(is_true, np.int8)
    else:
        truth = ak.values_astype(pt * 0, np.int8) + TRUTH_NONE

    index = ak.argcartesian([pt, pt])
    tag_index, probe_index = index["0"], index["1"]
    different = tag_index != probe_index
    tag_index, probe_index = tag_index[different], probe_index[different]
    keep = tag_ok[tag_index] & probe_ok[probe_index]
    tag_index, probe_index = tag_index[keep], probe_index[keep]
    momenta = four_momenta(pt, eta, phi, mass)

    fields = {
        "mass": (momenta[tag_index] + momenta[probe_index]).mass,
        "probe_et": probe_et[probe_index],
        "probe_eta": probe_eta[probe_index],
        "opposite": charge[tag_index] * charge[probe_index] < 0,
        "truth": truth[probe_index],
        "probe_index": probe_index,
    }
    for k, decision in enumerate(decisions):
        fields[f"pass_{k}"] = decision[probe_index]
    return ak.zip(fields, depth_limit=2)
