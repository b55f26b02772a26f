"""Truth classes (ATL-PHYS-PUB-2023-001 §3.1) on hand-built truth records."""

import numpy as np

from egamma_cnn.sim.particles import Origin as O
from egamma_cnn.sim.truth import ElectronClass as C
from egamma_cnn.sim.truth import classify_electrons, photon_is_prompt


def _classify(rows):
    cols = list(zip(*rows, strict=True))
    return classify_electrons(*(np.array(c) for c in cols)).tolist()


def test_electron_classes():
    # (track pdg, track origin, true charge, reco charge, leading pdg, leading origin)
    rows = [
        (11, O.BOSON_DECAY, -1, -1, 11, O.BOSON_DECAY),  # prompt
        (-11, O.BOSON_DECAY, 1, -1, -11, O.BOSON_DECAY),  # curvature charge flip
        (-11, O.PROMPT_LEPTON_FSR, -1, 1, 22, O.PROMPT_LEPTON_FSR),  # brem+conversion flip
        (11, O.PROMPT_LEPTON_FSR, -1, -1, 22, O.PROMPT_LEPTON_FSR),  # brem+conversion, right q
        (11, O.PROMPT_PHOTON, -1, -1, 11, O.PROMPT_PHOTON),  # conversion leg of prompt γ
        (211, O.HADRON, 1, 1, 22, O.PROMPT_PHOTON),  # prompt γ reconstructed as electron
        (11, O.HEAVY_FLAVOUR, -1, -1, 11, O.HEAVY_FLAVOUR),  # b → e
        (11, O.LIGHT_HADRON_DECAY, -1, -1, 22, O.LIGHT_HADRON_DECAY),  # π0 → γγ conversion
        (11, O.PILEUP, -1, -1, 11, O.PILEUP),  # pile-up electron
        (211, O.HADRON, 1, 1, 211, O.HADRON),  # charged pion
        (13, O.OTHER_LEPTON, -1, -1, 13, O.OTHER_LEPTON),  # muon
        (321, O.HEAVY_FLAVOUR, 1, 1, 321, O.HEAVY_FLAVOUR),  # kaon from a B: still a hadron
    ]
    assert _classify(rows) == [
        C.PROMPT,
        C.CHARGE_FLIP,
        C.CHARGE_FLIP,
        C.PROMPT,
        C.PHOTON_CONVERSION,
        C.PHOTON_CONVERSION,
        C.HEAVY_FLAVOUR,
        C.LIGHT_FLAVOUR_EGAMMA,
        C.LIGHT_FLAVOUR_EGAMMA,
        C.LIGHT_FLAVOUR_HADRON,
        C.LIGHT_FLAVOUR_HADRON,
        C.LIGHT_FLAVOUR_HADRON,
    ]


def test_photon_prompt_flag():
    pdg = np.array([22, 22, 22, 11, 11, 211])
    origin = np.array(
        [
            O.PROMPT_PHOTON,
            O.PROMPT_LEPTON_FSR,
            O.LIGHT_HADRON_DECAY,
            O.PROMPT_PHOTON,
            O.BOSON_DECAY,
            O.HADRON,
        ]
    )
    leg = np.array([False, False, False, True, False, False])
    assert photon_is_prompt(pdg, origin, leg).tolist() == [True, True, False, True, False, False]
