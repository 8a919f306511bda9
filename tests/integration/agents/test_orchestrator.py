"""The orchestrator over the real queue: pools of coroutine agents, retries into the dead letter, priority
order under load, scaling under load without losing a task, cancellation, and agents confined to the
task's agency."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import psycopg
import pytest

from gardenos.agents import queue
from gardenos.agents.base import AgentResult, BaseAIAgent, TaskContext, TaskError, tenant_claims
from gardenos.agents.kinds.echo import EchoAgent
from gardenos.agents.orchestrator import AIOrchestrator
from gardenos.agents.queue import AgentTask
from gardenos.db.pool import Database
from tests.integration.agents.conftest import agent_settings, unique_type
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio


class AlwaysFails(BaseAIAgent):
    agent_type = "always_fails"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        raise TaskError(f"attempt {task.attempt} failed on purpose")


class Records(BaseAIAgent):
    """Notes the order it ran tasks in (a class-level list per subclass)."""

    agent_type = "records"
    seen: ClassVar[list[tuple[int, int]]] = []

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        type(self).seen.append((task.priority, task.payload["i"]))
        await asyncio.sleep(0.001)
        return AgentResult({"i": task.payload["i"]})


async def _enqueue_many(
    db: Database,
    agency: uuid.UUID,
    agent_type: str,
    payloads: list[dict[str, Any]],
    priorities: list[int] | None = None,
) -> list[uuid.UUID]:
    ids = []
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        for n, payload in enumerate(payloads):
            task = await queue.enqueue(conn, agent_type, payload, priority=priorities[n] if priorities else 5)
            ids.append(task["id"])
    return ids


async def _statuses(db: Database, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    async with db.transaction("service_role") as conn:
        return [await queue.get(conn, task_id) for task_id in ids]


async def _until_finished(db: Database, ids: list[uuid.UUID], timeout_s: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await _statuses(db, ids)
        if all(r["status"] in queue.FINISHED for r in rows):
            return rows
        if time.monotonic() > deadline:
            pending = [r["status"] for r in rows if r["status"] not in queue.FINISHED]
            raise AssertionError(f"{len(pending)} tasks did not finish: {pending[:5]}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def orchestrators(database: SessionDatabase, db: Database) -> AsyncIterator[list[AIOrchestrator]]:
    started: list[AIOrchestrator] = []
    yield started
    for orchestrator in started:
        await orchestrator.stop(drain_timeout_s=5)


async def _start(
    database: SessionDatabase,
    db: Database,
    started: list[AIOrchestrator],
    agents: dict[str, type[BaseAIAgent]],
    sizes: dict[str, int],
    **settings: Any,
) -> AIOrchestrator:
    orchestrator = AIOrchestrator(
        db, agent_settings(database, **settings), listen_url=database.api_url, agents=agents, pool_sizes=sizes
    )
    await orchestrator.start()
    started.append(orchestrator)
    return orchestrator


async def test_a_task_that_always_fails_ends_in_the_dead_letter_after_max_retries(
    database: SessionDatabase, db: Database, agency: uuid.UUID, orchestrators: list[AIOrchestrator]
) -> None:
    failing = unique_type(AlwaysFails)
    (task_id,) = await _enqueue_many(db, agency, failing.agent_type, [{}])
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        await conn.execute("UPDATE agent_tasks SET max_retries = 3 WHERE id = %s", (task_id,))
    orchestrator = await _start(
        database, db, orchestrators, {failing.agent_type: failing}, {failing.agent_type: 2}
    )

    (row,) = await _until_finished(db, [task_id])

    assert row["status"] == "dead"
    assert row["attempts"] == 4  # the first attempt and 3 retries
    assert "attempt 4 failed on purpose" in row["last_error"]
    metrics = orchestrator.pools[failing.agent_type].metrics()
    assert (metrics.failed, metrics.retried, metrics.dead) == (4, 3, 1)


async def test_priority_order_holds_under_load(
    database: SessionDatabase, db: Database, agency: uuid.UUID, orchestrators: list[AIOrchestrator]
) -> None:
    recorder = unique_type(Records, seen=[])
    priorities = [(i * 7) % 10 for i in range(300)]
    ids = await _enqueue_many(db, agency, recorder.agent_type, [{"i": i} for i in range(300)], priorities)
    await _start(database, db, orchestrators, {recorder.agent_type: recorder}, {recorder.agent_type: 1})
    # More arrive while it works: each still goes before every lower-priority task left.
    late = await _enqueue_many(
        db, agency, recorder.agent_type, [{"i": 1000 + i} for i in range(20)], [9] * 20
    )

    await _until_finished(db, ids + late)

    seen: list[tuple[int, int]] = recorder.seen  # type: ignore[attr-defined]
    assert len(seen) == 320
    early = [s for s in seen if s[1] < 1000]
    assert [p for p, _ in early] == sorted((p for p, _ in early), reverse=True)
    for priority in set(priorities):
        same = [j for p, j in early if p == priority]
        assert same == sorted(same), "equal priorities run oldest first"
    # Every late (priority 9) task ran before the last task of priority below 9.
    last_low = max(n for n, (p, i) in enumerate(seen) if p < 9)
    assert all(n < last_low for n, (p, i) in enumerate(seen) if i >= 1000)


async def test_scaling_up_and_down_under_load_loses_nothing_and_runs_nothing_twice(
    database: SessionDatabase, db: Database, agency: uuid.UUID, orchestrators: list[AIOrchestrator]
) -> None:
    echo = unique_type(EchoAgent)
    payloads = [
        {"sleep_s": 0.01, "note": f"n{i}"} if i % 10 == 0 else {"sleep_s": 0.005, "i": i} for i in range(400)
    ]
    ids = await _enqueue_many(db, agency, echo.agent_type, payloads)
    orchestrator = await _start(database, db, orchestrators, {echo.agent_type: echo}, {echo.agent_type: 1})

    for size in (8, 2, 10, 1, 5):
        assert await orchestrator.scale_agents(echo.agent_type, size) == size
        await asyncio.sleep(0.3)
    rows = await _until_finished(db, ids)

    assert {r["status"] for r in rows} == {"succeeded"}
    assert {r["attempts"] for r in rows} == {1}
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        cur = await conn.execute("SELECT content, count(*) FROM agent_memory GROUP BY content")
        notes = dict(await cur.fetchall())
    assert notes == {f"n{i}": 1 for i in range(0, 400, 10)}
    await orchestrator.completer.flush()  # the last batch's acknowledgements reach the metrics
    # Quick tasks: its agents held several at once (prefetch), handed back unstarted when they stopped.
    assert orchestrator.pools[echo.agent_type].depth == orchestrator.settings.ai_prefetch > 1
    assert orchestrator.pools[echo.agent_type].size == 5
    assert orchestrator.pools[echo.agent_type].metrics().done == 400


async def test_cancelling_a_running_task_stops_its_agent_and_discards_its_writes(
    database: SessionDatabase, db: Database, agency: uuid.UUID, orchestrators: list[AIOrchestrator]
) -> None:
    echo = unique_type(EchoAgent)
    (task_id,) = await _enqueue_many(db, agency, echo.agent_type, [{"sleep_s": 30, "note": "never"}])
    orchestrator = await _start(
        database, db, orchestrators, {echo.agent_type: echo}, {echo.agent_type: 1}, ai_lease_s=0.6
    )
    deadline = time.monotonic() + 30
    while (await _statuses(db, [task_id]))[0]["status"] != "running":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        await queue.cancel(conn, task_id)
    pool = orchestrator.pools[echo.agent_type]
    while pool.metrics().lost == 0:
        assert time.monotonic() < deadline, "the heartbeat did not stop the cancelled task"
        await asyncio.sleep(0.05)
    (row,) = await _statuses(db, [task_id])
    assert row["status"] == "cancelled"
    assert row["result"] is None
    assert pool.busy == 0


async def test_agents_work_under_the_tasks_agency_and_never_see_another(
    database: SessionDatabase,
    db: Database,
    agency: uuid.UUID,
    other_agency: uuid.UUID,
    orchestrators: list[AIOrchestrator],
    owner_conn: psycopg.Connection,
) -> None:
    echo = unique_type(EchoAgent)
    from gardenos.agents.kinds.embed import EmbedAgent
    from gardenos.agents.kinds.lead_analysis import LeadAnalysisAgent

    embed, analysis = unique_type(EmbedAgent), unique_type(LeadAnalysisAgent)
    theirs = owner_conn.execute(
        "INSERT INTO leads (agency_id, first_name, company) VALUES (%s, 'Their', 'Secret Co') RETURNING id",
        (other_agency,),
    ).fetchone()
    assert theirs is not None
    (whoami,) = await _enqueue_many(db, agency, echo.agent_type, [{"whoami": True}])
    (embedding,) = await _enqueue_many(
        db, agency, embed.agent_type, [{"subject": "lead", "ids": [str(theirs[0])]}]
    )
    (analyse,) = await _enqueue_many(db, agency, analysis.agent_type, [{"lead_id": str(theirs[0])}])
    await _start(
        database,
        db,
        orchestrators,
        {a.agent_type: a for a in (echo, embed, analysis)},
        {echo.agent_type: 1, embed.agent_type: 1, analysis.agent_type: 1},
    )

    rows = {r["id"]: r for r in await _until_finished(db, [whoami, embedding, analyse])}

    assert rows[whoami]["result"]["agency_id"] == str(agency)
    assert rows[embedding]["status"] == "succeeded"
    assert rows[embedding]["result"]["visible"] == 0
    assert rows[embedding]["result"]["embedded"] == 0
    assert rows[analyse]["status"] == "failed"
    assert "not found" in rows[analyse]["last_error"]
    assert rows[analyse]["attempts"] == 1
    untouched = owner_conn.execute(
        "SELECT l.score, (SELECT count(*) FROM record_embeddings e WHERE e.lead_id = l.id) "
        "FROM leads l WHERE id = %s",
        (theirs[0],),
    ).fetchone()
    assert untouched == (None, 0)
