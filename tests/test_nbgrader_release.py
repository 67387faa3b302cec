"""nbgrader harness, static half: the committed release is exactly what nbgrader generates from solutions/,
it holds no solution text, hidden test or marker, and the source notebooks follow the grading rules."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from course_tools.grading.release import release, source_assignments

pytestmark = pytest.mark.nbgrader

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = source_assignments(str(REPO))
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN MARK SCHEME",
           "END MARK SCHEME", "course_tools.grading", "_verify", "hidden_check(")


def _cells(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))["cells"]


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """A copy of the course's nbgrader setup in a temporary root, with its release regenerated."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions")
    results = release(root=str(root))
    assert results and all(r["success"] for r in results.values()), results
    return root


def test_every_assignment_is_released():
    assert ASSIGNMENTS, "no assignment found in solutions/"
    for aid in ASSIGNMENTS:
        for nb in (REPO / "solutions" / aid).glob("*.ipynb"):
            assert (REPO / "assignments" / aid / nb.name).is_file(), f"{nb.name} missing: run `make release`"


def test_release_is_reproduced_byte_for_byte(regenerated):
    committed = sorted(p.relative_to(REPO / "assignments") for p in (REPO / "assignments").rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(regenerated / "assignments") for p in (regenerated / "assignments").rglob("*")
                   if p.is_file())
    assert committed == fresh, "assignments/ does not list the files nbgrader generates: run `make release`"
    for rel in committed:
        assert (REPO / "assignments" / rel).read_bytes() == (regenerated / "assignments" / rel).read_bytes(), (
            f"assignments/{rel} differs from a fresh release: run `make release` (never edit it by hand)"
        )


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_holds_no_solution_hidden_test_or_marker(aid):
    for nb in (REPO / "assignments" / aid).glob("*.ipynb"):
        source_cells = {c["id"]: c for c in _cells(REPO / "solutions" / aid / nb.name)}
        text = nb.read_text(encoding="utf-8")
        for marker in MARKERS:
            assert marker not in text, f"{nb.name}: {marker!r} leaked into the release"
        for cell in _cells(nb):
            src = "".join(cell["source"])
            original = "".join(source_cells[cell["id"]]["source"])
            if "### BEGIN SOLUTION" in original:
                inside = original.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
                for line in (ln.strip() for ln in inside.splitlines()):
                    if len(line) > 12 and not line.startswith("#"):
                        assert line not in src, f"{nb.name}: solution line {line!r} leaked into the release"
            assert not cell.get("outputs"), f"{nb.name}: release cells must have no outputs"


#: calls that raise on failure (hidden_check is written out as an assignment at autograding, seeds.py)
NONE_RETURNING = {"check", "hidden_check", "expect_equal", "expect_close", "expect_shape", "print"}


def _is_check(node) -> bool:
    """A visible ``check("item", function)`` call: it raises (an AssertionError) when the answer is wrong."""
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check"


def _last_statement_is_bare_value(tree) -> bool:
    """True if the cell ends in an expression whose value nbgrader would show instead of asserting it
    (anything but a call of a helper that returns None and raises on failure)."""
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr):
        return False
    func = last.value.func if isinstance(last.value, ast.Call) else None
    name = getattr(func, "id", None) or getattr(func, "attr", None)
    return name not in NONE_RETURNING


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_lint_grade_ids_points_and_test_cells(aid):
    for nb in (REPO / "solutions" / aid).glob("*.ipynb"):
        ids, manual, auto_points = set(), 0, 0
        for cell in _cells(nb):
            meta = _nbgrader(cell)
            if not meta:
                continue
            gid = meta.get("grade_id", "")
            assert gid.startswith(f"{aid}_"), f"{nb.name}: grade id {gid!r} should start with {aid}_"
            assert gid not in ids, f"{nb.name}: duplicate grade id {gid!r}"
            ids.add(gid)
            src = "".join(cell["source"])
            if meta.get("grade"):
                assert meta.get("points", 0) > 0, f"{gid}: a graded cell needs points > 0"
            if meta.get("grade") and cell["cell_type"] == "code":
                assert meta.get("locked") and not meta.get("solution"), f"{gid}: test cells are locked, no solution"
                tree = ast.parse(src)
                assert any(isinstance(n, ast.Assert) or _is_check(n) for n in ast.walk(tree)), (
                    f"{gid}: test cell has no assert and no check(...) (which raises when the answer is wrong)")
                assert "### BEGIN HIDDEN TESTS" in src and "hidden_check(" in src.split("### BEGIN HIDDEN TESTS")[1], (
                    f"{gid}: its hidden test is not a hidden_check(...) call")
                assert not _last_statement_is_bare_value(tree), (
                    f"{gid}: ends in a bare expression, which nbgrader scores as a pass even when it is False"
                )
                assert "### BEGIN HIDDEN TESTS" in src and "check(" in src, f"{gid}: no hidden test"
                auto_points += meta["points"]
            elif meta.get("grade"):
                assert "BEGIN MARK SCHEME" in src, f"{gid}: a manually graded answer needs a rubric (mark scheme)"
                manual += 1
        assert manual == 1, f"{nb.name}: expected exactly one manually graded written answer, found {manual}"
        assert auto_points >= 10, f"{nb.name}: only {auto_points} autograded points"


def test_lint_rejects_a_bare_expression_test_cell():
    assert _last_statement_is_bare_value(ast.parse("import numpy as np\nnp.allclose(1, 2)"))
    assert not _last_statement_is_bare_value(ast.parse("assert x == 1\ncheck('a1', f, seed=1)"))
