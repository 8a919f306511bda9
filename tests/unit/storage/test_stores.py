"""Which backend holds the objects: S3-compatible storage when a bucket is set, else the folder. Either is
a valid cluster setup (a bucket, or a folder every API node mounts): nothing here is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gardenos.settings import Settings
from gardenos.storage.backend import DiskStore
from gardenos.storage.s3 import S3Store
from gardenos.storage.stores import object_store, storage_location


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize("cluster", [False, True])
def test_the_folder_by_default_in_any_mode(tmp_path: Path, cluster: bool) -> None:
    settings = make(data_dir=tmp_path, cluster=cluster)
    assert storage_location(settings) == str(tmp_path / "storage")
    store = object_store(settings)
    assert isinstance(store, DiskStore)
    assert store.root == (tmp_path / "storage").resolve()
    shared = make(data_dir=tmp_path, cluster=cluster, storage_dir=tmp_path / "nfs")
    assert storage_location(shared) == str(tmp_path / "nfs")


@pytest.mark.parametrize("cluster", [False, True])
def test_s3_when_a_bucket_is_set_with_or_without_keys_and_endpoint(tmp_path: Path, cluster: bool) -> None:
    # Keys unset: boto3's usual sources (AWS_* variables, an instance role); endpoint unset: AWS.
    settings = make(data_dir=tmp_path, cluster=cluster, storage_s3_bucket="crm-files")
    assert storage_location(settings) == "s3://crm-files/gardenos/storage"
    store = object_store(settings)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == ("crm-files", "gardenos/storage")
    assert not (tmp_path / "storage").exists()
    # With an endpoint (MinIO, Ceph, Garage…): path-style requests, as the backup's client.
    minio = object_store(make(storage_s3_bucket="crm-files", storage_s3_endpoint="http://127.0.0.1:9000"))
    assert isinstance(minio, S3Store)
    assert minio.client.meta.config.s3["addressing_style"] == "path"
