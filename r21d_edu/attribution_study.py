"""Where do the trained networks look? ``python -m r21d_edu.attribution_study``.

The committed checkpoints of the family (`r21d_edu.trained`) are attributed
with every method of `r21d_edu.attribution` on the same test clips of the
direction task, and every map is scored against the pixels that truly carry
the class (`r21d_edu.tasks.object_masks`, `r21d_edu.pointing`). The protocol
(`experiments/attribution/PROTOCOL.md`, committed before the study ran) fixes
what is compared:

- **primary**: r2plus1d − r3d on the confirmatory checkpoints (seeds
  1000-1002, paired by seed), in energy pointing and in effective frames, with
  integrated gradients; Holm over these 2;
- **secondary**: the same two scores with the other three methods (6
  comparisons, Holm over them);
- **exploratory** (described, not tested): every family member at seed 0, the
  controls trained on single frames or shuffled frames (r2d and r3d, seeds
  0-2, each shown the view it was trained on), and r3d and r2plus1d at their
  initialization (the maps of a network that has learned nothing: what the
  scores give for free).

Examples::

    python -m r21d_edu.attribution_study --out experiments/attribution   # the study
    python -m r21d_edu.attribution_study --smoke --out /tmp/attr-smoke   # seconds
    python -m r21d_edu.attribution_study --out experiments/attribution --resume

Files written under ``--out`` (each replaced atomically after every model, so
an interrupt loses at most the model in progress): ``results.json`` (the
protocol, the machine, one row per (model, method) and the comparisons),
``scores.csv``, ``comparisons.csv`` and ``summary.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .attribution import METHOD_NAMES, METHODS, attribute
from .family import family_model
from .pointing import score_maps
from .results_folder import (
    HelpFormatter,
    csv_text,
    environment_record,
    load_previous,
    positive_int,
    prepare_out,
    run_reporting_errors,
    write_atomically,
)
from .stats import holm, paired_difference, spread
from .tasks import DirectionTask, MotionDirections, make_splits, object_masks
from .trained import TRAINED_FOLDER, load_trained

__all__ = ["Unit", "comparisons", "main", "run_study", "study_units", "view_clips"]

#: Where the committed results of the training studies live (experiments/ of a checkout).
EXPERIMENTS = TRAINED_FOLDER.parent.parent
#: The task every checkpoint was trained on (the confirmatory protocol's).
TASK = DirectionTask(train=2400, val=1000, test=1000, seed=0)
#: The order each clip of the shuffled view is shown in comes from this seed.
ORDER_SEED = 0
#: The settings of the methods (fixed by the protocol).
SETTINGS = {"grad_cam": {}, "gradient_x_input": {},
            "integrated_gradients": {"baseline": "mean", "steps": 16},
            "occlusion": {"baseline": "mean", "window": (2, 8, 8), "stride": (2, 4, 4)}}
SMOKE_SETTINGS = {"grad_cam": {}, "gradient_x_input": {},
                  "integrated_gradients": {"baseline": "mean", "steps": 4},
                  "occlusion": {"baseline": "mean", "window": (4, 16, 16),
                                "stride": (4, 16, 16)}}
#: The scores the comparisons test, with the name the tables give them.
SCORES = {"energy": "energy pointing", "effective_frames": "effective frames"}
PRIMARY_METHOD = "integrated_gradients"
CONFIRMATORY_SEEDS = (1000, 1001, 1002)
FAMILY_NAMES = ("r2d", "f-r2d", "r3d", "mc3", "rmc3", "r2plus1d", "r2plus1d-no-relu",
                "r2plus1d-no-bn", "r2plus1d-linear", "r2plus1d-rank4")


@dataclass(frozen=True)
class Unit:
    """One model the study attributes: which group it belongs to, where its weights are.

    ``weights`` is a folder under experiments/ (None: the network at its
    initialization from ``torch.manual_seed(seed)``, as training starts it).
    """

    group: str
    model: str
    seed: int
    view: str = "clip"
    weights: str | None = None

    @property
    def key(self) -> str:
        state = self.weights or "untrained"
        return f"{self.group}/{self.model}/{self.view}/seed{self.seed}/{state}"

    def build(self) -> nn.Module:
        """The network, in eval mode, float32."""
        if self.weights is None:
            with torch.random.fork_rng():
                torch.manual_seed(self.seed)
                return family_model(self.model).eval()
        return load_trained(self.model, self.seed, EXPERIMENTS / self.weights)


def study_units(smoke: bool = False) -> list[Unit]:
    """The models of the study in the order they run (primary first)."""
    primary = [Unit("primary", name, seed, weights="confirmatory/weights")
               for seed in CONFIRMATORY_SEEDS for name in ("r3d", "r2plus1d")]
    if smoke:
        return primary
    family = [Unit("family", name, 0, weights="trained/weights") for name in FAMILY_NAMES]
    controls = [Unit("control", name, seed, view, f"controls/{view}/weights")
                for view in ("single_frame", "shuffled") for name in ("r2d", "r3d")
                for seed in (0, 1, 2)]
    untrained = [Unit("untrained", name, seed) for seed in CONFIRMATORY_SEEDS
                 for name in ("r3d", "r2plus1d")]
    return primary + family + controls + untrained


def view_clips(split: MotionDirections, view: str, count: int,
               task: DirectionTask = TASK) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first `count` clips of `split` as a model trained on `view` saw them, with their masks.

    The mask follows the frames: in the single-frame view every frame is the
    middle one, so every frame's mask is the middle frame's; in the shuffled
    view the masks are shuffled with the frames (one fixed order per clip from
    `ORDER_SEED`).

    Shape:
        - output: clips (count, 1, T, H, W) float32, masks (count, T, H, W) bool,
          labels (count,)
    """
    index = torch.arange(count)
    truth = {name: value[:count] for name, value in split.truth.items()}
    masks = object_masks(truth, task)
    shown = split.with_view(view, seed=ORDER_SEED, fresh_each_visit=False)
    clips, labels = shown.batch(index)
    if view == "single_frame":
        middle = masks.shape[1] // 2
        masks = masks[:, middle:middle + 1].expand_as(masks).contiguous()
    elif view == "shuffled":
        masks = torch.stack([mask[order] for mask, order in zip(masks, shown.frame_orders(index))])
    return clips, masks, labels


def _attribute_unit(unit: Unit, split: MotionDirections, count: int,
                    settings: dict) -> list[dict]:
    model = unit.build()
    clips, masks, labels = view_clips(split, unit.view, count)
    with torch.no_grad():
        accuracy = float((model(clips).argmax(dim=1) == labels).double().mean())
    rows = []
    for method in METHODS:
        start = time.perf_counter()
        result = attribute(model, clips, method, target=labels, **settings[method])
        seconds = time.perf_counter() - start
        scores = score_maps(result.maps, masks, METHOD_NAMES[method])
        rows.append({
            "key": unit.key, "group": unit.group, "model": unit.model, "seed": unit.seed,
            "view": unit.view, "trained": unit.weights is not None, "method": method,
            "layer": result.layer, "clips": scores.clips, "accuracy": accuracy,
            "energy": scores.mean_energy(), "hit_rate": scores.hit_rate(),
            "chance": scores.chance(), "lift": scores.lift(),
            "effective_frames": scores.mean_spread(),
            "profile": [round(v, 6) for v in scores.mean_profile()],
            "completeness_gap": result.completeness_gap, "seconds": round(seconds, 2)})
    return rows


def comparisons(rows: list[dict]) -> list[dict]:
    """The protocol's tests: r2plus1d − r3d per method and score, paired by seed, with Holm.

    The integrated-gradients pair is the primary family (Holm over 2), the
    other methods' six the secondary one (Holm over 6).
    """
    primary = [row for row in rows if row["group"] == "primary"]
    found = []
    for method in METHODS:
        for score in SCORES:
            a, b = ({row["seed"]: row[score] for row in primary
                     if row["model"] == model and row["method"] == method}
                    for model in ("r2plus1d", "r3d"))
            seeds = sorted(set(a) & set(b))
            if len(seeds) < 2:
                continue
            d = paired_difference([a[s] for s in seeds], [b[s] for s in seeds])
            found.append({
                "comparison": f"r2plus1d − r3d, {SCORES[score]}, {METHOD_NAMES[method]}",
                "method": method, "score": score,
                "role": "primary" if method == PRIMARY_METHOD else "secondary",
                "seeds": len(seeds), "r2plus1d": [a[s] for s in seeds],
                "r3d": [b[s] for s in seeds], "mean": d.mean, "low": d.low, "high": d.high,
                "half_width": d.half_width, "p": d.p_value, "exceeds_noise": d.exceeds_noise,
                "ahead": sum(a[s] > b[s] for s in seeds)})
    for role in ("primary", "secondary"):
        family = [c for c in found if c["role"] == role]
        if family:
            for c, rejected in zip(family, holm([c["p"] for c in family])):
                c["holm_rejects"] = rejected
    return found


def _number(value: float | None, percent: bool) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{100 * value:.1f}" if percent else f"{value:.2f}"


def summary_markdown(results: dict) -> str:
    """The scores per group, model and method, and the comparisons, as Markdown tables."""
    rows, lines = results["runs"], []
    lines += ["## Planned comparisons (r2plus1d − r3d, confirmatory checkpoints, paired by seed)",
              "", "| comparison | role | seeds | mean | 95 % interval | p | Holm rejects | "
              "ahead |", "|---|---|---:|---:|---|---:|---|---:|"]
    for c in results["comparisons"]:
        percent = c["score"] == "energy"
        unit = " points" if percent else " frames"
        lines.append(
            f"| {c['comparison']} | {c['role']} | {c['seeds']} | "
            f"{'+' if c['mean'] >= 0 else ''}{_number(c['mean'], percent)}{unit} | "
            f"[{_number(c['low'], percent)}, {_number(c['high'], percent)}] | "
            f"{c['p']:.3f} | {'yes' if c.get('holm_rejects') else 'no'} | "
            f"{c['ahead']} of {c['seeds']} |")
    lines += ["", "## Scores (mean over seeds ± sd; energy and chance in %, effective frames of 8)",
              "", "| group | model | view | weights | seeds | method | accuracy | energy inside "
              "the object | chance | pointing game | effective frames |",
              "|---|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["group"], row["model"], row["view"], row["trained"],
                           row["method"]), []).append(row)
    def show(members: list[dict], field: str, percent: bool = True) -> str:
        s = spread([m[field] for m in members])
        text = _number(s.mean, percent)
        return text + (f" ± {_number(s.std, percent)}" if s.n > 1 else "")

    for (group, model, view, trained, method), members in groups.items():
        lines.append(f"| {group} | {model} | {view} | {'trained' if trained else 'initial'} | "
                     f"{len(members)} | {METHOD_NAMES[method]} | {show(members, 'accuracy')} | "
                     f"{show(members, 'energy')} | {show(members, 'chance')} | "
                     f"{show(members, 'hit_rate')} | "
                     f"{show(members, 'effective_frames', False)} |")
    return "\n".join(lines) + "\n"


COLUMNS = ("group", "model", "seed", "view", "trained", "method", "layer", "clips", "accuracy",
           "energy", "hit_rate", "chance", "lift", "effective_frames", "completeness_gap",
           "seconds")
COMPARISON_COLUMNS = ("comparison", "role", "seeds", "mean", "low", "high", "half_width", "p",
                      "exceeds_noise", "holm_rejects", "ahead")


def _write(out: Path, results: dict) -> None:
    results["comparisons"] = comparisons(results["runs"])
    write_atomically(out / "results.json", json.dumps(results, indent=1) + "\n")
    write_atomically(out / "scores.csv", csv_text(results["runs"], COLUMNS))
    write_atomically(out / "comparisons.csv", csv_text(results["comparisons"],
                                                       COMPARISON_COLUMNS))
    write_atomically(out / "summary.md", summary_markdown(results))


def run_study(out: Path, clips: int = 100, smoke: bool = False, resume: bool = False,
              progress: bool = True) -> dict:
    """Attribute every unit of the study on `clips` test clips; write and return the results."""
    settings = SMOKE_SETTINGS if smoke else SETTINGS
    count = 16 if smoke else clips
    units = study_units(smoke)
    protocol = {"task": TASK.to_dict(),
                "clips": count, "target": "the true class", "order_seed": ORDER_SEED,
                "settings": {m: {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in s.items()} for m, s in settings.items()},
                "units": [u.key for u in units], "smoke": smoke}
    protocol = json.loads(json.dumps(protocol, default=list))
    prepare_out(out)
    previous = load_previous(out, protocol, resume, what="clips, settings or models")
    results = previous or {"protocol": protocol, "environment": environment_record(),
                           "runs": [], "wall_seconds": 0.0}
    done = {row["key"] for row in results["runs"]}
    split = make_splits(TASK)["test"]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(units), initial=len(done), desc="attribution study", unit="model",
               disable=not progress, dynamic_ncols=True)
    with bar:
        for unit in units:
            if unit.key in done:
                continue
            bar.set_postfix_str(unit.key)
            start = time.perf_counter()
            results["runs"] += _attribute_unit(unit, split, count, settings)
            results["wall_seconds"] = round(results["wall_seconds"]
                                            + time.perf_counter() - start, 1)
            _write(out, results)
            bar.update()
    _write(out, results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m r21d_edu.attribution_study", formatter_class=HelpFormatter,
        description="Attribute the committed checkpoints of the family with Grad-CAM, gradient "
                    "x input, integrated gradients and occlusion, score every map against the "
                    "moving object's masks, and test r2plus1d - r3d as the protocol "
                    "(experiments/attribution/PROTOCOL.md) fixes.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--clips", type=positive_int, default=100,
                        help="test clips attributed per model (the protocol's is 100)")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest configuration: the 6 confirmatory checkpoints, 16 "
                             "clips, coarse settings (checks that every step works; its "
                             "numbers answer nothing)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the results already in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    status, results = run_reporting_errors(
        parser.prog, lambda: run_study(args.out, args.clips, args.smoke, args.resume,
                                       not args.no_progress), str(args.out))
    if results is not None:
        for c in results["comparisons"]:
            percent = c["score"] == "energy"
            print(f"{c['comparison']} ({c['role']}): {_number(c['mean'], percent)} "
                  f"[{_number(c['low'], percent)}, {_number(c['high'], percent)}], "
                  f"Holm rejects: {'yes' if c.get('holm_rejects') else 'no'}")
        print(f"wrote {args.out}/results.json, scores.csv, comparisons.csv, summary.md "
              f"({results['wall_seconds']:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
