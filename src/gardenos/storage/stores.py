"""Which backend holds the objects: S3-compatible storage when GARDENOS_STORAGE_S3_BUCKET is set, else
the local disk under GARDENOS_STORAGE_DIR (default DATA_DIR/storage)."""

from __future__ import annotations

from pathlib import Path

from gardenos.settings import Settings
from gardenos.storage.backend import DiskStore, ObjectStore
from gardenos.storage.s3 import S3Store


def object_store(settings: Settings) -> ObjectStore:
    if settings.storage_s3_bucket:
        return S3Store.from_settings(settings)
    return DiskStore(storage_dir(settings))


def storage_dir(settings: Settings) -> Path:
    return settings.storage_dir or settings.data_path / "storage"


def transform_cache_dir(settings: Settings) -> Path:
    """Transformed images: on this node's disk whatever the backend, as a cache that is (beside S3)."""
    return settings.storage_transform_cache_dir or settings.data_path / "storage-cache"


def storage_location(settings: Settings) -> str:
    """Where the objects are, for people to read."""
    if settings.storage_s3_bucket:
        return f"s3://{settings.storage_s3_bucket}/{settings.storage_s3_prefix.strip('/')}"
    return str(storage_dir(settings))
