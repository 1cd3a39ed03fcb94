"""README.md's Python blocks run in a plain ``python``, as a reader would paste them.

Every fenced ```python block runs in a fresh interpreter (``sys.executable``: no IPython, so a
Jupyter name such as ``display`` fails), in its own temporary working directory, offline: a
``sitecustomize`` on the path makes every network connection fail, so a block that would
download something fails here too. A name a block uses but never defines fails as well.

The files the blocks name are made first, as a reader would have them:

- ``r2plus1d_18-91a641e6.pth``: a torchvision-format state_dict of random weights from the
  package's own ``r2plus1d_18()``, under the name the README fetches;
- ``my_clip.mp4``: a 7-second MPEG-4 video written with PyAV.

Without them, the blocks must stop with the package's own message (checked below), not a deep
traceback.

Two blocks run smaller than written, by the exact replacements in `REDUCED` (each must match
once, so a README edit cannot silently skip them); the README must state what the full block
costs right after it (`REDUCED`'s ``cost`` pattern):

- factorize_network: 2 clips instead of 16 for ``insert_middle_bn_relu`` (the forward pass
  over 16 clips is what peaks at about 4.5 GB; the 17 SVDs, the part the block is about,
  run in full);
- training: 64 / 32 / 32 clips and one epoch instead of 2,400 / 1,000 / 1,000 and eight
  (minutes of CPU; the loop, the split sizes and the printed record are the same code).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
WEIGHTS_NAME = "r2plus1d_18-91a641e6.pth"
VIDEO_NAME = "my_clip.mp4"

OFFLINE = textwrap.dedent('''
    """Refuse every network connection: README blocks must run offline."""
    import socket

    def _refuse(self, address, *args, **kwargs):
        if self.family == getattr(socket, "AF_UNIX", None):
            return _connect(self, address)
        raise OSError(f"network access refused while testing a README block: {address!r}")

    _connect = socket.socket.connect
    socket.socket.connect = _refuse
    socket.socket.connect_ex = _refuse
''')


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, for the test id and messages
    code: str


def python_blocks(text: str) -> list[Block]:
    """Every fenced ```python block, with the line its fence is on."""
    blocks = []
    for match in re.finditer(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, re.S | re.M):
        blocks.append(Block(text.count("\n", 0, match.start()) + 1, match.group(1)))
    return blocks


def text_after(text: str, block: Block) -> str:
    """The README's prose from the end of `block` to the next heading."""
    start = text.index(block.code) + len(block.code)
    following = re.search(r"^#{1,6} ", text[start:], re.M)
    return text[start:start + following.start()] if following else text[start:]


@dataclass(frozen=True)
class Reduction:
    """How one slow block runs here: `replace` pairs, and the cost the README must state."""

    marker: str  # a string only this block contains
    replace: tuple[tuple[str, str], ...]
    cost: str  # regex the prose after the block must match (the full block's measured cost)


REDUCED = (
    Reduction("insert_middle_bn_relu(small, clips)",
              (("torch.randn(16, 3, 16, 112, 112)", "torch.randn(2, 3, 16, 112, 112)"),),
              r"peak(s| of)?[^.]*\d+(\.\d+)? GB"),
    Reduction("TrainConfig()",
              (("make_splits(DirectionTask())",
                "make_splits(DirectionTask(train=64, val=32, test=32))"),
               ("TrainConfig()", "TrainConfig(epochs=1)")),
              r"\d+ (s|min)\b"),
)

TEXT = README.read_text(encoding="utf-8")
BLOCKS = python_blocks(TEXT)


def block_with(marker: str) -> Block:
    found = [b for b in BLOCKS if marker in b.code]
    assert len(found) == 1, f"expected one README block containing {marker!r}, found {len(found)}"
    return found[0]


def as_run(block: Block) -> str:
    """The block's code as this test runs it: reduced where `REDUCED` says so."""
    code = block.code
    for reduction in REDUCED:
        if reduction.marker in code:
            for old, new in reduction.replace:
                assert code.count(old) == 1, (
                    f"README block at line {block.line}: expected {old!r} once, "
                    f"found it {code.count(old)} times; update REDUCED with the README")
                code = code.replace(old, new)
    return code


def run_block(code: str, cwd: Path, guard: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    (cwd / "snippet.py").write_text(code, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(guard), env.get("PYTHONPATH")) if p)
    env["MPLBACKEND"] = "Agg"  # no display here; savefig works with any backend
    env["TORCH_HOME"] = str(cwd / "torch-home")  # no cached downloads to lean on
    return subprocess.run([sys.executable, "snippet.py"], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


def failure(block: Block, result: subprocess.CompletedProcess) -> str:
    return (f"README block at line {block.line} exited with {result.returncode}\n"
            f"--- stdout (end) ---\n{result.stdout[-3000:]}\n"
            f"--- stderr (end) ---\n{result.stderr[-5000:]}")


@pytest.fixture(scope="module")
def guard(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("offline")
    (folder / "sitecustomize.py").write_text(OFFLINE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    import torch

    from r21d_edu import r2plus1d_18

    path = tmp_path_factory.mktemp("weights") / WEIGHTS_NAME
    torch.manual_seed(0)
    torch.save(r2plus1d_18().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def video_file(tmp_path_factory) -> Path:
    import av

    path = tmp_path_factory.mktemp("video") / VIDEO_NAME
    fps, seconds, height, width = 10, 7, 48, 64
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(fps * seconds):  # a bright bar moving right over a dark grey field
            picture = np.full((height, width, 3), 40, dtype=np.uint8)
            picture[:, (2 * index) % width:(2 * index) % width + 6] = (230, 200, 60)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def files_for(block: Block, weights_file: Path, video_file: Path) -> dict[str, Path]:
    """The files `block` names, to place in its working directory."""
    wanted = {WEIGHTS_NAME: weights_file, VIDEO_NAME: video_file}
    return {name: path for name, path in wanted.items() if name in block.code}


def test_the_readme_rules_here_name_real_blocks():
    assert BLOCKS, "README.md has no ```python blocks"
    for reduction in REDUCED:
        block = block_with(reduction.marker)
        as_run(block)  # every replacement matches exactly once
        assert re.search(reduction.cost, text_after(TEXT, block)), (
            f"README block at line {block.line} runs reduced here, so the README must say what "
            f"the full block costs right after it (pattern {reduction.cost!r})")
    for name in (WEIGHTS_NAME, VIDEO_NAME):
        assert any(name in b.code for b in BLOCKS), f"no README block uses {name} any more"


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}" for b in BLOCKS])
def test_readme_block_runs_in_plain_python(block, tmp_path, guard, request):
    files = {}
    if WEIGHTS_NAME in block.code or VIDEO_NAME in block.code:
        files = files_for(block, request.getfixturevalue("weights_file"),
                          request.getfixturevalue("video_file"))
    for name, path in files.items():
        (tmp_path / name).symlink_to(path)
    result = run_block(as_run(block), tmp_path, guard)
    assert result.returncode == 0, failure(block, result)
    assert "Traceback" not in result.stderr, failure(block, result)


@pytest.mark.parametrize(("missing", "message"), [
    (WEIGHTS_NAME, f"no weights file at {WEIGHTS_NAME}; this package never downloads"),
    (VIDEO_NAME, f"no video file at {VIDEO_NAME}"),
])
def test_a_block_without_its_file_says_what_is_missing(missing, message, tmp_path, guard,
                                                         weights_file, video_file):
    block = block_with(missing if missing == VIDEO_NAME else "preprocess_clip(")
    for name, path in files_for(block, weights_file, video_file).items():
        if name != missing:
            (tmp_path / name).symlink_to(path)
    result = run_block(as_run(block), tmp_path, guard)
    assert result.returncode != 0, failure(block, result)
    assert message in result.stderr, failure(block, result)
    assert "FileNotFoundError" in result.stderr.splitlines()[-1], failure(block, result)


def test_the_offline_guard_refuses_connections(tmp_path, guard):
    code = ("import urllib.request\n"
            "urllib.request.urlopen('http://192.0.2.1/weights.pth', timeout=5)\n")
    result = run_block(code, tmp_path, guard, timeout=60)
    assert result.returncode != 0
    assert "network access refused while testing a README block" in result.stderr
