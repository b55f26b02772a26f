"""Data/MC comparisons of probe electrons: statistical distances and fudge factors.

* :mod:`.distances` — L1, Hellinger and Wasserstein distances of binned distributions
  (Zumbihl's e/γ talk);
* :mod:`.fudge` — shift/width fudge factors per variable and (E_T, η) bin, their
  application, quantile mapping, and the correctionlib file.
"""

from __future__ import annotations

from egamma_cnn.datamc.distances import hellinger_distance, l1_distance, wasserstein_distance
from egamma_cnn.datamc.fudge import fudge_factors, quantile_map

__all__ = [
    "fudge_factors",
    "hellinger_distance",
    "l1_distance",
    "quantile_map",
    "wasserstein_distance",
]
