"""The three layers of one configuration side by side: `compare_layers` -> `LayerComparison`.

The clear name for what `r21d_edu.compare` holds (one 3D, naive and (2+1)D layer
built on the meta device, their parameters and shapes). It is not
`r21d_edu.timing.compare` (wall-clock times of several variants),
`r21d_edu.counting.compare_costs` (the arithmetic of one 3D layer and its (2+1)D
replacement) nor `r21d_edu.summary.compare_networks` (whole networks, stage by
stage); the README's "What the library holds" says which one to reach for.

``from r21d_edu.compare import compare_layers`` keeps working (the same objects).
"""

from __future__ import annotations

from .compare import LayerComparison, compare_layers

__all__ = ["LayerComparison", "compare_layers"]
