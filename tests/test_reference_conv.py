"""course_utils.reference conv (naive and fast) against torch.nn.functional.conv2d in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.reference import (
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
    conv_output_size,
    gradient_check,
)

SETTINGS = settings(derandomize=True, deadline=None, max_examples=40)
TOL = 1e-10


def rel_err(actual, expected):
    """max |actual - expected| relative to the largest expected magnitude (0 when both are all zero)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)
    return float(np.abs(actual - expected).max(initial=0.0)) / scale


@st.composite
def conv_cases(draw):
    """Shapes covering odd/even, non-square, kernel == padded input, stride 1-3, padding 0-2."""
    n, c, f = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    square = draw(st.booleans())  # int stride/padding and a square kernel, or (h, w) pairs
    kh, ph, sh = draw(st.integers(1, 5)), draw(st.integers(0, 2)), draw(st.integers(1, 3))
    if square:
        kw, pw, sw = kh, ph, sh
    else:
        kw, pw, sw = draw(st.integers(1, 5)), draw(st.integers(0, 2)), draw(st.integers(1, 3))
    # The smallest size makes the kernel exactly as large as the padded input.
    h = draw(st.integers(max(1, kh - 2 * ph), max(1, kh - 2 * ph) + 5))
    w = draw(st.integers(max(1, kw - 2 * pw), max(1, kw - 2 * pw) + 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal((n, c, h, w))
    if draw(st.booleans()):
        x = np.maximum(x, 0)  # post-ReLU input: many exact zeros
    wt = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f) if draw(st.booleans()) else None
    stride, padding = (sh, ph) if square else ((sh, sw), (ph, pw))
    return x, wt, b, stride, padding, rng


def torch_conv(x, w, b, stride, padding, dout):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b if b is not None else np.zeros(w.shape[0], dtype=x.dtype), requires_grad=True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    if dout is None:
        return out.detach().numpy()
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@SETTINGS
@given(conv_cases())
def test_conv_forward_backward_match_torch(case):
    x, w, b, stride, padding, rng = case
    expected = torch_conv(x, w, b, stride, padding, None)
    dout = rng.standard_normal(expected.shape)
    _, dx_t, dw_t, db_t = torch_conv(x, w, b, stride, padding, dout)
    for fwd, bwd in [(conv2d_forward, conv2d_backward), (conv2d_forward_naive, conv2d_backward_naive)]:
        out = fwd(x, w, b, stride=stride, padding=padding)
        assert rel_err(out, expected) <= TOL, fwd.__name__
        dx, dw, db = bwd(dout, x, w, stride=stride, padding=padding)
        assert rel_err(dx, dx_t) <= TOL, f"{bwd.__name__} dx"
        assert rel_err(dw, dw_t) <= TOL, f"{bwd.__name__} dw"
        assert rel_err(db, db_t) <= TOL, f"{bwd.__name__} db"


def test_float32_stays_float32_and_is_close():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    out = conv2d_forward(x, w, padding=1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, torch_conv(x, w, None, 1, 1, None), rtol=1e-4, atol=1e-4)
    dx, dw, db = conv2d_backward(np.ones_like(out), x, w, padding=1)
    assert dx.dtype == dw.dtype == db.dtype == np.float32


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (3, 2)])
def test_conv_gradient_check(stride, padding):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    dout = rng.standard_normal(conv2d_forward(x, w, b, stride, padding).shape)
    dx, dw, db = conv2d_backward(dout, x, w, stride, padding)
    for name, arr, grad in [("x", x, dx), ("w", w, dw), ("b", b, db)]:

        def f(_, name=name):
            return conv2d_forward(x, w, b, stride, padding)

        res = gradient_check(f, arr, grad, dout=dout)
        assert res.passed, f"d{name}: {res}"


def test_gradient_check_detects_a_wrong_gradient():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    dout = rng.standard_normal((1, 3, 3, 3))
    _, dw, _ = conv2d_backward(dout, x, w)
    res = gradient_check(lambda _: conv2d_forward(x, w), w, dw[:, :, ::-1, ::-1], dout=dout)  # flipped: wrong
    assert not res.passed and res.relative_error > 1e-2


@pytest.mark.parametrize(
    "size,k,s,p,d,expected",
    [
        (32, 3, 1, 1, 1, 32),
        (227, 11, 4, 0, 1, 55),
        (28, 5, 1, 0, 1, 24),
        (7, 3, 2, 1, 1, 4),
        (5, 5, 1, 0, 1, 1),
        (9, 3, 1, 0, 2, 5),
        (8, 2, 3, 0, 1, 3),
    ],
)
def test_conv_output_size_matches_torch(size, k, s, p, d, expected):
    assert conv_output_size(size, k, stride=s, padding=p, dilation=d) == expected
    out = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    assert out.shape[-1] == expected


def test_conv_output_size_errors():
    with pytest.raises(ValueError, match="kernel_size=7.*larger than the padded input 5"):
        conv_output_size(5, 7)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        conv_output_size(5, 3, stride=0)
    with pytest.raises(TypeError, match="size must be an integer"):
        conv_output_size(5.0, 3)


@pytest.mark.parametrize("fn", [conv2d_forward, conv2d_forward_naive])
def test_conv_forward_errors_name_argument_and_shapes(fn):
    x, w = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"x has 3 channels but w expects 1 .*w.shape=\(4, 1, 3, 3\)"):
        fn(x, np.zeros((4, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"kernel 11x11 .* larger than the padded input 10x10"):
        fn(x, np.zeros((4, 3, 11, 11)), padding=1)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        fn(x, w, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0, got -1"):
        fn(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), got shape \(3, 8, 8\)"):
        fn(x[0], w)
    with pytest.raises(ValueError, match=r"w must be 4-D \(F, C, KH, KW\), got shape \(3, 3, 3\)"):
        fn(x, w[0])
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        fn(x, w, np.zeros(3))


@pytest.mark.parametrize("fn", [conv2d_backward, conv2d_backward_naive])
def test_conv_backward_errors(fn):
    x, w = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 6, 6\).*got \(2, 4, 8, 8\)"):
        fn(np.zeros((2, 4, 8, 8)), x, w)
    with pytest.raises(ValueError, match="x has 3 channels but w expects 2"):
        fn(np.zeros((2, 4, 6, 6)), x, np.zeros((4, 2, 3, 3)))


def test_backward_after_forward_on_other_or_mutated_input():
    """The backward reuses the forward's im2col matrix only for an equal x: check the other cases."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    dout = rng.standard_normal((2, 4, 6, 6))
    conv2d_forward(x, w, padding=1)
    x[0, 0, 0, 0] += 1.0  # mutated in place after the forward pass
    _, dx_t, dw_t, db_t = torch_conv(x, w, None, 1, 1, dout)
    _, dw, _ = conv2d_backward(dout, x, w, padding=1)
    assert rel_err(dw, dw_t) <= TOL
    conv2d_forward(rng.standard_normal((2, 3, 6, 6)), w, padding=1)  # a forward on another input
    _, dw, _ = conv2d_backward(dout, x, w, padding=1)
    assert rel_err(dw, dw_t) <= TOL
    conv2d_forward(x, w, padding=2)  # same x, other padding: other shapes, other windows
    dx, dw, _ = conv2d_backward(dout, x, w, padding=1)
    assert rel_err(dw, dw_t) <= TOL and rel_err(dx, dx_t) <= TOL


def test_backward_without_dx():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    dout = rng.standard_normal((2, 4, 3, 3))
    dx, dw, db = conv2d_backward(dout, x, w, stride=2, padding=1, need_dx=False)
    _, dw_all, db_all = conv2d_backward(dout, x, w, stride=2, padding=1)
    assert dx is None
    np.testing.assert_array_equal(dw, dw_all)
    np.testing.assert_array_equal(db, db_all)
