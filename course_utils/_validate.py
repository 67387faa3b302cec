"""The course's one set of input checks: clear errors that name the argument, what was received and what was
expected (the course's error convention).

Every check takes ``(func, name, value, ...)``: the calling function's name, the argument's name, its value,
then what is expected; every message reads ``"{func}: {name} must be <expected>, got <received>"``:

>>> int_param("make_shapes", "n", 0, 1)
Traceback (most recent call last):
...
ValueError: make_shapes: n must be >= 1, got 0
>>> pair("LocallyConnected2d", "kernel_size", 3, 1), pair("conv2d_forward", "stride", (1, 2), 1)
((3, 3), (1, 2))

Used by the NumPy reference layers, ``course_utils.data``, ``course_utils.registration`` and
``course_utils.torch_track``.
"""

from __future__ import annotations

import numbers

import numpy as np


def as_array(func: str, name: str, value) -> np.ndarray:
    """Return ``value`` as a floating ndarray (float64 unless it is already floating)."""
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many kinds
        raise TypeError(f"{func}: {name} must be array-like, got {type(value).__name__}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{func}: {name} must be a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{func}: {name} must be real, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def check_ndim(func: str, name: str, arr: np.ndarray, ndim: int, layout: str) -> np.ndarray:
    """``arr`` itself if it has ``ndim`` dimensions (``layout`` names them, e.g. "(N, C, H, W)")."""
    if arr.ndim != ndim:
        raise ValueError(f"{func}: {name} must be {ndim}-D {layout}, got shape {arr.shape} ({arr.ndim}-D)")
    return arr


def int_param(func: str, name: str, value, minimum: int) -> int:
    """An integer (not a bool) >= ``minimum``, returned as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {value}")
    return int(value)


def pair(func: str, name: str, value, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints (height, width), each >= ``minimum``, as a (height, width) tuple: torch's
    ``_pair`` (``nn.Conv2d(kernel_size=3)`` means 3x3), checked. The course's only ``_pair``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{func}: {name} must be an int or a pair (h, w), got {value!r}")
        return int_param(func, name, value[0], minimum), int_param(func, name, value[1], minimum)
    v = int_param(func, name, value, minimum)
    return v, v


def check_shape(func: str, name: str, arr: np.ndarray, expected: tuple) -> None:
    """ValueError unless ``arr.shape == expected``."""
    if tuple(arr.shape) != tuple(expected):
        raise ValueError(f"{func}: {name} must have shape {tuple(expected)}, got {arr.shape}")


def fraction_param(func: str, name: str, value, low_open: bool = False) -> float:
    """A real number in [0, 1) (in (0, 1) with ``low_open``), returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {name} must be a number, got {type(value).__name__} {value!r}")
    lo = "(0" if low_open else "[0"
    if not ((0 < value) if low_open else (0 <= value)) or not value < 1:
        raise ValueError(f"{func}: {name} must be in {lo}, 1), got {value!r}")
    return float(value)


def one_of(func: str, name: str, value, choices):
    """``value`` itself if it is one of ``choices``; else ValueError listing them."""
    if value not in tuple(choices):
        raise ValueError(f"{func}: {name} must be one of {tuple(choices)}, got {value!r}")
    return value


def real_param(func: str, name: str, value, minimum: float | None = None) -> float:
    """A real number (not a bool), >= ``minimum`` when given, returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {name} must be a number, got {type(value).__name__} {value!r}")
    if minimum is not None and not value >= minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {value!r}")
    return float(value)


def bool_param(func: str, name: str, value) -> bool:
    """True or False (NumPy's bools too)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{func}: {name} must be True or False, got {value!r}")
    return bool(value)


def range_param(func: str, name: str, value, low: float, high: float | None = None) -> tuple[float, float]:
    """A number v (meaning (v, v)) or a (lo, hi) pair with low <= lo <= hi (<= high), as two floats."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, tuple | list) and len(value) == 2) or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value
    ):
        raise TypeError(f"{func}: {name} must be a number or a (low, high) pair, got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if lo > hi or lo < low or (high is not None and hi > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{func}: {name} must be a number or a (low, high) pair with low <= high, both {bound}, "
                         f"got {value!r}")
    return lo, hi
