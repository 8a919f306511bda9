"""What `/ai` does for a caller: enqueue and wait, read the queue and the agents, approve follow-ups,
memories. `AIService` also owns this process's orchestrator when workers run inside the API."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import time
import uuid
from typing import Any

import psycopg

from gardenos.agents import memory, queue
from gardenos.agents.embeddings import Embedder, build_embedder
from gardenos.agents.orchestrator import CONTROL_CHANNEL, AIOrchestrator
from gardenos.crm.activities import service as activities
from gardenos.crm.activities.schemas import Activity
from gardenos.db.pool import Conn, Database
from gardenos.db.rows import fetch_all, fetch_one
from gardenos.errors import BadRequest, Conflict, GardenError, NotFound
from gardenos.mail import sender as outbox
from gardenos.mail.mailer import OutgoingMail
from gardenos.settings import Settings

log = logging.getLogger(__name__)

QUEUES = """
SELECT t.agent_type, t.status, count(*) AS tasks,
       extract(epoch FROM now() - min(t.run_after)
           FILTER (WHERE t.status = 'queued' AND t.run_after <= now())) AS oldest_wait_s
FROM public.agent_tasks t
WHERE t.status IN ('queued', 'running', 'dead', 'failed')
   OR t.finished_at > now() - interval '1 hour'
GROUP BY t.agent_type, t.status
ORDER BY t.agent_type, t.status
"""
DEAD_LETTERS = f"""
SELECT {queue.COLUMNS} FROM public.agent_tasks t WHERE t.status IN ('dead', 'failed')
ORDER BY t.finished_at DESC NULLS LAST, t.id DESC LIMIT 50
"""
LIVE_AGENTS = """
SELECT a.id, a.agent_type, a.worker, a.status, a.started_at, a.heartbeat_at, a.tasks_done
FROM public.ai_agents a WHERE a.stopped_at IS NULL ORDER BY a.agent_type, a.started_at
"""
AGENT = """
SELECT a.id, a.agent_type, a.worker, a.status, a.started_at, a.heartbeat_at, a.stopped_at, a.tasks_done
FROM public.ai_agents a WHERE a.id = %s
"""
# Per agent type (or one agent) over the caller's tasks: counts, latency and wait percentiles, tokens, cost.
TASK_METRICS = """
SELECT t.agent_type,
       count(*) FILTER (WHERE t.status = 'succeeded') AS done,
       count(*) FILTER (WHERE t.status IN ('failed', 'dead')) AS failed,
       count(*) FILTER (WHERE t.status = 'dead') AS dead,
       coalesce(sum(greatest(t.attempts - 1, 0)), 0) AS retried,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM t.finished_at - t.started_at) * 1000)
           FILTER (WHERE t.status = 'succeeded') AS latency_ms,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM t.started_at - t.created_at) * 1000)
           FILTER (WHERE t.started_at IS NOT NULL AND t.attempts = 1) AS queue_wait_ms
FROM public.agent_tasks t
WHERE t.created_at > now() - make_interval(hours => %(hours)s)
  AND (%(agent_id)s::uuid IS NULL OR t.agent_id = %(agent_id)s::uuid)
GROUP BY t.agent_type ORDER BY t.agent_type
"""
SPEND = """
SELECT i.agent_type, count(*) AS calls, sum(i.prompt_tokens) AS prompt_tokens,
       sum(i.completion_tokens) AS completion_tokens, sum(i.cost_usd)::float8 AS cost_usd
FROM public.ai_interactions i
WHERE i.created_at > now() - make_interval(hours => %(hours)s)
  AND (%(agent_id)s::uuid IS NULL OR i.agent_id = %(agent_id)s::uuid)
GROUP BY i.agent_type
"""
ANALYSES = """
SELECT a.id, a.task_id, a.quality_score, a.conversion_probability, a.next_actions, a.reasons, a.model,
       a.created_at
FROM public.lead_analyses a WHERE a.lead_id = %s ORDER BY a.created_at DESC LIMIT 50
"""
LEAD_EXISTS = "SELECT EXISTS (SELECT FROM public.leads l WHERE l.id = %s) AS found"
CLIENT_EXISTS = "SELECT EXISTS (SELECT FROM public.clients c WHERE c.id = %s) AS found"
DRAFT = """
SELECT a.id, a.agency_id, a.lead_id, a.client_id, a.kind, a.subject, a.body, a.status, a.metadata,
       coalesce(l.email, c.email) AS email
FROM public.activities a
LEFT JOIN public.leads l ON l.id = a.lead_id
LEFT JOIN public.clients c ON c.id = a.client_id
WHERE a.id = %s
FOR UPDATE OF a
"""


class AIService:
    """The agents side of the API process: the embedder (for search and memories) and, when workers run
    inside the API, the orchestrator (started in the background: the API does not wait for it)."""

    def __init__(self, database: Database, settings: Settings, *, listen_url: str) -> None:
        self.database = database
        self.settings = settings
        self.listen_url = listen_url
        self.embedder: Embedder = build_embedder(settings)
        self.orchestrator: AIOrchestrator | None = None
        self._starter: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if not self.settings.ai_workers_enabled:
            return
        self.orchestrator = AIOrchestrator(
            self.database, self.settings, listen_url=self.listen_url, embedder=self.embedder
        )
        self._starter = asyncio.create_task(self._start_when_ready(self.orchestrator), name="agents-start")

    async def _start_when_ready(self, orchestrator: AIOrchestrator) -> None:
        delay = 0.5
        while True:
            try:
                await orchestrator.start()
                return
            except (GardenError, psycopg.Error) as exc:
                log.warning("agents: cannot start yet (%s); retrying in %.0f s", exc, delay)
                orchestrator.started = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def stop(self) -> None:
        if self._starter is not None and not self._starter.done():
            self._starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starter
        if self.orchestrator is not None:
            await self.orchestrator.stop(drain_timeout_s=10)


async def scale(
    conn: Conn, orchestrator: AIOrchestrator | None, agent_type: str, size: int
) -> dict[str, Any]:
    """Resize the pool here (if this process runs agents) and tell every worker process to do the same."""
    known = set(orchestrator.pools) if orchestrator is not None else None
    from gardenos.agents.kinds import AGENTS

    if agent_type not in (known or AGENTS):
        raise NotFound(f"no agent type {agent_type!r}; known: {', '.join(sorted(known or AGENTS))}")
    local = await orchestrator.scale_agents(agent_type, size) if orchestrator is not None else None
    await conn.execute(
        queue.NOTIFY,
        (CONTROL_CHANNEL, json.dumps({"action": "scale", "agent_type": agent_type, "size": size})),
    )
    return {"agent_type": agent_type, "size": size, "local_size": local}


async def queues(conn: Conn) -> dict[str, Any]:
    rows = await fetch_all(conn, QUEUES)
    dead = await fetch_all(conn, DEAD_LETTERS)
    by_type: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_type.setdefault(
            row["agent_type"], {"agent_type": row["agent_type"], "oldest_wait_s": None}
        )
        entry[row["status"]] = row["tasks"]
        if row["oldest_wait_s"] is not None:
            entry["oldest_wait_s"] = round(float(row["oldest_wait_s"]), 3)
    return {"queues": list(by_type.values()), "dead_letters": dead}


async def live_agents(conn: Conn) -> list[dict[str, Any]]:
    return [dict(r) for r in await fetch_all(conn, LIVE_AGENTS)]


async def agent(conn: Conn, agent_id: uuid.UUID) -> dict[str, Any]:
    row = await fetch_one(conn, AGENT, (agent_id,))
    if row is None:
        raise NotFound("no such agent: GET /ai/status lists the running ones")
    return dict(row)


async def task_metrics(
    conn: Conn, *, agent_id: uuid.UUID | None = None, hours: int = 24
) -> list[dict[str, Any]]:
    """Metrics of the caller's tasks (row-level security: an agency sees its own) per agent type."""
    params = {"agent_id": agent_id, "hours": hours}
    rows = await fetch_all(conn, TASK_METRICS, params)
    spend = {r["agent_type"]: r for r in await fetch_all(conn, SPEND, params)}
    out = []
    for row in rows:
        cost = spend.get(row["agent_type"]) or {}
        out.append(
            {
                "agent_type": row["agent_type"],
                "done": row["done"],
                "failed": row["failed"],
                "dead": row["dead"],
                "retried": int(row["retried"]),
                "latency_ms": _percentiles(row["latency_ms"]),
                "queue_wait_ms": _percentiles(row["queue_wait_ms"]),
                "llm_calls": cost.get("calls", 0),
                "prompt_tokens": int(cost.get("prompt_tokens") or 0),
                "completion_tokens": int(cost.get("completion_tokens") or 0),
                "cost_usd": round(float(cost.get("cost_usd") or 0), 6),
            }
        )
    return out


def _percentiles(values: list[float] | None) -> dict[str, float | None]:
    values = values or [None, None, None]  # type: ignore[list-item]
    return {
        f"p{p}": None if v is None else round(float(v), 2) for p, v in zip((50, 95, 99), values, strict=True)
    }


async def check_subject(conn: Conn, kind: str, record_id: uuid.UUID) -> None:
    row = await fetch_one(conn, LEAD_EXISTS if kind == "lead" else CLIENT_EXISTS, (record_id,))
    if row is None or not row["found"]:
        raise NotFound(f"{kind} not found (or not in your agency)")


async def analyses(conn: Conn, lead_id: uuid.UUID) -> list[dict[str, Any]]:
    await check_subject(conn, "lead", lead_id)
    return [dict(r) for r in await fetch_all(conn, ANALYSES, (lead_id,))]


async def approve_follow_up(
    conn: Conn,
    activity_id: uuid.UUID,
    *,
    subject: str | None,
    body: str | None,
    approved_by: uuid.UUID,
) -> tuple[Activity, uuid.UUID]:
    """Mark a drafted follow-up done and write its mail to the outbox, in the caller's transaction;
    returns the activity and the mail's id, for the caller to deliver (`MailSender.deliver`) once that
    transaction committed: a commit that fails sends nothing, and the mail leaves once."""
    draft = await fetch_one(conn, DRAFT, (activity_id,))
    if draft is None:
        raise NotFound("activity not found (or not in your agency)")
    if draft["status"] != "draft" or draft["kind"] != "email":
        raise Conflict(f"only draft emails can be approved; this is a {draft['status']} {draft['kind']}")
    if not draft["email"]:
        raise BadRequest("the lead or client has no email address: add one, then approve again")
    subject = subject or draft["subject"] or "Following up"
    text = body or draft["body"] or ""
    mail = OutgoingMail(
        to=draft["email"],
        subject=subject,
        text=text,
        html="<p>" + html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>",
        kind="follow_up",
    )
    meta = {"sent_to": draft["email"], "approved_by": str(approved_by), "sent_at": time.time()}
    activity = await activities.mark_sent(conn, activity_id, subject=subject, body=text, metadata=meta)
    # After the status change: the database lets an agency write a mail only for a done email activity.
    mail_id = await outbox.enqueue(conn, mail, agency_id=draft["agency_id"], activity_id=activity_id)
    return activity, mail_id


async def add_memory(
    conn: Conn,
    embedder: Embedder,
    vector: str,
    *,
    subject_type: str,
    subject_id: uuid.UUID | None,
    content: str,
) -> dict[str, Any]:
    if subject_type != "agency":
        assert subject_id is not None
        await check_subject(conn, subject_type, subject_id)
    return await memory.write(
        conn,
        subject_type=subject_type,  # type: ignore[arg-type]
        subject_id=subject_id,
        content=content,
        vector=vector,
        model=embedder.model_id,
        source="person",
    )
