"""A synthetic shapes data set: outlines of a few shape classes, centred ("registered") or anywhere.

Every image shows one white outline on black, drawn with some within-class deformation:
size, aspect ratio, stroke thickness and rotation vary from image to image. With ``translate=False``
the shape is centred (registered, like aligned faces); with ``translate=True`` it is placed anywhere
it fits (like objects in general images, lecture slides 10-13). ``clutter`` adds random strokes and
blobs around it (segmentation is hard, slide 7).

>>> X, y = make_shapes(1000, size=28, translate=True, seed=0)
>>> X.shape, X.dtype, y.shape, y.dtype
((1000, 1, 28, 28), dtype('float32'), (1000,), dtype('int64'))
>>> SHAPE_CLASSES[y[0]]
'cross'

How an image is drawn: each class is a set of strokes in a unit coordinate frame (shapes fit in a
circle of radius ~1.2). Every pixel is mapped into that frame (shift, rotate, stretch), its distance
``d`` to the nearest stroke is measured, and the pixel's brightness is ``clip(t/2 + 0.5 - d, 0, 1)``
for a stroke of thickness ``t`` pixels (a cheap anti-aliased line). All images are drawn at once
with NumPy, so thousands take a fraction of a second.
"""

from __future__ import annotations

import numpy as np

from course_utils._validate import bool_param, int_param, range_param, real_param

#: Class names; label ``k`` is ``SHAPE_CLASSES[k]``.
SHAPE_CLASSES: tuple[str, ...] = ("square", "circle", "triangle", "cross", "ell", "tee")

_EXTENT = 1.2  # every unit shape fits inside a circle of this radius


def _segment_distance(u, v, p0, p1):
    """Distance from points (u, v) (same-shape arrays) to the segment p0 -> p1 (2-tuples)."""
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((u - x0) * dx + (v - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(u - x0 - t * dx, v - y0 - t * dy)


def _strokes(segments):
    """A shape made of line segments: distance = min over its segments."""

    def dist(u, v):
        return np.minimum.reduce([_segment_distance(u, v, p0, p1) for p0, p1 in segments])

    return dist


def _square(u, v):
    return np.abs(np.maximum(np.abs(u), np.abs(v)) - 0.85)


def _circle(u, v):
    return np.abs(np.hypot(u, v) - 1.0)


_SQRT3_2 = np.sqrt(3.0) / 2.0


def _triangle(u, v):
    """Equilateral triangle with circumradius 1, apex up (v grows downwards, as image rows do)."""
    inside = np.maximum.reduce([v, -_SQRT3_2 * u - 0.5 * v, _SQRT3_2 * u - 0.5 * v]) - 0.5
    return np.abs(inside)


_DISTANCES = {
    "square": _square,
    "circle": _circle,
    "triangle": _triangle,
    "cross": _strokes([((-1.0, 0.0), (1.0, 0.0)), ((0.0, -1.0), (0.0, 1.0))]),
    "ell": _strokes([((-0.6, -0.9), (-0.6, 0.9)), ((-0.6, 0.9), (0.8, 0.9))]),
    "tee": _strokes([((-0.8, -0.8), (0.8, -0.8)), ((0.0, -0.8), (0.0, 1.0))]),
}


def make_shapes(
    n: int,
    size: int = 28,
    translate: bool = False,
    clutter: float = 0.0,
    seed: int = 0,
    *,
    scale=(0.16, 0.24),
    aspect: float = 1.25,
    thickness=(1.2, 2.2),
    rotation: float = 15.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` shape images; the same arguments always give the same images.

    n: number of images (classes balanced to within one, in random order).
    size: images are size x size pixels (>= 8).
    translate: False -> every shape centred (registered); True -> each shape at a uniformly random
        position where it fits entirely inside the image.
    clutter: mean number of distractors (random short strokes and blobs) per image (Poisson); 0 = none.
    seed: seed of the random generator (numpy default_rng).
    Deformation knobs (keyword only; a number or a (low, high) range sampled uniformly per image):
        scale: shape radius as a fraction of ``size``; aspect: maximum stretch ratio (1 = none; the
        stretch is sampled log-uniformly in [1/aspect, aspect]); thickness: stroke width in pixels at
        size 28 (scaled with size, at least 1); rotation: maximum absolute rotation in degrees.

    Returns X: float32 (n, 1, size, size) in [0, 1]; y: int64 (n,) labels into ``SHAPE_CLASSES``.
    """
    f = "make_shapes"
    n, size = int_param(f, "n", n, 1), int_param(f, "size", size, 8)  # size in pixels
    seed = int_param(f, "seed", seed, 0)
    translate = bool_param(f, "translate", translate)
    clutter = real_param(f, "clutter", clutter, 0.0)
    scale = range_param(f, "scale", scale, 0.02, 1.0 / (2 * _EXTENT))
    thickness = range_param(f, "thickness", thickness, 0.1)
    aspect = range_param(f, "aspect", aspect, 1.0)[1]
    rotation = range_param(f, "rotation", rotation, 0.0, 180.0)[1]

    rng = np.random.default_rng(seed)
    k = len(SHAPE_CLASSES)
    y = rng.permutation(np.arange(n) % k).astype(np.int64)

    # Per-image deformation parameters.
    radius = rng.uniform(*scale, n) * size  # pixels
    stretch = np.exp(rng.uniform(-np.log(aspect), np.log(aspect), n))
    width = np.maximum(rng.uniform(*thickness, n) * size / 28.0, 1.0)  # at least one pixel wide
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    centre = np.full((n, 2), (size - 1) / 2.0)
    if translate:
        reach = radius * np.maximum(stretch, 1 / stretch) * _EXTENT + width / 2 + 0.5
        slack = np.maximum((size - 1) / 2.0 - reach, 0.0)  # how far the centre may move each way
        centre += rng.uniform(-1.0, 1.0, (n, 2)) * slack[:, None]

    params = (centre[:, 0], centre[:, 1], radius, stretch, width, angle)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    X = np.zeros((n, size, size), dtype=np.float32)
    for label, name in enumerate(SHAPE_CLASSES):
        idx = np.flatnonzero(y == label)
        if idx.size == 0:
            continue
        # per-image parameters as float32 (m, 1, 1) columns, broadcast over the pixel grid
        cx, cy, r, s, w, a = (col[idx, None, None].astype(np.float32) for col in params)
        dx, dy = cols - cx, rows - cy
        cos, sin = np.cos(a), np.sin(a)
        u = (cos * dx + sin * dy) / (r * s)
        v = (-sin * dx + cos * dy) * s / r
        d = _DISTANCES[name](u, v) * r  # approximately in pixels
        X[idx] = np.clip(w / 2 + 0.5 - d, 0.0, 1.0)

    if clutter > 0:
        _add_clutter(X, rng, float(clutter), rows, cols)
    return X[:, None], y


def _add_clutter(X, rng, mean, rows, cols):
    """Draw Poisson(mean) distractors per image into X (n, H, W) in place: short strokes or small blobs."""
    n, size, _ = X.shape
    counts = rng.poisson(mean, n)
    for j in range(int(counts.max(initial=0))):
        idx = np.flatnonzero(counts > j)
        m = idx.size

        def draw(low, high, m=m):  # one float32 (m, 1, 1) column of per-distractor parameters
            return rng.uniform(low, high, (m, 1, 1)).astype(np.float32)

        x0, y0 = draw(0, size - 1), draw(0, size - 1)
        length, theta = draw(0.1, 0.3) * size, draw(0, np.pi)
        half_width, sigma = draw(0.6, 1.6) * size / 56, draw(0.03, 0.06) * size
        is_blob, brightness = draw(0, 1) < 0.4, draw(0.5, 1.0)
        ddx, ddy = length * np.cos(theta), length * np.sin(theta)
        t = np.clip(((cols - x0) * ddx + (rows - y0) * ddy) / (length * length), 0, 1)
        stroke = np.clip(half_width + 0.5 - np.hypot(cols - x0 - t * ddx, rows - y0 - t * ddy), 0, 1)
        blob = np.exp(-((cols - x0) ** 2 + (rows - y0) ** 2) / (2 * sigma**2))
        X[idx] = np.maximum(X[idx], np.where(is_blob, blob, stroke) * brightness)


def show_shapes(X, y=None, n: int = 24, ncols: int = 8, class_names=SHAPE_CLASSES, title=None):
    """A grid of the first ``n`` images of X (N, 1, H, W) or (N, H, W), titled with their class names.

    Returns a matplotlib Figure (shown when it is the last expression of a notebook cell).
    """
    from matplotlib.figure import Figure

    X = np.asarray(X)
    if X.ndim == 4:
        X = X[:, 0]
    if X.ndim != 3:
        raise ValueError(f"show_shapes: X must be (N, 1, H, W) or (N, H, W), got shape {X.shape}")
    n = min(int(n), len(X))
    nrows = max(1, -(-n // ncols))
    fig = Figure(figsize=(1.3 * ncols, 1.45 * nrows + (0.4 if title else 0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(X[i], cmap="gray", vmin=0, vmax=1)
            if y is not None:
                ax.set_title(class_names[int(y[i])], fontsize=9)
    if title:
        fig.suptitle(title)
    return fig
