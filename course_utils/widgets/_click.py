"""A small map the student can click on (ipympl canvas): the receptive-field explorer's unit picker.

``ClickMap(on_click)`` shows an (H, W) map filling the whole canvas; a click on cell (row, col) calls
``on_click(row, col)``. The click arrives through ipympl's canvas events (matplotlib's
``button_press_event``); ``click(row, col)`` does the same from Python (tests).
"""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

_numbers = itertools.count(10_000)  # figure numbers for ipympl's manager (not registered with pyplot)


class ClickMap:
    def __init__(self, on_click, size_px: int = 220):
        from ipympl.backend_nbagg import Canvas, FigureManager

        self.on_click = on_click
        self.fig = Figure(figsize=(size_px / 80, size_px / 80), dpi=80)
        self.canvas = Canvas(self.fig)
        self.manager = FigureManager(self.canvas, next(_numbers))
        for trait, value in (("header_visible", False), ("footer_visible", False), ("toolbar_visible", False),
                             ("resizable", False)):
            if hasattr(self.canvas, trait):
                setattr(self.canvas, trait, value)
        self.canvas.add_class("cu-clickmap")
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_axis_off()
        self.im = self.ax.imshow(np.zeros((2, 2)), cmap="gray", interpolation="nearest", aspect="auto")
        self.box = self.ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="#ff2020", linewidth=2))
        self.shape = (2, 2)
        self.canvas.mpl_connect("button_press_event", self._on_press)

    @property
    def widget(self):
        return self.canvas

    def show(self, arr: np.ndarray, row: int, col: int) -> None:
        """Show the map with cell (row, col) outlined."""
        h, w = arr.shape
        self.shape = (h, w)
        self.im.set_data(arr)
        self.im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
        self.im.set_clim(float(arr.min()), float(arr.max()) if arr.max() > arr.min() else float(arr.min()) + 1)
        self.ax.set_xlim(-0.5, w - 0.5)
        self.ax.set_ylim(h - 0.5, -0.5)
        self.box.set_bounds(col - 0.5, row - 0.5, 1, 1)
        self.canvas.draw_idle()

    def _on_press(self, event) -> None:
        if event.inaxes is self.ax and event.xdata is not None:
            self.click(int(np.floor(event.ydata + 0.5)), int(np.floor(event.xdata + 0.5)))

    def click(self, row: int, col: int) -> None:
        h, w = self.shape
        self.on_click(min(max(row, 0), h - 1), min(max(col, 0), w - 1))
