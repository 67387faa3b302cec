"""Headless tests of the parameter-count explorer: controls -> state -> picture, clamping, errors."""

import html

import numpy as np
import pytest

from course_utils.widgets import ParamCountExplorer
from course_utils.widgets._view import figure_to_array
from course_utils.widgets.param_count import compute, draw, make_state

from suite_helpers import assert_error_shown_once


def test_default_state_is_the_lecture_example():
    counts = dict(compute(make_state())["counts"])
    # independent arithmetic: 200*200 pixels x 40,000 units; 40,000 units x 10*10; 100 filters x 10*10
    assert counts == {"fully connected": 200 * 200 * 40_000, "locally connected": 4_000_000,
                      "convolutional": 10_000}


def test_moving_a_slider_updates_state_picture_and_status():
    w = ParamCountExplorer()
    png0, renders0 = w.png(), w.renders
    w.controls["num_filters"].value = 7
    assert w.state.num_filters == 7
    assert dict(w.data["counts"])["convolutional"] == 7 * 10 * 10
    assert w.renders == renders0 + 1
    assert w.png() != png0
    assert w.status.value == f"rendered {w.describe(w.state, w.data)} #{w.renders}"
    assert "700" in w.caption.value


def test_drawn_bars_follow_the_counts():
    state = make_state(image_size=20, hidden_units=400, filter_size=3, num_filters=2)
    fig = draw(state, compute(state))
    widths = [bar.get_width() for bar in fig.axes[0].patches]
    np.testing.assert_allclose(widths, np.log10([20 * 20 * 400, 400 * 9, 2 * 9]))


def test_bounds_are_clamped():
    s = make_state(image_size=10**9, filter_size=0, num_filters=-3, hidden_units=0)
    assert (s.image_size, s.filter_size, s.num_filters, s.hidden_units) == (2000, 1, 1, 1)
    w = ParamCountExplorer(image_size=8)
    w.controls["filter_size"].value = 30  # a filter cannot be larger than the image
    assert w.state.filter_size == 8
    assert w.controls["filter_size"].value == 8  # the clamped value is written back


def test_unchanged_values_do_not_redraw():
    w = ParamCountExplorer()
    n = w.renders
    w.controls["image_size"].value = w.controls["image_size"].value
    assert w.redraw() is False
    w.set_controls(image_size=200, num_filters=100)
    assert w.renders == n
    img = figure_to_array(w.fig)
    w.set_controls(image_size=150)
    assert w.renders == n + 1
    assert not np.array_equal(img, figure_to_array(w.fig))


def test_a_broken_student_function_shows_its_error_once():
    def broken_fc(image_size, hidden_units, channels=1, bias=False):
        raise ValueError("oops from student code")

    w = ParamCountExplorer(fc_fn=broken_fc)
    assert w.error == "fc_fn raised ValueError: oops from student code"
    assert w.status.value == "error #1: fc_fn raised ValueError: oops from student code"
    assert w.error_box.value.count(w.error) == 1 and w.png() == b"" and w.status.layout.display == "none"
    assert_error_shown_once(ParamCountExplorer(conv_fn=lambda *a: 1.5), "conv_fn returned a float (1.5); "
                                                                        "expected an int")


def test_wrong_return_types_are_one_clear_message_and_clear_the_stale_picture():
    def weights_and_biases(hidden_units, filter_size, channels=1, bias=False):
        weights = hidden_units * filter_size**2 * channels
        return (weights, hidden_units) if bias else weights

    w = ParamCountExplorer(lc_fn=weights_and_biases)
    assert w.png() and w.checks[0].agrees
    w.controls["bias"].value = True
    assert_error_shown_once(w, "lc_fn returned a tuple of 2; expected an int")
    w.controls["bias"].value = False
    assert w.error is None and w.png() and w.checks[0].agrees


def test_student_functions_are_used_and_checked():
    calls = []

    def my_conv(num_filters, filter_size, channels=1, bias=False):  # forgets the channels
        calls.append((num_filters, filter_size, channels, bias))
        return num_filters * filter_size**2

    def my_fc(image_size, hidden_units, channels=1, bias=False):  # right
        return image_size**2 * channels * hidden_units + (hidden_units if bias else 0)

    w = ParamCountExplorer(conv_fn=my_conv, fc_fn=my_fc)
    assert calls == [(100, 10, 1, False)] and dict(w.data["counts"])["convolutional"] == 10_000
    assert [c.text() for c in w.checks] == [
        "✓ your fully connected count (fc_fn) agrees with the reference here",
        "✓ your convolutional count (conv_fn) agrees with the reference here"]
    w.controls["channels"].value = 3
    message = "✗ your convolutional count (conv_fn) differs from the reference here (10,000 instead of 30,000)"
    assert w.checks[1].text() == message and html.escape(message) in w.check_box.value
    assert dict(w.data["counts"])["convolutional"] == 10_000 and "10,000" in w.caption.value  # the student's count
    assert w.checks[0].agrees


def test_counting_functions_under_their_earlier_names_still_work():
    w = ParamCountExplorer(fc_fn=lambda image_size, hidden_units, channels=1, bias=False: 7)
    assert [c.text() for c in w.checks] == [
        "✗ your fully connected count (fc_fn) differs from the reference here (7 instead of 1,600,000,000)"]
    w = ParamCountExplorer(fc_count_fn=lambda image_size, hidden_units, channels=1, bias=False: 7)
    assert w.checks[0].name == "fc_count_fn" and dict(w.data["counts"])["fully connected"] == 7


def test_displays_itself():
    bundle = ParamCountExplorer()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def _label_boxes(fig):
    """Window extents of the count axis's visible tick labels (left to right) and of the count labels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
    counts = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    return sorted(ticks, key=lambda b: b.x0), counts


@pytest.mark.parametrize("decades", range(0, 18))
def test_count_axis_labels_never_overlap(decades):
    # counts from 10 to 10^17 (the largest the bounds allow is ~2 x 10^16): the axis grows to 10^18, and its
    # labels used to run into each other from 10^12 on
    data = {"counts": (("fully connected", 10**decades * 3 + 1), ("locally connected", 10), ("convolutional", 1))}
    fig = draw(make_state(), data)
    ticks, counts = _label_boxes(fig)
    assert len(ticks) >= 3
    for left, right in zip(ticks, ticks[1:]):
        assert left.x1 + 2 <= right.x0, [t.get_text() for t in fig.axes[0].get_xticklabels()]
    for box in ticks + counts:  # nothing cut off by the edge of the picture
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0


@pytest.mark.parametrize("values", [dict(image_size=2000, channels=512, hidden_units=10**7, filter_size=2000,
                                         num_filters=4096, bias=True),
                                    dict(image_size=4, channels=1, hidden_units=1, filter_size=1, num_filters=1)])
def test_labels_are_readable_at_the_extreme_settings(values):
    state = make_state(**values)
    fig = draw(state, compute(state))
    ticks, counts = _label_boxes(fig)
    assert all(a.x1 + 2 <= b.x0 for a, b in zip(ticks, ticks[1:]))
    assert all(fig.bbox.x0 <= b.x0 and b.x1 <= fig.bbox.x1 for b in ticks + counts)
    texts = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert texts[0] == "1" and all(t.startswith("10") for t in texts[1:])  # powers of ten: 1, 10, 10², ...
