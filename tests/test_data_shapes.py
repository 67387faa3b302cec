"""course_utils.data.shapes: shapes, determinism, registration vs translation, clutter, labels, errors."""

import numpy as np
import pytest

from course_utils.data.shapes import SHAPE_CLASSES, make_shapes, show_shapes


def _centre_of_mass(X):
    """(n, 2) intensity-weighted (row, col) centres of X (n, 1, H, W)."""
    img = X[:, 0].astype(np.float64)
    rows, cols = np.mgrid[0 : img.shape[1], 0 : img.shape[2]]
    mass = img.sum(axis=(1, 2))
    return np.stack([(img * rows).sum(axis=(1, 2)) / mass, (img * cols).sum(axis=(1, 2)) / mass], axis=1)


@pytest.mark.parametrize("translate", [False, True])
@pytest.mark.parametrize("size", [16, 28, 40])
def test_shapes_dtypes_and_ranges(size, translate):
    X, y = make_shapes(61, size=size, translate=translate, clutter=0.5, seed=3)
    assert X.shape == (61, 1, size, size) and X.dtype == np.float32
    assert y.shape == (61,) and y.dtype == np.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert set(np.unique(y)) == set(range(len(SHAPE_CLASSES)))
    counts = np.bincount(y, minlength=len(SHAPE_CLASSES))
    assert counts.max() - counts.min() <= 1  # balanced to within one
    assert (X.reshape(61, -1).max(axis=1) > 0.45).all()  # a stroke >= 1 px wide lights a pixel >= 0.5


def test_same_seed_same_images_other_seed_other_images():
    a = make_shapes(50, translate=True, clutter=1.0, seed=7)
    b = make_shapes(50, translate=True, clutter=1.0, seed=7)
    c = make_shapes(50, translate=True, clutter=1.0, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_registered_shapes_stay_centred_translated_ones_move():
    Xr, _ = make_shapes(600, translate=False, seed=1)
    Xt, _ = make_shapes(600, translate=True, seed=1)
    centre = (28 - 1) / 2
    spread_r = np.abs(_centre_of_mass(Xr) - centre).max(axis=1)
    spread_t = np.abs(_centre_of_mass(Xt) - centre).max(axis=1)
    assert np.median(spread_r) < 1.0  # asymmetric shapes (ell, tee) sit slightly off their centre
    assert np.median(spread_t) > 2.0
    assert spread_t.max() > 4.0


def test_translated_shapes_stay_inside_the_image():
    X, _ = make_shapes(1200, translate=True, seed=2)
    border = np.concatenate([X[:, 0, 0, :], X[:, 0, -1, :], X[:, 0, :, 0], X[:, 0, :, -1]], axis=1)
    assert border.max() < 0.5


def test_clutter_only_adds_to_the_same_shapes():
    clean, y0 = make_shapes(300, translate=True, clutter=0.0, seed=4)
    busy, y1 = make_shapes(300, translate=True, clutter=2.0, seed=4)
    np.testing.assert_array_equal(y0, y1)
    assert (busy >= clean).all()
    added = (busy - clean).reshape(300, -1).sum(axis=1)
    assert (added > 0).mean() > 0.7  # Poisson(2) distractors: about 86% of images get at least one


def test_labels_match_the_drawings():
    """A nearest-class-mean classifier on registered shapes must beat chance by far: labels are consistent."""
    Xtr, ytr = make_shapes(1200, seed=10)
    Xte, yte = make_shapes(600, seed=11)
    means = np.stack([Xtr[ytr == k].reshape(-1, 28 * 28).mean(axis=0) for k in range(len(SHAPE_CLASSES))])
    dist = ((Xte.reshape(-1, 1, 28 * 28) - means[None]) ** 2).sum(axis=2)
    accuracy = (dist.argmin(axis=1) == yte).mean()
    assert accuracy > 0.7, accuracy


def test_deformation_knobs_change_the_images():
    thin, _ = make_shapes(100, thickness=1.0, seed=5)
    thick, _ = make_shapes(100, thickness=3.0, seed=5)
    assert thick.sum() > 1.8 * thin.sum()
    fixed_a, _ = make_shapes(20, rotation=0.0, aspect=1.0, scale=0.2, thickness=2.0, seed=5)
    fixed_b, _ = make_shapes(20, rotation=0.0, aspect=1.0, scale=0.2, thickness=2.0, seed=6)
    # without deformation, two images of the same class are identical whatever the seed
    for k in range(len(SHAPE_CLASSES)):
        ya, yb = make_shapes(20, seed=5)[1], make_shapes(20, seed=6)[1]
        ia, ib = np.flatnonzero(ya == k)[0], np.flatnonzero(yb == k)[0]
        np.testing.assert_allclose(fixed_a[ia], fixed_b[ib], atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"n": 0}, ValueError, "n must be >= 1"),
        ({"n": 2.5}, TypeError, "n must be an integer"),
        ({"n": 5, "size": 4}, ValueError, "size must be >= 8"),
        ({"n": 5, "clutter": -1}, ValueError, "clutter"),
        ({"n": 5, "translate": "yes"}, TypeError, "translate"),
        ({"n": 5, "scale": (0.3, 0.1)}, ValueError, "scale"),
        ({"n": 5, "aspect": 0.5}, ValueError, "aspect"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        make_shapes(**kwargs)


def test_show_shapes_draws_a_titled_grid():
    X, y = make_shapes(10, seed=0)
    fig = show_shapes(X, y, n=10, ncols=5, title="demo")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 10
    assert [ax.get_title() for ax in images] == [SHAPE_CLASSES[k] for k in y]
    with pytest.raises(ValueError, match="X must be"):
        show_shapes(np.zeros((3, 3)))
