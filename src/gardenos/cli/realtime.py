"""`gardenos realtime status`: the API processes serving /realtime/v1 and what they hold, as each last
reported it (every few seconds, in realtime.nodes)."""

from __future__ import annotations

import typer
from psycopg.rows import dict_row
from rich.table import Table

from gardenos.cli.console import console, print_json
from gardenos.cli.target import database_target
from gardenos.settings import get_settings

app = typer.Typer(help="Realtime (websocket) connections and channels.", no_args_is_help=True)

NODES = """
SELECT n.id::text AS node, n.seen_at, n.connections, n.channels,
       (SELECT count(*) FROM realtime.presences p WHERE p.node_id = n.id) AS presences
FROM realtime.nodes n
WHERE n.expires_at > now()
ORDER BY n.seen_at DESC
"""


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the processes as JSON.")) -> None:
    """Connections, channels and tracked presences per API process."""
    target = database_target(get_settings())
    with target.running(), target.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
        nodes = cur.execute(NODES).fetchall()
    if as_json:
        print_json({"processes": nodes})
        return
    table = Table(title="realtime (API processes whose lease holds)")
    for column in ("process", "last seen", "connections", "channels", "presences"):
        table.add_column(column, justify="left" if column in ("process", "last seen") else "right")
    for node in nodes:
        table.add_row(
            node["node"][:8],
            f"{node['seen_at']:%H:%M:%S}",
            str(node["connections"]),
            str(node["channels"]),
            str(node["presences"]),
        )
    console.print(table)
    total = sum(node["connections"] for node in nodes), sum(node["channels"] for node in nodes)
    console.print(f"{total[0]} connections, {total[1]} channels in all")
