"""Pooling explorer (lecture slides 26-28): max or average over windows; which input wins; what a shift does.

A small image (a digit or a synthetic shape) is pooled with extent F and stride S. For max-pooling the
winner of every window is marked; a second row shows the same image shifted by 1 pixel (or more): how many
pooled outputs changed, compared with how many input pixels changed? Pooling with larger extent makes the
output more stable under small shifts: the lecture's "robustness to small translations".

    from course_utils.widgets import PoolingExplorer
    PoolingExplorer(pool_fn=my_maxpool2d_forward)   # used for "max"; avg uses avg_pool_fn
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_utils.widgets._view import Explorer, clamp_int, image_axes, prepare, set_image, student_call

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


def winners(x: np.ndarray, extent: int, stride: int) -> np.ndarray:
    """(H, W) bool: the pixels that are the maximum of at least one window (first one on ties; a flat window,
    all values equal, has no winner)."""
    H, W = x.shape
    Ho, Wo = (H - extent) // stride + 1, (W - extent) // stride + 1
    mask = np.zeros_like(x, dtype=bool)
    for i in range(Ho):
        for j in range(Wo):
            win = x[i * stride:i * stride + extent, j * stride:j * stride + extent]
            if win.max() > win.min():
                r, c = np.unravel_index(np.argmax(win), win.shape)
                mask[i * stride + r, j * stride + c] = True
    return mask


def compute(state: State, pool_fn=None, avg_pool_fn=None) -> dict:
    """Pooled original and shifted images (through the pooling function), winners, and what changed."""
    from course_utils import reference

    if state.mode == "max":
        name, fn = "pool_fn", pool_fn or reference.maxpool2d_forward
    else:
        name, fn = "avg_pool_fn", avg_pool_fn or reference.avgpool2d_forward
    x = image(state.image)
    shifted = np.zeros_like(x)
    shifted[:, state.shift:] = x[:, : SIZE - state.shift]
    out = [np.asarray(student_call(name, fn, a[None, None], state.extent, stride=state.stride))
           for a in (x, shifted)]
    expected = (1, 1, (SIZE - state.extent) // state.stride + 1, (SIZE - state.extent) // state.stride + 1)
    if out[0].shape != expected:
        raise ValueError(f"{name} returned shape {out[0].shape} for x (1, 1, {SIZE}, {SIZE}), kernel_size "
                         f"{state.extent}, stride {state.stride}; expected {expected}")
    changed = np.abs(out[0] - out[1])[0, 0]
    return {"x": x, "shifted": shifted, "pooled": out[0][0, 0], "pooled_shifted": out[1][0, 0],
            "changed": changed, "rel_out": float(changed.sum() / max(np.abs(out[0]).sum(), 1e-12)),
            "rel_in": float(np.abs(x - shifted).sum() / max(np.abs(x).sum(), 1e-12)),
            "winners": winners(x, state.extent, state.stride) if state.mode == "max" else None,
            "winners_shifted": winners(shifted, state.extent, state.stride) if state.mode == "max" else None}


def _with_winners(x: np.ndarray, mask) -> np.ndarray:
    rgb = np.repeat(x[:, :, None], 3, axis=2) * 0.8
    if mask is not None:
        rgb[mask] = [1.0, 0.25, 0.1]
    return rgb


def _build(fig: Figure) -> dict:
    art = {}
    titles = [("x", "input (red: window winners)"), ("p", "pooled"),
              ("xs", "input shifted right"), ("ps", "pooled, shifted"), ("d", "|pooled - pooled shifted|")]
    for i, (key, title) in enumerate(titles):
        _, art[key] = image_axes(fig, (0.005 + i * 0.2, 0.03, 0.19, 0.8), title, cmap="gray")
    return art


def draw(state: State, fig: Figure | None = None, pool_fn=None, avg_pool_fn=None) -> Figure:
    """Five panels: input + winners, pooled, shifted input + winners, pooled shifted, changed outputs."""
    fig, art = prepare(fig, (11.0, 2.6), _build)
    d = compute(state, pool_fn, avg_pool_fn)
    set_image(art["x"], _with_winners(d["x"], d["winners"]))
    set_image(art["xs"], _with_winners(d["shifted"], d["winners_shifted"]))
    set_image(art["p"], d["pooled"], 0.0, 1.0)
    set_image(art["ps"], d["pooled_shifted"], 0.0, 1.0)
    set_image(art["d"], d["changed"], 0.0, 1.0)
    return fig


class PoolingExplorer(Explorer):
    """Image, max/avg, extent, stride, shift -> winners, pooled maps and the effect of the shift.

    ``pool_fn(x, kernel_size, stride=)`` (max; default ``course_utils.reference.maxpool2d_forward``) and
    ``avg_pool_fn`` (default ``course_utils.reference.avgpool2d_forward``): x (1, 1, H, W) -> (1, 1, Ho, Wo).
    """

    def __init__(self, pool_fn=None, avg_pool_fn=None, **start):
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

    def render(self, state: State) -> Figure:
        self._data = compute(state, self.pool_fn, self.avg_pool_fn)
        return draw(state, self.fig, self.pool_fn, self.avg_pool_fn)

    def describe_html(self, state: State) -> str:
        d = self._data
        ho = d["pooled"].shape[0]
        return (f"{state.mode}-pool {state.extent}&times;{state.extent}, stride {state.stride}: "
                f"{SIZE}&times;{SIZE} &rarr; <b class='cu-out'>{ho}&times;{ho}</b>. Shifting the input by "
                f"{state.shift} px changes the input by {100 * d['rel_in']:.0f}% (sum of |differences| / sum of "
                f"|values|) and the pooled output by <b>{100 * d['rel_out']:.0f}%</b>.")

    def describe(self, state: State) -> str:
        d = self._data
        return (f"{state.mode} F={state.extent} S={state.stride} shift={state.shift} out={d['pooled'].shape[0]} "
                f"change in={100 * d['rel_in']:.0f}% out={100 * d['rel_out']:.0f}%")
