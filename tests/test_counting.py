"""Parameter counting (lecture slides 8-9, 23) and per-layer summaries of torch modules (AlexNet, slide 36)."""

from __future__ import annotations

import math

import pytest
import torch.nn as nn

from course_utils.counting import (
    ALEXNET_DIFFERENCES,
    LECTURE_ALEXNET,
    LECTURE_ALEXNET_SLIDE_ORDER,
    LECTURE_ALEXNET_TOTALS,
    MULT_ADD_CONVENTION,
    alexnet,
    alexnet_table,
    conv_params,
    count_params,
    fully_connected_params,
    locally_connected_params,
    model_summary,
    slide_figure,
)


def test_lecture_numbers():
    assert fully_connected_params(200, 40_000) == 1_600_000_000
    assert locally_connected_params(40_000, 10) == 4_000_000
    assert conv_params(100, 10) == 10_000
    assert conv_params(96, 11, channels=3, bias=True) == count_params(nn.Conv2d(3, 96, 11))
    assert fully_connected_params(6, 4096, channels=256, bias=True) == count_params(nn.Linear(9216, 4096))


def test_counting_errors():
    with pytest.raises(ValueError, match="hidden_units must be >= 1, got 0"):
        fully_connected_params(10, 0)
    with pytest.raises(TypeError, match="filter_size must be an integer"):
        conv_params(3, 2.5)


def test_summary_of_a_small_net_by_hand():
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 32x32 out
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, bias=False),  # 32x32 out
        nn.MaxPool2d(2),  # 16x16
        nn.BatchNorm2d(8),
        nn.Flatten(),
        nn.Linear(8 * 16 * 16, 10),
    )
    s = model_summary(net, (3, 32, 32))
    by_kind = [(r.kind, r.output_shape, r.params, r.mult_adds) for r in s.rows]
    assert by_kind == [
        ("Conv2d", (8, 32, 32), 8 * 27 + 8, 32 * 32 * 8 * 27),
        ("ReLU", (8, 32, 32), 0, 0),
        ("Conv2d", (8, 32, 32), 8 * 2 * 9, 32 * 32 * 8 * 2 * 9),
        ("MaxPool2d", (8, 16, 16), 0, 0),
        ("BatchNorm2d", (8, 16, 16), 16, 0),
        ("Flatten", (2048,), 0, 0),
        ("Linear", (10,), 2048 * 10 + 10, 2048 * 10),
    ]
    assert s.total_params == sum(p.numel() for p in net.parameters()) == sum(r.params for r in s.rows)
    assert s.total_mult_adds == sum(r[3] for r in by_kind)
    assert "total" in str(s) and "Conv2d" in str(s)
    assert net.training  # the mode is restored


def test_shared_module_counted_once():
    lin = nn.Linear(4, 4)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    s = model_summary(net, (4,))
    assert [r.params for r in s.rows] == [20, 0, 0] and s.total_params == 20
    assert s.total_mult_adds == 32


def _shortened(value: int, like: int) -> set[int]:
    """``value`` truncated and rounded to as many significant digits as ``like`` shows."""
    digits = len(str(like).rstrip("0"))
    scale = 10 ** (len(str(value)) - digits)
    return {value // scale * scale, round(value / scale) * scale}


@pytest.fixture(scope="module")
def lecture_alexnet():
    net = alexnet()
    return net, model_summary(net, (3, 227, 227))


def test_alexnet_reproduces_the_lecture_table(lecture_alexnet):
    net, s = lecture_alexnet
    rows = {r.name: r for r in s.rows}
    for name, lecture in LECTURE_ALEXNET.items():
        weights = getattr(net, name).weight.numel()
        assert lecture["params"] in _shortened(weights, lecture["params"]), name
        assert lecture["flops"] in _shortened(rows[name].mult_adds, lecture["flops"]), name
    assert rows["conv1"].output_shape == (96, 55, 55) and rows["pool5"].output_shape == (256, 6, 6)
    weights_total = sum(getattr(net, n).weight.numel() for n in LECTURE_ALEXNET)
    assert weights_total == 61_618_208 and s.total_params == weights_total + 10_568
    assert s.total_mult_adds == 836_547_104
    # The slide's totals are the sums of its shortened per-layer figures.
    assert sum(v["params"] for v in LECTURE_ALEXNET.values()) == pytest.approx(
        LECTURE_ALEXNET_TOTALS["params"], rel=1e-3
    )
    assert sum(v["flops"] for v in LECTURE_ALEXNET.values()) == LECTURE_ALEXNET_TOTALS["flops"]


def test_alexnet_paper_variant_and_explanations():
    paper = model_summary(alexnet("paper"), (3, 227, 227))
    conv4 = next(r for r in paper.rows if r.name == "conv4")
    assert conv4.params == 384 * 192 * 9 + 384 and conv4.mult_adds == 224_280_576 // 2
    assert math.isclose(paper.total_params, 61.0e6, rel_tol=1e-3)
    assert math.isclose(paper.total_mult_adds, 724e6, rel_tol=1e-3)
    table = alexnet_table()
    assert "conv4" in table and "61,628,776" in table and "832,000,000" in table
    assert all(d in table for d in ALEXNET_DIFFERENCES)
    assert "one multiply-add per weight per output position" in MULT_ADD_CONVENTION
    with pytest.raises(ValueError, match=r"alexnet: variant must be one of \('lecture', 'paper'\), got 'vgg'"):
        alexnet("vgg")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        model_summary([nn.ReLU()], (3,))


def test_slide_figures_print_the_lecture_table_as_the_slide_does():
    # typed from slide 36 (output layer first): the one place the notebook's comparison reads from
    assert LECTURE_ALEXNET_SLIDE_ORDER == ("fc8", "fc7", "fc6", "conv5", "conv4", "conv3", "conv2", "conv1")
    params = [slide_figure(LECTURE_ALEXNET[n]["params"]) for n in LECTURE_ALEXNET_SLIDE_ORDER]
    flops = [slide_figure(LECTURE_ALEXNET[n]["flops"]) for n in LECTURE_ALEXNET_SLIDE_ORDER]
    assert params == "4M 16M 37M 442K 1.3M 884K 307K 35K".split()
    assert flops == "4M 16M 37M 74M 224M 149M 223M 105M".split()
    assert slide_figure(LECTURE_ALEXNET_TOTALS["params"]) == "60M"
    assert slide_figure(LECTURE_ALEXNET_TOTALS["flops"]) == "832M"
    assert slide_figure(1.2e9) == "1.2G" and slide_figure(999) == "999"


def test_count_params_counts_shared_tensors_once_and_can_skip_frozen_ones():
    shared = nn.Linear(4, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(3, 2))
    assert count_params(model) == 4 * 3 + 3 + 3 * 2 + 2
    model[3].weight.requires_grad_(False)
    assert count_params(model, trainable_only=True) == 4 * 3 + 3 + 2
    assert count_params(model) == 4 * 3 + 3 + 3 * 2 + 2


def test_counting_errors_name_function_argument_and_value():
    with pytest.raises(ValueError, match=r"^conv_params: filter_size must be >= 1, got 0$"):
        conv_params(3, 0)
    with pytest.raises(TypeError, match=r"^fully_connected_params: image_size must be an integer, got float 2.5$"):
        fully_connected_params(2.5, 3)
