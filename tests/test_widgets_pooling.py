"""Headless tests of the pooling explorer: pooled maps against torch, winners, the shift, the student's
pool_fn checked against the reference, errors."""

import html

import numpy as np
import pytest
import torch

from course_utils.widgets import PoolingExplorer
from course_utils.widgets.pooling import compute, image, make_state, winners

from suite_helpers import assert_error_shown_once as assert_shown_once


@pytest.mark.parametrize("mode,F,S", [("max", 2, 2), ("max", 3, 2), ("avg", 2, 1), ("avg", 4, 4)])
def test_pooled_maps_match_torch(mode, F, S):
    state = make_state(mode=mode, extent=F, stride=S, shift=1)
    d = compute(state)
    pool = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    for key, x in (("pooled", d["x"]), ("pooled_shifted", d["shifted"])):
        np.testing.assert_allclose(d[key], pool(torch.tensor(x)[None, None], F, S)[0, 0].numpy(), atol=1e-12)


def test_winners_are_the_argmax_of_each_window():
    x = np.zeros((4, 4))
    x[0, 1], x[3, 3], x[2, 0] = 1.0, 2.0, 0.5
    assert set(zip(*np.nonzero(winners(x, 2, 2)))) == {(0, 1), (3, 3), (2, 0)}  # 4th window is flat


def test_larger_pooling_is_more_stable_under_a_shift():
    small = compute(make_state(image="digit 3", extent=1, stride=1, shift=1))
    big = compute(make_state(image="digit 3", extent=4, stride=4, shift=1))
    assert big["rel_out"] < small["rel_out"]
    assert small["rel_out"] == pytest.approx(small["rel_in"])  # 1x1 pooling changes nothing


def test_controls_update_state_picture_status():
    w = PoolingExplorer()
    png, n = w.png(), w.renders
    w.controls["mode"].value = "avg"
    assert w.state.mode == "avg" and w.renders == n + 1 and w.png() != png
    assert w.status.value.startswith("rendered avg F=2 S=2 shift=1 out=8")


def test_bounds_and_no_redraw_when_unchanged():
    s = make_state(extent=99, stride=0, shift=-2, image="nope", mode="median")
    assert (s.extent, s.stride, s.shift, s.image, s.mode) == (6, 1, 0, "digit 3", "max")
    assert image("shape: circle").shape == (16, 16)
    w = PoolingExplorer()
    n = w.renders
    w.set_controls(extent=2)
    assert w.redraw() is False and w.renders == n


def _torch_maxpool(x, kernel_size, stride=None):  # a correct student pool, independent of the reference
    return torch.nn.functional.max_pool2d(torch.tensor(x), kernel_size, stride).numpy()


def _torch_avgpool(x, kernel_size, stride=None):  # average pooling, handed in as if it were max pooling
    return torch.nn.functional.avg_pool2d(torch.tensor(x), kernel_size, stride).numpy()


def _red(w, key="x"):
    """The pixels drawn red (window winners) in the input panel."""
    rgb = w.fig._cu_artists[key].get_array()
    return np.all(np.isclose(rgb, [1.0, 0.25, 0.1]), axis=-1)


def assert_error_shown_once(w, message):
    assert_shown_once(w, message, without_traceback=True)


def test_a_correct_pool_fn_agrees_and_is_called_once_per_redraw():
    calls = []

    def my_maxpool(x, kernel_size, stride=None):
        calls.append(x.shape)
        return _torch_maxpool(x, kernel_size, stride)

    w = PoolingExplorer(pool_fn=my_maxpool)
    assert calls == [(2, 1, 16, 16)]  # the image and the shifted image, in one batch
    assert [c.text() for c in w.checks] == ["✓ your max pooling (pool_fn) agrees with the reference here"]
    assert "✓ your max pooling (pool_fn) agrees" in w.check_box.value
    w.controls["shift"].value = 2
    assert len(calls) == 2
    assert (_red(w) == winners(image("digit 3"), 2, 2)).all()  # right answer: the reference's winners
    w.controls["mode"].value = "avg"  # no avg_pool_fn given: the reference, nothing to check
    assert len(calls) == 2 and w.checks == [] and w.check_box.value == ""


def test_average_pooling_given_as_max_is_drawn_as_it_is_and_said_to_differ():
    w = PoolingExplorer(pool_fn=_torch_avgpool)
    x = torch.tensor(np.stack([image("digit 3"), np.pad(image("digit 3"), ((0, 0), (1, 0)))[:, :16]]))[:, None]
    diff = (torch.nn.functional.max_pool2d(x, 2) - torch.nn.functional.avg_pool2d(x, 2)).abs().max().item()
    message = f"✗ your max pooling (pool_fn) differs from the reference here (max abs difference {diff:.3g})"
    assert [c.text() for c in w.checks] == [message] and html.escape(message) in w.check_box.value
    # what is drawn is the student's output: the averages, and as winners only pixels equal to them
    averages = torch.nn.functional.avg_pool2d(x, 2).numpy()
    np.testing.assert_allclose(w.fig._cu_artists["p"].get_array(), averages[0, 0], atol=1e-12)
    np.testing.assert_allclose(w.data["changed"], np.abs(averages[0, 0] - averages[1, 0]), atol=1e-12)
    drawn = _red(w)
    assert (drawn == winners(image("digit 3"), 2, 2, averages[0, 0])).all()
    assert drawn.sum() < winners(image("digit 3"), 2, 2).sum()  # not the reference's winners


def test_pool_fn_returning_out_and_cache_is_one_clear_message():
    w = PoolingExplorer(pool_fn=lambda x, k, stride=None: (_torch_maxpool(x, k, stride), {"x": x}))
    assert_error_shown_once(w, "pool_fn returned a tuple of 2; expected one array of shape (2, 1, 8, 8) "
                               "(return out alone, not (out, cache))")


def test_a_wrong_shape_clears_the_stale_picture_and_a_fix_brings_it_back():
    def forgets_stride(x, kernel_size, stride=None):  # right only when stride == kernel_size
        return _torch_maxpool(x, kernel_size)

    w = PoolingExplorer(pool_fn=forgets_stride)
    assert w.error is None and w.png() and w.checks[0].agrees
    w.controls["stride"].value = 1
    assert_error_shown_once(w, "pool_fn returned an array of shape (2, 1, 8, 8); expected one array of shape "
                               "(2, 1, 15, 15) for x of shape (2, 1, 16, 16) (the image and the shifted image), "
                               "kernel_size=2, stride=1")
    w.controls["stride"].value = 2
    assert w.error is None and w.png() and w.image.layout.display is None and w.caption.value
    assert w.checks[0].agrees and w.error_box.value == ""


def test_student_pool_errors_are_shown_once():
    def broken(x, kernel_size, stride=None, padding=0):
        raise NotImplementedError("write maxpool2d_forward first")

    w = PoolingExplorer(pool_fn=broken)
    assert w.error == "pool_fn raised NotImplementedError: write maxpool2d_forward first"
    assert w.error_box.value.count(html.escape(w.error)) == 1 and "traceback" in w.error_box.value
    assert w.png() == b"" and w.caption.value == w.check_box.value == ""
    assert w.status.layout.display == "none"  # the status text is for the browser tests, not shown
    w.controls["mode"].value = "avg"  # the reference average pool works: the error goes away
    assert w.error is None and w.error_box.value == "" and w.png()
    w = PoolingExplorer(avg_pool_fn=lambda x, k, stride=None: x, mode="avg")
    assert_error_shown_once(w, "avg_pool_fn returned an array of shape (2, 1, 16, 16); expected one array of "
                               "shape (2, 1, 8, 8) for x of shape (2, 1, 16, 16) (the image and the shifted "
                               "image), kernel_size=2, stride=2")


def test_a_float32_pool_fn_agrees_and_its_winners_are_the_reference_winners():
    w = PoolingExplorer(pool_fn=lambda x, k, stride=None: _torch_maxpool(x.astype(np.float32), k, stride))
    assert w.data["pooled"].dtype == np.float32 and w.checks[0].agrees
    assert (_red(w) == winners(image("digit 3"), 2, 2)).all() and _red(w).any()


def test_changing_the_input_in_place_does_not_change_the_picture():
    def scribbles(x, kernel_size, stride=None):
        out = _torch_maxpool(x, kernel_size, stride)
        x[:] = 0.0
        return out

    w = PoolingExplorer(pool_fn=scribbles)
    assert w.checks[0].agrees and image("digit 3").max() > 0  # the cached image is intact
