"""The fast convolution kernels behind :func:`course_utils.reference.conv2d_forward` / ``conv2d_backward``.

Arguments are already validated (see ``conv._conv_setup``). Pure NumPy; the design, in short:

* **im2col as one copy.** ``windows`` views the padded input as (N, C, H_out, W_out, KH, KW) without copying
  (``as_strided``). One ``copyto`` lays it out as the matrix ``cols`` of shape (C*KH*KW, N*H_out*W_out),
  row (c, p, q), column (n, i, j). This order keeps the innermost copy loop along an image row (contiguous
  for stride 1), several times faster than the (N*H_out*W_out, C*KH*KW) layout.
* **One big matrix product per result** (BLAS sgemm/dgemm, near peak speed on such shapes):
  ``out = W @ cols``, ``dW = dout @ cols.T``, ``dcols = W.T @ dout``, with W of shape (F, C*KH*KW) and
  dout of shape (F, N*H_out*W_out). These three products are the same work torch does; everything else
  here is data movement, kept to a few passes.
* **col2im in channel-major layout**: the KH*KW shifted additions of ``dcols`` go into a (C, N, Hp, Wp)
  buffer, whose axes are in the same order as dcols', so both are read and written sequentially. For
  stride 1, dout is first widened to the padded width so that each addition is one long contiguous run
  per (channel, image) instead of H_out short rows (``_col2im_stride1``).
* **Saved for backward**: like autograd saving tensors, ``forward`` keeps its last ``cols`` (and a copy of
  x); ``backward`` reuses them only when called with an x of equal value, shape and dtype and the same
  kernel size, stride and padding, and builds ``cols`` again otherwise. One entry; results never change.
* **Recycled work buffers**: fresh memory costs page faults (several ms for the 20 MB matrices here), so
  the large temporaries are taken from, and given back to, a small pool of spare arrays (``_take`` /
  ``_give``). A buffer is in the pool only while no call uses it (a lock guards the hand-over), so
  threads never share one. Arrays returned to the caller are always fresh.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

_lock = threading.Lock()
_saved = None  # (key, copy of x, cols) of the last forward pass, or None
_spare = {}  # (shape, dtype) -> an array nobody uses, oldest first
_SPARE_BYTES = 256 * 2**20


def _take(shape, dtype):
    """An uninitialised array of that shape: a recycled spare one if there is one."""
    with _lock:
        buf = _spare.pop((tuple(shape), np.dtype(dtype)), None)
    return np.empty(shape, dtype=dtype) if buf is None else buf


def _give(*bufs):
    """Hand arrays (that the caller will not touch again) back to the pool of spares."""
    with _lock:
        for buf in bufs:
            if buf is not None:
                _spare[(buf.shape, buf.dtype)] = buf
        while sum(b.nbytes for b in _spare.values()) > _SPARE_BYTES:
            del _spare[next(iter(_spare))]


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
    cols = _take((C * KH * KW, N * Ho * Wo), x_pad.dtype)
    np.copyto(cols.reshape(C, KH, KW, N, Ho, Wo), win.transpose(1, 4, 5, 0, 2, 3))
    return cols


def _saved_cols(x, key):
    """Take the last forward's cols if they were computed from this very x (equal values) and key."""
    global _saved
    with _lock:
        if _saved is not None and _saved[0] == key and np.array_equal(_saved[1], x):
            cols, _saved = _saved[2], None
            return cols
    return None


def _save_cols(x, key, cols):
    global _saved
    with _lock:
        old, _saved = _saved, (key, x.copy(), cols)
    if old is not None:
        _give(old[2])


def forward(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    N = x.shape[0]
    F, C, KH, KW = w.shape
    dtype = np.result_type(x, w)
    x = x.astype(dtype, copy=False)
    cols = im2col(pad(x, ph, pw), KH, KW, sh, sw)
    Ho = (x.shape[2] + 2 * ph - KH) // sh + 1
    Wo = (x.shape[3] + 2 * pw - KW) // sw + 1
    out = _take((F, N * Ho * Wo), dtype)
    np.matmul(w.astype(dtype, copy=False).reshape(F, -1), cols, out=out)  # the one big GEMM
    _save_cols(x, (x.shape, dtype, KH, KW, stride, padding), cols)
    src = out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)
    result = np.empty((N, F, Ho, Wo), dtype=dtype)
    if b is None:
        np.copyto(result, src)
    else:
        np.add(src, b.astype(dtype, copy=False).reshape(1, F, 1, 1), out=result)  # bias added on the way
    _give(out)
    return result


def backward(dout, x, w, stride, padding, need_dx=True):
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2:]
    dtype = np.result_type(dout, x, w)
    x, w, dout = (a.astype(dtype, copy=False) for a in (x, w, dout))

    d_fn = _take((F, N * Ho * Wo), dtype)  # dout as (F, N*Ho*Wo)
    np.copyto(d_fn.reshape(F, N, Ho, Wo), dout.transpose(1, 0, 2, 3))
    db = d_fn.sum(axis=1)
    cols = _saved_cols(x, (x.shape, dtype, KH, KW, stride, padding))
    if cols is None:
        cols = im2col(pad(x, ph, pw), KH, KW, sh, sw)
    dw = (d_fn @ cols.T).reshape(F, C, KH, KW)
    _give(cols)

    if not need_dx:
        dx = None
    elif (sh, sw) == (1, 1):
        dx = _col2im_stride1(dout, w, ph, pw, (N, C, H, W))
    else:
        # col2im: every window sends w^T @ dout back to the KH*KW pixels it read.
        dcols = _take((C * KH * KW, N * Ho * Wo), dtype)
        np.matmul(w.reshape(F, -1).T, d_fn, out=dcols)
        dx_pad = _take((C, N, H + 2 * ph, W + 2 * pw), dtype)
        dx_pad.fill(0)
        dc = dcols.reshape(C, KH, KW, N, Ho, Wo)
        for p in range(KH):
            for q in range(KW):
                dx_pad[:, :, p : p + sh * Ho : sh, q : q + sw * Wo : sw] += dc[:, p, q]
        dx = np.ascontiguousarray(dx_pad[:, :, ph : ph + H, pw : pw + W].transpose(1, 0, 2, 3))
        _give(dcols, dx_pad)
    _give(d_fn)
    return dx, dw, db


def _col2im_stride1(dout, w, ph, pw, x_shape):
    """dx for stride 1, with long contiguous additions.

    dout is laid out with the padded width Wp (zeros in the Wp - W_out extra columns), so that the pixels a
    filter tap (p, q) sends gradient to form ONE contiguous run per (channel, image) in the flattened padded
    image: offset p*Wp + q, length H_out*Wp. The zero columns add nothing where they spill over.
    """
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2:]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    d_wide = _take((F, N * Ho * Wp), dout.dtype)
    d_wide4 = d_wide.reshape(F, N, Ho, Wp)
    d_wide4[..., Wo:] = 0
    d_wide4[..., :Wo] = dout.transpose(1, 0, 2, 3)
    dcols = _take((C * KH * KW, N * Ho * Wp), dout.dtype)
    np.matmul(w.reshape(F, -1).T, d_wide, out=dcols)
    dc = dcols.reshape(C, KH, KW, N, Ho * Wp)
    flat = _take((C, N, Hp * Wp + KW - 1), dout.dtype)  # KW - 1 spare: the last run spills over
    flat.fill(0)
    for p in range(KH):
        for q in range(KW):
            start = p * Wp + q
            flat[:, :, start : start + Ho * Wp] += dc[:, p, q]
    dx_pad = flat[:, :, : Hp * Wp].reshape(C, N, Hp, Wp)
    dx = np.ascontiguousarray(dx_pad[:, :, ph : ph + H, pw : pw + W].transpose(1, 0, 2, 3))
    _give(d_wide, dcols, flat)
    return dx
