"""`AIOrchestrator`: the agent pools of one process and the loops that keep them honest.

- a LISTEN on `gardenos_agent_tasks` wakes the pool of the type enqueued (dedicated connection,
  reconnecting; after a reconnect every pool looks again, as notifications sent meanwhile are lost);
- a LISTEN on `gardenos_agent_control` applies `scale` commands sent by the API or `gardenos ai scale`
  to this process too;
- heartbeats renew the leases of running tasks every third of a lease, and stop agents whose task was
  cancelled or taken over;
- maintenance reclaims tasks whose lease ran out (their worker died), wakes pools for delayed retries,
  fires `lead.stale` subscriptions and enqueues embedding sweeps;
- the autoscaler sizes pools from queue depth and wait, within the settings' bounds;
- results without writes of their own are completed in batches (one statement for many tasks).

Several processes may run orchestrators over one database: claims use SKIP LOCKED and every attempt is
fenced by its lease, so no task runs twice at once and none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg

from gardenos.agents import queue
from gardenos.agents.base import AgentRuntime, BaseAIAgent, tenant_claims
from gardenos.agents.embeddings import Embedder, build_embedder
from gardenos.agents.kinds import AGENTS
from gardenos.agents.llm import LLMProvider, OpenAICompatibleProvider, Prices
from gardenos.agents.metrics import Metrics
from gardenos.agents.offline import OfflineProvider
from gardenos.agents.pool import AgentPool
from gardenos.agents.queue import AgentTask
from gardenos.db.listen import listen
from gardenos.db.pool import Database
from gardenos.errors import BadRequest, GardenError
from gardenos.settings import Settings

log = logging.getLogger(__name__)

CONTROL_CHANNEL = "gardenos_agent_control"
MANUAL_COOLDOWN_S = 60.0
AUTOSCALE_EVERY_S = 2.0
STALE_EVERY_S = 60.0
IDLE_BEFORE_SHRINK_S = 30.0

REGISTER = """
INSERT INTO public.ai_agents (id, agent_type, worker, pid, status) VALUES (%s, %s, %s, %s, 'idle')
"""
AGENT_STATUS = "UPDATE public.ai_agents SET status = %s WHERE id = ANY (%s::uuid[])"
AGENT_STOPPED = (
    "UPDATE public.ai_agents SET status = 'stopped', stopped_at = now() WHERE id = ANY (%s::uuid[])"
)
AGENTS_HEARTBEAT = """
UPDATE public.ai_agents a SET heartbeat_at = now(), status = h.status, tasks_done = h.done
FROM unnest(%s::uuid[], %s::text[], %s::bigint[]) AS h (id, status, done)
WHERE a.id = h.id AND a.stopped_at IS NULL
"""
# Agents of processes that died without saying so.
AGENTS_GONE = """
UPDATE public.ai_agents SET status = 'stopped', stopped_at = now()
WHERE stopped_at IS NULL AND heartbeat_at < now() - make_interval(secs => %s)
"""
DEPTHS = """
SELECT q.agent_type, count(*) AS depth,
       coalesce(extract(epoch FROM now() - min(q.run_after)), 0)::float8 AS oldest_wait_s
FROM public.agent_tasks q
WHERE q.status = 'queued' AND q.run_after <= now() AND q.agent_type = ANY (%s::text[])
GROUP BY q.agent_type
"""
# `lead.stale` subscriptions: a follow-up (or whatever the rule names) for each lead quiet for N days,
# once per quiet spell (the key names the last activity).
FIRE_STALE = """
INSERT INTO public.agent_tasks (agency_id, agent_type, priority, payload, idempotency_key)
SELECT f.agency_id, f.agent_type, f.priority, f.payload, f.key
FROM (
    SELECT s.agency_id, s.agent_type, coalesce((s.config ->> 'priority')::smallint, 4) AS priority,
           jsonb_build_object('lead_id', l.id, 'event', 'lead.stale', 'subscription_id', s.id) AS payload,
           'sub:' || s.id || ':stale:' || l.id || ':'
               || extract(epoch FROM coalesce(l.last_activity_at, l.created_at))::bigint AS key
    FROM public.agent_subscriptions s
    JOIN public.leads l ON l.agency_id = s.agency_id AND l.status NOT IN ('converted', 'lost')
        AND coalesce(l.last_activity_at, l.created_at)
            < now() - make_interval(days => coalesce((s.config ->> 'days')::int, 14))
    WHERE s.event = 'lead.stale' AND s.enabled
) f
WHERE NOT EXISTS (
    SELECT FROM public.agent_tasks t WHERE t.agency_id = f.agency_id AND t.idempotency_key = f.key)
LIMIT 1000
ON CONFLICT ON CONSTRAINT agent_tasks_idempotency_key DO NOTHING
"""
# One sweep task per agency and subject with records lacking a vector of the current model. As
# service_role, across agencies: a record is named by (agency_id, id), as ids are unique per agency only.
EMBED_SWEEP = """
INSERT INTO public.agent_tasks (agency_id, agent_type, priority, payload)
SELECT a.id, 'embed', 1, jsonb_build_object('subject', s.subject, 'missing', true, 'limit', 1000)
FROM public.agencies a
CROSS JOIN (VALUES ('lead'), ('client')) AS s (subject)
WHERE NOT EXISTS (
        SELECT FROM public.agent_tasks t
        WHERE t.agency_id = a.id AND t.agent_type = 'embed' AND t.status IN ('queued', 'running')
          AND t.payload ->> 'subject' = s.subject AND t.payload ? 'missing')
  AND CASE s.subject
      WHEN 'lead' THEN EXISTS (
          SELECT FROM public.leads r WHERE r.agency_id = a.id AND NOT EXISTS (
              SELECT FROM public.record_embeddings e
              WHERE e.agency_id = r.agency_id AND e.lead_id = r.id AND e.embedding_model = %(model)s))
      ELSE EXISTS (
          SELECT FROM public.clients r WHERE r.agency_id = a.id AND NOT EXISTS (
              SELECT FROM public.record_embeddings e
              WHERE e.agency_id = r.agency_id AND e.client_id = r.id AND e.embedding_model = %(model)s))
      END
"""


def build_llm(settings: Settings) -> LLMProvider:
    """The OpenAI-compatible provider when chosen (or, on `auto`, when a key is set); else offline."""
    key = settings.ai_llm_api_key
    if settings.ai_llm_provider == "offline" or (settings.ai_llm_provider == "auto" and key is None):
        return OfflineProvider()
    if key is None:
        raise GardenError(
            "GARDENOS_AI_LLM_PROVIDER is openai but GARDENOS_AI_LLM_API_KEY is not set",
            hint="set the key, or GARDENOS_AI_LLM_PROVIDER=offline",
        )
    return OpenAICompatibleProvider(
        base_url=settings.ai_llm_base_url,
        api_key=key.get_secret_value(),
        model=settings.ai_llm_model,
        timeout_s=settings.ai_llm_timeout_s,
        max_retries=settings.ai_llm_max_retries,
        prices=Prices(settings.ai_llm_price_input_per_mtok, settings.ai_llm_price_output_per_mtok),
    )


class Completer:
    """Completes results that have no writes of their own, many per statement: while one batch is being
    written, the next one gathers, so batching adds no wait when the queue is quiet."""

    BATCH = 1000

    def __init__(self, service: queue.ServiceConnections) -> None:
        self.service = service
        self.pending: list[tuple[AgentTask, Mapping[str, Any], asyncio.Future[bool]]] = []
        self.ready = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()

    def submit(self, task: AgentTask, output: Mapping[str, Any]) -> asyncio.Future[bool]:
        """The future says whether the attempt still held the task (True: stored, exactly once)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append((task, output, future))
        self.idle.clear()
        self.ready.set()
        return future

    async def flush(self) -> None:
        """Until everything submitted so far was written (or failed to be)."""
        await self.idle.wait()

    async def run(self) -> None:
        try:
            while True:
                await self.ready.wait()
                self.ready.clear()
                while self.pending:
                    batch, self.pending = self.pending[: self.BATCH], self.pending[self.BATCH :]
                    await self._write(batch)
                self.idle.set()
        finally:
            for _, _, future in self.pending:
                future.cancel()

    async def _write(self, batch: list[tuple[AgentTask, Mapping[str, Any], asyncio.Future[bool]]]) -> None:
        try:
            async with self.service.connection() as conn:
                held = await queue.complete_many(conn, [(t, o) for t, o, _ in batch])
        except (GardenError, psycopg.Error) as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            for _, _, future in batch:
                future.cancel()
            raise
        for task, _, future in batch:
            if not future.done():
                future.set_result(task.key in held)


class AIOrchestrator:
    """The agent pools of this process. `start()`, then `scale_agents`, `analyze_lead`, …; `stop()`."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        listen_url: str | None = None,
        llm: LLMProvider | None = None,
        embedder: Embedder | None = None,
        agents: Mapping[str, type[BaseAIAgent]] = AGENTS,
        pool_sizes: Mapping[str, int] | None = None,
        autoscale: bool | None = None,
        background: bool = True,
    ) -> None:
        # The agents' statements have their own time limit, also when they share the API's pool.
        database = database.with_statement_timeout(settings.ai_statement_timeout_s)
        self.database = database
        self.settings = settings
        self.listen_url = listen_url
        self.runtime = AgentRuntime(
            database, llm or build_llm(settings), embedder or build_embedder(settings), settings
        )
        self._owns_llm = llm is None
        self.agent_classes = dict(agents)
        self.pool_sizes = dict(pool_sizes or {})
        self.autoscale = settings.ai_autoscale if autoscale is None else autoscale
        # Maintenance (reclaim, subscriptions, sweeps): off only for tests that drive the queue by hand.
        self.background = background
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"
        self.pools: dict[str, AgentPool] = {}
        # The machinery's statements (claims, completions, heartbeats): a few service_role connections
        # of its own, one round trip per statement.
        conninfo = database.pool.conninfo
        assert isinstance(conninfo, str), "the API's pool is built from a connection string"
        self.service = queue.ServiceConnections(
            conninfo,
            size=len(self.agent_classes) + 3,
            timeout_s=database.timeout,
            statement_timeout_s=settings.ai_statement_timeout_s,
        )
        self.completer = Completer(self.service)
        self.closing = False
        self.started = False
        self._loops: list[asyncio.Task[None]] = []
        self._stopped_agents: list[uuid.UUID] = []
        self._last_stale = 0.0
        self._last_sweep = time.monotonic()

    # --- life cycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        await self.service.open()
        self._loops.append(asyncio.create_task(self.completer.run(), name="agents-completer"))
        for agent_type, cls in self.agent_classes.items():
            pool = AgentPool(self, cls)
            self.pools[agent_type] = pool
            size = self.pool_sizes.get(agent_type, self.settings.ai_pool_size)
            await pool.resize(self._bounded(size))
            pool.start()
        self._loops.append(asyncio.create_task(self._heartbeats(), name="agents-heartbeat"))
        if self.background:
            self._loops.append(asyncio.create_task(self._maintenance(), name="agents-maintenance"))
        if self.autoscale:
            self._loops.append(asyncio.create_task(self._autoscaler(), name="agents-autoscaler"))
        if self.listen_url is not None:
            self._loops.append(
                asyncio.create_task(
                    listen(self.listen_url, queue.CHANNEL, self._on_task, on_reconnect=self._reconnected),
                    name="agents-listen-tasks",
                )
            )
            self._loops.append(
                asyncio.create_task(
                    listen(self.listen_url, CONTROL_CHANNEL, self._on_control), name="agents-control"
                )
            )
        log.info("agents started: %s", ", ".join(f"{t}×{p.size}" for t, p in self.pools.items()))

    async def stop(self, *, drain_timeout_s: float = 30.0) -> None:
        """Stop claiming, let running tasks finish (up to the timeout; the rest are reclaimed after their
        lease), then stop the loops."""
        if not self.started or self.closing:
            return
        self.closing = True
        for pool in self.pools.values():
            if pool.dispatcher is not None:
                pool.dispatcher.cancel()
        await asyncio.gather(*(pool.drain(drain_timeout_s) for pool in self.pools.values()))
        for pool in self.pools.values():
            if pool.dispatcher is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await pool.dispatcher
        # Results handed to the completer are stored before it stops (else they would run again).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.completer.flush(), timeout=max(drain_timeout_s, 1.0))
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self._flush_stopped()
        await self.service.close()
        close = getattr(self.runtime.llm, "close", None)
        if self._owns_llm and close is not None:
            await close()
        log.info("agents stopped")

    # --- the seeds' API ----------------------------------------------------------------------------

    async def scale_agents(self, agent_type: str, size: int) -> int:
        """Grow or shrink the pool of `agent_type` to `size` (within the settings' bounds); returns the
        size. Shrinking lets busy agents finish their task. The autoscaler leaves it for a minute."""
        pool = self.pools.get(agent_type)
        if pool is None:
            raise BadRequest(f"no agent type {agent_type!r}; known: {', '.join(sorted(self.pools))}")
        lo, hi = self.settings.ai_pool_min, self.settings.ai_pool_max
        if not lo <= size <= hi:
            raise BadRequest(f"a pool has {lo} to {hi} agents (GARDENOS_AI_POOL_MIN/MAX); asked for {size}")
        pool.manual_at = time.monotonic()
        return await pool.resize(size)

    async def submit(
        self,
        agent_type: str,
        payload: Mapping[str, Any],
        *,
        agency_id: uuid.UUID,
        user_id: uuid.UUID | None = None,
        priority: int = 5,
        max_retries: int = 3,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Enqueue a task for `agency_id` (as that agency: the tenant policy checks it)."""
        if agent_type not in self.agent_classes:
            raise BadRequest(f"no agent type {agent_type!r}; known: {', '.join(sorted(self.agent_classes))}")
        async with self.database.transaction("authenticated", tenant_claims(agency_id, user_id)) as conn:
            return await queue.enqueue(
                conn,
                agent_type,
                payload,
                priority=priority,
                max_retries=max_retries,
                idempotency_key=idempotency_key,
            )

    async def wait(
        self, task_id: uuid.UUID, agency_id: uuid.UUID, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """The task once it finished (or as it is when the timeout passes)."""
        return await queue.wait_for_task(
            self.database, tenant_claims(agency_id), task_id, timeout_s or self.settings.ai_wait_timeout_s
        )

    async def run_and_wait(
        self, agent_type: str, payload: Mapping[str, Any], *, agency_id: uuid.UUID, priority: int = 7
    ) -> dict[str, Any]:
        task = await self.submit(agent_type, payload, agency_id=agency_id, priority=priority)
        done = await self.wait(task["id"], agency_id)
        if done["status"] != "succeeded":
            raise GardenError(
                f"the {agent_type} task {done['id']} is {done['status']}: "
                f"{done['last_error'] or 'not finished yet'}",
                status_code=502 if done["status"] in queue.FINISHED else 504,
            )
        result: dict[str, Any] = done["result"]
        return result

    async def analyze_lead(
        self, lead: Mapping[str, Any] | uuid.UUID | str, *, agency_id: uuid.UUID
    ) -> dict[str, Any]:
        """quality_score, conversion_probability, next_actions, reasons: of a stored lead (by id, or a
        mapping with its `id`: the result is stored on it) or of lead fields given here."""
        return await self.run_and_wait("lead_analysis", _subject_payload("lead", lead), agency_id=agency_id)

    async def generate_follow_up(
        self,
        record: Mapping[str, Any] | uuid.UUID | str,
        *,
        agency_id: uuid.UUID,
        context: str | None = None,
        subject_type: str = "lead",
    ) -> dict[str, Any]:
        """subject, body, full_message (and the draft activity's id, for a stored lead or client)."""
        payload = _subject_payload(subject_type, record)
        if context:
            payload["context"] = context
        return await self.run_and_wait("follow_up", payload, agency_id=agency_id)

    # --- status ------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "worker": self.worker_name,
            "llm_model": self.runtime.llm.model,
            "embedding_model": self.runtime.embedder.model_id,
            "autoscale": self.autoscale,
            "pools": [pool.status() for pool in self.pools.values()],
            "metrics": Metrics.combined([p.metrics() for p in self.pools.values()]).snapshot(),
        }

    def agent_metrics(self, agent_id: uuid.UUID) -> dict[str, Any] | None:
        for pool in self.pools.values():
            worker = pool.workers.get(agent_id)
            if worker is not None:
                return {"agent_type": pool.agent_type, "status": worker.status} | worker.metrics.snapshot()
        return None

    # --- called by pools (their `PoolHost`) -------------------------------------------------------------

    async def register_agent(self, agent_type: str) -> uuid.UUID:
        agent_id = uuid.uuid4()
        async with self.service.connection() as conn:
            await conn.execute(REGISTER, (agent_id, agent_type, self.worker_name, os.getpid()))
        return agent_id

    async def agent_status(self, agent_ids: list[uuid.UUID], status: str) -> None:
        with contextlib.suppress(GardenError, psycopg.Error):
            async with self.service.connection() as conn:
                await conn.execute(AGENT_STATUS, (status, agent_ids))

    def agent_stopped(self, agent_id: uuid.UUID) -> None:
        self._stopped_agents.append(agent_id)

    def complete_later(self, task: AgentTask, output: Mapping[str, Any]) -> asyncio.Future[bool]:
        return self.completer.submit(task, output)

    def task_finished(self, task: AgentTask, output: Mapping[str, Any] | None) -> None:
        """A task ended here (succeeded, failed or dead); subclasses and tests may watch this."""

    # --- loops -------------------------------------------------------------------------------------

    async def _on_task(self, agent_type: str) -> None:
        pool = self.pools.get(agent_type)
        if pool is not None:
            pool.wake.set()

    async def _reconnected(self) -> None:
        """The LISTEN connection is back (after a restart or a failover): notifications sent meanwhile
        were lost, so every pool looks at the queue."""
        log.info("agents: listening for tasks again")
        await self._wake_all()

    async def _wake_all(self) -> None:
        for pool in self.pools.values():
            pool.wake.set()

    async def _on_control(self, payload: str) -> None:
        try:
            command = json.loads(payload)
            if command.get("action") == "scale" and command.get("agent_type") in self.pools:
                await self.scale_agents(command["agent_type"], int(command["size"]))
        except (ValueError, TypeError, KeyError, GardenError) as exc:
            log.warning("ignored the agent control message %r: %s", payload, exc)

    async def _heartbeats(self) -> None:
        lease = self.settings.ai_lease_s
        while True:
            await asyncio.sleep(lease / 3)
            workers = [w for pool in self.pools.values() for w in pool.workers.values()]
            running = [(w, t) for w in workers for t in w.held]
            try:
                async with self.service.connection() as conn:
                    held = await queue.heartbeat(conn, [t for _, t in running if t is not None], lease)
                    await conn.execute(
                        AGENTS_HEARTBEAT,
                        (
                            [w.id for w in workers],
                            [w.status for w in workers],
                            [w.metrics.done for w in workers],
                        ),
                    )
            except (GardenError, psycopg.Error) as exc:
                log.warning(
                    "agents: heartbeat failed (%s); leases run out in %.0f s unless it recovers", exc, lease
                )
                continue
            for worker, task in running:
                if task is not None and task.key not in held:
                    worker.lose_lease(task)
            await self._flush_stopped()

    async def _flush_stopped(self) -> None:
        if not self._stopped_agents:
            return
        stopped, self._stopped_agents = self._stopped_agents, []
        try:
            async with self.service.connection() as conn:
                await conn.execute(AGENT_STOPPED, (stopped,))
        except (GardenError, psycopg.Error):
            self._stopped_agents.extend(stopped)

    async def _maintenance(self) -> None:
        interval = self.settings.ai_poll_interval_s
        while True:
            try:
                await self.maintain()
            except (GardenError, psycopg.Error) as exc:
                log.warning("agents: maintenance failed (%s); trying again", exc)
            await asyncio.sleep(interval)

    async def maintain(self) -> None:
        """One round: reclaim expired leases, wake pools (delayed retries), fire subscriptions, sweep."""
        async with self.service.connection() as conn:
            reclaimed = await queue.reclaim_expired(conn)
            await conn.execute(AGENTS_GONE, (self.settings.ai_lease_s * 3,))
        for task_id, agent_type, status in reclaimed:
            log.warning("task %s (%s): its worker's lease ran out; now %s", task_id, agent_type, status)
        await self._wake_all()
        now = time.monotonic()
        if now - self._last_stale >= STALE_EVERY_S:
            self._last_stale = now
            async with self.service.connection() as conn:
                await conn.execute(FIRE_STALE)
        sweep = self.settings.ai_embed_sweep_s
        if sweep and "embed" in self.pools and now - self._last_sweep >= sweep:
            self._last_sweep = now
            async with self.service.connection() as conn:
                await conn.execute(EMBED_SWEEP, {"model": self.runtime.embedder.model_id})

    async def _autoscaler(self) -> None:
        while True:
            await asyncio.sleep(AUTOSCALE_EVERY_S)
            try:
                async with self.service.connection() as conn:
                    cur = await conn.execute(DEPTHS, (list(self.pools),))
                    depths = {row[0]: (int(row[1]), float(row[2])) for row in await cur.fetchall()}
            except (GardenError, psycopg.Error) as exc:
                log.warning("agents: autoscaler cannot read queue depths (%s)", exc)
                continue
            for agent_type, pool in self.pools.items():
                await self._autoscale(pool, *depths.get(agent_type, (0, 0.0)))

    async def _autoscale(self, pool: AgentPool, depth: int, oldest_wait_s: float) -> None:
        now = time.monotonic()
        if now - pool.manual_at < MANUAL_COOLDOWN_S or self.closing:
            return
        size = pool.size
        if depth and (oldest_wait_s >= 1.0 or depth > size):
            want = self._bounded(pool.busy + math.ceil(depth / 5))
            if want > size:
                log.info(
                    "autoscale %s: %d → %d (queue %d, oldest waits %.1f s)",
                    pool.agent_type,
                    size,
                    want,
                    depth,
                    oldest_wait_s,
                )
                await pool.resize(want)
        elif not depth and pool.busy < size and now - pool.last_busy_at > IDLE_BEFORE_SHRINK_S:
            want = self._bounded(size - 1)
            if want < size:
                await pool.resize(want)
                pool.last_busy_at = now

    def _bounded(self, size: int) -> int:
        return max(self.settings.ai_pool_min, min(self.settings.ai_pool_max, size))


def _subject_payload(subject_type: str, record: Mapping[str, Any] | uuid.UUID | str) -> dict[str, Any]:
    if isinstance(record, uuid.UUID | str):
        return {f"{subject_type}_id": str(record)}
    if record.get("id") is not None:
        return {f"{subject_type}_id": str(record["id"])}
    if subject_type != "lead":
        raise BadRequest(f"a {subject_type} is given by its id")
    return {"lead": dict(record)}
