"""`gardenos up` as a user runs it: a subprocess that starts everything, serves, and stops on Ctrl-C."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from gardenos.settings import Settings
from tests.integration.cli.up_process import Up, alive, owner_url, postmaster_pid, up_env
from tests.support import make_settings, remove_runtime

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = make_settings(tmp_path)
    yield settings
    remove_runtime(settings)


def _demo_owner_signs_in(settings: Settings, up: Up) -> None:
    """The printed demo login works through /auth/v1 with the key `gardenos keys` prints."""
    keys = subprocess.run(
        [sys.executable, "-m", "gardenos", "keys", "--json"],
        env=up_env(settings, up.api_port),
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


def _count_leads(settings: Settings) -> int:
    with psycopg.connect(owner_url(settings)) as conn:
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
        postgres = psutil.Process(postmaster_pid(settings))
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
    assert [p.pid for p in server_processes if alive(p)] == []

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
            env=up_env(settings, port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
