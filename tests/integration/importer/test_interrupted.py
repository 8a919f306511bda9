"""An API import whose server stops: on Ctrl-C or SIGTERM the server stops within seconds (the import is
interrupted, not waited for), and after kill -9 its upload is removed at the next start; either way,
uploading the same file again takes the interrupted import over and runs it to its end.

The import is caught writing by a lock the test holds on `leads` (every write waits for it): it has read
and staged its rows and waits in its INSERT when the server is stopped, however fast or loaded the machine
is, so the file can be small (it was 300,000 rows, to outlast the stop by its size alone)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gardenos.importer.sql import IMPORT_LOCK
from tests.integration.importer.conftest import Tenant
from tests.live import UpProcess
from tests.support import SessionDatabase

pytestmark = pytest.mark.slow

ROWS = 20_000
# Far more than stopping needs.
STOP_WITHIN_S = 45
WAIT_S = 30
# The import's backend, waiting for the test's lock on leads in the statement that writes its rows.
WAITING_TO_WRITE = """
SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.relation = 'public.leads'::regclass AND NOT l.granted AND a.query LIKE '%%INSERT INTO public.leads%%'
"""
# The import's lock, held by whoever runs it (the server's backend outlives a killed server until its
# statement ends): the next server reaps the import once nobody holds it.
RUN_BY_SOMEONE = f"""
SELECT count(*) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = {IMPORT_LOCK}
    AND l.objid = hashtext(%s::text)::oid AND l.objsubid = 2 AND l.granted
"""


class LeadsLocked:
    """A SHARE lock on `leads`, held by the test (as the owner) until released: reads go on, and every
    write waits."""

    def __init__(self, database: SessionDatabase) -> None:
        self.conn = psycopg.connect(database.owner_url)
        self.conn.execute("LOCK TABLE public.leads IN SHARE MODE")
        # Watched from a connection of its own: pg_stat_activity is read once per transaction.
        self.watch = psycopg.connect(database.owner_url, autocommit=True)

    def wait_for_writer(self) -> None:
        _wait_until(
            lambda: self.count(WAITING_TO_WRITE) > 0,
            lambda: f"the import never began to write; waiting: {self._waiting()}",
        )

    def count(self, query: str, *params: object) -> int:
        row = self.watch.execute(query, params).fetchone()
        assert row is not None
        return int(row[0])

    def _waiting(self) -> list[tuple[Any, ...]]:
        return self.watch.execute(
            "SELECT l.relation::regclass, l.mode, a.state, left(a.query, 300) FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted"
        ).fetchall()

    def release(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()
        self.watch.close()


@pytest.fixture
def leads_locked(database: SessionDatabase) -> Iterator[LeadsLocked]:
    held = LeadsLocked(database)
    try:
        yield held
    finally:
        held.close()


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("interrupted") / "big.csv"
    with path.open("w") as f:
        f.write("first_name,last_name,email,phone\n")
        f.writelines(
            f"Person,N{i},p{i}@example.com,+1 212 {200 + i // 10000} {i % 10000:04d}\n" for i in range(ROWS)
        )
    return path


def _wait_until(condition: Any, failure: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure() if callable(failure) else failure)
        time.sleep(0.1)


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
    # The killed server's backend ends its INSERT, finds its client gone, and rolls back.
    leads_locked.release()
    _wait_until(
        lambda: leads_locked.count(RUN_BY_SOMEONE, import_id) == 0,
        "the killed server's backend still holds the import",
    )

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
