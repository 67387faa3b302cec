"""course_utils._validate: the course's one set of input checks, one argument order
(func, name, value, ...) and one message template ("{func}: {name} must be ..., got ...")."""

import numpy as np
import pytest

from course_utils import _validate as V


@pytest.mark.parametrize("call, error, message", [
    (lambda: V.int_param("f", "n", 0, 1), ValueError, "f: n must be >= 1, got 0"),
    (lambda: V.int_param("f", "n", 2.5, 1), TypeError, "f: n must be an integer, got float 2.5"),
    (lambda: V.int_param("f", "n", True, 0), TypeError, "f: n must be an integer, got bool True"),
    (lambda: V.pair("f", "stride", (1, 2, 3), 1), ValueError,
     "f: stride must be an int or a pair (h, w), got (1, 2, 3)"),
    (lambda: V.pair("f", "stride", (1, 0), 1), ValueError, "f: stride must be >= 1, got 0"),
    (lambda: V.fraction_param("f", "p", 1.0), ValueError, "f: p must be in [0, 1), got 1.0"),
    (lambda: V.fraction_param("f", "p", 0.0, low_open=True), ValueError, "f: p must be in (0, 1), got 0.0"),
    (lambda: V.fraction_param("f", "p", "a"), TypeError, "f: p must be a number, got str 'a'"),
    (lambda: V.real_param("f", "clutter", -1, 0.0), ValueError, "f: clutter must be >= 0.0, got -1"),
    (lambda: V.bool_param("f", "translate", "yes"), TypeError, "f: translate must be True or False, got 'yes'"),
    (lambda: V.one_of("f", "kind", "x", ("a", "b")), ValueError, "f: kind must be one of ('a', 'b'), got 'x'"),
    (lambda: V.range_param("f", "scale", (0.3, 0.1), 0.0, 1.0), ValueError,
     "f: scale must be a number or a (low, high) pair with low <= high, both [0.0, 1.0], got (0.3, 0.1)"),
    (lambda: V.range_param("f", "scale", "big", 0.0), TypeError,
     "f: scale must be a number or a (low, high) pair, got 'big'"),
    (lambda: V.check_ndim("f", "x", np.zeros((2, 3)), 4, "(N, C, H, W)"), ValueError,
     "f: x must be 4-D (N, C, H, W), got shape (2, 3) (2-D)"),
    (lambda: V.check_shape("f", "b", np.zeros(3), (4,)), ValueError, "f: b must have shape (4,), got (3,)"),
    (lambda: V.as_array("f", "x", ["a"]), TypeError, "f: x must be a numeric array, got dtype <U1"),
])
def test_every_message_follows_the_template(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_values_that_pass_come_back_normalised():
    assert V.pair("f", "k", 3, 1) == (3, 3) and V.pair("f", "k", [2, 5], 1) == (2, 5)  # torch's _pair, checked
    assert V.pair("f", "k", np.int64(2), 1) == (2, 2)
    assert V.int_param("f", "n", np.int32(4), 1) == 4
    assert V.fraction_param("f", "p", 0) == 0.0 and V.fraction_param("f", "p", 0.5, low_open=True) == 0.5
    assert V.range_param("f", "r", 2, 1.0) == (2.0, 2.0) and V.range_param("f", "r", (1, 2), 1.0) == (1.0, 2.0)
    assert V.bool_param("f", "b", np.bool_(True)) is True
    assert V.one_of("f", "s", None, (None, "onecycle")) is None


def test_the_library_uses_the_one_validator():
    """make_shapes, split_digits, torch_track and registration raise the same template."""
    from course_utils.data.digits import split_digits
    from course_utils.data.shapes import make_shapes
    from course_utils.registration import make_net
    from course_utils.torch_track import build_model, make_loaders

    for call, message in [
        (lambda: make_shapes(0), "make_shapes: n must be >= 1, got 0"),
        (lambda: split_digits(test_fraction=1.5), "split_digits: test_fraction must be in [0, 1), got 1.5"),
        (lambda: build_model("lenet", num_classes=0), "build_model: num_classes must be >= 1, got 0"),
        (lambda: make_loaders("digits", val_fraction=0.0, verbose=False),
         "make_loaders: val_fraction must be in (0, 1), got 0.0"),
        (lambda: make_net("conv", size=4), "make_net: size must be >= 9, got 4"),
    ]:
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == message
