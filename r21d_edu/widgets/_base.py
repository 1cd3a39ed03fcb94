"""Wiring shared by every explorer: safe callbacks and figures as images.

Widgets are thin: a slider's callback calls a pure, tested function and puts
its result on screen. Two rules keep them friendly:

- a callback never lets an exception through — a setting that cannot work is
  shown as a plain message in the widget instead of a traceback;
- figures are rendered to PNG bytes into an `ipywidgets.Image`, not printed
  into an `ipywidgets.Output`, so what the widget shows is a value that tests
  (and nbval) can read without a browser.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from ..viz._common import figure_to_png

__all__ = ["figure_to_png", "problem_html", "safely"]


def problem_html(message: str) -> str:
    """A plainly flagged explanation of why the current setting cannot work."""
    return (
        '<div style="color:#8a1c1c;background:#fdecea;padding:6px 10px;border-radius:4px">'
        f"<b>Not possible:</b> {html.escape(message)}</div>"
    )


def safely(update: Callable[[], None], message: w.HTML) -> Callable[..., None]:
    """Wrap a widget callback so that errors become a message, never a traceback.

    ``update`` redraws the widget from the current control values; when it raises
    ``ValueError`` or ``TypeError`` (the package's errors for impossible
    settings), ``message`` shows the error's text and the last good view stays.
    """

    def callback(*_change: object) -> None:
        try:
            update()
        except (ValueError, TypeError) as error:
            message.value = problem_html(str(error))
        else:
            message.value = ""

    return callback
