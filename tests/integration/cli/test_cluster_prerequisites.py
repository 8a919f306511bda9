"""`gardenos cluster up` and `gardenos up --cluster` on a machine without etcd and HAProxy: told what to
install, and nothing is made or started."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from gardenos.embedded.postgres import free_port
from tests.support import make_settings, remove_runtime


@pytest.mark.parametrize(
    "command", [["cluster", "up"], ["up", "--cluster"]], ids=["cluster-up", "up-cluster"]
)
def test_missing_etcd_and_haproxy_are_named_and_nothing_starts(tmp_path: Path, command: list[str]) -> None:
    settings = make_settings(tmp_path)
    # A PATH without etcd or HAProxy, with what else the cluster finds there (this Python is called by its
    # full path).
    programs = tmp_path / "bin"
    programs.mkdir()
    for name in ("setpriv", "sh", "test"):
        found = shutil.which(name)
        assert found is not None
        (programs / name).symlink_to(found)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "gardenos", *command],
            env={
                **os.environ,
                "PATH": str(programs),
                "GARDENOS_DATA_DIR": str(settings.data_dir),
                "GARDENOS_RUNTIME_DIR": str(settings.runtime_dir),
                "GARDENOS_PORT": str(free_port()),
                "COLUMNS": "300",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        remove_runtime(settings)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "etcd (Debian package etcd-server), haproxy (Debian package haproxy)" in result.stderr
    assert "`apt-get install -y etcd-server haproxy`" in result.stderr
    assert "`make system-deps`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (settings.data_path / "cluster").exists()
    started = [
        p.pid for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert started == []
