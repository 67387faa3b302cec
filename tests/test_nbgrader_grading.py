"""nbgrader harness, round trip: submissions generated from the release are graded by `make grade`'s code
(``course_tools.grading.grade``) in one batch, and each gets the grade it deserves.

Solutions -> full marks; untouched releases -> 0; adversarial a1 submissions: noisy or
alternative-but-correct, plausibly wrong, tampering, calling the reference, looping, exiting, killing the
kernel, SyntaxError, deleted / duplicated / split / edited test cells, renamed notebook, stale grades.
"""

from __future__ import annotations

import concurrent.futures
import copy
import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from course_tools.grading.grade import grade_all, refresh_feedback
from course_tools.grading.release import source_assignments
from course_utils.exercises import get

from suite_helpers import course_copy

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = source_assignments(str(REPO))
A1_ITEMS = {"a1_fc_params": 1, "a1_lc_params": 1, "a1_conv_params": 1, "a1_conv_output_size": 2,
            "a1_conv2d_forward": 6, "a1_filterbank_design": 2, "a1_apply_filterbank": 2}


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _solutions(aid):
    """{solution grade id: the instructor's code without markers}."""
    out = {}
    for cell in _load(REPO / "solutions" / aid / f"{aid}.ipynb")["cells"]:
        if _meta(cell).get("solution") and cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            out[_meta(cell)["grade_id"]] = "\n".join(ln for ln in lines if "### " not in ln)
    return out


def _submission(aid, replace=None, extra_before=None, edit=None, extra_after=None):
    """The release of ``aid`` with the instructor's answers filled in, then ``replace``d / edited."""
    nb = _load(REPO / "assignments" / aid / f"{aid}.ipynb")
    answers = {**_solutions(aid), **(replace or {})}
    for cell in nb["cells"]:
        gid = _meta(cell).get("grade_id")
        if _meta(cell).get("solution") and cell["cell_type"] == "code" and gid in answers:
            cell["source"] = answers[gid]
    if extra_before:
        nb["cells"].insert(2, {"cell_type": "code", "id": "student-extra", "metadata": {}, "outputs": [],
                               "execution_count": None, "source": extra_before})
    if extra_after:
        nb["cells"].append({"cell_type": "code", "id": "student-extra-end", "metadata": {}, "outputs": [],
                            "execution_count": None, "source": extra_after})
    if edit:
        edit(nb)
    return nb


CONV_FLIPPED = _solutions("a1")["a1_conv2d_forward_solution"].replace("patch * w[f]", "patch * w[f, :, ::-1, ::-1]")
OUTPUT_SIZE_CEIL = "def conv_output_size(size, kernel_size, stride=1, padding=0):\n" \
    "    return -(-(size + 2 * padding - kernel_size) // stride) + 1\n"
CONV_ZEROS = """
def conv2d_forward(x, w, b=None, stride=1, padding=0):
    H = (x.shape[2] + 2 * padding - w.shape[2]) // stride + 1
    W = (x.shape[3] + 2 * padding - w.shape[3]) // stride + 1
    return np.zeros((x.shape[0], w.shape[0], H, W))
"""
CONV_VECTORISED = """
import warnings
from numpy.lib.stride_tricks import sliding_window_view

def conv2d_forward(x, w, b=None, stride=1, padding=0):
    warnings.warn("this is a vectorised conv", UserWarning)
    print("computing a conv")
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(x_pad, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("nchwij,fcij->nfhw", win, w)
    return out if b is None else out + np.asarray(b)[None, :, None, None]
"""
TAMPER = """
import math, builtins, sys
import numpy as np, numpy.testing
import course_utils.checks as checks
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
math.isclose = lambda *a, **k: True
for name in ("expect_equal", "expect_close", "expect_shape"):
    setattr(checks, name, lambda *a, **k: None)
expect_equal = expect_close = expect_shape = lambda *a, **k: None
ip = get_ipython()
ip.showtraceback = lambda *a, **k: None          # hide every error the tests raise
ip._showtraceback = lambda *a, **k: None
import course_tools.grading.verify as verify
verify.check = lambda *a, **k: None               # and disable the hidden checks
"""
REFERENCE_CALLER = {
    "a1_counting_solution": _solutions("a1")["a1_counting_solution"].replace(
        "def fully_connected_params(image_size, hidden_units, channels=1, bias=False):",
        "from course_utils.counting import fully_connected_params as _fc\n\n"
        "def fully_connected_params(image_size, hidden_units, channels=1, bias=False):\n"
        "    return _fc(image_size, hidden_units, channels, bias)\n\n"
        "def _unused(image_size, hidden_units, channels=1, bias=False):"),
    "a1_conv2d_forward_solution": "from course_utils.reference import conv2d_forward as _saved\n"
    "def conv2d_forward(x, w, b=None, stride=1, padding=0):\n    return _saved(x, w, b, stride, padding)\n",
    "a1_filterbank_solution": _solutions("a1")["a1_filterbank_solution"].replace(
        "responses = conv2d_forward(image[None, None], bank[:, None])[0]",
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "    responses = np.einsum('hwij,kij->khw', sliding_window_view(image, bank.shape[1:]), bank)"),
}


def _drop_tests(nb):
    nb["cells"] = [c for c in nb["cells"] if not (_meta(c).get("grade") and c["cell_type"] == "code")]


def _duplicate_and_split(nb):
    cells = []
    for c in nb["cells"]:
        gid = _meta(c).get("grade_id")
        if gid == "a1_conv2d_forward":
            cells += [copy.deepcopy(c), c]                       # duplicated test cell
        elif gid == "a1_fc_params":
            lines = "".join(c["source"]).splitlines(keepends=True)
            first, second = copy.deepcopy(c), copy.deepcopy(c)   # JupyterLab's split: same metadata twice
            first["source"], second["source"] = lines[:3], lines[3:]
            second["id"] = "split-2"
            cells += [first, second]
        elif gid == "a1_counting_solution":
            top, bottom = copy.deepcopy(c), c                     # split solution cell
            src = "".join(c["source"])
            cut = src.index("def locally_connected_params")
            top["source"], bottom["source"], top["id"] = src[:cut], src[cut:], "split-sol"
            cells += [top, bottom]
        else:
            cells.append(c)
    nb["cells"] = cells


def _edit_tests(nb):
    for c in nb["cells"]:
        if _meta(c).get("grade") and c["cell_type"] == "code":
            c["source"] = "pass  # the student emptied this test"
            if _meta(c)["grade_id"] == "a1_apply_filterbank":
                c["cell_type"] = "markdown"
                c.pop("outputs"), c.pop("execution_count")


def _tamper_metadata(nb):
    """What a notebook editor can do to nbgrader's cell metadata: flags off, points up, a grade id renamed."""
    for c in nb["cells"]:
        meta = _meta(c)
        if meta.get("grade_id") == "a1_conv_params":
            meta.update(grade=False, locked=False)
            c["source"] = "pass  # no longer a test cell"
        elif meta.get("grade_id") == "a1_fc_params":
            meta.update(grade_id="my_own_cell", points=200)
        elif meta.get("grade_id") == "a1_lc_params":
            meta.update(solution=True, points=50)


CONV_LOGS = _solutions("a1")["a1_conv2d_forward_solution"].replace(
    "def conv2d_forward(x, w, b=None, stride=1, padding=0):",
    "import logging\n\ndef conv2d_forward(x, w, b=None, stride=1, padding=0):\n"
    "    logging.warning('naive loops, this may take a while')", 1)
# what logging, warnings in any capitalisation, tqdm and print(file=sys.stderr) put on stderr
STDERR_NOISE = ("import sys, warnings\nprint('warning: lowercase', file=sys.stderr)\n"
                "sys.stderr.write('\\r 50%|#####     | 5/10 [00:01<00:01]')\n"
                "warnings.warn('careful', RuntimeWarning)")

SECRET = bytes(range(32))  # the course secret of the graded class (fixed: the harvester's cases are known)
# what a harvester has seen: the hidden cases of the instructor's base seed, and the visible check's cases
_CONV = get("a1_conv2d_forward")
HARVESTED = sorted(hashlib.sha1(case["x"].tobytes()).hexdigest() for case in
                   [*_CONV.cases(1301), *_CONV.examples(), *_CONV.cases(0)[: _CONV.checked_cases]])
HARVESTER = _solutions("a1")["a1_conv2d_forward_solution"].replace(
    "def conv2d_forward(x, w, b=None, stride=1, padding=0):",
    f"import hashlib\nSEEN = {HARVESTED!r}\n\n"
    "def conv2d_forward(x, w, b=None, stride=1, padding=0):\n"
    "    if hashlib.sha1(x.tobytes()).hexdigest() not in SEEN:\n"
    "        padding = min(padding, 1)  # wrong for padding 2 on the cases it has not seen", 1)
A3_ITEMS = {"a3_accuracy": 2, "a3_train": 6, "a3_fgsm": 3}
# a3: one mistake costs one item (train uses accuracy; fgsm's check trains a victim)
A3_CASES = {
    "a3_no_zero_grad": (_submission("a3", {"a3_train_solution": _solutions("a3")["a3_train_solution"].replace(
        "optimizer.zero_grad()\n", "")}), {**A3_ITEMS, "a3_train": 0}),
    "a3_accuracy_counts": (_submission("a3", {"a3_accuracy_solution": _solutions("a3")["a3_accuracy_solution"].replace(
        ".float().mean().item()", ".float().sum().item()")}), {**A3_ITEMS, "a3_accuracy": 0}),
}


def _broken_widget_state(nb):  # as some ipywidgets versions save it: no "state" key
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"version_major": 2,
                                                                               "version_minor": 0}}


FULL = dict(A1_ITEMS)
# student -> (notebook file name, notebook, expected status, {item: expected score} (missing items: 0))
CASES = {
    "noisy_alternative": (None, _submission("a1", {"a1_conv2d_forward_solution": CONV_VECTORISED},
                                            extra_before="import sys\nprint('hello')\n"
                                            "print('a DeprecationWarning on stderr', file=sys.stderr)"),
                          "ok", FULL),
    # only failing checks cost points: stderr output never does
    "logs_to_stderr": (None, _submission("a1", {"a1_conv2d_forward_solution": CONV_LOGS}, extra_after=STDERR_NOISE),
                       "ok", FULL),
    "widget_metadata": (None, _submission("a1", edit=_broken_widget_state), "ok", FULL),
    # a student who prints the inputs of their function must not see the hidden cases in feedback
    "prints_inputs": (None, _submission("a1", {"a1_conv2d_forward_solution": _solutions("a1")[
        "a1_conv2d_forward_solution"].replace("def conv2d_forward(x, w, b=None, stride=1, padding=0):",
                                              "def conv2d_forward(x, w, b=None, stride=1, padding=0):\n"
                                              "    print('HARVEST', x.shape, w.shape, stride, padding)", 1)}),
                      "ok", FULL),
    "plausibly_wrong": (None, _submission("a1", {"a1_conv2d_forward_solution": CONV_FLIPPED,
                                                 "a1_conv_output_size_solution": OUTPUT_SIZE_CEIL}),
                        "ok", {**FULL, "a1_conv2d_forward": 0, "a1_conv_output_size": 0}),
    "tamperer": (None, _submission("a1", {"a1_conv2d_forward_solution": CONV_ZEROS}, extra_before=TAMPER),
                 "ok", {**FULL, "a1_conv2d_forward": 0}),
    "reference_caller": (None, _submission("a1", REFERENCE_CALLER), "ok",
                         {**FULL, "a1_fc_params": 0, "a1_conv2d_forward": 0}),
    # the looping cell is interrupted at the per-cell limit and recorded as an error; the rest is graded
    "infinite_loop": (None, _submission("a1", extra_before="while True:\n    pass"), "ok", FULL),
    "sys_exit": (None, _submission("a1", extra_before="import sys\nsys.exit('bye')"), "ok", FULL),
    # a kernel that dies: the cells that ran keep their results, the rest are recorded as not run
    "kernel_killer": (None, _submission("a1", extra_before="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
                      "kernel died", {}),
    "late_exit": (None, _submission("a1", extra_after="import os\nos._exit(0)"), "kernel died", FULL),
    # each item is judged on its own: apply_filterbank (which calls conv2d_forward) keeps its points
    "syntax_error": (None, _submission("a1", {"a1_conv2d_forward_solution": "def conv2d_forward(x, w:\n    pass"}),
                     "ok", {**FULL, "a1_conv2d_forward": 0}),
    "deleted_tests": (None, _submission("a1", edit=_drop_tests), "ok", FULL),
    "duplicated_split": (None, _submission("a1", edit=_duplicate_and_split), "ok", FULL),
    "edited_tests": (None, _submission("a1", {"a1_conv2d_forward_solution": CONV_ZEROS}, edit=_edit_tests),
                     "ok", {**FULL, "a1_conv2d_forward": 0}),
    # right on the hidden cases of the instructor's base seed (harvested), wrong elsewhere: each student's
    # cases are their own
    "harvester": (None, _submission("a1", {"a1_conv2d_forward_solution": HARVESTER}), "ok",
                  {**FULL, "a1_conv2d_forward": 0}),
    "renamed": ("a1-Copy1.ipynb", _submission("a1"), "ok", FULL),
    # graded cells' metadata changed in the notebook: the gradebook's flags and cells are put back
    "tampered_metadata": (None, _submission("a1", edit=_tamper_metadata), "ok", FULL),
    "stale_then_stuck": (None, _submission("a1", extra_before=(
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)")),
        ("timeout", "error"), {}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = course_copy(tmp_path_factory.mktemp("course"), SECRET)
    submitted = root / "grading" / "submitted"

    def put(student, aid, nb, name=None):
        folder = submitted / student / aid
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        text = nb if isinstance(nb, str) else json.dumps(nb, indent=1)
        (folder / (name or f"{aid}.ipynb")).write_text(text, encoding="utf-8")

    # A first run gives "stale_then_stuck" full marks; its new submission must not keep them.
    put("stale_then_stuck", "a1", _submission("a1"))
    first = grade_all(str(root), students=["stale_then_stuck"], workers=1, echo=lambda *_: None)
    assert first[0].total == sum(A1_ITEMS.values()), first[0]
    for aid in ASSIGNMENTS:
        put("solution", aid, (REPO / "solutions" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
        put("untouched", aid, (REPO / "assignments" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
    for student, (name, nb, _, _) in CASES.items():
        put(student, "a1", nb, name)
    for student, (nb, _) in A3_CASES.items():
        put(student, "a3", nb)
    # one student, two spellings of the same name (NFD as macOS writes it, NFC): the NFD folder is renamed
    # to NFC when alone, refused when the NFC one exists
    put("zo\u0308e", "a1", _submission("a1"))
    put("bjo\u0308rn", "a1", _submission("a1"))
    put("bj\u00f6rn", "a1", _submission("a1"))
    (submitted / "no_notebook" / "a1").mkdir(parents=True)
    (submitted / "no_notebook" / "a1" / "notes.txt").write_text("forgot to upload")
    lines = []
    # limits sized for this suite (a3's solution takes ~20 s); a kernel that ignores interrupts uses all of it
    outcomes = grade_all(str(root), workers=2, timeout=150, cell_timeout=30, echo=lines.append)
    print("\n".join(lines))
    return root, {(o.student, o.assignment): o for o in outcomes}, lines


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_solution_gets_full_marks_and_release_gets_zero(graded, aid):
    _, outcomes, _ = graded
    sol, blank = outcomes["solution", aid], outcomes["untouched", aid]
    auto = {k: v for k, v in sol.max_scores.items() if not k.endswith("_written")}
    assert sol.status == "ok", sol
    assert {k: sol.scores[k] for k in auto} == auto, sol.messages
    assert sol.scores[f"{aid}_written"] is None, "the written answer waits for manual grading"
    assert blank.status == "ok" and blank.total == 0.0, blank


@pytest.mark.parametrize("student", sorted(CASES))
def test_adversarial_submission_gets_the_grade_it_deserves(graded, student):
    _, outcomes, _ = graded
    outcome = outcomes[student, "a1"]
    _, _, status, expected = CASES[student]
    assert outcome.status in ((status,) if isinstance(status, str) else status), (outcome.status, outcome.messages)
    got = {k: v for k, v in outcome.scores.items() if k in A1_ITEMS}
    assert got == {k: float(expected.get(k, 0)) for k in A1_ITEMS}, outcome.messages
    if outcome.status != "ok":
        assert outcome.messages, "the instructor must be told what happened"


@pytest.mark.parametrize("student", sorted(A3_CASES))
def test_one_mistake_costs_one_item(graded, student):
    _, outcomes, _ = graded
    outcome = outcomes[student, "a3"]
    got = {k: v for k, v in outcome.scores.items() if k in A3_ITEMS}
    assert got == {k: float(v) for k, v in A3_CASES[student][1].items()}, outcome.messages
    lost = [k for k, v in A3_CASES[student][1].items() if v == 0]
    assert [m.split(" lost its points")[0] for m in outcome.messages if "lost its points" in m] == lost


def test_each_student_is_judged_on_cases_of_their_own(graded):
    import numpy as np

    from course_tools.grading.seeds import student_seed

    root, outcomes, _ = graded
    seeds = {}
    for student in ("solution", "noisy_alternative", "harvester"):
        with np.load(root / "grading" / "autograded" / student / "a1" / ".checks" / "a1_conv2d_forward.npz") as f:
            seeds[student] = int(f["seed"])
        assert seeds[student] == student_seed(SECRET, "a1", student, "a1_conv2d_forward", 1301)
    assert len(set(seeds.values()) | {1301}) == 4
    # the harvester's own cases include one it gets wrong (padding 2): the test above sees the difference
    assert any(case["padding"] == 2 for case in get("a1_conv2d_forward").cases(seeds["harvester"]))
    assert "a1_conv2d_forward lost its points" in " ".join(outcomes["harvester", "a1"].messages)


def test_instructor_is_told_and_csv_is_complete(graded):
    root, outcomes, lines = graded
    assert any("renamed" in m for m in outcomes["renamed", "a1"].messages)
    assert outcomes["no_notebook", "a1"].status == "no notebook"
    assert lines[0].startswith("grading sandbox: "), "which whole-kernel limits hold, said at the start"
    notes = [ln for ln in lines[1:]
             if ln.startswith(("renamed student folder", "refused student folder", "class report"))]
    assert len(lines) == len(outcomes) + 1 + len(notes), "one line per submission"
    rows = list(csv.DictReader((root / "grading" / "scores.csv").open()))
    assert {(r["student"], r["assignment"]) for r in rows} == set(outcomes)
    row = next(r for r in rows if r["student"] == "plausibly_wrong")
    assert float(row["a1_conv2d_forward"]) == 0.0 and float(row["a1_conv_params"]) == 1.0
    assert float(row["total"]) == outcomes["plausibly_wrong", "a1"].total


def test_a_known_mistake_is_named_in_feedback_csv_and_class_report(graded):
    """A flipped kernel and a rounded-up output size: the feedback, the CSV's mistake columns and the class
    report name them; a correct submission gets no diagnosis."""
    root, outcomes, _ = graded
    rows = {(r["student"], r["assignment"]): r for r in csv.DictReader((root / "grading" / "scores.csv").open())}
    wrong = rows["plausibly_wrong", "a1"]
    assert wrong["a1_conv2d_forward mistake"] == "flipped_kernel", (wrong, outcomes["plausibly_wrong", "a1"].messages)
    assert wrong["a1_conv_output_size mistake"] == "ceil_not_floor"
    assert not any(v for k, v in rows["noisy_alternative", "a1"].items() if k.endswith(" mistake"))
    feedback = next((root / "grading" / "feedback" / "plausibly_wrong").rglob("*.html")).read_text()
    assert "kernel flipped" in feedback and "cross-correlation" in feedback
    report = (root / "grading" / "report.html").read_text()
    assert "flipped_kernel" in report and "ceil_not_floor" in report and "plausibly_wrong" not in report


def test_student_ids_are_unicode_nfc(graded):
    root, outcomes, lines = graded
    # "zo\u0308e" (o + combining diaeresis, as macOS writes it) is graded as "z\u00f6e" (precomposed)
    assert ("z\u00f6e", "a1") in outcomes and outcomes["z\u00f6e", "a1"].total == sum(A1_ITEMS.values())
    assert ("zo\u0308e", "a1") not in outcomes
    # both spellings present: the NFC one is graded, the other refused and left for the instructor to merge
    assert ("bj\u00f6rn", "a1") in outcomes and ("bjo\u0308rn", "a1") not in outcomes
    assert any(ln.startswith("refused student folder") and "bjo\u0308rn" in ln for ln in lines)
    assert (root / "grading" / "submitted" / "bjo\u0308rn").is_dir()


def test_status_names_each_item_that_lost_points_and_why(graded):
    _, outcomes, _ = graded
    messages = " | ".join(outcomes["reference_caller", "a1"].messages)
    assert "a1_fc_params lost its points" in messages and "course's implementation" in messages, messages
    assert "a1_conv2d_forward lost its points" in messages, messages
    killed = " | ".join(outcomes["kernel_killer", "a1"].messages)
    assert "kernel died" in killed and "lost its points: KernelDied" in killed, killed


def test_feedback_has_no_hidden_tests(graded):
    root, outcomes, _ = graded
    pages = list((root / "grading" / "feedback").rglob("*.html"))
    assert len(pages) >= len(ASSIGNMENTS) * 2
    for (student, aid), o in outcomes.items():  # every graded submission gets feedback, or its status says why
        if o.status not in ("no notebook", "timeout", "error"):
            assert list((root / "grading" / "feedback" / student / aid).glob("*.html")), (student, o.status)
    # what the student printed shows in feedback only where no hidden test ran
    feedback = (root / "grading" / "feedback" / "prints_inputs" / "a1" / "a1.html").read_text(encoding="utf-8")
    cells = _load(root / "grading" / "autograded" / "prints_inputs" / "a1" / "a1.ipynb")["cells"]
    printed = lambda cs: sum("".join(o.get("text", "")).count("HARVEST") for c in cs  # noqa: E731
                             for o in c.get("outputs", []))
    hidden = [c for c in cells if "BEGIN HIDDEN TESTS" in "".join(c.get("source", ""))]
    # in conv2d_forward's test cell: the visible check's calls (examples, then a few seeded cases), then one
    # per hidden case (the instructor sees them)
    spec = get("a1_conv2d_forward")
    visible = len(spec.examples()) + spec.checked_cases
    assert printed(hidden) == visible + len(spec.cases(0)), "the hidden checks called the function"
    in_sources = sum("".join(c.get("source", "")).count("HARVEST") for c in cells)  # the answer's own print line
    assert feedback.count("HARVEST") == printed([c for c in cells if c not in hidden]) + in_sources
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for leak in ("BEGIN HIDDEN TESTS", "_verify_fresh", "_verify.check("):
            assert leak not in text, f"{page}: {leak!r} in feedback"


def test_regrading_keeps_hand_grades_and_the_class_csv(graded):
    """The instructor grades by hand in the formgrader, then runs `make grade --student solution` again."""
    from nbgrader.api import Gradebook

    root, _, _ = graded
    db = f"sqlite:///{root / 'grading' / 'gradebook.db'}"
    csv_path = root / "grading" / "scores.csv"
    before = {(r["student"], r["assignment"]) for r in csv.DictReader(csv_path.open(encoding="utf-8"))}
    with Gradebook(db) as gb:  # as the formgrader saves a hand grade
        written = gb.find_grade("a1_written", "a1", "a1", "solution")
        written.manual_score, written.needs_manual_grade = 2.5, False
        gb.find_comment("a1_written", "a1", "a1", "solution").manual_comment = "(b) forgets the bias"
        gb.find_grade("a1_conv_params", "a1", "a1", "solution").manual_score = 0.5  # an override of a test
        gb.db.commit()
    # `make feedback`: the feedback and the CSV show the hand grades; nothing runs again
    refreshed = {(o.student, o.assignment): o for o in refresh_feedback(str(root), echo=lambda *_: None)}
    assert refreshed["solution", "a1"].scores["a1_written"] == 2.5
    page = (root / "grading" / "feedback" / "solution" / "a1" / "a1.html").read_text(encoding="utf-8")
    assert "(b) forgets the bias" in page
    rows = {(r["student"], r["assignment"]): r for r in csv.DictReader(csv_path.open(encoding="utf-8"))}
    assert set(rows) == before and float(rows["solution", "a1"]["a1_written"]) == 2.5
    again = grade_all(str(root), students=["solution"], assignments=["a1"], workers=1, echo=lambda *_: None)[0]
    with Gradebook(db) as gb:
        written = gb.find_grade("a1_written", "a1", "a1", "solution")
        assert (written.manual_score, written.needs_manual_grade) == (2.5, False)
        assert gb.find_comment("a1_written", "a1", "a1", "solution").manual_comment == "(b) forgets the bias"
        assert gb.find_grade("a1_conv_params", "a1", "a1", "solution").score == 0.5
    rows = {(r["student"], r["assignment"]): r for r in csv.DictReader(csv_path.open(encoding="utf-8"))}
    assert set(rows) == before, "grading one student keeps the rest of the class in the CSV"
    row = rows["solution", "a1"]
    assert float(row["a1_written"]) == 2.5 and row["to grade by hand"] == ""
    assert float(row["total"]) == sum(A1_ITEMS.values()) - 1 + 0.5 + 2.5 == again.total
    assert float(row["max"]) == sum(A1_ITEMS.values()) + 3

    # a re-submission with a different written answer: the hand grade is kept, and flagged for review
    nb_path = root / "grading" / "submitted" / "solution" / "a1" / "a1.ipynb"
    nb = _load(nb_path)
    cell = next(c for c in nb["cells"] if _meta(c).get("grade_id") == "a1_written")
    cell["source"] = "A new answer, written after the first grading."
    nb_path.write_text(json.dumps(nb), encoding="utf-8")
    third = grade_all(str(root), students=["solution"], assignments=["a1"], workers=1, echo=lambda *_: None)[0]
    assert any("a1_written: the answer changed" in m for m in third.messages), third.messages
    with Gradebook(db) as gb:
        written = gb.find_grade("a1_written", "a1", "a1", "solution")
        assert (written.manual_score, written.needs_manual_grade) == (2.5, True)
    row = next(r for r in csv.DictReader(csv_path.open(encoding="utf-8"))
               if (r["student"], r["assignment"]) == ("solution", "a1"))
    assert row["to grade by hand"] == "a1_written" and row["a1_written"] == ""


# --- feedback a student can read offline ---

FEEDBACK_CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          "--disable-dev-shm-usage"]


def _feedback(root, student, aid):
    return (root / "grading" / "feedback" / student / aid / f"{aid}.html").read_text(encoding="utf-8")


def _soup(page):
    from bs4 import BeautifulSoup

    return BeautifulSoup(page, "html.parser")


def _text(element):
    return " ".join(element.get_text(" ", strip=True).split())


def _item_scores(page, grade_id):
    """(the table of contents' line, the answer's heading) of ``grade_id`` in a feedback page, as text."""
    soup = _soup(page)
    toc = soup.select_one(f'#toc a[href="#{grade_id}"]').parent
    heading = soup.find("a", attrs={"name": grade_id}).find_next_sibling("div", class_="panel-heading")
    return _text(toc), _text(heading)


def _top(page):
    return _text(_soup(page).select_one("div.panel-heading h4"))


def _hand_grade_written(root, score, comment=None):
    """The instructor enters ``score`` for solution's a1_written in the formgrader (None: not graded yet), then
    runs `make feedback`; returns solution's refreshed a1 outcome."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}") as gb:
        written = gb.find_grade("a1_written", "a1", "a1", "solution")
        written.manual_score, written.needs_manual_grade = score, score is None
        if comment is not None:
            gb.find_comment("a1_written", "a1", "a1", "solution").manual_comment = comment
        gb.db.commit()
    return refresh_feedback(str(root), students=["solution"], assignments=["a1"], echo=lambda *_: None)[0]


def test_feedback_says_not_graded_yet_until_graded_by_hand(graded):
    root, outcomes, _ = graded
    # as `make grade` wrote it: the written answer of a3 waits for the instructor
    page, sol = _feedback(root, "solution", "a3"), outcomes["solution", "a3"]
    points = sol.max_scores["a3_written"]
    for line in _item_scores(page, "a3_written"):
        assert "not graded yet" in line and f"out of {points}" in line and "0.0 /" not in line, line
    assert _top(page) == f"a3 (Score so far: {sol.total} / {sol.max_total}, provisional)", _top(page)
    note = _text(_soup(page).select_one("p.provisional"))
    assert note.startswith(f"{points} of the {sol.max_total} points are not graded yet"), note
    assert "a3_written" in note

    ungraded = _hand_grade_written(root, None)
    page = _feedback(root, "solution", "a1")
    assert ungraded.scores["a1_written"] is None
    assert "0.0 / 3.0" not in page, "an answer not graded yet is not a zero"
    for line in _item_scores(page, "a1_written"):
        assert "not graded yet" in line and "out of 3.0" in line, line
    assert _top(page) == f"a1 (Score so far: {ungraded.total} / {ungraded.max_total}, provisional)"

    # the instructor grades it (with a formula in the comment): the real score shows, and the total is final
    done = _hand_grade_written(root, 2.5, comment="(b) forgets the bias: $y = Wx + b$")
    page = _feedback(root, "solution", "a1")
    assert done.scores["a1_written"] == 2.5 and None not in done.scores.values(), done.scores
    for line in _item_scores(page, "a1_written"):
        assert "Score: 2.5 / 3.0" in line and "not graded yet" not in line, line
    assert _top(page) == f"a1 (Score: {done.total} / {done.max_total})"
    assert not _soup(page).select("p.provisional")
    comment = _soup(page).select_one("div.panel-footer")
    assert "forgets the bias" in _text(comment) and comment.select('math[display="inline"] mi'), comment


def test_feedback_formulas_are_mathml_and_nothing_is_loaded(graded):
    from course_tools.grading.preprocessors import latex_output_to_mathml, tex_to_mathml

    root, _, _ = graded
    pages = sorted((root / "grading" / "feedback").rglob("*.html"))
    assert pages
    for path in pages:
        soup = _soup(path.read_text(encoding="utf-8"))
        remote = [tag for tag in soup.find_all(["script", "link", "img", "iframe"])
                  if (tag.get("src") or tag.get("href") or "").startswith(("http:", "https:", "//"))]
        assert not remote, f"{path}: {remote}"
        assert not [s for s in soup.find_all("script") if "MathJax" in s.get_text()], path
        assert not soup.select("code.tex"), f"{path}: a formula latex2mathml could not convert"
    # a1's output-size formula, rendered as MathML (a fraction inside floor brackets), not left as TeX
    soup = _soup(_feedback(root, "solution", "a1"))
    blocks = [m for m in soup.select('math[display="block"]') if m.select("mfrac")]
    assert blocks, "the output-size formula of a1 is MathML"
    assert "\u230a" in _text(blocks[0]) and "kernel_size" in _text(blocks[0]), _text(blocks[0])
    assert "$$" not in soup.get_text() and "\\lfloor" not in soup.get_text()
    # text/latex outputs (sympy and the like) too; what latex2mathml cannot read stays readable TeX
    assert 'display="block"' in latex_output_to_mathml("$$\\frac{a}{b}$$")
    assert "<mfrac>" in latex_output_to_mathml("\\[\\frac{a}{b}\\]")
    assert tex_to_mathml("\\frac{a<b}{") == '<code class="tex">\\frac{a&lt;b}{</code>'


@pytest.mark.e2e
def test_feedback_renders_offline_in_chromium(graded):
    """A feedback file copied to a laptop: opened from disk, nothing loaded, formulas laid out, text readable."""
    from playwright.sync_api import sync_playwright

    from suite_helpers import in_ci

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        (pytest.fail if in_ci() else pytest.skip)(f"{chromium} not found (apt-get install -y chromium)")
    root, _, _ = graded
    _hand_grade_written(root, None)
    copy = root / "laptop" / "a1.html"  # the exchange hands out the .html file alone
    copy.parent.mkdir(exist_ok=True)
    shutil.copy(root / "grading" / "feedback" / "solution" / "a1" / "a1.html", copy)

    def look():  # in a thread of its own: the browser tests' session may hold Playwright's loop in this one
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=FEEDBACK_CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                requested = []
                page.on("request", lambda r: requested.append(r.url))
                page.goto(copy.as_uri())
                assert [u for u in requested if not u.startswith("file:")] == []
                badge = page.locator("#toc .not-graded")
                assert badge.is_visible() and badge.inner_text() == "not graded yet"
                fraction = page.locator('math[display="block"] mfrac').first
                fraction.scroll_into_view_if_needed()
                word = page.locator('math[display="block"] mtext').first.bounding_box()
                box = fraction.bounding_box()
                assert box["height"] > 1.8 * word["height"], (box, word)  # numerator above denominator: MathML layout
                out = REPO / "artifacts" / "e2e"
                out.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out / "feedback-a1-formula.png"))
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(out / "feedback-a1-top.png"))
            finally:
                browser.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(look).result()
