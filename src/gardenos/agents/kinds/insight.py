"""Insight: the agency's pipeline in numbers (conversion by source and stage, stale leads, time to first
contact), computed in SQL, with a summary and recommendations in prose. Payload: `{"stale_days": 14}`
(optional)."""

from __future__ import annotations

import json
from typing import Any

from gardenos.agents import repository as repo
from gardenos.agents.base import AgentResult, BaseAIAgent, PermanentTaskError, TaskContext, dump
from gardenos.agents.kinds.lead_analysis import _jsonable
from gardenos.agents.llm import GenerationRequest
from gardenos.agents.outputs import InsightText
from gardenos.agents.queue import AgentTask
from gardenos.db.rows import fetch_all, fetch_one

SYSTEM = (
    "You are a sales-operations analyst. From the agency's pipeline metrics, write a short summary of what "
    "the numbers say and up to five concrete recommendations. Quote the numbers; do not invent any."
)


class InsightAgent(BaseAIAgent):
    agent_type = "insight"
    description = "pipeline analytics with recommendations in prose"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        stale_days = task.payload.get("stale_days", 14)
        if not isinstance(stale_days, int) or not 1 <= stale_days <= 365:
            raise PermanentTaskError("payload.stale_days must be a whole number of days, 1 to 365")
        async with ctx.tenant() as conn:
            totals = await fetch_one(conn, repo.INSIGHT_TOTALS, {"stale_days": stale_days})
            by_source = await fetch_all(conn, repo.INSIGHT_BY_SOURCE)
            by_stage = await fetch_all(conn, repo.INSIGHT_BY_STAGE)
            response = await fetch_one(conn, repo.INSIGHT_RESPONSE)
        metrics: dict[str, Any] = _jsonable(totals or {}) | {
            "stale_days": stale_days,
            "by_source": [_jsonable(r) for r in by_source],
            "by_stage": [_jsonable(r) for r in by_stage],
            "median_first_response_hours": (response or {}).get("median_first_response_hours"),
        }
        context = {"metrics": metrics}
        generation = await ctx.generate(
            GenerationRequest(
                kind=self.agent_type,
                system=SYSTEM,
                prompt="Pipeline metrics (JSON):\n" + json.dumps(context, indent=1),
                context=context,
                schema=InsightText,
            )
        )
        return AgentResult({"metrics": metrics} | dump(generation.output) | {"model": generation.model})
