"""How uvicorn serves the API, in one place for every way it is started (`gardenos up`, the failover
test, the tests' live server, the benchmarks)."""

from __future__ import annotations

from typing import Any

import uvicorn

from gardenos.settings import Settings


def server_config(app: Any, settings: Settings, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for `app`. uvicorn believes `X-Forwarded-For` from 127.0.0.1 unless told
    otherwise (its `forwarded_allow_ips` default, or the FORWARDED_ALLOW_IPS variable): any local
    process, or a client through a proxy that passes the header on, would then choose the address that
    rate limits count. Only `GARDENOS_TRUSTED_PROXIES` are believed, and none by default."""
    proxies = settings.trusted_proxies
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=list(proxies) if proxies else None,
        # A websocket frame past this closes the connection (1009); below it, /realtime/v1 answers a
        # message over `realtime_max_payload_bytes` with an error and keeps the connection.
        ws_max_size=settings.realtime_max_payload_bytes * 2 + 65536,
        # Ctrl-C or SIGTERM: requests and websockets still open after this long are closed rather than
        # waited for without end (uvicorn's default), so a stop never hangs on a client.
        timeout_graceful_shutdown=settings.shutdown_grace_s,
        **options,
    )
