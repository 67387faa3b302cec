"""Naming the student's misconception (``Exercise.mistakes``, ``course_utils.exercises.diagnose``).

Each known mistake is written here once more as a student would write it (loops, or torch where the spec's
own wrong output uses the course's reference), independently of the spec's wrong-output function: it fails
the self-check with its "Diagnosis: ..." line, and the hidden tests' judge (``verify.judge_file``) names it
on its saved outputs. The course's implementation is never diagnosed, and a wrong answer that matches no
known mistake is not named.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_tools.grading import verify
from course_utils import checks
from course_utils import reference as ref
from course_utils.exercises import EXERCISES, Variants, check, diagnose, get
from course_utils.exercises.core import as_arrays, low_dtype, with_diagnosis

SEED = 1301


# ---------------------------------------------------------------- student-style wrong implementations
def _conv(x, w, b=None, stride=1, padding=0, flip=False, bias=True, channels=None, one_side=False, strided=True):
    """A loop convolution with one switch per mistake."""
    N, C, H, W = x.shape
    F_, _, KH, KW = w.shape
    if one_side:  # the padded array's top-left corner holds x: all 2 * padding zeros after it
        xp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
        xp[:, :, :H, :W] = x
    else:
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    s = stride if strided else 1
    out = np.zeros((N, F_, Ho, Wo))
    for f in range(F_):
        k = w[f, :, ::-1, ::-1] if flip else w[f]
        for i in range(Ho):
            for j in range(Wo):
                patch = xp[:, :, i * s:i * s + KH, j * s:j * s + KW]
                c = slice(None) if channels is None else slice(0, channels)
                out[:, f, i, j] = (patch[:, c] * k[c]).sum(axis=(1, 2, 3))
                if b is not None and bias:
                    out[:, f, i, j] += b[f]
    return out


def _windows(x, k, stride):
    H, W = x.shape[2:]
    for i in range((H - k) // stride + 1):
        for j in range((W - k) // stride + 1):
            yield i, j, slice(i * stride, i * stride + k), slice(j * stride, j * stride + k)


def _pool_forward(reduce, strided=True):
    def pool(x, kernel_size, stride=None):
        stride = stride or kernel_size
        H, W = x.shape[2:]
        out = np.zeros((*x.shape[:2], (H - kernel_size) // stride + 1, (W - kernel_size) // stride + 1))
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                r, c = (i * stride, j * stride) if strided else (i, j)
                out[:, :, i, j] = reduce(x[:, :, r:r + kernel_size, c:c + kernel_size], axis=(2, 3))
        return out

    return pool


def _ceil_pool(torch_pool):
    def pool(x, kernel_size, stride=None):
        return torch_pool(torch.tensor(x), kernel_size, stride or kernel_size, ceil_mode=True).numpy()

    return pool


def _maxpool_backward(ties=False, assign=False):
    def backward(dout, x, kernel_size, stride):
        dx = np.zeros_like(x)
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for i, j, rows, cols in _windows(x, kernel_size, stride):
                    window = x[n, c, rows, cols]
                    if ties:
                        dx[n, c, rows, cols] += (window == window.max()) * dout[n, c, i, j]
                        continue
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    if assign:
                        dx[n, c, rows.start + a, cols.start + b] = dout[n, c, i, j]
                    else:
                        dx[n, c, rows.start + a, cols.start + b] += dout[n, c, i, j]
        return dx

    return backward


def _avgpool_backward(divide=True, assign=False):
    def backward(dout, x, kernel_size, stride):
        dx = np.zeros_like(x)
        for i, j, rows, cols in _windows(x, kernel_size, stride):
            share = dout[:, :, i, j, None, None] / (kernel_size**2 if divide else 1)
            if assign:
                dx[:, :, rows, cols] = share
            else:
                dx[:, :, rows, cols] += share
        return dx

    return backward


def _conv_backward(dx_filters=None, dw_images=None, db_batch=True):
    """Loops: dx from the first ``dx_filters`` filters, dw from the first ``dw_images`` images, db per image 0."""
    def backward(dout, x, w, stride=1, padding=0):
        N, C, H, W = x.shape
        F_, _, KH, KW = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        dxp, dw = np.zeros_like(xp), np.zeros_like(w)
        for n in range(N):
            for f in range(F_):
                for i in range(dout.shape[2]):
                    for j in range(dout.shape[3]):
                        rows, cols = slice(i * stride, i * stride + KH), slice(j * stride, j * stride + KW)
                        if dx_filters is None or f < dx_filters:
                            dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                        if dw_images is None or n < dw_images:
                            dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
        db = dout.sum(axis=(0, 2, 3)) if db_batch else dout[0].sum(axis=(1, 2))
        return dxp[:, :, padding:padding + H, padding:padding + W], dw, db

    return backward


def _rf(jump_first=False, plus_k=False, sizes_only=False):
    def receptive_field(layers):
        size, jump, start, out = 1, 1, 0.0, []
        for k, s, p in layers:
            if jump_first:
                jump *= s
            size += k if plus_k else (k - 1) * jump
            start += ((k - 1) / 2 - p) * (jump if jump_first else jump)
            if not jump_first:
                jump *= s
            out.append(size if sizes_only else (size, jump, start))
        return out

    return receptive_field


def _fgsm(sign=1.0, clamp=True):
    def fgsm(model, x, y, eps):
        x = x.clone().requires_grad_(True)
        F.cross_entropy(model(x), y).backward()
        adv = x.detach() + sign * eps * x.grad.sign()
        return adv.clamp(0, 1) if clamp else adv

    return fgsm


def _train(zero_grad=True, validate_on_train=False):
    def train(model, X_train, y_train, X_val, y_val, epochs, lr, batch_size=32, on_epoch_end=None):
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        history = {k: [] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")}
        if validate_on_train:
            X_val, y_val = X_train, y_train
        n = len(y_train)
        for epoch in range(1, epochs + 1):
            model.train()
            order, total, correct = torch.randperm(n), 0.0, 0
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                logits = model(X_train[idx])
                loss = F.cross_entropy(logits, y_train[idx])
                if zero_grad:
                    opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                correct += (logits.argmax(1) == y_train[idx]).sum().item()
            model.eval()
            with torch.no_grad():
                logits = model(X_val)
                history["val_loss"].append(F.cross_entropy(logits, y_val).item())
                history["val_acc"].append((logits.argmax(1) == y_val).float().mean().item())
            history["epoch"].append(epoch)
            history["train_loss"].append(total / n)
            history["train_acc"].append(correct / n)
            if on_epoch_end is not None:
                on_epoch_end(history)
        return history

    return train


def _count_correct(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).sum().item()


#: (exercise or item id, mistake id, a student's wrong implementation)
WRONG = [
    ("a1_conv_output_size", "ceil_not_floor", lambda size, kernel_size, stride=1, padding=0:
     math.ceil((size + 2 * padding - kernel_size) / stride) + 1),
    ("a1_conv_output_size", "padding_counted_once", lambda size, kernel_size, stride=1, padding=0:
     (size + padding - kernel_size) // stride + 1),
    ("a1_conv2d_forward", "flipped_kernel", lambda x, w, b=None, stride=1, padding=0: _conv(x, w, b, stride, padding,
                                                                                           flip=True)),
    ("a1_conv2d_forward", "no_bias", lambda x, w, b=None, stride=1, padding=0: _conv(x, w, b, stride, padding,
                                                                                    bias=False)),
    ("a1_conv2d_forward", "first_channel_only", lambda x, w, b=None, stride=1, padding=0: _conv(
        x, w, b, stride, padding, channels=1)),
    ("a1_conv2d_forward", "one_sided_padding", lambda x, w, b=None, stride=1, padding=0: _conv(
        x, w, b, stride, padding, one_side=True)),
    ("a1_conv2d_forward", "stride_ignored", lambda x, w, b=None, stride=1, padding=0: _conv(
        x, w, b, stride, padding, strided=False)),
    ("a2_maxpool2d_forward", "stride_ignored", _pool_forward(np.max, strided=False)),
    ("a2_maxpool2d_forward", "partial_windows", _ceil_pool(F.max_pool2d)),
    ("a2_avgpool2d_forward", "stride_ignored", _pool_forward(np.mean, strided=False)),
    ("a2_avgpool2d_forward", "partial_windows", _ceil_pool(F.avg_pool2d)),
    ("a2_maxpool2d_backward", "every_tied_maximum", _maxpool_backward(ties=True)),
    ("a2_maxpool2d_backward", "assigned_not_accumulated", _maxpool_backward(assign=True)),
    ("a2_avgpool2d_backward", "not_divided", _avgpool_backward(divide=False)),
    ("a2_avgpool2d_backward", "assigned_not_accumulated", _avgpool_backward(assign=True)),
    ("a2_conv2d_backward", "dx_first_filter_only", _conv_backward(dx_filters=1)),
    ("a2_conv2d_backward", "dw_first_image_only", _conv_backward(dw_images=1)),
    ("a2_conv2d_backward", "db_no_batch_sum", _conv_backward(db_batch=False)),
    ("a2_receptive_field", "jump_updated_before_use", _rf(jump_first=True)),
    ("a2_receptive_field", "plus_k", _rf(plus_k=True)),
    ("receptive_field_sizes", "jump_updated_before_use", _rf(jump_first=True, sizes_only=True)),
    ("receptive_field_sizes", "plus_k", _rf(plus_k=True, sizes_only=True)),
    ("a2_tied_weight_gradient", "first_position_only", lambda x, dout, kernel_size: dout[0] * x[:kernel_size]),
    ("a2_tied_weight_gradient", "not_summed", lambda x, dout, kernel_size: np.array(
        [dout[i] * x[i:i + kernel_size] for i in range(len(dout))])),
    ("a3_accuracy", "count_not_fraction", _count_correct),
    ("a3_fgsm", "wrong_sign", _fgsm(sign=-1.0)),
    ("a3_fgsm", "not_clipped", _fgsm(clamp=False)),
    ("a3_train", "no_zero_grad", _train(zero_grad=False)),
    ("a3_train", "validated_on_training_set", _train(validate_on_train=True)),
]


def _save(item, fn, path, seed=SEED):
    """What a hidden test saves (``verify.check``): every case's outputs and dtypes, and the seed."""
    spec, outputs = get(item), {}
    for i, case in enumerate(spec.cases(seed)):
        for j, (arr, dtype) in enumerate(as_arrays(spec.call(fn, case))):
            outputs[f"c{i}_{j}"], outputs[f"dtype_c{i}_{j}"] = arr, np.array(dtype)
    np.savez(path, seed=np.array(seed), **outputs)
    return str(path)


def _sentence(item, mistake_id):
    return next(m for m in get(item).mistakes if m.id == mistake_id).diagnosis


def test_every_listed_mistake_is_tested():
    listed = {(get(item).name, mistake) for item, mistake, _ in WRONG}
    known = {(name, m.id) for name, ex in EXERCISES.items() for m in ex.mistakes}
    untested = known - listed
    # the few known mistakes without a student's version here are tested through their wrong output below
    assert untested <= {("fgsm", "unchanged"), ("fgsm", "no_sign"), ("train", "no_step"),
                        ("receptive_field", "jump_ignored"), ("receptive_field_sizes", "jump_ignored")}, untested


@pytest.mark.parametrize("item, mistake, wrong", WRONG, ids=[f"{i}-{m}" for i, m, _ in WRONG])
def test_a_known_mistake_is_named_by_the_check_and_by_the_judge(item, mistake, wrong, tmp_path):
    sentence = _sentence(item, mistake)
    with pytest.raises(checks.CheckFailed) as failed:
        check(item, wrong)
    message = str(failed.value)
    assert "Diagnosis: " + " ".join(sentence.split()[:4]) in " ".join(message.split()), message
    assert " ".join(sentence.split()) in " ".join(message.split()), message
    lines = message.splitlines()
    diagnosis = next(i for i, line in enumerate(lines) if line.startswith("Diagnosis: "))
    assert lines[-1].startswith("Hint:") or any(line.startswith("Hint:") for line in lines[diagnosis:]), message
    assert all(len(line) <= checks.WIDTH for line in lines), message

    path = _save(item, wrong, tmp_path / "outputs.npz")
    problem = verify.judge_file(item, path)
    assert problem and f"[mistake: {mistake}]" in problem and sentence in problem, problem
    assert verify.mistake_in(problem) == mistake
    assert verify.judge(item, path) == (problem, mistake)


@pytest.mark.parametrize("name", sorted(n for n, ex in EXERCISES.items() if ex.mistakes and ex.reference))
def test_each_mistake_differs_from_the_reference_and_the_reference_is_never_diagnosed(name):
    ex = get(name)
    cases = [*ex.examples(), *ex.cases(0), *ex.cases(SEED)]
    for case in cases:
        got = as_arrays(ex.reference(case))
        assert diagnose(ex, case, [a for a, _ in got], low_dtype(d for _, d in got)) is None, case
    for mistake in ex.mistakes:
        if mistake.output is None:
            continue
        differs = 0
        for case in cases:
            outputs = mistake.output(case)
            for wrong in outputs if isinstance(outputs, Variants) else (outputs,):
                wrong_arrays = [a for a, _ in as_arrays(wrong)]
                differs += ex.verdict(case, wrong_arrays) is not None
                if ex.verdict(case, wrong_arrays) is not None:  # its own wrong output is diagnosed as itself
                    assert diagnose(ex, case, wrong_arrays) in (mistake, *ex.mistakes[:ex.mistakes.index(mistake)])
        assert differs, f"{name}: {mistake.id} never differs from the reference"


def test_the_courses_implementations_trigger_no_diagnosis(tmp_path, capsys):
    check("a1_conv2d_forward", ref.conv2d_forward_naive)
    check("a2_conv2d_backward", ref.conv2d_backward_naive)
    check("a2_tied_weight_gradient", lambda x, dout, kernel_size: get("tied_weight_gradient").reference(
        dict(x=x, dout=dout, kernel_size=kernel_size)))
    assert capsys.readouterr().out.count("OK: ") == 3
    right = lambda x, w, b=None, stride=1, padding=0: _conv(x, w, b, stride, padding)  # noqa: E731
    assert verify.judge("a1_conv2d_forward", _save("a1_conv2d_forward", right, tmp_path / "o.npz")) == (None, None)


def test_the_judged_mistakes_without_a_students_version_are_named_by_their_symptom():
    fgsm = get("fgsm")
    case = next(c for c in fgsm.cases(SEED) if c["eps"] > 0)
    for mistake in fgsm.mistakes:
        outputs = mistake.output(case)
        wrong = outputs[0] if isinstance(outputs, Variants) else outputs
        assert diagnose(fgsm, case, [a for a, _ in as_arrays(wrong)]) is mistake
    rf = get("receptive_field")
    case = dict(layers=[(3, 2, 1), (3, 1, 1)])
    jump_ignored = rf.mistakes[-1]
    assert diagnose(rf, case, [jump_ignored.output(case)[0]]) is jump_ignored


WRONG_BUT_UNKNOWN = [
    ("a1_conv2d_forward", lambda x, w, b=None, stride=1, padding=0: 2 * _conv(x, w, b, stride, padding)),
    ("a1_conv2d_forward", lambda x, w, b=None, stride=1, padding=0: _conv(x, w, b, stride, padding, flip=True,
                                                                         bias=False)),  # two mistakes at once
    ("a2_maxpool2d_forward", _pool_forward(np.min)),
    ("a2_avgpool2d_backward", lambda dout, x, kernel_size, stride: np.ones_like(x)),
    ("a2_conv2d_backward", lambda dout, x, w, stride=1, padding=0: tuple(
        -g for g in _conv_backward()(dout, x, w, stride, padding))),
    ("a1_conv_output_size", lambda size, kernel_size, stride=1, padding=0: size // stride),
    ("a3_accuracy", lambda model, x, y: 1.0 - _count_correct(model, x, y) / len(y)),
]


@pytest.mark.parametrize("item, wrong", WRONG_BUT_UNKNOWN, ids=[f"{i}-{n}" for n, (i, _) in
                                                                 enumerate(WRONG_BUT_UNKNOWN)])
def test_a_wrong_answer_that_matches_no_known_mistake_is_not_named(item, wrong, tmp_path):
    with pytest.raises(checks.CheckFailed) as failed:
        check(item, wrong)
    assert "Diagnosis" not in str(failed.value)
    verdict = verify.judge(item, _save(item, wrong, tmp_path / "o.npz"))
    assert verdict.problem and verdict.mistake is None and "[mistake:" not in verdict.problem


def test_the_hidden_test_names_the_mistake_from_its_clean_process(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flipped = next(w for i, m, w in WRONG if m == "flipped_kernel")
    with pytest.raises(AssertionError) as failed:
        verify.check("a1_conv2d_forward", flipped, seed=SEED)
    assert verify.mistake_in(str(failed.value)) == "flipped_kernel", str(failed.value)
    assert "Diagnosis: your output equals a convolution with the kernel flipped" in str(failed.value)


def test_the_diagnosis_line_goes_before_the_hint_within_the_width():
    mistake = get("conv2d_forward").mistakes[0]
    text = with_diagnosis("conv2d_forward: case\n  expected: 1\n  got:      2\nHint: slide", mistake)
    lines = text.splitlines()
    assert lines[3].startswith("Diagnosis: your output") and lines[-1] == "Hint: slide"
    assert all(len(line) <= checks.WIDTH for line in lines)
    assert with_diagnosis("a\nHint: b", None) == "a\nHint: b"


def test_the_class_csv_has_a_mistake_column_per_autograded_item_and_keeps_the_other_rows(tmp_path):
    from course_tools.grading.grade import Outcome, read_csv, write_csv

    path = str(tmp_path / "scores.csv")
    ann = Outcome("ann", "a1", scores={"a1_conv2d_forward": 0.0, "a1_written": None},
                  max_scores={"a1_conv2d_forward": 2.0, "a1_written": 3.0}, mistakes={"a1_conv2d_forward": "no_bias"})
    bob = Outcome("bob", "a1", scores={"a1_conv2d_forward": 2.0, "a1_written": 1.0},
                  max_scores={"a1_conv2d_forward": 2.0, "a1_written": 3.0}, mistakes={"a1_conv2d_forward": ""})
    write_csv([ann, bob], path)
    columns, rows = read_csv(path)
    assert columns == ["a1_conv2d_forward", "a1_conv2d_forward mistake", "a1_written"]
    assert rows["ann", "a1"]["a1_conv2d_forward mistake"] == "no_bias"
    assert rows["bob", "a1"]["a1_conv2d_forward mistake"] == ""
    assert rows["ann", "a1"]["to grade by hand"] == "a1_written" and float(rows["bob", "a1"]["total"]) == 3.0
    bob.scores["a1_conv2d_forward"], bob.mistakes["a1_conv2d_forward"] = 0.0, "flipped_kernel"
    write_csv([bob], path)  # grading one student again keeps the others' rows and their mistakes
    _, rows = read_csv(path)
    assert rows["ann", "a1"]["a1_conv2d_forward mistake"] == "no_bias"
    assert rows["bob", "a1"]["a1_conv2d_forward mistake"] == "flipped_kernel"


@pytest.mark.parametrize("name", sorted(n for n, ex in EXERCISES.items() if ex.mistakes))
def test_each_mistake_has_a_short_id_and_one_sentence(name):
    ids = [m.id for m in get(name).mistakes]
    assert len(set(ids)) == len(ids) and all(i.isidentifier() and i == i.lower() for i in ids), ids
    for m in get(name).mistakes:
        assert (m.output is None) != (m.matches is None), m.id
        assert ". " not in m.diagnosis and not m.diagnosis.endswith(".") and len(m.diagnosis) < 200, m.diagnosis


def test_a_mistake_is_read_back_from_a_self_checks_message():
    """`make grade` records the mistake a failed visible check named (its hidden test never ran): the message
    as a notebook shows it, wrapped and cut short, gives back the mistake; a message without one gives None."""
    from course_utils.exercises import check, get, mistake_named_in

    def flipped(x, w, b=None, stride=1, padding=0):
        from course_utils.reference import conv2d_forward

        return conv2d_forward(x, w[:, :, ::-1, ::-1].copy(), b, stride=stride, padding=padding)

    with pytest.raises(AssertionError) as failed:
        check("conv2d_forward", flipped)
    message = str(failed.value)
    assert mistake_named_in(get("a1_conv2d_forward"), message).id == "flipped_kernel"
    cut = message[: message.index("Diagnosis:") + 70] + " …"  # as nbgrader's feedback cuts a long message
    assert mistake_named_in(get("a1_conv2d_forward"), cut).id == "flipped_kernel"
    assert mistake_named_in(get("a1_conv2d_forward"), message.split("Diagnosis:")[0]) is None
