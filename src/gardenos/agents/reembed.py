"""Re-embedding the records that have no vector of the current model (`gardenos ai reembed`): counting
them and embedding them a batch at a time, on the caller's connection and in its transaction (scoped to
one agency). The agents' SQL for records and vectors stays in agents/repository.py."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal

import psycopg
from psycopg.rows import dict_row

from gardenos.agents import repository as repo

if TYPE_CHECKING:
    from gardenos.agents.embeddings import Embedder

Subject = Literal["lead", "client"]
SUBJECTS: tuple[Subject, ...] = ("lead", "client")
# Where a backfill starts: before every id.
START = repo.NIL_UUID
_COUNT_MISSING = {
    subject: f"SELECT count(*) FROM ({sql.replace('LIMIT %(limit)s', '')}) m"
    for subject, sql in repo.MISSING_EMBEDDINGS.items()
}


def count_missing(conn: psycopg.Connection, subject: Subject, model: str) -> int:
    row = conn.execute(_COUNT_MISSING[subject], {"model": model, "after": START}).fetchone()
    return int(row[0]) if row else 0


async def embed_batch(
    conn: psycopg.Connection, embedder: Embedder, subject: Subject, after: uuid.UUID | str, limit: int
) -> list[uuid.UUID]:
    """Embed up to `limit` records past `after` (in id order, from `START`) that lack a vector of
    `embedder`'s model; the ids done, none when nothing is left."""
    from gardenos.agents.embeddings import vector_literal
    from gardenos.agents.kinds.embed import content_hash

    model = embedder.model_id
    ids = [
        r[0]
        for r in conn.execute(
            repo.MISSING_EMBEDDINGS[subject], {"model": model, "limit": limit, "after": after}
        )
    ]
    if not ids:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        sources = cur.execute(repo.EMBED_SOURCE[subject], {"ids": ids}).fetchall()
    texts = [row["text"] or "" for row in sources]
    vectors = await embedder.embed(texts)
    conn.execute(
        repo.UPSERT_EMBEDDINGS[subject],
        {
            "model": model,
            "ids": [row["id"] for row in sources],
            "vectors": [vector_literal(v) for v in vectors],
            "hashes": [content_hash(t, model) for t in texts],
        },
    )
    return ids
