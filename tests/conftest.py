"""Shared fixtures and the suite's timing report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from suite_helpers import NOTEBOOK_TIMES, REPO

# Tests never open windows; notebooks executed by the harness get the same setting through their kernel env.
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def pytest_terminal_summary(terminalreporter):
    if not NOTEBOOK_TIMES:
        return
    terminalreporter.section("notebook execution times")
    for name, seconds in sorted(NOTEBOOK_TIMES.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    terminalreporter.write_line(f"{sum(NOTEBOOK_TIMES.values()):7.1f} s  total")
