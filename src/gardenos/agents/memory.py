"""Agent memory: short texts about a lead, a client or the agency, written by agents and by people, with
an embedding. Retrieval ranks by similarity to what the agent is about to do, plus recency (a 30-day
half-life), and feeds every prompt."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from psycopg.rows import dict_row

from gardenos.agents.embeddings import Embedder, vector_literal
from gardenos.db.pool import Conn

SubjectType = Literal["agency", "lead", "client"]

WRITE = """
INSERT INTO public.agent_memory AS m (agency_id, subject_type, subject_id, content, embedding,
    embedding_model, source, created_by)
VALUES (auth.agency_id(), %(subject_type)s, %(subject_id)s, %(content)s, %(embedding)s::extensions.vector,
    %(model)s, %(source)s, auth.uid())
RETURNING m.id, m.subject_type, m.subject_id, m.content, m.embedding_model, m.source, m.created_by,
    m.created_at
"""
# The subject's own memories and the agency's, scored 0.8·similarity + 0.2·recency.
RECALL = """
SELECT m.id, m.subject_type, m.subject_id, m.content, m.source, m.created_at,
       (1 - (m.embedding OPERATOR(extensions.<=>) %(query)s::extensions.vector))::float8 AS similarity,
       (0.8 * (1 - (m.embedding OPERATOR(extensions.<=>) %(query)s::extensions.vector))
        + 0.2 * power(0.5, extract(epoch FROM now() - m.created_at) / (30 * 86400)))::float8 AS score
FROM public.agent_memory m
WHERE m.embedding_model = %(model)s
  AND ((m.subject_type = %(subject_type)s AND m.subject_id = %(subject_id)s) OR m.subject_type = 'agency')
ORDER BY score DESC, m.created_at DESC
LIMIT %(limit)s
"""
LIST = """
SELECT m.id, m.subject_type, m.subject_id, m.content, m.embedding_model, m.source, m.created_by, m.created_at
FROM public.agent_memory m
WHERE (%(subject_type)s::text IS NULL OR m.subject_type = %(subject_type)s::text)
  AND (%(subject_id)s::uuid IS NULL OR m.subject_id = %(subject_id)s::uuid)
ORDER BY m.created_at DESC, m.id DESC
LIMIT %(limit)s
"""


async def embed_one(embedder: Embedder, text: str) -> str:
    (vector,) = await embedder.embed([text])
    return vector_literal(vector)


async def write(
    conn: Conn,
    *,
    subject_type: SubjectType,
    subject_id: uuid.UUID | None,
    content: str,
    vector: str,
    model: str,
    source: Literal["agent", "person", "system"],
) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            WRITE,
            {
                "subject_type": subject_type,
                "subject_id": subject_id,
                "content": content,
                "embedding": vector,
                "model": model,
                "source": source,
            },
        )
        row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def recall(
    conn: Conn,
    *,
    subject_type: SubjectType,
    subject_id: uuid.UUID | None,
    query: str,
    model: str,
    limit: int = 5,
) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            RECALL,
            {
                "subject_type": subject_type,
                "subject_id": subject_id,
                "query": query,
                "model": model,
                "limit": limit,
            },
            prepare=False,
        )
        return [dict(row) for row in await cur.fetchall()]


async def list_memories(
    conn: Conn, *, subject_type: str | None, subject_id: uuid.UUID | None, limit: int
) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            LIST, {"subject_type": subject_type, "subject_id": subject_id, "limit": limit}, prepare=False
        )
        return [dict(row) for row in await cur.fetchall()]
