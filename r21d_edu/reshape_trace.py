"""Where every element of a clip goes in the reshapes of the naive (2+1)D layer.

`NaiveConv2Plus1d` runs a real `nn.Conv2d` and a real `nn.Conv1d` on a video by
reshaping it twice: frames into the batch for the 2D conv, pixels into the batch for
the 1D conv, then back to (N, C, T, H, W). `reshape_trace` follows every element
through those steps. It does not work out where an element *should* go: it applies
the very same ``transpose`` / ``reshape`` / ``permute`` calls (or, for the question's
`Net_2`, the same ``flatten`` / ``transpose_`` / ``view`` calls) to tensors of
indices, so what it reports is true by construction — and `tests/test_reshape_trace.py`
checks it against the tensors `NaiveConv2Plus1d` itself hands to its two convs.

Every position of a step's tensor holds one value, and the trace records where that
value comes from: the input's *site* (clip n, frame t, pixel (h, w)) and its channel
on the step's channel axis. A reshape moves values and keeps both. A conv makes new
values: it keeps the site (the trace pads both convs to keep the sizes, so output
position (t, h, w) is centred on input position (t, h, w)) and replaces the channels
(C → M, M → C_out): every new channel mixes all the old ones, so "channel c" cannot
be followed through a conv, only up to it.

Shape:
    - ``"naive"``: input (N, C, T, H, W) → (N·T, C, H, W) → (N·T, M, H, W)
      → (N·H·W, M, T) → (N·H·W, C_out, T) → (N, C_out, T, H, W).
    - ``"seed"``: the question's `Net_2` on one clip stored as frames: input
      (T, C, H, W) → … → ``view(T, C_out, H, W)``, which has the right shape and
      scrambled values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._checks import check_choice, check_index, check_int

__all__ = ["PATHS", "FOLLOW", "ReshapeStep", "ReshapeTrace", "reshape_trace"]

#: The two ways through the layer: the package's reshapes and the question's.
PATHS = ("naive", "seed")
#: What a learner can follow through the steps.
FOLLOW = ("frame", "pixel", "channel")


@dataclass(frozen=True)
class ReshapeStep:
    """One step: the tensor's axes and, per position, where its value comes from.

    Attributes:
        title: what the step does, in words.
        code: the line of PyTorch that makes this step's tensor from the previous one.
        axes: a name per axis, e.g. ``("N·T", "C", "H", "W")``.
        shape: the tensor's shape.
        kind: ``"input"``, ``"move"`` (a reshape: values move, none change) or
            ``"conv"`` (new values on new channels, at the same sites).
        clip, frame, row, column: int64 tensors of ``shape``: the input site
            (n, t, h, w) of the value at each position.
        channel: int64 tensor of ``shape``: the value's index on the step's channel axis.
        channel_name: what ``channel`` counts: ``"C"``, ``"M"`` or ``"C_out"``.
    """

    title: str
    code: str
    axes: tuple[str, ...]
    shape: tuple[int, ...]
    kind: str
    clip: torch.Tensor
    frame: torch.Tensor
    row: torch.Tensor
    column: torch.Tensor
    channel: torch.Tensor
    channel_name: str

    def holds(self, follow: str, index: int | tuple[int, int]) -> torch.Tensor:
        """A bool tensor of ``shape``: True where the followed element's values sit.

        ``follow="frame"`` with ``index=t`` marks frame t of every clip;
        ``"pixel"`` with ``index=(h, w)`` that pixel in every frame; ``"channel"`` with
        ``index=c`` input channel c — up to the first conv, which mixes every channel
        into each of its outputs, so from there on nothing is marked.
        """
        follow = check_choice(follow, "follow", FOLLOW)
        if follow == "frame":
            return self.frame == check_int(index, "frame", minimum=0)
        if follow == "pixel":
            if not isinstance(index, tuple) or len(index) != 2:
                raise TypeError(f"a pixel is followed by index=(h, w), got {index!r}")
            h, w = (check_int(i, name, minimum=0) for i, name in zip(index, ("h", "w")))
            return (self.row == h) & (self.column == w)
        if self.channel_name != "C":
            return torch.zeros(self.shape, dtype=torch.bool)
        return self.channel == check_int(index, "channel", minimum=0)


@dataclass(frozen=True)
class ReshapeTrace:
    """The steps of one path, and where the last step's values should have gone.

    Attributes:
        path: ``"naive"`` or ``"seed"``.
        steps: the `ReshapeStep` s, input first.
        sizes: ``{"N": ..., "C": ..., "T": ..., "H": ..., "W": ..., "M": ..., "C_out": ...}``.
        misplaced: bool tensor of the last step's shape: True where a value sits at a
            position whose (clip, C_out channel, frame, pixel) is not its own — all False
            for ``"naive"``, most of the tensor for ``"seed"``.
    """

    path: str
    steps: tuple[ReshapeStep, ...]
    sizes: dict[str, int]
    misplaced: torch.Tensor

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: int) -> ReshapeStep:
        return self.steps[check_index(index, len(self.steps), "step", f"the {self.path} trace")]


_FIELDS = ("clip", "frame", "row", "column", "channel")


def _conv(fields: dict[str, torch.Tensor], channels: int) -> dict[str, torch.Tensor]:
    """A conv on axis 1: the sites stay, the channel axis is replaced by ``channels`` new ones."""
    out = {}
    for name in _FIELDS[:-1]:
        site = fields[name].narrow(1, 0, 1)
        if not torch.equal(fields[name], site.expand_as(fields[name])):
            raise RuntimeError(f"the {name} varies along the channel axis: axis 1 is no channel")
        shape = list(site.shape)
        shape[1] = channels
        out[name] = site.expand(shape).contiguous()
    view = [1] * fields["channel"].dim()
    view[1] = channels
    out["channel"] = torch.arange(channels).reshape(view).expand(out["clip"].shape).contiguous()
    return out


Move = Callable[[torch.Tensor], torch.Tensor]


def _naive_steps(n: int, t: int, h: int, w: int, m: int, c_out: int) -> list[tuple]:
    # The reshapes of NaiveConv2Plus1d.forward, call for call.
    return [
        ("frames into the batch", "x.transpose(1, 2).reshape(N*T, C, H, W)", ("N·T", "C", "H", "W"),
         "move", lambda x: x.transpose(1, 2).reshape(n * t, x.shape[1], h, w), "C"),
        ("the 2D conv: C → M channels, per frame", "middle = spatial(frames)",
         ("N·T", "M", "H", "W"), "conv", m, "M"),
        ("pixels into the batch",
         "middle.reshape(N, T, M, H, W).permute(0, 3, 4, 2, 1).reshape(N*H*W, M, T)",
         ("N·H·W", "M", "T"), "move",
         lambda x: x.reshape(n, t, m, h, w).permute(0, 3, 4, 2, 1).reshape(n * h * w, m, t), "M"),
        ("the 1D conv: M → C_out channels, per pixel", "out = temporal(series)",
         ("N·H·W", "C_out", "T"), "conv", c_out, "C_out"),
        ("back to a clip", "out.reshape(N, H, W, C_out, T).permute(0, 3, 4, 1, 2)",
         ("N", "C_out", "T", "H", "W"), "move",
         lambda x: x.reshape(n, h, w, c_out, t).permute(0, 3, 4, 1, 2), "C_out"),
    ]


def _seed_steps(t: int, h: int, w: int, m: int, c_out: int) -> list[tuple]:
    # Net_2.forward of the question (the ReLUs move nothing), with its in-place transposes
    # applied to a clone, so the index tensors of earlier steps keep their layout.
    def inplace(a: int, b: int) -> Move:
        return lambda x: x.clone().transpose_(a, b)

    return [
        ("the 2D conv: C → M channels, per frame", "x = relu(conv2d(x))", ("T", "M", "H", "W"),
         "conv", m, "M"),
        ("each frame's pixels in a row", "x = flatten(x)  # start_dim=2", ("T", "M", "H·W"),
         "move", lambda x: x.flatten(start_dim=2), "M"),
        ("pixels into the batch", "x.transpose_(0, 2)", ("H·W", "M", "T"), "move",
         inplace(0, 2), "M"),
        ("the 1D conv: M → C_out channels, per pixel", "x = relu(conv1d(x))",
         ("H·W", "C_out", "T"), "conv", c_out, "C_out"),
        ("frames back in front", "x.transpose_(0, 2)", ("T", "C_out", "H·W"), "move",
         inplace(0, 2), "C_out"),
        ("one transpose too many", "x.transpose_(0, 1)", ("C_out", "T", "H·W"), "move",
         inplace(0, 1), "C_out"),
        ("view as (T, C_out, H, W): the right shape, scrambled values",
         f"x.view({t}, {c_out}, {h}, {w})", ("T", "C_out", "H", "W"), "move",
         lambda x: x.view(t, c_out, h, w), "C_out"),
    ]


def reshape_trace(path: str = "naive", *, clips: int = 1, channels: int = 2, frames: int = 4,
                  height: int = 3, width: int = 3, intermediate: int = 3,
                  out_channels: int = 2) -> ReshapeTrace:
    """Follow every element of a small clip through the naive layer's reshapes.

    Args:
        path: ``"naive"`` (the reshapes of `NaiveConv2Plus1d`) or ``"seed"`` (the
            question's `Net_2`: ``flatten``, ``transpose_`` and ``view``; one clip).
        clips, channels, frames, height, width: N, C, T, H, W of the clip
            (``"seed"`` takes one clip, stored as frames (T, C, H, W)).
        intermediate: M, the channels between the two convs.
        out_channels: C_out.

    Returns:
        A `ReshapeTrace`: per step the axes and, per position, the site and channel its
        value comes from.

    Shape:
        - Input: (N, C, T, H, W) for ``"naive"``, (T, C, H, W) for ``"seed"``.
        - Output: (N, C_out, T, H, W), or (T, C_out, H, W) for ``"seed"``.

    Example:
        >>> trace = reshape_trace("naive", clips=2, frames=3)
        >>> trace[1].axes, trace[1].shape
        (('N·T', 'C', 'H', 'W'), (6, 2, 3, 3))
        >>> int(trace[1].frame[4, 0, 0, 0]), int(trace[1].clip[4, 0, 0, 0])  # row 4 = n·T + t
        (1, 1)
    """
    path = check_choice(path, "path", PATHS)
    n = check_int(clips, "clips", minimum=1, maximum=8)
    if path == "seed" and n != 1:
        raise ValueError(f"the question's Net_2 takes one clip stored as frames (T, C, H, W), "
                         f"got clips={n}; use clips=1")
    c = check_int(channels, "channels", minimum=1, maximum=8)
    t = check_int(frames, "frames", minimum=1, maximum=16)
    h = check_int(height, "height", minimum=1, maximum=8)
    w = check_int(width, "width", minimum=1, maximum=8)
    m = check_int(intermediate, "intermediate", minimum=1, maximum=16)
    c_out = check_int(out_channels, "out_channels", minimum=1, maximum=16)

    grids = torch.meshgrid(*(torch.arange(s) for s in (n, c, t, h, w)), indexing="ij")
    site = dict(zip(("clip", "channel", "frame", "row", "column"), grids))
    if path == "naive":
        fields = {name: site[name] for name in _FIELDS}
        axes, specs = ("N", "C", "T", "H", "W"), _naive_steps(n, t, h, w, m, c_out)
        code = "x  # (N, C, T, H, W)"
    else:  # one clip as a stack of frames: (T, C, H, W)
        fields = {name: site[name][0].transpose(0, 1) for name in _FIELDS}
        axes, specs = ("T", "C", "H", "W"), _seed_steps(t, h, w, m, c_out)
        code = "x  # (T, C, H, W), frames as the batch already"
    steps = [ReshapeStep("the clip", code, axes, tuple(fields["clip"].shape), "input",
                         channel_name="C", **fields)]
    for title, code, axes, kind, action, channel_name in specs:
        if kind == "conv":
            fields = _conv(fields, action)
        else:
            fields = {name: action(value) for name, value in fields.items()}
        shape = tuple(fields["clip"].shape)
        if len(axes) != len(shape):
            raise RuntimeError(f"step {title!r}: {len(axes)} axis names for shape {shape}")
        steps.append(ReshapeStep(title, code, axes, shape, kind, channel_name=channel_name,
                                 **{k: v.contiguous() for k, v in fields.items()}))
    last = steps[-1]
    if path == "naive":
        want = torch.meshgrid(*(torch.arange(s) for s in last.shape), indexing="ij")
        at = dict(zip(("clip", "channel", "frame", "row", "column"), want))
    else:
        want = torch.meshgrid(*(torch.arange(s) for s in last.shape), indexing="ij")
        at = dict(zip(("frame", "channel", "row", "column"), want))
        at["clip"] = torch.zeros(last.shape, dtype=torch.long)
    misplaced = torch.zeros(last.shape, dtype=torch.bool)
    for name in _FIELDS:
        misplaced |= getattr(last, name) != at[name]
    sizes = {"N": n, "C": c, "T": t, "H": h, "W": w, "M": m, "C_out": c_out}
    return ReshapeTrace(path, tuple(steps), sizes, misplaced)
