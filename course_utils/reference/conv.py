"""2-D convolution (cross-correlation, as in deep-learning libraries), forward and backward.

Three ways in, all with the same results:

* ``conv2d_forward_naive`` / ``conv2d_backward_naive``: explicit loops that read like the lecture's formula
  ``out[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] * x_pad[n, c, i*stride + p, j*stride + q]``.
  This is the version students write.
* ``conv2d_forward`` / ``conv2d_backward``: the fast versions, with the same signatures. They never loop over
  pixels: the input is viewed as a grid of windows (``numpy.lib.stride_tricks.as_strided``, no copy) or as
  shifted slices, and all the arithmetic goes to matrix products (BLAS).
  See :mod:`course_utils.reference._conv_fast`.
* ``conv2d_forward_cached`` / ``conv2d_backward_cached``: the fast pair for layers, as CS231n's fast layers
  (and autograd's saved tensors): the forward also returns a cache (:class:`Conv2dCache`) that its backward
  takes instead of x, so the backward does not redo the forward's work. ``Sequential``'s ``Conv2d`` uses it.

Conventions (as ``torch.nn.functional.conv2d``): x (N, C, H, W); w (F, C, KH, KW); b (F,) or None;
``stride`` and ``padding`` are ints or (h, w) pairs; zero padding; the output is (N, F, H_out, W_out) with
``H_out = conv_output_size(H, KH, stride, padding)`` (likewise W_out).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, check_ndim, int_param, pair
from . import _conv_fast
from ._conv_fast import Conv2dCache


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis (torch's floor rounding).

    ``(size + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1``, i.e. without dilation
    ``H_out = (H + 2*padding - KH) // stride + 1`` (the course's one statement of it; every docstring that
    gives an output size refers here). E.g. 32 with a 3x3 kernel and padding 1 stays 32, 227 with 11x11
    stride 4 gives 55. Raises ValueError when the (dilated) kernel is larger than the padded input.
    """
    f = "conv_output_size"
    size = int_param(f, "size", size, 1)
    kernel_size = int_param(f, "kernel_size", kernel_size, 1)
    stride = int_param(f, "stride", stride, 1)
    padding = int_param(f, "padding", padding, 0)
    dilation = int_param(f, "dilation", dilation, 1)
    span = dilation * (kernel_size - 1) + 1
    if span > size + 2 * padding:
        raise ValueError(
            f"{f}: kernel_size={kernel_size} (dilated span {span}) is larger than the padded input "
            f"{size} + 2*{padding} = {size + 2 * padding}"
        )
    return (size + 2 * padding - span) // stride + 1


def _conv_setup(func, x, w, b, stride, padding, dout=None):
    """Validate the arguments of a conv layer; return arrays and (sh, sw), (ph, pw), (H_out, W_out)."""
    x = check_ndim(func, "x", as_array(func, "x", x), 4, "(N, C, H, W)")
    w = check_ndim(func, "w", as_array(func, "w", w), 4, "(F, C, KH, KW)")
    sh, sw = pair(func, "stride", stride, 1)
    ph, pw = pair(func, "padding", padding, 0)
    N, C, H, W = x.shape
    F, Cw, KH, KW = w.shape
    if Cw != C:
        raise ValueError(f"{func}: x has {C} channels but w expects {Cw} (x.shape={x.shape}, w.shape={w.shape})")
    if KH > H + 2 * ph or KW > W + 2 * pw:
        raise ValueError(
            f"{func}: kernel {KH}x{KW} (w.shape={w.shape}) is larger than the padded input "
            f"{H + 2 * ph}x{W + 2 * pw} (x.shape={x.shape}, padding=({ph}, {pw}))"
        )
    Ho = (H + 2 * ph - KH) // sh + 1
    Wo = (W + 2 * pw - KW) // sw + 1
    if b is not None:
        b = as_array(func, "b", b)
        if b.shape != (F,):
            raise ValueError(f"{func}: b must have shape ({F},) (one bias per filter), got {b.shape}")
    if dout is not None:
        dout = check_ndim(func, "dout", as_array(func, "dout", dout), 4, "(N, F, H_out, W_out)")
        if dout.shape != (N, F, Ho, Wo):
            raise ValueError(f"{func}: dout must have shape {(N, F, Ho, Wo)} (the output's), got {dout.shape}")
    return x, w, b, dout, (sh, sw), (ph, pw), (Ho, Wo)


def _pad(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_forward_naive(x, w, b=None, stride=1, padding=0):
    """Convolution with explicit loops (slow, for reading and for students).

    x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None.
    Returns out: (N, F, H_out, W_out), H_out = conv_output_size(H, KH, stride, padding) (likewise W_out).
    """
    x, w, b, _, (sh, sw), (ph, pw), (Ho, Wo) = _conv_setup("conv2d_forward_naive", x, w, b, stride, padding)
    N, F = x.shape[0], w.shape[0]
    KH, KW = w.shape[2:]
    x_pad = _pad(x, ph, pw)
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = x_pad[n, :, i * sh : i * sh + KH, j * sw : j * sw + KW]  # (C, KH, KW)
                    out[n, f, i, j] = np.sum(patch * w[f])
            if b is not None:
                out[n, f] += b[f]
    return out


def conv2d_backward_naive(dout, x, w, stride=1, padding=0):
    """Gradients of the convolution with explicit loops.

    dout: (N, F, H_out, W_out) gradient of the loss w.r.t. the output; x, w as in the forward pass.
    Returns (dx (N, C, H, W), dw (F, C, KH, KW), db (F,)). Each output pixel sends
    ``dout[n, f, i, j] * w[f]`` back to the patch it read, and ``dout[n, f, i, j] * patch`` to the filter.
    """
    x, w, _, dout, (sh, sw), (ph, pw), (Ho, Wo) = _conv_setup(
        "conv2d_backward_naive", x, w, None, stride, padding, dout=dout
    )
    N, F = x.shape[0], w.shape[0]
    KH, KW = w.shape[2:]
    x_pad = _pad(x, ph, pw)
    dx_pad = np.zeros_like(x_pad, dtype=np.result_type(x, w, dout))
    dw = np.zeros_like(w, dtype=dx_pad.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows = slice(i * sh, i * sh + KH)
                    cols = slice(j * sw, j * sw + KW)
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    db = dout.sum(axis=(0, 2, 3))
    H, W = x.shape[2:]
    dx = dx_pad[:, :, ph : ph + H, pw : pw + W]
    return dx, dw, db


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """Cross-correlate a batch of images with a bank of filters (what deep-learning libraries call conv).

    x: (N, C, H, W) images; w: (F, C, KH, KW) filters; b: (F,) biases or None.
    Returns (N, F, H_out, W_out) with H_out = conv_output_size(H, KH, stride, padding) (likewise W_out).
    Same result as :func:`conv2d_forward_naive`, computed with a few matrix products instead of loops.
    """
    x, w, b, _, s, p, _ = _conv_setup("conv2d_forward", x, w, b, stride, padding)
    out, _ = _conv_fast.forward(x, w, b, s, p)
    return out


def conv2d_backward(dout, x, w, stride=1, padding=0, *, need_dx=True):
    """Gradients of :func:`conv2d_forward`.

    dout: (N, F, H_out, W_out), H_out = conv_output_size(H, KH, stride, padding); x: (N, C, H, W);
    w: (F, C, KH, KW). Returns (dx (N, C, H, W), dw (F, C, KH, KW), db (F,)). ``need_dx=False`` skips dx
    (returned as None), as torch does for inputs that need no gradient, e.g. the images fed to the first layer.
    Redoes the forward's im2col from x; a layer that keeps its forward's cache uses
    :func:`conv2d_backward_cached` instead.
    """
    x, w, _, dout, s, p, _ = _conv_setup("conv2d_backward", x, w, None, stride, padding, dout=dout)
    return _conv_fast.backward_from_input(dout, x, w, s, p, need_dx=need_dx)


def conv2d_forward_cached(x, w, b=None, stride=1, padding=0) -> tuple[np.ndarray, Conv2dCache]:
    """:func:`conv2d_forward` that also returns what its backward pass needs: ``(out, cache)``.

    x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None. out: (N, F, H_out, W_out), H_out =
    conv_output_size(H, KH, stride, padding), the same array :func:`conv2d_forward` returns. cache: a
    :class:`Conv2dCache` (a named tuple) holding ``cols`` (C*KH*KW, N*H_out*W_out), the input's windows as a
    matrix (im2col); ``w``, the filters themselves (not a copy: update them after the backward pass, as an
    optimiser does); ``x_shape``, ``out_shape``, ``stride`` and ``padding`` as (h, w) pairs. Hand it to
    :func:`conv2d_backward_cached`; it is never changed, so it can be used for several backward passes.
    """
    x, w, b, _, s, p, _ = _conv_setup("conv2d_forward_cached", x, w, b, stride, padding)
    return _conv_fast.forward(x, w, b, s, p)


def conv2d_backward_cached(dout, cache, *, need_dx=True):
    """Gradients of the forward pass that returned ``cache`` (see :func:`conv2d_forward_cached`).

    dout: (N, F, H_out, W_out), ``cache.out_shape``. Returns (dx (N, C, H, W), dw (F, C, KH, KW), db (F,)),
    equal to ``conv2d_backward(dout, x, w, stride, padding, need_dx=need_dx)`` with that forward's arguments;
    ``need_dx=False`` skips dx (returned as None).
    """
    f = "conv2d_backward_cached"
    if not isinstance(cache, Conv2dCache):
        raise TypeError(
            f"{f}: cache must be the Conv2dCache that conv2d_forward_cached returned, got {type(cache).__name__}"
        )
    dout = check_ndim(f, "dout", as_array(f, "dout", dout), 4, "(N, F, H_out, W_out)")
    if dout.shape != cache.out_shape:
        raise ValueError(f"{f}: dout must have shape {cache.out_shape} (the forward's output), got {dout.shape}")
    return _conv_fast.backward(dout, cache, need_dx=need_dx)
