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
