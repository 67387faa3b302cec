"""The thin view every widget shares: controls -> state -> data, computed once -> pure draw -> PNG + status.

Each widget module has three parts (DEVELOPING.md, "Shared interfaces: Widgets"):
  1. a model: a frozen dataclass ``State`` plus a ``make_state(**values)`` that clamps every value to its
     bounds, and a ``compute(state, <fn>=<reference>, ...) -> dict`` that computes everything shown, calling
     each function under study once through :func:`checked_call` (its :class:`Check` in ``data["checks"]``);
  2. a pure ``draw(state, data, fig=None) -> Figure``: the picture depends only on ``state`` and ``data``
     (passing the previous figure only saves the cost of building a new one); it never calls a function
     under study and keeps nothing on the figure but the artists its layout built (see :func:`prepare`);
  3. a view: a subclass of :class:`Explorer` below that wires ipywidgets controls to the model. The base
     class runs one redraw: ``data = self.compute(state)`` once, then ``draw(state, data, self.fig)``.
     Blitting, where a widget needs the speed, is opt-in: a :class:`~course_utils.widgets._blit.Blit` as
     the view's ``blit`` (see ``_blit.py``).

The picture is rendered to PNG (Agg, no pyplot, no backend needed: importing a widget never changes
matplotlib's backend) and shown in a :class:`~course_utils.widgets._picture.Picture`, so it works the same in
JupyterLab, in a headless test and whatever ``MPLBACKEND`` is. Every redraw also gives the picture its text
alternative, ``alt_text(state, data)`` (what is plotted and the key numbers; each widget writes its own), tied
to the caption (``aria-describedby``) and announced politely to screen readers (a live region that stays in
the page), with the check lines; an error is announced the same way. The picture also fixes the controls
around it for the keyboard and screen readers (names from their labels, disabled sliders out of the Tab
order, arrow keys kept from JupyterLab's shortcuts: see ``_picture.py``). After every redraw the
status label reads e.g. ``"rendered k=7 #3"``: machine-readable text for the browser tests, kept in the page
(class ``cu-status``) but hidden from the student. An exception raised while computing (usually by the
student's own function) is shown once inside the widget, in place of the picture, never lost in a log.

The function under study (``conv_fn=``, ``pool_fn=``, ``size_fn=`` ...; default: the course reference) is
called through :func:`checked_call`: once per redraw, its result checked for type and shape (a wrong one is
one clear :class:`StudentResultError`) and compared with the course reference at the current setting (a
:class:`Check`, shown as one line: "✓ your max pooling (pool_fn) agrees with the reference here").
"""

from __future__ import annotations

import copy
import html
import io
import re
import threading
import traceback
from collections import namedtuple
from typing import NamedTuple

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from course_utils.widgets._blit import Blitter
from course_utils.widgets._picture import Picture


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
    """Render a whole Figure with Agg: (H, W, 3) uint8 pixels (a view that blits uses ``_blit.Blitter``)."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3]


def rgb_to_png(rgb: np.ndarray) -> bytes:
    """(H, W, 3) uint8 pixels as PNG bytes, low compression (fast to encode; the widgets' pictures)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def figure_to_png(fig: Figure) -> bytes:
    """Render a matplotlib Figure (see :func:`render_rgb`) and encode it as PNG bytes (:func:`rgb_to_png`)."""
    return rgb_to_png(render_rgb(fig))


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render a Figure and return a copy of its pixels, (H, W, 3) uint8 (what the student sees)."""
    return render_rgb(fig).copy()


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


def artists_of(fig: Figure) -> dict:
    """The artists the layout of ``fig`` built (see :func:`prepare`), by name."""
    return fig._cu_artists


class Explorer:
    """Base class of the widget views. Subclasses set ``self.controls`` (name -> ipywidgets control) and
    implement ``read_state()`` (controls -> clamped State),
    ``describe(state, data)`` (short text for the status label), ``compute(state) -> data`` (everything
    shown, each function under study called once; its Checks in ``data["checks"]``),
    ``alt_text(state, data)`` (the picture's text alternative: what is plotted and the key numbers; the
    default, title and caption, says too little for most pictures) and set ``draw`` to
    their module's pure ``draw(state, data, fig=None) -> Figure``. Everything else (observing controls,
    skipping redraws when the state did not change, computing once per redraw, showing errors, the status
    text, the picture's alt and announcement, blitting when ``blit`` is set) lives here.
    """

    figsize: tuple[float, float] = (9.0, 3.5)
    draw = None  # the module's draw(state, data, fig=None) -> Figure (as a staticmethod)
    blit = None  # a _blit.Blit to blit the picture (opt-in), or None to draw it whole

    def __init__(self, title: str = ""):
        self.state = None  # the state drawn last (None before the first draw)
        self.renders = 0  # how many times the picture was redrawn (errors count too)
        self.error: str | None = None  # the last error message, or None
        self.fig: Figure | None = None
        self.data = None  # what compute() returned for self.state
        self._blitter = None if self.blit is None else Blitter(self.blit)
        # the picture, its text alternative and the polite live region that announces each redraw; it also
        # names the controls around it and keeps their keys from JupyterLab's shortcuts (see _picture.py)
        self.image = Picture(live=True, described_by=".cu-caption .widget-html-content", fix_controls=True,
                             layout=widgets.Layout(max_width="100%"))
        self.image.add_class("cu-image")
        self.title_text = title
        # for the browser tests, not for the student: in the page (class cu-status) but never displayed
        self.status = widgets.Label(value="not rendered yet", layout=widgets.Layout(display="none"))
        self.status.add_class("cu-status")
        self.error_box = widgets.HTML(value="")
        self.error_box.add_class("cu-error")
        self.title = widgets.HTML(value=f"<b>{html.escape(title)}</b>" if title else "")
        self.caption = widgets.HTML(value="")  # numbers shown as text (text in HTML costs nothing to draw)
        self.caption.add_class("cu-caption")
        self.checks: list[Check] = []  # one Check per function under study (none: the reference)
        self.check_box = widgets.HTML(value="")  # those checks, one line each
        self.check_box.add_class("cu-check")
        self.controls: dict[str, widgets.Widget] = {}
        self._syncing = False

    # -- wiring ----------------------------------------------------------------------------------------------
    def _build(self, controls_box: widgets.Widget, extra: list[widgets.Widget] | None = None) -> None:
        """Observe every control, lay the widget out and draw it once."""
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        children = [self.title, controls_box, self.caption, self.check_box, self.image, *(extra or []),
                    self.status, self.error_box]
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
        self.checks = []
        try:
            data = self.compute(state)  # the one call of each function under study
            self.checks = list(data.get("checks", ()))
            self.fig = type(self).draw(state, data, self.fig)
            png = self.png_of(state, data)
            alt = self.alt_text(state, data)
        except Exception as exc:  # usually raised by the student's function: show it in the widget
            self._show_error(exc)
            return True
        self.data = data
        with self.image.hold_sync():  # one message: the picture, its alt and what is announced
            self.image.png = png
            self.image.width = int(self.fig.get_figwidth() * self.fig.dpi)  # no upscaling (blurry)
            self.image.alt = alt
            self.image.announcement = " ".join([alt, *(check.text() for check in self.checks)])
        self.caption.value = self.describe_html(state, data)
        self.check_box.value = checks_html(self.checks)
        self.error = None
        self.error_box.value = ""
        self.renders += 1
        self.status.value = f"rendered {self.describe(state, data)} #{self.renders}"
        self.after_redraw(state, data)
        return True

    def png_of(self, state, data) -> bytes:
        """The PNG bytes of ``self.fig`` as drawn for ``state`` (blitted when the view has a ``blit``)."""
        if self._blitter is None:
            rgb = render_rgb(self.fig)
        else:
            rgb = self._blitter.render(self.fig, artists_of(self.fig), state, data)
        return rgb_to_png(rgb)

    def _show_error(self, exc: BaseException) -> None:
        """Show the error once, in place of the picture: the old picture, caption and checks would be stale."""
        self.renders += 1
        self.caption.value = self.check_box.value = ""
        self.checks, self.data = [], None
        if isinstance(exc, (StudentCodeError, StudentResultError)):  # the message names the function
            self.error = str(exc)
        else:
            self.error = f"{type(exc).__name__}: {exc}"
        details = ""
        if not isinstance(exc, StudentResultError):  # a wrong result: the widget's frames would not help
            if isinstance(exc, StudentCodeError):  # show the student's own frames, not the widget's
                exc = exc.original
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-4))
            details = f"<details><summary>traceback</summary><pre>{html.escape(tb)}</pre></details>"
        self.error_box.value = (
            "<div style='color:#b00020;border:1px solid #b00020;padding:4px'>"
            f"<b>{html.escape(self.error)}</b>{details}</div>"
        )
        with self.image.hold_sync():  # no stale picture; the error is announced (and shown below)
            self.image.png = b""
            self.image.alt = ""
            self.image.announcement = f"Error: {self.error}"
        self.status.value = f"error #{self.renders}: {self.error}"

    # -- to be provided by subclasses ------------------------------------------------------------------------
    def read_state(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self, state) -> dict:  # pragma: no cover - abstract
        """State -> everything draw shows (a dict), each function under study called once through
        :func:`checked_call`, its Check in ``data["checks"]``."""
        raise NotImplementedError

    def describe(self, state, data) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe_html(self, state, data) -> str:
        """The caption above the picture (HTML); by default empty."""
        return ""

    def alt_text(self, state, data) -> str:
        """The picture's text alternative: what is plotted and the key numbers, in a sentence or two (read by
        screen readers, announced after each redraw). By default the title and the caption as plain text;
        widgets say what their panels show."""
        caption = html_to_text(self.describe_html(state, data))
        return ". ".join(part for part in (self.title_text, caption) if part) or self.describe(state, data)

    def after_redraw(self, state, data) -> None:
        """Hook: update secondary views (e.g. a click map) once the picture and status text are sent, so that
        their work does not delay the picture the student waits for."""

    # -- display: the instance shows itself when it is the last expression of a cell ---------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def png(self) -> bytes:
        """The PNG bytes currently shown (empty while an error is shown)."""
        return self.image.png

    def alt(self) -> str:
        """The text alternative of the picture currently shown."""
        return self.image.alt


def html_to_text(markup: str) -> str:
    """Caption HTML as one line of plain text (tags dropped, entities decoded, table cells spaced)."""
    text = re.sub(r"<br\s*/?>|</t[dh]>|</div>", " ", markup)
    text = re.sub(r"</tr>", "; ", text)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"\s+", " ", text).replace(" ;", ";").strip()


def image_axes(fig: Figure, rect, title: str = "", cmap: str = "gray"):
    """An axes without ticks holding one image artist (updated later with :func:`set_image`).

    ``rect`` (figure fractions) is the panel the image may fill: :func:`set_image` draws every image pixel
    as a square of the same whole number of screen pixels, as large as fits, at the top of the panel (see
    :func:`fit_whole_pixels`)."""
    ax = fig.add_axes(rect)
    ax._cu_panel = tuple(rect)
    ax.set_axis_off()
    if title:  # a figure text, not ax.set_title: title placement costs a text layout per tick each draw
        fig.text(rect[0] + rect[2] / 2, min(rect[1] + rect[3] + 0.02, 0.98), title, ha="center", va="bottom",
                 fontsize=9)
    im = ax.imshow(np.zeros((2, 2)), cmap=cmap, interpolation="nearest")
    return ax, im


MIN_WHOLE_SCALE = 4  # image pixels shown at least this large are drawn at a whole number of screen pixels


def fit_whole_pixels(ax, h: int, w: int) -> None:
    """Size the axes of an (h, w) image so that each image pixel covers the same whole number of screen
    pixels (nearest-neighbour upscaling by an integer factor: no pixel drawn wider than its neighbour, no
    thin line lost), as large as fits the panel given to :func:`image_axes`, centred at its top. An image
    that would be shown less than MIN_WHOLE_SCALE times enlarged (rounding down would shrink it by more than
    a fifth) fills its panel as ``imshow`` does."""
    panel = getattr(ax, "_cu_panel", None)
    if panel is None:
        return
    W, H = ax.figure.bbox.width, ax.figure.bbox.height
    x0, y0, pw, ph = panel[0] * W, panel[1] * H, panel[2] * W, panel[3] * H
    scale = int(min(pw / w, ph / h))
    if scale < MIN_WHOLE_SCALE:
        ax.set_position(panel)
        return
    left, bottom = round(x0 + (pw - scale * w) / 2), round(y0 + ph - scale * h)
    ax.set_position((left / W, bottom / H, scale * w / W, scale * h / H))


def set_image(im, arr: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> None:
    """Show ``arr`` ((H, W) or (H, W, 3)) in the image artist ``im``, resizing its extent to the new shape."""
    arr = np.asarray(arr)
    im.set_data(arr)
    h, w = arr.shape[:2]
    im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
    im.axes.set_xlim(-0.5, w - 0.5)
    im.axes.set_ylim(h - 0.5, -0.5)
    fit_whole_pixels(im.axes, h, w)
    if arr.ndim == 2:
        lo = float(np.min(arr)) if vmin is None else vmin
        hi = float(np.max(arr)) if vmax is None else vmax
        im.set_clim(lo, hi if hi > lo else lo + 1e-12)


_warmed: set[str] = set()


def warm_up(name: str, fn) -> None:
    """Run ``fn()`` once per process, in a background (daemon) thread: it fills caches that a first visit
    would otherwise wait for (e.g. the photos of the convolution explorer: one of them needs scikit-learn,
    half a second to import). Only for NumPy work on course data: never the student's function (it is called
    once per redraw, where its errors are shown), nor matplotlib or torch settings (not thread-safe). An
    error is ignored here: the redraw that needs the value computes it again and shows the error."""
    if name in _warmed:
        return
    _warmed.add(name)

    def run():
        try:
            fn()
        except Exception:  # shown by the redraw that needs it
            pass

    threading.Thread(target=run, name=f"course-utils-warm-{name}", daemon=True).start()


# -- the function under study: called once, its result checked, then compared with the course reference ------
class StudentCodeError(Exception):
    """An exception raised inside a function passed to a widget (``conv_fn=`` ...), with that name attached."""

    def __init__(self, name: str, exc: BaseException):
        super().__init__(f"{name} raised {type(exc).__name__}: {exc}")
        self.name, self.original = name, exc


class StudentResultError(ValueError):
    """A function passed to a widget returned the wrong type or shape. The message names the function, what
    it returned and what was expected: ``conv_fn returned a tuple of 2; expected one array of shape
    (1, 1, 6, 6)``."""


def student_call(name: str, fn, *args, **kwargs):
    """Call a function given to a widget (often the student's own); wrap its errors in StudentCodeError."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        raise StudentCodeError(name, exc) from exc


class Check(NamedTuple):
    """How the function given as ``name`` compares with the course reference at the widget's current setting.

    ``what``: what it computes, in words ("max pooling"); ``detail``: None when it agrees, otherwise how it
    differs ("max abs difference 0.42", "4 instead of 3").
    """

    name: str
    what: str
    detail: str | None

    @property
    def agrees(self) -> bool:
        return self.detail is None

    def text(self) -> str:
        """One line: "✓ your max pooling (pool_fn) agrees with the reference here" or "✗ ... differs ..."."""
        if self.agrees:
            return f"✓ your {self.what} ({self.name}) agrees with the reference here"
        return f"✗ your {self.what} ({self.name}) differs from the reference here ({self.detail})"


def checks_html(checks) -> str:
    """The checks as HTML, one line each (green when it agrees, red and bold when it differs)."""
    lines = []
    for check in checks:
        text = html.escape(check.text())
        lines.append(f"<div style='color:#1b7a35'>{text}</div>" if check.agrees else
                     f"<div style='color:#b00020'><b>{text}</b></div>")
    return "".join(lines)


def _kind(value) -> str:
    """A returned value in words, for messages: 'None', 'a tuple of 2', 'an array of shape (3, 3)', 'a float
    (3.0)'."""
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    name = type(value).__name__
    article = "an" if name[0] in "aeiou" else "a"
    if isinstance(value, (bool, int, float, np.number)):
        return f"{article} {name} ({value})"
    return f"{article} {name}"


class Expect:
    """What a function under study must return. ``read(name, got)`` checks the type and shape and returns
    the value in a standard form (or raises :class:`StudentResultError`); ``differ(mine, ref)`` returns None
    when the two agree, otherwise a few words on how they differ."""

    def read(self, name: str, got):  # pragma: no cover - abstract
        raise NotImplementedError

    def differ(self, mine, ref) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


class OneArray(Expect):
    """One array of ``shape`` (a NumPy array, or anything ``np.asarray`` reads, e.g. a torch tensor), read as
    floats of its own precision (ints as float64). ``given``: the inputs, quoted when the shape is wrong
    ("for x of shape (1, 1, 48, 48)"). Agreement allows for that precision (float32 is not a mistake)."""

    def __init__(self, shape: tuple[int, ...], given: str = ""):
        self.shape, self.given = tuple(shape), given

    def read(self, name: str, got) -> np.ndarray:
        expected = f"expected one array of shape {self.shape}"
        if isinstance(got, (tuple, list)):
            hint = ""
            if isinstance(got, tuple) and len(got) >= 2 and getattr(got[0], "shape", None) == self.shape:
                hint = " (return out alone, not (out, cache))"
            raise StudentResultError(f"{name} returned {_kind(got)}; {expected}{hint}")
        if not (isinstance(got, np.ndarray) or hasattr(got, "__array__")):
            hint = " (is a return statement missing?)" if got is None else ""
            raise StudentResultError(f"{name} returned {_kind(got)}; {expected}{hint}")
        try:
            arr = np.asarray(got)
        except Exception as exc:  # e.g. a torch tensor that requires grad
            raise StudentResultError(f"{name} returned {_kind(got)} that NumPy cannot read ({exc}); "
                                     f"{expected}") from None
        if arr.dtype.kind not in "biuf":
            raise StudentResultError(f"{name} returned an array of {arr.dtype} values; {expected} of numbers")
        if arr.shape != self.shape:
            raise StudentResultError(f"{name} returned an array of shape {arr.shape}; {expected}{self.given}")
        return arr if arr.dtype.kind == "f" else arr.astype(np.float64)

    def differ(self, mine: np.ndarray, ref: np.ndarray) -> str | None:
        if not np.isfinite(mine).all():
            return "your output holds NaN or inf"
        diff = np.abs(mine.astype(np.float64) - ref)
        scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
        if diff.size == 0 or diff.max() <= tolerance(mine.dtype) * scale:
            return None
        return f"max abs difference {float(diff.max()):.3g}"


def tolerance(dtype) -> float:
    """Relative tolerance for results computed in floats of ``dtype``: 1e-6 for float64, ~1e-5 for float32."""
    return max(1e-6, 100 * float(np.finfo(dtype).eps))


class OneInt(Expect):
    """One int (Python or NumPy; not a bool). ``float_hint``: added when a float comes back."""

    def __init__(self, float_hint: str = ""):
        self.float_hint = float_hint

    def read(self, name: str, got) -> int:
        if isinstance(got, (int, np.integer)) and not isinstance(got, (bool, np.bool_)):
            return int(got)
        hint = f" ({self.float_hint})" if self.float_hint and isinstance(got, (float, np.floating)) else ""
        hint = " (is a return statement missing?)" if got is None else hint
        raise StudentResultError(f"{name} returned {_kind(got)}; expected an int{hint}")

    def differ(self, mine: int, ref: int) -> str | None:
        return None if mine == ref else f"{mine:,} instead of {ref:,}"


class Records(Expect):
    """A list of ``n`` records, one per ``item`` (e.g. per layer), with the number fields ``fields``
    (attributes such as ``.size``, or plain tuples in that order); read as namedtuples."""

    def __init__(self, n: int, fields: tuple[str, ...], item: str = "layer"):
        self.n, self.fields, self.item = n, tuple(fields), item
        self.record = namedtuple("Record", self.fields)

    def read(self, name: str, got) -> list:
        attrs = ", ".join(f".{f}" for f in self.fields)
        expected = f"expected a list of {self.n} records with {attrs} (one per {self.item})"
        if isinstance(got, (str, bytes)) or not isinstance(got, (list, tuple)) or len(got) != self.n:
            raise StudentResultError(f"{name} returned {_kind(got)}; {expected}")
        records = []
        for i, item in enumerate(got):
            if all(hasattr(item, f) for f in self.fields):
                values = [getattr(item, f) for f in self.fields]
            elif isinstance(item, (tuple, list)) and len(item) == len(self.fields):
                values = list(item)
            else:
                raise StudentResultError(f"{name} returned a list whose item {i} is {_kind(item)}; {expected}")
            for field, v in zip(self.fields, values):
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)) \
                        or not np.isfinite(v):
                    raise StudentResultError(f"{name} returned a list whose item {i} has {field} = {v!r}; "
                                             f"{expected}, each a finite number")
            records.append(self.record(*(v.item() if isinstance(v, np.number) else v for v in values)))
        return records

    def differ(self, mine: list, ref: list) -> str | None:
        for i, (a, b) in enumerate(zip(mine, ref)):
            for field in self.fields:
                x, y = getattr(a, field), getattr(b, field)
                if abs(x - y) > 1e-9 * max(1.0, abs(y)):
                    return f"{self.item} {i + 1}: {field} {x:g} instead of {y:g}"
        return None


def checked_call(name: str, fn, reference, *args, expect: Expect, what: str, **kwargs):
    """Call the function under study once and compare its result with the course reference's.

    ``fn``: the function given to the widget as ``name`` (e.g. ``pool_fn``); the reference itself (the
    widgets' default) or None shows the reference alone (nothing to check). ``expect``: the result's type
    and shape (:class:`OneArray`, :class:`OneInt`, :class:`Records`). ``what``: what it computes, in words.
    Returns ``(result, check)``: the function's own result, read by ``expect``, and a :class:`Check` (None
    for the reference alone). Raises StudentCodeError
    when ``fn`` raises, StudentResultError when its result has the wrong type or shape. The function gets
    copies of the arguments: changing them in place cannot change what the reference or the widget sees.
    """
    if fn is None or fn is reference:
        return expect.read(name, reference(*args, **kwargs)), None
    mine = expect.read(name, student_call(name, fn, *copy.deepcopy(args), **copy.deepcopy(kwargs)))
    ref = expect.read(f"the reference for {name}", reference(*args, **kwargs))
    return mine, Check(name, what, expect.differ(mine, ref))


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
