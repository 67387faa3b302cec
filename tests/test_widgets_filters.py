"""Headless tests of the filter/activation viewer with a NumPy Sequential and a torch nn.Module."""

import numpy as np
import pytest
import torch

from course_utils.reference.sequential import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from course_utils.widgets import FilterActivationViewer
from course_utils.widgets.filters import ModelProbe, make_state, top_patches


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((12, 1, 10, 10)).astype(np.float32)


@pytest.fixture(scope="module")
def numpy_model():
    return Sequential(Conv2d(1, 4, 3, padding=1, rng=0), ReLU(), MaxPool2d(2), Conv2d(4, 6, 3, rng=1), ReLU(),
                      Flatten(), Linear(6 * 3 * 3, 3, rng=2))


@pytest.fixture(scope="module")
def torch_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3), torch.nn.ReLU()), torch.nn.Flatten(),
                               torch.nn.Linear(54, 3))


def test_numpy_and_torch_probes_agree_with_torch_conv(images, numpy_model, torch_model):
    for model in (numpy_model, torch_model):
        probe = ModelProbe(model, images)
        assert [w.shape for w in probe.weights] == [(4, 1, 3, 3), (6, 4, 3, 3)]
        assert probe.geometry[1] == [(3, 1, 1), (2, 2, 0), (3, 1, 0)]
        w, b = (numpy_model.layers[0].params["w"], numpy_model.layers[0].params["b"]) if model is numpy_model \
            else (torch_model[0].weight.detach().numpy(), torch_model[0].bias.detach().numpy())
        expected = torch.nn.functional.conv2d(torch.tensor(images, dtype=torch.float64),
                                              torch.tensor(w, dtype=torch.float64),
                                              torch.tensor(b, dtype=torch.float64), padding=1)
        np.testing.assert_allclose(probe.outputs[0], expected.numpy(), rtol=1e-4, atol=1e-5)


def test_top_patches_are_the_strongest_units_receptive_fields(images, numpy_model):
    probe = ModelProbe(numpy_model, images)
    patches = top_patches(probe, 0, 2, k=9)
    values = [v for v, _, _ in patches]
    assert values == sorted(values, reverse=True) and values[0] == pytest.approx(probe.outputs[0][:, 2].max())
    assert all(p.shape == (1, 3, 3) for _, _, p in patches)
    # the patch of the strongest unit, convolved with the filter (+ bias), gives that activation back
    v, n, patch = patches[0]
    w, b = numpy_model.layers[0].params["w"][2], numpy_model.layers[0].params["b"][2]
    assert float((patch * w).sum() + b) == pytest.approx(v, rel=1e-4, abs=1e-5)
    assert top_patches(probe, 1, 0)[0][2].shape == (1, 8, 8)  # input patches: conv3, pool2, conv3 see 8x8


@pytest.mark.parametrize("which", ["numpy_model", "torch_model"])
def test_controls_update_state_and_picture(which, images, request):
    w = FilterActivationViewer(request.getfixturevalue(which), images)
    png, n = w.png(), w.renders
    w.controls["channel"].value = 3
    assert w.state.channel == 3 and w.renders == n + 1 and w.png() != png
    w.controls["layer"].value = 1
    assert w.controls["channel"].max == 5 and w.status.value.startswith("rendered layer=1 channel=3")
    png = w.png()
    w.controls["image"].value = 4
    assert w.png() != png


def test_bounds_and_no_redraw(images, numpy_model):
    probe = ModelProbe(numpy_model, images)
    s = make_state(probe, layer=9, channel=99, image=-1)
    assert (s.layer, s.channel, s.image) == (1, 5, 0)
    w = FilterActivationViewer(numpy_model, images)
    n = w.renders
    w.set_controls(channel=0)
    assert w.redraw() is False and w.renders == n


def test_bad_inputs_and_a_broken_model(images):
    with pytest.raises(TypeError, match="Sequential or a torch.nn.Module"):
        FilterActivationViewer(object(), images)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        FilterActivationViewer(Sequential(Conv2d(1, 2, 3)), images[0])

    class Broken(ReLU):
        def forward(self, x):
            raise RuntimeError("shapes do not match")

    w = FilterActivationViewer(Sequential(Conv2d(1, 2, 3, rng=0), Broken()), images)
    assert "RuntimeError" in w.error_box.value and "shapes do not match" in w.error_box.value
