"""The grading sandbox holds against what a submission *folder* holds and against resource bombs.

One batch of generated a1 submissions is graded the way ``make grade`` grades
(``python -m course_tools.grading.grade`` in a copy of the course), with the grading kernelspec installed
into a private Jupyter path with small limits, so that every probe is bounded: if a limit failed, no
probe could take more than about 2 GB or 2,047 processes of the test machine.

- alice: the solutions (full marks, status ok);
- shadow: the solutions, in a folder that holds modules named like what the launcher, the kernel and the
  course import (``course_utils/``, ``course_tools/``, ``numpy/``, ``IPython/``, ``ipykernel/``,
  ``sitecustomize.py``, ``usercustomize.py``, a ``.pth`` file), IPython configuration and startup files and a
  ``matplotlibrc`` naming a backend of its own: none of it may run, outside or inside the sandbox (full marks), while
  the student's own ``helpers.py`` still imports;
- cheater: answers that call the course's reference, beside copies of the course's packages whose reference
  detection is switched off: only the items that are its own work count;
- forkbomb, memory, tmp, disk: the solutions, then a recursive fork bomb / memory spread over three
  processes / a full ``/tmp`` / a folder filled with files: full marks, status ``limit: <name>``;
- disk-early: the same folder fill after the first three items: the kernel is killed, the items before
  keep their points, the rest score 0.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_tools.sandbox import cgroups, kernelspec, policy

from suite_helpers import require_sandbox

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
A = "a1"
AUTO_MAX = 15  # a1's autograded points (and 3 for the written answer, graded by hand)
LIMITS = policy.Limits(processes=64, total_memory_mb=1024, tmp_mb=64, disk_mb=64, disk_files=2000,
                       wall_seconds=300)

MARK = r'''
import os as _os
_here = _os.path.dirname(_os.path.abspath(__file__))
open(_os.path.join(_here, "SHADOW-RAN-{name}"), "w").close()  # the submission folder (inside or outside)
try:
    open({canary!r}, "w").close()  # only reachable outside the sandbox
except OSError:
    pass
raise ImportError("shadow {name} imported")
'''
#: what the folder's IPython configuration and startup files would run: break the visible tests, leave a mark
STARTUP = ("import course_utils.checks as _c; _c.expect_equal = _c.expect_close = None; "
           "open('SHADOW-RAN-config', 'w').close()")
CONFIG = f"c.InteractiveShellApp.exec_lines = [{STARTUP!r}]\n"

#: a recursive fork bomb: every child forks again (at most 2**11 - 1 processes if nothing stopped it)
FORK_BOMB = r'''import subprocess, sys
_BOMB = """
import os, time
def bomb(depth):
    for _ in range(2):
        if depth == 0:
            return
        try:
            pid = os.fork()
        except OSError:
            continue
        if pid == 0:
            bomb(depth - 1)
            time.sleep(2)
            os._exit(0)
bomb(10)
time.sleep(3)
"""
subprocess.run([sys.executable, "-c", _BOMB], timeout=40)
'''
MEMORY = r'''import subprocess, sys
_hogs = [subprocess.Popen([sys.executable, "-c", "import time; x = b'x' * (450 << 20); time.sleep(4)"])
         for _ in range(3)]
print([p.wait() for p in _hogs])
'''
TMP = r'''import time
try:
    for i in range(32):
        with open(f"/tmp/fill{i}", "wb") as fh:
            fh.write(b"x" * (16 << 20))
except OSError as e:
    print("tmp:", e)
time.sleep(1)
'''
DISK = r'''for i in range(64):
    with open(f"fill{i}.bin", "wb") as fh:
        fh.write(b"x" * (8 << 20))
'''


def _solution_sources():
    source = nbformat.read(ROOT / "solutions" / A / f"{A}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def _notebook(course, answers, extra=(), at=None):
    """The release notebook with ``answers`` (grade id -> source) and ``extra`` cells inserted at ``at``."""
    nb = nbformat.read(course / "assignments" / A / f"{A}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in answers:
            cell.source = answers[grade_id]
    at = len(nb.cells) if at is None else at
    nb.cells[at:at] = [nbformat.v4.new_code_cell(src) for src in extra]
    return nb


def _submit(course, student, nb, files=None):
    folder = course / "grading" / "submitted" / student / A
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{A}.ipynb")
    (folder / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC")
    for rel, text in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def _shadow_files(canary_dir):
    files = {}
    for name in ("course_utils", "course_tools", "numpy", "IPython", "ipykernel", "matplotlib"):
        files[f"{name}/__init__.py"] = MARK.format(name=name, canary=str(canary_dir / name))
    for name in ("sitecustomize", "usercustomize", "evilbackend"):
        files[f"{name}.py"] = MARK.format(name=name, canary=str(canary_dir / name))
    files["evil.pth"] = f"import os; open({str(canary_dir / 'pth')!r}, 'w')\n"
    files["ipython_config.py"] = files["ipython_kernel_config.py"] = CONFIG
    files[".ipython/profile_default/startup/00-evil.py"] = STARTUP + "\n"
    files["matplotlibrc"] = "backend: module://evilbackend\n"
    files["helpers.py"] = "VALUE = 7\n"
    return files


def _cheater_folder(folder):
    """Working copies of the course's packages beside the notebook, the detection of reference calls switched off."""
    for package in ("course_utils", "course_tools"):
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    verify = folder / "course_tools" / "grading" / "verify.py"
    text = verify.read_text()
    switch = "        for fn in list(_forbidden_functions(self.numpy_only, self.fn, forbidden_file)):"
    patched = text.replace(switch, "        for fn in []:")
    assert patched != text
    verify.write_text(patched)


CHEAT_ANSWERS = {
    "a1_counting_solution": "from course_utils.counting import (conv_params, fully_connected_params,\n"
                            "                                   locally_connected_params)",
    "a1_conv_output_size_solution": "from course_utils.reference import conv_output_size",
    "a1_conv2d_forward_solution": "from course_utils.reference import conv2d_forward",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    require_sandbox()
    whole_kernel = cgroups.detect(LIMITS)
    if whole_kernel.startswith("no whole-kernel") and os.environ.get("CI") != "true":
        pytest.skip(whole_kernel)
    base = tmp_path_factory.mktemp("limits")
    course = base / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    shutil.copytree(ROOT / "assignments" / A, course / "assignments" / A)
    canaries = base / "canaries"
    canaries.mkdir()
    kernelspec.install(base / "jupyter", LIMITS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "COURSE_"))}
    env.update(HOME=str(base), JUPYTER_PATH=str(base / "jupyter" / "share" / "jupyter"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")]))

    solved = _solution_sources()
    _submit(course, "alice", _notebook(course, solved))
    helpers = "import helpers\nassert helpers.VALUE == 7\nopen('helpers-imported', 'w').close()"
    _submit(course, "shadow", _notebook(course, solved, [helpers]), _shadow_files(canaries))
    cheat = dict(solved)
    cheat.update(CHEAT_ANSWERS)
    _cheater_folder(_submit(course, "cheater", _notebook(course, cheat)))
    for student, attack in (("forkbomb", FORK_BOMB), ("memory", MEMORY), ("tmp", TMP), ("disk", DISK)):
        _submit(course, student, _notebook(course, solved, [attack]))
    release = nbformat.read(course / "assignments" / A / f"{A}.ipynb", as_version=4)
    after_three = 1 + next(i for i, c in enumerate(release.cells)
                           if c.metadata.get("nbgrader", {}).get("grade_id") == "a1_conv_params")
    _submit(course, "disk-early", _notebook(course, solved, [DISK], at=after_three))

    done = subprocess.run([sys.executable, "-m", "course_tools.grading.grade"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=1200)
    print(done.stdout[-6000:], done.stderr[-4000:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(course / "grading" / "scores.csv") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    return {"rows": rows, "stdout": done.stdout, "stderr": done.stderr, "course": course, "canaries": canaries}


def _row(graded, student):
    row = graded["rows"][student]
    return float(row["total"]), float(row["max"]), row["status"], row["message"]


def test_grading_says_which_whole_kernel_limits_hold(graded):
    assert "grading sandbox: whole-kernel limits through cgroup" in graded["stdout"] or \
        "grading sandbox: whole-kernel limits through systemd-run" in graded["stdout"], graded["stdout"][:2000]


def test_a_correct_submission_in_the_same_batch_gets_full_marks(graded):
    total, maximum, status, message = _row(graded, "alice")
    assert maximum == AUTO_MAX + 3 and total == AUTO_MAX and status == "ok", (total, status, message)


def test_nothing_in_the_submission_folder_runs_or_shadows(graded):
    total, maximum, status, message = _row(graded, "shadow")
    assert total == AUTO_MAX and status == "ok", (total, status, message)
    assert sorted(os.listdir(graded["canaries"])) == []  # nothing ran outside the sandbox
    folder = graded["course"] / "grading" / "autograded" / "shadow" / A
    ran = sorted(p.name for p in folder.rglob("SHADOW-RAN-*"))
    assert ran == [], ran  # nor inside it
    assert (folder / "helpers-imported").exists()  # the student's own module still imports


def test_a_copy_of_course_utils_in_the_folder_does_not_switch_off_the_reference_detection(graded):
    total, maximum, status, message = _row(graded, "cheater")
    row = graded["rows"]["cheater"]
    # Only make_filterbank and apply_filterbank are its own work (apply_filterbank calls conv2d_forward, the
    # reference's, and is judged on its own: with the course's conv2d_forward).
    assert total == 4 and float(row["a1_filterbank_design"]) == 2, (total, status, message)
    assert float(row["a1_apply_filterbank"]) == 2, row
    for item in ("a1_fc_params", "a1_lc_params", "a1_conv_params", "a1_conv_output_size", "a1_conv2d_forward"):
        assert float(row[item]) == 0, (item, row)


@pytest.mark.parametrize("student, limit", [("forkbomb", "processes"), ("memory", "memory"), ("tmp", "tmp"),
                                            ("disk", "disk")])
def test_a_limit_is_named_and_the_work_before_it_keeps_its_points(graded, student, limit):
    total, maximum, status, message = _row(graded, student)
    assert status == f"limit: {limit}", (student, status, message)
    assert total == AUTO_MAX, (student, total, message)
    assert f"sandbox limit hit: {limit}" in message


def test_a_kernel_killed_by_a_limit_keeps_the_cells_that_ran(graded):
    total, maximum, status, message = _row(graded, "disk-early")
    assert status == "limit: disk" and total == 3, (total, status, message)
    nb = nbformat.read(graded["course"] / "grading" / "autograded" / "disk-early" / A / f"{A}.ipynb", as_version=4)
    not_run = [c for c in nb.cells if c.cell_type == "code" and any(
        o.get("ename") == "KernelDied" for o in c.get("outputs", []))]
    assert len(not_run) >= 5  # the filling cell and every cell after it say why they have no result


def test_the_folder_limit_is_held_within_its_polling_overshoot(graded):
    for student in ("disk", "disk-early"):
        folder = graded["course"] / "grading" / "autograded" / student / A
        added = sum(p.stat().st_blocks * 512 for p in folder.glob("fill*.bin"))
        print(f"{student}: {added / 2**20:.0f} MiB written before the kill (limit {LIMITS.disk_mb} MiB)")
        assert added < 4 * (LIMITS.disk_mb << 20)


def test_no_control_group_is_left_behind(graded):
    own = cgroups._own_cgroups()
    parents = [Path(cgroups.ROOT, ctrl + own[ctrl]) for ctrl in cgroups.V1_CONTROLLERS if ctrl in own]
    parents.append(Path(cgroups.ROOT, "course-sandbox"))
    leftovers = [p.name for parent in parents if parent.is_dir() for p in parent.iterdir()
                 if p.name.startswith("course-sandbox-") and not Path(f"/proc/{p.name.split('-')[2]}").exists()]
    assert leftovers == []
