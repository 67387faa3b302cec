"""Pooling and receptive fields (lecture slides 26-29; notebook 04, Assignment 2 parts 3-5).

Pooling: x (N, C, H, W) -> (N, C, H_out, W_out), H_out = conv_output_size(H, kernel_size, stride) (no padding);
the backward passes take dout (N, C, H_out, W_out) and x, and return dx (N, C, H, W).
Receptive fields: layers [(kernel_size, stride, padding), ...] from the input up.
"""

from __future__ import annotations

import numpy as np

from .core import Exercise, Mistake, Variants, implementation, register


def pool_cases(backward: bool):
    def cases(seed: int) -> list[dict]:
        """8 cases, windows 1-3, non-square inputs, stride 1 to kernel_size + 1 (overlapping windows when
        stride < kernel_size, skipped pixels when stride > kernel_size); every other one small integers after
        a ReLU (many ties and zeros inside a window). Backward: with a random dout of the output's shape."""
        from course_utils.reference import conv_output_size

        rng = np.random.default_rng(seed)
        out = []
        for i in range(8):
            k = int(rng.integers(1, 4))
            stride = int(rng.integers(1, k + 2))
            N, C = (int(v) for v in rng.integers(1, 3, size=2))
            H, W = int(rng.integers(k, k + 6)), int(rng.integers(k, k + 6))
            x = (np.maximum(rng.integers(-2, 3, size=(N, C, H, W)), 0).astype(float) if i % 2
                 else rng.standard_normal((N, C, H, W)))
            case = dict(x=x, kernel_size=k, stride=stride)
            if backward:
                Ho, Wo = conv_output_size(H, k, stride), conv_output_size(W, k, stride)
                case = dict(dout=rng.standard_normal((N, C, Ho, Wo)), **case)
            out.append(case)
        return out

    return cases


def _reference(name):
    def reference(case):
        from course_utils import reference

        return getattr(reference, name)(**case)

    return reference


_X = np.array([[[[1.0, 3.0, 2.0], [4.0, 0.0, 1.0], [0.0, 5.0, 1.0]]]])


def _forward_examples() -> list[dict]:
    """The readable 3x3 case, then notebook 04's disjoint, overlapping and non-square cases."""
    rng = np.random.default_rng(2)
    return [dict(x=_X, kernel_size=2, stride=1), dict(x=np.zeros((2, 3, 5, 5)), kernel_size=2, stride=2),
            *(dict(x=rng.normal(size=shape), kernel_size=K, stride=S) for shape, K, S in
              [((1, 1, 4, 4), 2, 2), ((2, 3, 7, 6), 3, 2), ((1, 2, 9, 9), 3, 1), ((1, 1, 6, 6), 4, 2)])]


# ---------------------------------------------------------------- plausible wrong pooling (``Exercise.mistakes``)
def _windows(case, ceil=False):
    """(i, j, rows, cols) of each pooling window of ``case`` (``ceil``: also the windows that run past the edge,
    clipped to the input)."""
    x, k = case["x"], case["kernel_size"]
    s = case.get("stride") or k
    H, W = x.shape[2:]
    # rounded up, a last window must still start inside the input (PyTorch's ceil_mode)
    Ho, Wo = ((-(-(n - k) // s) + 1 - (-(-(n - k) // s) * s >= n) if ceil else (n - k) // s + 1) for n in (H, W))
    for i in range(Ho):
        for j in range(Wo):
            yield i, j, slice(i * s, i * s + k), slice(j * s, j * s + k)


@implementation
def _pool_stride_ignored(case, name):
    """Wrong: windows one pixel apart whatever the stride (at stride 1's output size, or at the right one)."""
    from course_utils import reference

    right = getattr(reference, name)(**case)
    full = getattr(reference, name)(**{**case, "stride": 1})
    return Variants(full, full[:, :, :right.shape[2], :right.shape[3]])


@implementation
def _pool_partial_windows(case, reduce):
    """Wrong: keeps the windows that run past the edge (output size rounded up), clipped to the input; an
    average over the pixels inside, or over kernel_size**2."""
    x, k = case["x"], case["kernel_size"]
    windows = list(_windows(case, ceil=True))
    Ho, Wo = windows[-1][0] + 1, windows[-1][1] + 1
    outs = [np.zeros((*x.shape[:2], Ho, Wo)) for _ in range(1 if reduce == "max" else 2)]
    for i, j, rows, cols in windows:
        window = x[:, :, rows, cols]
        if reduce == "max":
            outs[0][:, :, i, j] = window.max(axis=(2, 3))
        else:
            outs[0][:, :, i, j] = window.mean(axis=(2, 3))
            outs[1][:, :, i, j] = window.sum(axis=(2, 3)) / k**2
    return Variants(*outs)


@implementation
def _maxpool_backward_wrong(case, how):
    """Wrong maxpool backward. ``how``: "ties" (dout to every position that holds the maximum), "assign"
    (dx[...] = instead of +=: overlapping windows overwrite each other; at the maximum only, or the whole
    window)."""
    x, dout = case["x"], case["dout"]
    at_max, whole = np.zeros_like(x), np.zeros_like(x)
    for i, j, rows, cols in _windows(case):
        window = x[:, :, rows, cols]
        mask = window == window.max(axis=(2, 3), keepdims=True)
        if how == "ties":
            at_max[:, :, rows, cols] += mask * dout[:, :, i, j, None, None]
            continue
        first = np.zeros_like(mask)
        N, C, kh, kw = window.shape
        flat = window.reshape(N, C, -1).argmax(axis=2)
        first.reshape(N, C, -1)[np.arange(N)[:, None], np.arange(C)[None], flat] = True
        for n in range(N):
            for c in range(C):
                a, b = divmod(int(flat[n, c]), kw)
                at_max[n, c, rows.start + a, cols.start + b] = dout[n, c, i, j]
        whole[:, :, rows, cols] = first * dout[:, :, i, j, None, None]
    return at_max if how == "ties" else Variants(at_max, whole)


@implementation
def _avgpool_backward_wrong(case, how):
    """Wrong avgpool backward. ``how``: "undivided" (each pixel gets dout, not dout / kernel_size**2),
    "assign" (dx[window] = instead of +=)."""
    x, dout, k = case["x"], case["dout"], case["kernel_size"]
    dx = np.zeros_like(x)
    for i, j, rows, cols in _windows(case):
        if how == "undivided":
            dx[:, :, rows, cols] += dout[:, :, i, j, None, None]
        else:
            dx[:, :, rows, cols] = dout[:, :, i, j, None, None] / k**2
    return dx


def _pool_mistakes(name, reduce):
    return (
        Mistake("stride_ignored", "your output equals pooling with stride 1: window (i, j) starts at row i*stride, "
                                  "column j*stride, not at (i, j)", lambda case: _pool_stride_ignored(case, name)),
        Mistake("partial_windows", "your output keeps the windows that run past the edge of the input (the size "
                                   "rounded up): like PyTorch, drop them, only whole windows count",
                lambda case: _pool_partial_windows(case, reduce)),
    )


SHAPE_HINT = ("H_out = (H - kernel_size) // stride + 1 (likewise W_out), per image and channel; stride = "
              "kernel_size when it is None")

register(Exercise(
    "maxpool2d_forward", pool_cases(False), _reference("maxpool2d_forward"), examples=_forward_examples,
    mistakes=_pool_mistakes("maxpool2d_forward", "max"),
    hints={"shape": SHAPE_HINT,
           "values": "window (i, j) starts at row i*stride, column j*stride; take the max over it, per channel"},
    # notebook 04's function has stride=None (kernel_size, as in PyTorch); Assignment 2's takes a stride
    notebook_examples=lambda: [dict(x=np.random.default_rng(3).normal(size=(2, 1, 8, 5)), kernel_size=2)],
), "a2_maxpool2d_forward")

register(Exercise(
    "maxpool2d_backward", pool_cases(True), _reference("maxpool2d_backward"),
    mistakes=(Mistake("every_tied_maximum", "your dx sends a window's gradient to EVERY position that holds its "
                                            "maximum: on a tie only the first one (row by row) gets it",
                      lambda case: _maxpool_backward_wrong(case, "ties")),
              Mistake("assigned_not_accumulated", "your dx equals one where overlapping windows overwrite each "
                                                  "other (dx[...] = ...): a pixel that is the maximum of several "
                                                  "windows gets the sum of their gradients",
                      lambda case: _maxpool_backward_wrong(case, "assign"))),
    examples=lambda: [dict(dout=np.ones((1, 1, 2, 2)), x=_X, kernel_size=2, stride=1),
                      dict(dout=np.ones((1, 1, 1, 1)), x=np.ones((1, 1, 2, 2)), kernel_size=2, stride=2)],
    hints={"shape": "dx has the shape of x", "values":
           "each window sends its dout to its maximum; on ties to the first maximum only (np.argmax); a max of "
           "two overlapping windows gets both gradients: add them up (+=)"},
    outputs=("dx",),
), "a2_maxpool2d_backward")

register(Exercise(
    "avgpool2d_forward", pool_cases(False), _reference("avgpool2d_forward"),
    mistakes=_pool_mistakes("avgpool2d_forward", "mean"),
    examples=lambda: [dict(x=np.arange(16, dtype=float).reshape(1, 1, 4, 4), kernel_size=2, stride=2),
                      dict(x=np.arange(16, dtype=float).reshape(1, 1, 4, 4), kernel_size=3, stride=1)],
    hints={"shape": SHAPE_HINT, "values": "the mean of each kernel_size x kernel_size window"},
), "a2_avgpool2d_forward")

register(Exercise(
    "avgpool2d_backward", pool_cases(True), _reference("avgpool2d_backward"),
    mistakes=(Mistake("not_divided", "your dx is kernel_size**2 times too large: the mean divides each pixel's "
                                     "share by the window's size",
                      lambda case: _avgpool_backward_wrong(case, "undivided")),
              Mistake("assigned_not_accumulated", "your dx equals one where overlapping windows overwrite each "
                                                  "other (dx[window] = ...): a pixel in several windows gets the sum "
                                                  "of their shares",
                      lambda case: _avgpool_backward_wrong(case, "assign"))),
    examples=lambda: [dict(dout=np.ones((1, 1, 2, 2)), x=np.zeros((1, 1, 3, 3)), kernel_size=2, stride=1)],
    hints={"shape": "dx has the shape of x",
           "values": "each window gives dout / kernel_size**2 to each of its pixels; overlaps add up (+=)"},
    outputs=("dx",),
), "a2_avgpool2d_backward")


# ---------------------------------------------------------------- receptive fields
def rf_cases(seed: int) -> list[dict]:
    """10 stacks of 1-5 layers (kernel_size 1-5, stride 1-3, padding 0-2)."""
    rng = np.random.default_rng(seed)
    return [dict(layers=[(int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3)))
                         for _ in range(int(rng.integers(1, 6)))]) for _ in range(10)]


def _rf_examples() -> list[dict]:
    """The lecture's conv + pool (P + K - 1), two 3x3 convs, and notebook 04's stacks."""
    return [dict(layers=[(5, 1, 0), (2, 2, 0)]), dict(layers=[(3, 2, 1), (3, 1, 1)]),
            dict(layers=[(3, 1, 1), (3, 1, 1), (2, 2, 0), (3, 1, 1)]),
            dict(layers=[(7, 2, 3), (3, 2, 1), (3, 1, 1), (3, 2, 1)])]


@implementation
def _rf(case):
    from course_utils.reference import receptive_field

    return np.array([[r.size, r.jump, r.start] for r in receptive_field(case["layers"])], dtype=float)


@implementation
def _rf_wrong(case, how):
    """Wrong receptive fields [(size, jump, start), ...]. ``how``: "jump_first" (jump *= stride before it is
    used: in the size and the start, or in the size only), "plus_k" (size += kernel_size), "no_jump"
    (size += kernel_size - 1, whatever the strides below)."""
    variants = []
    for start_too in (True, False) if how == "jump_first" else (True,):
        size, jump, start, rows = 1, 1, 0.0, []
        for k, s, p in case["layers"]:
            old = jump
            if how == "jump_first":
                jump *= s
            size += {"jump_first": (k - 1) * jump, "plus_k": k, "no_jump": k - 1}[how]
            start += ((k - 1) / 2 - p) * (jump if start_too and how == "jump_first" else old)
            jump = old * s
            rows.append([size, jump, start])
        variants.append(np.array(rows, dtype=float))
    return Variants(*variants)


def _rf_mistakes(columns):
    def output(how):
        return lambda case: Variants(*(v[:, columns] for v in _rf_wrong(case, how)))

    return (
        Mistake("jump_updated_before_use", "your sizes use the jump AFTER this layer's stride: multiply jump by "
                                           "the stride only once the layer's size and start are updated",
                output("jump_first")),
        Mistake("plus_k", "your sizes grow by kernel_size at each layer: a layer adds (kernel_size - 1) * jump, "
                          "its extra pixels measured in input pixels", output("plus_k")),
        Mistake("jump_ignored", "your sizes grow by kernel_size - 1 at each layer: above a strided layer one step "
                                "is jump input pixels, so multiply by jump", output("no_jump")),
    )


def _rf_call(fn, case):
    return np.array([tuple(r) for r in fn(list(case["layers"]))], dtype=float)


def _rf_judge(case, got) -> str | None:
    from .core import compare

    if len(got) != 1:
        return f"expected one list of (size, jump, start), got {len(got)} outputs"
    return compare(got, _rf(case), names=["[(size, jump, start), ...]"])


register(Exercise(
    "receptive_field", rf_cases, _rf, examples=_rf_examples, call=_rf_call, judge=_rf_judge,
    mistakes=_rf_mistakes(slice(None)),
    hints={"values": "size += (kernel_size - 1) * jump; start += ((kernel_size - 1) / 2 - padding) * jump; "
                     "jump *= stride, updated last (the product of the strides BEFORE this layer)"},
    describe=lambda case: f"layers={case['layers']}",
), "a2_receptive_field")

register(Exercise(
    "receptive_field_sizes", rf_cases, lambda case: _rf(case)[:, 0], examples=_rf_examples,
    mistakes=_rf_mistakes(0),
    call=lambda fn, case: np.array(list(fn(list(case["layers"]))), dtype=float),
    hints={"shape": "one size per layer",
           "values": "size grows by (kernel_size - 1) * jump, where jump is the product of the strides BEFORE "
                     "this layer"},
    describe=lambda case: f"layers={case['layers']}",
))
