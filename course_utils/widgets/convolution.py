"""Convolution explorer (lecture slides 22, 32): a kernel slides over a real photo.

Pick a photo and a kernel (a preset or typed in), move the window: the panel shows the window on the
image, the window's pixels times the kernel (their sum is the dot product = one output value), and the
whole response map with the current position marked. The response map comes from ``conv_fn`` (your own
``conv2d_forward`` or the reference); the widget checks its value at the window against the dot product, and
a line above the picture says whether the whole map agrees with the course reference.

    from course_utils.widgets import ConvolutionExplorer
    ConvolutionExplorer(conv_fn=my_conv2d_forward, kernel="sobel x")
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_utils import reference
from course_utils.alt_text import number
from course_utils.widgets._blit import Blit
from course_utils.widgets._view import (
    Explorer,
    OneArray,
    checked_call,
    clamp_int,
    image_axes,
    prepare,
    set_image,
    warm_up,
)

KERNELS: dict[str, tuple[tuple[float, ...], ...]] = {
    "edge [-1, 1]": ((-1.0, 1.0),),
    "sobel x": ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0)),
    "sobel y": ((-1.0, -2.0, -1.0), (0.0, 0.0, 0.0), (1.0, 2.0, 1.0)),
    "blur 3x3": tuple(tuple(1 / 9 for _ in range(3)) for _ in range(3)),
    "sharpen": ((0.0, -1.0, 0.0), (-1.0, 5.0, -1.0), (0.0, -1.0, 0.0)),
    "corner": ((1.0, 1.0, 0.0), (1.0, -1.0, -1.0), (0.0, -1.0, -1.0)),
    "dot": ((-1.0, -1.0, -1.0), (-1.0, 8.0, -1.0), (-1.0, -1.0, -1.0)),
}
PHOTOS = ("camera", "chelsea", "coins", "astronaut", "china")
SIZE = 48  # the photo is resized to SIZE x SIZE so that single pixels and the window are visible


def parse_kernel(text: str) -> tuple[tuple[float, ...], ...]:
    """'1 0 -1; 2 0 -2; 1 0 -1' -> ((1, 0, -1), (2, 0, -2), (1, 0, -1)). Rows split by ';', values by
    spaces or commas; all rows the same length; at most 9 x 9."""
    if not isinstance(text, str):
        raise TypeError(f"kernel text must be a string like '1 0 -1; 2 0 -2; 1 0 -1', got {text!r}")
    try:
        rows = [tuple(float(v) for v in row.replace(",", " ").split()) for row in text.split(";") if row.strip()]
    except ValueError:
        raise ValueError(f"kernel text must hold numbers like '1 0 -1; 2 0 -2; 1 0 -1', got {text!r}") from None
    if not rows or len({len(r) for r in rows}) != 1 or len(rows) > 9 or len(rows[0]) > 9:
        raise ValueError(f"kernel text must be 1 to 9 rows of equally many (1 to 9) numbers, got {text!r}")
    return tuple(rows)


@dataclass(frozen=True)
class State:
    photo: str = "camera"
    kernel: tuple[tuple[float, ...], ...] = KERNELS["edge [-1, 1]"]
    row: int = 20  # top-left corner of the window = position in the output map
    col: int = 20


@functools.lru_cache(maxsize=16)
def photo(name: str) -> np.ndarray:
    """The photo as (SIZE, SIZE) float64 in [0, 1] (cached)."""
    from course_utils.data.photos import load_photo

    return load_photo(name, gray=True, size=(SIZE, SIZE))


def _load_photos() -> None:
    for name in PHOTOS:
        photo(name)


def make_state(**values) -> State:
    """Clamp the window position into the output map (H - KH + 1) x (W - KW + 1)."""
    v = {**State().__dict__, **values}
    kernel = tuple(tuple(float(x) for x in row) for row in v["kernel"])
    kh, kw = len(kernel), len(kernel[0])
    name = v["photo"] if v["photo"] in PHOTOS else PHOTOS[0]
    return State(name, kernel, clamp_int(v["row"], 0, SIZE - kh), clamp_int(v["col"], 0, SIZE - kw))


def compute(state: State, conv_fn=reference.conv2d_forward) -> dict:
    """Everything shown: image, window pixels, products, dot product, the response map from ``conv_fn`` (one
    call on the whole photo) and its Check against the course reference (none when it is the reference)."""
    img = photo(state.photo)
    k = np.array(state.kernel)
    patch = img[state.row:state.row + k.shape[0], state.col:state.col + k.shape[1]]
    x, w = img[None, None], k[None, None]
    ho, wo = reference.conv_output_size(SIZE, k.shape[0]), reference.conv_output_size(SIZE, k.shape[1])
    expect = OneArray((1, 1, ho, wo), f" for x of shape {x.shape} and w of shape {w.shape}")
    out, check = checked_call("conv_fn", conv_fn, reference.conv2d_forward, x, w, expect=expect,
                              what="convolution")
    response = out[0, 0]
    return {"image": img, "kernel": k, "products": patch * k, "dot": float(np.sum(patch * k)),
            "response": response, "at_window": float(response[state.row, state.col]),
            "checks": [check] if check else []}


def _build(fig: Figure) -> dict:
    ax_img, im_img = image_axes(fig, (0.01, 0.02, 0.32, 0.86), "photo and window")
    window = ax_img.add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="#ff3030", linewidth=2))
    _, im_prod = image_axes(fig, (0.37, 0.02, 0.26, 0.86), "pixels x kernel", cmap="coolwarm")
    ax_res, im_res = image_axes(fig, (0.67, 0.02, 0.32, 0.86), "response map", cmap="gray")
    marker = ax_res.add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="#ff3030", linewidth=2))
    return {"img": im_img, "window": window, "prod": im_prod, "res": im_res, "marker": marker}


def draw(state: State, data: dict, fig: Figure | None = None) -> Figure:
    """Three panels: photo with the window, the products of the window's pixels and the kernel, the
    response map with the current position marked. ``data``: what :func:`compute` gave for ``state``.
    Returns the Figure."""
    fig, art = prepare(fig, (9.0, 3.3), _build)
    d = data
    kh, kw = d["kernel"].shape
    set_image(art["img"], d["image"], 0.0, 1.0)
    art["window"].set_bounds(state.col - 0.5, state.row - 0.5, kw, kh)
    lim = max(float(np.abs(d["products"]).max()), 1e-6)
    set_image(art["prod"], d["products"], -lim, lim)
    set_image(art["res"], d["response"])
    art["marker"].set_bounds(state.col - 0.5, state.row - 0.5, 1, 1)
    return fig


def kernel_name(kernel) -> str:
    """The preset's name for ``kernel`` in words ("sobel x"), or its numbers ("custom [0 1 0; 1 -4 1; 0 1 0]")."""
    for name, preset in KERNELS.items():
        if preset == tuple(tuple(row) for row in kernel):
            return name
    return "custom [" + "; ".join(" ".join(f"{v:g}" for v in row) for row in kernel) + "]"


def kernel_html(kernel) -> str:
    rows = "".join("<tr>" + "".join(f"<td style='padding:0 4px'>{v:g}</td>" for v in row) + "</tr>"
                   for row in kernel)
    return f"<table style='display:inline-table;border:1px solid #888'>{rows}</table>"


class ConvolutionExplorer(Explorer):
    """Photo + kernel preset (or typed kernel) + window position -> dot product and response map.

    ``conv_fn(x, w)``: x (1, 1, H, W), w (1, 1, KH, KW) -> (1, 1, H-KH+1, W-KW+1); default
    ``course_utils.reference.conv2d_forward``. ``kernel``: a preset name (see ``KERNELS``) or
    'custom'; ``custom``: the typed kernel, e.g. '1 0 -1; 2 0 -2; 1 0 -1'. ``conv_fn`` is called once per
    redraw, on the whole photo.
    """

    draw = staticmethod(draw)
    blit = Blit(animated=lambda art: [art[k] for k in ("img", "window", "prod", "res", "marker")])

    def __init__(self, conv_fn=reference.conv2d_forward, photo: str = "camera", kernel: str = "edge [-1, 1]",
                 custom: str = "0 1 0; 1 -4 1; 0 1 0", row: int = 20, col: int = 20):
        super().__init__("Convolution: a kernel sliding over a photo")
        self.conv_fn = conv_fn
        st = {"description_width": "70px"}
        self.controls = {
            "photo": widgets.Dropdown(options=PHOTOS, value=photo, description="photo", style=st),
            "preset": widgets.Dropdown(options=[*KERNELS, "custom"], value=kernel, description="kernel",
                                       style=st),
            "custom": widgets.Text(value=custom, description="custom", style=st, continuous_update=False,
                                   placeholder="1 0 -1; 2 0 -2; 1 0 -1"),
            "row": widgets.IntSlider(row, 0, SIZE - 1, description="row", style=st),
            "col": widgets.IntSlider(col, 0, SIZE - 1, description="col", style=st),
        }
        c = self.controls
        self._build(widgets.HBox([widgets.VBox([c["photo"], c["preset"], c["custom"]]),
                                  widgets.VBox([c["row"], c["col"]])]))
        # a first switch to a photo would wait for it to load (china: scikit-learn's import, ~0.5 s)
        warm_up("photos", _load_photos)

    def read_state(self) -> State:
        c = self.controls
        c["custom"].disabled = c["preset"].value != "custom"  # typed kernels count only then (and Tab skips it)
        kernel = parse_kernel(c["custom"].value) if c["preset"].value == "custom" else KERNELS[c["preset"].value]
        return make_state(photo=c["photo"].value, kernel=kernel, row=c["row"].value, col=c["col"].value)

    def compute(self, state: State) -> dict:
        return compute(state, self.conv_fn)

    def describe_html(self, state: State, d: dict) -> str:
        kh, kw = d["kernel"].shape
        ho, wo = d["response"].shape
        ok = abs(d["dot"] - d["at_window"]) <= 1e-6 * max(1.0, abs(d["dot"]))
        check = "&#10003; equal" if ok else "&#10007; <b style='color:#b00020'>differ: check conv_fn</b>"
        return (f"kernel {kernel_html(state.kernel)} ({kh}&times;{kw}) at row {state.row}, col {state.col}: "
                f"dot product = <b>{d['dot']:.4f}</b>; conv_fn's output there = {d['at_window']:.4f} {check}."
                f"<br>Input {SIZE}&times;{SIZE}, kernel {kh}&times;{kw} &rarr; output size "
                f"<b class='cu-out'>{ho}&times;{wo}</b> = ({SIZE} &minus; {kh} + 1)&times;({SIZE} &minus; {kw} + 1)")

    def alt_text(self, state: State, d: dict) -> str:
        kh, kw = d["kernel"].shape
        ho, wo = d["response"].shape
        name = kernel_name(state.kernel)
        res, prod = d["response"], d["products"]
        return (f"Three panels: the '{state.photo}' photo ({SIZE}x{SIZE}, grey) with a {kh}x{kw} window at row "
                f"{state.row}, col {state.col}; the window's pixels times the {name} kernel (products from "
                f"{number(prod.min())} to {number(prod.max())}; their sum, the dot product, is {number(d['dot'])}); "
                f"and the response map, {ho}x{wo} (values from {number(res.min())} to {number(res.max())}), "
                f"with position ({state.row}, {state.col}) marked: {number(d['at_window'])} there.")

    def describe(self, state: State, d: dict) -> str:
        kh, kw = len(state.kernel), len(state.kernel[0])
        ho, wo = d["response"].shape
        return f"{state.photo} k={kh}x{kw} pos=({state.row},{state.col}) out={ho}x{wo}"
