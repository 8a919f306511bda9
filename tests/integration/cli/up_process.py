"""`gardenos up` run as a user runs it: a subprocess with a private data folder and free ports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil

from gardenos.embedded.postgres import free_port
from gardenos.settings import Settings
from tests.live import GardenosUp


def up_env(settings: Settings, api_port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GARDENOS_DATA_DIR": str(settings.data_dir),
        "GARDENOS_RUNTIME_DIR": str(settings.runtime_dir),
        "GARDENOS_PG_PORT": "0",
        "GARDENOS_PORT": str(api_port),
        "GARDENOS_DEMO_LEADS": "300",
        "GARDENOS_DEMO_CLIENTS": "40",
        **extra,
    }


class Up(GardenosUp):
    """`gardenos up` with a private data folder and free ports (its own embedded database)."""

    def __init__(self, settings: Settings, log: Path, **env: str) -> None:
        port = free_port()
        super().__init__([], up_env(settings, port, **env), port, log)

    @property
    def api_port(self) -> int:
        return self.port


def postmaster_pid(settings: Settings) -> int:
    pid_file = settings.data_path / "postgres" / "data" / "postmaster.pid"
    return int(pid_file.read_text().splitlines()[0])


def owner_url(settings: Settings) -> str:
    state = json.loads((settings.data_path / "embedded.json").read_text())
    return f"postgresql://gardenos:{state['password']}@127.0.0.1:{state['port']}/gardenos"


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
