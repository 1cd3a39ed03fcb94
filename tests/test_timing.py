"""The timing harness: what it counts, what it reports, and that it leaves no trace.

Timings themselves are never asserted (the machine is shared and noisy); what
is asserted is arithmetic (FLOPs, bytes), bookkeeping (quartiles, clips/s) and
that threads, flags, grad mode and module state come back as they were.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from r21d_edu import timing
from r21d_edu.counting import count_macs
from r21d_edu.factorized import FACTORIZED_LAYERS, P3DA, TemporalShiftConv
from r21d_edu.fast import make_fast
from r21d_edu.layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv
from r21d_edu.timing import (
    Variant,
    compare,
    count_work,
    environment,
    infer_method,
    lookup_device,
    time_module,
    time_side_by_side,
)

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SHAPE = (2, 8, 4, 10, 10)
FAST = {"repeats": 3, "warmup": 1, "warmup_s": 0.0}


def _bn_layer(c_in: int = 8, c_out: int = 8) -> SpatioTemporalConv:
    torch.manual_seed(0)
    layer = SpatioTemporalConv(c_in, c_out, 3, padding=1, bias=False)
    with torch.no_grad():
        layer.bn.running_mean.normal_()
        layer.bn.running_var.uniform_(0.5, 2.0)
    return layer


# ---- devices and environment ------------------------------------------------

def test_known_devices_are_matched_by_their_cuda_names():
    h100 = lookup_device("NVIDIA H100 80GB HBM3")
    assert h100 is not None and h100.bandwidth_tbs == 3.35
    assert h100.peak_for(torch.bfloat16, tf32=False) == 989.0
    assert h100.peak_for(torch.float32, tf32=True) == 495.0
    assert h100.peak_for(torch.float32, tf32=False) == 67.0
    assert lookup_device("NVIDIA H200").bandwidth_tbs == 4.8
    # Other H100 form factors have other peaks: better unknown than wrong.
    assert lookup_device("NVIDIA H100 PCIe") is None
    assert lookup_device("NVIDIA H200 NVL") is None
    assert lookup_device("NVIDIA GeForce RTX 4090") is None


def test_environment_records_versions_threads_and_load():
    env = environment("cpu")
    assert env.torch == torch.__version__
    assert env.threads == torch.get_num_threads()
    assert env.device == "cpu" and env.cpu_model
    assert "torch" in env._repr_html_() and "threads: " in str(env)


# ---- counting the work ------------------------------------------------------

def test_flops_of_a_3d_conv_are_two_macs_per_weight_and_output_position():
    conv = FullConv3d(8, 16, 3, padding=1, bias=False)
    work = count_work(conv, SHAPE)
    positions = 2 * 4 * 10 * 10
    assert work.flops == 2 * (27 * 8 * 16) * positions
    assert work.flops == count_macs(conv, SHAPE).flops
    # One conv reads its input and weights and writes its output, nothing else.
    assert work.bytes_moved == 4 * (2 * 8 * 400 + 27 * 8 * 16 + 2 * 16 * 400)


def test_peak_activation_memory_counts_what_the_call_creates():
    conv = FullConv3d(8, 16, 3, padding=1, bias=False)
    output_bytes = 4 * 2 * 16 * 400
    assert count_work(conv, SHAPE).peak_activation_bytes == output_bytes
    layer = _bn_layer().eval()
    middle_bytes = 4 * 2 * layer.intermediate_channels * 400
    # Spatial output and BatchNorm output are alive together (ReLU then works in place).
    assert count_work(layer, SHAPE).peak_activation_bytes >= 2 * middle_bytes
    assert count_work(layer, SHAPE, mode="training").peak_activation_bytes > \
        count_work(layer, SHAPE).peak_activation_bytes


@settings(max_examples=25, deadline=None)
@given(c_in=st.integers(1, 8), c_out=st.integers(1, 8), t=st.integers(1, 3), d=st.integers(1, 3),
       stride=st.integers(1, 2), pad=st.integers(0, 1), n=st.integers(1, 3))
def test_a_conv_moves_its_input_weights_and_output_and_nothing_else(
        c_in, c_out, t, d, stride, pad, n):
    conv = FullConv3d(c_in, c_out, (t, d, d), stride=stride, padding=pad, bias=False)
    shape = (n, c_in, 5, 7, 7)
    out = torch.nn.functional.conv3d(  # the output's shape, on the meta device
        torch.empty(shape, device="meta"), torch.empty_like(conv.weight, device="meta"),
        stride=stride, padding=pad)
    work = count_work(conv, shape, dtype=torch.float64)
    assert work.bytes_moved == 8 * (n * c_in * 5 * 49 + conv.weight.numel() + out.numel())
    assert work.flops == 2 * conv.weight.numel() * n * out[0, 0].numel()
    assert work.flops == count_macs(conv, shape).flops
    assert work.kernels == 1


def test_traced_flops_match_the_counting_module_for_both_2plus1d_layers():
    layer = _bn_layer()
    naive = NaiveConv2Plus1d.from_factorized(layer)
    for module in (layer, naive):
        assert count_work(module, SHAPE).flops == count_macs(module, SHAPE).flops


def test_training_costs_three_passes_of_conv_flops():
    # forward, gradient of the input, gradient of the weights: each as many MACs.
    conv = FullConv3d(8, 8, 3, padding=1, bias=False)
    assert count_work(conv, SHAPE, mode="training").flops == 3 * count_work(conv, SHAPE).flops


def test_naive_layer_moves_more_bytes_and_fast_path_fewer_than_plain():
    layer = _bn_layer().eval()
    plain = count_work(layer, SHAPE).bytes_moved
    naive = count_work(NaiveConv2Plus1d.from_factorized(layer), SHAPE).bytes_moved
    fast = count_work(make_fast(layer), SHAPE).bytes_moved
    assert naive > plain > fast  # reshape copies vs. separate BN and ReLU passes vs. folded


def test_a_relu_fused_into_the_conv_saves_one_read_and_one_write_of_the_middle():
    layer = _bn_layer().eval()
    fast = make_fast(layer, pad_to=1)
    unfused, fused = count_work(fast, SHAPE), count_work(fast, SHAPE, fused_conv_relu=True)
    middle_bytes = 4 * SHAPE[0] * layer.intermediate_channels * 4 * 10 * 10
    assert unfused.bytes_moved - fused.bytes_moved == 2 * middle_bytes
    assert (unfused.kernels, fused.kernels) == (3, 2)
    # In the plain layer the ReLU follows BatchNorm, not the conv: nothing to fuse.
    assert count_work(layer, SHAPE, fused_conv_relu=True) == count_work(layer, SHAPE)
    assert count_work(FullConv3d(8, 8, 3, padding=1), SHAPE).kernels == 1


def test_count_work_changes_nothing_in_the_module():
    layer = _bn_layer().train()
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    count_work(layer, SHAPE, mode="training")
    assert layer.training and all(p.grad is None for p in layer.parameters())
    assert all(torch.equal(before[k], v) for k, v in layer.state_dict().items())


# ---- one timing ---------------------------------------------------------------

def test_result_bookkeeping_is_consistent():
    layer = _bn_layer()
    result = time_module(layer, SHAPE, repeats=5, warmup=1, warmup_s=0.0)
    assert result.method == "2plus1d" and result.label == "(2+1)D conv"
    assert len(result.samples_ms) == 5
    assert min(result.samples_ms) <= result.q25_ms <= result.median_ms <= result.q75_ms
    assert result.q75_ms <= max(result.samples_ms)
    assert result.clips_per_s == pytest.approx(SHAPE[0] / (result.median_ms / 1e3))
    assert result.achieved_tflops == pytest.approx(result.flops / (result.median_ms / 1e3) / 1e12)
    assert result.flops_source == "r21d_edu.counting"
    assert result.threads == torch.get_num_threads()
    # A CPU's peak is not known: say so instead of inventing one.
    assert result.fraction_of_peak is None and result.bound == "unknown"
    assert any("CPU peak unknown" in note for note in result.notes)
    assert "(2+1)D conv" in result._repr_html_()
    assert "samples_ms" not in result.as_row()


def test_a_given_peak_gives_roofline_numbers():
    conv = FullConv3d(8, 8, 3, padding=1)
    result = time_module(conv, SHAPE, peak_tflops=1.0, bandwidth_tbs=0.05, **FAST)
    compute_ms = result.flops / 1e12 * 1e3
    memory_ms = result.bytes_moved / 0.05e12 * 1e3
    assert result.roofline_ms == pytest.approx(max(compute_ms, memory_ms))
    assert result.bound == ("compute" if compute_ms >= memory_ms else "memory")
    assert result.fraction_of_roofline == pytest.approx(result.roofline_ms / result.median_ms)
    assert result.fraction_of_peak == pytest.approx(result.achieved_tflops / 1.0)


def test_methods_are_inferred_from_the_layer_class():
    layer = _bn_layer().eval()
    assert infer_method(FullConv3d(2, 2, 3)) == "3d"
    assert infer_method(nn.Conv3d(2, 2, 3)) == "3d"
    assert infer_method(NaiveConv2Plus1d(2, 2, 3)) == "naive"
    assert infer_method(layer) == "2plus1d"
    assert infer_method(make_fast(layer)) == "fast"
    with pytest.raises(ValueError, match="pass method="):
        infer_method(nn.Sequential(nn.Conv3d(2, 2, 3)))
    for key, cls in FACTORIZED_LAYERS.items():
        assert infer_method(cls(8, 8, 3, padding=1)) == key
    gated = make_fast(FACTORIZED_LAYERS["s3d_g"](8, 8, 3, padding=1).eval())
    assert infer_method(gated) == "fast"
    assert time_module(gated, SHAPE, **FAST).method == "fast"
    with pytest.raises(ValueError, match="inference-only"):
        time_module(gated, SHAPE, mode="training", **FAST)


@pytest.mark.parametrize("mode", ["inference", "training"])
def test_the_whole_family_is_timed_side_by_side_with_3d_and_2plus1d(mode):
    torch.manual_seed(0)
    members = {key: cls(8, 8, 3, padding=1) for key, cls in FACTORIZED_LAYERS.items()}
    variants = [Variant("", FullConv3d(8, 8, 3, padding=1)),
                Variant("", SpatioTemporalConv(8, 8, 3, padding=1)),
                *(Variant("", layer) for layer in members.values())]
    results = time_side_by_side(variants, SHAPE, mode=mode, **FAST)
    assert [r.method for r in results] == ["3d", "2plus1d", *FACTORIZED_LAYERS]
    assert [r.label for r in results[2:]] == [cls.label for cls in FACTORIZED_LAYERS.values()]
    for result, variant in zip(results, variants, strict=True):
        assert result.median_ms > 0 and len(result.samples_ms) == FAST["repeats"]
        traced = count_work(variant.module, SHAPE, mode=mode).flops
        if mode == "inference":
            # The package's own count, which equals the traced one (FlopCounterMode).
            assert result.flops_source == "r21d_edu.counting"
            assert result.flops == count_macs(variant.module, SHAPE).flops == traced
        else:
            assert result.flops == traced
    # TSM's shift costs nothing: its FLOPs are the 2D conv's.
    conv_2d = nn.Conv3d(8, 8, (1, 3, 3), padding=(0, 1, 1))
    assert results[-1].flops == count_work(conv_2d, SHAPE, mode=mode).flops


def test_a_family_member_can_be_named_by_its_key_and_bad_keys_are_refused():
    layer = P3DA(8, 8, 3, padding=1)
    assert time_module(layer, SHAPE, method="p3d_a", **FAST).label == "P3D-A"
    assert time_module(TemporalShiftConv(8, 8, 3, padding=1), SHAPE, label="TSM",
                       **FAST).method == "tsm"
    with pytest.raises(ValueError, match="method must be one of .*'p3d_a'.*'tsm'"):
        time_module(layer, SHAPE, method="p3d_d")


# ---- leaving the process as it was ---------------------------------------------

def test_threads_flags_and_grad_mode_are_restored():
    threads = torch.get_num_threads()
    flags = (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32)
    with torch.no_grad():
        time_module(_bn_layer(), SHAPE, threads=1, mode="training", **FAST)
        assert not torch.is_grad_enabled()
    assert torch.get_num_threads() == threads
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32) == flags
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_module_mode_bn_statistics_and_grads_are_restored():
    layer = _bn_layer().eval()
    stats = {k: v.clone() for k, v in layer.state_dict().items()}
    marker = torch.full_like(layer.spatial.weight, 7.0)
    layer.spatial.weight.grad = marker
    time_module(layer, SHAPE, mode="training", **FAST)  # BN in train mode updates its stats
    assert not layer.training and not layer.bn.training
    assert all(torch.equal(stats[k], v) for k, v in layer.state_dict().items())
    assert layer.spatial.weight.grad is marker and layer.temporal.weight.grad is None
    layer.train()
    time_module(layer, SHAPE, mode="inference", **FAST)
    assert layer.training and layer.bn.training


def test_other_dtypes_are_timed_on_a_copy_leaving_the_module_alone():
    layer = _bn_layer()
    result = time_module(layer, SHAPE, dtype=torch.float64, **FAST)
    assert result.dtype == "float64" and layer.spatial.weight.dtype == torch.float32


# ---- errors that teach ------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without GPU")
def test_cuda_without_a_gpu_is_refused_plainly():
    with pytest.raises(RuntimeError, match=r"torch.cuda.is_available\(\) is False.*device='cpu'"):
        time_module(_bn_layer(), SHAPE, device="cuda")
    with pytest.raises(RuntimeError, match="is_available"):
        environment("cuda")


def test_unknown_devices_modes_shapes_and_dtypes_are_refused():
    layer = _bn_layer()
    with pytest.raises(ValueError, match="'cpu' and 'cuda'"):
        time_module(layer, SHAPE, device="meta")
    with pytest.raises(ValueError, match="'inference' or 'training'"):
        time_module(layer, SHAPE, mode="eval")
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\) with 5 entries"):
        time_module(layer, (8, 4, 10, 10))
    with pytest.raises(TypeError, match="not the tensor itself"):
        time_module(layer, torch.zeros(SHAPE))
    with pytest.raises(TypeError, match="dtype must be one of"):
        time_module(layer, SHAPE, dtype=torch.int32)
    with pytest.raises(ValueError, match="method must be one of"):
        time_module(layer, SHAPE, method="4d")


def test_a_dtype_the_device_cannot_run_is_refused(monkeypatch):
    # Record the probe's answer as a backend without half-precision conv kernels gives it.
    monkeypatch.setitem(timing.dtype_probe_cache, ("cpu", torch.float16),
                        "\"slow_conv3d_cpu\" not implemented for 'Half'")
    with pytest.raises(TypeError, match="float16 convolutions cannot run on cpu.*float32"):
        time_module(_bn_layer(), SHAPE, dtype=torch.float16)


def test_the_fast_path_is_not_timed_in_training():
    with pytest.raises(ValueError, match="inference-only"):
        time_module(make_fast(_bn_layer().eval()), SHAPE, mode="training")


def test_sizes_beyond_memory_are_refused_before_allocating():
    threads = torch.get_num_threads()
    with pytest.raises(MemoryError, match="needs about .* GiB.*smaller batch"):
        time_module(FullConv3d(64, 64, 3, padding=1), (64, 64, 512, 512, 512), threads=1)
    assert torch.get_num_threads() == threads


class _RunsOutOfMemory(nn.Module):
    """Fails like the CPU allocator does once the warm-up is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(8, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu":  # the meta-device trace that counts work passes
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: "
                               "can't allocate memory: you tried to allocate 1 TB")
        return self.conv(x)


def test_running_out_of_memory_becomes_a_clear_error_and_state_is_restored():
    module = _RunsOutOfMemory().eval()
    threads = torch.get_num_threads()
    with pytest.raises(MemoryError, match="ran out of memory .* state was restored"):
        time_module(module, SHAPE, method="3d", threads=1, mode="training", **FAST)
    assert torch.get_num_threads() == threads and not module.training
    assert torch.is_grad_enabled() and module.conv.weight.grad is None


def test_other_errors_pass_through_unchanged():
    with pytest.raises(ValueError, match="expects 8 input channels"):
        time_module(_bn_layer(), (2, 3, 4, 10, 10))


# ---- side by side -------------------------------------------------------------------

def test_compare_times_every_variant_and_skips_the_fast_path_in_training():
    layer = _bn_layer().eval()
    variants = [
        Variant("3D", FullConv3d(8, 8, 3, padding=1, bias=False)),
        Variant("naive", NaiveConv2Plus1d.from_factorized(layer)),
        Variant("(2+1)D", layer),
        Variant("fast", make_fast(layer), memory_format=torch.channels_last_3d),
    ]
    result = compare(variants, SHAPE, modes=("inference", "training"), **FAST)
    assert [(r.label, r.mode) for r in result.results] == [
        ("3D", "inference"), ("naive", "inference"), ("(2+1)D", "inference"),
        ("fast", "inference"), ("3D", "training"), ("naive", "training"),
        ("(2+1)D", "training")]
    assert [r.method for r in result.results[:4]] == ["3d", "naive", "2plus1d", "fast"]
    assert result.skipped == ["fast is inference-only: not timed in training"]
    by_label = {r.label: r for r in result.results if r.mode == "inference"}
    assert result.speedup("fast", "2plus1d") == pytest.approx(
        by_label["(2+1)D"].median_ms / by_label["fast"].median_ms)
    with pytest.raises(KeyError, match="no training result for method 'fast'"):
        result.speedup("fast", "2plus1d", mode="training")
    page = result._repr_html_()
    assert "speed vs (2+1)D" in page and "inference-only" in page and "environment" in page
    assert {"label", "method", "median_ms", "q25_ms", "q75_ms"} <= set(result.rows()[0])


class _Recorder(nn.Module):
    """Writes its name into a shared log on every real (non-meta) call."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log
        self.conv = nn.Conv3d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu":
            self.log.append(self.name)
        return self.conv(x)


def test_side_by_side_samples_are_taken_in_turns():
    log: list[str] = []
    variants = [Variant("a", _Recorder("a", log), "3d"), Variant("b", _Recorder("b", log), "3d")]
    results = time_side_by_side(variants, SHAPE, repeats=3, warmup=1, warmup_s=0.0,
                                min_sample_s=0.0)
    # Warm-up and calibration call of each, then rounds a-b, b-a, a-b: noise hits both alike.
    assert log == ["a", "a", "b", "b", "a", "b", "b", "a", "a", "b"]
    assert [r.label for r in results] == ["a", "b"]
    assert all(len(r.samples_ms) == 3 and r.calls_per_sample == 1 for r in results)
    with pytest.raises(ValueError, match="at least one Variant"):
        time_side_by_side([], SHAPE)


def test_compare_draws_its_results_with_the_shared_timing_plot():
    pytest.importorskip("r21d_edu.viz.timing")
    from matplotlib.figure import Figure

    layer = _bn_layer()
    result = compare([Variant("a", FullConv3d(8, 8, 3, padding=1)), Variant("b", layer)],
                     SHAPE, modes=("inference", "training"), **FAST)
    assert isinstance(result.figure(), Figure)
    assert isinstance(result.figure("training"), Figure)
    with pytest.raises(ValueError, match="at least one Variant"):
        compare([], SHAPE)


# ---- the tutorial-03 explorer --------------------------------------------------------

def test_timing_explorer_shows_a_figure_and_a_table_and_redraws_on_change():
    from r21d_edu.widgets.timing import timing_explorer

    explorer = timing_explorer(repeats=1)
    assert explorer.image.value[:4] == b"\x89PNG"
    assert [r.method for r in explorer.comparison.results] == ["3d", "naive", "2plus1d", "fast"]
    explorer.controls["channels"].value = 8
    explorer.controls["mode"].value = "training"
    results = explorer.comparison.results
    assert [r.method for r in results] == ["3d", "naive", "2plus1d"]
    assert results[0].input_shape == (1, 8, 4, 16, 16)
    assert "inference-only" in explorer.table.value and explorer.message.value == ""


# ---- GPU ------------------------------------------------------------------------------

@pytest.mark.gpu
@needs_gpu
def test_cuda_timing_records_peak_memory_and_restores_flags():
    flags = (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32)
    result = time_module(_bn_layer(), SHAPE, device="cuda", tf32=False, **FAST)
    assert result.peak_memory_bytes is not None and result.peak_memory_bytes > 0
    assert any("full FP32" in note for note in result.notes)
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32) == flags


@pytest.mark.gpu
@needs_gpu
def test_cuda_bfloat16_inference_and_training_run():
    layer = _bn_layer()
    for mode in ("inference", "training"):
        result = time_module(layer, SHAPE, device="cuda", dtype=torch.bfloat16, mode=mode, **FAST)
        assert result.dtype == "bfloat16" and result.device.startswith("cuda")
    assert layer.spatial.weight.device.type == "cpu"


@pytest.mark.gpu
@needs_gpu
def test_cuda_refuses_what_does_not_fit_in_gpu_memory():
    free, _ = torch.cuda.mem_get_info()
    side = 1 + int((free / 4 / 64) ** (1 / 3))  # one float32 input alone exceeds free memory
    with pytest.raises(MemoryError, match="needs about"):
        time_module(FullConv3d(64, 64, 3, padding=1), (1, 64, side, side, side), device="cuda")


def test_one_settings_object_or_the_old_keywords_time_the_same_way() -> None:
    quick = timing.TimingSettings(repeats=3, warmup=1, warmup_s=0.0, threads=1)
    layer = _bn_layer()
    by_object = timing.time_module(layer, SHAPE, quick)
    by_keywords = timing.time_module(layer, SHAPE, repeats=3, warmup=1, warmup_s=0.0, threads=1)
    assert by_object.repeats == by_keywords.repeats == 3
    assert by_object.threads == by_keywords.threads == 1
    # Keywords replace the object's fields: one run in training mode, from the same settings.
    trained = timing.time_module(layer, SHAPE, quick, mode="training")
    assert trained.mode == "training" and quick.mode == "inference"
    results = timing.time_side_by_side([timing.Variant("a", layer)], SHAPE, quick, seed=1)
    assert results[0].repeats == 3
    with pytest.raises(TypeError, match="unexpected keyword argument.*repeat_count.*repeats"):
        timing.time_module(layer, SHAPE, repeat_count=3)
    with pytest.raises(TypeError, match="settings must be a TimingSettings"):
        timing.time_module(layer, SHAPE, {"repeats": 3})


def test_compare_takes_the_settings_object_too() -> None:
    quick = timing.TimingSettings(repeats=2, warmup=1, warmup_s=0.0, threads=1)
    result = timing.compare([Variant("a", _bn_layer())], SHAPE, quick,
                            modes=("inference", "training"))
    assert [r.mode for r in result.results] == ["inference", "training"]
    assert all(r.repeats == 2 and r.threads == 1 for r in result.results)
