"""Realtime database changes: throughput and commit-to-delivery latency of the change feed.

- Ceiling: the same WAL read by PostgreSQL's logical decoding alone (pgoutput through
  `pg_logical_slot_get_binary_changes`, messages decoded in Python, no visibility check, no delivery).
- Throughput: `rows` leads inserted in transactions of 100, spread over 10 agencies, to `subscribers`
  subscriptions that share claims (10 members, 10 groups) or do not (a member each, a group each);
  committed while the feed is stopped, then read from the slot: changes/s from the feed's start to the
  last delivery, and deliveries/s. (Each lead insert also writes audit_log and agent_tasks rows, which
  the feed decodes and checks against no subscriber.)
- Latency: single-row commits at `rate`/s for `seconds`, commit timestamp to delivery, p50/p95.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import psycopg
from rich.console import Console
from rich.table import Table

from bench.support import percentile, private_database
from gardenos.auth.principal import Principal
from gardenos.auth.tokens import TokenService, agency_claims
from gardenos.db.pool import Database
from gardenos.db.target import DatabaseTarget
from gardenos.realtime.changes import pgoutput
from gardenos.realtime.changes.catalog import PUBLICATION
from gardenos.realtime.changes.feed import DatabaseChangeFeed
from gardenos.realtime.contracts import ChangeMessage, ChangeSpec

AGENCIES = 10
BATCH = 100


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0
        self.latencies: list[float] = []
        self.done = asyncio.Event()
        self.expected = 0

    async def deliver(self, change: ChangeMessage) -> None:
        now = time.time()
        self.count += 1
        self.last = time.perf_counter()
        at = change.data["commit_timestamp"]
        self.latencies.append(now - datetime.fromisoformat(at).timestamp())
        if self.count >= self.expected:
            self.done.set()

    async def gap(self, reason: str) -> None:
        pass


def setup_members(target: DatabaseTarget, members: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Agencies, and `members` (agency, user) spread over them."""
    with psycopg.connect(target.owner_url, autocommit=True) as conn:
        agencies = [
            str(r[0])
            for r in conn.execute(
                "INSERT INTO agencies (name, slug) SELECT 'b' || g, 'bench-' || g || '-' || %s "
                "FROM generate_series(1, %s) g RETURNING id",
                (uuid.uuid4().hex[:6], AGENCIES),
            ).fetchall()
        ]
        out = []
        for i in range(members):
            agency = agencies[i % AGENCIES]
            user = conn.execute(
                "INSERT INTO auth.users (email) VALUES (%s) RETURNING id",
                (f"{uuid.uuid4().hex}@bench.example",),
            ).fetchone()
            assert user is not None
            conn.execute("INSERT INTO memberships (agency_id, user_id) VALUES (%s, %s)", (agency, user[0]))
            out.append((agency, str(user[0])))
    return agencies, out


def _insert(target: DatabaseTarget, agencies: list[str], rows: int) -> None:
    with psycopg.connect(target.owner_url, autocommit=True) as conn:
        for start in range(0, rows, BATCH):
            conn.execute(
                "INSERT INTO leads (agency_id, first_name) SELECT (%s::uuid[])[1 + g %% %s::int], 'L' || g "
                "FROM generate_series(%s::int, %s::int) g",
                (agencies, AGENCIES, start, min(start + BATCH, rows) - 1),
            )


def insert_paced(target: DatabaseTarget, agencies: list[str], rate: int, seconds: int) -> None:
    """Single-row lead commits at `rate`/s for `seconds`, round-robin over `agencies`."""
    with psycopg.connect(target.owner_url, autocommit=True) as conn:
        began = time.perf_counter()
        for i in range(rate * seconds):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.execute(
                "INSERT INTO leads (agency_id, first_name) VALUES (%s, 'x')", (agencies[i % AGENCIES],)
            )


def ceiling(target: DatabaseTarget, agencies: list[str], rows: int) -> float:
    with psycopg.connect(target.owner_url, autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot('bench_ceiling', 'pgoutput')")
        _insert(target, agencies, rows)
        began = time.perf_counter()
        count = 0
        while True:
            data = conn.execute(
                "SELECT data FROM pg_logical_slot_get_binary_changes('bench_ceiling', NULL, 10000, "
                "'proto_version', '1', 'publication_names', %s)",
                (PUBLICATION,),
            ).fetchall()
            if not data:
                break
            for (raw,) in data:
                if isinstance(pgoutput.decode(bytes(raw)), pgoutput.Insert):
                    count += 1
        elapsed = time.perf_counter() - began
        conn.execute("SELECT pg_drop_replication_slot('bench_ceiling')")
    return count / elapsed


async def through_feed(
    target: DatabaseTarget, agencies: list[str], members: list[tuple[str, str]], rows: int
) -> tuple[float, float]:
    """(changes/s, deliveries/s) with one subscription per member."""
    pool = Database(target.api_url, min_size=2, max_size=10)
    await pool.open()
    tokens = TokenService(target.settings, target.secrets.jwt_secret)
    slot = f"bench_{uuid.uuid4().hex[:8]}"
    feed = DatabaseChangeFeed(pool, target.owner_url, slot_name=slot, poll_interval_s=0.01)
    await feed.start()
    try:
        await feed.reading.wait()
        counters = []
        for agency, user in members:
            token, _ = tokens.access_token(agency_claims(agency, "member", user))
            counter = Counter()
            counter.expected = rows // AGENCIES
            await feed.subscribe(
                Principal(tokens.verify(token), token), ChangeSpec("INSERT", "public", "leads"), counter
            )
            counters.append(counter)
        # The changes wait in the slot while the feed is stopped, then go through at the feed's pace
        # (not the writer's: the inserts, with their triggers, are slower than the feed).
        await feed.stop()
        await asyncio.to_thread(_insert, target, agencies, rows)
        began = time.perf_counter()
        await feed.start()
        await asyncio.gather(*(c.done.wait() for c in counters))
        elapsed = max(c.last for c in counters) - began
        return rows / elapsed, sum(c.count for c in counters) / elapsed
    finally:
        await feed.stop()
        await pool.close()
        with psycopg.connect(target.owner_url, autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


async def latency(
    target: DatabaseTarget, agencies: list[str], members: list[tuple[str, str]], rate: int, seconds: int
) -> tuple[float, float]:
    pool = Database(target.api_url, min_size=2, max_size=10)
    await pool.open()
    tokens = TokenService(target.settings, target.secrets.jwt_secret)
    slot = f"bench_{uuid.uuid4().hex[:8]}"
    feed = DatabaseChangeFeed(pool, target.owner_url, slot_name=slot, poll_interval_s=0.05)
    await feed.start()
    try:
        await feed.reading.wait()
        counters = []
        for agency, user in members:
            token, _ = tokens.access_token(agency_claims(agency, "member", user))
            counter = Counter()
            counter.expected = rate * seconds // AGENCIES
            await feed.subscribe(
                Principal(tokens.verify(token), token), ChangeSpec("INSERT", "public", "leads"), counter
            )
            counters.append(counter)

        await asyncio.to_thread(insert_paced, target, agencies, rate, seconds)
        await asyncio.gather(*(c.done.wait() for c in counters))
        values = [v * 1000 for c in counters for v in c.latencies]
        return percentile(values, 50), percentile(values, 95)
    finally:
        await feed.stop()
        await pool.close()
        with psycopg.connect(target.owner_url, autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def run(rows: int = 20_000, subscribers: int = 100, rate: int = 200, seconds: int = 10) -> None:
    console = Console()
    with private_database(demo=False) as target:
        agencies, members = setup_members(target, subscribers)
        table = Table(title=f"Database changes: {rows:,} inserts in transactions of {BATCH}")
        table.add_column("path")
        table.add_column("subscribers", justify="right")
        table.add_column("groups", justify="right")
        table.add_column("changes/s", justify="right")
        table.add_column("deliveries/s", justify="right")
        table.add_row(
            "logical decoding alone (ceiling)", "-", "-", f"{ceiling(target, agencies, rows):,.0f}", "-"
        )
        # As many subscriptions either way: 10 members subscribed 10 times each (10 groups), or each
        # subscription its own member (a group each).
        shared = members[:AGENCIES] * (len(members) // AGENCIES)
        for label, subs in (("feed, subscribers sharing claims", shared), ("feed, one member each", members)):
            changes, deliveries = asyncio.run(through_feed(target, agencies, subs, rows))
            table.add_row(label, str(len(subs)), str(len(set(subs))), f"{changes:,.0f}", f"{deliveries:,.0f}")
        console.print(table)
        p50, p95 = asyncio.run(latency(target, agencies, members, rate, seconds))
        console.print(
            f"commit → delivery at {rate} single-row commits/s for {seconds} s, {len(members)} subscribers: "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        )


if __name__ == "__main__":
    run()
