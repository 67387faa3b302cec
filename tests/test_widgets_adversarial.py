"""Headless tests of the adversarial (FGSM) explorer against a direct torch computation."""

import numpy as np
import pytest
import torch

from course_utils.widgets import AdversarialExplorer
from course_utils.widgets._view import torch_single_thread
from course_utils.widgets.adversarial import Attack, make_state


@pytest.fixture(scope="module")
def trained():
    from course_utils.data.digits import load_digits_arrays

    X, y = load_digits_arrays()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    Xt, yt = torch.tensor(X[:500]), torch.tensor(y[:500])
    with torch_single_thread():  # tiny tensors: threads only contend on a busy machine
        for _ in range(100):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt), yt).backward()
            opt.step()
    return model, X[:8], y[:8]


def test_fgsm_matches_a_direct_autograd_computation(trained):
    model, X, y = trained
    attack = Attack(model, X, y)
    x = torch.tensor(X[2:3], requires_grad=True)
    torch.nn.functional.cross_entropy(model(x), torch.tensor(y[2:3])).backward()
    expected = torch.clamp(x + 0.1 * x.grad.sign(), 0, 1)[0].detach().numpy()
    np.testing.assert_allclose(attack.adversarial(2, 0.1), expected, atol=1e-6)


def test_eps_slider_lowers_the_true_class_probability_and_redraws(trained):
    model, X, y = trained
    w = AdversarialExplorer(model, X, y, eps_max=0.3)
    p0 = w.data["probs"][y[0]]
    png, n = w.png(), w.renders
    w.controls["eps"].value = 0.25
    assert w.state.eps == 0.25 and w.renders == n + 1 and w.png() != png
    assert w.data["probs"][y[0]] < p0
    assert w.status.value.startswith("rendered image=0 eps=0.250")
    assert "flipped" in w.caption.value  # a small MLP on digits is fooled by eps = 0.25


def test_bounds_and_no_redraw(trained):
    model, X, y = trained
    attack = Attack(model, X, y, eps_max=0.2)
    s = make_state(attack, image=100, eps=5.0)
    assert (s.image, s.eps) == (7, 0.2)
    w = AdversarialExplorer(model, X, y)
    n = w.renders
    w.set_controls(eps=0.0)
    assert w.redraw() is False and w.renders == n


def test_bad_inputs_and_a_broken_model_are_reported(trained):
    model, X, y = trained
    with pytest.raises(TypeError, match="torch.nn.Module"):
        AdversarialExplorer(lambda x: x, X)
    with pytest.raises(ValueError, match="labels must have shape"):
        AdversarialExplorer(model, X, y[:3])

    class Flaky(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.calls = model, 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
            return self.inner(x)

    w = AdversarialExplorer(Flaky(), X, y)
    assert "model raised RuntimeError: mat1 and mat2" in w.error_box.value
