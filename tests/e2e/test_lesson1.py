"""Real-browser test of lesson 1: open the notebook, run all cells, move the parameter-count explorer."""

import pytest

pytestmark = pytest.mark.e2e

LESSON1 = "01_large_inputs_and_parameter_counting.ipynb"


def test_lesson1_param_count_explorer_responds(open_notebook):
    nb = open_notebook(LESSON1)
    w = nb.explorer()
    # the lecture's numbers: 200x200 image, 40K hidden units, 100 filters of 10x10
    nb.wait_status(w, r"image=200 hidden=40000 k=10 filters=100 fully=1600000000 locally=4000000 "
                      r"convolutional=10000 #1$", timeout_ms=180_000)
    before = nb.image_bytes(w)
    nb.screenshot(w, "before")
    nb.slider_keys(w, "# filters", "ArrowRight")  # 101 filters of 10 x 10
    nb.wait_status(w, r"filters=101 .* convolutional=10100 #2$")
    assert "10,100" in w.locator(".cu-caption").inner_text()
    nb.slider_keys(w, "filter size", "ArrowLeft", times=5)  # 5x5: locally connected 40,000 x 25
    nb.wait_status(w, r"k=5 filters=101 fully=1600000000 locally=1000000 convolutional=2525 #\d+$")
    assert nb.image_bytes(w) != before
    nb.screenshot(w, "after")
    # nothing in the notebook failed
    assert nb.panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").filter(
        has_text="Traceback").count() == 0
