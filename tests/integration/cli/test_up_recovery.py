"""`gardenos up` after its own past: a kill -9, a Ctrl-C followed at once by another `gardenos up`, and a
second `gardenos up` on a data folder already in use."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from gardenos.embedded.postgres import free_port
from gardenos.settings import Settings
from tests.integration.cli.up_process import Up, alive, owner_url, postmaster_pid, up_env
from tests.support import make_settings, remove_runtime

pytestmark = pytest.mark.slow

# The demo agency is not what these tests are about: leave it out, to start sooner. Wide lines, so that
# messages are matched whole.
NO_DEMO = {"GARDENOS_DEMO": "false", "COLUMNS": "300"}


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = make_settings(tmp_path)
    yield settings
    remove_runtime(settings)


def _server_processes(settings: Settings) -> list[psutil.Process]:
    postmaster = psutil.Process(postmaster_pid(settings))
    return [postmaster, *postmaster.children(recursive=True)]


def _notes(settings: Settings) -> list[str]:
    with psycopg.connect(owner_url(settings)) as conn:
        return [row[0] for row in conn.execute("SELECT note FROM kept ORDER BY note")]


@pytest.mark.parametrize("also_postgres", [False, True], ids=["up-killed", "up-and-postgres-killed"])
def test_up_after_a_kill_9_starts_without_manual_steps_and_loses_nothing_committed(
    settings: Settings, tmp_path: Path, also_postgres: bool
) -> None:
    first = Up(settings, tmp_path / "first.log", **NO_DEMO)
    try:
        first.wait_ready()
        with psycopg.connect(owner_url(settings)) as conn:
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('committed before the kill')")
        server = _server_processes(settings)
        orphan = server[0]
    finally:
        first.kill()
    if also_postgres:
        # A crash of the whole machine: PostgreSQL recovers from its WAL at the next start.
        for process in server:
            with contextlib.suppress(psutil.NoSuchProcess):  # children end with the postmaster
                process.kill()
        psutil.wait_procs(server, timeout=10)
    else:
        # What the user meets after a kill -9 or the OOM killer: PostgreSQL runs on, orphaned.
        assert alive(orphan)

    second = Up(settings, tmp_path / "second.log", **NO_DEMO)
    try:
        second.wait_ready()
        assert _notes(settings) == ["committed before the kill"]
        restarted = _server_processes(settings)
        code = second.interrupt()
    finally:
        second.kill()
    output = second.output()
    assert code == 0, output
    if not also_postgres:
        assert f"restarted PostgreSQL (pid {orphan.pid})" in output
        assert f"`gardenos up` (pid {first.proc.pid})" in output
    # The orphan did not stay behind, and the second `gardenos up` stopped what it started.
    assert [p.pid for p in [*server, *restarted] if alive(p)] == []


def test_up_right_after_ctrl_c_waits_for_the_previous_one_to_stop(settings: Settings, tmp_path: Path) -> None:
    first = Up(settings, tmp_path / "first.log", **NO_DEMO)
    second: Up | None = None
    try:
        first.wait_ready()
        # Hold the first `gardenos up` in its stop for as long as this test needs: its PostgreSQL acts on
        # the fast-shutdown signal only once resumed.
        postmaster = psutil.Process(postmaster_pid(settings))
        postmaster.suspend()
        try:
            first.proc.send_signal(signal.SIGINT)  # as Ctrl-C sends it
            first.wait_output("Shutting down")
            second = Up(settings, tmp_path / "second.log", **NO_DEMO)
            second.wait_output(f"waiting for the previous `gardenos up` (pid {first.proc.pid}) to stop")
            assert first.proc.poll() is None
        finally:
            postmaster.resume()
        assert first.proc.wait(timeout=90) == 0, first.output()
        second.wait_ready()
        assert second.interrupt() == 0, second.output()
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_a_second_up_on_a_data_folder_in_use_is_refused_and_harms_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    first = Up(settings, tmp_path / "first.log", **NO_DEMO)
    try:
        first.wait_ready()
        postmaster = postmaster_pid(settings)
        result = subprocess.run(
            [sys.executable, "-m", "gardenos", "up"],
            env=up_env(settings, free_port(), **NO_DEMO),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"another `gardenos up` (pid {first.proc.pid}) is running" in result.stderr
        assert str(settings.data_path) in result.stderr
        assert "Traceback" not in result.stderr
        # The first one's database was left alone: same server, still serving.
        assert postmaster_pid(settings) == postmaster
        assert httpx.get(f"{first.url}/ready").status_code == 200
        assert first.interrupt() == 0
    finally:
        first.kill()


def test_up_uses_the_database_gardenos_db_start_runs_and_leaves_it_running(
    settings: Settings, tmp_path: Path
) -> None:
    env = up_env(settings, free_port(), **NO_DEMO)
    started = subprocess.run(
        [sys.executable, "-m", "gardenos", "db", "start"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    try:
        postmaster = psutil.Process(postmaster_pid(settings))
        up = Up(settings, tmp_path / "up.log", **NO_DEMO)
        try:
            up.wait_ready()
            code = up.interrupt()
        finally:
            up.kill()
        output = up.output()
        assert code == 0, output
        assert (
            f"using the PostgreSQL already running (pid {postmaster.pid}, from `gardenos db start`)" in output
        )
        assert alive(postmaster)
    finally:
        subprocess.run([sys.executable, "-m", "gardenos", "db", "stop"], env=env, check=True, timeout=120)
