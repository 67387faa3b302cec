"""Headless tests of the hyperparameter explorer against torch's output-size rule; the student's size_fn
checked against the reference."""

import html
import io

import numpy as np
import pytest
import torch

from course_utils.widgets import HyperparameterExplorer
from course_utils.widgets.hyperparams import grids, make_state

from suite_helpers import assert_error_shown_once


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


def _torch_size(size, kernel_size, stride=1, padding=0, dilation=1):  # correct, independent of the reference
    x = torch.zeros(1, 1, size, size)
    return torch.nn.functional.conv2d(x, torch.zeros(1, 1, kernel_size, kernel_size), stride=stride,
                                      padding=padding, dilation=dilation).shape[-1]


def test_a_correct_size_fn_agrees_and_is_called_once_per_redraw():
    calls = []

    def my_size(size, kernel_size, stride=1, padding=0):  # no dilation: it is passed only when not 1
        calls.append((size, kernel_size, stride, padding))
        return _torch_size(size, kernel_size, stride, padding)

    w = HyperparameterExplorer(size_fn=my_size, input_size=7, kernel_size=3, stride=2)
    assert calls == [(7, 3, 2, 0)]
    assert [c.text() for c in w.checks] == ["✓ your output size (size_fn) agrees with the reference here"]
    w.controls["padding"].value = 1
    assert len(calls) == 2 and w.checks[0].agrees and "✓ your output size" in w.check_box.value


def test_a_forgotten_padding_is_drawn_as_it_is_and_said_to_differ():
    def no_padding(size, kernel_size, stride=1, padding=0):
        return (size - kernel_size) // stride + 1

    w = HyperparameterExplorer(size_fn=no_padding, input_size=7, kernel_size=3, stride=1, padding=1)
    message = "✗ your output size (size_fn) differs from the reference here (5 instead of 7)"
    assert [c.text() for c in w.checks] == [message] and html.escape(message) in w.check_box.value
    assert w.data["outgrid"].shape == (5, 5)  # the student's answer is drawn
    padded = w.data["padded"]  # 9 x 9; 5 windows of 3 at stride 1 reach 7 cells: the last 2 are dropped
    assert (padded[:, 7:] == 2).all() and (padded[4, :7] != 2).all()
    assert "7×7" in w.caption.value.replace("&times;", "×")  # the caption's formula gives the right size

    w = HyperparameterExplorer(size_fn=lambda size, k, stride=1, padding=0: size, input_size=7, kernel_size=3,
                               stride=1)
    assert w.checks[0].text().endswith("(7 instead of 5)")
    outgrid = w.data["outgrid"]
    assert outgrid.shape == (7, 7) and (outgrid[5:, :] == 2).all() and (outgrid[:5, :5] != 2).all()


def test_a_float_size_is_one_clear_message_and_clears_the_stale_picture():
    w = HyperparameterExplorer(size_fn=_torch_size)
    assert w.png() and w.checks[0].agrees
    w.size_fn = lambda size, k, stride=1, padding=0, dilation=1: (size - k) / stride + 1  # true division
    w.controls["stride"].value = 1
    assert_error_shown_once(w, "size_fn returned a float (5.0); expected an int (use // to divide and round down)")
    w.size_fn = lambda size, k, stride=1, padding=0: (size, k)
    w.controls["stride"].value = 2
    assert_error_shown_once(w, "size_fn returned a tuple of 2; expected an int")


def test_a_crashing_size_fn_is_shown_once():
    def crashing(*args, **kwargs):
        raise ZeroDivisionError("student bug")

    w = HyperparameterExplorer(size_fn=crashing)
    assert w.error == "size_fn raised ZeroDivisionError: student bug" and w.status.value.startswith("error #1")
    assert w.error_box.value.count(w.error) == 1 and w.png() == b"" and w.status.layout.display == "none"


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive indices grouped: [(first, length), ...]."""
    runs = []
    for i in indices:
        if runs and i == runs[-1][0] + runs[-1][1]:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((int(i), 1))
    return runs


def drawn_grid_lines(png: bytes, panel: str) -> tuple[list, list]:
    """The grid lines found in the rendered picture, in the input (left) or output (right) panel: (horizontal,
    vertical), each [(first pixel, width), ...]. A horizontal line is a row holding a run of dark pixels as
    long as the longest in the panel (text has short runs); a vertical line is a column dark from the first
    horizontal line to the last."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    split = rgb.shape[1] * 3 // 5
    dark = ((rgb[:, :split] if panel == "in" else rgb[:, split:]) < 100).all(axis=2)
    longest = np.array([max((n for _, n in _runs(np.flatnonzero(row))), default=0) for row in dark])
    rows = np.flatnonzero(longest >= 0.9 * longest.max())
    cols = np.flatnonzero(dark[rows[0]:rows[-1] + 1].all(axis=0))
    return _runs(rows), _runs(cols)


@pytest.mark.parametrize("start", [dict(input_size=32, kernel_size=11, stride=1, padding=0),
                                   dict(input_size=32, kernel_size=11, stride=1, padding=8),
                                   dict(input_size=32, kernel_size=11, stride=4, padding=3, dilation=2),
                                   dict(input_size=7, kernel_size=3, stride=2)])
def test_every_grid_line_is_drawn_evenly(start):
    # 32 x 32 (48 x 48 padded) cells used to be resampled into a smaller panel: lines went missing or doubled
    w = HyperparameterExplorer(**start)
    n_in, n_out = w.data["padded"].shape[0], w.data["outgrid"].shape[0]
    for panel, n in (("in", n_in), ("out", n_out)):
        for lines in drawn_grid_lines(w.png(), panel):
            assert len(lines) == n + 1, (panel, n, lines)  # every cell boundary, the outer ones too
            assert len({width for _, width in lines}) == 1, (panel, lines)  # all equally thick
            assert len({b - a for (a, _), (b, _) in zip(lines, lines[1:])}) == 1, (panel, lines)  # evenly spaced


def test_a_wrong_size_fn_s_large_grid_is_drawn_whole():
    w = HyperparameterExplorer(size_fn=lambda size, k, stride=1, padding=0: 64, input_size=32, padding=8)
    horizontal, vertical = drawn_grid_lines(w.png(), "out")
    assert len(horizontal) == len(vertical) == 65 and w.data["outgrid"].shape == (64, 64)
