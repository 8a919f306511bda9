"""Lead analysis: a quality score (0–100), a conversion probability, next actions and the reasons behind
them, from the lead's fields, its activities and similar past leads that converted or were lost.

Payload: `{"lead_id": "<uuid>"}` (stored on the lead: its `score`, a row in `lead_analyses`, a memory), or
`{"lead": {...fields}}` for a lead that is not stored (answered, nothing written).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from psycopg.types.json import Jsonb

from gardenos.agents import memory
from gardenos.agents import repository as repo
from gardenos.agents.base import AgentResult, BaseAIAgent, PermanentTaskError, TaskContext, dump, require
from gardenos.agents.llm import GenerationRequest
from gardenos.agents.outputs import LeadAnalysis
from gardenos.agents.queue import AgentTask
from gardenos.crm.contacts import store
from gardenos.crm.contacts.fields import LEAD
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_all, fetch_one

SYSTEM = (
    "You are a sales analyst for an agency's CRM. Score the lead's quality from 0 to 100, estimate the "
    "probability that it converts, list up to five concrete next actions, and give the reasons behind the "
    "score: each reason names a factor, the points it added or removed, and the evidence from the data."
)
NEIGHBOURS = 10
ACTIVITIES = 20


class LeadAnalysisAgent(BaseAIAgent):
    agent_type = "lead_analysis"
    description = "scores leads (0–100) with reasons, conversion probability and next actions"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        payload = task.payload
        stored = "lead_id" in payload
        if stored:
            lead_id = require(payload, "lead_id", uuid.UUID)
            async with ctx.tenant() as conn:
                lead = await fetch_one(conn, repo.LEAD, (lead_id,))
                if lead is None:
                    raise PermanentTaskError(f"lead {lead_id} not found (or not in this agency)")
                activities = await fetch_all(
                    conn, repo.ACTIVITIES, {"lead_id": lead_id, "client_id": None, "limit": ACTIVITIES}
                )
                neighbours = await fetch_all(conn, repo.NEIGHBOURS, {"lead_id": lead_id, "limit": NEIGHBOURS})
                memories = await memory.recall(
                    conn,
                    subject_type="lead",
                    subject_id=lead_id,
                    query=await memory.embed_one(ctx.runtime.embedder, "lead quality, interest, budget"),
                    model=ctx.runtime.embedder.model_id,
                    limit=5,
                )
        else:
            raw = require(payload, "lead", dict)
            lead, activities, neighbours, memories = dict(raw), list(raw.get("activities") or []), [], []
        context = {
            "lead": _jsonable(lead),
            "activities": [_jsonable(a) for a in activities],
            "neighbours": [_jsonable(n) for n in neighbours],
            "memories": [m["content"] for m in memories],
        }
        generation = await ctx.generate(
            GenerationRequest(
                kind=self.agent_type,
                system=SYSTEM,
                prompt="Analyse this lead. Data (JSON):\n" + json.dumps(context, indent=1),
                context=context,
                schema=LeadAnalysis,
            )
        )
        analysis = generation.output
        output = dump(analysis) | {"model": generation.model}
        if not stored:
            return AgentResult(output)
        lead_id = lead["id"]
        summary = (
            f"Analysis: score {analysis.quality_score}, conversion {analysis.conversion_probability:.0%}; "
            + "; ".join(f"{r.factor} ({r.points:+d})" for r in analysis.reasons[:4])
        )
        vector = await memory.embed_one(ctx.runtime.embedder, summary)

        async def write(conn: Conn) -> None:
            # The one write path of people records (crm/contacts), as any other change to a lead.
            await store.update(conn, LEAD, lead_id, {"score": analysis.quality_score})
            await conn.execute(
                repo.SAVE_ANALYSIS,
                {
                    "lead_id": lead_id,
                    "task_id": task.id,
                    "quality_score": analysis.quality_score,
                    "conversion_probability": analysis.conversion_probability,
                    "next_actions": Jsonb(analysis.next_actions),
                    "reasons": Jsonb([r.model_dump() for r in analysis.reasons]),
                    "model": generation.model,
                },
            )
            await memory.write(
                conn,
                subject_type="lead",
                subject_id=lead_id,
                content=summary,
                vector=vector,
                model=ctx.runtime.embedder.model_id,
                source="agent",
            )

        return AgentResult(output | {"lead_id": str(lead_id)}, write)


def _jsonable(row: Any) -> dict[str, Any]:
    """A row as plain JSON values (uuids and times as text, decimals as numbers)."""
    plain: dict[str, Any] = json.loads(json.dumps(dict(row), default=_default))
    return plain


def _default(value: Any) -> Any:
    if isinstance(value, float | int):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
