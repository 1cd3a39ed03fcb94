"""Training curves in the style of the paper's Fig. 3: error against epochs, per model.

The paper plots the training error (thin) and the validation error (thick) of
R3D and R(2+1)D against epochs. Here every model is one colour, its line the
mean over seeds and its band the lowest to the highest seed, so a reader sees
at once whether two models' curves are separated by more than seed noise.
3D members are drawn in the 3D colour and (2+1)D members in the (2+1)D colour
of every other figure of the package; a factorization-study model
(``member@matching``) takes its member's colour from tutorial 10's figures,
solid at matched parameters and dashed at matched MACs, so twelve models stay
apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..factorized_family import MEMBERS, split_name
from ._common import new_figure
from .factorizations import FAMILY_COLORS
from .style import METHOD_COLORS

__all__ = ["MATCHING_STYLES", "MODEL_COLORS", "training_curves"]

#: One colour per member of `r21d_edu.family`, consistent with `METHOD_COLORS`.
MODEL_COLORS = {
    "r3d": METHOD_COLORS["3d"],
    "r2plus1d": METHOD_COLORS["2plus1d"],
    "r2plus1d-linear": "#56B4E9",
    "r2plus1d-rank4": "#CC79A7",
    "mc3": "#D55E00",
    "rmc3": "#0072B2",
    "r2d": "#999999",
    "f-r2d": "#000000",
}

#: How a study model's matching is drawn: its line style.
MATCHING_STYLES = {"params": "-", "macs": "--"}


def _style(model: str) -> tuple[str | None, str]:
    """Colour and line style of one model: the family's own, or its member's and matching's."""
    member, matching = split_name(model)
    if matching is None or member not in MEMBERS:
        return MODEL_COLORS.get(model), "-"
    return FAMILY_COLORS.get(MEMBERS[member].method), MATCHING_STYLES.get(matching, ":")


_NEEDED = ("model", "seed", "epoch", "train_error", "val_accuracy")


def _rows(history: Iterable[Any]) -> list[Mapping[str, Any]]:
    rows = [r if isinstance(r, Mapping) else vars(r) for r in history]
    if not rows:
        raise ValueError("training_curves needs the per-epoch history of at least one run, "
                         "got none (results.json's 'history' or history.csv's rows)")
    missing = [key for key in _NEEDED if key not in rows[0]]
    if missing:
        raise ValueError(f"each history row needs {', '.join(_NEEDED)}; the first lacks "
                         f"{', '.join(missing)}")
    return rows


def _curves(rows: list[Mapping[str, Any]], model: str, metric: str):
    """Per epoch: mean, min and max over the seeds of one model."""
    by_epoch: dict[int, list[float]] = {}
    for row in rows:
        if row["model"] == model:
            value = float(row[metric])
            by_epoch.setdefault(int(row["epoch"]), []).append(
                1 - value if metric == "val_accuracy" else value)
    epochs = sorted(by_epoch)
    means = [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs]
    return epochs, means, [min(by_epoch[e]) for e in epochs], [max(by_epoch[e]) for e in epochs]


def training_curves(history: Iterable[Any], models: Sequence[str] | None = None,
                    title: str | None = None) -> Figure:
    """Training and validation error (%) against epochs, mean and range over seeds.

    Args:
        history: per-epoch rows with ``model``, ``seed``, ``epoch``,
            ``train_error`` and ``val_accuracy`` — results.json's ``history``,
            history.csv read with `csv.DictReader`, or `EpochRecord`s with
            those fields added.
        models: which models to draw, in order; default every model present.
        title: the figure's title; default says what the band is.

    Returns:
        A matplotlib `Figure` with two panels (training error, validation error).
    """
    rows = _rows(history)
    present = list(dict.fromkeys(str(r["model"]) for r in rows))
    models = present if models is None else list(models)
    unknown = [m for m in models if m not in present]
    if unknown:
        raise ValueError(f"no history for {unknown}; the history holds {present}")
    seeds = {(str(r["model"]), int(r["seed"])) for r in rows}
    fig = new_figure(11.0, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, metric, name in zip(axes, ("train_error", "val_accuracy"),
                                ("training error", "validation error")):
        for model in models:
            epochs, mean, low, high = _curves(rows, model, metric)
            color, linestyle = _style(model)
            n = sum(1 for m, _ in seeds if m == model)
            ax.plot(epochs, [100 * v for v in mean], color=color, lw=2, ls=linestyle,
                    label=f"{model} ({n} seed{'s' * (n != 1)})")
            if n > 1:
                ax.fill_between(epochs, [100 * v for v in low], [100 * v for v in high],
                                color=color, alpha=0.18, lw=0)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("error (%)")
    axes[0].axhline(100 * 7 / 8, color="0.5", ls=":", lw=1)
    axes[1].axhline(100 * 7 / 8, color="0.5", ls=":", lw=1, label="chance (87.5 %)")
    # Outside the panels: with eight models a legend inside would hide the curves.
    fig.legend(*axes[1].get_legend_handles_labels(), fontsize=8, loc="outside right center")
    fig.suptitle(title or "Mean over seeds (line) and lowest to highest seed (band)")
    return fig
