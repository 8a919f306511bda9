"""The same task or lead id in two agencies (an id is unique within its agency since migration 0017): the
paths that run across agencies, outside one agency's row-level security (the queue's claims, fences and
reclaims as service_role, the embedding sweep, the CLI's requeue as the owner), each touch only the row
of their own agency."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import psycopg
import pytest

from gardenos.agents import queue
from gardenos.agents.orchestrator import EMBED_SWEEP
from gardenos.db.pool import Database
from tests.support import SessionDatabase

VECTOR = "[" + ",".join(["0.1"] * 384) + "]"
TASK = "INSERT INTO agent_tasks (agency_id, id, agent_type, priority, status) VALUES (%s, %s, %s, %s, %s)"


def _twins(
    owner: psycopg.Connection, task_id: uuid.UUID, agent_type: str, *agencies: tuple[uuid.UUID, int, str]
) -> None:
    for agency_id, priority, status in agencies:
        owner.execute(TASK, (agency_id, task_id, agent_type, priority, status))


def _rows(owner: psycopg.Connection, task_id: uuid.UUID) -> dict[uuid.UUID, tuple[Any, ...]]:
    found = owner.execute(
        "SELECT agency_id, status, locked_by, attempts, result FROM agent_tasks WHERE id = %s", (task_id,)
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in found}


@pytest.mark.anyio
async def test_the_queue_touches_only_the_task_of_its_agency(
    db: Database, owner_conn: psycopg.Connection, agency: uuid.UUID, other_agency: uuid.UUID
) -> None:
    agent_type, task_id, agent = f"t_{uuid.uuid4().hex[:12]}", uuid.uuid4(), uuid.uuid4()
    _twins(owner_conn, task_id, agent_type, (agency, 9, "queued"), (other_agency, 1, "queued"))

    async with db.transaction("service_role") as conn:
        [first] = await queue.claim(conn, agent_type, [agent], lease_s=30)
    assert (first.agency_id, first.id) == (agency, task_id)
    assert _rows(owner_conn, task_id)[other_agency] == ("queued", None, 0, None)
    async with db.transaction("service_role") as conn:
        assert await queue.heartbeat(conn, [first], 30) == {(agency, task_id)}
        assert await queue.complete_many(conn, [(first, {"by": "A"})]) == {(agency, task_id)}

    # The same agent then claims the other agency's task: same id, same agent, same attempt number.
    async with db.transaction("service_role") as conn:
        [second] = await queue.claim(conn, agent_type, [agent], lease_s=30)
    assert (second.agency_id, second.id, second.agent_id, second.attempt) == (other_agency, task_id, agent, 1)
    # The first attempt replayed (a completion sent again, a late heartbeat or failure) reaches nothing.
    async with db.transaction("service_role") as conn:
        assert await queue.complete(conn, first, {"by": "A, again"}) is False
        assert await queue.complete_many(conn, [(first, {"by": "A, again"})]) == set()
        assert await queue.heartbeat(conn, [first], 30) == set()
        assert await queue.fail(conn, first, "late", retryable=False, delay_s=0) is None
        await queue.release(conn, [first])
    assert _rows(owner_conn, task_id) == {
        agency: ("succeeded", None, 1, {"by": "A"}),
        other_agency: ("running", agent, 1, None),
    }

    # A lease that ran out is reclaimed in its agency alone.
    owner_conn.execute(
        "UPDATE agent_tasks SET status = 'running', locked_by = %s, "
        "lease_expires_at = now() + interval '1 hour' WHERE agency_id = %s AND id = %s",
        (agent, agency, task_id),
    )
    owner_conn.execute(
        "UPDATE agent_tasks SET lease_expires_at = now() - interval '1 second' "
        "WHERE agency_id = %s AND id = %s",
        (other_agency, task_id),
    )
    async with db.transaction("service_role") as conn:
        reclaimed = await queue.reclaim_expired(conn)
    assert [r for r in reclaimed if r[0] == task_id] == [(task_id, agent_type, "queued")]
    rows = _rows(owner_conn, task_id)
    assert (rows[agency][:2], rows[other_agency][:2]) == (("running", agent), ("queued", None))
    owner_conn.execute("DELETE FROM agent_tasks WHERE id = %s", (task_id,))


def test_the_embedding_sweep_finds_a_lead_whose_id_another_agency_embedded(
    database: SessionDatabase, owner_conn: psycopg.Connection, agency: uuid.UUID, other_agency: uuid.UUID
) -> None:
    lead_id, model = uuid.uuid4(), f"model-{uuid.uuid4().hex[:8]}"
    for agency_id in (agency, other_agency):
        owner_conn.execute(
            "INSERT INTO leads (agency_id, id, first_name) VALUES (%s, %s, 'Twin')", (agency_id, lead_id)
        )
    owner_conn.execute(
        "INSERT INTO record_embeddings (agency_id, lead_id, embedding, embedding_model, content_hash) "
        "VALUES (%s, %s, %s, %s, 'h')",
        (agency, lead_id, VECTOR, model),
    )
    # As the orchestrator runs it: the API's login as service_role (rolled back: the sweep queues a task
    # for every agency of the session, none of which has a vector of this model).
    with psycopg.connect(database.api_url) as conn:
        conn.execute("SET ROLE service_role")
        conn.execute(EMBED_SWEEP, {"model": model})
        swept = conn.execute(
            "SELECT agency_id FROM agent_tasks WHERE agent_type = 'embed' AND status = 'queued' "
            "AND payload ->> 'subject' = 'lead' AND payload ? 'missing' AND agency_id = ANY(%s)",
            ([agency, other_agency],),
        ).fetchall()
        conn.rollback()
    assert swept == [(other_agency,)]


def test_the_cli_requeues_only_the_named_agencys_task(
    database: SessionDatabase, owner_conn: psycopg.Connection, agency: uuid.UUID, other_agency: uuid.UUID
) -> None:
    agent_type, task_id = f"t_{uuid.uuid4().hex[:12]}", uuid.uuid4()
    _twins(owner_conn, task_id, agent_type, (agency, 5, "dead"), (other_agency, 5, "dead"))
    slug = owner_conn.execute("SELECT slug FROM agencies WHERE id = %s", (other_agency,)).fetchone()
    assert slug is not None
    command = ["ai", "tasks", "--agency", slug[0], "--type", agent_type, "--status", "dead", "--requeue"]
    ran = subprocess.run(
        [sys.executable, "-m", "gardenos", *command],
        env=database.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "requeued 1 task(s)" in ran.stdout
    statuses = {agency_id: row[0] for agency_id, row in _rows(owner_conn, task_id).items()}
    assert statuses == {agency: "dead", other_agency: "queued"}
    owner_conn.execute("DELETE FROM agent_tasks WHERE id = %s", (task_id,))
