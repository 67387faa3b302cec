"""A small downloader that checks every file against its published MD5 checksum before using it.

Used only when a data set is not yet in the cache folder and the machine is online. Tests never touch the
network: they "download" ``file://`` URLs of files they wrote themselves.

- ``cache_dir()``: where data sets live: ``$COURSE_DATA_DIR`` or ``~/.cache/course_utils``.
- ``offline()``: True when ``$COURSE_OFFLINE`` is set to 1/true/yes (skip every download attempt).
- ``file_md5(path)`` / ``verify_md5(path, md5)``: checksum a file; ``verify_md5`` raises ValueError if wrong.
- ``download(url, dest, md5)``: fetch ``url`` into ``dest`` (atomically, via ``dest.part``), verify it, and
  return ``dest``; a file already there with the right checksum is not fetched again.
- ``extract_tar(archive, into)``: unpack a .tar.gz, refusing members that would land outside ``into``.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.request
from pathlib import Path

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """The folder for downloaded data sets: ``$COURSE_DATA_DIR`` if set, else ``~/.cache/course_utils``."""
    return Path(os.environ.get("COURSE_DATA_DIR") or Path.home() / ".cache" / "course_utils")


def offline() -> bool:
    """True when ``$COURSE_OFFLINE`` is 1/true/yes: loaders then skip downloads and use bundled data."""
    return os.environ.get("COURSE_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def file_md5(path: str | Path) -> str:
    """Hex MD5 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: str | Path, md5: str) -> None:
    """Raise ValueError naming the file, the expected and the actual checksum if they differ."""
    actual = file_md5(path)
    if actual != md5.lower():
        raise ValueError(f"checksum mismatch for {path}: expected md5 {md5}, got {actual} "
                         "(the download is corrupt or the file was changed)")


def download(url: str, dest: str | Path, md5: str, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` and verify its MD5; return ``dest``.

    A ``dest`` already present with the right checksum is kept (no network). A download whose checksum does
    not match is deleted and raises ValueError. Network failures raise urllib's ``URLError`` (an OSError).
    """
    dest = Path(dest)
    if dest.exists():
        try:
            verify_md5(dest, md5)
            return dest
        except ValueError:
            dest.unlink()  # a stale or corrupt copy: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as f:
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            f.write(chunk)
    try:
        verify_md5(part, md5)
    except ValueError:
        part.unlink()
        raise
    part.replace(dest)
    return dest


def extract_tar(archive: str | Path, into: str | Path) -> None:
    """Unpack a tar(.gz) archive into ``into``; raise ValueError for a member that would escape the folder."""
    into = Path(into).resolve()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            target = (into / member.name).resolve()
            if into != target and into not in target.parents:
                raise ValueError(f"extract_tar: {archive} holds {member.name!r}, "
                                 f"which would land outside {into}")
        tar.extractall(into, filter="data")
