"""The API that `gardenos up` serves: the app under uvicorn, marking the data folder's lock as stopping as
soon as a signal arrives.

A module of its own, imported by `up` once PostgreSQL is ready: the app (FastAPI, every router, the
agents' providers) and uvicorn take seconds to import, which `gardenos --help` and the other commands
need not pay.
"""

from __future__ import annotations

from types import FrameType

import uvicorn

from gardenos.api.app import create_app
from gardenos.api.server import server_config
from gardenos.db.target import DatabaseTarget
from gardenos.embedded.uplock import UpLock
from gardenos.settings import Settings


class UpServer(uvicorn.Server):
    """uvicorn's server, which takes SIGINT and SIGTERM over while it runs (and raises them again once
    stopped): marks the data folder's lock as stopping as soon as either arrives."""

    def __init__(self, config: uvicorn.Config, lock: UpLock | None) -> None:
        super().__init__(config)
        self.lock = lock

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.lock is not None:
            self.lock.set_phase("stopping")
        super().handle_exit(sig, frame)


def api_server(settings: Settings, target: DatabaseTarget, lock: UpLock | None) -> UpServer:
    """The API over `target`, ready to run on the settings' host and port."""
    app = create_app(target)
    config = server_config(
        app, settings, host=settings.host, port=settings.port, log_level="info", lifespan="on"
    )
    return UpServer(config, lock)
