"""Faults, on both backends: a real `gardenos up` killed with SIGKILL in the middle of an upload leaves no
visible object and no metadata, and what it left unfinished (a temporary file, an S3 multipart upload)
is removed by the next server's sweeper; stored bytes that no object names (a process killed between
storing them and recording the object) are removed too, and never an object's own bytes."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest

from gardenos.db.pool import Database
from gardenos.storage.backend import new_key
from gardenos.storage.stores import object_store
from gardenos.storage.sweeper import Swept, sweep
from tests.integration.storage.conftest import Backend, DiskBackend
from tests.live import Api, Member, UpProcess
from tests.support import S3_BUCKET, S3_KEY_ID, S3_SECRET, SessionDatabase

pytestmark = pytest.mark.slow

BLOCK = b"k" * (1 << 20)
# Enough to be on its way to the backend: past the disk's 1 MiB write block, past one 8 MiB S3 part.
SENT_BEFORE_KILL = {"disk": 3, "s3": 9}
WAIT_S = 90


def _env(backend: Backend) -> dict[str, str]:
    env = {}
    for name, value in backend.settings.items():
        secret = getattr(value, "get_secret_value", None)
        env[f"GARDENOS_{name.upper()}"] = str(secret() if secret else value)
    return env


def _unfinished(backend: Backend, database: SessionDatabase) -> set[str]:
    """Writes under way: temporaries on disk, multipart uploads in S3."""
    if isinstance(backend, DiskBackend):
        return {p.name for p in (backend.root / ".tmp").glob("*.part") if p.stat().st_size > 0}
    client = boto3.client(
        "s3",
        endpoint_url=backend.endpoint,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    uploads = client.list_multipart_uploads(Bucket=S3_BUCKET).get("Uploads", [])
    return {u["UploadId"] for u in uploads}


def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        time.sleep(0.2)


class StalledUpload:
    """An upload that sends `blocks` MiB, then waits (the connection open) until `release`."""

    def __init__(self, up: UpProcess, token: str, path: str, blocks: int) -> None:
        self.gate = threading.Event()
        self.result: list[Any] = []

        def body() -> Iterator[bytes]:
            for _ in range(blocks):
                yield BLOCK
            self.gate.wait(WAIT_S)
            yield BLOCK

        def send() -> None:
            try:
                with up.http(token) as http:
                    self.result.append(http.post(path, content=body()))
            except httpx.TransportError as exc:
                self.result.append(exc)

        self.thread = threading.Thread(target=send, daemon=True)
        self.thread.start()

    def release(self) -> None:
        self.gate.set()
        self.thread.join(WAIT_S)


@pytest.fixture
def servers() -> Iterator[list[UpProcess]]:
    started: list[UpProcess] = []
    yield started
    for up in started:
        up.kill()


def test_kill_9_during_an_upload_leaves_nothing_visible_and_the_next_start_clears_the_rest(
    api: Api,
    owner_a: Member,
    http_a: httpx.Client,
    bucket_name: str,
    backend: Backend,
    database: SessionDatabase,
    tmp_path: Path,
    servers: list[UpProcess],
) -> None:
    kind = "disk" if isinstance(backend, DiskBackend) else "s3"
    assert http_a.post("/storage/v1/bucket", json={"id": bucket_name}).status_code == 200
    before = backend.stored()
    unfinished_before = _unfinished(backend, database)

    servers.append(first := UpProcess(database, tmp_path / "first.log", **_env(backend)))
    upload = StalledUpload(
        first, owner_a.access_token, f"/storage/v1/object/{bucket_name}/big.bin", SENT_BEFORE_KILL[kind]
    )
    _until(lambda: _unfinished(backend, database) - unfinished_before, "the upload reached the backend")
    first.proc.kill()  # SIGKILL: no cleanup code runs
    first.proc.wait(timeout=30)
    upload.release()
    assert isinstance(upload.result[0], httpx.TransportError)

    # Nothing visible: no object, no metadata row; the unfinished write is still there (nothing ran).
    assert http_a.get(f"/storage/v1/object/{bucket_name}/big.bin").status_code == 404
    assert http_a.post(f"/storage/v1/object/list/{bucket_name}", json={}).json() == []
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM storage.objects WHERE agency_id = %s AND bucket_id = %s",
            (owner_a.agency_id, bucket_name),
        ).fetchone()
    assert rows == (0,)
    left = _unfinished(backend, database) - unfinished_before
    assert left, "the killed upload left its unfinished write"

    # The next server's sweeper removes it. On disk at once (the dead writer's lock is free); S3 cannot
    # tell a dead writer from a slow one, so its uploads go once idle for ABANDONED_UPLOAD_S (1 s here).
    env = _env(backend) | ({"GARDENOS_STORAGE_ABANDONED_UPLOAD_S": "1"} if kind == "s3" else {})
    servers.append(second := UpProcess(database, tmp_path / "second.log", **env))
    _until(lambda: not (_unfinished(backend, database) & left), "the sweeper removed the unfinished write")
    assert backend.stored() == before
    second.kill()

    # And the name is free: the same upload goes through.
    put = http_a.post(f"/storage/v1/object/{bucket_name}/big.bin", content=BLOCK)
    assert put.status_code == 200, put.text


def test_the_sweeper_removes_stored_bytes_no_object_names_and_keeps_the_rest(
    owner_a: Member, http_a: httpx.Client, bucket_name: str, backend: Backend, database: SessionDatabase
) -> None:
    """As a process killed after storing an upload's bytes but before recording its object (or after an
    upsert's commit, before deleting the version it replaced) would leave them."""
    assert http_a.post("/storage/v1/bucket", json={"id": bucket_name}).status_code == 200
    assert http_a.post(f"/storage/v1/object/{bucket_name}/kept.txt", content=b"kept").status_code == 200
    store = object_store(database.settings.model_copy(update=backend.settings))
    stray = new_key(uuid.UUID(owner_a.agency_id))

    async def scenario() -> tuple[Swept, Swept]:
        writer = store.writer(stray)
        await writer.write(b"nobody names me")
        await writer.commit()
        assert stray in backend.keys(owner_a.agency_id)
        pool = Database(database.api_url, min_size=1, max_size=2, timeout=10.0)
        await pool.open()
        try:
            # Younger than the idle time: an upload that may be recording its object right now.
            young = await sweep(pool, store, idle_s=3600)
            assert stray in backend.keys(owner_a.agency_id)
            await asyncio.sleep(2.1)  # S3 keeps times to the second
            return young, await sweep(pool, store, idle_s=1)
        finally:
            await pool.close()

    young, swept = asyncio.run(scenario())
    assert young.unnamed == 0
    assert swept.unnamed >= 1
    assert stray not in backend.keys(owner_a.agency_id)
    got = http_a.get(f"/storage/v1/object/{bucket_name}/kept.txt")
    assert (got.status_code, got.content) == (200, b"kept")
