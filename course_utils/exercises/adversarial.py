"""Adversarial examples (lecture slide 51; notebook 09, Assignment 3 part 4).

x (N, 1, 8, 8) images in [0, 1], y (N,) labels -> x_adv of x's shape in [0, 1], detached.
"""

from __future__ import annotations

from .core import Exercise, Mistake, Variants, implementation, register
from .training import digits_net, model_cases, model_inputs


def _fgsm(case, targeted=False):
    """The course's FGSM (``course_utils.torch_track.adversarial.fgsm``) on the case's network and batch."""
    from course_utils.torch_track.adversarial import fgsm

    x, y = model_inputs(case)
    return fgsm(digits_net(case["seed"]), x, y, case["eps"], targeted=targeted).numpy()


def _call(fn, case):
    x, y = model_inputs(case)
    return fn(digits_net(case["seed"]), x, y, case["eps"])


@implementation
def _fgsm_wrong(case, how):
    """Wrong FGSM images. ``how``: "sign" (a step against the gradient), "clamp" (not clamped to [0, 1]),
    "unchanged" (x itself), "no_sign" (the raw gradient of the mean or the summed loss, not its sign)."""
    import torch.nn.functional as F

    x, y = model_inputs(case)
    x = x.clone().requires_grad_(True)
    F.cross_entropy(digits_net(case["seed"])(x), y).backward()
    grad, x, eps = x.grad, x.detach(), case["eps"]
    if how == "sign":
        return (x - eps * grad.sign()).clamp(0.0, 1.0).numpy()
    if how == "clamp":
        return (x + eps * grad.sign()).numpy()
    if how == "unchanged":
        return x.numpy()
    return Variants(*(v.numpy() for g in (grad, grad * len(y)) for v in ((x + eps * g).clamp(0.0, 1.0), x + eps * g)))


def _no_gradient_of_x(error: Exception) -> bool:
    """``x.grad`` was None (``x.grad.sign()``), or autograd was asked for the gradient of an ``x`` that does not
    require one: the loss was differentiated with respect to the weights only."""
    return (isinstance(error, AttributeError) and "'NoneType'" in str(error)) or (
        isinstance(error, RuntimeError) and "does not require grad" in str(error))


FGSM_MISTAKES = (
    Mistake("wrong_sign", "your images step AGAINST the gradient (x - eps * sign): an untargeted attack climbs the "
                          "loss of the true label, x + eps * sign(gradient)", lambda case: _fgsm_wrong(case, "sign")),
    Mistake("not_clipped", "your images leave [0, 1]: clamp x + eps * sign(gradient) back into the valid pixel "
                           "range", lambda case: _fgsm_wrong(case, "clamp")),
    Mistake("unchanged", "your images are the inputs unchanged: add eps * sign(gradient) to them",
            lambda case: _fgsm_wrong(case, "unchanged")),
    Mistake("no_sign", "your step is the raw gradient, not its sign: FGSM moves every pixel by exactly eps "
                       "(x + eps * gradient.sign())", lambda case: _fgsm_wrong(case, "no_sign")),
    Mistake("gradient_of_weights", "x has no gradient: loss.backward() gave gradients to the weights only, and FGSM "
                                   "needs the loss's gradient with respect to the IMAGES: take "
                                   "x = x.clone().requires_grad_(True) before the forward pass",
            raised=_no_gradient_of_x),
)

register(Exercise(
    "fgsm", model_cases(4), _fgsm, call=_call, float64=(1e-6, 1e-6), mistakes=FGSM_MISTAKES,
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
