"""``python -m course_tools.bench.grading``: autograding time per submission, and for a whole class.

In a temporary copy of the course (the real gradebook is never touched) it grades:

1. one solution submission per assignment, one at a time (``--workers 1``): seconds per submission,
   against the target of 6 s per submission per assignment;
2. a class of ``--students`` (default 100) submissions of one assignment (``--assignment``, default a1)
   with ``--workers`` parallel workers: wall time against the target of 5 minutes.

Timings include everything ``make grade`` does (sandboxed kernel, hidden checks, re-check, feedback).
On a shared machine, note the load average printed with the results.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from course_tools.grading.config import course_root
from course_tools.grading.grade import grade_all
from course_tools.grading.release import source_assignments

PER_SUBMISSION_TARGET_S = 6.0
CLASS_TARGET_S = 300.0


def _course_copy(root: str) -> str:
    tmp = tempfile.mkdtemp(prefix="grading-bench-")
    shutil.copy(os.path.join(root, "nbgrader_config.py"), tmp)
    for folder in ("solutions", "assignments"):
        shutil.copytree(os.path.join(root, folder), os.path.join(tmp, folder))
    return tmp


def _submit(tmp: str, student: str, aid: str, root: str) -> None:
    folder = os.path.join(tmp, "grading", "submitted", student, aid)
    os.makedirs(folder, exist_ok=True)
    shutil.copy(os.path.join(root, "solutions", aid, f"{aid}.ipynb"), folder)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--assignment", default="a1")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-class", action="store_true", help="only the per-submission timings")
    args = parser.parse_args(argv)
    root = course_root()
    tmp = _course_copy(root)
    try:
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        aids = source_assignments(root)
        for aid in aids:
            _submit(tmp, "warmup", aid, root)
        grade_all(tmp, students=["warmup"], workers=1, echo=lambda *_: None)  # creates the gradebook
        print(f"{'assignment':<10} {'s/submission':>12} {'target':>7} {'ratio':>6}  (one at a time)")
        for aid in aids:
            _submit(tmp, f"single_{aid}", aid, root)
            [o] = grade_all(tmp, assignments=[aid], students=[f"single_{aid}"], workers=1, echo=lambda *_: None)
            print(f"{aid:<10} {o.seconds:12.1f} {PER_SUBMISSION_TARGET_S:7.0f} "
                  f"{o.seconds / PER_SUBMISSION_TARGET_S:6.2f}  {o.total:g}/{o.max_total:g} {o.status}")
        if not args.skip_class:
            students = [f"student{i:03d}" for i in range(args.students)]
            for s in students:
                _submit(tmp, s, args.assignment, root)
            start = time.monotonic()
            outcomes = grade_all(tmp, assignments=[args.assignment], students=students, workers=args.workers,
                                 echo=lambda *_: None)
            wall = time.monotonic() - start
            ok = sum(o.status == "ok" for o in outcomes)
            per = sum(o.seconds for o in outcomes) / len(outcomes)
            print(f"class of {len(outcomes)} x {args.assignment}, {args.workers} workers: {wall:.1f} s wall "
                  f"(target {CLASS_TARGET_S:.0f} s, ratio {wall / CLASS_TARGET_S:.2f}); {per:.1f} s per submission "
                  f"in its worker; {ok}/{len(outcomes)} graded ok")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
