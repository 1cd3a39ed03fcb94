"""Write the nbgrader release of the exercises (docs/lab/) from the registry: one source of truth.

Instructors who grade use nbgrader; self-learners use ``exercise("NN.k").check(answer)``.
Both read the same `Exercise`: its prompt is the question, its registered solution (with
``### BEGIN SOLUTION`` / ``### END SOLUTION`` around what the learner writes) is the
autograded answer cell, and the autograder's test cell runs the very check a self-learner
runs, through `Exercise.grade_cell`. So an exercise changed in the registry changes here
by re-running this script, and ``--check`` (in the tests) fails while the tree is stale::

    python scripts/make_lab.py                  # rewrite docs/lab/source/labNN/labNN.ipynb
    python scripts/make_lab.py --check          # exit 1 if the committed tree is stale
    python scripts/make_lab.py --release DIR    # a course in DIR, student versions in DIR/release
    python scripts/make_lab.py --release DIR lab09 lab11   # only these assignments

One assignment per tutorial with exercises. A timing (a measured exercise) has no right
value: its check records the measurement, so it is left ungraded practice (no points)
rather than graded on a number that depends on the machine. docs/lab/README.md says how
to grade.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from r21d_edu.exercises import Exercise, all_exercises
from r21d_edu.exercises._base import BEGIN, END

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
COURSE = ROOT / "docs" / "lab"
SOURCE = COURSE / "source"
CONFIG = COURSE / "nbgrader_config.py"

SETUP = """import torch

from r21d_edu.exercises import exercise

torch.manual_seed(0)"""

HOW = """Each exercise has a cell to write in: replace `raise NotImplementedError()` with code that
binds `answer` (for a coding exercise, fill in the function or class; its last line binds
`answer`). The cell after it runs the check of the tutorial's self-check,
`exercise("NN.k").check(answer)`: run it to see whether your answer passes. It says what is
wrong, never the answer; `exercise("NN.k").hint()` gives a nudge, then the method."""


def assignment_name(tutorial: str) -> str:
    return f"lab{tutorial}"


def tutorial_title(tutorial: str) -> tuple[str, str]:
    """The tutorial's first heading and its file name."""
    path = next(NOTEBOOKS.glob(f"{tutorial}_*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    title = next(line[2:].strip() for cell in notebook.cells if cell.cell_type == "markdown"
                 for line in cell.source.splitlines() if line.startswith("# "))
    return title, path.name


def _nbgrader(grade_id: str, *, grade: bool = False, solution: bool = False,
              locked: bool = False, points: int | None = None) -> dict:
    """nbgrader's cell metadata (schema 3): an autograded answer is a solution cell, an
    autograder test is a locked grade cell with points, and the rest is read-only."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def graded(item: Exercise) -> bool:
    """A measurement has no right value, so nbgrader gives it no points."""
    return not item.measured


def answer_source(item: Exercise) -> str:
    """The answer cell as the instructor's source: the registered solution with its
    solution region marked. A coding exercise marks what the learner writes; any other
    exercise's whole code is the answer, so the student version is nbgrader's stub."""
    if item.is_coding:
        return item.source
    return f"{BEGIN}\n{item.solution_code}\n{END}"


def test_source(item: Exercise) -> str:
    if graded(item):
        # grade_cell takes `answer` out of the namespace, so the next test never sees it.
        return f'exercise("{item.key}").grade_cell(globals())'
    return f'exercise("{item.key}").check(globals().pop("answer", None))'


def question(item: Exercise) -> str:
    text = (f"### Exercise {item.key}\n\n{item.prompt}\n\n"
            f"*Hand in:* bind `answer` to {item.hand_in}.")
    if item.is_coding:
        text += (f" The cell below is what `exercise(\"{item.key}\").skeleton()` shows: "
                 "write the part marked.")
    if graded(item):
        worth = f"{item.points} point{'s' if item.points != 1 else ''}"
        return text + f" *({worth}.)*"
    return text + (f" *(Not graded: a timing has no right value. Predict first with "
                   f"`exercise(\"{item.key}\").predict(...)`; the check records your "
                   "measurement and compares it with your prediction.)*")


def exercise_cells(item: Exercise) -> list[nbformat.NotebookNode]:
    ident = f"exercise_{item.tutorial}_{item.number}"
    cells = [nbformat.v4.new_markdown_cell(question(item)),
             nbformat.v4.new_code_cell(answer_source(item)),
             nbformat.v4.new_code_cell(test_source(item))]
    cells[0].metadata = _nbgrader(f"{ident}_question", locked=True)
    cells[1].metadata = _nbgrader(f"{ident}_answer", solution=True)
    cells[2].metadata = (_nbgrader(f"{ident}_test", grade=True, locked=True, points=item.points)
                         if graded(item) else _nbgrader(f"{ident}_check", locked=True))
    return cells


def _stable_ids(notebook: nbformat.NotebookNode) -> None:
    """Cell ids from the grade ids, so that re-running the script changes no byte."""
    for cell in notebook.cells:
        cell.id = cell.metadata["nbgrader"]["grade_id"]


def build(tutorial: str) -> nbformat.NotebookNode:
    """The source notebook of one tutorial's assignment."""
    title, filename = tutorial_title(tutorial)
    items = all_exercises(tutorial)
    total = sum(item.points for item in items if graded(item))
    intro = (f"# Lab {tutorial}: {title}\n\nThe exercises of tutorial {tutorial} "
             f"(`notebooks/{filename}` of r21d-edu), {len(items)} in all, "
             f"{total} points.\n\n{HOW}")
    cells = [nbformat.v4.new_markdown_cell(intro), nbformat.v4.new_code_cell(SETUP)]
    cells[0].metadata = _nbgrader(f"lab{tutorial}_intro", locked=True)
    cells[1].metadata = _nbgrader(f"lab{tutorial}_setup", locked=True)
    for item in items:
        cells.extend(exercise_cells(item))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    _stable_ids(notebook)
    notebook.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}}
    return notebook


def tutorials() -> list[str]:
    return sorted({item.tutorial for item in all_exercises()})


def target(tutorial: str, source: Path = SOURCE) -> Path:
    name = assignment_name(tutorial)
    return source / name / f"{name}.ipynb"


def cells_of(notebook: nbformat.NotebookNode) -> list[tuple]:
    """What --check compares: each cell's type, source and nbgrader metadata (not ids)."""
    return [(cell.cell_type, cell.source, cell.metadata.get("nbgrader"))
            for cell in notebook.cells]


def write(source: Path = SOURCE) -> list[Path]:
    paths = []
    for tutorial in tutorials():
        path = target(tutorial, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build(tutorial), path)
        paths.append(path)
    return paths


def stale() -> list[str]:
    """Assignments whose committed notebook differs from the registry, or is left over."""
    wanted = {assignment_name(t): t for t in tutorials()}
    found = {path.parent.name for path in SOURCE.glob("lab*/lab*.ipynb")}
    problems = sorted(found - set(wanted))
    for name, tutorial in sorted(wanted.items()):
        path = target(tutorial)
        if not path.exists() or cells_of(nbformat.read(path, as_version=4)) != cells_of(
                build(tutorial)):
            problems.append(name)
    return problems


def nbgrader(args: list[str], cwd: Path, **options) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in `cwd` with this Python, whose scripts folder goes first on
    PATH: nbgrader runs ``alembic`` by name to make its gradebook, and a virtual
    environment that is not activated would not find it."""
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                          **options)


def release(directory: Path, names: list[str]) -> int:
    """Make a course in `directory` (the config and source notebooks, from the registry) and
    run nbgrader generate_assignment there: the student versions land in directory/release."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG, directory / CONFIG.name)
    write(directory / "source")
    # One run for every assignment (nbgrader takes a glob): a run costs seconds to start.
    for name in names or ["lab*"]:
        done = nbgrader(["generate_assignment", name, "--force"], directory)
        if done.returncode:
            return done.returncode
    print(f"released {', '.join(names) or 'every lab'} into {directory / 'release'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/lab/source differs from the registry")
    parser.add_argument("--release", metavar="DIR", type=Path,
                        help="make a course in DIR and generate the student versions there")
    parser.add_argument("labs", nargs="*", help="with --release: only these (e.g. lab09)")
    args = parser.parse_args(argv)
    if args.labs and args.release is None:
        parser.error("name labs only with --release DIR")
    if args.check:
        problems = stale()
        if problems:
            print(f"docs/lab is stale ({', '.join(problems)}): run python scripts/make_lab.py",
                  file=sys.stderr)
            return 1
        print(f"docs/lab matches the registry ({len(tutorials())} assignments)")
        return 0
    if args.release is not None:
        return release(args.release.resolve(), args.labs)
    for path in SOURCE.glob("lab*/lab*.ipynb"):
        path.unlink()  # an assignment whose tutorial lost its exercises
    paths = write()
    print(f"wrote {len(paths)} assignments under {SOURCE.relative_to(ROOT)}: "
          f"{len(all_exercises())} exercises")
    return 0


if __name__ == "__main__":
    sys.exit(main())
