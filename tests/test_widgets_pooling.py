"""Headless tests of the pooling explorer: pooled maps against torch, winners, the shift, errors."""

import numpy as np
import pytest
import torch

from course_utils.widgets import PoolingExplorer
from course_utils.widgets.pooling import compute, image, make_state, winners


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


def test_student_pool_errors_are_shown():
    def broken(x, kernel_size, stride=None, padding=0):
        raise NotImplementedError("write maxpool2d_forward first")

    w = PoolingExplorer(pool_fn=broken)
    assert "pool_fn raised NotImplementedError" in w.error_box.value
    w.controls["mode"].value = "avg"  # the reference average pool works: the error goes away
    assert w.error is None and w.error_box.value == ""
    w = PoolingExplorer(pool_fn=lambda x, k, stride=None: x)
    assert "expected (1, 1, 8, 8)" in w.error_box.value
