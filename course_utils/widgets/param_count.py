"""Parameter-count explorer (lecture slides 8, 9 and 23): how many weights connect an image to a hidden layer?

Fully connected: every hidden unit sees every pixel. Locally connected: each hidden unit has its own small
filter. Convolutional: a few filters shared by every position. The lecture's numbers: a 200 x 200 image and
40K hidden units -> 1.6 billion (FC); 10 x 10 filters -> 4,000,000 (locally connected); 100 shared 10 x 10
filters -> 10,000 (conv). The chart is on a log scale: each grid line is 10 times the previous one.

    from course_utils.widgets import ParamCountExplorer
    ParamCountExplorer()                       # uses course_utils.counting
    ParamCountExplorer(fc_count_fn=my_fc_count)      # or your own counting functions

The bars and numbers show what the counting functions give (yours, where given); a line per function given
says whether it agrees with ``course_utils.counting`` at the current setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_utils import counting
from course_utils.widgets._blit import Blit
from course_utils.widgets._view import Explorer, OneInt, checked_call, clamp_int, prepare

BOUNDS = {
    "image_size": (4, 2000),
    "channels": (1, 512),
    "hidden_units": (1, 10_000_000),
    "filter_size": (1, 2000),  # also at most image_size
    "num_filters": (1, 4096),
}


@dataclass(frozen=True)
class State:
    """Everything the picture depends on (the counts come from :func:`compute`)."""

    image_size: int = 200
    channels: int = 1
    hidden_units: int = 40_000
    filter_size: int = 10
    num_filters: int = 100
    bias: bool = False


def make_state(**values) -> State:
    """Clamp every value to its bounds (filter_size <= image_size)."""
    v = {**State().__dict__, **values}
    size = clamp_int(v["image_size"], *BOUNDS["image_size"])
    return State(image_size=size,
                 channels=clamp_int(v["channels"], *BOUNDS["channels"]),
                 hidden_units=clamp_int(v["hidden_units"], *BOUNDS["hidden_units"]),
                 filter_size=clamp_int(v["filter_size"], BOUNDS["filter_size"][0], size),
                 num_filters=clamp_int(v["num_filters"], *BOUNDS["num_filters"]),
                 bias=bool(v["bias"]))


#: the keyword each counting function is given by (the earlier names fc_fn, lc_fn, conv_fn still work)
KEYWORDS = {"fc_count_fn": "fc_fn", "lc_count_fn": "lc_fn", "conv_count_fn": "conv_fn"}


def compute(state: State, fc_count_fn=counting.fully_connected_params, lc_count_fn=counting.locally_connected_params,
            conv_count_fn=counting.conv_params, names: dict | None = None) -> dict:
    """The three counts, each from one call of its counting function (default: ``course_utils.counting``),
    and a Check per function that is not the reference. ``names``: keyword -> the name the checks and errors
    use (default the keyword itself). Returns ``{"counts": ((bar, count), ...), "checks": [...]}``."""
    s, names = state, names or {}
    calls = (  # (bar, keyword, function given, reference, arguments)
        ("fully connected", "fc_count_fn", fc_count_fn, counting.fully_connected_params,
         (s.image_size, s.hidden_units, s.channels, s.bias)),
        ("locally connected", "lc_count_fn", lc_count_fn, counting.locally_connected_params,
         (s.hidden_units, s.filter_size, s.channels, s.bias)),
        ("convolutional", "conv_count_fn", conv_count_fn, counting.conv_params,
         (s.num_filters, s.filter_size, s.channels, s.bias)),
    )
    counts, checks = [], []
    for bar, keyword, fn, reference, args in calls:
        count, check = checked_call(names.get(keyword, keyword), fn, reference, *args, expect=OneInt(),
                                    what=f"{bar} count")
        counts.append((bar, count))
        checks += [check] if check else []
    return {"counts": tuple(counts), "checks": checks}


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


def axis_end(counts) -> tuple[int, int]:
    """(axis end, label step) of the log axis showing ``counts`` ((bar, count) pairs): see :func:`decade_ticks`."""
    logs = np.log10(np.maximum(np.array([c for _, c in counts], dtype=float), 1.0))
    return decade_ticks(max(2, int(np.ceil(logs.max())) + 1))


def draw(state: State, data: dict, fig: Figure | None = None) -> Figure:
    """Horizontal bars of log10(count), annotated with the exact counts (``data``: what :func:`compute`
    gave for ``state``). Returns the Figure."""
    fig, art = prepare(fig, (8.0, 2.8), _build)
    counts = np.array([c for _, c in data["counts"]], dtype=float)
    logs = np.log10(np.maximum(counts, 1.0))
    top, step = axis_end(data["counts"])
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


def caption(state: State, data: dict) -> str:
    """The counts in words (HTML), shown above the chart."""
    fc, lc, conv = (c for _, c in data["counts"])
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

    ``fc_count_fn``, ``lc_count_fn``, ``conv_count_fn``: counting functions with the signatures of
    ``course_utils.counting`` (defaults), each called once per redraw (``fc_fn``, ``lc_fn``, ``conv_fn``: their
    earlier names, still accepted). Other keyword arguments set the starting values (e.g. ``image_size=32``).
    """

    draw = staticmethod(draw)
    # the ticks are drawn once per axis range; the bars and their labels on every redraw
    blit = Blit(animated=lambda art: [*art["bars"], *art["labels"]],
                static_key=lambda state, data: axis_end(data["counts"]))

    def __init__(self, fc_count_fn=counting.fully_connected_params, lc_count_fn=counting.locally_connected_params,
                 conv_count_fn=counting.conv_params, **start):
        super().__init__("Parameter counts: fully connected vs locally connected vs convolutional")
        self._fns = {"fc_count_fn": fc_count_fn, "lc_count_fn": lc_count_fn, "conv_count_fn": conv_count_fn}
        self._names = {}
        for keyword, old in KEYWORDS.items():
            if old in start:  # the earlier name: its messages keep the name the function was given by
                self._fns[keyword], self._names[keyword] = start.pop(old), old
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
        return make_state(**{name: control.value for name, control in self.controls.items()})

    def compute(self, state: State) -> dict:
        return compute(state, **self._fns, names=self._names)

    def describe_html(self, state: State, data: dict) -> str:
        return caption(state, data)

    def alt_text(self, state: State, data: dict) -> str:
        fc, lc, conv = (c for _, c in data["counts"])
        bias = ", biases counted" if state.bias else ""
        return (f"Bar chart of parameter counts, log scale, for a {state.image_size}x{state.image_size}x"
                f"{state.channels} image and {state.hidden_units:,} hidden units{bias}: fully connected {fc:,}; "
                f"locally connected ({state.filter_size}x{state.filter_size} filters) {lc:,}; convolutional "
                f"({state.num_filters} shared {state.filter_size}x{state.filter_size} filters) {conv:,}. "
                f"Fully connected is {fc / max(conv, 1):,.0f} times convolutional.")

    def describe(self, state: State, data: dict) -> str:
        counts = " ".join(f"{name.split()[0]}={c}" for name, c in data["counts"])
        return f"image={state.image_size} hidden={state.hidden_units} k={state.filter_size} " \
               f"filters={state.num_filters} {counts}"
