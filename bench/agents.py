"""Agents: queue dispatch, embedding throughput, semantic search.

- Dispatch: tasks/s end to end through `AIOrchestrator` with a no-op agent (claim, run, complete);
  baseline in the same run: a bare SQL loop that claims and completes with one SKIP LOCKED statement per
  task over as many connections (the ceiling any queue on this table can reach).
- Embeddings: texts/s of the offline ONNX MiniLM (batches of 64), and the time that means for 1M leads.
- Search: recall@10 of the HNSW search (under RLS, iterative scan) against exact search, and its latency,
  over `vectors` × 384 vectors of low intrinsic dimension (as text embeddings are).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.support import percentile, private_database
from gardenos.agents import search
from gardenos.agents.base import AgentResult, BaseAIAgent, TaskContext, tenant_claims
from gardenos.agents.embeddings import OnnxMiniLMEmbedder, onnx_files, vector_literal
from gardenos.agents.orchestrator import AIOrchestrator
from gardenos.agents.queue import AgentTask
from gardenos.db.pool import Database
from gardenos.db.target import DatabaseTarget

TASKS = 20_000
WORKERS = 10
BARE_LOOP = """
WITH c AS (
    SELECT q.id FROM public.agent_tasks q
    WHERE q.status = 'queued' AND q.agent_type = %s AND q.run_after <= now()
    ORDER BY q.priority DESC, q.run_after, q.id LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE public.agent_tasks t SET status = 'succeeded', attempts = t.attempts + 1, started_at = now(),
    finished_at = now()
FROM c WHERE t.id = c.id RETURNING t.id
"""
FILL = """
INSERT INTO public.agent_tasks (agency_id, agent_type, payload)
SELECT %s, %s, '{}' FROM generate_series(1, %s)
"""
LEFT = "SELECT count(*) FROM public.agent_tasks WHERE agent_type = %s AND status <> 'succeeded'"


class NoOp(BaseAIAgent):
    agent_type = "bench_noop"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        return AgentResult({})


def run(vectors: int = 1_000_000) -> None:
    console = Console()
    with private_database(ai_embedder="hashing", ai_embed_sweep_s=0, ai_autoscale=False) as target:
        with target.connect(autocommit=True) as conn:
            agency = conn.execute(
                "INSERT INTO agencies (name, slug) VALUES ('Bench', 'bench') RETURNING id"
            ).fetchone()
        assert agency is not None
        bare, dispatched = asyncio.run(_dispatch(target, agency[0]))
        texts_per_s = _embedding_rate()
        recall, latencies = _search(target, agency[0], vectors)

    table = Table(title="agents")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("baseline (same run)", justify="right")
    table.add_row(
        "queue dispatch, no-op agent",
        f"{dispatched:,.0f} tasks/s",
        f"bare SKIP LOCKED loop: {bare:,.0f} tasks/s ({dispatched / bare:.0%})",
    )
    if texts_per_s:
        table.add_row(
            "embedding (ONNX MiniLM int8, batch 64)",
            f"{texts_per_s:,.0f} texts/s",
            f"1M leads: {1_000_000 / texts_per_s / 60:,.0f} min",
        )
    table.add_row(f"semantic search, {vectors:,} × 384, recall@10", f"{recall:.3f}", "exact search = 1")
    table.add_row(
        "semantic search latency p50 / p95",
        f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f} ms",
        "",
    )
    console.print(table)


async def _dispatch(target: DatabaseTarget, agency: uuid.UUID) -> tuple[float, float]:
    database = Database(target.api_url, min_size=WORKERS, max_size=WORKERS + 10)
    await database.open()
    try:
        async with database.transaction("service_role") as conn:
            await conn.execute(FILL, (agency, "bench_bare", TASKS))

        async def loop() -> None:
            while True:
                async with database.transaction("service_role") as conn:
                    cur = await conn.execute(BARE_LOOP, ("bench_bare",))
                    if await cur.fetchone() is None:
                        return

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(WORKERS)))
        bare = TASKS / (time.perf_counter() - started)

        async with database.transaction("service_role") as conn:
            await conn.execute(FILL, (agency, NoOp.agent_type, TASKS))
        orchestrator = AIOrchestrator(
            database,
            target.settings,
            listen_url=target.api_url,
            agents={NoOp.agent_type: NoOp},
            pool_sizes={NoOp.agent_type: WORKERS},
            background=False,
        )
        started = time.perf_counter()
        await orchestrator.start()
        while True:
            async with database.transaction("service_role") as conn:
                left = await (await conn.execute(LEFT, (NoOp.agent_type,))).fetchone()
            if left is not None and left[0] == 0:
                break
            await asyncio.sleep(0.05)
        dispatched = TASKS / (time.perf_counter() - started)
        await orchestrator.stop()
        return bare, dispatched
    finally:
        await database.close()


def _embedding_rate() -> float | None:
    files = onnx_files()
    if files is None:
        return None
    embedder = OnnxMiniLMEmbedder(*files)
    texts = [
        f"Lead {i} | Jane Doe | Head of Operations | Acme Gardens {i % 97} | Berlin, DE | source: web"
        for i in range(1024)
    ]
    embedder.embed_sync(texts[:64])  # load the model
    started = time.perf_counter()
    embedder.embed_sync(texts)
    return len(texts) / (time.perf_counter() - started)


def _search(target: DatabaseTarget, agency: uuid.UUID, n: int) -> tuple[float, list[float]]:
    rng = np.random.default_rng(1)
    projection = rng.normal(size=(24, 384))

    def points(count: int) -> Any:
        p = rng.normal(size=(count, 24)) @ projection + rng.normal(size=(count, 384))
        return (p / np.linalg.norm(p, axis=1, keepdims=True)).astype(np.float32)

    data = points(n)
    ids = [uuid.uuid4() for _ in range(n)]
    with target.connect() as conn:
        conn.execute("SET LOCAL gardenos.audit = 'off'")
        conn.execute("SET LOCAL gardenos.subscriptions = 'off'")
        with conn.cursor().copy("COPY leads (id, agency_id, first_name) FROM STDIN") as copy:
            for lead_id in ids:
                copy.write_row((lead_id, agency, "v"))
        with conn.cursor().copy(
            "COPY record_embeddings (agency_id, lead_id, embedding, embedding_model, content_hash) FROM STDIN"
        ) as copy:
            for lead_id, vector in zip(ids, data, strict=True):
                copy.write_row((agency, lead_id, vector_literal(vector.tolist()), "bench", "x"))
        conn.commit()
        conn.execute("ANALYZE record_embeddings")
        conn.commit()
    queries = points(100)
    return asyncio.run(_query(target, agency, ids, data, queries))


async def _query(
    target: DatabaseTarget, agency: uuid.UUID, ids: list[uuid.UUID], data: Any, queries: Any
) -> tuple[float, list[float]]:
    database = Database(target.api_url, min_size=1, max_size=2)
    await database.open()
    recalls, latencies = [], []
    try:
        for query in queries:
            exact = {ids[i] for i in np.argsort(-(data @ query))[:10]}
            started = time.perf_counter()
            async with database.transaction("authenticated", tenant_claims(agency)) as conn:
                found = await search.nearest_records(conn, vector_literal(query.tolist()), "bench", 10)
            latencies.append((time.perf_counter() - started) * 1000)
            recalls.append(len({r["id"] for r in found} & exact) / 10)
    finally:
        await database.close()
    return float(np.mean(recalls)), latencies
