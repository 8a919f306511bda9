"""The transformed-image cache: entries by object version and transformation, forgotten with their
version, bounded in bytes (least recently used out first)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from gardenos.storage.backend import new_key
from gardenos.storage.image_cache import ImageCache

AGENCY = uuid.UUID("0193a1b2-0000-7000-8000-000000000001")


def test_an_entry_comes_back_with_its_type_and_goes_with_its_version(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path, 1 << 20)
    version, other = new_key(AGENCY), new_key(AGENCY)
    cache.put(version, "d1", "webp", b"small")
    cache.put(other, "d1", "png", b"other")
    assert cache.get(version, "d1") == (b"small", "webp")
    assert cache.get(version, "d2") is None
    cache.forget(version)
    assert cache.get(version, "d1") is None
    assert cache.get(other, "d1") == (b"other", "png")


def test_the_total_stays_under_the_bound_least_recently_used_out_first(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path, 1000)
    versions = [new_key(AGENCY) for _ in range(3)]  # 900 bytes: under the bound
    for age, version in enumerate(versions):
        cache.put(version, "d", "png", b"x" * 300)
        # Use times a second apart, oldest first, whatever the file system's clock resolution.
        path = cache.folder(version) / "d.png"
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    cache.get(versions[0], "d")  # used again: now the most recent
    cache.put(new_key(AGENCY), "d", "png", b"y" * 300)
    kept = [v for v in versions if cache.get(v, "d") is not None]
    total = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert total <= 1000
    assert versions[0] in kept
    assert versions[1] not in kept


def test_a_zero_bound_caches_nothing(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "cache", 0)
    version = new_key(AGENCY)
    cache.put(version, "d", "png", b"x")
    assert cache.get(version, "d") is None
    assert not (tmp_path / "cache").exists()
