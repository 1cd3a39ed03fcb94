"""What a study's runs say: each model's spread over seeds, and the planned paired differences.

`summarize` turns the rows of a results file (one per (model, seed)) into
what a README reports: per model the mean ± sample standard deviation of each
metric, its parameters and MACs; per planned `Comparison` the paired
difference a − b over the seeds both models share, with its 95 % Student-t
interval, its p-value and, for the secondary comparisons, Holm's decision
across them. `summary_markdown` writes the same as tables.

How to read it: a difference "exceeds seed-to-seed noise" when its 95 %
interval excludes 0. That is the test for the primary comparison. The
secondary ones are tested together: a secondary difference counts as a finding
only when Holm's procedure rejects "no difference" (family-wise 5 %).
Exploratory differences are descriptions, whatever their intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from .family import FAMILY
from .plans import EXPLORATORY_COMPARISONS, Comparison
from .stats import holm, paired_difference, spread

__all__ = ["summarize", "summary_markdown"]

METRICS = ("train_error", "val_accuracy", "test_accuracy")


def summarize(runs: list[dict], comparisons: Sequence[Comparison] = EXPLORATORY_COMPARISONS,
              target_half_width: float | None = None) -> dict:
    """Per model: mean ± std of each metric; per planned comparison: the paired difference.

    Args:
        runs: rows with ``model``, ``seed``, ``train_error``, ``val_accuracy``,
            ``test_accuracy``, ``params`` (and ``macs``, when known).
        comparisons: the differences to report, with their roles.
        target_half_width: the primary interval's planned half-width, if any.

    Returns:
        ``{"models": {name: {metric: {mean, std, n}, "params", "macs"}},
        "differences": [{a, b, metric, role, question, mean, low, high, n, std,
        half_width, p_value, exceeds_noise, per_seed[, holm_rejects]}],
        "primary": {...} or None}``; comparisons with fewer than 2 shared
        seeds are left out.
    """
    by_model: dict[str, dict[int, dict]] = {}
    for run in runs:
        by_model.setdefault(run["model"], {})[int(run["seed"])] = run
    models = {}
    for name in [m for m in FAMILY if m in by_model]:
        seeds = by_model[name]
        entry: dict = {metric: asdict(spread([seeds[s][metric] for s in sorted(seeds)]))
                       for metric in METRICS}
        first = next(iter(seeds.values()))
        entry["params"] = int(first["params"])
        if first.get("macs") not in (None, ""):
            entry["macs"] = int(first["macs"])
        models[name] = entry
    differences = []
    for comparison in comparisons:
        a, b = by_model.get(comparison.a, {}), by_model.get(comparison.b, {})
        shared = sorted(set(a) & set(b))
        if len(shared) < 2:
            continue
        per_seed = {s: a[s][comparison.metric] - b[s][comparison.metric] for s in shared}
        d = paired_difference([a[s][comparison.metric] for s in shared],
                              [b[s][comparison.metric] for s in shared])
        differences.append({
            "a": comparison.a, "b": comparison.b, "metric": comparison.metric,
            "role": comparison.role, "question": comparison.question, **asdict(d),
            "half_width": d.half_width, "p_value": d.p_value,
            "exceeds_noise": d.exceeds_noise, "per_seed": per_seed,
        })
    secondary = [d for d in differences if d["role"] == "secondary"]
    if secondary:
        for d, rejects in zip(secondary, holm([d["p_value"] for d in secondary])):
            d["holm_rejects"] = rejects
    primary = next((d for d in differences if d["role"] == "primary"), None)
    if primary is not None and target_half_width is not None:
        primary["target_half_width"] = target_half_width
        primary["target_met"] = primary["half_width"] <= target_half_width
    return {"models": models, "differences": differences, "primary": primary}


def _macs_text(entry: dict, reference: dict | None) -> str:
    text = f"{entry['macs'] / 1e6:.1f}"
    if reference is not None and "macs" in reference:
        text += f" ({entry['macs'] / reference['macs'] - 1:+.1%} vs r3d)".replace("%", " %")
    return text


def summary_markdown(summary: dict) -> str:
    """The summary as Markdown tables (percentages; MACs in millions per clip)."""
    models = summary["models"]
    with_macs = all("macs" in entry for entry in models.values()) and models
    reference = models.get("r3d")
    header = "| model | parameters |" + (" MACs (M) |" if with_macs else "")
    lines = [header + " final training error (%) | val accuracy (%) | test accuracy (%) | "
             "seeds |", "|---|---:|" + ("---:|" if with_macs else "") + "---:|---:|---:|---:|"]
    for name, entry in models.items():
        cells = [f"{entry[m]['mean'] * 100:.1f} ± {entry[m]['std'] * 100:.1f}"
                 for m in ("train_error", "val_accuracy", "test_accuracy")]
        macs = f" {_macs_text(entry, reference)} |" if with_macs else ""
        lines.append(f"| {name} | {entry['params']:,} |{macs} {' | '.join(cells)} | "
                     f"{entry['test_accuracy']['n']} |")
    differences = summary["differences"]
    planned = any(d.get("role", "exploratory") != "exploratory" for d in differences)
    if differences and not planned:
        lines += ["", "| difference (paired by seed) | metric | mean (points) | 95 % interval | "
                  "exceeds seed noise? |", "|---|---|---:|---|---|"]
        for d in differences:
            lines.append(f"| {d['a']} − {d['b']} | {d['metric']} | {d['mean'] * 100:+.1f} | "
                         f"[{d['low'] * 100:+.1f}, {d['high'] * 100:+.1f}] | "
                         f"{'yes' if d['exceeds_noise'] else 'no'} |")
    elif differences:
        lines += ["", "| role | difference (paired by seed) | metric | seeds | mean (points) | "
                  "95 % interval | half-width | p | exceeds seed noise? | Holm (5 %) |",
                  "|---|---|---|---:|---:|---|---:|---:|---|---|"]
        for d in differences:
            holm_text = {True: "rejects 0", False: "does not"}.get(d.get("holm_rejects"), "—")
            lines.append(
                f"| {d['role']} | {d['a']} − {d['b']} | {d['metric']} | {d['n']} | "
                f"{d['mean'] * 100:+.1f} | [{d['low'] * 100:+.1f}, {d['high'] * 100:+.1f}] | "
                f"{d['half_width'] * 100:.1f} | {d['p_value']:.3f} | "
                f"{'yes' if d['exceeds_noise'] else 'no'} | {holm_text} |")
        primary = summary.get("primary")
        if primary and "target_half_width" in primary:
            lines += ["", f"Primary interval half-width: {primary['half_width'] * 100:.1f} points "
                          f"(planned: at most {primary['target_half_width'] * 100:.0f}; "
                          f"{'met' if primary['target_met'] else 'not met'})."]
    return "\n".join(lines) + "\n"
