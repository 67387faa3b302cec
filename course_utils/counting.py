"""Parameter counting for the lecture's three ways of connecting an image to a hidden layer (slides 8-9, 23).

Conventions: an image is H x W with C channels; biases are counted only when ``bias=True``.
The lecture's numbers count weights only: 200x200 image, 40K hidden units, 10x10 filters
-> locally connected 4,000,000; 100 conv filters of 10x10 -> 10,000.
"""

from __future__ import annotations

import numbers


def _positive_int(name: str, value, func: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an integer, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{func}: {name} must be >= 1, got {value}")
    return int(value)


def fully_connected_params(image_size: int, hidden_units: int, channels: int = 1, bias: bool = False) -> int:
    """Every hidden unit sees every pixel: (image_size**2 * channels) * hidden_units (+ hidden_units biases)."""
    f = "fully_connected_params"
    n_in = _positive_int("image_size", image_size, f) ** 2 * _positive_int("channels", channels, f)
    h = _positive_int("hidden_units", hidden_units, f)
    return n_in * h + (h if bias else 0)


def locally_connected_params(hidden_units: int, filter_size: int, channels: int = 1, bias: bool = False) -> int:
    """Each hidden unit has its own filter_size x filter_size x channels patch of weights (no sharing)."""
    f = "locally_connected_params"
    h = _positive_int("hidden_units", hidden_units, f)
    k = _positive_int("filter_size", filter_size, f)
    return h * k * k * _positive_int("channels", channels, f) + (h if bias else 0)


def conv_params(num_filters: int, filter_size: int, channels: int = 1, bias: bool = False) -> int:
    """Shared weights: num_filters filters of filter_size x filter_size x channels, whatever the image size."""
    f = "conv_params"
    n = _positive_int("num_filters", num_filters, f)
    k = _positive_int("filter_size", filter_size, f)
    return n * k * k * _positive_int("channels", channels, f) + (n if bias else 0)
