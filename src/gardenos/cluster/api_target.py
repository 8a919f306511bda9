"""The GardenOS API served in this process against the cluster, for `failover-test --through api`.

The API runs as `gardenos up --cluster` runs it (its pool reaches the leader through HAProxy's
read-write port), on a free loopback port, without the AI workers. The writer signs in as the owner
of the agency `failover-test` (created on first use; a new owner each time, with a random password)
through the API's own `/auth/v1/token`, as any client would.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from gardenos.cluster.cluster import Cluster
from gardenos.cluster.layout import HOST
from gardenos.cluster.processes import ClusterError

AGENCY_SLUG = "failover-test"
QUIET_LOGGERS = ("psycopg", "psycopg.pool", "gardenos.db.listen")


@dataclass(frozen=True)
class ApiTarget:
    url: str
    # `apikey` and the owner's bearer token.
    headers: dict[str, str]
    agency_id: str


@contextmanager
def serve_api(cluster: Cluster, *, start_timeout: float = 60) -> Iterator[ApiTarget]:
    """Migrate the cluster's database, serve the API, sign an agency owner in; stop it afterwards."""
    import uvicorn

    from gardenos.api.app import create_app
    from gardenos.api.server import server_config
    from gardenos.auth.tokens import TokenService
    from gardenos.db.target import DatabaseTarget
    from gardenos.demo.agency import ensure_agency
    from gardenos.embedded.postgres import free_port

    settings = cluster.settings.model_copy(
        update={"cluster": True, "database_url": None, "ai_workers": False}
    )
    target = DatabaseTarget(settings, cluster_url=cluster.url)
    target.prepare()
    email = f"failover-{uuid.uuid4().hex[:10]}@example.com"
    password = secrets.token_urlsafe(18)
    with target.connect() as conn:
        agency = ensure_agency(
            conn, name="Failover Test", slug=AGENCY_SLUG, owner_email=email, password=password
        )
    anon_key = TokenService(settings, target.secrets.jwt_secret).api_key("anon")
    port = free_port()
    config = server_config(create_app(target), settings, host=HOST, port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="failover-api", daemon=True)
    # The pool and the LISTEN task log each connection the failover breaks, the API each 503: the
    # report counts those. Anything else (a 500's traceback) is still logged.
    quieted = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    errors = logging.getLogger("gardenos.api.errors")
    errors.addFilter(_drop_unavailable)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ClusterError(f"the API did not start on {HOST}:{port}")
            time.sleep(0.02)
        url = f"http://{HOST}:{port}"
        response = httpx.post(
            f"{url}/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": email, "password": password},
            headers={"apikey": anon_key},
            timeout=30,
        )
        if response.status_code != 200:
            raise ClusterError(
                f"signing the failover test's owner in failed ({response.status_code}): {response.text}"
            )
        token = response.json()["access_token"]
        yield ApiTarget(
            url=url,
            headers={"apikey": anon_key, "Authorization": f"Bearer {token}"},
            agency_id=str(agency.id),
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        for name, level in quieted.items():
            logging.getLogger(name).setLevel(level)
        errors.removeFilter(_drop_unavailable)


def _drop_unavailable(record: logging.LogRecord) -> bool:
    """False for the API's log lines about 503s (the database unavailable during the failover)."""
    message = str(record.msg)
    if message.startswith("database unavailable"):
        return False
    return not (message.startswith("request failed") and "the database" in record.getMessage())
