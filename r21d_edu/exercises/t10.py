"""Self-checks for tutorial 10's exercises (The family of factorizations).

Imported by `r21d_edu.exercises.all_exercises` through ``PROVIDERS``, so the tests run
every solution below through its check without opening the notebook. 10.1 and 10.2 are
coding exercises checked by behaviour: P3D-B's forward written from its parts against
the module in float64, and ip-CSN's weight count against `r21d_edu.counting`.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any

from ._base import register
from .answers import Choice, Function, Incorrect, Int, Number, TupleOf, describe
from .behaviour import call, draws, same_tensor

__all__: list[str] = []


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Incorrect(message)


def _side(got: float, want: float) -> str:
    return "too large" if got > want else "too small"


# --------------------------------------------------------------------------
# 10.1: P3D-B's forward from its parts (coding, checked by behaviour)
# --------------------------------------------------------------------------

#: (kernel, stride, padding, middle_bn_relu) of the drawn P3D-B layers: "same" padding,
#: none (the centre taps matter), strides, a longer kernel, and the linear layer.
P3D_B_SETTINGS = [
    ((3, 3, 3), 1, 1, True),
    ((3, 3, 3), 1, 0, True),
    ((3, 3, 3), 2, 1, False),
    ((5, 3, 3), (1, 2, 2), (2, 1, 1), True),
    ((3, 1, 1), 1, 0, False),
]


def _p3d_b_cases(seed: int = 1001) -> list[tuple[str, Any, Any]]:
    """(label, layer, clip): seeded float64 P3D-B layers in eval mode, with BatchNorm
    statistics that are not the identity, and clips for them."""
    import torch

    from ..factorized import P3DB

    rng = draws(seed)
    cases = []
    with torch.random.fork_rng():  # the learner's RNG stays where it was
        torch.manual_seed(rng.randrange(2**31))
        for k, (kernel, stride, padding, middle) in enumerate(P3D_B_SETTINGS):
            c_in, c_out = rng.randint(2, 4), rng.randint(2, 5)
            layer = P3DB(c_in, c_out, kernel, stride, padding, middle_bn_relu=middle).double()
            with torch.no_grad():
                for bn in (m for m in layer.modules() if isinstance(m, torch.nn.BatchNorm3d)):
                    bn.running_mean.uniform_(-0.5, 0.5)
                    bn.running_var.uniform_(0.5, 2.0)
                    bn.weight.uniform_(0.5, 1.5)
                    bn.bias.uniform_(-0.5, 0.5)
            layer.eval()
            x = torch.randn(2, c_in, 5, 6, 7, dtype=torch.float64)
            label = (f"case {k + 1}: P3DB({c_in}, {c_out}, kernel_size={kernel}, stride={stride}, "
                     f"padding={padding}, middle_bn_relu={middle}) in eval mode, float64 clip "
                     f"{tuple(x.shape)}")
            cases.append((label, layer, x))
    return cases


def _parts_only(layer: Any) -> Any:
    """A copy of the layer whose own forward refuses to run: the exercise is to call
    its parts."""
    parts = copy.deepcopy(layer)

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise Incorrect("your function called the P3D-B layer itself; the exercise is to "
                        "compute its output from its parts (layer.spatial, layer.temporal, "
                        "...), so calling the whole layer is switched off here")

    parts.forward = refuse
    return parts


def _check_10_1(p3d_b_forward: Any) -> str:
    import torch

    for case, layer, x in _p3d_b_cases():
        with torch.no_grad():
            want = layer(x)
            got = call(p3d_b_forward, _parts_only(layer), x.clone(), case=case,
                       what="p3d_b_forward(layer, x)")
        same_tensor(got, want, case=case, what="your output", reference="the layer",
                    atol=1e-10, rtol=1e-9, axes=("N", "C", "T", "H", "W"))
    return (f"the same output as P3DB on all {len(P3D_B_SETTINGS)} cases, in float64: each "
            "path reads the input under its own centre taps (S on the frames under the "
            "centre of the t-window, T on the pixels under the centre of the d×d window), "
            "gets its own BatchNorm + ReLU, and the two are summed. With 'same' padding and "
            "stride 1 the taps are the identity, which is why P3D-B is usually written "
            "y = S(x) + T(x)")


register(
    "10", 1,
    prompt="Write P3D-B's forward from its parts: `p3d_b_forward(layer, x)` takes a "
           "`P3DB` layer and a clip (N, C_in, T, H, W) and returns what `layer(x)` returns, "
           "calling only the layer's submodules (`print(layer)` lists them) — not the layer "
           "itself.",
    hand_in="your function p3d_b_forward (the function itself, not a call)",
    hint=["P3D-B has two paths that both read x and are summed. `print(P3DB(4, 4, 3))` "
          "lists its parts in the order they are made; the block diagram shows which reads "
          "what. Without padding, why can the two paths not simply be added?",
          "Spatial path: `frames`, `spatial`, `bn_spatial`, `relu_spatial`; temporal path: "
          "`pixels`, `temporal`, `bn_temporal`, `relu_temporal`; each applied in that order "
          "to x, then add the two results."],
    solution="""
        import torch

        def p3d_b_forward(layer, x):
            ### BEGIN SOLUTION
            s = layer.relu_spatial(layer.bn_spatial(layer.spatial(layer.frames(x))))
            t = layer.relu_temporal(layer.bn_temporal(layer.temporal(layer.pixels(x))))
            return s + t
            ### END SOLUTION

        answer = p3d_b_forward
    """,
    check=_check_10_1,
    expects=Function("a function p3d_b_forward(layer, x)"),
)


# --------------------------------------------------------------------------
# 10.2: ip-CSN's weight count (coding, checked against counting)
# --------------------------------------------------------------------------

WEIGHT_CASES = 6


def _weight_cases(seed: int = 1002) -> list[tuple[str, tuple[int, int, int, int]]]:
    """(label, (C_in, C_out, t, d)): the issue's 64 -> 64, 3×3×3, then drawn sizes,
    one input channel, t = 1 and d = 1."""
    rng = draws(seed)
    sizes = [(64, 64, 3, 3),
             (rng.randint(2, 40), rng.randint(2, 40), 3, 3),
             (rng.randint(2, 40), rng.randint(41, 96), rng.choice((5, 7)), 3),
             (1, rng.randint(2, 16), 3, rng.choice((5, 7))),
             (rng.randint(2, 24), rng.randint(2, 24), 1, 3),
             (rng.randint(2, 24), rng.randint(2, 24), 3, 1)]
    return [(f"case {k + 1}: (C_in, C_out, t, d) = {size}", size) for k, size in enumerate(sizes)]


def _library_weights(c_in: int, c_out: int, t: int, d: int) -> int:
    """`count_parameters(...).weights` of a bias-free ip-CSN layer, built on the meta device."""
    import torch

    from ..counting import count_parameters
    from ..factorized import IpCSNConv

    with torch.device("meta"):
        layer = IpCSNConv(c_in, c_out, (t, d, d), bias=False)
    return count_parameters(layer).weights


def _check_10_2(ip_csn_weights: Any) -> str:
    assert len(_weight_cases()) == WEIGHT_CASES
    for case, (c_in, c_out, t, d) in _weight_cases():
        got = call(ip_csn_weights, c_in, c_out, t, d, case=case,
                   what="ip_csn_weights(c_in, c_out, t, d)")
        if hasattr(got, "item") and getattr(got, "ndim", 1) == 0:
            got = got.item()  # a 0-d tensor or a NumPy scalar
        if isinstance(got, bool) or not isinstance(got, (numbers.Integral, float)) or (
                isinstance(got, float) and not got.is_integer()):
            raise Incorrect(f"{case}: ip_csn_weights returned {describe(got)}; return the "
                            "count as an int")
        got, want = int(got), _library_weights(c_in, c_out, t, d)
        if got == want:
            continue
        if got == t * d * d * c_out:
            raise Incorrect(f"{case}: {got:,} is too small — that is the depthwise conv "
                            "alone; ip-CSN keeps a conv in front of it that mixes channels")
        if got == t * d * d * c_in * c_out:
            raise Incorrect(f"{case}: {got:,} is too large — that is the full 3D conv, whose "
                            "every output channel reads every input channel over t×d×d")
        raise Incorrect(f"{case}: {got:,} weights is {_side(got, want)}: count the two convs "
                        "of ip-CSN one by one, each as (input channels per group) × (kernel "
                        "volume) × (output channels)")
    return (f"the same count as r21d_edu.counting on all {WEIGHT_CASES} cases: C_in·C_out for "
            "the 1×1×1 conv plus t·d²·C_out for the depthwise conv (one t×d×d kernel per "
            "channel) — against t·d²·C_in·C_out for the 3D conv. The channel mixing costs "
            "no more than a 1×1×1 conv; the spatio-temporal filtering no more than one kernel "
            "per channel")


register(
    "10", 2,
    prompt="Write ip-CSN's weight count: `ip_csn_weights(c_in, c_out, t, d)` returns the "
           "number of weights (no bias, no BatchNorm) of `IpCSNConv(c_in, c_out, (t, d, d), "
           "bias=False)` as an int, from the four sizes alone — no layer built.",
    hand_in="your function ip_csn_weights (the function itself, not a call)",
    hint=["ip-CSN is two convs in a row (its block diagram shows them). For each: how many "
          "input channels does one output channel read, and over how large a kernel?",
          "A 1×1×1 conv from C_in to C_out (every output reads every input over one tap), "
          "then a depthwise t×d×d conv on C_out channels (groups = C_out: each output reads "
          "one channel): add the two counts."],
    solution="""
        def ip_csn_weights(c_in, c_out, t, d):
            ### BEGIN SOLUTION
            pointwise = c_in * c_out           # 1x1x1: every output channel reads every input
            depthwise = t * d * d * c_out      # one t x d x d kernel per channel
            return pointwise + depthwise
            ### END SOLUTION

        answer = ip_csn_weights
    """,
    check=_check_10_2,
    expects=Function("a function ip_csn_weights(c_in, c_out, t, d)"),
)


# --------------------------------------------------------------------------
# 10.3: the member with the fewest MACs at one configuration
# --------------------------------------------------------------------------

#: The configuration of 10.3: X3D's stem widths (24 channels), a 5×3×3 kernel.
FEWEST_SETTING = {"in_channels": 24, "out_channels": 24, "kernel": (5, 3),
                  "input_size": (16, 56, 56)}


def _member_macs() -> dict[str, tuple[str, int | None]]:
    """key -> (label, MACs or None when the member refuses the setting), counted with
    `r21d_edu.counting` (the factorized layers on the meta device). The explorer's
    `family_point` counts the same way; the check counts on its own, below widgets."""
    import torch

    from ..counting import ConvSpec, count_macs
    from ..factorized import FACTORIZED_LAYERS, DepthwiseConv2Plus1d

    c_in, c_out = FEWEST_SETTING["in_channels"], FEWEST_SETTING["out_channels"]
    t, d = FEWEST_SETTING["kernel"]
    kernel, padding = (t, d, d), ((t - 1) // 2, (d - 1) // 2, (d - 1) // 2)
    shape = (1, c_in, *FEWEST_SETTING["input_size"])
    builds: dict[str, tuple[str, Any]] = {
        "3d": ("3D conv", lambda: ConvSpec("3d", c_in, c_out, kernel, padding=padding)),
        "2plus1d": ("R(2+1)D", lambda: ConvSpec("2plus1d", c_in, c_out, kernel,
                                                padding=padding)),
    }
    for key, cls in FACTORIZED_LAYERS.items():
        builds[key] = (cls.label, lambda cls=cls: cls(c_in, c_out, kernel, padding=padding))
    builds["x3d_stem"] = ("X3D stem", lambda: DepthwiseConv2Plus1d(
        c_in, c_out, kernel, padding=padding, depthwise_spatial=False))
    found: dict[str, tuple[str, int | None]] = {}
    for key, (label, build) in builds.items():
        try:
            with torch.device("meta"):
                layer = build()
            found[key] = (label, count_macs(layer, shape).macs)
        except ValueError:
            found[key] = (label, None)
    return found


def _check_10_3(answer: str) -> str:
    macs = _member_macs()
    label, mine = macs[answer]
    _expect(mine is not None, f"{label} cannot take this setting (its constructor refuses "
                              "it); pick a member that can")
    fewest = min(m for _, m in macs.values() if m is not None)
    _expect(mine == fewest,
            f"{label} needs {mine:,} MACs here, and another member needs fewer: count every "
            "member at this setting (family_point, or the explorer) and compare")
    ratio = macs["3d"][1] / mine
    return (f"{label}: {mine:,} MACs, {ratio:.0f}× fewer than the 3D conv. Both of its convs "
            "are depthwise, so each output value reads d² + t values of one channel instead "
            "of C_in·t·d²")


register(
    "10", 3,
    prompt="At 24 → 24 channels, kernel 5×3×3 with 'same' padding and one clip of 16 frames "
           "of 56×56, which member of the family needs the fewest MACs?",
    hand_in="the member's key, one of " + ", ".join(repr(k) for k in (
        "3d", "2plus1d", "p3d_a", "p3d_b", "p3d_c", "s3d", "s3d_g", "ip_csn", "ir_csn",
        "dw_2plus1d", "x3d_stem", "tsm")) + " (a str)",
    hint=["Count rather than guess: `family_point` (the explorer's function) counts every "
          "member at one setting.",
          "`family_point(24, 24, kernel=(5, 3), input_size=(16, 56, 56))`, then the row with "
          "the smallest `macs` among the available ones."],
    solution="""
        from r21d_edu.widgets.family import family_point

        point = family_point(24, 24, kernel=(5, 3), input_size=(16, 56, 56))
        available = [row for row in point.rows if row.available]
        answer = min(available, key=lambda row: row.macs).key
    """,
    check=_check_10_3,
    expects=Choice("3d", "2plus1d", "p3d_a", "p3d_b", "p3d_c", "s3d", "s3d_g", "ip_csn",
                   "ir_csn", "dw_2plus1d", "x3d_stem", "tsm",
                   aliases={"r2plus1d": "2plus1d", "(2+1)d": "2plus1d", "3dconv": "3d",
                            "p3da": "p3d_a", "p3db": "p3d_b", "p3dc": "p3d_c",
                            "s3dg": "s3d_g", "ipcsn": "ip_csn", "ircsn": "ir_csn",
                            "depthwise(2+1)d": "dw_2plus1d", "x3dstem": "x3d_stem"}),
)


# --------------------------------------------------------------------------
# 10.4: TSM's shift
# --------------------------------------------------------------------------


def _tsm_answer() -> tuple[float, int]:
    import torch

    from ..factorized import TemporalShiftConv

    with torch.device("meta"):
        layer = TemporalShiftConv(64, 64, 3, padding=1)
    share = 2 * layer.shift.fold / layer.in_channels
    return share, layer.in_channels - 2 * layer.shift.fold


def _check_10_4(answer: Any) -> str:
    share, still = answer
    want_share, want_still = _tsm_answer()
    _expect(abs(share - want_share) < 1e-9,
            f"a share of {share:g} is {_side(share, want_share)}: read what `shift_fraction` "
            "measures in TemporalShiftConv's docstring (per direction, or in all?) and its "
            "default")
    _expect(still == want_still,
            f"the share is right, but {still} channels in place is {_side(still, want_still)}: "
            "fold = floor(C · shift_fraction) channels move each way, and the rest stay")
    return (f"({want_share:g}, {want_still}): TSM's fold_div = 8 moves 1/8 of the channels "
            "one frame back and 1/8 one frame forward, for 0 weights and 0 MACs; the other "
            "3/4 stay, so each frame's 2D conv sees mostly its own frame and a quarter of "
            "its neighbours'")


register(
    "10", 4,
    prompt="`TemporalShiftConv` moves some channels one frame in time before its 2D conv. "
           "With its default `shift_fraction`, what share of all channels moves in time (both "
           "directions together), and for a 64-channel input how many channels stay where "
           "they are?",
    hand_in="a pair (share of channels moved, a float in [0, 1]; channels in place, an int)",
    hint=["The default is TSM's own (its `fold_div`). Does `shift_fraction` count one "
          "direction or both?",
          "`TemporalShiftConv(64, 64, 3, padding=1).shift.fold` channels move each way."],
    solution="""
        from r21d_edu.factorized import TemporalShiftConv

        layer = TemporalShiftConv(64, 64, 3, padding=1)
        fold = layer.shift.fold                       # channels moved in each direction
        answer = (2 * fold / 64, 64 - 2 * fold)
    """,
    check=_check_10_4,
    expects=TupleOf(("share moved", Number(share=True)),
                    ("channels in place", Int(minimum=0))),
)
