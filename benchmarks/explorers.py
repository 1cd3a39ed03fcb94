"""How long an explorer takes to answer one control change, before and after a change.

Usage (from the repository root, with the package's environment active)::

    python benchmarks/explorers.py --baseline 8f79a86 --changes 60
    python benchmarks/explorers.py --only family --merge   # one explorer, the rest kept

For each explorer (budget, layer, rank, feature maps, scrubber, reshape, family) it
applies the same seeded sequence of random control changes to the explorer of the
``--baseline`` commit (exported with ``git archive``) and to the one of the working tree,
each in its own fresh Python process, alternating which goes first, in one run — so both see the
same machine load. One change is one ``control.value = ...``: ipywidgets calls the
observers synchronously, so the time is what the kernel spends before the front end
can show the new view (the browser's own drawing is not included). The first
``--warmup`` changes of each process are thrown away (imports, font caches).

Writes ``benchmarks/explorers.json`` (every latency, the environment and the load
average before and after) and ``benchmarks/explorers.md`` (p50 / p95 / max per
explorer) — files, not a folder: each folder of ``benchmarks/`` holds one device's
results of ``python -m r21d_edu.bench``, which tutorial 03 reads.
Targets (issue 12, on a quiet 2-core machine): budget and layer p95 <= 100 ms,
rank and feature-map p95 <= 250 ms; issue 19's attribution scrubber (one frame or
method step; its attributions are computed when it is built, in ``build_ms``) <= 150 ms; issue
17's reshape explorer (one step or follow change) <= 100 ms; issue 18's family explorer
(tutorial 10: every member of the family recounted and replotted per change) <= 150 ms.
An explorer the baseline does not have yet is timed after only (before: —).

``--merge`` keeps the other explorers' results in ``explorers.json`` and replaces only
those timed now; each merged entry records its own run (commit, load before and after,
CPU), since it did not share the machine's load with the others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPLORERS = {  # name: (module, class, target p95 in ms)
    "budget": ("r21d_edu.widgets.budget", "BudgetExplorer", 100),
    "layer": ("r21d_edu.widgets.layers", "LayerExplorer", 100),
    "rank": ("r21d_edu.widgets.budget", "RankExplorer", 250),
    "feature": ("r21d_edu.widgets.kernels", "FeatureExplorer", 250),
    "scrubber": ("r21d_edu.widgets.attribution", "attribution_scrubber", 150),
    "reshape": ("r21d_edu.widgets.reshape", "ReshapeExplorer", 100),
    "family": ("r21d_edu.widgets.family", "FamilyExplorer", 150),
}


def _scrubber_arguments() -> tuple[tuple, dict]:
    """The scrubber needs a model and a clip: an untrained family r3d on one seeded task clip.

    Untrained is enough here: a step only redraws maps computed at build time, and
    their values do not change what a redraw costs.
    """
    import torch

    from r21d_edu.family import family_model
    from r21d_edu.tasks import DirectionTask, make_splits, object_masks

    torch.manual_seed(0)
    split = make_splits(DirectionTask(train=8, val=8, test=8))["test"]
    clip, _ = split.batch([0])
    masks = object_masks({k: v[:1] for k, v in split.truth.items()})
    methods = ["grad_cam", "gradient_x_input", "integrated_gradients"]
    return (family_model("r3d").eval(), clip), {"masks": masks, "methods": methods}


#: Explorers that take arguments: a function giving (args, kwargs) to build one.
ARGUMENTS = {"scrubber": _scrubber_arguments}


def _choices(control: object) -> list:
    """The values a user can give a control (sliders: every step; toggles: every option)."""
    import ipywidgets as w

    if isinstance(control, (w.IntSlider, w.FloatSlider)):
        steps = round((control.max - control.min) / control.step)
        values = [control.min + i * control.step for i in range(steps + 1)]
        return [round(v, 6) if isinstance(control, w.FloatSlider) else int(v) for v in values]
    options = control.options
    return [o[1] if isinstance(o, tuple) else o for o in options]


def worker(name: str, changes: int, warmup: int, seed: int) -> dict:
    """Run in a fresh process: build one explorer and time `changes` random changes."""
    import importlib

    module, cls, _ = EXPLORERS[name]
    try:
        build = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):  # an explorer newer than the baseline
        return {"missing": True, "package": str(Path(importlib.import_module(
            "r21d_edu").__file__).parent)}
    args, kwargs = ARGUMENTS[name]() if name in ARGUMENTS else ((), {})
    start = time.perf_counter()
    explorer = build(*args, **kwargs)
    build_ms = 1000 * (time.perf_counter() - start)
    rng = random.Random(seed)
    names = sorted(explorer.controls)
    latencies, flagged = [], 0
    for index in range(warmup + changes):
        control = explorer.controls[rng.choice(names)]
        options = [v for v in _choices(control) if v != control.value]
        if not options:
            continue
        value = rng.choice(options)
        start = time.perf_counter()
        control.value = value
        elapsed = 1000 * (time.perf_counter() - start)
        if index >= warmup:
            latencies.append(elapsed)
            flagged += bool(explorer.message.value)
    return {"build_ms": build_ms, "latencies_ms": latencies, "flagged": flagged,
            "package": str(Path(importlib.import_module("r21d_edu").__file__).parent)}


def _export(rev: str, folder: Path) -> None:
    archive = subprocess.run(["git", "archive", rev, "r21d_edu"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")


def _run(name: str, path: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(path), "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--changes", str(args.changes),
         "--warmup", str(args.warmup), "--seed", str(args.seed)],
        cwd=tempfile.gettempdir(), env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["package"].startswith(str(path)):
        raise RuntimeError(f"{name}: imported {result['package']}, expected one under {path}")
    return result


def _summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ordered), "p50_ms": statistics.median(ordered), "p95_ms": p95,
            "max_ms": ordered[-1]}


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (what a latency depends on)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="8f79a86", help="commit to compare against")
    parser.add_argument("--changes", type=int, default=60, help="timed changes per explorer")
    parser.add_argument("--warmup", type=int, default=3, help="changes thrown away first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", choices=sorted(EXPLORERS), default=None)
    parser.add_argument("--merge", action="store_true",
                        help="keep the other explorers' results in explorers.json")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks",
                        help="folder for explorers.json and explorers.md")
    parser.add_argument("--worker", choices=sorted(EXPLORERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.changes, args.warmup, args.seed)))
        return

    import torch

    baseline = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    record = {"baseline": baseline, "after": f"working tree at {head}",
              "uptime_before": _uptime(), "cpus": os.cpu_count(), "cpu_model": _cpu_model(),
              "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
              "torch": torch.__version__, "changes": args.changes, "warmup": args.warmup,
              "seed": args.seed, "explorers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp)
        _export(args.baseline, before)
        for index, name in enumerate(args.only or EXPLORERS):
            order = [("before", before), ("after", ROOT)]
            if index % 2:
                order.reverse()  # alternate, so neither side always runs on a warmer machine
            runs = {side: _run(name, path, args) for side, path in order}
            record["explorers"][name] = {
                "target_p95_ms": EXPLORERS[name][2],
                **{side: None if r.get("missing") else {
                    **_summary(r["latencies_ms"]), "build_ms": r["build_ms"],
                    "flagged": r["flagged"], "latencies_ms": r["latencies_ms"]}
                   for side, r in runs.items()}}
            shown = {side: record["explorers"][name][side] for side in runs}
            print(name, {side: v and round(v["p95_ms"], 1) for side, v in shown.items()},
                  flush=True)
    record["uptime_after"] = _uptime()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge and (args.out / "explorers.json").exists():
        # The new entries keep their own run: they did not share the others' load.
        run = {k: record[k] for k in ("baseline", "after", "uptime_before", "uptime_after",
                                      "cpus", "cpu_model", "torch_threads", "torch",
                                      "changes", "warmup", "seed")}
        merged = json.loads((args.out / "explorers.json").read_text())
        for name, entry in record["explorers"].items():
            merged["explorers"][name] = {**entry, "run": run}
        record = merged
    (args.out / "explorers.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = [
        "# Explorer latency per control change, before and after",
        "",
        f"`python benchmarks/explorers.py --baseline {record['baseline']} --changes "
        f"{record['changes']}`: the same {record['changes']} seeded random changes per explorer "
        f"(after {record['warmup']} thrown away), baseline `{record['baseline']}` against the "
        f"{record['after']}, alternating, in one run; each in a fresh process.",
        "",
        f"- machine: {record['cpus']} CPUs"
        + (f" ({record['cpu_model']})" if record.get("cpu_model") else "")
        + f", torch {record['torch']} "
        f"({record['torch_threads']} threads), Python {record['python']}",
        f"- load before: `{record['uptime_before']}`",
        f"- load after: `{record['uptime_after']}`",
        "",
        "| explorer | target p95 | before p50 | before p95 | after p50 | after p95 | after max |"
        " flagged (after) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in record["explorers"].items():
        b, a = row["before"], row["after"]
        before = (f"{b['p50_ms']:.0f} ms | {b['p95_ms']:.0f} ms" if b else "— | —")
        lines.append(f"| {name} | {row['target_p95_ms']} ms | {before} | "
                     f"{a['p50_ms']:.0f} ms | {a['p95_ms']:.0f} ms | "
                     f"{a['max_ms']:.0f} ms | {a['flagged']} of {a['n']} |")
    for name, row in record["explorers"].items():
        if "run" in row:
            r = row["run"]
            lines += ["", f"`{name}` was timed in a run of its own (`--only {name} --merge`, "
                      f"baseline `{r['baseline']}` against the {r['after']}): {r['cpus']} CPUs "
                      f"({r['cpu_model']}), torch {r['torch']} ({r['torch_threads']} threads); "
                      f"load before `{r['uptime_before']}`, after `{r['uptime_after']}`."]
    lines += ["", "The load average is part of the result: on a shared machine every number "
              "here is an upper bound of what a quiet machine gives."]
    (args.out / "explorers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
