"""The durable queue: enqueue in the caller's transaction, NOTIFY at commit, idempotency, priority order,
leases fenced per attempt, reclaim after a lease runs out, retries into the dead letter, cancel, requeue."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from gardenos.agents import queue
from gardenos.agents.base import tenant_claims
from gardenos.db.pool import Database
from gardenos.errors import Conflict
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio


def _type() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


async def test_enqueue_is_part_of_the_callers_transaction_and_notifies_at_commit(
    database: SessionDatabase, db: Database, agency: uuid.UUID
) -> None:
    agent_type = _type()
    async with await psycopg.AsyncConnection.connect(database.api_url, autocommit=True) as listener:
        await listener.execute(f"LISTEN {queue.CHANNEL}")

        async def business_write_that_fails() -> None:
            async with db.transaction("authenticated", tenant_claims(agency)) as conn:
                await queue.enqueue(conn, agent_type, {"n": 1})
                raise RuntimeError("the business write failed")

        with pytest.raises(RuntimeError):
            await business_write_that_fails()
        async with db.transaction("service_role") as conn:
            assert await queue.list_tasks(conn, agent_type=agent_type) == []

        async with db.transaction("authenticated", tenant_claims(agency)) as conn:
            task = await queue.enqueue(conn, agent_type, {"n": 2})
        assert task["agency_id"] == agency
        assert task["status"] == "queued"
        notification = await asyncio.wait_for(anext(listener.notifies()), timeout=10)
        assert notification.payload == agent_type


async def test_an_idempotency_key_returns_the_first_task(db: Database, agency: uuid.UUID) -> None:
    agent_type = _type()
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        first = await queue.enqueue(conn, agent_type, {"n": 1}, idempotency_key="import-42")
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        second = await queue.enqueue(conn, agent_type, {"n": 2}, idempotency_key="import-42")
    assert second["id"] == first["id"]
    assert second["payload"] == {"n": 1}


async def test_claims_go_by_priority_then_age_and_skip_locked_rows(db: Database, agency: uuid.UUID) -> None:
    agent_type = _type()
    priorities = [3, 9, 0, 5, 9, 1, 7, 5, 2, 8]
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        for i, priority in enumerate(priorities):
            await queue.enqueue(conn, agent_type, {"i": i}, priority=priority)
    agents = [uuid.uuid4() for _ in range(3)]
    async with db.transaction("service_role") as first:
        claimed = await queue.claim(first, agent_type, agents, lease_s=30)
        # A second worker, while the first still holds its row locks, gets the next ones, not the same.
        async with db.transaction("service_role") as second:
            more = await queue.claim(second, agent_type, [uuid.uuid4() for _ in range(3)], lease_s=30)
    assert [t.priority for t in claimed] == [9, 9, 8]
    assert [t.payload["i"] for t in claimed[:2]] == [1, 4]  # equal priority: the older first
    assert [t.priority for t in more] == [7, 5, 5]
    assert {t.agent_id for t in claimed} == set(agents)
    assert all(t.attempt == 1 for t in claimed + more)


async def test_an_attempt_whose_lease_was_taken_over_cannot_complete(db: Database, agency: uuid.UUID) -> None:
    agent_type = _type()
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        await queue.enqueue(conn, agent_type, {})
    async with db.transaction("service_role") as conn:
        (stale,) = await queue.claim(conn, agent_type, [uuid.uuid4()], lease_s=0.05)
    await asyncio.sleep(0.2)
    async with db.transaction("service_role") as conn:
        reclaimed = await queue.reclaim_expired(conn)
    assert (stale.id, agent_type, "queued") in reclaimed
    async with db.transaction("service_role") as conn:
        (fresh,) = await queue.claim(conn, agent_type, [uuid.uuid4()], lease_s=30)
    assert fresh.id == stale.id
    assert fresh.attempt == 2

    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        assert not await queue.complete(conn, stale, {"by": "stale"})
        assert await queue.heartbeat(conn, [stale, fresh], 30) == {fresh.key}
        assert await queue.complete(conn, fresh, {"by": "fresh"})
    async with db.transaction("service_role") as conn:
        row = await queue.get(conn, fresh.id)
    assert row["status"] == "succeeded"
    assert row["result"] == {"by": "fresh"}


async def test_failures_retry_with_backoff_then_go_to_the_dead_letter_and_can_be_requeued(
    db: Database, agency: uuid.UUID
) -> None:
    agent_type = _type()
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        task = await queue.enqueue(conn, agent_type, {}, max_retries=2)
    statuses = []
    for _ in range(3):
        async with db.transaction("service_role") as conn:
            (attempt,) = await queue.claim(conn, agent_type, [uuid.uuid4()], lease_s=30)
            statuses.append(await queue.fail(conn, attempt, "boom", retryable=True, delay_s=0))
    assert statuses == ["queued", "queued", "dead"]
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        dead = await queue.get(conn, task["id"])
        assert dead["attempts"] == 3
        assert dead["last_error"] == "boom"
        assert dead["finished_at"] is not None
        requeued = await queue.requeue(conn, task["id"])
        assert requeued["status"] == "queued"
        assert requeued["attempts"] == 0
        with pytest.raises(Conflict):
            await queue.requeue(conn, task["id"])


async def test_a_delayed_retry_is_not_claimed_before_its_time(db: Database, agency: uuid.UUID) -> None:
    agent_type = _type()
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        await queue.enqueue(conn, agent_type, {})
    async with db.transaction("service_role") as conn:
        (attempt,) = await queue.claim(conn, agent_type, [uuid.uuid4()], lease_s=30)
        assert await queue.fail(conn, attempt, "later", retryable=True, delay_s=3600) == "queued"
        assert await queue.claim(conn, agent_type, [uuid.uuid4()], lease_s=30) == []


async def test_a_permanent_failure_fails_at_once(db: Database, agency: uuid.UUID) -> None:
    agent_type = _type()
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        await queue.enqueue(conn, agent_type, {}, max_retries=5)
    async with db.transaction("service_role") as conn:
        (attempt,) = await queue.claim(conn, agent_type, [uuid.uuid4()], lease_s=30)
        assert await queue.fail(conn, attempt, "bad payload", retryable=False, delay_s=0) == "failed"


async def test_cancel_and_tenant_visibility(db: Database, agency: uuid.UUID, other_agency: uuid.UUID) -> None:
    agent_type = _type()
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        task = await queue.enqueue(conn, agent_type, {})
    async with db.transaction("authenticated", tenant_claims(other_agency)) as conn:
        assert await queue.list_tasks(conn, agent_type=agent_type) == []
        with pytest.raises(Exception, match="not found"):
            await queue.cancel(conn, task["id"])
    async with db.transaction("authenticated", tenant_claims(agency)) as conn:
        assert (await queue.cancel(conn, task["id"]))["status"] == "cancelled"
        with pytest.raises(Conflict):
            await queue.cancel(conn, task["id"])


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    import random

    rng = random.Random(7)
    delays = [queue.backoff_s(n, base_s=1, max_s=30, rng=rng) for n in range(1, 8)]
    for n, delay in enumerate(delays, 1):
        full = min(30, 2 ** (n - 1))
        assert full / 2 <= delay <= full
    assert len({round(d, 6) for d in delays}) == len(delays)
