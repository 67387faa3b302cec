"""Readers for the two file formats of the classic image data sets (no torchvision needed).

IDX (MNIST, Fashion-MNIST; http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
``0x00 0x00 <type code> <number of dimensions>``, then each dimension as a big-endian uint32, then the values
in row-major order, big-endian. Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64. Files are usually gzipped (``.gz``); both forms are read.

CIFAR-10 "python version" (https://www.cs.toronto.edu/~kriz/cifar.html): each batch file is a pickled dict
with ``data``, a uint8 array (N, 3072) whose rows hold the red, then green, then blue 32x32 plane, and
``labels``, a list of N ints in 0..9. The reader refuses any pickle that asks for more than NumPy arrays,
so a tampered file cannot run code.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a NumPy array of the shape stored in its header.

    MNIST's images come back as uint8 (N, 28, 28), its labels as uint8 (N,).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (header bytes {raw[:4].hex()}, "
                         f"expected 0000TTNN with type code TT in {[hex(t) for t in _IDX_TYPES]})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"read_idx: {path} header says shape {shape} ({expected} bytes of data) "
                         f"but the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and NumPy arrays; refuses every other class (no code execution)."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"),
                ("_codecs", "encode")}  # how Python 3's protocol-2 pickles store bytes

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"read_cifar10_batch: refusing to load {module}.{name} "
                                         "from a data file")
        return super().find_class(module.replace("numpy.core.", "numpy._core."), name)


def read_cifar10_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch file.

    Returns (X uint8 (N, 3, 32, 32), y int64 (N,)).
    """
    with open(path, "rb") as f:
        batch = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    if not isinstance(batch, dict):
        raise ValueError(f"read_cifar10_batch: {path} holds a {type(batch).__name__}, expected a dict")
    batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"read_cifar10_batch: {path} has keys {sorted(batch)}, expected 'data' and 'labels'")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"read_cifar10_batch: {path} has data {data.shape} and {len(labels)} labels, "
                         "expected (N, 3072) and N labels")
    return data.reshape(-1, 3, 32, 32), labels
