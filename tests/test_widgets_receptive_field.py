"""Headless tests of the receptive-field explorer: analytic boxes against autograd, for every map."""

import pytest

from course_utils.reference import receptive_field
from course_utils.widgets import ReceptiveFieldExplorer
from course_utils.widgets.receptive_field import STACKS, compute, empirical, layers_of, make_state


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


def test_a_wrong_student_rf_fn_disagrees_and_a_crash_is_shown():
    def off_by_one(layers):
        return [r._replace(size=r.size + 1) for r in receptive_field(layers)]

    w = ReceptiveFieldExplorer(rf_fn=off_by_one)
    assert "agree=False" in w.status.value and "differ" in w.caption.value

    def crash(layers):
        raise KeyError("jump")

    w = ReceptiveFieldExplorer(rf_fn=crash)
    assert "rf_fn raised KeyError" in w.error_box.value


def test_clicking_a_unit_on_the_map_selects_it():
    from matplotlib.backend_bases import MouseEvent

    w = ReceptiveFieldExplorer()
    picker = w.clickmap
    x, y = picker.ax.transData.transform((11, 4))  # display coordinates of unit row 4, col 11
    picker.canvas.callbacks.process("button_press_event", MouseEvent("button_press_event", picker.canvas, x, y, 1))
    assert (w.state.row, w.state.col) == (4, 11)
    assert w.status.value.startswith("rendered layer=2 unit=(4,11) field=6x6")
    assert picker.shape == (14, 14) and picker.box.get_x() == 10.5


def test_reused_figure_draws_what_a_fresh_one_draws():
    # the maps live in a cached background keyed on (stack, K, P, layer): moving through other stacks,
    # layers and units first must not leave anything stale behind
    from course_utils.widgets._view import figure_to_array
    from course_utils.widgets.receptive_field import draw

    alex = "AlexNet-like (227 x 227)"
    fig = None
    for values in [dict(), dict(stack=alex, layer=7, row=1, col=2), dict(stack=alex, layer=2, row=0, col=26),
                   dict(stack=alex, layer=2, row=5, col=3)]:
        fig = draw(make_state(**values), fig)
        figure_to_array(fig)
    for target in (make_state(stack=alex, layer=3, row=4, col=0), make_state(stack=alex, layer=7, row=5, col=5),
                   make_state(stack=alex, K=3, layer=7, row=5, col=5), make_state(K=7, P=3, row=1, col=2)):
        assert (figure_to_array(draw(target, fig)) == figure_to_array(draw(target))).all(), target


def test_empirical_tint_covers_exactly_the_measured_pixels():
    import numpy as np

    from course_utils.widgets.receptive_field import _show_empirical, draw

    state = make_state(stack="AlexNet-like (227 x 227)", layer=7, row=5, col=0)
    art = draw(state)._cu_artists
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
