"""What every agent is: `BaseAIAgent`, the context a task runs in, and the errors that decide its fate.

An agent's `run` reads what it needs through `ctx.tenant()` (a transaction as `authenticated` with the
task's agency in the claims: row-level security confines it to that agency), thinks (the LLM provider,
the embedder; no transaction held meanwhile), and returns an `AgentResult`. Its writes, if any, are a
callback that the orchestrator runs in the same tenant transaction that completes the task, fenced by
the attempt's lease: they are committed exactly once, or not at all.
"""

from __future__ import annotations

import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from psycopg.types.json import Jsonb
from pydantic import BaseModel

from gardenos.agents.embeddings import Embedder
from gardenos.agents.llm import Generation, GenerationRequest, LLMError, LLMProvider, T
from gardenos.agents.queue import AgentTask
from gardenos.auth.tokens import agency_claims
from gardenos.db.pool import Conn, Database
from gardenos.settings import Settings

INTERACTION = """
INSERT INTO public.ai_interactions (agency_id, agent_type, agent_id, task_id, attempt, input, output, model,
    prompt_tokens, completion_tokens, cost_usd, latency_ms, outcome, error)
VALUES (%(agency_id)s, %(agent_type)s, %(agent_id)s, %(task_id)s, %(attempt)s, %(input)s, %(output)s,
    %(model)s, %(prompt_tokens)s, %(completion_tokens)s, %(cost_usd)s, %(latency_ms)s, %(outcome)s, %(error)s)
"""


class TaskError(Exception):
    """An attempt failed. Retryable errors go back to the queue (with backoff) until max_retries."""

    retryable = True


class PermanentTaskError(TaskError):
    """No retry can help (a bad payload, a record that is not there): the task fails at once."""

    retryable = False


class LeaseLost(Exception):
    """The attempt lost its lease (cancelled, or taken over after a stall): its results are discarded."""


def tenant_claims(agency_id: uuid.UUID, user_id: uuid.UUID | None = None) -> dict[str, Any]:
    """The claims an agent works under: its task's agency, as the user who asked if there was one."""
    return agency_claims(agency_id, "agent", user_id)


@dataclass(frozen=True)
class AgentRuntime:
    """What agents share in one process."""

    database: Database
    llm: LLMProvider
    embedder: Embedder
    settings: Settings


@dataclass
class Interaction:
    input: dict[str, Any]
    output: dict[str, Any] | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: int
    outcome: str
    error: str | None = None


Writes = Callable[[Conn], Awaitable[None]]


@dataclass
class AgentResult:
    """The task's result (stored on it, returned by `?wait=true`) and the agent's writes, if any."""

    output: dict[str, Any]
    write: Writes | None = None


@dataclass
class TaskContext:
    runtime: AgentRuntime
    task: AgentTask
    interactions: list[Interaction] = field(default_factory=list)

    @property
    def claims(self) -> dict[str, Any]:
        return tenant_claims(self.task.agency_id, self.task.created_by)

    @asynccontextmanager
    async def tenant(self) -> AsyncIterator[Conn]:
        """A short transaction confined to the task's agency (for reading; writes go in `write`)."""
        async with self.runtime.database.transaction("authenticated", self.claims) as conn:
            yield conn

    async def generate(self, request: GenerationRequest[T]) -> Generation[T]:
        """Ask the LLM provider, recording the call (whatever its outcome) for `ai_interactions`."""
        started = time.perf_counter()
        record_input = {"kind": request.kind, "system": request.system, "prompt": request.prompt}
        try:
            generation = await self.runtime.llm.generate(request)
        except LLMError as exc:
            self.interactions.append(
                Interaction(
                    record_input,
                    None,
                    exc.model or self.runtime.llm.model,
                    exc.prompt_tokens,
                    exc.completion_tokens,
                    exc.cost_usd,
                    exc.latency_ms or int((time.perf_counter() - started) * 1000),
                    exc.outcome,
                    exc.message,
                )
            )
            raise
        self.interactions.append(
            Interaction(
                record_input,
                generation.output.model_dump(mode="json"),
                generation.model,
                generation.prompt_tokens,
                generation.completion_tokens,
                generation.cost_usd,
                generation.latency_ms or int((time.perf_counter() - started) * 1000),
                "ok",
            )
        )
        return generation

    async def record_interactions(self, conn: Conn) -> None:
        for item in self.interactions:
            await conn.execute(
                INTERACTION,
                {
                    "agency_id": self.task.agency_id,
                    "agent_type": self.task.agent_type,
                    "agent_id": self.task.agent_id,
                    "task_id": self.task.id,
                    "attempt": self.task.attempt,
                    "input": Jsonb(item.input),
                    "output": Jsonb(item.output) if item.output is not None else None,
                    "model": item.model,
                    "prompt_tokens": item.prompt_tokens,
                    "completion_tokens": item.completion_tokens,
                    "cost_usd": round(item.cost_usd, 6),
                    "latency_ms": item.latency_ms,
                    "outcome": item.outcome,
                    "error": item.error,
                },
            )

    @property
    def tokens(self) -> int:
        return sum(i.prompt_tokens + i.completion_tokens for i in self.interactions)

    @property
    def cost_usd(self) -> float:
        return sum(i.cost_usd for i in self.interactions)


class BaseAIAgent(ABC):
    """One agent of a pool. Subclasses name their `agent_type` and implement `run`."""

    agent_type: ClassVar[str]
    # What the agent does, for /ai/status and `gardenos ai status`.
    description: ClassVar[str] = ""

    def __init__(self, agent_id: uuid.UUID, runtime: AgentRuntime) -> None:
        self.id = agent_id
        self.runtime = runtime

    @abstractmethod
    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        """Do the task's work; raise `TaskError` (or any exception: retried) when it fails."""


def require(payload: dict[str, Any], name: str, kind: type) -> Any:
    """A payload field of the expected type, or a PermanentTaskError saying what is wrong."""
    value = payload.get(name)
    if kind is uuid.UUID:
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise PermanentTaskError(f"payload.{name} must be a uuid, got {json.dumps(value)}") from None
    if not isinstance(value, kind):
        raise PermanentTaskError(f"payload.{name} must be a {kind.__name__}, got {json.dumps(value)}")
    return value


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
