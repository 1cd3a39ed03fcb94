"""Accuracy against cost of a factorized network: ``python -m r21d_edu.tradeoff``.

The study of `r21d_edu.netfactor` on a trained network, in one command:

1. train a 3D network (`family_model("r3d")`) on the direction task with
   `r21d_edu.training.train` — the very protocol of `r21d_edu.experiment`;
2. factorize it with `factorize_network(energy=e)` for every energy e, and
   score each linear factorization on the test split as it is;
3. fine-tune each one briefly with the same `train` (one run per seed), both
   as it is (``linear``) and with the middle BatchNorm + ReLU inserted by
   `insert_middle_bn_relu` (``bn-relu``); fine-tune the unfactorized network
   the same way as a control (``3d``), so that what fine-tuning alone buys is
   not credited to the factorization;
4. time every network side by side on the CPU with `time_side_by_side`;
5. write the points (energy, parameters, MACs, latency, accuracy before and
   after with their spread over seeds) and a Pareto figure.

Examples::

    python -m r21d_edu.tradeoff --smoke --out /tmp/tradeoff        # < 1 min on 2 cores
    python -m r21d_edu.tradeoff --out experiments/tradeoff          # the committed study
    python -m r21d_edu.tradeoff --out experiments/tradeoff --resume # after an interrupt

Files under ``--out``, each replaced atomically after every finished run, so
an interrupt loses at most the run in progress (``--resume`` skips the rest):
``results.json`` (protocol, machine, the base network's `NetworkProfile`,
every run, every point), ``runs.csv`` (one row per fine-tuning run),
``points.csv`` (one row per energy and variant), ``summary.md`` and
``pareto.png``; ``checkpoints/base.pt`` holds the trained 3D network.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from .counting import summarize_network
from .family import family_model
from .netfactor import NetworkProfile, factorize_network, insert_middle_bn_relu, network_profile
from .results_folder import (
    HelpFormatter,
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
from .stats import paired_difference, spread
from .tasks import DirectionTask, make_splits
from .timing import Variant, time_side_by_side
from .training import CheckpointError, Distributed, TrainConfig, evaluate, train

__all__ = ["main", "parse_args", "run_study", "summarize_points"]

#: The energies of the committed protocol (PROTOCOL.md); 1.0 is full rank.
ENERGIES: tuple[float, ...] = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
VARIANTS: tuple[str, ...] = ("linear", "bn-relu")
#: Clips the middle activations are measured on before inserting BN + ReLU.
CALIBRATION_CLIPS = 64

RUN_COLUMNS = ("variant", "energy", "seed", "test_accuracy", "val_accuracy", "train_error",
               "train_seconds")
POINT_COLUMNS = ("variant", "energy", "params", "macs", "latency_ms", "latency_iqr_ms",
                 "batch_ms", "accuracy_before", "accuracy_after_mean", "accuracy_after_std",
                 "seeds", "gain_mean", "gain_low", "gain_high", "pareto")

SMOKE = {"train": 128, "val": 64, "test": 64, "base_epochs": 1, "energies": [0.5, 1.0],
         "seeds": [0, 1], "latency_repeats": 3}


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _energy(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an energy is a share in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"an energy is a share in (0, 1], e.g. 0.9, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    task, config = DirectionTask(), TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m r21d_edu.tradeoff",
        description="Train a 3D network on the direction task, factorize it at several "
                    "energies, fine-tune each factorization (linear and with BN + ReLU in the "
                    "middle) over seeds, time them on the CPU, and chart accuracy against "
                    "MACs and latency.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for results and figure (required)")
    parser.add_argument("--energies", nargs="+", type=_energy, default=list(ENERGIES),
                        help="energy kept per layer, one factorization each")
    parser.add_argument("--seeds", nargs="+", type=seed_int, default=[0, 1, 2],
                        help="fine-tuning seeds (batch order); 3 or more for an interval")
    parser.add_argument("--base-seed", type=seed_int, default=0,
                        help="seed of the 3D network's initialization and batch order")
    parser.add_argument("--base-epochs", type=positive_int, default=config.epochs,
                        help="epochs of the 3D network's training")
    parser.add_argument("--epochs", type=positive_int, default=1, help="fine-tuning epochs")
    parser.add_argument("--lr", type=finite_float, default=5e-4,
                        help="fine-tuning peak learning rate")
    parser.add_argument("--train", type=positive_int, default=task.train, help="training clips")
    parser.add_argument("--val", type=positive_int, default=task.val, help="validation clips")
    parser.add_argument("--test", type=positive_int, default=task.test, help="test clips")
    parser.add_argument("--margin", type=_margin, default=4.0,
                        help="BN + ReLU insertion: ReLU clips below mean - margin * std")
    parser.add_argument("--latency-repeats", type=positive_int, default=30,
                        help="timed samples per network (median and IQR)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="CPU threads for training and timing")
    parser.add_argument("--smoke", action="store_true",
                        help=f"the smallest configuration that runs every step: {SMOKE}")
    parser.add_argument("--resume", action="store_true",
                        help="continue the results in --out: finished runs are kept")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-figure", action="store_true", help="do not draw pareto.png")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    args.energies = sorted(set(args.energies))
    args.seeds = list(dict.fromkeys(args.seeds))
    return args


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------


def _pareto(points: list[dict], cost: str) -> None:
    """Mark each point that no other point beats on both cost and accuracy."""
    for p in points:
        p["pareto"] = not any(
            q is not p and q[cost] <= p[cost] and q["accuracy_after_mean"]
            >= p["accuracy_after_mean"] and (q[cost] < p[cost] or q["accuracy_after_mean"]
                                              > p["accuracy_after_mean"])
            for q in points)


def summarize_points(results: dict) -> list[dict]:
    """One point per (variant, energy): costs, accuracy before, mean ± std after, the gain.

    ``gain`` is fine-tuned minus before, with its 95 % t interval over seeds
    (the before value is one deterministic number per energy). ``pareto``
    marks the points no other point beats in both MACs and mean accuracy
    after fine-tuning.
    """
    points = []
    for key, info in results["networks"].items():
        runs = [r for r in results["runs"] if f"{r['variant']}@{r['energy']}" == key]
        accuracy = [r["test_accuracy"] for r in sorted(runs, key=lambda r: r["seed"])]
        point = {"variant": info["variant"], "energy": info["energy"], "params": info["params"],
                 "macs": info["macs"], "accuracy_before": info["accuracy_before"],
                 "latency_ms": info.get("latency_ms"), "latency_iqr_ms": info.get("latency_iqr_ms"),
                 "batch_ms": info.get("batch_ms"), "seeds": len(accuracy),
                 "accuracy_after_mean": None, "accuracy_after_std": None,
                 "gain_mean": None, "gain_low": None, "gain_high": None}
        if accuracy:
            s = spread(accuracy)
            point["accuracy_after_mean"], point["accuracy_after_std"] = s.mean, s.std
            if len(accuracy) >= 2:
                d = paired_difference(accuracy, [info["accuracy_before"]] * len(accuracy))
                point["gain_mean"], point["gain_low"], point["gain_high"] = d.mean, d.low, d.high
        points.append(point)
    scored = [p for p in points if p["accuracy_after_mean"] is not None]
    _pareto(scored, "macs")
    return points


def _differences(results: dict) -> list[dict]:
    """bn-relu minus linear after fine-tuning, paired by seed, per energy."""
    rows = []
    by_key = {(r["variant"], r["energy"], r["seed"]): r["test_accuracy"] for r in results["runs"]}
    for energy in sorted({r["energy"] for r in results["runs"] if r["variant"] != "3d"}):
        seeds = sorted(s for (v, e, s) in by_key if v == "linear" and e == energy
                       and ("bn-relu", e, s) in by_key)
        if len(seeds) >= 2:
            d = paired_difference([by_key[("bn-relu", energy, s)] for s in seeds],
                                  [by_key[("linear", energy, s)] for s in seeds])
            rows.append({"energy": energy, "mean": d.mean, "low": d.low, "high": d.high,
                         "n": d.n, "exceeds_noise": d.exceeds_noise})
    return rows


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def summary_markdown(results: dict) -> str:
    """The points and the bn-relu − linear differences as Markdown tables."""
    lines = ["| variant | energy | params | MACs (M) | latency 1 clip (ms, IQR) | "
             "32 clips (ms) | test acc. before (%) | after fine-tune (%, mean ± std) | "
             "gain (points, 95 % CI) | Pareto (MACs) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for p in results["points"]:
        latency = ("" if p["latency_ms"] is None
                   else f"{p['latency_ms']:.2f} ({p['latency_iqr_ms']:.2f})")
        after = ("" if p["accuracy_after_mean"] is None else
                 f"{_pct(p['accuracy_after_mean'])} ± {_pct(p['accuracy_after_std'])} "
                 f"(n={p['seeds']})")
        gain = ("" if p["gain_mean"] is None else
                f"{100 * p['gain_mean']:+.1f} [{100 * p['gain_low']:+.1f}, "
                f"{100 * p['gain_high']:+.1f}]")
        batch = "" if p["batch_ms"] is None else f"{p['batch_ms']:.1f}"
        lines.append(f"| {p['variant']} | {p['energy']:g} | {p['params']:,} | "
                     f"{p['macs'] / 1e6:.2f} | {latency} | {batch} | "
                     f"{_pct(p['accuracy_before'])} | {after} | {gain} | "
                     f"{'yes' if p.get('pareto') else ''} |")
    if results.get("differences"):
        lines += ["", "| energy | bn-relu − linear after fine-tune (points) | 95 % interval | "
                  "exceeds seed noise? |", "|---:|---:|---|---|"]
        for d in results["differences"]:
            lines.append(f"| {d['energy']:g} | {100 * d['mean']:+.1f} | "
                         f"[{100 * d['low']:+.1f}, {100 * d['high']:+.1f}] | "
                         f"{'yes' if d['exceeds_noise'] else 'no'} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------


def _protocol(args: argparse.Namespace, task: DirectionTask, base: TrainConfig,
              tune: TrainConfig) -> dict:
    protocol = {"task": task.to_dict(), "base_model": "family_model('r3d') defaults",
                "base_seed": args.base_seed,
                "base_training": {k: v for k, v in base.to_dict().items() if k != "device"},
                "fine_tuning": {k: v for k, v in tune.to_dict().items() if k != "device"},
                "margin": args.margin, "calibration_clips": CALIBRATION_CLIPS,
                "metric": "test accuracy after the last fine-tuning epoch",
                "threads": args.threads}
    return json.loads(json.dumps(protocol))


def _write(out: Path, results: dict, figure: bool) -> None:
    results["points"] = summarize_points(results)
    results["differences"] = _differences(results)
    write_atomically(out / "results.json", json.dumps(results, indent=1) + "\n")
    write_atomically(out / "runs.csv", csv_text(results["runs"], RUN_COLUMNS))
    write_atomically(out / "points.csv", csv_text(results["points"], POINT_COLUMNS))
    write_atomically(out / "summary.md", summary_markdown(results))
    if figure and any(p["accuracy_after_mean"] is not None for p in results["points"]):
        from .viz.tradeoff import pareto_figure  # figures only when asked for

        fig = pareto_figure(results["points"])
        temporary = out / "pareto.tmp.png"
        fig.savefig(temporary, dpi=110, bbox_inches="tight")
        os.replace(temporary, out / "pareto.png")


def _networks(base: torch.nn.Module, profile: NetworkProfile, energies: Sequence[float],
              calibration: torch.Tensor, margin: float) -> dict[str, torch.nn.Module]:
    """Every network of the study before fine-tuning, keyed ``variant@energy``."""
    networks = {"3d@1.0": base}
    for energy in energies:
        linear = factorize_network(base, energy=energy, profile=profile)
        networks[f"linear@{energy}"] = linear
        networks[f"bn-relu@{energy}"] = insert_middle_bn_relu(linear, calibration, margin=margin)
    return networks


def _time_all(networks: dict[str, torch.nn.Module], shape: tuple[int, ...], repeats: int,
              threads: int) -> dict[str, tuple[float, float]]:
    """Median and IQR (ms) of every network, timed side by side (samples taken in turns)."""
    variants = [Variant(key, net.eval(), "3d" if key.startswith("3d") else "2plus1d")
                for key, net in networks.items()]
    results = time_side_by_side(variants, shape, repeats=repeats, threads=threads, warmup=2)
    return {r.label: (r.median_ms, r.iqr_ms) for r in results}


def _margin(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of standard deviations >= 0, "
                                         f"got {text!r}")
    return value


def run_study(args: argparse.Namespace) -> dict:
    """Run every step not done yet; return results.json's content.

    The process's random state and thread count are left as they were found.
    A trained base checkpoint of other settings (``--base-epochs``, seed, clips)
    is refused by `train`, naming what differs.
    """
    threads_before = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        try:
            return _run_study(args)
        finally:
            torch.set_num_threads(threads_before)


def _run_study(args: argparse.Namespace) -> dict:
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    task = DirectionTask(train=args.train, val=args.val, test=args.test)
    base_config = TrainConfig(epochs=args.base_epochs)
    tune_config = TrainConfig(epochs=args.epochs, lr=args.lr, warmup_epochs=0.1)
    out: Path = args.out
    protocol = _protocol(args, task, base_config, tune_config)
    prepare_out(out)
    previous = load_previous(out, protocol, args.resume,
                             what="energies, seeds or training settings")
    world = Distributed()
    progress = not args.no_progress
    started = time.perf_counter()
    results = previous or {"protocol": protocol, "runs": [], "networks": {},
                           "wall_seconds": 0.0}
    results["environment"] = environment_record(base_config.device, world.world_size)

    def save(figure: bool = False) -> None:
        nonlocal started
        results["wall_seconds"] += time.perf_counter() - started
        started = time.perf_counter()
        _write(out, results, figure and not args.no_figure)

    splits = make_splits(task)
    torch.manual_seed(args.base_seed)
    base = family_model("r3d", frames=task.frames)
    trained = train(base, splits["train"], splits["val"], base_config, seed=args.base_seed,
                    world=world, checkpoint=out / "checkpoints" / "base.pt", resume=True,
                    progress=progress, description="3D network")
    base = trained.model.eval()
    shape = (1, splits["train"].clip_shape[0], task.frames, task.size, task.size)
    profile = network_profile(base, shape)
    results["profile"] = profile.to_dict()
    results["base"] = {"test_accuracy": evaluate(base, splits["test"])[0],
                       "val_accuracy": trained.history[-1].val_accuracy,
                       "train_seconds": round(trained.train_seconds, 1)}
    calibration, _ = splits["train"].batch(list(range(min(CALIBRATION_CLIPS, task.train))))
    networks = _networks(base, profile, args.energies, calibration, args.margin)
    for key, net in networks.items():
        variant, energy = key.split("@")
        if key in results["networks"]:
            continue
        report = getattr(net, "factorization", None)
        params = sum(p.numel() for p in net.parameters())
        macs = (profile.macs if report is None else report.macs_after)
        if variant == "bn-relu":  # the spatial conv also computes the 2·p_t padded frames
            macs = summarize_network(net, shape).macs
        results["networks"][key] = {
            "variant": variant, "energy": float(energy), "params": params, "macs": macs,
            "ranks": None if report is None else report.ranks,
            "accuracy_before": evaluate(net, splits["test"])[0]}
    save()

    todo = [(key, seed) for key in networks for seed in args.seeds
            if not any(f"{r['variant']}@{r['energy']}" == key and r["seed"] == seed
                       for r in results["runs"])]
    for number, (key, seed) in enumerate(tqdm(todo, desc="fine-tuning runs", unit="run",
                                              disable=not progress), start=1):
        variant, energy = key.split("@")
        result = train(copy.deepcopy(networks[key]), splits["train"], splits["val"], tune_config,
                       seed=seed, world=world, progress=False,
                       description=f"[{number}/{len(todo)}] {key} seed {seed}")
        last = result.history[-1]
        results["runs"].append({
            "variant": variant, "energy": float(energy), "seed": seed,
            "test_accuracy": evaluate(result.model, splits["test"])[0],
            "val_accuracy": last.val_accuracy, "train_error": last.train_error,
            "train_seconds": round(result.train_seconds, 2)})
        save()

    if any("latency_ms" not in info for info in results["networks"].values()):
        single = _time_all(networks, shape, args.latency_repeats, args.threads)
        batch = _time_all(networks, (32, *shape[1:]), max(args.latency_repeats // 3, 3),
                          args.threads)
        for key, info in results["networks"].items():
            info["latency_ms"], info["latency_iqr_ms"] = single[key]
            info["batch_ms"] = batch[key][0]
        results["latency_load_average"] = os.getloadavg()[0]
    results["environment"]["load_average_at_end"] = os.getloadavg()[0]
    save(figure=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    status, results = run_reporting_errors("r21d_edu.tradeoff", lambda: run_study(args),
                                           "results.json", refusals=(CheckpointError,))
    if results is None:
        return status
    if not args.no_progress:
        print(summary_markdown(results))
        print(f"results in {args.out} ({results['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
