"""The lecture's small CNN (conv - ReLU - pool - fully connected) trained in NumPy on scikit-learn's digits.

The splits are the course's one digits split, :func:`course_utils.data.digits.split_digits` (seeded,
stratified): 20 % of the 1,797 digits are the **test** set, and 15 % of the rest are the **validation** set.
``train_digits_cnn()`` trains on the training set, stops as soon as the *validation* accuracy reaches its
target, and only then measures the test accuracy once, on images that decided nothing (neither a weight nor
when to stop): notebook 07's rule.
With seeds 0-5 it stops after 2-6 epochs (well under a second of one CPU core) at 95.8-97.8 % test accuracy;
all 15 epochs (``target=None``) end at 97.2-98.6 %.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from ..data.digits import split_digits
from .sequential import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential

__all__ = ["DIGITS_HYPERPARAMETERS", "DigitsRun", "make_digits_cnn", "train_digits_cnn"]

DIGITS_HYPERPARAMETERS = {"epochs": 15, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}


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


class DigitsRun(NamedTuple):
    """What :func:`train_digits_cnn` returns."""

    model: Sequential
    history: dict  # the course's history: "val_*" entries are on the validation split
    seconds: float  # wall time of the training loop (data loading and the test evaluation excluded)
    test_loss: float  # measured once, after training, on the test split
    test_acc: float


def train_digits_cnn(seed=0, target=0.97, on_epoch_end=None, val_fraction=0.15, **overrides) -> DigitsRun:
    """Train :func:`make_digits_cnn` until the *validation* accuracy reaches ``target`` (or the epochs run out).

    Trains on the training split of :func:`split_digits`, evaluates the validation split after every
    epoch (``history["val_acc"]``; ``on_epoch_end(history)`` is called then), and measures the test split
    once at the end. Returns ``DigitsRun(model, history, seconds, test_loss, test_acc)``.
    ``overrides`` replace entries of ``DIGITS_HYPERPARAMETERS``. BLAS runs on one thread meanwhile: on
    matrices this small, more threads only add synchronisation (and hurt on a busy machine).
    """
    from threadpoolctl import threadpool_limits

    data = split_digits(seed, val_fraction=val_fraction)
    model = make_digits_cnn(seed)
    hp = {**DIGITS_HYPERPARAMETERS, **overrides}
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        history = model.fit(
            data.X_train, data.y_train, data.X_val, data.y_val,
            seed=seed, on_epoch_end=on_epoch_end, stop_at_val_acc=target, **hp,
        )
        seconds = time.perf_counter() - t0
        test_loss, test_acc = model.evaluate(data.X_test, data.y_test)  # the first look at the test split
    return DigitsRun(model, history, seconds, float(test_loss), float(test_acc))
