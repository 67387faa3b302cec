"""Max / average pooling against torch.nn.functional in float64, incl. overlap, padding and ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.exercises import get
from course_utils.reference import (
    avgpool2d_backward,
    avgpool2d_forward,
    gradient_check,
    maxpool2d_backward,
    maxpool2d_forward,
)

POOLS = [
    (maxpool2d_forward, maxpool2d_backward, F.max_pool2d),
    (avgpool2d_forward, avgpool2d_backward, F.avg_pool2d),
]


def rel_err(actual, expected):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)
    return float(np.abs(actual - expected).max(initial=0.0)) / scale


def _check_against_torch(x, kernel, stride, padding, rng):
    for fwd, bwd, torch_fn in POOLS:
        xt = torch.tensor(x, requires_grad=True)
        out_t = torch_fn(xt, kernel, stride, padding)
        dout = rng.standard_normal(out_t.shape)
        out_t.backward(torch.tensor(dout))
        assert rel_err(fwd(x, kernel, stride, padding), out_t.detach().numpy()) <= 1e-10, fwd.__name__
        assert rel_err(bwd(dout, x, kernel, stride, padding), xt.grad.numpy()) <= 1e-10, bwd.__name__


@pytest.mark.parametrize("seed", [0, 1, 2, 1301, 987_654_321])
def test_pooling_matches_torch_on_the_specs_cases(seed):
    """The exercises' cases (ties after ReLU, overlapping windows, stride > kernel, non-square inputs), and the
    forward examples (default stride)."""
    cases = [*get("maxpool2d_backward").cases(seed), *get("maxpool2d_forward").examples(),
             *get("maxpool2d_forward").notebook_examples()]
    rng = np.random.default_rng(seed)
    for case in cases:
        _check_against_torch(case["x"], case["kernel_size"], case.get("stride"), 0, rng)


@pytest.mark.parametrize("kernel, stride, padding", [
    ((2, 3), None, 0), ((3, 1), (1, 2), (1, 0)), ((3, 2), 2, (1, 1)), (3, (3, 1), 1), (4, 3, 2), ((1, 4), 1, (0, 2)),
])
def test_pooling_matches_torch_with_padding_and_non_square_windows(kernel, stride, padding):
    """What the exercises do not ask for (their windows are square and unpadded): on post-ReLU ties and on
    distinct values."""
    rng = np.random.default_rng(5)
    for x in (np.maximum(rng.integers(-2, 3, size=(2, 3, 9, 7)), 0).astype(np.float64),
              rng.standard_normal((3, 2, 8, 9))):
        _check_against_torch(x, kernel, stride, padding, rng)


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
