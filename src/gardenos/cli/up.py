"""`gardenos up`: the database, migrations, demo data and the API, as one process tree."""

from __future__ import annotations

import signal
import socket
from types import FrameType

import typer
import uvicorn
from rich.panel import Panel

from gardenos.api.app import create_app
from gardenos.api.server import server_config
from gardenos.auth.tokens import TokenService
from gardenos.cli.console import console
from gardenos.cli.demo import load_into_agency
from gardenos.cluster.cluster import Cluster
from gardenos.db.target import DatabaseTarget
from gardenos.demo.agency import DEMO_SLUG, FIND_AGENCY, demo_login
from gardenos.errors import ConfigurationError
from gardenos.settings import Settings, get_settings


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
    _check_port_free(settings.host, settings.port)
    target = DatabaseTarget(settings)
    # SIGTERM (a service manager, `kill`) stops us as cleanly as Ctrl-C, including during start-up.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if target.embedded is not None:
            if target.embedded.is_initialized and target.embedded.is_running():
                raise ConfigurationError(
                    f"the embedded database in {target.embedded.pgdata} is already running "
                    f"(pid {target.embedded.running_pid()}): is another `gardenos up` running? "
                    "If not, stop it with `gardenos db stop`."
                )
            with console.status("starting PostgreSQL…"):
                created = target.embedded.start()
            console.print(
                f"PostgreSQL {'created and ' if created else ''}started; log: {target.embedded.log_file}"
            )
        if settings.cluster and settings.database_url is None:
            # The cluster has a life of its own: started here when needed, left running afterwards.
            with console.status("starting the cluster (`gardenos cluster down` stops it)…"):
                Cluster(settings).up()
        applied = target.prepare()
        if applied:
            console.print(f"applied {len(applied)} migration(s): {', '.join(m.label for m in applied)}")
        if settings.demo:
            _ensure_demo(settings, target)
        app = create_app(target)
        _announce(settings, target)
        server = uvicorn.Server(
            server_config(
                app, settings, host=settings.host, port=settings.port, log_level="info", lifespan="on"
            )
        )
        server.run()
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if target.embedded is not None:
            with console.status("stopping PostgreSQL…"):
                stopped = target.embedded.stop()
            if stopped:
                console.print("PostgreSQL stopped")
    console.print("GardenOS stopped")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


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
    lines = [
        f"[bold]API[/]        {base}",
        f"[bold]Docs[/]       {base}/docs",
        f"[bold]Health[/]     {base}/health   [bold]Ready[/] {base}/ready",
        f"[bold]Database[/]   {target.describe()}   (`gardenos db psql`)",
    ]
    if target.embedded is not None:
        lines.append(f"[bold]DB log[/]     {target.embedded.log_file}")
    tokens = TokenService(settings, target.secrets.jwt_secret)
    lines.append("[bold]Keys[/]       the anon key is below; the service_role key: `gardenos keys`")
    if settings.demo:
        login = demo_login(settings.data_path)
        lines.append(f"[bold]Demo login[/] {login.email} / {login.password}")
    lines.append("Ctrl-C stops GardenOS.")
    console.print(Panel("\n".join(lines), title="GardenOS is up", expand=False))
    # On a line of its own and never wrapped, so it can be copied whole.
    console.print(f"anon key: {tokens.api_key('anon')}", soft_wrap=True, highlight=False)
