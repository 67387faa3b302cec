"""Every notebook, as a student runs it (the inline backend) and exported to HTML by nbconvert, checked with
axe-core in headless Chromium: no critical or serious violation in the course's content (its markdown and
its outputs), and every figure with a meaningful text alternative (``course_utils.alt_text``).

nbconvert's page around the content is not the course's (its template, the syntax colours of code cells,
its scripts from a CDN, which are not loaded here: the widgets are tested live in JupyterLab,
test_keyboard_and_axe.py): its violations are printed, not asserted.
"""

from __future__ import annotations

import html
import os
import re
import shutil

import nbformat
import pytest
from axe_helpers import describe, from_course, run_axe, serious
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from suite_helpers import REPO

pytestmark = [pytest.mark.notebooks, pytest.mark.e2e]

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: the course's content in nbconvert's HTML: rendered markdown and cell outputs
COURSE = ".jp-MarkdownCell .jp-RenderedHTMLCommon, .jp-OutputArea-output"
#: text alternatives that say nothing (nbconvert's placeholder, matplotlib's default repr, our empty case)
MEANINGLESS = re.compile(r"^(|No description has been provided for this image|<Figure size .*>|An empty figure\.|"
                         r"Figure)$")


def _executed_html(path, workdir, monkeypatch) -> str:
    shutil.copytree(path.parent, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.ipynb"))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend, as in JupyterLab
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("COURSE_UNDER_TEST", "1")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_content_passes_axe_and_every_figure_is_described(path, browser, tmp_path, monkeypatch):
    page_html = _executed_html(path, tmp_path / path.parent.name, monkeypatch)
    page = browser.new_page()
    try:
        page.route(re.compile(r"^https?://"), lambda route: route.abort())  # offline: nbconvert's CDN scripts
        page.set_content(page_html, wait_until="domcontentloaded")
        violations = run_axe(page)
        ours = from_course(page, violations, COURSE)
        theirs = [v for v in violations if v["id"] not in {o["id"] for o in ours}]
        if theirs:
            print(f"{path.name}: nbconvert's page (not the course's):\n{describe(theirs, nodes=1)}")
        assert not serious(ours), f"{path.name}:\n{describe(serious(ours))}"
        alts = page.eval_on_selector_all(".jp-OutputArea-output img", "imgs => imgs.map(i => i.getAttribute('alt'))")
    finally:
        page.close()
    figures = len(re.findall(r'<img src="data:image/png', page_html))
    assert len(alts) >= figures, (len(alts), figures)
    bad = [a for a in alts if a is None or MEANINGLESS.match(" ".join(a.split()))]
    assert not bad, f"{path.name}: images without a meaningful text alternative: {bad}"
    if os.environ.get("COURSE_PRINT_ALT"):
        print("\n".join(f"  {html.unescape(a)}" for a in alts))
