"""The training-curve figure draws what the history holds, and says what it needs."""

import pytest

from r21d_edu.viz import training_curves
from r21d_edu.viz.training import MODEL_COLORS

HISTORY = [{"model": m, "seed": s, "epoch": e, "train_error": 0.8 - 0.1 * e - 0.01 * s,
            "val_accuracy": 0.2 + 0.1 * e} for m in ("r3d", "r2plus1d") for s in (0, 1, 2)
           for e in (1, 2, 3)]


def test_one_mean_line_per_model_and_panel_in_the_models_colour():
    fig = training_curves(HISTORY)
    train_panel, val_panel = fig.axes[:2]
    lines = [line for line in train_panel.get_lines() if line.get_label().startswith("r")]
    assert [line.get_label() for line in lines] == ["r3d (3 seeds)", "r2plus1d (3 seeds)"]
    assert lines[0].get_color() == MODEL_COLORS["r3d"]
    # The mean training error of r3d at epoch 1 over seeds 0, 1, 2, in percent.
    assert lines[0].get_ydata()[0] == pytest.approx(100 * (0.7 - 0.01))
    val_lines = [line for line in val_panel.get_lines() if line.get_label().startswith("r")]
    assert val_lines[1].get_ydata()[-1] == pytest.approx(100 * (1 - 0.5))


def test_models_can_be_chosen_and_unknown_ones_are_named():
    fig = training_curves(HISTORY, models=["r2plus1d"])
    assert [line.get_label() for line in fig.axes[0].get_lines()][0] == "r2plus1d (3 seeds)"
    with pytest.raises(ValueError, match=r"no history for \['mc3'\]; the history holds"):
        training_curves(HISTORY, models=["mc3"])


def test_empty_or_incomplete_histories_say_what_is_needed():
    with pytest.raises(ValueError, match="needs the per-epoch history of at least one run"):
        training_curves([])
    with pytest.raises(ValueError, match="the first lacks val_accuracy"):
        training_curves([{"model": "r3d", "seed": 0, "epoch": 1, "train_error": 0.5}])


def test_every_model_of_the_factorization_plans_gets_its_own_colour_and_style():
    from r21d_edu.plans import FACTORIZATIONS, FACTORIZATIONS_DEPTHWISE
    from r21d_edu.viz.factorizations import FAMILY_COLORS

    models = list(dict.fromkeys(FACTORIZATIONS.models + FACTORIZATIONS_DEPTHWISE.models))
    history = [{"model": m, "seed": 0, "epoch": e, "train_error": 0.5, "val_accuracy": 0.5}
               for m in models for e in (1, 2)]
    lines = {line.get_label().split(" (")[0]: line
             for line in training_curves(history).axes[0].get_lines()
             if not line.get_label().startswith("_")}
    assert list(lines) == models
    drawn = [(line.get_color(), line.get_linestyle()) for line in lines.values()]
    assert len(set(drawn)) == len(models), "two models share a colour and a line style"
    assert lines["p3d-b@params"].get_color() == FAMILY_COLORS["p3d_b"]
    assert lines["p3d-b@params"].get_linestyle() == "-"
    assert lines["p3d-b@macs"].get_linestyle() == "--"
