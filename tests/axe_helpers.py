"""axe-core in the suite's headless Chromium: which accessibility rules a page breaks, and which of those the
course's own content breaks (not JupyterLab's or nbconvert's page around it).

axe-core comes from the npm registry (``tests/a11y/package-lock.json``; ``make setup`` runs ``npm ci``). Use
with a Playwright page::

    violations = run_axe(page)                    # every violation on the page, as axe reports it
    ours = from_course(page, violations, ".jp-Cell")  # only the nodes inside the course's content
    assert not serious(ours), describe(ours)
"""

from __future__ import annotations

from pathlib import Path

AXE_JS = Path(__file__).resolve().parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
#: axe's impact levels that fail a test (the other two are "moderate" and "minor")
SERIOUS = ("critical", "serious")


def axe_source() -> str:
    """The text of axe.min.js; a clear error when the set-up has not installed it."""
    if not AXE_JS.is_file():
        raise FileNotFoundError(f"{AXE_JS} is missing: run `make setup` (it runs `npm ci --prefix tests/a11y`)")
    return AXE_JS.read_text(encoding="utf-8")


def run_axe(page, include: str | None = None) -> list[dict]:
    """Run axe-core's default rules on ``page`` (or only inside the CSS selector ``include``); returns its
    violations, each a dict as axe reports it (``id``, ``impact``, ``help``, ``nodes`` with ``target`` and
    ``html``, ...)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source())
    return page.evaluate(
        """async (include) => {
            const context = include ? {include: [include]} : document;
            const result = await axe.run(context, {resultTypes: ["violations"]});
            return result.violations;
        }""",
        include,
    )


def serious(violations: list[dict]) -> list[dict]:
    """The violations whose impact is critical or serious."""
    return [v for v in violations if v.get("impact") in SERIOUS]


def from_course(page, violations: list[dict], course_selector: str) -> list[dict]:
    """``violations`` reduced to their nodes inside an element matching ``course_selector`` (the course's
    content: its markdown, outputs, widgets); a violation left without nodes is dropped."""
    inside = page.evaluate(
        """([violations, selector]) => violations.map(v => v.nodes.map(n => {
            const target = Array.isArray(n.target) ? n.target[n.target.length - 1] : n.target;
            let el = null;
            try { el = document.querySelector(Array.isArray(target) ? target[target.length - 1] : target); }
            catch (e) { return false; }
            return !!(el && el.closest(selector));
        }))""",
        [violations, course_selector],
    )
    kept = []
    for violation, flags in zip(violations, inside):
        nodes = [n for n, ok in zip(violation["nodes"], flags) if ok]
        if nodes:
            kept.append({**violation, "nodes": nodes})
    return kept


def describe(violations: list[dict], nodes: int = 3) -> str:
    """One line per violation (impact, rule, help, how many nodes) and its first ``nodes`` nodes' HTML."""
    lines = []
    for v in violations:
        lines.append(f"{v.get('impact')}: {v['id']} ({v.get('help', '')}), {len(v['nodes'])} node(s)")
        lines += [f"    {n.get('html', '')[:160]}" for n in v["nodes"][:nodes]]
    return "\n".join(lines)
