"""Resumable uploads over TUS (`/storage/v1/upload/resumable`) with tuspy, the Python TUS client, and by
hand for what a client would never send: on the disk and on S3. The object appears only when whole, a
dropped connection resumes from what was durably stored, and every refusal is a 4xx saying why."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import socket
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

from gardenos.db.pool import Database
from gardenos.storage.resumable import ResumableUploads
from gardenos.storage.service import Storage
from gardenos.storage.stores import object_store
from gardenos.storage.sweeper import sweep
from tests.integration.storage.conftest import CHUNK_LIMIT, S3_PREFIX, Backend, S3Backend
from tests.live import Api, Member
from tests.support import SessionDatabase

TUS = "/storage/v1/upload/resumable"
MiB = 1 << 20


def _data(size: int, seed: int = 0) -> bytes:
    """Bytes that differ from block to block (so a chunk written at the wrong offset shows)."""
    blocks = (hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def _client(api: Api, member: Member, upsert: bool = False) -> tus.TusClient:
    headers = {"Authorization": f"Bearer {member.access_token}", "apikey": api.anon_key}
    if upsert:
        headers["x-upsert"] = "true"
    return tus.TusClient(f"{api.url}{TUS}", headers=headers)


def _metadata(bucket: str, name: str, **more: str) -> dict[str, str]:
    return {"bucketName": bucket, "objectName": name, "contentType": "application/pdf", **more}


def _encoded(metadata: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())


def _create(http: httpx.Client, length: int, metadata: dict[str, str], **headers: str) -> httpx.Response:
    return http.post(
        TUS,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(length),
            "Upload-Metadata": _encoded(metadata),
            **headers,
        },
    )


def _patch(http: httpx.Client, location: str, offset: int, body: bytes, **headers: str) -> httpx.Response:
    return http.patch(
        location,
        content=body,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **headers,
        },
    )


def _head(http: httpx.Client, location: str) -> httpx.Response:
    return http.head(location, headers={"Tus-Resumable": "1.0.0"})


def _staged(api: Api, backend: Backend, location: str) -> Callable[[], set[str]]:
    """What the backend holds of this upload in progress (bytes outside the objects), asked when called;
    made while the upload exists (its row names the key an S3 multipart upload is for)."""
    token = location.rsplit("/", 1)[1]
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    upload_id = uuid.UUID(decoded.rsplit("/", 1)[1])
    with psycopg.connect(api.owner_url) as conn:
        row = conn.execute("SELECT version FROM storage.uploads WHERE id = %s", (upload_id,)).fetchone()
    assert row is not None
    if isinstance(backend, S3Backend):
        mine = (f"/.uploads/{upload_id.hex}/", f"unfinished upload of {S3_PREFIX}/{row[0]}")
        return lambda: {n for n in backend.stored() if mine[0] in n or n == mine[1]}
    return lambda: {n for n in backend.stored() if n == f".uploads/{upload_id.hex}.part"}


@pytest.fixture
def bucket(http_a: httpx.Client, bucket_name: str) -> str:
    created = http_a.post(
        "/storage/v1/bucket",
        json={"id": bucket_name, "file_size_limit": 64 * MiB, "allowed_mime_types": ["application/pdf"]},
    )
    assert created.status_code == 200, created.text
    return bucket_name


def test_discovery_names_version_extensions_and_size(api: Api) -> None:
    with httpx.Client(base_url=api.url) as http:
        answer = http.options(TUS)
    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) >= {"creation", "termination", "expiration"}
    assert answer.headers["Tus-Max-Size"].isdigit()


def test_tuspy_uploads_in_chunks_and_the_object_appears_whole(
    api: Api, owner_a: Member, http_a: httpx.Client, bucket: str, backend: Backend
) -> None:
    # Over two S3 parts (8 MiB) in 3 MiB chunks: parts, tails and the last part all play a role.
    data = _data(19 * MiB + 12345)
    uploader = _client(api, owner_a).uploader(
        file_stream=io.BytesIO(data),
        chunk_size=3 * MiB,
        metadata=_metadata(bucket, "scans/garden.pdf", cacheControl="60", metadata=json.dumps({"lead": 7})),
    )
    uploader.upload(stop_at=9 * MiB)
    # Half way: no object, nothing in the listing, and the bytes live outside the objects.
    assert http_a.get(f"/storage/v1/object/{bucket}/scans/garden.pdf").status_code == 404
    assert http_a.post(f"/storage/v1/object/list/{bucket}", json={"prefix": "scans"}).json() == []
    staged = _staged(api, backend, uploader.url)
    assert staged()
    uploader.upload()
    got = http_a.get(f"/storage/v1/object/{bucket}/scans/garden.pdf")
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(data).hexdigest()
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["cache-control"] == "max-age=60"
    info = http_a.get(f"/storage/v1/object/info/{bucket}/scans/garden.pdf").json()
    assert info["size"] == len(data)
    assert info["metadata"] == {"lead": 7}
    # Done: the upload is gone, and so are its staged bytes (no unfinished multipart upload on S3).
    assert _head(http_a, uploader.url).status_code == 404
    assert staged() == set()


def test_the_storage_sweeper_keeps_a_paused_upload(
    api: Api, owner_a: Member, http_a: httpx.Client, bucket: str, backend: Backend, database: SessionDatabase
) -> None:
    """A resumable upload may wait hours for its next chunk: the sweeper of dead processes' writes
    (storage/sweeper.py) leaves its staging alone however idle it is (on S3: its multipart upload)."""
    data = _data(11 * MiB)
    uploader = _client(api, owner_a).uploader(
        file_stream=io.BytesIO(data), chunk_size=3 * MiB, metadata=_metadata(bucket, "paused.bin")
    )
    uploader.upload(stop_at=9 * MiB)
    store = object_store(database.settings.model_copy(update=backend.settings))

    async def sweep_everything_idle() -> None:
        pool = Database(database.api_url, min_size=1, max_size=2, timeout=10.0)
        await pool.open()
        try:
            await asyncio.sleep(2.1)  # S3 keeps times to the second
            await sweep(pool, store, idle_s=1)
        finally:
            await pool.close()

    asyncio.run(sweep_everything_idle())
    uploader.upload()
    got = http_a.get(f"/storage/v1/object/{bucket}/paused.bin")
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(data).hexdigest()


def _drop_mid_chunk(url: str, token: str, anon_key: str, offset: int, sent: bytes, declared: int) -> None:
    """A PATCH whose connection ends after `sent` of the `declared` bytes it announced."""
    parts = urlsplit(url)
    request = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"apikey: {anon_key}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port)) as conn:
        conn.sendall(request + sent)
        conn.shutdown(socket.SHUT_WR)


def test_tuspy_resumes_after_the_connection_drops_mid_chunk(
    api: Api, owner_a: Member, http_a: httpx.Client, bucket: str, backend: Backend
) -> None:
    data = _data(11 * MiB + 777, seed=1)
    first = _client(api, owner_a).uploader(
        file_stream=io.BytesIO(data), chunk_size=2 * MiB, metadata=_metadata(bucket, "resumed.pdf")
    )
    first.upload(stop_at=4 * MiB)  # two chunks, then the client goes away
    url = first.url
    assert int(_head(http_a, url).headers["Upload-Offset"]) == 4 * MiB
    staged = _staged(api, backend, url)
    # The next chunk's connection drops after 1.5 MiB of its 2 MiB: what arrived is kept.
    cut = 3 * MiB // 2
    _drop_mid_chunk(url, owner_a.access_token, api.anon_key, 4 * MiB, data[4 * MiB : 4 * MiB + cut], 2 * MiB)
    for _ in range(200):  # the server finishes that request on its own time
        head = _head(http_a, url)
        if int(head.headers["Upload-Offset"]) != 4 * MiB:
            break
    assert int(head.headers["Upload-Offset"]) == 4 * MiB + cut
    assert head.headers["Upload-Length"] == str(len(data))
    # A new client, knowing only the URL, asks where the upload stands and sends the rest.
    second = _client(api, owner_a).uploader(file_stream=io.BytesIO(data), url=url, chunk_size=2 * MiB)
    assert second.offset == 4 * MiB + cut
    second.upload()
    got = http_a.get(f"/storage/v1/object/{bucket}/resumed.pdf")
    assert got.content == data
    assert staged() == set()


def test_chunks_stream_through_in_bounded_memory(
    api: Api, owner_a: Member, http_a: httpx.Client, bucket: str
) -> None:
    """The server (in this process) holds at most a write block (disk) or an S3 part, never a chunk's
    worth of them, let alone the file: the Python heap's peak while 48 MiB go up in 6 MiB chunks."""
    data = _data(48 * MiB, seed=2)
    uploader = _client(api, owner_a).uploader(
        file_stream=io.BytesIO(data), chunk_size=6 * MiB, metadata=_metadata(bucket, "big.pdf")
    )
    tracemalloc.start()
    try:
        uploader.upload()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The client's own chunk (6 MiB, read whole by tuspy) is in this heap too.
    assert peak < 24 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert http_a.head(f"/storage/v1/object/{bucket}/big.pdf").headers["content-length"] == str(len(data))


def test_upsert_replaces_and_without_it_a_taken_name_is_refused_before_any_byte(
    api: Api, owner_a: Member, http_a: httpx.Client, bucket: str
) -> None:
    put = http_a.post(
        f"/storage/v1/object/{bucket}/taken.pdf", content=b"old", headers={"content-type": "application/pdf"}
    )
    assert put.status_code == 200, put.text
    plain = _client(api, owner_a).uploader(
        file_stream=io.BytesIO(b"new bytes"), metadata=_metadata(bucket, "taken.pdf")
    )
    with pytest.raises(TusCommunicationError) as refused:
        plain.upload()
    assert refused.value.status_code == 409
    assert b"already exists" in refused.value.response_content
    upsert = _client(api, owner_a, upsert=True).uploader(
        file_stream=io.BytesIO(b"new bytes"), metadata=_metadata(bucket, "taken.pdf")
    )
    upsert.upload()
    assert http_a.get(f"/storage/v1/object/{bucket}/taken.pdf").content == b"new bytes"


def test_creation_with_upload_and_an_empty_file(http_a: httpx.Client, bucket: str) -> None:
    created = http_a.post(
        TUS,
        content=b"all at once",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "11",
            "Upload-Metadata": _encoded(_metadata(bucket, "once.pdf")),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["Upload-Offset"] == "11"
    assert http_a.get(f"/storage/v1/object/{bucket}/once.pdf").content == b"all at once"
    empty = _create(http_a, 0, _metadata(bucket, "empty.pdf"))
    assert empty.status_code == 201
    done = _patch(http_a, empty.headers["Location"], 0, b"")
    assert done.status_code == 204, done.text
    assert http_a.get(f"/storage/v1/object/{bucket}/empty.pdf").content == b""


def test_termination_removes_the_upload_and_its_bytes(
    api: Api, http_a: httpx.Client, bucket: str, backend: Backend
) -> None:
    created = _create(http_a, 3 * MiB, _metadata(bucket, "dropped.pdf"))
    location = created.headers["Location"]
    assert created.headers["Upload-Expires"].endswith("GMT")
    assert _patch(http_a, location, 0, _data(MiB)).status_code == 204
    staged = _staged(api, backend, location)
    assert staged()
    ended = http_a.delete(location, headers={"Tus-Resumable": "1.0.0"})
    assert ended.status_code == 204
    assert _head(http_a, location).status_code == 404
    assert _patch(http_a, location, MiB, b"more").status_code == 404
    assert staged() == set()
    assert http_a.get(f"/storage/v1/object/{bucket}/dropped.pdf").status_code == 404


def test_chunks_refused_with_a_reason(http_a: httpx.Client, bucket: str) -> None:
    location = _create(http_a, 100, _metadata(bucket, "strict.pdf")).headers["Location"]
    assert _patch(http_a, location, 0, b"x" * 40).status_code == 204

    wrong = _patch(http_a, location, 10, b"y" * 10)
    assert wrong.status_code == 409
    assert "40 bytes are stored" in wrong.text
    over = _patch(http_a, location, 40, b"z" * 61)
    assert over.status_code == 413
    assert "lacks only 60 more bytes" in over.text
    untyped = http_a.patch(location, content=b"z", headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "40"})
    assert untyped.status_code == 415
    assert "application/offset+octet-stream" in untyped.text
    old_protocol = http_a.patch(
        location,
        content=b"z",
        headers={"Upload-Offset": "40", "Content-Type": "application/offset+octet-stream"},
    )
    assert old_protocol.status_code == 412
    assert "Tus-Resumable: 1.0.0" in old_protocol.text
    no_offset = _patch(http_a, location, 0, b"z", **{"Upload-Offset": "soon"})
    assert no_offset.status_code == 400
    # None of them moved the upload, nor left an object.
    assert _head(http_a, location).headers["Upload-Offset"] == "40"
    assert http_a.get(f"/storage/v1/object/{bucket}/strict.pdf").status_code == 404
    assert _patch(http_a, location, 40, b"w" * 60).status_code == 204
    assert http_a.get(f"/storage/v1/object/{bucket}/strict.pdf").content == b"x" * 40 + b"w" * 60


def test_a_chunk_over_the_request_bound_is_refused_and_not_counted(http_a: httpx.Client, bucket: str) -> None:
    location = _create(http_a, 3 * CHUNK_LIMIT, _metadata(bucket, "bounded.pdf")).headers["Location"]

    def body() -> Iterator[bytes]:  # sent chunked, without a Content-Length: counted as it comes
        for _ in range(CHUNK_LIMIT // MiB + 1):
            yield b"b" * MiB

    try:
        answer = http_a.patch(
            location,
            content=body(),
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
    except httpx.TransportError:
        answer = None  # the server answered and closed before the client was done sending
    if answer is not None:
        assert answer.status_code == 413
        assert "send smaller chunks" in answer.text
        assert "GARDENOS_STORAGE_RESUMABLE_MAX_CHUNK_BYTES" in answer.text
    for _ in range(200):  # the refused request gives its lease back on its own time
        if _patch(http_a, location, 0, b"ok").status_code != 423:
            break
    assert _head(http_a, location).headers["Upload-Offset"] == "2"


@pytest.mark.parametrize(
    ("metadata", "status", "message"),
    [
        ("objectName " + base64.b64encode(b"a.pdf").decode(), 400, "bucketName"),
        ("bucketName %%%, objectName YS5wZGY=", 400, "not base64"),
        ({"objectName": "../escape.pdf"}, 400, "'..' segment"),
        ({"objectName": "a.pdf", "metadata": "[1, 2]"}, 400, "JSON object"),
        ({"objectName": "a.pdf", "contentType": "image/png"}, 415, "image/png"),
        ({"bucketName": "no-such-bucket", "objectName": "a.pdf"}, 404, "Bucket not found"),
    ],
)
def test_bad_creations_are_refused_with_a_reason(
    http_a: httpx.Client, bucket: str, metadata: str | dict[str, str], status: int, message: str
) -> None:
    header = metadata if isinstance(metadata, str) else _encoded({"bucketName": bucket, **metadata})
    answer = http_a.post(
        TUS, headers={"Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Metadata": header}
    )
    assert answer.status_code == status, answer.text
    assert message in answer.text
    assert answer.headers["content-type"].startswith("text/plain")


def test_sizes_are_checked_at_creation(http_a: httpx.Client, bucket: str) -> None:
    too_big = _create(http_a, 64 * MiB + 1, _metadata(bucket, "huge.pdf"))
    assert too_big.status_code == 413
    assert "maximum allowed size" in too_big.text
    no_length = http_a.post(
        TUS,
        headers={"Tus-Resumable": "1.0.0", "Upload-Metadata": _encoded(_metadata(bucket, "x.pdf"))},
    )
    assert no_length.status_code == 400
    assert "Upload-Length" in no_length.text


def test_another_agency_never_reaches_an_upload(
    http_a: httpx.Client, http_b: httpx.Client, bucket: str, owner_b: Member
) -> None:
    location = _create(http_a, 20, _metadata(bucket, "private.pdf")).headers["Location"]
    assert _patch(http_a, location, 0, b"secret-bytes").status_code == 204
    # B: the same 404 as for an id that never existed, for every method; nothing of A's moves.
    assert _head(http_b, location).status_code == 404
    assert _patch(http_b, location, 12, b"mine-too").status_code == 404
    assert http_b.delete(location, headers={"Tus-Resumable": "1.0.0"}).status_code == 404
    made_up = f"{TUS}/{base64.urlsafe_b64encode(f'{bucket}/private.pdf/{uuid.uuid4()}'.encode()).decode()}"
    assert _head(http_a, made_up).status_code == 404
    assert _head(http_a, f"{TUS}/not-an-upload").status_code == 404
    # B cannot start one in A's bucket either (it is no bucket of B's).
    refused = _create(http_b, 5, _metadata(bucket, "intruder.pdf"))
    assert refused.status_code == 404
    head = _head(http_a, location)
    assert head.headers["Upload-Offset"] == "12"
    assert _patch(http_a, location, 12, b"-and-end").status_code == 204
    assert http_a.get(f"/storage/v1/object/{bucket}/private.pdf").content == b"secret-bytes-and-end"


def test_an_expired_upload_is_gone_and_the_sweeper_removes_its_bytes(
    api: Api,
    database: SessionDatabase,
    http_a: httpx.Client,
    bucket: str,
    backend: Backend,
) -> None:
    location = _create(http_a, 10 * MiB, _metadata(bucket, "abandoned.pdf")).headers["Location"]
    assert _patch(http_a, location, 0, _data(MiB)).status_code == 204
    staged = _staged(api, backend, location)
    assert staged()
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE storage.uploads SET expires_at = now() - interval '1 second' WHERE name = 'abandoned.pdf'"
        )
    gone = _head(http_a, location)
    assert gone.status_code == 410
    late = _patch(http_a, location, MiB, b"late")
    assert late.status_code == 410
    assert "expired" in late.text
    assert asyncio.run(_sweep(database, backend)) >= 1
    assert staged() == set()
    assert _head(http_a, location).status_code == 404


async def _sweep(database: SessionDatabase, backend: Backend) -> int:
    settings = database.settings.model_copy(update=backend.settings)
    pool = Database(database.api_url, min_size=1, max_size=2, timeout=10.0)
    await pool.open()
    try:
        storage = Storage(pool, object_store(settings), settings.storage_max_upload_bytes)
        return await ResumableUploads(storage, 60).sweep()
    finally:
        await pool.close()


def test_tuspy_sees_a_refused_chunk_as_a_failure(
    api: Api, owner_a: Member, http_a: httpx.Client, bucket: str
) -> None:
    uploader = _client(api, owner_a).uploader(
        file_stream=io.BytesIO(b"0123456789"), chunk_size=4, metadata=_metadata(bucket, "raced.pdf")
    )
    uploader.upload(stop_at=4)
    # Someone else (another tab) moved the upload on: this client's offset is stale.
    assert _patch(http_a, uploader.url, 4, b"4567").status_code == 204
    with pytest.raises(TusUploadFailed) as failed:
        uploader.upload_chunk()
    assert failed.value.status_code == 409
    resumed = _client(api, owner_a).uploader(file_stream=io.BytesIO(b"0123456789"), url=uploader.url)
    assert resumed.offset == 8
    resumed.upload()
    assert http_a.get(f"/storage/v1/object/{bucket}/raced.pdf").content == b"0123456789"


def test_a_name_taken_meanwhile_fails_the_last_chunk_and_leaves_nothing_half_done(
    api: Api, http_a: httpx.Client, bucket: str, backend: Backend
) -> None:
    location = _create(http_a, 8, _metadata(bucket, "contested.pdf")).headers["Location"]
    staged = _staged(api, backend, location)
    assert _patch(http_a, location, 0, b"mine").status_code == 204
    other = http_a.post(
        f"/storage/v1/object/{bucket}/contested.pdf",
        content=b"theirs",
        headers={"content-type": "application/pdf"},
    )
    assert other.status_code == 200
    last = _patch(http_a, location, 4, b"-end")
    assert last.status_code == 409
    assert "already exists" in last.text
    assert "create it again" in last.text
    # The other upload's object stands; this upload and its bytes are gone.
    assert http_a.get(f"/storage/v1/object/{bucket}/contested.pdf").content == b"theirs"
    assert _head(http_a, location).status_code == 404
    assert staged() == set()


def test_a_writer_that_died_holds_the_upload_only_until_its_lease_lapses(
    api: Api, http_a: httpx.Client, bucket: str
) -> None:
    location = _create(http_a, 6, _metadata(bucket, "orphaned.pdf")).headers["Location"]
    assert _patch(http_a, location, 0, b"abc").status_code == 204
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        # As a PATCH whose process was killed mid-chunk leaves it.
        conn.execute(
            "UPDATE storage.uploads SET lease = gen_random_uuid(), lease_until = now() + interval '1 hour' "
            "WHERE name = 'orphaned.pdf'"
        )
        busy = _patch(http_a, location, 3, b"def")
        assert busy.status_code == 423
        assert "try again" in busy.text
        assert busy.headers["Retry-After"] == "5"
        assert http_a.delete(location, headers={"Tus-Resumable": "1.0.0"}).status_code == 423
        conn.execute("UPDATE storage.uploads SET lease_until = now() WHERE name = 'orphaned.pdf'")
    assert _patch(http_a, location, 3, b"def").status_code == 204
    assert http_a.get(f"/storage/v1/object/{bucket}/orphaned.pdf").content == b"abcdef"
