"""``python -m course_tools.grading.grade``: autograde every submission and write ``grading/scores.csv``.

Submissions are collected into ``grading/submitted/<student>/<assignment>/``. For each one, and whatever
happens to the others:

1. the previous run's grades, autograded copy and feedback are removed first, so every score is fresh;
   the instructor's hand grades and comments are recorded first and put back after (``handwork.py``);
   a student folder whose name is not in Unicode NFC form is renamed to it (or refused if that exists);
2. a renamed notebook (``a1-Copy1.ipynb``) is graded if it is the only notebook there (and reported);
3. nbgrader autogrades it in a forked worker (``--workers`` at a time) under a whole-notebook time limit;
   past it the worker and every process under it (the kernel included) are killed; a kernel that never
   started (no cell ran) is started once more (``autograde``);
4. success is checked (nbgrader keeps stale grades when a run fails); the hidden tests' saved outputs are
   judged again here, out of the student's reach (``verify.judge_file``): an item whose outputs are wrong or
   missing scores 0 even if the student's kernel hid the failure;
5. feedback HTML is generated without hidden tests.

One line per submission tells the instructor what happened, naming each item that lost points and why;
``scores.csv`` has one row per submission (rows of submissions not graded in this run are kept): student,
assignment, one column per graded item (hand-graded ones included, empty until graded), and after each
item with a hidden test a column "<item> mistake": the id of the known mistake its hidden-test outputs
match (``verify.judge``, ``course_utils.exercises.diagnose``: "flipped_kernel"), empty when it passed or no
known mistake explains its outputs; then total, max, the items still to grade by hand, status, message.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import textwrap
import time
import traceback
import unicodedata
import warnings
from dataclasses import dataclass, field

from ..sandbox import cgroups, kernelspec
from ..sandbox.kernel import REPORT_ENV
from . import handwork, report, seeds
from .config import RENAMED_NOTEBOOKS, course_root, load_config, make_api, read_notebooks, venv_bin_on_path
from .preprocessors import KERNEL_DIED
from .release import release, source_assignments
from .verify import CHECK_DIR, check_path, judge

warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's remove_submission (SQLAlchemy)

NEEDS_HAND_GRADING = "written answer needs manual grading (formgrader)"
NOISE = ("checksum", "Cell with id", "Hidden tests", "Overwriting", "Adding missing")


@dataclass
class Outcome:
    student: str
    assignment: str
    status: str = "ok"
    scores: dict = field(default_factory=dict)  # grade id -> score (None: needs manual grading)
    max_scores: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    seconds: float = 0.0
    failed: bool = False  # nothing gradable, or grading failed: every item scores 0
    #: grade id of an item with a hidden test -> the id of the known mistake its outputs match ("": none)
    mistakes: dict = field(default_factory=dict)

    def fail(self, status: str, message: str) -> None:
        self.status, self.failed = status, True
        self.messages.insert(0, message)

    @property
    def total(self) -> float:
        return float(sum(s for s in self.scores.values() if s is not None))

    @property
    def max_total(self) -> float:
        return float(sum(self.max_scores.values()))


def _dirs(root, config):
    cd = config.CourseDirectory
    join = lambda key, default: os.path.join(root, cd.get(key, default))  # noqa: E731
    return join("source_directory", "source"), join("submitted_directory", "submitted"), \
        join("autograded_directory", "autograded"), join("feedback_directory", "feedback")


def hidden_checks(source_nb: str) -> dict[str, list[tuple[str, int]]]:
    """{grade id: [(item, base seed), ...]} read from the hidden tests of the instructor's source notebook."""
    with open(source_nb, encoding="utf-8") as fh:
        nb = json.load(fh)
    found = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell["cell_type"] == "code":
            src = "".join(cell["source"])
            found[meta["grade_id"]] = seeds.base_checks(src)
    return found


def _prepare(root, config, student, aid, outcome) -> bool:
    """Fresh start (hand work recorded) and notebook-name repair. Returns False if there is nothing gradable."""
    from nbgrader.api import Gradebook, MissingEntry

    source, submitted, autograded, feedback = _dirs(root, config)
    with Gradebook(config.CourseDirectory.db_url) as gb:
        handwork.save(gb, root, student, aid, read_notebooks(os.path.join(autograded, student, aid)))
        try:
            gb.remove_submission(aid, student)
        except MissingEntry:
            pass
    for base in (autograded, feedback):
        shutil.rmtree(os.path.join(base, student, aid), ignore_errors=True)
    folder = os.path.join(submitted, student, aid)
    forged = os.path.join(folder, CHECK_DIR)
    if os.path.exists(forged):
        shutil.rmtree(forged, ignore_errors=True)
        outcome.messages.append(f"removed a {CHECK_DIR}/ folder from the submission (not written by a student)")
    expected = sorted(f for f in os.listdir(os.path.join(source, aid)) if f.endswith(".ipynb"))
    present = sorted(f for f in os.listdir(folder) if f.endswith(".ipynb"))
    missing = [f for f in expected if f not in present]
    extra = [f for f in present if f not in expected]
    if missing and len(missing) == 1 and len(extra) == 1:
        os.replace(os.path.join(folder, extra[0]), os.path.join(folder, missing[0]))
        _record_rename(folder, missing[0][:-6], extra[0][:-6])
        outcome.messages.append(f"notebook renamed by the student: graded {extra[0]} as {missing[0]}")
    elif missing:
        outcome.fail("no notebook", f"expected {', '.join(missing)}; found {', '.join(present) or 'no notebook'}: "
                     "not graded")
        return False
    return True


def _record_rename(folder, course_name, submitted_name) -> None:
    """Remember the name a notebook was submitted under: its feedback is released under it too."""
    path = os.path.join(folder, RENAMED_NOTEBOOKS)
    names = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            names = json.load(fh)
    names[course_name] = submitted_name
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(names, fh, ensure_ascii=False)


def _recheck(root, config, student, aid, outcome) -> None:
    """Judge the hidden tests' saved outputs in this process (on the student's own cases, ``seeds.py``);
    zero items whose outputs are not right; record the known mistake each wrong item's outputs match."""
    from nbgrader.api import Gradebook

    source, _, autograded, _ = _dirs(root, config)
    db_url = config.CourseDirectory.db_url
    secret = seeds.course_secret(seeds.secret_file(db_url, config.PerStudentSeeds.get("secret_file", "")))
    with Gradebook(config.CourseDirectory.db_url) as gb:
        for nb_file in sorted(f for f in os.listdir(os.path.join(source, aid)) if f.endswith(".ipynb")):
            name = nb_file[:-6]
            folder = os.path.join(autograded, student, aid)
            for grade_id, checks in hidden_checks(os.path.join(source, aid, nb_file)).items():
                grade = gb.find_grade(grade_id, name, aid, student)
                if checks:
                    outcome.mistakes[grade_id] = ""
                for item, base in checks:
                    seed = seeds.student_seed(secret, aid, student, item, base)
                    problem, mistake = judge(item, check_path(item, folder), seed=seed)
                    if problem:
                        # no outputs saved: the visible check failed first, and its message may name the mistake
                        named = mistake or _named_in_cell(os.path.join(folder, nb_file), grade_id, item)
                        outcome.mistakes[grade_id] = named or ""
                        if grade.auto_score:  # (an item that failed in the kernel keeps its message)
                            grade.auto_score = 0.0
                            outcome.messages.append(f"{grade_id}: 0 after re-checking outside the kernel "
                                                    f"({problem})")
                        break
        gb.db.commit()


def _named_in_cell(nb_path: str, grade_id: str, item: str) -> str | None:
    """The id of the known mistake that the error of the graded cell ``grade_id`` names, or None."""
    from course_utils.exercises import get, mistake_named_in

    try:
        with open(nb_path, encoding="utf-8") as fh:
            cells = json.load(fh).get("cells", [])
    except (OSError, ValueError):
        return None
    for cell in cells:
        if (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id") == grade_id:
            text = " ".join(" ".join([o.get("evalue", ""), *o.get("traceback", [])])
                            for o in cell.get("outputs", []) if o.get("output_type") == "error")
            mistake = mistake_named_in(get(item), text)
            return mistake.id if mistake else None
    return None


def _result_text(result) -> str:
    """What nbgrader's API said of a run: its log, then its error."""
    return (result.get("log") or "") + "\n" + (result.get("error") or "")


def _log_lines(result) -> list[str]:
    text = _result_text(result)
    lines = [ln.strip() for ln in text.splitlines() if "WARNING" in ln or "ERROR" in ln or "Error" in ln]
    return [ln for ln in lines if not any(n in ln for n in NOISE)][:5]


def _grade_one(root, overrides, student, aid, result_path) -> None:
    """Worker body (runs in a process forked by the forkserver): autograde, re-check, feedback; result as JSON."""
    os.setsid()
    out = {"success": False, "messages": [], "limits": []}
    os.environ[REPORT_ENV] = result_path + ".limits"  # the sandbox's launcher names the limits a kernel hit
    try:
        api = make_api(root, overrides)
        _, _, autograded, feedback = (os.path.join(d, student, aid) for d in _dirs(root, api.config))
        result, retried = autograde(api, aid, student)
        if retried:
            out["messages"].append(f"the grading kernel did not start ({retried}): graded on a second start")
        notebooks = read_notebooks(autograded)  # as graded (read once: what died, what lost points, hand work)
        out["success"] = bool(result["success"])
        out["died_in"] = _kernel_died_in(notebooks)
        out["messages"] += _log_lines(result)
        if result["success"]:
            outcome = Outcome(student, aid)
            _recheck(root, api.config, student, aid, outcome)
            rechecked = {m.split(":")[0] for m in outcome.messages}
            out["messages"] += outcome.messages + _lost_points(api.config, student, aid, notebooks, skip=rechecked)
            out["mistakes"] = outcome.mistakes
            from nbgrader.api import Gradebook

            with Gradebook(api.config.CourseDirectory.db_url) as gb:
                out["messages"] += handwork.restore(gb, root, student, aid, notebooks)
            problem = _write_feedback(api, student, aid, feedback)
            if problem:
                out["no_feedback"] = True
                out["messages"].append(problem)
    except Exception:
        out["messages"].append(traceback.format_exc(limit=3).strip().splitlines()[-1])
    out["limits"] = _limits_hit(result_path + ".limits")
    with open(result_path, "w") as fh:
        json.dump(out, fh)


#: nbgrader's log when the kernel ended before it answered its first request: before any cell ran, so nothing
#: the submission's code did (seen once in ~1,000 sandboxed starts under a full suite's load, not reproduced)
KERNEL_NEVER_STARTED = "Kernel died before replying to kernel_info"


def autograde(api, aid: str, student: str) -> tuple[dict, str | None]:
    """nbgrader's autograde of one submission, run once more if its kernel never started (``KERNEL_NEVER_STARTED``:
    no student code had run, so the first try says nothing about the submission). Returns (nbgrader's result,
    why it was retried or None)."""
    result = api.autograde(aid, student, force=True, create=True)
    if result["success"] or KERNEL_NEVER_STARTED not in _result_text(result):
        return result, None
    return api.autograde(aid, student, force=True, create=True), KERNEL_NEVER_STARTED.lower()


def normalise_student_folders(submitted: str, echo=print) -> set[str]:
    """Rename student folders to their Unicode NFC name; returns the names refused (the NFC name exists).

    macOS writes "zoë" with a combining accent (NFD), other systems precomposed (NFC): without this they
    are two students who look the same in the CSV and the formgrader.
    """
    refused = set()
    for name in sorted(os.listdir(submitted)):
        nfc = unicodedata.normalize("NFC", name)
        if nfc == name:
            continue
        if os.path.exists(os.path.join(submitted, nfc)):
            refused.add(name)
            echo(f"refused student folder {name!r}: its Unicode NFC form {nfc!r} is another folder for the "
                 "same name; merge the two by hand (it is not graded)")
        else:
            os.rename(os.path.join(submitted, name), os.path.join(submitted, nfc))
            echo(f"renamed student folder {name!r} to its Unicode NFC form {nfc!r}")
    return refused


def _write_feedback(api, student, aid, folder) -> str | None:
    """Generate the submission's feedback into ``folder``; None when an HTML file was written, else why not
    (nbgrader can report success and write nothing)."""
    fb = api.generate_feedback(aid, student, force=True)
    written = os.path.isdir(folder) and any(f.endswith(".html") for f in os.listdir(folder))
    if fb["success"] and written:
        return None
    return "no feedback was written: " + (" | ".join(_log_lines(fb)) or "no HTML file")


def _lost_points(config, student, aid, notebooks, skip=()) -> list[str]:
    """"item: why" for each autograded item that scored less than its points (the error its test cell gave in
    ``notebooks``, the autograded ones), but for the items in ``skip`` (already explained)."""
    from nbgrader.api import Gradebook

    with Gradebook(config.CourseDirectory.db_url) as gb:
        submission = gb.find_submission(aid, student)
        lost = {(nb.name, g.name) for nb in submission.notebooks for g in nb.grades
                if g.cell_type == "code" and g.auto_score is not None and g.auto_score < g.max_score}
    reasons = []
    for nb_name, grade_id in sorted(lost):
        if grade_id in skip:
            continue
        why = "no error output (partial credit)"
        for cell in notebooks.get(nb_name, []):
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                if errors:
                    text = f"{errors[0].get('ename', 'Error')}: {errors[0].get('evalue', '')}"
                    why = textwrap.shorten(" ".join(text.split()), 300, placeholder=" …")
        reasons.append(f"{grade_id} lost its points: {why}")
    return reasons


def _kernel_died_in(notebooks) -> str | None:
    """"notebook.ipynb, cell N" when a kernel died while grading (``ExecuteKeepingResults`` marked it), else None."""
    for name, cells in notebooks.items():
        for i, cell in enumerate(cells):
            if any(o.get("ename") == KERNEL_DIED for o in cell.get("outputs", [])):
                return f"{name}.ipynb, cell {i}"
    return None


def _limits_hit(report_path: str) -> list[tuple[str, str]]:
    """[(limit, what happened), ...] from the sandbox launcher's report (``kernel.REPORT_ENV``)."""
    hit = []
    try:
        with open(report_path) as fh:
            for line in fh:
                report = json.loads(line)
                hit += [(name, report["details"].get(name, "")) for name in report["limits"]]
    except FileNotFoundError:
        pass
    return hit


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def _collect_scores(config, student, aid, outcome) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(config.CourseDirectory.db_url) as gb:
        for nb in gb.find_assignment(aid).notebooks:
            for cell in nb.grade_cells:
                outcome.max_scores[cell.name] = float(cell.max_score)
                outcome.scores.setdefault(cell.name, 0.0)
        if outcome.failed:
            return
        try:
            submission = gb.find_submission(aid, student)
        except MissingEntry:
            outcome.fail("error", "no grades were recorded")
            return
        for nb in submission.notebooks:
            for grade in nb.grades:
                outcome.scores[grade.name] = grade.score if not grade.needs_manual_grade else None
        if any(s is None for s in outcome.scores.values()):
            outcome.messages.append(NEEDS_HAND_GRADING)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def limit_kernel_threads(workers: int) -> None:
    """Share the cores among the kernels that grade at the same time (the sandbox passes these variables on).

    torch and BLAS start one thread per core in every kernel; with several kernels (or a student's busy
    loop) on the same cores their threads wait on each other and a 15 s notebook can take minutes.
    An instructor's own setting of these variables wins.
    """
    per_kernel = str(max(1, (os.cpu_count() or 1) // workers))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, per_kernel)


def grade_all(root=None, assignments=None, students=None, workers=None, timeout=300.0, cell_timeout=None,
              overrides=None, csv_path=None, echo=print) -> list[Outcome]:
    """Autograde every submission (see the module docstring); returns one Outcome per submission."""
    root = root or course_root()
    venv_bin_on_path()  # a new gradebook runs `alembic`
    overrides = dict(overrides or {})
    if cell_timeout:
        overrides.setdefault("Execute", {})["timeout"] = int(cell_timeout)
    config = load_config(root, overrides)
    source, submitted, _, _ = _dirs(root, config)
    os.makedirs(submitted, exist_ok=True)
    known = source_assignments(root, config)
    assignments = assignments or known
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(config.CourseDirectory.db_url) as gb:
        missing = []
        for aid in assignments:
            try:
                gb.find_assignment(aid)
            except MissingEntry:
                missing.append(aid)
    # Workers fork from a clean server process, not from this one: forking a process whose OpenMP/torch
    # thread pool has run (a notebook kernel manager, a test session) can hang the child's first torch call.
    # The server imports what every worker needs once, so a worker starts in milliseconds.
    preload = ["course_tools.grading.grade", "nbgrader.apps.api"]
    if any("import torch" in open(os.path.join(source, aid, f), encoding="utf-8").read()
           for aid in assignments for f in os.listdir(os.path.join(source, aid)) if f.endswith(".ipynb")):
        preload.append("torch")  # what the re-check needs
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preload)
    if missing:  # a fresh clone: the gradebook learns the assignments (and hidden tests) from a release
        release(missing, root, overrides)
    if config.Execute.get("kernel_name") == kernelspec.KERNEL_NAME:
        echo(f"grading sandbox: {cgroups.detect(kernelspec.installed_limits())}")
    refused = normalise_student_folders(submitted, echo)
    wanted = {unicodedata.normalize("NFC", s) for s in students} if students else None
    jobs = [
        (student, aid)
        for student in sorted(os.listdir(submitted))
        if os.path.isdir(os.path.join(submitted, student)) and student not in refused
        and (wanted is None or student in wanted)
        for aid in assignments
        if os.path.isdir(os.path.join(submitted, student, aid))
    ]
    outcomes = {job: Outcome(*job) for job in jobs}
    # every student in the gradebook before the workers start: two workers grading one new student's two
    # assignments would both add the student ("UNIQUE constraint failed: student.id", one of them scoring 0)
    with Gradebook(config.CourseDirectory.db_url) as gb:
        for student in sorted({student for student, _ in jobs}):
            gb.update_or_create_student(student)
    workers = max(1, workers or os.cpu_count() or 1)
    limit_kernel_threads(workers)
    tmp = tempfile.mkdtemp(prefix="grade-")
    running = {}  # job -> (process, start, result path)
    queue = list(jobs)
    try:
        while queue or running:
            while queue and len(running) < workers:
                job = queue.pop(0)
                outcome = outcomes[job]
                if not _prepare(root, config, *job, outcome):
                    _finish(config, outcome, echo)
                    continue
                path = os.path.join(tmp, f"{len(queue)}-{job[0]}-{job[1]}.json")
                proc = ctx.Process(target=_grade_one, args=(root, overrides, *job, path), daemon=False)
                proc.start()
                running[job] = (proc, time.monotonic(), path)
            time.sleep(0.05)
            for job, (proc, start, path) in list(running.items()):
                outcome = outcomes[job]
                elapsed = time.monotonic() - start
                if proc.is_alive() and elapsed < timeout:
                    continue
                if proc.is_alive():
                    _kill_tree(proc.pid)
                    outcome.fail("timeout", f"stopped after the {timeout:g} s limit for a whole notebook")
                proc.join()
                del running[job]
                outcome.seconds = elapsed
                if not outcome.failed:
                    try:
                        with open(path) as fh:
                            result = json.load(fh)
                    except (OSError, ValueError):
                        result = {"success": False, "limits": [],
                                  "messages": [f"grading worker died (exit {proc.exitcode})"]}
                    outcome.messages += result["messages"]
                    outcome.mistakes = result.get("mistakes") or {}
                    # graded fairly: the cells that ran before a limit, or before the kernel died, keep their results
                    if result["limits"]:
                        outcome.status = "limit: " + ", ".join(dict.fromkeys(n for n, _ in result["limits"]))
                        outcome.messages[:0] = [f"sandbox limit hit: {n} ({d})" for n, d in result["limits"]]
                    elif result.get("no_feedback"):
                        outcome.status = "no feedback"
                    elif result.get("died_in"):
                        outcome.status = "kernel died"
                        outcome.messages.insert(0, f"the kernel died in {result['died_in']} (the submission's "
                                                "code ended it): the cells from there on were not run")
                    if not result["success"]:
                        why = next((m for m in result["messages"] if "ERROR" in m or "Error" in m),
                                   "a cell could not be interrupted, or nbgrader failed")
                        outcome.fail(outcome.status if result["limits"] else "error",
                                     f"autograding failed, score 0: {why}")
                if outcome.failed:
                    _discard(root, config, *job)
                _finish(config, outcome, echo)
    finally:
        for proc, _, _ in running.values():
            _kill_tree(proc.pid)
        shutil.rmtree(tmp, ignore_errors=True)
    result = [outcomes[job] for job in jobs]
    _write_scores(result, csv_path or os.path.join(root, "grading", "scores.csv"), root, echo)
    return result


def _write_scores(outcomes: list[Outcome], csv_path: str, root, echo) -> None:
    """scores.csv, then the class report beside it (``report.py``): the grades are written first, so a report
    that cannot be drawn never costs a grade (it says so instead)."""
    write_csv(outcomes, csv_path)
    try:
        echo(f"class report: {report.write_course_report(root, csv_path)}")
    except Exception as err:  # the CSV is written; the report is a view of it
        echo(f"class report not written ({type(err).__name__}: {err})")


def _discard(root, config, student, aid) -> None:
    """A failed run must leave no grades behind: remove the submission from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(config.CourseDirectory.db_url) as gb:
        try:
            gb.remove_submission(aid, student)
        except MissingEntry:
            pass


def _finish(config, outcome, echo) -> None:
    _collect_scores(config, outcome.student, outcome.assignment, outcome)
    if outcome.failed:
        outcome.scores = {k: 0.0 for k in outcome.max_scores}
        outcome.mistakes = {}
    note = "; ".join(outcome.messages)
    echo(f"{outcome.student:>16} {outcome.assignment:<4} {outcome.total:5.1f}/{outcome.max_total:<5.1f} "
         f"{outcome.status:<11} {outcome.seconds:5.1f}s  {note}")


def _column(o: Outcome, item: str) -> str:
    return item if item.startswith(o.assignment) else f"{o.assignment}:{item}"


#: the column after an item's score that holds the id of the known mistake its hidden test diagnosed
MISTAKE_COLUMN = "{} mistake"


FIXED_COLUMNS = ("student", "assignment", "total", "max", "to grade by hand", "status", "message")


def read_csv(path: str) -> tuple[list[str], dict[tuple[str, str], dict]]:
    """(item columns, {(student, assignment): row}) of the class CSV at ``path``; ([], {}) if there is none."""
    if not os.path.exists(path):
        return [], {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = {(r["student"], r["assignment"]): r for r in reader}
        return [c for c in reader.fieldnames or [] if c not in FIXED_COLUMNS], rows


def write_csv(outcomes: list[Outcome], path: str) -> None:
    """Write the class's scores: the rows of ``outcomes``, and every other row already in ``path``.

    Grading a few students (``--student``) updates their rows and never drops the rest of the class.
    An item still to be graded by hand is empty and named in "to grade by hand"; "total" counts every
    graded item, "max" every item. After each item with a hidden test, "<item> mistake" (``MISTAKE_COLUMN``)
    holds the diagnosed mistake's id, empty when none.
    """
    items, rows = read_csv(path)
    for o in outcomes:
        row = {}
        for k, v in o.scores.items():
            row[_column(o, k)] = "" if v is None else v
            if k in o.mistakes:
                row[MISTAKE_COLUMN.format(_column(o, k))] = o.mistakes[k]
        items += [c for c in row if c not in items]
        to_do = [_column(o, k) for k, v in o.scores.items() if v is None]
        row.update(student=o.student, assignment=o.assignment, total=o.total, max=o.max_total, status=o.status,
                   message="; ".join(o.messages), **{"to grade by hand": " ".join(to_do)})
        rows[o.student, o.assignment] = row
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["student", "assignment", *items, *FIXED_COLUMNS[2:]], restval="")
        writer.writeheader()
        for key in sorted(rows):
            writer.writerow({k: v for k, v in rows[key].items() if k in writer.fieldnames})
    os.replace(tmp, path)


def refresh_feedback(root=None, assignments=None, students=None, csv_path=None, echo=print) -> list[Outcome]:
    """After hand grading: rewrite every graded submission's feedback and its scores in the class CSV.

    Nothing is executed again. The feedback and the CSV take the hand grades and comments from the
    gradebook; each row keeps the status and message of its last ``make grade``.
    """
    from nbgrader.api import Gradebook

    root = root or course_root()
    venv_bin_on_path()
    config = load_config(root)
    csv_path = csv_path or os.path.join(root, "grading", "scores.csv")
    _, previous = read_csv(csv_path)
    with Gradebook(config.CourseDirectory.db_url) as gb:
        graded = [(sub.student.id, a.name) for a in gb.assignments for sub in a.submissions
                  if (not assignments or a.name in assignments) and (not students or sub.student.id in students)]
    api = make_api(root)
    outcomes = []
    for student, aid in sorted(graded):
        old = previous.get((student, aid), {})
        outcome = Outcome(student, aid, status=old.get("status") or "ok")
        outcome.messages = [m for m in (old.get("message") or "").split("; ") if m and m != NEEDS_HAND_GRADING]
        problem = _write_feedback(api, student, aid, os.path.join(_dirs(root, config)[3], student, aid))
        if problem:
            outcome.messages.append(problem)
        _collect_scores(config, student, aid, outcome)
        columns = {k: MISTAKE_COLUMN.format(_column(outcome, k)) for k in outcome.scores}
        outcome.mistakes = {k: old[c] for k, c in columns.items() if c in old}  # nothing is judged again
        outcome.messages = list(dict.fromkeys(outcome.messages))
        echo(f"{student:>16} {aid:<4} {outcome.total:5.1f}/{outcome.max_total:<5.1f} feedback "
             f"{'FAILED' if problem else 'written'}")
        outcomes.append(outcome)
    _write_scores(outcomes, csv_path, root, echo)
    return outcomes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", "-a", action="append", help="grade only these assignments")
    parser.add_argument("--student", "-s", action="append", help="grade only these students")
    parser.add_argument("--workers", "-j", type=int, default=None, help="parallel workers (default: CPUs)")
    parser.add_argument("--timeout", type=float, default=300.0, help="whole-notebook limit in seconds")
    parser.add_argument("--cell-timeout", type=int, default=None, help="per-cell limit (default: config)")
    parser.add_argument("--csv", default=None, help="output CSV (default: grading/scores.csv)")
    parser.add_argument("--feedback-only", action="store_true",
                        help="after hand grading: rewrite feedback and the CSV's scores, run nothing (make feedback)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    if args.feedback_only:
        done = refresh_feedback(assignments=args.assignment, students=args.student, csv_path=args.csv)
        print(f"feedback for {len(done)} submissions in {time.monotonic() - start:.1f} s; "
              f"scores in {args.csv or 'grading/scores.csv'}")
        return 0
    outcomes = grade_all(assignments=args.assignment, students=args.student, workers=args.workers,
                         timeout=args.timeout, cell_timeout=args.cell_timeout, csv_path=args.csv)
    bad = [o for o in outcomes if o.status != "ok"]
    print(f"graded {len(outcomes)} submissions in {time.monotonic() - start:.1f} s; "
          f"{len(bad)} need attention; scores in {args.csv or 'grading/scores.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
