"""`gardenos mail …`: read the development outbox, where mails go while no SMTP server is configured."""

from __future__ import annotations

import re
import uuid

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gardenos.cli.console import console, err_console, print_json
from gardenos.cli.target import database_target
from gardenos.db import outbox
from gardenos.errors import BadRequest, NotFound
from gardenos.settings import Settings, get_settings

app = typer.Typer(
    help="Read the mails GardenOS stored instead of sending them (no GARDENOS_SMTP_HOST set).",
    no_args_is_help=True,
)

_LINK = re.compile(r"https?://\S+")


def _note_smtp(settings: Settings) -> None:
    if settings.smtp_host:
        err_console.print(
            f"[yellow]note:[/] mails go to SMTP ({escape(settings.smtp_host)}:{settings.smtp_port}); "
            "the outbox is only used without SMTP, so what follows is older mail"
        )


@app.command("list")
def list_mail(
    to: str | None = typer.Option(None, "--to", help="Only mails to this address."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many of the newest mails."),
    as_json: bool = typer.Option(False, "--json", help="Print the mails (without bodies) as JSON."),
) -> None:
    """The newest mails in the outbox, with the first link in each."""
    settings = get_settings()
    _note_smtp(settings)
    target = database_target(settings)
    with target.running():
        mails = outbox.list_mail(target.owner_url, limit=limit, to=to)
    if as_json:
        print_json(
            [
                {
                    "id": mail.id,
                    "created_at": mail.created_at,
                    "to": mail.to_address,
                    "kind": mail.kind,
                    "subject": mail.subject,
                    "link": _first_link(mail.text_body) or None,
                }
                for mail in mails
            ]
        )
        return
    if not mails:
        console.print(f"no mail to {escape(to)} in the outbox" if to else "the outbox is empty")
        return
    table = Table()
    table.add_column("when", no_wrap=True)
    table.add_column("to", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("subject")
    # The link is what a developer came for: folded rather than cut, so it is always whole, and
    # clickable where the terminal supports hyperlinks. The id is for `gardenos mail show`.
    table.add_column("link", overflow="fold")
    table.add_column("id", no_wrap=True)
    for mail in mails:
        url = _first_link(mail.text_body)
        link = Text(url, style=f"link {url}") if url else Text("")
        table.add_row(
            mail.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            Text(mail.to_address),
            mail.kind,
            Text(mail.subject),
            link,
            str(mail.id),
        )
    console.print(table)
    console.print("[dim]`gardenos mail show ID` prints a whole mail[/]")


def _first_link(text: str) -> str:
    found = _LINK.search(text)
    return found[0] if found else ""


@app.command()
def show(
    mail_id: str = typer.Argument(..., metavar="ID", help="The mail's id, from `gardenos mail list`."),
    html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
) -> None:
    """Print one mail: its headers, then its whole text (or HTML) body."""
    try:
        wanted = uuid.UUID(mail_id)
    except ValueError:
        raise BadRequest(f"{mail_id!r} is not a mail id", hint="`gardenos mail list` shows the ids") from None
    settings = get_settings()
    _note_smtp(settings)
    target = database_target(settings)
    with target.running():
        mail = outbox.get_mail(target.owner_url, wanted)
    if mail is None:
        raise NotFound(f"no mail with id {wanted} in the outbox", hint="`gardenos mail list` shows the ids")
    console.print(f"[bold]To:[/]      {escape(mail.to_address)}")
    console.print(f"[bold]Subject:[/] {escape(mail.subject)}")
    console.print(f"[bold]Kind:[/]    {mail.kind}")
    console.print(f"[bold]Date:[/]    {mail.created_at.astimezone().isoformat(timespec='seconds')}")
    # The body as stored: print() rather than rich, which would read `[...]` in it as markup.
    print()
    print(mail.html_body if html else mail.text_body, end="")
