"""Text alternatives for the course's figures: every matplotlib figure a notebook shows says what it plots.

JupyterLab (4.6) shows an ``image/png`` output as an ``<img>`` without ``alt``, and nbconvert's HTML export
puts "No description has been provided for this image" on it. Both prefer a ``text/html`` output to an
``image/png`` one, so in a notebook a figure is shown as ``<img src="data:image/png;base64,..." alt="...">``
(``figure_html``): the picture the inline backend would show, with a text alternative. JupyterLab keeps the
``<img>``, its picture and its ``alt`` when it sanitizes the output of an untrusted notebook too.

The alternative is the figure's own (``set_alt``, where the story of the data needs words) or is generated from
what the figure draws (``describe``): the figure's title, then per panel its title, what is plotted against what
(and over which range), each labelled line with its first and last values (lowest and highest when it dips or
peaks in between), reference lines (``axhline``/``axvline``) with their position, bars with their names and
heights, images with their size (the range of values where a colour bar reads them), numbers written on a
grid (a kernel, a filter) row by row, and the other texts drawn on it. Consecutive panels that only show an
image are listed together by their titles. ``number`` formats every number of an alternative (the widgets'
too).

Lines told apart by colour alone are not enough: give them a line style or a marker too, and label them where
they end (``label_lines``): a reader then needs neither the legend nor the colours.

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
'training: accuracy vs epoch 1 to 3; test accuracy from 0.5 to 0.98.'
>>> set_alt(fig, "test accuracy climbs to 0.98 in 3 epochs")
>>> alt_of(fig)
'test accuracy climbs to 0.98 in 3 epochs'
"""

from __future__ import annotations

import base64
import html

import numpy as np

#: how many items (lines, bars, panels) a description lists before it says "and N more"
MAX_ITEMS = 10
#: the most numbers written on a grid that a description lists row by row (more: their range)
MAX_GRID = 36
_ALT = "_course_alt"
#: the ``gid`` of the labels ``label_lines`` writes (a description skips them: each line has its own words)
DIRECT_LABEL = "course_utils.alt_text.direct_label"


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


def label_lines(ax, *, gap: float = 0.07, fontsize: float = 8) -> list:
    """Label each labelled line of ``ax`` where it ends: its label just right of the axes, at the height of the
    line's last point, joined to that point by a thin line in the line's colour and style (labels closer than
    ``gap``, a fraction of the axes' height, are moved apart); a vertical line (``axvline``) at its top. Call
    it once the lines and the axes' limits are set, instead of a legend; leave room with ``fig.tight_layout()``.
    Returns the labels (``Annotation``s, ``gid=DIRECT_LABEL``: ``describe`` skips them, each line is described
    with its own label)."""
    ends, labels = [], []
    ax.get_xlim(), ax.get_ylim()  # the view limits, autoscaled now: the labels' heights depend on them
    to_axes = ax.transAxes.inverted()
    container_labels, _ = _errorbars(ax)
    for line in ax.get_lines():
        label = container_labels[line] if line in container_labels else _visible_label(line)
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        ok = np.isfinite(x) & np.isfinite(y)
        if label is None or not ok.any():
            continue
        if line.get_transform() == ax.get_xaxis_transform():  # a vertical line: its label at its top
            labels.append(ax.annotate(label, xy=(x[ok][0], 1), xycoords=line.get_transform(), xytext=(3, -3),
                                      textcoords="offset points", ha="left", va="top", fontsize=fontsize,
                                      gid=DIRECT_LABEL))
            continue
        end = (x[ok][-1], y[ok][-1])
        height = to_axes.transform(line.get_transform().transform(end))[1]
        ends.append([float(np.clip(height, 0, 1)), line, end, label])
    ends.sort(key=lambda item: item[0])
    for below, above in zip(ends, ends[1:]):  # upwards, then back down from the top: at least `gap` apart
        above[0] = max(above[0], below[0] + gap)
    if ends and ends[-1][0] > 1:
        ends[-1][0] = 1.0
        for above, below in zip(ends[::-1], ends[-2::-1]):
            below[0] = min(below[0], above[0] - gap)
    return [
        ax.annotate(label, xy=end, xycoords=line.get_transform(), xytext=(1.03, height), textcoords="axes fraction",
                    va="center", ha="left", fontsize=fontsize, annotation_clip=False, gid=DIRECT_LABEL,
                    arrowprops=dict(arrowstyle="-", color=line.get_color(), linestyle=line.get_linestyle(), lw=0.8,
                                    shrinkA=1, shrinkB=2))
        for height, line, end, label in ends
    ] + labels


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


def _words(text: str, sep: str = ", ") -> str:
    """A title's lines as one phrase: 'square\\ndistance 0.1' -> 'square, distance 0.1' (``sep`` between lines
    but after punctuation, where a space is enough)."""
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    out = ""
    for line in lines:
        out += ("" if not out else " " if out[-1] in ":;,.(" else sep) + line
    return out


def _mentions(label: str, value: str) -> bool:
    """Whether ``label`` already says ``value`` ('best loss (epoch 16)' says 16)."""
    return value in label.replace("(", " ").replace(")", " ").replace(",", " ").split()


def _axis_label(ax, which: str) -> str:
    """The axes' x or y label, or that of an axes it shares the axis with (``sharey=True`` labels one)."""
    label = getattr(ax, f"get_{which}label")()
    if not label:
        shared = getattr(ax, f"get_shared_{which}_axes")().get_siblings(ax)
        label = next((a for a in (getattr(s, f"get_{which}label")() for s in shared) if a), "")
    return _words(label, " ")


def _tick_names(ax) -> dict[float, str]:
    """x ticks that carry words ('none', '2x2', 'conv1'), by position; empty when the ticks are numbers."""
    names = {}
    for tick, label in zip(ax.get_xticks(), ax.get_xticklabels()):
        text = _words(label.get_text(), " ")
        if text and _float(text) is None:
            names[float(tick)] = text
    return names


def _at_x(ax, value: float, names: dict[float, str]) -> str:
    return next((name for tick, name in names.items() if np.isclose(tick, value)), None) or number(value)


def _is_reference(ax, line) -> bool:
    """An ``axhline``/``axvline``: drawn in the axes' own coordinates along one axis."""
    return line.get_transform() in (ax.get_xaxis_transform(), ax.get_yaxis_transform())


def _errorbars(ax) -> tuple[dict, set]:
    """An errorbar's label is its container's ({data line: label}); its caps are not lines of their own."""
    from matplotlib.container import ErrorbarContainer

    labels, caps = {}, set()
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):
            data_line, its_caps, _ = container.lines
            labels[data_line] = _visible_label(container)
            caps.update(its_caps)
    return labels, caps


def _lines(ax, share: bool) -> tuple[list[str], str]:
    """One phrase per labelled line, and the x range they share ('1 to 6'; '' when they differ, or without
    ``share``: then each line says its own)."""
    labels, parts_of_errorbars = _errorbars(ax)
    xlabel, names = _axis_label(ax, "x") or "x", _tick_names(ax)
    series, reference, unlabelled = [], [], 0
    for line in ax.get_lines():
        if line in parts_of_errorbars:
            continue
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        label = labels[line] if line in labels else _visible_label(line)
        if label is None or y.size == 0:
            unlabelled += y.size > 0 and label is None
            continue
        if _is_reference(ax, line) or y.size == 1:
            vertical = line.get_transform() == ax.get_xaxis_transform() or (y.size > 1 and np.all(x == x[0]))
            where = f"{xlabel} {_at_x(ax, x[0], names)}" if vertical else number(y[0])
            reference.append(label if _mentions(label, where.split()[-1]) else f"{label} at {where}")
            continue
        finite = y[np.isfinite(y)]
        if finite.size and np.all(finite == finite[0]):
            text = f"{label} flat at {number(finite[0])}"
        else:
            text = f"{label} from {number(y[0])} to {number(y[-1])}"
            if finite.size and (finite.min() < min(y[0], y[-1]) or finite.max() > max(y[0], y[-1])):
                text += f", lowest {number(finite.min())}, highest {number(finite.max())}"
        series.append((text, (_at_x(ax, x[0], names), _at_x(ax, x[-1], names))))
    ranges = {r for _, r in series}
    shared = " to ".join(ranges.pop()) if share and len(ranges) == 1 else ""
    out = [text if shared else f"{text} ({xlabel} {r[0]} to {r[1]})" for text, r in series] + reference
    if unlabelled:
        out.append(f"{unlabelled} unlabelled line{'s' * (unlabelled > 1)}")
    return out, shared


def _bar_spans(ax) -> list[tuple[float, float]]:
    from matplotlib.container import BarContainer

    return [(bar.get_x(), bar.get_x() + bar.get_width()) for c in ax.containers if isinstance(c, BarContainer)
            for bar in c.patches]


def _bars(ax) -> list[str]:
    from matplotlib.container import BarContainer

    out = []
    ticks = [(t, _words(lbl.get_text(), " ")) for t, lbl in zip(ax.get_xticks(), ax.get_xticklabels())]
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


def _texts(ax) -> list:
    """The texts drawn on ``ax`` that say something of their own: not ``label_lines``' labels, not the values
    ``bar_label`` writes on bars (the bars are described with their values)."""
    from matplotlib.text import Annotation

    spans = _bar_spans(ax)
    out = []
    for t in ax.texts:
        if not t.get_visible() or not t.get_text().strip() or t.get_gid() == DIRECT_LABEL:
            continue
        if spans and isinstance(t, Annotation) and any(a <= t.xy[0] <= b for a, b in spans):
            continue
        out.append(t)
    return out


def _written(texts) -> str:
    """Texts drawn on a panel: numbers on a grid row by row ('values by row [1, 2], [3, 4]'), many numbers by
    their range, words listed."""
    words = [" ".join(t.get_text().split()) for t in texts]
    numbers = [_float(w) for w in words]
    if len(words) > 1 and None not in numbers:
        xs = sorted({round(float(t.get_position()[0]), 6) for t in texts})
        ys = sorted({round(float(t.get_position()[1]), 6) for t in texts})
        if len(xs) > 1 and len(ys) > 1 and len(xs) * len(ys) == len(words) <= MAX_GRID:
            grid = {(round(float(t.get_position()[1]), 6), round(float(t.get_position()[0]), 6)): w
                    for t, w in zip(texts, words)}
            if len(grid) == len(words):
                return "values by row " + ", ".join("[" + ", ".join(grid[y, x] for x in xs) + "]" for y in ys)
        if len(words) > 4:
            return f"{len(words)} values written on it, from {number(min(numbers))} to {number(max(numbers))}"
    return "labels " + _listed(words) if words else ""


def _image(im) -> str:
    """An image's size, and what the eye reads in it beyond the picture: one value all over ('all 0'), or the
    range of its values where a colour bar reads them."""
    array = np.asarray(im.get_array(), dtype=float)
    shape = array.shape
    text = f"{shape[0]}x{shape[1]}" + (" in colour" if len(shape) == 3 else "")
    finite = array[np.isfinite(array)]
    if finite.size and finite.min() == finite.max():
        text += f", all {number(finite[0])}"
    elif getattr(im, "colorbar", None) is not None and finite.size:
        text += f", values {number(finite.min())} to {number(finite.max())}"
    return text


def _title(ax) -> str:
    return _words(" ".join(t for t in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if t))


def _panel(ax) -> str:
    """One axes: 'title: ylabel vs xlabel first to last; lines; bars; images; texts'."""
    from matplotlib.collections import PathCollection

    parts = []
    xlabel, ylabel = _axis_label(ax, "x"), _axis_label(ax, "y")
    lines, shared_x = _lines(ax, share=bool(xlabel or ylabel))
    if ax.name == "3d":
        zlabel = _words(ax.get_zlabel(), " ")
        parts.append(f"3-D plot of {zlabel or 'z'} over {xlabel or 'x'} and {ylabel or 'y'}")
        if ax.collections:
            parts.append(f"{len(ax.collections)} surface{'s' * (len(ax.collections) > 1)}")
    elif xlabel or shared_x:
        parts.append(f"{ylabel or 'values'} vs {xlabel or 'x'}" + (f" {shared_x}" if shared_x else ""))
    elif ylabel:
        parts.append(ylabel)
    parts += lines + _bars(ax)
    parts += [f"image {_image(im)}" for im in ax.get_images()]
    for c in ax.collections:
        if type(c) is PathCollection and len(c.get_offsets()) > 0:  # scatter plots (errorbars, fills: no)
            label = _visible_label(c)
            parts.append(f"{len(c.get_offsets())} points" + (f" ({label})" if label else ""))
    written = _written(_texts(ax))
    if written:
        parts.append(written)
    body, title = "; ".join(parts), _title(ax)
    return f"{title}: {body}" if title and body else title or body


def _only_image(ax) -> bool:
    return bool(ax.get_images()) and not ax.get_lines() and not ax.containers and not _texts(ax) \
        and not ax.get_xlabel()


def _images(axes) -> str:
    """Panels that only show an image: 'N images of HxW pixels: title, title, all 0, ...'."""
    shapes = {np.shape(ax.get_images()[0].get_array())[:2] for ax in axes}
    size = f" of {'x'.join(map(str, shapes.pop()))} pixels" if len(shapes) == 1 else ""
    names = []
    for ax in axes:
        notes = _image(ax.get_images()[0]).split(", ", 1)[1:]
        names.append(", ".join([_title(ax) or "untitled"] + notes))
    n = len(axes)
    titled = any(name != "untitled" for name in names)
    return f"{n} image{'s' * (n > 1)}{size}" + (": " + _listed(names) if titled else "")


def describe(fig) -> str:
    """A text alternative generated from what ``fig`` draws (see the module docstring): the figure's title,
    then each panel's, in order; consecutive panels that only show an image are listed together by their
    titles. Never empty."""
    suptitle = getattr(fig, "_suptitle", None)
    head = _words(suptitle.get_text()) if suptitle is not None and suptitle.get_text() else ""
    sentences, run = [], []
    for ax in fig.get_axes():
        if not ax.get_visible() or hasattr(ax, "_colorbar") or not (ax.has_data() or ax.get_title()):
            continue
        if _only_image(ax):
            run.append(ax)
            continue
        if run:
            sentences.append(_images(run))
            run = []
        text = _panel(ax)
        if text:
            sentences.append(text)
    if run:
        sentences.append(_images(run))
    text = ". ".join(s for s in [head, *sentences] if s)
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
