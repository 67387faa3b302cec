"""Real photos bundled with scikit-image and scikit-learn (offline), as float arrays in [0, 1].

>>> img = load_photo("chelsea", gray=True, size=(150, 225))
>>> img.shape, img.dtype, bool(0.0 <= img.min() <= img.max() <= 1.0)
((150, 225), dtype('float64'), True)
"""

from __future__ import annotations

import numpy as np

_SKIMAGE = ("chelsea", "coffee", "astronaut", "camera", "rocket", "moon", "coins")
_SKLEARN = ("china", "flower")

#: Every name ``load_photo`` accepts.
PHOTO_NAMES: tuple[str, ...] = _SKIMAGE + _SKLEARN


def _raw_photo(name: str) -> np.ndarray:
    if name in _SKIMAGE:
        import skimage.data

        return getattr(skimage.data, name)()
    from sklearn.datasets import load_sample_image

    return load_sample_image(f"{name}.jpg")


def load_photo(name: str = "chelsea", gray: bool = True, size: tuple[int, int] | None = None) -> np.ndarray:
    """Load one bundled photo.

    name: one of ``PHOTO_NAMES``; gray: convert colour photos to luminance (skimage.color.rgb2gray);
    size: (H, W) to resize to (skimage.transform.resize, anti-aliased) or None to keep the original size.
    Returns float64 (H, W) if gray (or the photo is grayscale), else (H, W, 3); values in [0, 1].
    """
    if not isinstance(name, str) or name not in PHOTO_NAMES:
        raise ValueError(f"load_photo: unknown name {name!r}; expected one of {', '.join(PHOTO_NAMES)}")
    if size is not None:
        if (
            not isinstance(size, tuple | list)
            or len(size) != 2
            or not all(isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 1 for s in size)
        ):
            raise ValueError(f"load_photo: size must be None or (H, W) with positive integers, got {size!r}")
    from skimage.color import rgb2gray
    from skimage.transform import resize
    from skimage.util import img_as_float64

    img = img_as_float64(_raw_photo(name))
    if gray and img.ndim == 3:
        img = rgb2gray(img)
    if size is not None:
        out_shape = tuple(int(s) for s in size) + img.shape[2:]
        img = resize(img, out_shape, anti_aliasing=True)
    return np.clip(img, 0.0, 1.0)
