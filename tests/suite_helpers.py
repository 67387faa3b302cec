"""Helpers shared by the suite's modules (import as `from suite_helpers import ...`)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"

#: notebook path -> seconds, filled by test_notebooks.py and printed at the end of the run by conftest.py
NOTEBOOK_TIMES: dict[str, float] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def course_copy(root: Path, secret: bytes | None = None) -> Path:
    """A course folder at ``root`` for grading tests: the nbgrader configuration, the solutions and the release
    (the repository's stay untouched), and ``secret`` as the course's hidden-seeds key when given."""
    shutil.copy(REPO / "nbgrader_config.py", root)
    for folder in ("solutions", "assignments"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "grading").mkdir(exist_ok=True)
    if secret is not None:
        (root / "grading" / "hidden-seeds.key").write_bytes(secret)
    return root


def auto_scores(course, assignment: str) -> dict[str, tuple[float, float]]:
    """{student: (auto-graded score, auto-graded max)} from the gradebook of the course folder ``course``."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{Path(course) / 'grading' / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            nb = gb.find_submission_notebook(assignment, assignment, sub.student.id)
            auto = [g for g in nb.grades if g.cell_type == "code"]
            scores[sub.student.id] = (sum(g.score for g in auto), sum(g.max_score for g in auto))
    return scores


def require_sandbox() -> None:
    """Skip the test where the grading sandbox cannot run (fail instead under CI, where nothing is skipped)."""
    import pytest

    from course_tools.sandbox import kernel

    try:
        kernel.check_sandbox()
    except kernel.SandboxUnavailable as e:
        if in_ci():
            pytest.fail(f"the grading sandbox cannot run here: {e}")
        pytest.skip(f"the grading sandbox cannot run here: {e}")


def assert_error_shown_once(w, message: str, without_traceback: bool = False) -> None:
    """A widget ``w`` whose student function failed shows ``message`` once, and no stale picture or check line
    (nor a traceback, with ``without_traceback``: a wrong return type or shape is not an exception)."""
    import html

    assert w.error == message and w.status.value == f"error #{w.renders}: {message}"
    assert w.error_box.value.count(html.escape(message)) == 1
    assert not without_traceback or "traceback" not in w.error_box.value
    assert w.png() == b"" and w.alt() == ""  # the stale picture is gone (the page hides an empty picture)
    assert w.image.announcement == f"Error: {message}"  # and screen readers hear the error
    assert w.caption.value == w.check_box.value == "" and w.checks == []
