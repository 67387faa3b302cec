""""When will this work?" (lecture slides 9-16): a locally connected net vs a conv net, registered vs translated.

A locally connected layer gives every output position its own filter: good when the input is
registered (the object is always in the same place, like aligned faces), wasteful when the object
can be anywhere, because what it learns at one position does not transfer to the others.
A convolutional layer shares one filter across all positions (stationarity, slides 14-16).

The experiment trains both nets, identical but for weight sharing (same layers, same connections,
same multiply-adds), on synthetic shapes that are either centred or randomly translated, and
reports test accuracy:

>>> table = registration_experiment(seed=0)
>>> print(table)          # rows: model; columns: parameters, registered, translated
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.data.shapes import SHAPE_CLASSES, make_shapes


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


class LocallyConnected2d(nn.Module):
    """Like ``nn.Conv2d``, but with a separate filter at every output position (no weight sharing).

    in_channels C, out_channels F, input_size (H, W) (needed: the number of filters depends on it),
    kernel_size K, stride, padding as in ``nn.Conv2d``.
    weight: (H_out, W_out, F, C, KH, KW) (the layout of ``course_utils.reference.locally_connected_forward``);
    bias: (F, H_out, W_out) or None. H_out = (H + 2*padding - KH) // stride + 1 (likewise W_out).
    forward: x (N, C, H, W) -> (N, F, H_out, W_out),
        out[n, f, i, j] = bias[f, i, j] + sum_{c,p,q} weight[i, j, f, c, p, q] * x_pad[n, c, i*s + p, j*s + q]
    """

    def __init__(self, in_channels, out_channels, input_size, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.input_size, self.kernel_size = _pair(input_size), _pair(kernel_size)
        self.stride, self.padding = _pair(stride), _pair(padding)
        (H, W), (KH, KW), (sh, sw), (ph, pw) = self.input_size, self.kernel_size, self.stride, self.padding
        self.output_size = ((H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1)
        if min(self.output_size) < 1:
            raise ValueError(
                f"LocallyConnected2d: kernel_size {self.kernel_size} does not fit input_size {self.input_size} "
                f"with padding {self.padding}"
            )
        Ho, Wo = self.output_size
        self.weight = nn.Parameter(torch.empty(Ho, Wo, out_channels, in_channels, KH, KW))
        self.bias = nn.Parameter(torch.empty(out_channels, Ho, Wo)) if bias else None
        bound = 1 / math.sqrt(in_channels * KH * KW)  # the same scale as nn.Conv2d's default init
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != self.input_size:
            raise ValueError(
                f"LocallyConnected2d: x must be (N, {self.in_channels}, {self.input_size[0]}, "
                f"{self.input_size[1]}), got {tuple(x.shape)}"
            )
        Ho, Wo = self.output_size
        # Every K x K patch as a column: (N, C*KH*KW, Ho*Wo); column l is output position (l // Wo, l % Wo).
        cols = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        w = self.weight.reshape(Ho * Wo, self.out_channels, -1)  # (L, F, C*KH*KW): one filter bank per position
        out = torch.einsum("nkl,lfk->nfl", cols, w).reshape(x.shape[0], self.out_channels, Ho, Wo)
        return out if self.bias is None else out + self.bias

    def extra_repr(self):
        return (
            f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        )


def make_net(kind: str, size: int = 28, num_classes: int = len(SHAPE_CLASSES), channels=(8, 16), kernel=5):
    """The experiment's two nets, identical except for weight sharing.

    kind: "conv" (nn.Conv2d) or "local" (LocallyConnected2d).
    Layers: [K x K layer -> ReLU -> 2x2 max-pool] twice, then a linear classifier.
    Input (N, 1, size, size) -> logits (N, num_classes).
    """
    if kind not in ("conv", "local"):
        raise ValueError(f"make_net: kind must be 'conv' or 'local', got {kind!r}")
    layers, c_in, s = [], 1, size
    for c_out in channels:
        if kind == "conv":
            layers.append(nn.Conv2d(c_in, c_out, kernel))
        else:
            layers.append(LocallyConnected2d(c_in, c_out, s, kernel))
        s = (s - kernel + 1) // 2
        if s < 1:
            raise ValueError(f"make_net: size {size} is too small for {len(channels)} layers of kernel {kernel}")
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        c_in = c_out
    layers += [nn.Flatten(), nn.Linear(c_in * s * s, num_classes)]
    return nn.Sequential(*layers)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (weights and biases)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of X (N, 1, H, W) whose highest logit is the label y (N,)."""
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(X[i : i + batch_size]).argmax(1) for i in range(0, len(X), batch_size)])
    return float((pred == y).float().mean())


def train(model, X, y, X_val, y_val, epochs=10, batch_size=64, lr=2e-3, seed=0, on_epoch_end=None):
    """Train with Adam and cross-entropy on (X (N, 1, H, W), y (N,)); return the course's history dict.

    history: {"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}, one float per epoch;
    ``on_epoch_end(history)`` is called after every epoch.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"epoch": [], "train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    for epoch in range(1, epochs + 1):
        model.train()
        total_loss, correct = 0.0, 0
        for idx in torch.randperm(len(X), generator=gen).split(batch_size):
            logits = model(X[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y[idx]).sum())
        model.eval()
        with torch.no_grad():
            val_loss = float(F.cross_entropy(model(X_val), y_val))
        history["epoch"].append(float(epoch))
        history["train_loss"].append(total_loss / len(X))
        history["train_acc"].append(correct / len(X))
        history["val_loss"].append(val_loss)
        history["val_acc"].append(accuracy(model, X_val, y_val))
        if on_epoch_end is not None:
            on_epoch_end(history)
    return history


@dataclass
class AccuracyTable:
    """Test accuracy per model (rows) and data set (columns), with parameter counts and train seconds."""

    conditions: tuple[str, ...]
    params: dict[str, int] = field(default_factory=dict)
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    histories: dict[str, dict[str, dict]] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def __str__(self):
        head = f"{'model':<20}{'parameters':>12}" + "".join(f"{c:>12}" for c in self.conditions)
        lines = [head, "-" * len(head)]
        for model, row in self.accuracy.items():
            accs = "".join(f"{row[c]:>12.3f}" for c in self.conditions)
            lines.append(f"{model:<20}{self.params[model]:>12,}{accs}")
        chance = 1 / self.settings.get("num_classes", len(SHAPE_CLASSES))
        lines.append(f"(test accuracy; chance = {chance:.3f})")
        return "\n".join(lines)

    __repr__ = __str__


MODEL_NAMES = {"local": "locally connected", "conv": "convolutional"}


def registration_experiment(
    n_train=3000,
    n_test=1000,
    size=28,
    epochs=10,
    batch_size=64,
    lr=2e-3,
    clutter=0.0,
    seed=0,
    kinds=("local", "conv"),
    verbose=False,
):
    """Train each net kind on registered and on translated shapes; test on fresh shapes of the same kind.

    Train and test sets come from ``make_shapes`` with different seeds (``seed`` and ``seed + 1``).
    Returns an ``AccuracyTable``: rows "locally connected" / "convolutional", columns "registered" /
    "translated", plus parameter counts, train seconds and each run's history.
    """
    conditions = ("registered", "translated")
    table = AccuracyTable(conditions=conditions, settings=dict(
        n_train=n_train, n_test=n_test, size=size, epochs=epochs, batch_size=batch_size, lr=lr,
        clutter=clutter, seed=seed, num_classes=len(SHAPE_CLASSES),
    ))
    for condition in conditions:
        translate = condition == "translated"
        Xtr, ytr = (torch.from_numpy(a) for a in make_shapes(n_train, size, translate, clutter, seed=seed))
        Xte, yte = (torch.from_numpy(a) for a in make_shapes(n_test, size, translate, clutter, seed=seed + 1))
        for kind in kinds:
            name = MODEL_NAMES[kind]
            torch.manual_seed(seed)
            model = make_net(kind, size)
            start = time.perf_counter()
            history = train(model, Xtr, ytr, Xte, yte, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
            table.params[name] = count_params(model)
            table.accuracy.setdefault(name, {})[condition] = accuracy(model, Xte, yte)
            table.seconds.setdefault(name, {})[condition] = time.perf_counter() - start
            table.histories.setdefault(name, {})[condition] = history
            if verbose:
                print(f"{name:>18} on {condition:<10}: test accuracy {table.accuracy[name][condition]:.3f} "
                      f"({table.seconds[name][condition]:.1f} s)")
    return table
