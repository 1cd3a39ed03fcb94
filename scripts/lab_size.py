"""How long each tutorial is, in all and on the 90-minute lab track's core path.

The core sections of each tutorial are the ones tutorial 00's "A 90-minute lab track" table
names; a section runs from its ``## `` heading to the next one (its ``###`` parts included).
Words are counted in markdown cells (split on whitespace), code in non-blank lines of code
cells. At about 200 words a minute of reading, the words say whether the minutes of the
track are realistic::

    python scripts/lab_size.py            # a Markdown table
    python scripts/lab_size.py --json     # the same numbers for a script
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
READING_WORDS_PER_MINUTE = 200


@dataclass(frozen=True)
class Size:
    tutorial: str
    words: int
    code_lines: int
    core_words: int
    core_code_lines: int
    track_minutes: int


def track() -> dict[str, tuple[int, list[str]]]:
    """Tutorial number -> (minutes, core section titles), from tutorial 00's table."""
    notebook = nbformat.read(NOTEBOOKS / "00_start_here.ipynb", as_version=4)
    cell = next(c.source for c in notebook.cells if c.source.startswith("## A 90-minute lab track"))
    rows = {}
    for line in cell.splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|\s*(\d\d)\b[^|]*\|([^|]*)\|", line)
        if match:
            rows[match[2]] = (int(match[1]), re.findall(r"\*([^*]+)\*", match[3]))
    return rows


def measure(path: Path, core: list[str], minutes: int) -> Size:
    notebook = nbformat.read(path, as_version=4)
    section = ""
    totals = {"words": 0, "code_lines": 0, "core_words": 0, "core_code_lines": 0}
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    section = line[3:].strip()
        in_core = section in core
        if cell.cell_type == "markdown":
            count, key = len(cell.source.split()), "words"
        elif cell.cell_type == "code":
            count = sum(1 for line in cell.source.splitlines() if line.strip())
            key = "code_lines"
        else:
            continue
        totals[key] += count
        if in_core:
            totals["core_" + key] += count
    return Size(path.name[:2], track_minutes=minutes, **totals)


def sizes() -> list[Size]:
    rows = track()
    return [measure(path, *reversed(rows.get(path.name[:2], (0, []))))
            for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]


def table(found: list[Size]) -> str:
    lines = ["| tutorial | words | code lines | core words | core code lines | track minutes |",
             "|---|---:|---:|---:|---:|---:|"]
    for s in found:
        lines.append(f"| {s.tutorial} | {s.words:,} | {s.code_lines:,} | {s.core_words:,} | "
                     f"{s.core_code_lines:,} | {s.track_minutes} |")
    total = {k: sum(getattr(s, k) for s in found) for k in
             ("words", "code_lines", "core_words", "core_code_lines", "track_minutes")}
    lines.append(f"| all | {total['words']:,} | {total['code_lines']:,} | "
                 f"{total['core_words']:,} | {total['core_code_lines']:,} | "
                 f"{total['track_minutes']} |")
    lines.append("")
    lines.append(f"Reading the core at {READING_WORDS_PER_MINUTE} words a minute takes about "
                 f"{total['core_words'] / READING_WORDS_PER_MINUTE:.0f} of the track's "
                 f"{total['track_minutes']} minutes; the whole series about "
                 f"{total['words'] / READING_WORDS_PER_MINUTE:.0f} minutes.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    found = sizes()
    print(json.dumps([asdict(s) for s in found], indent=1) if args.json else table(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
