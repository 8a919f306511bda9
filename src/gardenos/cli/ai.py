"""`gardenos ai …`: the agents' pools and queues, as the operator (every agency).

The agents, their providers (openai, onnxruntime) and their kinds are imported by the commands that use
them, not here: `gardenos --help` and the other commands would pay a second or more for them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import typer
from psycopg.rows import dict_row
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gardenos.agents import queue
from gardenos.agents import reembed as backfill
from gardenos.cli.console import console, err_console, print_json
from gardenos.cli.target import database_target
from gardenos.db.target import DatabaseTarget
from gardenos.errors import BadRequest, NotFound
from gardenos.settings import get_settings

if TYPE_CHECKING:
    from gardenos.agents.embeddings import Embedder

app = typer.Typer(help="The AI agents: pools, queues, tasks, re-embedding.", no_args_is_help=True)

POOLS = """
SELECT a.agent_type, count(*) AS agents, count(*) FILTER (WHERE a.status = 'busy') AS busy,
       count(DISTINCT a.worker) AS processes, sum(a.tasks_done) AS done
FROM public.ai_agents a WHERE a.stopped_at IS NULL GROUP BY 1 ORDER BY 1
"""
QUEUES = """
SELECT t.agent_type, t.status, count(*) AS tasks
FROM public.agent_tasks t
WHERE t.status IN ('queued', 'running', 'dead', 'failed') OR t.finished_at > now() - interval '1 hour'
GROUP BY 1, 2
"""
TASKS = f"""
SELECT {queue.COLUMNS}, a.slug FROM public.agent_tasks t JOIN public.agencies a ON a.id = t.agency_id
WHERE (%(status)s::text IS NULL OR t.status = %(status)s::text)
  AND (%(agent_type)s::text IS NULL OR t.agent_type = %(agent_type)s::text)
  AND (%(slug)s::text IS NULL OR a.slug = %(slug)s::text)
ORDER BY t.created_at DESC LIMIT %(limit)s
"""
AGENCIES = """
SELECT a.id, a.slug FROM public.agencies a WHERE (%(slug)s::text IS NULL OR a.slug = %(slug)s) ORDER BY a.slug
"""
SCOPE = "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)"
DROP_OTHER_MODELS = "DELETE FROM public.record_embeddings e WHERE e.embedding_model <> %s"


def _target() -> DatabaseTarget:
    return database_target(get_settings())


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the pools and queues as JSON.")) -> None:
    """Agents per type (every worker process), and queue depth per type and status."""
    target = _target()
    with target.running(), target.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
        pools = cur.execute(POOLS).fetchall()
        queues = cur.execute(QUEUES).fetchall()
    statuses = ("queued", "running", "succeeded", "failed", "dead", "cancelled")
    depth: dict[str, dict[str, int]] = {}
    for row in queues:
        depth.setdefault(row["agent_type"], {})[row["status"]] = row["tasks"]
    if as_json:
        print_json(
            {
                "agents": [
                    {
                        "type": pool["agent_type"],
                        "agents": pool["agents"],
                        "busy": pool["busy"],
                        "processes": pool["processes"],
                        "tasks_done": pool["done"],
                    }
                    for pool in pools
                ],
                # Open tasks, and those finished in the last hour: type -> status -> count.
                "tasks": {t: {s: depth[t].get(s, 0) for s in statuses} for t in sorted(depth)},
            }
        )
        return
    table = Table(title="agents (running)")
    for column in ("type", "agents", "busy", "processes", "tasks done"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for pool in pools:
        table.add_row(
            pool["agent_type"],
            str(pool["agents"]),
            str(pool["busy"]),
            str(pool["processes"]),
            f"{pool['done']:,}",
        )
    console.print(
        table if pools else "[yellow]no agents are running[/]: start `gardenos up` or `gardenos worker`"
    )
    queue_table = Table(title="tasks (open, and finished in the last hour)")
    queue_table.add_column("type")
    for name in statuses:
        queue_table.add_column(name, justify="right")
    for agent_type in sorted(depth):
        queue_table.add_row(agent_type, *(f"{depth[agent_type].get(s, 0):,}" for s in statuses))
    console.print(queue_table if depth else "no tasks")


@app.command()
def scale(
    agent_type: str = typer.Argument(..., help="The agent type (lead_analysis, follow_up, …)."),
    size: int = typer.Argument(..., min=0, help="Agents per worker process."),
) -> None:
    """Resize a pool in every running worker process (within GARDENOS_AI_POOL_MIN/MAX)."""
    from gardenos.agents.kinds import AGENTS
    from gardenos.agents.orchestrator import CONTROL_CHANNEL

    settings = get_settings()
    if agent_type not in AGENTS:
        raise BadRequest(f"unknown agent type {agent_type!r}; known: {', '.join(sorted(AGENTS))}")
    if not settings.ai_pool_min <= size <= settings.ai_pool_max:
        raise BadRequest(
            f"a pool has {settings.ai_pool_min} to {settings.ai_pool_max} agents; asked for {size}"
        )
    target = database_target(settings)
    with target.running(), target.connect(autocommit=True) as conn:
        conn.execute(
            queue.NOTIFY,
            (CONTROL_CHANNEL, json.dumps({"action": "scale", "agent_type": agent_type, "size": size})),
        )
    console.print(f"asked every worker to run {size} {escape(agent_type)} agent(s)")


@app.command()
def tasks(
    status: str | None = typer.Option(
        None, "--status", help="queued, running, succeeded, failed, dead, cancelled."
    ),
    agent_type: str | None = typer.Option(None, "--type", help="Only this agent type."),
    agency: str | None = typer.Option(None, "--agency", help="Only this agency (its slug)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="How many of the newest."),
    requeue: bool = typer.Option(False, "--requeue", help="Requeue the dead or failed tasks listed."),
    as_json: bool = typer.Option(False, "--json", help="Print the tasks as JSON (as listed)."),
) -> None:
    """The newest tasks (of every agency); with --requeue, put the dead and failed ones back."""
    if status is not None and status not in queue.STATUSES:
        raise BadRequest(f"--status must be one of {', '.join(queue.STATUSES)}")
    target = _target()
    with target.running(), target.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            TASKS, {"status": status, "agent_type": agent_type, "slug": agency, "limit": limit}
        ).fetchall()
        requeued = 0
        if requeue:
            for row in rows:
                if row["status"] in ("dead", "failed"):
                    cur.execute(queue.REQUEUE, {"agency_id": row["agency_id"], "id": row["id"]})
                    cur.execute(queue.NOTIFY, (queue.CHANNEL, row["agent_type"]))
                    requeued += 1
        conn.commit()
    if as_json:
        print_json([_task_json(row) for row in rows])
        if requeue:
            err_console.print(f"requeued {requeued} task(s)")
        return
    table = Table()
    for column in ("created", "agency", "type", "prio", "status", "tries", "error / result", "id"):
        table.add_column(column, overflow="fold" if column.startswith("error") else "ellipsis")
    for row in rows:
        outcome = (
            row["last_error"]
            if row["status"] in ("dead", "failed")
            else json.dumps(row["result"])[:80]
            if row["result"]
            else ""
        )
        table.add_row(
            row["created_at"].astimezone().strftime("%m-%d %H:%M:%S"),
            row["slug"],
            row["agent_type"],
            str(row["priority"]),
            row["status"],
            f"{row['attempts']}/{row['max_retries'] + 1}",
            escape(outcome or ""),
            str(row["id"]),
        )
    console.print(table if rows else "no tasks match")
    if requeue:
        console.print(f"requeued {requeued} task(s)")


@app.command()
def reembed(
    agency: str | None = typer.Option(None, "--agency", help="Only this agency (its slug)."),
    drop_old: bool = typer.Option(
        False, "--drop-old", help="Delete vectors made by other models afterwards."
    ),
    batch: int = typer.Option(256, "--batch", min=1, max=5000, help="Records per batch."),
) -> None:
    """Embed every lead and client without a vector of the current model (after a model change, or to
    catch up), here and now, with the embedder the settings choose."""
    from gardenos.agents.embeddings import build_embedder

    settings = get_settings()
    embedder = build_embedder(settings)
    target = database_target(settings)
    # Autocommit: each batch below is its own transaction (committed as it goes, so an interrupted
    # backfill keeps what it did), not a savepoint of one transaction the first statement opened.
    with target.running(), target.connect(autocommit=True) as conn:
        agencies = conn.execute(AGENCIES, {"slug": agency}).fetchall()
        if agency is not None and not agencies:
            raise NotFound(f"no agency with the slug {agency!r}")
        totals: dict[tuple[uuid.UUID, backfill.Subject], int] = {}
        for agency_id, _slug in agencies:
            for subject in backfill.SUBJECTS:
                with conn.transaction():
                    _scope(conn, agency_id)
                    totals[(agency_id, subject)] = backfill.count_missing(conn, subject, embedder.model_id)
        total = sum(totals.values())
        console.print(f"embedding {total:,} records with {escape(embedder.model_id)}")
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=err_console,
        ) as progress:
            bar = progress.add_task("records", total=total, rate="")
            asyncio.run(_reembed(conn, embedder, totals, batch, progress, bar))
        if drop_old:
            with conn.transaction():
                dropped = conn.execute(DROP_OTHER_MODELS, (embedder.model_id,)).rowcount
            console.print(f"deleted {dropped:,} vectors of other models")


def _task_json(row: dict[str, Any]) -> dict[str, Any]:
    fields = (
        "id", "agent_type", "priority", "status", "attempts", "max_retries", "payload", "result",
        "last_error", "created_at", "started_at", "finished_at",
    )  # fmt: skip
    return {"agency": row["slug"], **{name: row[name] for name in fields}}


def _scope(conn: psycopg.Connection, agency_id: uuid.UUID) -> None:
    from gardenos.agents.base import tenant_claims

    conn.execute(SCOPE, (json.dumps(tenant_claims(agency_id)),))


async def _reembed(
    conn: psycopg.Connection,
    embedder: Embedder,
    totals: dict[tuple[uuid.UUID, backfill.Subject], int],
    batch: int,
    progress: Progress,
    bar: Any,
) -> None:
    import time

    started, done = time.perf_counter(), 0
    for (agency_id, subject), missing in totals.items():
        after: uuid.UUID | str = backfill.START
        while missing > 0:
            with conn.transaction():
                _scope(conn, agency_id)
                ids = await backfill.embed_batch(conn, embedder, subject, after, batch)
            if not ids:
                break
            after = ids[-1]
            missing -= len(ids)
            done += len(ids)
            progress.update(
                bar, advance=len(ids), rate=f"{done / (time.perf_counter() - started):,.0f} records/s"
            )
