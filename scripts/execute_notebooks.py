"""Run tutorials top to bottom and save them with their outputs and widget state.

Usage:  python scripts/execute_notebooks.py [notebooks/NN_name.ipynb ...]
        (no arguments: every notebook in notebooks/)

Committed outputs are what nbval's strict mode compares against, and the saved
widget state (``metadata.widgets``) is what lets JupyterLab and GitHub draw a
widget before the notebook is re-run. Each notebook runs in its own kernel
with notebooks/ as the working directory, like a reader's would.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in notebook.cells:
        # Execution timestamps change on every run and would make every commit a diff.
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    return elapsed


def main(arguments: list[str]) -> None:
    paths = [Path(a) for a in arguments] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name}: {execute(path):.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
