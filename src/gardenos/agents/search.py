"""`GET /api/v1/search`: semantic search (HNSW over the embeddings of leads, clients and agent memory)
fused with full-text search by reciprocal rank.

Runs under the caller's claims: row-level security filters the index scan's rows to the agency. A filter
applied after an HNSW scan would cut its candidates short (ef_search of them, most of another agency's
in a shared index), so the scan is iterative (pgvector ≥ 0.8, `relaxed_order`): it keeps going until it
has found enough of the agency's rows, and the outer query restores the exact order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from psycopg.rows import dict_row

from gardenos.db.pool import Conn

Kind = Literal["lead", "client", "memory"]
RRF_K = 60
# Measured over 1,000,000 × 384 vectors under RLS (the agency holding 80% of them): recall@10 0.96
# (100: 0.94, 150: 0.975); `python -m bench --only agents` measures it again.
EF_SEARCH = 120

TUNE = """
SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', %s, true)
"""
# The index orders by half-precision copies of the vectors (migration 0013); the candidates are re-ranked
# by the full-precision distance.
SEMANTIC_RECORDS = """
WITH nearest AS MATERIALIZED (
    SELECT e.lead_id, e.client_id, e.embedding OPERATOR(extensions.<=>) %(q)s::extensions.vector AS distance
    FROM public.record_embeddings e
    WHERE e.embedding_model = %(model)s
      AND (%(leads)s OR e.lead_id IS NULL) AND (%(clients)s OR e.client_id IS NULL)
    ORDER BY e.embedding::extensions.halfvec(384) OPERATOR(extensions.<=>) %(q)s::extensions.halfvec(384)
    LIMIT %(k)s
)
SELECT coalesce(n.lead_id, n.client_id) AS id,
       CASE WHEN n.lead_id IS NULL THEN 'client' ELSE 'lead' END AS kind,
       (1 - n.distance)::float8 AS similarity
FROM nearest n ORDER BY n.distance
"""
SEMANTIC_MEMORY = """
WITH nearest AS MATERIALIZED (
    SELECT m.id, m.embedding OPERATOR(extensions.<=>) %(q)s::extensions.vector AS distance
    FROM public.agent_memory m
    WHERE m.embedding_model = %(model)s
    ORDER BY m.embedding OPERATOR(extensions.<=>) %(q)s::extensions.vector
    LIMIT %(k)s
)
SELECT n.id, 'memory' AS kind, (1 - n.distance)::float8 AS similarity FROM nearest n ORDER BY n.distance
"""
TEXT = """
(SELECT l.id, 'lead' AS kind FROM public.leads l, websearch_to_tsquery('simple', %(text)s) query
 WHERE %(leads)s AND l.search_vector @@ query
 ORDER BY ts_rank(l.search_vector, query) DESC, l.id LIMIT %(k)s)
UNION ALL
(SELECT c.id, 'client' AS kind FROM public.clients c, websearch_to_tsquery('simple', %(text)s) query
 WHERE %(clients)s AND c.search_vector @@ query
 ORDER BY ts_rank(c.search_vector, query) DESC, c.id LIMIT %(k)s)
UNION ALL
(SELECT m.id, 'memory' AS kind FROM public.agent_memory m
 WHERE %(memory)s AND to_tsvector('simple', m.content) @@ websearch_to_tsquery('simple', %(text)s)
 ORDER BY m.created_at DESC LIMIT %(k)s)
"""
DETAILS = """
SELECT l.id, 'lead' AS kind, concat_ws(' ', l.first_name, l.last_name) AS name, l.company, l.email, l.status,
       NULL::text AS content
FROM public.leads l WHERE l.id = ANY (%(leads)s::uuid[])
UNION ALL
SELECT c.id, 'client', concat_ws(' ', c.first_name, c.last_name), c.company, c.email, c.status, NULL
FROM public.clients c WHERE c.id = ANY (%(clients)s::uuid[])
UNION ALL
SELECT m.id, 'memory', NULL, NULL, NULL, m.subject_type, left(m.content, 300)
FROM public.agent_memory m WHERE m.id = ANY (%(memory)s::uuid[])
"""


async def nearest_records(
    conn: Conn,
    vector: str,
    model: str,
    k: int,
    *,
    leads: bool = True,
    clients: bool = True,
    ef_search: int = EF_SEARCH,
) -> list[dict[str, Any]]:
    """The k records nearest to `vector` among the caller's agency's (approximate: HNSW)."""
    async with conn.pipeline(), conn.cursor(row_factory=dict_row) as cur:
        # The scan's settings and the query in one round trip.
        await conn.execute(TUNE, (str(max(ef_search, k)),))
        await cur.execute(
            SEMANTIC_RECORDS, {"q": vector, "model": model, "k": k, "leads": leads, "clients": clients}
        )
        return [dict(r) for r in await cur.fetchall()]


async def search(
    conn: Conn, *, text: str, vector: str | None, model: str, kinds: Sequence[Kind], limit: int
) -> list[dict[str, Any]]:
    k = max(limit * 2, 20)
    flags = {"leads": "lead" in kinds, "clients": "client" in kinds, "memory": "memory" in kinds}
    semantic: list[dict[str, Any]] = []
    if vector is not None:
        if flags["leads"] or flags["clients"]:
            semantic += await nearest_records(
                conn, vector, model, k, leads=flags["leads"], clients=flags["clients"]
            )
        if flags["memory"]:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(SEMANTIC_MEMORY, {"q": vector, "model": model, "k": k})
                semantic += [dict(r) for r in await cur.fetchall()]
        semantic.sort(key=lambda r: -r["similarity"])
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(TEXT, {"text": text, "k": k} | flags, prepare=False)
        textual = [dict(r) for r in await cur.fetchall()]

    fused: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    for rank, row in enumerate(semantic, 1):
        item = fused.setdefault((row["kind"], row["id"]), _item(row))
        item["semantic_rank"], item["similarity"] = rank, round(row["similarity"], 4)
        item["score"] += 1 / (RRF_K + rank)
    ranks: dict[str, int] = {}
    for row in textual:
        ranks[row["kind"]] = ranks.get(row["kind"], 0) + 1
        item = fused.setdefault((row["kind"], row["id"]), _item(row))
        item["text_rank"] = ranks[row["kind"]]
        item["score"] += 1 / (RRF_K + ranks[row["kind"]])
    best = sorted(fused.values(), key=lambda i: (-i["score"], str(i["id"])))[:limit]
    ids: dict[str, list[uuid.UUID]] = {"leads": [], "clients": [], "memory": []}
    for item in best:
        ids[{"lead": "leads", "client": "clients", "memory": "memory"}[item["type"]]].append(item["id"])
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(DETAILS, ids)
        details = {(r["kind"], r["id"]): r for r in await cur.fetchall()}
    results = []
    for item in best:
        detail = details.get((item["type"], item["id"]))
        if detail is None:
            continue
        if item["type"] == "memory":
            item["title"], item["snippet"] = f"memory ({detail['status']})", detail["content"]
        else:
            item["title"] = detail["name"] or detail["company"] or detail["email"] or str(item["id"])
            item["snippet"] = " · ".join(filter(None, [detail["company"], detail["email"], detail["status"]]))
        item["score"] = round(item["score"], 6)
        results.append(item)
    return results


def _item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": row["kind"],
        "id": row["id"],
        "score": 0.0,
        "semantic_rank": None,
        "text_rank": None,
        "similarity": None,
    }
