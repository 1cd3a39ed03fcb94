"""Every number in a tutorial's prose, and what keeps it true.

A sentence such as "the paper's M keeps 91.15 % of the energy" is true of one output.
When a re-run changes the output and nobody changes the sentence, the tutorial
contradicts itself. `tests/test_prose.py` therefore classifies every number in every
markdown cell and fails on any it cannot account for. The kinds, in the order tried:

``listed``
    on the notebook's small allow-list, each entry with its reason (a paper's own
    published numbers, a number quoted from the question that started the package).
``claim``
    a result checked by a `Claim`: the claim computes, from committed files
    (``experiments/*/results.json``, ``benchmarks/...``) or from the library, the
    text the prose must say. A claim that disagrees is ``contradicted``.
``shape``
    a size the reader is given: 3×3×3, 1×d×d, 64 → 64, (1, 3, 16, 112, 112), t = d = 3,
    512 channels, 16 frames.
``count``
    a small whole number with no unit (8 frames, 3 seeds, stage 2): the setup, not a
    result. Not "N of M", which counts a result, and not the end of a range with a
    unit ("1.7–2.8×", a min and a max): those need a claim. Not the right side of an
    "=" either ("M = 42"): arithmetic must be printed, asserted or claimed.
``output``
    printed by a strictly compared output (nbval checks it on every run): in the same
    section or the one before, rounded as the prose rounds it; anywhere in the
    notebook if it is the same number in the same unit.
``code``
    a value the notebook's own code sets or asserts (``epochs=8``, ``> 50``).

Before numbers are read, names and pointers are masked: R(2+1)D-18, Kinetics-400,
layer2, "tutorial 06", "Sec. 3.5", "Fig. 3", years in citations, "Further reading".
What is left is ``unbound``; a number that only a machine-dependent output prints
(``# NBVAL_IGNORE_OUTPUT``: a timing, a load) is ``machine``. Both fail, as does a
``stale`` claim whose sentence is gone. Sentences rendered by `r21d_edu.prose.say`
are outputs, not prose: nbval compares them on every run.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from _notebooks import compared_texts, is_strict, sanitizers

# ---------------------------------------------------------------------------
# Reading numbers
# ---------------------------------------------------------------------------

# 1,536 / 91.15 / −18 / 1e-12; never part of a word (R3D, layer4, fp32, 2D).
NUMBER = re.compile(r"(?<![\w.,])[−-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")

MASKS = [
    re.compile(r"(?:^|\n)#+ Further reading.*", re.S),   # citations, to the end of the cell
    re.compile(r"```.*?```", re.S),                      # fenced code
    re.compile(r"`[^`\n]*`"),                             # inline code
    re.compile(r"\$\$.*?\$\$", re.S), re.compile(r"\$[^$\n]+\$"),  # maths
    re.compile(r"\]\([^)]*\)"),                           # link targets
    re.compile(r"<!--.*?-->", re.S), re.compile(r"<[^>\n]+>"),     # HTML
    re.compile(r"^\s*(?:\d+\.|#+)\s", re.M),              # list numbers, heading marks
    re.compile(r"^\[Index\].*$", re.M),                   # navigation
    re.compile(r"\|\s*\d\d\s*\|\s*\["),                  # the index table's tutorial numbers
    re.compile(r"\b95 % (?:interval|CI|confidence)"),       # a confidence level, chosen
    # Names: R(2+1)D-18, (2+1)D, Kinetics-400, top-1, layer2–4.0, conv5_x, 16-frame.
    re.compile(r"\(2\+1\)D(?:-\d+)?|\b[A-Za-z][\w()+]*-\d+\b|\b(?:layer|conv|stage)\d[\d–.]*"
               r"|\b\d+-(?:frame|channel|core|bit|pixel|layer|block|thread|epoch|seed|process)s?\b"),
    # Pointers: tutorials, exercises, sections, figures, tables, arXiv ids, venues, years.
    re.compile(r"\b(?:[Tt]utorials?|[Nn]otebooks?|Exercises?|Secs?\.|Sections?|Figs?\.|Table|"
               r"Eq\.|arXiv:?|CVPR|ICCV|NeurIPS|ECCV|JOSA A)\s*\d+(?:\.\d+)?"
               r"(?:\s*(?:,|–|-|and|or)\s*\d+(?:\.\d+)?)*"),
    re.compile(r"(?:et al\.|[A-Z][a-z]+),? \(?(?:19|20)\d\d\b"),
]

# A given size: 3×3×3, 1×d×d, 16×112×112, 64 → 64 channels, (1, 3, 16, 112, 112), t = d = 3.
SHAPES = [
    re.compile(r"\d[\d,]*(?:\s*[×x]\s*(?:\d[\d,]*|[a-zA-Z]\b))+|[a-zA-Z](?:\s*[×x]\s*\d+)+"),
    re.compile(r"\d[\d,]*(?:\s*→\s*\d[\d,]*)+"),
    re.compile(r"\(\d+(?:,\s*\d+)+\)"),
    re.compile(r"\b\d[\d,]* (?:input |output |RGB )?(?:channels|frames|pixels|px)\b"),
    re.compile(r"\b(?:[tdTHWN]|N_in|N_out|C_in|C_out|C)(?:\s*=\s*[a-zA-Z_]+)*\s*=\s*\d+\b"),
]

# Units after a number that make it a result; aliases map to one unit.
RESULT_UNIT = re.compile(r"\s*(%|×|x\b|points?\b|ms\b|µs\b|s\b|min\b|minutes?\b|MiB\b|GiB\b|"
                         r"GB\b|MB\b|TB/s\b|TFLOP/s\b|FLOP/byte\b|GMACs?\b|GFLOPs?\b|G\b|M\b|k\b)")
ALIASES = {"x": "×", "point": "points", "GMAC": "G", "GMACs": "G", "GFLOP": "G", "GFLOPs": "G",
           "minute": "min", "minutes": "min"}
SCALES = {"M": 1e6, "G": 1e9, "k": 1e3}
RANGE_END = re.compile(r"\s*[–-]\s*[−-]?\d[\d.,]*")
RANGE = re.compile(r"\d\s*[–-]\s*$")
N_OF_M = re.compile(r"\s*(?:out )?of (?:the |its |all )?\d+(?![\w-])")
EQUALS = re.compile(r"=\s*$")
APPROXIMATE = re.compile(r"(?:about|around|nearly|almost|roughly|some|~|≈)\s*$")


@dataclass(frozen=True)
class Number:
    """One number as printed: its text, value, decimals and the unit after it."""

    text: str
    value: float
    decimals: int
    unit: str = ""

    @classmethod
    def parse(cls, text: str, after: str = "") -> Number:
        clean = text.replace(",", "").replace("−", "-")
        decimals = len(clean.split(".")[1].split("e")[0]) if "." in clean else 0
        to = RANGE_END.match(after)  # 25–30 %: the start of a range has the unit of its end
        unit = RESULT_UNIT.match(after[to.end():] if to else after)
        unit_text = unit.group(1) if unit else ""
        return cls(text, float(clean), decimals, ALIASES.get(unit_text, unit_text))

    def asserted(self, flag: bool) -> Number:
        return Number(self.text, self.value, self.decimals, "asserted" if flag else "")

    @property
    def is_count(self) -> bool:
        """A small whole number with no unit: a count or a size of the setup."""
        return (self.decimals == 0 and "e" not in self.text and abs(self.value) < 100
                and not self.unit)

    @property
    def significant(self) -> int:
        return len(self.text.replace(",", "").replace(".", "").lstrip("−-0").split("e")[0])

    def says(self, other: Number, approximate: bool = False, *, same_unit: bool = False) -> bool:
        """Whether `other`, a printed output, says this number, in its unit, at its precision.

        The units must agree (a percentage is a percentage, or a fraction of 1, or a
        table's decimal; "33.4 M" is a count in the millions), the output must be at
        least as precise, and a whole number in prose must be the output's own whole
        number unless the prose says it is approximate ("about 22 %").
        """
        if (self.value < 0) != (other.value < 0) and self.value and other.value:
            return False
        candidates = []
        if self.unit == other.unit or (not self.unit and not same_unit):
            candidates.append((other.value, other.decimals))  # prose may leave the unit out
        elif not same_unit and not other.unit and other.decimals and (
                self.unit in ("×", "points") or (self.unit == "%" and self.decimals)):
            candidates.append((other.value, other.decimals))  # a table column of ratios or %
        if not same_unit and self.unit == "%" and not other.unit and abs(other.value) <= 1:
            percent = other.value * 100
            exact = abs(percent - round(percent)) < 1e-9
            candidates.append((percent, max(other.decimals - 2, 0) if exact else other.decimals - 2))
        if not same_unit and self.unit in SCALES and not other.unit and (
                abs(other.value) >= SCALES[self.unit]):
            digits = len(str(int(SCALES[self.unit]))) - 1
            candidates.append((other.value / SCALES[self.unit], other.decimals + digits))
        for value, decimals in candidates:
            if self.decimals == 0 and not approximate and abs(value - round(value)) > 1e-9:
                continue  # "22" is not 21.6 unless the prose says "about 22"
            if decimals >= self.decimals and (
                    f"{abs(value):.{self.decimals}f}" == f"{abs(self.value):.{self.decimals}f}"):
                return True
        return False


def blank(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    """`text` with every match of `patterns` replaced by spaces (offsets are kept)."""
    for pattern in patterns:
        text = pattern.sub(lambda m: re.sub(r"\S", " ", m.group()), text)
    return text


def numbers_in(text: str) -> list[Number]:
    return [Number.parse(m.group(), text[m.end():m.end() + 24]) for m in NUMBER.finditer(text)]


def output_numbers(output: str) -> list[Number]:
    """The numbers of an output's text, without tags and sizes (3×3×3 is no result of 3)."""
    return numbers_in(blank(re.sub(r"<[^>]+>", " ", output), SHAPES[:1]))


def code_literals(source: str) -> list[Number]:
    """Numeric literals of a code cell: the inputs it sets and the values it asserts.

    A literal inside a comparison or an ``assert`` (``> 0.95``, ``== 110_592``) is
    returned with the unit ``"asserted"``: only those can bind a percentage or a ratio
    in prose, which an input such as ``range(10)`` would bind by chance.
    """
    code = "\n".join(line for line in source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    checked = {id(n) for node in ast.walk(tree) if isinstance(node, (ast.Compare, ast.Assert))
               for n in ast.walk(node)}
    return [Number.parse((ast.get_source_segment(code, node) or repr(node.value)).replace("_", ""))
            .asserted(id(node) in checked)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and type(node.value) in (int, float)]


# ---------------------------------------------------------------------------
# What a notebook says
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A sentence of a notebook whose numbers are computed, not typed.

    ``pattern`` is a regex that must match the prose of every notebook in
    ``notebooks``; each group is a number, and ``expected(root)`` returns the text
    each group must have, computed from files under the repository root or from the
    library.
    """

    notebooks: tuple[str, ...]
    pattern: str
    expected: Callable[[Path], Sequence[str]]
    why: str


@dataclass(frozen=True)
class Listed:
    """A number the allow-list accepts: where it appears (a regex) and why it needs no binding."""

    notebook: str
    pattern: str
    why: str


@dataclass(frozen=True)
class Found:
    """One number of a markdown cell and how it was classified."""

    notebook: str
    cell: int
    number: Number
    kind: str
    context: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return (f"{self.notebook} markdown cell {self.cell}: {self.number.text!r} is "
                f"{self.kind}{detail}\n    … {self.context} …")


FAILING = {"unbound", "machine", "contradicted", "stale"}
OVERVIEWS = ("What you'll learn", "Summary", "Exercises", "Try it")


@dataclass
class NotebookText:
    """A notebook's markdown, and the numbers each code cell prints and sets.

    ``sections`` numbers the ``#``/``##`` headings in order; a cell (or a place in a
    markdown cell) belongs to the last heading before it.
    """

    name: str
    markdown: dict[int, str]
    headings: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    section_of: dict[int, int] = field(default_factory=dict)
    section_names: list[str] = field(default_factory=list)
    strict: dict[int, list[Number]] = field(default_factory=dict)
    machine: dict[int, list[Number]] = field(default_factory=dict)
    code: dict[int, list[Number]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, patterns: list[tuple[str, str]] | None = None) -> NotebookText:
        patterns = sanitizers() if patterns is None else patterns
        notebook = nbformat.read(path, as_version=4)
        text = cls(path.stem, {i: c.source for i, c in enumerate(notebook.cells)
                               if c.cell_type == "markdown"}, section_names=["(top)"])
        for index, cell in enumerate(notebook.cells):
            text.section_of[index] = len(text.section_names) - 1
            if cell.cell_type == "markdown":
                text.headings[index] = []
                for match in re.finditer(r"^##? (.+)$", cell.source, flags=re.M):
                    text.section_names.append(match.group(1).strip())
                    text.headings[index].append((match.start(), match.group(1).strip()))
                continue
            text.code[index] = code_literals(cell.source)
            target = text.strict if is_strict(cell) else text.machine
            target[index] = [n for _, output in compared_texts(cell, patterns)
                             for n in output_numbers(output)]
        return text

    def section_at(self, index: int, position: int) -> int:
        before = [h for h in self.headings.get(index, []) if h[0] <= position]
        return self.section_of[index] + len(before)

    def near(self, kind: str, section: int) -> list[Number]:
        """The numbers of one kind (strict, machine, code) in this section or the one before.

        The sections that look back or ahead over the whole tutorial (what you'll learn, the
        summary, the exercises) and the solutions notebook see every cell.
        """
        everywhere = (self.section_names[section].startswith(OVERVIEWS)
                      or not self.name[:2].isdigit())
        return [n for i, found in getattr(self, kind).items()
                if everywhere or section - 1 <= self.section_of[i] <= section for n in found]

    def everywhere(self, kind: str) -> list[Number]:
        return [n for found in getattr(self, kind).values() for n in found]


def classify(text: NotebookText, claims: Iterable[Claim] = (), listed: Iterable[Listed] = (),
             root: Path | None = None) -> list[Found]:
    """Every number of every markdown cell of one notebook, with its kind."""
    found: list[Found] = []
    taken: dict[int, list[tuple[int, int]]] = {}
    for claim in (c for c in claims if text.name in c.notebooks):
        hits = [(i, m) for i, source in text.markdown.items()
                for m in re.finditer(claim.pattern, source)]
        if not hits:
            found.append(Found(text.name, -1, Number(claim.pattern, 0, 0), "stale",
                               claim.pattern, "the claim's sentence is no longer in the prose"))
            continue
        expected = list(claim.expected(root or Path(".")))
        for index, match in hits:
            for group, want in zip(range(1, len(match.groups()) + 1), expected):
                got, (start, end) = match.group(group), match.span(group)
                taken.setdefault(index, []).append((start, end))
                ok = got == want
                found.append(Found(text.name, index, Number.parse(got), "claim" if ok else
                                   "contradicted", _context(text.markdown[index], start),
                                   claim.why if ok else f"the claim computes {want!r}"))
    for index, source in text.markdown.items():
        masked = blank(source, MASKS)
        allowed = [(m.start(), m.end(), item.why) for item in listed
                   if item.notebook == text.name for m in re.finditer(item.pattern, source)]
        shapes = [m.span() for pattern in SHAPES for m in pattern.finditer(masked)]
        for match in NUMBER.finditer(masked):
            start, end = match.span()
            if any(a <= start < b for a, b in taken.get(index, [])):
                continue
            number = Number.parse(match.group(), masked[end:end + 24])
            kind, detail = _kind(text, index, number, start, end, masked, shapes, allowed)
            found.append(Found(text.name, index, number, kind, _context(source, start), detail))
    return found


def _kind(text: NotebookText, index: int, number: Number, start: int, end: int, masked: str,
          shapes: list[tuple[int, int]], allowed: list[tuple[int, int, str]]) -> tuple[str, str]:
    for a, b, why in allowed:
        if a <= start and end <= b:
            return "listed", why
    if any(a <= start and end <= b for a, b in shapes):
        return "shape", ""
    counted = number.is_count and bool(N_OF_M.match(masked[end:end + 16]))
    ranged = bool(number.unit) and bool(RANGE.search(masked[max(0, start - 8):start])
                                         or RANGE_END.match(masked[end:]))
    computed = abs(number.value) > 1 and bool(  # "M = 42" is arithmetic; "M = 0" a condition
        EQUALS.search(masked[max(0, start - 4):start]))
    if number.is_count and not counted and not computed:
        return "count", ""
    if (counted or ranged) and not computed:
        return "unbound", ("a count of results (N of M) or the end of a range is computed: "
                           "bind it with a Claim, or render the sentence")
    section = text.section_at(index, start)
    approximate = bool(APPROXIMATE.search(masked[max(0, start - 12):start]))
    if any(number.says(o, approximate) for o in text.near("strict", section)):
        return "output", ""
    if number.significant >= 2 and any(number.says(o, approximate, same_unit=True)
                                       for o in text.everywhere("strict")):
        return "output", ""
    for literal in text.near("code", section):
        same = literal.value == number.value and literal.decimals == number.decimals
        as_input = Number(literal.text, literal.value, literal.decimals)
        if (same and (literal.unit == "asserted" or not number.unit)) or (
                number.unit == "%" and as_input.value <= 1 and number.says(as_input)):
            return "code", ""
    if any(number.says(o, approximate) for o in text.everywhere("machine")):
        return "machine", ("only a machine-dependent output (a timing, a load) prints it: "
                           "say it without the number, or render it in that cell")
    return "unbound", ("no strict output, code value, claim or allow-list entry gives it: "
                       "render the sentence (r21d_edu.prose.say), bind it with a Claim, or "
                       "list it with its reason")


def _context(source: str, start: int) -> str:
    return " ".join(source[max(0, start - 50):start + 30].split())
