"""Explorer for tutorial 01: step through the naive layer's reshapes, follow one element.

A small clip's axes (N, C, T, H, W) are drawn as cells; the step slider (or its play
button) moves through frames into the batch, the 2D conv, pixels into the batch, the
1D conv and back — or through the question's ``flatten`` / ``transpose_`` / ``view``,
whose last step has the right shape and scrambled values. Where each value sits comes
from `r21d_edu.reshape_trace` (the reshapes applied to index tensors), the picture
from `r21d_edu.viz.reshape`; this module only wires the controls to them.
"""

from __future__ import annotations

import html
from functools import lru_cache

import ipywidgets as w
import torch

from ..reshape_trace import ReshapeStep, ReshapeTrace, reshape_trace
from ..viz._common import render_png
from ..viz.reshape import reshape_figure
from ._base import Explorer

__all__ = ["ReshapeExplorer", "reshape_explorer", "where_text"]

SIZES = {"channels": 2, "height": 3, "width": 3, "intermediate": 3, "out_channels": 2}


@lru_cache(maxsize=16)
def _trace(path: str, clips: int, frames: int) -> ReshapeTrace:
    return reshape_trace(path, clips=clips if path == "naive" else 1, frames=frames, **SIZES)


def _indices(held: torch.Tensor, axis: int) -> list[int]:
    other = [d for d in range(held.dim()) if d != axis]
    return torch.nonzero(held.any(dim=other) if other else held).flatten().tolist()


def where_text(step: ReshapeStep, follow: str, index: int | tuple[int, int]) -> str:
    """Where the followed element's values sit at ``step``, in one sentence of HTML.

    >>> from r21d_edu.reshape_trace import reshape_trace
    >>> where_text(reshape_trace("naive", clips=2, frames=3)[1], "frame", 1)
    'frame 1: 36 of 108 values, at N·T 1, 4; C 0, 1'
    """
    held = step.holds(follow, index)
    name = {"frame": f"frame {index}", "pixel": f"pixel {index}", "channel": f"channel {index}"}
    what = name[follow]
    if follow == "channel" and step.channel_name != "C":
        return (f"{what}: mixed into every {step.channel_name} channel by a conv — from here on "
                "no value belongs to one input channel")
    count = int(held.sum())
    places = "; ".join(f"{axis} {', '.join(map(str, _indices(held, d)))}"
                       for d, axis in enumerate(step.axes[:2]))
    return f"{what}: {count} of {held.numel()} values, at {places}"


class ReshapeExplorer(Explorer):
    """Step through the reshapes of the naive (2+1)D layer and follow one element.

    Attributes:
        controls: ``path`` (``"naive"`` or ``"seed"``), ``step``, ``follow`` (``"frame"``,
            ``"pixel"``, ``"channel"``), ``frame``, ``pixel``, ``channel``, ``clips`` (N)
            and ``frames`` (T).
        play: an ``ipywidgets.Play`` linked in the browser to the step slider (animates it).
        image: the current step, drawn (PNG).
        where: HTML: the step's code, and where the followed element sits.
        trace: the `ReshapeTrace` on screen.
        message: empty, or why the current setting cannot work.
        stale: True while the view shows an earlier setting (see `Explorer`).
    """

    def __init__(self) -> None:
        style = {"description_width": "70px"}
        controls = {
            "path": w.ToggleButtons(
                options=[("naive layer (reshape)", "naive"),
                         ("the question's Net_2 (transpose_, view)", "seed")],
                value="naive", description="path", style=style),
            "step": w.IntSlider(0, min=0, max=5, description="step", style=style),
            "follow": w.ToggleButtons(options=["frame", "pixel", "channel"], value="frame",
                                      description="follow", style=style),
            "frame": w.IntSlider(1, min=0, max=2, description="frame t", style=style),
            "pixel": w.Dropdown(options=[(f"({h}, {c})", (h, c)) for h in range(SIZES["height"])
                                         for c in range(SIZES["width"])],
                                value=(0, 1), description="pixel (h, w)", style=style),
            "channel": w.IntSlider(0, min=0, max=SIZES["channels"] - 1, description="channel c",
                                   style=style),
            "clips": w.IntSlider(2, min=1, max=2, description="N (clips)", style=style),
            "frames": w.IntSlider(3, min=2, max=4, description="T (frames)", style=style),
        }
        self.play = w.Play(value=0, min=0, max=5, interval=1200, description="play")
        self.image = w.Image(format="png")
        self.where = w.HTML()
        self.trace = None
        view = w.VBox([self.image, self.where])
        column = w.VBox([w.HBox([self.play, controls["step"]]),
                         *(c for name, c in controls.items() if name != "step")])
        self._links = w.jslink((self.play, "value"), (controls["step"], "value"))
        self._start(controls, view, [controls["path"], w.HBox([column, view])])

    def _ignored(self) -> dict[str, str]:
        value = {name: control.value for name, control in self.controls.items()}
        ignored = {name: f"{name}: not used while following a {value['follow']}"
                   for name in ("frame", "pixel", "channel") if name != value["follow"]}
        if value["path"] == "seed":
            ignored["clips"] = ("N: the question's Net_2 takes one clip, stored as frames "
                                "(T, C, H, W)")
        return ignored

    def _update(self) -> None:
        value = {name: control.value for name, control in self.controls.items()}
        trace = _trace(value["path"], value["clips"], value["frames"])
        last = len(trace) - 1
        with self._hold():  # ranges follow the trace; clamping answers no change of its own
            self.controls["step"].max = self.play.max = last
            self.controls["frame"].max = value["frames"] - 1
        step = min(value["step"], last)
        frame = min(value["frame"], value["frames"] - 1)
        index = {"frame": frame, "pixel": value["pixel"], "channel": value["channel"]}
        index = index[value["follow"]]
        self.image.value = render_png(reshape_figure(trace, step, value["follow"], index), dpi=72)
        current = trace[step]
        note = ""
        if step == last and bool(trace.misplaced.any()):
            note = (f"<br><b style='color:#c0392b'>{int(trace.misplaced.sum())} of "
                    f"{trace.misplaced.numel()} values (crossed out) sit where another "
                    "frame or channel belongs</b>: <code>view</code> only reinterprets memory")
        elif step == last:
            note = "<br><b>every value is back at its own (n, channel, t, h, w)</b>"
        self.where.value = (f"<code>{html.escape(current.code)}</code><br>"
                            f"{html.escape(where_text(current, value['follow'], index))}{note}")
        self.trace = trace


def reshape_explorer() -> ReshapeExplorer:
    """An explorer that steps through the naive layer's reshapes, following one element."""
    return ReshapeExplorer()
