"""The family explorer (tutorial 10): every number it shows is counting's, at full size.

`family_point` scales two small meta-device counts to the clip's size instead of counting
every member at full size on each change; these tests hold it to the full count, flag the
members a setting rules out without a traceback, and read the latency estimate from a
benchmark file of the committed schema.
"""

from __future__ import annotations

import json
import random

import pytest
import torch

from r21d_edu.counting import activation_memory, count_macs, count_parameters
from r21d_edu.widgets import FamilyExplorer
from r21d_edu.widgets.family import (
    FAMILY_BENCHMARK,
    MEMBERS,
    Throughput,
    family_point,
    family_throughput,
)

ISSUE_WEIGHTS = {"3d": 110_592, "2plus1d": 110_592, "p3d_a": 49_152, "p3d_b": 49_152,
                 "p3d_c": 49_152, "s3d": 49_152, "s3d_g": 53_312, "ip_csn": 5_824,
                 "ir_csn": 1_728, "dw_2plus1d": 768, "tsm": 36_864}


def test_the_issue_s_weights_of_a_64_to_64_3x3x3_conv() -> None:
    point = family_point(64, 64, (3, 3), (8, 56, 56))
    assert {k: point.row(k).weights for k in ISSUE_WEIGHTS} == ISSUE_WEIGHTS
    assert point.row("x3d_stem").weights == 9 * 64 * 64 + 3 * 64


def full_count(key: str, c_in: int, c_out: int, t: int, d: int, size, shift: float):
    kernel = (t, d, d)
    padding = tuple((k - 1) // 2 for k in kernel)
    layer = MEMBERS[key][2](c_in, c_out, kernel, padding, shift)
    shape = (1, c_in, *size)
    weights = count_parameters(layer).weights
    return weights, count_macs(layer, shape).macs, activation_memory(layer, shape).total_bytes


@pytest.mark.parametrize("seed", range(6))
def test_every_row_equals_counting_at_full_size(seed: int) -> None:
    rng = random.Random(seed)
    c_in, c_out = rng.choice((3, 8, 16, 24)), rng.choice((8, 16, 24, 48))
    t, d = rng.choice((1, 3, 5)), rng.choice((1, 3, 7))
    size = (rng.choice((4, 8)), rng.choice((14, 28)), rng.choice((14, 28)))
    shift = rng.choice((0.0, 1 / 8, 1 / 4))
    point = family_point(c_in, c_out, (t, d), size, shift)
    for row in point.rows:
        if not row.available:
            with pytest.raises(ValueError):
                full_count(row.key, c_in, c_out, t, d, size, shift)
            continue
        assert (row.weights, row.macs, row.bytes) == full_count(
            row.key, c_in, c_out, t, d, size, shift), row.key


def test_an_even_kernel_is_counted_at_full_size() -> None:
    point = family_point(8, 8, (2, 2), (4, 14, 14))
    for row in point.rows:
        if row.available:
            assert (row.weights, row.macs, row.bytes) == full_count(
                row.key, 8, 8, 2, 2, (4, 14, 14), 1 / 8), row.key


def test_members_that_cannot_take_a_setting_are_flagged_with_the_reason() -> None:
    point = family_point(16, 24, (1, 3))
    out = {r.key: r.reason for r in point.rows if not r.available}
    assert set(out) == {"ir_csn", "dw_2plus1d", "tsm"}
    assert "multiple of in_channels" in out["ir_csn"]
    assert "at least 3" in out["tsm"]
    assert point.row("p3d_a").available and point.row("ip_csn").available
    with pytest.raises(TypeError, match=r"pair \(t, d\)"):
        family_point(8, 8, 3)
    with pytest.raises(KeyError, match="no member"):
        point.row("c3d")


def test_the_explorer_shows_messages_never_tracebacks() -> None:
    explorer = FamilyExplorer(False)
    assert "latency" in explorer.summary.value and explorer.plot.value[:4] == b"\x89PNG"
    explorer.controls["out_channels"].value = 24
    explorer.controls["t"].value = 1
    assert not explorer.stale and explorer.message.value == ""   # others still shown
    assert explorer.notes.value.count("Not possible") == 3
    assert "TSM" in explorer.notes.value and "unavailable" in explorer.table.value
    explorer.controls["t"].value = 3
    explorer.controls["out_channels"].value = 64
    assert explorer.notes.value == ""


def write_benchmark(path, records, **extra):
    path.write_text(json.dumps({"environment": {"cpu": "Test CPU 9000"}, **extra,
                                "records": records}))
    return path


def test_latency_is_macs_over_the_measured_throughput(tmp_path) -> None:
    records = [{"layer": layer, "in_channels": 64, "out_channels": 64, "kernel_size": [3, 3, 3],
                "input_shape": [1, 64, 8, 56, 56], "threads": threads, "median_ms": ms,
                "params": 0, "macs": macs}
               for layer, threads, ms, macs in [("p3d_a", 2, 10.0, 1_233_125_376),
                                                ("P3D-A", 1, 30.0, 1_233_125_376),
                                                ("ir-CSN", 2, 4.0, 43_352_064),
                                                ("ir_csn", 2, 1.0, 5_000_000)]]
    path = write_benchmark(tmp_path / "family.json", records)
    throughput = family_throughput(path, threads=2)
    assert throughput.threads == 2 and throughput.cpu == "Test CPU 9000"
    point = family_point(64, 64, (3, 3), (8, 56, 56), throughput=throughput)
    assert point.row("p3d_a").latency_ms == pytest.approx(10.0)
    # The measurement nearest in MACs sets the rate: 43 M MACs at 4 ms, not 5 M at 1 ms.
    assert point.row("ir_csn").latency_ms == pytest.approx(4.0)
    assert point.row("tsm").latency_ms is None                       # not measured
    assert "Test CPU 9000" in point.text
    one = family_throughput(path)                  # the fewest threads measured by default
    assert one.threads == 1
    assert family_point(64, 64, throughput=one).row("p3d_a").latency_ms == pytest.approx(30.0)
    with pytest.raises(ValueError, match="not 4"):
        family_throughput(path, threads=4)
    with pytest.raises(ValueError, match="lacks"):
        family_throughput(write_benchmark(tmp_path / "bad.json", [{"layer": "p3d_a"}]))
    explorer = FamilyExplorer(throughput)
    assert "Test CPU 9000" in explorer.summary.value


def test_the_committed_benchmark_gives_every_measured_member_an_estimate() -> None:
    throughput = family_throughput()
    if throughput is None:
        pytest.skip("benchmarks/family.json is not in this checkout")
    assert throughput.cpu and "does not name" not in throughput.cpu
    point = family_point(64, 64, (3, 3), (16, 56, 56), throughput=throughput)
    measured = {r.key for r in point.rows if r.latency_ms is not None}
    assert measured >= set(ISSUE_WEIGHTS)
    # At a measured configuration the estimate is the measurement itself.
    records = json.loads(FAMILY_BENCHMARK.read_text())["records"]
    ms = next(r["median_ms"] for r in records if r["layer"] == "p3d_a" and r["threads"] == 1
              and r["input_shape"] == [1, 64, 16, 56, 56])
    assert point.row("p3d_a").latency_ms == pytest.approx(ms)


def test_moving_every_control_leaves_the_random_stream_alone() -> None:
    explorer = FamilyExplorer(Throughput({"3d": ((10**9, 5.0),)}, "cpu", 2, "-"))
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    for name, control in explorer.controls.items():
        options = [o[1] if isinstance(o, tuple) else o for o in control.options]
        control.value = next(v for v in options if v != control.value)
        assert not explorer.stale, name
    assert torch.equal(torch.rand(2), expected)
