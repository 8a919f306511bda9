"""The durable task queue: rows of `public.agent_tasks`.

Why not procrastinate: its jobs live in its own table with no tenant, no row-level security and no lease
per job, while here a task belongs to an agency (its row is under the tenant policy, so an agency sees and
enqueues only its own, from `/rest/v1` too), the importer enqueues by inserting rows in its own
transaction, and a task whose worker died must come back when its lease runs out. Those are the queue's
whole semantics, and they fit in the statements below.

- Enqueue: an INSERT in the caller's transaction; a statement trigger NOTIFYs `gardenos_agent_tasks` at
  commit (one notification per statement and agent type, however many rows). An idempotency key makes a
  second enqueue return the first task.
- Claim: `FOR UPDATE SKIP LOCKED`, highest priority first (9 … 0), then oldest `run_after`; one statement
  leases a task to each idle agent of a pool.
- The machinery's own statements (claim, batched completion, heartbeat, release, failure) run on
  `ServiceConnections`: a few connections set to service_role once, in autocommit, so that each is one
  round trip, prepared by psycopg after its first few runs.
- An attempt is fenced by (id, locked_by, attempts): completing or failing it changes nothing once its
  lease was taken over (the agent's writes roll back with it), so a task completes exactly once.
- A task's key is (agency_id, id): an id is unique within its agency only (migration 0017), so every
  statement here that runs as service_role, across agencies, names both.
- Failure: retried after an exponential backoff with jitter until `max_retries` retries, then `dead`;
  errors that no retry can fix go to `failed` at once. An admin requeues either.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout

from gardenos.db.pool import Conn, Database
from gardenos.errors import BadRequest, Conflict, DatabaseUnavailable, NotFound

CHANNEL = "gardenos_agent_tasks"
STATUSES = ("queued", "running", "succeeded", "failed", "dead", "cancelled")
FINISHED = frozenset({"succeeded", "failed", "dead", "cancelled"})

COLUMNS = """
t.id, t.agency_id, t.agent_type, t.priority, t.payload, t.status, t.attempts, t.max_retries, t.run_after,
t.locked_by, t.agent_id, t.lease_expires_at, t.idempotency_key, t.result, t.last_error, t.created_by,
t.created_at, t.started_at, t.finished_at, t.updated_at
"""

# Run in the caller's transaction, as the caller: the tenant policy fills and checks `agency_id`.
ENQUEUE = f"""
INSERT INTO public.agent_tasks AS t (agency_id, agent_type, priority, payload, max_retries, run_after,
    idempotency_key, created_by)
VALUES (coalesce(%(agency_id)s::uuid, auth.agency_id()), %(agent_type)s, %(priority)s, %(payload)s,
    %(max_retries)s, coalesce(%(run_after)s::timestamptz, now()), %(idempotency_key)s, auth.uid())
ON CONFLICT ON CONSTRAINT agent_tasks_idempotency_key DO NOTHING
RETURNING {COLUMNS}
"""
BY_KEY = f"""
SELECT {COLUMNS} FROM public.agent_tasks t
WHERE t.agency_id = coalesce(%(agency_id)s::uuid, auth.agency_id())
  AND t.idempotency_key = %(idempotency_key)s
"""
GET = f"SELECT {COLUMNS} FROM public.agent_tasks t WHERE t.id = %s"

# As service_role (all agencies). Each claimed row goes to one of the idle agents, in claim order.
CLAIM = """
WITH locked AS (
    SELECT q.agency_id, q.id, q.priority, q.run_after
    FROM public.agent_tasks q
    WHERE q.status = 'queued' AND q.agent_type = %(agent_type)s AND q.run_after <= now()
    ORDER BY q.priority DESC, q.run_after, q.id
    LIMIT cardinality(%(agents)s::uuid[])
    FOR UPDATE SKIP LOCKED
), numbered AS (
    SELECT l.agency_id, l.id, row_number() OVER (ORDER BY l.priority DESC, l.run_after, l.id) AS n
    FROM locked l
)
UPDATE public.agent_tasks t
SET status = 'running', attempts = t.attempts + 1,
    locked_by = (%(agents)s::uuid[])[numbered.n], agent_id = (%(agents)s::uuid[])[numbered.n],
    lease_expires_at = now() + make_interval(secs => %(lease_s)s), heartbeat_at = now(),
    started_at = now(), finished_at = NULL
FROM numbered
WHERE t.agency_id = numbered.agency_id AND t.id = numbered.id
RETURNING t.id, t.agency_id, t.agent_type, t.priority, t.payload, t.attempts, t.max_retries, t.locked_by,
    t.created_by, t.created_at, t.run_after, t.started_at
"""

HEARTBEAT = """
UPDATE public.agent_tasks t
SET lease_expires_at = now() + make_interval(secs => %(lease_s)s), heartbeat_at = now()
FROM unnest(%(agencies)s::uuid[], %(ids)s::uuid[], %(agents)s::uuid[], %(attempts)s::int[])
    AS h (agency_id, id, agent, attempt)
WHERE t.agency_id = h.agency_id AND t.id = h.id AND t.locked_by = h.agent AND t.attempts = h.attempt
  AND t.status = 'running'
RETURNING t.agency_id, t.id
"""

# Fenced completion. In the tenant's transaction (with the agent's writes), or as service_role for a
# batch of results that have no writes of their own.
COMPLETE = """
UPDATE public.agent_tasks t
SET status = 'succeeded', result = %(result)s, last_error = NULL, finished_at = now(), locked_by = NULL,
    lease_expires_at = NULL
WHERE t.agency_id = %(agency)s AND t.id = %(id)s AND t.locked_by = %(agent)s AND t.attempts = %(attempt)s
  AND t.status = 'running'
RETURNING t.id
"""
COMPLETE_MANY = """
UPDATE public.agent_tasks t
SET status = 'succeeded', result = d.result, last_error = NULL, finished_at = now(), locked_by = NULL,
    lease_expires_at = NULL
FROM jsonb_to_recordset(%s::jsonb) AS d (agency uuid, id uuid, agent uuid, attempt int, result jsonb)
WHERE t.agency_id = d.agency AND t.id = d.id AND t.locked_by = d.agent AND t.attempts = d.attempt
  AND t.status = 'running'
RETURNING t.agency_id, t.id
"""
FAIL = """
UPDATE public.agent_tasks t
SET status = CASE WHEN NOT %(retryable)s THEN 'failed' WHEN t.attempts > t.max_retries THEN 'dead'
                  ELSE 'queued' END,
    run_after = CASE WHEN %(retryable)s AND t.attempts <= t.max_retries
                     THEN now() + make_interval(secs => %(delay_s)s) ELSE t.run_after END,
    finished_at = CASE WHEN NOT %(retryable)s OR t.attempts > t.max_retries THEN now() END,
    last_error = %(error)s, locked_by = NULL, lease_expires_at = NULL
WHERE t.agency_id = %(agency)s AND t.id = %(id)s AND t.locked_by = %(agent)s AND t.attempts = %(attempt)s
  AND t.status = 'running'
RETURNING t.status
"""

# Hand back attempts claimed for an agent that stopped meanwhile (a pool shrank during the claim).
RELEASE = """
UPDATE public.agent_tasks t
SET status = 'queued', attempts = t.attempts - 1, locked_by = NULL, lease_expires_at = NULL, started_at = NULL
FROM unnest(%(agencies)s::uuid[], %(ids)s::uuid[], %(agents)s::uuid[], %(attempts)s::int[])
    AS h (agency_id, id, agent, attempt)
WHERE t.agency_id = h.agency_id AND t.id = h.id AND t.locked_by = h.agent AND t.attempts = h.attempt
  AND t.status = 'running'
"""

# Tasks whose worker stopped renewing the lease (killed, frozen, cut off): back to the queue, or to the
# dead letter if that was their last attempt.
RECLAIM = """
WITH expired AS (
    SELECT e.agency_id, e.id FROM public.agent_tasks e
    WHERE e.status = 'running' AND e.lease_expires_at < now()
    ORDER BY e.lease_expires_at
    LIMIT 1000
    FOR UPDATE SKIP LOCKED
)
UPDATE public.agent_tasks t
SET status = CASE WHEN t.attempts > t.max_retries THEN 'dead' ELSE 'queued' END,
    finished_at = CASE WHEN t.attempts > t.max_retries THEN now() END,
    run_after = now(), locked_by = NULL, lease_expires_at = NULL,
    last_error = 'attempt ' || t.attempts || ': the worker running it stopped renewing its lease '
        || '(it stopped or lost the database); ' || coalesce(t.last_error, '')
FROM expired
WHERE t.agency_id = expired.agency_id AND t.id = expired.id
RETURNING t.id, t.agent_type, t.status
"""

CANCEL = f"""
UPDATE public.agent_tasks t
SET status = 'cancelled', finished_at = now(), locked_by = NULL, lease_expires_at = NULL
WHERE t.id = %s AND t.status IN ('queued', 'running')
RETURNING {COLUMNS}
"""
REQUEUE = f"""
UPDATE public.agent_tasks t
SET status = 'queued', attempts = 0, run_after = now(), finished_at = NULL, locked_by = NULL,
    lease_expires_at = NULL
WHERE t.agency_id = coalesce(%(agency_id)s::uuid, (SELECT auth.agency_id())) AND t.id = %(id)s
  AND t.status IN ('dead', 'failed', 'cancelled')
RETURNING {COLUMNS}
"""
NOTIFY = "SELECT pg_notify(%s, %s)"

LIST = f"""
SELECT {COLUMNS} FROM public.agent_tasks t
WHERE (%(status)s::text IS NULL OR t.status = %(status)s::text)
  AND (%(agent_type)s::text IS NULL OR t.agent_type = %(agent_type)s::text)
ORDER BY t.created_at DESC, t.id DESC
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class AgentTask:
    """One claimed attempt of a task, as an agent receives it."""

    id: uuid.UUID
    priority: int
    payload: dict[str, Any]
    max_retries: int
    agency_id: uuid.UUID
    agent_type: str
    attempt: int
    agent_id: uuid.UUID
    created_by: uuid.UUID | None
    created_at: datetime
    run_after: datetime
    started_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AgentTask:
        return cls(
            id=row["id"],
            priority=row["priority"],
            payload=row["payload"],
            max_retries=row["max_retries"],
            agency_id=row["agency_id"],
            agent_type=row["agent_type"],
            attempt=row["attempts"],
            agent_id=row["locked_by"],
            created_by=row["created_by"],
            created_at=row["created_at"],
            run_after=row["run_after"],
            started_at=row["started_at"],
        )

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        """The task's key: its id is unique within its agency only."""
        return self.agency_id, self.id

    @property
    def fence(self) -> dict[str, Any]:
        return {"agency": self.agency_id, "id": self.id, "agent": self.agent_id, "attempt": self.attempt}

    @property
    def queue_wait_s(self) -> float:
        """From when it could run to when it started."""
        return max(0.0, (self.started_at - max(self.created_at, self.run_after)).total_seconds())


class ServiceConnections:
    """The queue machinery's connections: a pool of its own (never handed to anything else: requests and
    agents' work use `Database.transaction` with the caller's claims), each connection set once to
    service_role (it serves every agency) and autocommit, so that each of its statements is one round
    trip; psycopg prepares each after a few runs.

    A connection lost with the server is dropped when returned; the statement's caller sees a
    `DatabaseUnavailable` and tries again later (the dispatcher after its poll interval, or when woken).
    """

    def __init__(
        self, conninfo: str, *, size: int = 3, timeout_s: float = 5.0, statement_timeout_s: float = 0.0
    ) -> None:
        self.timeout_s = timeout_s
        self.statement_timeout = f"{round(statement_timeout_s * 1000)}ms"
        self.database = Database(conninfo, min_size=1, max_size=size, timeout=timeout_s)
        self._ready: weakref.WeakSet[Conn] = weakref.WeakSet()  # connections set up already
        self._check: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await self.database.open()

    async def close(self) -> None:
        if self._check is not None and not self._check.done():
            self._check.cancel()
            await asyncio.gather(self._check, return_exceptions=True)
        await self.database.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        try:
            async with self.database.pool.connection(timeout=self.timeout_s) as conn:
                if conn not in self._ready:
                    await conn.set_autocommit(True)
                    await conn.execute("SET ROLE service_role")
                    # Session-wide: these connections serve only the queue machinery.
                    await conn.execute(
                        "SELECT set_config('statement_timeout', %s, false)", (self.statement_timeout,)
                    )
                    self._ready.add(conn)
                yield conn
        except PoolTimeout as exc:
            raise DatabaseUnavailable("the agents cannot reach the database", details=str(exc)) from exc
        except psycopg.OperationalError as exc:
            self._check_soon()
            raise DatabaseUnavailable("the agents lost the database connection", details=str(exc)) from exc

    def _check_soon(self) -> None:
        """After a restart or a failover, drop the other dead idle connections in the background, so that
        the next statements do not each find one."""
        if self._check is None or self._check.done():
            self._check = asyncio.get_running_loop().create_task(
                self.database.pool.check(), name="agents-pool-check"
            )


def backoff_s(attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """The delay before retrying after failed attempt `attempt` (1-based): exponential, capped, with
    "equal jitter" (half fixed, half random) so that tasks failing together do not retry together."""
    delay = min(max_s, base_s * 2 ** max(0, attempt - 1))
    jitter: float = (rng or random).random()  # spreading retries, not a secret
    return float(delay / 2 + jitter * delay / 2)


async def enqueue(
    conn: Conn,
    agent_type: str,
    payload: Mapping[str, Any],
    *,
    priority: int = 5,
    max_retries: int = 3,
    idempotency_key: str | None = None,
    run_after: datetime | None = None,
    agency_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Add a task in the caller's transaction (it becomes visible, and wakes workers, at commit).

    With an idempotency key already used in the agency, returns that task instead of adding one.
    """
    if not 0 <= priority <= 9:
        raise BadRequest("priority must be between 0 (lowest) and 9 (highest)")
    if not 0 <= max_retries <= 100:
        raise BadRequest("max_retries must be between 0 and 100")
    params = {
        "agency_id": agency_id,
        "agent_type": agent_type,
        "priority": priority,
        "payload": Jsonb(dict(payload)),
        "max_retries": max_retries,
        "run_after": run_after,
        "idempotency_key": idempotency_key,
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(ENQUEUE, params)
        row = await cur.fetchone()
        if row is None:
            await cur.execute(BY_KEY, params)
            row = await cur.fetchone()
    if row is None:
        raise Conflict(f"the idempotency key {idempotency_key!r} is taken by a task you cannot see")
    return dict(row)


async def claim(conn: Conn, agent_type: str, agents: Sequence[uuid.UUID], lease_s: float) -> list[AgentTask]:
    """Lease up to one task per agent in `agents` (as service_role), in claim order."""
    if not agents:
        return []
    cur = await conn.execute(CLAIM, {"agent_type": agent_type, "agents": list(agents), "lease_s": lease_s})
    # Positional rows (RETURNING's order): no dict per task on the hot path.
    return [
        AgentTask(
            id=r[0],
            agency_id=r[1],
            agent_type=r[2],
            priority=r[3],
            payload=r[4],
            attempt=r[5],
            max_retries=r[6],
            agent_id=r[7],
            created_by=r[8],
            created_at=r[9],
            run_after=r[10],
            started_at=r[11],
        )
        for r in sorted(await cur.fetchall(), key=lambda r: (-r[3], r[10], r[0]))
    ]


def _attempts(tasks: Sequence[AgentTask]) -> dict[str, list[Any]]:
    """The fences of `tasks`, as the arrays that HEARTBEAT and RELEASE unnest."""
    return {
        "agencies": [t.agency_id for t in tasks],
        "ids": [t.id for t in tasks],
        "agents": [t.agent_id for t in tasks],
        "attempts": [t.attempt for t in tasks],
    }


async def heartbeat(
    conn: Conn, tasks: Sequence[AgentTask], lease_s: float
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Renew the leases of `tasks`; returns the keys of those still held (the others were cancelled or
    taken over)."""
    if not tasks:
        return set()
    cur = await conn.execute(HEARTBEAT, {"lease_s": lease_s, **_attempts(tasks)})
    return {(row[0], row[1]) for row in await cur.fetchall()}


async def release(conn: Conn, tasks: Sequence[AgentTask]) -> None:
    """Put claimed attempts back as if they had never been claimed."""
    await conn.execute(RELEASE, _attempts(tasks))


async def complete(conn: Conn, task: AgentTask, result: Mapping[str, Any]) -> bool:
    """Mark the attempt succeeded; False when it no longer holds the task (then roll back its writes)."""
    cur = await conn.execute(COMPLETE, task.fence | {"result": Jsonb(dict(result))})
    return await cur.fetchone() is not None


async def complete_many(
    conn: Conn, done: Sequence[tuple[AgentTask, Mapping[str, Any]]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Mark many attempts succeeded; returns the keys of those that still held their task."""
    records = [
        {
            "agency": str(t.agency_id),
            "id": str(t.id),
            "agent": str(t.agent_id),
            "attempt": t.attempt,
            "result": dict(r),
        }
        for t, r in done
    ]
    cur = await conn.execute(COMPLETE_MANY, (Jsonb(records),))
    return {(row[0], row[1]) for row in await cur.fetchall()}


async def fail(conn: Conn, task: AgentTask, error: str, *, retryable: bool, delay_s: float) -> str | None:
    """Record a failed attempt: the task's new status, or None if the attempt no longer held it."""
    cur = await conn.execute(
        FAIL, task.fence | {"error": error[:4000], "retryable": retryable, "delay_s": delay_s}
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def reclaim_expired(conn: Conn) -> list[tuple[uuid.UUID, str, str]]:
    cur = await conn.execute(RECLAIM)
    return [(row[0], row[1], row[2]) for row in await cur.fetchall()]


async def get(conn: Conn, task_id: uuid.UUID) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(GET, (task_id,))
        row = await cur.fetchone()
    if row is None:
        raise NotFound("task not found (or not in your agency)")
    return dict(row)


async def wait_for_task(
    database: Database, claims: Mapping[str, Any], task_id: uuid.UUID, timeout_s: float
) -> dict[str, Any]:
    """The task once finished, or as it is when `timeout_s` passes. Polls (starting at 20 ms, up to
    0.5 s), so it sees tasks finished by any process."""
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        async with database.transaction("authenticated", claims) as conn:
            row = await get(conn, task_id)
        remaining = deadline - time.monotonic()
        if row["status"] in FINISHED or remaining <= 0:
            return row
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.5)


async def cancel(conn: Conn, task_id: uuid.UUID) -> dict[str, Any]:
    """Cancel a queued or running task (a running attempt's results are then discarded)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(CANCEL, (task_id,))
        row = await cur.fetchone()
    if row is None:
        current = await get(conn, task_id)
        raise Conflict(f"the task is {current['status']}: only queued or running tasks can be cancelled")
    return dict(row)


async def requeue(conn: Conn, task_id: uuid.UUID) -> dict[str, Any]:
    """Put a dead, failed or cancelled task of the caller's agency back in the queue with its attempts
    reset."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(REQUEUE, {"agency_id": None, "id": task_id})
        row = await cur.fetchone()
    if row is None:
        current = await get(conn, task_id)
        raise Conflict(
            f"the task is {current['status']}: only dead, failed or cancelled tasks can be requeued"
        )
    await conn.execute(NOTIFY, (CHANNEL, row["agent_type"]))
    return dict(row)


async def list_tasks(
    conn: Conn, *, status: str | None = None, agent_type: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(LIST, {"status": status, "agent_type": agent_type, "limit": limit}, prepare=False)
        return [dict(row) for row in await cur.fetchall()]
