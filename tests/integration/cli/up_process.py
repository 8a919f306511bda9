"""`gardenos up` run as a user runs it: a subprocess with a private data folder and free ports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from gardenos.embedded.postgres import free_port
from gardenos.settings import Settings


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


class Up:
    """A running `gardenos up` with its output in a file (a pipe could fill and block it)."""

    def __init__(self, settings: Settings, log: Path, **env: str) -> None:
        self.api_port = free_port()
        self.log = log
        self.out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gardenos", "up"],
            env=up_env(settings, self.api_port, **env),
            stdout=self.out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def wait_ready(self, attempts: int = 600) -> httpx.Response:
        """Poll /ready (first start creates the cluster and loads demo data), at most ~2 minutes."""
        for _ in range(attempts):
            assert self.proc.poll() is None, f"gardenos up exited early:\n{self.output()}"
            # Connection refused until the server listens: keep polling.
            with contextlib.suppress(httpx.TransportError):
                response = httpx.get(f"{self.url}/ready", timeout=2)
                if response.status_code == 200:
                    return response
            time.sleep(0.2)
        pytest.fail(f"gardenos up never became ready:\n{self.output()}")

    def wait_output(self, text: str, attempts: int = 600) -> None:
        """Until `text` appears in the output, at most ~2 minutes; fails if the process ends first."""
        for _ in range(attempts):
            if text in self.output():
                return
            assert self.proc.poll() is None, f"gardenos up exited before printing {text!r}:\n{self.output()}"
            time.sleep(0.2)
        pytest.fail(f"gardenos up never printed {text!r}:\n{self.output()}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=90)
        finally:
            self.out.close()

    def output(self) -> str:
        if not self.out.closed:
            self.out.flush()
        return self.log.read_text()

    def kill(self) -> None:
        """SIGKILL the `gardenos up` process alone, as the OOM killer or `kill -9` would."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


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
