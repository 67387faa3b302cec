"""Locally connected layer: a convolution *without* weight sharing (lecture slides 8-9 and 30).

Every output location (i, j) has its own bank of filters:
``out[n, f, i, j] = b[f, i, j] + sum_{c, p, q} w[i, j, f, c, p, q] * x_pad[n, c, i*stride + p, j*stride + q]``

x: (N, C, H, W); w: (H_out, W_out, F, C, KH, KW); b: (F, H_out, W_out) or None; output (N, F, H_out, W_out),
with (H_out, W_out) those of a convolution of the same kernel, stride and padding
(:func:`course_utils.reference.conv.conv_output_size` along each axis).

Slide 30: if all locations' filters are tied (equal), the layer is a convolution, and the gradient of the
shared filter is the *sum over locations* of the locally connected gradients. See
:func:`tied_weight_gradient_demo`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, check_ndim, pair
from . import _conv_fast
from .conv import conv_output_size


def _lc_setup(func, x, w, b, stride, padding, dout=None):
    x = check_ndim(func, "x", as_array(func, "x", x), 4, "(N, C, H, W)")
    w = check_ndim(func, "w", as_array(func, "w", w), 6, "(H_out, W_out, F, C, KH, KW)")
    sh, sw = pair(func, "stride", stride, 1)
    ph, pw = pair(func, "padding", padding, 0)
    N, C, H, W = x.shape
    Hw, Ww, F, Cw, KH, KW = w.shape
    if Cw != C:
        raise ValueError(f"{func}: x has {C} channels but w expects {Cw} (x.shape={x.shape}, w.shape={w.shape})")
    if KH > H + 2 * ph or KW > W + 2 * pw:
        raise ValueError(
            f"{func}: kernel {KH}x{KW} (w.shape={w.shape}) is larger than the padded input "
            f"{H + 2 * ph}x{W + 2 * pw} (x.shape={x.shape}, padding=({ph}, {pw}))"
        )
    Ho, Wo = conv_output_size(H, KH, sh, ph), conv_output_size(W, KW, sw, pw)
    if (Hw, Ww) != (Ho, Wo):
        raise ValueError(
            f"{func}: w must have one filter bank per output location, shape {(Ho, Wo, F, C, KH, KW)}, got {w.shape}"
        )
    if b is not None:
        b = as_array(func, "b", b)
        if b.shape != (F, Ho, Wo):
            raise ValueError(
                f"{func}: b must have shape {(F, Ho, Wo)} (one bias per filter and location), got {b.shape}"
            )
    if dout is not None:
        dout = check_ndim(func, "dout", as_array(func, "dout", dout), 4, "(N, F, H_out, W_out)")
        if dout.shape != (N, F, Ho, Wo):
            raise ValueError(f"{func}: dout must have shape {(N, F, Ho, Wo)}, got {dout.shape}")
    return x, w, b, dout, (sh, sw), (ph, pw)


def locally_connected_forward(x, w, b=None, stride=1, padding=0):
    """Forward pass. x: (N, C, H, W); w: (H_out, W_out, F, C, KH, KW); b: (F, H_out, W_out) or None.

    Returns (N, F, H_out, W_out). Parameters: H_out*W_out*F*C*KH*KW weights (conv: only F*C*KH*KW).
    """
    x, w, b, _, (sh, sw), (ph, pw) = _lc_setup("locally_connected_forward", x, w, b, stride, padding)
    KH, KW = w.shape[4:]
    win = _conv_fast.windows(_conv_fast.pad(x, ph, pw), KH, KW, sh, sw)  # (N, C, Ho, Wo, KH, KW)
    out = np.einsum("ncijpq,ijfcpq->nfij", win, w, optimize=True)
    if b is not None:
        out += b
    return out


def locally_connected_backward(dout, x, w, stride=1, padding=0):
    """Gradients. dout: (N, F, H_out, W_out). Returns (dx (N, C, H, W), dw like w, db (F, H_out, W_out))."""
    x, w, _, dout, (sh, sw), (ph, pw) = _lc_setup("locally_connected_backward", x, w, None, stride, padding, dout)
    N, C, H, W = x.shape
    Ho, Wo, F, _, KH, KW = w.shape
    x_pad = _conv_fast.pad(x, ph, pw)
    win = _conv_fast.windows(x_pad, KH, KW, sh, sw)
    dw = np.einsum("nfij,ncijpq->ijfcpq", dout, win, optimize=True)
    dcols = np.einsum("nfij,ijfcpq->ncijpq", dout, w, optimize=True)  # what each window sends back
    dx_pad = np.zeros(x_pad.shape, dtype=dcols.dtype)
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, :, p : p + sh * Ho : sh, q : q + sw * Wo : sw] += dcols[..., p, q]
    return dx_pad[:, :, ph : ph + H, pw : pw + W], dw, dout.sum(axis=0)


class TiedWeightDemo(NamedTuple):
    """Result of :func:`tied_weight_gradient_demo` (all arrays float64)."""

    conv_dw: np.ndarray  # (F, C, KH, KW) gradient of the shared conv filter
    lc_dw: np.ndarray  # (H_out, W_out, F, C, KH, KW) gradients of the untied copies
    lc_dw_summed: np.ndarray  # lc_dw summed over the locations (H_out, W_out)
    max_abs_difference: float  # |conv_dw - lc_dw_summed|, max over entries (round-off only)
    outputs_match: bool  # the tied locally connected layer computes exactly the conv


def tied_weight_gradient_demo(x=None, w=None, dout=None, stride=1, padding=0, seed=0) -> TiedWeightDemo:
    """Slide 30: the gradient of a shared (tied) weight is the sum of the gradients of its copies.

    Copies the conv filters w (F, C, KH, KW) to every output location to make a locally connected layer,
    checks that both give the same output, and compares the conv ``dw`` with the locally connected ``dw``
    summed over locations. Random x (2, 3, 8, 8), w (4, 3, 3, 3) and dout when not given (seeded).
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 8, 8)) if x is None else as_array("tied_weight_gradient_demo", "x", x)
    w = rng.standard_normal((4, 3, 3, 3)) if w is None else as_array("tied_weight_gradient_demo", "w", w)
    from .conv import conv2d_backward, conv2d_forward

    out = conv2d_forward(x, w, stride=stride, padding=padding)
    Ho, Wo = out.shape[2:]
    dout = rng.standard_normal(out.shape) if dout is None else as_array("tied_weight_gradient_demo", "dout", dout)
    w_tied = np.broadcast_to(w, (Ho, Wo, *w.shape))
    same = bool(np.allclose(locally_connected_forward(x, w_tied, stride=stride, padding=padding), out))
    _, conv_dw, _ = conv2d_backward(dout, x, w, stride=stride, padding=padding)
    _, lc_dw, _ = locally_connected_backward(dout, x, w_tied, stride=stride, padding=padding)
    summed = lc_dw.sum(axis=(0, 1))
    return TiedWeightDemo(conv_dw, lc_dw, summed, float(np.abs(conv_dw - summed).max()), same)
