"""Locally connected layer against an independent torch implementation (F.unfold + autograd), slide 30."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.reference import (
    conv2d_forward,
    gradient_check,
    locally_connected_backward,
    locally_connected_forward,
    tied_weight_gradient_demo,
)

SETTINGS = settings(derandomize=True, deadline=None, max_examples=30)


def close(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(float(np.abs(b).max(initial=0.0)), 1e-300)
    return float(np.abs(a - b).max(initial=0.0)) / scale <= 1e-10


@st.composite
def lc_cases(draw):
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k, p, s = draw(st.integers(1, 4)), draw(st.integers(0, 2)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, k - 2 * p), max(1, k - 2 * p) + 4))
    w = draw(st.integers(max(1, k - 2 * p), max(1, k - 2 * p) + 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((ho, wo, f, c, k, k))
    b = rng.standard_normal((f, ho, wo))
    return x, wt, b, s, p, rng


@SETTINGS
@given(lc_cases())
def test_locally_connected_matches_torch_unfold(case):
    x, w, b, s, p, rng = case
    ho, wo, f, c, k, _ = w.shape
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    cols = F.unfold(xt, k, padding=p, stride=s)  # (N, C*k*k, L) with L = ho*wo
    out_t = torch.einsum("ncl,lfc->nfl", cols, wt.reshape(ho * wo, f, c * k * k)).reshape(-1, f, ho, wo) + bt
    dout = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(dout))
    assert close(locally_connected_forward(x, w, b, stride=s, padding=p), out_t.detach().numpy())
    dx, dw, db = locally_connected_backward(dout, x, w, stride=s, padding=p)
    assert close(dx, xt.grad.numpy()) and close(dw, wt.grad.numpy()) and close(db, bt.grad.numpy())


def test_locally_connected_gradient_check():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 3, 2, 3, 3)), rng.standard_normal((3, 2, 2))
    dout = rng.standard_normal((2, 3, 2, 2))
    grads = locally_connected_backward(dout, x, w, stride=2, padding=0)
    for arr, grad in zip((x, w, b), grads):
        res = gradient_check(lambda _: locally_connected_forward(x, w, b, stride=2), arr, grad, dout=dout)
        assert res.passed, str(res)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1)])
def test_tied_weights_sum_of_gradients(stride, padding):
    demo = tied_weight_gradient_demo(stride=stride, padding=padding)
    assert demo.outputs_match
    assert demo.max_abs_difference < 1e-10
    assert demo.lc_dw.shape[2:] == demo.conv_dw.shape
    # The locations' gradients differ from each other: only their sum equals the conv gradient.
    assert np.abs(demo.lc_dw[0, 0] - demo.conv_dw).max() > 1e-3


def test_tied_layer_is_a_convolution():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    tied = np.broadcast_to(w, (4, 4, *w.shape))
    assert close(locally_connected_forward(x, tied), conv2d_forward(x, w))


def test_locally_connected_errors():
    x = np.zeros((1, 2, 6, 6))
    with pytest.raises(ValueError, match=r"w must be 6-D \(H_out, W_out, F, C, KH, KW\), got shape \(3, 2, 3, 3\)"):
        locally_connected_forward(x, np.zeros((3, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"one filter bank per output location, shape \(4, 4, 3, 2, 3, 3\)"):
        locally_connected_forward(x, np.zeros((3, 3, 3, 2, 3, 3)))
    with pytest.raises(ValueError, match="x has 2 channels but w expects 1"):
        locally_connected_forward(x, np.zeros((4, 4, 3, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"b must have shape \(3, 4, 4\)"):
        locally_connected_forward(x, np.zeros((4, 4, 3, 2, 3, 3)), np.zeros(3))
