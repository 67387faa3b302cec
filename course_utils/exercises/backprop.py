"""Backprop with tied weights (lecture slide 30; notebook 03, Assignment 2 parts 1-2).

conv2d_backward: dout (N, F, H_out, W_out), x (N, C, H, W), w (F, C, KH, KW) -> (dx, dw, db) of the shapes
of x, w and (F,).
"""

from __future__ import annotations

import math

import numpy as np

from .convolution import conv_cases
from .core import Exercise, Mistake, Variants, implementation, register


# ---------------------------------------------------------------- a 1-D filter tied across positions
def _tied_cases(seed: int) -> list[dict]:
    """8 cases: x (L,) with L in [3, 15), kernel_size K in [1, 4), dout (L - K + 1,)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(8):
        L, K = int(rng.integers(3, 15)), int(rng.integers(1, 4))
        out.append(dict(x=rng.standard_normal(L), dout=rng.standard_normal(L - K + 1), kernel_size=K))
    return out


@implementation
def _tied(case):
    """The sum over positions of the per-position gradients dout[i] * x[i + j] (slide 30)."""
    x, dout, K = case["x"], case["dout"], case["kernel_size"]
    per_position = np.array([[dout[i] * x[i + j] for j in range(K)] for i in range(len(dout))])
    return per_position.sum(axis=0)


@implementation
def _tied_per_position(case):
    """The per-position gradients dout[i] * x[i + j], (positions, kernel_size): what a wrong answer keeps."""
    x, dout, K = case["x"], case["dout"], case["kernel_size"]
    return np.array([[dout[i] * x[i + j] for j in range(K)] for i in range(len(dout))])


TIED_MISTAKES = (
    Mistake("first_position_only", "your dw equals the gradient of the first position only: the filter is used "
                                   "at every position, and each use adds its gradient",
            lambda case: _tied_per_position(case)[0]),
    Mistake("not_summed", "your dw holds one gradient per position (or the last one): sum them over the "
                          "positions into one gradient per weight",
            lambda case: Variants(_tied_per_position(case), _tied_per_position(case)[-1])),
)

register(Exercise(
    "tied_weight_gradient", _tied_cases, _tied, mistakes=TIED_MISTAKES,
    examples=lambda: [dict(x=np.array([1.0, 2.0, 3.0]), dout=np.array([1.0, 1.0]), kernel_size=2)],
    hints={"shape": "one gradient per weight of the shared filter: (kernel_size,)",
           "values": "sum the per-position gradients dout[i] * x[i + j] over every position i"},
    outputs=("dw",),
), "a2_tied_weight_gradient")


# ---------------------------------------------------------------- notebook 03: one weight used twice
def _scalar_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [dict(x=float(rng.uniform(-2, 2)), t=float(rng.uniform(-1, 1)), w=float(rng.uniform(-2, 2)))
            for _ in range(6)]


@implementation
def _scalar(case) -> float:
    """dE/dw1 + dE/dw2 at w1 = w2 = w for y = w2 * tanh(w1 * x), E = (y - t)**2 / 2."""
    x, t, w = case["x"], case["t"], case["w"]
    h = math.tanh(w * x)
    return (w * h - t) * (w * (1 - h**2) * x + h)


register(Exercise(
    "tied_scalar_gradient", _scalar_cases, _scalar,
    examples=lambda: [dict(x=x, t=t, w=w) for x, t, w in [(1.0, 0.0, 0.5), (0.3, 1.0, -1.2), (-2.0, 0.5, 0.8),
                                                          (1.5, -1.0, 2.0)]],
    call=lambda fn, case: float(fn(case["x"], case["t"], case["w"])), float64=(1e-8, 1e-12),
    hints={"shape": "return one number (a float): the sum of the two partial derivatives",
           "values": "dE/dw1 = (y - t) * w2 * (1 - tanh(w1 x)**2) * x and dE/dw2 = (y - t) * tanh(w1 x); "
                     "add them"},
    describe=lambda c: f"x={c['x']:.3g}, t={c['t']:.3g}, w={c['w']:.3g}", numpy_only=False,
))


# ---------------------------------------------------------------- conv backward
def conv_backward_cases(seed: int) -> list[dict]:
    """The first 5 forward cases (``conv_cases``) with a random dout of the output's shape."""
    from course_utils.reference import conv_output_size

    rng = np.random.default_rng(seed)
    out = []
    for case in conv_cases(seed, n=5):
        N, F = case["x"].shape[0], case["w"].shape[0]
        Ho = conv_output_size(case["x"].shape[2], case["w"].shape[2], case["stride"], case["padding"])
        Wo = conv_output_size(case["x"].shape[3], case["w"].shape[3], case["stride"], case["padding"])
        out.append(dict(dout=rng.standard_normal((N, F, Ho, Wo)), x=case["x"], w=case["w"],
                        stride=case["stride"], padding=case["padding"]))
    return out


def _backward_examples() -> list[dict]:
    """A readable 3x3 case (overlapping windows, then stride 2 and padding 1), then notebook 03's cases."""
    x = np.arange(9, dtype=float).reshape(1, 1, 3, 3)
    out = [dict(dout=np.ones((1, 1, 2, 2)), x=x, w=np.ones((1, 1, 2, 2)), stride=1, padding=0),
           dict(dout=np.ones((1, 1, 2, 2)), x=x, w=np.ones((1, 1, 2, 2)), stride=2, padding=1)]
    rng = np.random.default_rng(3)
    for N, C, H, W, F, K, S, P in [(2, 3, 7, 6, 4, 3, 1, 1), (2, 2, 9, 8, 3, 3, 2, 0), (1, 2, 8, 8, 2, 4, 2, 2)]:
        Ho, Wo = (H + 2 * P - K) // S + 1, (W + 2 * P - K) // S + 1
        out.append(dict(dout=rng.normal(size=(N, F, Ho, Wo)), x=rng.normal(size=(N, C, H, W)),
                        w=rng.normal(size=(F, C, K, K)), stride=S, padding=P))
    return out


@implementation
def _conv_backward(case):
    from course_utils.reference import conv2d_backward

    return conv2d_backward(**case)


@implementation
def _backward_wrong(case, how):
    """Wrong (dx, dw, db). ``how``: "dx_first_filter" (dx from filter 0 only), "dw_first_image" (dw from image 0
    only), "db_no_batch_sum" (db of image 0 only, or one row per image)."""
    from course_utils.reference import conv2d_backward

    dx, dw, db = conv2d_backward(**case)
    if how == "dx_first_filter":
        return conv2d_backward(**{**case, "dout": case["dout"][:, :1], "w": case["w"][:1]})[0], dw, db
    if how == "dw_first_image":
        return dx, conv2d_backward(**{**case, "dout": case["dout"][:1], "x": case["x"][:1]})[1], db
    return Variants((dx, dw, case["dout"][0].sum(axis=(1, 2))), (dx, dw, case["dout"].sum(axis=(2, 3))))


BACKWARD_MISTAKES = (
    Mistake("dx_first_filter_only", "your dx equals the gradient through the FIRST filter only: every filter "
                                    "saw the input, so dx sums the contributions of all F filters",
            lambda case: _backward_wrong(case, "dx_first_filter")),
    Mistake("dw_first_image_only", "your dw equals the gradient of the FIRST image only: the filters are shared "
                                   "by the whole batch, so dw sums over the N images",
            lambda case: _backward_wrong(case, "dw_first_image")),
    Mistake("db_no_batch_sum", "your db is not summed over the batch: db[f] adds dout[n, f] over every image n "
                               "as well as every position", lambda case: _backward_wrong(case, "db_no_batch_sum")),
)

register(Exercise(
    "conv2d_backward", conv_backward_cases, _conv_backward, examples=_backward_examples, outputs=("dx", "dw", "db"),
    mistakes=BACKWARD_MISTAKES,
    hints={"shape": "dx has the shape of x (cut the padding off), dw the shape of w, db one value per filter",
           "dx": "scatter dout[n, f, i, j] * w[f] back onto the window: overlapping windows must add (+=) into "
                 "dx, not overwrite it; then cut the padding off",
           "dw": "dw[f] sums dout[n, f, i, j] * (padded window at i, j) over n, i and j (do not flip it)",
           "db": "db[f] is the sum of dout[:, f] over the batch and all positions"},
), "a2_conv2d_backward")
