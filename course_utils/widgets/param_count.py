"""Parameter-count explorer (lecture slides 8, 9 and 23): how many weights connect an image to a hidden layer?

Fully connected: every hidden unit sees every pixel. Locally connected: each hidden unit has its own small
filter. Convolutional: a few filters shared by every position. The lecture's numbers: a 200 x 200 image and
40K hidden units -> 1.6 billion (FC); 10 x 10 filters -> 4,000,000 (locally connected); 100 shared 10 x 10
filters -> 10,000 (conv). The chart is on a log scale: each grid line is 10 times the previous one.

    from course_utils.widgets import ParamCountExplorer
    ParamCountExplorer()                       # uses course_utils.counting
    ParamCountExplorer(fc_fn=my_fc_count)      # or your own counting functions

The bars and numbers show what the counting functions give (yours, where given); a line per function given
says whether it agrees with ``course_utils.counting`` at the current setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_utils import counting
from course_utils.widgets._view import Check, Explorer, OneInt, animate, checked_call, clamp_int, prepare

BOUNDS = {
    "image_size": (4, 2000),
    "channels": (1, 512),
    "hidden_units": (1, 10_000_000),
    "filter_size": (1, 2000),  # also at most image_size
    "num_filters": (1, 4096),
}


@dataclass(frozen=True)
class State:
    """Everything the picture depends on. Counts are filled in by :func:`make_state`."""

    image_size: int = 200
    channels: int = 1
    hidden_units: int = 40_000
    filter_size: int = 10
    num_filters: int = 100
    bias: bool = False
    counts: tuple[tuple[str, int], ...] = ()
    checks: tuple[Check, ...] = ()  # one per counting function given, against course_utils.counting


def make_state(fc_fn=None, lc_fn=None, conv_fn=None, **values) -> State:
    """Clamp every value to its bounds (filter_size <= image_size) and compute the three counts.

    The counting functions default to ``course_utils.counting``; pass your own to see them at work (each is
    called once and compared with ``course_utils.counting``).
    """
    v = {**State().__dict__, **values}
    size = clamp_int(v["image_size"], *BOUNDS["image_size"])
    s = {
        "image_size": size,
        "channels": clamp_int(v["channels"], *BOUNDS["channels"]),
        "hidden_units": clamp_int(v["hidden_units"], *BOUNDS["hidden_units"]),
        "filter_size": clamp_int(v["filter_size"], BOUNDS["filter_size"][0], size),
        "num_filters": clamp_int(v["num_filters"], *BOUNDS["num_filters"]),
        "bias": bool(v["bias"]),
    }
    calls = (  # (bar, keyword, function given, reference, arguments)
        ("fully connected", "fc_fn", fc_fn, counting.fully_connected_params,
         (s["image_size"], s["hidden_units"], s["channels"], s["bias"])),
        ("locally connected", "lc_fn", lc_fn, counting.locally_connected_params,
         (s["hidden_units"], s["filter_size"], s["channels"], s["bias"])),
        ("convolutional", "conv_fn", conv_fn, counting.conv_params,
         (s["num_filters"], s["filter_size"], s["channels"], s["bias"])),
    )
    counts, checks = [], []
    for bar, name, fn, reference, args in calls:
        count, check = checked_call(name, fn, reference, *args, expect=OneInt(), what=f"{bar} count")
        counts.append((bar, count))
        checks += [check] if check else []
    return State(**s, counts=tuple(counts), checks=tuple(checks))


COLORS = ("#d62728", "#ff7f0e", "#2ca02c")
NAMES = ("fully connected", "locally connected", "convolutional")


def _build(fig: Figure) -> dict:
    ax = fig.add_axes((0.2, 0.22, 0.62, 0.62))
    y = np.arange(3)[::-1]
    bars = ax.barh(y, [1, 1, 1], color=COLORS, height=0.6)
    ax.set_yticks(y, NAMES)
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.set_xlabel("parameters (log scale)")
    labels = [ax.text(0, yi, "", va="center", fontsize=10) for yi in y]
    animate(fig, *bars, *labels)
    return {"ax": ax, "bars": bars, "labels": labels, "top": None}


MAX_LABELS = 13  # tick labels on the count axis: at most this many (labels ~24 px wide, the axis 397 px)
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(k: int) -> str:
    """A tick label: 1, 10, 10², 10³, ... (short: a dozen fit the axis side by side)."""
    return "1" if k == 0 else "10" if k == 1 else "10" + str(k).translate(_SUPERSCRIPT)


def decade_ticks(top: int) -> tuple[int, int]:
    """(axis end, label step) for an axis from 10⁰ to 10^top: every ``step``-th power of ten is labelled so
    that at most MAX_LABELS labels show (a grid line stays at every power), and the axis ends on a label."""
    step = max(1, -(-top // (MAX_LABELS - 1)))
    return -(-top // step) * step, step


def draw(state: State, fig: Figure | None = None) -> Figure:
    """Horizontal bars of log10(count), annotated with the exact counts. Returns the Figure."""
    fig, art = prepare(fig, (8.0, 2.8), _build)
    counts = np.array([c for _, c in state.counts], dtype=float)
    logs = np.log10(np.maximum(counts, 1.0))
    top = max(2, int(np.ceil(logs.max())) + 1)
    top, step = decade_ticks(top)
    fig._cu_static_key = top  # the ticks are drawn once per range (see _view.render_rgb)
    if art["top"] != top:
        art["top"] = top
        art["ax"].set_xlim(0, top)
        art["ax"].set_xticks(range(0, top + 1), minor=True)  # a grid line every power of ten
        art["ax"].set_xticks(range(0, top + 1, step), [power_of_ten(k) for k in range(0, top + 1, step)])
    for bar, label, c, lg in zip(art["bars"], art["labels"], counts, logs):
        bar.set_width(lg)
        label.set_x(lg + 0.1)
        label.set_text(f"{int(c):,}")
    return fig


def caption(state: State) -> str:
    """The counts in words (HTML), shown above the chart."""
    fc, lc, conv = (c for _, c in state.counts)
    bias = " (biases counted)" if state.bias else ""
    return (
        f"{state.image_size}&times;{state.image_size}&times;{state.channels} image, "
        f"{state.hidden_units:,} hidden units, {state.num_filters} filters of "
        f"{state.filter_size}&times;{state.filter_size}{bias}: fully connected <b>{fc:,}</b>, "
        f"locally connected <b>{lc:,}</b>, convolutional <b>{conv:,}</b> "
        f"(fully connected / conv = {fc / max(conv, 1):,.0f}&times;)"
    )


class ParamCountExplorer(Explorer):
    """Sliders for image size, hidden units, filter size, number of filters -> the three counts, log scale.

    ``fc_fn``, ``lc_fn``, ``conv_fn``: counting functions with the signatures of ``course_utils.counting``
    (defaults). Other keyword arguments set the starting values (e.g. ``image_size=32``).
    """

    def __init__(self, fc_fn=None, lc_fn=None, conv_fn=None, **start):
        super().__init__("Parameter counts: fully connected vs locally connected vs convolutional")
        self._fns = {"fc_fn": fc_fn, "lc_fn": lc_fn, "conv_fn": conv_fn}
        s = make_state(**start)  # the defaults are the lecture's numbers
        style = {"description_width": "110px"}
        lay = widgets.Layout(width="420px")
        self.controls = {
            "image_size": widgets.IntSlider(s.image_size, *BOUNDS["image_size"], description="image size",
                                            style=style, layout=lay),
            "channels": widgets.Dropdown(options=[1, 3], value=s.channels, description="channels", style=style),
            "hidden_units": widgets.BoundedIntText(s.hidden_units, min=BOUNDS["hidden_units"][0],
                                                   max=BOUNDS["hidden_units"][1], description="hidden units",
                                                   style=style),
            "filter_size": widgets.IntSlider(s.filter_size, 1, 64, description="filter size", style=style,
                                             layout=lay),
            "num_filters": widgets.IntSlider(s.num_filters, *BOUNDS["num_filters"], description="# filters",
                                             style=style, layout=lay),
            "bias": widgets.Checkbox(s.bias, description="count biases"),
        }
        c = self.controls
        box = widgets.HBox([widgets.VBox([c["image_size"], c["filter_size"], c["num_filters"]]),
                            widgets.VBox([c["hidden_units"], c["channels"], c["bias"]])])
        self._build(box)

    def read_state(self) -> State:
        values = {name: control.value for name, control in self.controls.items()}
        return make_state(**self._fns, **values)

    def render(self, state: State) -> Figure:
        self.checks = list(state.checks)
        return draw(state, self.fig)

    def describe_html(self, state: State) -> str:
        return caption(state)

    def describe(self, state: State) -> str:
        counts = " ".join(f"{name.split()[0]}={c}" for name, c in state.counts)
        return f"image={state.image_size} hidden={state.hidden_units} k={state.filter_size} " \
               f"filters={state.num_filters} {counts}"
