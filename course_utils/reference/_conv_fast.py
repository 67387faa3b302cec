"""The fast convolution kernels behind :func:`course_utils.reference.conv2d_forward` / ``conv2d_backward``
and their cached pair ``conv2d_forward_cached`` / ``conv2d_backward_cached``.

Arguments are already validated (see ``conv._conv_setup``). Pure NumPy, and stateless: nothing is kept
between calls, so calls never see each other (threads included). The design, in short:

* **im2col as one copy.** ``windows`` views the padded input as (N, C, H_out, W_out, KH, KW) without copying
  (``as_strided``). One ``copyto`` lays it out as the matrix ``cols`` of shape (C*KH*KW, N*H_out*W_out),
  row (c, p, q), column (n, i, j). This order keeps the innermost copy loop along an image row (contiguous
  for stride 1), several times faster than the (N*H_out*W_out, C*KH*KW) layout.
* **Matrix products (BLAS sgemm/dgemm) do the arithmetic**, with W of shape (F, C*KH*KW):
  ``out[n] = W @ cols[:, n]`` (one product per image, written straight into the (N, F, H_out, W_out)
  result), ``dW = sum_n dout[n] @ cols[:, n].T`` and ``dcols = W.T @ dout`` (a few images at a time).
  These products are the same work torch does; everything else here is data movement, kept to a few passes.
* **col2im in channel-major layout**: the KH*KW shifted additions of ``dcols`` go into a (C, N, Hp, Wp)
  buffer, whose axes are in the same order as dcols', so both are read and written sequentially. For
  stride 1, dout is first widened to the padded width so that each addition is one long contiguous run
  per (channel, image) instead of H_out short rows (``_col2im_stride1``).
* **A few images at a time.** Every pass works on as many images as fit in about 1 MB
  (``_images_per_chunk``, a CPU core's L2 cache), with one work buffer reused for every chunk: the data stay
  in the cache between the product and what follows (the bias, the col2im additions), and no call writes a
  whole (C*KH*KW, N*H_out*W_out) temporary.
* **An explicit cache, as in CS231n's fast layers** (and like the tensors autograd saves): ``forward``
  returns ``(out, cache)``, a :class:`Conv2dCache` holding ``cols``, so that ``backward(dout, cache)``
  gets dW without building ``cols`` again. ``backward_from_input`` (the plain
  ``conv2d_backward(dout, x, w, ...)``) builds the cache from x first.
* **No state.** Every buffer is allocated in the call that uses it (``np.empty``), and no array handed back
  is shared with anything else. Allocating is cheap, but the first write to fresh memory is not (the C
  library gives large freed blocks back to the operating system, and each new page then costs a page fault:
  milliseconds for the tens of MB here), which is one more reason for the small per-chunk buffers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided


class Conv2dCache(NamedTuple):
    """What the backward pass of a convolution needs from its forward pass (the forward's result, not copies).

    cols: (C*KH*KW, N*H_out*W_out) the input's windows as a matrix (``im2col``), in the forward's dtype;
    w: (F, C, KH, KW) the filters the forward used (the same array; do not change it before backward);
    x_shape: (N, C, H, W); out_shape: (N, F, H_out, W_out);
    stride, padding: (h, w) pairs.
    """

    cols: np.ndarray
    w: np.ndarray
    x_shape: tuple
    out_shape: tuple
    stride: tuple
    padding: tuple


def pad(x, ph, pw):
    """Zero-pad the two spatial axes of (N, C, H, W)."""
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    out[:, :, ph : ph + H, pw : pw + W] = x
    return out


def windows(x_pad, KH, KW, sh, sw):
    """View x_pad (N, C, Hp, Wp) as (N, C, H_out, W_out, KH, KW): window (i, j) starts at (i*sh, j*sw)."""
    N, C, Hp, Wp = x_pad.shape
    Ho = (Hp - KH) // sh + 1
    Wo = (Wp - KW) // sw + 1
    sN, sC, sH, sW = x_pad.strides
    return as_strided(x_pad, (N, C, Ho, Wo, KH, KW), (sN, sC, sH * sh, sW * sw, sH, sW), writeable=False)


def im2col(x_pad, KH, KW, sh, sw):
    """(C*KH*KW, N*H_out*W_out) matrix: row (c, p, q), column (n, i, j) = x_pad[n, c, i*sh + p, j*sw + q]."""
    win = windows(x_pad, KH, KW, sh, sw)
    N, C, Ho, Wo = win.shape[:4]
    cols = np.empty((C * KH * KW, N * Ho * Wo), dtype=x_pad.dtype)
    np.copyto(cols.reshape(C, KH, KW, N, Ho, Wo), win.transpose(1, 4, 5, 0, 2, 3))
    return cols


def make_cache(x, w, stride, padding, dtype):
    """The :class:`Conv2dCache` of a forward pass on x with w, computed in ``dtype`` (no output)."""
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    cols = im2col(pad(x.astype(dtype, copy=False), ph, pw), KH, KW, sh, sw)
    Ho = (H + 2 * ph - KH) // sh + 1
    Wo = (W + 2 * pw - KW) // sw + 1
    return Conv2dCache(cols, w.astype(dtype, copy=False), (N, C, H, W), (N, F, Ho, Wo), stride, padding)


def forward(x, w, b, stride, padding):
    """(out (N, F, H_out, W_out), Conv2dCache)."""
    cache = make_cache(x, w, stride, padding, np.result_type(x, w))
    cols, w = cache.cols, cache.w
    N, F, Ho, Wo = cache.out_shape
    K, L = cols.shape[0], Ho * Wo
    result = np.empty((N, F, Ho, Wo), dtype=cols.dtype)
    res, per_image = result.reshape(N, F, L), cols.reshape(K, N, L).transpose(1, 0, 2)  # (N, K, L) view
    bias = None if b is None else b.astype(result.dtype, copy=False).reshape(1, F, 1)
    nb = _images_per_chunk(N, F * L * result.itemsize)
    for n0 in range(0, N, nb):  # a few images at a time: the bias is added while they are still in the cache
        chunk = res[n0 : n0 + nb]
        np.matmul(w.reshape(F, K), per_image[n0 : n0 + nb], out=chunk)  # one product per image
        if bias is not None:
            chunk += bias
    return result, cache


def backward_from_input(dout, x, w, stride, padding, need_dx=True):
    """(dx, dw, db) from x itself (the plain ``conv2d_backward``): builds the forward's cache, then backward."""
    cache = make_cache(x, w, stride, padding, np.result_type(dout, x, w))
    return backward(dout, cache, need_dx)


def backward(dout, cache, need_dx=True):
    """(dx (N, C, H, W) or None, dw (F, C, KH, KW), db (F,)) in the dtype of dout and the cache."""
    (sh, sw), (ph, pw) = cache.stride, cache.padding
    N, C, H, W = cache.x_shape
    dtype = np.result_type(dout, cache.cols)
    cols, w, dout = (a.astype(dtype, copy=False) for a in (cache.cols, cache.w, dout))
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2:]
    K, L = cols.shape[0], Ho * Wo
    d3 = dout.reshape(N, F, L)
    db = d3.sum(axis=(0, 2))
    # dW = sum over images of dout[n] (F, L) @ cols[:, n].T (L, K): one product per image, a few at a time
    per_image = cols.reshape(K, N, L).transpose(1, 2, 0)  # (N, L, K) view
    dw = np.zeros((F, K), dtype=dtype)
    nb = _images_per_chunk(N, F * K * dtype.itemsize)
    for n0 in range(0, N, nb):
        dw += np.matmul(d3[n0 : n0 + nb], per_image[n0 : n0 + nb]).sum(axis=0)
    dw = dw.reshape(F, C, KH, KW)

    if not need_dx:
        dx = None
    elif (sh, sw) == (1, 1):
        dx = _col2im_stride1(dout, w, ph, pw, (N, C, H, W))
    else:
        # col2im: every window sends w^T @ dout back to the KH*KW pixels it read, a few images at a time.
        wT = w.reshape(F, K).T
        dx_pad = np.zeros((C, N, H + 2 * ph, W + 2 * pw), dtype=dtype)
        nb = _images_per_chunk(N, (F + K) * L * dtype.itemsize)
        d_fn = np.empty((F, nb, L), dtype=dtype)  # a chunk of dout as (F, images*L)
        dcols = np.empty((K, nb * L), dtype=dtype)
        for n0 in range(0, N, nb):
            n = min(nb, N - n0)
            d_fn[:, :n] = d3[n0 : n0 + n].transpose(1, 0, 2)
            dc = dcols[:, : n * L]
            np.matmul(wT, d_fn.reshape(F, nb * L)[:, : n * L], out=dc)
            dc = dc.reshape(C, KH, KW, n, Ho, Wo)
            part = dx_pad[:, n0 : n0 + n]
            for p in range(KH):
                for q in range(KW):
                    part[:, :, p : p + sh * Ho : sh, q : q + sw * Wo : sw] += dc[:, p, q]
        dx = np.ascontiguousarray(dx_pad[:, :, ph : ph + H, pw : pw + W].transpose(1, 0, 2, 3))
    return dx, dw, db


def _col2im_stride1(dout, w, ph, pw, x_shape):
    """dx for stride 1, with long contiguous additions, a few images at a time.

    dout is laid out with the padded width Wp (zeros in the Wp - W_out extra columns), so that the pixels a
    filter tap (p, q) sends gradient to form ONE contiguous run per (channel, image) in the flattened padded
    image: offset p*Wp + q, length H_out*Wp. The zero columns add nothing where they spill over.
    """
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2:]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    K, L = C * KH * KW, Ho * Wp
    wT = w.reshape(F, K).T
    flat = np.zeros((C, N, Hp * Wp + KW - 1), dtype=dout.dtype)  # KW - 1 spare: the last run spills over
    nb = _images_per_chunk(N, (F + K) * L * dout.dtype.itemsize)
    d_wide = np.zeros((F, nb, Ho, Wp), dtype=dout.dtype)  # columns Wo: stay zero
    dcols = np.empty((K, nb * L), dtype=dout.dtype)
    for n0 in range(0, N, nb):
        n = min(nb, N - n0)
        d_wide[:, :n, :, :Wo] = dout[n0 : n0 + n].transpose(1, 0, 2, 3)
        dc = dcols[:, : n * L]
        np.matmul(wT, d_wide.reshape(F, nb * L)[:, : n * L], out=dc)
        dc = dc.reshape(C, KH, KW, n, L)
        part = flat[:, n0 : n0 + n]
        for p in range(KH):
            for q in range(KW):
                start = p * Wp + q
                part[:, :, start : start + L] += dc[:, p, q]
    dx_pad = flat[:, :, : Hp * Wp].reshape(C, N, Hp, Wp)
    return np.ascontiguousarray(dx_pad[:, :, ph : ph + H, pw : pw + W].transpose(1, 0, 2, 3))


def _images_per_chunk(N, bytes_per_image, budget=2**20):
    """How many images' data fit in ``budget`` bytes (about a CPU core's L2 cache), at least 1."""
    return max(1, min(N, budget // max(1, bytes_per_image)))
