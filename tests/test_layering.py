"""The package's layers hold: the core never imports figures or widgets.

Each level imports only from levels below it (README, "Contributing"):

    _checks, _moved, _tables, methods  the checks, moved names, tables, the vocabulary
    layers, factorized/              the three layers; the family beyond (2+1)D (P3D, S3D,
                                     CSN, depthwise, TSM) beside them, at the same level
    core (counting, lowrank, ...)    numbers, models, data, timing, training
    viz                              the only place figures are made
    widgets                          ipywidgets wiring over the above
    command-line tools               may save figures through viz; never widgets
    exercises/ (the self-checks)     core: never viz or widgets (a check needs no figure)

So ``import r21d_edu`` stays light: a learner who only counts parameters waits for
no matplotlib, plotly or ipywidgets.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "r21d_edu"

# Entry points run from a shell: they may draw. The exercises package (r21d_edu/exercises/)
# is core: its checks never import viz or widgets (test_the_exercises_import_no_figures).
MAY_DRAW = {"bench", "experiment", "tradeoff"}
BOTTOM = {"_checks", "_moved", "_tables", "methods"}


def imported(path: Path) -> list[tuple[str, ast.AST, list[str]]]:
    """(absolute module name, node, names of the enclosing functions) per import."""
    tree = ast.parse(path.read_text())
    package = "r21d_edu" + "".join(
        "." + p for p in path.relative_to(PACKAGE).parent.parts)
    found = []

    def visit(node: ast.AST, functions: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", "") == "TYPE_CHECKING":
                continue  # annotations only: nothing is imported at run time
            inner = functions + [child.name] if isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef)) else functions
            if isinstance(child, ast.Import):
                found.extend((alias.name, child, functions) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                found.append((base, child, functions))
                found.extend((f"{base}.{alias.name}", child, functions) for alias in child.names)
            visit(child, inner)

    visit(tree, [])
    return found


def core_modules() -> list[Path]:
    """Every module below viz, packages (counting/, ...) included."""
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.relative_to(PACKAGE).parts[0] not in ("viz", "widgets")
                  and p.stem not in MAY_DRAW and p != PACKAGE / "__init__.py")


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_core_module_imports_figures_or_widgets_even_inside_a_function(path: Path) -> None:
    for name, node, functions in imported(path):
        if functions == ["__getattr__"]:
            continue  # the deprecation shim of a figure that moved to viz (old import path)
        if functions[-1:] == ["figure"]:
            continue  # a result's .figure(), importing viz when it is called (like pandas' .plot)
        assert not name.startswith(("r21d_edu.viz", "r21d_edu.widgets", "matplotlib",
                                    "plotly", "ipywidgets")), (
            f"{path.name}:{node.lineno} imports {name}; figures belong in r21d_edu.viz and "
            "widgets in r21d_edu.widgets (give the result a lazy .figure() if it needs one)")


def test_the_exercises_import_no_figures_or_widgets() -> None:
    # The self-checks are a package of one module per tutorial; none of them, nor any
    # module that registers exercises (r21d_edu/*_exercises.py), may draw.
    paths = sorted((PACKAGE / "exercises").glob("*.py"))
    assert len(paths) >= 10 and all(p in core_modules() for p in paths)
    for path in [*paths, *sorted(PACKAGE.glob("*_exercises.py"))]:
        for name, node, _ in imported(path):
            assert not name.startswith(("r21d_edu.viz", "r21d_edu.widgets", "matplotlib",
                                        "plotly", "ipywidgets")), (
                f"{path.name}:{node.lineno} imports {name}: an exercise's check needs no figure")


@pytest.mark.parametrize("stem", sorted(BOTTOM))
def test_the_bottom_layer_imports_nothing_of_the_package_above_it(stem: str) -> None:
    for name, node, _ in imported(PACKAGE / f"{stem}.py"):
        below = {f"r21d_edu.{b}" for b in BOTTOM}
        assert not name.startswith("r21d_edu.") or name.split(".")[:2] in (
            b.split(".") for b in below), f"{stem}.py:{node.lineno} imports {name}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "factorized").glob("*.py")),
                         ids=lambda p: f"factorized/{p.name}")
def test_the_factorized_layers_sit_at_the_level_of_layers(path: Path) -> None:
    # Beside `layers`: they import only the bottom layer and each other, and `layers`
    # does not import them (counting, above both, counts them).
    allowed = {f"r21d_edu.{b}" for b in BOTTOM} | {"r21d_edu.factorized"}
    for name, node, _ in imported(path):
        if name.startswith("r21d_edu."):
            assert ".".join(name.split(".")[:2]) in allowed, (
                f"factorized/{path.name}:{node.lineno} imports {name}")
    assert not any(name.startswith("r21d_edu.factorized")
                   for name, _, _ in imported(PACKAGE / "layers.py"))


@pytest.mark.parametrize("path", [*(PACKAGE / f"{s}.py" for s in sorted(MAY_DRAW)),
                                  *sorted((PACKAGE / "viz").glob("*.py"))],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_figures_and_command_line_tools_never_import_widgets(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path.name} is not part of this checkout")
    for name, node, _ in imported(path):
        assert not name.startswith(("r21d_edu.widgets", "ipywidgets")), (
            f"{path.name}:{node.lineno} imports {name}")


def test_importing_the_package_loads_no_figure_or_widget_library() -> None:
    code = ("import json, sys, r21d_edu\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('matplotlib', 'plotly', 'ipywidgets') or m.startswith(('r21d_edu.viz', "
            "'r21d_edu.widgets')))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                       capture_output=True, text=True).stdout)
    assert loaded == []


def test_a_figure_function_loads_viz_and_the_old_import_paths_still_work() -> None:
    code = ("import warnings, sys\n"
            "from r21d_edu.viz import cost_sweep_figure, energy_figure\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    from r21d_edu.counting import cost_sweep_figure as old_sweep\n"
            "    from r21d_edu.lowrank import energy_figure as old_energy\n"
            "assert old_sweep is cost_sweep_figure and old_energy is energy_figure\n"
            "assert any(issubclass(w.category, DeprecationWarning) for w in caught)\n"
            "import r21d_edu.lowrank\n"
            "try:\n"
            "    r21d_edu.lowrank.no_such_name\n"
            "except AttributeError as error:\n"
            "    assert 'no_such_name' in str(error)\n"
            "else:\n"
            "    raise SystemExit('no AttributeError')\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_helper_is_imported_from_another_module(path: Path) -> None:
    for name, node, _ in imported(path):
        if not isinstance(node, ast.ImportFrom) or not name.startswith("r21d_edu."):
            continue
        last = name.rsplit(".", 1)[-1]
        source = name.rsplit(".", 1)[0].rsplit(".", 1)[-1]
        assert not (last.startswith("_") and not last.startswith("__")
                    and any(a.name == last for a in node.names)), (
            f"{path.name}:{node.lineno} imports the private {last} from {source}; make it "
            "public where it lives (or move it to _checks) instead")


@pytest.mark.parametrize("path", sorted([*(PACKAGE / "counting").glob("*.py"),
                                         *(PACKAGE / "timing").glob("*.py")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_split_package_keeps_its_files_readable(path: Path) -> None:
    # counting and timing were 1,300- and 1,160-line modules; split by concept, no part
    # should grow back to that.
    assert len(path.read_text().splitlines()) <= 600
