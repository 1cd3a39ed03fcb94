"""Benchmark the four conv variants on R(2+1)D-18's layer configurations.

Run ``python -m r21d_edu.bench --help``. The sweep times, side by side and in
one run, the full 3D conv, the naive Conv2d + Conv1d layer, the plain (2+1)D
layer and its fast path, for each layer of R(2+1)D-18 at the sizes it sees:

==========  ========  ==========================  ==============
layer       channels  clip of 8 (16) frames       M (per conv)
==========  ========  ==========================  ==============
layer1      64        8 (16) x 56 x 56             144
layer2      128       4 (8) x 28 x 28              288
layer3      256       2 (4) x 14 x 14              576
layer4      512       1 (2) x 7 x 7                1152
==========  ========  ==========================  ==============

(the stem halves a 112 x 112 input to 56 x 56; layer2, layer3 and layer4 each
halve time and space again). Each row is one stride-1 C -> C conv of the
layer, kernel 3 x 3 x 3, padding 1, no bias: three of a layer's four convs
have this shape.

Protocol: build every layer from one seed; **check correctness first** (the
naive layer and the fast path must agree with the plain (2+1)D layer, and all
four must give the same output shape); then time each variant with
`r21d_edu.timing.time_side_by_side` (warm-up past cuDNN autotuning,
synchronised clocks, all CPU threads, the variants' samples taken in turns,
median and IQR); write CSV, JSON, PNG figures and a
README with the headline ratios under ``<out>/<device-slug>/``.

The GPU default is the full sweep: frames {8, 16} x layers 1-4 x batch
{1, 8, 32} x {float32, bfloat16} x {inference, training}. On CPU that would
take hours, so the CPU default is a documented subset: 8 frames, batch {1, 8},
float32 (bfloat16 on a CPU without native support is 10-100x slower and says
nothing about the layers), fewer repeats.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ._checks import SEED_RANGE, rng_kept
from .fast import make_fast
from .layers import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv
from .methods import METHOD_LABELS
from .timing import Variant, check_device, environment, time_side_by_side

__all__ = ["LayerConfig", "R2PLUS1D18_LAYERS", "layer_configs", "main"]

# layer number -> (channels, temporal downsampling, spatial size) for a 112 x 112 input.
R2PLUS1D18_LAYERS = {1: (64, 1, 56), 2: (128, 2, 28), 3: (256, 4, 14), 4: (512, 8, 7)}
METHOD_ORDER = ("3d", "naive", "2plus1d", "fast")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# How far the naive layer and the fast path may stray from the plain layer, relative to
# the output's largest value: float rounding (TF32 on GPU keeps 10 mantissa bits).
_TOLERANCE = {("cpu", "float32"): 1e-4, ("cuda", "float32"): 5e-3,
              ("cpu", "bfloat16"): 5e-2, ("cuda", "bfloat16"): 5e-2,
              ("cpu", "float16"): 1e-2, ("cuda", "float16"): 1e-2}


@dataclass(frozen=True)
class LayerConfig:
    """One conv of R(2+1)D-18: its layer, width and the clip size it sees.

    Args:
        layer: 1 to 4.
        frames: frames of the network's input clip (8 or 16).
        channels: C_in = C_out.
        time: T of the layer's input (``frames`` / temporal downsampling).
        size: H = W of the layer's input.
    """

    layer: int
    frames: int
    channels: int
    time: int
    size: int

    @property
    def name(self) -> str:
        return f"layer{self.layer}"

    def input_shape(self, batch: int) -> tuple[int, int, int, int, int]:
        """(N, C, T, H, W) of the layer's input for a batch of `batch` clips."""
        return (batch, self.channels, self.time, self.size, self.size)


def layer_configs(frames: Sequence[int], layers: Sequence[int]) -> list[LayerConfig]:
    """The `LayerConfig` of each requested layer for each input length."""
    configs = []
    for n_frames in frames:
        for layer in layers:
            channels, down, size = R2PLUS1D18_LAYERS[layer]
            configs.append(LayerConfig(layer, n_frames, channels, max(1, n_frames // down), size))
    return configs


# --------------------------------------------------------------------------
# Building the variants, and checking they agree before timing anything
# --------------------------------------------------------------------------


def build_variants(
    config: LayerConfig, device: torch.device, dtype: torch.dtype, seed: int, compile: bool
) -> dict[str, torch.nn.Module]:
    """The four variants of one config, with shared (2+1)D weights, in eval mode."""
    c = config.channels
    with rng_kept():  # seeded for the run, and the caller's random stream left as it was
        torch.manual_seed(seed + config.layer)
        plain = SpatioTemporalConv(c, c, 3, padding=1, bias=False)
        with torch.no_grad():  # BN statistics as a trained network has them, so folding is tested
            plain.bn.running_mean.normal_(0.0, 0.1)
            plain.bn.running_var.uniform_(0.5, 1.5)
            plain.bn.weight.uniform_(0.5, 1.5)
            plain.bn.bias.normal_(0.0, 0.1)
        three = FullConv3d(c, c, 3, padding=1, bias=False)
    plain = plain.eval().to(device)
    variants = {
        "3d": three.to(device),
        "naive": NaiveConv2Plus1d.from_factorized(plain),
        "2plus1d": plain,
        # Folded in float64 from the float32 layer, then cast once; built on the device so
        # that its filters take the channels-last layout there (.to keeps the layout).
        "fast": make_fast(plain, compile=compile),
    }
    return {name: m.to(dtype=dtype).eval() for name, m in variants.items()}


def _input_format(method: str, device: torch.device) -> torch.memory_format:
    # Inside a network of fast layers activations stay channels-last, so the fast path
    # gets them that way; the others get the default layout they would receive.
    if method == "fast" and device.type == "cuda":
        return torch.channels_last_3d
    return torch.contiguous_format


def check_agreement(
    variants: dict[str, torch.nn.Module], config: LayerConfig, device: torch.device,
    dtype: torch.dtype,
) -> dict[str, Any]:
    """Relative max error of naive and fast vs the plain layer, on a small input."""
    generator = torch.Generator().manual_seed(0)
    shape = (1, config.channels, config.time, min(config.size, 14), min(config.size, 14))
    x = torch.randn(shape, generator=generator).to(device=device, dtype=dtype)
    with torch.inference_mode():
        outputs = {m: v(x.contiguous(memory_format=_input_format(m, device))).float()
                   for m, v in variants.items()}
    reference = outputs["2plus1d"]
    scale = reference.abs().max().item()
    errors = {m: (outputs[m] - reference).abs().max().item() / scale
              for m in ("naive", "fast") if m in outputs}
    shapes = {m: tuple(out.shape) for m, out in outputs.items()}
    tolerance = _TOLERANCE[(device.type, str(dtype).removeprefix("torch."))]
    return {"config": config.name, "frames": config.frames, "dtype": str(dtype).removeprefix(
        "torch."), "relative_error": errors, "tolerance": tolerance,
        "shapes_agree": len(set(shapes.values())) == 1,
        "ok": len(set(shapes.values())) == 1 and all(e <= tolerance for e in errors.values())}


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------

CPU_DEFAULTS = {"frames": [8], "batch": [1, 8], "dtype": ["float32"], "repeats": 10, "warmup": 2}
GPU_DEFAULTS = {"frames": [8, 16], "batch": [1, 8, 32], "dtype": ["float32", "bfloat16"],
                "repeats": 50, "warmup": 10}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    # float() reads "nan" and "inf": a peak or a bandwidth must be a finite number > 0.
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not SEED_RANGE[0] <= value <= SEED_RANGE[1]:
        raise argparse.ArgumentTypeError(f"must be an integer from -2**63 to 2**64 - 1 (what "
                                         f"torch's generators take), got {value}")
    return value


def _folder_name(text: str) -> str:
    if not text or text in (".", "..") or "/" in text or "\\" in text:
        raise argparse.ArgumentTypeError(f"must be one folder name (no '/', not '.' or '..'), "
                                         f"got {text!r}; --out chooses where it goes")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m r21d_edu.bench",
        description="Time the 3D, naive, (2+1)D and fast (2+1)D convs on R(2+1)D-18's layers. "
        "Defaults: the full sweep on CUDA; on CPU 8 frames, batch 1 and 8, float32, "
        "10 repeats (about 5 minutes on 2 cores). --family, first, runs the family sweep "
        "instead (python -m r21d_edu.bench_family).",
    )
    parser.add_argument("--device", default="auto",
                        help="cpu, cuda or cuda:N; auto picks cuda when available (default)")
    parser.add_argument("--frames", type=int, nargs="+", choices=[8, 16],
                        help="input clip lengths (CPU default 8; GPU 8 16)")
    parser.add_argument("--layers", type=int, nargs="+", choices=[1, 2, 3, 4],
                        default=[1, 2, 3, 4], help="R(2+1)D-18 layers (default all)")
    parser.add_argument("--batch", type=_positive, nargs="+",
                        help="batch sizes (CPU 1 8; GPU 1 8 32)")
    parser.add_argument("--dtype", nargs="+", choices=sorted(_DTYPES),
                        help="dtypes (CPU float32; GPU float32 bfloat16)")
    parser.add_argument("--mode", nargs="+", choices=["inference", "training"],
                        default=["inference", "training"], help="default both")
    parser.add_argument("--methods", nargs="+", choices=list(METHOD_ORDER),
                        default=list(METHOD_ORDER), help="variants (default all four)")
    parser.add_argument("--repeats", type=_positive, help="timed samples per row (CPU 10; GPU 50)")
    parser.add_argument("--warmup", type=_positive, help="warm-up calls per row (CPU 2; GPU 10)")
    parser.add_argument("--threads", type=_positive, help="CPU threads (default: all)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the fast path (slow to start; off by default)")
    parser.add_argument("--peak-tflops", type=_positive_float,
                        help="device peak, for devices the harness does not know (CPUs)")
    parser.add_argument("--bandwidth-tbs", type=_positive_float,
                        help="memory bandwidth in TB/s, likewise")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of weights and inputs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks"),
                        help="results go to OUT/<device-slug>/ (default benchmarks)")
    parser.add_argument("--slug", type=_folder_name,
                        help="name of the results folder (default from the device)")
    parser.add_argument("--figures", nargs="+", default=["all"], metavar="WHICH",
                        help="figures to draw, one PNG per (frames, batch, dtype, mode): all "
                        "(default), none, or names such as f16_b8_bfloat16_inference")
    return parser


_FIGURE_NAME = re.compile(r"f(\d+)_b(\d+)_([a-z0-9]+)_(inference|training)")


def _check_figures(parser: argparse.ArgumentParser, options: argparse.Namespace) -> None:
    """``--figures`` is all, none, or names of figures this sweep draws."""
    chosen = options.figures
    if {"all", "none"} & set(chosen):
        if len(chosen) > 1:
            parser.error(f"--figures takes 'all' or 'none' alone, got {' '.join(chosen)}")
        return
    drawn = {f"f{f}_b{b}_{d}_{m}" for f in options.frames for b in options.batch
             for d in options.dtype for m in options.mode}
    for name in chosen:
        if not _FIGURE_NAME.fullmatch(name):
            parser.error(f"--figures: {name!r} is not all, none or a figure name such as "
                         "f16_b8_bfloat16_inference (frames, batch, dtype, mode)")
        if name not in drawn:
            parser.error(f"--figures: this sweep draws no {name!r}; it draws "
                         f"{', '.join(sorted(drawn))}")


def _options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.device == "auto":
        options.device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = check_device(options.device)
    except (RuntimeError, ValueError) as error:
        parser.error(str(error))  # a usage message and exit status 2, not a traceback
    if options.out.exists() and not options.out.is_dir():
        parser.error(f"--out {options.out} is a file; results go to a folder OUT/<device-slug>/")
    defaults = GPU_DEFAULTS if device.type == "cuda" else CPU_DEFAULTS
    for key, value in defaults.items():
        if getattr(options, key) is None:
            setattr(options, key, value)
    _check_figures(parser, options)
    return options


def device_slug(device_name: str, device_type: str) -> str:
    """A folder name for a device: ``cpu-amd-epyc``, ``nvidia-h100-80gb-hbm3``."""
    slug = re.sub(r"[^a-z0-9]+", "-", device_name.lower()).strip("-")
    slug = re.sub(r"-(processor|cpu)\b", "", slug)
    return f"cpu-{slug}" if device_type == "cpu" else slug


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------


def run(options: argparse.Namespace, log: Any = print) -> dict[str, Any]:
    """Check, then time every requested row; returns the JSON-ready record."""
    env = environment(options.device)  # also refuses cuda without a GPU, plainly
    device = torch.device(env.device)
    configs = layer_configs(options.frames, options.layers)
    dtypes = [_DTYPES[d] for d in options.dtype]
    started = time.perf_counter()
    # One step per agreement check and per timed (layer, dtype, batch, mode) row: a CPU sweep
    # runs for minutes, so show how far it is and how long is left.
    steps = len(configs) * len(dtypes) * (1 + len(options.batch) * len(options.mode))
    bar = tqdm(total=steps, desc="bench", unit="step", mininterval=1.0, dynamic_ncols=True)

    def say(message: str) -> None:
        # Printed above the bar, so the bar stays on the last line.
        bar.write(message) if log is print else log(message)

    checks, built = [], {}
    for config in configs:
        for dtype in dtypes:
            variants = build_variants(config, device, dtype, options.seed, options.compile)
            check = check_agreement(variants, config, device, dtype)
            checks.append(check)
            say(f"check {config.name} f{config.frames} {check['dtype']}: "
                f"{'ok' if check['ok'] else 'FAILED'} {check['relative_error']}")
            bar.update()
            built[(config, dtype)] = {m: variants[m] for m in options.methods}
    if not all(c["ok"] for c in checks):
        bar.close()
        raise SystemExit("variants disagree (see the checks above); nothing was timed")

    rows, skipped = [], []
    for (config, dtype), variants in built.items():
        name = str(dtype).removeprefix("torch.")
        for batch in options.batch:
            for mode in options.mode:
                # Folded BN cannot learn: the fast path is for inference only.
                chosen = [Variant(f"{config.name} {METHOD_LABELS[m]}", module, m,
                                  _input_format(m, device))
                          for m, module in variants.items()
                          if not (mode == "training" and getattr(module, "inference_only", False))]
                what = f"{config.name} f{config.frames} b{batch} {name} {mode}"
                bar.set_postfix_str(what)
                try:
                    results = time_side_by_side(
                        chosen, config.input_shape(batch), mode=mode, device=device, dtype=dtype,
                        repeats=options.repeats, warmup=options.warmup, threads=options.threads,
                        peak_tflops=options.peak_tflops, bandwidth_tbs=options.bandwidth_tbs,
                        seed=options.seed)
                except MemoryError as error:
                    skipped.append(f"{what}: {error}")
                    say(f"skip  {what}: does not fit in memory")
                    bar.update()
                    continue
                for result in results:
                    rows.append({"layer": config.name, "frames": config.frames,
                                 "channels": config.channels, "batch": batch, **result.as_row()})
                say(f"time  {what}: " + ", ".join(
                    f"{r.method} {r.median_ms:.3g} ms" for r in results))
                bar.update()
    bar.close()
    _add_speedups(rows)
    return {
        "command": "python -m r21d_edu.bench " + " ".join(
            shlex.quote(a) for a in options.argv),
        "environment": env.as_dict(),
        "load_average_after": environment(options.device).load_average,
        "protocol": {"repeats": options.repeats, "warmup": options.warmup,
                     "threads": options.threads or env.threads, "seed": options.seed,
                     "frames": options.frames, "layers": options.layers,
                     "batch": options.batch, "dtype": options.dtype, "mode": options.mode,
                     "methods": options.methods, "compile": options.compile,
                     "figures": options.figures},
        "checks": checks,
        "rows": rows,
        "skipped": skipped,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def _group_key(row: dict[str, Any]) -> tuple:
    return (row["layer"], row["frames"], row["batch"], row["dtype"], row["mode"])


def _add_speedups(rows: list[dict[str, Any]]) -> None:
    plain = {_group_key(r): r["median_ms"] for r in rows if r["method"] == "2plus1d"}
    for row in rows:
        base = plain.get(_group_key(row))
        row["speedup_vs_2plus1d"] = round(base / row["median_ms"], 4) if base else None


# --------------------------------------------------------------------------
# Writing the results
# --------------------------------------------------------------------------

CSV_COLUMNS = ["layer", "frames", "channels", "batch", "input_shape", "dtype", "mode", "method",
               "label", "median_ms", "q25_ms", "q75_ms", "speedup_vs_2plus1d", "clips_per_s",
               "flops", "flops_source", "bytes_moved", "achieved_tflops", "peak_tflops",
               "fraction_of_peak", "roofline_ms", "fraction_of_roofline", "bound",
               "peak_memory_bytes", "estimated_memory_bytes", "threads", "repeats",
               "calls_per_sample", "device", "notes"]


def write_results(record: dict[str, Any], folder: Path,
                  figures: Sequence[str] = ("all",)) -> list[Path]:
    """Write results.csv, results.json, README.md and the PNGs `figures` names.

    `figures`: ``("all",)`` (one per (frames, batch, dtype, mode)), ``("none",)``, or
    names such as ``"f16_b8_bfloat16_inference"``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "results.csv", folder / "results.json"]
    with open(written[0], "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(record["rows"])
    written[1].write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    if "none" not in figures:
        written += _write_figures(record["rows"], folder, None if "all" in figures else figures)
    readme = folder / "README.md"
    readme.write_text(render_readme(record, [p.name for p in written if p.suffix == ".png"]),
                      encoding="utf-8")
    return [*written, readme]


class _Bar:
    """What `plot_timings` reads from a row."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.label = row["label"]
        self.method = row["method"]
        self.median_ms, self.q25_ms, self.q75_ms = row["median_ms"], row["q25_ms"], row["q75_ms"]


def _write_figures(rows: list[dict[str, Any]], folder: Path,
                   names: Sequence[str] | None = None) -> list[Path]:
    from .viz._common import figure_to_png  # a command-line tool may save figures
    from .viz.timing import plot_timings

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["frames"], row["batch"], row["dtype"], row["mode"])
        if names is None or "f{}_b{}_{}_{}".format(*key) in names:
            groups.setdefault(key, []).append(row)
    paths = []
    for (frames, batch, dtype, mode), group in groups.items():
        what = "forward pass" if mode == "inference" else "forward + backward pass"
        title = (f"{mode.capitalize()}: time per {what}, batch {batch}, {frames}-frame "
                 f"input, {dtype}, {group[0]['device']}")
        path = folder / f"timings_f{frames}_b{batch}_{dtype}_{mode}.png"
        path.write_bytes(figure_to_png(plot_timings([_Bar(r) for r in group], title=title),
                                       dpi=110))
        paths.append(path)
    return paths


def headline_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: median ms per method and the ratios that tell the story."""
    by_group: dict[tuple, dict[str, float]] = {}
    for row in rows:
        by_group.setdefault(_group_key(row), {})[row["method"]] = row["median_ms"]
    lines = ["| layer | frames | batch | dtype | mode | 3D ms | naive ms | (2+1)D ms | fast ms "
             "| 3D / (2+1)D | naive / (2+1)D | (2+1)D / fast |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def ms(times: dict[str, float], method: str) -> str:
        if method not in times:
            return "–"
        value = times[method]
        return f"{value:.0f}" if value >= 100 else f"{value:.3g}"  # 1370, not 1.37e+03

    def ratio(times: dict[str, float], a: str, b: str) -> str:
        return f"{times[a] / times[b]:.2f}" if a in times and b in times else "–"

    for (layer, frames, batch, dtype, mode), times in by_group.items():
        lines.append(
            f"| {layer} | {frames} | {batch} | {dtype} | {mode} | {ms(times, '3d')} | "
            f"{ms(times, 'naive')} | {ms(times, '2plus1d')} | {ms(times, 'fast')} | "
            f"{ratio(times, '3d', '2plus1d')} | {ratio(times, 'naive', '2plus1d')} | "
            f"{ratio(times, '2plus1d', 'fast')} |")
    return lines


def ratio_summary(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown bullets: each ratio's geometric mean over the configurations, per mode."""
    by_group: dict[tuple, dict[str, float]] = {}
    for row in rows:
        by_group.setdefault(_group_key(row), {})[row["method"]] = row["median_ms"]
    lines = []
    for slower, faster in (("naive", "2plus1d"), ("2plus1d", "3d"), ("2plus1d", "fast")):
        for mode in ("inference", "training"):
            ratios = [times[slower] / times[faster] for key, times in by_group.items()
                      if key[-1] == mode and slower in times and faster in times]
            if ratios:
                mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
                lines.append(
                    f"- {mode}: {METHOD_LABELS[slower]} takes {mean:.2f}x the time of the "
                    f"{METHOD_LABELS[faster]} (geometric mean over {len(ratios)} rows, "
                    f"range {min(ratios):.2f}-{max(ratios):.2f})")
    return lines


def _gpu_targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's GPU targets, read from the results (layer1, N=8, 16 frames, bf16)."""
    pick = {r["method"]: r for r in rows if r["layer"] == "layer1" and r["frames"] == 16
            and r["batch"] == 8 and r["dtype"] == "bfloat16" and r["mode"] == "inference"}
    if "fast" not in pick or "2plus1d" not in pick:
        return []
    fast, plain = pick["fast"], pick["2plus1d"]
    lines = [f"- layer1, N=8, 16x56x56, bfloat16 inference: fast path "
             f"{plain['median_ms'] / fast['median_ms']:.2f}x faster than plain (2+1)D "
             "(target >= 1.5x)"]
    if fast["roofline_ms"]:
        lines.append(f"- fast path at {fast['median_ms'] / fast['roofline_ms']:.2f}x its roofline "
                     f"bound of {fast['roofline_ms']:.3g} ms, {fast['bound']}-bound "
                     "(target <= 2x)")
    return lines


def render_readme(record: dict[str, Any], figures: Sequence[str]) -> str:
    """The results folder's README: how it was made, where, and what it shows."""
    env, protocol = record["environment"], record["protocol"]
    shared = ""
    if env["device"] == "cpu":
        shared = ("\nMeasured on a CPU shared with other processes: the load average "
                  f"(1, 5, 15 min) was {env['load_average']} before and "
                  f"{record['load_average_after']} after the run. Expect noise of tens of "
                  "percent; compare ratios within this run, not with other machines.\n")
    lines = [
        f"# Benchmark results: {env['device_name']} ({env['device']})",
        "",
        "Made with (from the repository root):",
        "",
        "```bash",
        record["command"],
        "```",
        "",
        f"- torch {env['torch']}, CUDA {env['cuda'] or 'none (a CPU-only build)'}, "
        f"cuDNN {env['cudnn'] or 'not available'}, "
        f"Python {env['python']}, {env['platform']}",
        f"- device: {env['device_name']}; CPU: {env['cpu_model']} "
        f"({env['cpu_capability']}), {protocol['threads']} threads",
        f"- {protocol['repeats']} timed samples per row after {protocol['warmup']} warm-up "
        f"calls; median and IQR; seed {protocol['seed']}; run took {record['elapsed_s']} s",
        "- each row: one stride-1 C -> C conv (kernel 3x3x3, padding 1, no bias) of "
        "R(2+1)D-18's layer at the size it sees; inference = forward under "
        "`torch.inference_mode`, training = forward + backward (incl. the input's gradient)",
        "- checked first: naive and fast outputs vs the plain (2+1)D layer, max relative "
        "error " + ", ".join(
            f"{c['config']} {c['dtype']}: "
            + " / ".join(f"{m} {e:.1e}" for m, e in c["relative_error"].items())
            for c in record["checks"]),
        shared,
        "## Headline ratios",
        "",
        "Ratios > 1 mean the first-named is slower. The fast path is inference-only "
        "(its BatchNorm is folded), so training rows have no fast column.",
        "",
        *ratio_summary(record["rows"]),
        "",
        *headline_table(record["rows"]),
        "",
        *_gpu_targets(record["rows"]),
        "",
        "## Files",
        "",
        "- `results.csv`: one row per (layer, frames, batch, dtype, mode, method)",
        "- `results.json`: the same rows plus the environment, protocol and checks",
        *[f"- `{name}`" for name in figures],
    ]
    if record["skipped"]:
        lines += ["", "## Skipped", "", *[f"- {s}" for s in record["skipped"]]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> Path:
    """Command-line entry: run the sweep and write the results folder; returns it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--family"]:  # the family sweep lives in a module of its own
        from .bench_family import main as family_main

        return family_main(argv[1:])
    options = _options(argv)
    options.argv = argv
    record = run(options)
    env = record["environment"]
    folder = options.out / (options.slug or device_slug(env["device_name"],
                                                         torch.device(env["device"]).type))
    try:
        written = write_results(record, folder, options.figures)
    except OSError as error:  # a full disk, a read-only folder: one line, not a traceback
        print(f"python -m r21d_edu.bench: error: cannot write the results to {folder}: "
              f"{error.strerror or error}", file=sys.stderr)
        raise SystemExit(2) from None
    for path in written:
        print(f"wrote {path}")
    return folder


if __name__ == "__main__":
    main()
