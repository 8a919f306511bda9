"""Agencies keep to their own buckets and files at /storage/v1, by any path spelling; signed URLs are
capabilities for one object and one operation that expire; only owners and admins manage buckets; and
the storage tables are out of /rest/v1's reach."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from typing import Any

import httpx
import psycopg
import pytest

from gardenos.db.pool import SCOPE, scope
from tests.integration.storage.conftest import Backend
from tests.live import Api, Member
from tests.support import SessionDatabase

SECRET = b"agency A's contract"


@pytest.fixture
def a_object(http_a: httpx.Client, bucket_name: str) -> str:
    """Agency A's private object `<bucket>/folder/contract.txt`; agency B has a bucket of the same id."""
    assert http_a.post("/storage/v1/bucket", json={"id": bucket_name}).status_code == 200
    put = http_a.post(f"/storage/v1/object/{bucket_name}/folder/contract.txt", content=SECRET)
    assert put.status_code == 200, put.text
    return bucket_name


def test_agency_b_cannot_list_read_sign_copy_or_remove_as_in_its_own_bucket(
    http_b: httpx.Client, http_a: httpx.Client, a_object: str
) -> None:
    bucket = a_object
    # Without a bucket of that id, B is told there is none (A's bucket is not B's).
    assert http_b.get(f"/storage/v1/bucket/{bucket}").status_code == 404
    assert http_b.get(f"/storage/v1/object/{bucket}/folder/contract.txt").status_code == 404
    assert http_b.post("/storage/v1/bucket", json={"id": bucket}).status_code == 200  # B's own, same id
    assert http_b.post(f"/storage/v1/object/list/{bucket}", json={"prefix": ""}).json() == []
    assert http_b.post(f"/storage/v1/object/list/{bucket}", json={"prefix": "folder"}).json() == []
    for path in (f"object/{bucket}/folder/contract.txt", f"object/info/{bucket}/folder/contract.txt"):
        answer = http_b.get(f"/storage/v1/{path}")
        assert answer.status_code == 404, answer.text
        assert answer.json()["statusCode"] == "404"
    signed = http_b.post(f"/storage/v1/object/sign/{bucket}/folder/contract.txt", json={"expiresIn": 60})
    assert signed.status_code == 404
    many = http_b.post(
        f"/storage/v1/object/sign/{bucket}", json={"paths": ["folder/contract.txt"], "expiresIn": 60}
    )
    assert many.json()[0]["signedURL"] is None
    copied = http_b.post(
        "/storage/v1/object/copy",
        json={"bucketId": bucket, "sourceKey": "folder/contract.txt", "destinationKey": "stolen.txt"},
    )
    assert copied.status_code == 404
    moved = http_b.post(
        "/storage/v1/object/move",
        json={"bucketId": bucket, "sourceKey": "folder/contract.txt", "destinationKey": "stolen.txt"},
    )
    assert moved.status_code == 404
    assert (
        http_b.request(
            "DELETE", f"/storage/v1/object/{bucket}", json={"prefixes": ["folder/contract.txt"]}
        ).json()
        == []
    )
    # B's "overwrite" and "move into" land in B's own bucket: A's object is untouched.
    assert (
        http_b.post(
            f"/storage/v1/object/{bucket}/folder/contract.txt", content=b"B", headers={"x-upsert": "true"}
        ).status_code
        == 200
    )
    http_b.post(f"/storage/v1/object/{bucket}/mine.txt", content=b"mine")
    assert (
        http_b.post(
            "/storage/v1/object/move",
            json={"bucketId": bucket, "sourceKey": "mine.txt", "destinationKey": "folder/other.txt"},
        ).status_code
        == 200
    )
    assert http_a.get(f"/storage/v1/object/{bucket}/folder/contract.txt").content == SECRET
    assert [
        e["name"] for e in http_a.post(f"/storage/v1/object/list/{bucket}", json={"prefix": "folder"}).json()
    ] == ["contract.txt"]
    assert http_b.get(f"/storage/v1/object/{bucket}/folder/contract.txt").content == b"B"


SPELLINGS = [
    "folder/../folder/contract.txt",
    "folder/%2e%2e/folder/contract.txt",
    "folder/%2E%2E%2Fcontract.txt",
    "folder/./contract.txt",
    "folder//contract.txt",
    "%2Ffolder/contract.txt",
    "folder/contract.txt%00",
    "folder/contract%00.txt",
    "folder%5Ccontract.txt",
    "folder/%EF%BC%8E%EF%BC%8E/contract.txt",  # fullwidth '．．'
    "folder%EF%BC%8Fcontract.txt",  # fullwidth '／'
    "cafe%CC%81.txt",  # 'café' in NFD
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_other_spellings_of_a_path_are_refused_with_a_4xx(
    http_a: httpx.Client, http_b: httpx.Client, a_object: str, spelling: str, backend: Backend
) -> None:
    bucket = a_object
    # Nothing written or removed anywhere the backend reaches (the disk: under its root, or outside it).
    before = backend.stored()
    for http in (http_a, http_b):
        for method, route, body in (
            ("GET", f"object/{bucket}/{spelling}", None),
            ("GET", f"object/authenticated/{bucket}/{spelling}", None),
            ("GET", f"object/public/{bucket}/{spelling}", None),
            ("GET", f"object/info/{bucket}/{spelling}", None),
            ("POST", f"object/{bucket}/{spelling}", None),
            ("PUT", f"object/{bucket}/{spelling}", None),
            ("POST", f"object/sign/{bucket}/{spelling}", {"expiresIn": 60}),
            ("POST", f"object/upload/sign/{bucket}/{spelling}", None),
            ("DELETE", f"object/{bucket}/{spelling}", None),
        ):
            status, text = _send_as_written(http, method, f"/storage/v1/{route}", body)
            assert 400 <= status < 500, (method, route, status, text)
    assert http_a.get(f"/storage/v1/object/{bucket}/folder/contract.txt").content == SECRET
    assert backend.stored() == before


def _send_as_written(
    http: httpx.Client, method: str, path: str, body: dict[str, Any] | None
) -> tuple[int, str]:
    """The request with its path exactly as written: httpx (like browsers) would resolve `..` and `.`."""
    url = httpx.URL(str(http.base_url))
    conn = HTTPConnection(url.host, url.port, timeout=30)
    headers = {k: v for k, v in http.headers.items() if k.lower() in ("apikey", "authorization")}
    payload = json.dumps(body).encode() if body is not None else (b"x" if method in ("POST", "PUT") else None)
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_nfc_keys_are_their_own_objects(http_a: httpx.Client, bucket_name: str) -> None:
    http_a.post("/storage/v1/bucket", json={"id": bucket_name})
    assert http_a.post(f"/storage/v1/object/{bucket_name}/café.txt", content=b"nfc").status_code == 200
    assert http_a.get(f"/storage/v1/object/{bucket_name}/café.txt").content == b"nfc"


def test_signed_urls_expire_and_serve_only_their_object_and_operation(
    api: Api, http_a: httpx.Client, a_object: str
) -> None:
    bucket = a_object
    http_a.post(f"/storage/v1/object/{bucket}/other.txt", content=b"other")
    signed = http_a.post(f"/storage/v1/object/sign/{bucket}/folder/contract.txt", json={"expiresIn": 600})
    url = signed.json()["signedURL"]
    token = url.partition("token=")[2]
    assert httpx.get(f"{api.url}/storage/v1{url}").content == SECRET
    # The same token for another object, another bucket, or to upload: refused.
    for method, path in (
        ("GET", f"/storage/v1/object/sign/{bucket}/other.txt"),
        ("GET", f"/storage/v1/object/sign/{bucket}x/folder/contract.txt"),
        ("PUT", f"/storage/v1/object/upload/sign/{bucket}/folder/contract.txt"),
    ):
        answer = httpx.request(method, f"{api.url}{path}", params={"token": token}, content=b"overwrite")
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "InvalidSignature"
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (
        httpx.get(
            f"{api.url}/storage/v1/object/sign/{bucket}/folder/contract.txt", params={"token": tampered}
        ).status_code
        == 400
    )
    # One that lives 1 s (asked for separately: under load, a second may pass before the checks above end).
    short = http_a.post(f"/storage/v1/object/sign/{bucket}/folder/contract.txt", json={"expiresIn": 1})
    time.sleep(2.1)
    expired = httpx.get(f"{api.url}/storage/v1{short.json()['signedURL']}")
    assert expired.status_code == 400
    assert "expired" in expired.json()["message"]
    assert http_a.get(f"/storage/v1/object/{bucket}/folder/contract.txt").content == SECRET


def test_a_signed_upload_url_uploads_only_its_object_once_unless_upsert(
    api: Api, http_a: httpx.Client, a_object: str
) -> None:
    bucket = a_object
    made = http_a.post(f"/storage/v1/object/upload/sign/{bucket}/in/form.txt").json()
    token = made["token"]
    first = httpx.put(f"{api.url}/storage/v1{made['url']}", content=b"first")
    assert first.status_code == 200, first.text
    again = httpx.put(f"{api.url}/storage/v1{made['url']}", content=b"second")
    assert again.status_code == 409
    elsewhere = httpx.put(
        f"{api.url}/storage/v1/object/upload/sign/{bucket}/folder/contract.txt",
        params={"token": token},
        content=b"x",
    )
    assert elsewhere.status_code == 400
    read = httpx.get(f"{api.url}/storage/v1/object/sign/{bucket}/in/form.txt", params={"token": token})
    assert read.status_code == 400
    assert http_a.get(f"/storage/v1/object/{bucket}/in/form.txt").content == b"first"
    assert http_a.get(f"/storage/v1/object/{bucket}/folder/contract.txt").content == SECRET


def test_public_buckets_serve_without_a_key_and_private_ones_do_not(
    api: Api, http_a: httpx.Client, http_b: httpx.Client, a_object: str
) -> None:
    bucket = a_object
    public_url = f"{api.url}/storage/v1/object/public/{bucket}/folder/contract.txt"
    assert httpx.get(public_url).status_code == 404
    assert http_a.put(f"/storage/v1/bucket/{bucket}", json={"public": True}).status_code == 200
    assert httpx.get(public_url).content == SECRET
    # Another agency cannot take a public id that is taken: public URLs name one bucket.
    http_b.post("/storage/v1/bucket", json={"id": bucket})
    taken = http_b.put(f"/storage/v1/bucket/{bucket}", json={"public": True})
    assert taken.status_code == 409
    assert httpx.get(public_url).content == SECRET


@pytest.fixture
def member_token(api: Api, owner_a: Member) -> str:
    """A plain member (not owner or admin) of agency A, signed in."""
    address, password = api.confirmed_user()
    with api.http(owner_a.access_token) as http:
        assert (
            http.post(f"/api/v1/agencies/{owner_a.agency_id}/invites", json={"email": address}).status_code
            == 201
        )
    with api.http() as http:
        session = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": address, "password": password}
        ).json()
    token: str = session["access_token"]
    return token


def test_members_use_files_but_only_owners_and_admins_manage_buckets(
    api: Api, member_token: str, a_object: str
) -> None:
    bucket = a_object
    with api.http(member_token) as http:
        assert http.get(f"/storage/v1/object/{bucket}/folder/contract.txt").content == SECRET
        assert http.post(f"/storage/v1/object/{bucket}/by-member.txt", content=b"m").status_code == 200
        created = http.post("/storage/v1/bucket", json={"id": f"{bucket}-m"})
        assert created.status_code == 403, created.text
        assert created.json()["error"] == "Unauthorized"
        assert http.put(f"/storage/v1/bucket/{bucket}", json={"public": True}).status_code == 403
        assert http.delete(f"/storage/v1/bucket/{bucket}").status_code in (403, 409)
    with api.http(member_token) as http:
        assert http.get(f"/storage/v1/bucket/{bucket}").json()["public"] is False


def test_the_storage_tables_under_the_api_roles(
    api: Api, database: SessionDatabase, owner_a: Member, owner_b: Member, a_object: str
) -> None:
    """As the API's own roles (not superuser): B's claims see none of A's rows and cannot write into A's
    agency; anon sees nothing and writes nothing; /rest/v1 does not expose the storage schema."""
    claims_b = {
        "role": "authenticated",
        "sub": owner_b.user_id,
        "app_metadata": {"agency_id": owner_b.agency_id, "agency_role": "owner"},
    }
    with psycopg.connect(database.api_url) as conn:
        with conn.transaction():
            conn.execute(SCOPE, scope("authenticated", claims_b, 0))
            seen = conn.execute(
                "SELECT count(*) FROM storage.objects WHERE agency_id = %s", (owner_a.agency_id,)
            ).fetchone()
            assert seen == (0,)
            helpers = conn.execute(
                "SELECT storage.foldername(n), storage.filename(n), storage.extension(n) "
                "FROM (VALUES ('a/b/c.tar.gz')) v (n)"
            ).fetchone()
            assert helpers == (["a", "b"], "c.tar.gz", "gz")
        planted = "INSERT INTO storage.objects (agency_id, bucket_id, name) VALUES (%s, %s, 'planted.txt')"
        with conn.transaction(force_rollback=True):
            conn.execute(SCOPE, scope("authenticated", claims_b, 0))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(planted, (owner_a.agency_id, a_object))
        bucket = "INSERT INTO storage.buckets (agency_id, id, name) VALUES (%s, 'x', 'x')"
        with conn.transaction(force_rollback=True):
            conn.execute(SCOPE, scope("anon", {"role": "anon"}, 0))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(bucket, (owner_a.agency_id,))
        with conn.transaction():
            conn.execute(SCOPE, scope("anon", {"role": "anon"}, 0))
            assert conn.execute("SELECT count(*) FROM storage.objects").fetchone() == (0,)
    with api.http(owner_b.access_token) as http:
        for path in ("/rest/v1/objects", "/rest/v1/buckets"):
            assert http.get(path, headers={"Accept-Profile": "storage"}).status_code >= 400
            assert http.get(path).status_code == 404


def test_two_concurrent_upserts_of_one_name_leave_one_whole_object(
    http_a: httpx.Client, bucket_name: str, owner_a: Member, database: SessionDatabase, backend: Backend
) -> None:
    http_a.post("/storage/v1/bucket", json={"id": bucket_name})
    bodies = [bytes([65 + i]) * (3 << 20) for i in range(4)]

    def put(body: bytes) -> int:
        answer = http_a.post(
            f"/storage/v1/object/{bucket_name}/same.bin", content=body, headers={"x-upsert": "true"}
        )
        return answer.status_code

    def get(_: int) -> bytes:
        answer = http_a.get(f"/storage/v1/object/{bucket_name}/same.bin")
        assert answer.status_code == 200, answer.text
        return answer.content

    put(bodies[0])
    for _ in range(3):
        with ThreadPoolExecutor(6) as pool:
            writes = pool.map(put, bodies)
            reads = pool.map(get, range(4))
            assert list(writes) == [200] * 4
            # Readers meanwhile get one whole upload each, never a mix.
            assert all(read in bodies for read in reads)
        got = http_a.get(f"/storage/v1/object/{bucket_name}/same.bin").content
        assert got in bodies
        info = http_a.get(f"/storage/v1/object/info/{bucket_name}/same.bin").json()
        assert info["size"] == len(got)
    # Every replaced version was deleted: the agency's stored keys are exactly its objects' versions.
    with psycopg.connect(database.owner_url) as conn:
        versions = {
            v
            for (v,) in conn.execute(
                "SELECT version FROM storage.objects WHERE agency_id = %s AND version IS NOT NULL",
                (owner_a.agency_id,),
            )
        }
    assert backend.keys(owner_a.agency_id) == versions


def test_a_refused_upload_leaves_nothing(http_a: httpx.Client, bucket_name: str, backend: Backend) -> None:
    http_a.post("/storage/v1/bucket", json={"id": bucket_name, "file_size_limit": 1000})
    before = backend.stored()
    too_big = http_a.post(f"/storage/v1/object/{bucket_name}/big.bin", content=b"x" * 5000)
    assert too_big.status_code == 413
    assert too_big.json() == {
        "statusCode": "413",
        "error": "Payload too large",
        "message": "The object exceeded the maximum allowed size",
    }
    streamed = http_a.post(
        f"/storage/v1/object/{bucket_name}/big.bin", content=iter([b"x" * 600, b"y" * 600])
    )
    assert streamed.status_code == 413
    assert backend.stored() == before
    assert http_a.post(f"/storage/v1/object/list/{bucket_name}", json={}).json() == []
    _ = uuid


def test_an_upload_refused_after_parts_were_stored_leaves_nothing(
    http_a: httpx.Client, bucket_name: str, backend: Backend
) -> None:
    """Past the limit after more than a part (S3: a multipart upload under way; disk: a temporary file
    written to): the upload is undone, and nothing is left, finished or not."""
    http_a.post("/storage/v1/bucket", json={"id": bucket_name, "file_size_limit": 10 << 20})
    before = backend.stored()
    block = b"z" * (1 << 20)
    too_big = http_a.post(f"/storage/v1/object/{bucket_name}/big.bin", content=iter([block] * 12))
    assert too_big.status_code == 413, too_big.text
    assert backend.stored() == before
    assert http_a.get(f"/storage/v1/object/{bucket_name}/big.bin").status_code == 404
