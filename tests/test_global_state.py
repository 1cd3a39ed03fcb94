"""No public function or explorer leaves the process other than it found it.

A notebook seeds its cells (``torch.manual_seed(0)``) and expects the same numbers
whether or not it timed a layer, factorized a kernel or moved a slider in between;
a later cell must not find deterministic algorithms switched on, one thread instead
of all, gradients off or cuDNN autotuning changed. So every public entry point of
the core modules (layers, counting, lowrank, netfactor, models, weights, port, video,
kinetics, timing, fast, bench, data, motion, summary, compare, viz, widgets) is
called here, and every explorer is built and has each of its controls moved, from
two starting states (as the process starts, and with every switch flipped), and the
global state is compared before and after: torch's CPU (and CUDA) RNG, Python's
`random`, NumPy's RNG, deterministic-algorithms mode, thread count, grad and
inference mode, anomaly mode, default dtype, cuDNN and matmul flags.

Only the constructors whose job is to draw random initial weights (the layers and
networks, as `nn.Conv3d` does) may advance torch's RNG; they are named in `DRAWS`.
A public name that is neither called here nor exempted with a reason fails
`test_every_public_name_is_covered`, so a new entry point cannot slip past.
"""

from __future__ import annotations

import contextlib
import importlib
import random

import numpy as np
import pytest
import torch
from test_bad_inputs import (
    bench_main,
    changed_state,
    classifier,
    clip,
    conv3d,
    energy,
    factorized_net,
    global_state,
    linear_layer,
    made,
    meta_r3d,
    naive,
    plain,
    port_files,
    profile,
    small_net,
    tuning,
    video,
    weights,
)
from torch import nn

import r21d_edu

#: Modules whose public names are covered here (the training stack is the lead's:
#: r21d_edu.tasks, family, training, experiment, tradeoff have tests of their own).
MODULES = ("layers", "counting", "lowrank", "netfactor", "models", "weights", "port", "video",
           "kinetics", "timing", "fast", "bench", "data", "motion", "summary", "compare",
           "layer_comparison", "viz", "widgets", "widgets.budget", "widgets.kernels",
           "widgets.factorize", "widgets.layers", "widgets.timing", "widgets.family")

SHAPE = (1, 3, 4, 8, 8)
QUICK = {"repeats": 1, "warmup": 1, "warmup_s": 0.0, "min_sample_s": 0.0}


def _meta(build):
    def call():
        with torch.device("meta"):
            return build()
    return call


def _viz(name: str, *args, **kwargs):
    def call():
        from r21d_edu import viz

        return getattr(viz, name)(*args, **kwargs)
    return call


def _timing(name: str, *args, **kwargs):
    def call():
        from r21d_edu import timing

        return getattr(timing, name)(*args, **kwargs)
    return call


def _variants():
    from r21d_edu.timing import Variant

    return [Variant("", plain()), Variant("", r21d_edu.make_fast(plain()))]


def _costs():
    return r21d_edu.counting.compare_costs(8, 8, 3, (1, 8, 4, 8, 8))


def _points():
    return [{"variant": "3d", "energy": 1.0, "macs": 10, "latency_ms": 2.0,
             "accuracy_before": 0.8, "accuracy_after_mean": 0.8, "accuracy_after_std": 0.0},
            {"variant": "linear", "energy": 0.9, "macs": 6, "latency_ms": 1.5,
             "accuracy_before": 0.6, "accuracy_after_mean": 0.75, "accuracy_after_std": 0.02}]


def _history():
    return [{"model": "r3d", "seed": 0, "epoch": e, "train_error": 1 / (e + 1),
             "val_accuracy": 0.5 + e / 10} for e in range(3)]


def _port_model():
    return made(lambda: r21d_edu.port.PortSpatioTemporalConv(3, 4, 3, padding=1))()


def _maps():
    """Attribution-shaped maps (2, 4, 8, 8), drawn without touching the global RNG."""
    return torch.rand(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))


def _scrubber():
    from r21d_edu.family import family_model
    from r21d_edu.widgets import attribution_scrubber

    with torch.random.fork_rng():  # building the model is not what is checked
        torch.manual_seed(0)
        model = family_model("r3d").eval()
    clip = torch.rand(1, 1, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    scrubber = attribution_scrubber(model, clip, methods=["grad_cam", "integrated_gradients"])
    scrubber.controls["frame"].value = 3
    scrubber.controls["method"].value = "integrated_gradients"
    return scrubber


@made
def _p3d_b():
    from r21d_edu.factorized import P3DB

    return P3DB(4, 8, 3, padding=1)


def _family_rows():
    return _widget("family", "family_point")(8, 16, (3, 3), (4, 8, 8)).rows


#: One typical call of every public function (name -> call). Results are thrown away.
CALLS = {
    "viz.block_diagram": lambda: r21d_edu.viz.block_diagram(_p3d_b()),
    "viz.layer_structure": lambda: r21d_edu.viz.layer_structure(_p3d_b()),
    "viz.family_plane_figure": lambda: r21d_edu.viz.family_plane_figure(_family_rows()),
    "viz.family_legend": lambda: r21d_edu.viz.family_legend(_family_rows()),
    "viz.FamilyPlane": lambda: r21d_edu.viz.FamilyPlane(_family_rows()).update(_family_rows()),
    "widgets.family.family_point": _family_rows,
    "widgets.family.family_throughput": lambda: _widget("family", "family_throughput")(),
    # layers
    "layers.FullConv3d": lambda: r21d_edu.FullConv3d(3, 4, 3),
    "layers.NaiveConv2Plus1d": lambda: r21d_edu.NaiveConv2Plus1d(3, 4, 3),
    "layers.SpatioTemporalConv": lambda: r21d_edu.SpatioTemporalConv(3, 4, 3),
    "layers.forward": lambda: (plain()(clip()), naive()(clip()), conv3d()(clip())),
    "layers.NaiveConv2Plus1d.from_factorized": lambda: r21d_edu.NaiveConv2Plus1d.from_factorized(
        plain()),
    "layers.SpatioTemporalConv.from_naive": lambda: r21d_edu.SpatioTemporalConv.from_naive(
        naive()),
    "layers.block_intermediate_channels": lambda: r21d_edu.block_intermediate_channels(64, 128),
    "layers.copy_weights": lambda: r21d_edu.copy_weights(
        plain(), made(lambda: r21d_edu.SpatioTemporalConv(3, 4, 3, padding=1))()),
    "layers.intermediate_channels": lambda: r21d_edu.intermediate_channels(64, 64, 3),
    "layers.method_of": lambda: r21d_edu.layers.method_of(plain()),
    # counting
    "counting.ConvSpec": lambda: r21d_edu.ConvSpec("2plus1d", 3, 8, 3),
    "counting.activation_memory": lambda: r21d_edu.activation_memory(plain(), SHAPE),
    "counting.compare_costs": _costs,
    "counting.count_macs": lambda: r21d_edu.count_macs(plain(), SHAPE),
    "counting.count_parameters": lambda: r21d_edu.count_parameters(plain()),
    "counting.intermediate_channels_table": lambda: r21d_edu.counting.intermediate_channels_table(
        {"a": plain()}),
    "counting.layer_cost": lambda: r21d_edu.layer_cost(naive(), SHAPE),
    "counting.receptive_field": lambda: r21d_edu.receptive_field([plain(), conv3d()]),
    "counting.spec_of": lambda: r21d_edu.counting.spec_of(conv3d()),
    "counting.stage_shapes": lambda: r21d_edu.stage_shapes(plain(), SHAPE),
    "counting.summarize_network": lambda: r21d_edu.summarize_network(small_net(), SHAPE),
    "counting.summarize_network(device='cpu')": lambda: r21d_edu.summarize_network(
        small_net(), SHAPE, device="cpu"),
    # lowrank
    "lowrank.compose": lambda: r21d_edu.compose(linear_layer()),
    "lowrank.composed_kernel": lambda: r21d_edu.lowrank.composed_kernel(plain()),
    "lowrank.energy_profile": lambda: r21d_edu.energy_profile(conv3d()),
    "lowrank.EnergyProfile methods": lambda: (energy().energy_at(2), energy().rank_for(0.9),
                                              energy().error_at(2)),
    "lowrank.factorize": lambda: r21d_edu.factorize(conv3d(), 2),
    "lowrank.fold_kernel": lambda: r21d_edu.lowrank.fold_kernel(
        r21d_edu.lowrank.unfold_kernel(conv3d().weight.detach()), 4, 3, 3),
    "lowrank.smooth_kernel": lambda: r21d_edu.smooth_kernel(4, 4),
    "lowrank.unfold_kernel": lambda: r21d_edu.lowrank.unfold_kernel(conv3d().weight.detach()),
    # netfactor
    "netfactor.compose_network": lambda: r21d_edu.compose_network(factorized_net()),
    "netfactor.factorize_network": lambda: r21d_edu.factorize_network(small_net(), energy=0.9),
    "netfactor.insert_middle_bn_relu": lambda: r21d_edu.insert_middle_bn_relu(
        factorized_net(), clip(2, 3, 4, 8, 8)),
    "netfactor.is_eligible": lambda: r21d_edu.netfactor.is_eligible(conv3d()),
    "netfactor.network_profile": lambda: r21d_edu.network_profile(small_net(), SHAPE),
    "netfactor.NetworkProfile.plan": lambda: (profile().plan(budget=0.5),
                                              profile().plan(rank="paper")),
    "netfactor.NetworkProfile.from_dict": lambda: r21d_edu.NetworkProfile.from_dict(
        profile().to_dict()),
    # models: built on the meta device where the weights do not matter
    "models.BasicBlock2d": lambda: r21d_edu.BasicBlock2d(8, 8),
    "models.BasicStem": lambda: r21d_edu.models.BasicStem(),
    "models.ConvBuilder": lambda: r21d_edu.models.ConvBuilder("2plus1d", "paper")(
        3, 4, (3, 3, 3), (1, 1, 1), None),
    "models.R2Plus1dStem": lambda: r21d_edu.models.R2Plus1dStem(),
    "models.ResNet2d": _meta(lambda: r21d_edu.models.ResNet2d((2, 2, 2, 2))),
    "models.SpatioTemporalResBlock": lambda: r21d_edu.SpatioTemporalResBlock(8, 8),
    "models.SpatioTemporalResLayer": lambda: r21d_edu.SpatioTemporalResLayer(8, 8, 3, 2),
    "models.VideoResNet": _meta(lambda: r21d_edu.VideoResNet(
        ("3d",) * 4, (1, 1, 1, 1), r21d_edu.models.BasicStem())),
    "models.mc3_18": _meta(r21d_edu.mc3_18),
    "models.r2plus1d_18": _meta(r21d_edu.r2plus1d_18),
    "models.r2plus1d_34": _meta(r21d_edu.r2plus1d_34),
    "models.r3d_18": lambda: r21d_edu.r3d_18(),
    "models.r3d_34": _meta(r21d_edu.r3d_34),
    "models.resnet18": _meta(r21d_edu.resnet18),
    "models.resnet34": _meta(r21d_edu.resnet34),
    "models.video_resnet": _meta(lambda: r21d_edu.video_resnet("r2plus1d", 18, 10, "paper")),
    "models.forward (meta)": lambda: meta_r3d().eval()(torch.zeros(1, 3, 8, 32, 32,
                                                                   device="meta")),
    # weights
    "weights.check_state_dict": lambda: r21d_edu.check_state_dict(
        made(lambda: nn.Linear(64, 64))(), r21d_edu.read_state_dict(weights("good"))),
    "weights.load_weights": lambda: r21d_edu.load_weights(made(lambda: nn.Linear(64, 64))(),
                                                          weights("good")),
    "weights.preprocess_clip": lambda: r21d_edu.preprocess_clip(
        torch.zeros(4, 60, 80, 3, dtype=torch.uint8), layout="THWC"),
    "weights.read_state_dict": lambda: r21d_edu.read_state_dict(weights("good")),
    "weights.sha256_matches_name": lambda: r21d_edu.weights.sha256_matches_name(
        _named_weights()),
    # port
    "port.PortClassifier": _meta(lambda: r21d_edu.port.PortClassifier(10)),
    "port.PortR2Plus1DNet": _meta(lambda: r21d_edu.port.PortR2Plus1DNet((1, 1, 1, 1))),
    "port.PortResBlock": lambda: r21d_edu.port.PortResBlock(8, 8, 3, downsample=True),
    "port.PortResLayer": lambda: r21d_edu.port.PortResLayer(8, 8, 3, 2),
    "port.PortSpatioTemporalConv": lambda: r21d_edu.port.PortSpatioTemporalConv(3, 4, 3),
    "port.forward": lambda: _port_model().eval()(clip()),
    "port.convert_port_state_dict": lambda: r21d_edu.convert_port_state_dict(
        port_files()["good"]),
    # video and kinetics
    "video.read_video": lambda: r21d_edu.read_video(video("mkv"), start_frame=2, end_frame=8),
    "video.sample_clips": lambda: r21d_edu.sample_clips(video("mp4"), 8, num_clips=3),
    "video.video_info": lambda: r21d_edu.video_info(video("mkv")),
    "kinetics.predict": lambda: r21d_edu.predict(classifier(), clip()),
    # timing
    "timing.check_device": _timing("check_device", "cpu"),
    "timing.compare": lambda: r21d_edu.timing.compare(_variants(), SHAPE,
                                                      modes=("inference", "training"), **QUICK),
    "timing.count_work": _timing("count_work", plain(), SHAPE, mode="training"),
    "timing.environment": _timing("environment"),
    "timing.infer_method": _timing("infer_method", plain()),
    "timing.lookup_device": _timing("lookup_device", "NVIDIA H100 80GB HBM3"),
    "timing.time_module (inference)": lambda: r21d_edu.time_module(plain(), SHAPE, **QUICK),
    "timing.time_module (training)": lambda: r21d_edu.time_module(
        plain(), SHAPE, mode="training", threads=1, **QUICK),
    "timing.time_module (training, dropout)": lambda: r21d_edu.time_module(
        made(lambda: nn.Sequential(nn.Conv3d(3, 4, 3), nn.Dropout(0.5)))(), SHAPE,
        method="3d", mode="training", **QUICK),
    "timing.time_side_by_side": lambda: r21d_edu.time_side_by_side(_variants(), SHAPE, **QUICK),
    "timing.Comparison.figure": lambda: r21d_edu.timing.compare(_variants()[:1], SHAPE,
                                                                **QUICK).figure(),
    # fast
    "fast.FastSpatioTemporalConv.from_layer": lambda: r21d_edu.FastSpatioTemporalConv.from_layer(
        plain())(clip()),
    "fast.make_fast": lambda: r21d_edu.make_fast(
        made(lambda: nn.Sequential(r21d_edu.NaiveConv2Plus1d(3, 4, 3, padding=1)).eval())()),
    # bench
    "bench.layer_configs": lambda: r21d_edu.bench.layer_configs([8, 16], [1, 2, 3, 4]),
    "bench.main": lambda: bench_main("--slug", "state"),
    "bench.build_variants": lambda: r21d_edu.bench.build_variants(
        r21d_edu.bench.layer_configs([8], [4])[0], torch.device("cpu"), torch.float32, 0, False),
    # data
    "data.bouncing_ball": lambda: r21d_edu.bouncing_ball(noise=0.1),
    "data.drifting_grating": lambda: r21d_edu.drifting_grating(noise=0.1),
    "data.flash": lambda: r21d_edu.flash(noise=0.1),
    "data.make_clip": lambda: r21d_edu.make_clip("moving_shape", noise=0.1),
    "data.moving_shape": lambda: r21d_edu.moving_shape(noise=0.1),
    "data.static_scene": lambda: r21d_edu.static_scene(noise=0.1),
    # motion
    "motion.motion_kernels": lambda: r21d_edu.motion_kernels(),
    "motion.motion_tuning": lambda: r21d_edu.motion_tuning({"d": [-1, 1], "layer": plain()},
                                                           speeds=[0.0, 1.0]),
    "motion.MotionTuning methods": lambda: (tuning().curve("d"), tuning().preferred("d"),
                                            tuning().direction_selectivity("d")),
    "motion.temporal_filters_of": lambda: r21d_edu.motion.temporal_filters_of(plain()),
    "motion.temporal_response": lambda: r21d_edu.temporal_response([-1, 1], [0.5, 1.0], 8.0),
    # summary and compare
    "summary.compare_networks": lambda: r21d_edu.compare_networks(),
    "summary.layer_table": lambda: r21d_edu.layer_table(meta_r3d()),
    "compare.compare_layers": lambda: r21d_edu.compare_layers(64, 64, 3, padding=1),
    # viz: argument checks and drawing, on the fixtures above
    "viz.attribution_volume": lambda: r21d_edu.viz.attribution_volume(_maps()),
    "viz.clip_animation": _viz("clip_animation", clip()),
    "viz.clip_strip": _viz("clip_strip", clip()),
    "viz.cost_surface": _viz("cost_surface", channels=(16, 32)),
    "viz.cost_sweep_figure": lambda: r21d_edu.viz.cost_sweep_figure([1, 2], [_costs()] * 2,
                                                                    x_label="x"),
    "viz.cost_vs_kernel_size": _viz("cost_vs_kernel_size", sizes=(1, 3), channels=16,
                                    input_size=(4, 8, 8)),
    "viz.cost_vs_m": _viz("cost_vs_m", 16, 16, input_size=(4, 8, 8), m_values=(4, 8)),
    "viz.cost_vs_width": _viz("cost_vs_width", widths=(16, 32), input_size=(4, 8, 8)),
    "viz.effective_kernel": lambda: r21d_edu.viz.effective_kernel(linear_layer()),
    "viz.effective_kernel_figure": lambda: r21d_edu.viz.effective_kernel_figure(linear_layer(),
                                                                                conv3d()),
    "viz.energy_figure": lambda: r21d_edu.viz.energy_figure({"a": energy()}, mark_ranks=[2]),
    "viz.feature_maps": lambda: r21d_edu.viz.feature_maps(plain(), clip()),
    "viz.feature_maps_over_time": _viz("feature_maps_over_time", clip()),
    "viz.intermediate_channels_figure": _viz("intermediate_channels_figure", widths=(16, 32)),
    "viz.kernel_3d_figure": lambda: r21d_edu.viz.kernel_3d_figure(conv3d()),
    "viz.kernel_grid": lambda: r21d_edu.viz.kernel_grid(conv3d()),
    "viz.layer_output": lambda: r21d_edu.viz.layer_output(plain(), clip()),
    "viz.middle_feature_maps": lambda: r21d_edu.viz.middle_feature_maps(plain(), clip()),
    "viz.middle_output": lambda: r21d_edu.viz.middle_output(naive(), clip()),
    "viz.pareto_figure": lambda: r21d_edu.viz.pareto_figure(_points(), highlight=0.9),
    "viz.plot_timings": lambda: r21d_edu.viz.plot_timings(
        r21d_edu.time_side_by_side(_variants(), SHAPE, **QUICK)),
    "viz.receptive_field_figure": _viz("receptive_field_figure"),
    "viz.spacetime_overlay": lambda: r21d_edu.viz.spacetime_overlay(
        torch.zeros(2, 1, 4, 8, 8), {"a": _maps()}, masks=_maps() > 0.5),
    "viz.temporal_profile_figure": lambda: r21d_edu.viz.temporal_profile_figure({"a": _maps()}),
    "widgets.attribution_scrubber": _scrubber,
    "viz.spatial_filters": lambda: r21d_edu.viz.spatial_filters(plain()),
    "viz.temporal_profiles": lambda: r21d_edu.viz.temporal_profiles(plain()),
    "viz.training_curves": lambda: r21d_edu.viz.training_curves(_history()),
    "viz.tuning_curves": lambda: r21d_edu.viz.tuning_curves(tuning()),
    "viz.tuning_polar": lambda: r21d_edu.viz.tuning_polar(tuning()),
    # the pure functions behind the explorers
    "widgets.budget.budget": lambda: _widget("budget", "budget")(64, 128, 3, 3),
    "widgets.budget.budget_figure": lambda: _widget("budget", "budget_figure")(
        _widget("budget", "budget")(64, 128, 3, 3)),
    "widgets.budget.rank_energy": lambda: _widget("budget", "rank_energy")("random", 8, 3, 3, 4),
    "widgets.budget.rank_figure": lambda: _widget("budget", "rank_figure")(
        _widget("budget", "rank_energy")("smooth", 8, 3, 3, 4)[0], 4),
    "widgets.kernels.feature_view": lambda: _widget("kernels", "feature_view")(
        method="2plus1d", rank=3, view="middle"),
    "widgets.factorize.explore_plan": lambda: _widget("factorize", "explore_plan")(
        profile(), 0.9, _points()),
    "widgets.layers.layer_explorer": lambda: _widget("layers", "layer_explorer")(),
}


def _widget(module: str, name: str):
    return getattr(importlib.import_module(f"r21d_edu.widgets.{module}"), name)


@made
def _named_weights():
    import hashlib
    import shutil

    data = weights("good").read_bytes()
    path = weights("good").parent / f"tiny-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    shutil.copyfile(weights("good"), path)
    return path


#: Constructors whose job is to draw random initial weights from torch's RNG, as nn.Conv3d
#: does: `torch.manual_seed(0); r3d_18()` must give the same network every time, and two
#: calls in a row two different ones. They may advance torch's RNG and nothing else.
DRAWS = {"layers.FullConv3d", "layers.NaiveConv2Plus1d", "layers.SpatioTemporalConv",
         "models.BasicBlock2d", "models.BasicStem", "models.ConvBuilder", "models.R2Plus1dStem",
         "models.SpatioTemporalResBlock", "models.SpatioTemporalResLayer", "models.r3d_18",
         "port.PortResBlock", "port.PortResLayer", "port.PortSpatioTemporalConv"}

#: Public names that are not entry points, each with the reason.
EXEMPT = {
    **dict.fromkeys(
        ["counting.ComputeCount", "counting.IntermediateChannelsRow",
         "counting.IntermediateChannelsTable", "counting.LayerCost", "counting.MemoryCount",
         "counting.ModuleRow", "counting.NetworkSummary", "counting.ParameterCount",
         "counting.ReceptiveField", "counting.ReceptiveFieldRow", "counting.ShapeTrace",
         "counting.Stage", "lowrank.EnergyProfile", "netfactor.ConvProfile",
         "netfactor.FactorizationReport", "netfactor.LayerReport", "netfactor.NetworkProfile",
         "timing.Comparison", "timing.DeviceSpec", "timing.Environment", "timing.TimingResult",
         "timing.TimingSettings", "timing.Variant", "timing.WorkCount",
         "weights.StateDictReport", "weights.StateDictMismatchError", "video.VideoClip",
         "video.VideoInfo", "video.VideoReadError", "port.PortConversion",
         "kinetics.Prediction", "bench.LayerConfig", "data.SyntheticClip",
         "motion.MotionTuning", "summary.LayerTable", "summary.NetworkComparison",
         "summary.SummaryRow", "compare.LayerComparison", "layer_comparison.LayerComparison",
         "viz.ClipAnimation", "widgets.budget.Budget", "widgets.kernels.FeatureView",
         "widgets.factorize.Plan", "widgets.family.FamilyPoint", "widgets.family.FamilyRow",
         "widgets.family.Throughput"],
        "a result type: made by the entry points above (their methods are called there)"),
    **dict.fromkeys(
        ["timing.KNOWN_DEVICES", "timing.METHODS", "timing.TIMED_METHODS", "viz.METHOD_COLORS",
         "viz.METHOD_LABELS",
         "weights.KINETICS400_MEAN", "weights.KINETICS400_STD", "weights.TORCHVISION_WEIGHTS",
         "kinetics.KINETICS400_CLASSES", "models.CONV_TYPES",
         "models.DEPTHS", "bench.R2PLUS1D18_LAYERS", "data.CLIP_KINDS",
         "motion.MOTION_KERNEL_NAMES", "widgets.family.MEMBERS",
         "widgets.family.FAMILY_BENCHMARK"], "a constant"),
    "layer_comparison.compare_layers": "the same object as compare.compare_layers",
    "fast.FastSpatioTemporalConv": "built from a layer by from_layer (called above)",
}

EXPLORERS = ("BudgetExplorer", "RankExplorer", "LayerExplorer", "TimingExplorer",
             "FeatureExplorer", "FactorizationExplorer", "ReshapeExplorer", "FamilyExplorer")
EXEMPT.update({f"widgets.{name}": "built and driven by test_explorers_leave_the_state_alone"
               for name in EXPLORERS})
EXEMPT.update({f"widgets.{m}.{name}": "built and driven by test_explorers_leave_the_state_alone"
               for m, name in (("budget", "BudgetExplorer"), ("budget", "RankExplorer"),
                               ("kernels", "FeatureExplorer"),
                               ("factorize", "FactorizationExplorer"),
                               ("layers", "LayerExplorer"), ("timing", "TimingExplorer"),
                               ("family", "FamilyExplorer"))})
EXEMPT.update({"widgets.timing_explorer": "TimingExplorer, built and driven below",
               "widgets.timing.timing_explorer": "TimingExplorer, built and driven below",
               "widgets.feature_explorer": "FeatureExplorer, built and driven below",
               "widgets.kernels.feature_explorer": "FeatureExplorer, built and driven below",
               "widgets.layer_explorer": "called above as widgets.layers.layer_explorer",
               "widgets.reshape_explorer": "ReshapeExplorer, built and driven below",
               "widgets.family_explorer": "FamilyExplorer, built and driven below",
               "widgets.family.family_explorer": "FamilyExplorer, built and driven below",
               "widgets.AttributionScrubber": "built and driven by widgets.attribution_scrubber"})


def public_names() -> set[str]:
    names = set()
    for module in MODULES:
        mod = importlib.import_module(f"r21d_edu.{module}")
        # Without __all__: the functions and classes the module defines itself.
        exported = getattr(mod, "__all__", None) or [
            name for name, value in vars(mod).items() if not name.startswith("_")
            and getattr(value, "__module__", None) == mod.__name__ and callable(value)]
        names.update(f"{module}.{name}" for name in exported)
    return names


def test_every_public_name_is_covered() -> None:
    covered = {key.split(" ")[0] for key in CALLS} | set(EXEMPT)
    # Methods called through their class ("layers.SpatioTemporalConv.from_naive") cover it.
    covered |= {".".join(key.split(" ")[0].split(".")[:2]) for key in CALLS}
    missing = sorted(public_names() - covered)
    assert not missing, f"public names with no global-state check: {missing}"
    unknown = sorted(set(EXEMPT) - public_names())
    assert not unknown, f"exemptions for names that are not public: {unknown}"


@contextlib.contextmanager
def starting_state(kind: str):
    """The process as it starts, or with every switch flipped; put back afterwards."""
    saved = global_state()
    torch_rng, python_rng, numpy_rng = (torch.random.get_rng_state(), random.getstate(),
                                        np.random.get_state())
    threads, benchmark = torch.get_num_threads(), torch.backends.cudnn.benchmark
    try:
        torch.manual_seed(1234)
        random.seed(1234)
        np.random.seed(1234)
        if kind == "switches flipped":
            torch.set_grad_enabled(False)
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.set_num_threads(1)
            torch.backends.cudnn.benchmark = not benchmark
        yield
    finally:
        torch.set_grad_enabled(True)
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = benchmark
        torch.random.set_rng_state(torch_rng)
        random.setstate(python_rng)
        np.random.set_state(numpy_rng)
    assert not changed_state(saved, global_state())


def check_leaves_state(call, *, draws: bool = False) -> None:
    before = global_state(rng=not draws)
    call()
    left = changed_state(before, global_state(rng=not draws))
    assert not left, f"left changed: {', '.join(left)}"


def _prepared() -> None:
    # Build the cached fixtures outside the checks: they are made once, seeded.
    for fixture in (conv3d, plain, naive, linear_layer, small_net, factorized_net, profile,
                    energy, meta_r3d, classifier, tuning, port_files, _named_weights):
        fixture()
    video("mkv"), video("mp4")


@pytest.mark.parametrize("kind", ["as started", "switches flipped"])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_public_entry_points_leave_the_state_alone(name: str, kind: str) -> None:
    _prepared()
    with starting_state(kind):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deterministic mode's warn_only notes
            check_leaves_state(CALLS[name], draws=name in DRAWS)


def _drive(explorer) -> None:
    """Move every control of an explorer to another value, and back."""
    for control in explorer.controls.values():
        if control.disabled:
            continue
        start = control.value
        options = getattr(control, "options", None)
        if options:
            values = [o[1] if isinstance(o, tuple) else o for o in options]
            other = next(v for v in values if v != start)
        else:
            step = getattr(control, "step", 1) or 1
            other = start + step if start + step <= control.max else start - step
        control.value = other
        control.value = start
    if hasattr(explorer, "guess"):  # the timing explorer's prediction
        explorer.guess.value = "fast"
        explorer.guess.value = "3d"


def _explorer(name: str):
    from r21d_edu import widgets

    if name == "FactorizationExplorer":
        return widgets.FactorizationExplorer(profile(), _points())
    if name == "TimingExplorer":
        return widgets.TimingExplorer(repeats=1)
    return getattr(widgets, name)()


@pytest.mark.parametrize("kind", ["as started", "switches flipped"])
@pytest.mark.parametrize("name", EXPLORERS)
def test_explorers_leave_the_state_alone(name: str, kind: str) -> None:
    _prepared()
    with starting_state(kind):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_leaves_state(lambda: _drive(_explorer(name)))


def test_a_check_that_can_fail() -> None:
    # The same check on a function that does leak, so a broken snapshot cannot pass silently.
    with pytest.raises(AssertionError, match="torch RNG"):
        check_leaves_state(lambda: torch.rand(1))
    with pytest.raises(AssertionError, match="deterministic algorithms"):
        try:
            check_leaves_state(lambda: torch.use_deterministic_algorithms(True))
        finally:
            torch.use_deterministic_algorithms(False)
    threads = torch.get_num_threads()
    with pytest.raises(AssertionError, match="threads"):
        try:
            check_leaves_state(lambda: torch.set_num_threads(threads + 1))
        finally:
            torch.set_num_threads(threads)
