"""What CNNs learn (lecture slides 46-49; notebook 08): a gradient saliency map.

saliency_map(model, image, label): image (1, H, W) NumPy, label an int -> (H, W) NumPy array,
|d score_label / d pixel| (the score is the logit, before the softmax).
"""

from __future__ import annotations

import numpy as np

from .core import Exercise, register

#: pixels where the map is compared with finite differences (then the map's own largest value)
SALIENCY_PIXELS = [(5, 5), (14, 14), (20, 9), (9, 20)]


def saliency_net(seed: int):
    """Notebook 08's small CNN in float64, seeded, in eval mode: x (N, 1, 28, 28) -> scores (N, 6)."""
    import torch
    from torch import nn

    from course_utils.data.shapes import SHAPE_CLASSES

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 24, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(24 * 7 * 7, len(SHAPE_CLASSES)),
    ).double().eval()


def _saliency_cases(seed: int) -> list[dict]:
    """2 cases: a seeded network and a 28x28 shape among clutter (its class the label)."""
    rng = np.random.default_rng(seed)
    return [dict(seed=int(rng.integers(1 << 30))) for _ in range(2)]


def _image(case):
    """A shape image (1, 28, 28) float64 plus a little noise, and its label. The noise keeps every pixel away
    from the kinks of ReLU and max-pool (exact zeros, ties), where the two-sided finite difference would
    average two different one-sided slopes."""
    from course_utils.data.shapes import make_shapes

    X, y = make_shapes(1, size=28, translate=True, clutter=1.0, seed=case["seed"] % (1 << 16))
    noise = np.random.default_rng(case["seed"]).uniform(0.0, 0.05, size=X[0].shape)
    return X[0].astype(np.float64) + noise, int(y[0])


def _saliency_call(fn, case):
    image, label = _image(case)
    return np.asarray(fn(saliency_net(case["seed"]), image.copy(), label), dtype=np.float64)


def _saliency_judge(case, got):
    """The map has the image's (H, W) and, at SALIENCY_PIXELS and its own maximum, equals |central difference|."""
    import torch

    (sal,) = got
    image, label = _image(case)
    if sal.shape != image.shape[1:]:
        return f"the map has shape {sal.shape}, expected {image.shape[1:]} (one value per pixel)", "shape"
    model, h = saliency_net(case["seed"]), 1e-7
    for i, j in [*SALIENCY_PIXELS, np.unravel_index(np.argmax(sal), sal.shape)]:
        plus, minus = image.copy(), image.copy()
        plus[0, i, j] += h
        minus[0, i, j] -= h
        with torch.no_grad():
            s = model(torch.from_numpy(np.stack([plus, minus])))[:, label]
        numeric = abs((s[0] - s[1]).item() / (2 * h))
        if not np.isclose(sal[i, j], numeric, rtol=1e-3, atol=1e-6):
            return f"saliency at pixel ({int(i)}, {int(j)}) is {sal[i, j]:.6g}, finite differences give {numeric:.6g}"
    return None


register(Exercise(
    "saliency_map", _saliency_cases, call=_saliency_call, judge=_saliency_judge,
    examples=lambda: [dict(seed=0)],
    hints={"shape": "one value per pixel: drop the batch and channel dimensions of the gradient",
           "values": "gradient of the SCORE (logit) of `label`, not of the loss or the probability; take abs()"},
    describe=lambda c: f"a 28x28 shape image, network seed {c['seed']}", numpy_only=False, checked_cases=2,
))
