"""`gardenos worker`: run the AI agents alone (no API), as many processes as wanted over one database.

Ctrl-C or SIGTERM drains: no new claims, running tasks finish (up to `--drain-timeout`), the rest are
picked up by another worker once their lease runs out. A worker killed outright loses nothing either.

The agents (and their providers: openai, onnxruntime) are imported when the command runs, not with the
CLI: `gardenos --help` would pay a second or more for them.
"""

from __future__ import annotations

import asyncio
import signal

import typer
from rich.markup import escape

from gardenos.cli.console import console, err_console
from gardenos.cli.target import database_target
from gardenos.db.pool import Database
from gardenos.db.target import DatabaseTarget
from gardenos.errors import BadRequest
from gardenos.settings import Settings, get_settings

STATUS_EVERY_S = 5.0


def worker(
    agent: list[str] = typer.Option(  # noqa: B008 - typer's way of declaring options
        [], "--agent", "-a", help="Run only these agent types (repeat the option); default: all."
    ),
    size: int | None = typer.Option(
        None, "--size", min=0, help="Agents per type at start [default: GARDENOS_AI_POOL_SIZE]."
    ),
    autoscale: bool | None = typer.Option(
        None,
        "--autoscale/--no-autoscale",
        help="Size pools from queue depth [default: GARDENOS_AI_AUTOSCALE].",
    ),
    drain_timeout: float = typer.Option(
        30.0, "--drain-timeout", min=0, help="Seconds to let running tasks finish."
    ),
) -> None:
    """Run the AI agents (no API) until Ctrl-C."""
    from gardenos.agents.kinds import AGENTS

    unknown = sorted(set(agent) - set(AGENTS))
    if unknown:
        raise BadRequest(f"unknown agent types {unknown}; known: {', '.join(sorted(AGENTS))}")
    settings = get_settings()
    if size is not None:
        settings = settings.model_copy(update={"ai_pool_size": size})
    target = database_target(settings)
    with target.running():
        target.prepare()
        agents = {name: cls for name, cls in AGENTS.items() if not agent or name in agent}
        asyncio.run(_serve(target, settings, agents, autoscale, drain_timeout))


async def _serve(
    target: DatabaseTarget,
    settings: Settings,
    agents: dict[str, type],
    autoscale: bool | None,
    drain_timeout: float,
) -> None:
    from gardenos.agents.orchestrator import AIOrchestrator

    database = Database(
        target.api_url, min_size=1, max_size=settings.pool_max_size, timeout=settings.pool_timeout_s
    )
    await database.open()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    orchestrator = AIOrchestrator(
        database, settings, listen_url=target.api_url, agents=agents, autoscale=autoscale
    )
    try:
        await orchestrator.start()
        pools = ", ".join(f"{t}×{p.size}" for t, p in orchestrator.pools.items())
        console.print(
            f"agents running ({escape(orchestrator.worker_name)}): {pools}; "
            f"LLM {escape(orchestrator.runtime.llm.model)}, "
            f"embeddings {escape(orchestrator.runtime.embedder.model_id)}. Ctrl-C drains and stops."
        )
        with err_console.status("waiting for tasks…") as status:
            while not stop.is_set():
                with_timeout = asyncio.create_task(stop.wait())
                await asyncio.wait([with_timeout], timeout=STATUS_EVERY_S)
                with_timeout.cancel()
                summary = orchestrator.status()["metrics"]
                busy = sum(p.busy for p in orchestrator.pools.values())
                status.update(
                    f"{busy} busy · {summary['done']:,} done · {summary['failed']:,} failed "
                    f"({summary['retried']:,} retried, {summary['dead']:,} dead) · "
                    f"p95 {summary['latency_ms']['p95'] or 0:.0f} ms"
                )
        console.print("draining: running tasks finish, no new ones start…")
    finally:
        await orchestrator.stop(drain_timeout_s=drain_timeout)
        await database.close()
    console.print("agents stopped")
