"""An API import whose server stops: on Ctrl-C or SIGTERM the server stops within seconds (the import is
interrupted, not waited for), and after kill -9 its upload is removed at the next start; either way,
uploading the same file again takes the interrupted import over and runs it to its end.

The import is caught writing by a lock the test holds on `leads` (conftest's `LeadsLocked`), so the file
can be small (it was 300,000 rows, to outlast the stop by its size alone)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.importer.conftest import LeadsLocked, Tenant, write_people_csv
from tests.live import UpProcess
from tests.support import SessionDatabase

pytestmark = pytest.mark.slow

ROWS = 20_000
# Far more than stopping needs.
STOP_WITHIN_S = 45


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_people_csv(tmp_path_factory.mktemp("interrupted") / "big.csv", ROWS)


def _uploads(database: SessionDatabase) -> set[Path]:
    return set((database.settings.data_path / "imports").glob("*.upload"))


def _start_import(up: UpProcess, tenant: Tenant, big_csv: Path, leads: LeadsLocked) -> tuple[str, str]:
    """Upload the file and wait until the import is writing rows (held by `leads`); returns (token,
    import id)."""
    token = up.sign_in(f"owner@{tenant.slug}.example", "import-tests-pw")
    with up.http(token) as http, big_csv.open("rb") as f:
        created = http.post("/api/v1/imports", files={"file": ("big.csv", f, "text/csv")})
        assert created.status_code == 202, created.text
        import_id: str = created.json()["id"]
        leads.wait_for_writer()
        status = http.get(f"/api/v1/imports/{import_id}").json()
        assert status["status"] == "running", status
    return token, import_id


def _finish(up: UpProcess, token: str, big_csv: Path) -> dict[str, Any]:
    with up.http(token) as http, big_csv.open("rb") as f:
        again = http.post("/api/v1/imports", files={"file": ("big.csv", f, "text/csv")})
        assert again.status_code == 202, again.text
        deadline = time.monotonic() + 280
        while time.monotonic() < deadline:
            response = http.get(f"/api/v1/imports/{again.json()['id']}")
            status: dict[str, Any] = response.json()
            if response.status_code == 200 and status["status"] in ("succeeded", "failed"):
                return status
            time.sleep(0.5)
    raise AssertionError("the import did not finish")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[UpProcess]]:
    started: list[UpProcess] = []
    yield started
    for up in started:
        up.kill()


def test_after_kill_9_the_upload_goes_and_the_same_file_takes_the_import_over(
    database: SessionDatabase,
    tenant: Tenant,
    big_csv: Path,
    tmp_path: Path,
    servers: list[UpProcess],
    leads_locked: LeadsLocked,
) -> None:
    before = _uploads(database)
    servers.append(first := UpProcess(database, tmp_path / "first.log"))
    token, import_id = _start_import(first, tenant, big_csv, leads_locked)
    left = _uploads(database) - before
    assert len(left) == 1, "the upload waits on disk while its import runs"
    first.proc.kill()  # SIGKILL: no cleanup code runs
    first.proc.wait(timeout=30)
    assert left <= _uploads(database)
    leads_locked.release()
    leads_locked.wait_until_let_go(import_id)

    servers.append(second := UpProcess(database, tmp_path / "second.log"))
    assert not left & _uploads(database), "the killed import's upload is removed when the server starts"
    with second.http(token) as http:
        status = http.get(f"/api/v1/imports/{import_id}").json()
    assert status["status"] == "failed"
    assert "import the file again" in status["error"]

    done = _finish(second, token, big_csv)
    assert done["id"] == import_id, "uploading the same file again takes the interrupted import over"
    assert (done["status"], done["rows_total"], done["rows_imported"], done["attempts"]) == (
        "succeeded",
        ROWS,
        ROWS,
        2,
    )
    assert _uploads(database) <= before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_server_stops_promptly_during_an_import(
    database: SessionDatabase,
    tenant: Tenant,
    big_csv: Path,
    tmp_path: Path,
    servers: list[UpProcess],
    leads_locked: LeadsLocked,
    signum: signal.Signals,
) -> None:
    before = _uploads(database)
    servers.append(up := UpProcess(database, tmp_path / "up.log"))
    _token, import_id = _start_import(up, tenant, big_csv, leads_locked)
    up.proc.send_signal(signum)
    try:
        code = up.proc.wait(timeout=STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gardenos up did not stop within {STOP_WITHIN_S} s:\n{up.output()}")
    output = up.output()
    assert code == 0, output
    assert "GardenOS stopped" in output
    assert "Traceback" not in output
    assert "Event loop is closed" not in output
    assert _uploads(database) <= before, "the interrupted import's upload is gone"
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT status, error FROM imports WHERE id = %s", (import_id,)).fetchone()
    assert row is not None
    assert row[0] == "failed"
    assert "import the file again" in row[1]
