"""Tutorial 06's exercises (the low-rank view), registered in `r21d_edu.exercises`."""

from __future__ import annotations

from typing import Any

from ._base import register
from ._support import as_int_tuple, expect

# ==========================================================================
# Tutorial 06: the low-rank view
# ==========================================================================


def _check_06_1(answer: Any) -> str:
    full, m = as_int_tuple(answer, 2, "(full rank, paper's M)")
    expect(full == 320, f"the unfolded kernel is (C_out·t) × (C_in·d²) = 320 × 1,600, so the "
                         f"full rank is min(320, 1600) = 320, not {full}")
    expect(m == 266, f"M = floor(125·64·64 / (25·64 + 5·64)) = floor(512,000 / 1,920) = 266, "
                      f"not {m}")
    return "full rank 320, M = 266: 83 % of the full rank (it was 75 % for 3×3×3)"


register(
    "06", 1,
    prompt="Factorize a 5×5×5 conv (64 → 64). What are the full rank and the paper's M, and "
           "what share of the full rank is M now?",
    hand_in="a pair (full rank, paper's M)",
    hint="`energy_profile(nn.Conv3d(64, 64, 5))` has `full_rank` and `paper_rank`.",
    solution="""
        import torch
        from torch import nn
        from r21d_edu import energy_profile

        torch.manual_seed(0)
        profile = energy_profile(nn.Conv3d(64, 64, 5))
        answer = (profile.full_rank, profile.paper_rank)   # (320, 266)
        print(f"M / full rank = {answer[1] / answer[0]:.1%}")
    """,
    check=_check_06_1,
)


def _check_06_2(answer: Any) -> str:
    from ..lowrank import energy_profile, smooth_kernel

    expect(isinstance(answer, dict) and set(map(float, answer)) == {0.0, 0.5, 1.0, 2.0},
            f"hand in {{decay: energy at M = 144}} for decay 0, 0.5, 1 and 2, got {answer!r}")
    truth = {d: energy_profile(smooth_kernel(64, 64, 3, decay=d, seed=0)).energy_at(144)
             for d in (0.0, 0.5, 1.0, 2.0)}
    for d, energy in truth.items():
        got = float(answer[d] if d in answer else answer[int(d)])
        expect(abs(got - energy) < 1e-6, f"decay {d:g}: expected {energy:.4%} at rank 144 "
                                          f"(smooth_kernel(64, 64, 3, decay=d, seed=0)), got {got}")
    return ("the energy at M = 144 grows with the decay: "
            + ", ".join(f"{d:g} → {e:.2%}" for d, e in truth.items())
            + ". decay = 0 gives every frequency the same weight: white noise, like a random "
              "init, which spreads its energy over all 192 ranks")


register(
    "06", 2,
    prompt="Train nothing: build `smooth_kernel(64, 64, 3, decay=d)` for `d in (0, 0.5, 1, 2)` "
           "and plot the energy at M = 144 against d. What does `decay=0` give?",
    hand_in="a dict {decay: energy at rank 144} for the four decays (seed=0)",
    hint="`energy_profile(smooth_kernel(...)).energy_at(144)`.",
    solution="""
        from r21d_edu import energy_profile, smooth_kernel

        answer = {d: energy_profile(smooth_kernel(64, 64, 3, decay=d, seed=0)).energy_at(144)
                  for d in (0.0, 0.5, 1.0, 2.0)}
        print({d: f"{energy:.2%}" for d, energy in answer.items()})
    """,
    check=_check_06_2,
)

_TEMPORAL_FIRST = {"temporal first", "temporal-then-spatial", "temporal then spatial",
                   "t×1×1 then 1×d×d", "temporal conv first"}


def _check_06_3(answer: Any) -> str:
    expect(isinstance(answer, str), f"hand in 'temporal first' or 'spatial first', got {answer!r}")
    text = answer.strip().lower()
    expect(text in _TEMPORAL_FIRST | {"spatial first", "spatial-then-spatial"},
            f"hand in 'temporal first' or 'spatial first', got {answer!r}")
    expect(text in _TEMPORAL_FIRST,
            "not spatial first: with (C_out·d²) rows and (C_in·t) columns the right factor "
            "maps C_in·t inputs (a time window) to M channels — a t×1×1 conv comes first")
    return ("temporal first: (C_out·d²) × (C_in·t) = [C_out·d² × M]·[M × C_in·t] is a t×1×1 "
            "conv into M channels followed by a 1×d×d conv — what PyTorchVideo's "
            "create_conv_2plus1d does by default")


register(
    "06", 3,
    prompt="Why is time on the rows and space on the columns? Unfold the kernel the other way, "
           "(C_out·d²) × (C_in·t), and say which layer that factorization would describe.",
    hand_in="'temporal first' or 'spatial first'",
    hint="In A = U·V, V acts first on the input's side: which input axes does it see?",
    solution="""
        answer = "temporal first"   # V: (M × C_in·t) is a t×1×1 conv; U: (C_out·d² × M) a 1×d×d conv
    """,
    check=_check_06_3,
)


def _frames_where_bn_shift_breaks() -> list[int]:
    import torch
    from torch import nn

    from ..layers import SpatioTemporalConv
    from ..lowrank import compose

    torch.manual_seed(0)
    layer = SpatioTemporalConv(8, 8, 3, padding=1).double()
    with torch.no_grad():
        layer.bn.running_mean.normal_()
        layer.bn.running_var.uniform_(0.5, 2)
        layer.bn.bias.normal_()
    layer.eval()
    layer[2] = nn.Identity()
    return _compare_to_folded(layer, compose)


def _compare_to_folded(layer: Any, compose: Any) -> list[int]:
    import torch

    from ..layers import SpatioTemporalConv

    bn = layer.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    linear = SpatioTemporalConv(8, 8, 3, padding=1, intermediate_channels=layer.intermediate_channels,
                                middle_bn_relu=False, bias=True).double()
    with torch.no_grad():
        linear.spatial.weight.copy_(layer.spatial.weight * scale.view(-1, 1, 1, 1, 1))
        linear.temporal.weight.copy_(layer.temporal.weight)
        # In the interior every temporal tap sees the shift: it becomes a constant bias.
        linear.temporal.bias.copy_(layer.temporal.bias + (layer.temporal.weight.sum((2, 3, 4))
                                                          @ shift))
    conv = compose(linear)
    clip = torch.randn(1, 8, 6, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        gap = (conv(clip) - layer(clip)).abs().amax((0, 1, 3, 4))
    return [t for t in range(gap.numel()) if gap[t] > 1e-9]


def _check_06_4(answer: Any) -> str:
    expect(isinstance(answer, (list, tuple)), f"hand in a list of frame indices, got {answer!r}")
    expected = _frames_where_bn_shift_breaks()
    expect([int(a) for a in answer] == expected,
            f"with BN folded into a 3D conv (scale into the spatial weights, shift into a "
            f"bias) the outputs do not differ in exactly the frames {list(answer)}: compare "
            "the two layers' outputs frame by frame, and think about the temporal padding")
    return ("only the first and the last frame differ: there the temporal conv's zero "
            "padding sees 0 instead of the BN shift, so no constant bias can stand in for it. "
            "In eval mode without the ReLU the layer is a 3D conv everywhere but at the borders")


register(
    "06", 4,
    prompt="Take `layer = SpatioTemporalConv(8, 8, 3, padding=1).eval()` and drop only its ReLU "
           "with `layer[2] = nn.Identity()`. BatchNorm in eval mode is a per-channel scale and "
           "shift: is the layer a 3D conv now? Compare it with a 3D conv at the first and last "
           "frames. (Hint: what does the temporal conv's zero padding do to the shift?)",
    hand_in="the output frames (of a 6-frame clip) where the layer differs from its best 3D "
            "conv (BN scale folded into the spatial weights, BN shift into a bias), as a list",
    hint="Fold BN: spatial weights × scale; the shift reaches the output through the temporal "
         "weights, Σ_τ w[o, m, τ]·shift[m] — but only for taps that do not fall on padding.",
    solution="""
        import torch
        from torch import nn
        from r21d_edu import SpatioTemporalConv, compose

        torch.manual_seed(0)
        layer = SpatioTemporalConv(8, 8, 3, padding=1).double()
        with torch.no_grad():  # BatchNorm statistics as after training
            layer.bn.running_mean.normal_()
            layer.bn.running_var.uniform_(0.5, 2)
            layer.bn.bias.normal_()
        layer.eval()
        layer[2] = nn.Identity()

        bn = layer.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        linear = SpatioTemporalConv(8, 8, 3, padding=1, intermediate_channels=layer.intermediate_channels,
                                    middle_bn_relu=False, bias=True).double()
        with torch.no_grad():
            linear.spatial.weight.copy_(layer.spatial.weight * scale.view(-1, 1, 1, 1, 1))
            linear.temporal.weight.copy_(layer.temporal.weight)
            linear.temporal.bias.copy_(layer.temporal.bias + layer.temporal.weight.sum((2, 3, 4)) @ shift)
        conv3d = compose(linear)
        clip = torch.randn(1, 8, 6, 8, 8, dtype=torch.float64)
        with torch.no_grad():
            gap = (conv3d(clip) - layer(clip)).abs().amax((0, 1, 3, 4))
        answer = [t for t in range(6) if gap[t] > 1e-9]   # [0, 5]: the first and last frames
    """,
    check=_check_06_4,
)
