"""`gardenos up` as a user runs it: a subprocess that starts everything, serves, and stops on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from gardenos.embedded.postgres import free_port
from gardenos.settings import Settings
from tests.support import make_settings, remove_runtime

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = make_settings(tmp_path)
    yield settings
    remove_runtime(settings)


def _env(settings: Settings, api_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "GARDENOS_DATA_DIR": str(settings.data_dir),
        "GARDENOS_RUNTIME_DIR": str(settings.runtime_dir),
        "GARDENOS_PG_PORT": "0",
        "GARDENOS_PORT": str(api_port),
        "GARDENOS_DEMO_LEADS": "300",
        "GARDENOS_DEMO_CLIENTS": "40",
    }


class Up:
    """A running `gardenos up` with its output in a file (a pipe could fill and block it)."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.api_port = free_port()
        self.log = log
        self.out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gardenos", "up"],
            env=_env(settings, self.api_port),
            stdout=self.out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def wait_ready(self, attempts: int = 600) -> httpx.Response:
        """Poll /ready (first start creates the cluster and loads demo data), at most ~2 minutes."""
        for _ in range(attempts):
            assert self.proc.poll() is None, f"gardenos up exited early:\n{self.output()}"
            # Connection refused until the server listens: keep polling.
            with contextlib.suppress(httpx.TransportError):
                response = httpx.get(f"{self.url}/ready", timeout=2)
                if response.status_code == 200:
                    return response
            time.sleep(0.2)
        pytest.fail(f"gardenos up never became ready:\n{self.output()}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=90)
        finally:
            self.out.close()

    def output(self) -> str:
        if not self.out.closed:
            self.out.flush()
        return self.log.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def _postmaster_pid(settings: Settings) -> int:
    pid_file = settings.data_path / "postgres" / "data" / "postmaster.pid"
    return int(pid_file.read_text().splitlines()[0])


def _demo_owner_signs_in(settings: Settings, up: Up) -> None:
    """The printed demo login works through /auth/v1 with the key `gardenos keys` prints."""
    keys = subprocess.run(
        [sys.executable, "-m", "gardenos", "keys", "--json"],
        env=_env(settings, up.api_port),
        capture_output=True,
        text=True,
        check=True,
    )
    anon = json.loads(keys.stdout)["anon"]
    login = json.loads((settings.data_path / "demo-login.json").read_text())
    assert login["email"] in up.output()
    assert login["password"] in up.output()
    response = httpx.post(
        f"{up.url}/auth/v1/token",
        params={"grant_type": "password"},
        headers={"apikey": anon},
        json={"email": login["email"], "password": login["password"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["app_metadata"]["agency_role"] == "owner"


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _count_leads(settings: Settings) -> int:
    state = json.loads((settings.data_path / "embedded.json").read_text())
    url = f"postgresql://gardenos:{state['password']}@127.0.0.1:{state['port']}/gardenos"
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM leads l JOIN agencies a ON a.id = l.agency_id WHERE a.slug = 'demo'"
        )
        return int(row.fetchone()[0])  # type: ignore[index]


def test_up_serves_stops_cleanly_and_keeps_its_data(settings: Settings, tmp_path: Path) -> None:
    first = Up(settings, tmp_path / "first.log")
    try:
        ready = first.wait_ready()
        assert ready.json()["status"] == "ready"
        assert httpx.get(f"{first.url}/health").json()["status"] == "ok"
        postgres = psutil.Process(_postmaster_pid(settings))
        server_processes = [postgres, *postgres.children(recursive=True)]
        assert len(server_processes) > 1
        leads_before = _count_leads(settings)
        assert leads_before == 300
        _demo_owner_signs_in(settings, first)
        code = first.interrupt()
    finally:
        first.kill()
    output = first.output()
    assert code == 0, output
    assert "Demo login" in output
    assert "GardenOS stopped" in output
    # No PostgreSQL left behind: neither the postmaster nor any of its children.
    assert [p.pid for p in server_processes if _alive(p)] == []

    second = Up(settings, tmp_path / "second.log")
    try:
        second.wait_ready()
        # The demo agency is found, not loaded again.
        assert _count_leads(settings) == leads_before
        code = second.interrupt()
    finally:
        second.kill()
    assert code == 0
    assert "loading the demo agency" not in second.output()


def test_up_refuses_a_busy_api_port(settings: Settings) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gardenos", "up", "--port", str(port)],
            env=_env(settings, port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
