"""Pooling explorer (lecture slides 26-28): max or average over windows; which input wins; what a shift does.

A small image (a digit or a synthetic shape) is pooled with extent F and stride S. For max-pooling the
winner of every window is marked; a second row shows the same image shifted by 1 pixel (or more): how many
pooled outputs changed, compared with how many input pixels changed? Pooling with larger extent makes the
output more stable under small shifts: the lecture's "robustness to small translations".

    from course_utils.widgets import PoolingExplorer
    PoolingExplorer(pool_fn=my_maxpool2d_forward)   # used for "max"; avg uses avg_pool_fn

The pooled maps, the winners and the changes are all computed from the pooling function given (yours, or the
reference); a line above the picture says whether it agrees with the course reference at the current setting.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_utils import reference
from course_utils.widgets._blit import Blit
from course_utils.widgets._view import (
    Explorer,
    OneArray,
    checked_call,
    clamp_int,
    image_axes,
    prepare,
    set_image,
    tolerance,
)

IMAGES = ("shape: circle", "shape: square", "shape: triangle", "digit 0", "digit 3", "digit 7")
SIZE = 16  # the image is SIZE x SIZE


@dataclass(frozen=True)
class State:
    image: str = "digit 3"
    mode: str = "max"  # "max" or "avg"
    extent: int = 2
    stride: int = 2
    shift: int = 1  # pixels to the right


@functools.lru_cache(maxsize=16)
def image(name: str) -> np.ndarray:
    """(SIZE, SIZE) float64 in [0, 1]: a digit (bilinearly upsampled 8x8 -> 16x16) or a synthetic shape."""
    if name.startswith("digit"):
        from course_utils.data.digits import load_digits_arrays

        X, y = load_digits_arrays()
        from skimage.transform import resize

        digit = X[int(np.nonzero(y == int(name.split()[1]))[0][0]), 0].astype(np.float64)
        # bilinear, not pixel replication: replicated 2x2 blocks would make every aligned 2x2 window flat
        return np.clip(resize(digit, (SIZE, SIZE), order=1, anti_aliasing=False), 0.0, 1.0)
    from course_utils.data.shapes import SHAPE_CLASSES, make_shapes

    X, y = make_shapes(60, size=SIZE, seed=0)
    cls = SHAPE_CLASSES.index(name.split(": ")[1]) if name.split(": ")[1] in SHAPE_CLASSES else 0
    return X[int(np.nonzero(y == cls)[0][0]), 0].astype(np.float64)


def make_state(**values) -> State:
    """Clamp extent to 1..6, stride to 1..6, shift to 0..4; unknown image/mode -> the defaults."""
    v = {**State().__dict__, **values}
    return State(v["image"] if v["image"] in IMAGES else State.image,
                 v["mode"] if v["mode"] in ("max", "avg") else "max",
                 clamp_int(v["extent"], 1, 6), clamp_int(v["stride"], 1, 6), clamp_int(v["shift"], 0, 4))


def winners(x: np.ndarray, extent: int, stride: int, pooled: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool: the pixel each window's output picked.

    ``pooled``: the pooling function's output for ``x``, (Ho, Wo); a pixel wins its window when it is the
    first one (row-major) equal to the window's output. Default: the window's maximum (the reference rule).
    A flat window (all values equal) has no winner, nor has a window whose output equals none of its pixels
    (e.g. an average given as a max). Equal: within the precision of ``pooled`` (float32 is rounded)."""
    H, W = x.shape
    Ho, Wo = reference.conv_output_size(H, extent, stride), reference.conv_output_size(W, extent, stride)
    tol = 0.0 if pooled is None else tolerance(pooled.dtype)  # a float32 output is rounded
    mask = np.zeros_like(x, dtype=bool)
    for i in range(Ho):
        for j in range(Wo):
            win = x[i * stride:i * stride + extent, j * stride:j * stride + extent]
            if win.max() > win.min():
                value = float(win.max() if pooled is None else pooled[i, j])
                hits = np.flatnonzero(np.abs(win - value) <= tol * max(1.0, abs(value)))
                if hits.size:
                    r, c = np.unravel_index(hits[0], win.shape)
                    mask[i * stride + r, j * stride + c] = True
    return mask


def compute(state: State, pool_fn=reference.maxpool2d_forward, avg_pool_fn=reference.avgpool2d_forward) -> dict:
    """Pooled original and shifted images, winners and what changed, all from the pooling function of
    ``state.mode`` (one call: the two images as a batch of 2), and its Check against the course reference
    (none when it is the reference)."""
    if state.mode == "max":
        name, fn, ref, what = "pool_fn", pool_fn, reference.maxpool2d_forward, "max pooling"
    else:
        name, fn, ref, what = "avg_pool_fn", avg_pool_fn, reference.avgpool2d_forward, "average pooling"
    x = image(state.image)
    shifted = np.zeros_like(x)
    shifted[:, state.shift:] = x[:, : SIZE - state.shift]
    ho = reference.conv_output_size(SIZE, state.extent, state.stride)
    batch = np.stack([x, shifted])[:, None]  # (2, 1, SIZE, SIZE): the image and the shifted image
    expect = OneArray((2, 1, ho, ho), f" for x of shape {batch.shape} (the image and the shifted image), "
                                      f"kernel_size={state.extent}, stride={state.stride}")
    out, check = checked_call(name, fn, ref, batch, state.extent, stride=state.stride, expect=expect, what=what)
    pooled, pooled_shifted = out[0, 0], out[1, 0]
    changed = np.abs(pooled - pooled_shifted)
    return {"x": x, "shifted": shifted, "pooled": pooled, "pooled_shifted": pooled_shifted,
            "changed": changed, "rel_out": float(changed.sum() / max(np.abs(pooled).sum(), 1e-12)),
            "rel_in": float(np.abs(x - shifted).sum() / max(np.abs(x).sum(), 1e-12)),
            "winners": winners(x, state.extent, state.stride, pooled) if state.mode == "max" else None,
            "winners_shifted": (winners(shifted, state.extent, state.stride, pooled_shifted)
                                if state.mode == "max" else None),
            "checks": [check] if check else []}


WINNER_RGB = (1.0, 0.25, 0.1)  # a winner's pixel is red AND carries a cross (not colour alone: greyscale)


def _with_winners(x: np.ndarray, mask) -> np.ndarray:
    rgb = np.repeat(x[:, :, None], 3, axis=2) * 0.8
    if mask is not None:
        rgb[mask] = WINNER_RGB
    return rgb


def _winner_marks(ax) -> tuple:
    """A cross on each winner: black on a white halo, seen on any pixel, in colour or in greyscale."""
    halo = ax.plot([], [], linestyle="none", marker="x", markersize=5, markeredgewidth=3, color="white")[0]
    cross = ax.plot([], [], linestyle="none", marker="x", markersize=5, markeredgewidth=1.3, color="black")[0]
    return halo, cross


def _set_marks(marks, mask) -> None:
    rows, cols = np.nonzero(mask) if mask is not None else ((), ())
    for line in marks:
        line.set_data(cols, rows)


def _build(fig: Figure) -> dict:
    art = {}
    titles = [("x", "input (x and red: window winners)"), ("p", "pooled"), ("xs", "shifted right (x and red: winners)"),
              ("ps", "pooled, shifted"), ("d", "|pooled - pooled shifted|")]
    for i, (key, title) in enumerate(titles):
        ax, art[key] = image_axes(fig, (0.005 + i * 0.2, 0.03, 0.19, 0.8), title, cmap="gray")
        if key in ("x", "xs"):
            art[f"{key} marks"] = _winner_marks(ax)
    return art


def draw(state: State, data: dict, fig: Figure | None = None) -> Figure:
    """Five panels: input + winners (red and a cross), pooled, shifted input + winners, pooled shifted,
    changed outputs. ``data``: what :func:`compute` gave for ``state``."""
    fig, art = prepare(fig, (11.0, 2.6), _build)
    d = data
    set_image(art["x"], _with_winners(d["x"], d["winners"]))
    set_image(art["xs"], _with_winners(d["shifted"], d["winners_shifted"]))
    _set_marks(art["x marks"], d["winners"])
    _set_marks(art["xs marks"], d["winners_shifted"])
    set_image(art["p"], d["pooled"], 0.0, 1.0)
    set_image(art["ps"], d["pooled_shifted"], 0.0, 1.0)
    set_image(art["d"], d["changed"], 0.0, 1.0)
    return fig


class PoolingExplorer(Explorer):
    """Image, max/avg, extent, stride, shift -> winners, pooled maps and the effect of the shift.

    ``pool_fn(x, kernel_size, stride=)`` (max; default ``course_utils.reference.maxpool2d_forward``) and
    ``avg_pool_fn`` (default ``course_utils.reference.avgpool2d_forward``): x (N, C, H, W) -> (N, C, Ho, Wo),
    the one of the current mode called once per redraw with N = 2 (the image and the shifted image), C = 1.
    """

    draw = staticmethod(draw)
    blit = Blit(animated=lambda art: [*(art[k] for k in ("x", "p", "xs", "ps", "d")), *art["x marks"],
                                      *art["xs marks"]])

    def __init__(self, pool_fn=reference.maxpool2d_forward, avg_pool_fn=reference.avgpool2d_forward, **start):
        super().__init__("Pooling: which input wins, and what a small shift changes")
        self.pool_fn, self.avg_pool_fn = pool_fn, avg_pool_fn
        s = make_state(**start)
        st = {"description_width": "60px"}
        self.controls = {
            "image": widgets.Dropdown(options=IMAGES, value=s.image, description="image", style=st),
            "mode": widgets.ToggleButtons(options=["max", "avg"], value=s.mode, description="pooling", style=st),
            "extent": widgets.IntSlider(s.extent, 1, 6, description="extent F", style=st),
            "stride": widgets.IntSlider(s.stride, 1, 6, description="stride S", style=st),
            "shift": widgets.IntSlider(s.shift, 0, 4, description="shift", style=st),
        }
        c = self.controls
        self._build(widgets.HBox([widgets.VBox([c["image"], c["mode"]]),
                                  widgets.VBox([c["extent"], c["stride"], c["shift"]])]))

    def read_state(self) -> State:
        return make_state(**{name: control.value for name, control in self.controls.items()})

    def compute(self, state: State) -> dict:
        return compute(state, self.pool_fn, self.avg_pool_fn)

    def describe_html(self, state: State, d: dict) -> str:
        ho = d["pooled"].shape[0]
        return (f"{state.mode}-pool {state.extent}&times;{state.extent}, stride {state.stride}: "
                f"{SIZE}&times;{SIZE} &rarr; <b class='cu-out'>{ho}&times;{ho}</b>. Shifting the input by "
                f"{state.shift} px changes the input by {100 * d['rel_in']:.0f}% (sum of |differences| / sum of "
                f"|values|) and the pooled output by <b>{100 * d['rel_out']:.0f}%</b>.")

    def alt_text(self, state: State, d: dict) -> str:
        ho = d["pooled"].shape[0]
        changed = int(np.count_nonzero(d["changed"] > 1e-9))
        kind = "max" if state.mode == "max" else "average"
        pool = f"{kind}-pooled {state.extent}x{state.extent}, stride {state.stride}"
        winners = ""
        if d["winners"] is not None:
            winners = (f" with its {int(d['winners'].sum())} window winners marked by a cross"
                       f" ({int(d['winners_shifted'].sum())} after the shift)")
        return (f"Five panels: the '{state.image}' image ({SIZE}x{SIZE}){winners}; {pool}: {ho}x{ho} output; "
                f"the image shifted right by {state.shift} px and its pooled output; and their difference: "
                f"{changed} of {ho * ho} pooled values changed. The shift changes the input by "
                f"{100 * d['rel_in']:.0f}% and the pooled output by {100 * d['rel_out']:.0f}%.")

    def describe(self, state: State, d: dict) -> str:
        return (f"{state.mode} F={state.extent} S={state.stride} shift={state.shift} out={d['pooled'].shape[0]} "
                f"change in={100 * d['rel_in']:.0f}% out={100 * d['rel_out']:.0f}%")
