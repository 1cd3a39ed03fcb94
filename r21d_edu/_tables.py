"""The one HTML table renderer of the package's rich displays.

Results that a learner reads in Jupyter (counts, timings, tuning curves, layer
tables, predictions, the explorers' summaries) show their numbers as small HTML
tables; they all render them here, so every table escapes its text the same way
and looks the same.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["TABLE_STYLE", "Cell", "html_table"]

# Numbers right-aligned in tabular figures; a totals row set off by a rule.
TABLE_STYLE = (
    "<style>.r21d-table td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".r21d-table tr.total td{border-top:1px solid #888;font-weight:bold}</style>"
)


@dataclass(frozen=True)
class Cell:
    """A cell that needs more than escaped text.

    Fields: ``content`` (text, escaped unless ``raw``), ``raw`` (insert ``content``
    as HTML: a ``<code>`` name, a probability bar), ``num`` (a number: right-aligned),
    ``colspan`` and ``rowspan``.
    """

    content: object = ""
    raw: bool = False
    num: bool = False
    colspan: int = 1
    rowspan: int = 1

    def render(self, tag: str) -> str:
        attributes = (" class='num'" if self.num else "") + "".join(
            f" {name}='{n}'" for name, n in (("colspan", self.colspan), ("rowspan", self.rowspan))
            if n != 1)
        text = str(self.content) if self.raw else html.escape(str(self.content))
        return f"<{tag}{attributes}>{text}</{tag}>"


def _cell(cell: object, tag: str) -> str:
    if isinstance(cell, Cell):
        return cell.render(tag)
    return f"<{tag}>{html.escape(str(cell))}</{tag}>"


def _row(cells: Iterable[object], tag: str, css: str = "") -> str:
    return f"<tr{css}>" + "".join(_cell(c, tag) for c in cells) + "</tr>"


def html_table(rows: Iterable[Sequence[object]], header: Sequence[object] | None = None, *,
               sections: bool = False, caption: str | None = None,
               total: Sequence[object] | None = None,
               header_rows: Sequence[Sequence[object]] = ()) -> str:
    """An HTML ``<table>`` of ``rows`` (each cell escaped as text) under an optional header.

    Args:
        rows: the body rows; each cell is shown as ``str(cell)``, or as a `Cell` says.
        header: the column titles, or None for a table without a header row.
        sections: wrap the header in ``<thead>`` and the rows in ``<tbody>``.
        caption: a caption (escaped), or None.
        total: a last row of totals (``class='total'``), or None. A table with
            totals or numeric cells is styled by `TABLE_STYLE` (class ``r21d-table``).
        header_rows: header rows after ``header`` (for titles that span columns).

    >>> html_table([["a < b", 1]], ["what", "n"], sections=True)
    '<table><thead><tr><th>what</th><th>n</th></tr></thead><tbody><tr><td>a &lt; b</td><td>1</td></tr></tbody></table>'
    """
    heads = ([header] if header else []) + list(header_rows)
    rows = [list(row) for row in rows]
    head = "".join(_row(h, "th") for h in heads)
    body = "".join(_row(row, "td") for row in rows)
    if total is not None:
        body += _row(total, "td", " class='total'")
    styled = total is not None or any(isinstance(c, Cell) and c.num for row in rows for c in row)
    opening = f"{TABLE_STYLE}<table class='r21d-table'>" if styled else "<table>"
    if caption is not None:
        opening += f"<caption>{html.escape(caption)}</caption>"
    if sections:
        return f"{opening}<thead>{head or '<tr></tr>'}</thead><tbody>{body}</tbody></table>"
    return f"{opening}{head}{body}</table>"
