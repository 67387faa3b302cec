"""Naming the student's misconception (``Exercise.mistakes``, ``course_utils.exercises.diagnose``).

Each known mistake of an assignment is written once as a student would write it, as source text
(``student_mistakes.SOURCES``: loops, NumPy only where the assignment says so), independently of the spec's
wrong-output function: it fails the self-check with its "Diagnosis: ..." line, and the hidden tests' judge
(``verify.judge_file``) names it on its saved outputs (a mistake that makes the function raise: the hidden
test names it from the error). The same sources are graded through ``make grade`` in
``test_grading_mistakes.py``. The course's implementation and a student's right answer are never diagnosed,
and a wrong answer that matches no known mistake is not named.
"""

from __future__ import annotations

import numpy as np
import pytest
import student_mistakes
from student_mistakes import CORRECT, SOURCES

from course_tools.grading import verify
from course_utils import checks
from course_utils import reference as ref
from course_utils.exercises import EXERCISES, ITEMS, Variants, check, diagnose, get
from course_utils.exercises.core import as_arrays, low_dtype, with_diagnosis

SEED = 1301


# ---------------------------------------------------------------- a notebook-only exercise's wrong versions
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


#: (exercise or item id, mistake id, a student's wrong implementation): every assignment item's known mistake
#: from its source text (``student_mistakes``), then the notebook-only exercises'
WRONG = [
    *((item, mistake, student_mistakes.function(item, mistake)) for item, mistake in SOURCES),
    ("receptive_field_sizes", "jump_updated_before_use", _rf(jump_first=True, sizes_only=True)),
    ("receptive_field_sizes", "plus_k", _rf(plus_k=True, sizes_only=True)),
]


def _mistake(item, mistake_id):
    return next(m for m in get(item).mistakes if m.id == mistake_id)


def _save(item, fn, path, seed=SEED):
    """What a hidden test saves (``verify.check``): every case's outputs and dtypes, and the seed."""
    spec, outputs = get(item), {}
    for i, case in enumerate(spec.cases(seed)):
        for j, (arr, dtype) in enumerate(as_arrays(spec.call(fn, case))):
            outputs[f"c{i}_{j}"], outputs[f"dtype_c{i}_{j}"] = arr, np.array(dtype)
    np.savez(path, seed=np.array(seed), **outputs)
    return str(path)


def test_every_listed_mistake_is_tested():
    listed = {(get(item).name, mistake) for item, mistake, _ in WRONG}
    known = {(name, m.id) for name, ex in EXERCISES.items() for m in ex.mistakes}
    untested = known - listed
    # the one known mistake without a student's version here is tested through its wrong output below
    assert untested <= {("receptive_field_sizes", "jump_ignored")}, untested
    # every mistake of an assignment item has a student's source, and nothing else does
    assert set(SOURCES) == {(item, m.id) for item in ITEMS for m in get(item).mistakes}


@pytest.mark.parametrize("item, mistake, wrong", WRONG, ids=[f"{i}-{m}" for i, m, _ in WRONG])
def test_a_known_mistake_is_named_by_the_check_and_by_the_judge(item, mistake, wrong, tmp_path, monkeypatch):
    known = _mistake(item, mistake)
    sentence = known.diagnosis
    with pytest.raises(checks.CheckFailed) as failed:
        check(item, wrong)
    message = str(failed.value)
    assert "Diagnosis: " + " ".join(sentence.split()[:4]) in " ".join(message.split()), message
    assert " ".join(sentence.split()) in " ".join(message.split()), message
    lines = message.splitlines()
    diagnosis = next(i for i, line in enumerate(lines) if line.startswith("Diagnosis: "))
    if known.raised is None:  # (a function that raised: the error and the diagnosis, no hint)
        assert lines[-1].startswith("Hint:") or any(line.startswith("Hint:") for line in lines[diagnosis:]), message
    assert all(len(line) <= checks.WIDTH for line in lines), message

    if known.raised is not None:  # no outputs to save: the hidden test names the mistake from the error
        monkeypatch.chdir(tmp_path)
        with pytest.raises(AssertionError) as hidden:
            verify.check(item, wrong, seed=SEED)
        problem = str(hidden.value)
        assert verify.mistake_in(problem) == mistake and sentence in problem, problem
        return
    path = _save(item, wrong, tmp_path / "outputs.npz")
    problem = verify.judge_file(item, path)
    assert problem and f"[mistake: {mistake}]" in problem and sentence in problem, problem
    assert verify.mistake_in(problem) == mistake
    assert verify.judge(item, path) == (problem, mistake)


@pytest.mark.parametrize("item", sorted(CORRECT))
def test_a_students_right_answer_passes_and_is_not_diagnosed(item, tmp_path, capsys):
    """The answer each mistake is one edit of (``student_mistakes.CORRECT``) passes the self-check and the
    judge, with no diagnosis."""
    right = student_mistakes.function(item)
    check(item, right)
    assert capsys.readouterr().out.startswith("OK: ")
    assert verify.judge(item, _save(item, right, tmp_path / "o.npz")) == (None, None)


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
    path = _save("a1_conv2d_forward", ref.conv2d_forward_naive, tmp_path / "o.npz")
    assert verify.judge("a1_conv2d_forward", path) == (None, None)


def test_the_judged_mistake_without_a_students_version_is_named_by_its_symptom():
    sizes = get("receptive_field_sizes")
    case = dict(layers=[(3, 2, 1), (3, 1, 1)])
    jump_ignored = _mistake("receptive_field_sizes", "jump_ignored")
    assert diagnose(sizes, case, [jump_ignored.output(case)[0]]) is jump_ignored


_conv_forward = student_mistakes.function("a1_conv2d_forward")
_conv_backward = student_mistakes.function("a2_conv2d_backward")
_accuracy = student_mistakes.function("a3_accuracy")

WRONG_BUT_UNKNOWN = [
    ("a1_conv2d_forward", lambda x, w, b=None, stride=1, padding=0: 2 * _conv_forward(x, w, b, stride, padding)),
    ("a1_conv2d_forward", student_mistakes.define("a1_conv2d_forward", student_mistakes.combined(
        "a1_conv2d_forward", "flipped_kernel", "no_bias"))),  # two mistakes at once
    ("a2_maxpool2d_forward", student_mistakes.define("a2_maxpool2d_forward", CORRECT["a2_maxpool2d_forward"].replace(
        "window.max(", "window.min("))),
    ("a2_avgpool2d_backward", lambda dout, x, kernel_size, stride: np.ones_like(x)),
    ("a2_conv2d_backward", lambda dout, x, w, stride=1, padding=0: tuple(
        -g for g in _conv_backward(dout, x, w, stride, padding))),
    ("a1_conv_output_size", lambda size, kernel_size, stride=1, padding=0: size // stride),
    ("a3_accuracy", lambda model, x, y: 1.0 - _accuracy(model, x, y)),
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
        assert sum(f is not None for f in (m.output, m.matches, m.raised)) == 1, m.id
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
