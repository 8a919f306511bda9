"""`/rest/v1` throughput and latency under concurrent load, against pgbench running the same SQL.

- Data: `load_demo_data` once per agency in its own transaction, the largest agency (half of the leads)
  first so that its load takes the bulk path (indexes dropped and rebuilt), then `VACUUM ANALYZE`.
- API: `create_app` under uvicorn on loopback, in two shapes: one worker in a thread of this process
  (as bench/auth.py runs it), and `uvicorn --workers 2` in a subprocess through `app_factory` below.
- Load: Debian's `wrk`, 2 threads, with a generated Lua script that picks a random id or surname per
  request and sends the anon `apikey` and the largest agency's owner's access token; percentiles come
  from wrk's own latency histogram (`done()`), so p95 is wrk's too.
- Baseline in the same run, on the same database: `pgbench` logged in as `authenticator` (the API's
  login), each transaction doing what the API does for that request: `BEGIN`; the scope statement
  with the same role and the same claims JSON; the statement(s) the API's own builders generate for the
  request (`parse_read`/`build_read`, `build_insert`), with the bind parameters as pgbench variables;
  `COMMIT`. Percentiles from pgbench's per-transaction log.

Everything shares the machine's cores: the API, PostgreSQL and the load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import psutil
import psycopg
import uvicorn
from fastapi import FastAPI
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from rich.console import Console
from rich.table import Table

from bench.support import percentile, private_database
from gardenos.api.app import create_app
from gardenos.api.server import server_config
from gardenos.auth.revocation import RevocationCache
from gardenos.auth.tokens import TokenService
from gardenos.db.pool import SCOPE, Database, scope
from gardenos.db.target import DatabaseTarget
from gardenos.demo.agency import ensure_agency
from gardenos.demo.generator import load_demo_data
from gardenos.embedded.postgres import free_port, wheel_bin_dir
from gardenos.rest import schema
from gardenos.rest.ast import ReadRequest
from gardenos.rest.build import build_read
from gardenos.rest.execute import planned_rows
from gardenos.rest.grammar import parse_read
from gardenos.rest.routes import capped
from gardenos.rest.write import build_insert
from gardenos.settings import Settings

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = (50, 200)
THREADS = 2
# pgbench -c 200 plus the API processes' pools (20 connections each) do not fit in the default 200.
MAX_CONNECTIONS = 300
SAMPLE_IDS = 10_000
SAMPLE_TERMS = 1_000
WARMUP_S = 2
DRAIN_S = 2
# What `_count` in rest/routes.py does for `count=estimated`: below this planned count, count exactly.
ESTIMATE_THRESHOLD = 1_000_000
P95_TARGET_MS = 25.0
THROUGHPUT_TARGET = 0.40
ID_SENTINEL = "00000000-0000-0000-0000-000000000000"
TERM_SENTINEL = "benchsentinelterm"
INSERT_BODY = {
    "first_name": "Bench",
    "last_name": "Wrkload",
    "company": "Loadtest Ltd",
    "email": "bench@loadtest.example",
    "source": "website",
    "status": "new",
}
PLACEHOLDER = re.compile(r"%\((p\d+)\)s")
NEAR_CLIENT = "pgbench -c 20"


@dataclass(frozen=True)
class Workload:
    name: str
    read: bool
    method: str
    path: str  # with `{value}` where a random value goes
    values: str | None = None  # "ids" or "terms"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


WORKLOADS = (
    Workload("get by id", True, "GET", "/rest/v1/leads?id=eq.{value}", values="ids"),
    Workload("page of 50", True, "GET", "/rest/v1/leads?status=eq.qualified&order=created_at.desc&limit=50"),
    Workload(
        "search",
        True,
        "GET",
        "/rest/v1/leads?select=id,first_name,last_name,company&search_vector=wfts.{value}&limit=20",
        values="terms",
    ),
    Workload(
        "count=estimated",
        True,
        "GET",
        "/rest/v1/leads?select=id,first_name&limit=50",
        headers={"Prefer": "count=estimated"},
    ),
    Workload(
        "insert",
        False,
        "POST",
        "/rest/v1/leads",
        headers={"Prefer": "return=minimal", "Content-Type": "application/json"},
        body=json.dumps(INSERT_BODY),
    ),
)


@dataclass
class Result:
    rate: float  # requests or transactions per second
    p50: float  # ms
    p95: float
    p99: float
    requests: int
    errors: int = 0
    problems: list[str] = field(default_factory=list)
    others: float = 0.0  # share of the machine's CPU that processes outside this benchmark used meanwhile


@dataclass
class Scale:
    leads: list[int]
    clients: list[int]
    activities: int = 0
    load_s: float = 0.0
    vacuum_s: float = 0.0
    largest_s: float = 0.0


def app_factory() -> FastAPI:
    """For `uvicorn --factory --workers N`: the API over `GARDENOS_DATABASE_URL` and the secrets in the
    environment (the bench sets both to its private database's)."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return create_app(DatabaseTarget(settings))


def run(*, leads: int, clients: int, agencies: int, duration: int, keep: Path | None = None) -> None:
    """With `keep`, the loaded database stays in that folder and a later run of the same size reuses it."""
    # The tables are wide: when printing to a file or a pipe, do not fold them into 80 columns.
    console = Console() if Console().is_terminal else Console(width=150)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is missing: `make bench` installs it (or `apt-get install wrk`)")
    work = Path(tempfile.mkdtemp(prefix="gardenos-bench-api-"))
    try:
        with private_database(
            keep,
            mailer_autoconfirm=True,
            rate_limit_token_per_ip=10**6,
            rate_limit_token_per_email=10**6,
            jwt_expiry_s=7 * 86400,
            ai_workers=False,  # the API alone: no agents (nor their embedding sweep) beside it
        ) as target:
            _run(console, target, work, leads=leads, clients=clients, agencies=agencies, duration=duration)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    console: Console,
    target: DatabaseTarget,
    work: Path,
    *,
    leads: int,
    clients: int,
    agencies: int,
    duration: int,
) -> None:
    password, scale, big_agency, big_email, sample = _prepare(
        console, target, work, leads=leads, clients=clients, agencies=agencies
    )
    tokens = TokenService(target.settings, target.secrets.jwt_secret)
    anon = tokens.api_key("anon")
    with _in_process_api(target) as base1, subprocess_api(target, work) as (base2, stderr2, _):
        errors = _ErrorLog()  # after uvicorn's logging setup, which replaces its loggers' handlers
        access = _sign_in(base1, anon, big_email, password)
        claims = dict(tokens.verify(access).raw)
        assert claims["app_metadata"]["agency_id"] == str(big_agency)
        scripts = _pgbench_scripts(target, work, claims, sample)
        lua = {w.name: _lua(work, w, anon, access, sample) for w in WORKLOADS}
        console.print(
            f"[dim]warming up: {WARMUP_S} s of each request against each API shape, then the runs "
            f"({duration} s each)[/]"
        )
        for base in (base1, base2):
            for w in WORKLOADS:
                _check(base, w, anon, access, sample)
                _wrk(base, lua[w.name], 50, WARMUP_S)
        apis = (("1 worker", base1, errors.in_process), ("2 workers", base2, errors.reader(stderr2)))
        time.sleep(DRAIN_S)
        for _, _, collect in apis:
            collect()  # what the warm-up left behind (its last POSTs, cut off when wrk stops)
        results: dict[tuple[int, str, str], Result] = {}
        for clients_n in CONCURRENCY:
            for w in WORKLOADS:
                for label, base, collect in apis:
                    with console.status(f"{w.name}: API, {label}, {clients_n} clients…"):
                        result = _wrk(base, lua[w.name], clients_n, duration)
                        time.sleep(DRAIN_S)  # requests still in flight when wrk stopped log their end
                    result.problems += collect()
                    results[clients_n, w.name, label] = result
                with console.status(f"{w.name}: pgbench, {clients_n} clients…"):
                    results[clients_n, w.name, "pgbench"] = _pgbench(
                        target, work, scripts[w.name], clients_n, duration, "prepared"
                    )
                if w.name == "get by id":
                    with console.status(f"{w.name}: pgbench -M extended, {clients_n} clients…"):
                        results[clients_n, w.name, "pgbench extended"] = _pgbench(
                            target, work, scripts[w.name], clients_n, duration, "extended"
                        )
        with console.status("get by id: pgbench with the API's pool size…"):
            results[0, "get by id", NEAR_CLIENT] = _pgbench(
                target, work, scripts["get by id"], 20, duration, "prepared"
            )
    _report(console, scale, sample, results, [label for label, _, _ in apis], duration)
    _revocation(console, target, work, anon, big_email, password, sample, duration)


def run_revocation(
    *, leads: int, clients: int, agencies: int, duration: int, keep: Path | None = None
) -> None:
    """`--only revocation`: the get-by-id comparison alone, with and without the revocation check."""
    console = Console() if Console().is_terminal else Console(width=150)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench` installs it (or `apt-get install wrk`)")
    work = Path(tempfile.mkdtemp(prefix="gardenos-bench-revocation-"))
    try:
        with private_database(
            keep,
            mailer_autoconfirm=True,
            rate_limit_token_per_ip=10**6,
            rate_limit_token_per_email=10**6,
            jwt_expiry_s=7 * 86400,
            ai_workers=False,
        ) as target:
            password, _, _, big_email, sample = _prepare(
                console, target, work, leads=leads, clients=clients, agencies=agencies
            )
            anon = TokenService(target.settings, target.secrets.jwt_secret).api_key("anon")
            _revocation(console, target, work, anon, big_email, password, sample, duration)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _prepare(
    console: Console, target: DatabaseTarget, work: Path, *, leads: int, clients: int, agencies: int
) -> tuple[str, Scale, uuid.UUID, str, Sample]:
    """The database loaded (or reused), with room for pgbench beside the APIs: the owners' password,
    the scale, the largest agency and its owner's email, and the sample of ids and terms."""
    assert target.embedded is not None
    with psycopg.connect(target.owner_url, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
    target.embedded.stop()
    target.embedded.start()

    sizes = {"leads": leads, "clients": clients, "agencies": agencies}
    marker = target.settings.data_path / "bench-loaded.json"
    loaded = json.loads(marker.read_text()) if marker.exists() else None
    if loaded is not None and loaded["sizes"] == sizes:
        password, scale = loaded["password"], Scale(**loaded["scale"])
        console.print(f"[dim]reusing the database loaded in {target.settings.data_path}[/]")
    else:
        password = secrets.token_urlsafe(12)
        scale = _load(console, target, password, **sizes)
        marker.write_text(json.dumps({"sizes": sizes, "password": password, "scale": scale.__dict__}))
    big_agency, big_email = _largest_agency(target)
    return password, scale, big_agency, big_email, _sample(target, big_agency, work)


# -- the revocation check's cost ---------------------------------------------------------------------

# Alternating runs (with, without, without, with, …): drift on a shared machine hits both sides alike.
REVOCATION_ROUNDS = 6
# Checks timed in a row on a cache hit, for the check's own cost (independent of the machine's load).
REVOCATION_HITS = 200_000
REVOCATION_MISSES = 50
REVOCATION_CLIENTS = 50
REVOCATION_TARGET = 0.03


def _revocation(
    console: Console,
    target: DatabaseTarget,
    work: Path,
    anon: str,
    email: str,
    password: str,
    sample: Sample,
    duration: int,
) -> None:
    """get by id on /rest/v1 through the in-process API with the revocation check (the default: session,
    ban and membership looked up once per session per `revocation_cache_ttl_s`, evicted by NOTIFY) and
    through one built with `create_app(..., revocation_check=False)`, which only this benchmark builds.

    One token for both, from a real sign-in: its session stands, so every request passes the check, and
    all but one per time-to-live are answered from the cache."""
    ttl = target.settings.revocation_cache_ttl_s
    runs: dict[str, list[Result]] = {"check": [], "no check": []}
    with _in_process_api(target) as checked, _in_process_api(target, revocation_check=False) as unchecked:
        bases = {"check": checked, "no check": unchecked}
        access = _sign_in(checked, anon, email, password)
        get_by_id = WORKLOADS[0]
        assert get_by_id.name == "get by id"
        script = _lua(work, get_by_id, anon, access, sample)
        for base in bases.values():
            _check(base, get_by_id, anon, access, sample)
            _wrk(base, script, REVOCATION_CLIENTS, WARMUP_S)
        time.sleep(DRAIN_S)
        for i in range(REVOCATION_ROUNDS):
            order = ("check", "no check") if i % 2 == 0 else ("no check", "check")
            for label in order:
                with console.status(f"get by id, {label}, round {i + 1}/{REVOCATION_ROUNDS}…"):
                    runs[label].append(_wrk(bases[label], script, REVOCATION_CLIENTS, duration))
                time.sleep(DRAIN_S)
    table = Table(
        title=f"revocation check: get by id on /rest/v1, API 1 worker, {REVOCATION_CLIENTS} clients, "
        f"{REVOCATION_ROUNDS} alternating runs of {duration} s each"
    )
    for column in ("API", "req/s", "p50", "p95", "p99", "errors", "others"):
        table.add_column(column, justify="left" if column == "API" else "right")
    summary: dict[str, Result] = {}
    for label, results in runs.items():
        summary[label] = mean = Result(
            rate=sum(r.rate for r in results) / len(results),
            p50=sum(r.p50 for r in results) / len(results),
            p95=sum(r.p95 for r in results) / len(results),
            p99=sum(r.p99 for r in results) / len(results),
            requests=sum(r.requests for r in results),
            errors=sum(r.errors for r in results),
            others=sum(r.others for r in results) / len(results),
        )
        for r in results:
            table.add_row(
                f"[dim]{label}[/]",
                f"[dim]{r.rate:,.0f}[/]",
                f"[dim]{r.p50:.2f}[/]",
                f"[dim]{r.p95:.2f}[/]",
                f"[dim]{r.p99:.2f}[/]",
                f"[dim]{r.errors}[/]",
                f"[dim]{r.others:.0%}[/]",
            )
        table.add_row(
            f"{label} (mean)",
            f"{mean.rate:,.0f}",
            f"{mean.p50:.2f}",
            f"{mean.p95:.2f}",
            f"{mean.p99:.2f}",
            str(mean.errors),
            f"{mean.others:.0%}",
        )
    console.print(table)
    with_check, without = summary["check"], summary["no check"]
    cost = 1 - with_check.rate / without.rate if without.rate else 0.0
    hit_us, miss_ms = asyncio.run(
        _time_check(target, TokenService(target.settings, target.secrets.jwt_secret), access)
    )
    # The in-process API serves one request at a time on its event loop: a request costs 1/rate of it.
    share = hit_us * 1e-6 * without.rate
    console.print(
        f"revocation check: {with_check.rate:,.0f} req/s with it, {without.rate:,.0f} without "
        f"(ratio {with_check.rate / without.rate if without.rate else 0:.3f}, cost {cost:.1%}); "
        f"p50 {with_check.p50:.2f} vs {without.p50:.2f} ms, "
        f"p95 {with_check.p95:.2f} vs {without.p95:.2f} ms. "
        f"Cache time-to-live {ttl:g} s: one lookup query per session per {ttl:g} s, the rest dict hits. "
        f"Target: cost under {REVOCATION_TARGET:.0%}: "
        + ("[green]met[/]" if cost < REVOCATION_TARGET else "[red]not met[/]")
        + " (the runs share the machine's cores with whatever else runs: see `others`)"
    )
    console.print(
        f"the check alone, timed in this process: {hit_us:.2f} µs on a cache hit, {miss_ms:.2f} ms on a miss "
        f"(one query); at {without.rate:,.0f} req/s a hit per request is {share:.2%} of the API's time, "
        "a figure the machine's other load does not blur as it blurs the req/s above"
    )


async def _time_check(target: DatabaseTarget, tokens: TokenService, access: str) -> tuple[float, float]:
    """The revocation check's own cost: µs per check on a cache hit, ms (median) for a miss."""
    database = Database(target.api_url, min_size=1, max_size=2)
    await database.open()
    try:
        cache = RevocationCache(database, ttl_s=3600)
        cache.listening.set()  # no LISTEN here: nothing evicts during the timing
        claims = tokens.verify(access)
        await cache.check(claims)  # the pool's first connection
        misses = []
        for _ in range(REVOCATION_MISSES):
            await cache.on_reconnect()  # forgets every answer, as after a lost LISTEN connection
            started = time.perf_counter()
            await cache.check(claims)
            misses.append((time.perf_counter() - started) * 1e3)
        miss_ms = percentile(misses, 50)
        started = time.perf_counter()
        for _ in range(REVOCATION_HITS):
            await cache.check(claims)
        hit_us = (time.perf_counter() - started) / REVOCATION_HITS * 1e6
    finally:
        await database.close()
    return hit_us, miss_ms


# -- data -------------------------------------------------------------------------------------------


def split(total: int, parts: int) -> list[int]:
    """The largest part is half of `total` (all of it for one part); the rest are even."""
    if parts <= 1:
        return [total]
    largest = total - total // 2
    base, extra = divmod(total - largest, parts - 1)
    return [largest] + [base + (1 if i < extra else 0) for i in range(parts - 1)]


def _load(console: Console, target: DatabaseTarget, password: str, **sizes: int) -> Scale:
    lead_split = split(sizes["leads"], sizes["agencies"])
    client_split = [
        round(sizes["clients"] * n / max(sizes["leads"], 1)) for n in lead_split
    ]  # the same ratio in every agency
    scale = Scale(lead_split, client_split)
    with psycopg.connect(target.owner_url) as conn:
        with console.status("creating agencies and their owners…"), conn.transaction():
            owners = [
                ensure_agency(
                    conn,
                    name=f"Bench {i}",
                    slug=f"bench-{i}",
                    owner_email=f"owner@bench-{i}.example",
                    password=password,
                )
                for i in range(len(lead_split))
            ]
        started = time.perf_counter()
        for i, (agency, n_leads, n_clients) in enumerate(zip(owners, lead_split, client_split, strict=True)):
            label = f"demo-data: agency {i + 1}/{len(owners)}, {n_leads:,} leads, {n_clients:,} clients…"
            with console.status(label), conn.transaction():
                counts = load_demo_data(
                    conn,
                    agency_id=agency.id,
                    leads=n_leads,
                    clients=n_clients,
                    owner_ids=[agency.owner_id],
                    seed=i + 1,
                )
            scale.activities += counts.activities
            elapsed = time.perf_counter() - started
            if i == 0:
                scale.largest_s = elapsed
            if len(owners) > 10 and (i + 1) % (len(owners) // 10) == 0:  # a long load shows its pace
                console.print(f"[dim]loaded {i + 1}/{len(owners)} agencies in {elapsed:,.0f} s[/]")
        scale.load_s = time.perf_counter() - started
    with console.status("VACUUM ANALYZE…"), psycopg.connect(target.owner_url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        scale.vacuum_s = time.perf_counter() - started
    return scale


def _largest_agency(target: DatabaseTarget) -> tuple[uuid.UUID, str]:
    """The largest agency (bench-0) and its owner's email."""
    with psycopg.connect(target.owner_url) as conn:
        row = conn.execute("SELECT id FROM public.agencies WHERE slug = 'bench-0'").fetchone()
    assert row is not None
    return row[0], "owner@bench-0.example"


@dataclass
class Sample:
    ids: int
    terms: int
    agency_leads: int
    total_leads: int
    table_mb: float
    indexes_mb: float
    planned_count: int = 0  # what the API takes for the planned count
    scan_estimate: int = 0  # the planner's row estimate of the scan itself
    search_config: str = ""
    terms_empty: int = 0
    terms_full: int = 0
    files: dict[str, Path] = field(default_factory=dict)


# Outside `public`, so that /rest/v1 does not see them; readable by pgbench's roles.
SAMPLE_SQL = (
    "DROP SCHEMA IF EXISTS bench CASCADE",  # a kept database (--keep-db) has the last run's
    "CREATE SCHEMA bench",
    "CREATE TABLE bench.ids (n int PRIMARY KEY, id uuid NOT NULL)",
    """INSERT INTO bench.ids SELECT row_number() OVER (), id
    FROM (SELECT id FROM public.leads WHERE agency_id = %(agency)s ORDER BY random() LIMIT %(ids)s) AS s""",
    "CREATE TABLE bench.terms (n int PRIMARY KEY, term text NOT NULL)",
    """INSERT INTO bench.terms SELECT row_number() OVER (), last_name
    FROM (SELECT l.last_name FROM bench.ids i JOIN public.leads l ON l.id = i.id
          WHERE l.last_name IS NOT NULL ORDER BY i.n LIMIT %(terms)s) AS s""",
    "GRANT USAGE ON SCHEMA bench TO PUBLIC",
    "GRANT SELECT ON ALL TABLES IN SCHEMA bench TO PUBLIC",
    "ANALYZE bench.ids, bench.terms",
)
TERM_HITS = """
SELECT count(*) FILTER (WHERE hits = 0), count(*) FILTER (WHERE hits = 20)
FROM bench.terms t CROSS JOIN LATERAL (
    SELECT count(*) AS hits FROM (
        SELECT 1 FROM public.leads l
        WHERE l.agency_id = %s AND l.search_vector @@ websearch_to_tsquery(t.term) LIMIT 20) AS s) AS h
WHERE t.n <= %s
"""
TERMS_CHECKED = 100


def _sample(target: DatabaseTarget, agency: uuid.UUID, work: Path) -> Sample:
    """Random ids and surnames (of random leads: common names come up as often as they are common) of
    the largest agency, in tables for pgbench and in files for wrk, in the same order."""
    with psycopg.connect(target.owner_url, autocommit=True) as conn:
        with conn.transaction():
            for statement in SAMPLE_SQL:
                conn.execute(statement, {"agency": agency, "ids": SAMPLE_IDS, "terms": SAMPLE_TERMS})
        ids = [str(r[0]) for r in conn.execute("SELECT id FROM bench.ids ORDER BY n")]
        terms = [r[0] for r in conn.execute("SELECT term FROM bench.terms ORDER BY n")]
        agency_leads, total, table_b, indexes_b = conn.execute(
            "SELECT (SELECT count(*) FROM public.leads WHERE agency_id = %s), (SELECT count(*) FROM "
            "public.leads), pg_table_size('public.leads'), pg_indexes_size('public.leads')",
            (agency,),
        ).fetchone() or (0, 0, 0, 0)
        config = conn.execute("SHOW default_text_search_config").fetchone()
        try:
            with conn.transaction():
                conn.execute("SET LOCAL statement_timeout = '120s'")
                empty, full = conn.execute(TERM_HITS, (agency, TERMS_CHECKED)).fetchone() or (0, 0)
        except psycopg.errors.QueryCanceled:
            empty = full = -1
    sample = Sample(
        ids=len(ids),
        terms=len(terms),
        agency_leads=agency_leads,
        total_leads=total,
        table_mb=table_b / 1e6,
        indexes_mb=indexes_b / 1e6,
        search_config=config[0] if config else "",
        terms_empty=empty,
        terms_full=full,
    )
    sample.files["ids"] = work / "ids.txt"
    sample.files["ids"].write_text("\n".join(ids) + "\n")
    sample.files["terms"] = work / "terms.txt"
    sample.files["terms"].write_text("\n".join(quote(t, safe="") for t in terms) + "\n")
    return sample


# -- the API ----------------------------------------------------------------------------------------


@contextmanager
def _in_process_api(target: DatabaseTarget, *, revocation_check: bool = True) -> Iterator[str]:
    port = free_port()
    app = create_app(target, revocation_check=revocation_check)
    server = uvicorn.Server(
        server_config(app, target.settings, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the in-process API did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


@contextmanager
def subprocess_api(
    target: DatabaseTarget, work: Path, *, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """`uvicorn --workers N` over the target: (base URL, its log, the process: uvicorn's supervisor, or
    the one worker when N is 1). `env` adds settings (`GARDENOS_…`) to the ones read from the target."""
    port = free_port()
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARDENOS_")}
    env |= {
        "GARDENOS_DATABASE_URL": target.owner_url,
        "GARDENOS_DATA_DIR": str(target.settings.data_path),
        "GARDENOS_JWT_SECRET": target.secrets.jwt_secret,
        "GARDENOS_AUTHENTICATOR_PASSWORD": target.secrets.authenticator_password,
        "GARDENOS_JWT_EXPIRY_S": str(target.settings.jwt_expiry_s),
        "GARDENOS_AI_WORKERS": "false",
    } | extra
    log = work / f"uvicorn-workers-{workers}.log"
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.api:app_factory",
        "--factory",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        # As `api.server.server_config` with no trusted proxies.
        "--no-proxy-headers",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn --workers {workers} exited at start:\n{log.read_text()[-2000:]}")
            # Refused until the workers listen: keep polling.
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"uvicorn --workers {workers} did not get ready:\n{log.read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield base, log, process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _sign_in(base: str, anon: str, email: str, password: str) -> str:
    response = httpx.post(
        f"{base}/auth/v1/token",
        params={"grant_type": "password"},
        headers={"apikey": anon},
        json={"email": email, "password": password},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _check(base: str, w: Workload, anon: str, access: str, sample: Sample) -> None:
    """One request as wrk will send it, which must succeed before it is measured."""
    value = sample.files[w.values].read_text().split("\n", 1)[0] if w.values else ""
    response = httpx.request(
        w.method,
        base + w.path.replace("{value}", value),
        headers={"apikey": anon, "Authorization": f"Bearer {access}", **w.headers},
        content=w.body,
        timeout=60,
    )
    if response.status_code >= 300:
        raise RuntimeError(f"{w.name}: {w.method} {w.path} answered {response.status_code}: {response.text}")


class _ErrorLog(logging.Handler):
    """What the API logged while a run went on: its 5xx answers and unhandled errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        for name in ("gardenos", "uvicorn.error"):
            logger = logging.getLogger(name)
            logger.addHandler(self)
            logger.propagate = False  # counted and summed up at the end, not printed as they come

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message += f": {type(exc).__module__}.{type(exc).__name__} {exc}"
        self.counts[_short(message)] += 1

    def in_process(self) -> list[str]:
        found = [f"{n}× {message}" for message, n in self.counts.most_common(5)]
        self.counts.clear()
        return found

    def reader(self, path: Path) -> Callable[[], list[str]]:
        offset = [0]

        def collect() -> list[str]:
            with path.open("rb") as f:
                f.seek(offset[0])
                text = f.read().decode(errors="replace")
                offset[0] = f.tell()
            # A traceback counts by its first and last lines: the log message and the exception.
            lines = Counter(
                _short(line)
                for line in text.splitlines()
                if line.strip() and not line[0].isspace() and not line.startswith(TRACEBACK_NOISE)
            )
            return [f"{n}× {line}" for line, n in lines.most_common(5)]

        return collect


TRACEBACK_NOISE = ("Traceback (most recent call last)", "During handling of", "The above exception", "+")


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


class _CpuMeter:
    """The share of the machine's CPU that went to processes other than this benchmark's (this process,
    its children: PostgreSQL and its backends, the uvicorn workers, wrk, pgbench) from now to `others()`.

    Other programs on the machine (a test suite, another server) take cores from the API and PostgreSQL,
    so their share is reported beside the figures."""

    def __init__(self) -> None:
        self.started = self._snapshot()

    @staticmethod
    def _snapshot() -> tuple[float, float, float]:
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system
        ours = 0.0
        me = psutil.Process()
        for process in [me, *me.children(recursive=True)]:
            try:
                t = process.cpu_times()
            except psutil.Error:
                continue
            # The children_* fields hold children that ended and were waited for (wrk, pgbench, backends).
            ours += t.user + t.system + t.children_user + t.children_system
        return time.monotonic(), busy, ours

    def others(self) -> float:
        (t0, busy0, ours0), (t1, busy1, ours1) = self.started, self._snapshot()
        return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / ((t1 - t0) * (os.cpu_count() or 1))


# -- wrk --------------------------------------------------------------------------------------------

LUA = """-- generated by bench/api.py
local values = {}
local counter = 0
local req = nil
local prefix, suffix = %(prefix)s, %(suffix)s
wrk.method = %(method)s
wrk.headers["apikey"] = %(apikey)s
wrk.headers["Authorization"] = %(authorization)s
%(headers)s
%(body)s

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + (thread_no or 0))
  local file = %(values)s
  if file then
    for line in io.lines(file) do values[#values + 1] = line end
  else
    req = wrk.format(nil, prefix)
  end
end

function request()
  if req then return req end
  return wrk.format(nil, prefix .. values[math.random(#values)] .. suffix)
end

function done(summary, latency, requests)
  local e = summary.errors
  -- requests, duration (µs), p50, p95, p99 (µs), then the error counts
  io.write(string.format("WRK_RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _lua_string(text: str) -> str:
    assert "]==]" not in text
    assert "\n" not in text
    return f"[==[{text}]==]"


def _lua(work: Path, w: Workload, anon: str, access: str, sample: Sample) -> Path:
    prefix, _, suffix = w.path.partition("{value}")
    headers = "\n".join(f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in w.headers.items())
    script = LUA % {
        "prefix": _lua_string(prefix),
        "suffix": _lua_string(suffix),
        "method": _lua_string(w.method),
        "apikey": _lua_string(anon),
        "authorization": _lua_string(f"Bearer {access}"),
        "headers": headers,
        "body": f"wrk.body = {_lua_string(w.body)}" if w.body else "",
        "values": _lua_string(str(sample.files[w.values])) if w.values else "nil",
    }
    path = work / f"{w.name.replace(' ', '-').replace('=', '-')}.lua"
    path.write_text(script)
    return path


def _wrk(base: str, script: Path, connections: int, duration: int) -> Result:
    argv = ["wrk", "-t", str(THREADS), "-c", str(connections), "-d", f"{duration}s", "--timeout", "30s"]
    meter = _CpuMeter()
    done = subprocess.run(
        [*argv, "-s", str(script), base], capture_output=True, text=True, timeout=duration + 120, check=False
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    names = ["requests", "duration_us", "p50", "p95", "p99", "connect", "read", "write", "status", "timeout"]
    raw = dict(zip(names, (int(float(v)) for v in line.split()[1:]), strict=True))
    problems = [
        f"wrk: {raw[kind]} {kind} errors" for kind in ("connect", "read", "write", "timeout") if raw[kind]
    ]
    if raw["status"]:
        problems.insert(0, f"wrk: {raw['status']} answers not 2xx/3xx")
    errors = raw["status"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return Result(
        # Answers that are not 2xx (a 503 after the pool's 5 s timeout) do not count as throughput.
        rate=(raw["requests"] - raw["status"]) / (raw["duration_us"] / 1e6),
        p50=raw["p50"] / 1000,
        p95=raw["p95"] / 1000,
        p99=raw["p99"] / 1000,
        requests=raw["requests"],
        errors=errors,
        problems=problems,
        others=meter.others(),
    )


# -- pgbench ----------------------------------------------------------------------------------------


def _pgbench_scripts(
    target: DatabaseTarget, work: Path, claims: dict[str, Any], sample: Sample
) -> dict[str, tuple[Path, dict[str, str]]]:
    """Per workload: a pgbench script doing what the API does for the request, and its variables."""
    claims_json = json.dumps(claims)  # as Database.transaction does
    cache = asyncio.run(_schema_cache(target.owner_url))
    scope_sql = (
        "SELECT set_config('role', :role, true), set_config('request.jwt.claims', :claims, true), "
        "set_config('statement_timeout', :statement_timeout, true)"
    )
    assert SCOPE.replace("%s", "{}").format(":role", ":claims", ":statement_timeout") == scope_sql
    role = str(claims["role"])
    timeout = scope(role, claims, getattr(target.settings, f"statement_timeout_{role}_s"))[2]
    scripts: dict[str, tuple[Path, dict[str, str]]] = {}
    with psycopg.connect(target.api_url) as conn:
        for w in WORKLOADS:
            variables = {"role": role, "claims": claims_json, "statement_timeout": timeout}
            pre: list[str] = []
            statements: list[str] = []
            if w.read:
                sentinel = {"ids": ID_SENTINEL, "terms": TERM_SENTINEL}.get(w.values or "", "")
                query = w.path.partition("?")[2].replace("{value}", sentinel)
                built = build_read(
                    cache,
                    "leads",
                    capped(
                        parse_read(parse_qsl(query, keep_blank_values=True)), target.settings.rest_max_rows
                    ),
                    str(claims["app_metadata"]["agency_id"]),  # as the API does for a member
                )
                text, params = _render(conn, built.body, built.params, variables)
                for name, value in params.items():
                    if value == ID_SENTINEL:
                        # One primary-key lookup in a small table more than the API's statement.
                        pre.append(f"\\set n random(1, {sample.ids})")
                        text = text.replace(f":{name}", "(SELECT id FROM bench.ids WHERE n = :n)")
                    elif value == TERM_SENTINEL:
                        # One round trip more than the API, before the transaction: a string cannot come
                        # from pgbench's \\set, and a subquery in place of the value would change the plan.
                        pre.append(f"\\set n random(1, {sample.terms})")
                        pre.append(f"SELECT term AS {name} FROM bench.terms WHERE n = :n \\gset")
                    else:
                        variables[name] = value
                statements.append(text)
                if "count=estimated" in w.headers.get("Prefer", ""):
                    count, count_params = built.count()
                    text, params = _render(conn, count, count_params, variables)
                    variables.update(params)
                    statements.append("SET LOCAL max_parallel_workers_per_gather = 0")  # as the API
                    statements.append(f"EXPLAIN (FORMAT JSON) {text}")
                    statements.append("RESET max_parallel_workers_per_gather")
                    sample.planned_count, sample.scan_estimate = _planned(
                        conn, claims_json, count, count_params
                    )
                    if sample.planned_count < ESTIMATE_THRESHOLD:
                        statements.append(text)
            else:
                assert w.body is not None
                rows = [json.loads(w.body)]
                built_write = build_insert(
                    cache,
                    "leads",
                    rows,
                    columns=(),
                    select=ReadRequest().select,
                    on_conflict=(),
                    resolution=None,
                    body_json=json.dumps(rows),
                )
                text, params = _render(conn, built_write.statement, built_write.params, variables)
                variables.update(params)
                statements.append(text)
            body = "\n".join([*pre, "BEGIN;", f"{scope_sql};", *(f"{s};" for s in statements), "COMMIT;", ""])
            path = work / f"{w.name.replace(' ', '-').replace('=', '-')}.sql"
            path.write_text(body)
            scripts[w.name] = (path, variables)
    return scripts


async def _schema_cache(url: str) -> schema.SchemaCache:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await schema.load(conn)


def _render(
    conn: psycopg.Connection, statement: sql.Composable, params: dict[str, Any], taken: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The statement with `%(pN)s` as pgbench's `:pN`, and the values (as text) for `-D pN=…`."""
    text = statement.as_string(conn)
    assert "%" not in PLACEHOLDER.sub("", text), text
    # A name already taken must stand for the same value (the count reuses the page's agency parameter).
    assert all(taken[name] == value for name, value in params.items() if name in taken)
    for value in params.values():
        assert isinstance(value, str), f"a parameter pgbench cannot pass as text: {value!r}"
    return PLACEHOLDER.sub(r":\1", text), dict(params)


def _planned(
    conn: psycopg.Connection, claims: str, count: sql.Composed, params: dict[str, Any]
) -> tuple[int, int]:
    """For the API's `count=estimated` under the caller's RLS: the planned count as `_count` in
    rest/routes.py reads it, twice (the report compares two readings of the plan)."""
    with conn.transaction(force_rollback=True):
        conn.execute(SCOPE, scope("authenticated", json.loads(claims), 0))
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(count), params).fetchone()
    assert row is not None
    planned = planned_rows(row[0][0]["Plan"])
    return planned, planned


def _pgbench(
    target: DatabaseTarget,
    work: Path,
    script: tuple[Path, dict[str, str]],
    clients: int,
    duration: int,
    mode: str,
) -> Result:
    path, variables = script
    info = conninfo_to_dict(target.api_url)
    env = os.environ | {
        "PGHOST": str(info["host"]),
        "PGPORT": str(info["port"]),
        "PGDATABASE": str(info["dbname"]),
        "PGUSER": str(info["user"]),
        "PGPASSWORD": str(info["password"]),
        "PGAPPNAME": "bench-pgbench",
    }
    logs = Path(tempfile.mkdtemp(prefix="pgbench-", dir=work))
    argv = [str(wheel_bin_dir() / "pgbench"), "-n", "-M", mode, "-c", str(clients), "-j", str(THREADS)]
    argv += ["-T", str(duration), "-f", str(path), "-l", f"--log-prefix={logs / 'tx'}"]
    argv += [f"-D{name}={value}" for name, value in variables.items()]
    meter = _CpuMeter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 120, check=False)
    others = meter.others()
    latencies: list[float] = []
    failed = 0
    for log in logs.iterdir():
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
            else:
                failed += 1
    shutil.rmtree(logs, ignore_errors=True)
    tps = re.search(r"^tps = ([\d.]+)", done.stdout, re.MULTILINE)
    problems = []
    if done.returncode != 0 or tps is None:
        problems.append(f"pgbench exited {done.returncode}: {_short(done.stderr[-600:])}")
    elif not latencies:
        problems.append(f"pgbench: no transaction finished within {duration} s")
    if failed:
        problems.append(f"pgbench: {failed} failed transactions")
    return Result(
        rate=float(tps[1]) if tps else 0.0,
        p50=percentile(latencies, 50) if latencies else 0.0,
        p95=percentile(latencies, 95) if latencies else 0.0,
        p99=percentile(latencies, 99) if latencies else 0.0,
        requests=len(latencies),
        errors=failed + (1 if done.returncode else 0),
        problems=problems,
        others=others,
    )


# -- report -----------------------------------------------------------------------------------------


def _report(
    console: Console,
    scale: Scale,
    sample: Sample,
    results: dict[tuple[int, str, str], Result],
    apis: list[str],
    duration: int,
) -> None:
    agencies = len(scale.leads)
    console.print(
        f"data: {sum(scale.leads):,} leads, {sum(scale.clients):,} clients, {scale.activities:,} activities "
        f"over {agencies} agencies; the largest (the one queried) has {sample.agency_leads:,} leads; "
        f"leads table {sample.table_mb:,.0f} MB + indexes {sample.indexes_mb:,.0f} MB"
    )
    per_other = f", then {(scale.load_s - scale.largest_s) / max(agencies - 1, 1):.1f} s per other agency"
    console.print(
        f"load: {scale.load_s:.1f} s with load_demo_data ({scale.largest_s:.1f} s for the largest agency"
        f"{per_other if agencies > 1 else ''}); VACUUM ANALYZE {scale.vacuum_s:.1f} s"
    )
    console.print(
        f"machine: {os.cpu_count()} cores shared by the API, PostgreSQL and wrk/pgbench; wrk -t {THREADS}, "
        f"pgbench -j {THREADS}; {duration} s per run; max_connections raised to {MAX_CONNECTIONS} for "
        "pgbench -c 200 next to the API's pools"
    )
    for clients in CONCURRENCY:
        table = Table(
            title=f"/rest/v1 at {clients} concurrent clients (API: wrk; ceiling: pgbench -M prepared)"
        )
        for column in ("query", "API", "req/s", "p50", "p95", "p99", "errors", "others"):
            table.add_column(column, justify="left" if column in ("query", "API") else "right")
        for column in ("pgbench tps", "p50", "p95", "p99", "API/pgbench"):
            table.add_column(column, justify="right")
        for w in WORKLOADS:
            ceiling = results[clients, w.name, "pgbench"]
            for i, label in enumerate(apis):
                api = results[clients, w.name, label]
                table.add_row(
                    w.name if i == 0 else "",
                    label,
                    f"{api.rate:,.0f}",
                    f"{api.p50:.1f}",
                    f"{api.p95:.1f}",
                    f"{api.p99:.1f}",
                    f"{api.errors:,}" if api.errors else "0",
                    f"{api.others:.0%}",
                    *(_ceiling_cells(ceiling) if i == 0 else ("", "", "", "")),
                    f"{api.rate / ceiling.rate:.0%}" if ceiling.rate else "–",
                )
            if w.name == "get by id":
                extended = results[clients, w.name, "pgbench extended"]
                table.add_row(
                    "", "[dim]ceiling with -M extended[/]", *[""] * 6, *_ceiling_cells(extended), ""
                )
        console.print(table)
    near = results[0, "get by id", NEAR_CLIENT]
    console.print(
        f"get by id through pgbench -c 20 (the API's pool size), -M prepared: {near.rate:,.0f} tps, "
        f"p50 {near.p50:.1f} ms, p95 {near.p95:.1f} ms, p99 {near.p99:.1f} ms"
    )
    measured = list(results.items())
    busiest_key, busiest = max(measured, key=lambda item: item[1].others)
    mean = sum(r.others for _, r in measured) / len(measured)
    console.print(
        f"other programs on the machine used {mean:.0%} of its CPU on average during the runs, at most "
        f"{busiest.others:.0%} ({busiest_key[1]}, {busiest_key[2]}"
        + (f", {busiest_key[0]} clients)" if busiest_key[0] else ")")
        + (
            ": figures taken beside other load are lower than this machine can do"
            if busiest.others > 0.05
            else ""
        )
    )
    console.print(
        "Latencies in ms (the API's include its error answers); req/s counts 2xx answers only. "
        "pgbench's transactions are BEGIN; the scope statement; the API's SQL; COMMIT. "
        "get by id: pgbench reads the random id by a subquery on bench.ids (one small primary-key lookup "
        "more than the API); search: pgbench fetches the random surname in one round trip before its "
        "transaction (\\gset). psycopg prepares a statement once it has run 5 times on a connection "
        "(prepare_threshold=5, unchanged by the pool), so the API runs prepared statements: -M prepared "
        "is the like-for-like ceiling; -M extended is shown for get by id."
    )
    exact = sample.planned_count < ESTIMATE_THRESHOLD
    misread = (
        f"reads {sample.planned_count:,} from the plan's first child, which under RLS is the policy's "
        f"InitPlan (auth.agency_id()), not the scan; "
        if sample.planned_count != sample.scan_estimate
        else ""
    )
    console.print(
        f"count=estimated: `_count` in rest/routes.py {misread}the scan's estimate is "
        f"{sample.scan_estimate:,} for the agency's {sample.agency_leads:,} leads. "
        + (
            f"Below {ESTIMATE_THRESHOLD:,}, so every such request also runs the exact count(*)"
            if exact
            else f"At or above {ESTIMATE_THRESHOLD:,}, so the estimate is answered"
        )
        + " (and so does pgbench)."
    )
    hits = (
        f"of the first {TERMS_CHECKED}, {sample.terms_empty} find no lead, {sample.terms_full} fill the page"
        if sample.terms_empty >= 0
        else f"counting the hits of the first {TERMS_CHECKED} took over 2 minutes"
    )
    console.print(
        f"search: {sample.terms:,} surnames of random leads; with default_text_search_config = "
        f"{sample.search_config} (the documents use 'simple'), {hits}."
    )

    console.print("[bold]targets[/]")
    for label in apis:
        worst = max(
            ((results[200, w.name, label].p95, w.name) for w in WORKLOADS if w.read), default=(0.0, "")
        )
        met = worst[0] < P95_TARGET_MS
        details = ", ".join(f"{w.name} {results[200, w.name, label].p95:.1f}" for w in WORKLOADS if w.read)
        console.print(
            f"  p95 < {P95_TARGET_MS:.0f} ms for reads at 200 clients, API {label}: "
            f"{'[green]met[/]' if met else '[red]not met[/]'} ({details} ms)"
        )
    for label in apis:
        for clients in CONCURRENCY:
            api, ceiling = results[clients, "get by id", label], results[clients, "get by id", "pgbench"]
            ratio = api.rate / ceiling.rate if ceiling.rate else 0.0
            console.print(
                f"  get by id ≥ {THROUGHPUT_TARGET:.0%} of pgbench, API {label}, {clients} clients: "
                f"{'[green]met[/]' if ratio >= THROUGHPUT_TARGET else '[red]not met[/]'} "
                f"({api.rate:,.0f} req/s = {ratio:.0%} of {ceiling.rate:,.0f} tps)"
            )
    problems = [(key, problem) for key, result in results.items() for problem in result.problems]
    if problems:
        console.print("[bold red]errors under load[/]")
        for (clients, name, label), problem in problems:
            where = f"{name}, {label}" + (f", {clients} clients" if clients else "")
            console.print(f"  {where}: {problem}")
        if any("ClientDisconnect" in problem for _, problem in problems):
            console.print(
                "  ClientDisconnect: POSTs in flight when wrk stops at the end of a run, closed before the "
                "API read their body; the API logs each as an unhandled error (a 500 nobody gets; uvicorn "
                "logs the traceback too). wrk saw no error unless its own count says so."
            )


def _ceiling_cells(result: Result) -> tuple[str, str, str, str]:
    if not result.rate:
        return ("failed", "", "", "")
    return (f"{result.rate:,.0f}", f"{result.p50:.1f}", f"{result.p95:.1f}", f"{result.p99:.1f}")
