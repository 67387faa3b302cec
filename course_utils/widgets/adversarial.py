"""Adversarial examples (lecture slide 51): a tiny, carefully chosen change flips the prediction.

FGSM (fast gradient sign method, Goodfellow et al. 2015): compute, with autograd, the gradient of the loss
with respect to the input pixels and step every pixel by +-eps in the direction that increases the loss:
``x_adv = clip(x + eps * sign(d loss / d x), 0, 1)``. Move the eps slider: the image barely changes, the
prediction and its confidence do.

    from course_utils.widgets import AdversarialExplorer
    AdversarialExplorer(model, X_test[:16], y_test[:16], class_names=SHAPE_CLASSES)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_utils.widgets._blit import Blit
from course_utils.widgets._view import (
    Explorer,
    clamp_float,
    clamp_int,
    image_axes,
    prepare,
    set_image,
    student_call,
    torch_single_thread,
)

EPS_GRID = np.linspace(0.0, 1.0, 41)  # fractions of eps_max at which the confidence curve is computed


@dataclass(frozen=True)
class State:
    image: int = 0
    eps: float = 0.0


class Attack:
    """The model, the images and, per image (cached), the FGSM direction and the predictions along eps.

    model: torch.nn.Module mapping (N, C, H, W) in [0, 1] to class scores (N, K). images: (N, C, H, W).
    labels: (N,) true classes, or None to attack the model's own clean predictions.
    """

    def __init__(self, model, images, labels=None, eps_max: float = 0.3):
        import torch

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"AdversarialExplorer: model must be a torch.nn.Module, got {type(model).__name__}")
        x = torch.as_tensor(np.asarray(images.detach().cpu() if hasattr(images, "detach") else images),
                            dtype=torch.float32)
        if x.ndim != 4:
            raise ValueError(f"AdversarialExplorer: images must be (N, C, H, W), got shape {tuple(x.shape)}")
        self.model, self.x, self.eps_max = model.eval(), x, float(eps_max)
        with torch.no_grad(), torch_single_thread():
            clean = student_call("model", model, x)
        if clean.ndim != 2 or clean.shape[0] != len(x):
            raise ValueError(f"AdversarialExplorer: model returned shape {tuple(clean.shape)} for images "
                             f"{tuple(x.shape)}; expected ({len(x)}, num_classes)")
        self.num_classes = clean.shape[1]
        self.y = clean.argmax(1) if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
        if self.y.shape != (len(x),):
            raise ValueError(f"AdversarialExplorer: labels must have shape ({len(x)},), got {tuple(self.y.shape)}")
        self.direction = functools.lru_cache(maxsize=64)(self._direction)
        self.curve = functools.lru_cache(maxsize=64)(self._curve)

    def _direction(self, n: int) -> np.ndarray:
        """FGSM's direction for image n: sign of d loss / d x, (C, H, W) of -1, 0, +1 (computed once per image)."""
        import torch

        from course_utils.torch_track.adversarial import loss_gradient_sign

        model = self.model

        class Student(torch.nn.Module):  # the student's model, its errors reported as the student's
            def forward(self, z):
                return student_call("model", model, z)

        with torch_single_thread():
            return loss_gradient_sign(Student(), self.x[n:n + 1], self.y[n:n + 1])[0].numpy()

    def adversarial(self, n: int, eps: float) -> np.ndarray:
        """Image n after FGSM with step ``eps`` (C, H, W) in [0, 1]: the course's ``perturb`` along the direction."""
        import torch

        from course_utils.torch_track.adversarial import perturb

        return perturb(self.x[n], torch.from_numpy(self.direction(n)), eps).numpy()

    def _curve(self, n: int) -> np.ndarray:
        """Class probabilities (len(EPS_GRID), K) of the adversarial image at eps = EPS_GRID * eps_max."""
        import torch

        batch = np.stack([self.adversarial(n, e * self.eps_max) for e in EPS_GRID])
        with torch.no_grad(), torch_single_thread():
            scores = student_call("model", self.model, torch.as_tensor(batch, dtype=torch.float32))
        return torch.softmax(scores, dim=1).numpy()

    def probs(self, n: int, eps: float) -> np.ndarray:
        import torch

        x = torch.as_tensor(self.adversarial(n, eps)[None], dtype=torch.float32)
        with torch.no_grad(), torch_single_thread():
            scores = student_call("model", self.model, x)
        return torch.softmax(scores, dim=1)[0].numpy()


def make_state(attack: Attack, **values) -> State:
    v = {**State().__dict__, **values}
    return State(clamp_int(v["image"], 0, len(attack.x) - 1), round(clamp_float(v["eps"], 0.0, attack.eps_max), 4))


def _show(chw: np.ndarray) -> np.ndarray:
    return np.moveaxis(chw, 0, -1) if chw.shape[0] == 3 else chw[0]


def _build(fig: Figure) -> dict:
    _, im_x = image_axes(fig, (0.005, 0.05, 0.2, 0.78), "image")
    _, im_p = image_axes(fig, (0.215, 0.05, 0.2, 0.78), "perturbation eps * sign(gradient)", cmap="coolwarm")
    _, im_a = image_axes(fig, (0.425, 0.05, 0.2, 0.78), "adversarial image")
    ax = fig.add_axes((0.69, 0.2, 0.29, 0.63))
    ax.set_xlabel("eps")
    ax.set_ylim(0, 1.02)
    ax.set_title("probability", fontsize=9)
    ax.grid(alpha=0.3)
    (true_line,) = ax.plot([], [], color="#2ca02c", label="true class")
    (pred_line,) = ax.plot([], [], color="#d62728", label="strongest other class", linestyle="--")
    marker = ax.axvline(0, color="k", linewidth=1)
    ax.legend(fontsize=7, loc="center right")
    return {"x": im_x, "p": im_p, "a": im_a, "ax": ax, "true": true_line, "pred": pred_line, "marker": marker}


def compute(state: State, attack: Attack) -> dict:
    """What is shown: the image, the perturbation eps * sign(gradient), the adversarial image, the
    probabilities of the true class and of the strongest other one along eps, and the prediction at eps and
    on the clean image (the model's calls: a batch per image along eps, cached; two per redraw)."""
    n, eps = state.image, state.eps
    gray = attack.x.shape[1] == 1
    direction = attack.direction(n)
    curve = attack.curve(n)
    y = int(attack.y[n])
    other = int(np.argmax(np.where(np.arange(curve.shape[1]) == y, -1.0, curve[-1])))
    return {"image": _show(attack.x[n].numpy()),
            "perturbation": _show(eps * direction)[..., 0] if not gray else eps * direction[0],
            "adversarial": _show(attack.adversarial(n, eps)), "gray": gray, "eps_max": attack.eps_max,
            "grid": EPS_GRID * attack.eps_max, "true_curve": curve[:, y], "other_curve": curve[:, other],
            "probs": attack.probs(n, eps), "clean": attack.probs(n, 0.0), "label": y, "checks": []}


def draw(state: State, data: dict, fig: Figure | None = None) -> Figure:
    """Image, perturbation, adversarial image, and the probabilities along eps (``data``: what
    :func:`compute` gave for ``state``). Returns the Figure."""
    fig, art = prepare(fig, (11.0, 2.8), _build)
    d, eps = data, state.eps
    limits = (0.0, 1.0) if d["gray"] else ()
    set_image(art["x"], d["image"], *limits)
    set_image(art["p"], d["perturbation"], -d["eps_max"], d["eps_max"])
    set_image(art["a"], d["adversarial"], *limits)
    art["true"].set_data(d["grid"], d["true_curve"])
    art["pred"].set_data(d["grid"], d["other_curve"])
    art["marker"].set_xdata([eps, eps])
    art["ax"].set_xlim(0, d["eps_max"])
    return fig


class AdversarialExplorer(Explorer):
    """Image and eps sliders -> FGSM image, perturbation, prediction and confidence.

    model: a torch ``nn.Module`` (inputs (N, C, H, W) in [0, 1] -> scores (N, K)); images (N, C, H, W);
    labels (N,) or None (attack the clean prediction); class_names: K names or None.
    """

    draw = staticmethod(draw)
    blit = Blit(animated=lambda art: [art[k] for k in ("x", "p", "a", "true", "pred", "marker")])

    def __init__(self, model, images, labels=None, class_names=None, eps_max: float = 0.3, eps: float = 0.0,
                 image: int = 0):
        super().__init__("Adversarial examples (FGSM): a tiny change flips the prediction")
        self.attack = Attack(model, images, labels, eps_max)
        self.class_names = list(class_names) if class_names is not None else \
            [str(k) for k in range(self.attack.num_classes)]
        st = {"description_width": "60px"}
        self.controls = {
            "image": widgets.IntSlider(image, 0, len(self.attack.x) - 1, description="image", style=st),
            "eps": widgets.FloatSlider(eps, min=0.0, max=self.attack.eps_max, step=0.005, readout_format=".3f",
                                       description="eps", style=st),
        }
        self._build(widgets.HBox([self.controls["image"], self.controls["eps"]]))

    def read_state(self) -> State:
        return make_state(self.attack, **{name: control.value for name, control in self.controls.items()})

    def compute(self, state: State) -> dict:
        return compute(state, self.attack)

    def describe_html(self, state: State, data: dict) -> str:
        p, p0 = data["probs"], data["clean"]
        k, k0, y = int(p.argmax()), int(p0.argmax()), int(self.attack.y[state.image])
        name = self.class_names
        flipped = " &mdash; <b style='color:#b00020'>the prediction flipped</b>" if k != k0 else ""
        return (f"true class <b>{name[y]}</b>. Clean image: predicted {name[k0]} ({100 * p0[k0]:.1f}%). "
                f"eps = {state.eps:.3f} (each pixel moves by at most {state.eps:.3f}): predicted "
                f"<b>{name[k]}</b> ({100 * p[k]:.1f}%), true class {100 * p[y]:.1f}%{flipped}")

    def alt_text(self, state: State, data: dict) -> str:
        p, p0 = data["probs"], data["clean"]
        k, k0, y = int(p.argmax()), int(p0.argmax()), data["label"]
        name = self.class_names
        flipped = "the prediction flipped" if k != k0 else "the prediction holds"
        return (f"FGSM on image {state.image}, true class {name[y]}, eps = {state.eps:.3f}. Three images: the "
                f"original, the perturbation (every pixel moved by plus or minus {state.eps:.3f}) and the "
                f"adversarial image; and the probability of the true class (solid line) and of the strongest other "
                f"class (dashed) as eps grows from 0 to {data['eps_max']:g}, a vertical line at eps = "
                f"{state.eps:.3f}. Clean: predicted {name[k0]} ({100 * p0[k0]:.1f}%); now predicted {name[k]} "
                f"({100 * p[k]:.1f}%), true class {100 * p[y]:.1f}%: {flipped}.")

    def describe(self, state: State, data: dict) -> str:
        p = data["probs"]
        return f"image={state.image} eps={state.eps:.3f} pred={int(p.argmax())} conf={p.max():.3f}"
