"""Widget redraw latency in a real browser: a control changed by the keyboard (or a dropdown choice) -> the
new picture displayed, for every widget, in JupyterLab + headless Chromium.

    python -m course_tools.bench.browser [--repeats 20] [--only NAME ...]

Prints per case the median, p95, max and first latency (ms) and p95 / the 250 ms target side by side. A
latency runs from the control's input event in the page (keydown, input/change of a dropdown, or the
moment a cell's code is sent, for the dashboard, which has no controls) until the kernel's status text for
that redraw (``rendered ... #N``, N above the count before) is in the page AND the widget's new ``<img>``
has loaded and decoded: what the student waits for, including the comm round trip and JupyterLab's work.
Every move counts (no warm-up is dropped): a first visit (a new photo, a new stack) is what a student
meets too. ``python -m course_tools.bench.widgets`` measures the kernel's part alone (callback -> PNG).
Speed is printed here, never asserted in tests.

This module also holds the browser harness the suite's browser tests use (tests/e2e/conftest.py): one
place for it, used by the benchmark and the tests alike. What it does, and why:
JupyterLab on a free loopback port with temporary root/settings/workspace folders, notebook windowing
off, news off, temporary copies of notebooks, the server in its own process group (killed as a group:
that stops the kernels too), MPLBACKEND removed from the server's environment, waiting on text the
kernel sets (never sleeping). Needs Debian's chromium (``apt-get install -y chromium``) and playwright.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "e2e"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
TIMEOUT_MS = 60_000
TARGET_MS = 250.0


# ---------------------------------------------------------------------------------------------- the harness
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    """A running JupyterLab serving temporary copies of ``notebooks`` (name -> source path) from ``tmp/root``:
    ``url(path)`` gives an address with the token; ``root`` is the served folder."""

    def __init__(self, tmp: Path, notebooks: dict[str, Path]):
        self.root, self.token, self.port = tmp / "root", secrets.token_hex(16), free_port()
        self.root.mkdir()
        for name, src in notebooks.items():
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


def launch_chromium(playwright, executable: Path = CHROMIUM):
    """Headless Debian Chromium through a started ``sync_playwright()`` (never ``playwright install``)."""
    return playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)


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

    def _labelled(self, explorer, kind: str, label: str):
        return explorer.locator(kind).filter(
            has=self.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(label)}$")))

    def slider_keys(self, explorer, label: str, key: str, times: int = 1) -> None:
        """Press ``key`` (ArrowRight/ArrowLeft...) ``times`` on the slider whose label is ``label``."""
        handle = self._labelled(explorer, ".widget-slider", label).locator(".noUi-handle")
        handle.focus()
        for _ in range(times):
            handle.press(key)

    def select(self, explorer, label: str, option: str) -> None:
        self._labelled(explorer, ".widget-dropdown", label).locator("select").select_option(label=option)

    def picture(self, explorer):
        """The explorer's picture: its ``<img>`` (the click map of the receptive-field explorer is another)."""
        return explorer.locator(".cu-image img")

    def image_bytes(self, explorer) -> bytes:
        return self.picture(explorer).screenshot()

    def alt(self, explorer) -> str:
        """The text alternative of the explorer's picture."""
        return self.picture(explorer).get_attribute("alt") or ""

    def live_text(self, explorer) -> str:
        """What the explorer's polite live region (role=status) holds: the last redraw's announcement."""
        return explorer.locator(".cu-image [role=status]").text_content() or ""

    def screenshot(self, explorer, tag: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{Path(self.name).stem}-{tag}.png"
        explorer.screenshot(path=str(path))
        return path

    # -- timing one redraw ---------------------------------------------------------------------------------
    def timed(self, explorer, action, timeout_ms: int = TIMEOUT_MS) -> dict:
        """Run ``action()`` (which changes one control of ``explorer``) and time its redraw in the page.

        Returns ``{"ms", "status", "statusMs", "srcMs"}``: milliseconds from the control's input event to the
        redraw's status text and its new picture loaded and decoded (see the module's docstring), the status
        text, and when the status text and the picture's new source arrived. Fails on an error status or
        when no redraw comes."""
        handle = explorer.element_handle()
        self.page.evaluate(_WATCH_JS, [handle, timeout_ms])
        action()
        result = self.page.evaluate("() => window.__cuWatch")
        if "error" in result:
            raise AssertionError(f"{self.name}: {result['error']}")
        return result

    def run_code(self, code: str) -> None:
        """Send ``code`` to the notebook's kernel as a silent execution (no cell, no output)."""
        self.page.evaluate("""(code) => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel
                              .requestExecute({code, silent: true, store_history: false})""", code)


# Installed in the page before one action: t0 = the first input event inside the explorer (or now, for a
# change made by code); resolves window.__cuWatch when the status reads "#M" with M above the count at
# install time and the explorer's picture has a new, loaded and decoded source.
_WATCH_JS = """([el, timeoutMs]) => {
  const count = () => { const m = /#(\\d+)/.exec(el.querySelector('.cu-status').textContent); return m ? +m[1] : 0; };
  const img = () => el.querySelector('.cu-image img');
  const before = count(), oldSrc = img() ? img().src : '';
  let t0 = performance.now(), started = false, done = false, statusMs = null, srcMs = null;
  const events = ['keydown', 'input', 'change', 'pointerdown', 'mousedown'];
  const start = (ev) => { if (!started) { started = true; t0 = performance.now(); } };
  events.forEach(e => el.addEventListener(e, start, true));
  window.__cuWatch = new Promise((resolve) => {
    const finish = (value) => {
      if (done) return; done = true; observer.disconnect(); clearTimeout(timer);
      events.forEach(e => el.removeEventListener(e, start, true)); resolve(value);
    };
    const check = () => {
      if (done) return;
      const text = el.querySelector('.cu-status').textContent, i = img(), now = performance.now() - t0;
      if (i && i.src !== oldSrc && srcMs === null) srcMs = now;
      if (count() <= before) return;
      if (statusMs === null) statusMs = now;
      if (text.startsWith('error')) { finish({error: text}); return; }
      if (!i || i.src === oldSrc || !i.complete || i.naturalWidth === 0) return;
      i.decode().then(() => finish({ms: performance.now() - t0, status: text, statusMs, srcMs}), check);
    };
    const observer = new MutationObserver(check);
    observer.observe(el, {subtree: true, childList: true, characterData: true, attributes: true});
    el.addEventListener('load', check, true);
    const timer = setTimeout(() => finish({error: 'no redraw within ' + timeoutMs + ' ms; status: '
                                           + el.querySelector('.cu-status').textContent}), timeoutMs);
  });
}"""


# --------------------------------------------------------------------------------------------- the benchmark
STUDENT_CODE = '''
import numpy as np

def loop_conv2d(x, w, b=None, stride=1, padding=0):
    """What a student writes first: four loops, one window at a time."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(x[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW] * w[f])
    return out if b is None else out + np.asarray(b)[None, :, None, None]

def loop_maxpool2d(x, kernel_size, stride=None, padding=0):
    stride = stride or kernel_size
    N, C, H, W = x.shape
    Ho, Wo = (H - kernel_size) // stride + 1, (W - kernel_size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = x[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, :, i, j] = win.max(axis=(2, 3))
    return out
'''

# One cell per widget, in the order of the page's explorers (index = position in this list).
WIDGET_CELLS = [
    "ParamCountExplorer()",
    "HyperparameterExplorer(input_size=16, stride=1)",
    "HyperparameterExplorer(input_size=32, kernel_size=11, stride=1)",
    "ConvolutionExplorer()",
    "ConvolutionExplorer(conv_fn=loop_conv2d)",
    "PoolingExplorer()",
    "PoolingExplorer(pool_fn=loop_maxpool2d)",
    "ReceptiveFieldExplorer()",
    "ReceptiveFieldExplorer()",
    "FilterActivationViewer(numpy_model, X[:64])",
    "AdversarialExplorer(mlp, X[:8], y[:8])",
    "dash = TrainingDashboard()\ndash",
]
SETUP_CELL = f"""from course_tools.bench.widgets import digits_models
from course_utils.history import new_history
from course_utils.widgets import *
X, y, numpy_model, mlp = digits_models()
history = new_history()

def grow():
    i = len(history["epoch"])
    history["epoch"].append(i + 1)
    for k, v in (("train_loss", 1 / (i + 1)), ("train_acc", 1 - 0.5 / (i + 1)), ("val_loss", 1.2 / (i + 1)),
                 ("val_acc", 0.9 - 0.5 / (i + 1))):
        history[k].append(v)
    dash.update(history)
{STUDENT_CODE}"""


def bench_notebook() -> dict:
    """The benchmark's notebook (nbformat 4 dict): the setup cell, then one cell per widget."""
    def cell(source):
        return {"cell_type": "code", "execution_count": None, "id": secrets.token_hex(4), "metadata": {},
                "outputs": [], "source": source}
    return {"cells": [cell(SETUP_CELL), *(cell(s) for s in WIDGET_CELLS)], "metadata": {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}


def ping_pong(n: int, span: int) -> list[str]:
    """Keys for ``n`` moves of a slider: ``span`` steps right, ``span`` left, ... (stays in its range)."""
    return ["ArrowRight" if (i // span) % 2 == 0 else "ArrowLeft" for i in range(n)]


def keys(label: str, span: int, n: int):
    return [lambda nb, w, k=k: nb.slider_keys(w, label, k) for k in ping_pong(n, span)]


def choices(label: str, options, n: int):
    return [lambda nb, w, o=option: nb.select(w, label, o) for option, _ in zip(itertools.cycle(options), range(n))]


def mix(*lists):
    """Interleave lists of moves: a, b, a, b, ... (as long as the shortest)."""
    return [move for group in zip(*lists) for move in group]


@dataclass
class Case:
    name: str
    explorer: int  # index among the page's explorers (see WIDGET_CELLS)
    moves: object  # n -> list of callables (nb, explorer) -> None, each making exactly one new redraw
    setup: object = None  # (nb, explorer) -> None, run untimed before the moves


STACKS = ("AlexNet-like (227 x 227)", "VGG-like: 2 x (conv 3, conv 3, pool 2)", "AlexNet-like (227 x 227)",
          "lecture: conv K + pool P")
PHOTOS = ("chelsea", "coins", "astronaut", "china", "camera")
KERNELS = ("sobel x", "sobel y", "blur 3x3", "sharpen", "corner", "dot", "edge [-1, 1]")
ALEX_LAYERS = ("1: conv 11x11 /4", "3: conv 5x5 pad 2", "5: conv 3x3 pad 1", "2: maxpool 3x3 /2")


def _alexnet(nb, w):
    nb.timed(w, lambda: nb.select(w, "stack", STACKS[0]))


CASES = [
    Case("ParamCount: # filters / image size", 0,
         lambda n: mix(keys("# filters", 5, n), keys("image size", 5, n))[:n]),
    Case("Hyperparameter 16px: window / kernel", 1,
         lambda n: mix(keys("window #", 6, n), keys("kernel", 3, n))[:n]),
    Case("Hyperparameter 32px k=11: window / padding", 2,
         lambda n: mix(keys("window #", 6, n), keys("padding", 4, n))[:n]),
    Case("Convolution: col", 3, lambda n: keys("col", 10, n)),
    Case("Convolution: photo switch", 3, lambda n: choices("photo", PHOTOS, n)),
    Case("Convolution: kernel switch", 3, lambda n: choices("kernel", KERNELS, n)),
    Case("Convolution conv_fn: col (first move!)", 4, lambda n: keys("col", 10, n)),
    Case("Convolution conv_fn: photo / kernel", 4,
         lambda n: mix(choices("photo", PHOTOS, n), choices("kernel", KERNELS, n))[:n]),
    Case("Pooling: shift / extent", 5, lambda n: mix(keys("shift", 3, n), keys("extent F", 3, n))[:n]),
    Case("Pooling pool_fn: shift / stride", 6, lambda n: mix(keys("shift", 3, n), keys("stride S", 3, n))[:n]),
    Case("ReceptiveField lecture: unit / K", 7, lambda n: mix(keys("unit row", 5, n), keys("conv K", 2, n))[:n]),
    Case("ReceptiveField: stack switch (AlexNet)", 8, lambda n: choices("stack", STACKS, n)),
    Case("ReceptiveField AlexNet: unit / layer", 8,
         lambda n: mix(keys("unit row", 3, n), choices("layer", ALEX_LAYERS, n))[:n], setup=_alexnet),
    Case("FilterActivation: image / channel", 9, lambda n: mix(keys("image", 6, n), keys("channel", 3, n))[:n]),
    Case("Adversarial: eps / image", 10, lambda n: mix(keys("eps", 8, n), keys("image", 3, n))[:n]),
    Case("TrainingDashboard: update() (no controls)", 11,
         lambda n: [lambda nb, w: nb.run_code("grow()") for _ in range(n)]),
]


def run_cases(nb, repeats: int, only=None, details: bool = False, log=print) -> dict[str, np.ndarray]:
    """Time every case (``only``: names containing one of these words) -> {name: milliseconds}.
    ``details``: also log every move (total, status text arrived, picture's source arrived, status)."""
    results = {}
    for case in CASES:
        if only and not any(word.lower() in case.name.lower() for word in only):
            continue
        w = nb.explorer(case.explorer)
        w.scroll_into_view_if_needed()
        if case.setup:
            case.setup(nb, w)
        times = []
        for move in case.moves(repeats):
            r = nb.timed(w, lambda move=move, w=w: move(nb, w))
            times.append(r["ms"])
            if details:
                log(f"    {r['ms']:6.0f} ms (status at {r['statusMs']:.0f}, picture at {r['srcMs'] or 0:.0f}) "
                    f"{r['status']}")
        results[case.name] = np.array(times)
        log(format_row(case.name, results[case.name]))
    return results


def format_header() -> str:
    return (f"{'case':44s} {'n':>3s} {'median':>7s} {'p95':>7s} {'max':>7s} {'first':>7s}  "
            f"p95/{TARGET_MS:.0f} ms")


def format_row(name: str, ms: np.ndarray) -> str:
    p50, p95 = np.percentile(ms, [50, 95])
    verdict = "ok" if p95 <= TARGET_MS else "SLOW"
    return (f"{name:44s} {len(ms):3d} {p50:7.0f} {p95:7.0f} {ms.max():7.0f} {ms[0]:7.0f}  "
            f"{p95 / TARGET_MS:5.2f} x {verdict}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="moves per case (default 20)")
    parser.add_argument("--only", nargs="*", default=None, help="cases whose name contains one of these")
    parser.add_argument("--details", action="store_true", help="print every move's timings")
    parser.add_argument("--json", type=Path, default=None, help="also write {case: [ms, ...]} to this file")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"bench_browser: skipped, {CHROMIUM} not found (apt-get install -y chromium)")
        return 0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="cu-bench-browser-") as tmp:
        tmp = Path(tmp)
        (tmp / "bench_widgets.ipynb").write_text(json.dumps(bench_notebook()))
        lab = LabServer(tmp, {"bench_widgets.ipynb": tmp / "bench_widgets.ipynb"})
        try:
            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(lab.url("lab/tree/bench_widgets.ipynb?reset"))
                nb = Notebook(page, "bench_widgets.ipynb")
                nb.run_all()
                for i in range(len(WIDGET_CELLS)):
                    nb.wait_status(nb.explorer(i), r"#1$", timeout_ms=180_000)
                nb.wait_kernel_idle()
                print(f"widget redraw in the browser (input event -> status text + new picture decoded); "
                      f"{args.repeats} moves per case; load average {os.getloadavg()[0]:.1f} on "
                      f"{os.cpu_count()} CPUs")
                print(format_header())
                results = run_cases(nb, args.repeats, args.only, args.details)
                browser.close()
        finally:
            lab.stop()
    if args.json:
        args.json.write_text(json.dumps({name: ms.round(1).tolist() for name, ms in results.items()}, indent=1))
    worst = max((np.percentile(ms, 95) for ms in results.values()), default=0.0)
    print(f"worst p95: {worst:.0f} ms ({worst / TARGET_MS:.2f} x the {TARGET_MS:.0f} ms target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
