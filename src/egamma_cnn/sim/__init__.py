"""Sample production: Pythia8 generation, a fast ATLAS-like detector simulation and
reconstruction, written as NanoAOD-style ROOT files.

Stages (one module each): :mod:`.generator` (Pythia8, generator filters, pile-up pool),
:mod:`.material` (conversions and bremsstrahlung before the calorimeter),
:mod:`.propagation` (the solenoid field and the helix to the calorimeter),
:mod:`.calorimeter` (EM and hadronic showers into cells), :mod:`.tracker` (tracks),
:mod:`.reconstruction` (clusters, electron and photon candidates), :mod:`.truth`
(truth classes), :mod:`.writer` (ROOT output), :mod:`.production` (the whole chain),
:mod:`.calibration_tables` (the cluster energy calibration it applies) and
:mod:`.calibration` (their derivation).
Importing this package does not import Pythia; only :mod:`.generator` needs the ``sim``
extra.
"""
