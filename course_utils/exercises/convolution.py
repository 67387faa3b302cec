"""Convolution (lecture slides 16-24, 32; notebooks 01-02, Assignment 1 parts 2-4).

Shapes: x (N, C, H, W) images, w (F, C, KH, KW) filters, b (F,) or None; outputs (N, F, H_out, W_out) with
H_out = conv_output_size(H, KH, stride, padding) (``course_utils.reference``; PyTorch's rounding).
"""

from __future__ import annotations

import numpy as np

from .core import Exercise, Mistake, Variants, implementation, register


# ---------------------------------------------------------------- output size
def output_size_cases(seed: int) -> list[dict]:
    """30 (size, kernel_size, stride, padding) along one axis, the kernel never larger than the padded input."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < 30:
        case = dict(size=int(rng.integers(1, 300)), kernel_size=int(rng.integers(1, 12)),
                    stride=int(rng.integers(1, 5)), padding=int(rng.integers(0, 4)))
        if case["kernel_size"] <= case["size"] + 2 * case["padding"]:
            out.append(case)
    return out


@implementation
def _output_size(case) -> int:
    from course_utils.reference import conv_output_size

    return conv_output_size(**case)


@implementation
def _size_ceil(case) -> int:
    """Wrong: rounds up where the stride does not divide (a window that runs past the padded input)."""
    return -(-(case["size"] + 2 * case["padding"] - case["kernel_size"]) // case["stride"]) + 1


@implementation
def _size_padding_once(case) -> int:
    """Wrong: adds the padding once, as if only one side were padded."""
    return (case["size"] + case["padding"] - case["kernel_size"]) // case["stride"] + 1


SIZE_MISTAKES = (
    Mistake("ceil_not_floor", "your size equals the formula rounded up (ceil): a last window that runs past the "
                              "padded input is not computed, so the division rounds down", _size_ceil),
    Mistake("padding_counted_once", "your size equals the formula with the padding counted once: padding adds "
                                    "padding pixels on BOTH sides, 2 * padding in all", _size_padding_once),
)

register(Exercise(
    "conv_output_size", output_size_cases, _output_size, mistakes=SIZE_MISTAKES,
    examples=lambda: [dict(size=H, kernel_size=K, stride=S, padding=P) for H, K, S, P in
                      [(32, 3, 1, 1), (227, 11, 4, 0), (8, 3, 2, 0), (5, 3, 1, 0), (10, 4, 3, 1), (6, 6, 1, 0),
                       (9, 2, 2, 2)]],
    hints={"values": "count the window positions in the padded input (padding adds 2 * padding pixels); when the "
                     "stride does not divide, round down, as PyTorch does: (8 - 3) // 2 + 1"},
    describe=lambda c: ", ".join(f"{k}={v}" for k, v in c.items()), exact=True, checked_cases=10,
), "a1_conv_output_size")


# ---------------------------------------------------------------- forward pass
def conv_cases(seed: int, n: int = 6) -> list[dict]:
    """``n`` random layers: N, C, F in [1, 4), kernels 1-4 (not square), stride 1-3, padding 0-2; every third
    without a bias. Arrays are float64, standard normal."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
        KH, KW = (int(v) for v in rng.integers(1, 5, size=2))
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        H, W = int(rng.integers(KH, KH + 7)), int(rng.integers(KW, KW + 7))
        out.append(dict(x=rng.standard_normal((N, C, H, W)), w=rng.standard_normal((F, C, KH, KW)),
                        b=None if i % 3 == 2 else rng.standard_normal(F), stride=stride, padding=padding))
    return out


def _conv_examples() -> list[dict]:
    """A readable 4x4 case, then the multi-channel, strided, padded, non-square cases of notebook 02."""
    x = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    out = [dict(x=x, w=w, b=None, stride=1, padding=0), dict(x=x, w=w, b=np.array([2.0]), stride=2, padding=1)]
    rng = np.random.default_rng(1)
    for N, C, H, W, F, K, S, P in [(2, 3, 6, 7, 4, 3, 1, 1), (2, 2, 9, 8, 3, 3, 2, 0), (1, 3, 7, 7, 2, 5, 2, 2),
                                   (1, 2, 4, 5, 3, 1, 1, 0)]:
        out.append(dict(x=rng.normal(size=(N, C, H, W)), w=rng.normal(size=(F, C, K, K)), b=rng.normal(size=F),
                        stride=S, padding=P))
    return out


@implementation
def _conv_forward(case):
    from course_utils.reference import conv2d_forward

    return conv2d_forward(**case)


@implementation
def _conv(case, **changes):
    from course_utils.reference import conv2d_forward

    return conv2d_forward(**{**case, **changes})


@implementation
def _conv_flipped(case):
    """Wrong: a true convolution (the kernel flipped in both directions)."""
    return _conv(case, w=case["w"][:, :, ::-1, ::-1].copy())


@implementation
def _conv_no_bias(case):
    """Wrong: forgets b."""
    return _conv(case, b=None)


@implementation
def _conv_first_channel(case):
    """Wrong: sums over the first input channel only."""
    return _conv(case, x=case["x"][:, :1], w=case["w"][:, :1])


@implementation
def _conv_one_sided_padding(case):
    """Wrong: pads on one side only: 2 * padding zeros after the image (copied into the top-left corner of the
    padded array), or padding zeros before it only."""
    p = case["padding"]
    return Variants(_conv(case, x=np.pad(case["x"], ((0, 0), (0, 0), (0, 2 * p), (0, 2 * p))), padding=0),
                    _conv(case, x=np.pad(case["x"], ((0, 0), (0, 0), (p, 0), (p, 0))), padding=0),
                    _conv(case, x=np.pad(case["x"], ((0, 0), (0, 0), (0, p), (0, p))), padding=0))


@implementation
def _conv_stride_ignored(case):
    """Wrong: slides the window one pixel at a time whatever the stride (at the right output size, or at stride
    1's)."""
    full = _conv(case, stride=1)
    Ho, Wo = _conv(case).shape[2:]
    return Variants(full, full[:, :, :Ho, :Wo])


CONV_MISTAKES = (
    Mistake("flipped_kernel", "your output equals a convolution with the kernel flipped: deep-learning libraries "
                              "compute cross-correlation, not convolution", _conv_flipped),
    Mistake("no_bias", "your output equals the right one without the bias: add b[f] to every position of map f",
            _conv_no_bias),
    Mistake("first_channel_only", "your output equals a sum over the FIRST input channel only: a filter spans "
                                  "all C channels, sum over them too", _conv_first_channel),
    Mistake("one_sided_padding", "your output equals an input padded on one side only: pad padding zeros on "
                                 "every side (top, bottom, left and right)", _conv_one_sided_padding),
    Mistake("stride_ignored", "your output equals the stride-1 one: output (i, j) starts at input pixel "
                              "(i*stride, j*stride), not (i, j)", _conv_stride_ignored),
)

register(Exercise(
    "conv2d_forward", conv_cases, _conv_forward, examples=_conv_examples, mistakes=CONV_MISTAKES,
    hints={"shape": "H_out = (H + 2*padding - KH) // stride + 1 (likewise W_out), one map per filter",
           "values": "slide the window without flipping the filter (cross-correlation), sum over ALL input "
                     "channels, add b[f]; pad with zeros first: output (i, j) starts at padded pixel "
                     "(i*stride, j*stride)"},
    # Assignment 1's conv2d_forward may call the student's conv_output_size: judged with the course's, so that a
    # wrong output size costs that item only
    uses={"conv_output_size": "course_utils.reference:conv_output_size"},
), "a1_conv2d_forward")


# ---------------------------------------------------------------- a filterbank (Assignment 1 part 4)
def _filterbank_cases(seed: int) -> list[dict]:
    """5 gray images (H, W) in [5, 20) with banks of 1-4 3x3 filters."""
    rng = np.random.default_rng(seed)
    return [dict(image=rng.random((int(rng.integers(5, 20)), int(rng.integers(5, 20)))),
                 bank=rng.standard_normal((int(rng.integers(1, 5)), 3, 3))) for _ in range(5)]


@implementation
def _filterbank(case, relu=True):
    from course_utils.reference import conv2d_forward

    cube = conv2d_forward(case["image"][None, None], case["bank"][:, None])[0]
    return np.maximum(cube, 0.0) if relu else cube


register(Exercise(
    "apply_filterbank", _filterbank_cases, _filterbank,
    examples=lambda: [dict(image=np.arange(20, dtype=float).reshape(4, 5),
                           bank=np.stack([np.ones((3, 3)), -np.ones((3, 3))]))],
    hints={"shape": "one map per filter: (K, H-KH+1, W-KW+1) (no padding, stride 1)",
           "values": "ReLU: max(0, response) of each filter, cross-correlated with the image (conv2d_forward)"},
    uses={"conv2d_forward": "course_utils.reference:conv2d_forward"},
    mistakes=(Mistake("no_relu", "your maps keep the negative responses: rectify each filter's map, "
                                 "np.maximum(response, 0) (ReLU)", lambda case: _filterbank(case, relu=False)),),
), "a1_apply_filterbank")


def _responses(kernel, image):
    from course_utils.reference import conv2d_forward

    return conv2d_forward(image[None, None], kernel[None, None])[0, 0]


def _design_judge(case, got) -> str | None:
    """The bank's four filters on test images of contrast ``case["contrast"]`` with edges at ``case["at"]``."""
    if len(got) != 1 or got[0].shape != (4, 3, 3):
        return f"expected one (4, 3, 3) filterbank, got shapes {[g.shape for g in got]}"
    bank, c, at = got[0], case["contrast"], case["at"]
    size = 12
    vertical = np.zeros((size, size))
    vertical[:, at:] = c  # a vertical edge
    horizontal = vertical.T.copy()
    quadrant = np.zeros((size, size))
    quadrant[at:, at:] = c  # one corner
    dot = np.zeros((size, size))
    dot[at, at] = c
    flat = np.full((size, size), c)
    names = ("vertical-edge", "horizontal-edge", "corner", "dot")
    for k, name in zip(bank, names):
        if np.abs(_responses(k, flat)).max() > 1e-9:
            return f"the {name} filter responds to a flat image (its weights should sum to 0)"

    def r(k, img):
        return np.abs(_responses(k, img)).max()

    tol = 1e-9
    if not (r(bank[0], vertical) > 0.1 * c and r(bank[0], horizontal) < tol):
        return "filter 0 should respond to vertical edges and not at all to horizontal ones"
    if not (r(bank[1], horizontal) > 0.1 * c and r(bank[1], vertical) < tol):
        return "filter 1 should respond to horizontal edges and not at all to vertical ones"
    if not (r(bank[2], quadrant) > 0.1 * c and r(bank[2], vertical) < tol and r(bank[2], horizontal) < tol):
        return "filter 2 should respond to a corner and not at all to straight vertical or horizontal edges"
    if not (r(bank[3], dot) > 0.1 * c and r(bank[3], dot) > 2 * max(r(bank[3], vertical), r(bank[3], horizontal))):
        return "filter 3 should respond to an isolated dot more than twice as strongly as to any straight edge"
    return None


def _design_cases(seed: int) -> list[dict]:
    """One set of test images: edge contrast in [0.3, 1), edges at pixel 4-7 of 12."""
    rng = np.random.default_rng(seed)
    return [dict(contrast=float(rng.uniform(0.3, 1.0)), at=int(rng.integers(4, 8)))]


register(Exercise(
    "make_filterbank", _design_cases,
    examples=lambda: [dict(contrast=1.0, at=3)],
    call=lambda fn, case: fn(), judge=_design_judge, describe=lambda case: "your bank",
    hints={"values": "stack four 3x3 filters with np.stack; each must sum to 0 (0 on a flat image); every row of "
                     "the vertical filter sums to 0, so it does not see horizontal edges"},
), "a1_filterbank_design")


# ---------------------------------------------------------------- notebook 01: a locally connected layer
def lc_cases(seed: int) -> list[dict]:
    """4 locally connected layers: x (N, C, H, W), w (H_out, W_out, F, C, K, K), b (F, H_out, W_out)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(4):
        N, C, F, K = (int(v) for v in (rng.integers(1, 3), rng.integers(1, 4), rng.integers(1, 4),
                                       rng.integers(1, 4)))
        H, W = int(rng.integers(K, K + 5)), int(rng.integers(K, K + 5))
        Ho, Wo = H - K + 1, W - K + 1
        out.append(dict(x=rng.standard_normal((N, C, H, W)), w=rng.standard_normal((Ho, Wo, F, C, K, K)),
                        b=rng.standard_normal((F, Ho, Wo))))
    return out


def _lc_examples() -> list[dict]:
    rng = np.random.default_rng(0)
    return [dict(x=rng.standard_normal((2, 2, 7, 6)), w=rng.standard_normal((5, 4, 3, 2, 3, 3)),
                 b=rng.standard_normal((3, 5, 4)))]


@implementation
def _lc_forward(case):
    from course_utils.reference import locally_connected_forward

    return locally_connected_forward(**case)


register(Exercise(
    "lc_forward_loops", lc_cases, _lc_forward, examples=_lc_examples, float64=(1e-10, 1e-12),
    hints={"shape": "(N, F, H_out, W_out) with H_out = H - KH + 1 (no padding, stride 1)",
           "values": "the weights of output position (i, j) are w[i, j]; the patch starts at row i, column j"},
))
