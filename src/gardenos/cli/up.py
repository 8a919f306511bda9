"""`gardenos up`: the database, migrations, demo data and the API, as one process tree."""

from __future__ import annotations

import signal
import socket
from types import FrameType

import typer
from rich.panel import Panel

from gardenos.auth.tokens import TokenService
from gardenos.cli.console import console, err_console
from gardenos.cli.demo import load_into_agency
from gardenos.cli.target import database_target
from gardenos.cluster.cluster import Cluster
from gardenos.db.target import DatabaseTarget
from gardenos.demo.agency import DEMO_SLUG, FIND_AGENCY, demo_login
from gardenos.embedded.postgres import EmbeddedPostgres
from gardenos.embedded.uplock import STARTING_POSTGRES, UpLock, UpRecord
from gardenos.errors import ConfigurationError
from gardenos.settings import Settings, get_settings
from gardenos.storage.stores import storage_location

# How long `gardenos up` waits for a previous one of the same data folder that is still stopping.
PREVIOUS_UP_WAIT_S = 30.0


def up(
    host: str | None = typer.Option(
        None, help="Address the API listens on [default: GARDENOS_HOST or 127.0.0.1]."
    ),
    port: int | None = typer.Option(None, help="API port [default: GARDENOS_PORT or 8000]."),
    demo: bool | None = typer.Option(
        None, "--demo/--no-demo", help="Load the demo agency on first start [default: GARDENOS_DEMO or on]."
    ),
    cluster: bool | None = typer.Option(
        None,
        "--cluster/--no-cluster",
        help="Run against the Patroni cluster through HAProxy [default: GARDENOS_CLUSTER].",
    ),
) -> None:
    """Start GardenOS: PostgreSQL (embedded unless GARDENOS_DATABASE_URL is set), migrations, demo data,
    and the API. Ctrl-C stops all of it."""
    settings = get_settings().model_copy(
        update={
            k: v
            for k, v in {"host": host, "port": port, "demo": demo, "cluster": cluster}.items()
            if v is not None
        }
    )
    target = database_target(settings)
    lock = UpLock(settings.data_path) if target.embedded is not None else None
    # Whether PostgreSQL is ours to stop at the end (we started it, or were about to).
    owns_postgres = False

    def interrupted(signum: int, frame: FrameType | None) -> None:
        # Marked first, so that a `gardenos up` started meanwhile waits for us rather than refusing.
        if lock is not None:
            lock.set_phase("stopping")
        raise KeyboardInterrupt

    # SIGTERM (a service manager, `kill`) stops us as cleanly as Ctrl-C, including during start-up.
    previous = {sig: signal.signal(sig, interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        previous_up = None
        if lock is not None:
            previous_up = lock.acquire(
                f"{settings.host}:{settings.port}",
                wait_s=PREVIOUS_UP_WAIT_S,
                waiting=lambda holder: console.print(
                    f"waiting for the previous `gardenos up` (pid {holder.pid}) to stop…", soft_wrap=True
                ),
            )
        _check_port_free(settings.host, settings.port)
        if target.embedded is not None and lock is not None:
            owns_postgres = not _runs_on_its_own(target.embedded, previous_up)
            if owns_postgres:
                _start_postgres(target.embedded, lock, previous_up)
        if settings.cluster and settings.database_url is None:
            # The cluster has a life of its own: started here when needed, left running afterwards.
            with err_console.status("starting the cluster (`gardenos cluster down` stops it)…"):
                Cluster(settings).up()
        applied = target.prepare()
        if applied:
            console.print(f"applied {len(applied)} migration(s): {', '.join(m.label for m in applied)}")
        if settings.demo:
            _ensure_demo(settings, target)
        from gardenos.cli.serving import api_server  # imported only now: see its docstring

        server = api_server(settings, target, lock)
        _announce(settings, target)
        if lock is not None:
            lock.set_phase("serving")
        server.run()
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        if lock is not None:
            lock.set_phase("stopping")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if target.embedded is not None and owns_postgres:
            with err_console.status("stopping PostgreSQL…"):
                stopped = target.embedded.stop()
            if stopped:
                console.print("PostgreSQL stopped")
        if lock is not None:
            if owns_postgres:
                lock.set_postgres(None)
            lock.release()
    console.print("GardenOS stopped")


def _runs_on_its_own(pg: EmbeddedPostgres, previous: UpRecord | None) -> bool:
    """Whether the data folder's PostgreSQL runs by `gardenos db start`'s will (not as the orphan of a
    `gardenos up`): then it is used as it is, and left running at the end, as it was found."""
    running = pg.running_pid() if pg.is_initialized else None
    if running is None or (previous is not None and previous.started(running)):
        return False
    console.print(
        f"using the PostgreSQL already running (pid {running}, from `gardenos db start`); "
        "it keeps running after GardenOS stops",
        soft_wrap=True,
    )
    return True


def _start_postgres(pg: EmbeddedPostgres, lock: UpLock, previous: UpRecord | None) -> None:
    """Start the data folder's PostgreSQL, restarting first the one a killed `gardenos up` left running."""
    orphan = pg.running_pid() if pg.is_initialized else None
    if orphan is not None and previous is not None:
        # Orphaned by a `gardenos up` that ended without stopping it (kill -9, the OOM killer).
        # Restarted rather than adopted: a fast shutdown loses nothing committed, and the new server
        # runs under this process, with the settings and log it is started with.
        restarting = f"restarting the PostgreSQL left running by `gardenos up` (pid {previous.pid})…"
        with err_console.status(restarting):
            pg.stop()
        console.print(
            f"restarted PostgreSQL (pid {orphan}), left running by a `gardenos up` (pid {previous.pid}) "
            "that ended without stopping it: fast shutdown, then start",
            soft_wrap=True,
        )
    lock.set_postgres(STARTING_POSTGRES)
    with err_console.status("starting PostgreSQL…"):
        created = pg.start()
    lock.set_postgres(pg.running_pid())
    console.print(f"PostgreSQL {'created and ' if created else ''}started; log: {pg.log_file}")


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port} ({exc.strerror}); is GardenOS already running? "
                "Choose another port with --port or GARDENOS_PORT."
            ) from exc


def _ensure_demo(settings: Settings, target: DatabaseTarget) -> None:
    with target.connect() as conn:
        exists = conn.execute(FIND_AGENCY, (DEMO_SLUG,)).fetchone() is not None
    if exists:
        return
    console.print("loading the demo agency (first start only)…")
    load_into_agency(
        settings,
        target,
        slug=DEMO_SLUG,
        leads=settings.demo_leads,
        clients=settings.demo_clients,
        seed=42,
    )


def _announce(settings: Settings, target: DatabaseTarget) -> None:
    base = f"http://{settings.host}:{settings.port}"
    web = f"{base}/" if (settings.web_path / "index.html").is_file() else "not built (`make web` builds it)"
    lines = [
        f"[bold]Web app[/]    {web}",
        f"[bold]API[/]        {base}",
        f"[bold]Docs[/]       {base}/docs",
        f"[bold]Health[/]     {base}/health   [bold]Ready[/] {base}/ready",
        f"[bold]Database[/]   {target.describe()}   (`gardenos db psql`)",
    ]
    if target.embedded is not None:
        lines.append(f"[bold]DB log[/]     {target.embedded.log_file}")
    lines.append(f"[bold]Storage[/]    {storage_location(settings)}")
    tokens = TokenService(settings, target.secrets.jwt_secret)
    lines.append("[bold]Keys[/]       the anon key is below; the service_role key: `gardenos keys`")
    if settings.demo:
        login = demo_login(settings.data_path)
        lines.append(f"[bold]Demo login[/] {login.email} / {login.password}")
    lines.append("Ctrl-C stops GardenOS.")
    console.print(Panel("\n".join(lines), title="GardenOS is up", expand=False))
    # On a line of its own and never wrapped, so it can be copied whole.
    console.print(f"anon key: {tokens.api_key('anon')}", soft_wrap=True, highlight=False)
