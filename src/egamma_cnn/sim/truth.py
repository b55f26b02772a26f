"""Truth classes of reconstructed candidates (MC only).

Electron classes, ATL-PHYS-PUB-2023-001 §3.1 (the ATLAS DNN/CNN classes):

====  ====================  ==========================================================
code  class                 rule applied to the particle that made the best track
====  ====================  ==========================================================
0     prompt electron       e± whose chain starts at a W/Z/γ* decay lepton (also via a
                            brem/FSR photon of that lepton), reconstructed charge equal
                            to the true charge (the original lepton's charge)
1     charge-flip           the same with reconstructed charge ≠ true charge
2     photon conversion     e± from a prompt photon; or any track when the leading
                            truth particle in the cluster is a prompt photon
3     heavy-flavour decay   e± descending from a b- or c-hadron decay
4     light-flavour e/γ     e± from light-hadron decays or their photons (π0 Dalitz,
                            π0 → γγ conversions), pile-up e±
5     light-flavour hadron  anything else: hadrons, muons, pile-up hadrons
====  ====================  ==========================================================

Photons (Franco's photon-ID talk): prompt when the leading truth particle in the cluster is a photon
(or a conversion leg of one) from the hard process, a quark's shower, or radiated by a
prompt lepton; non-prompt otherwise (π0/η decays, hadrons, electrons).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from egamma_cnn.sim.particles import Origin

__all__ = ["ElectronClass", "classify_electrons", "photon_is_prompt"]


class ElectronClass(IntEnum):
    """The six electron truth classes of ATL-PHYS-PUB-2023-001 §3.1."""

    PROMPT = 0
    CHARGE_FLIP = 1
    PHOTON_CONVERSION = 2
    HEAVY_FLAVOUR = 3
    LIGHT_FLAVOUR_EGAMMA = 4
    LIGHT_FLAVOUR_HADRON = 5


def classify_electrons(
    track_pdg_id: np.ndarray,
    track_origin: np.ndarray,
    track_true_charge: np.ndarray,
    reco_charge: np.ndarray,
    leading_pdg_id: np.ndarray,
    leading_origin: np.ndarray,
) -> np.ndarray:
    """Truth class (0–5) of electron candidates, from the best track's truth particle.

    Parameters
    ----------
    track_pdg_id, track_origin, track_true_charge
        PDG id, :class:`Origin` and true charge of the particle that made the best track.
    reco_charge
        Reconstructed charge of the candidate (the best track's).
    leading_pdg_id, leading_origin
        The most energetic truth particle whose impact lies in the cluster (for the
        "prompt photon reconstructed as an electron" rule of class 2).
    """
    is_e = np.abs(track_pdg_id) == 11
    prompt_chain = np.isin(track_origin, [Origin.BOSON_DECAY, Origin.PROMPT_LEPTON_FSR])
    cls = np.full(len(track_pdg_id), ElectronClass.LIGHT_FLAVOUR_HADRON, np.int8)
    cls = np.where(
        is_e
        & np.isin(
            track_origin, [Origin.LIGHT_HADRON_DECAY, Origin.PILEUP, Origin.UNKNOWN, Origin.HADRON]
        ),
        ElectronClass.LIGHT_FLAVOUR_EGAMMA,
        cls,
    )
    cls = np.where(is_e & (track_origin == Origin.HEAVY_FLAVOUR), ElectronClass.HEAVY_FLAVOUR, cls)
    leading_prompt_photon = (np.abs(leading_pdg_id) == 22) & (
        leading_origin == Origin.PROMPT_PHOTON
    )
    cls = np.where(
        (is_e & (track_origin == Origin.PROMPT_PHOTON))
        | (~(is_e & prompt_chain) & leading_prompt_photon),
        ElectronClass.PHOTON_CONVERSION,
        cls,
    )
    flip = reco_charge != track_true_charge
    cls = np.where(is_e & prompt_chain & ~flip, ElectronClass.PROMPT, cls)
    cls = np.where(is_e & prompt_chain & flip, ElectronClass.CHARGE_FLIP, cls)
    return cls.astype(np.int8)


def photon_is_prompt(
    leading_pdg_id: np.ndarray, leading_origin: np.ndarray, leading_is_conversion_leg: np.ndarray
) -> np.ndarray:
    """Prompt-photon truth flag from the leading truth particle in the cluster."""
    photon_like = (np.abs(leading_pdg_id) == 22) | leading_is_conversion_leg
    return photon_like & np.isin(leading_origin, [Origin.PROMPT_PHOTON, Origin.PROMPT_LEPTON_FSR])
