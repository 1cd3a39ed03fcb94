#!/usr/bin/env bash
# One prepared GPU run: the gpu-marked tests, the benchmark's target row, a reduced sweep and
# CUDA training smoke runs, written under one folder to commit. Made to work the first time on
# a machine that cannot reach any network (it installs nothing from a registry), to keep going
# past a failing step (each one is recorded), and to finish inside a time budget (default
# 460 s: under 8 minutes on one H100/H200, the report included).
#
#   bash scripts/gpu_check.sh                 # writes benchmarks/gpu-<device>/
#   bash scripts/gpu_check.sh --out DIR       # writes DIR/gpu-<device>/
#   bash scripts/gpu_check.sh --dry-run       # prints the plan and checks every command parses
#   bash scripts/gpu_check.sh --rehearse-on-cpu --out /tmp/r   # every step, tiny, on the CPU
#   bash scripts/gpu_check.sh --redraw benchmarks/gpu-nvidia-h200  # figures, where plotly is
#
# benchmarks/README.md says what each step does, what the folder holds and how to carry a
# Python package the GPU machine lacks (a .whl/ folder of wheels, installed with --no-index).
set -u -o pipefail

usage() {
    cat <<'EOF'
usage: bash scripts/gpu_check.sh [--out DIR] [--slug NAME] [--budget SECONDS]
                                 [--dry-run | --rehearse-on-cpu | --redraw FOLDER]

  --out DIR          results go to DIR/<slug>/ (default: benchmarks)
  --slug NAME        the folder's name (default: gpu-<device>, e.g. gpu-nvidia-h200)
  --budget SECONDS   the whole run's time limit, report included (default: 460)
  --dry-run          print the steps and their commands, check that every command parses
                     (bash -n, each entry point's own argument parser, pytest's collection);
                     runs nothing on a GPU and writes nothing
  --rehearse-on-cpu  run every step for real on the CPU at a tiny size (not the GPU commands):
                     checks the plumbing (logs, limits, report) on a machine without a GPU
  --redraw FOLDER    draw the sweep's figures into FOLDER from its results.json and rewrite
                     its README (for a run made where plotly was missing)

Environment: PYTHON (default python3) is the interpreter that holds torch.
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

OUT_PARENT=benchmarks
SLUG=""
BUDGET=460
MODE=run
REDRAW_FOLDER=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT_PARENT=${2:?--out needs a folder}; shift 2 ;;
        --slug) SLUG=${2:?--slug needs a name}; shift 2 ;;
        --budget) BUDGET=${2:?--budget needs seconds}; shift 2 ;;
        --dry-run) MODE=dry-run; shift ;;
        --rehearse-on-cpu) MODE=rehearse; shift ;;
        --redraw) MODE=redraw; REDRAW_FOLDER=${2:?--redraw needs a results folder}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
case "$BUDGET" in
    ''|*[!0-9]*) echo "gpu_check.sh: --budget must be whole seconds, got '$BUDGET'" >&2; exit 2 ;;
esac
if [ -n "$SLUG" ] && ! [[ "$SLUG" =~ ^[A-Za-z0-9._-]+$ ]]; then
    echo "gpu_check.sh: --slug may hold letters, digits, '.', '_' and '-' only, got '$SLUG'" >&2
    exit 2
fi

if [ -z "${PYTHON:-}" ]; then
    if command -v python3 >/dev/null 2>&1; then PYTHON=python3; else PYTHON=python; fi
fi
# This package runs from the checkout itself: nothing is installed into the image's Python.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg TQDM_DISABLE=1 PYTHONDONTWRITEBYTECODE=1

REPORT_RESERVE=25   # seconds kept for the report at the end
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") || exit 1
HELPER="$WORK/gpu_check_helper.py"

# --------------------------------------------------------------------------------------------
# The Python side: environment record, import check, plan check, report. One file, written
# here so that the script stays one file; every function is run in the dry run too.
# --------------------------------------------------------------------------------------------
cat >"$HELPER" <<'PYEOF'
"""gpu_check.sh's Python side: python gpu_check_helper.py COMMAND ARGS..."""
import csv
import datetime
import importlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

PACKAGES = {  # import name: what is lost without it
    "torch": "everything", "numpy": "everything", "matplotlib": "figures",
    "tqdm": "the benchmark", "pytest": "the gpu tests", "hypothesis": "the gpu tests",
    "plotly": "figures (r21d_edu.viz imports it): draw them later with --redraw",
    "narwhals": "plotly", "ipywidgets": "nothing this check runs", "av": "nothing this check runs",
}
FIGURES = ("f16_b8_bfloat16_inference", "f16_b8_bfloat16_training")


def imports(out):
    found = {}
    for name, role in PACKAGES.items():
        try:
            module = importlib.import_module(name)
            found[name] = getattr(module, "__version__", "present")
        except Exception as error:  # an import can fail in other ways than ImportError
            found[name] = None
            print(f"MISSING {name}: {type(error).__name__}: {error} -- needed for: {role}")
    for name, version in found.items():
        if version is not None:
            print(f"found   {name} {version}")
    try:
        import r21d_edu
        found["r21d_edu"] = f"{r21d_edu.__version__} from {Path(r21d_edu.__file__).parent}"
        print(f"found   r21d_edu {found['r21d_edu']}")
    except Exception as error:
        found["r21d_edu"] = None
        print(f"MISSING r21d_edu: {type(error).__name__}: {error}")
    Path(out).write_text(json.dumps(found, indent=1) + "\n")


def environment(out):
    import torch

    record = {"python": sys.version.split()[0], "executable": sys.executable,
              "platform": platform.platform(), "torch": torch.__version__,
              "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
              "cuda_available": torch.cuda.is_available(),
              "device_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
              "tf32": {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
                       "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32},
              "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
              "cpu_count": os.cpu_count(), "devices": []}
    if record["cuda_available"]:
        try:
            record["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
        except Exception as error:
            record["nccl"] = f"unknown ({type(error).__name__})"
        for index in range(record["device_count"]):
            p = torch.cuda.get_device_properties(index)
            record["devices"].append({"index": index, "name": p.name,
                                      "capability": f"{p.major}.{p.minor}",
                                      "memory_gib": round(p.total_memory / 2**30, 1),
                                      "multiprocessors": p.multi_processor_count})
        from r21d_edu.timing import environment as package_environment
        record["r21d_edu_environment"] = package_environment("cuda").as_dict()
    Path(out).write_text(json.dumps(record, indent=1) + "\n")
    for key in ("python", "torch", "cuda", "cudnn", "nccl", "cuda_available", "device_count"):
        print(f"{key}: {record.get(key)}")
    for device in record["devices"]:
        print(f"device {device['index']}: {device['name']}, {device['memory_gib']} GiB, "
              f"{device['multiprocessors']} SMs, capability {device['capability']}")


def slug(name):
    from r21d_edu.bench import device_slug
    print("gpu-" + device_slug(name, "cuda"))


# ---- the dry run's checks: every planned command, through its own parser -----------------

def _bench(args):
    from r21d_edu import bench

    parser = bench._parser()
    options = parser.parse_args(args)  # exits 2 with argparse's message on a bad argument
    defaults = bench.GPU_DEFAULTS if options.device.startswith("cuda") else bench.CPU_DEFAULTS
    for key, value in defaults.items():
        if getattr(options, key) is None:
            setattr(options, key, value)
    bench._check_figures(parser, options)
    rows = (len(options.frames) * len(options.layers) * len(options.batch) * len(options.dtype)
            * len(options.mode))
    return (f"bench arguments accepted: {rows} timed rows of {', '.join(options.methods)} "
            f"(no fast path in training), {options.repeats} samples after {options.warmup} "
            f"warm-up calls, figures {' '.join(options.figures)}")


def _experiment(args):
    from r21d_edu import experiment

    options = experiment.parse_args(args)
    return (f"experiment arguments accepted: {options.models} x seeds {options.seeds}, "
            f"{options.epochs} epoch(s), {options.train} training clips, device {options.device}")


def _torchrun(args):
    from torch.distributed.run import get_args_parser

    options = get_args_parser().parse_args(args)
    if not options.module or options.training_script != "r21d_edu.experiment":
        raise SystemExit(f"torchrun should run -m r21d_edu.experiment, got "
                         f"{options.training_script!r}")
    told = _experiment(options.training_script_args)
    return f"torchrun arguments accepted: {options.nproc_per_node} processes; {told}"


def _pytest(args):
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q",
               *[a for a in args if not a.startswith("--junitxml")]]
    done = subprocess.run(collect, capture_output=True, text=True, timeout=300)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode != 0 or "error" in last:
        raise SystemExit(f"pytest collection failed (exit {done.returncode}): {last}\n"
                         f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return f"pytest arguments accepted: {last}"


def check_plan(plan_file):
    """Each line: a step name, a tab, the shell-quoted command. Exit 1 if any fails."""
    failures = 0
    for line in Path(plan_file).read_text().splitlines():
        name, command = line.split("\t", 1)
        words = shlex.split(command)
        try:
            if words[1:3] == ["-m", "r21d_edu.bench"]:
                told = _bench(words[3:])
            elif words[1:3] == ["-m", "r21d_edu.experiment"]:
                told = _experiment(words[3:])
            elif words[1:3] == ["-m", "torch.distributed.run"]:
                told = _torchrun(words[3:])
            elif words[1:3] == ["-m", "pytest"]:
                told = _pytest(words[3:])
            else:
                raise SystemExit(f"no check for this command: {command}")
            print(f"  ok    {name}: {told}")
        except SystemExit as stop:
            failures += 1
            print(f"  FAIL  {name}: its arguments were refused ({stop.code}): {command}")
    sys.exit(1 if failures else 0)


# ---- the report --------------------------------------------------------------------------

def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _steps(work):
    steps = []
    path = Path(work) / "steps.tsv"
    if path.exists():
        for line in path.read_text().splitlines():
            name, status, seconds, limit, command, note = (line.split("\t") + [""] * 6)[:6]
            steps.append({"name": name, "status": status, "seconds": int(seconds or 0),
                          "limit_s": int(limit) if limit.isdigit() else None,
                          "command": command, "note": note})
    return steps


def _pytest_summary(path):
    if not Path(path).exists():
        return None
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        return {"error": f"unreadable junit xml: {error}"}
    suites = [root] if root.tag == "testsuite" else list(root)
    summary = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "cases": []}
    for suite in suites:
        for key in ("tests", "failures", "errors", "skipped"):
            summary[key] += int(suite.get(key, 0))
        for case in suite.iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = child.tag
                    message = (child.get("message") or "").splitlines()[:1]
                    outcome += f": {message[0][:300]}" if message else ""
            summary["cases"].append(f"{case.get('classname')}::{case.get('name')} {outcome}")
    return summary


def _merge(records):
    """One bench record from the sweep's parts (inference, training), as bench writes it."""
    records = [r for r in records if r]
    if not records:
        return None
    merged = json.loads(json.dumps(records[0]))
    for other in records[1:]:
        merged["rows"] += other["rows"]
        merged["skipped"] += other["skipped"]
        merged["checks"] += [c for c in other["checks"] if c not in merged["checks"]]
        merged["command"] += "\n" + other["command"]
        merged["elapsed_s"] = round(merged["elapsed_s"] + other["elapsed_s"], 1)
        merged["load_average_after"] = other["load_average_after"]
        merged["protocol"]["mode"] = list(dict.fromkeys(
            merged["protocol"]["mode"] + other["protocol"]["mode"]))
        merged["protocol"]["figures"] = list(dict.fromkeys(
            merged["protocol"].get("figures", []) + other["protocol"].get("figures", [])))
    return merged


def _unplace(value, work, root):
    """`value` with this machine's work folder and checkout written as $WORK and '.'."""
    if isinstance(value, str):
        return value.replace(str(work), "$WORK").replace(str(root) + "/", "").replace(
            str(root), ".")
    if isinstance(value, list):
        return [_unplace(v, work, root) for v in value]
    if isinstance(value, dict):
        return {k: _unplace(v, work, root) for k, v in value.items()}
    return value


def collect(work, folder, budget, elapsed, command, root):
    """Gather every step's output from the work folder into the results folder."""
    from r21d_edu import bench

    work, folder = Path(work), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parts = [_read_json(work / "bench" / name / "results.json")
             for name in ("sweep-inference", "sweep-training")]
    sweep = _unplace(_merge(parts), work, root)
    if sweep is not None:
        with tempfile.TemporaryDirectory() as scratch:  # bench's own CSV and JSON writers
            bench.write_results(sweep, Path(scratch), figures=("none",))
            for name in ("results.csv", "results.json"):
                shutil.copyfile(Path(scratch) / name, folder / name)
    for png in sorted((work / "bench").glob("sweep-*/timings_*.png")):
        shutil.copyfile(png, folder / png.name)
    smi = work / "nvidia-smi.txt"
    record = {
        "made_with": command,
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "git_commit": (work / "git-commit.txt").read_text().strip()
        if (work / "git-commit.txt").exists() else "unknown",
        "budget_s": int(budget), "elapsed_s": int(elapsed),
        "steps": _steps(work),
        "environment": _read_json(work / "environment.json"),
        "imports": _read_json(work / "imports.json"),
        "nvidia_smi": smi.read_text() if smi.exists() else None,
        "pytest": _pytest_summary(work / "pytest.xml"),
        "target": _read_json(work / "bench" / "target" / "results.json"),
        "training_smoke": _read_json(work / "train-smoke" / "results.json"),
        "ddp_smoke": _read_json(work / "ddp-smoke" / "results.json"),
    }
    record = _unplace(record, work, root)
    log = work / "gpu_check.log"
    if log.exists():
        (folder / "gpu_check.log").write_text(_unplace(log.read_text(errors="replace"), work, root))
    (folder / "gpu_check.json").write_text(json.dumps(record, indent=1) + "\n")
    render(folder)


def _runs_table(results):
    lines = ["| model | seed | train error | val accuracy | test accuracy | train s | clips/s |",
             "|---|---|---|---|---|---|---|"]
    for run in results.get("runs", []):
        lines.append(f"| {run['model']} | {run['seed']} | {run['train_error']:.1%} | "
                     f"{run['val_accuracy']:.1%} | {run['test_accuracy']:.1%} | "
                     f"{run['train_seconds']} | {run['clips_per_second']} |")
    return lines


def _section(readme, start, end):
    if start not in readme:
        return ""
    part = readme.split(start, 1)[1]
    return part.split(end, 1)[0] if end in part else part


def render(folder):
    """README.md from the folder's own files (gpu_check.json, results.json, the figures)."""
    from r21d_edu import bench

    folder = Path(folder)
    record = _read_json(folder / "gpu_check.json") or {}
    sweep = _read_json(folder / "results.json")
    figures = sorted(p.name for p in folder.glob("timings_*.png"))
    env = record.get("environment") or {}
    devices = env.get("devices") or []
    name = devices[0]["name"] if devices else "no CUDA device"
    lines = [f"# GPU check: {name}", "",
             "Made with (from the repository root), and what came of each step:", "",
             "```bash", record.get("made_with", "bash scripts/gpu_check.sh"), "```", "",
             f"Finished {record.get('finished_utc', '?')} UTC at commit "
             f"{record.get('git_commit', 'unknown')}, in {record.get('elapsed_s', '?')} s of a "
             f"{record.get('budget_s', '?')} s budget. The whole output is in `gpu_check.log`; "
             "every number below is also in `gpu_check.json`.", "",
             "## Steps", "", "| step | status | seconds | limit s | note |", "|---|---|---|---|---|"]
    for step in record.get("steps", []):
        lines.append(f"| {step['name']} | {step['status']} | {step['seconds']} | "
                     f"{step['limit_s'] or '–'} | {step['note']} |")
    lines += ["", "## Environment", ""]
    if env:
        lines.append(f"- torch {env.get('torch')}, CUDA {env.get('cuda')}, cuDNN "
                     f"{env.get('cudnn')}, NCCL {env.get('nccl', '–')}, Python {env.get('python')}"
                     f", {env.get('platform')}")
        for d in devices:
            lines.append(f"- GPU {d['index']}: {d['name']}, {d['memory_gib']} GiB, "
                         f"{d['multiprocessors']} SMs, compute capability {d['capability']}")
        load = env.get("load_average")
        lines.append(f"- TF32: {env.get('tf32')}; {env.get('cpu_count')} CPU cores, load "
                     f"average {[round(x, 2) for x in load] if load else None} at the start")
    missing = [k for k, v in (record.get("imports") or {}).items() if v is None]
    if missing:
        lines.append(f"- missing Python packages: {', '.join(missing)}")
    smi = record.get("nvidia_smi")
    if smi:
        lines += ["", "`nvidia-smi` at the start:", "", "```text", smi.rstrip(), "```"]
    tests = record.get("pytest")
    lines += ["", "## GPU tests (`pytest -m gpu`)", ""]
    if tests and "cases" in tests:
        lines.append(f"{tests['tests']} tests: {tests['failures']} failed, {tests['errors']} "
                     f"errors, {tests['skipped']} skipped.")
        lines += ["", *[f"- `{case}`" for case in tests["cases"]]]
    else:
        lines.append("No test results (see the steps above and the log).")
    target = record.get("target")
    if target and target["rows"]:
        row = target["rows"][0]
        lines += ["", f"## The target row ({row['layer']}, N={row['batch']}, input "
                  f"{row['input_shape']}, {row['dtype']} {row['mode']})", ""]
    else:
        lines += ["", "## The target row", ""]
    if target:
        lines += [f"{target['protocol']['repeats']} samples after {target['protocol']['warmup']} "
                  "warm-up calls:", "", *bench.headline_table(target["rows"]), "",
                  *bench._gpu_targets(target["rows"])]
    else:
        lines.append("Not measured (see the steps above and the log).")
    cuda = bool(env.get("cuda_available"))
    for key, title in (("training_smoke", "Training smoke" + (" (CUDA, bf16 autocast)" * cuda)),
                       ("ddp_smoke", "DDP smoke (torchrun" + (", NCCL)" if cuda else ", gloo)"))):
        results = record.get(key)
        if results:
            task, train = results["protocol"]["task"], results["protocol"]["train"]
            run_env = results.get("environment", {})
            lines += ["", f"## {title}", "",
                      f"On {run_env.get('gpu') or run_env.get('device')}, "
                      f"{run_env.get('processes', 1)} process(es): {train['epochs']} epoch(s) on "
                      f"{task['train']} clips, {task['val']} / {task['test']} to validate and "
                      f"test, {results.get('wall_seconds', 0):.0f} s in all. It checks that "
                      "every step runs; accuracy near chance (12.5 % for 8 classes) is what "
                      "so short a run should show.", "", *_runs_table(results)]
    if sweep:
        readme = bench.render_readme(sweep, figures)
        protocol = _section(readme, "```\n\n", "## Headline ratios").strip()
        p = sweep["protocol"]
        lines += ["", "## The reduced sweep", "",
                  f"Frames {p['frames']}, batch {p['batch']}, {p['dtype']}, {p['mode']}, layers "
                  f"{p['layers']}, methods {p['methods']} (float32 convs on CUDA run as TF32 "
                  "unless the rows' notes say otherwise); the commands:", "", "```bash",
                  sweep["command"], "```", "", protocol, "",
                  "## Headline ratios" + _section(readme, "## Headline ratios", "## Files")]
    else:
        lines += ["", "## The reduced sweep", "", "Not measured (see the steps above and the log)."]
    if sweep and not figures:
        lines += ["No figures were drawn here (plotly was missing); draw them on any machine "
                  "that has it: `bash scripts/gpu_check.sh --redraw <this folder>`.", ""]
    files = [("README.md", "this summary"), ("gpu_check.log", "every step's full output"),
             ("gpu_check.json", "steps, environment, nvidia-smi, tests, target row, training"),
             ("results.csv", "the reduced sweep, one row per (layer, frames, batch, dtype, "
              "mode, method), as python -m r21d_edu.bench writes it"),
             ("results.json", "the same rows plus environment, protocol and checks")]
    files += [(f, "median time per variant and layer, with IQR") for f in figures]
    lines += ["## Files", "", *[f"- `{f}`: {what}" for f, what in files
                                 if (folder / f).exists()]]
    (folder / "README.md").write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {folder / 'README.md'}")


def redraw(folder):
    from r21d_edu import bench

    folder = Path(folder)
    record = _read_json(folder / "results.json")
    if record is None:
        sys.exit(f"{folder}/results.json is missing or unreadable: nothing to draw")
    present = {f"f{r['frames']}_b{r['batch']}_{r['dtype']}_{r['mode']}" for r in record["rows"]}
    names = [n for n in FIGURES if n in present] or ["all"]
    with tempfile.TemporaryDirectory() as scratch:
        for path in bench.write_results(record, Path(scratch), figures=names):
            if path.suffix == ".png":
                shutil.copyfile(path, folder / path.name)
                print(f"wrote {folder / path.name}")
    render(folder)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"imports": imports, "environment": environment, "slug": slug, "check-plan": check_plan,
     "collect": collect, "render": render, "redraw": redraw}[command](*arguments)
PYEOF

helper() { "$PYTHON" "$HELPER" "$@"; }

if [ "$MODE" = redraw ]; then
    helper redraw "$REDRAW_FOLDER"; status=$?
    rm -rf "$WORK"; exit $status
fi

# --------------------------------------------------------------------------------------------
# Bookkeeping: the log, the steps file, the clock
# --------------------------------------------------------------------------------------------
LOG="$WORK/gpu_check.log"
: >"$LOG"
: >"$WORK/steps.tsv"
STEP_NUMBER=0
FAILED=0
say() { printf '%s\n' "$*" | tee -a "$LOG"; }
left() { echo $((BUDGET - SECONDS - REPORT_RESERVE)); }
record_step() {  # name status seconds limit command note
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >>"$WORK/steps.tsv"
}

# run_step NAME CAP MIN NOTE -- COMMAND...: under `timeout`, output appended to the log.
run_step() {
    local name=$1 cap=$2 min=$3 note=$4; shift 5
    local command limit start rc status
    command=$(printf '%q ' "$@"); command=${command% }
    STEP_NUMBER=$((STEP_NUMBER + 1))
    limit=$(left); [ "$limit" -gt "$cap" ] && limit=$cap
    if [ "$limit" -lt "$min" ]; then
        say "[$STEP_NUMBER] $name: skipped, $(left) s of the budget left and it needs $min"
        record_step "$name" skipped 0 "" "$command" "skipped: $(left) s left of the budget, needs $min s"
        FAILED=1  # the check is incomplete
        return 0
    fi
    say ""
    say "===== [$STEP_NUMBER] $name: $note (limit ${limit} s, $(date -u +%H:%M:%S) UTC) ====="
    say "\$ $command"
    start=$SECONDS
    # In the background and waited for, so that an INT or TERM reaches the trap at once.
    timeout --kill-after=10 "$limit" "$@" >>"$LOG" 2>&1 </dev/null &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=""
    case $rc in
        0) status=ok ;;
        124|137) status=timeout; FAILED=1 ;;
        *) status="failed (exit $rc)"; FAILED=1 ;;
    esac
    say "----- $name: $status after $((SECONDS - start)) s"
    if [ "$status" != ok ]; then
        echo "      last lines of its output:"; tail -n 15 "$LOG" | sed 's/^/      | /'
    fi
    record_step "$name" "$status" $((SECONDS - start)) "$limit" "$command" "$note"
}

# --------------------------------------------------------------------------------------------
# Steps that run in this shell: the environment and the Python packages
# --------------------------------------------------------------------------------------------
step_environment() {
    local start=$SECONDS note="versions, GPUs, nvidia-smi"
    STEP_NUMBER=$((STEP_NUMBER + 1))
    say "===== [$STEP_NUMBER] environment: $note ====="
    {
        echo "\$ uname -a; nproc; uptime"; uname -a; nproc; uptime
        if command -v nvidia-smi >/dev/null 2>&1; then
            timeout 30 nvidia-smi >"$WORK/nvidia-smi.txt" 2>&1
            cat "$WORK/nvidia-smi.txt"
            timeout 30 nvidia-smi --query-gpu=index,name,driver_version,memory.total,power.limit,clocks.max.sm,clocks.max.mem --format=csv
            timeout 30 nvidia-smi topo -m
            timeout 60 nvidia-smi -q
        else
            echo "nvidia-smi: not found on this machine"
        fi
        git rev-parse HEAD >"$WORK/git-commit.txt" 2>/dev/null || echo unknown >"$WORK/git-commit.txt"
        echo "commit: $(cat "$WORK/git-commit.txt")"
        echo "\$ $PYTHON gpu_check_helper.py environment"
        timeout 120 "$PYTHON" "$HELPER" environment "$WORK/environment.json"
    } >>"$LOG" 2>&1
    local rc=$?
    if [ $rc -eq 0 ]; then record_step environment ok $((SECONDS - start)) "" "" "$note"
    else record_step environment "failed (exit $rc)" $((SECONDS - start)) "" "" "$note"; FAILED=1; fi
    say "----- environment: $([ $rc -eq 0 ] && echo ok || echo "failed (exit $rc)")"
    grep -E '^(torch|cuda|cudnn|nccl|cuda_available|device_count|device [0-9]):' "$LOG" | sed 's/^/      /'
}

step_setup() {
    local start=$SECONDS note="the image's Python, this checkout on PYTHONPATH" rc=0 wheels
    STEP_NUMBER=$((STEP_NUMBER + 1))
    say "===== [$STEP_NUMBER] setup: $note ====="
    wheels=$(ls .whl/*.whl 2>/dev/null | tr '\n' ' ')
    if [ -n "$wheels" ]; then
        note="wheels from .whl/ installed with --no-index; $note"
        say "\$ $PYTHON -m pip install --no-index --no-deps --target $WORK/site $wheels"
        # shellcheck disable=SC2086  # one word per wheel
        timeout 120 "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target "$WORK/site" $wheels >>"$LOG" 2>&1 || rc=$?
        export PYTHONPATH="$ROOT:$WORK/site${PYTHONPATH#"$ROOT"}"
    fi
    timeout 120 "$PYTHON" "$HELPER" imports "$WORK/imports.json" >>"$LOG" 2>&1 || rc=$?
    grep -E '^MISSING' "$LOG" | sed 's/^/      /'
    HAVE_PLOTLY=$(grep -q '"plotly": null' "$WORK/imports.json" 2>/dev/null && echo 0 || echo 1)
    [ "$HAVE_PLOTLY" = 1 ] || note="plotly missing: no figures (--redraw draws them); $note"
    if [ $rc -eq 0 ]; then record_step setup ok $((SECONDS - start)) "" "" "$note"
    else record_step setup "failed (exit $rc)" $((SECONDS - start)) "" "" "$note"; FAILED=1; fi
    say "----- setup: $([ $rc -eq 0 ] && echo ok || echo "failed (exit $rc)")"
}

# --------------------------------------------------------------------------------------------
# The plan: name, limit, least time worth starting with, what it is, the command
# --------------------------------------------------------------------------------------------
GPU_TEST_FILES=$(grep -l '@pytest.mark.gpu' tests/*.py | tr '\n' ' ')
GPU_COUNT=0

plan() {
    local device=cuda target sweep figures_inf=none figures_train=none smoke ddp_nproc=2
    if [ "${HAVE_PLOTLY:-1}" = 1 ]; then
        figures_inf=${FIGURES_INF:-f16_b8_bfloat16_inference}
        figures_train=${FIGURES_TRAIN:-f16_b8_bfloat16_training}
    fi
    # shellcheck disable=SC2206  # one word per file
    PLAN_PYTEST=("$PYTHON" -m pytest -m gpu -o addopts= -p no:cacheprovider
                 --continue-on-collection-errors -rA --junitxml="$WORK/pytest.xml" $GPU_TEST_FILES)
    SMOKE_WHAT="CUDA, bf16 autocast"; DDP_WHAT="NCCL"
    if [ "$MODE" = rehearse ]; then
        SMOKE_WHAT="CPU, tiny"; DDP_WHAT="gloo on the CPU, tiny"
        device=cpu
        target=(--layers 4 --frames 8 --batch 1 --dtype float32 --repeats 2 --warmup 1)
        sweep=(--layers 4 --frames 8 --batch 1 --dtype float32 --repeats 2 --warmup 1)
        figures_inf=$([ "${HAVE_PLOTLY:-1}" = 1 ] && echo f8_b1_float32_inference || echo none)
        figures_train=$([ "${HAVE_PLOTLY:-1}" = 1 ] && echo f8_b1_float32_training || echo none)
        smoke=(--models r3d r2plus1d --seeds 0 --epochs 1 --train 32 --val 16 --test 16
               --batch-size 16 --threads 1)
    else
        # The issue's target row, with the GPU default protocol (50 samples, 10 warm-up calls).
        target=(--layers 1 --frames 16 --batch 8 --dtype bfloat16)
        sweep=(--frames 8 16 --batch 1 8 --dtype float32 bfloat16)
        smoke=(--smoke)
    fi
    PLAN_TARGET=("$PYTHON" -m r21d_edu.bench --device "$device" "${target[@]}" --mode inference
                 --out "$WORK/bench" --slug target --figures none)
    PLAN_SWEEP_INF=("$PYTHON" -m r21d_edu.bench --device "$device" "${sweep[@]}"
                    --mode inference --out "$WORK/bench" --slug sweep-inference
                    --figures "$figures_inf")
    PLAN_SWEEP_TRAIN=("$PYTHON" -m r21d_edu.bench --device "$device" "${sweep[@]}"
                      --mode training --out "$WORK/bench" --slug sweep-training
                      --figures "$figures_train")
    PLAN_SMOKE=("$PYTHON" -m r21d_edu.experiment "${smoke[@]}" --device "$device"
                --out "$WORK/train-smoke" --no-progress --no-figure)
    PLAN_DDP=("$PYTHON" -m torch.distributed.run --standalone --nproc_per_node=$ddp_nproc
              -m r21d_edu.experiment "${smoke[@]}" --device "$device" --out "$WORK/ddp-smoke"
              --no-progress --no-figure)
}

run_plan() {
    run_step pytest-gpu 150 45 "the gpu-marked tests" -- "${PLAN_PYTEST[@]}"
    run_step bench-target 90 40 "the target row, full protocol" -- "${PLAN_TARGET[@]}"
    run_step bench-sweep-inference 190 80 "reduced sweep, inference" -- "${PLAN_SWEEP_INF[@]}"
    run_step train-smoke 120 50 "training smoke ($SMOKE_WHAT)" -- "${PLAN_SMOKE[@]}"
    run_step bench-sweep-training 170 80 "reduced sweep, training" -- "${PLAN_SWEEP_TRAIN[@]}"
    if [ "$GPU_COUNT" -ge 2 ] || [ "$MODE" = rehearse ]; then
        run_step ddp-smoke 120 50 "torchrun, 2 processes ($DDP_WHAT)" -- "${PLAN_DDP[@]}"
    else
        STEP_NUMBER=$((STEP_NUMBER + 1))
        say "[$STEP_NUMBER] ddp-smoke: skipped, $GPU_COUNT GPU(s); it needs 2"
        record_step ddp-smoke skipped 0 "" "$(printf '%q ' "${PLAN_DDP[@]}")" \
            "skipped: $GPU_COUNT GPU(s), it needs 2"
    fi
}

# --------------------------------------------------------------------------------------------
# --dry-run: print the plan and check each command, run nothing on a GPU, write nothing
# --------------------------------------------------------------------------------------------
if [ "$MODE" = dry-run ]; then
    status=0
    echo "gpu_check.sh --dry-run: the plan, checked; nothing runs on a GPU, nothing is written"
    bash -n "${BASH_SOURCE[0]}" && echo "bash -n: the script parses" || status=1
    "$PYTHON" -m py_compile "$HELPER" && echo "python: its helper compiles" || status=1
    printf 'python: %s (' "$PYTHON"
    "$PYTHON" -c "import sys, torch; print(f'Python {sys.version.split()[0]}, torch {torch.__version__}, CUDA available: {torch.cuda.is_available()})')" \
        || { echo "torch missing)"; status=1; }
    "$PYTHON" "$HELPER" imports "$WORK/imports.json" | sed 's/^/  /'
    HAVE_PLOTLY=1  # the plan as a machine with plotly runs it (without: --figures none)
    plan
    echo "output: ${OUT_PARENT}/${SLUG:-gpu-<device>}/ (README.md, gpu_check.log, gpu_check.json,"
    echo "        results.csv, results.json, timings_f16_b8_bfloat16_{inference,training}.png)"
    echo "budget: $BUDGET s in all, $REPORT_RESERVE s of it kept for the report; a step starts"
    echo "        only with its least time left and runs under min(its limit, what is left)"
    echo "steps:"
    echo "  [1] environment (in this shell): uname, nvidia-smi (text, query, topo, -q), git commit,"
    echo "      torch/CUDA/cuDNN/NCCL versions and GPUs (gpu_check_helper.py environment)"
    echo "  [2] setup (in this shell): wheels in .whl/ installed with pip --no-index --no-deps"
    echo "      --target (none here: $(ls .whl/*.whl 2>/dev/null | wc -l) found), then an import check"
    : >"$WORK/plan.tsv"
    number=2
    for entry in "pytest-gpu 150 PLAN_PYTEST" "bench-target 90 PLAN_TARGET" \
                 "bench-sweep-inference 190 PLAN_SWEEP_INF" "train-smoke 120 PLAN_SMOKE" \
                 "bench-sweep-training 170 PLAN_SWEEP_TRAIN" "ddp-smoke 120 PLAN_DDP"; do
        read -r name cap array <<<"$entry"
        number=$((number + 1))
        declare -n words=$array
        command=$(printf '%q ' "${words[@]}"); command=${command% }
        extra=""; [ "$name" = ddp-smoke ] && extra=", only with 2 or more GPUs"
        echo "  [$number] $name (limit $cap s$extra)"
        echo "      \$ $command"
        printf '%s\t%s\n' "$name" "$command" >>"$WORK/plan.tsv"
        unset -n words
    done
    echo "  [9] report: gpu_check.json, README.md, results.csv/json and figures into the folder"
    echo "checks of every command's arguments, by its own parser:"
    "$PYTHON" "$HELPER" check-plan "$WORK/plan.tsv" || status=1
    rm -rf "$WORK"
    if [ $status -eq 0 ]; then echo "dry run: every step planned, every command parsed"
    else echo "dry run: FAILED (see above)"; fi
    exit $status
fi

# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
REPORTED=0
THIS_COMMAND="bash scripts/gpu_check.sh"
[ "$MODE" = rehearse ] && THIS_COMMAND+=" --rehearse-on-cpu"
[ "$BUDGET" != 460 ] && THIS_COMMAND+=" --budget $BUDGET"

report() {
    [ "$REPORTED" = 1 ] && return
    REPORTED=1
    say ""
    say "===== report: $FOLDER ====="
    mkdir -p "$FOLDER"
    say "(paths under the work folder are written \$WORK, the checkout '.')"
    helper collect "$WORK" "$FOLDER" "$BUDGET" "$SECONDS" "$THIS_COMMAND" "$ROOT" >>"$LOG" 2>&1 \
        || { say "the report failed (see the log)"; FAILED=1; cp "$LOG" "$FOLDER/gpu_check.log"; }
    echo "wrote $FOLDER:"; ls -l "$FOLDER" | sed 1d | sed 's/^/  /'
    sed -n '/^## Steps/,/^## Environment/p' "$FOLDER/README.md" 2>/dev/null | sed '$d'
}
CHILD=""
interrupted() {
    [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
    say "interrupted after $SECONDS s: writing what there is"
    record_step interrupted "interrupted" 0 "" "" "the run was stopped"
    FAILED=1; report; rm -rf "$WORK"; exit 130
}
trap interrupted INT TERM

FOLDER="$OUT_PARENT/${SLUG:-gpu-unknown}"  # until the device's name is known
say "gpu_check.sh ($MODE): budget $BUDGET s, Python $PYTHON, work folder $WORK"
step_environment
GPU_COUNT=$(grep -o '"device_count": [0-9]*' "$WORK/environment.json" 2>/dev/null | grep -o '[0-9]*$' || echo 0)
if [ -z "$SLUG" ]; then
    if [ "$MODE" = rehearse ]; then SLUG=gpu-rehearsal-cpu
    else
        DEVICE_NAME=$(grep -o '"name": "[^"]*"' "$WORK/environment.json" 2>/dev/null | head -1 | cut -d'"' -f4)
        SLUG=$(helper slug "${DEVICE_NAME:-unknown}" 2>/dev/null || echo gpu-unknown)
    fi
fi
FOLDER="$OUT_PARENT/$SLUG"
step_setup
plan
if [ "$MODE" = run ] && [ "$GPU_COUNT" -lt 1 ]; then
    say "no CUDA device: torch.cuda.is_available() is False with $PYTHON; nothing GPU-bound runs"
    say "(on a machine without a GPU use --dry-run or --rehearse-on-cpu)"
    for name in pytest-gpu bench-target bench-sweep-inference train-smoke bench-sweep-training ddp-smoke; do
        record_step "$name" skipped 0 "" "" "skipped: no CUDA device"
    done
    FAILED=1
else
    run_plan
fi
report
rm -rf "$WORK"
echo "done in $SECONDS s$([ "$FAILED" = 1 ] && echo ': some steps did not succeed (see the README)')"
exit $FAILED
