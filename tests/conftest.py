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


@pytest.fixture
def torch_one_thread():
    """Run a test with torch on one thread (tiny tensors: faster, and fair on a shared 2-core machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def pytest_terminal_summary(terminalreporter):
    if not NOTEBOOK_TIMES:
        return
    terminalreporter.section("notebook execution times")
    for name, seconds in sorted(NOTEBOOK_TIMES.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    terminalreporter.write_line(f"{sum(NOTEBOOK_TIMES.values()):7.1f} s  total")
