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
