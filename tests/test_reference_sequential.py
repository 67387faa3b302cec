"""The NumPy Sequential CNN: gradients and SGD+momentum steps equal torch's; digits: val stops, test judges once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from course_utils.data.digits import split_digits
from course_utils.reference import (
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    digits_cnn,
    train_digits_cnn,
)


def small_pair(seed=0):
    model = Sequential(
        Conv2d(1, 3, 3, padding=1, rng=seed, dtype=np.float64),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(3 * 3 * 3, 4, rng=seed + 1, dtype=np.float64),
    )
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 4))
    net = net.double()
    with torch.no_grad():
        for ours, theirs in [(model.layers[0], net[0]), (model.layers[4], net[4])]:
            theirs.weight.copy_(torch.tensor(ours.params["w"]))
            theirs.bias.copy_(torch.tensor(ours.params["b"]) + 0.1)
            ours.params["b"] += 0.1
    return model, net


def test_two_sgd_momentum_steps_match_torch():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 1, 6, 6)), rng.integers(0, 4, size=8)
    model, net = small_pair()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    hist = model.fit(X, y, epochs=2, batch_size=8, lr=0.1, momentum=0.9, weight_decay=0.01, seed=0)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(torch.tensor(X)), torch.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.testing.assert_allclose(hist["train_loss"], losses, rtol=1e-10)
    for ours, theirs in [(model.layers[0], net[0]), (model.layers[4], net[4])]:
        np.testing.assert_allclose(ours.params["w"], theirs.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.params["b"], theirs.bias.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_backward_returns_input_gradient_like_torch():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 1, 6, 6))
    model, net = small_pair()
    dscores = rng.standard_normal((3, 4))
    model.forward(X)
    dx = model.backward(dscores)
    xt = torch.tensor(X, requires_grad=True)
    net(xt).backward(torch.tensor(dscores))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(model.layers[0].grads["w"], net[0].weight.grad.numpy(), rtol=1e-10)


def test_digits_cnn_reaches_97_percent_and_reports_every_epoch():
    calls = []
    model, history, seconds, test_loss, test_acc = train_digits_cnn(
        on_epoch_end=lambda h: calls.append(len(h["epoch"]))
    )
    assert history["val_acc"][-1] >= 0.97
    # measured with the course's split, seeds 0-5: 0.958-0.978 after stopping at the validation target
    assert test_acc >= 0.95 and np.isfinite(test_loss) and seconds > 0
    assert calls == list(range(1, len(history["epoch"]) + 1))
    assert set(history) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}
    assert len({len(v) for v in history.values()}) == 1
    assert all(isinstance(v, float) for vals in history.values() for v in vals)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert "Conv2d(1, 16, kernel_size=3" in repr(model)


def test_digits_cnn_other_seed():
    run = train_digits_cnn(seed=1)
    assert run.history["val_acc"][-1] >= 0.97 and len(run.history["epoch"]) < 15
    assert run.test_acc >= 0.95


def _rows(X, y):
    return sorted(x.tobytes() + bytes([label]) for x, label in zip(X, y))


def test_digits_splits_partition_the_data():
    from course_utils.data.digits import load_digits_arrays

    d = split_digits(seed=0)  # the split notebook 05 and train_digits_cnn use
    assert [len(a) for a in d] == [1222, 1222, 216, 216, 359, 359]
    X, y = load_digits_arrays()
    assert _rows(np.concatenate([d.X_train, d.X_val, d.X_test]), np.concatenate([d.y_train, d.y_val, d.y_test])) == (
        _rows(X, y)
    )
    for split in (d.y_train, d.y_val, d.y_test):  # stratified: every class in every split
        assert set(np.unique(split)) == set(range(10))


MARK = 5.0  # a pixel value no digit has (they are in [0, 1]): marks the test images


def _spy_on_the_test_split(monkeypatch):
    """Mark the test images that train_digits_cnn gets, and log every forward pass and evaluation in order."""
    real = digits_cnn.split_digits
    seen = {}

    def marked(*args, **kwargs):
        d = real(*args, **kwargs)
        X_test = d.X_test.copy()
        X_test[:, 0, 0, 0] = MARK
        d = d._replace(X_test=X_test)
        seen.update(d._asdict())
        return d

    log = []
    forward, evaluate = Sequential.forward, Sequential.evaluate

    def spy_forward(self, x):
        log.append(("forward", "test" if np.any(x[:, 0, 0, 0] == MARK) else "not test"))
        return forward(self, x)

    def spy_evaluate(self, x, y, *args, **kwargs):
        which = [name for name in ("X_train", "X_val", "X_test") if np.shares_memory(x, seen[name])]
        log.append(("evaluate", which[0][2:] if which else "other"))
        return evaluate(self, x, y, *args, **kwargs)

    monkeypatch.setattr(digits_cnn, "split_digits", marked)
    monkeypatch.setattr(Sequential, "forward", spy_forward)
    monkeypatch.setattr(Sequential, "evaluate", spy_evaluate)
    return seen, log


def test_digits_cnn_touches_the_test_split_only_after_training(monkeypatch):
    seen, log = _spy_on_the_test_split(monkeypatch)
    epochs_ended = []
    run = train_digits_cnn(seed=0, on_epoch_end=lambda h: epochs_ended.append(len(log)))
    n_epochs = len(run.history["epoch"])
    assert len(epochs_ended) == n_epochs >= 2
    training, after = log[: epochs_ended[-1]], log[epochs_ended[-1] :]
    # while training: forward passes on training and validation images only; one evaluation per epoch, on val
    assert ("forward", "test") not in training
    assert [e for e in training if e[0] == "evaluate"] == [("evaluate", "val")] * n_epochs
    # afterwards: exactly one evaluation, on the test split, whose accuracy is the one reported
    assert [e for e in after if e[0] == "evaluate"] == [("evaluate", "test")]
    assert ("forward", "test") in after
    scores = run.model.predict(seen["X_test"])
    assert run.test_acc == pytest.approx(np.mean(scores.argmax(1) == seen["y_test"]))


def test_digits_cnn_stops_on_the_validation_accuracy():
    data = split_digits(seed=0)
    run = train_digits_cnn(seed=0, target=0.97)
    val_acc = run.history["val_acc"]
    assert val_acc[-1] >= 0.97 and all(v < 0.97 for v in val_acc[:-1])  # the first epoch that reached it
    # the history's val_acc is the accuracy on the validation split (the model is the last epoch's)
    assert val_acc[-1] == pytest.approx(run.model.evaluate(data.X_val, data.y_val)[1])
    assert run.test_acc == pytest.approx(run.model.evaluate(data.X_test, data.y_test)[1])
    # unreachable target: all epochs; target 0: one epoch
    assert len(train_digits_cnn(seed=0, target=1.01, epochs=3).history["epoch"]) == 3
    assert len(train_digits_cnn(seed=0, target=0.0).history["epoch"]) == 1


def test_sequential_errors():
    with pytest.raises(TypeError, match="layer 1 .* has no forward/backward"):
        Sequential(ReLU(), 3)
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        Sequential(Flatten()).fit(np.zeros((4, 2)), np.zeros(3, dtype=int))
