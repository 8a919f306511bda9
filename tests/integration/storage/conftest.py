"""The API for storage's tests, once per backend (the local disk, and S3-compatible storage: moto's server
on loopback), and storage clients for agencies: storage3 (supabase-py's storage client) signed in as an
agency's owner.

A test module runs on every backend in `BACKENDS`, or on those its own `BACKENDS` names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from pydantic import SecretStr
from supabase import ClientOptions, SupabaseStorageClient, create_client

from tests.live import Api, Mailbox, Member, agency_owner, serve
from tests.support import S3_BUCKET, S3_KEY_ID, S3_SECRET, SessionDatabase

BACKENDS = ("disk", "s3")
S3_PREFIX = "storage-tests"
# The most one resumable-upload chunk may carry here (small, so the tests can pass it cheaply).
CHUNK_LIMIT = 8 << 20


@dataclass(frozen=True)
class DiskBackend:
    root: Path
    settings: dict[str, Any]

    def stored(self) -> set[str]:
        """Everything the backend holds, finished or not (temporaries too)."""
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()}

    def keys(self, agency_id: str) -> set[str]:
        """The storage keys (`<agency>/<version>`) of the agency's stored objects."""
        return {f"{agency_id}/{p.name}" for p in (self.root / agency_id).glob("*/*")}


@dataclass(frozen=True)
class S3Backend:
    endpoint: str
    settings: dict[str, Any]

    def _client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )

    def stored(self) -> set[str]:
        """Every object in the whole bucket (not only under the prefix), and unfinished multipart uploads."""
        client = self._client()
        names = {
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET)
            for item in page.get("Contents", [])
        }
        uploads = client.list_multipart_uploads(Bucket=S3_BUCKET).get("Uploads", [])
        return names | {f"unfinished upload of {u['Key']}" for u in uploads}

    def keys(self, agency_id: str) -> set[str]:
        pages = (
            self._client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=S3_BUCKET, Prefix=f"{S3_PREFIX}/{agency_id}/")
        )
        found = (item["Key"] for page in pages for item in page.get("Contents", []))
        return {key.removeprefix(f"{S3_PREFIX}/") for key in found}


Backend = DiskBackend | S3Backend


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        names = getattr(metafunc.module, "BACKENDS", BACKENDS)
        metafunc.parametrize("backend", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest, database: SessionDatabase) -> Backend:
    if request.param == "disk":
        return DiskBackend(database.settings.storage_dir or database.settings.data_path / "storage", {})
    endpoint = request.getfixturevalue("s3_server")
    return S3Backend(
        endpoint,
        {
            "storage_s3_bucket": S3_BUCKET,
            "storage_s3_prefix": S3_PREFIX,
            "storage_s3_endpoint": endpoint,
            "storage_s3_access_key_id": S3_KEY_ID,
            "storage_s3_secret_access_key": SecretStr(S3_SECRET),
        },
    )


@pytest.fixture(scope="session")
def api(database: SessionDatabase, mailbox: tuple[Mailbox, int], backend: Backend) -> Iterator[Api]:
    """The API with its objects on `backend` (this package's own server, not the other tests')."""
    yield from serve(database, mailbox, storage_resumable_max_chunk_bytes=CHUNK_LIMIT, **backend.settings)


def storage_client(api: Api, member: Member) -> SupabaseStorageClient:
    """supabase-py's storage client (storage3), acting as `member`, as a signed-in front end's does."""
    options = ClientOptions(
        auto_refresh_token=False,
        persist_session=False,
        httpx_client=api.transport,
        headers={"Authorization": f"Bearer {member.access_token}"},
    )
    return create_client(api.url, api.anon_key, options=options).storage


@pytest.fixture(scope="module")
def owner_a(api: Api) -> Member:
    return agency_owner(api, "Storage Agency A")


@pytest.fixture(scope="module")
def owner_b(api: Api) -> Member:
    return agency_owner(api, "Storage Agency B")


@pytest.fixture
def bucket_name() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def http_a(api: Api, owner_a: Member) -> Iterator[httpx.Client]:
    with api.http(owner_a.access_token) as http:
        yield http


@pytest.fixture
def http_b(api: Api, owner_b: Member) -> Iterator[httpx.Client]:
    with api.http(owner_b.access_token) as http:
        yield http
