"""course_utils.torch_track.adversarial.fgsm against a hand computation with autograd (untargeted and targeted)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.torch_track import fgsm


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))


def _batch(seed=1, n=16):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def _by_hand(model, x, y, eps, sign):
    xg = x.clone().requires_grad_(True)
    F.cross_entropy(model(xg), y).backward()
    return (x + sign * eps * xg.grad.sign()).clamp(0, 1)


@pytest.mark.parametrize("targeted, sign", [(False, +1), (True, -1)])
@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3])
def test_fgsm_matches_autograd_by_hand(targeted, sign, eps):
    model, (x, y) = _net(), _batch()
    got = fgsm(model, x, y, eps, targeted=targeted)
    expected = _by_hand(_net(), x, y, eps, sign)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert got.shape == x.shape and got.dtype == x.dtype and not got.requires_grad
    assert float(got.min()) >= 0.0 and float(got.max()) <= 1.0
    assert float((got - x).abs().max()) <= eps + 1e-7


def test_fgsm_moves_the_loss_the_right_way():
    model, (x, y) = _net(), _batch(n=64)
    with torch.no_grad():
        clean = F.cross_entropy(model(x), y)
        up = F.cross_entropy(model(fgsm(model, x, y, 0.05)), y)
        down = F.cross_entropy(model(fgsm(model, x, y, 0.05, targeted=True)), y)
    assert up > clean > down


def test_fgsm_leaves_model_mode_parameter_grads_and_input_alone():
    model, (x, y) = _net(), _batch()
    model.train()
    grads = []
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
        grads.append(p.grad.clone())
    x_before = x.clone()
    fgsm(model, x, y, 0.1)
    assert model.training
    for p, g in zip(model.parameters(), grads):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0)
    torch.testing.assert_close(x, x_before, rtol=0, atol=0)
    assert x.grad is None
    model.eval()
    fgsm(model, x, y, 0.1)
    assert not model.training


def test_fgsm_works_under_no_grad_and_on_a_leaf_that_requires_grad():
    model, (x, y) = _net(), _batch()
    expected = fgsm(model, x, y, 0.1)
    with torch.no_grad():
        torch.testing.assert_close(fgsm(model, x, y, 0.1), expected, rtol=0, atol=0)
    torch.testing.assert_close(fgsm(model, x.clone().requires_grad_(True), y, 0.1), expected, rtol=0, atol=0)


def test_fgsm_errors_name_the_argument_expected_and_received():
    model, (x, y) = _net(), _batch(n=4)
    with pytest.raises(ValueError, match=r"^fgsm: eps must be >= 0, got -0.1$"):
        fgsm(model, x, y, -0.1)
    with pytest.raises(TypeError, match=r"^fgsm: eps must be a number, got str '0.1'$"):
        fgsm(model, x, y, "0.1")
    with pytest.raises(ValueError, match=r"^fgsm: x must be 4-D \(N, C, H, W\), got shape \(4, 8, 8\)$"):
        fgsm(model, x[:, 0], y, 0.1)
    with pytest.raises(ValueError, match=r"^fgsm: y must have shape \(4,\) \(one label per image of x\), got \(3,\)$"):
        fgsm(model, x, y[:3], 0.1)
