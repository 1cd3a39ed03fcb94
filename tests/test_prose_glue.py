"""r21d_edu.prose: sentences rendered from their values, compared by nbval as text."""

from __future__ import annotations

import pytest

from r21d_edu.prose import Sentence, say, span


def test_a_sentence_renders_its_values_and_shows_the_same_text_everywhere() -> None:
    sentence = say("R2D reaches **{accuracy:.1%}** in {seeds} seeds", accuracy=0.2207, seeds=3)
    assert isinstance(sentence, Sentence)
    assert str(sentence) == repr(sentence) == sentence._repr_markdown_() == (
        "R2D reaches **22.1%** in 3 seeds")


def test_a_field_without_a_value_or_a_value_without_a_field_is_refused() -> None:
    with pytest.raises(ValueError, match=r"missing \['seeds'\], unused \[\]"):
        say("{accuracy:.1%} in {seeds} seeds", accuracy=0.2)
    with pytest.raises(ValueError, match=r"missing \[\], unused \['old'\]"):
        say("{accuracy:.1%}", accuracy=0.2, old=0.89)
    assert str(say("{row[0]} and {point.x}", row=[1], point=type("P", (), {"x": 2})())) == "1 and 2"


def test_a_span_gives_the_smallest_and_largest_with_the_unit_once() -> None:
    assert span([2.61, 1.73, 2.18], "{:.1f}×") == "1.7–2.6×"
    assert span([0.281, 0.300], "{:.0%}") == "28–30%"
    assert span([3.0, 3.04], "{:.1f}") == "3.0"
    with pytest.raises(ValueError, match="at least one value"):
        span([])
