"""`gardenos keys`: the project's API keys, as Supabase's dashboard shows them."""

from __future__ import annotations

import json

import typer

from gardenos.auth.tokens import TokenService
from gardenos.cli.console import console
from gardenos.secrets import load_or_create
from gardenos.settings import get_settings


def keys(
    as_json: bool = typer.Option(False, "--json", help="Print the keys as JSON (for scripts)."),
) -> None:
    """Print the anon key (for browsers and apps) and the service_role key (servers only: bypasses RLS)."""
    settings = get_settings()
    tokens = TokenService(settings, load_or_create(settings).jwt_secret)
    found = {"anon": tokens.api_key("anon"), "service_role": tokens.api_key("service_role")}
    if as_json:
        print(json.dumps({"url": settings.external_url, **found}))
        return
    console.print(f"[bold]API URL[/]          {settings.external_url}")
    console.print(f"[bold]anon key[/]         {found['anon']}")
    console.print(f"[bold]service_role key[/] {found['service_role']}")
    console.print("[yellow]Keep the service_role key secret: it bypasses row-level security.[/]")
