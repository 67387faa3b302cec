"""Max and average pooling (forward and backward), as ``torch.nn.functional.max_pool2d`` / ``avg_pool2d``.

x: (N, C, H, W); ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding`` are ints or (h, w)
pairs; (H_out, W_out): :func:`course_utils.reference.conv.conv_output_size` along each axis (floor, as torch).
Windows may overlap (stride < kernel).

* Max pooling pads with -inf; the gradient of each window goes to its *first* maximum in row-major order
  (the element torch's ``return_indices`` points to), so ties (e.g. zeros after a ReLU) route like torch.
* Average pooling pads with zeros and always divides by KH*KW (torch's default ``count_include_pad=True``).

Like torch, padding may be at most half the kernel, so that every window holds at least one real pixel.
The code loops over the KH*KW positions inside a window (4 for 2x2), never over pixels: each step is one
strided slice of the whole batch. When the windows tile the image (stride == kernel, no padding: the usual
2x2 pool), max pooling takes the max along rows first, then along columns (``_tiled_max``), and the
backward pass routes dout through those two choices.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, check_ndim, pair
from .conv import conv_output_size


def _pool_setup(func, x, kernel_size, stride, padding, dout=None):
    x = check_ndim(func, "x", as_array(func, "x", x), 4, "(N, C, H, W)")
    KH, KW = pair(func, "kernel_size", kernel_size, 1)
    sh, sw = (KH, KW) if stride is None else pair(func, "stride", stride, 1)
    ph, pw = pair(func, "padding", padding, 0)
    if 2 * ph > KH or 2 * pw > KW:
        raise ValueError(f"{func}: padding=({ph}, {pw}) must be at most half of kernel_size=({KH}, {KW}) (as in torch)")
    N, C, H, W = x.shape
    if KH > H + 2 * ph or KW > W + 2 * pw:
        raise ValueError(
            f"{func}: kernel_size=({KH}, {KW}) is larger than the padded input "
            f"{H + 2 * ph}x{W + 2 * pw} (x.shape={x.shape}, padding=({ph}, {pw}))"
        )
    Ho, Wo = conv_output_size(H, KH, sh, ph), conv_output_size(W, KW, sw, pw)
    if dout is not None:
        dout = check_ndim(func, "dout", as_array(func, "dout", dout), 4, "(N, C, H_out, W_out)")
        if dout.shape != (N, C, Ho, Wo):
            raise ValueError(f"{func}: dout must have shape {(N, C, Ho, Wo)} (the output's), got {dout.shape}")
    return x, dout, (KH, KW), (sh, sw), (ph, pw), (Ho, Wo)


def _padded(x, ph, pw, value):
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _offsets(KH, KW, sh, sw, Ho, Wo):
    """For each position (p, q) inside a window, the slices that pick that element of every window."""
    for p in range(KH):
        for q in range(KW):
            yield (slice(None), slice(None), slice(p, p + sh * (Ho - 1) + 1, sh), slice(q, q + sw * (Wo - 1) + 1, sw))


def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    """Max over each KH x KW window. x: (N, C, H, W) -> (N, C, H_out, W_out)."""
    x, _, (KH, KW), (sh, sw), (ph, pw), (Ho, Wo) = _pool_setup("maxpool2d_forward", x, kernel_size, stride, padding)
    if (KH, KW) == (sh, sw) and ph == pw == 0:
        return _tiled_max(x, KH, KW)[0]
    xp = _padded(x, ph, pw, -np.inf)
    out = None
    for sl in _offsets(KH, KW, sh, sw, Ho, Wo):
        out = xp[sl].copy() if out is None else np.maximum(out, xp[sl], out=out)
    return out


def _tiled_max(x, KH, KW, need_argmax=False):
    """Max-pool when the windows tile the input (stride == kernel, no padding), one axis at a time.

    First the max over each row segment of KW pixels (and which q in 0..KW-1 won), then the max of KH such
    row maxima (and which p won). A later position wins only if strictly larger, so ties go to the first
    maximum in row-major order, as torch. Returns (out, p_arg, q_arg); the args are None unless asked.
    """
    N, C, H, W = x.shape
    Ho, Wo = H // KH, W // KW
    x = x[:, :, : KH * Ho, : KW * Wo]  # floor: the leftover rows/columns are in no window
    rows, q_arg = _running_max([x[..., q::KW] for q in range(KW)], need_argmax)  # (N, C, KH*Ho, Wo)
    out, p_arg = _running_max([rows[:, :, p::KH] for p in range(KH)], need_argmax)  # (N, C, Ho, Wo)
    return out, p_arg, q_arg


def _running_max(views, need_argmax):
    """Elementwise max of equally shaped views, and (optionally) the index of the first view that wins."""
    # Strided views are copied to contiguous arrays first: NumPy's SIMD loops want contiguous operands,
    # and a strided copy is cheaper than a strided comparison.
    best = np.array(views[0], order="C")  # a fresh copy: it is written to below
    arg = None
    for k, v in enumerate(views[1:], start=1):
        v = np.ascontiguousarray(v)
        if need_argmax:
            better = v > best
            if arg is None:
                arg = better.view(np.int8)  # 0/1 bytes: the first comparison is the argmax so far
            else:
                np.copyto(arg, k, where=better)
        np.maximum(best, v, out=best)
    if need_argmax and arg is None:
        arg = np.zeros(best.shape, dtype=np.int8)
    return best, arg


def maxpool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    """Gradient of :func:`maxpool2d_forward`: dout (N, C, H_out, W_out), x (N, C, H, W) -> dx (N, C, H, W).

    Each window sends its dout to the first position (row-major) that holds the window's maximum.
    """
    x, dout, (KH, KW), (sh, sw), (ph, pw), (Ho, Wo) = _pool_setup(
        "maxpool2d_backward", x, kernel_size, stride, padding, dout=dout
    )
    if (KH, KW) == (sh, sw) and ph == pw == 0:
        return _tiled_max_backward(dout, x, KH, KW)
    xp = _padded(x, ph, pw, -np.inf)
    out = maxpool2d_forward(x, (KH, KW), (sh, sw), (ph, pw))
    dx_pad = np.zeros(xp.shape, dtype=np.result_type(x, dout))
    taken = np.zeros(out.shape, dtype=bool)  # windows whose maximum has already been found
    for sl in _offsets(KH, KW, sh, sw, Ho, Wo):
        first = xp[sl] == out
        first &= ~taken
        taken |= first
        dx_pad[sl] += np.where(first, dout, 0)
    H, W = x.shape[2:]
    return dx_pad[:, :, ph : ph + H, pw : pw + W]


def _tiled_max_backward(dout, x, KH, KW):
    """Backward of :func:`_tiled_max`: dout goes down the winning row p, then to the winning column q."""
    _, p_arg, q_arg = _tiled_max(x, KH, KW, need_argmax=True)
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2:]
    dtype = np.result_type(x, dout)
    d_rows = np.empty((N, C, Ho, KH, Wo), dtype=dtype)  # gradient of each row maximum
    for p in range(KH):
        np.multiply(dout, p_arg == p, out=d_rows[:, :, :, p])
    d_rows = d_rows.reshape(N, C, Ho * KH, Wo)
    exact = (H, W) == (KH * Ho, KW * Wo)
    dx = np.empty((N, C, H, W), dtype=dtype) if exact else np.zeros((N, C, H, W), dtype=dtype)
    for q in range(KW):  # leftover rows / columns (floor) belong to no window and stay 0
        np.multiply(d_rows, q_arg == q, out=dx[:, :, : KH * Ho, q : KW * Wo : KW])
    return dx


def avgpool2d_forward(x, kernel_size, stride=None, padding=0):
    """Mean over each KH x KW window (zero padding counts, as torch's default). (N, C, H, W) -> (N, C, H_out, W_out)."""
    x, _, (KH, KW), (sh, sw), (ph, pw), (Ho, Wo) = _pool_setup("avgpool2d_forward", x, kernel_size, stride, padding)
    xp = _padded(x, ph, pw, 0.0)
    out = np.zeros((*x.shape[:2], Ho, Wo), dtype=x.dtype)
    for sl in _offsets(KH, KW, sh, sw, Ho, Wo):
        out += xp[sl]
    return out / (KH * KW)


def avgpool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    """Gradient of :func:`avgpool2d_forward`: every pixel of a window gets dout / (KH*KW)."""
    x, dout, (KH, KW), (sh, sw), (ph, pw), (Ho, Wo) = _pool_setup(
        "avgpool2d_backward", x, kernel_size, stride, padding, dout=dout
    )
    N, C, H, W = x.shape
    dx_pad = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=np.result_type(x, dout))
    share = dout / (KH * KW)
    for sl in _offsets(KH, KW, sh, sw, Ho, Wo):
        dx_pad[sl] += share
    return dx_pad[:, :, ph : ph + H, pw : pw + W]
