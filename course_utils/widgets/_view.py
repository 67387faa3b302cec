"""The thin view every widget shares: controls -> model state -> pure draw(state) -> PNG image + status text.

Each widget module has three parts (see ../shared/STYLE.md):
  1. a model: a frozen dataclass ``State`` plus a ``make_state(**values)`` that clamps every value to its
     bounds, and plain NumPy functions that compute what is shown;
  2. a pure ``draw(state, fig=None) -> Figure`` (the picture depends only on the state; passing the previous
     figure only saves the cost of building a new one);
  3. a view: a subclass of :class:`Explorer` below that wires ipywidgets controls to the model.

The picture is rendered to PNG (Agg, no pyplot, no backend needed) and shown in an ``ipywidgets.Image``, so
it works the same in JupyterLab, in a headless test and whatever ``MPLBACKEND`` is. After every redraw the
status label reads e.g. ``"rendered k=7 #3"`` (browser tests wait on that text). An exception raised while
computing (usually by the student's own function) is shown inside the widget, never lost in a log.
"""

from __future__ import annotations

import html
import io
import traceback

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image


def clamp_int(value, low: int, high: int) -> int:
    """Round ``value`` to an int and clamp it into [low, high]."""
    return int(min(max(int(round(float(value))), low), high))


def clamp_float(value, low: float, high: float) -> float:
    """Clamp ``value`` into [low, high] (NaN becomes ``low``)."""
    value = float(value)
    if value != value:  # NaN
        return float(low)
    return float(min(max(value, low), high))


def render_rgb(fig: Figure) -> np.ndarray:
    """Render a Figure with Agg: (H, W, 3) uint8 pixels.

    Blitting: artists marked with :func:`animate` (the ones ``draw`` updates) are drawn over a cached
    background holding everything else (axes, ticks, titles: text is most of matplotlib's drawing time).
    The background is redrawn when ``fig._cu_static_key`` (set by ``draw`` from what the static parts depend
    on) changes, or on the first draw. Artists marked ``animate(..., rarely=True)`` (e.g. the ticks of an
    axis that grows now and then) form a middle layer, cached over the background and redrawn alone when
    ``fig._cu_middle_key`` changes: a growing axis then costs its ticks, not the whole figure. Artists
    given to :func:`keep_on_top` (a legend) are copied back from the background over the middle layer.
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    animated = getattr(fig, "_cu_animated", [])
    middle = getattr(fig, "_cu_middle", [])
    key = getattr(fig, "_cu_static_key", None)
    if not animated and not middle:
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3]
    renderer = canvas.get_renderer()
    fresh = getattr(fig, "_cu_background", None) is None or fig._cu_background_key != key
    if fresh:
        canvas.draw()  # animated artists (both kinds) are skipped by a full draw
        fig._cu_background, fig._cu_background_key = canvas.copy_from_bbox(fig.bbox), key
        fig._cu_middleground = None
    if middle:
        middle_key = getattr(fig, "_cu_middle_key", None)
        if getattr(fig, "_cu_middleground", None) is None or fig._cu_middleground_key != middle_key:
            if not fresh:
                canvas.restore_region(fig._cu_background)
            for artist in middle:
                if artist.get_visible():
                    artist.draw(renderer)
            height = fig.bbox.height
            for artist in getattr(fig, "_cu_on_top", []):  # background artists kept over the middle layer
                x0, y0, x1, y1 = artist.get_window_extent(renderer).padded(2).extents
                canvas.restore_region(fig._cu_background, bbox=(max(x0, 0), max(height - y1, 0), x1, height - y0),
                                      xy=(0, 0))  # bbox: pixel rows from the top; xy: where the copy's origin goes
            fig._cu_middleground, fig._cu_middleground_key = canvas.copy_from_bbox(fig.bbox), middle_key
        else:
            canvas.restore_region(fig._cu_middleground)
    elif not fresh:
        canvas.restore_region(fig._cu_background)
    for artist in animated:
        if artist.get_visible():
            artist.draw(renderer)
    return np.asarray(canvas.buffer_rgba())[..., :3]


def figure_to_png(fig: Figure) -> bytes:
    """Render a matplotlib Figure (see :func:`render_rgb`) and encode it as PNG bytes (low compression)."""
    buf = io.BytesIO()
    Image.fromarray(render_rgb(fig)).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render a Figure and return a copy of its pixels, (H, W, 3) uint8 (what the student sees)."""
    return render_rgb(fig).copy()


def animate(fig: Figure, *artists, rarely: bool = False):
    """Mark artists that ``draw`` updates on every state change: they are blitted over a cached background.

    ``rarely=True``: artists that change only when ``fig._cu_middle_key`` changes (see :func:`render_rgb`);
    they are drawn in the order given, over the background and under the other animated artists.
    """
    name = "_cu_middle" if rarely else "_cu_animated"
    if not hasattr(fig, name):
        setattr(fig, name, [])
    for artist in artists:
        artist.set_animated(True)
        getattr(fig, name).append(artist)
    return artists[0] if len(artists) == 1 else artists


def keep_on_top(fig: Figure, *artists) -> None:
    """Background artists (e.g. a legend) that stay over the middle layer of :func:`render_rgb`: their
    boxes are copied back from the cached background after the middle layer is drawn, so nothing of the
    middle layer (e.g. grid lines) shows inside them and they need not be redrawn when it changes."""
    if not hasattr(fig, "_cu_on_top"):
        fig._cu_on_top = []
    fig._cu_on_top.extend(artists)


def prepare(fig: Figure | None, figsize: tuple[float, float], build) -> tuple[Figure, dict]:
    """Build once, update always: return ``(fig, artists)``.

    If ``fig`` was built by the same ``build(fig) -> dict of artists`` it is reused as is (updating artists
    in place with ``set_data`` is several times cheaper than building axes and ticks again); otherwise a
    new Agg Figure of ``figsize`` inches is made and ``build`` lays it out. ``draw`` functions then set every
    artist from the state, so the picture depends only on the state either way.
    """
    if fig is None or getattr(fig, "_cu_build", None) is not build:
        fig = Figure(figsize=figsize, dpi=80)
        FigureCanvasAgg(fig)
        fig._cu_build = build
        fig._cu_artists = build(fig)
    return fig, fig._cu_artists


class Explorer:
    """Base class of the widget views. Subclasses set ``self.controls`` (name -> ipywidgets control) and
    implement ``read_state()`` (controls -> clamped State), ``render(state)`` (State -> Figure) and
    ``describe(state)`` (short text for the status label). Everything else (observing controls, skipping
    redraws when the state did not change, showing errors, the status text) lives here.
    """

    figsize: tuple[float, float] = (9.0, 3.5)

    def __init__(self, title: str = ""):
        self.state = None  # the state drawn last (None before the first draw)
        self.renders = 0  # how many times the picture was redrawn (errors count too)
        self.error: str | None = None  # the last error message, or None
        self.fig: Figure | None = None
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.status = widgets.Label(value="not rendered yet")
        self.status.add_class("cu-status")
        self.error_box = widgets.HTML(value="")
        self.error_box.add_class("cu-error")
        self.title = widgets.HTML(value=f"<b>{html.escape(title)}</b>" if title else "")
        self.caption = widgets.HTML(value="")  # numbers shown as text (text in HTML costs nothing to draw)
        self.caption.add_class("cu-caption")
        self.controls: dict[str, widgets.Widget] = {}
        self._syncing = False

    # -- wiring ----------------------------------------------------------------------------------------------
    def _build(self, controls_box: widgets.Widget, extra: list[widgets.Widget] | None = None) -> None:
        """Observe every control, lay the widget out and draw it once."""
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        children = [self.title, controls_box, self.caption, self.image, *(extra or []), self.status,
                    self.error_box]
        self.widget = widgets.VBox([c for c in children if c is not None])
        self.widget.add_class("cu-explorer")
        self.redraw()

    def _on_change(self, _change) -> None:
        if not self._syncing:
            self.redraw()

    def set_controls(self, **values) -> None:
        """Set several controls at once without a redraw per control (then redraw once)."""
        self._syncing = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
                self._controls_changed()
        finally:
            self._syncing = False
        self.redraw()

    def _controls_changed(self) -> None:
        """Hook: adjust dependent controls (e.g. a dropdown's options) after one control changed."""

    def _sync_controls(self, state) -> None:
        """Write clamped values back into the controls (no redraw is triggered)."""
        self._syncing = True
        try:
            for name, control in self.controls.items():
                if hasattr(state, name):
                    value = getattr(state, name)
                    if control.value != value:
                        control.value = value
        finally:
            self._syncing = False

    # -- one redraw ------------------------------------------------------------------------------------------
    def redraw(self) -> bool:
        """Read the controls; if the state changed, redraw. Returns True when a redraw happened."""
        try:
            state = self.read_state()
        except Exception as exc:  # a bad value typed in by the student (e.g. a kernel)
            self._show_error(exc)
            return True
        self._sync_controls(state)
        if state == self.state and self.error is None:
            return False
        self.state = state
        try:
            self.fig = self.render(state)
            png = figure_to_png(self.fig)
        except Exception as exc:  # usually raised by the student's function: show it in the widget
            self._show_error(exc)
            return True
        self.image.value = png
        self.image.width = str(int(self.fig.get_figwidth() * self.fig.dpi))  # no upscaling (blurry)
        self.caption.value = self.describe_html(state)
        self.error = None
        self.error_box.value = ""
        self.renders += 1
        self.status.value = f"rendered {self.describe(state)} #{self.renders}"
        return True

    def _show_error(self, exc: BaseException) -> None:
        self.renders += 1
        self.error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, StudentCodeError):  # show the student's own frames, not the widget's
            exc = exc.original
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-4))
        self.error_box.value = (
            "<div style='color:#b00020;border:1px solid #b00020;padding:4px'>"
            f"<b>{html.escape(self.error)}</b>"
            f"<details><summary>traceback</summary><pre>{html.escape(tb)}</pre></details></div>"
        )
        self.status.value = f"error #{self.renders}: {self.error}"

    # -- to be provided by subclasses ------------------------------------------------------------------------
    def read_state(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def render(self, state) -> Figure:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self, state) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe_html(self, state) -> str:
        """The caption above the picture (HTML); by default empty."""
        return ""

    # -- display: the instance shows itself when it is the last expression of a cell ---------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def png(self) -> bytes:
        """The PNG bytes currently shown."""
        return self.image.value


def image_axes(fig: Figure, rect, title: str = "", cmap: str = "gray"):
    """An axes without ticks holding one image artist (updated later with :func:`set_image`)."""
    ax = fig.add_axes(rect)
    ax.set_axis_off()
    if title:  # a figure text, not ax.set_title: title placement costs a text layout per tick each draw
        fig.text(rect[0] + rect[2] / 2, min(rect[1] + rect[3] + 0.02, 0.98), title, ha="center", va="bottom",
                 fontsize=9)
    im = animate(fig, ax.imshow(np.zeros((2, 2)), cmap=cmap, interpolation="nearest"))
    return ax, im


def set_image(im, arr: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> None:
    """Show ``arr`` ((H, W) or (H, W, 3)) in the image artist ``im``, resizing its extent to the new shape."""
    arr = np.asarray(arr)
    im.set_data(arr)
    h, w = arr.shape[:2]
    im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
    im.axes.set_xlim(-0.5, w - 0.5)
    im.axes.set_ylim(h - 0.5, -0.5)
    if arr.ndim == 2:
        lo = float(np.min(arr)) if vmin is None else vmin
        hi = float(np.max(arr)) if vmax is None else vmax
        im.set_clim(lo, hi if hi > lo else lo + 1e-12)


class StudentCodeError(Exception):
    """An exception raised inside a function passed to a widget (``conv_fn=`` ...), with that name attached."""

    def __init__(self, name: str, exc: BaseException):
        super().__init__(f"{name} raised {type(exc).__name__}: {exc}")
        self.name, self.original = name, exc


def student_call(name: str, fn, *args, **kwargs):
    """Call a function given to a widget (often the student's own); wrap its errors in StudentCodeError."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        raise StudentCodeError(name, exc) from exc


class torch_single_thread:
    """Context manager: run torch on one thread (tiny tensors: extra threads only wait for each other, which
    on a busy machine makes a 1 ms computation take 100 ms). Restores the previous setting."""

    def __enter__(self):
        import torch

        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self._threads)
        return False
