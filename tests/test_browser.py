"""JupyterLab, driven in Debian's Chromium by Playwright, as a learner uses it.

A real JupyterLab server serves a scratch copy of the tutorials (so nothing a
test does touches the committed notebooks); Chromium opens tutorial 01, runs
it, and moves a slider of the explorer. Outside CI these tests skip when
Chromium or Playwright is missing; in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} — browser tests must run in CI")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("Chromium is not installed (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Playwright is not installed (pip install playwright)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_url(chromium_path, tmp_path_factory):
    """Start JupyterLab on localhost over a scratch copy of the notebooks."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    # As scripts/start.sh does: trusted notebooks may render their saved widget state.
    copies = [str(p) for p in (root / "notebooks").glob("*.ipynb")]
    subprocess.run([sys.executable, "-m", "jupyter", "trust", *copies], check=True,
                   capture_output=True)
    port, token = _free_port(), uuid.uuid4().hex
    env = os.environ | {
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
    }
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root / 'notebooks'}",
        f"--LabApp.workspaces_dir={root / 'workspaces'}",
    ]
    log = open(root / "lab.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start:\n" + (root / "lab.log").read_text()
                    ) from None
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture()
def page(chromium_path, lab_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def open_notebook(page, lab_url, name):
    base, token = lab_url
    # A fresh, empty workspace per test: otherwise JupyterLab reopens every notebook an
    # earlier test opened, in background tabs that the selectors below would also match.
    workspace = uuid.uuid4().hex
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    # The kernel is ready when the toolbar's status reads idle.
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")


def _tutorials_with(mime_type: str) -> list[str]:
    """The tutorials whose committed outputs include ``mime_type``."""
    import json

    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        outputs = [o for c in cells for o in c.get("outputs", [])]
        if any(mime_type in o.get("data", {}) for o in outputs):
            found.append(path.name)
    return found


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_every_explorer_is_found():
    # Guards the parametrization below against silently testing nothing.
    assert len(_tutorials_with(WIDGET_VIEW)) >= 5


@pytest.mark.parametrize("name", _tutorials_with(WIDGET_VIEW))
def test_committed_widget_state_renders_without_running(page, lab_url, name):
    open_notebook(page, lab_url, name)
    # Saved widget state lets each explorer draw before any cell runs.
    page.wait_for_selector(".jupyter-widgets", state="attached")
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.locator(".jp-RenderedText", has_text="Explorer(children=").count() == 0


def test_running_the_tutorial_and_moving_a_slider_updates_the_numbers(page, lab_url):
    open_notebook(page, lab_url, "01_from_3d_to_2plus1d.ipynb")
    page.locator(".jp-NotebookPanel").click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    # The explorer's cell comes back live: its summary shows the 64 -> 64 formula.
    summary = page.locator(".widget-html-content", has_text="⌊110,592 / 768⌋ = 144").last
    summary.wait_for(state="attached")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                        has_text="Traceback").count() == 0

    # C_out is the second slider of the live explorer; one step right is 64 -> 65.
    # The outermost box holding the summary is the explorer itself, wherever its layout
    # puts the summary (a column of its own, or under the sliders).
    explorer = page.locator(".widget-vbox", has=summary).first
    handle = explorer.locator(".widget-slider .noUi-handle").nth(1)
    handle.focus()
    handle.press("ArrowRight")
    # "attached", not "visible": JupyterLab skips painting cells scrolled out of view.
    page.locator(".widget-html-content", has_text="64·65").last.wait_for(
        state="attached", timeout=10_000
    )
    assert page.get_by_text("Not possible").count() == 0
