"""Sentences rendered from the numbers they state, so that prose cannot drift from results.

A sentence typed into a tutorial ("the naive layer takes 1.43× the time of the
(2+1)D layer") is true of one set of results; when the results are re-run, the
sentence stays. Rendered in a code cell from the values, it changes with them, and
nbval's strict mode compares the rendered text on every run like any other output::

    from r21d_edu.prose import say, span

    say("The naive layer takes **{ratio:.2f}×** the time of the (2+1)D layer "
        "(range {range}).", ratio=1.43, range=span([1.08, 2.03], "{:.2f}×"))

In Jupyter the sentence displays as Markdown (bold, links, lists); everywhere else,
`print` and `repr` give the same text, which is also what nbval compares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from string import Formatter

__all__ = ["Sentence", "say", "span"]


@dataclass(frozen=True)
class Sentence:
    """Markdown text rendered from values; displays as Markdown, prints as the same text."""

    text: str

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return self.text


def say(template: str, /, **values: object) -> Sentence:
    """Render `template` (``str.format`` fields such as ``{accuracy:.1%}``) with `values`.

    Every field must be given and every value used, so a sentence cannot silently keep
    a number it no longer receives.

    >>> say("{share:.0%} of the weights", share=0.8)
    80% of the weights
    """
    used = {re.split(r"[.\[]", name)[0] for _, name, _, _ in Formatter().parse(template) if name}
    if used != set(values):
        missing, unused = sorted(used - set(values)), sorted(set(values) - used)
        raise ValueError(f"say() needs exactly the template's fields {sorted(used)}: "
                         f"missing {missing}, unused {unused}")
    return Sentence(template.format(**values))


def span(values: Iterable[float], spec: str = "{:g}", dash: str = "–") -> str:
    """The smallest and the largest of `values`, each formatted with `spec`: ``1.7–2.8×``.

    One value (or all equal after formatting) gives that value alone.

    >>> span([2.61, 1.73, 2.18], "{:.1f}")
    '1.7–2.6'
    """
    numbers = sorted(values)
    if not numbers:
        raise ValueError("span() needs at least one value")
    low, high = spec.format(numbers[0]), spec.format(numbers[-1])
    if low == high:
        return low
    # A unit after the number ("1.7×–2.8×", "28%–30%") reads better once, at the end.
    unit = re.search(r"[^\d]*$", low).group()
    if unit and high.endswith(unit):
        low = low[: len(low) - len(unit)]
    return f"{low}{dash}{high}"
