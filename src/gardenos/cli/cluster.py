"""`gardenos cluster …`: etcd, Patroni-managed PostgreSQL nodes and HAProxy on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Literal

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from gardenos.backup.backup import list_restores
from gardenos.backup.schedule import backup_status
from gardenos.cli.backup_schedule import print_backup_status
from gardenos.cli.console import console, err_console
from gardenos.cluster.api_target import ApiTarget, serve_api
from gardenos.cluster.cluster import Cluster
from gardenos.cluster.failover import FAULTS, THROUGH, Fault, RoundReport, run_round
from gardenos.cluster.state import ClusterState
from gardenos.errors import BadRequest
from gardenos.settings import get_settings

app = typer.Typer(
    help="A Patroni cluster on loopback: up, status, switchover, failover tests.", no_args_is_help=True
)


def _cluster() -> Cluster:
    return Cluster(get_settings())


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console
    )


@app.command()
def up(
    nodes: int | None = typer.Option(
        None, min=1, max=9, help="Nodes, when the cluster is created [default: GARDENOS_CLUSTER_NODES or 3]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the ports and state as JSON."),
) -> None:
    """Start etcd, the Patroni nodes and HAProxy (whatever is not running) and wait until healthy."""
    cluster = _cluster()
    started = time.monotonic()
    with _progress() as progress:
        task = progress.add_task("starting the cluster…")
        state = cluster.up(nodes, progress=lambda message: progress.update(task, description=message))
    elapsed = time.monotonic() - started
    spec = cluster.spec
    if as_json:
        print(
            json.dumps(
                {
                    "rw_port": spec.rw_port,
                    "ro_port": spec.ro_port,
                    "seconds": round(elapsed, 1),
                    # When each step was reached, in seconds from the start.
                    "timeline": cluster.last_up,
                    **state.to_dict(),
                }
            )
        )
        return
    _print_state(state)
    console.print(f"healthy in {elapsed:.1f} s")
    console.print(
        f"[bold]read-write[/] 127.0.0.1:{spec.rw_port} (leader)   "
        f"[bold]read-only[/] 127.0.0.1:{spec.ro_port} (replicas)"
    )
    console.print(f"[bold]folder[/]     {cluster.layout.root}")
    console.print("`GARDENOS_CLUSTER=1 gardenos up` (or `gardenos up --cluster`) runs the API against it.")


@app.command()
def down() -> None:
    """Stop every process of the cluster (replicas first, then the leader); nothing is left running."""
    cluster = _cluster()
    with _progress() as progress:
        task = progress.add_task("stopping the cluster…")
        stopped = cluster.down(progress=lambda message: progress.update(task, description=message))
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    # Restored servers are the seeds of new clusters, not part of this one: named, left running.
    for restored in list_restores(cluster):
        if restored.running:
            console.print(
                f"restore {restored.id} still runs on 127.0.0.1:{restored.port} "
                f"(`gardenos restore stop {restored.id}` stops it)"
            )


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the state as JSON.")) -> None:
    """Members (role, state, timeline, lag) as Patroni reports them, HAProxy's routing, and the
    newest base backup's age with the backup schedule's next run."""
    cluster = _cluster()
    state = cluster.state()
    backups = backup_status(cluster)
    if as_json:
        print(json.dumps({**state.to_dict(), "backup": backups.to_dict()}))
        return
    _print_state(state)
    print_backup_status(backups)


@app.command()
def switchover(
    to: str | None = typer.Option(None, "--to", help="The new leader [default: the sync standby]."),
) -> None:
    """A planned change of leader; waits until the cluster is healthy again."""
    cluster = _cluster()
    with _progress() as progress:
        progress.add_task("switching over…")
        started = time.monotonic()
        old, new = cluster.switchover(to)
    console.print(f"{old} → {new} in {time.monotonic() - started:.1f} s")


@app.command("stop-node")
def stop_node(
    node: str = typer.Argument(..., help="The node's name (see `gardenos cluster status`)."),
    kill: bool = typer.Option(False, "--kill", help="SIGKILL Patroni and PostgreSQL at once, as a crash."),
) -> None:
    """Stop one node (gracefully: Patroni hands over if it leads)."""
    ran = _cluster().stop_node(node, kill=kill)
    console.print(f"{node} {'killed' if kill else 'stopped'}" if ran else f"{node} was not running")


@app.command("start-node")
def start_node(
    node: str = typer.Argument(..., help="The node's name."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until it streams (or leads) again."),
) -> None:
    """Start one node's Patroni; an old leader rejoins as a replica (pg_rewind when needed)."""
    cluster = _cluster()
    started = time.monotonic()
    cluster.start_node(node)
    if wait:
        with _progress() as progress:
            progress.add_task(f"waiting for {node} to rejoin…")
            state = cluster.wait_member(node)
        _print_state(state)
        console.print(f"{node} rejoined in {time.monotonic() - started:.1f} s")


@app.command()
def logs(
    node: str | None = typer.Argument(None, help="A node's name, or etcd, haproxy, backup-schedule."),
    every: bool = typer.Option(False, "--all", help="Every node's log, then etcd's and HAProxy's."),
    lines: int = typer.Option(50, "--lines", "-n", min=0, help="How many lines from the end of each."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Go on printing what is written to them (Ctrl-C stops)."
    ),
) -> None:
    """Print the end of a node's Patroni and PostgreSQL log (or etcd's, HAProxy's, the backup
    schedule's; or all of them)."""
    if every == (node is not None):
        raise BadRequest("name one log (a node, etcd or haproxy), or ask for every one with --all")
    cluster = _cluster()
    files = cluster.log_files() if node is None else {node: cluster.log_file(node)}
    if follow:
        # tail does it best (it follows a log across rotation, and heads each file with its name when
        # there are several); in our place, so that Ctrl-C ends it without a traceback.
        argv = ["tail", "-n", str(lines), "-F", *(str(path) for path in files.values())]
        os.execvp("tail", argv)  # noqa: S606 (our own argument list)
    for name, path in files.items():
        console.print(f"[bold]==> {name}[/] [dim]{path}[/]", soft_wrap=True)
        try:
            print("\n".join(path.read_text(errors="replace").splitlines()[-lines:] if lines else []))
        except FileNotFoundError:
            print("(no log yet)")


@app.command("failover-test")
def failover_test(
    kill: str = typer.Option("leader", "--kill", help=f"What to fault: {', '.join(FAULTS)}."),
    rounds: int = typer.Option(1, "--rounds", min=1, max=50, help="How many rounds."),
    through: str = typer.Option(
        "sql",
        "--through",
        help="Write through HAProxy's read-write port (sql), or through the GardenOS API "
        "(api: POST /api/v1/leads as an agency owner, the API served here against the cluster).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per round."),
) -> None:
    """Write while faulting the leader; report unavailability, acknowledged writes lost (must be 0),
    writes in doubt, the old leader's rejoin time, and when each step of the recovery happened."""
    if kill not in FAULTS:
        raise BadRequest(f"--kill {kill!r}: choose one of {', '.join(FAULTS)}")
    if through not in THROUGH:
        raise BadRequest(f"--through {through!r}: choose one of {', '.join(THROUGH)}")
    fault: Fault = kill
    cluster = _cluster()
    cluster.wait_healthy(60)
    with contextlib.ExitStack() as stack:
        api = None
        if through == "api":
            with err_console.status("migrating the cluster's database and starting the API…"):
                api = stack.enter_context(serve_api(cluster))
        reports = _rounds(cluster, fault, rounds, api, as_json=as_json)
    if as_json:
        return
    table = Table(
        "round",
        "fault",
        "old → new leader",
        "unavailability",
        "acknowledged",
        "lost",
        "in doubt",
        "rejoin",
        *(["503", "other 5xx"] if through == "api" else []),
        title=f"failover through {'the API' if through == 'api' else 'the read-write port'}",
    )
    for r in reports:
        table.add_row(
            str(r.round),
            r.fault,
            f"{r.old_leader} → {r.new_leader}",
            f"{r.unavailability_s:.1f} s",
            str(r.acknowledged),
            f"[{'red' if r.acknowledged_lost else 'green'}]{r.acknowledged_lost}[/]",
            f"{r.in_doubt} ({r.in_doubt_committed} committed)",
            f"{r.rejoin_s:.1f} s",
            *(
                [
                    str(r.responses.get("503", 0)),
                    f"[{'red' if r.responses.get('other_5xx') else 'green'}]"
                    f"{r.responses.get('other_5xx', 0)}[/]",
                ]
                if through == "api"
                else []
            ),
        )
    console.print(table)
    for r in reports:
        steps = ", ".join(f"{name} {at:.1f} s" for name, at in sorted(r.timeline.items(), key=lambda i: i[1]))
        console.print(f"[dim]round {r.round}: {steps}[/]")


def _rounds(
    cluster: Cluster, fault: Fault, rounds: int, api: ApiTarget | None, *, as_json: bool
) -> list[RoundReport]:
    reports = []
    for number in range(1, rounds + 1):
        if as_json:
            report = run_round(cluster, fault, number, api=api)
            print(json.dumps(report.to_dict()), flush=True)
        else:
            with _progress() as progress:
                task = progress.add_task(f"round {number}…")

                def say(message: str, task: TaskID = task, progress: Progress = progress) -> None:
                    progress.update(task, description=message)

                report = run_round(cluster, fault, number, api=api, progress=say)
        reports.append(report)
    return reports


def _print_state(state: ClusterState) -> None:
    if state.problem:
        console.print(f"[yellow]{state.problem}[/]")
    table = Table("member", "role", "state", "timeline", "lag", "haproxy", title="cluster")
    for m in state.members:
        routes = [b.proxy for b in state.backends if b.server == m.name and b.status.startswith("UP")]
        table.add_row(
            m.name,
            m.role,
            m.state,
            "" if m.timeline is None else str(m.timeline),
            "" if m.lag_bytes is None else f"{m.lag_bytes} B",
            ", ".join(_port_name(p) for p in routes) or "-",
        )
    console.print(table)


def _port_name(proxy: str) -> Literal["read-write", "read-only"] | str:
    return {"primary": "read-write", "replicas": "read-only"}.get(proxy, proxy)
