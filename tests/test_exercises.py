"""The exercises' specs (course_utils.exercises): the references agree with torch float64 on the specs'
own cases, the self-check passes the course's implementations, catches plausible bugs with the right hint,
and reads "not attempted yet" for a function that still raises NotImplementedError."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import checks
from course_utils import reference as ref
from course_utils.exercises import EXERCISES, ITEMS, NOT_ATTEMPTED, check, get

SEEDS = (0, 1, 1301, 987_654_321)


def _t(a):
    return None if a is None else torch.tensor(a, dtype=torch.float64)


# ---------------------------------------------------------------- references against torch float64
@pytest.mark.parametrize("seed", SEEDS)
def test_conv_references_agree_with_torch_on_the_specs_cases(seed):
    for case in get("conv2d_forward").cases(seed):
        expected = F.conv2d(_t(case["x"]), _t(case["w"]), _t(case["b"]), stride=case["stride"],
                            padding=case["padding"]).numpy()
        np.testing.assert_allclose(get("conv2d_forward").reference(case), expected, rtol=1e-10, atol=1e-12)
    for case in get("conv2d_backward").cases(seed):
        x, w = _t(case["x"]).requires_grad_(True), _t(case["w"]).requires_grad_(True)
        b = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
        F.conv2d(x, w, b, stride=case["stride"], padding=case["padding"]).backward(_t(case["dout"]))
        for got, exp in zip(get("conv2d_backward").reference(case), (x.grad, w.grad, b.grad)):
            np.testing.assert_allclose(got, exp.numpy(), rtol=1e-10, atol=1e-12)
    for case in get("conv_output_size").cases(seed):
        size = F.conv2d(torch.zeros(1, 1, case["size"], 1), torch.zeros(1, 1, case["kernel_size"], 1),
                        stride=(case["stride"], 1), padding=(case["padding"], 0)).shape[2]
        assert get("conv_output_size").reference(case) == size, case


@pytest.mark.parametrize("seed", SEEDS)
def test_pooling_references_agree_with_torch_on_the_specs_cases(seed):
    for case in get("maxpool2d_backward").cases(seed):
        x = _t(case["x"]).requires_grad_(True)
        out = F.max_pool2d(x, case["kernel_size"], stride=case["stride"])
        np.testing.assert_allclose(get("maxpool2d_forward").reference({k: case[k] for k in ("x", "kernel_size",
                                                                                          "stride")}),
                                   out.detach().numpy())
        out.backward(_t(case["dout"]))
        np.testing.assert_allclose(get("maxpool2d_backward").reference(case), x.grad.numpy(), atol=1e-12)
        x = _t(case["x"]).requires_grad_(True)
        out = F.avg_pool2d(x, case["kernel_size"], stride=case["stride"])
        out.backward(_t(case["dout"]))
        np.testing.assert_allclose(get("avgpool2d_backward").reference(case), x.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_tied_and_locally_connected_references_agree_with_autograd(seed):
    for case in get("tied_weight_gradient").cases(seed):
        x = _t(case["x"])
        w = torch.zeros(case["kernel_size"], dtype=torch.float64, requires_grad=True)
        F.conv1d(x[None, None], w[None, None]).backward(_t(case["dout"])[None, None])
        np.testing.assert_allclose(get("tied_weight_gradient").reference(case), w.grad.numpy(), atol=1e-12)
    for case in get("tied_scalar_gradient").cases(seed):
        w = torch.tensor(case["w"], dtype=torch.float64, requires_grad=True)
        (0.5 * (w * torch.tanh(w * case["x"]) - case["t"]) ** 2).backward()
        assert get("tied_scalar_gradient").reference(case) == pytest.approx(w.grad.item(), rel=1e-12, abs=1e-14)
    for case in get("lc_forward_loops").cases(seed):
        x, w, b = case["x"], case["w"], case["b"]
        K = w.shape[-1]
        cols = F.unfold(_t(x), K)  # (N, C*K*K, Ho*Wo)
        Ho, Wo = w.shape[:2]
        wt = _t(w).reshape(Ho * Wo, w.shape[2], -1)  # (L, F, C*K*K)
        expected = torch.einsum("ncl,lfc->nfl", cols, wt).reshape(x.shape[0], w.shape[2], Ho, Wo) + _t(b)
        np.testing.assert_allclose(get("lc_forward_loops").reference(case), expected.numpy(), rtol=1e-10)


# ---------------------------------------------------------------- the self-check
def _naive_rf_sizes(layers):
    return [r.size for r in ref.receptive_field(layers)]


PASSING = {
    "conv_output_size": lambda size, kernel_size, stride=1, padding=0: (size + 2 * padding - kernel_size) // stride + 1,
    "conv2d_forward": ref.conv2d_forward_naive,
    "conv2d_backward": ref.conv2d_backward_naive,
    "maxpool2d_forward": ref.maxpool2d_forward,
    "maxpool2d_backward": ref.maxpool2d_backward,
    "avgpool2d_forward": ref.avgpool2d_forward,
    "avgpool2d_backward": ref.avgpool2d_backward,
    "receptive_field": lambda layers: [tuple(r) for r in ref.receptive_field(layers)],
    "receptive_field_sizes": _naive_rf_sizes,
    "lc_forward_loops": ref.locally_connected_forward,
}


@pytest.mark.parametrize("name", sorted(PASSING))
def test_the_courses_implementation_passes_the_check(name, capsys):
    check(name, PASSING[name])
    assert capsys.readouterr().out.startswith(f"OK: {name} agrees")


def _flipped(x, w, b=None, stride=1, padding=0):
    return ref.conv2d_forward(x, w[:, :, ::-1, ::-1].copy(), b, stride=stride, padding=padding)


def _assigning_backward(dout, x, w, stride=1, padding=0):
    """dx written with = instead of +=: overlapping windows overwrite each other."""
    _, dw, db = ref.conv2d_backward(dout, x, w, stride=stride, padding=padding)
    N, C, H, W = x.shape
    KH, KW = w.shape[2:]
    dx = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW] = np.einsum(
                "nf,fchw->nchw", dout[:, :, i, j], w)
    return dx[:, :, padding:padding + H, padding:padding + W], dw, db


def _sizes_without_jump(layers):
    sizes, size = [], 1
    for k, *_ in layers:
        size += k - 1
        sizes.append(size)
    return sizes


@pytest.mark.parametrize("name, wrong, hint", [
    ("conv2d_forward", _flipped, "without flipping the filter"),
    ("conv2d_backward", _assigning_backward, "must add (+=) into dx"),
    ("maxpool2d_forward", lambda x, kernel_size, stride=None: ref.maxpool2d_forward(x, kernel_size), "// stride + 1"),
    ("maxpool2d_backward", lambda dout, x, kernel_size, stride: ref.maxpool2d_backward(dout, x, kernel_size, stride)
     * 0, "first maximum"),
    ("receptive_field_sizes", _sizes_without_jump, "strides BEFORE"),
    ("conv_output_size", lambda size, kernel_size, stride=1, padding=0: -(-(size + 2 * padding - kernel_size)
                                                                        // stride) + 1, "round down"),
    ("conv2d_forward", lambda x, w, b=None, stride=1, padding=0: ref.conv2d_forward(x, w, b, stride=stride)[..., :1],
     "H_out = (H + 2*padding - KH) // stride + 1"),
])
def test_a_plausible_bug_fails_with_its_hint(name, wrong, hint):
    with pytest.raises(checks.CheckFailed) as failed:
        check(name, wrong)
    message = str(failed.value)
    assert " ".join(message.split()).count(hint) == 1, message
    assert "expected:" in message and "got:" in message
    assert all(len(line) <= checks.WIDTH for line in message.splitlines()), message


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_a_stub_reads_not_attempted_yet(name, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError

    if get(name).examples() or get(name).cases(0)[: get(name).checked_cases]:
        check(name, stub)
        assert capsys.readouterr().out == NOT_ATTEMPTED.format(name="stub") + "\n"


def test_in_an_assignment_a_stub_fails_the_visible_check():
    def conv2d_forward(x, w, b=None, stride=1, padding=0):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check("a1_conv2d_forward", conv2d_forward)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_spec_has_hints_cases_and_a_verdict(name):
    ex = get(name)
    assert ex.hints.get("values") or all(ex.hints.get(o) for o in ex.outputs), f"{name}: no hint for wrong values"
    if not (ex.exact or ex.judge):
        assert ex.hints.get("shape"), f"{name}: no hint for a wrong shape"
    assert ex.reference is not None or ex.judge is not None
    assert len(ex.cases(0)) >= 1 and repr(ex.cases(5)) == repr(ex.cases(5)), "seeded cases"
    for case in ex.cases(0)[:1]:
        assert isinstance(ex.describe(case), str)


def test_every_assignment_item_names_a_spec_and_the_old_pooling_ids_are_gone():
    assert set(ITEMS.values()) <= set(EXERCISES)
    assert {"a2_maxpool2d_forward", "a2_maxpool2d_backward", "a2_avgpool2d_forward", "a2_avgpool2d_backward"} \
        <= set(ITEMS)
    assert not any(k.startswith(("a2_maxpool_", "a2_avgpool_")) for k in ITEMS)


def test_a_low_precision_output_gets_its_dtypes_tolerance():
    check("conv2d_forward", lambda *a, **k: ref.conv2d_forward(*a, **k).astype(np.float32))
    ex = get("conv2d_forward")
    assert ex.tolerance("float32") == (1e-4, 1e-5) and ex.tolerance(None) == (1e-6, 1e-8)


# ---------------------------------------------------------------- the judged specs (notebooks 05-08)
class _Residual(torch.nn.Module):
    def __init__(self, width, skip=True):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.skip = skip

    def forward(self, x):
        f = self.conv2(F.relu(self.conv1(x)))
        return F.relu(x + f if self.skip else f)


def _saliency(model, image, label):
    x = torch.as_tensor(image)[None].requires_grad_(True)
    model(x)[0, label].backward()
    return x.grad[0, 0].abs().numpy()


def _fit(model, train_loader, val_loader, epochs=3, lr=3e-3, zero_grad=True):
    from course_utils.history import new_history

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = new_history()
    for epoch in range(1, epochs + 1):
        model.train()
        losses, accs = [], []
        for x, y in train_loader:
            out = model(x)
            loss = F.cross_entropy(out, y)
            if zero_grad:
                opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            accs.append((out.argmax(1) == y).float().mean().item())
        model.eval()
        total, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for x, y in val_loader:
                out = model(x)
                total += F.cross_entropy(out, y, reduction="sum").item()
                correct += (out.argmax(1) == y).sum().item()
                n += len(y)
        for k, v in dict(epoch=epoch, train_loss=np.mean(losses), train_acc=np.mean(accs), val_loss=total / n,
                         val_acc=correct / n).items():
            history[k].append(float(v))
    return history


def test_the_judged_specs_pass_right_answers(capsys):
    from course_utils.reference.digits_cnn import make_digits_cnn

    check("residual_block", _Residual)
    check("saliency_map", _saliency)
    check("build_cnn", make_digits_cnn)
    check("fit", _fit)
    assert capsys.readouterr().out.count("OK: ") == 4


def _nine_classes(seed=0):
    r = np.random.default_rng(seed)
    return ref.Sequential(ref.Conv2d(1, 8, 3, padding=1, rng=r), ref.ReLU(), ref.MaxPool2d(2), ref.Flatten(),
                          ref.Linear(8 * 4 * 4, 9, rng=r))


def _too_big(seed=0):
    r = np.random.default_rng(seed)
    return ref.Sequential(ref.Flatten(), ref.Linear(64, 400, rng=r), ref.ReLU(), ref.Linear(400, 10, rng=r))


@pytest.mark.parametrize("name, wrong, hint", [
    ("residual_block", lambda width: _Residual(width, skip=False), "adds the INPUT x"),
    ("saliency_map", lambda model, image, label: _saliency(model, image, label)[None], "drop the batch"),
    ("saliency_map", lambda model, image, label: _saliency(model, image, (label + 1) % 6), "SCORE (logit)"),
    ("build_cnn", _nine_classes, "Linear(..., 10)"),
    ("build_cnn", _too_big, "model.num_params()"),
    ("fit", lambda model, tl, vl, epochs=3, lr=3e-3: {k: v for k, v in _fit(model, tl, vl, epochs, lr).items()
                                                      if k != "val_acc"}, "five keys"),
    ("fit", lambda model, tl, vl, epochs=3, lr=3e-3: _fit(model, tl, vl, epochs, lr, zero_grad=False),
     "zero the gradients"),
])
def test_a_judged_spec_fails_a_plausible_bug_with_its_hint(name, wrong, hint):
    with pytest.raises(checks.CheckFailed) as failed:
        check(name, wrong)
    assert hint in " ".join(str(failed.value).split()), str(failed.value)


def test_the_maxpool_check_calls_without_stride_once():
    calls = []

    def spy(x, kernel_size, *args, **kwargs):
        calls.append(bool(args or kwargs))
        return ref.maxpool2d_forward(x, kernel_size, *args, **kwargs)

    check("maxpool2d_forward", spy)
    assert calls.count(False) == 1
    assert any(c["stride"] > c["kernel_size"] for s in SEEDS for c in get("maxpool2d_forward").cases(s))
