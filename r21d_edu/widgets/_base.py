"""Wiring shared by every explorer: one base class, safe callbacks, figures as images.

Widgets are thin: a slider's callback calls a pure, tested function and puts
its result on screen. Two rules keep them friendly:

- a callback never lets an exception through — a setting that cannot work is
  shown as a plain message in the widget instead of a traceback;
- figures are rendered to PNG bytes into an `ipywidgets.Image`, not printed
  into an `ipywidgets.Output`, so what the widget shows is a value that tests
  (and nbval) can read without a browser.

`Explorer` holds what the explorers share: the controls, one safe callback for all
of them, controls that the current setting ignores greyed out, and the last good
view marked stale (a dashed red frame, and a message that says so) while the
controls describe a setting that cannot work.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import ipywidgets as w

from ..viz._common import figure_to_png

__all__ = ["Explorer", "figure_to_png", "problem_html"]


def problem_html(message: str) -> str:
    """A plainly flagged explanation of why the current setting cannot work."""
    return (
        '<div style="color:#8a1c1c;background:#fdecea;padding:6px 10px;border-radius:4px">'
        f"<b>Not possible:</b> {html.escape(message)}</div>"
    )


STALE_BORDER = "2px dashed #c0392b"


class Explorer(w.VBox):
    """The wiring every explorer shares; a subclass supplies `_update` (and `_ignored`).

    A subclass builds its controls and output widgets, then calls `_start`:
    every control's change calls `_update`, which reads the controls and puts the
    new view on screen. When `_update` raises (``ValueError`` or ``TypeError`` are the
    package's errors for impossible settings; anything else is a bug, named as such)
    the message says why, the last good view stays and is marked stale (``stale`` is
    True) until a setting works again: a widget never shows a traceback.
    Controls named by `_ignored` (those the current setting does not use) are
    disabled, and `controls_note` says why.

    Attributes:
        controls: the controls by name.
        message: empty, or why the current setting cannot work.
        stale: True while the view shows an earlier setting than the controls.
    """

    controls: dict[str, w.ValueWidget]

    def _start(self, controls: Mapping[str, w.ValueWidget], view: w.Box,
               children: list[w.Widget]) -> None:
        """Wire ``controls``, draw once, and lay out ``children`` above the message."""
        self.controls = dict(controls)
        self.message = w.HTML()
        self.controls_note = w.HTML()
        self.stale = False
        self._view = view
        self._holding = False
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self._changed()
        super().__init__([*children, self.controls_note, self.message])

    def _update(self) -> None:
        raise NotImplementedError

    def _ignored(self) -> dict[str, str]:
        """Controls the current setting does not use, each with the reason."""
        return {}

    @contextmanager
    def _hold(self) -> Iterator[None]:
        """Change controls from code (a range, a clamp) without answering each change."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def _changed(self, *_change: object) -> None:
        if self._holding:
            return
        ignored = self._ignored()
        for name, control in self.controls.items():
            control.disabled = name in ignored
        self.controls_note.value = "".join(
            f"<small>{html.escape(reason)}</small><br>" for reason in ignored.values())
        try:
            self._update()
        except Exception as error:  # noqa: BLE001 - a widget shows a message, never a traceback
            # ValueError / TypeError are the package's refusals of impossible settings;
            # anything else is a bug, still shown as a message (with its type, to report it).
            known = isinstance(error, (ValueError, TypeError))
            text = str(error) if known else f"unexpected {type(error).__name__}: {error}"
            self.stale = True
            self.message.value = problem_html(
                f"{text.rstrip('.')}. The view (framed) still shows the last setting "
                "that worked, not the one the controls describe.")
            self._view.layout.border = STALE_BORDER
        else:
            self.stale = False
            self.message.value = ""
            self._view.layout.border = None
