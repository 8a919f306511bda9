"""`gardenos worker` as an operator runs it: killed with SIGKILL mid-task, its task is picked up by another
worker once the lease runs out and completes exactly once; SIGTERM drains. Also `gardenos ai …`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from gardenos.agents.base import tenant_claims
from tests.support import SessionDatabase

pytestmark = pytest.mark.slow

WORKER_ENV = {
    "GARDENOS_ENV": "test",
    "GARDENOS_AI_LEASE_S": "2",
    "GARDENOS_AI_POLL_INTERVAL_S": "0.2",
    "GARDENOS_AI_EMBEDDER": "hashing",
    "GARDENOS_AI_EMBED_SWEEP_S": "0",
    "GARDENOS_AI_AUTOSCALE": "false",
    "COLUMNS": "200",
}


def _gardenos(database: SessionDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gardenos", *args],
        env={**database.env(), **WORKER_ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Worker:
    def __init__(self, database: SessionDatabase) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gardenos", "worker", "--agent", "echo", "--size", "2"],
            env={**database.env(), **WORKER_ENV},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        assert self.proc.stdout is not None
        if self.proc.stdout.closed:
            return ""
        with self.proc.stdout:
            return self.proc.stdout.read()


@pytest.fixture
def workers(database: SessionDatabase) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def _enqueue(owner: psycopg.Connection, agency: uuid.UUID, payload: dict[str, Any]) -> uuid.UUID:
    import json

    with owner.transaction():
        owner.execute(
            "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
            (json.dumps(tenant_claims(agency)),),
        )
        row = owner.execute(
            "INSERT INTO agent_tasks (agent_type, payload, max_retries) VALUES ('echo', %s, 3) RETURNING id",
            (json.dumps(payload),),
        ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def _task(owner: psycopg.Connection, task_id: uuid.UUID) -> tuple[Any, ...]:
    row = owner.execute(
        "SELECT status, attempts, agent_id, result, last_error FROM agent_tasks WHERE id = %s", (task_id,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def _wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_task_whose_worker_is_killed_completes_exactly_once_afterwards(
    database: SessionDatabase, agency: uuid.UUID, owner_conn: psycopg.Connection, workers: list[Worker]
) -> None:
    note = f"exactly-once-{uuid.uuid4().hex[:8]}"
    task_id = _enqueue(owner_conn, agency, {"sleep_s": 4, "note": note})
    first = Worker(database)
    workers.append(first)
    _wait_for(lambda: _task(owner_conn, task_id)[0] == "running", 60, "the first worker to start the task")
    first_agent = _task(owner_conn, task_id)[2]

    os.killpg(first.proc.pid, signal.SIGKILL)  # mid-task: no drain, no goodbye
    first.proc.wait()
    assert _task(owner_conn, task_id)[0] == "running"  # as the dead worker left it

    workers.append(Worker(database))
    _wait_for(
        lambda: _task(owner_conn, task_id)[0] in ("succeeded", "failed", "dead"), 90, "the task to finish"
    )

    status, attempts, agent_id, result, last_error = _task(owner_conn, task_id)
    assert status == "succeeded"
    assert attempts == 2
    assert agent_id != first_agent
    assert last_error is None  # cleared by the successful attempt
    assert result["agency_id"] == str(agency)
    count = owner_conn.execute("SELECT count(*) FROM agent_memory WHERE content = %s", (note,)).fetchone()
    assert count == (1,)


def test_sigterm_drains_the_running_task_before_exiting(
    database: SessionDatabase, agency: uuid.UUID, owner_conn: psycopg.Connection, workers: list[Worker]
) -> None:
    task_id = _enqueue(owner_conn, agency, {"sleep_s": 2})
    worker = Worker(database)
    workers.append(worker)
    _wait_for(lambda: _task(owner_conn, task_id)[0] == "running", 60, "the worker to start the task")

    output = worker.stop()

    assert worker.proc.returncode == 0, output
    assert "draining" in output
    assert _task(owner_conn, task_id)[:2] == ("succeeded", 1)
    stopped = owner_conn.execute(
        "SELECT count(*) FROM ai_agents WHERE pid = %s AND stopped_at IS NULL", (worker.proc.pid,)
    ).fetchone()
    assert stopped == (0,)


def test_ai_commands(database: SessionDatabase, agency: uuid.UUID, owner_conn: psycopg.Connection) -> None:
    from typer.testing import CliRunner

    from gardenos.cli.main import app

    for command in (  # in-process: the commands below run as an operator runs them
        ["ai"],
        ["ai", "status"],
        ["ai", "scale"],
        ["ai", "tasks"],
        ["ai", "reembed"],
        ["worker"],
    ):
        help_text = CliRunner().invoke(app, [*command, "--help"])
        assert help_text.exit_code == 0, (command, help_text.output)

    owner_conn.execute(
        "INSERT INTO leads (agency_id, first_name, company) "
        "SELECT %s, 'Reembed ' || n, 'Vector Co' FROM generate_series(1, 3) n",
        (agency,),
    )
    slug = owner_conn.execute("SELECT slug FROM agencies WHERE id = %s", (agency,)).fetchone()
    assert slug is not None
    # Independent commands, run side by side (each process spends seconds importing).
    from concurrent.futures import ThreadPoolExecutor

    commands = {
        "status": ["ai", "status"],
        "scale": ["ai", "scale", "nope", "2"],
        # One record a batch: each batch starts after the last one's id, in a transaction of its own.
        "reembed": ["ai", "reembed", "--agency", slug[0], "--batch", "1"],
        "tasks": ["ai", "tasks", "--agency", slug[0], "--status", "dead", "--requeue"],
    }
    with ThreadPoolExecutor(len(commands)) as pool:
        runs = {name: pool.submit(_gardenos, database, *argv) for name, argv in commands.items()}
        results = {name: run.result() for name, run in runs.items()}

    result = results["status"]
    assert result.returncode == 0, result.stderr
    assert "tasks" in result.stdout

    result = results["scale"]
    assert result.returncode == 1
    assert "unknown agent type" in result.stderr

    result = results["reembed"]
    assert result.returncode == 0, result.stderr
    assert "embedding 3 records" in result.stdout
    vectors = owner_conn.execute(
        "SELECT count(*) FROM record_embeddings "
        "WHERE agency_id = %s AND embedding_model = 'gardenos-hashing-384-v1'",
        (agency,),
    ).fetchone()
    assert vectors == (3,)

    result = results["tasks"]
    assert result.returncode == 0, result.stderr
    assert "requeued 0 task(s)" in result.stdout
