"""Embed: vectors for leads and clients, for semantic search and similar-lead neighbours.

Payloads: `{"subject": "lead" | "client", "ids": ["<uuid>", …]}` (up to a few thousand ids; the importer
enqueues these at priority 2), or `{"subject": …, "missing": true, "limit": 1000}`: records without a
vector of the current model (the periodic sweep, and `gardenos ai reembed` after a model change). Ids
that are not in the task's agency are not visible to it and are skipped. A record whose text did not
change since its vector was made keeps it.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from gardenos.agents import repository as repo
from gardenos.agents.base import AgentResult, BaseAIAgent, PermanentTaskError, TaskContext
from gardenos.agents.embeddings import vector_literal
from gardenos.agents.queue import AgentTask
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_all

MAX_IDS = 5000
SUBJECTS = ("lead", "client")


def content_hash(text: str, model: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()[:32]


class EmbedAgent(BaseAIAgent):
    agent_type = "embed"
    description = "embeds leads and clients (384-d) for semantic search"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        payload = task.payload
        subject = payload.get("subject")
        if subject not in SUBJECTS:
            raise PermanentTaskError(f"payload.subject must be one of {list(SUBJECTS)}, got {subject!r}")
        model = ctx.runtime.embedder.model_id
        async with ctx.tenant() as conn:
            if payload.get("missing"):
                limit = payload.get("limit", 1000)
                if not isinstance(limit, int) or not 1 <= limit <= MAX_IDS:
                    raise PermanentTaskError(f"payload.limit must be 1 to {MAX_IDS}")
                rows = await fetch_all(
                    conn,
                    repo.MISSING_EMBEDDINGS[subject],
                    {"model": model, "limit": limit, "after": repo.NIL_UUID},
                )
                ids = [row["id"] for row in rows]
            else:
                ids = _ids(payload.get("ids"))
            sources = await fetch_all(conn, repo.EMBED_SOURCE[subject], {"ids": ids}) if ids else []
            existing = (
                await fetch_all(conn, repo.EXISTING_HASHES[subject], {"ids": ids, "model": model})
                if ids
                else []
            )
        known = {row[f"{subject}_id"]: row["content_hash"] for row in existing}
        todo = [(row["id"], row["text"] or "", content_hash(row["text"] or "", model)) for row in sources]
        todo = [item for item in todo if known.get(item[0]) != item[2]]
        vectors = await ctx.runtime.embedder.embed([text for _, text, _ in todo]) if todo else []
        output: dict[str, Any] = {
            "subject": subject,
            "model": model,
            "requested": len(ids),
            "visible": len(sources),
            "embedded": len(todo),
            "unchanged": len(sources) - len(todo),
        }
        if not todo:
            return AgentResult(output)
        params = {
            "model": model,
            "ids": [record_id for record_id, _, _ in todo],
            "vectors": [vector_literal(v) for v in vectors],
            "hashes": [digest for _, _, digest in todo],
        }

        async def write(conn: Conn) -> None:
            await conn.execute(repo.UPSERT_EMBEDDINGS[subject], params)

        return AgentResult(output, write)


def _ids(value: Any) -> list[uuid.UUID]:
    if not isinstance(value, list) or not value:
        raise PermanentTaskError('payload.ids must be a non-empty list of uuids (or pass "missing": true)')
    if len(value) > MAX_IDS:
        raise PermanentTaskError(f"payload.ids has {len(value)} ids; at most {MAX_IDS} per task")
    try:
        return list(dict.fromkeys(uuid.UUID(str(v)) for v in value))
    except ValueError as exc:
        raise PermanentTaskError(f"payload.ids must hold uuids: {exc}") from None
