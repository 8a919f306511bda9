"""Transformed images kept on this node's disk, so a thumbnail is made once, not on every view.

An entry is `<root>/<agency>/<version>/<digest>.<subtype>`: the object's version (a new one on every
upload, `backend.new_key`) and the transformation's digest (`images.TransformOptions.digest`). A lookup
goes by the version the metadata names now, so an object replaced or removed is never answered from the
cache, on any node; its entries here are removed at once (`forget`), other nodes' age out. The total is
bounded: past `max_bytes`, the least recently used entries go first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import uuid
from pathlib import Path

from gardenos.storage.backend import checked

log = logging.getLogger(__name__)
# After an eviction the cache is this share of its bound, so the next one is not a write away.
EVICT_TO = 0.75
TMP_PREFIX = ".tmp-"


class ImageCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bytes: int | None = None  # counted on first use: a large cache is not walked at start

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def folder(self, version: str) -> Path:
        agency, name = checked(version).split("/")
        return self.root / agency / name

    def get(self, version: str, digest: str) -> tuple[bytes, str] | None:
        """The entry's bytes and subtype, its use time renewed; None if there is none."""
        if not self.enabled:
            return None
        folder = self.folder(version)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return None
        for name in names:
            stem, _, subtype = name.partition(".")
            if stem == digest and subtype:
                path = folder / name
                try:
                    body = path.read_bytes()
                    os.utime(path)
                except FileNotFoundError:  # evicted or forgotten meanwhile
                    return None
                return body, subtype
        return None

    def put(self, version: str, digest: str, subtype: str, body: bytes) -> None:
        """Stored whole or not at all (written aside, then renamed); a full disk only costs the entry."""
        if not self.enabled or len(body) > self.max_bytes:
            return
        folder = self.folder(version)
        tmp = self.root / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(body)
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, folder / f"{digest}.{subtype}")
        except OSError as exc:
            log.warning("image cache: could not store a transformed image: %s", exc)
            tmp.unlink(missing_ok=True)
            return
        with self._lock:
            # A first count walks the folder, this entry included; later ones add it.
            total = self._total() if self._bytes is None else self._bytes + len(body)
            self._bytes = total
            if total > self.max_bytes:
                self._evict()

    def forget(self, version: str) -> None:
        """Every transformation of this version: its bytes are gone."""
        folder = self.folder(version)
        try:
            freed = sum(entry.stat().st_size for entry in os.scandir(folder))
        except FileNotFoundError:
            return  # never transformed here
        shutil.rmtree(folder, ignore_errors=True)
        with self._lock:
            if self._bytes is not None:
                self._bytes = max(self._bytes - freed, 0)

    def _total(self) -> int:
        if self._bytes is None:
            self._bytes = sum(size for _, size, _ in self._entries())
        return self._bytes

    def _entries(self) -> list[tuple[float, int, Path]]:
        found = []
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    found.append((stat.st_mtime, stat.st_size, path))
        return found

    def _evict(self) -> None:
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes * EVICT_TO:
                break
            path.unlink(missing_ok=True)
            total -= size
            with contextlib.suppress(OSError):  # the version's folder, once empty
                path.parent.rmdir()
        self._bytes = total
