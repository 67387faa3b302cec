"""Analytic receptive fields (size, jump, start) against the empirical field measured with torch autograd."""

from __future__ import annotations

import pytest
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.reference import empirical_receptive_field, receptive_field


@pytest.mark.parametrize("k,p", [(5, 2), (3, 2), (5, 3), (1, 2)])
def test_conv_then_pool_gives_p_plus_k_minus_1(k, p):
    rf = receptive_field([(k, 1, 0), (p, p, 0)])
    assert rf[-1].size == p + k - 1
    assert rf[-1].jump == p
    measured = empirical_receptive_field([(k, 1, 0), ("maxpool", p, p, 0)], input_size=32, trials=16)
    assert measured.size == (p + k - 1, p + k - 1)


def test_known_stacks():
    assert [r.size for r in receptive_field([(3, 1, 1)] * 3)] == [3, 5, 7]
    alexnet = receptive_field([(11, 4, 0), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0)])
    assert [r.size for r in alexnet] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert alexnet[-1].jump == 32
    assert receptive_field([(3, 1, 0, 2)])[0].size == 5  # dilation 2


@st.composite
def stacks(draw):
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "avgpool"]))
        k = draw(st.integers(1, 4))
        layers.append((kind, k, draw(st.integers(1, 2)), draw(st.integers(0, k // 2))))
    return layers


@settings(derandomize=True, deadline=None, max_examples=25)
@given(stacks())
def test_analytic_matches_autograd(layers):
    rf = receptive_field([layer[1:] for layer in layers])[-1]
    size = 80
    measured = empirical_receptive_field(layers, input_size=size, trials=2)
    # The centre unit's field, from start and jump, lies inside the 80x80 input for these small stacks.
    out = size
    for _, k, s, p in layers:
        out = (out + 2 * p - k) // s + 1
    centre = rf.start + (out // 2) * rf.jump
    first, last = centre - (rf.size - 1) / 2, centre + (rf.size - 1) / 2
    assert 0 <= first and last < size
    assert measured.size == (rf.size, rf.size)
    assert measured.rows == (first, last) and measured.cols == (first, last)


def test_empirical_field_of_a_module_and_a_max_pool_needs_several_inputs():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(4), nn.Conv2d(4, 1, 3))
    rf = receptive_field([(3, 1, 0), (4, 4, 0), (3, 1, 0)])[-1]
    assert rf.size == 3 + 3 + 2 * 4
    measured = empirical_receptive_field(net, input_size=40, trials=32)
    assert measured.size == (rf.size, rf.size)
    one = empirical_receptive_field(net, input_size=40, trials=1)
    assert one.mask.sum() < measured.mask.sum()  # one input's max-pool winners cover only part of the field


def test_receptive_field_errors():
    with pytest.raises(ValueError, match=r"layers\[1\] must be a tuple \(kernel_size, stride, padding\)"):
        receptive_field([(3, 1, 1), (3, 1)])
    with pytest.raises(ValueError, match=r"layers\[0\] stride must be >= 1, got 0"):
        receptive_field([(3, 0, 1)])
    with pytest.raises(TypeError, match="layers must be a sequence"):
        receptive_field(3)


def test_empirical_field_leaves_the_callers_net_alone():
    import torch

    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 1, 3)).train()
    before = [p.detach().clone() for p in net.parameters()]
    field = empirical_receptive_field(net, input_size=(12, 10), trials=2)
    assert field.size == (5, 5) and field.mask.shape == (12, 10)
    assert all(p.dtype == torch.float32 and p.grad is None for p in net.parameters())
    assert net.training
    for p, q in zip(net.parameters(), before):
        torch.testing.assert_close(p.detach(), q, rtol=0, atol=0)


def test_empirical_field_errors_name_argument_expected_and_received():
    with pytest.raises(ValueError, match=r"^empirical_receptive_field: trials must be >= 1, got 0$"):
        empirical_receptive_field([(3, 1, 1)], trials=0)
    with pytest.raises(ValueError, match=r"^empirical_receptive_field: input_size must be an int or a pair \(h, w\), "
                                         r"got \(8, 8, 8\)$"):
        empirical_receptive_field([(3, 1, 1)], input_size=(8, 8, 8))
    with pytest.raises(ValueError, match=r"^empirical_receptive_field: unit must be a \(row, col\) inside the output "
                                         r"map of shape \(8, 8\), got \(8, 0\)$"):
        empirical_receptive_field([(3, 1, 1)], input_size=8, unit=(8, 0))
    with pytest.raises(ValueError, match=r"layers\[0\] kind must be one of \('conv', 'maxpool', 'avgpool'\), "
                                         r"got 'dense'"):
        empirical_receptive_field([("dense", 3, 1, 1)])
