"""Uploads and downloads stream: the server never holds an object whole (measured as the Python heap's
peak while a 64 MiB object goes up and comes back down, the server running in this process)."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator

import httpx

SIZE = 64 << 20
CHUNK = 1 << 20
# Tens of MiB would mean the object (or a large part of it) was held in memory; the server's own
# buffers (a 1 MiB write block, 256 KiB read blocks, the client's 1 MiB chunks) are well below.
BOUND = 16 << 20


def _chunks() -> Iterator[bytes]:
    block = bytes(range(256)) * (CHUNK // 256)
    for _ in range(SIZE // CHUNK):
        yield block


def test_a_large_object_streams_both_ways_in_bounded_memory(http_a: httpx.Client, bucket_name: str) -> None:
    http_a.post("/storage/v1/bucket", json={"id": bucket_name})
    expected = hashlib.sha256(b"".join(_chunks())).hexdigest()
    tracemalloc.start()
    try:
        put = http_a.post(
            f"/storage/v1/object/{bucket_name}/big.bin",
            content=_chunks(),
            headers={"content-type": "application/octet-stream"},
        )
        assert put.status_code == 200, put.text
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest, size = hashlib.sha256(), 0
        with http_a.stream("GET", f"/storage/v1/object/{bucket_name}/big.bin") as answer:
            for piece in answer.iter_bytes():
                digest.update(piece)
                size += len(piece)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (size, digest.hexdigest()) == (SIZE, expected)
    assert upload_peak < BOUND, f"upload peak {upload_peak / 2**20:.1f} MiB"
    assert download_peak < BOUND, f"download peak {download_peak / 2**20:.1f} MiB"
