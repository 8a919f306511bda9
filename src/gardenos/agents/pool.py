"""A pool of agents of one type: coroutines fed by one dispatcher that claims tasks for the pool's free
agents in one statement. Growing adds agents; shrinking stops idle agents at once and lets busy ones
finish their task first (draining); tasks claimed for an agent that stops before starting them are handed
back at once, so nothing claimed is ever dropped.

Prefetch: in a pool whose tasks run fast (the agent's own work under `PREFETCH_BELOW_S` on average), each
agent holds up to `GARDENOS_AI_PREFETCH` tasks (the one it runs and the next ones, each leased to it and
kept alive by the heartbeat), and the dispatcher claims again once half the pool's slots are free: one
round trip then brings many tasks, and claiming overlaps running. A task can then wait behind at most that
many fast tasks of its agent (a priority inversion of a few milliseconds); pools of slow tasks (a model's
answer takes seconds) hold one task per agent, so an idle agent never waits while a busy one holds work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

import psycopg

from gardenos.agents import queue
from gardenos.agents.base import AgentResult, AgentRuntime, BaseAIAgent, LeaseLost, TaskContext, TaskError
from gardenos.agents.metrics import Metrics
from gardenos.agents.queue import AgentTask
from gardenos.errors import GardenError

log = logging.getLogger(__name__)

PREFETCH_BELOW_S = 0.05  # agents of a pool whose tasks run faster than this (on average) prefetch


class PoolHost(Protocol):
    """What a pool needs from the process that runs it (`AIOrchestrator`), and nothing more: the pool
    neither knows the orchestrator nor imports it."""

    @property
    def runtime(self) -> AgentRuntime:
        """The agents' database (with its statement timeout), settings, LLM and embedder."""
        ...

    @property
    def service(self) -> queue.ServiceConnections:
        """The machinery's connections: claims, failures, releases."""
        ...

    @property
    def closing(self) -> bool:
        """Stopping: claim nothing more."""
        ...

    def complete_later(self, task: AgentTask, output: Mapping[str, Any]) -> asyncio.Future[bool]:
        """Store a result that has no writes of its own, batched with others; the future says whether
        the attempt still held the task."""
        ...

    async def register_agent(self, agent_type: str) -> uuid.UUID: ...

    async def agent_status(self, agent_ids: list[uuid.UUID], status: str) -> None: ...

    def agent_stopped(self, agent_id: uuid.UUID) -> None: ...

    def task_finished(self, task: AgentTask, output: Mapping[str, Any] | None) -> None: ...


class AgentWorker:
    """One agent: a coroutine that runs the tasks its pool hands it, one at a time."""

    def __init__(self, pool: AgentPool, agent: BaseAIAgent) -> None:
        self.pool = pool
        self.agent = agent
        self.id = agent.id
        self.inbox: deque[AgentTask] = deque()  # claimed for this agent, not started yet
        self.reserved = 0  # slots of a claim in flight
        self.arrived = asyncio.Event()
        self.draining = False
        self.metrics = Metrics()
        self.current: AgentTask | None = None
        self.unacknowledged = 0  # results handed to the completer, not yet stored
        self._run: asyncio.Task[AgentResult] | None = None
        self._lost = False
        self.loop: asyncio.Task[None] | None = None

    @property
    def outstanding(self) -> int:
        """Tasks this agent holds or is about to: running, waiting in its inbox, being claimed."""
        return len(self.inbox) + self.reserved + (self.current is not None)

    @property
    def busy(self) -> bool:
        """Running a task or holding one to run (a claim in flight does not count)."""
        return self.current is not None or bool(self.inbox)

    @property
    def idle(self) -> bool:
        return not self.busy and not self.draining

    @property
    def status(self) -> str:
        return "draining" if self.draining else "busy" if self.busy else "idle"

    @property
    def held(self) -> list[AgentTask]:
        """The attempts whose leases this agent holds (for the heartbeat)."""
        return [*self.inbox] if self.current is None else [self.current, *self.inbox]

    def give(self, task: AgentTask) -> None:
        self.inbox.append(task)
        self.arrived.set()

    def stop(self) -> list[AgentTask]:
        """Stop after the running task (at once if idle); returns the tasks it will not start, to be
        handed back."""
        self.draining = True
        unstarted = list(self.inbox)
        self.inbox.clear()
        self.arrived.set()
        return unstarted

    def lose_lease(self, task: AgentTask) -> None:
        """Called by the heartbeat: the task was cancelled or taken over; stop working on it."""
        if task in self.inbox:
            self.inbox.remove(task)
        elif self.current is task and self._run is not None and not self._run.done():
            self._lost = True
            self._run.cancel()

    async def serve(self) -> None:
        try:
            while True:
                while not self.inbox:
                    if self.draining:
                        return
                    self.arrived.clear()
                    await self.arrived.wait()
                task = self.inbox.popleft()
                try:
                    await self._process(task)
                finally:
                    self.current = None
                self.pool.wake.set()
        finally:
            self.pool.retire(self)

    async def _process(self, task: AgentTask) -> None:
        host = self.pool.host
        ctx = TaskContext(host.runtime, task)
        started = time.perf_counter()
        self.current, self._lost = task, False
        self._run = asyncio.create_task(
            self.agent.run(task, ctx), name=f"agent-{self.agent.agent_type}-{task.id}"
        )
        try:
            result = await self._run
            self.pool.observe(time.perf_counter() - started)
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
        if result.write is None and not ctx.interactions:
            # Nothing to write but the result: the completer stores it with others in one statement,
            # while this agent goes on to its next task.
            self.unacknowledged += 1
            host.complete_later(task, result.output).add_done_callback(
                lambda done: self._completed(task, ctx, started, result.output, done)
            )
            return
        try:
            async with host.runtime.database.transaction("authenticated", ctx.claims) as conn:
                if result.write is not None:
                    await result.write(conn)
                await ctx.record_interactions(conn)
                if not await queue.complete(conn, task, result.output):
                    raise LeaseLost
        except LeaseLost:
            self.metrics.lost += 1
            log.info("task %s: lease lost before completion; its writes were rolled back", task.id)
            return
        except Exception as exc:
            await self._fail(task, ctx, exc)
            return
        self._succeeded(task, ctx, started, result.output)

    def _succeeded(self, task: AgentTask, ctx: TaskContext, started: float, output: dict[str, Any]) -> None:
        tokens = (
            sum(i.prompt_tokens for i in ctx.interactions),
            sum(i.completion_tokens for i in ctx.interactions),
        )
        self.metrics.succeeded(time.perf_counter() - started, task.queue_wait_s, tokens, ctx.cost_usd)
        self.pool.host.task_finished(task, output)

    def _completed(
        self,
        task: AgentTask,
        ctx: TaskContext,
        started: float,
        output: dict[str, Any],
        done: asyncio.Future[bool],
    ) -> None:
        """The completer's answer for a result handed to it."""
        self.unacknowledged -= 1
        try:
            if done.cancelled():
                return  # stopping: the lease runs out and the task is run again
            error = done.exception()
            if error is not None:
                # Not stored (the database was unreachable): the lease runs out and the task runs again.
                log.warning("task %s: could not store its result (%s); its lease will expire", task.id, error)
                self.metrics.lost += 1
            elif done.result():
                self._succeeded(task, ctx, started, output)
            else:
                self.metrics.lost += 1
                log.info("task %s: lease lost before completion; its result was discarded", task.id)
        finally:
            if self.unacknowledged == 0:
                self.pool.acknowledged(self)

    async def _fail(self, task: AgentTask, ctx: TaskContext, exc: BaseException) -> None:
        host = self.pool.host
        settings = host.runtime.settings
        retryable = bool(getattr(exc, "retryable", True))
        message = exc.message if isinstance(exc, GardenError) else str(exc) or type(exc).__name__
        message = f"attempt {task.attempt}: {type(exc).__name__}: {message}"
        if not isinstance(exc, TaskError | GardenError):
            log.warning("task %s (%s) failed: %s", task.id, task.agent_type, message, exc_info=exc)
        delay = queue.backoff_s(task.attempt, base_s=settings.ai_retry_base_s, max_s=settings.ai_retry_max_s)
        status: str | None = None
        try:
            if ctx.interactions:
                async with host.runtime.database.transaction("authenticated", ctx.claims) as conn:
                    await ctx.record_interactions(conn)
            async with host.service.connection() as conn:
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
            host.task_finished(task, None)


class AgentPool:
    def __init__(self, host: PoolHost, agent_cls: type[BaseAIAgent]) -> None:
        self.host = host
        self.agent_cls = agent_cls
        self.agent_type = agent_cls.agent_type
        self.workers: dict[uuid.UUID, AgentWorker] = {}
        self.retired = Metrics()
        self.retiring: list[AgentWorker] = []  # stopped, with results not yet acknowledged
        self.wake = asyncio.Event()
        self.dispatcher: asyncio.Task[None] | None = None
        self.target = 0
        self.manual_at = 0.0  # when a person last sized it (the autoscaler leaves it alone for a while)
        self.last_busy_at = time.monotonic()
        self.run_s: float | None = None  # moving average of the agents' own work per task

    @property
    def size(self) -> int:
        return sum(1 for w in self.workers.values() if not w.draining)

    @property
    def busy(self) -> int:
        return sum(1 for w in self.workers.values() if w.busy)

    @property
    def depth(self) -> int:
        """Tasks an agent may hold: one, or `ai_prefetch` in a pool of fast tasks."""
        if self.run_s is None or self.run_s >= PREFETCH_BELOW_S:
            return 1
        return max(1, self.host.runtime.settings.ai_prefetch)

    def observe(self, run_s: float) -> None:
        self.run_s = run_s if self.run_s is None else 0.9 * self.run_s + 0.1 * run_s

    def metrics(self) -> Metrics:
        workers = [*self.workers.values(), *self.retiring]
        return Metrics.combined([self.retired, *(w.metrics for w in workers)])

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
            ordered = sorted(
                (w for w in self.workers.values() if not w.draining), key=lambda w: w.outstanding
            )
            unstarted = [task for worker in ordered[:surplus] for task in worker.stop()]
            if unstarted:
                await self._release(unstarted)
            await self.host.agent_status([w.id for w in ordered[:surplus]], "draining")
        self.wake.set()
        return self.size

    async def _add(self) -> None:
        agent_id = await self.host.register_agent(self.agent_type)
        worker = AgentWorker(self, self.agent_cls(agent_id, self.host.runtime))
        self.workers[agent_id] = worker
        worker.loop = asyncio.create_task(worker.serve(), name=f"agent-{self.agent_type}-{agent_id}")

    def retire(self, worker: AgentWorker) -> None:
        if self.workers.pop(worker.id, None) is not None:
            if worker.unacknowledged:
                self.retiring.append(worker)  # its metrics are still being counted
            else:
                self.retired = Metrics.combined([self.retired, worker.metrics])
            self.host.agent_stopped(worker.id)

    def acknowledged(self, worker: AgentWorker) -> None:
        """A worker's results were all stored (or failed to be)."""
        if worker in self.retiring:
            self.retiring.remove(worker)
            self.retired = Metrics.combined([self.retired, worker.metrics])

    async def drain(self, timeout_s: float) -> None:
        """Stop every agent after its current task (waiting up to `timeout_s`, then cancelling); the
        tasks they had not started go back to the queue at once."""
        workers = list(self.workers.values())
        unstarted = [task for worker in workers for task in worker.stop()]
        if unstarted:
            await self._release(unstarted)
        loops = [w.loop for w in workers if w.loop is not None]
        if loops:
            _, pending = await asyncio.wait(loops, timeout=timeout_s)
            for loop in pending:
                loop.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _slots(self) -> list[AgentWorker] | None:
        """The agents to claim for, one entry per task, the soonest to start first (the first tasks claimed
        are the most urgent); None when it is not worth a round trip yet (no agent is idle and fewer than
        half the pool's slots are free)."""
        depth = self.depth
        workers = [w for w in self.workers.values() if not w.draining]
        free = {w: depth - w.outstanding for w in workers}
        total = sum(n for n in free.values() if n > 0)
        if total == 0 or (not any(w.idle for w in workers) and 2 * total < depth * len(workers)):
            return None
        # A slot's place: how many tasks its agent runs before it. The most urgent go to the earliest.
        places = sorted(
            (w.outstanding + level, n, w) for n, w in enumerate(workers) for level in range(free[w])
        )
        return [w for _, _, w in places]

    async def _dispatch(self) -> None:
        host = self.host
        settings = host.runtime.settings
        while True:
            await self.wake.wait()
            self.wake.clear()
            while not host.closing:
                slots = self._slots()
                if not slots:
                    break
                for worker in slots:
                    worker.reserved += 1  # a resize meanwhile sees them busy
                try:
                    async with host.service.connection() as conn:
                        tasks = await queue.claim(
                            conn, self.agent_type, [w.id for w in slots], settings.ai_lease_s
                        )
                except (GardenError, psycopg.Error) as exc:
                    for worker in slots:
                        worker.reserved = 0
                    log.warning("%s: cannot claim tasks (%s); retrying shortly", self.agent_type, exc)
                    # Again after the poll interval, or at once when woken (the LISTEN connection is
                    # back after a restart or a failover, a task arrived).
                    self.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), settings.ai_poll_interval_s)
                    continue
                for worker in slots:
                    worker.reserved = 0
                orphans = []
                for task in tasks:  # in claim order: the most urgent first
                    holder = self.workers.get(task.agent_id)
                    if holder is None or holder.draining:
                        orphans.append(task)
                    else:
                        holder.give(task)
                if orphans:
                    await self._release(orphans)
                if tasks:
                    self.last_busy_at = time.monotonic()
                if len(tasks) < len(slots):
                    break

    async def _release(self, tasks: list[AgentTask]) -> None:
        try:
            async with self.host.service.connection() as conn:
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
            "prefetch": self.depth,
            "draining": sum(1 for w in self.workers.values() if w.draining),
            "agents": [{"id": str(w.id), "status": w.status} for w in self.workers.values()],
            "metrics": self.metrics().snapshot(),
        }
