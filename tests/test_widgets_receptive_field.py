"""Headless tests of the receptive-field explorer: analytic boxes against autograd, for every map; the
student's rf_fn checked against the reference."""

import html

import pytest

from course_utils.reference import receptive_field
from course_utils.widgets import ReceptiveFieldExplorer
from course_utils.widgets.receptive_field import STACKS, compute, empirical, layers_of, make_state

from suite_helpers import assert_error_shown_once


@pytest.mark.parametrize("K,P", [(5, 2), (3, 3), (1, 1), (9, 4)])
def test_lecture_stack_field_is_p_plus_k_minus_one(K, P):
    d = compute(make_state(K=K, P=P, layer=1, row=2, col=3))
    assert d["size"] == P + K - 1 and d["agree"]


@pytest.mark.parametrize("stack", list(STACKS))
def test_analytic_matches_autograd_at_corners_and_centre(stack):
    size, layers = layers_of(stack, 5, 2)
    for layer in range(len(layers)):
        side = compute(make_state(stack=stack, layer=layer))["sides"][layer + 1]
        for row, col in [(0, 0), (side - 1, side - 1), (side // 2, side // 3)]:
            d = compute(make_state(stack=stack, layer=layer, row=row, col=col))
            emp = empirical(stack, 5, 2, layer, row, col)
            assert d["clipped"] == (*emp.rows, *emp.cols), (stack, layer, row, col)


def test_intermediate_boxes_are_the_units_feeding_the_chosen_one():
    # lecture stack, pool unit (3, 4): it pools conv units rows 6..7, cols 8..9
    d = compute(make_state(K=5, P=2, layer=1, row=3, col=4))
    assert d["boxes"][1][:4] == (6, 7, 8, 9)
    assert d["boxes"][2][:4] == (3, 3, 4, 4)  # the unit itself


def test_unit_selection_updates_state_picture_status():
    w = ReceptiveFieldExplorer()
    png, n = w.png(), w.renders
    w.controls["row"].value = 0
    assert w.state.row == 0 and w.renders == n + 1 and w.png() != png
    assert w.status.value.startswith("rendered layer=2 unit=(0,6) field=6x6 agree=True")
    w.controls["layer"].value = 0
    assert "field=5x5" in w.status.value


def test_stack_change_clamps_layer_and_unit():
    w = ReceptiveFieldExplorer()
    w.set_controls(stack="AlexNet-like (227 x 227)", layer=7, row=50, col=50)
    assert (w.state.layer, w.state.row, w.state.col) == (7, 5, 5)
    assert "field=195x195" in w.status.value
    w.set_controls(stack="lecture: conv K + pool P")
    assert w.state.layer == 1 and w.state.row <= 13
    s = make_state(K=100, P=0, layer=-3)
    assert (s.K, s.P, s.layer) == (9, 1, 0)


def test_unchanged_values_do_not_redraw():
    w = ReceptiveFieldExplorer()
    n = w.renders
    w.set_controls(row=w.state.row)
    assert w.redraw() is False and w.renders == n


def test_boxes_on_every_map_follow_from_one_call_as_from_each_sub_stack():
    # the box on map m comes from the records of the whole stack; the rule applied to the layers after map m
    # alone must give the same box
    for stack in STACKS:
        size, layers = layers_of(stack, 5, 2)
        for layer in range(len(layers)):
            d = compute(make_state(stack=stack, layer=layer, row=1, col=2))
            for m in range(layer + 1):
                rf = receptive_field([tuple(x[1:]) for x in layers[m:layer + 1]])[-1]
                r0 = int(round(rf.start + 1 * rf.jump - (rf.size - 1) / 2))
                c0 = int(round(rf.start + 2 * rf.jump - (rf.size - 1) / 2))
                assert d["boxes"][m] == (r0, r0 + rf.size - 1, c0, c0 + rf.size - 1, rf.size), (stack, layer, m)


def test_a_correct_rf_fn_agrees_and_is_called_once_per_redraw():
    calls = []

    def my_rf(layers):
        calls.append(list(layers))
        return receptive_field(layers)

    w = ReceptiveFieldExplorer(rf_fn=my_rf, stack="AlexNet-like (227 x 227)", layer=7)
    assert calls == [[(11, 4, 0), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0)]]
    assert [c.text() for c in w.checks] == ["✓ your receptive field (rf_fn) agrees with the reference here"]
    w.controls["row"].value = 2
    assert len(calls) == 2 and "agree=True" in w.status.value


def test_a_wrong_rf_fn_is_drawn_as_it_is_and_said_to_differ():
    def off_by_one(layers):
        return [r._replace(size=r.size + 1) for r in receptive_field(layers)]

    w = ReceptiveFieldExplorer(rf_fn=off_by_one)  # lecture stack, conv 5 then pool 2, unit (6, 6)
    message = "✗ your receptive field (rf_fn) differs from the reference here (layer 1: size 6 instead of 5)"
    assert [c.text() for c in w.checks] == [message] and html.escape(message) in w.check_box.value
    assert w.data["size"] == 7 and "field=7x7 agree=False" in w.status.value  # the student's box is drawn
    box = w.fig._cu_artists["boxes"][0]
    assert (box.get_width(), box.get_height()) == (7, 7)
    assert "differ" in w.caption.value  # and autograd disagrees with it too


def test_wrong_rf_fn_results_are_one_clear_message_and_clear_the_stale_picture():
    def sizes_only(layers):  # the notebook's my_receptive_field_sizes: sizes, no jump or start
        return [r.size for r in receptive_field(layers)]

    w = ReceptiveFieldExplorer()
    assert w.png()
    w.rf_fn = sizes_only
    w.controls["row"].value = 3
    assert_error_shown_once(w, "rf_fn returned a list whose item 0 is an int (5); expected a list of 2 records "
                               "with .size, .jump, .start (one per layer)")
    w.rf_fn = lambda layers: receptive_field(layers)[-1]  # the last record alone
    w.controls["row"].value = 4
    assert_error_shown_once(w, "rf_fn returned a ReceptiveField of 3; expected a list of 2 records with .size, "
                               ".jump, .start (one per layer)")
    w.rf_fn = lambda layers: [(r.size, r.jump, r.start) for r in receptive_field(layers)]  # plain tuples: fine
    w.controls["row"].value = 5
    assert w.error is None and w.png() and w.checks[0].agrees


def test_a_crashing_rf_fn_is_shown_once():
    def crash(layers):
        raise KeyError("jump")

    w = ReceptiveFieldExplorer(rf_fn=crash)
    assert w.error == "rf_fn raised KeyError: 'jump'" and w.status.value == f"error #1: {w.error}"
    assert w.error_box.value.count(html.escape(w.error)) == 1 and w.png() == b""
    assert w.status.layout.display == "none"


def test_clicking_a_unit_on_the_map_selects_it():
    import io

    import numpy as np
    from PIL import Image

    w = ReceptiveFieldExplorer()
    picker = w.clickmap
    assert picker.clickable and "unit (6, 6)" in picker.alt and "unit row and unit col sliders" in picker.alt
    # the page reports a click as fractions of the picture: unit row 4, col 11 of the 14 x 14 map
    picker._on_message(picker, {"event": "click", "x": (11 + 0.5) / 14, "y": (4 + 0.5) / 14}, [])
    assert (w.state.row, w.state.col) == (4, 11)
    assert w.status.value.startswith("rendered layer=2 unit=(4,11) field=6x6")
    assert "unit (4, 11) outlined" in picker.alt and "14x14 units" in picker.alt
    # the map: 16 screen pixels per unit, the chosen unit outlined in red around its own pixels
    rgb = np.asarray(Image.open(io.BytesIO(picker.png)).convert("RGB"))
    assert rgb.shape == (224, 224, 3) and picker.width == 224
    red = (rgb == (255, 32, 32)).all(axis=2)
    rows, cols = np.nonzero(red)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4 * 16 - 2, 5 * 16 + 1, 11 * 16 - 2, 12 * 16 + 1)
    assert not red[4 * 16:5 * 16, 11 * 16:12 * 16].any()  # the unit itself stays visible
    picker.click(1.0, 1.0)  # the last pixel: the last unit, never one past it
    assert (w.state.row, w.state.col) == (13, 13)
    picker._on_message(picker, {"event": "click", "x": "nonsense"}, [])  # ignored
    assert (w.state.row, w.state.col) == (13, 13)


def test_the_unit_sliders_are_described_as_the_way_to_select_a_unit():
    w = ReceptiveFieldExplorer()
    hint = next(c for c in w.widget.children[1].children[2].children if "cu-hint" in c._dom_classes)
    assert "unit row" in hint.value and "unit col" in hint.value and "sliders" in hint.value
    assert all("cu-hinted" in w.controls[name]._dom_classes for name in ("row", "col"))


def test_reused_figure_draws_what_a_fresh_one_draws():
    # the maps live in a cached background keyed on (stack, K, P, layer): moving through other stacks,
    # layers and units first must not leave anything stale behind, in the figure or in the blitted picture
    from course_utils.widgets._blit import Blitter
    from course_utils.widgets._view import artists_of, figure_to_array
    from course_utils.widgets.receptive_field import draw

    alex = "AlexNet-like (227 x 227)"
    fig, blitter = None, Blitter(ReceptiveFieldExplorer.blit)

    def blitted(state, fig):
        data = compute(state)
        fig = draw(state, data, fig)
        return fig, blitter.render(fig, artists_of(fig), state, data).copy()

    for values in [dict(), dict(stack=alex, layer=7, row=1, col=2), dict(stack=alex, layer=2, row=0, col=26),
                   dict(stack=alex, layer=2, row=5, col=3)]:
        fig, _ = blitted(make_state(**values), fig)
    for target in (make_state(stack=alex, layer=3, row=4, col=0), make_state(stack=alex, layer=7, row=5, col=5),
                   make_state(stack=alex, K=3, layer=7, row=5, col=5), make_state(K=7, P=3, row=1, col=2)):
        fig, pixels = blitted(target, fig)
        fresh = figure_to_array(draw(target, compute(target)))
        assert (pixels == fresh).all() and (figure_to_array(fig) == fresh).all(), target


def test_empirical_tint_covers_exactly_the_measured_pixels():
    import numpy as np

    from course_utils.widgets.receptive_field import _show_empirical, draw

    state = make_state(stack="AlexNet-like (227 x 227)", layer=7, row=5, col=0)
    art = draw(state, compute(state))._cu_artists
    emp = empirical(state.stack, state.K, state.P, state.layer, state.row, state.col)
    tint = art["tint"]  # a rectangle: the measured mask is one
    assert tint.get_visible() and not art["overlay"].get_visible()
    assert (tint.get_x() + 0.5, tint.get_y() + 0.5) == (emp.cols[0], emp.rows[0])
    assert (tint.get_width(), tint.get_height()) == (emp.cols[1] - emp.cols[0] + 1, emp.rows[1] - emp.rows[0] + 1)
    holed = np.zeros((8, 8), bool)
    holed[1:4, 1:4] = holed[5, 5] = True  # not a rectangle: tinted pixel by pixel
    _show_empirical(art, holed)
    assert art["overlay"].get_visible() and not tint.get_visible()
    shown = art["overlay"].get_array()
    assert ((shown[..., 3] > 0) == holed).all()


def test_switching_stacks_and_layers_reuses_the_figure_and_its_backgrounds():
    # one figure for every stack (panels hidden and laid out again, no new axes); a background (maps and
    # titles) drawn once per (stack, K, P, layer) is reused when that layer is visited again
    import io

    import numpy as np
    from PIL import Image

    from course_utils.widgets._view import figure_to_array
    from course_utils.widgets.receptive_field import draw

    alex = "AlexNet-like (227 x 227)"
    w = ReceptiveFieldExplorer(stack=alex, layer=2)
    fig, n_axes, first = w.fig, len(w.fig.axes), w._blitter.background
    w.set_controls(layer=4)
    assert w._blitter.background is not first
    w.set_controls(stack="lecture: conv K + pool P")
    assert w.fig.get_figwidth() < 10 and sum(ax.get_visible() for ax in w.fig.axes) == 3
    w.set_controls(stack=alex, layer=2, row=3, col=4)
    assert w.fig is fig and len(fig.axes) == n_axes and w._blitter.background is first
    fresh = figure_to_array(draw(w.state, compute(w.state)))
    assert (figure_to_array(fig) == fresh).all()
    assert (np.asarray(Image.open(io.BytesIO(w.png())))[..., :3] == fresh).all()  # what the student sees
