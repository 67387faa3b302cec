"""Numerical gradient checking (centred differences), reported as CS231n does.

``relative_error(a, b) = max |a - b| / max(1e-8, |a| + |b|)`` (elementwise, then the max). In float64
with h = 1e-5, CS231n's rule of thumb: > 1e-2 the gradient is probably wrong; 1e-2 .. 1e-4 uncomfortable;
1e-4 .. 1e-7 fine for functions with kinks (ReLU, max-pool); < 1e-7 you should be happy.

The numerical gradient is always computed in float64, whatever the dtype of x: in float32, x + h rounds
(h = 1e-5 is only about 80 float32 steps at 1) and f(x + h) - f(x - h) keeps two or three significant digits,
so a float32 numerical gradient calls a correct gradient wrong.

A float32 analytic gradient is judged at float32 precision. Its entries carry rounding errors of about
1e-7 of the gradient's *largest* entries, which the ratio above blows up on entries near zero (a correct
float32 conv gradient reaches 5e-2). So for a float32 ``analytic_grad``, ``gradient_check`` floors the
denominator at ``FLOAT32_FLOOR * max|numerical gradient|`` and passes at ``relative_error <= FLOAT32_TOL``
(both 1e-3: correct float32 conv, linear, max-pool and softmax gradients, measured against torch autograd in
float64, stay below 3e-4; the wrong ones tests/test_reference_gradcheck.py tries are far above). A float16
analytic gradient is refused: compute it in float32 or float64.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

FLOAT64_TOL = 1e-7  #: default tolerance for a float64 analytic gradient (CS231n's "you should be happy")
FLOAT32_TOL = 1e-3  #: default tolerance for a float32 analytic gradient (with the floor below)
FLOAT32_FLOOR = 1e-3  #: float32: relative errors are measured against at least this share of max|gradient|


def _is_low_precision(dtype) -> bool:
    """True for float dtypes coarser than float64 (float32, float16)."""
    return np.issubdtype(dtype, np.floating) and np.finfo(dtype).eps > np.finfo(np.float64).eps


def numerical_gradient(f, x, h=1e-5, dout=None):
    """Centred-difference gradient of f at x: ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` for every entry i.

    f: callable taking x and returning a scalar, or an array when ``dout`` is given (then the gradient of
    ``sum(f(x) * dout)``). x: float ndarray of any shape. Returns a float64 array shaped like x.
    Costs 2 * x.size calls of f.

    Computed in float64: a float64 x is modified in place then restored, so f may read x itself (a closure)
    or its argument; any other x (float32, float16) is left alone and f is called with a float64 copy, so f
    must compute from its argument. f's result and ``dout`` are taken as float64; a float32/float16 result
    raises ``TypeError`` (cast f's other inputs, such as weights, to float64).

    >>> x = np.array([1.0, -2.0], dtype=np.float32)
    >>> numerical_gradient(lambda v: np.sum(v**3), x).round(6)   # 3 x**2, in float64
    array([ 3., 12.])
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        got = f"{type(x).__name__} of dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"numerical_gradient: x must be a float ndarray, got {got}")
    if not h > 0:
        raise ValueError(f"numerical_gradient: h must be > 0, got {h}")
    copied = x.dtype != np.float64
    xv = x.astype(np.float64) if copied else x  # the array f sees (and that is perturbed)
    if dout is not None:
        dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros(x.shape, dtype=np.float64)

    def scalar():
        y = np.asarray(f(xv))
        if _is_low_precision(y.dtype):
            hint = (
                f"x is {x.dtype}, so f is called with a float64 copy of x: compute from f's argument, "
                "not from x captured in a closure, and "
                if copied
                else ""
            )
            raise TypeError(
                f"numerical_gradient: f returned {y.dtype} values for a float64 input; centred differences "
                f"with h={h:g} need f computed in float64 ({y.dtype} rounding alone makes the numerical "
                f"gradient wrong by 1e-2 or more): {hint}cast f's other inputs (weights, biases) to float64"
            )
        y = y.astype(np.float64)
        if dout is not None:
            return float(np.sum(y * dout))
        if y.size != 1:
            raise ValueError(f"numerical_gradient: f returned shape {y.shape} without dout; expected a scalar")
        return float(y.reshape(()))

    for i in np.ndindex(x.shape):
        old = xv[i]
        xv[i] = old + h
        plus = scalar()
        xv[i] = old - h
        minus = scalar()
        xv[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b, floor=1e-8) -> float:
    """CS231n's relative error: max over entries of |a - b| / max(floor, |a| + |b|) (floor 1e-8 by default)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))


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


def _verdict_float32(err: float, tol: float) -> str:
    if err > 1e-2:
        return "the gradient is probably wrong (float32 analytic gradient)"
    if err > tol:
        return f"uncomfortable: more than float32 rounding explains (tolerance {tol:.0e}): check the code"
    return f"the analytic gradient matches at float32 precision (tolerance {tol:.0e})"


def gradient_check(f, x, analytic_grad, dout=None, h=1e-5, tol=None) -> GradientCheck:
    """Compare an analytic gradient with :func:`numerical_gradient` (computed in float64).

    f, x, dout, h: as in :func:`numerical_gradient`; analytic_grad: array shaped like x, float64 or float32.
    tol: pass when ``relative_error <= tol``; default ``FLOAT64_TOL`` (1e-7), or ``FLOAT32_TOL`` (1e-3) for a
    float32 analytic_grad, whose relative error is floored as the module docstring explains.
    Returns ``GradientCheck(relative_error, passed, verdict)``; printing it gives one line such as
    ``relative error 3.1e-11: the analytic gradient matches``.

    >>> x = np.array([1.0, -2.0, 3.0])
    >>> print(gradient_check(lambda v: np.sum(v**3), x, 3 * x**2))          # doctest: +ELLIPSIS
    relative error ...: the analytic gradient matches
    >>> x32 = x.astype(np.float32)
    >>> gradient_check(lambda v: np.sum(v**3), x32, 3 * x32**2).passed       # float32, judged at float32
    True
    >>> gradient_check(lambda v: np.sum(v**3), x32, 2 * x32**2).passed       # wrong in any precision
    False
    """
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != np.shape(x):
        raise ValueError(
            f"gradient_check: analytic_grad must have the shape of x {np.shape(x)}, got {analytic_grad.shape}"
        )
    float32 = _is_low_precision(analytic_grad.dtype)
    if float32 and np.finfo(analytic_grad.dtype).eps > np.finfo(np.float32).eps:
        raise TypeError(
            f"gradient_check: analytic_grad is {analytic_grad.dtype}; its rounding (about "
            f"{np.finfo(analytic_grad.dtype).eps:.0e} per entry) hides real mistakes: compute it in float32 or "
            "float64 (e.g. cast the layer's inputs with .astype(np.float32))"
        )
    numeric = numerical_gradient(f, x, h=h, dout=dout)
    if float32:
        tol = FLOAT32_TOL if tol is None else tol
        floor = max(1e-8, FLOAT32_FLOOR * float(np.max(np.abs(numeric), initial=0.0)))
        err = relative_error(analytic_grad, numeric, floor=floor)
        verdict = _verdict_float32(err, tol)
    else:
        tol = FLOAT64_TOL if tol is None else tol
        err = relative_error(analytic_grad, numeric)
        verdict = _verdict(err)
    if x.dtype != np.float64 and not numeric.any() and np.any(analytic_grad):
        verdict += (
            f"; the numerical gradient is exactly 0: x is {x.dtype}, so f was called with a float64 copy of x "
            "and must compute from its argument, not from x captured in a closure"
        )
    return GradientCheck(err, err <= tol, verdict)
