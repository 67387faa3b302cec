"""The class report (course_tools.grading.report) in headless Chromium: it renders offline, from its one file."""

from __future__ import annotations

import pytest
from test_grading_report import POINTS, report  # noqa: F401  (the report fixture: a generated class's page)


@pytest.mark.e2e
def test_renders_in_chromium_offline(report, browser):  # noqa: F811
    from course_tools.bench.browser import ARTIFACTS

    out, _, _, _ = report
    url = out.resolve().as_uri()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        requests, problems = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url, wait_until="load")
        loaded = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
        heading = page.locator("h1").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = page.screenshot(path=str(ARTIFACTS / "class-report.png"), full_page=True)
    finally:
        page.close()
    assert heading == "Class report"
    assert loaded == [True] * len(POINTS), "every histogram decoded"
    assert [u for u in requests if not u.startswith("data:")] == [url], requests
    assert not problems, problems
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
