"""Receptive fields of a stack of conv / pool layers (lecture: "a unit in a deep layer sees a large patch").

Analytic rule, layer by layer, for a layer with kernel k, stride s, padding p (dilation d):

* ``size_out  = size_in + (k - 1) * d * jump_in``    (pixels of the input one unit sees)
* ``jump_out  = jump_in * s``                         (input distance between neighbouring units)
* ``start_out = start_in + ((k - 1) * d / 2 - p) * jump_in``  (centre of the first unit's field, in input
  pixel coordinates: pixel 0 has centre 0.0; negative values mean the field hangs over the padding)

Starting from the input itself (size 1, jump 1, start 0). Example: conv 5x5 then max-pool 2x2 gives
size 5 + 2 - 1 = 6 (P + K - 1).

:func:`empirical_receptive_field` checks the rule with torch autograd: the input pixels whose gradient with
respect to one output unit is nonzero, aggregated over several random inputs (a max-pool passes the
gradient of a single winner, so one input alone would show too small a field).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .._validate import int_param, pair


class ReceptiveField(NamedTuple):
    """One layer's receptive field: ``size`` (input pixels), ``jump`` (input pixels between neighbouring
    units), ``start`` (input coordinate of the centre of the first unit's field)."""

    size: int
    jump: int
    start: float


def _parse_layer(i: int, layer) -> tuple[int, int, int, int]:
    f = "receptive_field"
    if isinstance(layer, str) or not isinstance(layer, Sequence) or len(layer) not in (3, 4):
        raise ValueError(
            f"{f}: layers[{i}] must be a tuple (kernel_size, stride, padding) or "
            f"(kernel_size, stride, padding, dilation), got {layer!r}"
        )
    k = int_param(f, f"layers[{i}] kernel_size", layer[0], 1)
    s = int_param(f, f"layers[{i}] stride", layer[1], 1)
    p = int_param(f, f"layers[{i}] padding", layer[2], 0)
    d = int_param(f, f"layers[{i}] dilation", layer[3], 1) if len(layer) == 4 else 1
    return k, s, p, d


def receptive_field(layers) -> list[ReceptiveField]:
    """Receptive field after each layer of a stack.

    layers: sequence of ``(kernel_size, stride, padding)`` (optionally a 4th item, dilation), first layer
    first. Returns one :class:`ReceptiveField` (``.size``, ``.jump``, ``.start``) per layer.

    >>> [r.size for r in receptive_field([(3, 1, 1), (3, 1, 1), (2, 2, 0)])]
    [3, 5, 6]
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"receptive_field: layers must be a sequence of (kernel_size, stride, padding), got {layers!r}")
    size, jump, start = 1, 1, 0.0
    records = []
    for i, layer in enumerate(layers):
        k, s, p, d = _parse_layer(i, layer)
        size = size + (k - 1) * d * jump
        start = start + ((k - 1) * d / 2 - p) * jump
        jump = jump * s
        records.append(ReceptiveField(size, jump, start))
    return records


class EmpiricalField(NamedTuple):
    """Measured receptive field: ``size`` (rows, cols) of the bounding box of input pixels with a nonzero
    gradient, ``rows``/``cols`` its first and last index, ``mask`` (H, W) bool of those pixels."""

    size: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    mask: np.ndarray


def _torch_stack(layers):
    import torch.nn as nn

    modules = []
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Module):
            modules.append(layer)
            continue
        kind = "conv"
        if len(layer) and isinstance(layer[0], str):
            kind, layer = layer[0], tuple(layer[1:])
        k, s, p, d = _parse_layer(i, layer)
        if kind == "conv":
            modules.append(nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False))
        elif kind == "maxpool":
            modules.append(nn.MaxPool2d(k, stride=s, padding=p, dilation=d))
        elif kind == "avgpool":
            modules.append(nn.AvgPool2d(k, stride=s, padding=p))
        else:
            raise ValueError(f"empirical_receptive_field: layers[{i}] kind must be one of ('conv', 'maxpool', "
                             f"'avgpool'), got {kind!r}")
    return nn.Sequential(*modules)


def empirical_receptive_field(net, input_size=64, in_channels=1, unit=None, trials=8, seed=0) -> EmpiricalField:
    """Measure a receptive field with torch autograd (the course's one empirical method; the receptive-field
    widget measures its boxes with it).

    net: a ``torch.nn.Module`` taking (1, in_channels, H, W), or a sequence of layers, each
    ``(kernel_size, stride, padding)`` (a 1-channel conv with random weights) or
    ``("conv" | "maxpool" | "avgpool", kernel_size, stride, padding)``.
    input_size: H (= W) or (H, W). unit: (row, col) of the output unit, default the centre one.
    The gradient of that unit (summed over channels) w.r.t. the input is taken for ``trials`` random
    inputs (float64, seeded by ``seed``); the union of their nonzero pixels is the field. A module is measured
    on a float64 copy: the caller's net keeps its dtype, mode and parameter gradients.
    Returns ``EmpiricalField(size, rows, cols, mask)`` with mask (H, W).

    >>> field = empirical_receptive_field([(3, 1, 1), (3, 1, 1), ("maxpool", 2, 2, 0)], input_size=16)
    >>> field.size                                  # 3 + 2 + 1: see receptive_field
    (6, 6)
    """
    import copy

    import torch

    f = "empirical_receptive_field"
    trials = int_param(f, "trials", trials, 1)
    H, W = pair(f, "input_size", input_size, 1)
    in_channels = int_param(f, "in_channels", in_channels, 1)
    if not isinstance(net, torch.nn.Module):
        with torch.random.fork_rng():
            torch.manual_seed(seed)  # the random conv weights
            net = _torch_stack(net)
    else:
        net = copy.deepcopy(net)
    net = net.double()
    gen = torch.Generator().manual_seed(seed)
    mask = np.zeros((H, W), dtype=bool)
    for _ in range(trials):
        x = torch.randn(1, in_channels, H, W, generator=gen, dtype=torch.float64, requires_grad=True)
        out = net(x)
        if unit is None:
            i, j = out.shape[2] // 2, out.shape[3] // 2
        else:
            i, j = pair(f, "unit", unit, 0)
            if i >= out.shape[2] or j >= out.shape[3]:
                raise ValueError(f"{f}: unit must be a (row, col) inside the output map of shape "
                                 f"{tuple(out.shape[2:])}, got {tuple(unit)}")
        (grad,) = torch.autograd.grad(out[0, :, i, j].sum(), x)
        mask |= (grad[0].abs().sum(0) > 0).numpy()
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if len(rows) == 0:
        raise ValueError(f"{f}: the unit's gradient must be nonzero somewhere, got zero everywhere (dead unit?)")
    r, c = (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))
    return EmpiricalField((r[1] - r[0] + 1, c[1] - c[0] + 1), r, c, mask)
