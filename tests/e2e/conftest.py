"""Harness 3, real browser: JupyterLab on a free loopback port + headless Debian Chromium via Playwright.

The harness itself (``LabServer``, ``Notebook``, ``launch_chromium``) lives in course_tools/bench/browser.py,
shared with the browser benchmark (``python -m course_tools.bench.browser``); this file holds the pytest
fixtures; what the harness does and why is in that module's docstring. With CI=true a missing browser is a
failure, otherwise a skip. Screenshots go to artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from course_tools.bench.browser import CHROMIUM, REPO, TIMEOUT_MS, LabServer, Notebook, launch_chromium

from suite_helpers import in_ci

NOTEBOOKS = {  # name served -> source (repository copy): the course's notebooks and the tests' own
    **{p.name: p for p in (REPO / "notebooks").glob("*.ipynb")},
    **{p.name: p for p in (Path(__file__).parent / "notebooks").glob("*.ipynb")},
}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        msg = f"{CHROMIUM} not found (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(f"CI=true and {msg}")
        pytest.skip(msg)
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def lab(tmp_path_factory, chromium_path):
    server = LabServer(tmp_path_factory.mktemp("lab"), NOTEBOOKS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw, Path(chromium_path))
        yield b
        b.close()


class Opener:
    """Opens notebooks in one browser context; ``close()`` closes the pages and shuts the kernels down."""

    def __init__(self, lab, browser):
        self.lab = lab
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(TIMEOUT_MS)

    def __call__(self, name: str, run: bool = True) -> Notebook:
        if not (self.lab.root / name).exists():
            pytest.fail(f"notebook {name} is missing (expected at {NOTEBOOKS.get(name, name)})")
        page = self.context.new_page()
        page.goto(self.lab.url(f"lab/tree/{name}?reset"))
        nb = Notebook(page, name)
        if run:
            nb.run_all()
        return nb

    def close(self) -> None:
        self.context.close()
        self.lab.shutdown_kernels()  # a kernel left running costs CPU and memory for the next tests


@pytest.fixture
def open_notebook(lab, browser):
    """open_notebook(name) -> Notebook: a fresh page on the notebook, all cells run."""
    opener = Opener(lab, browser)
    yield opener
    opener.close()


@pytest.fixture(scope="module")
def open_notebook_module(lab, browser):
    """Like ``open_notebook``, shared by the tests of one module (one kernel start for several tests)."""
    opener = Opener(lab, browser)
    yield opener
    opener.close()
