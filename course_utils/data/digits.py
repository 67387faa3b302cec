"""scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, 10 classes) as NCHW arrays, and the
course's one train / validation / test split of them (``split_digits``)."""

from __future__ import annotations

import gzip
import importlib.util
import os
from typing import NamedTuple

import numpy as np


def _bundled_csv() -> str | None:
    """Path of scikit-learn's ``digits.csv.gz``, found without importing scikit-learn (about a second)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    return path if os.path.exists(path) else None


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Return the digits as (X, y), ready for a conv net.

    X: float32 (1797, 1, 8, 8) in [0, 1] (the raw pixel values 0..16 divided by 16).
    y: int64 (1797,) class labels 0..9.
    The same data as ``sklearn.datasets.load_digits()``, read from the file it reads (every grading kernel
    loads the digits: skipping scikit-learn's import saves it a second).
    """
    path = _bundled_csv()
    if path is None:  # a scikit-learn that keeps its data elsewhere: use its loader
        from sklearn.datasets import load_digits

        digits = load_digits()
        return (digits.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8), digits.target.astype(np.int64)
    with gzip.open(path, "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    return (data[:, :-1] / 16.0).reshape(-1, 1, 8, 8), data[:, -1].astype(np.int64)


class DigitsSplits(NamedTuple):
    """Three disjoint stratified splits of the digits: X float32 (N, 1, 8, 8) in [0, 1], y int64 (N,)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def stratified_mask(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask (N,) picking ``fraction`` of the samples of every class of the labels y (N,), at random.

    Each class gives round(fraction * its size) samples, at least one (none when ``fraction`` is 0); which
    ones is drawn from ``rng``, class by class in label order. The course's one stratified split:
    ``split_digits`` and ``torch_track.make_loaders`` use it.

    >>> mask = stratified_mask(np.array([0] * 6 + [1] * 4), 0.5, np.random.default_rng(0))
    >>> int(mask.sum()), int(mask[:6].sum()), int(mask[6:].sum())
    (5, 3, 2)
    """
    picked = np.zeros(len(y), dtype=bool)
    if fraction == 0:
        return picked
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        picked[idx[: max(1, round(fraction * len(idx)))]] = True
    return picked


def split_digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2) -> DigitsSplits:
    """The course's one split of the digits into training, validation and test sets (stratified, seeded).

    test_fraction: share of each digit's images held out as the test set (``stratified_mask``);
    val_fraction: share of what is left after the test set held out for validation. Either may be 0 (that
    split is then empty, shape (0, 1, 8, 8) / (0,)). With the defaults: 1,222 training, 216 validation and
    359 test images. Every split holds each class in proportion to its size (to within one image); the
    result depends on ``seed`` alone. Returns ``DigitsSplits(X_train, y_train, X_val, y_val, X_test, y_test)``:
    X float32 (N, 1, 8, 8) in [0, 1], y int64 (N,).

    >>> d = split_digits(seed=0)
    >>> d.X_train.shape, d.X_val.shape, d.X_test.shape
    ((1222, 1, 8, 8), (216, 1, 8, 8), (359, 1, 8, 8))
    >>> [int(n) for n in np.bincount(d.y_test)]     # 20 % of each digit's 174..183 images
    [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]
    >>> len(split_digits(val_fraction=0).y_val)
    0

    Raises ValueError when a fraction is outside [0, 1) or the two leave no training image.
    """
    from course_utils._validate import fraction_param, int_param

    int_param("split_digits", "seed", seed, 0)
    val_fraction = fraction_param("split_digits", "val_fraction", val_fraction)
    test_fraction = fraction_param("split_digits", "test_fraction", test_fraction)
    X, y = load_digits_arrays()
    rng = np.random.default_rng(seed)
    test = stratified_mask(y, test_fraction, rng)
    rest = np.flatnonzero(~test)
    val = np.zeros(len(y), dtype=bool)
    val[rest[stratified_mask(y[rest], val_fraction, rng)]] = True
    train = ~(test | val)
    if not train.any():
        raise ValueError(f"split_digits: val_fraction and test_fraction must leave training images, "
                         f"got val_fraction={val_fraction} and test_fraction={test_fraction}")
    return DigitsSplits(X[train], y[train], X[val], y[val], X[test], y[test])
