"""Headless tests of the hyperparameter explorer against torch's output-size rule."""

import numpy as np
import pytest
import torch

from course_utils.widgets import HyperparameterExplorer
from course_utils.widgets.hyperparams import grids, make_state


@pytest.mark.parametrize("size,k,s,p,d", [(7, 3, 2, 0, 1), (8, 3, 3, 1, 1), (10, 4, 3, 2, 1), (9, 3, 2, 2, 2),
                                          (5, 5, 1, 0, 1), (32, 11, 4, 0, 1)])
def test_output_size_and_dropped_cells_match_torch(size, k, s, p, d):
    state = make_state(input_size=size, kernel_size=k, stride=s, padding=p, dilation=d)
    padded, outgrid, out = grids(state)
    y = torch.nn.functional.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), stride=s, padding=p,
                                   dilation=d)
    assert out == y.shape[-1] and outgrid.shape == (out, out)
    # cells no window reaches: those after the last window's last tap
    reach = (out - 1) * s + d * (k - 1) + 1
    assert (padded[0, reach:] == 2).all() and (padded[0, :reach] != 2).all()


def test_slider_changes_state_picture_and_status():
    w = HyperparameterExplorer(input_size=7, kernel_size=3, stride=2)
    png, n = w.png(), w.renders
    assert "3×3" in w.caption.value.replace("&times;", "×")
    w.controls["stride"].value = 3
    assert w.state.stride == 3 and w.renders == n + 1 and w.png() != png
    assert w.status.value.endswith("out=2 #2")
    assert "rounded down" in w.caption.value


def test_window_moves_by_the_stride():
    state = make_state(input_size=9, kernel_size=3, stride=2, window=1)
    padded, outgrid, out = grids(state)
    rows, cols = np.nonzero(padded == 3)
    assert (rows.min(), cols.min(), cols.max()) == (0, 2, 4) and outgrid[0, 1] == 3


def test_bounds_are_clamped():
    s = make_state(input_size=5, kernel_size=11, stride=0, padding=-1, dilation=9, window=10**6)
    assert s.input_size == 5 and s.stride == 1 and s.padding == 0 and s.dilation == 4
    assert s.dilation * (s.kernel_size - 1) + 1 <= s.input_size + 2 * s.padding
    _, _, out = grids(s)
    assert s.window == out * out - 1
    w = HyperparameterExplorer()
    w.controls["kernel_size"].value = 11
    w.controls["input_size"].value = 4  # the kernel shrinks to fit, and the slider shows it
    assert w.controls["kernel_size"].value == w.state.kernel_size <= 4


def test_unchanged_values_do_not_redraw():
    w = HyperparameterExplorer()
    n = w.renders
    w.set_controls(stride=w.state.stride)
    assert w.redraw() is False and w.renders == n


def test_a_wrong_student_size_function_is_reported():
    w = HyperparameterExplorer(size_fn=lambda size, k, stride=1, padding=0, dilation=1: (size - k) / stride + 1)
    assert "3.0 (float)" in w.error_box.value and "expected the int 3" in w.error_box.value
    assert w.status.value.startswith("error #1")

    def crashing(*args, **kwargs):
        raise ZeroDivisionError("student bug")

    w = HyperparameterExplorer(size_fn=crashing)
    assert "size_fn raised ZeroDivisionError: student bug" in w.error_box.value
