"""gradient_check in float32 and float64, against torch autograd (float64) as the independent reference.

The analytic gradients judged here come from torch autograd in float64 (correct by construction) or from the
course's NumPy layers in float32; the wrong ones are plausible bugs (flipped kernel, `=` for `+=` lost terms,
a factor, one entry off by 1 % of the gradient's scale).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.reference import (
    conv2d_backward,
    conv2d_forward,
    gradient_check,
    linear_backward,
    linear_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    numerical_gradient,
)
from course_utils.reference.gradcheck import FLOAT32_TOL


def _conv_case(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    dout = rng.standard_normal((2, 4, 4, 3))  # stride 2, padding 1: (7 + 2 - 3) // 2 + 1 = 4, (6 - 1) // 2 + 1 = 3
    x, w, b, dout = (a.astype(dtype) for a in (x, w, b, dout))
    return x, w, b, dout


def _autograd_conv(x, w, b, dout):
    """(dx, dw, db) by torch autograd in float64 at the given values (whatever their dtype)."""
    xt, wt, bt = (torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in (x, w, b))
    F.conv2d(xt, wt, bt, stride=2, padding=1).backward(torch.tensor(np.asarray(dout, np.float64)))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def _conv_fns(x, w, b):
    """f for each of x, w, b, computing in float64 from its argument (as numerical_gradient asks of a float32 x:
    conv2d_forward's result has the dtype of x and w, so the others are cast too)."""
    x, w, b = (a.astype(np.float64) for a in (x, w, b))
    return {
        "x": lambda v: conv2d_forward(v, w, b, stride=2, padding=1),
        "w": lambda v: conv2d_forward(x, v, b, stride=2, padding=1),
        "b": lambda v: conv2d_forward(x, w, v, stride=2, padding=1),
    }


def test_numerical_gradient_is_float64_whatever_x_is():
    x, w, b, dout = _conv_case(dtype=np.float32)
    expected = _autograd_conv(x, w, b, dout)
    for (name, f), exact in zip(_conv_fns(x, w, b).items(), expected):
        arg = {"x": x, "w": w, "b": b}[name]
        before = arg.copy()
        g = numerical_gradient(f, arg, dout=dout)
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, exact, rtol=1e-6, atol=1e-8, err_msg=f"d{name}")
        np.testing.assert_array_equal(arg, before)  # a float32 x is never touched


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_correct_gradients_pass_in_both_precisions(dtype):
    """The analytic gradient from torch autograd (float64), given in `dtype`, and the layers' own backward."""
    x, w, b, dout = _conv_case(dtype=dtype)
    exact = _autograd_conv(x, w, b, dout)
    ours = conv2d_backward(dout, x, w, stride=2, padding=1)
    assert all(g.dtype == dtype for g in ours)
    for (name, f), g_exact, g_ours in zip(_conv_fns(x, w, b).items(), exact, ours):
        arg = {"x": x, "w": w, "b": b}[name]
        for label, grad in (("autograd", g_exact.astype(dtype)), ("conv2d_backward", g_ours)):
            res = gradient_check(f, arg, grad, dout=dout)
            assert res.passed, f"{dtype.__name__} d{name} from {label}: {res}"
            assert res.relative_error < (1e-4 if dtype == np.float32 else 1e-7), res
            if dtype == np.float32:
                assert "float32 precision" in res.verdict, res


def test_the_reported_float32_case_is_judged_correct():
    """A correct float32 conv gradient (students reported it) used to get "relative error 7.1e-02: ... wrong"."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    dout = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    dx, dw, _ = conv2d_backward(dout, x, w)
    for arg, f, grad in [(x, lambda v: conv2d_forward(v, w), dx), (w, lambda v: conv2d_forward(x, v), dw)]:
        res = gradient_check(f, arg, grad, dout=dout)
        assert res.passed and "wrong" not in str(res), res


def _wrong_conv_gradients(x, w, b, dout):
    dx, dw, db = _autograd_conv(x, w, b, dout)
    off = dx.copy()
    i = np.unravel_index(np.argmax(np.abs(dx)), dx.shape)
    off[i] += 0.01 * np.abs(dx).max()  # one entry off by 1 % of the gradient's scale
    return [
        ("x", dx * 1.5, "a factor"),
        ("x", off, "one entry off by 1 %"),
        ("w", dw[:, :, ::-1, ::-1], "flipped kernel"),
        ("w", dw / (dout.shape[2] * dout.shape[3]), "averaged instead of summed over positions"),
        ("b", db * 0.5, "half the bias gradient"),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_wrong_gradients_fail_in_both_precisions(dtype):
    x, w, b, dout = _conv_case(seed=1, dtype=dtype)
    fns = _conv_fns(x, w, b)
    for name, grad, bug in _wrong_conv_gradients(x, w, b, dout):
        arg = {"x": x, "w": w, "b": b}[name]
        res = gradient_check(fns[name], arg, grad.astype(dtype), dout=dout)
        assert not res.passed, f"{dtype.__name__} d{name}, {bug}: {res}"
        assert res.relative_error > FLOAT32_TOL, f"{bug}: {res}"


def test_assign_bug_in_dx_fails_in_float32():
    """`=` where `+=` belongs (notebook 03's bug): overlapping windows overwrite each other."""
    x, w, b, dout = _conv_case(seed=2, dtype=np.float32)
    dx_pad = np.zeros((2, 3, 9, 8), dtype=np.float32)
    for n in range(2):
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx_pad[n, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] = np.einsum("f,fcpq->cpq", dout[n, :, i, j], w)
    res = gradient_check(_conv_fns(x, w, b)["x"], x, dx_pad[:, :, 1:-1, 1:-1], dout=dout)
    assert not res.passed and "wrong" in res.verdict, res


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_and_maxpool_against_autograd(dtype):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((4, 6)), rng.standard_normal((3, 6)), rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    F.linear(xt, wt, bt).backward(torch.tensor(dout))
    x, w, b, dout = (a.astype(dtype) for a in (x, w, b, dout))
    ours = linear_backward(dout, x, w)
    for arg, f, exact, mine in [
        (x, lambda v: linear_forward(v, w, b), xt.grad, ours[0]),
        (w, lambda v: linear_forward(x, v, b), wt.grad, ours[1]),
    ]:
        for grad in (exact.numpy().astype(dtype), mine):
            assert gradient_check(f, arg, grad, dout=dout).passed
        assert not gradient_check(f, arg, (2 * exact.numpy()).astype(dtype), dout=dout).passed

    z = rng.standard_normal((2, 2, 6, 6))
    dz_out = rng.standard_normal((2, 2, 3, 3))
    zt = torch.tensor(z, requires_grad=True)
    F.max_pool2d(zt, 2).backward(torch.tensor(dz_out))
    z, dz_out = z.astype(dtype), dz_out.astype(dtype)
    f = lambda v: maxpool2d_forward(v, 2)  # noqa: E731
    for grad in (zt.grad.numpy().astype(dtype), maxpool2d_backward(dz_out, z, 2)):
        assert gradient_check(f, z, grad, dout=dz_out).passed
    top_left = (np.arange(6)[:, None] % 2 == 0) & (np.arange(6) % 2 == 0)
    routed_to_first = np.repeat(np.repeat(dz_out, 2, axis=2), 2, axis=3) * top_left  # not to the max
    assert not gradient_check(f, z, routed_to_first.astype(dtype), dout=dz_out).passed


def test_float64_x_keeps_the_closure_style():
    """A float64 x is perturbed in place, so f may ignore its argument and read x (the suite's own style)."""
    x, w, b, dout = _conv_case(seed=0)
    dx, dw, db = _autograd_conv(x, w, b, dout)
    for arg, grad in [(x, dx), (w, dw), (b, db)]:
        before = arg.copy()
        res = gradient_check(lambda _: conv2d_forward(x, w, b, stride=2, padding=1), arg, grad, dout=dout)
        assert res.passed, res
        np.testing.assert_array_equal(arg, before)  # restored


def test_low_precision_is_refused_or_explained():
    x, w, b, dout = _conv_case(seed=5, dtype=np.float32)
    dx, dw, _ = conv2d_backward(dout, x, w, stride=2, padding=1)
    # f computes in float32 (it reads the float32 x from a closure): refused, naming the dtype and the fix
    with pytest.raises(TypeError, match=r"f returned float32 values .*compute from f's argument"):
        gradient_check(lambda _: conv2d_forward(x, w, b, stride=2, padding=1), w, dw, dout=dout)
    with pytest.raises(TypeError, match=r"f returned float16 values for a float64 input"):
        numerical_gradient(lambda v: np.sum(v).astype(np.float16), np.ones(3))
    # a float16 analytic gradient is refused, naming the dtype
    with pytest.raises(TypeError, match=r"analytic_grad is float16.*float32 or float64"):
        gradient_check(_conv_fns(x, w, b)["w"], w, dw.astype(np.float16), dout=dout)
    # a closure that ignores its float64 copy: the numerical gradient is 0, and the verdict says why
    w64, b64 = w.astype(np.float64), b.astype(np.float64)
    res = gradient_check(lambda _: conv2d_forward(x, w64, b64, stride=2, padding=1), x, dx, dout=dout)
    assert not res.passed and "exactly 0" in res.verdict and "captured in a closure" in res.verdict, res


def test_tolerance_can_be_set():
    x = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    slightly_off = (3 * x**2 * (1 + 1e-4)).astype(np.float32)
    f = lambda v: np.sum(v**3)  # noqa: E731
    assert gradient_check(f, x, slightly_off).passed  # float32 default tolerance 1e-3
    assert not gradient_check(f, x, slightly_off, tol=1e-6).passed
    assert not gradient_check(f, x.astype(np.float64), slightly_off.astype(np.float64)).passed  # float64: 1e-7
