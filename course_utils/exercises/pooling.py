"""Pooling and receptive fields (lecture slides 26-29; notebook 04, Assignment 2 parts 3-5).

Pooling: x (N, C, H, W) -> (N, C, H_out, W_out), H_out = conv_output_size(H, kernel_size, stride) (no padding);
the backward passes take dout (N, C, H_out, W_out) and x, and return dx (N, C, H, W).
Receptive fields: layers [(kernel_size, stride, padding), ...] from the input up.
"""

from __future__ import annotations

import numpy as np

from .core import Exercise, implementation, register


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


SHAPE_HINT = ("H_out = (H - kernel_size) // stride + 1 (likewise W_out), per image and channel; stride = "
              "kernel_size when it is None")

register(Exercise(
    "maxpool2d_forward", pool_cases(False), _reference("maxpool2d_forward"), examples=_forward_examples,
    hints={"shape": SHAPE_HINT,
           "values": "window (i, j) starts at row i*stride, column j*stride; take the max over it, per channel"},
    # notebook 04's function has stride=None (kernel_size, as in PyTorch); Assignment 2's takes a stride
    notebook_examples=lambda: [dict(x=np.random.default_rng(3).normal(size=(2, 1, 8, 5)), kernel_size=2)],
), "a2_maxpool2d_forward")

register(Exercise(
    "maxpool2d_backward", pool_cases(True), _reference("maxpool2d_backward"),
    examples=lambda: [dict(dout=np.ones((1, 1, 2, 2)), x=_X, kernel_size=2, stride=1),
                      dict(dout=np.ones((1, 1, 1, 1)), x=np.ones((1, 1, 2, 2)), kernel_size=2, stride=2)],
    hints={"shape": "dx has the shape of x", "values":
           "each window sends its dout to its maximum; on ties to the first maximum only (np.argmax); a max of "
           "two overlapping windows gets both gradients: add them up (+=)"},
    outputs=("dx",),
), "a2_maxpool2d_backward")

register(Exercise(
    "avgpool2d_forward", pool_cases(False), _reference("avgpool2d_forward"),
    examples=lambda: [dict(x=np.arange(16, dtype=float).reshape(1, 1, 4, 4), kernel_size=2, stride=2),
                      dict(x=np.arange(16, dtype=float).reshape(1, 1, 4, 4), kernel_size=3, stride=1)],
    hints={"shape": SHAPE_HINT, "values": "the mean of each kernel_size x kernel_size window"},
), "a2_avgpool2d_forward")

register(Exercise(
    "avgpool2d_backward", pool_cases(True), _reference("avgpool2d_backward"),
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


def _rf_call(fn, case):
    return np.array([tuple(r) for r in fn(list(case["layers"]))], dtype=float)


def _rf_judge(case, got) -> str | None:
    from .core import compare

    if len(got) != 1:
        return f"expected one list of (size, jump, start), got {len(got)} outputs"
    return compare(got, _rf(case), names=["[(size, jump, start), ...]"])


register(Exercise(
    "receptive_field", rf_cases, _rf, examples=_rf_examples, call=_rf_call, judge=_rf_judge,
    hints={"values": "size += (kernel_size - 1) * jump; start += ((kernel_size - 1) / 2 - padding) * jump; "
                     "jump *= stride, updated last (the product of the strides BEFORE this layer)"},
    describe=lambda case: f"layers={case['layers']}",
), "a2_receptive_field")

register(Exercise(
    "receptive_field_sizes", rf_cases, lambda case: _rf(case)[:, 0], examples=_rf_examples,
    call=lambda fn, case: np.array(list(fn(list(case["layers"]))), dtype=float),
    hints={"shape": "one size per layer",
           "values": "size grows by (kernel_size - 1) * jump, where jump is the product of the strides BEFORE "
                     "this layer"},
    describe=lambda case: f"layers={case['layers']}",
))
