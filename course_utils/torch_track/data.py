"""Data sets and loaders for the PyTorch track, with the lecture's training tips (slide 50) as switches.

Data sets (``DATASETS``): ``digits`` (scikit-learn, 1,797 8x8 images, bundled), ``shapes`` (the course's
synthetic shapes, generated), and ``mnist``, ``fashion`` and ``cifar10``, which are read from the cache folder
(``download.cache_dir()``), downloaded with checksums when missing and the machine is online, and otherwise
replaced by bundled data with a plain message saying so:

======== ===================================== ==============================================
name     when available                        offline fallback
======== ===================================== ==============================================
mnist    60,000 + 10,000 28x28 gray digits     scikit-learn digits, upsampled to 28x28
fashion  60,000 + 10,000 28x28 gray clothes    synthetic shapes, 28x28
cifar10  50,000 + 10,000 32x32 colour objects  synthetic shapes, 32x32, grey copied to 3 channels
======== ===================================== ==============================================

``make_loaders(name, ...)`` returns train / validation / test ``DataLoader``s. Training tips as switches:

- ``normalize=True``: subtract the per-channel mean, divide by the std (both from the training split);
- ``augment=("flip", "crop", "rotate")``: random mirror images, shifted crops, small rotations (training);
- ``balanced=True``: a sampler that draws every class equally often, however imbalanced the data;
- ``shuffle=True``: shuffle before batching; ``shuffle=False, sort_by_label=True`` shows why it matters;
- (initialisation lives in ``models.init_weights``.)

>>> data = make_loaders("digits", batch_size=64, image_size=28)
>>> x, y = next(iter(data.train))
>>> x.shape, x.dtype, y.shape, y.dtype
(torch.Size([64, 1, 28, 28]), torch.float32, torch.Size([64]), torch.int64)
>>> len(data.train.dataset), len(data.val.dataset), len(data.test.dataset), data.num_classes
(1295, 143, 359, 10)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    TensorDataset,
    WeightedRandomSampler,
)

from course_utils._validate import fraction_param, int_param, one_of
from course_utils.data.digits import split_digits, stratified_mask

from . import download as dl
from .formats import read_cifar10_batch, read_idx

DATASETS = ("digits", "shapes", "mnist", "fashion", "cifar10")
AUGMENTATIONS = ("flip", "crop", "rotate")

_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
#: Published MD5 checksums (the same ones torchvision checks).
CHECKSUMS = {
    "mnist": dict(zip(_IDX_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                   "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    "fashion": dict(zip(_IDX_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                     "bef4ecab320f06d8554ea6380940ec79",
                                     "bb300cfdad3c16e7a12a480ee83cd310"))),
    "cifar10": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
}
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CLASSES = {
    "digits": tuple(str(d) for d in range(10)),
    "mnist": tuple(str(d) for d in range(10)),
    "fashion": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                "ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}
#: Image side of each data set (its offline fallback is resized to the same).
IMAGE_SIZE = {"digits": 8, "shapes": 28, "mnist": 28, "fashion": 28, "cifar10": 32}
_FALLBACK = {"mnist": ("digits", 28, 1), "fashion": ("shapes", 28, 1), "cifar10": ("shapes", 32, 3)}


class DatasetUnavailable(RuntimeError):
    """A data set is neither in the cache folder nor downloadable (offline, or every mirror failed)."""


@dataclass
class Arrays:
    """A data set as arrays. X_*: float32 (N, C, H, W) in [0, 1]; y_*: int64 (N,).

    ``source`` says what was actually loaded, e.g. "mnist" or "digits (offline fallback for mnist)".
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple
    source: str


# ----------------------------------------------------------------------------------------------- data sets
def _digits(seed: int) -> Arrays:
    """The digits' training + validation images and test images of the course's one split (``split_digits``)."""
    d = split_digits(seed, val_fraction=0.0)  # 1,438 + 359 test images; make_loaders carves out validation
    return Arrays(d.X_train, d.y_train, d.X_test, d.y_test, CLASSES["digits"], "digits")


def _shapes(seed: int, size: int = 28, n_train: int = 2400, n_test: int = 600) -> Arrays:
    from course_utils.data.shapes import SHAPE_CLASSES, make_shapes

    X_tr, y_tr = make_shapes(n_train, size=size, seed=seed)
    X_te, y_te = make_shapes(n_test, size=size, seed=seed + 10_000)  # a different seed: unseen test images
    return Arrays(X_tr, y_tr, X_te, y_te, tuple(SHAPE_CLASSES), "shapes")


def _fetch(name: str, root: Path, allow_download: bool) -> Path:
    """Make sure ``name``'s files are in ``root/name`` (downloading them if allowed); return that folder."""
    folder = root / name
    files = CHECKSUMS[name]
    if all((folder / f).exists() for f in files):
        return folder
    if not allow_download or dl.offline():
        why = "downloads are off (download=False)" if not allow_download else "COURSE_OFFLINE is set"
        raise DatasetUnavailable(f"{name} is not in {folder} and {why}")
    mirrors = (_CIFAR_URL.rsplit("/", 1)[0] + "/",) if name == "cifar10" else (
        _MNIST_MIRRORS if name == "mnist" else _FASHION_MIRRORS)
    for filename, md5 in files.items():
        errors = []
        for mirror in mirrors:
            try:
                print(f"downloading {mirror}{filename} ...")
                dl.download(mirror + filename, folder / filename, md5)
                break
            except (OSError, ValueError) as err:  # URLError and timeouts are OSErrors
                errors.append(f"{mirror}: {err}")
        else:
            raise DatasetUnavailable(f"{name} is not in {folder} and could not be downloaded "
                                     f"({'; '.join(errors)})")
    return folder


def _read(name: str, folder: Path) -> Arrays:
    if name == "cifar10":
        batches = folder / "cifar-10-batches-py"
        if not batches.exists():
            dl.extract_tar(folder / "cifar-10-python.tar.gz", folder)
        train = [read_cifar10_batch(batches / f"data_batch_{i}") for i in range(1, 6)]
        X_tr, y_tr = np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train])
        X_te, y_te = read_cifar10_batch(batches / "test_batch")
    else:
        X_tr, y_tr, X_te, y_te = (read_idx(folder / f) for f in _IDX_FILES)
        X_tr, X_te = X_tr[:, None], X_te[:, None]
    to_float = lambda X: (X.astype(np.float32) / 255.0)  # noqa: E731
    return Arrays(to_float(X_tr), y_tr.astype(np.int64), to_float(X_te), y_te.astype(np.int64),
                  CLASSES[name], name)


def resize(X: np.ndarray | torch.Tensor, size: int) -> np.ndarray:
    """Resize images (N, C, H, W) to (N, C, size, size), bilinear (antialiased when shrinking)."""
    X = torch.as_tensor(X, dtype=torch.float32)
    if X.shape[-1] == size and X.shape[-2] == size:
        return X.numpy()
    shrink = size < max(X.shape[-2:])
    return F.interpolate(X, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink).numpy()


def load_arrays(name: str, root: str | Path | None = None, download: bool = True, seed: int = 0,
                verbose: bool = True) -> Arrays:
    """Load a data set as arrays (see the module docstring); fall back to bundled data when offline.

    root: cache folder (default ``download.cache_dir()``); download: allow fetching missing files.
    Returns ``Arrays`` with X float32 (N, C, H, W) in [0, 1] and y int64 (N,).
    """
    one_of("load_arrays", "name", name, DATASETS)
    if name == "digits":
        return _digits(seed)
    if name == "shapes":
        return _shapes(seed)
    root = Path(root) if root is not None else dl.cache_dir()
    try:
        return _read(name, _fetch(name, root, download))
    except DatasetUnavailable as err:
        base, size, channels = _FALLBACK[name]
        data = _digits(seed) if base == "digits" else _shapes(seed, size=size)
        msg = (f"OFFLINE: {err}. Using the bundled {base} data set instead "
               f"({len(data.y_train) + len(data.y_test)} images at {size}x{size}, {channels} channel(s)).")
        if verbose:
            print(msg)
        X_tr, X_te = resize(data.X_train, size), resize(data.X_test, size)
        if channels == 3:
            X_tr, X_te = np.repeat(X_tr, 3, axis=1), np.repeat(X_te, 3, axis=1)
        return Arrays(X_tr, data.y_train, X_te, data.y_test, data.classes,
                      f"{base} (offline fallback for {name})")


# ----------------------------------------------------------------------------------------- training tips
def channel_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of images X (N, C, H, W) -> two float32 arrays of shape (C,)."""
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=(0, 2, 3))
    return X.mean(axis=(0, 2, 3)).astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


class Augment:
    """Random augmentation of one image (C, H, W) -> (C, H, W); uses torch's global random generator.

    flip: mirror left-right with probability 1/2; crop: pad by ``crop_padding`` zero pixels and cut a random
    window of the original size (a shift of up to ``crop_padding`` pixels); rotate: turn by an angle drawn
    uniformly from [-degrees, degrees] (bilinear, zeros outside).
    """

    def __init__(self, ops: Iterable[str] = AUGMENTATIONS, crop_padding: int = 2, degrees: float = 15.0):
        self.ops = _check_augment(ops)
        self.crop_padding, self.degrees = int(crop_padding), float(degrees)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if "flip" in self.ops and torch.rand(()) < 0.5:
            x = x.flip(-1)
        if "crop" in self.ops and self.crop_padding > 0:
            p, (h, w) = self.crop_padding, x.shape[-2:]
            i, j = torch.randint(0, 2 * p + 1, (2,)).tolist()
            x = F.pad(x, (p, p, p, p))[:, i:i + h, j:j + w]
        if "rotate" in self.ops and self.degrees > 0:
            angle = math.radians((torch.rand(()).item() * 2 - 1) * self.degrees)
            c, s = math.cos(angle), math.sin(angle)
            theta = torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]], dtype=x.dtype)
            grid = F.affine_grid(theta, (1, *x.shape), align_corners=False)
            x = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
        return x

    def __repr__(self):
        return f"Augment(ops={self.ops}, crop_padding={self.crop_padding}, degrees={self.degrees})"


def _check_augment(ops) -> tuple[str, ...]:
    if isinstance(ops, str):
        ops = [o for o in ops.split(",") if o]
    ops = tuple(ops or ())
    bad = [o for o in ops if o not in AUGMENTATIONS]
    if bad:
        raise ValueError(f"augment: every augmentation must be one of {AUGMENTATIONS}, got unknown {bad}")
    return ops


def balanced_sampler(y: np.ndarray, num_samples: int | None = None) -> WeightedRandomSampler:
    """A sampler that draws every class equally often: sample i has weight 1 / (size of its class)."""
    y = np.asarray(y)
    counts = np.bincount(y)
    weights = torch.as_tensor(1.0 / counts[y], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples=num_samples or len(y), replacement=True)


class ImageDataset(Dataset):
    """Images X (N, C, H, W) and labels y (N,) held in memory as tensors; ``transform`` applied on access."""

    def __init__(self, X, y, transform=None):
        self.X, self.y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
        if len(self.X) != len(self.y) or self.X.dim() != 4:
            raise ValueError(f"ImageDataset: X and y must have shapes (N, C, H, W) and (N,), "
                             f"got {tuple(self.X.shape)} and {tuple(self.y.shape)}")
        self.transform = transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = self.X[i]
        return (self.transform(x) if self.transform is not None else x), self.y[i]


class ShardSampler(Sampler):
    """Evaluation sampler for ``torchrun``: rank r of R visits indices r, r+R, r+2R, ... (no padding, so
    summing the per-rank counts over all ranks gives exactly the whole data set)."""

    def __init__(self, n: int, rank: int, world_size: int):
        self.indices = list(range(rank, n, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


# ------------------------------------------------------------------------------------------------ loaders
def tensor_loader(X, y, batch_size: int = 64, shuffle: bool = False) -> DataLoader:
    """A loader of batches cut from images X (N, C, H, W) and labels y (N,) already in memory, for ``fit``.

    X, y: NumPy arrays or tensors (on any device; they stay there); batches (x (B, C, H, W), y (B,)) are
    sliced with one index per batch (no per-image collation), the last one possibly smaller.
    shuffle: a new random order every pass, drawn from torch's global generator (which ``fit`` seeds with
    ``seed + epoch`` before each epoch, so training is reproducible).

    >>> loader = tensor_loader(np.zeros((10, 1, 8, 8), np.float32), np.arange(10), batch_size=4, shuffle=True)
    >>> [tuple(x.shape) for x, _ in loader], len(loader)
    ([(4, 1, 8, 8), (4, 1, 8, 8), (2, 1, 8, 8)], 3)
    """
    int_param("tensor_loader", "batch_size", batch_size, 1)
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    if X.dim() != 4 or y.shape != (len(X),):
        raise ValueError(f"tensor_loader: X and y must have shapes (N, C, H, W) and (N,), "
                         f"got {tuple(X.shape)} and {tuple(y.shape)}")
    data = TensorDataset(X, y)
    order = RandomSampler(data) if shuffle else SequentialSampler(data)
    return DataLoader(data, batch_size=None, sampler=BatchSampler(order, batch_size, drop_last=False))


@dataclass
class Loaders:
    """What ``make_loaders`` returns: three loaders and what a model needs to know about the data."""

    train: DataLoader
    val: DataLoader
    test: DataLoader
    num_classes: int
    in_channels: int
    image_size: int
    classes: tuple
    mean: np.ndarray  # per-channel statistics of the training split (zeros/ones when normalize=False)
    std: np.ndarray
    source: str


def make_loaders(name: str, batch_size: int = 64, val_fraction: float = 0.1, image_size: int | None = None,
                 normalize: bool = True, augment: Iterable[str] | str = (), balanced: bool = False,
                 shuffle: bool = True, sort_by_label: bool = False, limit: int | None = None,
                 root: str | Path | None = None, download: bool = True, seed: int = 0,
                 distributed: bool = False, num_workers: int = 0, verbose: bool = True) -> Loaders:
    """Build train / validation / test loaders for a data set of ``DATASETS``.

    val_fraction: share of the training images held out for validation (stratified, seeded);
    image_size: resize every image to (image_size, image_size) (None keeps the data set's size);
    limit: keep at most this many training images (seeded random subset; quick experiments and tests);
    distributed: shard the data over ``torchrun`` processes (``DistributedSampler`` for training).
    Tips: normalize, augment, balanced, shuffle, sort_by_label (see the module docstring).
    Batches: x float32 (B, C, H, W), y int64 (B,).
    """
    int_param("make_loaders", "batch_size", batch_size, 1)
    fraction_param("make_loaders", "val_fraction", val_fraction, low_open=True)
    augment = _check_augment(augment)
    if balanced and distributed:
        raise ValueError("make_loaders: balanced must be False when distributed=True (not supported together: "
                         "pick one), got balanced=True")
    data = load_arrays(name, root=root, download=download, seed=seed, verbose=verbose)
    X, y, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    rng = np.random.default_rng(seed)
    if limit is not None and limit < len(y):
        keep = rng.permutation(len(y))[:limit]
        X, y = X[keep], y[keep]
    if image_size is not None:
        X, X_test = resize(X, image_size), resize(X_test, image_size)

    # stratified validation split: the same share of every class
    is_val = stratified_mask(y, val_fraction, rng)
    X_val, y_val, X, y = X[is_val], y[is_val], X[~is_val], y[~is_val]
    if sort_by_label:  # the lecture's counter-example: without shuffling, batches hold one class each
        order = np.argsort(y, kind="stable")
        X, y = X[order], y[order]

    C = X.shape[1]
    mean, std = channel_stats(X) if normalize else (np.zeros(C, np.float32), np.ones(C, np.float32))
    norm = lambda A: ((A - mean[None, :, None, None]) / std[None, :, None, None]).astype(np.float32)  # noqa: E731
    train_set = ImageDataset(norm(X), y, transform=Augment(augment) if augment else None)
    val_set, test_set = ImageDataset(norm(X_val), y_val), ImageDataset(norm(X_test), y_test)

    pin = torch.cuda.is_available()
    kw = dict(batch_size=batch_size, num_workers=num_workers, pin_memory=pin)
    if distributed:
        from torch.utils.data.distributed import DistributedSampler

        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        train = DataLoader(train_set, sampler=DistributedSampler(train_set, shuffle=shuffle, seed=seed), **kw)
        val = DataLoader(val_set, sampler=ShardSampler(len(val_set), rank, world), **kw)
        test = DataLoader(test_set, sampler=ShardSampler(len(test_set), rank, world), **kw)
    else:
        sampler = balanced_sampler(y) if balanced else None
        train = DataLoader(train_set, shuffle=shuffle and sampler is None, sampler=sampler, **kw)
        val, test = DataLoader(val_set, **kw), DataLoader(test_set, **kw)
    return Loaders(train, val, test, num_classes=len(data.classes), in_channels=C, image_size=X.shape[-1],
                   classes=data.classes, mean=mean, std=std, source=data.source)
