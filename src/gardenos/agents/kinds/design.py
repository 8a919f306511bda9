"""Design / proposal: a quote drafted from a client's (or lead's) needs and the agency's price list
(`price_list_items`). The model picks items and quantities; prices and totals always come from the list.
Saved as a draft note on the record. Payload: `{"lead_id" | "client_id": "<uuid>", "needs": "text"}`.
"""

from __future__ import annotations

import json
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gardenos.agents import repository as repo
from gardenos.agents.base import AgentResult, BaseAIAgent, PermanentTaskError, TaskContext, require
from gardenos.agents.kinds.lead_analysis import _jsonable
from gardenos.agents.llm import GenerationRequest
from gardenos.agents.outputs import ProposalDraft
from gardenos.agents.queue import AgentTask
from gardenos.agents.subjects import SubjectType, save_draft
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_all, fetch_one

SYSTEM = (
    "You draft quotes for an agency. Choose items from the price list (by sku) and quantities that meet the "
    "client's needs; do not invent items or prices. Write a short introduction and closing."
)
CENT = Decimal("0.01")


class DesignAgent(BaseAIAgent):
    agent_type = "design"
    description = "drafts quotes and proposals from a client's needs and the agency's price list"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        payload = task.payload
        subject_type: SubjectType = "client" if "client_id" in payload else "lead"
        record_id = require(payload, f"{subject_type}_id", uuid.UUID)
        needs = require(payload, "needs", str).strip()
        if not needs:
            raise PermanentTaskError("payload.needs must say what the client needs")
        async with ctx.tenant() as conn:
            record = await fetch_one(conn, repo.LEAD if subject_type == "lead" else repo.CLIENT, (record_id,))
            if record is None:
                raise PermanentTaskError(f"{subject_type} {record_id} not found (or not in this agency)")
            items = await fetch_all(conn, repo.PRICE_LIST)
        if not items:
            raise PermanentTaskError("the agency's price list is empty: add items to price_list_items first")
        context = {"record": _jsonable(record), "needs": needs, "price_list": [_jsonable(i) for i in items]}
        generation = await ctx.generate(
            GenerationRequest(
                kind=self.agent_type,
                system=SYSTEM,
                prompt="Draft the proposal. Data (JSON):\n" + json.dumps(context, indent=1),
                context=context,
                schema=ProposalDraft,
            )
        )
        draft = generation.output
        by_sku = {item["sku"]: item for item in items}
        unknown = [line.sku for line in draft.lines if line.sku not in by_sku]
        if unknown:
            raise PermanentTaskError(f"the draft names items that are not on the price list: {unknown}")
        lines: list[dict[str, Any]] = []
        total = Decimal(0)
        currencies = {by_sku[line.sku]["currency"] for line in draft.lines}
        for line in draft.lines:
            item = by_sku[line.sku]
            quantity = Decimal(str(line.quantity))
            amount = (quantity * item["unit_price"]).quantize(CENT, ROUND_HALF_UP)
            total += amount
            lines.append(
                {
                    "sku": line.sku,
                    "name": item["name"],
                    "quantity": float(quantity),
                    "unit": item["unit"],
                    "unit_price": float(item["unit_price"]),
                    "amount": float(amount),
                    "note": line.note,
                }
            )
        proposal = {
            "title": draft.title,
            "introduction": draft.introduction,
            "lines": lines,
            "total": float(total),
            "currency": currencies.pop() if len(currencies) == 1 else "mixed",
            "closing": draft.closing,
        }
        activity_id = uuid.uuid4()
        body = "\n".join(
            [draft.introduction, ""]
            + [
                f"- {ln['quantity']:g} {ln['unit']} {ln['name']} × {ln['unit_price']:.2f} "
                f"= {ln['amount']:.2f}"
                for ln in lines
            ]
            + ["", f"Total: {proposal['total']:.2f} {proposal['currency']}", "", draft.closing]
        )

        async def write(conn: Conn) -> None:
            await save_draft(
                conn,
                activity_id=activity_id,
                subject_type=subject_type,
                record_id=record_id,
                kind="note",
                subject=draft.title,
                body=body,
                metadata={"ai": "design", "task_id": str(task.id), "proposal": proposal},
            )

        return AgentResult(
            {"proposal": proposal, "activity_id": str(activity_id), "model": generation.model}, write
        )
