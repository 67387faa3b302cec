"""Adversarial examples: the fast gradient sign method (FGSM; Goodfellow, Shlens and Szegedy, "Explaining and
Harnessing Adversarial Examples", ICLR 2015).

One gradient, one step: the gradient of the cross-entropy loss with respect to the *pixels* says which way each
pixel should move to make the loss larger; FGSM moves every pixel by the same small amount ``eps`` in that
direction (the sign of the gradient), then clips the image back to the valid range [0, 1].

- untargeted: ``x_adv = clamp(x + eps * sign(grad_x L(f(x), y)), 0, 1)`` with y the true labels
  (the network becomes *wrong*);
- targeted:   ``x_adv = clamp(x - eps * sign(grad_x L(f(x), t)), 0, 1)`` with t the wanted labels
  (the network answers *your* class: step against the gradient of the target's loss).

The course's one FGSM: notebook 09, the ``AdversarialExplorer`` widget and Assignment 3's grading are to call it.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, targeted: bool = False) -> torch.Tensor:
    """Fast gradient sign method: one step of size ``eps`` per pixel, up (untargeted) or down (targeted) the loss.

    model: a classifier mapping x to logits (N, K); it is left in its current mode (call ``model.eval()``
    first for dropout / batch-norm nets), and its parameters' ``.grad`` are not touched.
    x: (N, C, H, W) images in [0, 1] (any floating dtype; gradients are taken on a copy).
    y: (N,) int64 labels: the true labels (untargeted) or the wanted ones (``targeted=True``).
    eps: the largest change of any pixel, >= 0 (pixel range [0, 1]).
    Returns x_adv (N, C, H, W), same dtype and device as x, in [0, 1], detached:
    ``clamp(x + eps * sign(d CE(model(x), y) / dx), 0, 1)``, with ``-eps`` when ``targeted``
    (CE: mean cross-entropy over the batch; the sign is the same for the sum).
    Raises ValueError for eps < 0, x not 4-D, or y not (N,); TypeError for a non-number eps.

    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    >>> x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    >>> x_adv = fgsm(model, x, y, eps=0.1)
    >>> x_adv.shape, bool((x_adv - x).abs().max() <= 0.1 + 1e-6), bool(x_adv.min() >= 0), x_adv.requires_grad
    (torch.Size([4, 1, 8, 8]), True, True, False)
    >>> loss = nn.functional.cross_entropy
    >>> bool(loss(model(x_adv), y) > loss(model(x), y))          # the attack raises the loss
    True
    >>> bool(loss(model(fgsm(model, x, y, 0.1, targeted=True)), y) < loss(model(x), y))  # toward y
    True
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"fgsm: eps must be a number, got {type(eps).__name__} {eps!r}")
    if not eps >= 0:
        raise ValueError(f"fgsm: eps must be >= 0, got {eps!r}")
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"fgsm: x and y must be torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.dim() != 4:
        raise ValueError(f"fgsm: x must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    if y.dim() != 1 or len(y) != len(x):
        raise ValueError(f"fgsm: y must have shape ({len(x)},) (one label per image of x), got {tuple(y.shape)}")
    direction = loss_gradient_sign(model, x, y)
    return perturb(x, -direction if targeted else direction, eps)


def loss_gradient_sign(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``sign(d CE(model(x), y) / dx)``: FGSM's direction, (N, C, H, W) of -1, 0 and +1, detached.

    The pixel-wise direction that raises the mean cross-entropy of labels y (N,) fastest to first order; the
    model's mode and its parameters' ``.grad`` are left as they are. :func:`fgsm` steps along it; a view that
    shows many step sizes computes it once and calls :func:`perturb` for each.
    """
    x_req = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x_req), y)
        (grad,) = torch.autograd.grad(loss, x_req)  # only d loss / d x: the parameters' .grad stay as they are
    return grad.sign().detach()


def perturb(x: torch.Tensor, direction: torch.Tensor, eps: float) -> torch.Tensor:
    """``clamp(x + eps * direction, 0, 1)``, detached: images x (N, C, H, W) (or one (C, H, W)) in [0, 1]
    moved by ``eps`` along ``direction`` (same shape), back in the valid pixel range."""
    return (x.detach() + float(eps) * direction).clamp(0, 1).detach()
