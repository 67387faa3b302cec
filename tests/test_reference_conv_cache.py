"""The cached convolution pair (``conv2d_forward_cached`` / ``conv2d_backward_cached``) against the plain functions
and torch float64 autograd; the fast kernels keep no state between calls; ``Sequential``'s Conv2d uses the cache."""

from __future__ import annotations

import threading
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.reference import _conv_fast
from course_utils.reference.conv import (
    Conv2dCache,
    conv2d_backward,
    conv2d_backward_cached,
    conv2d_forward,
    conv2d_forward_cached,
)
from course_utils.reference.sequential import Conv2d, ReLU, Sequential

TOL = 1e-10


def rel_err(actual, expected):
    """max |actual - expected| relative to the largest expected magnitude."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.abs(actual - expected).max()) / max(float(np.abs(expected).max()), 1e-300)


def random_case(seed):
    """A random conv: batch 2-3, non-square images and kernels, (h, w) strides 1-3 and paddings 0-2."""
    rng = np.random.default_rng(seed)
    n, c, f = int(rng.integers(2, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
    kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
    sh, sw = (int(s) for s in rng.integers(1, 4, size=2))
    ph, pw = (int(p) for p in rng.integers(0, 3, size=2))
    h = int(rng.integers(max(1, kh - 2 * ph), max(1, kh - 2 * ph) + 7))
    w_ = int(rng.integers(max(1, kw - 2 * pw), max(1, kw - 2 * pw) + 7))
    x = rng.standard_normal((n, c, h, w_))
    w = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f) if seed % 3 else None
    return x, w, b, (sh, sw), (ph, pw), rng


def torch_conv(x, w, b, stride, padding, dout):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(np.zeros(w.shape[0]) if b is None else b, requires_grad=True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("seed", range(24))
def test_cached_pair_equals_plain_functions_and_torch(seed):
    x, w, b, stride, padding, rng = random_case(seed)
    out, cache = conv2d_forward_cached(x, w, b, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward_cached(dout, cache)
    # exactly the plain functions' results (same arithmetic, in the same order)
    np.testing.assert_array_equal(out, conv2d_forward(x, w, b, stride=stride, padding=padding))
    for ours, plain in zip((dx, dw, db), conv2d_backward(dout, x, w, stride=stride, padding=padding)):
        np.testing.assert_array_equal(ours, plain)
    # and torch's autograd in float64
    out_t, dx_t, dw_t, db_t = torch_conv(x, w, b, stride, padding, dout)
    for name, ours, theirs in [("out", out, out_t), ("dx", dx, dx_t), ("dw", dw, dw_t), ("db", db, db_t)]:
        assert rel_err(ours, theirs) <= TOL, name
    # need_dx=False skips dx only
    none, dw2, db2 = conv2d_backward_cached(dout, cache, need_dx=False)
    assert none is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)


def test_cache_holds_the_forward_pass():
    x, w, b, stride, padding, _ = random_case(1)
    out, cache = conv2d_forward_cached(x, w, b, stride=stride, padding=padding)
    assert isinstance(cache, Conv2dCache)
    N, C, H, W = x.shape
    F_, _, KH, KW = w.shape
    assert cache.x_shape == x.shape and cache.out_shape == out.shape
    assert cache.stride == stride and cache.padding == padding
    assert cache.cols.shape == (C * KH * KW, N * out.shape[2] * out.shape[3])
    assert cache.w is w  # the filters themselves, not a copy


def test_forward_twice_then_backward_with_the_first_cache():
    """The case the old by-value cache had to get right: a second forward must not change the first's gradients."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((4, 3, 3, 3))
    x1, x2 = rng.standard_normal((2, 2, 3, 9, 8))
    dout = rng.standard_normal((2, 4, 5, 4))
    _, cache1 = conv2d_forward_cached(x1, w, None, stride=2, padding=1)
    _, cache2 = conv2d_forward_cached(x2, w, None, stride=2, padding=1)
    for x, cache in [(x1, cache1), (x2, cache2), (x1, cache1)]:  # in any order, and more than once
        expected = conv2d_backward(dout, x, w, stride=2, padding=1)
        for ours, plain in zip(conv2d_backward_cached(dout, cache), expected):
            np.testing.assert_array_equal(ours, plain)
    assert rel_err(conv2d_backward_cached(dout, cache1)[1], torch_conv(x1, w, None, 2, 1, dout)[2]) <= TOL


def test_input_changed_in_place_after_forward_does_not_reach_the_cache():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((3, 2, 3, 2))
    x_before = x.copy()
    out, cache = conv2d_forward_cached(x, w, padding=1)
    x += 1.0  # e.g. the next batch written into the same array
    dout = rng.standard_normal(out.shape)
    expected = conv2d_backward(dout, x_before, w, padding=1)[1]
    np.testing.assert_array_equal(conv2d_backward_cached(dout, cache)[1], expected)


def test_float32_forward_with_float64_gradient():
    """The backward runs in the dtype of dout and the forward (as the plain function does)."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 2, 7, 5), dtype=np.float32)
    w = rng.standard_normal((4, 2, 3, 3), dtype=np.float32)
    out, cache = conv2d_forward_cached(x, w, stride=(1, 2), padding=(1, 0))
    assert out.dtype == np.float32 and cache.cols.dtype == np.float32
    for dout in (rng.standard_normal(out.shape), rng.standard_normal(out.shape, dtype=np.float32)):
        got = conv2d_backward_cached(dout, cache)
        expected = conv2d_backward(dout, x, w, stride=(1, 2), padding=(1, 0))
        for ours, plain in zip(got, expected):
            assert ours.dtype == plain.dtype == dout.dtype
            np.testing.assert_array_equal(ours, plain)


def _state(module):
    """Module globals that could hold data between calls (not functions, classes, modules or constants)."""
    future_feature = type(annotations)  # what ``from __future__ import annotations`` binds in a module
    skip = (types.FunctionType, types.ModuleType, type, int, float, str, bytes, tuple, frozenset, type(None),
            future_feature)
    return {k: v for k, v in vars(module).items() if not k.startswith("__") and not isinstance(v, skip)}


def test_fast_kernels_keep_no_state_between_calls():
    assert _state(_conv_fast) == {}, "module-level state in _conv_fast"
    before = dict(vars(_conv_fast))
    for seed in range(6):
        x, w, b, stride, padding, rng = random_case(seed)
        out, cache = conv2d_forward_cached(x, w, b, stride=stride, padding=padding)
        conv2d_forward(x, w, b, stride=stride, padding=padding)
        conv2d_backward_cached(rng.standard_normal(out.shape), cache)
        conv2d_backward(rng.standard_normal(out.shape), x, w, stride=stride, padding=padding, need_dx=False)
    after = dict(vars(_conv_fast))
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before), "a module global was rebound"
    assert _state(_conv_fast) == {}
    assert not any(isinstance(v, (np.ndarray, list, dict, set)) for k, v in after.items() if not k.startswith("__"))


def test_threads_never_see_each_others_work():
    """Stateless: the same results whether calls run one after another or at the same time."""
    cases = [random_case(seed) for seed in range(8)]
    douts = [rng.standard_normal(conv2d_forward(x, w, b, stride=s, padding=p).shape) for x, w, b, s, p, rng in cases]

    def run(i):
        x, w, b, s, p, _ = cases[i]
        out, cache = conv2d_forward_cached(x, w, b, stride=s, padding=p)
        return (out, *conv2d_backward_cached(douts[i], cache))

    alone = [run(i) for i in range(len(cases))]
    together = [None] * len(cases)

    def worker(i):
        for _ in range(20):
            together[i] = run(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, t in zip(alone, together):
        for u, v in zip(a, t):
            np.testing.assert_array_equal(u, v)


def test_cached_backward_errors():
    x, w = np.zeros((2, 1, 5, 5)), np.zeros((3, 1, 3, 3))
    out, cache = conv2d_forward_cached(x, w)
    with pytest.raises(TypeError, match="conv2d_backward_cached: cache must be the Conv2dCache .* got tuple"):
        conv2d_backward_cached(out, (x, w))
    with pytest.raises(ValueError, match=r"conv2d_backward_cached: dout must have shape \(2, 3, 3, 3\)"):
        conv2d_backward_cached(out[:1], cache)
    with pytest.raises(ValueError, match="conv2d_forward_cached: x has 1 channels but w expects 2"):
        conv2d_forward_cached(x, np.zeros((3, 2, 3, 3)))


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1), ((2, 1), (0, 2))])
def test_sequential_conv_layer_backward_matches_torch(stride, padding):
    rng = np.random.default_rng(3)
    conv = Conv2d(2, 4, 3, stride=stride, padding=padding, rng=0, dtype=np.float64)
    conv.params["b"] = rng.standard_normal(4)
    model = Sequential(conv, ReLU())
    x = rng.standard_normal((3, 2, 9, 7))
    out = model.forward(x)
    assert isinstance(conv.cache, Conv2dCache) and conv.cache.x_shape == x.shape
    dout = rng.standard_normal(out.shape)
    dx = model.backward(dout)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(conv.params["w"], requires_grad=True)
    bt = torch.tensor(conv.params["b"], requires_grad=True)
    out_t = torch.relu(F.conv2d(xt, wt, bt, stride=stride, padding=padding))
    out_t.backward(torch.tensor(dout))
    assert rel_err(out, out_t.detach().numpy()) <= TOL
    assert rel_err(dx, xt.grad.numpy()) <= TOL
    assert rel_err(conv.grads["w"], wt.grad.numpy()) <= TOL
    assert rel_err(conv.grads["b"], bt.grad.numpy()) <= TOL
    # need_dx=False (the first layer while training): the same parameter gradients, no dx
    dw = conv.grads["w"]
    assert model.backward(dout, need_dx=False) is None
    np.testing.assert_array_equal(conv.grads["w"], dw)


def test_sequential_conv_layer_uses_its_own_last_forward():
    """Two layers sharing nothing: a forward through one never changes the other's backward."""
    rng = np.random.default_rng(4)
    a, b = (Conv2d(1, 2, 3, padding=1, rng=seed, dtype=np.float64) for seed in (0, 1))
    xa, xb = rng.standard_normal((2, 2, 1, 6, 6))
    dout = rng.standard_normal((2, 2, 6, 6))
    a.forward(xa)
    b.forward(xb)
    a.forward(xa)  # a's cache is from xa again
    b.backward(dout)
    np.testing.assert_array_equal(a.backward(dout), conv2d_backward(dout, xa, a.params["w"], padding=1)[0])
    np.testing.assert_array_equal(b.grads["w"], conv2d_backward(dout, xb, b.params["w"], padding=1)[1])
