"""One real cluster for the whole package: etcd, three Patroni nodes and HAProxy on loopback, under a
temporary folder (as root, relocated to a runtime folder the service user can reach, with a Python
of its own built for Patroni). Encrypted backups are on, so archiving and restores go through the
encryption. The last test module (`test_down.py`) brings it down and checks nothing is left."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gardenos.cluster.cluster import Cluster
from gardenos.settings import Settings

BACKUP_KEY = "cluster-tests-backup-key-0123456789abcdef"


def cluster_settings(base: Path, runtime: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=base / "data",
        runtime_dir=runtime,
        cluster_rw_port=0,
        cluster_ro_port=0,
        backup_encryption_key=BACKUP_KEY,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    runtime = Path(tempfile.mkdtemp(prefix="gardenos-cluster-rt-"))
    settings = cluster_settings(tmp_path_factory.mktemp("cluster"), runtime)
    running = Cluster(settings)
    try:
        running.up(3)
        yield running
    finally:
        running.down()
        shutil.rmtree(runtime, ignore_errors=True)
