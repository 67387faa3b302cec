"""Every docstring example (``>>>``) in the course's packages runs, and shows what really happens.

What `pytest --doctest-modules course_utils course_tools` would do, with the same flags (pyproject.toml's
``doctest_optionflags``), minus its cost: it imports all of the package's modules to look for examples (the
grading sandbox, nbgrader, ipywidgets, the training CLI...). Here the modules are picked by their source text
first, so only those with examples are imported (and what they import themselves), and a ``__main__`` module
never is (importing it runs the program). No display is needed: the suite's conftest sets ``MPLBACKEND=Agg``.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import io
import operator
import re
import tomllib

import pytest

from suite_helpers import REPO

PACKAGES = (REPO / "course_utils", REPO / "course_tools")
EXAMPLE = re.compile(r"^\s*>>>", re.M)
PYTEST_CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
FLAGS = functools.reduce(
    operator.or_, (doctest.OPTIONFLAGS_BY_NAME[f] for f in PYTEST_CONFIG.get("doctest_optionflags", [])), 0
)


def _module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_with_examples() -> dict[str, int]:
    """{module name: number of ``>>>`` lines in its source} for every module of the packages that has any."""
    found = {}
    for path in sorted(p for package in PACKAGES for p in package.rglob("*.py")):
        if path.name == "__main__.py":
            continue
        n = len(EXAMPLE.findall(path.read_text(encoding="utf-8")))
        if n:
            found[_module_name(path)] = n
    return found


MODULES = modules_with_examples()


def test_the_examples_are_found():
    assert {"course_utils.checks", "course_utils.reference.gradcheck", "course_utils.torch_track.train"} <= set(
        MODULES
    ), MODULES


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    examples = 0
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        examples += len(test.examples)
        runner.run(test, out=report.write)
    assert runner.failures == 0, f"{runner.failures} docstring example(s) of {name} failed:\n{report.getvalue()}"
    # a `>>>` that doctest does not find (in a comment, in a string that is no docstring) would never run
    assert examples == MODULES[name], (
        f"{name} has {MODULES[name]} '>>>' lines but doctest found {examples} examples: put each example in a "
        "docstring of the module, a class or a function"
    )
