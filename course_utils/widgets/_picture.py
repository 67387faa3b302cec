"""The widgets' picture: a PNG in an ``<img>`` with a text alternative, announced to screen readers.

``Picture`` is an anywidget (its ESM, ``_picture.js`` beside this file, is sent inline with the widget:
nothing is fetched at run time). It shows ``png`` (bytes) in an ``<img alt=...>``; with ``live=True`` a
visually hidden element with ``role="status"`` (a polite live region) holds ``announcement``: the element
stays in the page across redraws and only its text changes, a quarter of a second after the last change, so a
screen reader reads the new picture once the controls rest. The picture itself is never focusable (no
keyboard trap): a ``clickable`` picture reports a mouse click as fractions of its width and height to the
callbacks given to :meth:`Picture.on_click`, and keyboard users have the controls that do the same.

``described_by``: a CSS selector, inside the explorer (``.cu-explorer``), of the element whose text describes
the picture (its caption): the ``<img>`` gets ``aria-describedby`` pointing at it. ``fix_controls=True`` (one
picture per explorer) also fixes the ipywidgets controls around it, in the page, after every re-render:
  * every slider handle (and its readout) gets ``aria-labelledby`` its visible description label, and leaves
    the Tab order (``tabindex=-1``, ``aria-disabled``) while the slider is disabled;
  * a ToggleButtons group gets ``role="group"`` named by its label;
  * the controls inside an element of class ``cu-hinted`` get ``aria-describedby`` the explorer's hint (the
    text of the HTML widget of class ``cu-hint``);
  * keys that a focused control acts on itself (arrows, Home, End, Page Up/Down, Space, Enter, without Ctrl,
    Alt, Meta, nor Shift+Enter) stop at the explorer: JupyterLab's command-mode shortcuts do not see them, so
    ↓ on a dropdown changes its value and → moves the slider, not the notebook's cell selection. Tab, Escape,
    Shift+Enter, Ctrl+S ... still reach JupyterLab.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

_ESM = (Path(__file__).with_name("_picture.js")).read_text(encoding="utf-8")
_CSS = """
.cu-picture { display: block; }
.cu-picture .cu-img { display: block; max-width: 100%; height: auto; }
.cu-picture .cu-img.cu-clickable { cursor: crosshair; }
.cu-picture .cu-live { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
                       overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
"""


class Picture(anywidget.AnyWidget):
    """A PNG picture with a text alternative (``alt``), optionally a polite live region (``live``,
    ``announcement``) and click reporting (``clickable``, :meth:`on_click`). See the module's docstring."""

    _esm = _ESM
    _css = _CSS
    png = traitlets.Bytes(b"").tag(sync=True)
    alt = traitlets.Unicode("").tag(sync=True)
    live = traitlets.Bool(False).tag(sync=True)  # read once, when the view is created
    announcement = traitlets.Unicode("").tag(sync=True)
    width = traitlets.Int(0).tag(sync=True)  # CSS pixels (never wider than the output); 0: the PNG's own width
    clickable = traitlets.Bool(False).tag(sync=True)
    described_by = traitlets.Unicode("").tag(sync=True)
    fix_controls = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._click_handlers = []
        self.on_msg(self._on_message)

    def on_click(self, callback) -> None:
        """Call ``callback(x, y)`` on every click on the picture: x, y in [0, 1], fractions of its width and
        height from its top-left corner."""
        self._click_handlers.append(callback)

    def click(self, x: float, y: float) -> None:
        """What a click at fractions (x, y) of the picture does (as the page reports it)."""
        x, y = min(max(float(x), 0.0), 1.0), min(max(float(y), 0.0), 1.0)
        for callback in list(self._click_handlers):
            callback(x, y)

    def _on_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "click" and self.clickable:
            try:
                x, y = float(content["x"]), float(content["y"])
            except (KeyError, TypeError, ValueError):
                return
            if x == x and y == y:  # not NaN
                self.click(x, y)
