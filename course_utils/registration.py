"""When will this work? (lecture slides 9-16): a locally connected net vs a conv net, registered vs translated.

A locally connected layer gives every output position its own filter: good when the input is
registered (the object is always in the same place, like aligned faces), wasteful when the object
can be anywhere, because what it learns at one position does not transfer to the others.
A convolutional layer shares one filter across all positions (stationarity, slides 14-16).

The experiment trains both nets, identical but for weight sharing (same layers, same connections,
same multiply-adds), on synthetic shapes that are either centred or randomly translated, and
reports test accuracy:

>>> table = registration_experiment(seed=0)             # a few seconds on one CPU core
>>> print(table)                                         # doctest: +ELLIPSIS
model                 parameters       registered       translated  reg. -> transl.
-----------------------------------------------------------------------------------
locally connected        146,854            0.9...
convolutional              1,478            0.9...
(test accuracy; chance = 0.167)
>>> acc = table.accuracy                                 # {model: {column: test accuracy}}
>>> acc["convolutional"]["translated"] > acc["locally connected"]["translated"] + 0.2
True
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from course_utils._validate import int_param, one_of, pair
from course_utils.counting import count_params
from course_utils.data.shapes import SHAPE_CLASSES, make_shapes
from course_utils.reference.conv import conv_output_size

__all__ = ["CONDITIONS", "MODEL_NAMES", "AccuracyTable", "LocallyConnected2d", "accuracy", "count_params",
           "evaluate", "make_net", "registration_experiment", "train"]


class LocallyConnected2d(nn.Module):
    """Like ``nn.Conv2d``, but with a separate filter at every output position (no weight sharing).

    in_channels C, out_channels F, input_size (H, W) (needed: the number of filters depends on it),
    kernel_size K, stride, padding as in ``nn.Conv2d``.
    weight: (H_out, W_out, F, C, KH, KW) (the layout of ``course_utils.reference.locally_connected_forward``);
    bias: (F, H_out, W_out) or None. (H_out, W_out): ``course_utils.reference.conv_output_size`` along each axis.
    forward: x (N, C, H, W) -> (N, F, H_out, W_out),
        out[n, f, i, j] = bias[f, i, j] + sum_{c,p,q} weight[i, j, f, c, p, q] * x_pad[n, c, i*s + p, j*s + q]
    """

    def __init__(self, in_channels, out_channels, input_size, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        f = "LocallyConnected2d"
        self.in_channels = int_param(f, "in_channels", in_channels, 1)
        self.out_channels = out_channels = int_param(f, "out_channels", out_channels, 1)
        self.input_size, self.kernel_size = pair(f, "input_size", input_size, 1), pair(f, "kernel_size", kernel_size, 1)
        self.stride, self.padding = pair(f, "stride", stride, 1), pair(f, "padding", padding, 0)
        (H, W), (KH, KW), (ph, pw) = self.input_size, self.kernel_size, self.padding
        if KH > H + 2 * ph or KW > W + 2 * pw:
            raise ValueError(
                f"{f}: kernel_size must fit the padded input (input_size {self.input_size} with padding "
                f"{self.padding}), got {self.kernel_size}"
            )
        self.output_size = tuple(conv_output_size(n, k, s, p) for n, k, s, p in
                                 zip(self.input_size, self.kernel_size, self.stride, self.padding))
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


def make_net(kind: str, size: int = 28, num_classes: int = len(SHAPE_CLASSES), channels=(8, 16)):
    """The experiment's two nets, identical except for weight sharing.

    kind: "conv" (nn.Conv2d layers) or "local" (LocallyConnected2d layers).
    Layers: 5x5 stride 2 -> ReLU -> 3x3 -> ReLU -> global max-pool -> linear classifier.
    Input (N, 1, size, size) -> logits (N, num_classes). Both kinds have the same connections and the
    same multiply-adds; "local" has a separate set of filters at every position, so many more parameters.
    """
    one_of("make_net", "kind", kind, ("conv", "local"))
    size = int_param("make_net", "size", size, 9)  # the second layer's 3x3 needs a first output of 3x3 or more
    c1, c2 = channels
    s1 = conv_output_size(size, 5, stride=2)  # side of the first layer's output
    if kind == "conv":
        first, second = nn.Conv2d(1, c1, 5, stride=2), nn.Conv2d(c1, c2, 3)
    else:
        first, second = LocallyConnected2d(1, c1, size, 5, stride=2), LocallyConnected2d(c1, c2, s1, 3)
    return nn.Sequential(
        first, nn.ReLU(), second, nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c2, num_classes)
    )


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) of the model on X (N, 1, H, W) with labels y (N,).

    ``course_utils.torch_track.evaluate`` over the tensors (eval mode, gradients off, on the model's device).
    """
    from course_utils.torch_track.data import tensor_loader
    from course_utils.torch_track.train import evaluate as evaluate_loader

    return evaluate_loader(model, tensor_loader(X, y, batch_size), device=_device_of(model))


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of X (N, 1, H, W) whose highest logit is the label y (N,)."""
    return evaluate(model, X, y)[1]


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def train(model, X, y, X_val, y_val, epochs=10, batch_size=64, lr=2e-3, seed=0, on_epoch_end=None):
    """Train with Adam and cross-entropy on (X (N, 1, H, W), y (N,)); return the course's history dict.

    The course's one training loop, ``course_utils.torch_track.fit``, over the tensors (shuffled batches of
    ``batch_size``, a new order every epoch from ``seed + epoch``; validation on (X_val, y_val) after every
    epoch), on the model's device, silently. history: {"epoch", "train_loss", "train_acc", "val_loss",
    "val_acc"}, one float per epoch (``course_utils.history``); ``on_epoch_end(history)`` is called after every
    epoch. The model is left in eval mode.
    """
    from course_utils.torch_track.data import tensor_loader
    from course_utils.torch_track.train import fit

    int_param("train", "epochs", epochs, 1)
    int_param("train", "batch_size", batch_size, 1)
    int_param("train", "seed", seed, 0)
    return fit(model, tensor_loader(X, y, batch_size, shuffle=True), tensor_loader(X_val, y_val, 500),
               epochs=epochs, lr=lr, device=_device_of(model), seed=seed, on_epoch_end=on_epoch_end,
               progress=False, verbose=False)


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
        head = f"{'model':<20}{'parameters':>12}" + "".join(f"{c:>17}" for c in self.conditions)
        lines = [head, "-" * len(head)]
        for model, row in self.accuracy.items():
            accs = "".join(f"{row[c]:>17.3f}" for c in self.conditions)
            lines.append(f"{model:<20}{self.params[model]:>12,}{accs}")
        chance = 1 / self.settings.get("num_classes", len(SHAPE_CLASSES))
        lines.append(f"(test accuracy; chance = {chance:.3f})")
        return "\n".join(lines)

    __repr__ = __str__


MODEL_NAMES = {"local": "locally connected", "conv": "convolutional"}
CONDITIONS = ("registered", "translated", "reg. -> transl.")


@contextmanager
def _torch_threads(n):
    """Temporarily use n CPU threads: layers this small run faster on one thread than on several."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def registration_experiment(
    n_train=1000,
    n_test=500,
    size=28,
    epochs=6,
    batch_size=64,
    lr=3e-3,
    clutter=0.0,
    seed=0,
    kinds=("local", "conv"),
    threads=1,
    verbose=False,
):
    """Train each net kind on registered and on translated shapes and measure test accuracy.

    Columns of the returned ``AccuracyTable``:
      "registered":       trained and tested on centred shapes;
      "translated":       trained and tested on randomly translated shapes;
      "reg. -> transl.":  the net trained on centred shapes, tested on translated ones.
    Train sets use ``make_shapes(..., seed=seed)``, test sets ``seed + 1`` (different images).
    The test set doubles as the validation set of the histories (no model selection: fixed epochs).
    """
    table = AccuracyTable(
        conditions=CONDITIONS,
        settings=dict(
            n_train=n_train,
            n_test=n_test,
            size=size,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            clutter=clutter,
            seed=seed,
            num_classes=len(SHAPE_CLASSES),
        ),
    )

    def shapes(n, translate, data_seed):
        return tuple(torch.from_numpy(a) for a in make_shapes(n, size, translate, clutter, seed=data_seed))

    test_sets = {translate: shapes(n_test, translate, seed + 1) for translate in (False, True)}
    with _torch_threads(threads):
        for condition, translate in (("registered", False), ("translated", True)):
            Xtr, ytr = shapes(n_train, translate, seed)
            Xte, yte = test_sets[translate]
            for kind in kinds:
                name = MODEL_NAMES[kind]
                torch.manual_seed(seed)
                model = make_net(kind, size)
                start = time.perf_counter()
                history = train(model, Xtr, ytr, Xte, yte, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
                row = table.accuracy.setdefault(name, {})
                row[condition] = history["val_acc"][-1]  # the test set is the validation set
                if not translate:
                    row["reg. -> transl."] = accuracy(model, *test_sets[True])
                table.params[name] = count_params(model)
                table.seconds.setdefault(name, {})[condition] = time.perf_counter() - start
                table.histories.setdefault(name, {})[condition] = history
                if verbose:
                    print(
                        f"{name} on {condition} shapes: test accuracy {row[condition]:.3f} "
                        f"({table.seconds[name][condition]:.1f} s)"
                    )
    return table
