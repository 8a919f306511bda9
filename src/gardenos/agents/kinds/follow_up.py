"""Follow-up: a subject, a body and the full message for a lead or client, from its timeline and agent
memory, in the agency's tone (`agencies.settings.ai_tone`: friendly, formal or concise). Saved as a
draft email activity: it is sent only when a person approves it (`POST /ai/follow-ups/{id}/approve`).

Payload: `{"lead_id": "<uuid>"}` or `{"client_id": "<uuid>"}`, optionally `"context": "what to say"`;
or `{"lead": {...fields}}` for a draft of a lead that is not stored (answered, nothing saved).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from gardenos.agents import memory
from gardenos.agents import repository as repo
from gardenos.agents.base import AgentResult, BaseAIAgent, PermanentTaskError, TaskContext, dump, require
from gardenos.agents.kinds.lead_analysis import _jsonable
from gardenos.agents.llm import GenerationRequest
from gardenos.agents.outputs import FollowUp
from gardenos.agents.queue import AgentTask
from gardenos.agents.subjects import load_subject, save_draft
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_one

TONES = ("friendly", "formal", "concise")
SYSTEM = (
    "You write follow-up emails for an agency's account managers. Write in the agency's tone ({tone}). "
    "Use the timeline and the memories: refer to the last real contact, never invent facts, keep it short "
    "and end with one clear question. `full_message` is 'Subject: <subject>', a blank line, then the body."
)


class FollowUpAgent(BaseAIAgent):
    agent_type = "follow_up"
    description = "drafts follow-up emails from the timeline and memory, for a person to approve"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        payload = task.payload
        subject_type: Literal["lead", "client"] = "client" if "client_id" in payload else "lead"
        extra = payload.get("context")
        if extra is not None and not isinstance(extra, str):
            raise PermanentTaskError("payload.context must be text")
        async with ctx.tenant() as conn:
            agency = await fetch_one(conn, repo.AGENCY)
            if subject_type == "lead" and "lead" in payload:
                record_id = None
                record: dict[str, Any] = dict(require(payload, "lead", dict))
                timeline: list[Any] = []
                memories: list[dict[str, Any]] = []
            else:
                record_id = require(payload, f"{subject_type}_id", uuid.UUID)
                record, timeline = await load_subject(conn, subject_type, record_id, timeline=15)
                memories = await memory.recall(
                    conn,
                    subject_type=subject_type,
                    subject_id=record_id,
                    query=await memory.embed_one(ctx.runtime.embedder, extra or "what they care about"),
                    model=ctx.runtime.embedder.model_id,
                    limit=5,
                )
        settings = (agency or {}).get("settings") or {}
        tone = settings.get("ai_tone") if settings.get("ai_tone") in TONES else "friendly"
        context = {
            "subject_type": subject_type,
            "record": _jsonable(record),
            "timeline": [_jsonable(a) for a in timeline if a.get("status") != "draft"],
            "memories": [m["content"] for m in memories if m.get("source") == "person"]
            + [m["content"] for m in memories if m.get("source") != "person"],
            "tone": tone,
            "agency_name": (agency or {}).get("name"),
            "sender_name": settings.get("ai_sender_name"),
            "extra_context": extra,
        }
        generation = await ctx.generate(
            GenerationRequest(
                kind=self.agent_type,
                system=SYSTEM.format(tone=tone),
                prompt="Write the follow-up. Data (JSON):\n" + json.dumps(context, indent=1),
                context=context,
                schema=FollowUp,
            )
        )
        draft = generation.output
        output = dump(draft) | {"model": generation.model, "tone": tone}
        if record_id is None:
            return AgentResult(output)
        activity_id = uuid.uuid4()
        note = f"Drafted a follow-up: {draft.subject}"
        vector = await memory.embed_one(ctx.runtime.embedder, note)

        async def write(conn: Conn) -> None:
            await save_draft(
                conn,
                activity_id=activity_id,
                subject_type=subject_type,
                record_id=record_id,
                kind="email",
                subject=draft.subject,
                body=draft.body,
                metadata={
                    "ai": "follow_up",
                    "task_id": str(task.id),
                    "model": generation.model,
                    "to": record.get("email"),
                },
            )
            await memory.write(
                conn,
                subject_type=subject_type,
                subject_id=record_id,
                content=note,
                vector=vector,
                model=ctx.runtime.embedder.model_id,
                source="agent",
            )

        return AgentResult(
            output | {"activity_id": str(activity_id), f"{subject_type}_id": str(record_id)}, write
        )
