"""The benchmark command: configurations, the correctness gate, and the files it writes."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from r21d_edu import bench
from r21d_edu.bench import device_slug, layer_configs, main
from r21d_edu.timing import lookup_device


def test_layer_configs_follow_r2plus1d_18():
    configs = layer_configs([8, 16], [1, 2, 3, 4])
    shapes = [c.input_shape(8) for c in configs]
    assert shapes[:4] == [(8, 64, 8, 56, 56), (8, 128, 4, 28, 28),
                          (8, 256, 2, 14, 14), (8, 512, 1, 7, 7)]
    assert shapes[4:] == [(8, 64, 16, 56, 56), (8, 128, 8, 28, 28),
                          (8, 256, 4, 14, 14), (8, 512, 2, 7, 7)]
    assert configs[0].name == "layer1"


def test_device_slugs_are_folder_names():
    assert device_slug("AMD EPYC", "cpu") == "cpu-amd-epyc"
    assert device_slug("Intel(R) Xeon(R) Platinum 8480+ CPU", "cpu") == \
        "cpu-intel-r-xeon-r-platinum-8480"
    assert device_slug("NVIDIA H100 80GB HBM3", "cuda") == "nvidia-h100-80gb-hbm3"


def test_cpu_defaults_are_the_documented_subset():
    options = bench._options(["--device", "cpu"])
    assert (options.frames, options.batch, options.dtype) == ([8], [1, 8], ["float32"])
    assert (options.repeats, options.warmup) == (10, 2)
    assert options.methods == ["3d", "naive", "2plus1d", "fast"]
    assert options.mode == ["inference", "training"]


def test_nonsense_options_get_usage_errors(capsys):
    for argv in (["--batch", "0"], ["--repeats", "-1"], ["--layers", "5"], ["--dtype", "int8"]):
        with pytest.raises(SystemExit) as stop:
            bench._options(["--device", "cpu", *argv])
        assert stop.value.code == 2
    assert "must be an integer >= 1, got 0" in capsys.readouterr().err


def test_figures_are_all_none_or_names_the_sweep_draws(capsys):
    options = bench._options(["--device", "cpu"])
    assert options.figures == ["all"]
    chosen = bench._options(["--device", "cpu", "--figures", "f8_b8_float32_training"])
    assert chosen.figures == ["f8_b8_float32_training"]
    for argv, message in (
            (["--figures", "all", "none"], "takes 'all' or 'none' alone"),
            (["--figures", "f8-b1"], "is not all, none or a figure name"),
            (["--figures", "f16_b8_bfloat16_inference"],
             "this sweep draws no 'f16_b8_bfloat16_inference'")):
        with pytest.raises(SystemExit) as stop:
            bench._options(["--device", "cpu", *argv])
        assert stop.value.code == 2
        assert message in capsys.readouterr().err


def test_figures_none_or_one_name_draws_only_that(tmp_path):
    tiny = ["--device", "cpu", "--layers", "4", "--batch", "1", "--repeats", "1", "--warmup", "1",
            "--out", str(tmp_path)]
    folder = main([*tiny, "--slug", "none", "--figures", "none"])
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "results.csv", "results.json"]
    folder = main([*tiny, "--slug", "one", "--figures", "f8_b1_float32_training"])
    assert sorted(p.name for p in folder.glob("*.png")) == ["timings_f8_b1_float32_training.png"]
    record = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert record["protocol"]["figures"] == ["f8_b1_float32_training"]
    assert "`timings_f8_b1_float32_training.png`" in (folder / "README.md").read_text()


def test_a_tiny_run_writes_csv_json_figures_and_readme(tmp_path, capsys):
    folder = main(["--device", "cpu", "--layers", "4", "--batch", "1", "--repeats", "2",
                   "--warmup", "1", "--out", str(tmp_path), "--slug", "tiny"])
    assert folder == tmp_path / "tiny"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["README.md", "results.csv", "results.json",
                     "timings_f8_b1_float32_inference.png", "timings_f8_b1_float32_training.png"]

    with open(folder / "results.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == bench.CSV_COLUMNS
    # Four variants in inference, three in training (the fast path is inference-only).
    assert [(r["mode"], r["method"]) for r in rows] == [
        ("inference", "3d"), ("inference", "naive"), ("inference", "2plus1d"),
        ("inference", "fast"), ("training", "3d"), ("training", "naive"),
        ("training", "2plus1d")]
    assert {r["input_shape"] for r in rows} == {"1x512x1x7x7"}
    for row in rows:
        assert float(row["q25_ms"]) <= float(row["median_ms"]) <= float(row["q75_ms"])
        assert int(row["flops"]) > 0 and int(row["bytes_moved"]) > 0
    plain = next(r for r in rows if r["method"] == "2plus1d" and r["mode"] == "inference")
    assert float(plain["speedup_vs_2plus1d"]) == 1.0

    record = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert record["command"].startswith("python -m r21d_edu.bench --device cpu --layers 4")
    assert record["environment"]["threads"] == torch.get_num_threads()
    assert record["environment"]["load_average"] is not None
    assert all(check["ok"] for check in record["checks"])
    assert len(record["rows"]) == len(rows)

    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert record["command"] in readme and "| layer4 | 8 | 1 | float32 | inference |" in readme
    assert "shared with other processes" in readme
    assert "inference: naive Conv2d + Conv1d takes" in readme and "geometric mean over 1 rows" in readme
    assert (folder / "timings_f8_b1_float32_inference.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out


def test_disagreeing_variants_stop_the_run_before_timing(monkeypatch, tmp_path):
    real = bench.check_agreement

    def broken(*args):
        return {**real(*args), "ok": False}

    monkeypatch.setattr(bench, "check_agreement", broken)
    timed = []
    monkeypatch.setattr(bench, "time_side_by_side", lambda *a, **k: timed.append(a))
    with pytest.raises(SystemExit, match="variants disagree"):
        main(["--device", "cpu", "--layers", "4", "--batch", "1", "--out", str(tmp_path)])
    assert timed == [] and not any(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without GPU")
def test_cuda_without_a_gpu_is_refused_plainly(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--device", "cuda", "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "is_available() is False" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_ratio_summary_takes_geometric_means_per_mode():
    def row(layer, method, ms, mode="inference"):
        return {"layer": layer, "frames": 8, "batch": 1, "dtype": "float32", "mode": mode,
                "method": method, "median_ms": ms}

    rows = [row("layer1", "naive", 8.0), row("layer1", "2plus1d", 2.0),
            row("layer2", "naive", 2.0), row("layer2", "2plus1d", 2.0),
            row("layer1", "naive", 3.0, "training"), row("layer1", "2plus1d", 1.0, "training")]
    lines = bench.ratio_summary(rows)
    assert lines == [
        "- inference: naive Conv2d + Conv1d takes 2.00x the time of the (2+1)D conv "
        "(geometric mean over 2 rows, range 1.00-4.00)",
        "- training: naive Conv2d + Conv1d takes 3.00x the time of the (2+1)D conv "
        "(geometric mean over 1 rows, range 3.00-3.00)",
    ]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_tiny_gpu_run_checks_and_times_in_bfloat16(tmp_path):
    # No figures: they are drawn from the rows alone (tested on CPU), and a GPU machine's
    # image may lack plotly, which r21d_edu.viz imports.
    folder = main(["--device", "cuda", "--layers", "4", "--batch", "1", "--dtype", "bfloat16",
                   "--repeats", "3", "--warmup", "2", "--out", str(tmp_path), "--slug", "gpu",
                   "--figures", "none"])
    record = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert all(check["ok"] for check in record["checks"])
    rows = record["rows"]
    assert {r["method"] for r in rows} == {"3d", "naive", "2plus1d", "fast"}
    assert all(r["peak_memory_bytes"] > 0 for r in rows)
    if lookup_device(record["environment"]["device_name"]):  # an H100 SXM or H200
        assert all(r["fraction_of_roofline"] is not None for r in rows)
