"""The accessibility tests' axe-core runner (tests/axe_helpers.py) sees what it must see: an image without a
text alternative is a critical violation, and ``from_course`` keeps only the nodes inside the course's content."""

from __future__ import annotations

import pytest
from axe_helpers import describe, from_course, run_axe, serious

pytestmark = pytest.mark.e2e

PNG = "data:image/png;base64,iVBORw0KGgo="
PAGE = f"""<html lang="en"><head><title>a page</title></head><body><main><h1>A page</h1>
<div class="chrome"><img src="{PNG}"></div>
<div class="course"><img src="{PNG}"><img alt="test accuracy vs epoch: 0.98" src="{PNG}"></div>
</main></body></html>"""


def test_an_image_without_alt_is_critical_and_is_attributed_to_where_it_is(browser):
    page = browser.new_page()
    try:
        page.set_content(PAGE)
        everywhere = run_axe(page)
        [image_alt] = [v for v in everywhere if v["id"] == "image-alt"]
        assert image_alt["impact"] == "critical" and len(image_alt["nodes"]) == 2, describe(everywhere)
        ours = from_course(page, everywhere, ".course")
        assert [(v["id"], len(v["nodes"])) for v in serious(ours)] == [("image-alt", 1)], describe(ours)
        assert [v["id"] for v in run_axe(page, ".course")] == ["image-alt"]
    finally:
        page.close()
