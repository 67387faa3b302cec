"""Adversarial examples (lecture slide 51; notebook 09, Assignment 3 part 4).

x (N, 1, 8, 8) images in [0, 1], y (N,) labels -> x_adv of x's shape in [0, 1], detached.
"""

from __future__ import annotations

from .core import Exercise, register
from .training import digits_net, model_cases, model_inputs


def _fgsm(case, targeted=False):
    """The course's FGSM (``course_utils.torch_track.adversarial.fgsm``) on the case's network and batch."""
    from course_utils.torch_track.adversarial import fgsm

    x, y = model_inputs(case)
    return fgsm(digits_net(case["seed"]), x, y, case["eps"], targeted=targeted).numpy()


def _call(fn, case):
    x, y = model_inputs(case)
    return fn(digits_net(case["seed"]), x, y, case["eps"])


register(Exercise(
    "fgsm", model_cases(4), _fgsm, call=_call, float64=(1e-6, 1e-6),
    hints={"shape": "one adversarial image per input image, of x's shape",
           "values": "x + eps * sign(gradient of the cross-entropy with respect to x), then clamp(0, 1); do not "
                     "change x or the model"},
    describe=lambda c: f"{c['n']} images, eps={c['eps']}", numpy_only=False,
), "a3_fgsm")

register(Exercise(
    "targeted_fgsm", model_cases(4), lambda case: _fgsm(case, targeted=True), call=_call, float64=(1e-6, 1e-6),
    hints={"shape": "one adversarial image per input image, of x's shape",
           "values": "gradient of the loss of the TARGET label; step AGAINST it (x - eps * sign(gradient)); then "
                     "clamp(0, 1)"},
    describe=lambda c: f"{c['n']} images, eps={c['eps']}", numpy_only=False,
))
