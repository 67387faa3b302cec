"""Shared fixtures and the suite's timing report."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"

# Tests never open windows; notebooks executed by the harness get the same setting through their kernel env.
os.environ.setdefault("MPLBACKEND", "Agg")

NOTEBOOK_TIMES: dict[str, float] = {}


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_terminal_summary(terminalreporter):
    if not NOTEBOOK_TIMES:
        return
    terminalreporter.section("notebook execution times")
    for name, seconds in sorted(NOTEBOOK_TIMES.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    terminalreporter.write_line(f"{sum(NOTEBOOK_TIMES.values()):7.1f} s  total")
