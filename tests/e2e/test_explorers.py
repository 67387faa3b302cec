"""Real-browser tests of the convolution, hyperparameter and receptive-field explorers (JupyterLab +
headless Chromium): they render, respond to a slider / a unit selection, and show the right result."""

import pytest

pytestmark = pytest.mark.e2e


def assert_status_hidden(w):
    """The status text is for these tests only: in the page, never shown to the student."""
    status = w.locator(".cu-status")
    assert status.count() == 1 and status.is_hidden() and status.text_content().startswith("rendered ")
    shown = w.inner_text()  # what the student can read (hidden elements excluded)
    assert status.text_content() not in shown and "rendered" not in shown


@pytest.fixture(scope="module")
def explorers(open_notebook_module):
    """One notebook with the three explorers (one kernel start): 0 hyperparameter, 1 convolution, 2 field."""
    return open_notebook_module("explorers.ipynb")


def test_hyperparameter_explorer_output_size(explorers):
    nb, w = explorers, explorers.explorer(0)
    nb.wait_status(w, r"in=7 k=3 s=2 p=0 d=1 out=3 #1$")
    assert "3×3" in w.locator(".cu-caption").inner_text()  # floor((7 - 3) / 2) + 1 = 3
    before = nb.image_bytes(w)
    nb.screenshot(w, "hyperparameter-before")
    nb.slider_keys(w, "stride", "ArrowRight")  # stride 3: (7 - 3) / 3 does not divide evenly
    nb.wait_status(w, r"in=7 k=3 s=3 p=0 d=1 out=2 #2$")
    caption = w.locator(".cu-caption").inner_text()
    assert "2×2" in caption and "rounded down" in caption  # floor(4 / 3) + 1 = 2, as torch
    nb.slider_keys(w, "padding", "ArrowRight")  # padding 1: (7 + 2 - 3) / 3 + 1 = 3 exactly
    nb.wait_status(w, r"in=7 k=3 s=3 p=1 d=1 out=3 #3$")
    assert "3×3" in w.locator(".cu-caption").inner_text()
    assert nb.image_bytes(w) != before
    assert_status_hidden(w)
    nb.screenshot(w, "hyperparameter-after")


def test_convolution_explorer_responds(explorers):
    nb, w = explorers, explorers.explorer(1)
    nb.wait_status(w, r"camera k=1x2 pos=\(20,20\) out=48x47 #1$")
    before = nb.image_bytes(w)
    nb.screenshot(w, "convolution-before")
    nb.select(w, "kernel", "sobel x")
    nb.wait_status(w, r"k=3x3 pos=\(20,20\) out=46x46 #2$")
    nb.slider_keys(w, "col", "ArrowRight", times=3)
    nb.wait_status(w, r"k=3x3 pos=\(20,23\) out=46x46 #\d+$")
    caption = w.locator(".cu-caption").inner_text()
    assert "46×46" in caption and "✓ equal" in caption  # the response map agrees with the dot product
    assert nb.image_bytes(w) != before
    assert_status_hidden(w)
    nb.screenshot(w, "convolution-after")


def test_receptive_field_explorer_unit_selection(explorers):
    nb, w = explorers, explorers.explorer(2)
    # lecture default: conv 5 then pool 2 -> P + K - 1 = 6, and the autograd field agrees
    nb.wait_status(w, r"layer=2 unit=\(6,6\) field=6x6 agree=True #1$")
    before = nb.image_bytes(w)
    nb.screenshot(w, "receptive-field-before")
    nb.slider_keys(w, "unit row", "ArrowRight", times=2)
    nb.wait_status(w, r"layer=2 unit=\(8,6\) field=6x6 agree=True #\d+$")
    caption = w.locator(".cu-caption").inner_text()
    assert "rows 16–21" in caption and "agree" in caption  # unit row 8, jump 2 -> rows 16..21
    nb.slider_keys(w, "conv K", "ArrowLeft", times=2)  # K = 3: field P + K - 1 = 4
    nb.wait_status(w, r"layer=2 unit=\(8,6\) field=4x4 agree=True #\d+$")
    nb.select(w, "layer", "1: conv 3x3")  # a unit of the first layer sees K x K pixels
    nb.wait_status(w, r"layer=1 unit=\(8,6\) field=3x3 agree=True #\d+$")
    # click unit (20, 5) on the map of layer 1 (30 x 30 units filling the clickable picture)
    clickmap = w.locator(".cu-clickmap img")
    box = clickmap.bounding_box()
    clickmap.click(position={"x": (5 + 0.5) / 30 * box["width"], "y": (20 + 0.5) / 30 * box["height"]})
    nb.wait_status(w, r"layer=1 unit=\(20,5\) field=3x3 agree=True #\d+$")
    assert "rows 20–22, cols 5–7" in w.locator(".cu-caption").inner_text()
    assert nb.image_bytes(w) != before
    assert_status_hidden(w)
    nb.screenshot(w, "receptive-field-after")


def test_a_redraw_is_timed_from_the_key_to_the_decoded_picture(explorers):
    # the browser benchmark's measure (python -m course_tools.bench.browser): it must see this very redraw;
    # how long it takes is printed by the benchmark, never asserted
    nb, w = explorers, explorers.explorer(0)
    before = nb.wait_status(w, r"#\d+$")
    result = nb.timed(w, lambda: nb.slider_keys(w, "window #", "ArrowRight"))
    n = int(before.rsplit("#", 1)[1])
    assert result["status"].endswith(f"#{n + 1}")  # one redraw, its own status text
    assert 0 < result["statusMs"] <= result["ms"] and 0 < result["srcMs"] <= result["ms"]
