"""The layout says the architecture: the student package never depends on the instructor's, nothing points
outside the repository, and `make help` lists every command."""

from __future__ import annotations

import ast
import re
import subprocess

from suite_helpers import REPO


def _imports(path) -> set[str]:
    """Every module name ``path`` imports: import statements, importlib.import_module("...") and __import__("...")."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            names.add(node.args[0].value)
    return names


def test_the_student_package_never_imports_the_instructors():
    wrong = {str(p.relative_to(REPO)): sorted(n for n in _imports(p) if n.split(".")[0] == "course_tools")
             for p in sorted((REPO / "course_utils").rglob("*.py"))}
    wrong = {k: v for k, v in wrong.items() if v}
    assert not wrong, f"course_utils must not depend on course_tools (the instructor's tools): {wrong}"


def test_the_instructors_package_is_where_grading_sandbox_and_benchmarks_live():
    student = {p.relative_to(REPO / "course_utils").parts[0] for p in (REPO / "course_utils").rglob("*.py")}
    assert not {"grading", "sandbox"} & student and not any(s.startswith("bench") for s in student), sorted(student)
    assert {"grading", "sandbox", "bench"} <= {p.name for p in (REPO / "course_tools").iterdir() if p.is_dir()}


def _tracked_text_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in out.decode().split("\0"):
        path = REPO / name
        if name and path.suffix in {".py", ".md", ".ipynb", ".toml", ".yml", ".yaml", ".json", ".j2", ".in", ".sh",
                                     ""} and path.is_file():
            yield name, path.read_text(encoding="utf-8", errors="replace")


def test_nothing_points_outside_the_repository():
    outside = sorted(name for name, text in _tracked_text_files()
                     if "../shared" in text and name != "tests/test_layout.py")
    assert not outside, f"files that refer to ../shared (outside the repository; docs/ has its documents): {outside}"


def test_comments_do_not_cite_this_projects_issue_numbers():
    """An issue number means nothing to the next reader of the code: say what the code does and why."""
    pattern = re.compile(r"#.*\b[Ii]ssue \d+|\"\"\"[^\"]*\b[Ii]ssue \d+")
    cited = sorted(name for name, text in _tracked_text_files()
                   if name.endswith(".py") and not name.startswith("assignments/")
                   and any(pattern.search(line) and "nbgrader" not in line for line in text.splitlines()))
    assert not cited, f"comments or docstrings citing an issue number: {cited}"


def test_make_help_lists_every_target():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, re.M))
    shown = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout
    listed = set(re.findall(r"^\s+make ([a-z-]+)\s", shown, re.M))
    assert targets == listed, f"targets not in `make help`: {sorted(targets - listed)}; " \
                              f"listed but not targets: {sorted(listed - targets)}"
