"""Write notebooks/solutions.ipynb from the exercise registry: one source of truth.

Every registered exercise gets its question, the solution `Exercise.solution()` shows
and the self-check that the learner runs, grouped by tutorial. Run it after adding or
changing an exercise, then execute the notebook so its outputs are committed::

    python scripts/make_solutions.py            # rewrite the cells (outputs are dropped)
    python scripts/execute_notebooks.py notebooks/solutions.ipynb
    python scripts/make_solutions.py --check    # exit 1 if the notebook's cells are stale

`--check` compares cell sources only, so it passes on an executed notebook.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from r21d_edu.exercises import Exercise, all_exercises

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TARGET = NOTEBOOKS / "solutions.ipynb"
#: Cells whose output depends on the machine (a timing) are not compared by nbval.
IGNORE = "# NBVAL_IGNORE_OUTPUT\n"

INTRO = """# Solutions to the exercises

[Index](00_start_here.ipynb)

Every exercise of the tutorials, with a solution and its self-check. Try each one first in its
tutorial: `exercise("NN.k").check(answer)` checks your answer, `.hint()` nudges, and
`.solution()` shows the code below. Each solution binds `answer`; the cell after it hands that
answer to the same check you use (the tests run all of them). A coding exercise's solution is
its skeleton (`.skeleton()`) with the part you write filled in. Timing exercises depend on your
machine, so their checks record the measurement and compare it with your prediction.

This notebook is written by `scripts/make_solutions.py` from the exercises' registry."""

SETUP = """%matplotlib inline
import torch

from r21d_edu.exercises import exercise

torch.manual_seed(0)"""

OUTRO = """## Add your own

Later tutorials register their exercises with `r21d_edu.exercises.register` (see the
module's docstring); `all_exercises()` lists every registered one.

[Index](00_start_here.ipynb)"""


def tutorial_heading(number: str) -> str:
    """'## Tutorial 01: [title](file)' from the tutorial's own first heading."""
    path = next(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    title = next(line[2:].strip() for cell in notebook.cells if cell.cell_type == "markdown"
                 for line in cell.source.splitlines() if line.startswith("# "))
    return f"## Tutorial {number}: [{title}]({path.name})"


def exercise_cells(item: Exercise) -> list[nbformat.NotebookNode]:
    prefix = IGNORE if item.measured else ""
    question = f"**Exercise {item.key}.** {item.prompt}\n\n*Hand in:* {item.hand_in}"
    return [nbformat.v4.new_markdown_cell(question),
            nbformat.v4.new_code_cell(prefix + item.solution_code),
            nbformat.v4.new_code_cell(prefix + f'exercise("{item.key}").check(answer)')]


def build() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_markdown_cell(INTRO), nbformat.v4.new_code_cell(SETUP)]
    tutorials = sorted({item.tutorial for item in all_exercises()})
    for number in tutorials:
        cells.append(nbformat.v4.new_markdown_cell(tutorial_heading(number)))
        for item in all_exercises(number):
            cells.extend(exercise_cells(item))
    cells.append(nbformat.v4.new_markdown_cell(OUTRO))
    notebook.cells = cells
    notebook.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}}
    return notebook


def sources(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if notebooks/solutions.ipynb differs from the registry")
    args = parser.parse_args(argv)
    fresh = build()
    if args.check:
        committed = nbformat.read(TARGET, as_version=4)
        if sources(committed) != sources(fresh):
            print(f"{TARGET.relative_to(ROOT)} is stale: run python scripts/make_solutions.py "
                  "and execute it", file=sys.stderr)
            return 1
        print(f"{TARGET.relative_to(ROOT)} matches the registry "
              f"({len(all_exercises())} exercises)")
        return 0
    nbformat.write(fresh, TARGET)
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(all_exercises())} exercises; now execute it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
