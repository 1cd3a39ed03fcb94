"""Benchmark the whole family of factorizations side by side: every member of
`r21d_edu.factorized` with the 3D conv and the (2+1)D layer, in one run.

Run ``python -m r21d_edu.bench_family`` (``--help`` for options; ``python -m
r21d_edu.bench --family`` is the same). For each configuration it builds the 3D
conv (`FullConv3d`), the (2+1)D layer (`SpatioTemporalConv`, the paper's M) and the
nine members (P3D-A/B/C, S3D, S3D-G, ip-/ir-CSN, depthwise (2+1)D, TSM), all with
their default constructor options, ``bias=False`` and "same" padding, checks that
they give the 3D conv's output shape, then times them with
`r21d_edu.timing.time_side_by_side` (inference, eval mode, the samples of all
eleven taken in turns) at each thread count. Each record carries the layer's
parameters, MACs and bytes written from `r21d_edu.counting`, so a reader can put
latency beside work for every member.

Configurations (the default sweep; ``--smoke`` is one tiny one for tests):

==========================  ====================  ================================
name                        conv                  input (N, C, T, H, W)
==========================  ====================  ================================
``64-64-k3-t8-28``          64 -> 64, 3x3x3       (1, 64, 8, 28, 28)
``64-64-k3-t16-56``         64 -> 64, 3x3x3       (1, 64, 16, 56, 56)
``128-128-k3-t8-14``        128 -> 128, 3x3x3     (1, 128, 8, 14, 14)
==========================  ====================  ================================

Results go to ``<out>/family.json`` (the records, the machine block, the protocol),
``family.csv`` (the records) and ``family.md`` (a table per configuration). Every
finished (configuration, threads) group is written at once, so an interrupted run
keeps what it measured (``"complete": false``) and ``--resume`` times only the rest.

This is a command-line tool: it imports no figures (the family has no colours in
`r21d_edu.viz` yet) and no widgets.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ._checks import rng_kept
from .counting import activation_memory, count_macs, count_parameters, stage_shapes
from .factorized import FACTORIZED_LAYERS
from .layers import FullConv3d, SpatioTemporalConv
from .timing import TimingSettings, Variant, environment, time_side_by_side

__all__ = ["FAMILY_CONFIGS", "SMOKE_CONFIGS", "FamilyConfig", "build_family", "main", "run"]

SCHEMA = 1


@dataclass(frozen=True)
class FamilyConfig:
    """One layer configuration: a C_in -> C_out conv of a kernel on one input shape.

    Shape:
        ``input_shape`` is (N, C_in, T, H, W); padding is "same" (k // 2), stride 1.
    """

    name: str
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int, int]
    input_shape: tuple[int, int, int, int, int]

    @property
    def padding(self) -> tuple[int, int, int]:
        return tuple(k // 2 for k in self.kernel_size)  # type: ignore[return-value]


FAMILY_CONFIGS = (
    FamilyConfig("64-64-k3-t8-28", 64, 64, (3, 3, 3), (1, 64, 8, 28, 28)),
    FamilyConfig("64-64-k3-t16-56", 64, 64, (3, 3, 3), (1, 64, 16, 56, 56)),
    FamilyConfig("128-128-k3-t8-14", 128, 128, (3, 3, 3), (1, 128, 8, 14, 14)),
)
SMOKE_CONFIGS = (FamilyConfig("8-8-k3-t4-8", 8, 8, (3, 3, 3), (1, 8, 4, 8, 8)),)
# The order of every table: the two references, then the family as FACTORIZED_LAYERS lists it.
LAYER_ORDER = ("3d", "2plus1d", *FACTORIZED_LAYERS)


def build_family(config: FamilyConfig, seed: int = 0) -> dict[str, torch.nn.Module]:
    """The 3D conv, the (2+1)D layer and every factorized layer of `config`, seeded, in
    eval mode, keyed by ``"3d"``, ``"2plus1d"`` and the `FACTORIZED_LAYERS` keys.

    Shape:
        Each takes ``config.input_shape`` (N, C_in, T, H, W) and gives the 3D conv's
        output shape.
    """
    args = (config.in_channels, config.out_channels, config.kernel_size)
    options = {"padding": config.padding, "bias": False}
    with rng_kept():  # seeded for the run; the caller's random stream left as it was
        torch.manual_seed(seed)
        layers = {"3d": FullConv3d(*args, **options),
                  "2plus1d": SpatioTemporalConv(*args, **options)}
        layers.update({key: cls(*args, **options) for key, cls in FACTORIZED_LAYERS.items()})
    return {key: layer.eval() for key, layer in layers.items()}


def _counts(layers: dict[str, torch.nn.Module], config: FamilyConfig) -> dict[str, dict]:
    """Parameters, MACs, bytes written and output shape of each layer, from counting.

    Also the correctness check that comes first: every layer must give the 3D conv's
    output shape, or nothing is timed.
    """
    shape = config.input_shape
    counts = {}
    for key, layer in layers.items():
        counts[key] = {
            "params": count_parameters(layer).total,
            "weights": count_parameters(layer).weights,
            "macs": count_macs(layer, shape).macs,
            "bytes": activation_memory(layer, shape).total_bytes,
            "output_shape": list(stage_shapes(layer, shape).output_shape),
        }
    expected = counts["3d"]["output_shape"]
    wrong = {k: c["output_shape"] for k, c in counts.items() if c["output_shape"] != expected}
    if wrong:
        raise SystemExit(f"{config.name}: output shapes differ from the 3D conv's {expected}: "
                         f"{wrong}; nothing was timed")
    return counts


# --------------------------------------------------------------------------
# The run: one side-by-side timing per (configuration, threads), written as it goes
# --------------------------------------------------------------------------


def _machine(load_before: Any) -> dict[str, Any]:
    env = environment("cpu").as_dict()
    return {**env, "cpu_count": os.cpu_count(), "load_average_before": load_before}


def _group_records(config: FamilyConfig, threads: int, layers: dict[str, torch.nn.Module],
                   counts: dict[str, dict], settings: TimingSettings) -> list[dict[str, Any]]:
    variants = [Variant(key, layer, key) for key, layer in layers.items()]
    load_before = environment("cpu").load_average
    results = time_side_by_side(variants, config.input_shape, settings.replace(threads=threads))
    load_after = environment("cpu").load_average
    records = []
    for result in results:
        key = result.method
        label = ("3D conv" if key == "3d" else "(2+1)D conv" if key == "2plus1d"
                 else FACTORIZED_LAYERS[key].label)
        records.append({
            "layer": key, "label": label, "config": config.name,
            "in_channels": config.in_channels, "out_channels": config.out_channels,
            "kernel_size": list(config.kernel_size), "stride": [1, 1, 1],
            "padding": list(config.padding), "input_shape": list(config.input_shape),
            "output_shape": counts[key]["output_shape"], "threads": threads,
            "median_ms": round(result.median_ms, 4), "q25_ms": round(result.q25_ms, 4),
            "q75_ms": round(result.q75_ms, 4), "min_ms": round(min(result.samples_ms), 4),
            "max_ms": round(max(result.samples_ms), 4), "repeats": result.repeats,
            "calls_per_sample": result.calls_per_sample,
            "params": counts[key]["params"], "weights": counts[key]["weights"],
            "macs": counts[key]["macs"],
            "bytes": counts[key]["bytes"], "bytes_moved": result.bytes_moved,
            "load_average_before": load_before, "load_average_after": load_after,
        })
    return records


def run(configs: Sequence[FamilyConfig], threads: Sequence[int], settings: TimingSettings,
        out: Path | None = None, previous: dict[str, Any] | None = None,
        command: str = "", seed: int = 0, stem: str = "family") -> dict[str, Any]:
    """Time every (configuration, threads) group side by side; return the JSON record.

    With `out`, the record is rewritten there (``<stem>.json``, ``.csv``, ``.md``) after
    each group (``"complete": false`` until the last), so an interruption loses at most
    the group in flight. With `previous` (an earlier record of the same protocol), its
    groups are kept and not timed again.

    Shape:
        Each configuration's ``input_shape`` is (N, C_in, T, H, W).
    """
    started = time.perf_counter()
    protocol = {"mode": "inference", "device": "cpu", "dtype": "float32",
                "repeats": settings.repeats, "warmup": settings.warmup,
                "warmup_s": settings.warmup_s, "threads": list(threads), "seed": seed,
                "configs": [asdict(c) for c in configs],
                "layers": list(LAYER_ORDER), "bias": False, "padding": "same"}
    record: dict[str, Any] = {
        "schema": SCHEMA, "command": command, "complete": False,
        "machine": _machine(environment("cpu").load_average),
        # As JSON has it (lists, not tuples), so that --resume can compare it with a file's.
        "protocol": json.loads(json.dumps(protocol)),
        "records": [],
    }
    done = set()
    if previous and previous.get("protocol") == record["protocol"]:
        record["records"] = list(previous["records"])
        done = {(r["config"], r["threads"]) for r in record["records"]}
    groups = [(c, t) for c in configs for t in threads if (c.name, t) not in done]
    bar = tqdm(total=len(groups), desc="family bench", unit="group", mininterval=1.0,
               dynamic_ncols=True)
    try:
        for config in configs:
            todo = [t for t in threads if (config.name, t) not in done]
            if not todo:
                continue
            layers = build_family(config, seed)
            counts = _counts(layers, config)
            for n_threads in todo:
                bar.set_postfix_str(f"{config.name}, {n_threads} thread(s)")
                record["records"] += _group_records(config, n_threads, layers, counts, settings)
                record["elapsed_s"] = round(time.perf_counter() - started, 1)
                if out is not None:
                    write_results(record, out, stem)
                bar.update()
    finally:
        bar.close()
    record["records"].sort(key=lambda r: ([c.name for c in configs].index(r["config"]),
                                          r["threads"], LAYER_ORDER.index(r["layer"])))
    record["complete"] = True
    record["machine"]["load_average_after"] = environment("cpu").load_average
    record["elapsed_s"] = round(time.perf_counter() - started, 1)
    return record


# --------------------------------------------------------------------------
# Writing the results
# --------------------------------------------------------------------------

CSV_COLUMNS = ["config", "layer", "label", "in_channels", "out_channels", "kernel_size",
               "input_shape", "output_shape", "threads", "median_ms", "q25_ms", "q75_ms",
               "min_ms", "max_ms", "params", "weights", "macs", "bytes", "bytes_moved", "repeats",
               "calls_per_sample"]


def _cell(value: Any) -> Any:
    return "x".join(map(str, value)) if isinstance(value, list) else value


def render_markdown(record: dict[str, Any]) -> str:
    """family.md: the machine, then one table per configuration (a column per threads)."""
    machine, protocol = record["machine"], record["protocol"]
    threads = protocol["threads"]
    lines = [
        "# The family of factorizations, timed side by side (CPU, inference)", "",
        "Made with (from the repository root):", "", "```bash", record["command"], "```", "",
        f"- CPU: {machine['cpu_model']} ({machine['cpu_count']} cores, "
        f"{machine['cpu_capability']}); torch {machine['torch']}; Python {machine['python']}",
        f"- load average (1, 5, 15 min): {machine['load_average_before']} before, "
        f"{machine.get('load_average_after')} after; run took {record.get('elapsed_s')} s",
        f"- {protocol['repeats']} samples per layer after {protocol['warmup']} warm-up calls, "
        "all eleven layers of a configuration timed in turns; median, and the IQR in "
        "brackets; float32, eval mode, batch 1, bias off, 'same' padding, stride 1",
        "- params (all, BatchNorm included), MACs and bytes written from "
        "`r21d_edu.counting`; a shared machine: compare ratios within a table, not across "
        "machines", "",
    ]
    configs = [c["name"] for c in protocol["configs"]]
    for name in configs:
        rows = [r for r in record["records"] if r["config"] == name]
        if not rows:
            continue
        first = rows[0]
        lines += [f"## {name}: {first['in_channels']} -> {first['out_channels']}, kernel "
                  f"{_cell(first['kernel_size'])}, input {_cell(first['input_shape'])}", "",
                  "| layer | params | MACs | bytes written | "
                  + " | ".join(f"{t} thread{'s' * (t > 1)} ms" for t in threads)
                  + " | ms / GMAC (1 thread) |",
                  "|---|---:|---:|---:|" + "---:|" * len(threads) + "---:|"]
        for key in LAYER_ORDER:
            by_threads = {r["threads"]: r for r in rows if r["layer"] == key}
            if not by_threads:
                continue
            one = next(iter(by_threads.values()))
            cells = [f"{r['median_ms']:.3g} [{r['q25_ms']:.3g}–{r['q75_ms']:.3g}]"
                     if (r := by_threads.get(t)) else "–" for t in threads]
            single = by_threads.get(min(threads))
            per_gmac = (f"{single['median_ms'] / (single['macs'] / 1e9):.3g}"
                        if single and single["macs"] else "–")
            lines.append(f"| {one['label']} | {one['params']:,} | {one['macs']:,} | "
                         f"{one['bytes']:,} | " + " | ".join(cells) + f" | {per_gmac} |")
        lines.append("")
    if not record["complete"]:
        lines += ["**Incomplete**: the run was interrupted; `--resume` times the rest.", ""]
    return "\n".join(lines)


def write_results(record: dict[str, Any], out: Path, stem: str = "family") -> list[Path]:
    """Write ``<stem>.json``, ``.csv`` and ``.md`` under `out` (each replaced whole, so a
    reader never sees half a file)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.csv", out / f"{stem}.md"]
    texts = [json.dumps(record, indent=1) + "\n", None, render_markdown(record)]
    for path, text in zip(paths, texts, strict=True):
        partial = path.with_suffix(path.suffix + ".partial")
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            if text is None:
                writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows({k: _cell(v) for k, v in r.items()} for r in record["records"])
            else:
                handle.write(text)
        partial.replace(path)
    return paths


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m r21d_edu.bench_family",
        description="Time every factorized layer with the 3D and (2+1)D convs, side by side, "
        "on CPU at 1 and 2 threads (about 2-4 minutes on 2 cores); writes OUT/family.json, "
        ".csv and .md.")
    parser.add_argument("--smoke", action="store_true",
                        help="one tiny configuration, 1 thread, 2 samples (seconds; for tests); "
                        "writes family_smoke.* so the committed results stay")
    parser.add_argument("--threads", type=int, nargs="+", help="thread counts (default 1 2)")
    parser.add_argument("--repeats", type=int, help="timed samples per layer (default 9)")
    parser.add_argument("--warmup", type=int, help="warm-up calls per layer (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and input")
    parser.add_argument("--out", type=Path, default=Path("benchmarks"),
                        help="folder of the results (default benchmarks)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the groups an interrupted run of the same protocol wrote")
    return parser


def main(argv: Sequence[str] | None = None) -> Path:
    """Command-line entry: run the family sweep and write its files; returns the JSON path."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    options = parser.parse_args(argv)
    smoke = options.smoke
    threads = options.threads or ([1] if smoke else [1, 2])
    repeats = options.repeats or (2 if smoke else 9)
    warmup = options.warmup or (1 if smoke else 2)
    for name, values in (("--threads", threads), ("--repeats", [repeats]),
                         ("--warmup", [warmup])):
        if any(v < 1 for v in values):
            parser.error(f"{name} must be integers >= 1, got {' '.join(map(str, values))}")
    if options.out.exists() and not options.out.is_dir():
        parser.error(f"--out {options.out} is a file; the results go to a folder")
    stem = "family_smoke" if smoke else "family"
    previous = None
    path = options.out / f"{stem}.json"
    if options.resume and path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
    settings = TimingSettings(repeats=repeats, warmup=warmup,
                              warmup_s=0.0 if smoke else 0.1, seed=options.seed)
    command = "python -m r21d_edu.bench_family " + " ".join(shlex.quote(a) for a in argv)
    configs = SMOKE_CONFIGS if smoke else FAMILY_CONFIGS
    try:
        record = run(configs, threads, settings, options.out, previous, command.strip(),
                     options.seed, stem)
    except KeyboardInterrupt:
        print(f"interrupted: the finished groups are in {path}; run again with --resume",
              file=sys.stderr)
        raise SystemExit(130) from None
    try:
        written = write_results(record, options.out, stem)
    except OSError as error:
        print(f"python -m r21d_edu.bench_family: error: cannot write to {options.out}: "
              f"{error.strerror or error}", file=sys.stderr)
        raise SystemExit(2) from None
    for written_path in written:
        print(f"wrote {written_path}")
    return path


if __name__ == "__main__":
    main()
