"""Semantic search recall@10 against exact search, under RLS with another agency's vectors in the same
index; subscriptions fired from database events, once each."""

from __future__ import annotations

import json
import uuid

import numpy as np
import psycopg
import pytest

from gardenos.agents import search
from gardenos.agents.base import tenant_claims
from gardenos.agents.embeddings import vector_literal
from gardenos.db.pool import Database
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio

MODEL = "test-random-384"


def _load_vectors(owner: psycopg.Connection, agency: uuid.UUID, vectors: np.ndarray) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(len(vectors))]
    # Synthetic leads with vectors of their own model: no embedding jobs (the leads table queues them for
    # new leads, and an embed pool running in the session would add vectors of another model).
    with owner.transaction(), owner.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        with cur.copy("COPY leads (id, agency_id, first_name) FROM STDIN") as copy:
            for i, lead_id in enumerate(ids):
                copy.write_row((lead_id, agency, f"Vec {i}"))
    with (
        owner.cursor() as cur,
        cur.copy(
            "COPY record_embeddings (agency_id, lead_id, embedding, embedding_model, content_hash) FROM STDIN"
        ) as copy,
    ):
        for lead_id, vector in zip(ids, vectors, strict=True):
            copy.write_row((agency, lead_id, vector_literal(vector.tolist()), MODEL, "x"))
    return ids


def _unit(rng: np.random.Generator, projection: np.ndarray, n: int) -> np.ndarray:
    """Text embeddings have a low intrinsic dimension: points of a 24-d latent space projected to 384-d,
    plus isotropic noise. (Uniformly random 384-d points, all nearly equidistant, are not like them.)"""
    points = rng.normal(size=(n, projection.shape[0])) @ projection + rng.normal(size=(n, 384))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


async def test_semantic_search_recall_at_10_against_exact_search(
    database: SessionDatabase,
    db: Database,
    agency: uuid.UUID,
    other_agency: uuid.UUID,
    owner_conn: psycopg.Connection,
) -> None:
    rng = np.random.default_rng(42)
    projection = rng.normal(size=(24, 384))
    mine, theirs = _unit(rng, projection, 3000), _unit(rng, projection, 3000)
    my_ids = _load_vectors(owner_conn, agency, mine)
    their_ids = set(_load_vectors(owner_conn, other_agency, theirs))
    owner_conn.execute("ANALYZE record_embeddings")

    queries = _unit(rng, projection, 50)
    recalls = []
    for query in queries:
        exact = {my_ids[i] for i in np.argsort(-(mine @ query))[:10]}
        async with db.transaction("authenticated", tenant_claims(agency)) as conn:
            found = await search.nearest_records(conn, vector_literal(query.tolist()), MODEL, 10)
            # The search's own statement, planned as the API's role: an HNSW index scan.
            plan = await (
                await conn.execute(
                    "EXPLAIN " + search.SEMANTIC_RECORDS,
                    {
                        "q": vector_literal(query.tolist()),
                        "model": MODEL,
                        "k": 10,
                        "leads": True,
                        "clients": True,
                    },
                )
            ).fetchall()
        ids = {row["id"] for row in found}
        assert not ids & their_ids, "another agency's rows came back"
        assert len(found) == 10
        recalls.append(len(ids & exact) / 10)
    assert "record_embeddings_embedding_idx" in json.dumps([r[0] for r in plan])
    assert float(np.mean(recalls)) >= 0.9, f"recall@10 = {np.mean(recalls):.3f}"


async def test_subscriptions_fire_from_database_events_once_each(
    db: Database, agency: uuid.UUID, owner_conn: psycopg.Connection
) -> None:
    owner_conn.execute(
        """INSERT INTO agent_subscriptions (agency_id, event, agent_type, config) VALUES
           (%(a)s, 'lead.created', 'lead_analysis', '{}'),
           (%(a)s, 'lead.status_changed', 'insight', '{"priority": 3}'),
           (%(a)s, 'lead.stale', 'follow_up', '{"days": 7}')""",
        {"a": agency},
    )
    claims = json.dumps(tenant_claims(agency))
    with owner_conn.transaction():
        owner_conn.execute(
            "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
            (claims,),
        )
        lead = owner_conn.execute(
            "INSERT INTO leads (first_name, created_at) "
            "VALUES ('Sub', now() - interval '30 days') RETURNING id"
        ).fetchone()
        assert lead is not None
        owner_conn.execute("UPDATE leads SET status = 'contacted' WHERE id = %s", (lead[0],))
        owner_conn.execute("UPDATE leads SET notes = 'no status change' WHERE id = %s", (lead[0],))

    from gardenos.agents.orchestrator import FIRE_STALE

    for _ in range(2):  # evaluated twice (two workers, or twice in a row): fires once
        async with db.transaction("service_role") as conn:
            await conn.execute(FIRE_STALE)
    rows = owner_conn.execute(
        # The lead's embedding job is the table's own (tests/integration/crm/test_embedding_jobs.py).
        "SELECT agent_type, priority, payload ->> 'event' FROM agent_tasks "
        "WHERE agency_id = %s AND agent_type <> 'embed' ORDER BY agent_type",
        (agency,),
    ).fetchall()
    assert rows == [
        ("follow_up", 4, "lead.stale"),
        ("insight", 3, "lead.status_changed"),
        ("lead_analysis", 5, "lead.created"),
    ]
    with pytest.raises(psycopg.errors.CheckViolation):
        owner_conn.execute(
            "INSERT INTO agent_subscriptions (agency_id, event, agent_type) "
            "VALUES (%s, 'lead.exploded', 'insight')",
            (agency,),
        )
