"""`/ai`: agents, their tasks and queues, follow-up approval, memory; `/api/v1/search`.

Tasks are the caller's agency's (row-level security on `agent_tasks`): enqueueing, reading, cancelling
and waiting all run under the caller's claims. Pools are the platform's: anyone signed in may see their
sizes; resizing them takes the service_role key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from gardenos.agents import memory as memories
from gardenos.agents import queue, search, service
from gardenos.agents.embeddings import vector_literal
from gardenos.agents.kinds import AGENTS
from gardenos.agents.schemas import (
    AgentType,
    ApproveBody,
    FollowUpBody,
    Memory,
    MemoryFilters,
    NewMemory,
    NewTask,
    ScaleBody,
    SearchAnswer,
    SearchFilters,
    SearchResult,
    SupportBody,
    Task,
    TaskFilters,
)
from gardenos.agents.service import AIService
from gardenos.api.deps import DatabaseDep, rate_limited
from gardenos.auth.principal import Principal, PrincipalDep
from gardenos.crm.activities.schemas import Activity
from gardenos.crm.common import ADMIN_ROLES, agency_role, agency_transaction, require_agency
from gardenos.db.pool import Conn, Database
from gardenos.errors import BadRequest, Forbidden
from gardenos.mail.sender import MailSender

router = APIRouter(prefix="/ai", tags=["ai"])
search_router = APIRouter(prefix="/api/v1", tags=["search"])

# Model calls, embeddings and mails cost money or CPU: counted per user and per address.
AI_LIMIT = rate_limited("ai")
WaitQuery = Annotated[
    bool, Query(description="wait for the task to finish (up to GARDENOS_AI_WAIT_TIMEOUT_S) and return it")
]


def _ai(request: Request) -> AIService:
    ai: AIService = request.app.state.ai
    return ai


def _mail_sender(request: Request) -> MailSender:
    sender: MailSender = request.app.state.mail_sender
    return sender


async def _enqueue_and_answer(
    request: Request,
    response: Response,
    database: Database,
    principal: Principal,
    conn_work: Any,
    wait: bool,
) -> Task:
    async with agency_transaction(database, principal) as conn:
        row = await conn_work(conn)
    if wait and row["status"] not in queue.FINISHED:
        row = await queue.wait_for_task(
            database, principal.raw_claims, row["id"], _ai(request).settings.ai_wait_timeout_s
        )
    response.status_code = 200 if row["status"] in queue.FINISHED else 202
    return Task.model_validate(row)


# --- status and metrics ----------------------------------------------------------------------------


@router.get("/status")
async def status(request: Request, database: DatabaseDep, principal: PrincipalDep) -> dict[str, Any]:
    """The agent pools of every worker process, this process's live metrics, and the caller's
    agency's task metrics of the last 24 hours per agent type."""
    ai = _ai(request)
    async with database.transaction("service_role") as conn:
        agents = await service.live_agents(conn)
    pools: dict[str, dict[str, Any]] = {}
    for agent in agents:
        entry = pools.setdefault(agent["agent_type"], {"agent_type": agent["agent_type"], "agents": 0})
        entry["agents"] += 1
        entry[agent["status"]] = entry.get(agent["status"], 0) + 1
    if principal.is_service_role:
        async with database.transaction("service_role") as conn:
            metrics = await service.task_metrics(conn)
    else:
        async with agency_transaction(database, principal) as conn:
            metrics = await service.task_metrics(conn)
    orchestrator = ai.orchestrator
    return {
        "agent_types": {name: cls.description for name, cls in AGENTS.items()},
        "pools": list(pools.values()),
        "agents": [{k: v for k, v in a.items() if k != "worker"} for a in agents],
        "embedding_model": ai.embedder.model_id,
        "this_process": orchestrator.status() if orchestrator is not None and orchestrator.started else None,
        "tasks_last_24h": metrics,
    }


@router.get("/agents/{agent_id}/metrics")
async def agent_metrics(
    agent_id: uuid.UUID, request: Request, database: DatabaseDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One agent: what it is, its live counters (if it runs in this process), and the caller's tasks it
    ran in the last 24 hours."""
    async with database.transaction("service_role") as conn:
        agent = await service.agent(conn, agent_id)
    if principal.is_service_role:
        async with database.transaction("service_role") as conn:
            metrics = await service.task_metrics(conn, agent_id=agent_id)
    else:
        async with agency_transaction(database, principal) as conn:
            metrics = await service.task_metrics(conn, agent_id=agent_id)
    orchestrator = _ai(request).orchestrator
    live = orchestrator.agent_metrics(agent_id) if orchestrator is not None else None
    agent.pop("worker", None)
    return {"agent": agent, "live": live, "tasks_last_24h": metrics}


@router.get("/debug/queues")
async def debug_queues(database: DatabaseDep, principal: PrincipalDep) -> dict[str, Any]:
    """Queue depth and oldest wait per agent type and status, and the dead letters (newest 50): the
    caller's agency's, or every agency's with the service_role key."""
    if principal.is_service_role:
        async with database.transaction("service_role") as conn:
            answer = await service.queues(conn)
    else:
        async with agency_transaction(database, principal) as conn:
            answer = await service.queues(conn)
    answer["dead_letters"] = [
        Task.model_validate(row).model_dump(mode="json") for row in answer["dead_letters"]
    ]
    return answer


@router.post("/agents/{agent_type}/scale")
async def scale_pool(
    agent_type: AgentType, body: ScaleBody, request: Request, database: DatabaseDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Resize a pool in every worker process (pools serve every agency: this takes the service_role key)."""
    principal.require_service_role()
    settings = _ai(request).settings
    if not settings.ai_pool_min <= body.size <= settings.ai_pool_max:
        raise BadRequest(
            f"a pool has {settings.ai_pool_min} to {settings.ai_pool_max} agents "
            f"(GARDENOS_AI_POOL_MIN/MAX); asked for {body.size}"
        )
    async with database.transaction("service_role") as conn:
        return await service.scale(conn, _ai(request).orchestrator, agent_type, body.size)


# --- tasks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SubjectTask:
    """A task about one lead or client: enqueued (in the request's transaction) once the caller can see
    that record, then answered as `_enqueue_and_answer` does."""

    agent_type: str
    kind: str
    record_id: uuid.UUID
    payload: dict[str, Any]
    priority: int

    async def answer(
        self, request: Request, response: Response, database: Database, principal: Principal, wait: bool
    ) -> Task:
        async def work(conn: Conn) -> dict[str, Any]:
            await service.check_subject(conn, self.kind, self.record_id)
            return await queue.enqueue(conn, self.agent_type, self.payload, priority=self.priority)

        return await _enqueue_and_answer(request, response, database, principal, work, wait)


@router.post("/leads/{lead_id}/analyze", status_code=202, dependencies=[AI_LIMIT])
async def analyze_lead(
    lead_id: uuid.UUID,
    request: Request,
    response: Response,
    database: DatabaseDep,
    principal: PrincipalDep,
    wait: WaitQuery = False,
) -> Task:
    """Score the lead (0–100) with reasons, conversion probability and next actions; the result is
    stored on the lead. Returns the task (202), or with `?wait=true` the finished task (200)."""

    task = _SubjectTask("lead_analysis", "lead", lead_id, {"lead_id": str(lead_id)}, priority=7)
    return await task.answer(request, response, database, principal, wait)


@router.get("/leads/{lead_id}/analyses")
async def lead_analyses(
    lead_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    """The lead's analyses, newest first."""
    async with agency_transaction(database, principal) as conn:
        return await service.analyses(conn, lead_id)


def _follow_up_payload(kind: str, record_id: uuid.UUID, body: FollowUpBody | None) -> dict[str, Any]:
    payload: dict[str, Any] = {f"{kind}_id": str(record_id)}
    if body is not None and body.context:
        payload["context"] = body.context
    return payload


@router.post("/leads/{lead_id}/follow-up", status_code=202, dependencies=[AI_LIMIT])
async def lead_follow_up(
    lead_id: uuid.UUID,
    request: Request,
    response: Response,
    database: DatabaseDep,
    principal: PrincipalDep,
    body: FollowUpBody | None = None,
    wait: WaitQuery = False,
) -> Task:
    """Draft a follow-up email (subject, body, full_message) from the lead's timeline and memory, saved
    as a draft activity: `POST /ai/follow-ups/{activity_id}/approve` sends it."""
    task = _SubjectTask("follow_up", "lead", lead_id, _follow_up_payload("lead", lead_id, body), priority=6)
    return await task.answer(request, response, database, principal, wait)


@router.post("/clients/{client_id}/follow-up", status_code=202, dependencies=[AI_LIMIT])
async def client_follow_up(
    client_id: uuid.UUID,
    request: Request,
    response: Response,
    database: DatabaseDep,
    principal: PrincipalDep,
    body: FollowUpBody | None = None,
    wait: WaitQuery = False,
) -> Task:
    """As for a lead, for a client."""
    task = _SubjectTask(
        "follow_up", "client", client_id, _follow_up_payload("client", client_id, body), priority=6
    )
    return await task.answer(request, response, database, principal, wait)


@router.post("/leads/{lead_id}/support", status_code=202, dependencies=[AI_LIMIT])
async def lead_support(
    lead_id: uuid.UUID,
    body: SupportBody,
    request: Request,
    response: Response,
    database: DatabaseDep,
    principal: PrincipalDep,
    wait: WaitQuery = False,
) -> Task:
    """Answer the lead's question from the agency's memory and the lead's timeline: the reply (with the
    facts it rests on) is saved as a draft email that `POST /ai/follow-ups/{activity_id}/approve` sends."""
    payload = {"lead_id": str(lead_id), "question": body.question}
    task = _SubjectTask("support", "lead", lead_id, payload, priority=7)
    return await task.answer(request, response, database, principal, wait)


@router.post("/clients/{client_id}/support", status_code=202, dependencies=[AI_LIMIT])
async def client_support(
    client_id: uuid.UUID,
    body: SupportBody,
    request: Request,
    response: Response,
    database: DatabaseDep,
    principal: PrincipalDep,
    wait: WaitQuery = False,
) -> Task:
    """As for a lead, for a client."""
    payload = {"client_id": str(client_id), "question": body.question}
    task = _SubjectTask("support", "client", client_id, payload, priority=7)
    return await task.answer(request, response, database, principal, wait)


@router.post("/tasks", status_code=202, dependencies=[AI_LIMIT])
async def create_task(
    body: NewTask,
    request: Request,
    response: Response,
    database: DatabaseDep,
    principal: PrincipalDep,
    wait: WaitQuery = False,
) -> Task:
    """Enqueue any agent's task for the caller's agency (an idempotency key returns an earlier task)."""
    if body.agent_type not in AGENTS:
        raise BadRequest(f"no agent type {body.agent_type!r}; known: {', '.join(sorted(AGENTS))}")

    async def work(conn: Conn) -> dict[str, Any]:
        return await queue.enqueue(
            conn,
            body.agent_type,
            body.payload,
            priority=body.priority,
            max_retries=body.max_retries,
            idempotency_key=body.idempotency_key,
        )

    return await _enqueue_and_answer(request, response, database, principal, work, wait)


@router.get("/tasks")
async def list_tasks(
    filters: Annotated[TaskFilters, Query()], database: DatabaseDep, principal: PrincipalDep
) -> list[Task]:
    """The agency's tasks, newest first (`status`, `agent_type`, `limit`)."""
    async with agency_transaction(database, principal) as conn:
        rows = await queue.list_tasks(
            conn, status=filters.status, agent_type=filters.agent_type, limit=filters.limit
        )
    return [Task.model_validate(row) for row in rows]


@router.get("/tasks/{task_id}")
async def get_task(
    task_id: uuid.UUID,
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    wait: WaitQuery = False,
) -> Task:
    async with agency_transaction(database, principal) as conn:
        row = await queue.get(conn, task_id)
    if wait and row["status"] not in queue.FINISHED:
        row = await queue.wait_for_task(
            database, principal.raw_claims, task_id, _ai(request).settings.ai_wait_timeout_s
        )
    return Task.model_validate(row)


@router.post("/tasks/{task_id}/cancel")
async def cancel_task(task_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Task:
    """Cancel a queued or running task; a running attempt stops and its results are discarded."""
    async with agency_transaction(database, principal) as conn:
        return Task.model_validate(await queue.cancel(conn, task_id))


@router.post("/tasks/{task_id}/requeue")
async def requeue_task(task_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Task:
    """Put a dead, failed or cancelled task back in the queue, attempts reset (owners and admins)."""
    require_agency(principal)
    if agency_role(principal) not in ADMIN_ROLES:
        raise Forbidden("requeueing tasks is for the agency's owners and admins")
    async with agency_transaction(database, principal) as conn:
        return Task.model_validate(await queue.requeue(conn, task_id))


# --- follow-ups and memory ----------------------------------------------------------------------------


@router.post("/follow-ups/{activity_id}/approve", dependencies=[AI_LIMIT])
async def approve_follow_up(
    activity_id: uuid.UUID,
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    body: ApproveBody | None = None,
) -> Activity:
    """Send a drafted follow-up or support reply (optionally edited) by the configured mailer; it becomes
    a done email. The mail leaves after the approval committed, once: if the mail server cannot take it
    now, it is sent again later (the approval stands)."""
    user_id = principal.require_user()
    async with agency_transaction(database, principal) as conn:
        activity, mail_id = await service.approve_follow_up(
            conn,
            activity_id,
            subject=body.subject if body else None,
            body=body.body if body else None,
            approved_by=user_id,
        )
    await _mail_sender(request).deliver([mail_id])
    return activity


@router.get("/memory")
async def list_memory(
    filters: Annotated[MemoryFilters, Query()], database: DatabaseDep, principal: PrincipalDep
) -> list[Memory]:
    async with agency_transaction(database, principal) as conn:
        rows = await memories.list_memories(
            conn, subject_type=filters.subject_type, subject_id=filters.subject_id, limit=filters.limit
        )
    return [Memory.model_validate(row) for row in rows]


@router.post("/memory", status_code=201, dependencies=[AI_LIMIT])
async def add_memory(
    body: NewMemory, request: Request, database: DatabaseDep, principal: PrincipalDep
) -> Memory:
    """Remember something about a lead, a client or the agency: agents recall it when relevant."""
    require_agency(principal)
    embedder = _ai(request).embedder
    vector = await memories.embed_one(embedder, body.content)
    async with agency_transaction(database, principal) as conn:
        row = await service.add_memory(
            conn,
            embedder,
            vector,
            subject_type=body.subject_type,
            subject_id=body.subject_id,
            content=body.content,
        )
    return Memory.model_validate(row)


# --- search -------------------------------------------------------------------------------------------


@search_router.get("/search", dependencies=[rate_limited("search")])
async def semantic_search(
    filters: Annotated[SearchFilters, Query()],
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
) -> SearchAnswer:
    """Leads, clients and memories by meaning (embeddings, HNSW) and by words (full text), fused."""
    require_agency(principal)
    embedder = _ai(request).embedder
    (vector,) = await embedder.embed([filters.q])
    async with agency_transaction(database, principal) as conn:
        items = await search.search(
            conn,
            text=filters.q,
            vector=vector_literal(vector),
            model=embedder.model_id,
            kinds=filters.kinds,  # type: ignore[arg-type]
            limit=filters.limit,
        )
    return SearchAnswer(
        items=[SearchResult.model_validate(i) for i in items], embedding_model=embedder.model_id
    )
