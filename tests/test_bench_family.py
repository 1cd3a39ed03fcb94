"""The family sweep (`python -m r21d_edu.bench_family`): its smoke run writes the schema a
tutorial reads, its counts are counting's, and an interrupted run loses nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from r21d_edu import bench, bench_family
from r21d_edu.counting import activation_memory, count_macs, count_parameters
from r21d_edu.factorized import FACTORIZED_LAYERS

REPO = Path(__file__).resolve().parent.parent
# What a reader of family.json may rely on (the tutorial estimates latency from MACs).
REQUIRED = {"layer", "label", "config", "in_channels", "out_channels", "kernel_size",
            "input_shape", "output_shape", "threads", "median_ms", "q25_ms", "q75_ms",
            "min_ms", "max_ms", "params", "weights", "macs", "bytes"}
MACHINE = {"cpu_model", "cpu_count", "torch", "threads", "load_average_before",
           "load_average_after"}
LAYERS = ["3d", "2plus1d", *FACTORIZED_LAYERS]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("family")
    path = bench_family.main(["--smoke", "--out", str(out)])
    return out, json.loads(path.read_text())


def test_smoke_run_times_every_member_with_3d_and_2plus1d_in_one_run(smoke) -> None:
    out, record = smoke
    assert record["complete"] and record["schema"] == bench_family.SCHEMA
    assert [r["layer"] for r in record["records"]] == LAYERS
    assert MACHINE <= set(record["machine"])
    for r in record["records"]:
        assert REQUIRED <= set(r)
        assert r["q25_ms"] <= r["median_ms"] <= r["q75_ms"]
        assert r["min_ms"] <= r["q25_ms"] and r["q75_ms"] <= r["max_ms"]
        assert r["output_shape"] == [1, 8, 4, 8, 8] and r["threads"] == 1
    assert {p.name for p in out.iterdir()} == {"family_smoke.json", "family_smoke.csv",
                                                "family_smoke.md"}
    rows = list(csv.DictReader(open(out / "family_smoke.csv", encoding="utf-8")))
    assert [row["layer"] for row in rows] == LAYERS and rows[0]["kernel_size"] == "3x3x3"
    text = (out / "family_smoke.md").read_text()
    assert "| TSM (shift + 2D) |" in text and record["machine"]["cpu_model"] in text


def test_the_records_carry_counting_s_params_macs_and_bytes(smoke) -> None:
    _, record = smoke
    config = bench_family.SMOKE_CONFIGS[0]
    layers = bench_family.build_family(config)
    for r in record["records"]:
        layer = layers[r["layer"]]
        assert r["params"] == count_parameters(layer).total == sum(
            p.numel() for p in layer.parameters())
        assert r["weights"] == count_parameters(layer).weights
        assert r["macs"] == count_macs(layer, config.input_shape).macs
        assert r["bytes"] == activation_memory(layer, config.input_shape).total_bytes
    by_layer = {r["layer"]: r for r in record["records"]}
    assert by_layer["tsm"]["macs"] == 9 * 8 * 8 * 4 * 8 * 8  # the 2D conv alone
    assert by_layer["3d"]["weights"] == 27 * 8 * 8


def test_an_interrupted_run_keeps_its_groups_and_resume_times_only_the_rest(
        tmp_path, monkeypatch) -> None:
    real = bench_family._group_records
    timed = []

    def interrupted(config, threads, *args):
        if threads == 2:
            raise KeyboardInterrupt
        timed.append(threads)
        return real(config, threads, *args)

    monkeypatch.setattr(bench_family, "_group_records", interrupted)
    argv = ["--smoke", "--threads", "1", "2", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as stop:
        bench_family.main(argv)
    assert stop.value.code == 130
    kept = json.loads((tmp_path / "family_smoke.json").read_text())
    assert not kept["complete"] and {r["threads"] for r in kept["records"]} == {1}
    assert "Incomplete" in (tmp_path / "family_smoke.md").read_text()

    def resumed(config, threads, *args):
        timed.append(threads)
        return real(config, threads, *args)

    monkeypatch.setattr(bench_family, "_group_records", resumed)
    bench_family.main([*argv, "--resume"])
    done = json.loads((tmp_path / "family_smoke.json").read_text())
    assert timed == [1, 2] and done["complete"]
    assert [(r["threads"], r["layer"]) for r in done["records"]] == [
        (t, key) for t in (1, 2) for key in LAYERS]


def test_bench_family_flag_and_bad_options(tmp_path, capsys) -> None:
    path = bench.main(["--family", "--smoke", "--out", str(tmp_path)])
    assert path == tmp_path / "family_smoke.json" and path.exists()
    with pytest.raises(SystemExit) as stop:
        bench_family.main(["--threads", "0", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "--threads must be integers >= 1" in capsys.readouterr().err


def test_the_committed_family_results_follow_the_schema() -> None:
    path = REPO / "benchmarks" / "family.json"
    if not path.exists():
        pytest.skip("benchmarks/family.json is not committed yet")
    record = json.loads(path.read_text())
    assert record["complete"] and MACHINE <= set(record["machine"])
    configs = {c["name"] for c in record["protocol"]["configs"]}
    assert {(r["config"], r["threads"], r["layer"]) for r in record["records"]} == {
        (c, t, key) for c in configs for t in record["protocol"]["threads"] for key in LAYERS}
    assert all(REQUIRED <= set(r) for r in record["records"])
