"""`/realtime/v1/websocket`: broadcast fan-out, database-change delivery and memory per connection,
beside a bare websocket server on the same machine (the ceiling).

- Servers: GardenOS under `uvicorn --workers 1` and `--workers 2` (bench/api.py's `subprocess_api`), and
  the ceiling: the `websockets` library's own server in one process, which forwards each text message
  to every other connection (`websockets.broadcast`: the frame encoded once), with no protocol at all.
- Clients: `loaders` processes (spawned), each with its share of the connections on one asyncio loop
  (the `websockets` client, no compression, no pings). On GardenOS each joins `realtime:bench` with a
  member's token (presence off, `self: false`); on the ceiling it only connects. One more connection,
  in this process, sends. Clients, senders and servers share the machine's cores.
- Fan-out, at each size in turn (connections are added, never reopened): a burst of broadcasts sent
  back to back (`burst_deliveries / clients` of them, at least 10), delivered msgs/s = deliveries / (last
  delivery - first send); then broadcasts paced at half that rate for `seconds`, latency send → receive
  (the sender's wall clock in the payload, the receiver's at arrival: one machine, one clock), p50/p95.
  Each broadcast is the same frame on both servers: Phoenix's `broadcast` with `payload_bytes` of padding.
- Memory per idle connection: the server's RSS (the process and its workers) with the clients connected
  and joined, idle, minus its RSS before the first client, divided by the connections.
- Database changes: GardenOS, one worker, `subscribers` connections each joined to INSERTs on `leads`
  as its own member (10 agencies), single-row commits at `insert_rate`/s for `seconds` (bench/
  realtime_changes.py's writer), commit timestamp → arrival, p50/p95; then the same through the feed
  alone in this process (bench/realtime_changes.py's `latency`), on the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import re
import resource
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
import websockets
import websockets.sync.client
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from bench import realtime_changes
from bench.api import subprocess_api
from bench.support import percentile, private_database
from gardenos.auth.tokens import TokenService, agency_claims
from gardenos.db.target import DatabaseTarget
from gardenos.embedded.postgres import free_port

TOPIC = "realtime:bench"
# The sender's clock in a broadcast, and the commit's in a change: found without parsing the frame,
# so that a client's cost per message stays small beside the server's.
SENT = re.compile(r'"bench_t":\s*([0-9.]+)')
COMMITTED = re.compile(r'"commit_timestamp":\s*"([^"]+)"')
# The caps a real deployment sets per agency would refuse the bench's one agency of 5,000 clients.
SERVER_ENV = {
    "GARDENOS_REALTIME_MAX_CONNECTIONS_PER_AGENCY": "1000000",
    "GARDENOS_REALTIME_MAX_EVENTS_PER_S": "1000000",
}
OPENING = 100  # connections being opened at once, per loader
WAIT_S = 60.0  # the longest a phase waits for its deliveries before reporting what arrived


# -- the clients (in the loader processes) -------------------------------------------------------------


@dataclass
class Arrivals:
    count: int = 0
    last: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def note(self, message: str | bytes) -> None:
        now = time.time()
        text = message if isinstance(message, str) else message.decode(errors="replace")
        if sent := SENT.search(text):
            at = float(sent[1])
        elif committed := COMMITTED.search(text):
            at = datetime.fromisoformat(committed[1]).timestamp()
        else:
            return  # replies, system messages
        self.count += 1
        self.last = now
        self.latencies.append(now - at)


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def loader(pipe: Connection) -> None:
    """A load-generator process: commands from `pipe`, one at a time, each answered."""
    raise_fd_limit()
    asyncio.run(_serve_commands(pipe))


async def _serve_commands(pipe: Connection) -> None:
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    arrivals = Arrivals()

    async def open_one(url: str, join: str | None, gate: asyncio.Semaphore) -> None:
        async with gate:
            ws = await connect(url, compression=None, ping_interval=None, max_size=None, open_timeout=60)
            sockets.append(ws)
            if join is not None:
                await ws.send(join)
                while True:
                    reply = json.loads(await ws.recv())
                    if reply["event"] == "phx_reply":
                        break
                if reply["payload"]["status"] != "ok":
                    raise RuntimeError(f"join refused: {reply['payload']}")
        readers.append(asyncio.create_task(_read(ws, arrivals)))

    while True:
        command, argument = await asyncio.to_thread(pipe.recv)
        try:
            if command == "connect":
                url, joins = argument
                gate = asyncio.Semaphore(OPENING)
                await asyncio.gather(*(open_one(url, join, gate) for join in joins))
                pipe.send(("ok", len(sockets)))
            elif command == "reset":
                arrivals = Arrivals()
                for task in readers:
                    task.cancel()
                readers = [asyncio.create_task(_read(ws, arrivals)) for ws in sockets]
                pipe.send(("ok", None))
            elif command == "arrivals":
                pipe.send(("ok", (arrivals.count, arrivals.last, arrivals.latencies if argument else [])))
            elif command == "close":
                for task in readers:
                    task.cancel()
                await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
                pipe.send(("ok", None))
                return
        except Exception as exc:
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))


async def _read(ws: ClientConnection, arrivals: Arrivals) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for message in ws:
            arrivals.note(message)


class Loaders:
    """The load-generator processes, as this process drives them."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(count):
            here, there = context.Pipe()
            process = context.Process(target=loader, args=(there,), daemon=True)
            process.start()
            self.pipes.append(here)
            self.processes.append(process)

    async def _all(self, commands: list[tuple[str, Any]]) -> list[Any]:
        def ask(pipe: Connection, command: tuple[str, Any]) -> Any:
            pipe.send(command)
            status, value = pipe.recv()
            if status != "ok":
                raise RuntimeError(f"load generator: {value}")
            return value

        return await asyncio.gather(
            *(
                asyncio.to_thread(ask, pipe, command)
                for pipe, command in zip(self.pipes, commands, strict=True)
            )
        )

    async def connect(self, url: str, joins: list[str | None]) -> None:
        """The connections spread over the loaders, each with its join frame (None: connect only)."""
        shares = [joins[i :: len(self.pipes)] for i in range(len(self.pipes))]
        await self._all([("connect", (url, share)) for share in shares])

    async def reset(self) -> None:
        await self._all([("reset", None)] * len(self.pipes))

    async def arrivals(self, latencies: bool = False) -> Arrivals:
        total = Arrivals()
        for count, last, values in await self._all([("arrivals", latencies)] * len(self.pipes)):
            total.count += count
            total.last = max(total.last, last)
            total.latencies += values
        return total

    async def wait(self, expected: int) -> Arrivals:
        deadline = time.monotonic() + WAIT_S
        while True:
            arrived = await self.arrivals()
            if arrived.count >= expected or time.monotonic() > deadline:
                return arrived
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._all([("close", None)] * len(self.pipes)), 60)
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()


@asynccontextmanager
async def loaders(count: int) -> AsyncIterator[Loaders]:
    group = Loaders(count)
    try:
        yield group
    finally:
        await group.close()


# -- the ceiling: a bare websocket server ----------------------------------------------------------


def bare_server(port: int) -> None:
    raise_fd_limit()
    asyncio.run(_bare(port))


async def _bare(port: int) -> None:
    connected: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        connected.add(ws)
        try:
            async for message in ws:
                websockets.broadcast([other for other in connected if other is not ws], message)
        finally:
            connected.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=None):
        await asyncio.Future()


@contextmanager
def bare_process() -> Iterator[tuple[str, int]]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=bare_server, args=(port,), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            # A websocket handshake, not a bare TCP probe (which the server would log as a bad request).
            with contextlib.suppress(OSError), websockets.sync.client.connect(f"ws://127.0.0.1:{port}"):
                break
            if time.monotonic() > deadline or not process.is_alive():
                raise RuntimeError("the bare websocket server did not start")
            time.sleep(0.1)
        assert process.pid is not None
        yield f"ws://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()


def rss(pid: int) -> int:
    """The resident memory of `pid` and its children (uvicorn's workers)."""
    parent = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])


# -- fan-out ---------------------------------------------------------------------------------------------


def join_frame(token: str | None, changes: list[dict[str, str]] | None = None) -> str:
    config = {
        "broadcast": {"self": False, "ack": False},
        "presence": {"enabled": False},
        "postgres_changes": changes or [],
        "private": False,
    }
    payload: dict[str, Any] = {"config": config}
    if token is not None:
        payload["access_token"] = token
    return json.dumps({"topic": TOPIC, "event": "phx_join", "payload": payload, "ref": "1", "join_ref": "1"})


def broadcast_frame(pad: str) -> str:
    body = {"type": "broadcast", "event": "bench", "payload": {"bench_t": time.time(), "pad": pad}}
    # Compact, as GardenOS encodes what it sends: the same bytes on the wire from both servers.
    frame = {"topic": TOPIC, "event": "broadcast", "payload": body, "ref": None, "join_ref": "1"}
    return json.dumps(frame, separators=(",", ":"))


@dataclass
class FanOut:
    clients: int
    burst: float  # msgs/s delivered
    burst_lost: int
    paced_rate: int  # broadcasts/s
    paced: float  # msgs/s delivered
    p50: float
    p95: float
    per_connection: float  # bytes


class Sender:
    def __init__(self, ws: ClientConnection, pad: str) -> None:
        self.ws = ws
        self.pad = pad
        # What the server sends back (its join reply) is read and dropped.
        self.drain = asyncio.create_task(_read(ws, Arrivals()))

    async def burst(self, count: int) -> float:
        began = time.time()
        for _ in range(count):
            await self.ws.send(broadcast_frame(self.pad))
        return began

    async def paced(self, rate: int, seconds: float) -> int:
        began = time.perf_counter()
        count = round(rate * seconds)
        for i in range(count):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.ws.send(broadcast_frame(self.pad))
        return count


async def fan_out(
    url: str,
    pid: int,
    join: str | None,
    sizes: list[int],
    *,
    seconds: float,
    payload_bytes: int,
    burst_deliveries: int,
    loader_count: int,
) -> list[FanOut]:
    results = []
    pad = "x" * payload_bytes
    async with loaders(loader_count) as group, connect(url, compression=None, ping_interval=None) as ws:
        if join is not None:
            await ws.send(join)
        sender = Sender(ws, pad)
        await asyncio.sleep(1)
        baseline = rss(pid)
        connected = 0
        for size in sizes:
            await group.connect(url, [join] * (size - connected))
            connected = size
            await asyncio.sleep(2)  # idle: what the joins left to do is done
            per_connection = (rss(pid) - baseline) / size

            await group.reset()
            count = max(10, burst_deliveries // size)
            began = await sender.burst(count)
            bursted = await group.wait(count * size)
            burst = bursted.count / max(bursted.last - began, 1e-9)

            await group.reset()
            rate = max(1, round(burst / 2 / size))
            sent = await sender.paced(rate, seconds)
            await group.wait(sent * size)
            delivered = await group.arrivals(latencies=True)
            values = [v * 1000 for v in delivered.latencies] or [float("nan")]
            results.append(
                FanOut(
                    size,
                    burst,
                    count * size - bursted.count,
                    rate,
                    delivered.count / seconds,
                    percentile(values, 50),
                    percentile(values, 95),
                    per_connection,
                )
            )
        sender.drain.cancel()
    return results


# -- database changes ----------------------------------------------------------------------------------


async def changes_through_socket(
    url: str,
    target: DatabaseTarget,
    tokens: list[str],
    agencies: list[str],
    rate: int,
    seconds: int,
    loader_count: int,
) -> tuple[float, float, int, int]:
    """(p50 ms, p95 ms, delivered, expected) for `tokens` subscribers while leads are inserted."""
    binding = [{"event": "INSERT", "schema": "public", "table": "leads"}]
    async with loaders(loader_count) as group:
        await group.connect(url, [join_frame(token, binding) for token in tokens])
        await asyncio.sleep(2)
        await group.reset()
        await asyncio.to_thread(realtime_changes.insert_paced, target, agencies, rate, seconds)
        # Each insert reaches the members of its agency: one in AGENCIES of the subscribers.
        expected = rate * seconds * len(tokens) // realtime_changes.AGENCIES
        await group.wait(expected)
        arrived = await group.arrivals(latencies=True)
    values = [v * 1000 for v in arrived.latencies] or [float("nan")]
    return percentile(values, 50), percentile(values, 95), arrived.count, expected


# -- the run ---------------------------------------------------------------------------------------------


def run(
    *,
    sizes: list[int],
    seconds: int = 5,
    payload_bytes: int = 100,
    burst_deliveries: int = 50_000,
    subscribers: int = 1000,
    insert_rate: int = 200,
    loader_count: int = 2,
) -> None:
    console = Console() if Console().is_terminal else Console(width=150)
    raise_fd_limit()  # inherited by the API's processes
    work = Path(tempfile.mkdtemp(prefix="gardenos-bench-realtime-"))
    try:
        with private_database(jwt_expiry_s=7 * 86400, ai_workers=False) as target:
            _run(
                console,
                target,
                work,
                sizes=sizes,
                seconds=seconds,
                payload_bytes=payload_bytes,
                burst_deliveries=burst_deliveries,
                subscribers=subscribers,
                insert_rate=insert_rate,
                loader_count=loader_count,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    console: Console,
    target: DatabaseTarget,
    work: Path,
    *,
    sizes: list[int],
    seconds: int,
    payload_bytes: int,
    burst_deliveries: int,
    subscribers: int,
    insert_rate: int,
    loader_count: int,
) -> None:
    service = TokenService(target.settings, target.secrets.jwt_secret)
    anon = service.api_key("anon")
    with console.status(f"{subscribers} members in {realtime_changes.AGENCIES} agencies…"):
        agencies, members = realtime_changes.setup_members(target, max(subscribers, 1))
    tokens = [service.access_token(agency_claims(agency, "member", user))[0] for agency, user in members]
    options = {
        "seconds": seconds,
        "payload_bytes": payload_bytes,
        "burst_deliveries": burst_deliveries,
        "loader_count": loader_count,
    }
    rows: list[tuple[str, FanOut]] = []
    for workers in (1, 2):
        with (
            console.status(f"GardenOS, {workers} worker(s): fan-out to {sizes} clients…"),
            subprocess_api(target, work, workers=workers, env=SERVER_ENV) as (base, _, process),
        ):
            url = base.replace("http://", "ws://") + f"/realtime/v1/websocket?apikey={anon}&vsn=1.0.0"
            for result in asyncio.run(fan_out(url, process.pid, join_frame(tokens[0]), sizes, **options)):
                rows.append((f"GardenOS, {workers} worker{'s' if workers > 1 else ''}", result))
    with (
        console.status(f"ceiling: bare websockets server, fan-out to {sizes} clients…"),
        bare_process() as (
            url,
            pid,
        ),
    ):
        for result in asyncio.run(fan_out(url, pid, None, sizes, **options)):
            rows.append(("ceiling: bare websockets, 1 process", result))
    _fan_out_table(console, rows, payload_bytes, seconds)

    with (
        console.status(f"database changes: {subscribers} subscribers, {insert_rate} inserts/s…"),
        subprocess_api(target, work, workers=1, env=SERVER_ENV) as (base, _, process),
    ):
        url = base.replace("http://", "ws://") + f"/realtime/v1/websocket?apikey={anon}&vsn=1.0.0"
        p50, p95, delivered, expected = asyncio.run(
            changes_through_socket(
                url, target, tokens[:subscribers], agencies, insert_rate, seconds, loader_count
            )
        )
    with console.status("database changes through the feed alone…"):
        feed50, feed95 = asyncio.run(
            realtime_changes.latency(target, agencies, members[:subscribers], insert_rate, seconds)
        )
    table = Table(
        title=f"Database changes: commit → client at {insert_rate} single-row inserts/s for {seconds} s, "
        f"{subscribers} subscribers (each a member; an insert reaches its agency's {subscribers // 10})"
    )
    for column in ("path", "delivered", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    table.add_row(
        "websocket (postgres_changes), 1 worker", f"{delivered:,} of {expected:,}", f"{p50:.1f}", f"{p95:.1f}"
    )
    table.add_row("the change feed alone, in-process", "-", f"{feed50:.1f}", f"{feed95:.1f}")
    console.print(table)


def _fan_out_table(
    console: Console, rows: list[tuple[str, FanOut]], payload_bytes: int, seconds: int
) -> None:
    size = len(broadcast_frame("x" * payload_bytes))
    table = Table(
        title=f"Broadcast fan-out, {size}-byte frames: a burst (msgs/s delivered), then paced at half that "
        f"for {seconds} s (latency send → receive)"
    )
    for column in (
        "server",
        "clients",
        "burst msgs/s",
        "lost",
        "paced bcasts/s",
        "paced msgs/s",
        "p50 ms",
        "p95 ms",
        "KiB/idle conn",
    ):
        table.add_column(column, justify="left" if column == "server" else "right")
    for server, r in rows:
        table.add_row(
            server,
            f"{r.clients:,}",
            f"{r.burst:,.0f}",
            f"{r.burst_lost:,}",
            f"{r.paced_rate:,}",
            f"{r.paced:,.0f}",
            f"{r.p50:.1f}",
            f"{r.p95:.1f}",
            f"{r.per_connection / 1024:.1f}",
        )
    console.print(table)


if __name__ == "__main__":
    run(sizes=[100, 1000, 5000])
