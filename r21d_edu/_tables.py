"""The one HTML table renderer of the package's rich displays.

Results that a learner reads in Jupyter (counts, timings, tuning curves, the
explorers' summaries) show their numbers as small HTML tables; they all render
them here, so every table escapes its text the same way and looks the same.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["html_table"]


def html_table(rows: Iterable[Sequence[object]], header: Sequence[object] | None = None, *,
               sections: bool = False) -> str:
    """An HTML ``<table>`` of ``rows`` (each cell escaped as text) under an optional header.

    Args:
        rows: the body rows; each cell is shown as ``str(cell)``.
        header: the column titles, or None for a table without a header row.
        sections: wrap the header in ``<thead>`` and the rows in ``<tbody>``.

    >>> html_table([["a < b", 1]], ["what", "n"], sections=True)
    '<table><thead><tr><th>what</th><th>n</th></tr></thead><tbody><tr><td>a &lt; b</td><td>1</td></tr></tbody></table>'
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header or ())
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    if sections:
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return "<table>" + (f"<tr>{head}</tr>" if header else "") + body + "</table>"
