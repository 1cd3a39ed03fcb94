"""r21d-edu: the 3D, naive Conv2d+Conv1d and factorized (2+1)D convolutions, side by side.

A teaching package for Tran et al. 2018, "A Closer Look at Spatiotemporal
Convolutions for Action Recognition". Every tensor is a clip of shape
(N, C, T, H, W), as for `torch.nn.Conv3d`.
"""

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
from .data import (
    CLIP_KINDS,
    SyntheticClip,
    bouncing_ball,
    drifting_grating,
    flash,
    make_clip,
    moving_shape,
    static_scene,
)
from .family import FAMILY, family_model, family_parameters
from .fast import FastSpatioTemporalConv, make_fast
from .kinetics import KINETICS400_CLASSES, Prediction, predict
from .layer_comparison import LayerComparison, compare_layers
from .layers import (
    FullConv3d,
    NaiveConv2Plus1d,
    SpatioTemporalConv,
    block_intermediate_channels,
    copy_weights,
    intermediate_channels,
)
from .lowrank import (
    EnergyProfile,
    compose,
    energy_profile,
    factorize,
    smooth_kernel,
)
from .models import (
    BasicBlock2d,
    SpatioTemporalResBlock,
    SpatioTemporalResLayer,
    VideoResNet,
    mc3_18,
    r2plus1d_18,
    r2plus1d_34,
    r3d_18,
    r3d_34,
    resnet18,
    resnet34,
    video_resnet,
)
from .motion import MotionTuning, motion_kernels, motion_tuning, temporal_response
from .netfactor import (
    FactorizationReport,
    NetworkProfile,
    compose_network,
    factorize_network,
    insert_middle_bn_relu,
    network_profile,
)
from .port import PortConversion, convert_port_state_dict
from .summary import LayerTable, NetworkComparison, compare_networks, layer_table
from .tasks import DIRECTION_NAMES, DirectionTask, MotionDirections, make_splits
from .timing import (
    Comparison,
    TimingResult,
    TimingSettings,
    Variant,
    count_work,
    time_module,
    time_side_by_side,
)
from .training import TrainConfig, TrainResult, evaluate, train
from .video import VideoClip, VideoInfo, VideoReadError, read_video, sample_clips, video_info
from .weights import (
    StateDictMismatchError,
    StateDictReport,
    check_state_dict,
    load_weights,
    preprocess_clip,
    read_state_dict,
)

__version__ = "0.1.0"

__all__ = [
    # synthetic clips and motion tuning
    "CLIP_KINDS",
    "SyntheticClip",
    "bouncing_ball",
    "drifting_grating",
    "flash",
    "make_clip",
    "moving_shape",
    "static_scene",
    "MotionTuning",
    "motion_kernels",
    "motion_tuning",
    "temporal_response",
    # lowrank
    "EnergyProfile",
    "compose",
    "energy_profile",
    "factorize",
    "smooth_kernel",
    # whole networks: factorize, compose back, add the middle BN + ReLU
    "FactorizationReport",
    "NetworkProfile",
    "compose_network",
    "factorize_network",
    "insert_middle_bn_relu",
    "network_profile",
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
    # models, weights, summary
    "BasicBlock2d",
    "SpatioTemporalResBlock",
    "SpatioTemporalResLayer",
    "VideoResNet",
    "PortConversion",
    "convert_port_state_dict",
    "mc3_18",
    "r2plus1d_18",
    "r2plus1d_34",
    "r3d_18",
    "r3d_34",
    "resnet18",
    "resnet34",
    "video_resnet",
    "LayerTable",
    "NetworkComparison",
    "compare_networks",
    "layer_table",
    "StateDictMismatchError",
    "StateDictReport",
    "check_state_dict",
    "load_weights",
    "preprocess_clip",
    "read_state_dict",
    # training: the direction task, the paper's family, the loop
    "DIRECTION_NAMES",
    "DirectionTask",
    "MotionDirections",
    "make_splits",
    "FAMILY",
    "family_model",
    "family_parameters",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "train",
    # real video files and Kinetics-400 labels
    "KINETICS400_CLASSES",
    "Prediction",
    "VideoClip",
    "VideoInfo",
    "VideoReadError",
    "predict",
    "read_video",
    "sample_clips",
    "video_info",
    # timing and the fast path (r21d_edu.timing.compare compares variants with a table)
    "Comparison",
    "FastSpatioTemporalConv",
    "TimingResult",
    "TimingSettings",
    "Variant",
    "count_work",
    "make_fast",
    "time_module",
    "time_side_by_side",
]
