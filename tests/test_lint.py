"""Code style: ruff over the package, tests and notebooks (configuration in pyproject.toml)."""

import subprocess

from suite_helpers import REPO, VENV_BIN


def test_ruff_clean():
    candidates = ("course_utils", "course_tools", "tests", "notebooks", "solutions", "deploy", "requirements",
                  "nbgrader_config.py")
    paths = [p for p in candidates if (REPO / p).exists()]
    result = subprocess.run(
        [str(VENV_BIN / "ruff"), "check", "--no-cache", *paths],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 0, f"ruff found problems:\n{result.stdout}{result.stderr}"
