"""A pool of agents of one type: coroutines fed by one dispatcher that claims a task for each idle agent
in one statement. Growing adds agents; shrinking stops idle agents at once and lets busy ones finish
their task first (draining), so nothing claimed is ever dropped."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import psycopg

from gardenos.agents import queue
from gardenos.agents.base import AgentResult, BaseAIAgent, LeaseLost, TaskContext, TaskError
from gardenos.agents.metrics import Metrics
from gardenos.agents.queue import AgentTask
from gardenos.errors import GardenError

if TYPE_CHECKING:
    from gardenos.agents.orchestrator import AIOrchestrator

log = logging.getLogger(__name__)


class AgentWorker:
    """One agent: a coroutine that runs the tasks its pool hands it, one at a time."""

    def __init__(self, pool: AgentPool, agent: BaseAIAgent) -> None:
        self.pool = pool
        self.agent = agent
        self.id = agent.id
        self.inbox: asyncio.Queue[AgentTask | None] = asyncio.Queue()
        self.busy = False
        self.draining = False
        self.metrics = Metrics()
        self.current: AgentTask | None = None
        self._run: asyncio.Task[AgentResult] | None = None
        self._lost = False
        self.loop: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        return not self.busy and not self.draining

    @property
    def status(self) -> str:
        return "draining" if self.draining else "busy" if self.busy else "idle"

    def lose_lease(self, task: AgentTask) -> None:
        """Called by the heartbeat: the task was cancelled or taken over; stop working on it."""
        if self.current is task and self._run is not None and not self._run.done():
            self._lost = True
            self._run.cancel()

    async def serve(self) -> None:
        try:
            while True:
                task = await self.inbox.get()
                if task is None:
                    return
                try:
                    await self._process(task)
                finally:
                    self.busy = False
                    self.current = None
                if self.draining:
                    return
                self.pool.wake.set()
        finally:
            self.pool.retire(self)

    async def _process(self, task: AgentTask) -> None:
        orchestrator = self.pool.orchestrator
        ctx = TaskContext(orchestrator.runtime, task)
        started = time.perf_counter()
        self.current, self._lost = task, False
        self._run = asyncio.create_task(
            self.agent.run(task, ctx), name=f"agent-{self.agent.agent_type}-{task.id}"
        )
        try:
            result = await self._run
        except asyncio.CancelledError:
            if not self._lost:
                raise
            self.metrics.lost += 1
            log.info("task %s: lease lost (cancelled or taken over); its results are discarded", task.id)
            return
        except Exception as exc:
            await self._fail(task, ctx, exc)
            return
        finally:
            self._run = None
        try:
            if result.write is None and not ctx.interactions:
                held = await orchestrator.completer.complete(task, result.output)
            else:
                async with orchestrator.database.transaction("authenticated", ctx.claims) as conn:
                    if result.write is not None:
                        await result.write(conn)
                    await ctx.record_interactions(conn)
                    if not await queue.complete(conn, task, result.output):
                        raise LeaseLost
                held = True
            if not held:
                raise LeaseLost
        except LeaseLost:
            self.metrics.lost += 1
            log.info("task %s: lease lost before completion; its writes were rolled back", task.id)
            return
        except Exception as exc:
            await self._fail(task, ctx, exc)
            return
        tokens = (
            sum(i.prompt_tokens for i in ctx.interactions),
            sum(i.completion_tokens for i in ctx.interactions),
        )
        self.metrics.succeeded(time.perf_counter() - started, task.queue_wait_s, tokens, ctx.cost_usd)
        orchestrator.task_finished(task, result.output)

    async def _fail(self, task: AgentTask, ctx: TaskContext, exc: BaseException) -> None:
        orchestrator = self.pool.orchestrator
        settings = orchestrator.settings
        retryable = bool(getattr(exc, "retryable", True))
        message = exc.message if isinstance(exc, GardenError) else str(exc) or type(exc).__name__
        message = f"attempt {task.attempt}: {type(exc).__name__}: {message}"
        if not isinstance(exc, TaskError | GardenError):
            log.warning("task %s (%s) failed: %s", task.id, task.agent_type, message, exc_info=exc)
        delay = queue.backoff_s(task.attempt, base_s=settings.ai_retry_base_s, max_s=settings.ai_retry_max_s)
        status: str | None = None
        try:
            if ctx.interactions:
                async with orchestrator.database.transaction("authenticated", ctx.claims) as conn:
                    await ctx.record_interactions(conn)
            async with orchestrator.database.transaction("service_role") as conn:
                status = await queue.fail(conn, task, message, retryable=retryable, delay_s=delay)
        except (GardenError, psycopg.Error) as error:
            # The lease runs out and the task is reclaimed: nothing is lost.
            log.warning("task %s: could not record its failure (%s); its lease will expire", task.id, error)
        self.metrics.failure(status)
        self.metrics.spent(
            (
                sum(i.prompt_tokens for i in ctx.interactions),
                sum(i.completion_tokens for i in ctx.interactions),
            ),
            ctx.cost_usd,
        )
        if status == "queued":
            asyncio.get_running_loop().call_later(delay, self.pool.wake.set)
        elif status in ("dead", "failed"):
            orchestrator.task_finished(task, None)


class AgentPool:
    def __init__(self, orchestrator: AIOrchestrator, agent_cls: type[BaseAIAgent]) -> None:
        self.orchestrator = orchestrator
        self.agent_cls = agent_cls
        self.agent_type = agent_cls.agent_type
        self.workers: dict[uuid.UUID, AgentWorker] = {}
        self.retired = Metrics()
        self.wake = asyncio.Event()
        self.dispatcher: asyncio.Task[None] | None = None
        self.target = 0
        self.manual_at = 0.0  # when a person last sized it (the autoscaler leaves it alone for a while)
        self.last_busy_at = time.monotonic()

    @property
    def size(self) -> int:
        return sum(1 for w in self.workers.values() if not w.draining)

    @property
    def busy(self) -> int:
        return sum(1 for w in self.workers.values() if w.busy)

    def metrics(self) -> Metrics:
        return Metrics.combined([self.retired, *(w.metrics for w in self.workers.values())])

    def start(self) -> None:
        self.dispatcher = asyncio.create_task(self._dispatch(), name=f"dispatch-{self.agent_type}")
        self.wake.set()

    async def resize(self, size: int) -> int:
        """Grow or shrink to `size` agents; shrinking drains busy agents after their current task."""
        self.target = size
        while self.size < size:
            await self._add()
        surplus = self.size - size
        if surplus > 0:
            ordered = sorted((w for w in self.workers.values() if not w.draining), key=lambda w: w.busy)
            for worker in ordered[:surplus]:
                worker.draining = True
                worker.inbox.put_nowait(None)  # an idle agent stops now; a busy one after its task
            await self.orchestrator.agent_status([w.id for w in ordered[:surplus]], "draining")
        self.wake.set()
        return self.size

    async def _add(self) -> None:
        agent_id = await self.orchestrator.register_agent(self.agent_type)
        worker = AgentWorker(self, self.agent_cls(agent_id, self.orchestrator.runtime))
        self.workers[agent_id] = worker
        worker.loop = asyncio.create_task(worker.serve(), name=f"agent-{self.agent_type}-{agent_id}")

    def retire(self, worker: AgentWorker) -> None:
        if self.workers.pop(worker.id, None) is not None:
            self.retired = Metrics.combined([self.retired, worker.metrics])
            self.orchestrator.agent_stopped(worker.id)

    async def drain(self, timeout_s: float) -> None:
        """Stop every agent after its current task (waiting up to `timeout_s`, then cancelling)."""
        workers = list(self.workers.values())
        for worker in workers:
            if not worker.draining:
                worker.draining = True
                worker.inbox.put_nowait(None)
        loops = [w.loop for w in workers if w.loop is not None]
        if loops:
            _, pending = await asyncio.wait(loops, timeout=timeout_s)
            for loop in pending:
                loop.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _dispatch(self) -> None:
        orchestrator = self.orchestrator
        while True:
            await self.wake.wait()
            self.wake.clear()
            while not orchestrator.closing:
                idle = [w for w in self.workers.values() if w.idle]
                if not idle:
                    break
                for worker in idle:
                    worker.busy = True  # reserved for this claim: a resize meanwhile sees them busy
                try:
                    async with orchestrator.database.transaction("service_role") as conn:
                        tasks = await queue.claim(
                            conn, self.agent_type, [w.id for w in idle], orchestrator.settings.ai_lease_s
                        )
                except (GardenError, psycopg.Error) as exc:
                    for worker in idle:
                        worker.busy = False
                    log.warning("%s: cannot claim tasks (%s); retrying shortly", self.agent_type, exc)
                    await asyncio.sleep(orchestrator.settings.ai_poll_interval_s)
                    continue
                claimed = {task.agent_id: task for task in tasks}
                orphans = []
                for worker in idle:
                    task = claimed.get(worker.id)
                    if task is None:
                        worker.busy = False
                    elif worker.draining or self.workers.get(worker.id) is not worker:
                        worker.busy = False
                        orphans.append(task)
                    else:
                        worker.inbox.put_nowait(task)
                if orphans:
                    await self._release(orphans)
                if tasks:
                    self.last_busy_at = time.monotonic()
                if len(tasks) < len(idle):
                    break

    async def _release(self, tasks: list[AgentTask]) -> None:
        try:
            async with self.orchestrator.database.transaction("service_role") as conn:
                await queue.release(conn, tasks)
        except (GardenError, psycopg.Error) as exc:
            log.warning(
                "%s: could not hand back %d tasks (%s); their leases will expire",
                self.agent_type,
                len(tasks),
                exc,
            )

    def status(self) -> dict[str, Any]:
        return {
            "agent_type": self.agent_type,
            "description": self.agent_cls.description,
            "size": self.size,
            "busy": self.busy,
            "draining": sum(1 for w in self.workers.values() if w.draining),
            "agents": [{"id": str(w.id), "status": w.status} for w in self.workers.values()],
            "metrics": self.metrics().snapshot(),
        }
