"""Echo: the queue's diagnostic agent. It answers its payload and the agency it ran as (read back from the
database under the task's claims); `sleep_s` (≤ 60) holds it busy, and `note` writes an agency memory in
the completing transaction, so a test or an operator can see that a task's effects land exactly once."""

from __future__ import annotations

import asyncio

from gardenos.agents import memory
from gardenos.agents.base import AgentResult, BaseAIAgent, PermanentTaskError, TaskContext
from gardenos.agents.embeddings import HashingEmbedder
from gardenos.agents.queue import AgentTask
from gardenos.db.pool import Conn

AS_AGENCY = "SELECT auth.agency_id()::text"


class EchoAgent(BaseAIAgent):
    agent_type = "echo"
    description = "diagnostics: answers its payload (and can sleep or write a memory)"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        sleep_s = task.payload.get("sleep_s", 0)
        if not isinstance(sleep_s, int | float) or not 0 <= sleep_s <= 60:
            raise PermanentTaskError("payload.sleep_s must be a number of seconds from 0 to 60")
        if sleep_s:
            await asyncio.sleep(sleep_s)
        note = task.payload.get("note")
        if note is None and not task.payload.get("whoami"):
            return AgentResult({"echo": task.payload})
        async with ctx.tenant() as conn:
            cur = await conn.execute(AS_AGENCY)
            row = await cur.fetchone()
        output = {"echo": task.payload, "agency_id": row[0] if row else None}
        if note is None:
            return AgentResult(output)
        # Hashing: a diagnostic should not wait for a model to load.
        vector = await memory.embed_one(HashingEmbedder(), str(note))

        async def write(conn: Conn) -> None:
            await memory.write(
                conn,
                subject_type="agency",
                subject_id=None,
                content=str(note),
                vector=vector,
                model=HashingEmbedder.model_id,
                source="system",
            )

        return AgentResult(output, write)
