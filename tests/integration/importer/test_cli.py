"""`gardenos import leads` as a user runs it: a subprocess over the session database. kill -9 in the middle
leaves nothing behind, and running it again resumes the same import to its end, without duplicates.
The import is caught writing by a lock the test holds on `leads` (conftest's `LeadsLocked`), so the file
can be small (it was 300,000 rows, to outlast the kill by its size alone)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from tests.integration.importer.conftest import LeadsLocked, Tenant, leads_of, write_people_csv
from tests.support import SessionDatabase
from tests.unit.importer.corpus import DATA

ROWS = 20_000


def gardenos(database: SessionDatabase, *args: str) -> list[str]:
    return [sys.executable, "-m", "gardenos", *args]


def test_import_command_prints_a_summary_and_the_error_report(
    database: SessionDatabase, tenant: Tenant
) -> None:
    result = subprocess.run(
        gardenos(database, "import", "leads", str(DATA / "dirty.csv"), "--agency", tenant.slug),
        env=database.env() | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "invalid" in result.stdout
    report = next(line for line in result.stdout.splitlines() if "errors.csv" in line).split()[-1]
    assert "more than one @" in Path(report).read_text()
    assert len(leads_of(database, tenant)) == 2  # one of them with its phone kept as written


def test_a_file_over_the_size_limit_gets_a_clear_error(
    database: SessionDatabase, tenant: Tenant, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as f:  # sparse: 2 GB on paper, nothing on disk
        f.truncate(2 * 1000**3)
    result = subprocess.run(
        gardenos(database, "import", "leads", str(huge), "--agency", tenant.slug),
        env=database.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "2.0 GB" in result.stderr
    assert "GARDENOS_IMPORT_MAX_BYTES" in result.stderr


def _import_row(database: SessionDatabase, tenant: Tenant) -> tuple[object, ...] | None:
    with psycopg.connect(database.owner_url) as conn:
        return conn.execute(
            "SELECT id, status, rows_total, attempts, error FROM imports WHERE agency_id = %s", (tenant.id,)
        ).fetchone()


def test_kill_9_mid_import_then_resume(
    database: SessionDatabase, tenant: Tenant, tmp_path: Path, leads_locked: LeadsLocked
) -> None:
    path = write_people_csv(tmp_path / "big.csv", ROWS)
    command = gardenos(database, "import", "leads", str(path), "--agency", tenant.slug)
    process = subprocess.Popen(
        command, env=database.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        leads_locked.wait_for_writer()
        row = _import_row(database, tenant)
        assert row is not None
        assert row[1] == "running", row
        process.kill()  # SIGKILL: no cleanup code runs
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -9
    import_id = row[0]
    leads_locked.release()
    leads_locked.wait_until_let_go(import_id)
    assert leads_of(database, tenant) == [], "nothing of a killed import may be kept"

    result = subprocess.run(
        command, env=database.env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    final = _import_row(database, tenant)
    assert final is not None
    assert final[0] == import_id, "running the same file again resumes the interrupted import"
    assert (final[1], final[2], final[3]) == ("succeeded", ROWS, 2)
    with psycopg.connect(database.owner_url) as conn:
        counts = conn.execute(
            "SELECT count(*), count(DISTINCT email) FROM leads WHERE agency_id = %s", (tenant.id,)
        ).fetchone()
    assert counts == (ROWS, ROWS)
