"""storage3, supabase-py's storage client, unchanged, through every call it makes against /storage/v1.
Its errors are `StorageApiError`s (a `StorageException`) carrying Supabase Storage's `statusCode` and
`error` as `status` and `code`."""

from __future__ import annotations

import json

import httpx
import pytest
from supabase import StorageException, SupabaseStorageClient

from tests.integration.storage.conftest import storage_client
from tests.live import Api, Member


@pytest.fixture
def client(api: Api, owner_a: Member) -> SupabaseStorageClient:
    return storage_client(api, owner_a)


def test_buckets_create_get_list_update_empty_delete(client: SupabaseStorageClient, bucket_name: str) -> None:
    assert client.create_bucket(bucket_name, options={"public": False, "file_size_limit": 1000}) == {
        "name": bucket_name
    }
    bucket = client.get_bucket(bucket_name)
    assert (bucket.id, bucket.public, bucket.file_size_limit) == (bucket_name, False, 1000)
    assert bucket_name in [b.id for b in client.list_buckets()]
    client.update_bucket(
        bucket_name, {"public": True, "allowed_mime_types": ["image/*"], "file_size_limit": 10}
    )
    bucket = client.get_bucket(bucket_name)
    assert (bucket.public, bucket.allowed_mime_types, bucket.file_size_limit) == (True, ["image/*"], 10)
    with pytest.raises(StorageException) as duplicate:
        client.create_bucket(bucket_name)
    assert (duplicate.value.status, duplicate.value.code) == ("409", "Duplicate")

    client.from_(bucket_name).upload("a.png", b"png", {"content-type": "image/png"})
    with pytest.raises(StorageException) as not_empty:
        client.delete_bucket(bucket_name)
    assert not_empty.value.status == "409"
    client.empty_bucket(bucket_name)
    assert client.from_(bucket_name).list() == []
    client.delete_bucket(bucket_name)
    with pytest.raises(StorageException) as gone:
        client.get_bucket(bucket_name)
    assert gone.value.status == "404"


def test_upload_download_info_exists_update(client: SupabaseStorageClient, bucket_name: str) -> None:
    client.create_bucket(bucket_name)
    files = client.from_(bucket_name)
    done = files.upload(
        "docs/proposal.txt",
        b"hello garden",
        {"content-type": "text/plain", "cache-control": "60", "metadata": {"lead": "42"}},
    )
    assert done.path == "docs/proposal.txt"
    assert files.download("docs/proposal.txt") == b"hello garden"
    info = files.info("docs/proposal.txt")
    assert info["size"] == 12
    assert info["content_type"] == "text/plain"
    assert info["cache_control"] == "max-age=60"
    assert info["metadata"] == {"lead": "42"}
    assert files.exists("docs/proposal.txt")
    assert not files.exists("docs/missing.txt")

    with pytest.raises(StorageException) as duplicate:
        files.upload("docs/proposal.txt", b"again")
    assert (duplicate.value.status, duplicate.value.code) == ("409", "Duplicate")
    files.upload("docs/proposal.txt", b"upserted", {"upsert": "true"})
    assert files.download("docs/proposal.txt") == b"upserted"
    files.update("docs/proposal.txt", b"updated")
    assert files.download("docs/proposal.txt") == b"updated"
    with pytest.raises(StorageException) as missing:
        files.update("docs/nothing.txt", b"x")
    assert missing.value.status == "404"
    with pytest.raises(StorageException) as not_found:
        files.download("docs/missing.txt")
    assert not_found.value.status == "404"


def test_list_folders_limit_offset_sort_search(client: SupabaseStorageClient, bucket_name: str) -> None:
    client.create_bucket(bucket_name)
    files = client.from_(bucket_name)
    for name in ("top.txt", "photos/b.jpg", "photos/a.jpg", "photos/2024/c.jpg", "plans/x.pdf"):
        files.upload(name, b"x", {"content-type": "application/octet-stream"})
    top = files.list()
    assert [(e["name"], e["id"] is None) for e in top] == [
        ("photos", True),
        ("plans", True),
        ("top.txt", False),
    ]
    assert top[2]["metadata"]["size"] == 1
    assert [e["name"] for e in files.list("photos")] == ["2024", "a.jpg", "b.jpg"]
    assert [e["name"] for e in files.list("photos/", {"limit": 1, "offset": 1})] == ["a.jpg"]
    desc = files.list("photos", {"sortBy": {"column": "name", "order": "desc"}})
    assert [e["name"] for e in desc] == ["b.jpg", "a.jpg", "2024"]
    assert [e["name"] for e in files.list("photos", {"search": "b"})] == ["b.jpg"]


def test_move_copy_remove(client: SupabaseStorageClient, bucket_name: str) -> None:
    client.create_bucket(bucket_name)
    files = client.from_(bucket_name)
    files.upload("a.txt", b"A")
    files.move("a.txt", "moved/a.txt")
    assert not files.exists("a.txt")
    assert files.download("moved/a.txt") == b"A"
    files.copy("moved/a.txt", "copy.txt")
    assert files.download("copy.txt") == b"A"
    files.upload("b.txt", b"B")
    with pytest.raises(StorageException) as taken:
        files.move("b.txt", "copy.txt")
    assert taken.value.status == "409"
    removed = files.remove(["copy.txt", "b.txt", "not-there.txt"])
    assert sorted(r["name"] for r in removed) == ["b.txt", "copy.txt"]
    assert [e["name"] for e in files.list()] == ["moved"]


def test_public_url_and_signed_urls(api: Api, client: SupabaseStorageClient, bucket_name: str) -> None:
    client.create_bucket(bucket_name, options={"public": True})
    files = client.from_(bucket_name)
    files.upload("pic.png", b"\x89PNG", {"content-type": "image/png"})
    public = files.get_public_url("pic.png")
    answer = httpx.get(public)  # no apikey, as an <img> tag
    assert (answer.status_code, answer.content, answer.headers["content-type"]) == (
        200,
        b"\x89PNG",
        "image/png",
    )

    private = f"{bucket_name}-private"
    client.create_bucket(private)
    secret = client.from_(private)
    secret.upload("contract.pdf", b"%PDF", {"content-type": "application/pdf"})
    assert httpx.get(secret.get_public_url("contract.pdf")).status_code == 404
    signed = secret.create_signed_url("contract.pdf", 60)["signedURL"]
    assert signed
    assert httpx.get(signed).content == b"%PDF"
    download = secret.create_signed_url("contract.pdf", 60, {"download": "c.pdf"})["signedURL"]
    assert download
    assert "attachment" in httpx.get(download).headers["content-disposition"]
    many = secret.create_signed_urls(["contract.pdf", "nope.pdf"], 60)
    assert many[0]["signedURL"]
    assert many[0]["error"] is None
    assert many[1]["signedURL"] is None
    assert many[1]["error"]

    upload = secret.create_signed_upload_url("incoming/form.txt")
    secret.upload_to_signed_url("incoming/form.txt", upload["token"], b"signed upload")
    assert secret.download("incoming/form.txt") == b"signed upload"


def test_limits_are_checked_before_storing(client: SupabaseStorageClient, bucket_name: str) -> None:
    client.create_bucket(bucket_name, options={"file_size_limit": 10, "allowed_mime_types": ["image/png"]})
    files = client.from_(bucket_name)
    with pytest.raises(StorageException) as too_large:
        files.upload("big.png", b"x" * 11, {"content-type": "image/png"})
    assert (too_large.value.status, too_large.value.code) == ("413", "Payload too large")
    with pytest.raises(StorageException) as wrong_type:
        files.upload("doc.txt", b"x", {"content-type": "text/plain"})
    assert (wrong_type.value.status, wrong_type.value.code) == ("415", "invalid_mime_type")
    files.upload("ok.png", b"x" * 10, {"content-type": "image/png"})
    assert [e["name"] for e in files.list()] == ["ok.png"]


def test_raw_body_upload_range_etag_last_modified(http_a: httpx.Client, bucket_name: str) -> None:
    assert http_a.post("/storage/v1/bucket", json={"id": bucket_name, "name": bucket_name}).status_code == 200
    body = bytes(range(256)) * 4
    put = http_a.post(
        f"/storage/v1/object/{bucket_name}/raw.bin",
        content=body,
        headers={"content-type": "application/octet-stream", "x-metadata": json.dumps({"k": "v"})},
    )
    assert put.status_code == 200, put.text
    whole = http_a.get(f"/storage/v1/object/{bucket_name}/raw.bin")
    assert whole.content == body
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    assert etag.startswith('"')
    assert modified.endswith("GMT")
    part = http_a.get(f"/storage/v1/object/{bucket_name}/raw.bin", headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, body[10:20])
    assert part.headers["content-range"] == f"bytes 10-19/{len(body)}"
    tail = http_a.get(
        f"/storage/v1/object/authenticated/{bucket_name}/raw.bin", headers={"Range": "bytes=-5"}
    )
    assert tail.content == body[-5:]
    beyond = http_a.get(f"/storage/v1/object/{bucket_name}/raw.bin", headers={"Range": "bytes=5000-"})
    assert beyond.status_code == 416
    cached = http_a.get(f"/storage/v1/object/{bucket_name}/raw.bin", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    named = http_a.get(f"/storage/v1/object/{bucket_name}/raw.bin", params={"download": "data.bin"})
    assert named.headers["content-disposition"] == "attachment; filename*=UTF-8''data.bin"
    head = http_a.head(f"/storage/v1/object/{bucket_name}/raw.bin")
    assert head.headers["content-length"] == str(len(body))
    info = http_a.get(f"/storage/v1/object/info/{bucket_name}/raw.bin").json()
    assert info["metadata"] == {"k": "v"}


def test_any_file_type_and_size_is_stored_as_sent(http_a: httpx.Client, bucket_name: str) -> None:
    """An object's bytes are not a JSON request: a JSON file past GARDENOS_MAX_BODY_BYTES, or one with a
    NUL escape, is stored as it came."""
    http_a.post("/storage/v1/bucket", json={"id": bucket_name})
    body = b'{"nul": "\\u0000", "pad": "' + b"x" * (2 << 20) + b'"}'
    put = http_a.post(
        f"/storage/v1/object/{bucket_name}/data.json",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert put.status_code == 200, put.text
    assert http_a.get(f"/storage/v1/object/{bucket_name}/data.json").content == body


def test_the_service_role_key_names_its_agency(api: Api, owner_a: Member, bucket_name: str) -> None:
    with httpx.Client(base_url=api.url, headers={"apikey": api.service_key}) as http:
        unnamed = http.get("/storage/v1/bucket")
        assert unnamed.status_code == 400
        assert "X-Agency-Id" in unnamed.json()["message"]
        http.headers["X-Agency-Id"] = owner_a.agency_id
        assert http.post("/storage/v1/bucket", json={"id": bucket_name}).status_code == 200
        assert http.post(f"/storage/v1/object/{bucket_name}/svc.txt", content=b"svc").status_code == 200
    assert storage_client(api, owner_a).from_(bucket_name).download("svc.txt") == b"svc"


def test_a_malformed_multipart_body_is_a_400_and_stores_nothing(
    http_a: httpx.Client, bucket_name: str
) -> None:
    http_a.post("/storage/v1/bucket", json={"id": bucket_name})
    for body in (
        b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\ncut off',
        b"garbage",
    ):
        answer = http_a.post(
            f"/storage/v1/object/{bucket_name}/a.txt",
            content=body,
            headers={"content-type": "multipart/form-data; boundary=XYZ"},
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["statusCode"] == "400"
    assert http_a.post(f"/storage/v1/object/list/{bucket_name}", json={}).json() == []


def test_move_and_copy_across_buckets_keep_the_destinations_limits(
    http_a: httpx.Client, bucket_name: str
) -> None:
    other = f"{bucket_name}-images"
    http_a.post("/storage/v1/bucket", json={"id": bucket_name})
    http_a.post("/storage/v1/bucket", json={"id": other, "allowed_mime_types": ["image/*"]})
    http_a.post(
        f"/storage/v1/object/{bucket_name}/a.txt", content=b"text", headers={"content-type": "text/plain"}
    )
    http_a.post(
        f"/storage/v1/object/{bucket_name}/p.png", content=b"png", headers={"content-type": "image/png"}
    )
    refused = http_a.post(
        "/storage/v1/object/copy",
        json={
            "bucketId": bucket_name,
            "sourceKey": "a.txt",
            "destinationBucket": other,
            "destinationKey": "a.txt",
        },
    )
    assert refused.status_code == 415
    copied = http_a.post(
        "/storage/v1/object/copy",
        json={
            "bucketId": bucket_name,
            "sourceKey": "p.png",
            "destinationBucket": other,
            "destinationKey": "p.png",
        },
    )
    assert copied.json() == {"Key": f"{other}/p.png"}
    wrong_type = http_a.post(
        "/storage/v1/object/move",
        json={
            "bucketId": bucket_name,
            "sourceKey": "a.txt",
            "destinationBucket": other,
            "destinationKey": "a.txt",
        },
    )
    assert wrong_type.status_code == 415
    moved = http_a.post(
        "/storage/v1/object/move",
        json={
            "bucketId": bucket_name,
            "sourceKey": "p.png",
            "destinationBucket": other,
            "destinationKey": "q.png",
        },
    )
    assert moved.status_code == 200
    assert [e["name"] for e in http_a.post(f"/storage/v1/object/list/{other}", json={}).json()] == [
        "p.png",
        "q.png",
    ]
    assert http_a.get(f"/storage/v1/object/{other}/q.png").content == b"png"
