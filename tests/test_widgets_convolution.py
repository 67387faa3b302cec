"""Headless tests of the convolution explorer: the response map, the dot product, presets, typed kernels,
the student's conv_fn checked against the reference."""

import html

import numpy as np
import pytest
import torch

from course_utils.widgets import ConvolutionExplorer
from course_utils.widgets.convolution import KERNELS, compute, make_state, parse_kernel, photo

from suite_helpers import assert_error_shown_once


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


def _torch_conv(x, w):  # a correct student conv (cross-correlation), independent of the reference
    return torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w)).numpy()


def _flipped(x, w):  # true convolution instead of cross-correlation: the kernel flipped
    return _torch_conv(x, w[..., ::-1, ::-1].copy())


def test_a_correct_conv_fn_agrees_and_is_called_once_per_redraw():
    calls = []

    def my_conv(x, w):
        calls.append((x.shape, w.shape))
        return _torch_conv(x, w)

    w = ConvolutionExplorer(conv_fn=my_conv, kernel="sobel x")
    assert calls == [((1, 1, 48, 48), (1, 1, 3, 3))]
    assert [c.text() for c in w.checks] == ["✓ your convolution (conv_fn) agrees with the reference here"]
    assert "✓ your convolution (conv_fn) agrees" in w.check_box.value
    w.controls["col"].value = 7  # one call per redraw, even when only the window moved
    assert len(calls) == 2 and w.checks[0].agrees
    w.controls["preset"].value = "blur 3x3"
    assert len(calls) == 3


def test_a_flipped_kernel_is_drawn_as_it_is_and_said_to_differ():
    w = ConvolutionExplorer(conv_fn=_flipped, kernel="sobel x")
    x, k = photo("camera")[None, None], np.array(KERNELS["sobel x"])[None, None]
    mine = _flipped(x, k)[0, 0]
    diff = np.abs(mine - _torch_conv(x, k)[0, 0]).max()
    message = f"✗ your convolution (conv_fn) differs from the reference here (max abs difference {diff:.3g})"
    assert [c.text() for c in w.checks] == [message] and html.escape(message) in w.check_box.value
    np.testing.assert_allclose(w.fig._cu_artists["res"].get_array(), mine, atol=1e-12)  # the student's map
    assert "differ: check conv_fn" in w.caption.value  # and its value at the window is not the dot product


def test_conv_fn_returning_out_and_cache_is_one_clear_message():
    def cs231n_style(x, w):
        out = _torch_conv(x, w)
        return out, (x, w)

    w = ConvolutionExplorer(conv_fn=cs231n_style)
    assert_error_shown_once(w, "conv_fn returned a tuple of 2; expected one array of shape (1, 1, 48, 47) "
                               "(return out alone, not (out, cache))")


def test_a_wrong_shape_clears_the_stale_picture():
    def swaps_height_and_width(x, w):  # right for square kernels only
        out = _torch_conv(x, w)
        return out.reshape(1, 1, out.shape[3], out.shape[2])

    w = ConvolutionExplorer(conv_fn=swaps_height_and_width, kernel="sobel x")
    assert w.error is None and w.png() and w.checks[0].agrees
    w.controls["preset"].value = "edge [-1, 1]"  # a 1 x 2 kernel
    assert_error_shown_once(w, "conv_fn returned an array of shape (1, 1, 47, 48); expected one array of shape "
                               "(1, 1, 48, 47) for x of shape (1, 1, 48, 48) and w of shape (1, 1, 1, 2)")
    w.controls["preset"].value = "sobel y"
    assert w.error is None and w.png() and w.image.layout.display is None and w.checks[0].agrees


def test_student_conv_errors_show_once_in_the_widget():
    def broken(x, w):
        raise IndexError("index 3 is out of bounds")

    w = ConvolutionExplorer(conv_fn=broken)
    assert w.error == "conv_fn raised IndexError: index 3 is out of bounds"
    assert w.error_box.value.count(w.error) == 1 and "traceback" in w.error_box.value
    assert w.status.value == "error #1: conv_fn raised IndexError: index 3 is out of bounds"
    assert w.status.layout.display == "none" and w.png() == b""
    assert_error_shown_once(ConvolutionExplorer(conv_fn=lambda x, w: None),
                            "conv_fn returned None; expected one array of shape (1, 1, 48, 47) "
                            "(is a return statement missing?)")
    assert_error_shown_once(ConvolutionExplorer(conv_fn=lambda x, w: np.zeros((1, 1, 3, 3))),
                            "conv_fn returned an array of shape (1, 1, 3, 3); expected one array of shape "
                            "(1, 1, 48, 47) for x of shape (1, 1, 48, 48) and w of shape (1, 1, 1, 2)")


def test_a_torch_tensor_is_read_as_an_array():
    w = ConvolutionExplorer(conv_fn=lambda x, w: torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w)))
    assert w.error is None and w.checks[0].agrees


@pytest.mark.parametrize("kernel", ["edge [-1, 1]", "sobel x"])
def test_every_pixel_is_drawn_as_an_equal_square(kernel):
    # nearest-neighbour at a whole scale: each photo pixel (and response value) is one uniform s x s block
    # of the rendered picture, none drawn wider than its neighbour
    from course_utils.widgets._view import figure_to_array

    w = ConvolutionExplorer(kernel=kernel)
    art = w.fig._cu_artists
    art["window"].set_visible(False)
    art["marker"].set_visible(False)
    rgb = figure_to_array(w.fig).astype(int)
    for im in (art["img"], art["res"]):
        data = np.asarray(im.get_array())
        h, w_ = data.shape
        box = im.axes.get_window_extent()
        top, left = round(w.fig.bbox.height - box.y1), round(box.x0)
        s = round(box.width / w_)
        assert s >= 4 and box.width == pytest.approx(s * w_) and box.height == pytest.approx(s * h)
        blocks = rgb[top:top + s * h, left:left + s * w_].reshape(h, s, w_, s, 3)
        assert (blocks == blocks[:, :1, :, :1]).all()  # uniform blocks
        expected = im.to_rgba(data, bytes=True)[..., :3]
        assert (blocks[:, 0, :, 0] == expected).all()  # in the right place, with the right colour


def test_photos_are_loaded_once_in_the_background():
    import threading

    from course_utils.widgets import _view

    calls = []
    for _ in range(3):
        _view.warm_up("test-photos", lambda: calls.append(threading.current_thread().name))
    for thread in threading.enumerate():
        if thread.name == "course-utils-warm-test-photos":
            thread.join(timeout=10)
    assert calls == ["course-utils-warm-test-photos"]  # once, off the widget's thread
    ConvolutionExplorer()
    assert "photos" in _view._warmed
