"""Agents: queue dispatch, embedding throughput, semantic search.

- Dispatch: tasks/s end to end through `AIOrchestrator` with a no-op agent (NOTIFY wake-up, claim, run,
  complete, each completion acknowledged by the database), against two plain-SQL loops over the same
  table in the same run, doing the same claim and completion statements per task with no Python agent
  machinery: one task per statement over as many connections as there are agents (the classic SKIP
  LOCKED worker loop, the issue's ceiling), and the orchestrator's own pattern — claims of as many tasks
  as it claims at a time (half its agents' prefetch slots), each batch's completion overlapping the next
  claim. Rounds alternate; the table shows the median of each and the machine's load (it is shared).
- Embeddings: texts/s of the offline ONNX MiniLM (batches of 64), and the time that means for 1M leads.
- Search: `vectors` × 384 vectors of low intrinsic dimension (as text embeddings are) loaded first by
  binary COPY, the HNSW index built after (parallel, with room in maintenance_work_mem); then, as the
  API's role under row-level security (the agency holds 80% of the vectors, another agency the rest),
  recall@10 against exact search in the agency and latency percentiles (after warm-up queries) for
  several `hnsw.ef_search`; and the same transaction running `SELECT 1`, the machine's floor.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.support import percentile, private_database
from gardenos.agents import queue, search
from gardenos.agents.base import AgentResult, BaseAIAgent, TaskContext, tenant_claims
from gardenos.agents.embeddings import OnnxMiniLMEmbedder, onnx_files, vector_literal
from gardenos.agents.orchestrator import AIOrchestrator
from gardenos.agents.queue import AgentTask
from gardenos.db.pool import Database
from gardenos.db.target import DatabaseTarget

TASKS = 20_000
AGENTS = 10  # GARDENOS_AI_POOL_MAX's default
# What the orchestrator claims at a time with no-op tasks: half its slots (agents × GARDENOS_AI_PREFETCH's
# default of 4), as it claims again once half are free.
BATCH = AGENTS * 4 // 2
ROUNDS = 3
DIM = 384
EF_SEARCH = (64, 100, 120, 150, 200)
QUERIES = 200
WARM_QUERIES = 500
AGENCY_SHARE = 0.8

FILL = """
INSERT INTO public.agent_tasks (agency_id, agent_type, payload)
SELECT %s, %s, '{}' FROM generate_series(1, %s)
"""
LEFT = "SELECT count(*) FROM public.agent_tasks WHERE agent_type = %s AND status <> 'succeeded'"


class NoOp(BaseAIAgent):
    agent_type = "bench_noop"

    async def run(self, task: AgentTask, ctx: TaskContext) -> AgentResult:
        return AgentResult({})


class CountingOrchestrator(AIOrchestrator):
    """Knows when `expected` tasks were completed (each acknowledged by the database)."""

    expected = 0
    finished = 0
    all_done: asyncio.Event

    def task_finished(self, task: AgentTask, output: Any) -> None:
        self.finished += 1
        if self.finished >= self.expected:
            self.all_done.set()


def run(vectors: int = 1_000_000) -> None:
    console = Console()
    with private_database(
        ai_embedder="hashing", ai_embed_sweep_s=0, ai_autoscale=False, ai_pool_max=AGENTS
    ) as target:
        with target.connect(autocommit=True) as conn:
            agencies = [
                row[0]
                for row in conn.execute(
                    "INSERT INTO agencies (name, slug) VALUES ('Bench', 'bench'), ('Other', 'other') "
                    "RETURNING id"
                ).fetchall()
            ]
        load_before = os.getloadavg()[0]
        dispatch = asyncio.run(_dispatch(target, agencies[0], console))
        load_after = os.getloadavg()[0]
        texts_per_s = _embedding_rate()
        search_figures = _search(target, agencies, vectors, console)

    console.print(_table(dispatch, (load_before, load_after), texts_per_s, vectors, search_figures))


def _table(
    dispatch: dict[str, list[float]],
    load: tuple[float, float],
    texts_per_s: float | None,
    vectors: int,
    search_figures: tuple[float, float, dict[int, tuple[float, list[float]]], list[float]],
) -> Table:
    table = Table(title=f"agents (machine load {load[0]:.1f} → {load[1]:.1f} on {os.cpu_count()} CPUs)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("baseline, same run", justify="right")
    ours, per_task, batched = (statistics.median(dispatch[k]) for k in ("orchestrator", "bare", "batched"))
    rounds = ", ".join(f"{v:,.0f}" for v in dispatch["orchestrator"])
    table.add_row(
        f"dispatch, no-op agent ×{AGENTS}, tasks/s (median; rounds {rounds})",
        f"{ours:,.0f}",
        f"bare loop, 1 task/statement: {per_task:,.0f} (ours {ours / per_task:.0%})",
    )
    table.add_row(
        "",
        "",
        f"bare loop, {BATCH}/claim, overlapped: {batched:,.0f} (ours {ours / batched:.0%})",
    )
    if texts_per_s:
        table.add_row(
            "embedding, ONNX MiniLM int8, batch 64",
            f"{texts_per_s:,.0f} texts/s",
            f"1M leads: {1_000_000 / texts_per_s / 60:,.0f} min",
        )
    load_s, build_s, by_ef, floor = search_figures
    table.add_row(f"search {vectors:,} × {DIM}: load, HNSW build", f"{load_s:,.0f} s, {build_s:,.0f} s", "")
    for ef, (recall, latencies) in by_ef.items():
        table.add_row(
            f"  ef_search {ef}{' (default)' if ef == search.EF_SEARCH else ''}: recall@10, p50/p95",
            f"{recall:.3f}, {percentile(latencies, 50):.1f}/{percentile(latencies, 95):.1f} ms",
            "target ≥ 0.95 at p95 ≤ 15 ms",
        )
    table.add_row(
        "  the same transaction with SELECT 1: p50/p95",
        f"{percentile(floor, 50):.1f}/{percentile(floor, 95):.1f} ms",
        "the machine's floor",
    )
    return table


# --- dispatch -------------------------------------------------------------------------------------------


async def _service_conn(target: DatabaseTarget) -> psycopg.AsyncConnection[Any]:
    conn = await psycopg.AsyncConnection.connect(target.api_url, autocommit=True)
    await conn.execute("SET ROLE service_role")
    return conn


async def _vacuum(target: DatabaseTarget) -> None:
    async with await psycopg.AsyncConnection.connect(target.owner_url, autocommit=True) as conn:
        await conn.execute("VACUUM (ANALYZE) public.agent_tasks")


async def _bare(target: DatabaseTarget, agent_type: str) -> float:
    """The classic worker loop: claim one task (SKIP LOCKED), complete it (fenced), per connection."""
    conns = [await _service_conn(target) for _ in range(AGENTS)]

    async def loop(conn: psycopg.AsyncConnection[Any]) -> None:
        agent = [uuid.uuid4()]
        while True:
            cur = await conn.execute(queue.CLAIM, {"agent_type": agent_type, "agents": agent, "lease_s": 30})
            row = await cur.fetchone()
            if row is None:
                return
            fence = {"id": row[0], "agent": row[7], "attempt": row[5], "result": Jsonb({})}
            await conn.execute(queue.COMPLETE, fence)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(loop(c) for c in conns))
        return TASKS / (time.perf_counter() - started)
    finally:
        for conn in conns:
            await conn.close()


async def _batched(target: DatabaseTarget, agent_type: str) -> float:
    """The orchestrator's statements without the orchestrator: claim `BATCH` tasks per statement, and
    complete each batch on a second connection while the next one is claimed."""
    claimer, completer = await _service_conn(target), await _service_conn(target)
    agents = [uuid.uuid4() for _ in range(BATCH)]
    batches: asyncio.Queue[list[tuple[Any, ...]] | None] = asyncio.Queue(maxsize=1)

    async def claim() -> None:
        while True:
            cur = await claimer.execute(
                queue.CLAIM, {"agent_type": agent_type, "agents": agents, "lease_s": 30}
            )
            rows = await cur.fetchall()
            if not rows:
                await batches.put(None)
                return
            await batches.put(list(rows))

    async def complete() -> None:
        while (rows := await batches.get()) is not None:
            records = [{"id": str(r[0]), "agent": str(r[7]), "attempt": r[5], "result": {}} for r in rows]
            await completer.execute(queue.COMPLETE_MANY, (Jsonb(records),))

    try:
        started = time.perf_counter()
        await asyncio.gather(claim(), complete())
        return TASKS / (time.perf_counter() - started)
    finally:
        await claimer.close()
        await completer.close()


async def _orchestrated(target: DatabaseTarget, database: Database, agency: uuid.UUID, round_: int) -> float:
    agent_type = f"bench_noop_{round_}"
    agent = type(f"NoOp{round_}", (NoOp,), {"agent_type": agent_type})
    orchestrator = CountingOrchestrator(
        database,
        target.settings,
        listen_url=target.api_url,
        agents={agent_type: agent},
        pool_sizes={agent_type: AGENTS},
        background=False,
        autoscale=False,
    )
    orchestrator.expected, orchestrator.all_done = TASKS, asyncio.Event()
    await orchestrator.start()
    await asyncio.sleep(1.0)  # the LISTEN connection is up
    try:
        # The tasks arrive in one transaction; its commit's NOTIFY wakes the pool.
        async with database.transaction("service_role") as conn:
            await conn.execute(FILL, (agency, agent_type, TASKS))
        started = time.perf_counter()
        await orchestrator.all_done.wait()
        elapsed = time.perf_counter() - started
    finally:
        await orchestrator.stop()
    async with database.transaction("service_role") as conn:
        left = await (await conn.execute(LEFT, (agent_type,))).fetchone()
    assert left == (0,), f"{left} tasks not succeeded"
    return TASKS / elapsed


async def _dispatch(target: DatabaseTarget, agency: uuid.UUID, console: Console) -> dict[str, list[float]]:
    database = Database(target.api_url, min_size=2, max_size=AGENTS + 10)
    await database.open()
    figures: dict[str, list[float]] = {"orchestrator": [], "bare": [], "batched": []}
    try:
        with Progress(console=console, transient=True) as progress:
            step = progress.add_task("queue dispatch", total=ROUNDS * 3)
            for round_ in range(ROUNDS):
                for name in ("bare", "orchestrator", "batched"):
                    await _vacuum(target)
                    if name == "orchestrator":
                        rate = await _orchestrated(target, database, agency, round_)
                    else:
                        agent_type = f"bench_{name}_{round_}"
                        async with database.transaction("service_role") as conn:
                            await conn.execute(FILL, (agency, agent_type, TASKS))
                        rate = await (_bare if name == "bare" else _batched)(target, agent_type)
                    figures[name].append(rate)
                    progress.advance(step)
        return figures
    finally:
        await database.close()


# --- embeddings -----------------------------------------------------------------------------------------


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


# --- search ---------------------------------------------------------------------------------------------


def _points(rng: np.random.Generator, projection: Any, count: int) -> Any:
    p = rng.normal(size=(count, projection.shape[0])) @ projection + rng.normal(size=(count, DIM))
    return (p / np.linalg.norm(p, axis=1, keepdims=True)).astype(np.float32)


def _binary_copy(rows: Iterator[tuple[bytes, ...]]) -> Iterator[bytes]:
    """PostgreSQL's binary COPY format: a header, then per row its field count and length-prefixed fields."""
    yield b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
    for fields in rows:
        yield struct.pack("!h", len(fields)) + b"".join(struct.pack("!i", len(f)) + f for f in fields)
    yield struct.pack("!h", -1)


def _vector_bytes(vector: Any) -> bytes:
    """pgvector's binary form: dimensions (int16), unused (int16), float4 values, big-endian."""
    values: bytes = vector.astype(">f4").tobytes()
    return struct.pack("!hh", DIM, 0) + values


def _search(
    target: DatabaseTarget, agencies: list[uuid.UUID], n: int, console: Console, *, load: bool = True
) -> tuple[float, float, dict[int, tuple[float, list[float]]], list[float]]:
    """With `load` false, the vectors (the same: a seeded generator) are already in a kept database."""
    rng = np.random.default_rng(1)
    projection = rng.normal(size=(24, DIM))
    data = np.empty((n, DIM), dtype=np.float32)
    ids = [uuid.UUID(bytes=rng.bytes(16), version=4) for _ in range(n)]
    owners = (rng.random(n) >= AGENCY_SHARE).tolist()  # False: the bench agency's, True: the other's
    chunk = 50_000
    load_s = build_s = 0.0
    started = time.perf_counter()
    with target.connect() as conn, Progress(console=console, transient=True) as progress:
        conn.execute("SET LOCAL gardenos.audit = 'off'")
        conn.execute("SET LOCAL gardenos.subscriptions = 'off'")
        if load:
            conn.execute("DROP INDEX public.record_embeddings_embedding_idx")
        step = progress.add_task(f"loading {n:,} vectors", total=n)
        agency_bytes = [a.bytes for a in agencies]
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            data[start:stop] = _points(rng, projection, stop - start)
            if load:
                _copy(conn, ids, owners, data, agency_bytes, range(start, stop))
            progress.advance(step, stop - start)
        conn.commit()
        if load:
            load_s = time.perf_counter() - started
            progress.add_task("building the HNSW index", total=None)
            started = time.perf_counter()
            conn.execute("SET maintenance_work_mem = '4GB'")
            conn.execute("SET max_parallel_maintenance_workers = 2")
            conn.execute(
                "CREATE INDEX record_embeddings_embedding_idx ON public.record_embeddings "
                "USING hnsw ((embedding::extensions.halfvec(384)) extensions.halfvec_cosine_ops) "
                "WITH (m = 16, ef_construction = 64)"
            )
            conn.commit()
            build_s = time.perf_counter() - started
            conn.autocommit = True
            conn.execute("VACUUM (ANALYZE) public.record_embeddings")
    if load:
        _hold_the_index_in_memory(target)
    queries = _points(rng, projection, QUERIES)
    warm = _points(rng, projection, WARM_QUERIES)
    mine = np.flatnonzero(~np.array(owners))
    theirs = data[mine]
    exact = [{ids[mine[i]] for i in np.argpartition(-(theirs @ q), 10)[:10]} for q in queries]
    asyncio.run(_warm(target, agencies[0], warm))
    by_ef = {ef: asyncio.run(_query(target, agencies[0], queries, exact, ef)) for ef in EF_SEARCH}
    return load_s, build_s, by_ef, asyncio.run(_floor(target, agencies[0]))


async def _floor(target: DatabaseTarget, agency: uuid.UUID) -> list[float]:
    """What a query costs here before any index work: the same transaction, as the same role and claims,
    running `SELECT 1`."""
    database = Database(target.api_url, min_size=1, max_size=2)
    await database.open()
    latencies = []
    try:
        for _ in range(QUERIES):
            started = time.perf_counter()
            async with database.transaction("authenticated", tenant_claims(agency)) as conn:
                await conn.execute("SELECT 1")
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await database.close()
    return latencies


def _hold_the_index_in_memory(target: DatabaseTarget) -> None:
    """As a server sized for its vector index: shared_buffers with room for it (a restart), and the index
    read into them (pg_prewarm) before the first query."""
    with target.connect(autocommit=True) as conn:
        row = conn.execute("SELECT pg_relation_size('public.record_embeddings_embedding_idx')").fetchone()
        assert row is not None
        megabytes = max(512, int(row[0] * 1.5 / 2**20))
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{megabytes}MB'")
    assert target.embedded is not None
    target.embedded.stop()
    target.embedded.start()
    with target.connect(autocommit=True) as fresh:
        fresh.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        fresh.execute("SELECT pg_prewarm('public.record_embeddings_embedding_idx')")


def _copy(
    conn: psycopg.Connection[Any],
    ids: list[uuid.UUID],
    owners: list[bool],
    data: Any,
    agency_bytes: list[bytes],
    rows: range,
) -> None:
    leads = "COPY leads (id, agency_id, first_name) FROM STDIN (FORMAT binary)"
    with conn.cursor().copy(leads) as copy:
        for block in _binary_copy((ids[i].bytes, agency_bytes[owners[i]], b"v") for i in rows):
            copy.write(block)
    with conn.cursor().copy(
        "COPY record_embeddings (agency_id, lead_id, embedding, embedding_model, content_hash) "
        "FROM STDIN (FORMAT binary)"
    ) as copy:
        for block in _binary_copy(
            (agency_bytes[owners[i]], ids[i].bytes, _vector_bytes(data[i]), b"bench", b"x") for i in rows
        ):
            copy.write(block)


async def _warm(target: DatabaseTarget, agency: uuid.UUID, queries: Any) -> None:
    """Queries other than the measured ones, to bring the index's pages into memory first."""
    database = Database(target.api_url, min_size=1, max_size=2)
    await database.open()
    try:
        for query in queries:
            async with database.transaction("authenticated", tenant_claims(agency)) as conn:
                await search.nearest_records(
                    conn, vector_literal(query.tolist()), "bench", 10, ef_search=max(EF_SEARCH)
                )
    finally:
        await database.close()


async def _query(
    target: DatabaseTarget, agency: uuid.UUID, queries: Any, exact: list[set[uuid.UUID]], ef: int
) -> tuple[float, list[float]]:
    """As the API runs it: a transaction as `authenticated` with the agency's claims (RLS), per query."""
    database = Database(target.api_url, min_size=1, max_size=2)
    await database.open()
    recalls, latencies = [], []
    try:
        for query, truth in zip(queries, exact, strict=True):
            literal = vector_literal(query.tolist())
            started = time.perf_counter()
            async with database.transaction("authenticated", tenant_claims(agency)) as conn:
                found = await search.nearest_records(conn, literal, "bench", 10, ef_search=ef)
            latencies.append((time.perf_counter() - started) * 1000)
            recalls.append(len({r["id"] for r in found} & truth) / 10)
    finally:
        await database.close()
    return float(np.mean(recalls)), latencies
