"""Data: IDX / CIFAR-10 readers on files written here, the checksum downloader (file:// URLs only), the
offline fallback, and the training-tip switches (normalise, augment, balanced sampler, shuffling)."""

import gzip
import pickle
import struct
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from course_utils.torch_track import data as D
from course_utils.torch_track import download as dl
from course_utils.torch_track.formats import read_cifar10_batch, read_idx


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Every test here runs torch on one thread (the fixture is in conftest.py)."""


def write_idx(path, array, type_code=0x08, big_endian_dtype=">u1", compress=True):
    """An IDX file written from the format's description (independent of the reader)."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    raw = header + np.asarray(array, dtype=big_endian_dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def write_cifar_batch(path, data, labels):
    """A CIFAR-10 python batch: pickled dict with uint8 data (N, 3072) (R, G, B planes) and a label list."""
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"test batch", b"labels": list(map(int, labels)), b"data": data,
                     b"filenames": [b"x.png"] * len(labels)}, f, protocol=2)


# ------------------------------------------------------------------------------------------------- readers
def test_read_idx_gzipped_and_raw(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "img.gz", images)
    np.testing.assert_array_equal(read_idx(tmp_path / "img.gz"), images)
    floats = rng.standard_normal((3, 4)).astype(np.float32)
    write_idx(tmp_path / "f.idx", floats, 0x0D, ">f4", compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="is not an IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros((4, 2), np.uint8), compress=False)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match=r"shape \(4, 2\)"):
        read_idx(tmp_path / "short")


def test_read_cifar10_batch_planes_and_labels(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    write_cifar_batch(tmp_path / "b", data, [3, 1, 4, 1])
    X, y = read_cifar10_batch(tmp_path / "b")
    assert X.shape == (4, 3, 32, 32) and X.dtype == np.uint8
    np.testing.assert_array_equal(X[2, 1], data[2, 1024:2048].reshape(32, 32))  # green plane, row-major
    np.testing.assert_array_equal(y, [3, 1, 4, 1])


def test_read_cifar10_batch_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "evil", "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load builtins.print"):
        read_cifar10_batch(tmp_path / "evil")


def test_load_arrays_reads_mnist_and_cifar_folders(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "mnist"
    folder.mkdir()
    tr, te = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    for name, arr in zip(D._IDX_FILES, (tr, np.arange(6) % 10, te, np.array([7, 2]))):
        write_idx(folder / name, np.asarray(arr, dtype=np.uint8))
    a = D.load_arrays("mnist", root=tmp_path, download=False)
    assert a.source == "mnist" and a.X_train.shape == (6, 1, 28, 28) and a.X_test.dtype == np.float32
    np.testing.assert_allclose(a.X_train[:, 0], tr / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(a.y_test, [7, 2])

    batches = tmp_path / "cifar10" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    data = rng.integers(0, 256, (12, 3072), dtype=np.uint8)
    for i in range(5):
        write_cifar_batch(batches / f"data_batch_{i + 1}", data[2 * i:2 * i + 2], [i, i + 1])
    write_cifar_batch(batches / "test_batch", data[10:], [9, 8])
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(b"")  # the archive is only needed to extract
    c = D.load_arrays("cifar10", root=tmp_path, download=False)
    assert c.X_train.shape == (10, 3, 32, 32) and c.classes[0] == "airplane"
    np.testing.assert_allclose(c.X_train.reshape(10, -1), data[:10] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(c.y_train, [0, 1, 1, 2, 2, 3, 3, 4, 4, 5])


# ---------------------------------------------------------------------------------------------- downloader
def test_download_verifies_the_checksum_of_a_local_file(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"convolutional networks" * 100)
    md5 = dl.file_md5(src)
    import hashlib

    assert md5 == hashlib.md5(src.read_bytes()).hexdigest()
    dest = dl.download(src.as_uri(), tmp_path / "cache" / "a.bin", md5)
    assert dest.read_bytes() == src.read_bytes()
    with pytest.raises(ValueError, match=r"checksum mismatch .* expected md5 0{32}, got " + md5):
        dl.download(src.as_uri(), tmp_path / "cache" / "b.bin", "0" * 32)
    assert not (tmp_path / "cache" / "b.bin").exists() and not (tmp_path / "cache" / "b.bin.part").exists()


def test_download_keeps_a_verified_file_without_network(tmp_path, monkeypatch):
    f = tmp_path / "kept.bin"
    f.write_bytes(b"abc")
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("must not touch the network"))
    assert dl.download("https://example.invalid/kept.bin", f, dl.file_md5(f)) == f


def test_extract_tar_refuses_paths_outside_the_folder(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "p.txt"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="../escaped.txt")
    with pytest.raises(ValueError, match="would land outside"):
        dl.extract_tar(evil, tmp_path / "out")


# ------------------------------------------------------------------------------------------ offline fallback
def test_offline_fallback_says_so_and_uses_bundled_digits(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)

    def no_network(url, *a, **k):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    a = D.load_arrays("mnist", root=tmp_path)
    out = capsys.readouterr().out
    assert "OFFLINE: mnist is not in" in out and "could not be downloaded" in out and "no network in tests" in out
    assert "Using the bundled digits data set instead" in out
    assert a.source == "digits (offline fallback for mnist)"
    assert a.X_train.shape[1:] == (1, 28, 28) and len(a.y_train) + len(a.y_test) == 1797


def test_offline_switch_skips_the_network_and_cifar_falls_back_to_3_channel_shapes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("must not touch the network"))
    a = D.load_arrays("cifar10", root=tmp_path)
    assert "COURSE_OFFLINE is set" in capsys.readouterr().out
    assert a.X_train.shape[1:] == (3, 32, 32) and a.source.startswith("shapes")
    np.testing.assert_array_equal(a.X_train[:, 0], a.X_train[:, 2])


# -------------------------------------------------------------------------------------------- training tips
def test_normalisation_uses_training_statistics():
    raw = D.make_loaders("digits", normalize=False, verbose=False)
    norm = D.make_loaders("digits", normalize=True, verbose=False)
    X_raw = raw.train.dataset.X.double()
    mean, std = X_raw.mean(dim=(0, 2, 3)), X_raw.std(dim=(0, 2, 3), unbiased=False)  # float64 reference
    np.testing.assert_allclose(norm.mean, mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(norm.std, std.numpy(), rtol=1e-5)
    Xn = norm.train.dataset.X.double()
    assert abs(Xn.mean().item()) < 1e-5 and abs(Xn.std().item() - 1) < 1e-3
    expected_test = (raw.test.dataset.X.double() - mean[None, :, None, None]) / std[None, :, None, None]
    torch.testing.assert_close(norm.test.dataset.X.double(), expected_test, rtol=1e-5, atol=1e-5)
    assert raw.train.dataset.X.min() >= 0 and raw.train.dataset.X.max() <= 1


def test_augment_flip_crop_rotate(monkeypatch):
    torch.manual_seed(0)
    x = torch.rand(1, 8, 8)
    flips = {torch.equal(D.Augment(["flip"])(x), x.flip(-1)) for _ in range(40)}
    assert flips == {True, False}
    p = 2
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    shifts = [padded[:, i:i + 8, j:j + 8] for i in range(2 * p + 1) for j in range(2 * p + 1)]
    for _ in range(20):
        out = D.Augment(["crop"], crop_padding=p)(x)
        assert any(torch.equal(out, s) for s in shifts)
    monkeypatch.setattr(torch, "rand", lambda *a, **k: torch.tensor(1.0))  # angle = +degrees
    out = D.Augment(["rotate"], degrees=90)(x)
    torch.testing.assert_close(out, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"augment: every augmentation must be one of \('flip', 'crop', 'rotate'\), "
                                         r"got unknown \['blur'\]"):
        D.Augment(["flip", "blur"])


def test_balanced_sampler_evens_out_classes():
    y = np.array([0] * 900 + [1] * 100)
    torch.manual_seed(0)
    drawn = y[list(D.balanced_sampler(y, num_samples=10_000))]
    assert abs((drawn == 1).mean() - 0.5) < 0.03


def test_shuffling_switch_and_sorted_counter_example():
    sorted_ = D.make_loaders("digits", shuffle=False, sort_by_label=True, batch_size=100, verbose=False)
    labels = torch.cat([y for _, y in sorted_.train]).numpy()
    assert (np.diff(labels) >= 0).all()
    shuffled = D.make_loaders("digits", shuffle=True, batch_size=100, verbose=False)
    torch.manual_seed(0)
    first = next(iter(shuffled.train))[1]
    assert len(first.unique()) >= 8


def test_loaders_split_sizes_and_errors():
    d = D.make_loaders("shapes", limit=300, val_fraction=0.2, image_size=16, verbose=False)
    assert len(d.train.dataset) + len(d.val.dataset) == 300
    assert set(d.val.dataset.y.tolist()) == set(range(6))  # stratified: every class in validation
    x, y = next(iter(d.train))
    assert x.shape[1:] == (1, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert d.num_classes == 6 and d.image_size == 16
    with pytest.raises(ValueError, match=r"load_arrays: name must be one of \('digits', .*\), got 'imagenet'"):
        D.load_arrays("imagenet")
    with pytest.raises(ValueError, match="make_loaders: batch_size must be >= 1, got 0"):
        D.make_loaders("digits", batch_size=0)
