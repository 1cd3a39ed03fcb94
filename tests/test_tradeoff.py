"""The trade-off study's entry point (smoke run, resume, refusals), its figure and its explorer."""

import json
import subprocess
import sys

import pytest

from r21d_edu.netfactor import NetworkProfile
from r21d_edu.tradeoff import main, parse_args, summarize_points


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("tradeoff") / "smoke"
    assert main(["--smoke", "--out", str(out), "--no-progress"]) == 0
    return out


def test_smoke_runs_every_step_and_writes_every_file(smoke):
    for name in ("results.json", "runs.csv", "points.csv", "summary.md", "pareto.png"):
        assert (smoke / name).stat().st_size > 0, name
    assert not list(smoke.glob("*.tmp*"))
    results = json.loads((smoke / "results.json").read_text())
    keys = set(results["networks"])
    assert keys == {"3d@1.0", "linear@0.5", "bn-relu@0.5", "linear@1.0", "bn-relu@1.0"}
    assert len(results["runs"]) == len(keys) * 2  # smoke: 2 seeds
    for info in results["networks"].values():
        assert info["latency_ms"] > 0 and info["batch_ms"] > 0
    # Full rank is the same network: the same test accuracy before any fine-tuning.
    nets = results["networks"]
    assert nets["linear@1.0"]["accuracy_before"] == nets["3d@1.0"]["accuracy_before"]
    assert nets["linear@0.5"]["params"] < nets["3d@1.0"]["params"]
    assert results["wall_seconds"] > 0 and results["environment"]["torch"]
    profile = NetworkProfile.from_dict(results["profile"])
    assert profile.plan(energy=0.5).ranks == nets["linear@0.5"]["ranks"]
    assert any(p["pareto"] for p in results["points"] if "pareto" in p)


def test_resume_keeps_finished_runs_and_a_second_run_without_it_is_refused(smoke, capsys):
    before = json.loads((smoke / "results.json").read_text())
    assert main(["--smoke", "--out", str(smoke), "--no-progress"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["--smoke", "--out", str(smoke), "--no-progress", "--resume"]) == 0
    after = json.loads((smoke / "results.json").read_text())
    assert after["runs"] == before["runs"]
    assert after["networks"] == before["networks"]


def test_resume_refuses_another_protocol(smoke, capsys):
    assert main(["--smoke", "--out", str(smoke), "--no-progress", "--resume",
                 "--margin", "2"]) == 2
    assert "another protocol" in capsys.readouterr().err


def test_help_and_bad_flags():
    text = subprocess.run([sys.executable, "-m", "r21d_edu.tradeoff", "--help"],
                          capture_output=True, text=True, check=True).stdout
    for flag in ("--out", "--energies", "--seeds", "--smoke", "--resume", "--epochs"):
        assert flag in text
    with pytest.raises(SystemExit):
        parse_args(["--out", "x", "--energies", "1.5"])


def test_points_mark_the_pareto_front():
    results = {"networks": {
        "3d@1.0": {"variant": "3d", "energy": 1.0, "params": 10, "macs": 100,
                   "accuracy_before": 0.8},
        "linear@0.5": {"variant": "linear", "energy": 0.5, "params": 5, "macs": 50,
                       "accuracy_before": 0.5},
        "linear@0.9": {"variant": "linear", "energy": 0.9, "params": 9, "macs": 120,
                       "accuracy_before": 0.7}},
        "runs": [{"variant": v, "energy": e, "seed": s, "test_accuracy": a + 0.01 * s}
                 for v, e, a in (("3d", 1.0, 0.8), ("linear", 0.5, 0.6), ("linear", 0.9, 0.7))
                 for s in range(3)]}
    points = {(p["variant"], p["energy"]): p for p in summarize_points(results)}
    assert points[("3d", 1.0)]["pareto"] and points[("linear", 0.5)]["pareto"]
    assert not points[("linear", 0.9)]["pareto"]  # more MACs and less accurate than 3D
    assert points[("linear", 0.5)]["gain_mean"] == pytest.approx(0.11)
    assert points[("linear", 0.5)]["accuracy_after_std"] == pytest.approx(0.01)


def test_the_explorer_answers_every_slider_position_without_a_traceback(smoke):
    from r21d_edu.widgets import FactorizationExplorer
    from r21d_edu.widgets.factorize import explore_plan

    results = json.loads((smoke / "results.json").read_text())
    profile = NetworkProfile.from_dict(results["profile"])
    explorer = FactorizationExplorer(profile, results["points"], energy=0.5)
    assert explorer.plan.nearest == 0.5 and "layer1.0.conv1.0" in explorer.table.value
    assert explorer.plot.value[:4] == b"\x89PNG"
    for energy in (0.3, 0.74, 0.76, 1.0):
        explorer.slider.value = energy
        assert explorer.message.value == ""
        assert explorer.plan.report.layers[0].energy >= energy - 1e-12
    assert explorer.plan.nearest == 1.0
    plan = explore_plan(profile, 0.8)
    assert plan.nearest is None and "energy ≥ 0.8" in plan.text
    with pytest.raises(TypeError, match="needs a NetworkProfile"):
        FactorizationExplorer({"not": "a profile"})


def test_the_pareto_figure_draws_both_panels(smoke):
    from r21d_edu.viz import pareto_figure

    points = json.loads((smoke / "results.json").read_text())["points"]
    fig = pareto_figure(points, highlight=0.5, highlight_costs={"macs": 1e6})
    assert len(fig.axes) == 2
    assert "MACs" in fig.axes[0].get_xlabel() and "latency" in fig.axes[1].get_xlabel()
    with pytest.raises(ValueError, match="needs the study's points"):
        pareto_figure([])


def test_the_explorer_frames_its_last_good_view_when_a_plan_fails(smoke, monkeypatch):
    from r21d_edu.widgets import FactorizationExplorer, factorize

    results = json.loads((smoke / "results.json").read_text())
    explorer = FactorizationExplorer(NetworkProfile.from_dict(results["profile"]),
                                     results["points"], energy=0.5)

    def refuse(*_args, **_kwargs):
        raise ValueError("no plan here")

    monkeypatch.setattr(factorize, "explore_plan", refuse)
    explorer.slider.value = 0.6
    assert explorer.stale and "no plan here" in explorer.message.value
    assert explorer.plan.nearest == 0.5  # the last good view stays, framed
    monkeypatch.undo()
    explorer.slider.value = 0.7
    assert not explorer.stale and explorer.message.value == ""


@pytest.mark.parametrize("flags, message", [
    (["--margin", "nan"], "expected a finite number, got 'nan'"),
    (["--margin", "-1"], "expected a number of standard deviations >= 0"),
    (["--lr", "inf"], "expected a finite number, got 'inf'"),
])
def test_non_finite_or_negative_settings_are_refused_before_any_training(flags, message,
                                                                          capsys):
    with pytest.raises(SystemExit):
        parse_args(["--out", "x", *flags])
    assert message in capsys.readouterr().err


def test_help_shows_no_default_for_the_required_out():
    from r21d_edu.tradeoff import build_parser

    assert "(default: None)" not in build_parser().format_help()


def test_a_base_checkpoint_of_other_settings_is_refused_naming_them(tmp_path, capsys,
                                                                    monkeypatch):
    # Only the trained base is there (no results.json yet), so train() must notice.
    from r21d_edu import tradeoff

    out = tmp_path / "out"
    real_train = tradeoff.train

    def stop_after_base(*args, **kwargs):
        real_train(*args, **kwargs)
        raise KeyboardInterrupt

    small = ["--train", "128", "--val", "64", "--test", "64", "--energies", "0.5", "--seeds",
             "0", "--latency-repeats", "3", "--no-progress", "--out", str(out)]
    monkeypatch.setattr(tradeoff, "train", stop_after_base)
    assert main([*small, "--base-epochs", "1"]) == 130
    monkeypatch.undo()
    assert main([*small, "--base-epochs", "2", "--resume"]) == 2
    assert "config.epochs: 1 there, 2 now" in capsys.readouterr().err
