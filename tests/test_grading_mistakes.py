"""Every known mistake of the assignments, graded as `make grade` grades it: named in the student's feedback,
in the ``<item> mistake`` column of ``scores.csv`` and in the class report; a right answer triggers none.

The wrong answers are the student-written sources of ``student_mistakes.SOURCES``, put into the release's
answer cells (the other answers: the instructor's). Items are judged alone (``judged_alone``), so submission k
of an assignment carries the k-th mistake of each of its items at once: an assignment needs as many
submissions as its item with the most mistakes, plus one right one (``student_mistakes.CORRECT`` for the items
with mistakes). All of them are graded in one ``grade_all`` run.
"""

from __future__ import annotations

import csv
import json
import time

import pytest
from student_mistakes import CORRECT, FUNCTIONS, SOURCES, answer_cell, replace_function
from test_nbgrader_grading import REPO, SECRET, _solutions, _submission

from course_tools.grading.grade import grade_all
from course_tools.grading.release import source_assignments
from course_utils.exercises import get

from suite_helpers import course_copy

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow, pytest.mark.timeout(900)]

ASSIGNMENTS = source_assignments(str(REPO))
CORRECT_STUDENT = "right_answers"


def _student(k: int) -> str:
    return f"mistakes_{k + 1}"


def _plan() -> dict[tuple[str, str], dict[str, str | None]]:
    """{(student, assignment): {item: the mistake its answer makes (None: right)}} for the fewest submissions."""
    by_item = {}
    for item, mistake in SOURCES:
        by_item.setdefault(item, []).append(mistake)
    plan = {}
    for aid in ASSIGNMENTS:
        items = {item: mistakes for item, mistakes in by_item.items() if item.startswith(aid + "_")}
        if not items:
            continue
        for k in range(max(len(m) for m in items.values())):
            plan[_student(k), aid] = {item: (m[k] if k < len(m) else None) for item, m in items.items()}
        plan[CORRECT_STUDENT, aid] = dict.fromkeys(items)
    return plan


PLAN = _plan()
#: (student, assignment, item, mistake) for every known mistake of an assignment item
MISTAKES = [(student, aid, item, mistake) for (student, aid), chosen in PLAN.items()
            for item, mistake in chosen.items() if mistake]


def _notebook(aid: str, chosen: dict):
    """The release of ``aid`` answered by the instructor, but for ``chosen``'s items: the student's sources."""
    answers = _solutions(aid)
    for item, mistake in chosen.items():
        cell = answer_cell(item)
        source = CORRECT[item] if mistake is None else SOURCES[item, mistake]
        answers[cell] = replace_function(answers[cell], FUNCTIONS[item], source)
    return _submission(aid, answers)


def _soup(path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _text(element) -> str:
    return " ".join(element.get_text(" ").split())


def _feedback(root, student, aid):
    return _soup(root / "grading" / "feedback" / student / aid / f"{aid}.html")


def _cell(page, grade_id):
    """The feedback's cell of ``grade_id`` (its source and outputs)."""
    return page.find("a", attrs={"name": grade_id}).find_parent("div", class_="code_cell")


def _squeezed(text: str) -> str:
    """``text`` without any whitespace (the feedback wraps a message at spaces and hyphens)."""
    return "".join(text.split())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = course_copy(tmp_path_factory.mktemp("course"), SECRET)
    for (student, aid), chosen in PLAN.items():
        folder = root / "grading" / "submitted" / student / aid
        folder.mkdir(parents=True)
        (folder / f"{aid}.ipynb").write_text(json.dumps(_notebook(aid, chosen), indent=1), encoding="utf-8")
    lines = []
    start = time.monotonic()
    outcomes = grade_all(str(root), workers=2, timeout=150, cell_timeout=30, echo=lines.append)
    print("\n".join(lines), f"\n{len(PLAN)} submissions graded in {time.monotonic() - start:.1f} s")
    rows = {(r["student"], r["assignment"]): r
            for r in csv.DictReader((root / "grading" / "scores.csv").open(encoding="utf-8"))}
    return root, {(o.student, o.assignment): o for o in outcomes}, rows


def test_the_fewest_submissions_carry_every_mistake():
    assert sorted((item, m) for _, _, item, m in MISTAKES) == sorted(SOURCES)
    for aid in {aid for _, aid in PLAN}:
        items = {i for i, _ in SOURCES if i.startswith(aid + "_")}
        most = max(sum(i == item for i, _ in SOURCES) for item in items)
        assert sum(a == aid for _, a in PLAN) == most + 1, "one submission per mistake of the item with the most"


@pytest.mark.parametrize("student, aid, item, mistake", MISTAKES, ids=[f"{i}-{m}" for _, _, i, m in MISTAKES])
def test_a_mistake_is_named_in_the_csv_the_feedback_and_the_class_report(graded, student, aid, item, mistake):
    root, outcomes, rows = graded
    outcome, row = outcomes[student, aid], rows[student, aid]
    assert outcome.status == "ok", (outcome.status, outcome.messages)
    assert row[f"{item} mistake"] == mistake, (row[f"{item} mistake"], outcome.messages)
    assert outcome.scores[item] == 0.0 and float(row[item]) == 0.0, outcome.messages
    sentence = next(m for m in get(item).mistakes if m.id == mistake).diagnosis
    cell = _text(_cell(_feedback(root, student, aid), item))
    assert "Diagnosis:" in cell and _squeezed(sentence) in _squeezed(cell), f"{mistake} not in the feedback: {cell}"
    report = _soup(root / "grading" / "report.html")
    assert report.select(f'tr[data-item="{item}"][data-mistake="{mistake}"]'), f"{item}: {mistake} not in the report"


@pytest.mark.parametrize("student, aid", sorted(PLAN))
def test_every_other_item_keeps_its_points_and_no_mistake(graded, student, aid):
    """A right answer (every item of the right submission, and the items past their last mistake) gets full
    marks and no diagnosis; a mistake costs its own item only."""
    _, outcomes, rows = graded
    outcome, row = outcomes[student, aid], rows[student, aid]
    wrong = {item for item, mistake in PLAN[student, aid].items() if mistake}
    for item, points in outcome.max_scores.items():
        if item.endswith("_written") or item in wrong:
            continue
        assert outcome.scores[item] == points, (item, outcome.messages)
        assert row.get(f"{item} mistake", "") == "", (item, row.get(f"{item} mistake"))


@pytest.mark.parametrize("aid", sorted({aid for _, aid in PLAN}))
def test_right_answers_get_full_marks_and_no_diagnosis(graded, aid):
    root, outcomes, rows = graded
    outcome, row = outcomes[CORRECT_STUDENT, aid], rows[CORRECT_STUDENT, aid]
    auto = {k: v for k, v in outcome.max_scores.items() if not k.endswith("_written")}
    assert outcome.status == "ok" and {k: outcome.scores[k] for k in auto} == auto, outcome.messages
    assert not any(v for k, v in row.items() if k.endswith(" mistake")), row
    assert "Diagnosis:" not in _text(_feedback(root, CORRECT_STUDENT, aid))
