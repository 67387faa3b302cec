"""JupyterLab as `make setup` configures it, in a real browser: a reopened notebook shows its widgets' last
pictures (widget state saved with the notebook: deploy/lab/overrides.json), and a local install without an
exchange offers no assignment list that could only fail."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

NAME = "reopen.ipynb"


def test_a_reopened_notebook_shows_its_widgets(open_notebook, lab):
    nb = open_notebook(NAME)
    picture = nb.panel.locator(".cu-explorer img").first
    picture.wait_for(state="visible")
    nb.page.wait_for_function("() => [...document.querySelectorAll('.cu-explorer img')]"
                              ".some(i => i.complete && i.naturalWidth > 0)")
    nb.wait_kernel_idle()
    nb.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    nb.page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    saved = json.loads((lab.root / NAME).read_text(encoding="utf-8"))
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    pictures = [m["state"] for m in state.values() if m["model_name"] == "AnyModel"
                and m["state"].get("_anywidget_id") == "course_utils.widgets._picture.Picture"]
    assert pictures and any(p.get("alt") for p in pictures), "the picture (and its alt) is saved with the notebook"
    nb.page.close()
    lab.shutdown_kernels()

    again = open_notebook(NAME, run=False)  # reopened: nothing runs
    again.panel.locator(".cu-explorer img").first.wait_for(state="visible")
    again.page.wait_for_function("() => [...document.querySelectorAll('.cu-explorer img')]"
                                 ".some(i => i.complete && i.naturalWidth > 0)")
    assert again.panel.get_by_text("Error displaying widget").count() == 0
    assert again.panel.locator(".cu-explorer .cu-image img").first.get_attribute("alt")  # its alt came back too
    again.screenshot(again.panel, "reopened")


def test_no_assignment_list_without_an_exchange(open_notebook):
    nb = open_notebook(NAME, run=False)
    nb.wait_kernel_idle()
    has = nb.page.evaluate("() => ['nbgrader:open-assignment-list', 'nbgrader:open-course-list']"
                           ".map(c => window.jupyterapp.commands.hasCommand(c))")
    assert has == [False, False], "the local install offers an assignment list with no exchange behind it"
    assert nb.page.get_by_text("Error fetching courses").count() == 0
