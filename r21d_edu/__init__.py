"""r21d-edu: the 3D, naive Conv2d+Conv1d and factorized (2+1)D convolutions, side by side.

A teaching package for Tran et al. 2018, "A Closer Look at Spatiotemporal
Convolutions for Action Recognition". Every tensor is a clip of shape
(N, C, T, H, W), as for `torch.nn.Conv3d`.
"""

from .compare import LayerComparison, compare_layers
from .counting import (
    ConvSpec,
    LayerCost,
    NetworkSummary,
    activation_memory,
    count_macs,
    count_parameters,
    layer_cost,
    receptive_field,
    stage_shapes,
    summarize_network,
)
from .layers import (
    FullConv3d,
    NaiveConv2Plus1d,
    SpatioTemporalConv,
    block_intermediate_channels,
    copy_weights,
    intermediate_channels,
)

__version__ = "0.1.0"

__all__ = [
    # counting
    "ConvSpec",
    "LayerCost",
    "NetworkSummary",
    "activation_memory",
    "count_macs",
    "count_parameters",
    "layer_cost",
    "receptive_field",
    "stage_shapes",
    "summarize_network",
    "FullConv3d",
    "LayerComparison",
    "NaiveConv2Plus1d",
    "SpatioTemporalConv",
    "block_intermediate_channels",
    "compare_layers",
    "copy_weights",
    "intermediate_channels",
]
