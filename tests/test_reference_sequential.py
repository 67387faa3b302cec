"""The NumPy Sequential CNN: gradients and SGD+momentum steps equal torch's; digits to >= 97 %."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from course_utils.reference import (
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
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
    model, history, seconds = train_digits_cnn(on_epoch_end=lambda h: calls.append(len(h["epoch"])))
    assert history["val_acc"][-1] >= 0.97
    assert calls == list(range(1, len(history["epoch"]) + 1))
    assert set(history) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}
    assert len({len(v) for v in history.values()}) == 1
    assert all(isinstance(v, float) for vals in history.values() for v in vals)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert "Conv2d(1, 16, kernel_size=3" in repr(model)


def test_digits_cnn_other_seed():
    _, history, _ = train_digits_cnn(seed=1)
    assert history["val_acc"][-1] >= 0.97 and len(history["epoch"]) < 15


def test_sequential_errors():
    with pytest.raises(TypeError, match="layer 1 .* has no forward/backward"):
        Sequential(ReLU(), 3)
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        Sequential(Flatten()).fit(np.zeros((4, 2)), np.zeros(3, dtype=int))
