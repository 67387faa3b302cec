"""Harness 3, real browser: JupyterLab on a free loopback port + headless Debian Chromium via Playwright.

Facts this follows are in ../shared/notes/browser-testing.md: temporary root/settings/workspace folders,
notebook windowing off (off-screen cells would not render), news off, temporary copies of notebooks, the
server in its own process group (killed as a group: that stops the kernels too), MPLBACKEND removed from
the server's environment, wait on text the kernel sets (never sleep). With CI=true a missing browser is a
failure, otherwise a skip. Screenshots go to artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from suite_helpers import free_port, in_ci

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "e2e"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
NOTEBOOKS = {  # name served -> source (repository copy)
    "01_large_inputs_and_parameter_counting.ipynb": REPO / "notebooks" / "01_large_inputs_and_parameter_counting.ipynb",
    **{p.name: p for p in (Path(__file__).parent / "notebooks").glob("*.ipynb")},
}
TIMEOUT_MS = 60_000


def _write_settings(settings: Path) -> None:
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false", "checkForUpdates": False},
    }
    for rel, content in files.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


class LabServer:
    """A running JupyterLab: ``url(path)`` gives an address with the token; ``root`` is the served folder."""

    def __init__(self, tmp: Path):
        self.root, self.token, self.port = tmp / "root", secrets.token_hex(16), free_port()
        self.root.mkdir()
        for name, src in NOTEBOOKS.items():
            if src.exists():
                shutil.copy(src, self.root / name)  # temporary copies: autosave must not touch the repo
        settings, workspaces, runtime = tmp / "settings", tmp / "workspaces", tmp / "runtime"
        _write_settings(settings)
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # it would leak into the kernels
        env.update(JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
                   JUPYTER_RUNTIME_DIR=str(runtime), JUPYTER_CONFIG_DIR=str(tmp / "config"))
        self.log = open(tmp / "server.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", f"--port={self.port}",
             f"--IdentityProvider.token={self.token}", "--allow-root", f"--ServerApp.root_dir={self.root}",
             "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0"],
            cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready(tmp / "server.log")

    def url(self, path: str = "") -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{sep}token={self.token}"

    def _wait_ready(self, log: Path, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)  # polling the server's readiness, not waiting for a result
        raise RuntimeError(f"JupyterLab did not answer /api/status in {timeout:.0f} s:\n{log.read_text()[-3000:]}")

    def shutdown_kernels(self) -> None:
        with urllib.request.urlopen(self.url("api/kernels"), timeout=10) as r:
            kernels = json.load(r)
        for k in kernels:
            req = urllib.request.Request(self.url(f"api/kernels/{k['id']}"), method="DELETE")
            urllib.request.urlopen(req, timeout=10).close()

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.log.close()


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
    server = LabServer(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Notebook:
    """One notebook open in JupyterLab, with helpers that wait on what the kernel sets."""

    def __init__(self, page, name: str):
        self.page, self.name = page, name

    @property
    def panel(self):
        return self.page.locator(".jp-NotebookPanel:visible")

    def wait_kernel_idle(self) -> None:
        # the toolbar's idle indicator appears before the kernel exists: ask the app itself
        self.page.wait_for_function(
            """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                       const k = w && w.sessionContext && w.sessionContext.session
                                 && w.sessionContext.session.kernel;
                       return !!k && k.connectionStatus === 'connected' && k.status === 'idle'; }""",
            timeout=TIMEOUT_MS)

    def run_all(self) -> None:
        self.wait_kernel_idle()
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    def explorer(self, index: int = 0):
        return self.panel.locator(".cu-explorer").nth(index)

    def wait_status(self, explorer, pattern: str, timeout_ms: int = TIMEOUT_MS) -> str:
        """Wait until the explorer's status label (set by the kernel after each redraw) matches ``pattern``.

        The label is in the page for the tests but hidden from the student (display: none): wait for it to be
        attached with that text, not visible, and read its text content."""
        status = explorer.locator(".cu-status")
        try:
            status.filter(has_text=re.compile(pattern)).wait_for(state="attached", timeout=timeout_ms)
        except Exception:
            self.screenshot(self.panel, "failure")
            shown = status.all_text_contents() if explorer.count() else "no explorer on the page"
            errors = self.panel.locator(".cu-error").all_inner_texts()
            raise AssertionError(
                f"status never matched {pattern!r}; status text: {shown}; widget errors: {errors}") from None
        return status.text_content()

    def slider_keys(self, explorer, label: str, key: str, times: int = 1) -> None:
        """Press ``key`` (ArrowRight/ArrowLeft...) ``times`` on the slider whose label is ``label``."""
        slider = explorer.locator(".widget-slider").filter(
            has=self.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(label)}$")))
        handle = slider.locator(".noUi-handle")
        handle.focus()
        for _ in range(times):
            handle.press(key)

    def select(self, explorer, label: str, option: str) -> None:
        dropdown = explorer.locator(".widget-dropdown").filter(
            has=self.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(label)}$")))
        dropdown.locator("select").select_option(label=option)

    def image_bytes(self, explorer) -> bytes:
        return explorer.locator("img").first.screenshot()

    def screenshot(self, explorer, tag: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{Path(self.name).stem}-{tag}.png"
        explorer.screenshot(path=str(path))
        return path


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
