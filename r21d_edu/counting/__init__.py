"""What a convolution costs: parameters, MACs, FLOPs, memory, shapes, receptive field.

Every number comes from arithmetic on shapes (no timing, no real data), and every
result is a small dataclass with plain fields for code, an ``explanation`` that
shows the arithmetic with the numbers put in (``print(result)`` shows it), and a
rich display in Jupyter.

Vocabulary used throughout:

- a **MAC** is one multiply-accumulate; a conv output value with a kernel of
  C_in x t x d_h x d_w weights costs C_in*t*d_h*d_w MACs;
- **FLOPs = 2 x MACs** (one multiply plus one add), which is what
  `torch.utils.flop_counter.FlopCounterMode` reports. torchvision's published
  "GFLOPS", fvcore, ptflops and thop report MACs;
- only convolutions and `nn.Linear` are counted. Bias additions, BatchNorm,
  ReLU and pooling are elementwise and left out, as they are by
  `FlopCounterMode` and by torchvision's figures.

Stable API
----------

One layer — ``layer`` is a `FullConv3d` / `nn.Conv3d`, a `NaiveConv2Plus1d`, a
`SpatioTemporalConv`, or a `ConvSpec` (the same description without building
weights, for fast what-if arithmetic):

- ``ConvSpec(method, in_channels, out_channels, kernel_size, stride=1, padding=0,
  bias=True, intermediate_channels=None, middle_bn_relu=True)`` with
  ``method`` one of ``"3d"``, ``"naive"``, ``"2plus1d"`` (`r21d_edu.methods`; the old
  name ``kind`` still works, deprecated); ``spec_of(layer)``.
- ``count_parameters(layer) -> ParameterCount``  (fields ``total``, ``weights``, ``stages``)
- ``count_macs(layer, input_shape) -> ComputeCount``  (``macs``, ``flops``, ``stages``)
- ``activation_memory(layer, input_shape, dtype=torch.float32) -> MemoryCount``
  (``input_bytes``, ``middle_bytes``, ``output_bytes``, ``total_bytes``,
  ``middle_to_input``, ``stages``). Counts every tensor the layer writes:
  conv outputs, BatchNorm's output (the ReLU is in place), and the naive
  layer's reshapes where torch must copy (a reshape that can be a view writes
  nothing). Copies a conv kernel may make internally are not counted.
- ``stage_shapes(layer, input_shape) -> ShapeTrace``  (``output_shape``, ``stages``)
- ``layer_cost(layer, input_shape, dtype=torch.float32) -> LayerCost`` — all of
  the above at once (``params``, ``macs``, ``flops``, ``memory``, ...).

The same five functions take the factorized layers of `r21d_edu.factorized` (P3D-A/B/C,
S3D, S3D-G, ip-/ir-CSN, depthwise (2+1)D, TSM): one `Stage` per leaf module they run
(convs, BatchNorm, ReLU, centre taps, the sum of two paths, the gate, the shift), from a
pass on the meta device; ``LayerCost.spec`` then holds the layer itself.

``stages`` is a tuple of `Stage` rows (name, operation, output_shape, params,
macs, output_bytes), one per step of the layer (spatial conv, BN, ReLU,
temporal conv, and for the naive layer its reshapes).

A stack of layers:

- ``receptive_field(layers) -> ReceptiveField`` (``temporal``, ``height``,
  ``width``, ``jump``, ``rows``, ``global_context``) for a chain of convs / pools,
  the factorized layers included (TSM's shift reads 3 frames; S3D-G's gate reads the
  whole clip, which ``global_context`` names).

A whole network (any `nn.Module`, e.g. torchvision's ``r3d_18``):

- ``summarize_network(model, input_shape) -> NetworkSummary`` runs one forward
  pass with hooks on every leaf module — on the meta device by default, so no
  memory for activations and no compute is spent — and returns ``rows``
  (`ModuleRow`: name, kind, output_shape, params, macs, one per leaf call) and
  ``params``, ``macs``, ``flops`` totals.

Comparisons and figures:

- ``compare_costs(in, out, kernel, input_shape) -> {"3d": LayerCost, "2plus1d": LayerCost}``;
- the figure of such a sweep is `r21d_edu.viz.cost_sweep_figure` (figures live in
  `r21d_edu.viz`; ``r21d_edu.counting.cost_sweep_figure`` still works, with a
  deprecation warning);
- ``intermediate_channels_table({"torchvision": net_a, "paper": net_b})`` — M and
  conv weights of every (2+1)D conv of several networks, conv by conv.

Shapes are (N, C, T, H, W) clips everywhere, as for `nn.Conv3d`.
"""

from __future__ import annotations

from .._moved import moved_names
from .layer import (
    activation_memory,
    compare_costs,
    count_macs,
    count_parameters,
    layer_cost,
    stage_shapes,
)
from .network import (
    IntermediateChannelsRow,
    IntermediateChannelsTable,
    ModuleRow,
    NetworkSummary,
    ReceptiveField,
    ReceptiveFieldRow,
    intermediate_channels_table,
    receptive_field,
    summarize_network,
)
from .spec import (
    ComputeCount,
    ConvSpec,
    LayerCost,
    MemoryCount,
    ParameterCount,
    ShapeTrace,
    Stage,
    spec_of,
)

__all__ = [
    "ComputeCount",
    "ConvSpec",
    "IntermediateChannelsRow",
    "IntermediateChannelsTable",
    "LayerCost",
    "MemoryCount",
    "ModuleRow",
    "NetworkSummary",
    "ParameterCount",
    "ReceptiveField",
    "ReceptiveFieldRow",
    "ShapeTrace",
    "Stage",
    "activation_memory",
    "compare_costs",
    "count_macs",
    "count_parameters",
    "intermediate_channels_table",
    "layer_cost",
    "receptive_field",
    "spec_of",
    "stage_shapes",
    "summarize_network",
]


# Figures moved to r21d_edu.viz, so that `import r21d_edu` needs no matplotlib; the old
# import path keeps working, with a warning, and imports viz only when it is used.
__getattr__ = moved_names(__name__, {"cost_sweep_figure": "r21d_edu.viz.costs"})
