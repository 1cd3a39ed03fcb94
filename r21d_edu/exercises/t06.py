"""Tutorial 06's exercises (the low-rank view), registered in `r21d_edu.exercises`."""

from __future__ import annotations

from typing import Any

from ._base import register
from ._support import as_int_tuple, expect, side
from .answers import Function, Incorrect, describe
from .behaviour import draws

# ==========================================================================
# Tutorial 06: the low-rank view
# ==========================================================================


def _check_06_1(answer: Any) -> str:
    full, m = as_int_tuple(answer, 2, "(full rank, paper's M)")
    expect(full == 320, f"a full rank of {full} is {side(full, 320)}: the full rank of the "
                         "unfolded kernel, (C_out·t) × (C_in·d²), is the smaller of its two sides")
    expect(m == 266, f"the full rank is right; M = {m} is {side(m, 266)}: the paper's M is "
                     "floor(t·d²·N_in·N_out / (d²·N_in + t·N_out)) with t = d = 5")
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


# --------------------------------------------------------------------------
# 06.5: factorize a kernel with the SVD (coding, checked by behaviour)
# --------------------------------------------------------------------------

FACTOR_CASES = 6

#: Axis names of a 3D-conv kernel, for messages.
KERNEL_AXES = ("C_out", "C_in", "t", "d_h", "d_w")


def _factor_cases(seed: int = 605) -> list[tuple[str, Any, int]]:
    """(label, float64 kernel (C_out, C_in, t, d_h, d_w), rank).

    Every size differs from the others where it can, so that an unfolding that mixes
    two axes gives a wrong kernel, not a lucky one; d_h != d_w in some, so that
    swapping them shows. The cases: random kernels cut below full rank (the first
    one, where every wrong unfolding already differs), a tall unfolded matrix
    (C_out·t > C_in·d_h·d_w), full rank (energy 1, the kernel itself), rank 1, and a
    rank-deficient kernel asked for its own rank (energy 1 below the full rank).
    """
    import torch

    from ..lowrank import fold_kernel

    rng = draws(seed)
    generator = torch.Generator().manual_seed(rng.randrange(2**31))

    def random(shape: tuple[int, ...]) -> Any:
        return torch.randn(shape, generator=generator, dtype=torch.float64)

    def full(shape: tuple[int, ...]) -> int:
        c_out, c_in, t, d_h, d_w = shape
        return min(c_out * t, c_in * d_h * d_w)

    first = (rng.randint(4, 5), rng.randint(2, 3), 3, 3, 2)
    wide = (rng.randint(2, 3), rng.randint(4, 5), 2, 3, 3)
    tall = (rng.randint(5, 6), 2, 3, 1, 3)
    square = (3, 2, 3, 3, 3)
    single = (rng.randint(3, 4), 3, 3, 3, 3)
    deficient = (4, 3, 3, 3, 3)
    low = random((deficient[0] * 3, 2)) @ random((2, deficient[1] * 9))  # rank 2
    cases = [
        (f"a random {first} kernel", random(first), rng.randint(2, full(first) - 2)),
        (f"a random {wide} kernel", random(wide), rng.randint(2, full(wide) - 1)),
        (f"a random {tall} kernel (unfolded, more rows than columns)", random(tall),
         rng.randint(2, full(tall) - 1)),
        (f"a random {square} kernel at its full rank", random(square), full(square)),
        (f"a random {single} kernel", random(single), 1),
        (f"a {deficient} kernel whose unfolded matrix has rank 2",
         fold_kernel(low, deficient[0], deficient[1], deficient[2:]), 2),
    ]
    return [(f"case {k + 1}: {label}, rank={rank}", kernel, rank)
            for k, (label, kernel, rank) in enumerate(cases)]


def _library_factorization(weight: Any, rank: int) -> tuple[Any, float]:
    """What `r21d_edu.lowrank` gives: the kernel of `factorize(conv, rank)` composed back
    (`composed_kernel`), and `energy_profile(weight).energy_at(rank)`."""
    import torch
    from torch import nn

    from ..lowrank import composed_kernel, energy_profile, factorize

    c_out, c_in, t, d_h, d_w = weight.shape
    # skip_init: no initialisation, so no draw from the learner's RNG.
    conv = nn.utils.skip_init(nn.Conv3d, c_in, c_out, (t, d_h, d_w), bias=False,
                              dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(weight)
    return composed_kernel(factorize(conv, rank)), energy_profile(weight).energy_at(rank)


def _check_06_5(factorize_kernel: Any) -> str:
    import torch

    from .behaviour import call, same_number, same_tensor

    cases = _factor_cases()
    assert len(cases) == FACTOR_CASES
    for case, weight, rank in cases:
        want, want_energy = _library_factorization(weight, rank)
        got = call(factorize_kernel, weight.clone(), rank, case=case,
                   what=f"factorize_kernel(weight, rank={rank})")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Incorrect(f"{case}: factorize_kernel returned {describe(got)}; return a "
                            "pair (approximation, kept_energy)")
        approximation, kept = got
        if isinstance(approximation, torch.Tensor) and approximation.shape == want.shape \
                and approximation.dtype != torch.float64:
            raise Incorrect(f"{case}: the approximation holds {approximation.dtype} values; "
                            "keep the kernel's float64, so that it can be compared exactly")
        same_tensor(approximation, want, case=case, what="the approximation",
                    reference="lowrank.factorize", atol=1e-10,
                    rtol=1e-8, axes=KERNEL_AXES)
        same_number(kept, want_energy, case=case, what="kept_energy",
                    reference="the share lowrank.energy_profile keeps at this rank",
                    rel=1e-9, absolute=1e-12)
    return (f"the same kernel and energy as r21d_edu.lowrank on all {FACTOR_CASES} cases: "
            "unfold with time on the output side, (C_out·t) × (C_in·d_h·d_w), keep the top "
            "singular triplets, fold back. At full rank or at a kernel's own rank nothing is "
            "lost; below it the energy kept is the share of the squared singular values, and "
            "the kernel error is the rest. Split each √s between the two factors and you have "
            "the (2+1)D layer's weights: factorize does exactly that")


register(
    "06", 5,
    prompt="Write the SVD step of `factorize` yourself: `factorize_kernel(weight, rank)` takes "
           "a float64 3D kernel (C_out, C_in, t, d_h, d_w), unfolds it as `unfold_kernel` "
           "does, (C_out·t) × (C_in·d_h·d_w), takes `torch.linalg.svd`, keeps the top `rank` "
           "components and returns `(approximation, kept_energy)`: the best rank-`rank` "
           "kernel, folded back to (C_out, C_in, t, d_h, d_w), and the share of the squared "
           "singular values it keeps (a float between 0 and 1).",
    hand_in="your function factorize_kernel (the function itself, not a call)",
    hint=["Which axes go on the rows, and in which order must they sit before a reshape can "
          "merge them? After the SVD, which singular values does the rank keep — and is "
          "energy measured on the singular values or on their squares?",
          "Permute to (C_out, t, C_in, d_h, d_w) and reshape to (C_out·t, C_in·d_h·d_w); "
          "`U, S, Vh = torch.linalg.svd(matrix, full_matrices=False)`; the rank-r matrix is "
          "`U[:, :r] @ diag(S[:r]) @ Vh[:r]`; reshape it to (C_out, t, C_in, d_h, d_w) and "
          "permute back. The energy is (S[:r]²).sum() / (S²).sum()."],
    solution="""
        import torch

        def factorize_kernel(weight, rank):
            ### BEGIN SOLUTION
            c_out, c_in, t, d_h, d_w = weight.shape
            matrix = weight.permute(0, 2, 1, 3, 4).reshape(c_out * t, c_in * d_h * d_w)
            u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
            low = u[:, :rank] @ torch.diag(s[:rank]) @ vh[:rank]
            approximation = low.reshape(c_out, t, c_in, d_h, d_w).permute(0, 2, 1, 3, 4)
            squares = s ** 2
            kept_energy = float(squares[:rank].sum() / squares.sum())
            return approximation, kept_energy
            ### END SOLUTION

        answer = factorize_kernel
    """,
    check=_check_06_5,
    expects=Function("a function factorize_kernel(weight, rank)"),
)
