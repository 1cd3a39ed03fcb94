"""Where does a video network look? Attribution maps over space *and* time, with Captum.

An attribution method answers "which input values made the network give this
class?" with one number per input value. For a video network the input is a
clip (N, C, T, H, W), so the answer is a map over frames as well as pixels:
it can say *where* the network looks and *when*. Four methods, from the
cheapest to the most expensive, all computed by Captum (PyTorch's own
interpretability library; imported when an attribution is first asked for,
so ``import r21d_edu`` stays light):

==========================  ===============================================  ==================
method                      what the map is                                  cost per clip
==========================  ===============================================  ==================
``grad_cam``                Grad-CAM (Selvaraju et al. 2017) at one layer:   1 forward +
                            the layer's channels weighted by the mean of     1 backward
                            their gradients, ReLU, then upsampled to the
                            clip in space *and* time (trilinear)
``gradient_x_input``        the input times the gradient of the class score  1 + 1
``integrated_gradients``    the input minus a baseline times the gradient    ``steps`` forwards
                            averaged along the straight path between them    and backwards
                            (Sundararajan et al. 2017): the maps sum to
                            f(clip) - f(baseline), which is checked
``occlusion``               how much the class score drops when a            one forward per
                            space-time window is replaced by the baseline    window position
                            (Zeiler & Fergus 2014), averaged per pixel
==========================  ===============================================  ==================

Every map is summed over the clip's channels, so an attribution of N clips is
an (N, T, H, W) tensor. The scores in `r21d_edu.pointing` compare it with the
pixels that truly carry the class (`r21d_edu.tasks.object_masks`).

The model is put in eval mode for the attribution and given back in the mode it
came in; gradients are taken with `torch.autograd.grad` (no ``.grad`` of the
parameters is touched), and grad mode, RNGs and threads are left as found.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ._checks import check_choice, check_int, is_int, rng_kept

__all__ = [
    "BASELINES",
    "METHODS",
    "METHOD_NAMES",
    "Attribution",
    "AttributionError",
    "attribute",
    "attribute_all",
    "baseline_clip",
    "default_layer",
    "find_layer",
    "layer_names",
]

#: The methods, in the order of their cost.
METHODS: tuple[str, ...] = ("grad_cam", "gradient_x_input", "integrated_gradients", "occlusion")
#: How each method is called in figures and tables.
METHOD_NAMES: dict[str, str] = {
    "grad_cam": "Grad-CAM", "gradient_x_input": "gradient × input",
    "integrated_gradients": "integrated gradients", "occlusion": "occlusion",
}
#: What "no signal" means for integrated gradients and occlusion: a uniform clip at the
#: clip's mean value, black, or the clip's own average frame shown in every frame
#: (which keeps everything that does not move and removes only the motion).
BASELINES: tuple[str, ...] = ("mean", "zeros", "static")


class AttributionError(ValueError):
    """A model, layer, clip or target an attribution cannot work with; the message says why."""


@dataclass(frozen=True)
class Attribution:
    """The maps of one method for a batch of clips.

    Attributes:
        method: one of `METHODS`.
        maps: (N, T, H, W) float32, signed (Grad-CAM's are >= 0 by its ReLU).
        target: (N,) the class each map explains.
        predicted: (N,) the class the model gave each clip.
        layer: the Grad-CAM layer's name (None for the other methods).
        layer_shape: (T', H', W') of that layer's output before upsampling.
        baseline: the baseline of integrated gradients and occlusion (else None).
        completeness_gap: integrated gradients only: the largest
            |sum of a clip's map - (f(clip) - f(baseline))| over the clips,
            relative to the largest |f(clip) - f(baseline)|; small when the
            path integral was taken with enough ``steps``.
        settings: the method's other settings (steps, window, stride).

    Shape:
        - maps: (N, T, H, W)
    """

    method: str
    maps: torch.Tensor
    target: torch.Tensor
    predicted: torch.Tensor
    layer: str | None = None
    layer_shape: tuple[int, ...] | None = None
    baseline: str | None = None
    completeness_gap: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The method's name as figures show it, with its layer for Grad-CAM."""
        base = METHOD_NAMES[self.method]
        return f"{base} ({self.layer})" if self.layer else base

    def importance(self) -> torch.Tensor:
        """|maps|: how much each value mattered, whichever way it pushed (what the scores use)."""
        return self.maps.abs()

    def temporal_profile(self) -> torch.Tensor:
        """(N, T): each frame's share of the clip's importance (rows sum to 1)."""
        from .pointing import temporal_profile

        return temporal_profile(self.maps)

    def score(self, masks: torch.Tensor):
        """`r21d_edu.pointing.PointingScores` of these maps against object masks (N, T, H, W)."""
        from .pointing import score_maps

        return score_maps(self.maps, masks, self.name)

    def __repr__(self) -> str:
        layer = f", layer={self.layer!r}" if self.layer else ""
        return (f"Attribution({self.method!r}{layer}, maps of shape {tuple(self.maps.shape)}, "
                f"targets {self.target.tolist()[:8]}{'...' if len(self.target) > 8 else ''})")


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------


def layer_names(model: nn.Module) -> list[str]:
    """Every named sub-module of `model`, in order (the names Grad-CAM's ``layer`` takes)."""
    return [name for name, _ in model.named_modules() if name]


def find_layer(model: nn.Module, layer: str) -> nn.Module:
    """The sub-module called `layer`, or an error naming the layers the model has."""
    if not isinstance(layer, str):
        raise AttributionError(f"layer must be the name of a sub-module (a str such as "
                               f"'layer3'), got {type(layer).__name__}")
    modules = dict(model.named_modules())
    if layer and layer in modules:
        return modules[layer]
    top = [name for name, _ in model.named_children()]
    near = [name for name in modules if name and name.endswith(layer)][:3]
    hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
    raise AttributionError(
        f"{type(model).__name__} has no layer {layer!r}; its layers are "
        f"{', '.join(top) or '(none)'} and their sub-modules (e.g. "
        f"{next((n for n in modules if '.' in n), top[0] if top else '-')}); "
        f"layer_names(model) lists all {len(modules) - 1}{hint}")


def _output_shapes(model: nn.Module, clip: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """The output shape of every top-level child on one clip (hooks, no gradients)."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, child in model.named_children():
        def hook(_module, _inputs, output, name=name):
            if isinstance(output, torch.Tensor):
                shapes[name] = tuple(output.shape)
        handles.append(child.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(clip)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def default_layer(model: nn.Module, clips: torch.Tensor) -> str:
    """The Grad-CAM layer used when none is named: the deepest top-level block whose
    output is still a map of at least 2 frames and 4 x 4 pixels (at least 4 x 4 pixels
    when no block keeps 2 frames, as in R2D, which folds time in its stem).

    For the family at 8 x 32 x 32 that is ``layer3``; for the 18-layer networks at
    16 x 112 x 112, ``layer4`` (2 frames of 7 x 7).
    """
    model_in, clips = _checked(model, clips)
    with _prepared(model_in):
        shapes = _output_shapes(model_in, clips[:1])
    maps = {name: s for name, s in shapes.items() if len(s) == 5 and min(s[3:]) >= 4}
    timed = [name for name, s in maps.items() if s[2] >= 2]
    chosen = timed or list(maps)
    if not chosen:
        raise AttributionError(
            f"{type(model).__name__} has no top-level block whose output is a map of "
            f"(N, C, T, H, W) with 4 x 4 pixels or more (outputs: {shapes}); name the "
            "Grad-CAM layer yourself, e.g. layer='...' from layer_names(model)")
    return chosen[-1]


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def _checked(model: object, clips: object) -> tuple[nn.Module, torch.Tensor]:
    if not isinstance(model, nn.Module):
        raise AttributionError(f"model must be a torch.nn.Module taking clips (N, C, T, H, W), "
                               f"got {type(model).__name__}")
    x = clips if isinstance(clips, torch.Tensor) else getattr(clips, "clip", clips)
    if not isinstance(x, torch.Tensor):
        raise AttributionError(f"clips must be a tensor (N, C, T, H, W), got "
                               f"{type(clips).__name__}")
    if x.dim() == 4:
        raise AttributionError(
            f"clips must be 5D (N, C, T, H, W), got the 4D shape {tuple(x.shape)}; for one "
            "clip (C, T, H, W) use clip.unsqueeze(0)")
    if x.dim() != 5:
        raise AttributionError(f"clips must be 5D (N, C, T, H, W), got {x.dim()}D shape "
                               f"{tuple(x.shape)}")
    if not x.is_floating_point():
        raise AttributionError(f"clips must be floating point, got {x.dtype}; convert video "
                               "frames with x.float() / 255")
    if x.shape[0] == 0:
        raise AttributionError("clips holds no clip (N = 0)")
    parameter = next(iter(model.parameters()), None)
    if parameter is not None and parameter.dtype != x.dtype:
        raise AttributionError(f"the model holds {parameter.dtype} weights but the clips are "
                               f"{x.dtype}; convert one to the other (x.to({parameter.dtype}))")
    if parameter is not None and parameter.device != x.device:
        raise AttributionError(f"the model is on {parameter.device} but the clips on "
                               f"{x.device}; move them with x.to({str(parameter.device)!r})")
    if not torch.isfinite(x).all():
        raise AttributionError("clips hold NaN or infinite values")
    return model, x.detach()


@contextmanager
def _prepared(model: nn.Module) -> Iterator[None]:
    """Eval mode, gradients on, no inference mode, RNGs kept; all put back afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with rng_kept(), torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training


def _logits(model: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    try:
        with torch.no_grad():
            out = model(clips)
    except Exception as error:  # noqa: BLE001 - any failure means: this model does not take clips
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise AttributionError(
            f"{type(model).__name__} does not take clips of shape {tuple(clips.shape)} "
            f"(N, C, T, H, W): its forward raised {type(error).__name__}: {first}") from error
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != clips.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise AttributionError(
            f"{type(model).__name__} must map clips (N, C, T, H, W) to class scores (N, "
            f"classes); on {tuple(clips.shape)} it gave {shape}")
    return out


def _targets(target: object, logits: torch.Tensor) -> torch.Tensor:
    n, classes = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    if is_int(target):
        values = torch.full((n,), int(target), dtype=torch.long)
    elif isinstance(target, (torch.Tensor, Sequence)) and not isinstance(target, str):
        values = torch.as_tensor(target)
        if values.dim() != 1 or values.numel() != n or values.is_floating_point() \
                or values.dtype == torch.bool:
            raise AttributionError(f"target must be a class (an int) or one class per clip "
                                   f"({n} ints), got {target!r}")
        values = values.long()
    else:
        raise AttributionError(f"target must be a class (an int), one class per clip, or None "
                               f"(the predicted class), got {target!r}")
    bad = values[(values < 0) | (values >= classes)]
    if bad.numel():
        raise AttributionError(f"target {int(bad[0])} is out of range: the model has {classes} "
                               f"classes (0 to {classes - 1})")
    return values.to(logits.device)


def baseline_clip(clips: torch.Tensor, kind: str = "mean") -> torch.Tensor:
    """The "no signal" clip integrated gradients start from and occlusion fills in.

    ``"mean"``: every value set to the clip's own mean; ``"zeros"``: black;
    ``"static"``: the clip's average frame in every frame (only the motion removed).

    Shape:
        - clips, output: (N, C, T, H, W)
    """
    kind = check_choice(kind, "baseline", BASELINES)
    if kind == "zeros":
        return torch.zeros_like(clips)
    if kind == "mean":
        return clips.mean(dim=(1, 2, 3, 4), keepdim=True).expand_as(clips).contiguous()
    return clips.mean(dim=2, keepdim=True).expand_as(clips).contiguous()


def _window(window: object, clip_shape: tuple[int, ...], name: str,
            default: tuple[int, int, int]) -> tuple[int, int, int]:
    if window is None:
        return default
    if is_int(window):
        window = (int(window),) * 3
    if not isinstance(window, Sequence) or len(window) != 3 or not all(map(is_int, window)):
        raise AttributionError(f"{name} must be (t, h, w) in frames and pixels, got {window!r}")
    t, h, w = (int(v) for v in window)
    for value, size, axis in ((t, clip_shape[2], "T"), (h, clip_shape[3], "H"),
                              (w, clip_shape[4], "W")):
        if not 1 <= value <= size:
            raise AttributionError(f"{name} {tuple(window)} does not fit the clips "
                                   f"(T, H, W) = {tuple(clip_shape[2:])}: {axis} needs 1 to "
                                   f"{size}, got {value}")
    return t, h, w


# --------------------------------------------------------------------------
# The methods
# --------------------------------------------------------------------------


def attribute(
    model: nn.Module,
    clips: torch.Tensor,
    method: str = "grad_cam",
    *,
    target: int | Sequence[int] | torch.Tensor | None = None,
    layer: str | None = None,
    baseline: str = "mean",
    steps: int = 32,
    window: int | Sequence[int] | None = None,
    stride: int | Sequence[int] | None = None,
    batch: int = 64,
) -> Attribution:
    """Attribute a video model's class scores to the values of its input clips.

    Args:
        model: any module mapping clips (N, C, T, H, W) to class scores (N, classes):
            every member of `r21d_edu.family`, `r3d_18`, `mc3_18`, `r2plus1d_18`, yours.
        clips: (N, C, T, H, W) float, of the model's dtype and device.
        method: one of `METHODS` (see the module's table).
        target: the class to explain: one for all clips, one per clip, or None for
            the class the model predicts for each clip. Default: None.
        layer: ``grad_cam`` only: the name of the layer (`layer_names`). Default:
            `default_layer`.
        baseline: ``integrated_gradients`` and ``occlusion``: one of `BASELINES`.
            Default: ``"mean"``.
        steps: ``integrated_gradients``: points of the path integral
            (Gauss-Legendre). Default: 32.
        window: ``occlusion``: the (t, h, w) window put to the baseline. Default:
            a quarter of T, H and W (at least 1).
        stride: ``occlusion``: how far the window moves. Default: half the window.
        batch: clips per forward pass (integrated gradients' steps and occlusion's
            windows are batched). Default: 64.

    Returns:
        An `Attribution` with maps of shape (N, T, H, W).

    Raises:
        AttributionError: a model that does not take these clips or gives no class
            scores, a layer it does not have, a target out of range, a setting
            that does not fit.

    Example::

        >>> model = family_model("r2plus1d").eval()
        >>> attribute(model, torch.rand(2, 1, 8, 32, 32), "grad_cam").maps.shape
        torch.Size([2, 8, 32, 32])
    """
    method = check_choice(method, "method", METHODS)
    model, clips = _checked(model, clips)
    baseline = check_choice(baseline, "baseline", BASELINES)
    steps = check_int(steps, "steps", minimum=1)
    batch = check_int(batch, "batch", minimum=1)
    if layer is not None and method != "grad_cam":
        raise AttributionError(f"layer= is Grad-CAM's setting; {method} attributes to the "
                               "input clip (drop layer, or use method='grad_cam')")
    with _prepared(model):
        logits = _logits(model, clips)
        targets = _targets(target, logits)
        predicted = logits.argmax(dim=1)
        run = {"grad_cam": _grad_cam, "gradient_x_input": _gradient_x_input,
               "integrated_gradients": _integrated_gradients, "occlusion": _occlusion}[method]
        result = run(model, clips, targets, layer=layer, baseline=baseline, steps=steps,
                     window=window, stride=stride, batch=batch)
    maps, extra = result
    return Attribution(method, maps.detach().float().cpu(), targets.cpu(), predicted.cpu(),
                       **extra)


def _grad_cam(model, clips, targets, *, layer, batch, **_):
    from captum.attr import LayerAttribution, LayerGradCam

    name = default_layer(model, clips) if layer is None else layer
    module = find_layer(model, name)
    cams, layer_shape = [], None
    for part, part_targets in zip(clips.split(batch), targets.split(batch)):
        cam = LayerGradCam(model, module).attribute(part, target=part_targets,
                                                    relu_attributions=True)
        if not isinstance(cam, torch.Tensor) or cam.dim() != 5:
            shape = tuple(cam.shape) if isinstance(cam, torch.Tensor) else type(cam).__name__
            raise AttributionError(
                f"Grad-CAM needs a layer whose output is a map (N, C, T, H, W); {name!r} gives "
                f"{shape}. Choose a conv block (e.g. {default_layer(model, clips)!r})")
        layer_shape = tuple(cam.shape[2:])
        cams.append(LayerAttribution.interpolate(cam, tuple(clips.shape[2:]), "trilinear"))
    maps = torch.cat(cams)[:, 0]
    return maps, {"layer": name, "layer_shape": layer_shape}


def _gradient_x_input(model, clips, targets, *, batch, **_):
    from captum.attr import InputXGradient

    parts = [InputXGradient(model).attribute(part.clone().requires_grad_(True), target=t)
             for part, t in zip(clips.split(batch), targets.split(batch))]
    return torch.cat(parts).sum(dim=1), {}


def _integrated_gradients(model, clips, targets, *, baseline, steps, batch, **_):
    from captum.attr import IntegratedGradients

    start = baseline_clip(clips, baseline)
    maps, gaps, changes = [], [], []
    for part, base, t in zip(clips.split(batch), start.split(batch), targets.split(batch)):
        attribution, delta = IntegratedGradients(model).attribute(
            part, baselines=base, target=t, n_steps=steps, internal_batch_size=batch,
            return_convergence_delta=True)
        maps.append(attribution.sum(dim=1))
        gaps.append(delta.abs().max())
        with torch.no_grad():
            rows = torch.arange(len(t), device=t.device)
            changes.append((model(part)[rows, t] - model(base)[rows, t]).abs().max())
    scale = max(float(torch.stack(changes).max()), 1e-12)
    gap = float(torch.stack(gaps).max()) / scale
    return torch.cat(maps), {"baseline": baseline, "completeness_gap": gap,
                             "settings": {"steps": steps}}


def _occlusion(model, clips, targets, *, baseline, window, stride, batch, **_):
    from captum.attr import Occlusion

    shape = tuple(clips.shape)
    default = tuple(max(1, s // 4) for s in shape[2:])
    size = _window(window, shape, "window", default)  # type: ignore[arg-type]
    step = _window(stride, shape, "stride", tuple(max(1, s // 2) for s in size))
    positions = math.prod((n - s) // k + 1 for n, s, k in zip(shape[2:], size, step))
    fill = baseline_clip(clips, baseline)
    maps = []
    for part, base, t in zip(clips.split(batch), fill.split(batch), targets.split(batch)):
        per_eval = max(1, batch // len(part))
        attribution = Occlusion(model).attribute(
            part, sliding_window_shapes=(shape[1], *size), strides=(shape[1], *step),
            baselines=base, target=t, perturbations_per_eval=per_eval)
        maps.append(attribution.sum(dim=1))
    return torch.cat(maps), {"baseline": baseline,
                             "settings": {"window": size, "stride": step,
                                          "positions": positions}}


def attribute_all(
    model: nn.Module,
    clips: torch.Tensor,
    methods: Sequence[str] = METHODS,
    **options: Any,
) -> dict[str, Attribution]:
    """`attribute` with every method of `methods` on the same clips: ``{method: Attribution}``.

    `options` go to `attribute`; Grad-CAM's ``layer`` only to Grad-CAM.
    """
    if isinstance(methods, str):
        methods = [methods]
    layer = options.pop("layer", None)
    return {m: attribute(model, clips, m, **options, **({"layer": layer} if m == "grad_cam"
                                                         else {}))
            for m in methods}
