"""The lecture's small CNN (conv - ReLU - pool - fully connected) trained in NumPy on scikit-learn's digits.

``train_digits_cnn()`` reaches >= 97 % test accuracy in 3-6 epochs, about 0.3 s of one CPU core
(``python -m course_utils.bench`` measures it). Trained for all 15 epochs it ends at 98-99 %.
The split is fixed: a stratified 80/20 train/test split of the 1,797 digits (seeded).
"""

from __future__ import annotations

import time

import numpy as np

from .sequential import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential

DIGITS_HYPERPARAMETERS = {"epochs": 15, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}


def digits_split(seed=0, test_fraction=0.2):
    """(X_train, y_train, X_test, y_test): digits as float32 (N, 1, 8, 8) in [0, 1], stratified split."""
    from sklearn.model_selection import train_test_split

    from ..data.digits import load_digits_arrays

    X, y = load_digits_arrays()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_fraction, stratify=y, random_state=seed)
    return X_tr, y_tr, X_te, y_te


def make_digits_cnn(seed=0, channels=16, dtype=np.float32) -> Sequential:
    """conv 3x3 (1 -> channels, padding 1) - ReLU - max-pool 2x2 - flatten - linear (channels*16 -> 10)."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(1, channels, 3, padding=1, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(channels * 4 * 4, 10, rng=rng, dtype=dtype),
    )


def train_digits_cnn(seed=0, target=0.97, on_epoch_end=None, **overrides):
    """Train :func:`make_digits_cnn` until the test accuracy reaches ``target`` (or the epochs run out).

    Returns (model, history, seconds): wall time of the training loop (data loading excluded).
    ``overrides`` replace entries of ``DIGITS_HYPERPARAMETERS``. BLAS runs on one thread meanwhile: on
    matrices this small, more threads only add synchronisation (and hurt on a busy machine).
    """
    from threadpoolctl import threadpool_limits

    X_tr, y_tr, X_te, y_te = digits_split(seed)
    model = make_digits_cnn(seed)
    hp = {**DIGITS_HYPERPARAMETERS, **overrides}
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        history = model.fit(X_tr, y_tr, X_te, y_te, seed=seed, on_epoch_end=on_epoch_end, stop_at_val_acc=target, **hp)
        seconds = time.perf_counter() - t0
    return model, history, seconds
