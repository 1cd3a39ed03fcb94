"""Train the paper's family side by side on the direction task: ``python -m r21d_edu.experiment``.

One entry point for the whole comparison of "does factorization train
better?": for every (model, seed) it builds a `r21d_edu.family` model, trains
it with `r21d_edu.training.train` on the `r21d_edu.tasks` splits, scores the
test split once, and adds a row to the results. Run ``--help`` for every
flag. Examples::

    python -m r21d_edu.experiment --smoke --out /tmp/smoke         # < 1 min on 2 cores
    python -m r21d_edu.experiment --out experiments/family          # the exploratory study
    python -m r21d_edu.experiment --plan confirmatory --workers 2 \\
        --save-weights --out experiments/confirmatory               # the planned one
    python -m r21d_edu.experiment --out experiments/family --resume # after an interrupt
    python -m r21d_edu.experiment --plan factorizations --workers 2 \\
        --out experiments/factorizations                           # P3D, S3D-G, TSM beside r3d
    torchrun --standalone --nproc_per_node=2 -m r21d_edu.experiment --smoke --out /tmp/ddp

Runs of different (model, seed) share nothing, so ``--workers N`` trains N of
them at once in N processes of one thread each (`r21d_edu.workers`). Each run
computes bitwise what it computes in a one-thread process of its own — its
initialization, batch order and, for the shuffled control, its frame orders
all come from its seed, never from what ran before it — so the results do
not depend on the number of workers or the order runs finish in.

Files written under ``--out`` (by one process alone, each replaced atomically
after every finished run, so an interrupt loses at most the epoch in progress;
``--resume`` first rewrites the derived files from results.json):

- ``results.csv`` — one row per (model, seed), in the family's order then by
  seed: parameters, MACs, final training error, val and test accuracy, time
  and clips/s;
- ``history.csv`` — one row per epoch of every run (the training curves);
- ``results.json`` — the protocol, the machine, every run, and the summary:
  mean ± std per model and the planned paired differences with 95 % intervals;
- ``summary.md`` — the same summary as tables, for a README;
- ``figure.png`` — training and validation error against epochs, mean and
  spread over seeds (``--no-figure`` skips it);
- ``checkpoints/`` — one file per run, rewritten after each epoch (what
  ``--resume`` continues from);
- ``weights/`` (with ``--save-weights``) — each finished run's weights in
  float16 and ``manifest.json`` with their SHA-256 and test accuracy, read back
  by `r21d_edu.trained.load_trained`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .analysis import summarize, summary_markdown
from .counting import summarize_network
from .factorized_family import study_model
from .family import FAMILY
from .plans import KNOWN_MODELS, PLANS, StudyPlan
from .results_folder import (
    HelpFormatter,
    ResultsFolderError,
    csv_text,
    environment_record,
    finite_float,
    load_previous,
    positive_int,
    prepare_out,
    run_reporting_errors,
    seed_int,
    write_atomically,
)
from .stats import spread
from .tasks import VIEWS, DirectionTask, MotionDirections, make_splits
from .training import BN_MODES, CheckpointError, Distributed, TrainConfig, evaluate, train
from .weights import load_checked
from .workers import WorkerError, run_jobs

__all__ = ["ExperimentError", "RunJob", "main", "parse_args", "run_experiment", "run_job",
           "summarize", "summary_markdown"]

RESULT_COLUMNS = ("model", "seed", "params", "macs", "epochs", "train_error", "train_loss",
                  "val_accuracy", "test_accuracy", "train_seconds", "clips_per_second")
HISTORY_COLUMNS = ("model", "seed", "epoch", "train_loss", "train_error", "val_loss",
                   "val_accuracy", "lr", "seconds")

# The smallest configuration that still runs every step end to end.
SMOKE = {"models": ["r3d", "r2plus1d"], "seeds": [0, 1], "epochs": 1,
         "train": 128, "val": 64, "test": 64}
SMOKE_NOTE = ("(a smoke run: 1 epoch on 128 clips checks that every step works; accuracy near "
              "chance, 12.5 %, is what it should show — the models have not trained yet)")

# The seeds of the views' streams for evaluation: fixed per split, the same for every run.
_EVAL_VIEW_SEED = {"val": 1, "test": 2}

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
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for results, figure and checkpoints (required)")
    parser.add_argument("--plan", choices=sorted(PLANS), default=None,
                        help="train a fixed study plan (its models, seeds and planned "
                             "comparisons; see r21d_edu.plans) instead of --models x --seeds")
    parser.add_argument("--models", nargs="+", type=_model, default=None,
                        help=f"members of the family to train: {', '.join(FAMILY)}, or all "
                             "(default: all)")
    parser.add_argument("--seeds", nargs="+", type=seed_int, default=None,
                        help="run seeds (initialization, batch order, shuffles); 3 or more "
                             "for an interval (default: 0 1 2)")
    parser.add_argument("--epochs", type=positive_int, default=config.epochs,
                        help="passes over the training split")
    parser.add_argument("--batch-size", type=positive_int, default=config.batch_size,
                        help="global batch, split over torchrun's processes")
    parser.add_argument("--lr", type=finite_float, default=config.lr,
                        help="peak AdamW learning rate")
    parser.add_argument("--weight-decay", type=finite_float, default=config.weight_decay,
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
                        help="CPU threads per process (default: PyTorch's choice; 1 with "
                             "--workers above 1)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="runs trained at once, each in its own process (CPU only, not "
                             "under torchrun); the results are the same for any number")
    parser.add_argument("--save-weights", action="store_true",
                        help="keep each finished run's weights (float16) in --out/weights, "
                             "with their SHA-256 and test accuracy in manifest.json")
    parser.add_argument("--smoke", action="store_true",
                        help=f"the smallest configuration: {SMOKE['models']}, seeds "
                             f"{SMOKE['seeds']}, {SMOKE['epochs']} epoch, {SMOKE['train']} "
                             "training clips; overrides those flags")
    parser.add_argument("--resume", action="store_true",
                        help="continue the results already in --out: skip finished runs, "
                             "continue an interrupted one from its checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-figure", action="store_true", help="do not draw figure.png")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.plan is not None and (args.models is not None or args.seeds is not None):
        parser.error(f"--plan {args.plan} fixes the models and seeds; drop --models and "
                     "--seeds (or drop --plan)")
    if args.plan is not None and args.smoke and not PLANS[args.plan].smoke_models:
        parser.error(f"--plan {args.plan} has no smoke run; drop --smoke (or drop --plan for "
                     "the family's smoke run)")
    if args.smoke:
        for key, value in SMOKE.items():
            if args.plan is None or key not in ("models", "seeds"):
                setattr(args, key, value)
    if args.plan is None:
        models = args.models or ["all"]
        args.models = list(FAMILY) if "all" in models else list(dict.fromkeys(models))
        args.seeds = list(dict.fromkeys(args.seeds if args.seeds is not None else [0, 1, 2]))
    if args.workers > 1 and args.device != "cpu":
        parser.error("--workers trains several runs at once on the CPU's cores; on a GPU use "
                     "one process (or torchrun)")
    return args


def _plan(args: argparse.Namespace) -> StudyPlan | None:
    if args.plan is None:
        return None
    plan = PLANS[args.plan]
    # A plan's smoke run: its few smoke models at the smoke seeds, the rest as SMOKE.
    return plan.smoke(tuple(SMOKE["seeds"])) if args.smoke else plan


# --------------------------------------------------------------------------
# One run, in this process or a worker's
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunJob:
    """Everything one (model, seed) run needs, as plain values a worker process can receive."""

    model: str
    seed: int
    task: dict
    config: dict
    view: str
    checkpoint: str
    resume: bool
    weights: str | None = None


def _views(splits: dict[str, MotionDirections], view: str,
           seed: int) -> dict[str, MotionDirections]:
    """The splits as one run sees them: its own training shuffles, the shared evaluation ones."""
    if view == "clip":
        return splits
    return {"train": splits["train"].with_view(view, seed=seed, fresh_each_visit=True),
            **{name: splits[name].with_view(view, seed=_EVAL_VIEW_SEED[name],
                                            fresh_each_visit=False)
               for name in ("val", "test")}}


_SPLITS_CACHE: dict[str, dict[str, MotionDirections]] = {}


def _splits_for(task: dict) -> dict[str, MotionDirections]:
    # A worker generates the clips once and keeps them for every run it is handed.
    key = json.dumps(task, sort_keys=True)
    if key not in _SPLITS_CACHE:
        _SPLITS_CACHE.clear()
        _SPLITS_CACHE[key] = make_splits(DirectionTask.from_dict(task))
    return _SPLITS_CACHE[key]


def _macs(model: torch.nn.Module, clip_shape: tuple[int, ...]) -> int:
    # Multiply-accumulates of one clip through the network (convs and fc), on the meta device.
    return int(summarize_network(model, (1, *clip_shape)).macs)


def _save_weights(model: torch.nn.Module, path: Path) -> str:
    """Write the model's state in float16 (half the bytes); return the file's SHA-256."""
    state = {k: (v.half() if v.is_floating_point() else v)
             for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    digest = hashlib.sha256(temporary.read_bytes()).hexdigest()
    os.replace(temporary, path)
    return digest


def run_job(job: RunJob, report=None, *, splits: dict[str, MotionDirections] | None = None,
            world: Distributed | None = None, progress: bool = False,
            description: str = "") -> dict:
    """Train and score one (model, seed); return its results row, its history and its weights.

    Runs the same way in this process and in a worker of `r21d_edu.workers`
    (which calls it with ``report``, forwarding the clips trained).
    """
    task = DirectionTask.from_dict(job.task)
    config = TrainConfig(**job.config)
    splits = _views(splits if splits is not None else _splits_for(job.task), job.view, job.seed)
    torch.manual_seed(job.seed)  # the initialization comes from the run's seed alone
    model = study_model(job.model, num_classes=8, in_channels=splits["train"].clip_shape[0],
                        frames=task.frames)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    macs = _macs(model, splits["train"].clip_shape)
    result = train(model, splits["train"], splits["val"], config, seed=job.seed, world=world,
                   checkpoint=Path(job.checkpoint), resume=job.resume, progress=progress,
                   description=description or f"{job.model} seed {job.seed}",
                   on_progress=report)
    test_accuracy, _ = evaluate(result.model, splits["test"], world=world)
    last = result.history[-1]
    row = {"model": job.model, "seed": job.seed, "params": params, "macs": macs,
           "epochs": last.epoch, "train_error": last.train_error, "train_loss": last.train_loss,
           "val_accuracy": last.val_accuracy, "test_accuracy": test_accuracy,
           "train_seconds": round(result.train_seconds, 2),
           "clips_per_second": round(result.clips_per_second, 1)}
    history = [{"model": job.model, "seed": job.seed, **asdict(r)} for r in result.history]
    weights = None
    if job.weights is not None and (world is None or world.is_main):
        path = Path(job.weights)
        digest = _save_weights(result.model, path)
        # The float16 copy is what others load: score it as they will see it.
        reloaded = study_model(job.model, num_classes=8,
                               in_channels=splits["train"].clip_shape[0], frames=task.frames)
        reloaded.load_state_dict(load_checked(path))
        half_accuracy, _ = evaluate(reloaded, splits["test"])
        weights = {"model": job.model, "seed": job.seed, "file": path.name, "sha256": digest,
                   "bytes": path.stat().st_size, "params": params,
                   "test_accuracy": test_accuracy, "test_accuracy_float16": half_accuracy}
    return {"row": row, "history": history, "weights": weights}


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
    if args.plan is not None:
        protocol["plan"] = args.plan + ("-smoke" if args.smoke else "")
        if any(model not in FAMILY for model in _plan(args).models):
            protocol["factorized"] = ("r21d_edu.factorized_family: member@matching at "
                                      "MATCHED_WIDTHS, 1 block")
    return json.loads(json.dumps(protocol))


def _order(row: dict) -> tuple[int, int, int]:
    # The family's order, then the factorization study's (then seed, then epoch): the same
    # whatever finished first.
    return KNOWN_MODELS.index(row["model"]), int(row["seed"]), int(row.get("epoch", 0))


def _summarize(runs: list[dict], plan: StudyPlan) -> dict:
    """`summarize`, with Holm's correction applied within each group of the plan's comparisons
    (the factorization study: one per matching), and every model of the plan in its order."""
    groups = list(dict.fromkeys(c.group for c in plan.comparisons))
    if groups in ([], [""]) and all(m in FAMILY for m in plan.models):
        return summarize(runs, plan.comparisons, plan.target_half_width)
    differences = []
    for group in groups:
        part = summarize(runs, [c for c in plan.comparisons if c.group == group])
        differences += [{**d, "group": group} for d in part["differences"]]
    # summarize lists the family's members only: the per-model table is made here for all.
    by_model: dict[str, list[dict]] = {}
    for run in sorted(runs, key=_order):
        by_model.setdefault(run["model"], []).append(run)
    models = {}
    for name in [m for m in plan.models if m in by_model]:
        rows = by_model[name]
        entry: dict = {metric: asdict(spread([r[metric] for r in rows]))
                       for metric in ("train_error", "val_accuracy", "test_accuracy")}
        entry["params"] = int(rows[0]["params"])
        if rows[0].get("macs") not in (None, ""):
            entry["macs"] = int(rows[0]["macs"])
        models[name] = entry
    return {"models": models, "differences": differences, "primary": None}


def _write_results(out: Path, results: dict, plan: StudyPlan | None, figure: bool) -> None:
    results["runs"].sort(key=_order)
    results["history"].sort(key=_order)
    if plan is not None:
        results["summary"] = _summarize(results["runs"], plan)
    else:
        results["summary"] = summarize(results["runs"])
    write_atomically(out / "results.json", json.dumps(results, indent=1) + "\n")
    write_atomically(out / "results.csv", csv_text(results["runs"], RESULT_COLUMNS))
    write_atomically(out / "history.csv", csv_text(results["history"], HISTORY_COLUMNS))
    write_atomically(out / "summary.md", summary_markdown(results["summary"]))
    if results.get("weights"):
        write_atomically(out / "weights" / "manifest.json",
                         json.dumps(sorted(results["weights"], key=_order), indent=1) + "\n")
    if figure and results["history"]:
        from .viz.training import training_curves  # figures only when asked for

        fig = training_curves(results["history"])
        temporary = out / "figure.tmp.png"
        fig.savefig(temporary, dpi=120, bbox_inches="tight")
        os.replace(temporary, out / "figure.png")


# --------------------------------------------------------------------------
# The experiment
# --------------------------------------------------------------------------


def run_experiment(args: argparse.Namespace) -> dict:
    """Train every (model, seed) of `args` that is not done yet; return results.json's content.

    The process's random state and thread count are left as they were found.
    """
    threads_before = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        try:
            return _run_experiment(args)
        finally:
            torch.set_num_threads(threads_before)


def _run_experiment(args: argparse.Namespace) -> dict:
    task = DirectionTask(train=args.train, val=args.val, test=args.test, seed=args.data_seed)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         weight_decay=args.weight_decay, device=args.device, bn=args.bn)
    workers = args.workers
    threads = args.threads or (1 if workers > 1 else None)
    if threads:
        torch.set_num_threads(threads)
    world = Distributed.from_environment(config.device)
    if world.active and workers > 1:
        raise ResultsFolderError("--workers runs several processes of its own; under torchrun "
                                 "every process already trains the same run. Drop --workers")
    plan = _plan(args)
    out: Path = args.out
    protocol = _protocol(args, task, config)
    if world.is_main:
        prepare_out(out)
    previous = load_previous(out, protocol, args.resume)
    world.barrier()  # every rank has read the old results before rank 0 rewrites them
    results = {"protocol": protocol,
               "environment": environment_record(config.device, world.world_size * workers),
               "runs": list(previous["runs"]) if previous else [],
               "history": list(previous.get("history", [])) if previous else [],
               "weights": list(previous.get("weights", [])) if previous else [],
               "wall_seconds": previous.get("wall_seconds", 0.0) if previous else 0.0}
    results["environment"]["workers"] = workers
    if previous and world.is_main:
        # An interrupt can leave the derived files one run behind results.json.
        _write_results(out, results, plan, figure=False)

    pairs = plan.pairs if plan is not None else [(m, s) for m in args.models for s in args.seeds]
    done = {(r["model"], int(r["seed"])) for r in results["runs"]}
    jobs = [RunJob(model, seed, task.to_dict(), config.to_dict(), args.view,
                   str(out / "checkpoints" / f"{model}-seed{seed}.pt"), args.resume,
                   str(out / "weights" / f"{model}-seed{seed}.pt") if args.save_weights else None)
            for model, seed in pairs if (model, seed) not in done]
    # Refused before any run starts: clips that could not fit would fail minutes in.
    splits = make_splits(task)

    show = not args.no_progress and world.is_main
    bar = _study_bar(len(jobs) * config.epochs * task.train, show)
    started = time.perf_counter()

    def record(outcome: dict) -> None:
        nonlocal started
        results["runs"].append(outcome["row"])
        results["history"] += outcome["history"]
        if outcome["weights"] is not None:
            results["weights"].append(outcome["weights"])
        now = time.perf_counter()
        results["wall_seconds"] += now - started
        started = now
        if world.is_main:
            _write_results(out, results, plan, figure=False)
        if show:
            row = outcome["row"]
            bar.write(f"{row['model']} seed {row['seed']}: training error {row['train_error']:.1%}"
                      f", val accuracy {row['val_accuracy']:.1%}, test accuracy "
                      f"{row['test_accuracy']:.1%}")

    try:
        if workers > 1 and len(jobs) > 1:
            run_jobs(run_job, jobs, workers, threads or 1, on_progress=bar.update,
                     on_done=lambda _, outcome: record(outcome),
                     describe=lambda job: f"{job.model} seed {job.seed}")
        else:
            for job in jobs:
                record(run_job(job, bar.update if show else None, splits=splits, world=world))
    finally:
        bar.close()
    if world.is_main:
        results["environment"]["load_average_at_end"] = (
            os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
        _write_results(out, results, plan, figure=not args.no_figure)
    world.barrier()
    return results


def _study_bar(total: int, enabled: bool):
    """One bar for the whole study, counted in clips trained (all runs, all epochs)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="study", unit="clip", disable=not enabled, dynamic_ncols=True,
                smoothing=0.05)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    status, results = run_reporting_errors("r21d_edu.experiment", lambda: run_experiment(args),
                                           "results.csv",
                                           refusals=(CheckpointError, WorkerError))
    if results is None:
        return status
    world = Distributed.from_environment(args.device)
    if world.is_main and not args.no_progress:
        print(summary_markdown(results["summary"]))
        if args.smoke:
            print(SMOKE_NOTE)
        print(f"results in {args.out}")
    world.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
