"""The fast convolution kernels behind :func:`course_utils.reference.conv2d_forward` / ``conv2d_backward``.

Arguments are already validated (see ``conv._conv_setup``). Pure NumPy: every pixel loop is replaced by
a view of the input as a grid of windows (``as_strided``: no copy) and by matrix products (BLAS).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pad(x, ph, pw):
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def windows(x_pad, KH, KW, sh, sw):
    """View x_pad (N, C, Hp, Wp) as (N, C, H_out, W_out, KH, KW): window (i, j) starts at (i*sh, j*sw)."""
    N, C, Hp, Wp = x_pad.shape
    Ho = (Hp - KH) // sh + 1
    Wo = (Wp - KW) // sw + 1
    sN, sC, sH, sW = x_pad.strides
    return as_strided(x_pad, (N, C, Ho, Wo, KH, KW), (sN, sC, sH * sh, sW * sw, sH, sW), writeable=False)


def forward(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    F, C, KH, KW = w.shape
    win = windows(pad(x, ph, pw), KH, KW, sh, sw)  # (N, C, Ho, Wo, KH, KW)
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, F)
    if b is not None:
        out += b
    return out.transpose(0, 3, 1, 2)


def backward(dout, x, w, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2:]
    x_pad = pad(x, ph, pw)
    win = windows(x_pad, KH, KW, sh, sw)
    db = dout.sum(axis=(0, 2, 3))
    dw = np.tensordot(dout, win, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, KH, KW)
    dcols = np.tensordot(dout, w, axes=([1], [0]))  # (N, Ho, Wo, C, KH, KW)
    dx_pad = np.zeros(x_pad.shape, dtype=dcols.dtype)
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, :, p : p + sh * Ho : sh, q : q + sw * Wo : sw] += dcols[..., p, q].transpose(0, 3, 1, 2)
    return dx_pad[:, :, ph : ph + H, pw : pw + W], dw, db
