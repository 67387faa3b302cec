"""Input checks shared by the reference layers: clear errors that name the argument, what was received
and what was expected (the course's error convention)."""

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
    if arr.ndim != ndim:
        raise ValueError(f"{func}: {name} must be {ndim}-D {layout}, got shape {arr.shape} ({arr.ndim}-D)")
    return arr


def int_param(func: str, name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {value}")
    return int(value)


def pair(func: str, name: str, value, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints (height, width), as torch.nn.functional accepts."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{func}: {name} must be an int or a pair (h, w), got {value!r}")
        return int_param(func, name, value[0], minimum), int_param(func, name, value[1], minimum)
    v = int_param(func, name, value, minimum)
    return v, v


def check_shape(func: str, name: str, arr: np.ndarray, expected: tuple) -> None:
    if tuple(arr.shape) != tuple(expected):
        raise ValueError(f"{func}: {name} must have shape {tuple(expected)}, got {arr.shape}")
