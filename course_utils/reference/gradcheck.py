"""Numerical gradient checking (centred differences), reported as CS231n does.

``relative_error(a, b) = max |a - b| / max(1e-8, |a| + |b|)`` (elementwise, then the max). In float64
with h = 1e-5, CS231n's rule of thumb: > 1e-2 the gradient is probably wrong; 1e-2 .. 1e-4 uncomfortable;
1e-4 .. 1e-7 fine for functions with kinks (ReLU, max-pool); < 1e-7 you should be happy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def numerical_gradient(f, x, h=1e-5, dout=None):
    """Centred-difference gradient of f at x: ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` for every entry i.

    f: callable taking x (an ndarray, modified in place then restored) and returning a scalar, or an array
    when ``dout`` is given (then the gradient of ``sum(f(x) * dout)``). x: float ndarray of any shape.
    Returns an array shaped like x. Costs 2 * x.size calls of f.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient: x must be a float ndarray, got {type(x).__name__}")
    if not h > 0:
        raise ValueError(f"numerical_gradient: h must be > 0, got {h}")
    grad = np.zeros_like(x)

    def scalar():
        y = f(x)
        return float(np.sum(np.asarray(y) * dout)) if dout is not None else float(y)

    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = scalar()
        x[i] = old - h
        minus = scalar()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b) -> float:
    """CS231n's relative error: max over entries of |a - b| / max(1e-8, |a| + |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


class GradientCheck(NamedTuple):
    relative_error: float
    passed: bool
    verdict: str

    def __str__(self):
        return f"relative error {self.relative_error:.2e}: {self.verdict}"


def _verdict(err: float) -> str:
    if err > 1e-2:
        return "the gradient is probably wrong"
    if err > 1e-4:
        return "uncomfortable: check the code"
    if err > 1e-7:
        return "fine for functions with kinks (ReLU, max-pool), suspicious otherwise"
    return "the analytic gradient matches"


def gradient_check(f, x, analytic_grad, dout=None, h=1e-5, tol=1e-7) -> GradientCheck:
    """Compare an analytic gradient with :func:`numerical_gradient`.

    f, x, dout, h: as in :func:`numerical_gradient`; analytic_grad: array shaped like x.
    Returns ``GradientCheck(relative_error, passed=(relative_error <= tol), verdict)``; printing it gives
    one line such as ``relative error 3.1e-11: the analytic gradient matches``.
    """
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != np.shape(x):
        raise ValueError(
            f"gradient_check: analytic_grad must have the shape of x {np.shape(x)}, got {analytic_grad.shape}"
        )
    err = relative_error(analytic_grad, numerical_gradient(f, x, h=h, dout=dout))
    return GradientCheck(err, err <= tol, _verdict(err))
