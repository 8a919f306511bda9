"""`gardenos db …` and `gardenos demo-data` against the session's database, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import psycopg

from gardenos.db.migrate import latest_version
from tests.support import SessionDatabase


def gardenos(
    database: SessionDatabase, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gardenos", *args],
        env={**database.env(), "COLUMNS": "200"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_db_status_lists_applied_migrations(database: SessionDatabase) -> None:
    result = gardenos(database, "db", "status")
    assert result.returncode == 0, result.stderr
    assert "running, pid" in result.stdout
    assert f"{latest_version():04d}" in result.stdout
    assert "pending" not in result.stdout
    assert database.pg.state.password not in result.stdout


def test_db_migrate_is_idempotent(database: SessionDatabase) -> None:
    result = gardenos(database, "db", "migrate")
    assert result.returncode == 0, result.stderr
    assert "nothing to apply" in result.stdout


def test_db_psql_passes_arguments_and_reads_stdin(database: SessionDatabase) -> None:
    result = gardenos(database, "db", "psql", "--", "-tAc", "SELECT current_user")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "gardenos"

    result = gardenos(database, "db", "psql", "--", "-tA", stdin="SELECT 40 + 2;\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_db_psql_reports_sql_errors_with_its_exit_code(database: SessionDatabase) -> None:
    result = gardenos(
        database, "db", "psql", "--", "-v", "ON_ERROR_STOP=1", "-c", "SELECT * FROM no_such_table"
    )
    assert result.returncode != 0
    assert "no_such_table" in result.stderr


def test_demo_data_adds_rows_to_a_new_agency(database: SessionDatabase, owner: psycopg.Connection) -> None:
    result = gardenos(
        database, "demo-data", "--leads", "2000", "--clients", "150", "--agency", "cli-demo", "--seed", "7"
    )
    assert result.returncode == 0, result.stderr
    assert "added 2,000 leads, 150 clients" in result.stdout
    counts = owner.execute(
        """
        SELECT (SELECT count(*) FROM leads WHERE agency_id = a.id),
               (SELECT count(*) FROM clients WHERE agency_id = a.id AND lead_id IS NOT NULL),
               (SELECT count(*) FROM leads WHERE agency_id = a.id AND status = 'converted')
        FROM agencies a WHERE a.slug = 'cli-demo'
        """
    ).fetchone()
    assert counts == (2000, 150, 150)


def test_demo_data_refuses_bad_arguments(database: SessionDatabase) -> None:
    result = gardenos(database, "demo-data", "--leads", "-5")
    assert result.returncode == 2
    assert "Invalid value" in result.stderr
    result = gardenos(database, "demo-data", "--leads", "10", "--agency", "Not A Slug!")
    assert result.returncode == 1
    assert "slug" in result.stderr
    assert "Traceback" not in result.stderr
