"""`/storage/v1`: upload and download throughput, small-object and signed-URL rates, and the server's
memory during a large transfer, on both backends, beside ceilings measured in the same run.

- Server: GardenOS under `uvicorn --workers 1` (bench/api.py's `subprocess_api`), once with the local
  disk backend and once with S3 (moto's server on loopback, in a process of its own). One agency owner's
  token, one private bucket.
- Throughput: `objects` sequential 1 MiB uploads (raw body, `x-upsert`) then downloads, MiB/s; one object
  of `large_mb` MiB streamed up (1 MiB chunks) and down, MiB/s, while a thread samples the server's RSS
  every 20 ms (peak minus the RSS before the transfer is what the transfer cost).
- Rates: `small` 4 KiB uploads, 16 at a time (httpx's async client), objects/s; one object's signed URL
  fetched `small` times, 16 at a time, downloads/s.
- Ceilings, same bytes, same machine: the disk copying the file to another file with an fsync (what an
  upload must do at least: write and sync) and reading it back (a download, from the page cache), and
  boto3's put_object / get_object (for the large object its managed multipart upload and one streamed
  GET) directly against the same moto server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil
import psycopg
from boto3.s3.transfer import TransferConfig
from rich.console import Console
from rich.table import Table
from tests.support import S3_BUCKET, S3_KEY_ID, S3_SECRET, moto_server

from bench.api import subprocess_api
from bench.support import private_database
from gardenos.auth.tokens import TokenService, agency_claims
from gardenos.db.target import DatabaseTarget

MIB = 1 << 20
BUCKET = "bench"
CONCURRENCY = 16
PART = 8 * MIB


def run(*, large_mb: int = 256, objects: int = 32, small: int = 1000) -> None:
    # Wide enough for the table's seven columns when the output goes to a file.
    console = Console(width=max(Console().width, 140))
    work = Path(tempfile.mkdtemp(prefix="gardenos-bench-storage-"))
    try:
        with private_database() as target, moto_server(work / "moto.log") as endpoint:
            _run(console, target, work, endpoint, large_mb=large_mb, objects=objects, small=small)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _setup(target: DatabaseTarget) -> str:
    """An agency, its owner and a private bucket; the owner's access token."""
    with psycopg.connect(target.owner_url, autocommit=True) as conn:
        agency = conn.execute(
            "INSERT INTO agencies (name, slug) VALUES ('Bench', %s) RETURNING id",
            (f"bench-storage-{uuid.uuid4().hex[:6]}",),
        ).fetchone()
        user = conn.execute(
            "INSERT INTO auth.users (email) VALUES (%s) RETURNING id", (f"{uuid.uuid4().hex}@bench.example",)
        ).fetchone()
        assert agency is not None
        assert user is not None
        conn.execute(
            "INSERT INTO memberships (agency_id, user_id, role) VALUES (%s, %s, 'owner')",
            (agency[0], user[0]),
        )
        conn.execute(
            "INSERT INTO storage.buckets (agency_id, id, name) VALUES (%s, %s, %s)",
            (agency[0], BUCKET, BUCKET),
        )
    service = TokenService(target.settings, target.secrets.jwt_secret)
    return service.access_token(agency_claims(agency[0], "owner", user[0]))[0]


def _blocks(size_mb: int) -> Iterator[bytes]:
    block = os.urandom(MIB)
    for _ in range(size_mb):
        yield block


class RssPeak:
    """The process's RSS, sampled every 20 ms in a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.before = self.process.memory_info().rss
        self.peak = self.before
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssPeak:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _timed(work: Callable[[], Any]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


async def _many(base: str, headers: dict[str, str], requests: list[tuple[str, str, bytes | None]]) -> float:
    """The requests, CONCURRENCY at a time; the seconds they took. Any answer but 200 stops the run."""
    queue = list(reversed(requests))
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:

        async def worker() -> None:
            while queue:
                method, path, body = queue.pop()
                answer = await client.request(method, path, content=body)
                if answer.status_code != 200:
                    raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:200]}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - began


def _through_api(
    base: str, token: str, anon: str, pid: int, *, large_mb: int, objects: int, small: int
) -> dict[str, float]:
    headers = {"apikey": anon, "Authorization": f"Bearer {token}"}
    figures: dict[str, float] = {}
    one = os.urandom(MIB)
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http:

        def put(path: str, body: Any) -> None:
            answer = http.post(
                f"/storage/v1/object/{BUCKET}/{path}", content=body, headers={"x-upsert": "true"}
            )
            assert answer.status_code == 200, answer.text

        def get(path: str) -> int:
            size = 0
            with http.stream("GET", f"/storage/v1/object/{BUCKET}/{path}") as answer:
                assert answer.status_code == 200
                for piece in answer.iter_raw():
                    size += len(piece)
            return size

        put("warm.bin", one)
        figures["up_1"] = objects / _timed(lambda: [put(f"one-{i}.bin", one) for i in range(objects)])
        figures["down_1"] = objects / _timed(lambda: [get(f"one-{i}.bin") for i in range(objects)])
        with RssPeak(pid) as upload:
            figures["up_large"] = large_mb / _timed(lambda: put("large.bin", _blocks(large_mb)))
        with RssPeak(pid) as download:
            figures["down_large"] = large_mb / _timed(lambda: get("large.bin"))
        figures["rss_before"] = upload.before / MIB
        figures["rss_up"] = (upload.peak - upload.before) / MIB
        figures["rss_down"] = (download.peak - download.before) / MIB
        removed = http.request("DELETE", f"/storage/v1/object/{BUCKET}", json={"prefixes": ["large.bin"]})
        assert removed.status_code == 200, removed.text

        small_body = os.urandom(4096)
        uploads = [("POST", f"/storage/v1/object/{BUCKET}/small/{i}.bin", small_body) for i in range(small)]
        figures["small"] = small / asyncio.run(_many(base, headers | {"x-upsert": "true"}, uploads))
        signed = http.post(f"/storage/v1/object/sign/{BUCKET}/small/0.bin", json={"expiresIn": 3600})
        assert signed.status_code == 200, signed.text
        url = "/storage/v1" + signed.json()["signedURL"]
        figures["signed"] = small / asyncio.run(_many(base, {}, [("GET", url, None)] * small))
    return figures


def _disk_ceiling(work: Path, large_mb: int, objects: int) -> dict[str, float]:
    """MiB/s copying a 1 MiB file (`objects` times) and the large file to new files, each fsynced (an
    upload's least work), and reading them back (a download's: from the page cache, as the API's are)."""
    one, large = work / "one.src", work / "large.src"
    one.write_bytes(os.urandom(MIB))
    with large.open("wb") as out:
        for block in _blocks(large_mb):
            out.write(block)

    def copy(source: Path, dest: Path) -> None:
        with source.open("rb") as src, dest.open("wb") as dst:
            shutil.copyfileobj(src, dst, MIB)
            dst.flush()
            os.fsync(dst.fileno())

    def read(source: Path) -> None:
        with source.open("rb") as src:
            while src.read(MIB):
                pass

    figures = {
        "up_1": objects / _timed(lambda: [copy(one, work / f"one-{i}.dst") for i in range(objects)]),
        "down_1": objects / _timed(lambda: [read(work / f"one-{i}.dst") for i in range(objects)]),
        "up_large": large_mb / _timed(lambda: copy(large, work / "large.dst")),
        "down_large": large_mb / _timed(lambda: read(work / "large.dst")),
    }
    for path in work.glob("*.dst"):
        path.unlink()
    return figures


def _s3_ceiling(endpoint: str, work: Path, large_mb: int, objects: int) -> dict[str, float]:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    one = os.urandom(MIB)
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=1)
    keys = [f"ceiling/{i}" for i in range(objects)]

    def put_all() -> None:
        for key in keys:
            client.put_object(Bucket=S3_BUCKET, Key=key, Body=one)

    def get_all() -> None:
        for key in keys:
            client.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()

    figures = {"up_1": objects / _timed(put_all), "down_1": objects / _timed(get_all)}
    large = work / "large.src"
    with large.open("rb") as src:
        figures["up_large"] = large_mb / _timed(
            lambda: client.upload_fileobj(src, S3_BUCKET, "ceiling/large", Config=config)
        )

    def stream() -> None:
        # As the API reads: one GET, its body in 256 KiB blocks (boto3's managed download, a ranged GET
        # per part, is slower against moto than this).
        body = client.get_object(Bucket=S3_BUCKET, Key="ceiling/large")["Body"]
        while body.read(256 << 10):
            pass

    figures["down_large"] = large_mb / _timed(stream)
    for key in [*keys, "ceiling/large"]:
        client.delete_object(Bucket=S3_BUCKET, Key=key)
    return figures


@contextmanager
def _server(target: DatabaseTarget, work: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    with subprocess_api(target, work, workers=1, env=env) as (base, _log, process):
        yield base, process.pid


def _run(
    console: Console,
    target: DatabaseTarget,
    work: Path,
    endpoint: str,
    *,
    large_mb: int,
    objects: int,
    small: int,
) -> None:
    token = _setup(target)
    anon = TokenService(target.settings, target.secrets.jwt_secret).api_key("anon")
    load = os.getloadavg()
    with console.status("ceilings…"):
        disk = _disk_ceiling(work, large_mb, objects)
        s3 = _s3_ceiling(endpoint, work, large_mb, objects)
    measured: dict[str, dict[str, float]] = {}
    backends = {
        "disk": {"GARDENOS_STORAGE_DIR": str(work / "objects")},
        "s3": {
            "GARDENOS_STORAGE_S3_BUCKET": S3_BUCKET,
            "GARDENOS_STORAGE_S3_ENDPOINT": endpoint,
            "GARDENOS_STORAGE_S3_PREFIX": "bench",
            "GARDENOS_STORAGE_S3_ACCESS_KEY_ID": S3_KEY_ID,
            "GARDENOS_STORAGE_S3_SECRET_ACCESS_KEY": S3_SECRET,
        },
    }
    for name, env in backends.items():
        with console.status(f"{name}: through the API…"), _server(target, work, env) as (base, pid):
            measured[name] = _through_api(
                base, token, anon, pid, large_mb=large_mb, objects=objects, small=small
            )
    ceilings = {"disk": disk, "s3": s3}
    table = Table(title=f"/storage/v1 (1 uvicorn worker; load average at start {load[0]:.1f})")
    table.add_column("measure")
    for name in measured:
        table.add_column(f"{name}: API", justify="right")
        table.add_column(f"{name}: ceiling", justify="right")
        table.add_column("ratio", justify="right")
    for key, label in (
        ("up_1", f"upload 1 MiB × {objects} (MiB/s)"),
        ("down_1", f"download 1 MiB × {objects} (MiB/s)"),
        ("up_large", f"upload {large_mb} MiB (MiB/s)"),
        ("down_large", f"download {large_mb} MiB (MiB/s)"),
    ):
        cells = []
        for name in measured:
            api, ceiling = measured[name][key], ceilings[name][key]
            ratio = api / ceiling
            cells += [f"{api:,.1f}", f"{ceiling:,.1f}", f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.4f}"]
        table.add_row(label, *cells)
    for key, label in (
        ("small", f"4 KiB uploads, {CONCURRENCY} at a time (objects/s)"),
        ("signed", f"signed-URL downloads, {CONCURRENCY} at a time (/s)"),
    ):
        cells = []
        for name in measured:
            cells += [f"{measured[name][key]:,.0f}", "", ""]
        table.add_row(label, *cells)
    for key, label in (
        ("rss_before", "server RSS before the large transfer (MiB)"),
        ("rss_up", f"server RSS growth during the {large_mb} MiB upload (MiB)"),
        ("rss_down", f"server RSS growth during the {large_mb} MiB download (MiB)"),
    ):
        cells = []
        for name in measured:
            cells += [f"{measured[name][key]:,.1f}", "", ""]
        table.add_row(label, *cells)
    console.print(table)
    console.print(
        "ceilings: disk = copying the same bytes file to file with an fsync (uploads), reading them back "
        "from the page cache (downloads); s3 = boto3 put_object/get_object, its multipart upload and a "
        "streamed GET, directly against the same moto server"
    )
