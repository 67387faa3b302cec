"""course_utils.data.photos: every bundled photo loads offline, in [0, 1], gray or colour, resized."""

import numpy as np
import pytest

from course_utils.data.photos import PHOTO_NAMES, load_photo


@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_every_photo_loads_gray_and_resized(name):
    img = load_photo(name, gray=True, size=(40, 60))
    assert img.shape == (40, 60) and img.dtype == np.float64
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert img.std() > 0.02  # a real picture, not a constant


def test_colour_photo_keeps_three_channels():
    img = load_photo("chelsea", gray=False)
    assert img.shape == (300, 451, 3) and img.dtype == np.float64
    assert 0.0 <= img.min() and img.max() <= 1.0
    small = load_photo("chelsea", gray=False, size=(30, 45))
    assert small.shape == (30, 45, 3)
    gray = load_photo("chelsea")
    assert gray.shape == (300, 451)
    # luminance is a positive blend of the channels (skimage rgb2gray weights)
    np.testing.assert_allclose(gray, img @ np.array([0.2125, 0.7154, 0.0721]), atol=1e-6)


def test_sklearn_photo():
    assert load_photo("china", gray=False).shape == (427, 640, 3)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown name 'dog'") as info:
        load_photo("dog")
    for name in PHOTO_NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("size", [(10,), (0, 5), (5.5, 4), "big"])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size"):
        load_photo("camera", size=size)
