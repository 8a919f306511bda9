"""Helpers shared by tests: the session database's handles and settings for a private GardenOS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import EndpointConnectionError

from gardenos.db.target import DatabaseTarget
from gardenos.embedded.postgres import EmbeddedPostgres, free_port
from gardenos.settings import Settings


@dataclass(frozen=True)
class SessionDatabase:
    settings: Settings
    target: DatabaseTarget

    @property
    def pg(self) -> EmbeddedPostgres:
        assert self.target.embedded is not None
        return self.target.embedded

    @property
    def owner_url(self) -> str:
        return self.target.owner_url

    @property
    def api_url(self) -> str:
        return self.target.api_url

    def env(self) -> dict[str, str]:
        """Environment for a `gardenos` subprocess that should use this database."""
        return {
            **os.environ,
            "GARDENOS_DATA_DIR": str(self.settings.data_dir),
            "GARDENOS_RUNTIME_DIR": str(self.settings.runtime_dir),
        }


def make_settings(base: Path, **overrides: object) -> Settings:
    """Settings for a private GardenOS under `base`. As root, the database may be relocated to the
    runtime folder, which must be reachable by the service user: pytest's own tmp folders are 0700."""
    runtime = Path(tempfile.mkdtemp(prefix="gardenos-test-rt-"))
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=base / "data",
        runtime_dir=runtime,
        pg_port=0,
        **overrides,  # type: ignore[arg-type]
    )


def remove_runtime(settings: Settings) -> None:
    shutil.rmtree(settings.runtime_dir, ignore_errors=True)


# The bucket the `s3_server` fixture creates, and the keys it takes (moto accepts any).
S3_BUCKET = "gardenos-backups"
S3_KEY_ID = "test-key"
S3_SECRET = "test-secret"


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """A real S3-compatible server on loopback (moto's server mode) with `S3_BUCKET`; its endpoint. In a
    process of its own: moto holds objects in memory, which must not count as the API's when a test
    measures the API's memory (the API runs in the test process)."""
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError(f"moto's server stopped: {log.read_text()}")
            try:
                client.create_bucket(Bucket=S3_BUCKET)
                break
            except EndpointConnectionError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"moto's server did not answer: {log.read_text()}")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=30)
