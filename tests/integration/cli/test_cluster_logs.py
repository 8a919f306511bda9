"""`gardenos cluster logs` (`make logs`): one log, or every one under a header, read from a cluster's
folder (nothing needs to run to read its logs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gardenos.cluster.cluster import Cluster
from gardenos.cluster.layout import ClusterSpec
from gardenos.settings import Settings
from tests.support import make_settings, remove_runtime


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    settings = make_settings(tmp_path)
    cluster = Cluster(settings)
    cluster.layout.spec_file.parent.mkdir(parents=True)
    ClusterSpec.new(settings, 3).save(cluster.layout.spec_file)
    for name, path in cluster.log_files().items():
        if name != "haproxy":  # a log not written yet
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{name} line {i}\n" for i in range(1, 6)))
    yield cluster
    remove_runtime(settings)


def _logs(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gardenos", "cluster", "logs", *args],
        env={
            **os.environ,
            "GARDENOS_DATA_DIR": str(settings.data_dir),
            "GARDENOS_RUNTIME_DIR": str(settings.runtime_dir),
            "COLUMNS": "300",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_all_prints_the_end_of_every_log_under_a_header(cluster: Cluster) -> None:
    result = _logs(cluster.settings, "--all", "-n", "2")
    assert result.returncode == 0, result.stderr
    names = [n.name for n in cluster.spec.nodes]
    headers = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert headers == [*names, "etcd", "haproxy", "backup-schedule"]
    for name in [*names, "etcd"]:
        assert f"{name} line 4\n{name} line 5\n" in result.stdout
        assert f"{name} line 3" not in result.stdout
    assert "(no log yet)" in result.stdout


def test_one_log_by_name_and_a_clear_answer_without_either(cluster: Cluster) -> None:
    result = _logs(cluster.settings, "etcd", "-n", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["etcd line 5"]

    result = _logs(cluster.settings)
    assert result.returncode == 1
    assert "--all" in result.stderr
    assert "Traceback" not in result.stderr
