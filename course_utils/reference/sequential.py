"""A minimal NumPy neural-network library: layers with forward/backward, ``Sequential``, SGD + momentum.

Each layer object keeps what its backward pass needs from the last forward pass:

* ``forward(x) -> out``; ``backward(dout) -> dx`` (and fills ``grads`` with the parameter gradients);
* ``params`` and ``grads``: dicts of arrays with the same keys (empty for layers without parameters).

``Sequential(layer, ...)`` chains them; ``fit`` trains with mini-batch SGD with momentum on the mean
softmax cross-entropy and returns the course's history (:mod:`course_utils.history`: ``epoch``,
``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``), calling ``on_epoch_end(history)`` after every epoch.

The update is PyTorch's ``torch.optim.SGD(momentum=mu, weight_decay=wd)``:
``g = grad + wd * p;  v = mu * v + g;  p -= lr * v``.
"""

from __future__ import annotations

import numpy as np

from ..history import append_epoch, new_history
from .conv import conv2d_backward_cached, conv2d_forward_cached
from .layers import linear_backward, linear_forward, relu_backward, relu_forward, softmax_cross_entropy
from .pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward


class Layer:
    """Base class: a layer without parameters."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Conv2d(Layer):
    """Conv layer, (N, C, H, W) -> (N, F, H_out, W_out); He-normal weights (std sqrt(2 / (C*KH*KW))), zero bias.

    H_out = conv_output_size(H, KH, stride, padding). ``forward`` keeps the cache that
    :func:`~course_utils.reference.conv.conv2d_forward_cached` returns (the input's im2col matrix, the filters,
    the shapes) in ``self.cache``; ``backward`` hands it to ``conv2d_backward_cached``, as CS231n's layers do.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None, dtype=np.float32):
        super().__init__()
        rng = np.random.default_rng(rng)
        k = kernel_size
        fan_in = in_channels * k * k
        w = rng.standard_normal((out_channels, in_channels, k, k)) * np.sqrt(2.0 / fan_in)
        self.params = {"w": w.astype(dtype), "b": np.zeros(out_channels, dtype=dtype)}
        self.stride, self.padding = stride, padding

    def forward(self, x):
        out, self.cache = conv2d_forward_cached(
            x, self.params["w"], self.params["b"], stride=self.stride, padding=self.padding
        )
        return out

    def backward(self, dout, need_dx=True):
        dx, dw, db = conv2d_backward_cached(dout, self.cache, need_dx=need_dx)
        self.grads = {"w": dw, "b": db}
        return dx

    def __repr__(self):
        F, C, KH, KW = self.params["w"].shape
        return f"Conv2d({C}, {F}, kernel_size={KH}, stride={self.stride}, padding={self.padding})"


class ReLU(Layer):
    def forward(self, x):
        self.x = x
        return relu_forward(x)

    def backward(self, dout):
        return relu_backward(dout, self.x)


class MaxPool2d(Layer):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        self.x = x
        return maxpool2d_forward(x, self.kernel_size, self.stride, self.padding)

    def backward(self, dout):
        return maxpool2d_backward(dout, self.x, self.kernel_size, self.stride, self.padding)

    def __repr__(self):
        return f"{type(self).__name__}({self.kernel_size}, stride={self.stride}, padding={self.padding})"


class AvgPool2d(MaxPool2d):
    def forward(self, x):
        self.x = x
        return avgpool2d_forward(x, self.kernel_size, self.stride, self.padding)

    def backward(self, dout):
        return avgpool2d_backward(dout, self.x, self.kernel_size, self.stride, self.padding)


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W)."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class Linear(Layer):
    """Fully connected, (N, in) -> (N, out); He-normal weights (out, in), zero bias."""

    def __init__(self, in_features, out_features, rng=None, dtype=np.float32):
        super().__init__()
        rng = np.random.default_rng(rng)
        w = rng.standard_normal((out_features, in_features)) * np.sqrt(2.0 / in_features)
        self.params = {"w": w.astype(dtype), "b": np.zeros(out_features, dtype=dtype)}

    def forward(self, x):
        self.x = x
        return linear_forward(x, self.params["w"], self.params["b"])

    def backward(self, dout):
        dx, dw, db = linear_backward(dout, self.x, self.params["w"])
        self.grads = {"w": dw, "b": db}
        return dx

    def __repr__(self):
        out, inp = self.params["w"].shape
        return f"Linear({inp}, {out})"


class SGD:
    """SGD with momentum and weight decay, exactly as ``torch.optim.SGD`` (dampening 0, no Nesterov)."""

    def __init__(self, layers, lr=0.1, momentum=0.9, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"SGD: lr must be > 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        self.layers, self.lr, self.momentum, self.weight_decay = layers, lr, momentum, weight_decay
        self.velocity = [{k: np.zeros_like(p) for k, p in layer.params.items()} for layer in layers]

    def step(self):
        for layer, vel in zip(self.layers, self.velocity):
            for k, p in layer.params.items():
                g = layer.grads[k]
                if self.weight_decay:
                    g = g + self.weight_decay * p
                v = vel[k]
                v *= self.momentum
                v += g
                p -= self.lr * v


class Sequential:
    """Layers applied in order. ``forward(x)`` -> scores; ``backward(dscores)`` -> dx; ``fit`` trains."""

    def __init__(self, *layers):
        for i, layer in enumerate(layers):
            if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
                raise TypeError(f"Sequential: layer {i} ({layer!r}) has no forward/backward methods")
        self.layers = list(layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout, need_dx=True):
        """Backpropagate dscores through all layers; returns dx (None when ``need_dx=False``: the first
        conv layer then skips the gradient w.r.t. the images, which training never uses)."""
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if i == 0 and not need_dx and isinstance(layer, Conv2d):
                return layer.backward(dout, need_dx=False)
            dout = layer.backward(dout)
        return dout

    def num_params(self) -> int:
        return sum(p.size for layer in self.layers for p in layer.params.values())

    def loss(self, x, y):
        """Forward + backward on one batch: returns (mean loss, accuracy); gradients are left in the layers."""
        scores = self.forward(x)
        loss, dscores = softmax_cross_entropy(scores, y)
        self.backward(dscores.astype(scores.dtype, copy=False), need_dx=False)
        return loss, float(np.mean(scores.argmax(axis=1) == y))

    def predict(self, x, batch_size=512):
        """Class scores (N, K) computed in batches."""
        return np.concatenate([self.forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    def evaluate(self, x, y, batch_size=512):
        """(mean loss, accuracy) without touching the gradients."""
        scores = self.predict(x, batch_size)
        loss, _ = softmax_cross_entropy(scores, y)
        return loss, float(np.mean(scores.argmax(axis=1) == y))

    def fit(
        self,
        X,
        y,
        X_val=None,
        y_val=None,
        epochs=10,
        batch_size=32,
        lr=0.05,
        momentum=0.9,
        weight_decay=0.0,
        seed=0,
        on_epoch_end=None,
        stop_at_val_acc=None,
    ):
        """Mini-batch SGD with momentum.

        X: (N, C, H, W) (or (N, D)), y: (N,) int labels; X_val/y_val optional (val entries are NaN without
        them). The batch order is reshuffled every epoch (seeded). After every epoch the history dict
        (keys ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``; lists of floats) is
        passed to ``on_epoch_end``. ``stop_at_val_acc``: stop as soon as the validation accuracy reaches it.
        Returns the history. Training loss/accuracy are the means over the epoch's batches.
        """
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"Sequential.fit: X has {len(X)} samples but y has {len(y)}")
        opt = SGD(self.layers, lr=lr, momentum=momentum, weight_decay=weight_decay)
        rng = np.random.default_rng(seed)
        history = new_history()
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(X))
            losses, accs, sizes = [], [], []
            for i in range(0, len(X), batch_size):
                idx = order[i : i + batch_size]
                loss, acc = self.loss(X[idx], y[idx])
                opt.step()
                losses.append(loss)
                accs.append(acc)
                sizes.append(len(idx))
            val_loss, val_acc = self.evaluate(X_val, y_val) if X_val is not None else (float("nan"),) * 2
            append_epoch(
                history,
                epoch=float(epoch),
                train_loss=float(np.average(losses, weights=sizes)),
                train_acc=float(np.average(accs, weights=sizes)),
                val_loss=float(val_loss),
                val_acc=float(val_acc),
            )
            if on_epoch_end is not None:
                on_epoch_end(history)
            if stop_at_val_acc is not None and val_acc >= stop_at_val_acc:
                break
        return history
