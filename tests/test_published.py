"""The published Kinetics-400 table: its worked examples hold and bad settings are told why."""

import doctest

import pytest

from r21d_edu import published


def test_the_docstring_examples_hold() -> None:
    result = doctest.testmod(published)
    assert result.attempted >= 2 and result.failed == 0


@pytest.mark.parametrize("metric, frames, message", [
    ("top5", 16, "metric must be one of 'clip', 'video'"),
    ("clip", 8, "only video accuracy at 8 frames"),
    ("video", 32, "8 or 16 frames"),
])
def test_a_setting_the_source_does_not_report_is_refused(metric, frames, message) -> None:
    with pytest.raises(ValueError, match=message):
        published.published_gain(metric, frames)


def test_every_factorization_family_has_a_sourced_row() -> None:
    families = {row.family for row in published.KINETICS_FACTORIZED}
    assert {"r2plus1d", "p3d-a", "s3d", "s3d-g", "ip-csn", "ir-csn", "dw-2plus1d",
            "tsm"} <= families
    for row in published.KINETICS_FACTORIZED:
        assert 0 < row.top1 < 100 and row.source and row.pretraining and row.frames
    # The one number not re-read in its source says so.
    assert [r.network for r in published.KINETICS_FACTORIZED if not r.verified] == [
        "S3D-G (Inception)"]


def test_the_18_layer_r2plus1d_row_is_the_family_table_s_video_accuracy() -> None:
    (row, _) = published.published_for("r2plus1d")
    assert row.top1 == published.KINETICS_16_FRAMES["r2plus1d"].video


def test_an_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="family must be one of"):
        published.published_for("csn")
