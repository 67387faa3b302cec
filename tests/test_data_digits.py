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


# ------------------------------------------------------------------ split_digits: the course's one digits split
import pytest  # noqa: E402

from course_utils.data.digits import DigitsSplits, split_digits, stratified_mask  # noqa: E402


def _rows(X):
    return {x.tobytes() for x in X}


def test_split_digits_default_sizes_types_and_shapes():
    d = split_digits()
    assert isinstance(d, DigitsSplits) and d._fields == ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (1222, 216, 359)
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)):
        assert X.dtype == np.float32 and X.shape == (len(y), 1, 8, 8) and y.dtype == np.int64
        assert X.min() >= 0.0 and X.max() <= 1.0


def test_split_digits_is_a_disjoint_cover_of_all_digits():
    X, y = load_digits_arrays()
    d = split_digits(seed=4)
    parts = [(d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)]
    assert sum(len(p[1]) for p in parts) == len(y)
    # every image (with its label) lands in exactly one split: compare as multisets of (image, label)
    key = lambda X, y: sorted(x.tobytes() + bytes([int(c)]) for x, c in zip(X, y))  # noqa: E731
    assert key(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])) == key(X, y)
    train, val, test = _rows(d.X_train), _rows(d.X_val), _rows(d.X_test)
    assert not (train & test) and not (train & val) and not (val & test)


def test_split_digits_is_stratified():
    X, y = load_digits_arrays()
    d = split_digits(seed=1)
    per_class = np.bincount(y)
    # every class is represented in proportion to its size, to within one image
    assert np.all(np.abs(np.bincount(d.y_test, minlength=10) - 0.2 * per_class) < 1)
    rest = per_class - np.bincount(d.y_test, minlength=10)
    assert np.all(np.abs(np.bincount(d.y_val, minlength=10) - 0.15 * rest) < 1)


def test_split_digits_is_deterministic_in_its_seed():
    a, b, c = split_digits(seed=7), split_digits(seed=7), split_digits(seed=8)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert _rows(a.X_test) != _rows(c.X_test)


@pytest.mark.parametrize("val, test, sizes", [(0.0, 0.2, (1438, 0, 359)), (0.15, 0.0, (1528, 269, 0)),
                                              (0.0, 0.0, (1797, 0, 0))])
def test_split_digits_zero_fractions_give_empty_arrays_of_the_right_shape(val, test, sizes):
    d = split_digits(seed=0, val_fraction=val, test_fraction=test)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == sizes
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)):
        assert X.shape == (len(y), 1, 8, 8) and X.dtype == np.float32 and y.dtype == np.int64


def test_split_digits_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"^split_digits: test_fraction must be in \[0, 1\), got 1.0$"):
        split_digits(test_fraction=1.0)
    with pytest.raises(ValueError, match=r"^split_digits: val_fraction must be in \[0, 1\), got -0.1$"):
        split_digits(val_fraction=-0.1)
    with pytest.raises(TypeError, match=r"^split_digits: seed must be an integer, got str '0'$"):
        split_digits(seed="0")


def test_stratified_mask_takes_the_total_with_largest_remainders():
    y = np.array([0] * 10 + [1] * 7 + [2] * 3)
    mask = stratified_mask(y, 0.25, np.random.default_rng(0))
    assert mask.sum() == 5  # ceil(0.25 * 20)
    assert [int(mask[y == c].sum()) for c in range(3)] == [2, 2, 1]  # 2.5, 1.75, 0.75 -> 2, 1+1, 0+1
    assert not stratified_mask(y, 0.0, np.random.default_rng(0)).any()
