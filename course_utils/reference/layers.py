"""The remaining layers of a small CNN: ReLU, fully connected (linear), softmax + cross-entropy loss.

Conventions as ``torch.nn.functional``: ``linear_forward(x, w, b) = x @ w.T + b`` with w of shape
(out, in); the loss is the mean over the batch, as ``F.cross_entropy``.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_array, check_ndim


def relu_forward(x):
    """max(0, x), elementwise. Any shape."""
    x = as_array("relu_forward", "x", x)
    return np.maximum(x, 0)


def relu_backward(dout, x):
    """Gradient of ReLU: dout where x > 0, else 0 (at x == 0 the gradient is 0, as torch)."""
    x = as_array("relu_backward", "x", x)
    dout = as_array("relu_backward", "dout", dout)
    if dout.shape != x.shape:
        raise ValueError(f"relu_backward: dout must have the shape of x {x.shape}, got {dout.shape}")
    return np.where(x > 0, dout, 0)


def _linear_check(func, x, w):
    x = check_ndim(func, "x", as_array(func, "x", x), 2, "(N, in_features)")
    w = check_ndim(func, "w", as_array(func, "w", w), 2, "(out_features, in_features)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"{func}: x has {x.shape[1]} features but w expects {w.shape[1]} (x.shape={x.shape}, w.shape={w.shape})"
        )
    return x, w


def linear_forward(x, w, b=None):
    """Fully connected layer. x: (N, in); w: (out, in); b: (out,) or None. Returns (N, out) = x @ w.T + b."""
    x, w = _linear_check("linear_forward", x, w)
    out = x @ w.T
    if b is not None:
        b = as_array("linear_forward", "b", b)
        if b.shape != (w.shape[0],):
            raise ValueError(f"linear_forward: b must have shape ({w.shape[0]},), got {b.shape}")
        out += b
    return out


def linear_backward(dout, x, w):
    """Gradients of :func:`linear_forward`. dout: (N, out). Returns (dx (N, in), dw (out, in), db (out,))."""
    x, w = _linear_check("linear_backward", x, w)
    dout = check_ndim("linear_backward", "dout", as_array("linear_backward", "dout", dout), 2, "(N, out_features)")
    if dout.shape != (x.shape[0], w.shape[0]):
        raise ValueError(f"linear_backward: dout must have shape {(x.shape[0], w.shape[0])}, got {dout.shape}")
    return dout @ w, dout.T @ x, dout.sum(axis=0)


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    logits: (N, K) scores; y: (N,) integer classes in [0, K).
    Returns (loss: float, dlogits: (N, K)) with dlogits = (softmax(logits) - onehot(y)) / N.
    Computed stably (the max logit is subtracted first).
    """
    f = "softmax_cross_entropy"
    logits = check_ndim(f, "logits", as_array(f, "logits", logits), 2, "(N, num_classes)")
    y = np.asarray(y)
    if y.shape != (logits.shape[0],):
        raise ValueError(f"{f}: y must have shape ({logits.shape[0]},) (one label per row of logits), got {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{f}: y must hold integer class labels, got dtype {y.dtype}")
    K = logits.shape[1]
    if y.size and (y.min() < 0 or y.max() >= K):
        raise ValueError(f"{f}: labels in y must lie in [0, {K}), got min {y.min()}, max {y.max()}")
    N = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(N), y] -= 1
    return float(loss), dlogits / N
