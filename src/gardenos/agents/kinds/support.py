"""Support: answers a lead's or a client's question from what the agency knows — the agency's and the
subject's memories (recalled by similarity to the question, plus recency), the subject's timeline and its
record — and drafts the reply as an email activity in the agency's tone. Like a follow-up, the draft is
sent only when a person approves it (`POST /ai/follow-ups/{activity_id}/approve`, optionally edited).

The answer names the facts it rests on (`facts`: each with its source, id and text), so the person who
approves sees what it was built from; when nothing on file answers the question, `answered` is false and
the draft says that a person will come back to them.

Payload: `{"lead_id": "<uuid>"}` or `{"client_id": "<uuid>"}`, and `"question": "the question"`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from gardenos.agents import memory
from gardenos.agents import repository as repo
from gardenos.agents.base import AgentResult, BaseAIAgent, PermanentTaskError, TaskContext, dump, require
from gardenos.agents.kinds.follow_up import TONES
from gardenos.agents.kinds.lead_analysis import _jsonable
from gardenos.agents.llm import GenerationRequest
from gardenos.agents.outputs import SupportAnswer
from gardenos.agents.queue import AgentTask
from gardenos.agents.subjects import load_subject, save_draft
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_one

MAX_QUESTION = 2000
SYSTEM = (
    "You answer questions from an agency's leads and clients on behalf of its account managers, in the "
    "agency's tone ({tone}). Answer only from the facts given (each has an id); never invent prices, "
    "dates or promises. List in `facts_used` the ids of the facts your answer rests on. If the facts do "
    "not answer the question, set `answered` to false and say that a person will get back to them. "
    "`full_message` is 'Subject: <subject>', a blank line, then the body."
)
# Fields of the record that can answer a question (the rest is bookkeeping).
RECORD_FACTS = {
    "company": "Company",
    "job_title": "Job title",
    "website": "Website",
    "city": "City",
    "country": "Country",
    "status": "Stage",
    "notes": "Notes",
}


class SupportAgent(BaseAIAgent):
    agent_type = "support"
    description = "answers a lead's or client's question from memory and timeline, as a draft to approve"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        payload = task.payload
        subject_type: Literal["lead", "client"] = "client" if "client_id" in payload else "lead"
        record_id = require(payload, f"{subject_type}_id", uuid.UUID)
        question = require(payload, "question", str).strip()
        if not question or len(question) > MAX_QUESTION:
            raise PermanentTaskError(f"payload.question must be 1 to {MAX_QUESTION} characters of text")
        query = await memory.embed_one(ctx.runtime.embedder, question)
        async with ctx.tenant() as conn:
            agency = await fetch_one(conn, repo.AGENCY)
            record, timeline = await load_subject(conn, subject_type, record_id, timeline=30)
            memories = await memory.recall(
                conn,
                subject_type=subject_type,
                subject_id=record_id,
                query=query,
                model=ctx.runtime.embedder.model_id,
                limit=8,
            )
        settings = (agency or {}).get("settings") or {}
        tone = settings.get("ai_tone") if settings.get("ai_tone") in TONES else "friendly"
        facts = _facts(record, timeline, memories)
        context = {
            "subject_type": subject_type,
            "question": question,
            "name": record.get("first_name") or record.get("last_name") or record.get("company"),
            "facts": facts,
            "tone": tone,
            "agency_name": (agency or {}).get("name"),
            "sender_name": settings.get("ai_sender_name"),
        }
        generation = await ctx.generate(
            GenerationRequest(
                kind=self.agent_type,
                system=SYSTEM.format(tone=tone),
                prompt="Answer the question. Data (JSON):\n" + json.dumps(context, indent=1),
                context=context,
                schema=SupportAnswer,
            )
        )
        reply = generation.output
        by_id = {f["id"]: f for f in facts}
        used = [by_id[i] for i in dict.fromkeys(reply.facts_used) if i in by_id]
        activity_id = uuid.uuid4()
        note = f"Asked: {question[:500]}"
        vector = await memory.embed_one(ctx.runtime.embedder, note)
        output = dump(reply) | {
            "facts": used,
            "question": question,
            "model": generation.model,
            "tone": tone,
            "activity_id": str(activity_id),
            f"{subject_type}_id": str(record_id),
        }

        async def write(conn: Conn) -> None:
            await save_draft(
                conn,
                activity_id=activity_id,
                subject_type=subject_type,
                record_id=record_id,
                kind="email",
                subject=reply.subject,
                body=reply.body,
                metadata={
                    "ai": "support",
                    "task_id": str(task.id),
                    "model": generation.model,
                    "to": record.get("email"),
                    "question": question,
                    "answered": reply.answered,
                    "facts": [f["id"] for f in used],
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

        return AgentResult(output, write)


def _facts(
    record: dict[str, Any], timeline: list[Any], memories: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What the agency knows, each fact with a stable id (its source and row), its text, and, for
    memories, how close it is to the question."""
    facts: list[dict[str, Any]] = []
    for memo in memories:
        facts.append(
            {
                "id": f"memory:{memo['id']}",
                "source": "agency memory" if memo["subject_type"] == "agency" else "memory",
                "text": str(memo["content"])[:1000],
                "similarity": round(float(memo["similarity"]), 4),
            }
        )
    for activity in timeline:
        if activity.get("status") == "draft":
            continue
        text = " — ".join(str(p) for p in (activity.get("subject"), activity.get("body")) if p)
        if not text:
            continue
        plain = _jsonable(activity)
        facts.append(
            {
                "id": f"activity:{activity['id']}",
                "source": f"{activity['kind']} ({activity['status']})",
                "text": text[:1000],
                "days_ago": None if plain.get("days_ago") is None else round(float(plain["days_ago"]), 1),
            }
        )
    for field, label in RECORD_FACTS.items():
        value = record.get(field)
        if value:
            facts.append({"id": f"record:{field}", "source": "record", "text": f"{label}: {value}"[:1000]})
    return facts
