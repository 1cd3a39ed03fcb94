"""The 90-minute lab track in tutorial 00 names sections that exist and adds up to 90 minutes."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def track_rows() -> list[tuple[int, str, list[str]]]:
    notebook = nbformat.read(NOTEBOOKS / "00_start_here.ipynb", as_version=4)
    cell = next(c.source for c in notebook.cells if c.source.startswith("## A 90-minute lab track"))
    rows = []
    for line in cell.splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|\s*(\d\d)\b[^|]*\|([^|]*)\|", line)
        if match:
            rows.append((int(match[1]), match[2], re.findall(r"\*([^*]+)\*", match[3])))
    return rows


def headings(number: str) -> set[str]:
    path = next(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    return {line[3:].strip() for cell in notebook.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("## ")}


def test_the_track_takes_ninety_minutes() -> None:
    rows = track_rows()
    assert len(rows) >= 6
    assert sum(minutes for minutes, _, _ in rows) == 90


def test_every_core_section_of_the_track_is_a_heading_of_its_tutorial() -> None:
    for _, number, sections in track_rows():
        assert sections, f"tutorial {number} lists no core section"
        missing = set(sections) - headings(number)
        assert not missing, f"tutorial {number} has no section {sorted(missing)}"


def test_the_size_report_counts_each_core_inside_its_tutorial() -> None:
    import importlib.util
    import sys

    script = NOTEBOOKS.parent / "scripts" / "lab_size.py"
    spec = importlib.util.spec_from_file_location("lab_size", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    found = {s.tutorial: s for s in module.sizes()}
    for minutes, number, _ in track_rows():
        size = found[number]
        assert size.track_minutes == minutes
        assert 0 < size.core_words <= size.words and size.core_code_lines <= size.code_lines
    assert "| all |" in module.table(list(found.values()))
