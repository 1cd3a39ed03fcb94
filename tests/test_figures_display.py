"""Figures show themselves: in a fresh Jupyter kernel, with no magic run first.

A matplotlib `Figure` made without pyplot has no rich display of its own, so a
learner who pastes a snippet into a new notebook would see `<Figure size ...>`
text. Importing `r21d_edu.viz` (which every figure function does) registers a PNG
formatter; these tests start a real kernel (jupyter_client) and check what it sends
back, as a front end would see it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kernel():
    manager, client = jupyter_client.manager.start_new_kernel(kernel_name="python3",
                                                               cwd=str(ROOT))
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(client, code: str, timeout: float = 240) -> list[dict]:
    """Execute `code` and return its display outputs (execute_result / display_data)."""
    msg_id = client.execute(code)
    outputs, error = [], None
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind in ("execute_result", "display_data"):
            outputs.append(content["data"])
        elif kind == "error":
            error = "\n".join(content["traceback"])
        elif kind == "status" and content["execution_state"] == "idle":
            break
    assert error is None, error
    return outputs


def test_a_returned_figure_is_a_picture_without_any_magic(kernel) -> None:
    outputs = run(kernel, "from r21d_edu import moving_shape\n"
                          "from r21d_edu.viz import clip_strip\n"
                          "clip_strip(moving_shape(frames=4, size=16))")
    assert len(outputs) == 1 and "image/png" in outputs[0], outputs
    assert outputs[0]["text/plain"].startswith("<Figure size")


@pytest.mark.parametrize("code", [
    # Figures reached through their old import paths (counting, lowrank): the shims
    # import viz, so the formatter is registered before the figure is returned.
    "import r21d_edu\nfrom r21d_edu.lowrank import energy_figure\n"
    "energy_figure({'random': r21d_edu.energy_profile(torch.nn.Conv3d(4, 4, 3))})",
    "from r21d_edu.counting import compare_costs, cost_sweep_figure\n"
    "cost_sweep_figure([8, 16], [compare_costs(c, c, 3, (1, c, 4, 8, 8)) for c in (8, 16)],"
    " x_label='C')",
])
def test_figures_from_other_modules_display_too(kernel, code) -> None:
    outputs = run(kernel, "import torch\n" + code)
    assert len(outputs) == 1 and "image/png" in outputs[0]


def test_an_inline_backend_choice_is_kept(kernel) -> None:
    run(kernel, "%config InlineBackend.figure_formats = ['svg']\n%matplotlib inline")
    outputs = run(kernel, "from r21d_edu.viz import clip_strip\nfrom r21d_edu import flash\n"
                          "clip_strip(flash(frames=3, size=8))")
    assert "image/svg+xml" in outputs[0] and "image/png" not in outputs[0]


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def as_in_a_notebook(block: str) -> str:
    """The README's scripts save each figure; in a notebook a learner displays it instead.

    `clip_strip(clip).savefig("clip.png")` becomes `display(clip_strip(clip))`, so the
    kernel shows what a learner who pasted the line into a cell would see.
    """
    converted = re.sub(r"^(\s*)(.+?)\.savefig\([^)]*\)", r"\1display(\2)", block, flags=re.M)
    assert converted != block, "expected the README block to save at least one figure"
    return converted


def test_the_readme_figure_snippet_shows_every_figure_it_draws() -> None:
    # Its own kernel: a snippet must work in a notebook nothing else ran in.
    block = next(b for b in readme_blocks() if "clip_strip(clip)" in b)
    manager, client = jupyter_client.manager.start_new_kernel(kernel_name="python3",
                                                               cwd=str(ROOT))
    try:
        outputs = run(client, as_in_a_notebook(block))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    drawn = len(re.findall(r"^\s*(?:clip_strip|feature_maps|tuning_polar)\(.*\.savefig\(",
                           block, flags=re.M))
    assert drawn == 3
    assert [("image/png" in o) for o in outputs] == [True] * drawn


def test_the_readme_layer_snippet_runs_in_a_fresh_kernel(kernel) -> None:
    block = next(b for b in readme_blocks() if "NaiveConv2Plus1d.from_factorized" in b)
    run(kernel, block.replace("torch.randn(2, 64, 16, 56, 56)", "torch.randn(1, 64, 4, 8, 8)"))


def test_the_readme_timing_snippet_shows_its_table_and_figure(kernel) -> None:
    block = next(b for b in readme_blocks() if "result.figure()" in b)
    block = as_in_a_notebook(block.replace("(1, 64, 8, 56, 56)", "(1, 64, 2, 8, 8)"))
    outputs = run(kernel, block + "\nresult")
    # The figure is displayed where the script saved it; `result`, a cell's last value,
    # shows its table.
    assert len(outputs) == 2
    outputs = outputs[::-1]
    # An earlier test in this kernel chose SVG for the inline backend: any picture will do.
    assert "text/html" in outputs[0]
    assert {"image/png", "image/svg+xml"} & set(outputs[1])


def test_plotly_figures_and_animations_display_without_setup(kernel) -> None:
    outputs = run(kernel, "from r21d_edu import motion_kernels\n"
                          "from r21d_edu.viz import kernel_3d_figure\n"
                          "kernel_3d_figure(motion_kernels(select=['edge moving right']))")
    assert {"application/vnd.plotly.v1+json", "text/html"} & set(outputs[0])
    outputs = run(kernel, "from r21d_edu import bouncing_ball\nfrom r21d_edu.viz import clip_animation\n"
                          "clip_animation(bouncing_ball(frames=3, size=8))")
    assert "text/html" in outputs[0]
