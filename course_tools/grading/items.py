"""The hidden tests of the assignments: for each autograded item, seeded random cases and a judge.

Each ``Item`` says how to build cases from a seed (``cases``), how to call the student's function on one
(``call``), how to describe a case in a message (``describe``) and how to judge the outputs (``judge``,
which recomputes the expected values with the course's reference in the process that runs it).
The seeds live in the hidden cells of the instructor's notebooks, not here.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Item:
    cases: Callable[[int], list]
    call: Callable[[Callable, dict], Any]
    judge: Callable[[dict, list], str | None]
    describe: Callable[[dict], str] = lambda case: ", ".join(
        f"{k} shape {tuple(v.shape)}" if isinstance(v, np.ndarray) else f"{k}={v!r}" for k, v in case.items()
    )
    #: the assignment says "NumPy only": torch, scipy's and scikit-image's implementations score 0 (verify.py)
    numpy_only: bool = True
    #: other exercises the student's function may call, by the name the notebook gives them -> the course's
    #: reference ("module:function") that stands in for them while this item is judged (``verify.judged_alone``)
    uses: dict = field(default_factory=dict)


def _kwargs_call(fn, case):
    return fn(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()})


#: tolerances (rtol, atol relative to the largest expected value) for a student's output computed in a
#: lower precision than float64: a correct float32 algorithm differs from the float64 reference by a few
#: units in its last place, summed over up to a few hundred terms
LOW_PRECISION = {"float32": (1e-4, 1e-5), "float16": (1e-2, 1e-2), "bfloat16": (3e-2, 3e-2)}
_PRECISION: contextvars.ContextVar[str | None] = contextvars.ContextVar("precision", default=None)


@contextlib.contextmanager
def precision(dtype: str | None):
    """Judge outputs computed in ``dtype`` (a key of LOW_PRECISION, or None for float64) with its tolerance."""
    token = _PRECISION.set(dtype)
    try:
        yield
    finally:
        _PRECISION.reset(token)


def _compare(got: list, expected, rtol=1e-6, atol=1e-8, names=None) -> str | None:
    """None if ``got`` (list of arrays) matches ``expected`` (array or tuple of arrays), else what differs."""
    expected = list(expected) if isinstance(expected, tuple | list) else [expected]
    if _PRECISION.get():
        low_rtol, low_atol = LOW_PRECISION[_PRECISION.get()]
        scale = max([float(np.max(np.abs(np.asarray(e, dtype=np.float64)), initial=0.0)) for e in expected] + [1.0])
        rtol, atol = max(rtol, low_rtol), max(atol, low_atol * scale)
    if len(got) != len(expected):
        return f"expected {len(expected)} output(s), got {len(got)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        e = np.asarray(e, dtype=np.float64)
        what = names[i] if names else "output"
        if g.shape != e.shape:
            return f"{what} has shape {g.shape}, expected {e.shape}"
        if not np.all(np.isfinite(g)) or not np.all(np.abs(g - e) <= atol + rtol * np.abs(e)):
            return f"{what} values differ from the expected ones (max abs error {np.nanmax(np.abs(g - e)):.3g})"
    return None


# ---------------------------------------------------------------- a1: parameter counting
def _count_cases(names):
    def cases(seed):
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(12):
            case = {n: int(rng.integers(1, 300)) for n in names}
            case["channels"] = int(rng.integers(1, 5))
            case["bias"] = bool(rng.integers(0, 2))
            out.append(case)
        return out

    return cases


def _count_judge(ref_name):
    def judge(case, got):
        from course_utils import counting

        expected = getattr(counting, ref_name)(**case)
        if len(got) != 1 or got[0].shape != () or got[0] != expected:
            return f"expected {expected}, got {got[0] if len(got) == 1 else got}"
        return None

    return judge


# ---------------------------------------------------------------- a1: conv output size, conv forward
def _output_size_cases(seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < 30:
        case = dict(size=int(rng.integers(1, 300)), kernel_size=int(rng.integers(1, 12)),
                    stride=int(rng.integers(1, 5)), padding=int(rng.integers(0, 4)))
        if case["kernel_size"] <= case["size"] + 2 * case["padding"]:
            out.append(case)
    return out


def _output_size_judge(case, got):
    from course_utils.reference import conv_output_size

    expected = conv_output_size(**case)
    if len(got) != 1 or got[0].shape != () or got[0] != expected:
        return f"expected {expected}, got {got[0] if len(got) == 1 else got}"
    return None


def _conv_cases(seed, n=6):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
        KH, KW = (int(v) for v in rng.integers(1, 5, size=2))
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        H, W = int(rng.integers(KH, KH + 7)), int(rng.integers(KW, KW + 7))
        out.append(dict(x=rng.standard_normal((N, C, H, W)), w=rng.standard_normal((F, C, KH, KW)),
                        b=None if i % 3 == 2 else rng.standard_normal(F), stride=stride, padding=padding))
    return out


def _conv_forward_judge(case, got):
    from course_utils.reference import conv2d_forward

    return _compare(got, conv2d_forward(**case))


# ---------------------------------------------------------------- a1: filterbank
def _filterbank_cases(seed):
    rng = np.random.default_rng(seed)
    return [dict(image=rng.random((int(rng.integers(5, 20)), int(rng.integers(5, 20)))),
                 bank=rng.standard_normal((int(rng.integers(1, 5)), 3, 3))) for _ in range(5)]


def _filterbank_judge(case, got):
    from course_utils.reference import conv2d_forward

    cube = conv2d_forward(case["image"][None, None], case["bank"][:, None])[0]
    return _compare(got, np.maximum(cube, 0.0))


def _design_cases(seed):
    rng = np.random.default_rng(seed)
    return [dict(contrast=float(rng.uniform(0.3, 1.0)), at=int(rng.integers(4, 8)))]


def _responses(kernel, image):
    from course_utils.reference import conv2d_forward

    return conv2d_forward(image[None, None], kernel[None, None])[0, 0]


def _design_judge(case, got):
    if len(got) != 1 or got[0].shape != (4, 3, 3):
        return f"expected one (4, 3, 3) filterbank, got shapes {[g.shape for g in got]}"
    bank, c, at = got[0], case["contrast"], case["at"]
    size = 12
    vertical = np.zeros((size, size)); vertical[:, at:] = c  # noqa: E702  (a vertical edge)
    horizontal = vertical.T.copy()
    quadrant = np.zeros((size, size)); quadrant[at:, at:] = c  # noqa: E702  (one corner)
    dot = np.zeros((size, size)); dot[at, at] = c  # noqa: E702
    flat = np.full((size, size), c)
    names = ("vertical-edge", "horizontal-edge", "corner", "dot")
    for k, name in zip(bank, names):
        if np.abs(_responses(k, flat)).max() > 1e-9:
            return f"the {name} filter responds to a flat image (its weights should sum to 0)"
    r = lambda k, img: np.abs(_responses(k, img)).max()  # noqa: E731
    tol = 1e-9
    if not (r(bank[0], vertical) > 0.1 * c and r(bank[0], horizontal) < tol):
        return "filter 0 should respond to vertical edges and not at all to horizontal ones"
    if not (r(bank[1], horizontal) > 0.1 * c and r(bank[1], vertical) < tol):
        return "filter 1 should respond to horizontal edges and not at all to vertical ones"
    if not (r(bank[2], quadrant) > 0.1 * c and r(bank[2], vertical) < tol and r(bank[2], horizontal) < tol):
        return "filter 2 should respond to a corner and not at all to straight vertical or horizontal edges"
    if not (r(bank[3], dot) > 0.1 * c and r(bank[3], dot) > 2 * max(r(bank[3], vertical), r(bank[3], horizontal))):
        return "filter 3 should respond to an isolated dot more than twice as strongly as to any straight edge"
    return None


ITEMS: dict[str, Item] = {
    "a1_fc_params": Item(_count_cases(["image_size", "hidden_units"]), _kwargs_call,
                         _count_judge("fully_connected_params")),
    "a1_lc_params": Item(_count_cases(["hidden_units", "filter_size"]), _kwargs_call,
                         _count_judge("locally_connected_params")),
    "a1_conv_params": Item(_count_cases(["num_filters", "filter_size"]), _kwargs_call,
                           _count_judge("conv_params")),
    "a1_conv_output_size": Item(_output_size_cases, _kwargs_call, _output_size_judge),
    "a1_conv2d_forward": Item(_conv_cases, _kwargs_call, _conv_forward_judge),
    "a1_apply_filterbank": Item(_filterbank_cases, _kwargs_call, _filterbank_judge,
                                uses={"conv2d_forward": "course_utils.reference:conv2d_forward"}),
    "a1_filterbank_design": Item(_design_cases, lambda fn, case: fn(), _design_judge, lambda case: "your bank"),
}


# ---------------------------------------------------------------- a2: backprop, pooling, receptive fields
def _tied_cases(seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(8):
        L, K = int(rng.integers(3, 15)), int(rng.integers(1, 4))
        out.append(dict(x=rng.standard_normal(L), dout=rng.standard_normal(L - K + 1), kernel_size=K))
    return out


def _tied_judge(case, got):
    x, dout, K = case["x"], case["dout"], case["kernel_size"]
    per_position = np.array([[dout[i] * x[i + j] for j in range(K)] for i in range(len(dout))])
    return _compare(got, per_position.sum(axis=0), names=["dw"])


def _conv_backward_cases(seed):
    rng = np.random.default_rng(seed)
    out = []
    for case in _conv_cases(seed, n=5):
        from course_utils.reference import conv_output_size

        N, F = case["x"].shape[0], case["w"].shape[0]
        Ho = conv_output_size(case["x"].shape[2], case["w"].shape[2], case["stride"], case["padding"])
        Wo = conv_output_size(case["x"].shape[3], case["w"].shape[3], case["stride"], case["padding"])
        out.append(dict(dout=rng.standard_normal((N, F, Ho, Wo)), x=case["x"], w=case["w"],
                        stride=case["stride"], padding=case["padding"]))
    return out


def _conv_backward_judge(case, got):
    from course_utils.reference import conv2d_backward

    return _compare(got, conv2d_backward(**case), names=["dx", "dw", "db"])


def _pool_cases(backward):
    def cases(seed):
        rng = np.random.default_rng(seed)
        out = []
        for i in range(8):
            k = int(rng.integers(1, 4))
            stride = int(rng.integers(1, k + 1))  # stride < kernel_size: overlapping windows
            N, C = (int(v) for v in rng.integers(1, 3, size=2))
            H, W = int(rng.integers(k, k + 6)), int(rng.integers(k, k + 6))
            # small integers: many ties inside a window
            x = rng.integers(0, 3, size=(N, C, H, W)).astype(float) if i % 2 else rng.standard_normal((N, C, H, W))
            case = dict(x=x, kernel_size=k, stride=stride)
            if backward:
                Ho, Wo = (H - k) // stride + 1, (W - k) // stride + 1
                case = dict(dout=rng.standard_normal((N, C, Ho, Wo)), **case)
            out.append(case)
        return out

    return cases


def _pool_judge(ref_name):
    def judge(case, got):
        from course_utils import reference

        return _compare(got, getattr(reference, ref_name)(**case))

    return judge


def _rf_cases(seed):
    rng = np.random.default_rng(seed)
    return [dict(layers=[(int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3)))
                         for _ in range(int(rng.integers(1, 6)))]) for _ in range(10)]


def _rf_judge(case, got):
    from course_utils.reference import receptive_field

    expected = np.array([[r.size, r.jump, r.start] for r in receptive_field(case["layers"])], dtype=float)
    if len(got) != 1:
        return f"expected one list of (size, jump, start), got {len(got)} outputs"
    return _compare(got, expected, names=["[(size, jump, start), ...]"])


def _rf_call(fn, case):
    return np.array([tuple(r) for r in fn(list(case["layers"]))], dtype=float)


ITEMS.update({
    "a2_tied_weight_gradient": Item(_tied_cases, _kwargs_call, _tied_judge),
    "a2_conv2d_backward": Item(_conv_backward_cases, _kwargs_call, _conv_backward_judge),
    "a2_maxpool_forward": Item(_pool_cases(False), _kwargs_call, _pool_judge("maxpool2d_forward")),
    "a2_maxpool_backward": Item(_pool_cases(True), _kwargs_call, _pool_judge("maxpool2d_backward")),
    "a2_avgpool_forward": Item(_pool_cases(False), _kwargs_call, _pool_judge("avgpool2d_forward")),
    "a2_avgpool_backward": Item(_pool_cases(True), _kwargs_call, _pool_judge("avgpool2d_backward")),
    "a2_receptive_field": Item(_rf_cases, _rf_call, _rf_judge, lambda case: f"layers={case['layers']}"),
})


# ---------------------------------------------------------------- a3: PyTorch training loop, accuracy, FGSM
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")
TARGET_ACCURACY = 0.90  # stated in the assignment: validation accuracy on digits after TRAIN_EPOCHS epochs
TRAIN_EPOCHS = 3  # a correct loop reaches ~0.96; no zero_grad, no step or no momentum stay below 0.9


def digits_net(seed: int):
    """The small CNN of Assignment 3 (for 8x8 digits), seeded: conv 3x3 (8) -> ReLU -> pool 2 -> linear 10."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 10))


def digits_split(seed: int):
    """Digits as float32 tensors, shuffled by ``seed``: 1437 train, 360 validation."""
    import torch

    from course_utils.data.digits import load_digits_arrays

    X, y = load_digits_arrays()
    order = np.random.default_rng(seed).permutation(len(y))
    X, y = torch.tensor(X[order]), torch.tensor(y[order])
    return X[:1437], y[:1437], X[1437:], y[1437:]


def _load_params(model, arrays):
    import torch

    state = model.state_dict()
    if len(arrays) != len(state):
        raise ValueError(f"expected {len(state)} parameter arrays, got {len(arrays)}")
    model.load_state_dict({k: torch.tensor(a, dtype=v.dtype).reshape(v.shape) for (k, v), a in
                           zip(state.items(), arrays)})
    return model


def _train_call(fn, case):
    import torch

    model = digits_net(case["seed"])
    Xtr, ytr, Xva, yva = digits_split(case["seed"])
    torch.manual_seed(case["seed"])
    calls = []
    history = fn(model, Xtr, ytr, Xva, yva, epochs=case["epochs"], lr=case["lr"], batch_size=32,
                 on_epoch_end=lambda h: calls.append(len(h["val_acc"])))
    missing = [k for k in HISTORY_KEYS if k not in history]
    if missing:
        raise KeyError(f"the history has no {missing} (keys: {list(history)})")
    params = tuple(p.detach().cpu().numpy() for p in model.state_dict().values())
    return (*params, np.array([[float(v) for v in history[k]] for k in HISTORY_KEYS]), np.array(calls, float))


def _train_judge(case, got):
    import torch

    epochs = case["epochs"]
    if len(got) < 3:
        return "no trained parameters or history were saved"
    *params, history, calls = got
    if history.shape != (len(HISTORY_KEYS), epochs):
        return f"history should hold {epochs} values per key {HISTORY_KEYS}, got an array of shape {history.shape}"
    if list(calls) != list(range(1, epochs + 1)):
        return f"on_epoch_end(history) should be called after each of the {epochs} epochs; got {list(calls)}"
    try:
        model = _load_params(digits_net(case["seed"]), params)
    except (ValueError, RuntimeError) as err:
        return f"the trained model's parameters do not fit the network ({err})"
    _, _, Xva, yva = digits_split(case["seed"])
    with torch.no_grad():
        accuracy = (model(Xva).argmax(1) == yva).double().mean().item()
    if not accuracy >= TARGET_ACCURACY:
        return f"validation accuracy after {epochs} epochs is {accuracy:.3f}, expected at least {TARGET_ACCURACY}"
    if abs(history[4, -1] - accuracy) > 0.02:
        return f"history['val_acc'][-1] = {history[4, -1]:.3f} but the model's validation accuracy is {accuracy:.3f}"
    with torch.no_grad():
        val_loss = torch.nn.functional.cross_entropy(model(Xva), yva).item()
    if abs(history[3, -1] - val_loss) > 0.05 * val_loss:
        return f"history['val_loss'][-1] = {history[3, -1]:.4f} but the model's validation loss is {val_loss:.4f}"
    if not history[1, -1] < history[1, 0]:
        return "the training loss did not decrease"
    return None


def _model_cases(n):
    def cases(seed):
        rng = np.random.default_rng(seed)
        return [dict(seed=int(rng.integers(1 << 30)), n=int(rng.integers(1, 40)),
                     eps=float(rng.choice([0.0, 0.05, 0.1, 0.3]))) for _ in range(n)]

    return cases


def _model_inputs(case):
    import torch

    g = torch.Generator().manual_seed(case["seed"])
    return torch.rand(case["n"], 1, 8, 8, generator=g), torch.randint(0, 10, (case["n"],), generator=g)


def _accuracy_call(fn, case):
    x, y = _model_inputs(case)
    return float(fn(digits_net(case["seed"]), x, y))


def _accuracy_judge(case, got):
    import torch

    x, y = _model_inputs(case)
    with torch.no_grad():
        expected = (digits_net(case["seed"])(x).argmax(1) == y).double().mean().item()
    return _compare(got, expected, names=["accuracy (a fraction in [0, 1])"])


def _fgsm_expected(case):
    import torch

    model = digits_net(case["seed"])
    x, y = _model_inputs(case)
    x = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return (x + case["eps"] * x.grad.sign()).clamp(0, 1).detach().numpy()


def _fgsm_call(fn, case):
    x, y = _model_inputs(case)
    return fn(digits_net(case["seed"]), x, y, case["eps"])


ITEMS.update({
    "a3_accuracy": Item(_model_cases(5), _accuracy_call, _accuracy_judge, lambda c: f"{c['n']} images",
                        numpy_only=False),
    "a3_train": Item(lambda seed: [dict(seed=seed, epochs=TRAIN_EPOCHS, lr=0.1)], _train_call, _train_judge,
                     lambda c: f"digits, {c['epochs']} epochs, lr={c['lr']}, batch 32", numpy_only=False,
                     uses={"accuracy": "course_utils.registration:accuracy"}),
    "a3_fgsm": Item(_model_cases(4), _fgsm_call, lambda case, got: _compare(got, _fgsm_expected(case), atol=1e-6),
                    lambda c: f"{c['n']} images, eps={c['eps']}", numpy_only=False),
})
