"""Every widget of the course's notebooks, in JupyterLab + headless Chromium, with the keyboard alone and
axe-core: Tab walks through each explorer's controls in order and out of it after the last (no trap; disabled
controls skipped); each control changes with its own keys (arrows, Home/End, Space/Enter, typing) without
moving JupyterLab's cell selection, and the kernel redraws: the picture's alt text and the polite live region
follow; axe finds no critical or serious violation inside the widgets (JupyterLab's own are printed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_helpers import describe, from_course, run_axe, serious
from playwright.sync_api import TimeoutError

from course_tools.bench.browser import ARTIFACTS, TIMEOUT_MS

pytestmark = pytest.mark.e2e

# the notebooks that show widgets (07 shows the same TrainingDashboard as 05)
NOTEBOOKS = ["01_large_inputs_and_parameter_counting.ipynb", "02_convolution.ipynb",
             "04_pooling_and_receptive_fields.ipynb", "05_cnn_from_scratch.ipynb", "08_what_cnns_learn.ipynb",
             "09_tricking_a_neural_net.ipynb"]

# Marks the explorer's focusable elements (document order: no positive tabindex anywhere) with data-cu-tab and
# describes them: kind, visible label, accessible name (aria-labelledby), state; and lists the labels of the
# disabled controls.
_FOCUSABLE_JS = """(root) => {
  const selector = 'a[href], button, input, select, textarea, summary, [tabindex], [contenteditable]';
  const labelOf = (el) => {
    const box = el.closest('.widget-toggle-buttons, .widget-inline-hbox, .widget-checkbox');
    const texts = box ? [...box.querySelectorAll('.widget-label, .widget-label-basic span')]
                            .map(e => e.textContent.replace(/\u200b/g, '').trim()).filter(Boolean) : [];
    return texts.length ? texts[0] : (el.textContent || '').trim();
  };
  const byId = (ids) => (ids || '').split(/\\s+/).filter(Boolean)
      .map(id => { const e = document.getElementById(id); return e ? e.textContent.trim() : '?'; }).join(' ');
  root.querySelectorAll('[data-cu-tab]').forEach(el => el.removeAttribute('data-cu-tab'));
  const controls = [], disabled = [];
  for (const el of root.querySelectorAll(selector)) {
    if (el.disabled || el.getAttribute('aria-disabled') === 'true') { disabled.push(labelOf(el)); continue; }
    const editable = el.isContentEditable && el.contentEditable === 'true';  // focusable, tabIndex -1 or not
    if (el.hasAttribute('contenteditable') && !editable) continue;
    const tabIndex = editable ? +(el.getAttribute('tabindex') ?? 0) : el.tabIndex;
    if (tabIndex < 0 || el.getClientRects().length === 0) continue;
    el.setAttribute('data-cu-tab', String(controls.length));
    let kind = el.tagName.toLowerCase();
    if (el.getAttribute('role') === 'slider') kind = 'slider';
    else if (el.classList.contains('widget-readout')) kind = 'readout';
    else if (kind === 'input') kind = el.type;
    controls.push({index: controls.length, kind, label: labelOf(el),
                   labelledby: byId(el.getAttribute('aria-labelledby')), ariaDisabled: el.getAttribute('aria-disabled'),
                   pressed: el.classList.contains('mod-active'), value: el.getAttribute('aria-valuenow'),
                   max: el.getAttribute('aria-valuemax'), min: el.getAttribute('aria-valuemin'),
                   first: kind === 'slider' && !controls.some(c => c.kind === 'slider'),
                   selected: kind === 'select' ? el.selectedIndex : null,
                   options: kind === 'select' ? el.options.length : null});
  }
  return {controls, disabled};
}"""

_ACTIVE_JS = """(root) => { const a = document.activeElement;
  return {tab: a && a.getAttribute('data-cu-tab'), inside: !!(a && root.contains(a)),
          cell: window.jupyterapp.shell.currentWidget.content.activeCellIndex}; }"""

_STATE_JS = """(root) => ({status: root.querySelector('.cu-status').textContent,
  alt: (root.querySelector('.cu-image img') || {}).alt || '',
  live: (root.querySelector('.cu-image [role=status]') || {}).textContent || ''})"""


def wait_all_run(nb) -> None:
    """Run All has finished: every code cell has an execution count and the kernel is idle."""
    nb.page.wait_for_function(
        """() => { const p = window.jupyterapp.shell.currentWidget;
                   const k = p.sessionContext.session && p.sessionContext.session.kernel;
                   return !!k && k.status === 'idle' && p.content.widgets.every(
                       c => c.model.type !== 'code' || c.model.sharedModel.source.trim() === ''
                            || c.model.executionCount !== null); }""", timeout=180_000)


def focusables(nb, root) -> list[dict]:
    return nb.page.evaluate(_FOCUSABLE_JS, root)["controls"]


def disabled_labels(nb, root) -> set[str]:
    return set(nb.page.evaluate(_FOCUSABLE_JS, root)["disabled"])


def active(nb, root) -> dict:
    return nb.page.evaluate(_ACTIVE_JS, root)


def focus(nb, root, index: int) -> None:
    nb.page.evaluate("([root, i]) => root.querySelector(`[data-cu-tab='${i}']`).focus()", [root, index])


def redraw_count(status: str) -> int:
    m = re.search(r"#(\d+)", status)
    return int(m.group(1)) if m else 0


def check_tab_order(nb, root, title: str) -> list[dict]:
    """Tab from the first control visits every focusable element of the explorer in order, then leaves it;
    Shift+Tab from the first leaves it backwards. Returns the controls (see _FOCUSABLE_JS)."""
    controls = focusables(nb, root)
    if not controls:
        return controls
    focus(nb, root, 0)
    visited = [active(nb, root)["tab"]]
    for _ in range(len(controls) + 2):
        nb.page.keyboard.press("Tab")
        now = active(nb, root)
        if not now["inside"]:
            break
        visited.append(now["tab"])
    else:
        pytest.fail(f"{title}: Tab never leaves the explorer (a keyboard trap): visited {visited}")
    assert visited == [str(c["index"]) for c in controls], f"{title}: Tab order {visited} vs {controls}"
    focus(nb, root, 0)
    nb.page.keyboard.press("Shift+Tab")
    assert not active(nb, root)["inside"], f"{title}: Shift+Tab from the first control stays inside"
    for c in controls:
        assert c["ariaDisabled"] != "true", f"{title}: a disabled control is in the Tab order: {c}"
        if c["kind"] in ("slider", "readout"):  # named by its visible label (axe: aria-input-field-name)
            assert c["labelledby"] and c["labelledby"] == c["label"], f"{title}: unnamed {c}"
    return controls


def keys_for(control: dict, select_key: str) -> list[str] | None:
    """The keys that change ``control`` (None: leave it as it is)."""
    kind = control["kind"]
    if kind == "slider":  # End on the first, → on the others, Home at the end of the range
        value, low, high = float(control["value"]), float(control["min"]), float(control["max"])
        if low == high:
            return None  # one value only (e.g. the one window of a 1x1 output)
        return ["Home"] if value >= high else ["End"] if control["first"] else ["ArrowRight"]
    if kind == "select":
        last = control["selected"] == control["options"] - 1
        if select_key == "End":
            return ["ArrowUp"] if last else ["End"]
        return ["ArrowDown"] if control["selected"] == 0 else ["Home"]
    if kind == "checkbox":
        return ["Space"]
    if kind == "button":
        return None if control["pressed"] else ["Enter"]
    if kind == "number":
        return ["ArrowUp", "Enter"]
    if kind == "text":
        return ["Control+A", "type:1 0 -1; 2 0 -2; 1 0 -1", "Enter"]
    return None  # a slider's readout: the same value as its handle, changed there


def change_each_control(nb, root, title: str, select_key: str) -> tuple[set[str], set[str]]:
    """Tab through the explorer from its first control, changing each with its keys. After each change the
    kernel redraws, the picture's alt text and the live region change, the focus stays on the control and
    JupyterLab's cell selection does not move. Returns (labels changed, labels of disabled controls)."""
    changed, disabled = set(), set()
    controls = focusables(nb, root)
    focus(nb, root, 0)
    cell = active(nb, root)["cell"]
    for _ in range(3 * len(controls) + 3):
        now = active(nb, root)
        if not now["inside"]:
            break
        controls = focusables(nb, root)  # what is enabled now (a change may enable or disable others)
        now = active(nb, root)
        disabled |= disabled_labels(nb, root)
        control = controls[int(now["tab"])]
        keys = keys_for(control, select_key)
        if keys:
            before = nb.page.evaluate(_STATE_JS, root)
            for key in keys:
                if key.startswith("type:"):
                    nb.page.keyboard.type(key[5:])
                else:
                    nb.page.keyboard.press(key)
            n = redraw_count(before["status"])
            try:
                nb.page.wait_for_function(
                    """([root, n]) => { const t = root.querySelector('.cu-status').textContent;
                                        const m = /#(\\d+)/.exec(t);
                                        return t.startsWith('error') || (m && +m[1] > n); }""",
                    arg=[root, n], timeout=TIMEOUT_MS)
            except TimeoutError:
                pytest.fail(f"{title}: {keys} on {control} made no redraw (status {before['status']!r})")
            after = nb.page.evaluate(_STATE_JS, root)
            assert after["status"].startswith("rendered"), f"{title}: {keys} on {control}: {after['status']}"
            assert after["alt"] and after["alt"] != before["alt"], f"{title}: alt unchanged after {keys} {control}"
            nb.page.wait_for_function(  # the live region speaks the new picture once the keys rest
                "([root, alt]) => (root.querySelector('.cu-image [role=status]') || {}).textContent?.startsWith(alt)",
                arg=[root, after["alt"]], timeout=10_000)
            where = active(nb, root)
            assert where["inside"] and where["tab"] == now["tab"], f"{title}: focus left {control} after {keys}"
            assert where["cell"] == cell, f"{title}: {keys} on {control} moved JupyterLab's cell selection"
            changed.add(control["label"])
        nb.page.keyboard.press("Tab")
    else:
        pytest.fail(f"{title}: Tab never left the explorer")
    return changed, disabled


def without(violations: list[dict], drop: list[dict]) -> list[dict]:
    """``violations`` without the nodes that ``drop`` holds (nodes compared by their target)."""
    dropped = {str(n["target"]) for v in drop for n in v["nodes"]}
    kept = [{**v, "nodes": [n for n in v["nodes"] if str(n["target"]) not in dropped]} for v in violations]
    return [v for v in kept if v["nodes"]]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_widgets_work_by_keyboard_alone_and_pass_axe(open_notebook, name):
    nb = open_notebook(name)
    wait_all_run(nb)
    explorers = nb.panel.locator(".cu-explorer")
    assert explorers.count() >= 1, f"{name}: no widget"
    report = []
    for i in range(explorers.count()):
        w = explorers.nth(i)
        nb.wait_status(w, r"^rendered .*#\d+$")
        w.scroll_into_view_if_needed()
        root = w.element_handle()
        title = w.locator(".widget-html-content b").first.inner_text()
        state = nb.page.evaluate(_STATE_JS, root)
        assert len(state["alt"]) > 40 and state["live"].startswith(state["alt"]), f"{title}: {state}"
        assert nb.page.evaluate("(root) => { const r = root.querySelector('.cu-image [role=status]');"
                                " return r.getAttribute('aria-live') === 'polite' && r.getClientRects().length > 0"
                                " && !!root.querySelector('.cu-image img[aria-describedby]'); }", root), title
        controls = check_tab_order(nb, root, title)
        if not controls:  # the training dashboard: no controls, its alt follows the training (checked above)
            assert "epoch" in state["alt"], state
            report.append(f"{title}: no controls; alt: {state['alt']}")
            continue
        changed, disabled = change_each_control(nb, root, title, select_key="End")
        if disabled:  # something was disabled on the way: go round again (Home on dropdowns) to reach it
            more, _ = change_each_control(nb, root, title, select_key="Home")
            changed |= more
            check_tab_order(nb, root, title)
        names = {c["label"] for c in controls if c["kind"] not in ("readout", "slider") or c["min"] != c["max"]}
        stuck = {c["label"] for c in focusables(nb, root) if c["kind"] == "slider" and c["min"] == c["max"]}
        missing = names - changed - stuck
        assert not missing, f"{title}: never changed by keyboard: {missing}"
        report.append(f"{title}: {len(controls)} focusable, changed {sorted(changed)}; disabled on the way "
                      f"{sorted(disabled)}")
    violations = run_axe(nb.page)
    ours = from_course(nb.page, violations, ".cu-explorer")
    content = without(from_course(nb.page, violations, ".jp-OutputArea-output, .jp-MarkdownOutput"), ours)
    others = without(violations, ours + content)  # JupyterLab's own page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    text = (f"{name}\n" + "\n".join(report) + "\n\naxe, inside the widgets (.cu-explorer):\n"
            + (describe(ours) or "none") + "\n\naxe, the notebook's other cells (markdown, figures):\n"
            + (describe(content) or "none") + "\n\naxe, JupyterLab's own page:\n" + (describe(others) or "none"))
    (ARTIFACTS / f"keyboard-axe-{Path(name).stem}.txt").write_text(text)
    print(text)
    assert not serious(ours), f"{name}: axe finds critical/serious violations in the widgets:\n{describe(ours)}"
    # the notebook's figures, live in JupyterLab: each an <img> with its text alternative (course_utils.alt_text)
    assert not serious(content), f"{name}: axe finds critical/serious violations in the content:\n{describe(content)}"
    alts = nb.panel.locator(".jp-OutputArea-output img").evaluate_all("imgs => imgs.map(i => i.getAttribute('alt'))")
    assert alts and all(a and a.strip() for a in alts), f"{name}: figures without a text alternative: {alts}"
