"""Train the paper's family side by side on the direction task: ``python -m r21d_edu.experiment``.

One entry point for the whole comparison of "does factorization train
better?": for every (model, seed) it builds a `r21d_edu.family` model, trains
it with `r21d_edu.training.train` on the `r21d_edu.tasks` splits, scores the
test split once, and appends a row to the results. Run ``--help`` for every
flag. Examples::

    python -m r21d_edu.experiment --smoke --out /tmp/smoke         # < 1 min on 2 cores
    python -m r21d_edu.experiment --out experiments/family          # the committed protocol
    python -m r21d_edu.experiment --out experiments/family --resume # after an interrupt
    torchrun --standalone --nproc_per_node=2 -m r21d_edu.experiment --smoke --out /tmp/ddp

Files written under ``--out`` (by rank 0 alone, each replaced atomically, after
every finished run, so an interrupt loses at most the epoch in progress):

- ``results.csv`` — one row per (model, seed): parameters, final training
  error, val and test accuracy, time and clips/s;
- ``history.csv`` — one row per epoch of every run (the training curves);
- ``results.json`` — the protocol, the machine, every run, and the summary:
  mean ± std per model and the paired differences with 95 % intervals;
- ``summary.md`` — the same summary as a table, for a README;
- ``figure.png`` — training and validation error against epochs, mean and
  spread over seeds (``--no-figure`` skips it);
- ``checkpoints/`` — one file per run, rewritten after each epoch (what
  ``--resume`` continues from).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .family import FAMILY, family_model
from .results_folder import (
    ResultsFolderError,
    csv_text,
    environment_record,
    load_previous,
    positive_int,
    prepare_out,
    run_reporting_errors,
    seed_int,
    write_atomically,
)
from .stats import paired_difference, spread
from .tasks import VIEWS, DirectionTask, make_splits
from .training import BN_MODES, CheckpointError, Distributed, TrainConfig, evaluate, train

__all__ = ["ExperimentError", "main", "parse_args", "run_experiment", "summarize"]

#: The comparisons the summary reports: (a, b) means "a - b".
DIFFERENCES: tuple[tuple[str, str], ...] = (
    ("r2plus1d", "r3d"),
    ("r2plus1d-linear", "r2plus1d"),
    ("r2plus1d-rank4", "r2plus1d"),
)

RESULT_COLUMNS = ("model", "seed", "params", "epochs", "train_error", "train_loss",
                  "val_accuracy", "test_accuracy", "train_seconds", "clips_per_second")
HISTORY_COLUMNS = ("model", "seed", "epoch", "train_loss", "train_error", "val_loss",
                   "val_accuracy", "lr", "seconds")

# The smallest configuration that still runs every step end to end.
SMOKE = {"models": ["r3d", "r2plus1d"], "seeds": [0, 1], "epochs": 1,
         "train": 128, "val": 64, "test": 64}


#: Kept under its first name: a setting or an output folder the experiment cannot work with.
ExperimentError = ResultsFolderError

# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _model(text: str) -> str:
    if text != "all" and text not in FAMILY:
        raise argparse.ArgumentTypeError(
            f"unknown model {text!r}; choose from {', '.join(FAMILY)} (or 'all')")
    return text


def build_parser() -> argparse.ArgumentParser:
    task, config = DirectionTask(), TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m r21d_edu.experiment",
        description="Train the paper's family of video ResNets side by side on the synthetic "
                    "direction task and write results.csv/json, history.csv, summary.md and "
                    "a figure. Runs unchanged under torchrun (DistributedDataParallel).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for results, figure and checkpoints")
    parser.add_argument("--models", nargs="+", type=_model, default=["all"],
                        help=f"members of the family to train: {', '.join(FAMILY)}, or all")
    parser.add_argument("--seeds", nargs="+", type=seed_int, default=[0, 1, 2],
                        help="run seeds (initialization and batch order); 3 or more for "
                             "an interval")
    parser.add_argument("--epochs", type=positive_int, default=config.epochs,
                        help="passes over the training split")
    parser.add_argument("--batch-size", type=positive_int, default=config.batch_size,
                        help="global batch, split over torchrun's processes")
    parser.add_argument("--lr", type=float, default=config.lr, help="peak AdamW learning rate")
    parser.add_argument("--weight-decay", type=float, default=config.weight_decay,
                        help="AdamW weight decay")
    parser.add_argument("--train", type=positive_int, default=task.train, help="training clips")
    parser.add_argument("--val", type=positive_int, default=task.val, help="validation clips")
    parser.add_argument("--test", type=positive_int, default=task.test, help="test clips")
    parser.add_argument("--data-seed", type=seed_int, default=task.seed,
                        help="seed of the clips (the same for every run)")
    parser.add_argument("--view", choices=VIEWS, default="clip",
                        help="'clip', or a control: 'single_frame' (the middle frame "
                             "repeated) or 'shuffled' (frames in random order)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda trains with bf16 autocast")
    parser.add_argument("--bn", choices=BN_MODES, default=config.bn,
                        help="BatchNorm statistics under torchrun: per process ('batch'), "
                             "shared ('sync', CUDA only) or fixed ('frozen')")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads per process (default: PyTorch's choice)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"the smallest configuration: {SMOKE['models']}, seeds "
                             f"{SMOKE['seeds']}, {SMOKE['epochs']} epoch, {SMOKE['train']} "
                             "training clips; overrides those flags")
    parser.add_argument("--resume", action="store_true",
                        help="continue the results already in --out: skip finished runs, "
                             "continue an interrupted one from its checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-figure", action="store_true", help="do not draw figure.png")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    args.models = list(FAMILY) if "all" in args.models else list(dict.fromkeys(args.models))
    args.seeds = list(dict.fromkeys(args.seeds))
    return args


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _protocol(args: argparse.Namespace, task: DirectionTask, config: TrainConfig) -> dict:
    # What must match for --resume to add runs to the same comparison (as JSON
    # stores it: tuples come back as lists).
    protocol = {
        "task": task.to_dict(),
        "train": {k: v for k, v in config.to_dict().items() if k != "device"},
        "view": args.view,
        "family": "r21d_edu.family defaults (widths 16-128, 1 block)",
    }
    return json.loads(json.dumps(protocol))


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------


def summarize(runs: list[dict]) -> dict:
    """Per model: mean ± std of each metric; per pair in `DIFFERENCES`: the paired difference.

    Args:
        runs: rows with ``model``, ``seed``, ``train_error``, ``val_accuracy``,
            ``test_accuracy`` and ``params``.

    Returns:
        ``{"models": {name: {metric: {mean, std, n}, "params": int}},
        "differences": [{a, b, metric, mean, low, high, n, exceeds_noise}]}``;
        pairs with fewer than 2 shared seeds are left out.
    """
    metrics = ("train_error", "val_accuracy", "test_accuracy")
    by_model: dict[str, dict[int, dict]] = {}
    for run in runs:
        by_model.setdefault(run["model"], {})[int(run["seed"])] = run
    models = {}
    for name in [m for m in FAMILY if m in by_model]:
        seeds = by_model[name]
        entry = {metric: asdict(spread([seeds[s][metric] for s in sorted(seeds)]))
                 for metric in metrics}
        entry["params"] = int(next(iter(seeds.values()))["params"])
        models[name] = entry
    differences = []
    for a, b in DIFFERENCES:
        shared = sorted(set(by_model.get(a, {})) & set(by_model.get(b, {})))
        if len(shared) < 2:
            continue
        for metric in ("test_accuracy", "train_error"):
            d = paired_difference([by_model[a][s][metric] for s in shared],
                                  [by_model[b][s][metric] for s in shared])
            differences.append({"a": a, "b": b, "metric": metric, **asdict(d),
                                "exceeds_noise": d.exceeds_noise})
    return {"models": models, "differences": differences}


def summary_markdown(summary: dict) -> str:
    """The summary as two Markdown tables (percentages)."""
    lines = ["| model | parameters | final training error (%) | val accuracy (%) | "
             "test accuracy (%) | seeds |", "|---|---:|---:|---:|---:|---:|"]
    for name, entry in summary["models"].items():
        cells = [f"{entry[m]['mean'] * 100:.1f} ± {entry[m]['std'] * 100:.1f}"
                 for m in ("train_error", "val_accuracy", "test_accuracy")]
        lines.append(f"| {name} | {entry['params']:,} | {' | '.join(cells)} | "
                     f"{entry['test_accuracy']['n']} |")
    if summary["differences"]:
        lines += ["", "| difference (paired by seed) | metric | mean (points) | 95 % interval | "
                  "exceeds seed noise? |", "|---|---|---:|---|---|"]
        for d in summary["differences"]:
            lines.append(f"| {d['a']} − {d['b']} | {d['metric']} | {d['mean'] * 100:+.1f} | "
                         f"[{d['low'] * 100:+.1f}, {d['high'] * 100:+.1f}] | "
                         f"{'yes' if d['exceeds_noise'] else 'no'} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# The experiment
# --------------------------------------------------------------------------


def run_experiment(args: argparse.Namespace) -> dict:
    """Train every (model, seed) of `args` that is not done yet; return results.json's content."""
    task = DirectionTask(train=args.train, val=args.val, test=args.test, seed=args.data_seed)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         weight_decay=args.weight_decay, device=args.device, bn=args.bn)
    if args.threads:
        torch.set_num_threads(args.threads)
    world = Distributed.from_environment(config.device)
    out: Path = args.out
    protocol = _protocol(args, task, config)
    if world.is_main:
        prepare_out(out)
    previous = load_previous(out, protocol, args.resume)
    world.barrier()  # every rank has read the old results before rank 0 rewrites them

    started = time.perf_counter()
    splits = make_splits(task)
    if args.view != "clip":
        splits = {name: split.with_view(args.view, seed=index)
                  for index, (name, split) in enumerate(splits.items())}
    runs = list(previous["runs"]) if previous else []
    histories = list(previous["history"]) if previous else []
    done = {(r["model"], int(r["seed"])) for r in runs}
    results = {"protocol": protocol, "environment": environment_record(config.device, world.world_size),
               "runs": runs, "history": histories,
               "wall_seconds": previous.get("wall_seconds", 0.0) if previous else 0.0}
    todo = [(m, s) for m in args.models for s in args.seeds if (m, s) not in done]
    progress = not args.no_progress and world.is_main
    for number, (name, seed) in enumerate(todo, start=1):
        label = f"[{number}/{len(todo)}] {name} seed {seed}"
        torch.manual_seed(seed)
        model = family_model(name, num_classes=8, in_channels=task_channels(splits),
                             frames=task.frames)
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        checkpoint = out / "checkpoints" / f"{name}-seed{seed}.pt"
        result = train(model, splits["train"], splits["val"], config, seed=seed, world=world,
                       checkpoint=checkpoint, resume=args.resume, progress=progress,
                       description=label)
        test_accuracy, _ = evaluate(result.model, splits["test"], world=world)
        last = result.history[-1]
        row = {"model": name, "seed": seed, "params": params, "epochs": last.epoch,
               "train_error": last.train_error, "train_loss": last.train_loss,
               "val_accuracy": last.val_accuracy, "test_accuracy": test_accuracy,
               "train_seconds": round(result.train_seconds, 2),
               "clips_per_second": round(result.clips_per_second, 1)}
        runs.append(row)
        histories += [{"model": name, "seed": seed, **asdict(r)} for r in result.history]
        results["wall_seconds"] += time.perf_counter() - started
        started = time.perf_counter()
        if world.is_main:
            _write_results(out, results, figure=False)
            if progress:
                from tqdm.auto import tqdm
                tqdm.write(f"{label}: training error {last.train_error:.1%}, val accuracy "
                           f"{last.val_accuracy:.1%}, test accuracy {test_accuracy:.1%}")
    if world.is_main:
        results["environment"]["load_average_at_end"] = (
            os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
        _write_results(out, results, figure=not args.no_figure)
    world.barrier()
    return results


def task_channels(splits: dict) -> int:
    return splits["train"].clip_shape[0]


def _write_results(out: Path, results: dict, figure: bool) -> None:
    results["summary"] = summarize(results["runs"])
    write_atomically(out / "results.json", json.dumps(results, indent=1) + "\n")
    write_atomically(out / "results.csv", csv_text(results["runs"], RESULT_COLUMNS))
    write_atomically(out / "history.csv", csv_text(results["history"], HISTORY_COLUMNS))
    write_atomically(out / "summary.md", summary_markdown(results["summary"]))
    if figure and results["history"]:
        from .viz.training import training_curves  # figures only when asked for

        fig = training_curves(results["history"])
        temporary = out / "figure.tmp.png"
        fig.savefig(temporary, dpi=120, bbox_inches="tight")
        os.replace(temporary, out / "figure.png")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    status, results = run_reporting_errors("r21d_edu.experiment", lambda: run_experiment(args),
                                           "results.csv", refusals=(CheckpointError,))
    if results is None:
        return status
    world = Distributed.from_environment(args.device)
    if world.is_main and not args.no_progress:
        print(summary_markdown(results["summary"]))
        print(f"results in {args.out}")
    world.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
