"""No committed output that nbval compares strictly prints rounding noise.

The notebooks pass nbval on one CPU only if nothing they print depends on the order
in which that CPU's SIMD units add: an exactness check shows the bound it asserts
("equal to within 1e-12"), never the 8.9e-16 under it, and a float is rounded to
what a reader needs. Timings and other machine-dependent outputs stay in cells
marked ``# NBVAL_IGNORE_OUTPUT``. The rules are in `tests/_notebooks.py`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from _notebooks import noise_in_notebook, notebooks, sanitizers, tolerances


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_no_strict_output_prints_rounding_noise(path: Path) -> None:
    found = noise_in_notebook(path)
    assert not found, "outputs that differ between CPUs:\n" + "\n".join(map(str, found))


def write_notebook(folder: Path, source: str, text: str, tags: list[str] | None = None) -> Path:
    """A one-cell notebook whose committed output prints `text`."""
    cell = nbformat.v4.new_code_cell(source, execution_count=1,
                                     outputs=[nbformat.v4.new_output("stream", text=text)])
    if tags:
        cell.metadata["tags"] = tags
    path = folder / "planted.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


GAP = "gap = (a - b).abs().max().item()\nassert gap < 1e-12\n"


@pytest.mark.parametrize("printed", ["largest difference 8.9e-16\n", "gap 1.2e-09\n",
                                     "{'energy': 0.912900769718022}\n", "ratio 0.1234567890\n"])
def test_a_planted_noisy_output_is_reported(tmp_path: Path, printed: str) -> None:
    found = noise_in_notebook(write_notebook(tmp_path, GAP + "print(gap)", printed), [])
    assert [n.cell for n in found] == [0] and found[0].value in printed
    assert "planted.ipynb cell 0 (stdout)" in str(found[0])


def test_a_value_under_the_cells_own_tolerance_is_reported(tmp_path: Path) -> None:
    # 5.4e-07 is not tiny in itself, but the cell asserts only < 1e-4: it is noise here.
    source = "difference = (quick(x) - plain(x)).abs().max().item()\nassert difference < 1e-4"
    found = noise_in_notebook(write_notebook(tmp_path, source, "largest difference 5.4e-07\n"), [])
    assert [n.value for n in found] == ["5.4e-07"] and "tolerance 0.0001" in found[0].reason
    finer = noise_in_notebook(write_notebook(tmp_path, source, "difference 0.0000005\n"), [])
    assert [n.value for n in finer] == ["0.0000005"]


@pytest.mark.parametrize("printed", ["train: equal to within 1e-12\n", "gap below 1e-12: True\n",
                                     "rank 144 keeps 91.15%\n", "5,549,064,192 MACs\n",
                                     "largest response 0.7071\n"])
def test_a_clean_output_passes(tmp_path: Path, printed: str) -> None:
    assert noise_in_notebook(write_notebook(tmp_path, GAP + "print(gap < 1e-12)", printed), []) == []


def test_ignored_and_sanitized_outputs_are_not_compared(tmp_path: Path) -> None:
    ignored = write_notebook(tmp_path, "# NBVAL_IGNORE_OUTPUT\nprint(elapsed)", "8.9e-16 s\n")
    assert noise_in_notebook(ignored, []) == []
    tagged = write_notebook(tmp_path, "print(gap)", "8.9e-16\n", tags=["nbval-ignore-output"])
    assert noise_in_notebook(tagged, []) == []
    # The project's sanitize file masks what it replaces before nbval compares.
    address = write_notebook(tmp_path, "generator", "<Generator at 0x7f4ad17f9590>\n")
    assert noise_in_notebook(address, sanitizers()) == []


def test_tolerances_are_read_from_the_cells_code() -> None:
    assert tolerances("assert gap < 1e-12, gap\nassert_close(a, b, atol=1e-5, rtol=1e-4)") == [
        1e-12, 1e-5, 1e-4]
    assert tolerances("print(f'{gap:.1e}')") == []
