"""Physics features of e/γ candidates computed from their cells and tracks.

:mod:`.shower_shapes` — the calorimeter variables of seed 000 Table 3.
"""

from egamma_cnn.features.shower_shapes import SHOWER_SHAPE_NAMES, shower_shapes

__all__ = ["SHOWER_SHAPE_NAMES", "shower_shapes"]
