"""ReLU, linear and softmax cross-entropy against torch (float64), gradient checks and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.reference import (
    gradient_check,
    linear_backward,
    linear_forward,
    numerical_gradient,
    relative_error,
    relu_backward,
    relu_forward,
    softmax_cross_entropy,
)

SETTINGS = settings(derandomize=True, deadline=None, max_examples=30)


def close(a, b):
    scale = max(float(np.abs(b).max(initial=0.0)), 1e-300)
    return float(np.abs(np.asarray(a) - b).max(initial=0.0)) / scale <= 1e-10


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 7), st.integers(1, 5), st.integers(0, 2**16))
def test_linear_relu_softmax_match_torch(n, d_in, d_out, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, d_in)), rng.standard_normal((d_out, d_in)), rng.standard_normal(d_out)
    y = rng.integers(0, d_out, size=n)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    h = F.relu(F.linear(xt, wt, bt))
    h.retain_grad()
    loss = F.cross_entropy(h, torch.tensor(y))
    loss.backward()

    z = linear_forward(x, w, b)
    a = relu_forward(z)
    assert close(a, h.detach().numpy())
    ref_loss, da = softmax_cross_entropy(a, y)
    assert abs(ref_loss - loss.item()) <= 1e-10 * max(1.0, abs(loss.item()))
    assert close(da, h.grad.numpy())
    dx, dw, db = linear_backward(relu_backward(da, z), x, w)
    assert close(dx, xt.grad.numpy()) and close(dw, wt.grad.numpy()) and close(db, bt.grad.numpy())


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(relu_backward(np.ones(3), x), [0.0, 0.0, 1.0])


def test_softmax_is_stable_for_huge_logits():
    loss, d = softmax_cross_entropy(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.array([0, 1]))
    assert np.isfinite(loss) and np.isfinite(d).all()
    assert abs(loss - 500.0) < 1e-9


def test_layer_gradient_checks():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    dx, dw, db = linear_backward(dout, x, w)
    for arr, grad in [(x, dx), (w, dw), (b, db)]:
        assert gradient_check(lambda _: linear_forward(x, w, b), arr, grad, dout=dout).passed
    y = rng.integers(0, 3, size=4)
    _, dlogits = softmax_cross_entropy(x[:, :3], y)
    logits = x[:, :3].copy()
    assert gradient_check(lambda z: softmax_cross_entropy(z, y)[0], logits, dlogits).passed
    z = rng.standard_normal((3, 4))
    assert gradient_check(relu_forward, z, relu_backward(np.ones_like(z), z), dout=np.ones_like(z)).passed


def test_numerical_gradient_and_relative_error():
    x = np.array([1.0, -2.0, 3.0])
    g = numerical_gradient(lambda v: float(np.sum(v**3)), x)
    assert relative_error(g, 3 * x**2) < 1e-8
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored
    assert relative_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    res = gradient_check(lambda v: float(np.sum(v**3)), x, 3 * x**2 + 1)
    assert not res.passed and "wrong" in str(res)
    with pytest.raises(ValueError, match="analytic_grad must have the shape of x"):
        gradient_check(lambda v: 0.0, x, np.zeros(2))
    with pytest.raises(TypeError, match="x must be a float ndarray"):
        numerical_gradient(lambda v: 0.0, [1, 2])


def test_layer_errors():
    with pytest.raises(ValueError, match=r"x has 4 features but w expects 5 \(x.shape=\(2, 4\), w.shape=\(3, 5\)\)"):
        linear_forward(np.zeros((2, 4)), np.zeros((3, 5)), None)
    with pytest.raises(ValueError, match=r"w must be 2-D \(out_features, in_features\), got shape \(5,\)"):
        linear_forward(np.zeros((2, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        linear_forward(np.zeros((2, 5)), np.zeros((3, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        softmax_cross_entropy(np.zeros((2, 3)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"labels in y must lie in \[0, 3\)"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="dout must have the shape of x"):
        relu_backward(np.zeros(3), np.zeros(4))
