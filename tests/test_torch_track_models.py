"""Model shapes on tiny batches, parameter counts against published / hand-computed figures, shortcuts,
the initialisation switch and head replacement."""

import pytest
import torch

from course_utils.counting import count_params
from course_utils.torch_track import models as M


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Every test here runs torch on one thread (the fixture is in conftest.py)."""


@pytest.mark.parametrize("name, shape", [
    ("lenet", (2, 1, 28, 28)), ("lenet", (2, 3, 32, 32)), ("lenet", (2, 1, 16, 16)),
    ("vgg", (2, 3, 32, 32)), ("vgg", (2, 1, 8, 8)),
    ("resnet20", (2, 3, 32, 32)), ("resnet20", (2, 1, 28, 28)),
    ("resnet18", (2, 3, 32, 32)), ("resnet18", (2, 1, 8, 8)),
])
def test_every_model_maps_images_to_class_scores(name, shape):
    model = M.build_model(name, num_classes=7, in_channels=shape[1]).eval()
    with torch.no_grad():
        out = model(torch.randn(shape))
    assert out.shape == (shape[0], 7) and torch.isfinite(out).all()
    assert isinstance(model.head, torch.nn.Linear) and model.head.out_features == 7


def test_resnet18_imagenet_stem_shape_and_torchvision_parameter_count():
    model = M.resnet18(num_classes=1000, in_channels=3, small_input=False).eval()
    assert count_params(model) == 11_689_512  # torchvision's resnet18
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def conv(c_in, c_out, k, bias):
    return c_in * c_out * k * k + (c_out if bias else 0)


def test_parameter_counts_match_hand_computation():
    # LeNet-5: conv 1->6 5x5, conv 6->16 5x5, FC 400->120->84->10, all with biases
    lenet = conv(1, 6, 5, True) + conv(6, 16, 5, True) + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10
    assert count_params(M.lenet(10, 1)) == lenet == 61_706
    # ResNet-20 (He et al. 2016, "0.27M"): 19 bias-free 3x3 convs, 19 BNs (2 per channel), FC 64->10
    convs = conv(3, 16, 3, False) + 6 * conv(16, 16, 3, False) + conv(16, 32, 3, False) + 5 * conv(32, 32, 3, False) \
        + conv(32, 64, 3, False) + 5 * conv(64, 64, 3, False)
    bns = 2 * (16 * 7 + 32 * 6 + 64 * 6)
    assert count_params(M.resnet20(10, 3)) == convs + bns + 64 * 10 + 10 == 269_722


def test_option_a_shortcut_subsamples_and_pads_with_zeros():
    block = M.BasicBlock(4, 8, stride=2, shortcut="A")
    x = torch.randn(2, 4, 6, 6)
    s = block.shortcut(x)
    assert s.shape == (2, 8, 3, 3)
    torch.testing.assert_close(s[:, :4], x[:, :, ::2, ::2])
    assert (s[:, 4:] == 0).all()
    assert count_params(block) == conv(4, 8, 3, False) + conv(8, 8, 3, False) + 2 * 2 * 8  # no shortcut weights
    b = M.BasicBlock(4, 8, stride=2, shortcut="B")
    assert b.project is not None and b(x).shape == (2, 8, 3, 3)


def test_residual_block_is_identity_plus_residual():
    block = M.BasicBlock(4, 4).eval()
    torch.nn.init.zeros_(block.bn2.weight)  # residual branch switched off
    x = torch.rand(1, 4, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(x))


def test_kaiming_variance_and_bad_init_make_signals_vanish_or_explode():
    model = M.build_model("vgg", 10, 3, batch_norm=False)
    first = model.body[2]  # conv 32 -> 32, fan_in 288
    assert abs(first.weight.var().item() * 288 / 2 - 1) < 0.1
    x = torch.randn(8, 3, 16, 16)
    stds = {s: M.activation_stds(M.init_weights(model, s), x) for s in ("kaiming", "small", "large")}
    assert len(stds["kaiming"]) == 6
    k, small, large = (stds[s][-1] / stds[s][0] for s in ("kaiming", "small", "large"))
    assert 0.2 < k < 5 and small < 1e-3 and large > 1e3
    with pytest.raises(ValueError, match=r"init_weights: scheme must be one of \('kaiming', .*\), got 'xavier'"):
        M.init_weights(model, "xavier")


def test_build_model_errors():
    with pytest.raises(ValueError, match=r"build_model: name must be one of \('lenet', .*\), got 'alexnet'"):
        M.build_model("alexnet")
    with pytest.raises(ValueError, match="build_model: num_classes must be >= 1, got 0"):
        M.build_model("lenet", 0)


def test_replace_head_freezes_the_body():
    model = M.build_model("lenet", 6, 1)
    old_head = model.head
    M.replace_head(model, 10, freeze_body=True)
    assert model.head is not old_head and model.head.out_features == 10 and model.head.in_features == 84
    assert all(not p.requires_grad for p in model.body.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    assert count_params(model, trainable_only=True) == 84 * 10 + 10
    with pytest.raises(TypeError, match="must have a `head` nn.Linear"):
        M.replace_head(torch.nn.Sequential(torch.nn.Linear(2, 2)), 3)
