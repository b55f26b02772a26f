"""Z→ee tag-and-probe: pairs, background-subtracted efficiencies and scale factors.

* :mod:`.config` — :class:`TnPConfig` (selections, the IDs under test, binning, the
  field names of the input; presets for egamma-cnn files, CMS NanoAOD and flat CMS
  tag-and-probe ntuples) and :class:`IdSpec` (``"cnn_tight"``, ``"cutBased >= 4"``,
  ``"trigger(ele32) and HLT_Ele32_WPTight_Gsf"``);
* :mod:`.columns` — which columns a selection may read, checked when read;
* :mod:`.pairs` — the tag–probe pairs of each event (Zumbihl's e/γ talk), m_ee and the
  trigger ΔR by ``vector``, the trigger-object matching;
* :mod:`.systematics` — the variations of the systematic uncertainty;
* :mod:`.efficiency` — efficiencies from the pass/fail m_ee histograms, by sideband
  subtraction or by fits with iminuit, with their uncertainties;
* :mod:`.scale_factors` — data/MC scale factors as a correctionlib JSON;
* :mod:`.analysis` — :func:`~.analysis.analyse`: the histograms of data and MC to
  every efficiency, truth efficiency and scale factor (a :class:`~.analysis.TnPResult`);
* :mod:`.outputs` — :func:`~.outputs.write_outputs`: the result's ROOT, JSON and
  correctionlib files;
* :mod:`.plots` — :func:`~.plots.plot_all`: efficiency, scale-factor and fit plots.

The coffea processor that fills the histograms is
``egamma_cnn.processors.tag_and_probe.TagAndProbeProcessor``; ``egamma-cnn tnp``
(:func:`egamma_cnn.workflows.run_tnp`) runs it and then the three steps above, which a
notebook calls alike on histograms it has (docs/TNP.md).
"""

from __future__ import annotations

from egamma_cnn.tnp.config import PRESETS, IdSpec, TnPConfig
from egamma_cnn.tnp.pairs import invariant_mass, tag_probe_pairs

__all__ = ["PRESETS", "IdSpec", "TnPConfig", "invariant_mass", "tag_probe_pairs"]
