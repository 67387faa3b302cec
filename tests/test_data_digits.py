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
