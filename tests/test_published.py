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
