"""Headless tests of the training dashboard: the history format, live redraws, bad histories."""

import numpy as np
import pytest

from course_utils.widgets import TrainingDashboard


def history(n, val=True):
    ep = list(range(1, n + 1))
    return {"epoch": ep, "train_loss": [1.0 / e for e in ep], "train_acc": [1 - 0.5 / e for e in ep],
            "val_loss": [1.2 / e for e in ep] if val else [], "val_acc": [0.9 - 0.5 / e for e in ep] if val else []}


def test_update_redraws_curves_with_the_history():
    d = TrainingDashboard()
    assert d.status.value == "rendered epochs=0 #1"
    png = d.png()
    d.update(history(3))
    assert d.status.value == "rendered epochs=3 #2" and d.png() != png
    ax_loss = d.fig.axes[0]
    x, y = ax_loss.lines[0].get_data()
    np.testing.assert_allclose(y, [1.0, 0.5, 1 / 3])
    assert "validation accuracy" in d.caption.value


def test_usable_as_on_epoch_end_with_a_growing_history():
    from course_utils.reference.sequential import Conv2d, Flatten, Linear, ReLU, Sequential

    rng = np.random.default_rng(0)
    X = rng.random((40, 1, 6, 6)).astype(np.float32)
    y = (X.mean(axis=(1, 2, 3)) > 0.5).astype(np.int64)
    model = Sequential(Conv2d(1, 2, 3, rng=0), ReLU(), Flatten(), Linear(2 * 4 * 4, 2, rng=1))
    d = TrainingDashboard()
    seen = []
    model.fit(X, y, X_val=X, y_val=y, epochs=3, batch_size=20, on_epoch_end=lambda h: (d.update(h), seen.append(1)))
    assert len(seen) == 3 and d.status.value.startswith("rendered epochs=3")


def test_unchanged_history_does_not_redraw_and_no_validation_is_fine():
    d = TrainingDashboard()
    d.update(history(2, val=False))
    n = d.renders
    d.update(history(2, val=False))
    assert d.renders == n


@pytest.mark.parametrize("bad,err,text", [
    ([1, 2], TypeError, "must be a dict"),
    ({"epoch": [1]}, ValueError, "lacks"),
    ({**history(2), "train_acc": [0.5]}, ValueError, "has 1 values but history['epoch'] has 2"),
    ({**history(2), "train_loss": ["a", "b"]}, TypeError, "must hold numbers"),
])
def test_bad_history_is_shown_and_raised(bad, err, text):
    d = TrainingDashboard()
    with pytest.raises(err, match=text.replace("[", r"\[").replace("]", r"\]")):
        d.update(bad)
    assert text in d.error_box.value.replace("&#x27;", "'")


def test_growing_axes_redraw_only_their_ticks_and_match_a_fresh_figure():
    from course_utils.widgets._blit import Blitter
    from course_utils.widgets._view import artists_of, figure_to_array
    from course_utils.widgets.dashboard import compute, draw, make_state

    fig, backgrounds, middles = None, [], []
    blitter = Blitter(TrainingDashboard.blit)
    for n in range(1, 40):
        h = history(n)
        if n >= 20:  # a loss spike at epoch 20: the loss axis grows from 2 to 5
            h["val_loss"][19] = 3.0
        state = make_state(h)
        data = compute(state)
        fig = draw(state, data, fig)
        blitted = blitter.render(fig, artists_of(fig), state, data).copy()
        if not backgrounds or backgrounds[-1][1] is not blitter.background:
            backgrounds.append((n, blitter.background))
        if not middles or middles[-1][1] is not blitter.middleground:
            middles.append((n, blitter.middleground))
    # everything is drawn again when the loss passes 2 (rare), the epoch ticks alone when the epochs pass
    # 4, 8, 16, 32 (the axis doubles)
    assert [n for n, _ in backgrounds] == [1, 20] and [n for n, _ in middles] == [1, 5, 9, 17, 20, 33]
    assert fig.axes[0].get_xlim() == (0.5, 64.5) and fig.axes[0].get_ylim() == (0.0, 5.0)
    fresh = draw(state, data)  # a fresh figure and cache: the same picture
    assert (blitted == Blitter(TrainingDashboard.blit).render(fresh, artists_of(fresh), state, data)).all()
    # drawn whole (no blitting) only the layers' order differs: curves under the frame and the legend
    assert (blitted != figure_to_array(fresh)).any(axis=-1).mean() < 0.002
