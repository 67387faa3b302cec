"""scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, 10 classes) as NCHW arrays."""

from __future__ import annotations

import numpy as np


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Return the digits as (X, y), ready for a conv net.

    X: float32 (1797, 1, 8, 8) in [0, 1] (the raw pixel values 0..16 divided by 16).
    y: int64 (1797,) class labels 0..9.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    return X, y
