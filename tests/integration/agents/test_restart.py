"""The queue across a PostgreSQL restart, on a private embedded database (never the session's): workers
keep running while the server stops and starts again with tasks queued and in flight; afterwards every
task completes exactly once (its effects written once), and the LISTEN connection comes back (a task
enqueued after the restart wakes an idle pool by NOTIFY, the only thing that can wake it here)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gardenos.agents import queue
from gardenos.agents.base import tenant_claims
from gardenos.agents.kinds.echo import EchoAgent
from gardenos.agents.orchestrator import AIOrchestrator
from gardenos.db.pool import Database
from gardenos.db.target import DatabaseTarget
from tests.integration.agents.conftest import unique_type
from tests.support import make_settings, remove_runtime

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TASKS = 60


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTarget]:
    """An embedded PostgreSQL of this module's own, migrated; removed afterwards."""
    settings = make_settings(
        tmp_path_factory.mktemp("restart"),
        ai_embedder="hashing",
        ai_embed_sweep_s=0,
        ai_autoscale=False,
        ai_pool_min=0,
        ai_lease_s=1.5,
        # Maintenance (which wakes every pool) runs at start and then only when the test asks: a pool
        # that works after the restart was woken by the dispatcher's own retry or by NOTIFY.
        ai_poll_interval_s=60.0,
        ai_retry_base_s=0.01,
        ai_retry_max_s=0.05,
    )
    target = DatabaseTarget(settings)
    assert target.embedded is not None
    try:
        target.embedded.start()
        target.prepare()
        yield target
    finally:
        target.embedded.stop()
        remove_runtime(settings)


class Watched(AIOrchestrator):
    """Says when its LISTEN connection came back after losing the server, and what it heard since."""

    reconnected: asyncio.Event
    heard: list[str]

    async def _reconnected(self) -> None:
        self.reconnected.set()
        await super()._reconnected()

    async def _on_task(self, agent_type: str) -> None:
        if self.reconnected.is_set():
            self.heard.append(agent_type)
        await super()._on_task(agent_type)


async def _enqueue(
    db: Database, agency: uuid.UUID, agent_type: str, payloads: list[dict[str, Any]]
) -> list[Any]:
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        return [
            (await queue.enqueue(conn, agent_type, payload, max_retries=20))["id"] for payload in payloads
        ]


async def _statuses(db: Database, ids: list[Any]) -> list[dict[str, Any]]:
    async with db.transaction("service_role") as conn:
        cur = await conn.execute(
            "SELECT id, status, attempts FROM agent_tasks WHERE id = ANY (%s::uuid[])", (ids,)
        )
        return [{"id": r[0], "status": r[1], "attempts": r[2]} for r in await cur.fetchall()]


async def _until(what: str, predicate: Any, timeout_s: float, tick: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if tick is not None:
            await tick()
        await asyncio.sleep(0.1)


async def test_tasks_complete_exactly_once_across_a_restart_and_listen_reconnects(
    private: DatabaseTarget,
) -> None:
    embedded = private.embedded
    assert embedded is not None
    with private.connect(autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO agencies (name, slug) VALUES ('Restart', 'restart') RETURNING id"
        ).fetchone()
    assert row is not None
    agency = uuid.UUID(str(row[0]))
    echo, probe = unique_type(EchoAgent), unique_type(EchoAgent)
    db = Database(private.api_url, min_size=1, max_size=10, timeout=10.0)
    await db.open()
    orchestrator = Watched(
        db,
        private.settings,
        listen_url=private.api_url,
        agents={echo.agent_type: echo, probe.agent_type: probe},
        pool_sizes={echo.agent_type: 3, probe.agent_type: 1},
    )
    orchestrator.reconnected, orchestrator.heard = asyncio.Event(), []
    try:
        await orchestrator.start()
        # Each task sleeps a little and writes a note in its completing transaction.
        ids = await _enqueue(
            db, agency, echo.agent_type, [{"sleep_s": 0.2, "note": f"n{i}"} for i in range(TASKS)]
        )

        async def some_done() -> bool:
            return sum(r["status"] == "succeeded" for r in await _statuses(db, ids)) >= 5

        await _until("the first tasks", some_done, 60)

        # The restart, while the workers run (with tasks running, queued, and results in flight).
        before = sum(r["status"] == "succeeded" for r in await _statuses(db, ids))
        await asyncio.to_thread(embedded.stop)
        await asyncio.sleep(0.5)  # the workers meet a dead server
        await asyncio.to_thread(embedded.start)

        await asyncio.wait_for(orchestrator.reconnected.wait(), timeout=60)
        # The probe's pool is idle with an empty queue: only the NOTIFY of this commit can wake it.
        (probe_id,) = await _enqueue(db, agency, probe.agent_type, [{"after": "restart"}])

        async def probe_done() -> bool:
            return (await _statuses(db, [probe_id]))[0]["status"] == "succeeded"

        await _until("the probe task (NOTIFY after the restart)", probe_done, 30)
        assert probe.agent_type in orchestrator.heard  # by the LISTEN connection opened after the restart

        async def all_done() -> bool:
            return all(r["status"] == "succeeded" for r in await _statuses(db, ids))

        # Attempts cut short by the restart come back when their lease runs out (maintenance reclaims).
        await _until("every task", all_done, 120, tick=orchestrator.maintain)
    finally:
        await orchestrator.stop(drain_timeout_s=5)
        await db.close()

    with private.connect() as conn:
        notes = dict(
            conn.execute(
                "SELECT content, count(*) FROM agent_memory WHERE agency_id = %s GROUP BY content", (agency,)
            ).fetchall()
        )
        statuses = conn.execute(
            "SELECT status, count(*) FROM agent_tasks WHERE agent_type = %s GROUP BY status",
            (echo.agent_type,),
        ).fetchall()
    assert before < TASKS  # the restart came mid-queue
    assert notes == {f"n{i}": 1 for i in range(TASKS)}  # each task's effects exactly once
    assert statuses == [("succeeded", TASKS)]
