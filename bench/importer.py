"""`gardenos import leads` on a realistic 1,000,000-row CSV (5% dirty rows) into an agency that already holds
1,000,000 leads, against a plain COPY of the same file into an unindexed table, in the same run.

The import runs as the CLI does, in its own process, so that its peak RSS is its own. The baseline is the
floor for getting those bytes into PostgreSQL on this machine: COPY … (FORMAT csv) into a table of text
columns with no index, constraint, trigger or row-level security. A second floor is what PostgreSQL
itself takes to write the rows the import wrote into the same table, with its indexes and triggers:
INSERT … SELECT from a staging table as the owner, in a copy of the database taken before the import;
and the same in a second copy with the trigger of the text rules (0024) off, which is what they cost.
Every figure comes with the machine's load and the CPU seconds spent on each side, as the machine is
shared: seconds stretch when other work runs, CPU seconds much less.
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from rich.console import Console
from rich.table import Table

from bench.support import private_database
from gardenos.db.target import DatabaseTarget
from gardenos.demo.agency import ensure_agency
from gardenos.demo.generator import load_demo_data

HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "Job Title", "City", "Country",
          "Lead Source", "Notes", "Budget"]  # fmt: skip
FIRST = ["Anna", "Jürgen", "Zoë", "José", "Łukasz", "Chloé", "Søren", "Mary", "Ahmed", "Wei", "Olga", "Seán"]
LAST = ["Müller-Łukasiewicz", "Smith", "O'Brien", "van der Berg", "García", "Nguyễn", "Kowalski", "Dubois",
        "McDonald", "Rossi", "Jensen", "Schäfer"]  # fmt: skip
COMPANIES = ["ACME GmbH", "Globex Inc.", "Initech", "Umbrella Corp", "Stark Industries", "Bäckerei Größe", ""]
# Formats as people type them at home; {a} three digits (four where the plan needs them), {b} four.
CITIES = [("Berlin", "Germany", "+49 30 {a} {b}"), ("New York", "United States", "(212) {a}-{b}"),
          ("London", "United Kingdom", "+44 20 {a}0 {b}"), ("Paris", "France", "+33 1 {a}0 {b}"),
          ("Madrid", "Spain", "+34 91 {a} {b}")]  # fmt: skip
PLAIN = "CREATE UNLOGGED TABLE IF NOT EXISTS bench_plain_import ({}) ".format(
    ", ".join(f"c{i} text" for i in range(len(HEADER)))
)


def write_csv(path: Path, rows: int, existing: list[str], seed: int = 1) -> dict[str, int]:
    """A CRM export: 95% clean rows, 5% dirty (bad emails, bad phones, no identity, in-file duplicates,
    existing leads' emails, shouted names); UTF-8 with names in many scripts."""
    rng = random.Random(seed)  # noqa: S311 (test data)
    dirty = {
        "bad_email": 0,
        "bad_phone": 0,
        "no_identity": 0,
        "file_duplicate": 0,
        "existing": 0,
        "shouted": 0,
    }
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, country, phone_form = rng.choice(CITIES)
            email = f"{first[0].lower()}.{i}@example{i % 997}.com"
            phone = phone_form.format(a=200 + i // 10000, b=f"{i % 10000:04d}")
            company = rng.choice(COMPANIES)
            r = rng.random()
            if r < 0.05:
                kind = list(dirty)[int(r * 120) % len(dirty)]
                dirty[kind] += 1
                if kind == "bad_email":
                    email = email.replace("@", " at ")
                elif kind == "bad_phone":
                    phone = "n/a 12"
                elif kind == "no_identity":
                    first = last = email = phone = company = ""
                elif kind == "file_duplicate" and i:
                    email = f"{FIRST[0][0].lower()}.{i - 1}@example{(i - 1) % 997}.com"
                elif kind == "existing" and existing:
                    email = existing[i % len(existing)]
                elif kind == "shouted":
                    first, last = first.upper(), last.upper()
            note = "Met at the trade show; wants a demo." if r > 0.8 else ""
            title = "Head of Sales" if r > 0.5 else ""
            source = "linkedin" if r > 0.3 else "website"
            out.writerow(
                [first, last, email, phone, company, title, city, country, source, note, int(r * 1e5)]
            )
    return dirty


def run(*, leads: int, rows: int) -> None:
    console = Console()
    with private_database() as target, psycopg.connect(target.owner_url) as conn:
        with conn.transaction():
            agency = ensure_agency(
                conn,
                name="Bench",
                slug="bench",
                owner_email="owner@bench.example",
                password=secrets.token_urlsafe(12),
            )
        with console.status(f"importer: {leads:,} existing leads…"), conn.transaction():
            load_demo_data(conn, agency_id=agency.id, leads=leads, clients=leads // 20, seed=1)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE public.leads")
        conn.execute("VACUUM ANALYZE public.clients")
        existing = [
            r[0] for r in conn.execute("SELECT email FROM public.leads WHERE email IS NOT NULL LIMIT 20000")
        ]
        postmaster = _postmaster(conn)
        conn.close()
        with console.status("floor: copies of the database for PostgreSQL's own INSERT … SELECT…"):
            _clone(target, FLOOR_DB)
            _clone(target, BARE_FLOOR_DB)
        conn = psycopg.connect(target.owner_url)
        figures: list[Figure] = []
        with tempfile.TemporaryDirectory(prefix="gardenos-bench-import-") as tmp:
            path = Path(tmp) / "leads.csv"
            with console.status(f"importer: writing a {rows:,}-row CSV…"):
                dirty = write_csv(path, rows, existing)
            size_mb = path.stat().st_size / 1e6

            conn.execute(PLAIN)
            conn.commit()
            with console.status("baseline: plain COPY of the same file…"):
                figures.append(
                    _measure("plain COPY, same file, unindexed table", postmaster, _plain, conn, path)
                )
            with console.status("gardenos import leads …"):
                figure, (returncode, peak_mb) = _measure_import(postmaster, target, path)
                figures.append(figure)
            if returncode != 0:
                raise SystemExit("the import failed")
            counts = conn.execute(
                "SELECT id, rows_total, rows_imported, rows_invalid, rows_duplicate, status "
                "FROM public.imports"
            ).fetchone()
            assert counts is not None
            imported = Path(tmp) / "imported.copy"
            with imported.open("wb") as f, conn.cursor().copy(FLOOR_OUT, (counts[0],)) as copy:
                for data in copy:
                    f.write(data)
            conn.rollback()
            floor_url = make_conninfo(target.owner_url, dbname=FLOOR_DB)
            with (
                console.status("floor: INSERT … SELECT of the imported rows, all indexes…"),
                psycopg.connect(floor_url) as floor,
            ):
                figures.append(
                    _measure(
                        "floor: INSERT … SELECT, same rows, as owner", postmaster, _floor, floor, imported
                    )
                )
            bare_url = make_conninfo(target.owner_url, dbname=BARE_FLOOR_DB)
            with (
                console.status("floor: the same without the text rules' trigger…"),
                psycopg.connect(bare_url) as floor,
            ):
                figures.append(
                    _measure(
                        "floor without the text rules (tidy trigger off)",
                        postmaster,
                        _floor_bare,
                        floor,
                        imported,
                    )
                )
        conn.close()
    _report(console, figures, rows, leads, size_mb, peak_mb, counts[1:], dirty)


FLOOR_DB = "bench_floor"
# A second copy, for the floor without the tidy trigger (migrations 0024/0025): what the rules cost a write.
BARE_FLOOR_DB = "bench_floor_bare"
# The rows the import wrote, for the floor to write again into the copy of the database taken before.
FLOOR_COLUMNS = (
    "id, agency_id, first_name, last_name, email, phone, company, job_title, website, city, country, "
    "source, status, notes, tags, custom_fields, created_at, import_id"
)
FLOOR_OUT = f"COPY (SELECT {FLOOR_COLUMNS} FROM public.leads WHERE import_id = %s ORDER BY id) TO STDOUT"
FLOOR_STAGE = "CREATE UNLOGGED TABLE bench_floor_stage (LIKE public.leads INCLUDING DEFAULTS)"


@dataclass(frozen=True)
class Figure:
    what: str
    seconds: float
    client_cpu_s: float
    server_cpu_s: float
    uptime: str


def _plain(conn: psycopg.Connection, path: Path) -> float:
    with (
        conn.transaction(),
        # LATIN1: every byte is accepted as it is, as the importer's own reading does not fail either.
        conn.cursor().copy(
            "COPY bench_plain_import FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'LATIN1')"
        ) as copy,
        path.open("rb") as f,
    ):
        while chunk := f.read(1 << 20):
            copy.write(chunk)
    return 0.0


def _floor(conn: psycopg.Connection, imported: Path, *, disable: str | None = None) -> float:
    """As the owner (no row-level security), with every index, constraint and trigger of the table and
    the importer's two switches: the cost of the write alone, without reading, checking or matching.
    `disable`: a trigger of the table turned off for the write."""
    conn.execute(FLOOR_STAGE)
    with (
        conn.cursor().copy(f"COPY bench_floor_stage ({FLOOR_COLUMNS}) FROM STDIN") as copy,
        imported.open("rb") as f,
    ):
        while chunk := f.read(1 << 20):
            copy.write(chunk)
    conn.commit()
    started = time.perf_counter()
    with conn.transaction():
        conn.execute("SET LOCAL gardenos.audit = 'off'")
        conn.execute("SET LOCAL gardenos.subscriptions = 'off'")
        if disable is not None:
            disabling = sql.SQL("ALTER TABLE public.leads DISABLE TRIGGER {}")
            conn.execute(disabling.format(sql.Identifier(disable)))
        conn.execute(
            f"INSERT INTO public.leads ({FLOOR_COLUMNS}) SELECT {FLOOR_COLUMNS} FROM bench_floor_stage"
        )
    return time.perf_counter() - started  # without loading the stage


def _floor_bare(conn: psycopg.Connection, imported: Path) -> float:
    return _floor(conn, imported, disable="leads_tidy_contact")


def _measure(
    what: str,
    postmaster: int,
    action: Callable[[psycopg.Connection, Path], float],
    conn: psycopg.Connection,
    path: Path,
) -> Figure:
    server = _server_cpu(postmaster)
    client = time.process_time()
    started = time.perf_counter()
    timed = action(conn, path)
    seconds = timed or time.perf_counter() - started
    return Figure(what, seconds, time.process_time() - client, _server_cpu(postmaster) - server, _uptime())


def _measure_import(postmaster: int, target: DatabaseTarget, path: Path) -> tuple[Figure, tuple[int, float]]:
    server = _server_cpu(postmaster)
    started = time.perf_counter()
    returncode, peak_mb, client_cpu = _import(target, path)
    seconds = time.perf_counter() - started
    figure = Figure("gardenos import leads", seconds, client_cpu, _server_cpu(postmaster) - server, _uptime())
    return figure, (returncode, peak_mb)


def _report(
    console: Console,
    figures: list[Figure],
    rows: int,
    leads: int,
    size_mb: float,
    peak_mb: float,
    counts: tuple[object, ...],
    dirty: dict[str, int],
) -> None:
    plain, imported, floor, _bare = figures
    table = Table(
        title=f"import of {rows:,} rows ({size_mb:,.0f} MB, 5% dirty) into an agency of {leads:,} leads"
    )
    for column in ("what", "seconds", "× COPY", "rows/s", "client CPU s", "server CPU s", "load (uptime)"):
        table.add_column(column, justify="left" if column in ("what", "load (uptime)") else "right")
    for f in figures:
        load = f.uptime.split("load average:")[-1].strip()
        table.add_row(
            f.what,
            f"{f.seconds:.1f}",
            f"{f.seconds / plain.seconds:.1f}",
            f"{rows / f.seconds:,.0f}",
            f"{f.client_cpu_s:.1f}",
            f"{f.server_cpu_s:.1f}",
            load,
        )
    console.print(table)
    total, inserted, invalid, duplicate, status = counts
    console.print(
        f"import {status}: rows read {total:,}, imported {inserted:,}, invalid {invalid:,}, "
        f"duplicates {duplicate:,} (dirty rows written: {', '.join(f'{k} {v:,}' for k, v in dirty.items())})"
    )
    console.print(
        f"the import takes {imported.seconds / plain.seconds:.1f}× the plain COPY (target ≤ 5×, under 60 s) "
        f"and {imported.seconds / floor.seconds:.1f}× PostgreSQL's own INSERT … SELECT of the same rows into "
        f"the same table; peak RSS {peak_mb:,.0f} MB (target < 300 MB). Server CPU counts every process of "
        f"the database server (WAL writer and checkpointer included); with other work on the machine, "
        f"seconds stretch and CPU seconds do not."
    )


def _postmaster(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    assert row is not None
    return int((Path(row[0]) / "postmaster.pid").read_text().split()[0])


def _server_cpu(postmaster: int) -> float:
    """CPU seconds of the database server so far: the postmaster's, its live children's and those of the
    children that ended (backends of finished connections)."""
    main = psutil.Process(postmaster)
    times = main.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in main.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return total


def _clone(target: DatabaseTarget, name: str) -> None:
    with psycopg.connect(make_conninfo(target.owner_url, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        source = make_conninfo(target.owner_url)
        dbname = psycopg.conninfo.conninfo_to_dict(source).get("dbname", "gardenos")
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(str(dbname))
            )
        )


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _import(target: DatabaseTarget, path: Path) -> tuple[int, float, float]:
    """Run the CLI: its exit code, its peak RSS in MB and its CPU seconds.

    The peak is the child's own VmHWM, read while it runs: wait4's ru_maxrss would report this benchmark's
    own peak (the child is forked from it, and Linux keeps the larger of the old and new images' peaks
    across exec), which is how an earlier run reported 421 MB for an importer that never held 200."""
    settings = target.settings
    env = os.environ | {
        "GARDENOS_DATA_DIR": str(settings.data_dir),
        "GARDENOS_RUNTIME_DIR": str(settings.runtime_dir),
        "GARDENOS_PG_PORT": "0",
        "COLUMNS": "160",
    }
    command = [sys.executable, "-m", "gardenos", "import", "leads", str(path), "--agency", "bench"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    peak_kb = 0
    status_file = Path(f"/proc/{process.pid}/status")
    while True:
        with contextlib.suppress(OSError, ValueError):
            for line in status_file.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, peak_kb / 1024, usage.ru_utime + usage.ru_stime
