"""Data/MC comparisons of probe electrons: statistical distances and fudge factors.

The study of the histograms of ``egamma_cnn.processors.data_mc.DataMCProcessor``, in the
steps every study has (run the processor → analyse → write → plot; the run is
:func:`egamma_cnn.workflows.run_datamc`):

* :mod:`.analysis` — :func:`~.analysis.derive_fudge_factors`: the fudge factors a
  fudged pass applies; :func:`~.analysis.analyse`: fudge factors, distances, Gaussian
  parameters and ID efficiencies of data, MC and fudged MC, a
  :class:`~.analysis.DataMCResult`;
* :mod:`.outputs` — :func:`~.outputs.write_outputs`: the correctionlib file of the
  fudge factors and the JSON and ROOT files of the results;
* :mod:`.plots` — :func:`~.plots.plot_all`: distributions with ratios to data, distances
  and parameters versus E_T, ID efficiencies (matplotlib, mplhep);
* :mod:`.distances` — L1, Hellinger and Wasserstein distances of binned distributions
  (Zumbihl's e/γ talk);
* :mod:`.fudge` — shift/width fudge factors per variable and (E_T, η) bin, and quantile
  mapping (the file format and its application are :mod:`egamma_cnn.corrections.fudge`).
"""

from __future__ import annotations

from egamma_cnn.datamc.analysis import DataMCResult, analyse, derive_fudge_factors
from egamma_cnn.datamc.distances import hellinger_distance, l1_distance, wasserstein_distance
from egamma_cnn.datamc.fudge import fudge_factors, quantile_map
from egamma_cnn.datamc.outputs import write_outputs

__all__ = [
    "DataMCResult",
    "analyse",
    "derive_fudge_factors",
    "fudge_factors",
    "hellinger_distance",
    "l1_distance",
    "quantile_map",
    "wasserstein_distance",
    "write_outputs",
]
