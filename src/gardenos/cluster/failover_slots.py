"""Patroni's `on_start` and `on_role_change` callback: `python failover_slots.py patroni.yml ACTION ROLE
SCOPE`. On a node that runs as a standby, drops the failover logical slots it kept from its time as the
leader, so that PostgreSQL's slot synchronisation can copy the leader's in their place.

Realtime's change feed reads a failover slot (`failover => true`), which every standby keeps in step
with the leader's (`sync_replication_slots`), so a promoted standby has it. But a leader that becomes a
standby (a switchover, or a crashed leader that rejoins) still has its own copy, not marked `synced`,
and PostgreSQL 17/18's slot sync worker refuses to overwrite it: "exiting from slot synchronization
because same name slot … already exists on the standby", for every slot, until someone drops it. That
node, promoted later, would then start from where it stopped leading. Patroni drops such slots itself
only from a later release (patroni/patroni pull request 3493); until then this callback does.

The cluster copies this file next to walcrypt.py and runs it with the service user's Python (Patroni's
own, which has PyYAML and psycopg): it imports nothing from GardenOS.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import yaml

LEADER_ROLES = ("primary", "master", "promoted")
# A slot of this node's own making, left from when it led: not being synchronised, not in use.
LEFTOVERS = """
SELECT slot_name, database FROM pg_replication_slots
WHERE slot_type = 'logical' AND failover AND NOT synced AND NOT active
"""
DROP = "SELECT pg_drop_replication_slot(%s)"
# PostgreSQL may still be starting when Patroni calls: try for this long.
WAIT_S = 120.0


def conninfo(config: dict[str, Any], dbname: str) -> dict[str, Any]:
    postgresql = config["postgresql"]
    superuser = postgresql["authentication"]["superuser"]
    sockets = str(postgresql.get("parameters", {}).get("unix_socket_directories") or "")
    host = sockets.split(",")[0].strip() or str(postgresql["listen"]).rsplit(":", 1)[0]
    return {
        "host": host,
        "port": int(str(postgresql["listen"]).rsplit(":", 1)[1]),
        "user": superuser["username"],
        "password": superuser.get("password"),
        "dbname": dbname,
        "connect_timeout": 5,
        "application_name": "gardenos-failover-slots",
    }


def drop_leftovers(config: dict[str, Any]) -> list[str]:
    dropped = []
    with psycopg.connect(**conninfo(config, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
            return []  # the leader after all: its slots are the ones standbys copy
        slots = conn.execute(LEFTOVERS).fetchall()
    for name, database in slots:
        with psycopg.connect(**conninfo(config, database), autocommit=True) as conn:
            conn.execute(DROP, (name,))
        dropped.append(name)
    return dropped


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print("usage: failover_slots.py patroni.yml ACTION ROLE [SCOPE]", file=sys.stderr)
        return 2
    config_file, _action, role = argv[1], argv[2], argv[3]
    if role in LEADER_ROLES:
        return 0
    config = yaml.safe_load(Path(config_file).read_text())
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            for name in drop_leftovers(config):
                print(f"failover_slots: dropped {name}, kept from this node's time as the leader")
            return 0
        except psycopg.Error as exc:
            if time.monotonic() > deadline:
                print(f"failover_slots: gave up: {exc}", file=sys.stderr)
                return 1
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
