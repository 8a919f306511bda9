"""`gardenos keys`: the project's API keys, as Supabase's dashboard shows them."""

from __future__ import annotations

import typer

from gardenos.auth.tokens import TokenService
from gardenos.cli.console import console, err_console, print_json, stdout_is_terminal
from gardenos.errors import BadRequest
from gardenos.secrets import load_or_create
from gardenos.settings import get_settings

WARNING = "[yellow]Keep the service_role key secret: it bypasses row-level security.[/]"


def keys(
    anon: bool = typer.Option(False, "--anon", help="Print the anon key alone (one line, for scripts)."),
    service_role: bool = typer.Option(
        False, "--service-role", help="Print the service_role key alone (one line, for scripts)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the URL and keys as JSON (for scripts)."),
) -> None:
    """Print the anon key (for browsers and apps) and the service_role key (servers only: bypasses RLS).

    Written to a file or a pipe, they are `NAME=value` lines, ready for an .env file."""
    if anon + service_role + as_json > 1:
        raise BadRequest("choose one of --anon, --service-role and --json")
    settings = get_settings()
    tokens = TokenService(settings, load_or_create(settings).jwt_secret)
    if anon or service_role:
        print(tokens.api_key("anon" if anon else "service_role"))
        return
    found = {"anon": tokens.api_key("anon"), "service_role": tokens.api_key("service_role")}
    if as_json:
        print_json({"url": settings.external_url, **found})
        return
    if not stdout_is_terminal():
        print(f"GARDENOS_URL={settings.external_url}")
        print(f"GARDENOS_ANON_KEY={found['anon']}")
        print(f"GARDENOS_SERVICE_ROLE_KEY={found['service_role']}")
        err_console.print(WARNING)
        return
    console.print(f"[bold]API URL[/]          {settings.external_url}")
    # Never broken by rich: the terminal folds a long line for the eye, and copying it gives the key whole.
    console.print(f"[bold]anon key[/]         {found['anon']}", soft_wrap=True)
    console.print(f"[bold]service_role key[/] {found['service_role']}", soft_wrap=True)
    console.print(WARNING)
