"""Every notebook as a student runs it is accessible, where it is read: in nbconvert's HTML export and in
JupyterLab. Each notebook runs top to bottom with the kernel's own inline backend (no MPLBACKEND) and is then:

- exported to HTML by nbconvert and opened in headless Chromium (nbconvert's CDN scripts blocked: offline);
- opened in JupyterLab as a notebook whose signature is unknown (handed in, downloaded, copied from another
  machine): JupyterLab sanitizes its HTML outputs, and the figures' ``<img>`` and ``alt`` must survive that.

In both, axe-core (tests/axe_helpers.py) finds no critical or serious violation in the course's content (its
rendered markdown and its outputs), every figure is an ``<img>`` with a meaningful text alternative
(course_utils.alt_text: not empty, not nbconvert's "No description has been provided for this image", not a
generic "Figure"), and no figure is stored twice (as HTML and as ``image/png``). nbconvert's and JupyterLab's
own violations (their page around the content) are printed, not asserted: they are not the course's.

Cost: the notebooks are executed once, two at a time (about 80 s on two cores), both views are checked from that
one run. The browser runs in a subprocess (this file as a script): a second sync Playwright inside the e2e
tests' running one fails ("Sync API inside the asyncio loop"). Widgets are checked live, with the keyboard, in
tests/e2e/test_keyboard_and_axe.py (offline, nbconvert's HTML has no widgets).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from suite_helpers import REPO, in_ci

NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
WORKERS = max(1, min(2, os.cpu_count() or 1))
CHROMIUM = Path("/usr/bin/chromium")
#: the course's content in nbconvert's HTML and in JupyterLab: rendered markdown and cell outputs
HTML_CONTENT = ".jp-MarkdownCell .jp-RenderedHTMLCommon, .jp-OutputArea-output"
LAB_CONTENT = ".jp-OutputArea-output, .jp-MarkdownOutput"
PLACEHOLDER = "No description has been provided for this image"
#: text alternatives that say nothing: nbconvert's placeholder, matplotlib's repr, generic words, our empty case
MEANINGLESS = re.compile(rf"^(|{PLACEHOLDER}|<Figure size .*>|(an? )?(figure|image|plot|chart)\.?|An empty figure\.)$",
                         re.IGNORECASE)
FIGURE_HTML = re.compile(r'^<img src="data:image/png;base64,[^"]+" alt="[^"]*"/>$')


# ------------------------------------------------------------------------------- executing and exporting
def _execute(path: Path, workdir: Path, outdir: Path) -> str:
    """Run ``path`` (its copy in ``workdir``) with nbconvert, the executed notebook to ``outdir``; '' or the error."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel's own inline backend
    env.update(PYTHONHASHSEED="0", COURSE_UNDER_TEST="1")
    cmd = [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--log-level=ERROR",
           f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}", "--ExecutePreprocessor.kernel_name=python3",
           "--output-dir", str(outdir), str(workdir / path.name)]
    try:
        done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=20 * CELL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"{path.name} did not finish in {20 * CELL_TIMEOUT_S} s"
    return "" if done.returncode == 0 else f"{path.name} failed:\n{done.stderr[-4000:]}"


def _figures(nb) -> tuple[int, list[int]]:
    """How many outputs show a figure as ``<img alt>`` HTML, and the cells that store a PNG instead."""
    html_figures, png_cells = 0, []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            html_figures += bool(FIGURE_HTML.match(data.get("text/html", "")))
            if "image/png" in data:
                png_cells.append(i)
    return html_figures, png_cells


def _render(tmp: Path) -> dict:
    """Execute every notebook (``WORKERS`` at a time), export each to HTML, then check both views in the browser
    (``_check_in_browser`` in a subprocess). Returns {name: result} (see ``_check_in_browser``), with the
    notebook's figure outputs (``figures``, ``png_cells``) or its execution ``error``."""
    import nbformat
    from nbconvert import HTMLExporter

    workdir, outdir = tmp / "notebooks", tmp / "executed"
    shutil.copytree(NOTEBOOK_DIR, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    outdir.mkdir()
    with ThreadPoolExecutor(WORKERS) as pool:
        errors = dict(zip([p.name for p in NOTEBOOKS], pool.map(lambda p: _execute(p, workdir, outdir), NOTEBOOKS)))
    results, pages = {}, {}
    for path in NOTEBOOKS:
        if errors[path.name]:
            results[path.name] = {"error": errors[path.name]}
            continue
        nb = nbformat.read(outdir / path.name, as_version=4)
        figures, png_cells = _figures(nb)
        body, _ = HTMLExporter().from_notebook_node(nb)
        (outdir / f"{path.stem}.html").write_text(body, encoding="utf-8")
        results[path.name] = {"figures": figures, "png_cells": png_cells}
        pages[path.name] = figures
    if pages:
        report = tmp / "browser.json"
        done = subprocess.run([sys.executable, __file__, str(outdir), json.dumps(pages), str(report)], cwd=REPO,
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"the browser check failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        for name, checked in json.loads(report.read_text()).items():
            results[name].update(checked)
    return results


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    if not CHROMIUM.exists():
        msg = f"{CHROMIUM} not found (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(f"CI=true and {msg}")
        pytest.skip(msg)
    return _render(tmp_path_factory.mktemp("accessibility"))


# ------------------------------------------------------------------------------------------------ the tests
def _bad_alts(alts: list) -> list:
    return [a for a in alts if a is None or MEANINGLESS.match(" ".join(a.split()))]


@pytest.mark.notebooks
@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_notebook_is_accessible_in_nbconvert_html_and_in_jupyterlab(checked, name):
    from axe_helpers import describe

    result = checked[name]
    assert "error" not in result, result.get("error")
    assert not result["png_cells"], (f"{name}: cells {result['png_cells']} store a figure as image/png (no alt in "
                                     "JupyterLab): is course_utils imported before the figure is shown?")
    for view in ("html", "lab"):
        seen = result[view]
        where = {"html": "nbconvert's HTML", "lab": "JupyterLab (untrusted, sanitized)"}[view]
        if seen["theirs"]:
            print(f"{name}, {where}: the page's own violations (not the course's):\n{describe(seen['theirs'], 1)}")
        assert not seen["serious"], f"{name}, {where}: axe in the course's content:\n{describe(seen['serious'])}"
        alts = seen["alts"]
        assert len(alts) >= result["figures"], f"{name}, {where}: {len(alts)} <img> for {result['figures']} figures"
        assert not _bad_alts(alts), f"{name}, {where}: images without a meaningful text alternative: {_bad_alts(alts)}"
    print(f"{name}: {result['figures']} figures; their text alternatives:\n" + "\n".join(
        f"  {a}" for a in result["html"]["alts"]))


def test_the_alternatives_that_say_nothing_are_recognised():
    assert _bad_alts([None, "", PLACEHOLDER, "Figure", "  figure ", "<Figure size 640x480 with 1 Axes>",
                      "An empty figure."]) == [None, "", PLACEHOLDER, "Figure", "  figure ",
                                               "<Figure size 640x480 with 1 Axes>", "An empty figure."]
    assert not _bad_alts(["test accuracy vs epoch 1 to 6; registered from 0.848 to 0.998."])


# ------------------------------------------------------------------------- in the browser (a subprocess)
def _axe(page, content: str) -> dict:
    from axe_helpers import from_course, run_axe, serious

    everything = run_axe(page)
    ours = from_course(page, everything, content)
    ours_nodes = {(v["id"], n["html"]) for v in ours for n in v["nodes"]}
    theirs = [{**v, "nodes": [n for n in v["nodes"] if (v["id"], n["html"]) not in ours_nodes]} for v in everything]
    return {"serious": serious(ours), "theirs": [v for v in theirs if v["nodes"]]}


def _check_in_browser(outdir: Path, pages: dict[str, int]) -> dict:
    """{name: {"html": {...}, "lab": {...}}}, each view with ``serious`` (the course content's critical/serious
    violations), ``theirs`` (the page's own) and ``alts`` (of every ``<img>`` in the outputs)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from course_tools.bench.browser import TIMEOUT_MS, LabServer, launch_chromium

    results = {name: {} for name in pages}
    imgs = "imgs => imgs.map(i => i.getAttribute('alt'))"
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = launch_chromium(pw, CHROMIUM)
        page = browser.new_page()
        page.route(re.compile(r"^https?://"), lambda route: route.abort())  # offline: nbconvert's CDN scripts
        for name in pages:
            page.set_content((outdir / f"{Path(name).stem}.html").read_text(encoding="utf-8"),
                             wait_until="domcontentloaded")
            results[name]["html"] = {**_axe(page, HTML_CONTENT),
                                     "alts": page.eval_on_selector_all(".jp-OutputArea-output img", imgs)}
        page.close()
        lab = LabServer(Path(tmp), {name: outdir / name for name in pages})  # copies: signatures unknown
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(TIMEOUT_MS)
            for name, figures in pages.items():
                page = context.new_page()
                page.goto(lab.url(f"lab/tree/{name}?reset"))
                panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
                shown = f"n => document.querySelectorAll('{panel} .jp-OutputArea-output img').length >= n"
                page.wait_for_function(shown, arg=figures)
                trusted = page.evaluate("""() => { const m = window.jupyterapp.shell.currentWidget.content.model;
                    return [...Array(m.cells.length).keys()].some(i => m.cells.get(i).trusted); }""")
                assert not trusted, f"{name} opened as trusted: the sanitized view is not what this checks"
                results[name]["lab"] = {**_axe(page, LAB_CONTENT),
                                        "alts": page.eval_on_selector_all(f"{panel} .jp-OutputArea-output img", imgs)}
                page.close()
                lab.shutdown_kernels()  # opening a notebook starts its kernel
            context.close()
        finally:
            lab.stop()
        browser.close()
    return results


if __name__ == "__main__":  # python tests/test_accessibility.py OUTDIR PAGES_JSON REPORT (run by _render)
    out, pages_json, report_path = sys.argv[1:4]
    Path(report_path).write_text(json.dumps(_check_in_browser(Path(out), json.loads(pages_json))))
