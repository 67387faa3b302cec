"""The contract every widget module keeps (DEVELOPING.md, "Shared interfaces: Widgets"): the view computes once
per redraw, calling each function under study exactly once, and hands the result to a pure
``draw(state, data, fig=None) -> Figure`` that never calls it and keeps nothing on the figure but its artists."""

import importlib
import inspect

import pytest

from course_utils import counting, reference
from course_utils import widgets as W

MODULES = ("adversarial", "convolution", "dashboard", "filters", "hyperparams", "param_count", "pooling",
           "receptive_field")


def counted(fn, calls: list, name: str):
    """``fn`` that records each call in ``calls`` (not the reference itself: it is checked against it)."""
    def wrapper(*args, **kwargs):
        calls.append(name)
        return fn(*args, **kwargs)
    return wrapper


# (widget, module, {keyword: reference}, moves: control values, each a new state)
OPERATION_WIDGETS = [
    (W.ConvolutionExplorer, "convolution", {"conv_fn": reference.conv2d_forward},
     [{"col": 7}, {"row": 3}, {"preset": "sobel x"}, {"photo": "coins"}]),
    (W.HyperparameterExplorer, "hyperparams", {"size_fn": reference.conv_output_size},
     [{"window": 1}, {"stride": 1}, {"padding": 2}, {"dilation": 2}]),
    (W.PoolingExplorer, "pooling", {"pool_fn": reference.maxpool2d_forward},
     [{"shift": 2}, {"extent": 3}, {"stride": 1}, {"image": "digit 7"}]),
    (W.ReceptiveFieldExplorer, "receptive_field", {"rf_fn": reference.receptive_field},
     [{"row": 2}, {"K": 3}, {"layer": 0}, {"stack": "VGG-like: 2 x (conv 3, conv 3, pool 2)"}]),
    (W.ParamCountExplorer, "param_count", {"fc_count_fn": counting.fully_connected_params,
                                           "lc_count_fn": counting.locally_connected_params,
                                           "conv_count_fn": counting.conv_params},
     [{"image_size": 100}, {"num_filters": 7}, {"bias": True}, {"channels": 3}]),
]


@pytest.mark.parametrize("name", MODULES)
def test_every_module_has_one_draw_signature(name):
    module = importlib.import_module(f"course_utils.widgets.{name}")
    params = inspect.signature(module.draw).parameters
    assert list(params) == ["state", "data", "fig"] and params["fig"].default is None


@pytest.mark.parametrize("widget,module,functions,moves", OPERATION_WIDGETS, ids=lambda v: getattr(v, "__name__", ""))
def test_each_redraw_calls_the_function_under_study_once_and_draw_never(widget, module, functions, moves):
    calls = []
    w = widget(**{keyword: counted(fn, calls, keyword) for keyword, fn in functions.items()})
    assert sorted(calls) == sorted(functions) and len(w.checks) == len(functions)  # once each, all checked
    for move in moves:
        calls.clear()
        renders = w.renders
        w.set_controls(**move)
        assert w.renders == renders + 1 and w.error is None, move
        assert sorted(calls) == sorted(functions), move  # exactly once each per redraw
    calls.clear()
    draw = importlib.import_module(f"course_utils.widgets.{module}").draw
    fig = draw(w.state, w.data)
    assert draw(w.state, w.data, fig) is fig and draw(w.state, w.data, w.fig) is w.fig
    assert calls == []  # draw only draws what the view computed
    assert {k for k in vars(fig) if k.startswith("_cu")} == {"_cu_build", "_cu_artists"}  # no cache keys


def test_the_avg_pool_fn_is_called_once_per_redraw_in_avg_mode_only():
    calls = []
    w = W.PoolingExplorer(pool_fn=counted(reference.maxpool2d_forward, calls, "max"),
                          avg_pool_fn=counted(reference.avgpool2d_forward, calls, "avg"))
    assert calls == ["max"]
    w.controls["mode"].value = "avg"
    w.controls["shift"].value = 3
    assert calls == ["max", "avg", "avg"]


@pytest.mark.parametrize("widget,module,functions,moves", OPERATION_WIDGETS, ids=lambda v: getattr(v, "__name__", ""))
def test_the_default_is_the_reference_and_shows_no_check(widget, module, functions, moves):
    for keyword, fn in functions.items():
        assert inspect.signature(widget).parameters[keyword].default is fn
    w = widget()
    assert w.checks == [] and w.check_box.value == "" and w.error is None


# -- accessibility: a text alternative made from the data drawn, announced with each redraw -------------------
def _tiny_models():
    import numpy as np
    import torch

    from course_utils.reference.sequential import Conv2d, Flatten, Linear, ReLU, Sequential

    images = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    cnn = Sequential(Conv2d(1, 3, 3, padding=1, rng=0), ReLU(), Flatten(), Linear(3 * 8 * 8, 4, rng=1))
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
    return images, cnn, mlp


def _history(n):
    return {"epoch": list(range(1, n + 1)), "train_loss": [1 / k for k in range(1, n + 1)],
            "train_acc": [1 - 0.5 / k for k in range(1, n + 1)], "val_loss": [1.2 / k for k in range(1, n + 1)],
            "val_acc": [0.9 - 0.5 / k for k in range(1, n + 1)]}


# (name, build() -> explorer, moves: callables each changing the state, key numbers the first alt must state)
ALT_CASES = [
    ("convolution", lambda: W.ConvolutionExplorer(), [{"col": 7}, {"preset": "sobel x"}, {"photo": "coins"}],
     ["1x2 window at row 20, col 20", "48x47"]),
    ("hyperparams", lambda: W.HyperparameterExplorer(), [{"stride": 3}, {"padding": 1}, {"window": 2}],
     ["Output 3x3", "7x7 input", "3x3 kernel", "stride 2", "window 1 of 9"]),
    ("pooling", lambda: W.PoolingExplorer(), [{"shift": 2}, {"extent": 3}, {"mode": "avg"}],
     ["16x16", "2x2, stride 2: 8x8 output", "55 window winners marked by a cross", "changes the input by 35%"]),
    ("receptive_field", lambda: W.ReceptiveFieldExplorer(), [{"row": 2}, {"K": 3}, {"layer": 0}],
     ["unit (6, 6)", "6x6 input pixels", "rows 12 to 17", "agrees"]),
    ("param_count", lambda: W.ParamCountExplorer(), [{"image_size": 100}, {"num_filters": 7}, {"channels": 3}],
     ["fully connected 1,600,000,000", "locally connected (10x10 filters) 4,000,000", "convolutional (100 shared "
      "10x10 filters) 10,000"]),
    ("filters", lambda: W.FilterActivationViewer(_tiny_models()[1], _tiny_models()[0]),
     [{"channel": 2}, {"image": 3}], ["3 filters", "1x3x3", "channel 0", "image 0 (8x8)", "feature map on it, 8x8"]),
    ("adversarial", lambda: W.AdversarialExplorer(_tiny_models()[2], _tiny_models()[0], eps_max=0.3),
     [{"eps": 0.1}, {"image": 2}], ["image 0", "eps = 0.000", "from 0 to 0.3"]),
]


@pytest.mark.parametrize("name,build,moves,numbers", ALT_CASES, ids=[c[0] for c in ALT_CASES])
def test_every_picture_has_a_text_alternative_with_the_key_numbers_that_follows_the_state(name, build, moves,
                                                                                         numbers):
    w = build()
    alt = w.alt()
    assert w.error is None and len(alt) > 40 and alt == w.image.alt, alt
    for text in numbers:
        assert text in alt, f"{name}: {text!r} not in {alt!r}"
    assert w.image.live and w.image.announcement.startswith(alt)  # announced politely after each redraw
    seen = {alt}
    for move in moves:
        w.set_controls(**move)
        assert w.error is None and w.alt() and w.alt() not in seen, (move, w.alt())
        assert w.image.announcement.startswith(w.alt())
        seen.add(w.alt())


def test_the_dashboard_describes_its_curves_after_every_epoch():
    dash = W.TrainingDashboard()
    assert "waiting for the first epoch" in dash.alt()
    dash.update(_history(3))
    assert "3 epoch(s)" in dash.alt() and "train 0.333, validation 0.4" in dash.alt() and "73.3%" in dash.alt()
    before = dash.alt()
    dash.update(_history(4))
    assert dash.alt() != before and "4 epoch(s)" in dash.alt()


def test_a_check_that_differs_is_announced_with_the_picture():
    w = W.HyperparameterExplorer(size_fn=lambda *a, **k: 4)
    assert "differs from the reference" in w.image.announcement and w.image.announcement.startswith(w.alt())


def test_the_picture_is_tied_to_its_caption_and_fixes_the_controls_around_it():
    w = W.ConvolutionExplorer()
    assert w.image.described_by == ".cu-caption .widget-html-content" and "cu-caption" in w.caption._dom_classes
    assert w.image.fix_controls and w.image in w.widget.children and "cu-explorer" in w.widget._dom_classes
    assert not w.image.clickable  # never focusable, never clickable: no trap


def test_the_picture_script_ships_with_the_package():
    from importlib import resources

    from course_utils.widgets import _picture

    esm = resources.files("course_utils.widgets").joinpath("_picture.js").read_text(encoding="utf-8")
    assert esm == _picture.Picture._esm and "aria-live" in esm and "export default" in esm
    assert "://" not in esm and "import(" not in esm  # nothing fetched at run time


@pytest.mark.parametrize("backend", [None, "svg"])
def test_importing_or_showing_the_widgets_never_changes_matplotlibs_backend(backend):
    import os
    import subprocess
    import sys

    # the backend as set (None: not chosen yet), read without resolving it (get_backend() would choose one)
    probe = (
        "import importlib, sys, matplotlib\n"
        "before = matplotlib.rcParams._get_backend_or_none()\n"
        f"for m in {MODULES!r} + ('_view', '_blit', '_picture'):\n"
        "    importlib.import_module('course_utils.widgets.' + m)\n"
        "import course_utils.widgets as W\n"
        "shown = [W.ReceptiveFieldExplorer(), W.PoolingExplorer(), W.ConvolutionExplorer(), W.TrainingDashboard(),\n"
        "         W.HyperparameterExplorer(), W.ParamCountExplorer()]  # and showing them\n"
        "after = matplotlib.rcParams._get_backend_or_none()\n"
        "assert before == after, (before, after)\n"
        "assert 'ipympl' not in sys.modules and 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "print(after, matplotlib.get_backend())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    if backend:
        env["MPLBACKEND"] = backend
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    if backend:
        assert backend in out.stdout.lower()
