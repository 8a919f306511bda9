"""The cluster's prerequisites, looked up on a PATH of the test's making."""

from __future__ import annotations

from pathlib import Path

import pytest

from gardenos.cluster.prerequisites import check_prerequisites
from gardenos.errors import ConfigurationError


def _program(folder: Path, name: str) -> None:
    program = folder / name
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)


def test_each_missing_program_is_named_with_its_package(tmp_path: Path) -> None:
    _program(tmp_path, "etcd")
    with pytest.raises(ConfigurationError) as raised:
        check_prerequisites(path=str(tmp_path))
    assert raised.value.message.endswith(": haproxy (Debian package haproxy)")
    assert raised.value.hint is not None
    assert "`apt-get install -y haproxy`" in raised.value.hint

    (tmp_path / "etcd").unlink()
    with pytest.raises(ConfigurationError) as raised:
        check_prerequisites(path=str(tmp_path))
    assert "etcd (Debian package etcd-server), haproxy (Debian package haproxy)" in raised.value.message
    assert raised.value.hint is not None
    assert "`apt-get install -y etcd-server haproxy`" in raised.value.hint


def test_nothing_is_missing_when_every_program_is_found(tmp_path: Path) -> None:
    _program(tmp_path, "etcd")
    _program(tmp_path, "haproxy")
    check_prerequisites(path=str(tmp_path))
