"""Hyperparameter explorer (lecture slide 24): input size, kernel, stride, padding, dilation -> output size.

The output size along one axis is ``floor((H + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``, the
rule torch uses. When the stride does not divide evenly, the last rows/columns of the (padded) input are
covered by no window: they are dropped (rounded down). The picture shows the padded input (padding grey,
input white, the dropped cells red), the chosen window (blue) and the output grid (the chosen unit blue).
Both are drawn from the output size ``size_fn`` gives; a line above the picture says whether it agrees with
the course reference (output cells where no window fits are red).

    from course_utils.widgets import HyperparameterExplorer
    HyperparameterExplorer()                         # size_fn = course_utils.reference.conv_output_size
    HyperparameterExplorer(size_fn=my_conv_output_size)
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_utils import reference
from course_utils.reference import conv_output_size
from course_utils.widgets._blit import Blit
from course_utils.widgets._view import Explorer, OneInt, checked_call, clamp_int, prepare

BOUNDS = {"input_size": (1, 32), "kernel_size": (1, 11), "stride": (1, 8), "padding": (0, 8), "dilation": (1, 4)}


@dataclass(frozen=True)
class State:
    input_size: int = 7
    kernel_size: int = 3
    stride: int = 2
    padding: int = 0
    dilation: int = 1
    window: int = 0  # which window position is highlighted (row-major index)


def make_state(**values) -> State:
    """Clamp values into their bounds: the (dilated) kernel must fit in the padded input; the window index
    within the output grid."""
    v = {**State().__dict__, **values}
    size = clamp_int(v["input_size"], *BOUNDS["input_size"])
    dilation = clamp_int(v["dilation"], *BOUNDS["dilation"])
    stride = clamp_int(v["stride"], *BOUNDS["stride"])
    padding = clamp_int(v["padding"], *BOUNDS["padding"])
    kmax = max(1, min(BOUNDS["kernel_size"][1], (size + 2 * padding - 1) // dilation + 1))
    kernel = clamp_int(v["kernel_size"], 1, kmax)
    out = conv_output_size(size, kernel, stride, padding, dilation)
    window = clamp_int(v["window"], 0, out * out - 1)
    return State(size, kernel, stride, padding, dilation, window)


MAX_SHOWN = 64  # at most this many output cells per side are drawn (a wrong size_fn may give any number)


def compute(state: State, size_fn=conv_output_size) -> dict:
    """The output size from ``size_fn`` (default course_utils.reference.conv_output_size; one call), its
    Check against the reference (none when it is the reference), the true output size (the reference's) and
    the picture's grids drawn from ``size_fn``'s answer (see :func:`grids`)."""
    s = state
    # dilation is passed only when it is used, so a student's size_fn(size, kernel, stride, padding) works too
    extra = {"dilation": s.dilation} if s.dilation != 1 else {}
    out, check = checked_call("size_fn", size_fn, reference.conv_output_size, s.input_size, s.kernel_size,
                              stride=s.stride, padding=s.padding, **extra,
                              expect=OneInt(float_hint="use // to divide and round down"), what="output size")
    padded, outgrid, _ = grids(state, out)
    true_out = conv_output_size(s.input_size, s.kernel_size, s.stride, s.padding, s.dilation)
    return {"padded": padded, "outgrid": outgrid, "out": out, "true_out": true_out,
            "checks": [check] if check else []}


def grids(state: State, out: int | None = None):
    """The picture's data: (padded input codes (Hp, Hp), output codes (n, n), output size).

    ``out``: the output size to draw (e.g. a student's size_fn's answer); default: the reference's.
    Codes: 0 padding, 1 input, 2 dropped (no window reaches it), 3 in the highlighted window; output: 1,
    2 where no window fits (``out`` too large), 3 the highlighted unit. The highlighted window is
    ``state.window`` (row-major) among the windows that really fit.
    """
    s = state
    true_out = conv_output_size(s.input_size, s.kernel_size, s.stride, s.padding, s.dilation)
    out = true_out if out is None else out
    hp = s.input_size + 2 * s.padding
    padded = np.zeros((hp, hp), dtype=int)
    padded[s.padding:s.padding + s.input_size, s.padding:s.padding + s.input_size] = 1
    span = s.dilation * (s.kernel_size - 1) + 1
    reach = min(max((out - 1) * s.stride + span, 0), hp) if out > 0 else 0  # cells reached along one axis
    dropped = np.zeros(hp, dtype=bool)
    dropped[reach:] = True
    padded[dropped[:, None] | dropped[None, :]] = 2
    r, c = divmod(s.window, true_out)
    taps = np.arange(s.kernel_size) * s.dilation
    padded[np.ix_(r * s.stride + taps, c * s.stride + taps)] = 3
    n = min(max(out, 0), MAX_SHOWN)
    outgrid = np.ones((n, n), dtype=int)
    outgrid[true_out:, :] = 2
    outgrid[:, true_out:] = 2
    if r < n and c < n:
        outgrid[r, c] = 3
    return padded, outgrid, out


PALETTE = np.array([[0.80, 0.80, 0.80], [1.0, 1.0, 1.0], [0.95, 0.55, 0.55], [0.35, 0.55, 0.95]])
LINE_RGB = (0.3, 0.3, 0.3)  # the grid lines
CELL_MAX = 40  # px: the largest cell drawn
FIGSIZE = (7.0, 4.0)  # inches
PANELS = {"in": (0.02, 0.05, 0.55, 0.82), "out": (0.62, 0.05, 0.36, 0.82)}  # figure fractions (x, y, w, h)


MARK_RGB = {2: (0.55, 0.1, 0.1), 3: (0.05, 0.15, 0.55)}  # a dropped cell's "/" and the window's dot


def cell_tiles(cell: int, line: int) -> np.ndarray:
    """One (cell, cell, 3) tile per code: its colour and, not to tell them apart by colour alone, a mark: a
    "/" across a dropped cell (code 2), a dot in the window's cells (3)."""
    tiles = np.broadcast_to(PALETTE[:, None, None, :], (len(PALETTE), cell, cell, 3)).copy()
    inner = np.arange(line + 1, cell - 1)  # clear of the grid lines (drawn over the tiles' first rows/cols)
    if len(inner):
        for width in range(1 if cell < 16 else 2):
            tiles[2, inner, np.clip(cell + line - 1 - inner + width, line, cell - 1)] = MARK_RGB[2]
    dot = max(2, (cell - line) // 3)
    start = line + (cell - line - dot) // 2
    tiles[3, start:start + dot, start:start + dot] = MARK_RGB[3]
    return tiles


def cells_to_rgb(codes: np.ndarray, cell: int = 12, line: int = 1) -> np.ndarray:
    """Colour each code (and mark it: see :func:`cell_tiles`) and draw a grid line of ``line`` pixels at every
    cell boundary (the outer ones too): (H, W) ints -> (H*cell + line, W*cell + line, 3) floats. Meant to be
    shown pixel for pixel (no resampling: see :func:`draw`), so that every line is there and as thick as the
    others."""
    h, w = codes.shape
    rgb = np.empty((h * cell + line, w * cell + line, 3))
    rgb[: h * cell, : w * cell] = cell_tiles(cell, line)[codes].transpose(0, 2, 1, 3, 4).reshape(h * cell, w * cell, 3)
    for k in range(line):
        rgb[k::cell, :] = LINE_RGB
        rgb[:, k::cell] = LINE_RGB
    return rgb


def panel_boxes(fig: Figure) -> dict[str, tuple[int, int, int, int]]:
    """Where each picture may go, in whole pixels of ``fig``: name -> (x0, y0 from the bottom, w, h)."""
    W, H = fig.bbox.width, fig.bbox.height
    return {name: (round(x * W), round(y * H), int(w * W), int(h * H)) for name, (x, y, w, h) in PANELS.items()}


def cell_size(n_in: int, n_out: int, boxes: dict) -> tuple[int, int]:
    """(cell, line) in pixels: the largest whole cell (at most CELL_MAX) with which the padded input (n_in
    cells a side) and the output (n_out) both fit their panels (``boxes``: see :func:`panel_boxes`), the same
    for both so that the shrinkage shows; lines 2 px wide on cells of 16 px or more, else 1 px."""
    cell = CELL_MAX
    for n, (_, _, w, h) in ((n_in, boxes["in"]), (n_out, boxes["out"])):
        if n > 0:
            cell = min(cell, (min(w, h) - 2) // n)
    cell = max(cell, 3)
    return cell, 2 if cell >= 16 else 1


def _build(fig: Figure) -> dict:
    # figimage: the cells are drawn pixel for pixel (resampling a grid of thin lines drops some of them)
    art, boxes = {}, panel_boxes(fig)
    titles = {"in": "padded input (grey: padding, red /: dropped, blue \u2022: window)",
              "out": "output (red /: no window fits, blue \u2022: unit)"}
    for name, (x, y, w, h) in PANELS.items():
        fig.text(x + w / 2, min(y + h + 0.02, 0.98), titles[name], ha="center", va="bottom", fontsize=9)
        art[name] = fig.figimage(np.ones((2, 2, 3)), origin="upper")
        art[name].box = boxes[name]
    art["boxes"] = boxes
    return art


def _place(im, rgb: np.ndarray) -> None:
    """Show ``rgb`` pixel for pixel at the top of the image's panel, centred under its title."""
    x0, y0, w, h = im.box
    im.set_data(rgb)
    im.ox, im.oy = x0 + (w - rgb.shape[1]) // 2, y0 + h - rgb.shape[0]


def draw(state: State, data: dict, fig: Figure | None = None) -> Figure:
    """Padded input with the highlighted window, and the output grid, at the same whole number of pixels per
    cell (every grid line drawn, none lost to resampling). ``data``: what :func:`compute` gave for
    ``state``. Returns the Figure."""
    fig, art = prepare(fig, FIGSIZE, _build)
    d = data
    padded, outgrid = d["padded"], d["outgrid"]
    cell, line = cell_size(padded.shape[0], outgrid.shape[0], art["boxes"])
    _place(art["in"], cells_to_rgb(padded, cell, line))
    art["out"].set_visible(outgrid.size > 0)
    if outgrid.size:
        _place(art["out"], cells_to_rgb(outgrid, cell, line))
    return fig


def caption(state: State, out: int) -> str:
    s = state
    num = s.input_size + 2 * s.padding - s.dilation * (s.kernel_size - 1) - 1
    exact = num / s.stride + 1
    dil = f" &minus; {s.dilation}&middot;({s.kernel_size} &minus; 1) &minus; 1" if s.dilation > 1 else \
        f" &minus; {s.kernel_size}"
    formula = f"&lfloor;({s.input_size} + 2&middot;{s.padding}{dil}) / {s.stride}&rfloor; + 1"
    if num % s.stride:
        note = (f" &mdash; the stride does not divide evenly ({exact:.2f}): rounded down as torch does; "
                f"the last {num % s.stride} row(s)/column(s) are dropped")
    else:
        note = " &mdash; the stride divides evenly"
    return f"output size = {formula} = <b class='cu-out'>{out}&times;{out}</b>{note}"


class HyperparameterExplorer(Explorer):
    """Sliders for input size, kernel size, stride, padding, dilation and the highlighted window.

    ``size_fn(size, kernel_size, stride=, padding=, dilation=)``: the output-size function to show
    (default ``course_utils.reference.conv_output_size``); ``dilation`` is passed only when it is not 1. Its
    answer is drawn and compared with the reference's; called once per redraw.
    """

    draw = staticmethod(draw)
    blit = Blit(animated=lambda art: [art["in"], art["out"]])

    def __init__(self, size_fn=conv_output_size, **start):
        super().__init__("Convolution hyperparameters: where the windows go, and the output size")
        self.size_fn = size_fn
        s = make_state(**start)
        st = {"description_width": "90px"}
        mk = lambda name, desc: widgets.IntSlider(getattr(s, name), *BOUNDS[name], description=desc,  # noqa: E731
                                                  style=st, continuous_update=True)
        self.controls = {
            "input_size": mk("input_size", "input size"),
            "kernel_size": mk("kernel_size", "kernel"),
            "stride": mk("stride", "stride"),
            "padding": mk("padding", "padding"),
            "dilation": mk("dilation", "dilation"),
            "window": widgets.IntSlider(s.window, 0, 1023, description="window #", style=st),
        }
        c = self.controls
        self._build(widgets.HBox([widgets.VBox([c["input_size"], c["kernel_size"], c["stride"]]),
                                  widgets.VBox([c["padding"], c["dilation"], c["window"]])]))

    def read_state(self) -> State:
        return make_state(**{name: control.value for name, control in self.controls.items()})

    def compute(self, state: State) -> dict:
        data = compute(state, self.size_fn)
        self.controls["window"].max = data["true_out"] ** 2 - 1  # the windows that fit (no redraw)
        return data

    def describe_html(self, state: State, data: dict) -> str:
        return caption(state, data["true_out"])

    def alt_text(self, state: State, data: dict) -> str:
        s, out, true_out = state, data["out"], data["true_out"]
        hp = s.input_size + 2 * s.padding
        span = s.dilation * (s.kernel_size - 1) + 1
        dropped = max(hp - ((true_out - 1) * s.stride + span), 0) if true_out > 0 else hp
        r, c = divmod(s.window, true_out)
        drop = f"; its last {dropped} row(s) and column(s) are reached by no window (red)" if dropped else ""
        shown = "" if out == true_out else f" (drawn {out}x{out}, as size_fn gives it)"
        return (f"Output {true_out}x{true_out} from a {s.input_size}x{s.input_size} input, {s.kernel_size}x"
                f"{s.kernel_size} kernel, stride {s.stride}, padding {s.padding}, dilation {s.dilation}. Two grids "
                f"of cells: the padded input, {hp}x{hp}, padding grey{drop}, with window {s.window + 1} of "
                f"{true_out * true_out} (blue) covering rows {r * s.stride} to {r * s.stride + span - 1}, cols "
                f"{c * s.stride} to {c * s.stride + span - 1}; and the output grid{shown}, its unit ({r}, {c}) blue.")

    def describe(self, state: State, data: dict) -> str:
        return (f"in={state.input_size} k={state.kernel_size} s={state.stride} p={state.padding} "
                f"d={state.dilation} out={data['true_out']}")
