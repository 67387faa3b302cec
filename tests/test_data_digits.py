"""course_utils.data.digits: scikit-learn's digits as NCHW float32 in [0, 1]."""

import numpy as np
from sklearn.datasets import load_digits

from course_utils.data.digits import load_digits_arrays


def test_digits_arrays_match_scikit_learn():
    X, y = load_digits_arrays()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    ref = load_digits()
    np.testing.assert_allclose(X[:, 0] * 16, ref.images, atol=1e-5)
    np.testing.assert_array_equal(y, ref.target)
    assert np.bincount(y).min() > 170  # ten classes, roughly balanced


def test_fallback_to_scikit_learns_loader_gives_the_same_arrays(monkeypatch):
    import course_utils.data.digits as digits

    fast = load_digits_arrays()
    monkeypatch.setattr(digits, "_bundled_csv", lambda: None)
    slow = load_digits_arrays()
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
