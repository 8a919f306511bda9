"""Storage clients for agencies: storage3 (supabase-py's storage client) signed in as an agency's owner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from supabase import ClientOptions, SupabaseStorageClient, create_client

from tests.live import Api, Member, agency_owner


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
