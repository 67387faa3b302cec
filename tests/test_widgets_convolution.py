"""Headless tests of the convolution explorer: the response map, the dot product, presets, typed kernels."""

import numpy as np
import pytest
import torch

from course_utils.widgets import ConvolutionExplorer
from course_utils.widgets.convolution import KERNELS, compute, make_state, parse_kernel, photo


def test_response_map_matches_torch_and_the_dot_product():
    state = make_state(photo="camera", kernel=KERNELS["sobel x"], row=10, col=30)
    d = compute(state)
    x = torch.tensor(photo("camera"))[None, None]
    expected = torch.nn.functional.conv2d(x, torch.tensor(KERNELS["sobel x"], dtype=torch.float64)[None, None])
    np.testing.assert_allclose(d["response"], expected[0, 0].numpy(), atol=1e-12)
    assert d["dot"] == pytest.approx(d["at_window"], abs=1e-12)


def test_controls_update_state_and_picture():
    w = ConvolutionExplorer()
    png, n = w.png(), w.renders
    w.controls["preset"].value = "blur 3x3"
    assert len(w.state.kernel) == 3 and w.renders == n + 1 and w.png() != png
    assert "out=46x46" in w.status.value
    png = w.png()
    w.controls["col"].value = 5
    assert w.state.col == 5 and w.png() != png
    assert w.fig.axes[0].patches[0].get_x() == pytest.approx(4.5)  # the window's left edge


def test_custom_kernel_and_bad_text():
    assert parse_kernel("1 0 -1; 2,0,-2; 1 0 -1") == ((1, 0, -1), (2, 0, -2), (1, 0, -1))
    w = ConvolutionExplorer(kernel="custom", custom="1 1 1 1")
    assert "out=48x45" in w.status.value
    w.controls["custom"].value = "1 2; 3"
    assert w.status.value.startswith("error") and "equally many" in w.error_box.value
    w.controls["custom"].value = "1; 1"
    assert w.error is None and "out=47x48" in w.status.value


def test_bounds_are_clamped():
    s = make_state(kernel=KERNELS["sobel x"], row=1000, col=-5, photo="nope")
    assert (s.row, s.col, s.photo) == (45, 0, "camera")
    w = ConvolutionExplorer(row=47, col=47)
    assert w.state.row == 47 and w.state.col == 46  # 1x2 kernel: 48 x 47 output
    assert w.controls["col"].value == 46


def test_unchanged_values_do_not_redraw():
    w = ConvolutionExplorer()
    n = w.renders
    w.set_controls(row=w.state.row, col=w.state.col)
    assert w.redraw() is False and w.renders == n


def test_student_conv_errors_and_wrong_results_show_in_the_widget():
    def broken(x, w):
        raise IndexError("index 3 is out of bounds")

    w = ConvolutionExplorer(conv_fn=broken)
    assert "conv_fn raised IndexError" in w.error_box.value and w.status.value.startswith("error #1")

    def flipped(x, w):  # true convolution instead of cross-correlation: differs for sobel
        return torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w[..., ::-1, ::-1].copy())).numpy()

    w = ConvolutionExplorer(conv_fn=flipped, kernel="sobel x")
    assert "differ" in w.caption.value
    w = ConvolutionExplorer(conv_fn=lambda x, w: np.zeros((1, 1, 3, 3)))
    assert "expected (1, 1, 48, 47)" in w.error_box.value
