"""Z→ee tag-and-probe: pairs, background-subtracted efficiencies and scale factors.

* :mod:`.config` — :class:`TnPConfig` (selections, the IDs under test, binning, the
  field names of the ntuple) and :class:`IdSpec` (``"cnn_tight"``, ``"cutBased >= 4"``);
* :mod:`.pairs` — the tag–probe pairs of each event (Zumbihl's e/γ talk);
* :mod:`.efficiency` — efficiencies from the pass/fail m_ee histograms, by sideband
  subtraction or by fits with iminuit, with their uncertainties;
* :mod:`.scale_factors` — data/MC scale factors as a correctionlib JSON;
* :mod:`.plots` — efficiency, scale-factor and fit plots.

The coffea processor that fills the histograms is
``egamma_cnn.processors.tag_and_probe.TagAndProbeProcessor``.
"""

from __future__ import annotations

from egamma_cnn.tnp.config import IdSpec, IdTerm, TnPConfig
from egamma_cnn.tnp.pairs import invariant_mass, tag_probe_pairs

__all__ = ["IdSpec", "IdTerm", "TnPConfig", "invariant_mass", "tag_probe_pairs"]
