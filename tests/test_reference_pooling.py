"""Max / average pooling against torch.nn.functional in float64, incl. overlap, padding and ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.reference import (
    avgpool2d_backward,
    avgpool2d_forward,
    gradient_check,
    maxpool2d_backward,
    maxpool2d_forward,
)

SETTINGS = settings(derandomize=True, deadline=None, max_examples=60)
POOLS = [
    (maxpool2d_forward, maxpool2d_backward, F.max_pool2d),
    (avgpool2d_forward, avgpool2d_backward, F.avg_pool2d),
]


def rel_err(actual, expected):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)
    return float(np.abs(actual - expected).max(initial=0.0)) / scale


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)), h, w)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if draw(st.booleans()):
        x = np.maximum(rng.integers(-2, 3, size=shape), 0).astype(np.float64)  # post-ReLU: many ties
    else:
        x = rng.standard_normal(shape)
    square = draw(st.booleans())
    kernel, padding = (kh, ph) if square and kh == kw and ph == pw else ((kh, kw), (ph, pw))
    return x, kernel, stride, padding, rng


@SETTINGS
@given(pool_cases())
def test_pooling_matches_torch(case):
    x, kernel, stride, padding, rng = case
    for fwd, bwd, torch_fn in POOLS:
        xt = torch.tensor(x, requires_grad=True)
        out_t = torch_fn(xt, kernel, stride, padding)
        dout = rng.standard_normal(out_t.shape)
        out_t.backward(torch.tensor(dout))
        assert rel_err(fwd(x, kernel, stride, padding), out_t.detach().numpy()) <= 1e-10, fwd.__name__
        assert rel_err(bwd(dout, x, kernel, stride, padding), xt.grad.numpy()) <= 1e-10, bwd.__name__


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.zeros((1, 1, 2, 2))
    dx = maxpool2d_backward(np.ones((1, 1, 1, 1)), x, 2)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0], [0, 0]])


def test_overlapping_max_pool_accumulates_gradient():
    x = np.array([[[[0.0, 5.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]])
    dx = maxpool2d_backward(np.ones((1, 1, 2, 2)), x, 2, stride=1)
    assert dx[0, 0, 0, 1] == 2.0  # the 5 wins the two top windows
    assert dx.sum() == 4.0


@pytest.mark.parametrize("fwd,bwd,_", POOLS)
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 1)])
def test_pool_gradient_check(fwd, bwd, _, kernel, stride, padding):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 6, 5))  # distinct values: no ties, so max-pool is differentiable here
    dout = rng.standard_normal(fwd(x, kernel, stride, padding).shape)
    res = gradient_check(lambda _: fwd(x, kernel, stride, padding), x, bwd(dout, x, kernel, stride, padding), dout=dout)
    assert res.passed, str(res)


@pytest.mark.parametrize("fwd", [maxpool2d_forward, avgpool2d_forward])
def test_pool_errors(fwd):
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), got shape \(5, 5\)"):
        fwd(x[0, 0], 2)
    with pytest.raises(ValueError, match=r"kernel_size=\(7, 7\) is larger than the padded input 5x5"):
        fwd(x, 7)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        fwd(x, 2, stride=0)
    with pytest.raises(ValueError, match="padding=.* must be at most half of kernel_size"):
        fwd(x, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be >= 1, got 0"):
        fwd(x, 0)


def test_pool_backward_dout_shape_error():
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 2, 2\).*got \(2, 3, 5, 5\)"):
        maxpool2d_backward(np.zeros((2, 3, 5, 5)), np.zeros((2, 3, 5, 5)), 2)


@pytest.mark.parametrize("kernel", [2, 3, (2, 3), (3, 1)])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9)])
def test_tiling_windows_with_ties_match_torch(kernel, shape):
    """stride == kernel, no padding: the one-axis-at-a-time path, on post-ReLU integer data (many ties)."""
    rng = np.random.default_rng(4)
    x = np.maximum(rng.integers(-1, 3, size=shape), 0).astype(np.float64)
    xt = torch.tensor(x, requires_grad=True)
    out_t = F.max_pool2d(xt, kernel)
    dout = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_array_equal(maxpool2d_forward(x, kernel), out_t.detach().numpy())
    np.testing.assert_array_equal(maxpool2d_backward(dout, x, kernel), xt.grad.numpy())
