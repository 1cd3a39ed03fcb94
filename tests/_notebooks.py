"""What nbval compares in a committed notebook, and which printed values are rounding noise.

nbval's strict mode re-runs every notebook and compares each code cell's committed
outputs with the new ones as text: a cell passes only if every character comes back.
A value printed below its own rounding error — ``largest difference 8.9e-16`` after
an ``assert gap < 1e-12`` — then fails on the next CPU whose SIMD width sums in
another order, although the assertion holds there too. This module finds such
values before they are committed; `tests/test_notebook_outputs.py` runs it on every
notebook, and ``python tests/_notebooks.py notebooks/*.ipynb`` prints what it finds.

Which cells count and how their outputs are cleaned follow nbval itself: its own
comment markers and tags (``# NBVAL_IGNORE_OUTPUT``, ``# NBVAL_SKIP``) and the
project's ``notebooks/sanitize.cfg``.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbval.plugin import find_comment_markers, find_metadata_tags, get_sanitize_patterns

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
SANITIZE = NOTEBOOK_DIR / "sanitize.cfg"

# Output keys nbval never compares (its IPyNbFile.skip_compare): pictures and widget ids.
NOT_COMPARED = {"image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}

# Rounding noise as text: a mantissa times 1e-9 or smaller, or 13+ decimals (a float's repr).
NOISE = re.compile(r"(?<![\w.])\d\.\d+e-(?:09|1\d|[2-9]\d)(?![\w])|(?<![\w.])\d+\.\d{13,}(?!\d)")
SCIENTIFIC = re.compile(r"(?<![\w.])(\d(?:\.\d+)?)e(-\d+)(?![\w])")
DECIMAL = re.compile(r"(?<![\w.])(\d+)\.(\d+)(?![\w.])")
# A tolerance the cell's own code states: `< 1e-12`, `<= 1e-6`, `atol=1e-5`, `rtol=1e-4`.
TOLERANCE = re.compile(r"(?:<=?|\b[ar]tol\s*=)\s*(\d(?:\.\d+)?e-\d+)")


def notebooks() -> list[Path]:
    """The tutorials 00-09 and the solutions, in order."""
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")) + [NOTEBOOK_DIR / "solutions.ipynb"]


def sanitizers(path: Path = SANITIZE) -> list[tuple[str, str]]:
    """The (regex, replacement) pairs nbval applies before it compares."""
    return get_sanitize_patterns(path.read_text()) if path.exists() else []


def is_strict(cell: nbformat.NotebookNode) -> bool:
    """Whether nbval's strict mode compares this code cell's outputs with the committed ones."""
    if cell.cell_type != "code":
        return False
    options = dict(find_comment_markers(cell.source))
    options.update(find_metadata_tags(cell.metadata))
    return options.get("check", True) and not options.get("skip", False)


def compared_texts(cell: nbformat.NotebookNode,
                   patterns: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(key, sanitized text) of every output nbval compares: streams and text mime types."""
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            items = [(output.name, output.text)]
        elif output.output_type in ("execute_result", "display_data"):
            items = [(key, value) for key, value in output.data.items()
                     if key not in NOT_COMPARED and isinstance(value, str)]
        else:  # an error: nbval compares it only in NBVAL_RAISES_EXCEPTION cells
            items = [("error", f"{output.get('ename', '')}: {output.get('evalue', '')}")]
        for key, text in items:
            for regex, replacement in patterns:
                text = re.sub(regex, replacement, text)
            yield key, html.unescape(text) if key == "text/html" else text


def tolerances(source: str) -> list[float]:
    """The tolerances the cell's code asserts against, as floats."""
    return [float(t) for t in TOLERANCE.findall(source)]


@dataclass(frozen=True)
class Noise:
    """One printed value that is rounding noise, with where it is and why it counts."""

    notebook: str
    cell: int
    key: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell} ({self.key}): {self.value!r} {self.reason}"


def noise_in_cell(cell: nbformat.NotebookNode, patterns: list[tuple[str, str]],
                  notebook: str = "", index: int = 0) -> list[Noise]:
    """The noisy values a strict cell prints (an empty list for a cell nbval does not compare).

    Three rules: the text pattern of rounding noise (a value below 1e-9 in scientific
    notation, or 13+ decimals, or 10+ significant digits); a value in scientific
    notation smaller than a tolerance the cell's own code asserts — what lies under
    the bound is noise, whatever its size, so the cell should print the bound instead;
    and a decimal with digits finer than that tolerance.
    """
    if not is_strict(cell):
        return []
    found = []
    bound = max(tolerances(cell.source), default=None)

    def add(key: str, value: str, reason: str) -> None:
        if not any(n.key == key and n.value == value for n in found):
            found.append(Noise(notebook, index, key, value, reason))

    for key, text in compared_texts(cell, patterns):
        for match in NOISE.finditer(text):
            add(key, match.group(), "is rounding noise: print the bound the cell asserts"
                if "e-" in match.group() else "has digits far below any rounding error: round it")
        for match in DECIMAL.finditer(text):
            whole, decimals = match.groups()
            if len((whole + decimals).lstrip("0")) >= 10:
                add(key, match.group(), "has 10+ significant digits, more than a float holds: round it")
            elif bound is not None and 10 ** -len(decimals) < bound / 10:
                add(key, match.group(), f"has digits below the cell's own tolerance {bound:g}: "
                                   "round to it")
        for match in SCIENTIFIC.finditer(text):
            if bound is not None and float(match.group()) < bound:
                add(key, match.group(), f"is below the cell's own tolerance {bound:g}: print that bound")
    return found


def noise_in_notebook(path: Path, patterns: list[tuple[str, str]] | None = None) -> list[Noise]:
    """Every noisy value in the strictly compared outputs of one notebook."""
    patterns = sanitizers() if patterns is None else patterns
    notebook = nbformat.read(path, as_version=4)
    found = []
    code_index = -1
    for cell in notebook.cells:
        if cell.cell_type == "code":
            code_index += 1  # nbval's "Cell N" counts code cells only
            found.extend(noise_in_cell(cell, patterns, path.name, code_index))
    return found


if __name__ == "__main__":
    hits = [n for arg in (sys.argv[1:] or map(str, notebooks()))
            for n in noise_in_notebook(Path(arg))]
    print("\n".join(map(str, hits)) or "no rounding noise in strictly compared outputs")
    sys.exit(1 if hits else 0)
