"""Text alternatives for the course's figures: every matplotlib figure a notebook shows says what it plots.

JupyterLab (4.6) shows an ``image/png`` output as an ``<img>`` without ``alt``, and nbconvert's HTML export
puts "No description has been provided for this image" on it. Both prefer a ``text/html`` output to an
``image/png`` one, so in a notebook a figure is shown as ``<img src="data:image/png;base64,..." alt="...">``
(``figure_html``): the picture the inline backend would show, with a text alternative. The alternative is the
figure's own (``set_alt``, where the story of the data needs words) or is generated from what the figure
draws (``describe``): per panel its title, the axis labels, each labelled line with its first and last values,
bars with their values, images with their size, and the texts drawn on it.

Importing ``course_utils`` inside IPython calls ``install()`` (it imports no matplotlib and never changes
its backend): it registers ``figure_html`` as the figures' ``text/html`` display and removes their
``image/png`` one (a notebook stores each figure once). Setting the inline backend up (at the first pyplot
import, or ``%matplotlib inline``) resets the figures' displays: they are set again right after that, and
before and after each cell.

>>> from matplotlib.figure import Figure
>>> fig = Figure()
>>> ax = fig.add_subplot()
>>> _ = ax.plot([1, 2, 3], [0.5, 0.9, 0.98], label="test accuracy")
>>> _ = ax.set(title="training", xlabel="epoch", ylabel="accuracy")
>>> describe(fig)
'training: accuracy vs epoch; test accuracy from 0.5 to 0.98 (epoch 1 to 3).'
>>> set_alt(fig, "test accuracy climbs to 0.98 in 3 epochs")
>>> alt_of(fig)
'test accuracy climbs to 0.98 in 3 epochs'
"""

from __future__ import annotations

import base64
import html

import numpy as np

#: how many items (lines, bars, panels) a description lists before it says "and N more"
MAX_ITEMS = 8
_ALT = "_course_alt"


def set_alt(fig, text: str) -> None:
    """Give ``fig`` its own text alternative (one or two sentences: what is plotted, the key numbers).

    Raises TypeError if ``text`` is not a non-empty string."""
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"set_alt: text must be a non-empty string, got {text!r}")
    setattr(fig, _ALT, " ".join(text.split()))


def alt_of(fig) -> str:
    """The figure's text alternative: its own (``set_alt``), else ``describe(fig)``."""
    return getattr(fig, _ALT, None) or describe(fig)


def number(value) -> str:
    """A number in a text alternative: whole numbers in full ('1,327,104'), others to 3 significant digits
    ('0.998', '-0.52', '5.12e-05'); 'NaN', 'inf'."""
    value = float(value)
    if value != value:
        return "NaN"
    if not np.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"


def _float(text: str) -> float | None:
    try:
        return float(text.replace("\u2212", "-"))
    except ValueError:
        return None


def _listed(items: list[str]) -> str:
    shown = items[:MAX_ITEMS]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _visible_label(artist) -> str | None:
    label = artist.get_label()
    return None if not label or label.startswith("_") else label


def _lines(ax) -> list[str]:
    from matplotlib.container import ErrorbarContainer

    # an errorbar's label is its container's; its caps and bars are not lines of their own
    labels, parts_of_errorbars = {}, set()
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):
            data_line, caps, _ = container.lines
            labels[data_line] = _visible_label(container)
            parts_of_errorbars.update(caps)
    out, unlabelled = [], 0
    xlabel = ax.get_xlabel() or "x"
    for line in ax.get_lines():
        if line in parts_of_errorbars:
            continue
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        label = labels[line] if line in labels else _visible_label(line)
        if label is None or y.size == 0:
            unlabelled += y.size > 0 and label is None
            continue
        if y.size == 1 or np.all(y == y[0]) and np.unique(x).size > 1 and y.size == 2:
            out.append(f"{label} at {number(y[0])}")
            continue
        if np.all(x == x[0]):  # a vertical line
            out.append(f"{label} at {xlabel} {number(x[0])}")
            continue
        finite = y[np.isfinite(y)]
        text = f"{label} from {number(y[0])} to {number(y[-1])} ({xlabel} {number(x[0])} to {number(x[-1])})"
        if finite.size and (finite.min() < min(y[0], y[-1]) or finite.max() > max(y[0], y[-1])):
            text += f", lowest {number(finite.min())}, highest {number(finite.max())}"
        out.append(text)
    if unlabelled:
        out.append(f"{unlabelled} unlabelled line{'s' * (unlabelled > 1)}")
    return out


def _bars(ax) -> list[str]:
    from matplotlib.container import BarContainer

    out = []
    ticks = [(t, " ".join(lbl.get_text().split())) for t, lbl in zip(ax.get_xticks(), ax.get_xticklabels())]
    for container in ax.containers:
        if not isinstance(container, BarContainer):
            continue
        values = []
        for bar in container.patches:  # named by the tick label under it (grouped bars: the nearest tick)
            centre = bar.get_x() + bar.get_width() / 2
            near = [name for t, name in ticks if name and abs(t - centre) <= 0.5]
            name = near[0] if len(near) == 1 else ""
            values.append(f"{name} {number(bar.get_height())}" if name else number(bar.get_height()))
        label = _visible_label(container)
        out.append(f"bars{' ' + label if label else ''}: {_listed(values)}")
    return out


def _panel(ax) -> str:
    """One axes: 'title: ylabel vs xlabel; lines; bars; images; texts'."""
    parts = []
    title = " ".join(t for t in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if t)
    xlabel, ylabel = ax.get_xlabel(), ax.get_ylabel()
    if ylabel or xlabel:
        parts.append(f"{ylabel or 'values'} vs {xlabel or 'x'}")
    parts += _lines(ax) + _bars(ax)
    for im in ax.get_images():
        shape = np.shape(im.get_array())
        parts.append(f"image {shape[0]}x{shape[1]}" + (" in colour" if len(shape) == 3 else ""))
    from matplotlib.collections import PathCollection

    for c in ax.collections:
        if type(c) is PathCollection and len(c.get_offsets()) > 0:  # scatter plots (errorbars, fills: no)
            label = _visible_label(c)
            parts.append(f"{len(c.get_offsets())} points" + (f" ({label})" if label else ""))
    texts = [" ".join(t.get_text().split()) for t in ax.texts if t.get_visible() and t.get_text().strip()]
    numbers = [_float(t) for t in texts]
    if len(texts) > 4 and None not in numbers:
        parts.append(f"{len(texts)} values written on it, from {number(min(numbers))} to {number(max(numbers))}")
    elif texts:
        parts.append("labels " + _listed(texts))
    body = "; ".join(parts)
    title = " ".join(title.split())
    return f"{title}: {body}" if title and body else title or body


def describe(fig) -> str:
    """A text alternative generated from what ``fig`` draws (see the module docstring): the figure's title,
    then each panel's; panels that are only an image are listed by their titles. Never empty."""
    suptitle = getattr(fig, "_suptitle", None)
    head = " ".join(suptitle.get_text().split()) if suptitle is not None and suptitle.get_text() else ""
    panels, image_titles, image_shapes = [], [], set()
    for ax in fig.get_axes():
        if not ax.get_visible() or not (ax.has_data() or ax.get_title()):
            continue
        only_image = ax.get_images() and not ax.get_lines() and not ax.containers and not ax.texts
        if only_image and not ax.get_xlabel():
            image_titles.append(" ".join(ax.get_title().split()) or "untitled")
            image_shapes.add(np.shape(ax.get_images()[0].get_array())[:2])
            continue
        text = _panel(ax)
        if text:
            panels.append(text)
    if image_titles:
        size = f" of {'x'.join(map(str, next(iter(image_shapes))))} pixels" if len(image_shapes) == 1 else ""
        n = len(image_titles)
        titled = [t for t in image_titles if t != "untitled"]
        panels.insert(0, f"{n} image{'s' * (n > 1)}{size}" + (": " + _listed(image_titles) if titled else ""))
    text = "; ".join(p for p in [head] if p)
    body = ". ".join(panels)
    text = f"{text}. {body}" if text and body else text or body
    return (text or "An empty figure") + ("" if text.endswith(".") else ".")


def figure_html(fig) -> str:
    """``fig`` as the inline backend renders it (PNG, tight bounding box), in an ``<img>`` with its text
    alternative (``alt_of``)."""
    from IPython.core.pylabtools import print_figure

    data = print_figure(fig, "png", bbox_inches="tight")
    if not data:  # a figure without axes: IPython draws nothing
        return ""
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt_of(fig), quote=True)}"/>'


FIGURE = "matplotlib.figure.Figure"
INLINE_BACKEND = "matplotlib_inline.backend_inline"


def _ensure_formatters(shell) -> None:
    """The figures' displays: ``figure_html`` as their HTML, no PNG (by name: matplotlib is not imported)."""
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type_by_name(*FIGURE.rsplit(".", 1), figure_html)
    formatters["image/png"].pop(FIGURE, None)


class _AfterInlineBackend:
    """An import hook (first on ``sys.meta_path``, used once): right after the inline backend's module has run,
    which sets the figures' displays up (at the first pyplot import, maybe in the cell that shows a figure),
    sets ours again."""

    def __init__(self, shell):
        self.shell = shell

    def find_spec(self, name, path=None, target=None):
        import importlib.util
        import sys

        if name != INLINE_BACKEND:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def run_then_ensure(module):
            run(module)
            _ensure_formatters(self.shell)

        spec.loader.exec_module = run_then_ensure
        return spec

    def invalidate_caches(self):
        pass


def install(shell=None) -> bool:
    """Show figures with their text alternative in the IPython ``shell`` (default: the running one).

    Returns False outside IPython. Idempotent. Imports nothing heavy: the displays are registered by name, and
    set again after the inline backend is set up (``_AfterInlineBackend``), before each cell and after it
    (``%matplotlib inline`` resets them too)."""
    import sys

    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    _ensure_formatters(shell)
    if not getattr(shell, "_course_alt_text", False):
        if INLINE_BACKEND not in sys.modules:
            sys.meta_path.insert(0, _AfterInlineBackend(shell))
        # before the inline backend shows the cell's figures: its own post_execute callback comes after this one
        for event in ("pre_run_cell", "post_execute"):
            shell.events.register(event, lambda *_: _ensure_formatters(shell))
        shell._course_alt_text = True
    return True
