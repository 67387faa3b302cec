"""Opt-in blitting for a widget view: redraw only the artists that change, over a cached background.

Most of matplotlib's drawing time is text (ticks, titles, labels) that a slider move does not change. A view
that needs the speed sets a :class:`Blit` as its class attribute ``blit``; everything about the cache lives
here, in the :class:`Blitter` the view holds, never in ``draw`` nor on the figure. Without ``blit`` the
figure is drawn whole, as ``fig.savefig`` would.

Three layers, bottom to top:
  1. the background: every artist not named below, drawn once per ``static_key(state, data)`` (the last
     BACKGROUNDS_KEPT backgrounds are kept: going back to a key seen before costs nothing);
  2. ``rarely``: artists that change only when ``middle_key(state, data)`` changes (e.g. the ticks of an
     axis that grows now and then), cached over the background; ``on_top``: background artists (a legend)
     copied back over that layer;
  3. ``animated``: artists redrawn on every redraw.
Each of ``animated``, ``rarely``, ``on_top`` is a function ``artists -> iterable of Artists``, where
``artists`` is the dict the widget's layout built (see ``_view.prepare``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BACKGROUNDS_KEPT = 8  # backgrounds kept (one per static key; ~1 MB each)


def _none(_artists) -> tuple:
    return ()


def _constant(_state, _data) -> None:
    return None


@dataclass(frozen=True)
class Blit:
    """What a widget blits: see the module's docstring."""

    animated: Callable = _none
    rarely: Callable = _none
    on_top: Callable = _none
    static_key: Callable = _constant
    middle_key: Callable = _constant


class Blitter:
    """The cache of one view: ``render(fig, artists, state, data) -> (H, W, 3) uint8`` pixels."""

    def __init__(self, spec: Blit):
        self.spec = spec
        self.fig = None  # the figure the cache belongs to (a new figure empties it)
        self.backgrounds: dict = {}  # static key -> background, the latest last
        self.background = self.background_key = None
        self.middleground = self.middleground_key = None

    def render(self, fig: Figure, artists: dict, state, data) -> np.ndarray:
        spec = self.spec
        canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
        animated, middle = list(spec.animated(artists)), list(spec.rarely(artists))
        if fig is not self.fig:
            self.__init__(spec)
            self.fig = fig
        key, fresh = spec.static_key(state, data), False
        if self.background is None or self.background_key != key:
            if key in self.backgrounds:  # a background drawn before (e.g. a layer visited again)
                self.background = self.backgrounds.pop(key)
            else:
                for artist in animated + middle:  # skipped by the full draw, only while it lasts
                    artist.set_animated(True)
                try:
                    canvas.draw()
                finally:
                    for artist in animated + middle:
                        artist.set_animated(False)
                self.background, fresh = canvas.copy_from_bbox(fig.bbox), True
            self.backgrounds[key] = self.background
            while len(self.backgrounds) > BACKGROUNDS_KEPT:
                self.backgrounds.pop(next(iter(self.backgrounds)))
            self.background_key, self.middleground = key, None
        if not fresh:  # no full draw: place the axes as one would (aspect), for the artists drawn alone below
            for ax in fig.axes:
                ax.apply_aspect()
        renderer = canvas.get_renderer()
        if middle:
            middle_key = spec.middle_key(state, data)
            if self.middleground is None or self.middleground_key != middle_key:
                if not fresh:
                    canvas.restore_region(self.background)
                for artist in middle:
                    if artist.get_visible():
                        artist.draw(renderer)
                height = fig.bbox.height
                for artist in spec.on_top(artists):  # background artists kept over the middle layer
                    x0, y0, x1, y1 = artist.get_window_extent(renderer).padded(2).extents
                    canvas.restore_region(self.background, bbox=(max(x0, 0), max(height - y1, 0), x1, height - y0),
                                          xy=(0, 0))  # bbox: pixel rows from the top; xy: where the copy's origin goes
                self.middleground, self.middleground_key = canvas.copy_from_bbox(fig.bbox), middle_key
            else:
                canvas.restore_region(self.middleground)
        elif not fresh:
            canvas.restore_region(self.background)
        for artist in animated:
            if artist.get_visible():
                artist.draw(renderer)
        return np.asarray(canvas.buffer_rgba())[..., :3]
