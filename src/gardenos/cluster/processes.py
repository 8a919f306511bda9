"""One controller per process kind: `start`, `stop`, `kill`, `is_running`, `is_ready`.

Every process runs in its own session (a terminal's Ctrl-C does not reach it; it outlives the CLI
command that started it) as the service user (through `setpriv`, which execs in place: the recorded
PID is the process's own). PIDs are kept in files next to the logs, so that a later command, another
process, finds and stops what an earlier one started; a recorded PID counts only while it still runs
the program it was recorded for (PIDs are reused).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import psutil
import psycopg

from gardenos.cluster.layout import DATABASE, HOST, SUPERUSER
from gardenos.embedded.service_user import RunAs
from gardenos.errors import GardenError

# Every process this Python process started, by PID: kept so that whichever controller stops it can
# reap it (no zombie), and so that one left running on purpose (a restored server) is not reported as
# a leaked child when its controller goes away.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ClusterError(GardenError):
    status_code = 500
    code = "GARDEN_CLUSTER"


class ProcessController(ABC):
    """A long-running program of the cluster."""

    kind: str = "process"

    def __init__(self, name: str, run_as: RunAs, folder: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.run_as = run_as
        self.folder = folder
        self.env = env
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.folder / f"{self.kind}.log"

    @property
    def pid_file(self) -> Path:
        return self.folder / f"{self.kind}.pid"

    @abstractmethod
    def argv(self) -> list[str]:
        """The command line, without the service-user prefix."""

    @abstractmethod
    def is_ready(self) -> bool:
        """Whether the process does its job (answers on its port), not only whether it runs."""

    @property
    def marker(self) -> str:
        """A command-line argument that identifies this process (its configuration file)."""
        return self.argv()[-1]

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> int:
        pid = self.pid()
        if pid is not None:
            if self._popen is not None and self._popen.pid != pid:
                # Another command (`gardenos cluster down` + `up`) replaced the process this one
                # started: judge the running one by its pid file, not by our ended child.
                self._reap(block=False)
                self._popen = None
            return pid
        with self.log_file.open("ab") as log:
            self._popen = subprocess.Popen(
                [*self.run_as.prefix, *self.argv()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                cwd=self.folder,
                env=self.env,
            )
        _CHILDREN[self._popen.pid] = self._popen
        self.pid_file.write_text(f"{self._popen.pid}\n")
        return self._popen.pid

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = self._popen.poll() is not None if self._popen is not None else self.pid() is None
            if exited:
                raise ClusterError(
                    f"{self.kind} {self.name} exited at start; last lines of {self.log_file}:\n"
                    f"{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(0.05)
        raise ClusterError(
            f"{self.kind} {self.name} was not ready within {timeout:.0f} s; see {self.log_file}:\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM, then SIGKILL after `timeout`. Returns whether it was running."""
        pid = self.pid()
        if pid is None:
            self._forget()
            return False
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
                if sig == signal.SIGKILL and os.getpgid(pid) == pid:
                    os.killpg(pid, sig)  # and what it started in its session (Patroni under its init)
            if self._wait_gone(pid, wait):
                break
        self._forget()
        return True

    def kill(self) -> bool:
        """SIGKILL, as a crash: nothing is cleaned up. Returns whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._wait_gone(pid, 10.0)
        self._reap()
        return True

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _runs(pid, self.marker) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"

    # -- helpers --------------------------------------------------------------------------------------

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if not _runs(pid, None):
                return True
            time.sleep(0.05)
        return False

    def _reap(self, block: bool = True) -> None:
        if self._popen is not None:
            _reap(self._popen.pid, timeout=1 if block else 0.01)

    def _forget(self) -> None:
        self._reap()
        self._popen = None
        self.pid_file.unlink(missing_ok=True)


def _reap(pid: int, timeout: float = 0.01) -> None:
    child = _CHILDREN.get(pid)
    if child is None:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=timeout)
    if child.returncode is not None:
        del _CHILDREN[pid]


class EtcdProcess(ProcessController):
    kind = "etcd"

    def __init__(self, run_as: RunAs, folder: Path, client_port: int) -> None:
        super().__init__("etcd", run_as, folder)
        self.client_port = client_port

    @property
    def config_file(self) -> Path:
        return self.folder / "etcd.yml"

    def argv(self) -> list[str]:
        return ["etcd", "--config-file", str(self.config_file)]

    def is_ready(self) -> bool:
        status, body = http_get(f"http://{HOST}:{self.client_port}/health")
        return status == 200 and isinstance(body, dict) and body.get("health") == "true"


class PatroniProcess(ProcessController):
    """Patroni, which runs (and detaches) the node's PostgreSQL, under `patroni_init.py` (a small
    init that reaps the postmaster as soon as it dies; see that file)."""

    kind = "patroni"

    def __init__(
        self, name: str, run_as: RunAs, folder: Path, python: Path, launcher: Path, api_port: int
    ) -> None:
        # Patroni must not pick up the caller's Python settings (a test runner's PYTHONPATH).
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        super().__init__(name, run_as, folder, env=env)
        self.python = python
        self.launcher = launcher
        self.api_port = api_port

    @property
    def config_file(self) -> Path:
        return self.folder / "patroni.yml"

    @property
    def pgdata(self) -> Path:
        return self.folder / "data"

    def argv(self) -> list[str]:
        return [str(self.python), str(self.launcher), str(self.config_file)]

    def kill(self) -> bool:
        """SIGKILL Patroni and its init at once (their process group; PostgreSQL has a session of
        its own and goes on running, as when Patroni alone crashes)."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._wait_gone(pid, 10.0)
        self._reap()
        return True

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    def is_ready(self) -> bool:
        """PostgreSQL runs under Patroni (as leader or replica)."""
        status, _ = http_get(f"{self.api_url}/health")
        return status == 200

    def postmaster_pid(self) -> int | None:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if _runs(pid, str(self.pgdata)) else None

    def kill_postgres(self) -> bool:
        """SIGKILL the postmaster and every child of it at once, as a crash of the machine would."""
        pid = self.postmaster_pid()
        if pid is None:
            return False
        try:
            victims = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            return False
        for proc in victims:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(victims, timeout=10)
        return True

    def stop(self, timeout: float = 60.0) -> bool:
        """Patroni stops its PostgreSQL (fast shutdown) on SIGTERM; a PostgreSQL it left behind (Patroni
        was killed before) is stopped here too."""
        was_running = super().stop(timeout)
        pid = self.postmaster_pid()
        if pid is not None:
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                if self._wait_gone(pid, wait):
                    break
        return was_running or pid is not None


class HAProxyProcess(ProcessController):
    kind = "haproxy"

    def __init__(self, run_as: RunAs, folder: Path, rw_port: int) -> None:
        super().__init__("haproxy", run_as, folder)
        self.rw_port = rw_port

    @property
    def config_file(self) -> Path:
        return self.folder / "haproxy.cfg"

    @property
    def stats_socket(self) -> Path:
        return self.folder / "haproxy.sock"

    def argv(self) -> list[str]:
        # -db: stay in the foreground (no daemon), so the PID is HAProxy's own.
        return ["haproxy", "-db", "-f", str(self.config_file)]

    def is_ready(self) -> bool:
        return bool(self.command("show info"))

    def command(self, command: str) -> str:
        """A command on HAProxy's stats socket ('' when it does not answer)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(str(self.stats_socket))
                s.sendall(command.encode() + b"\n")
                chunks = []
                while chunk := s.recv(65536):
                    chunks.append(chunk)
        except OSError:
            return ""
        return b"".join(chunks).decode(errors="replace")


class PostgresProcess(ProcessController):
    """A PostgreSQL outside Patroni: a restored data folder, started on its own."""

    kind = "postgres"

    def __init__(
        self, name: str, run_as: RunAs, folder: Path, bin_dir: Path, port: int, password: str
    ) -> None:
        super().__init__(name, run_as, folder)
        self.bin_dir = bin_dir
        self.port = port
        self.password = password

    @property
    def pgdata(self) -> Path:
        return self.folder / "data"

    @property
    def marker(self) -> str:
        return str(self.pgdata)

    def argv(self) -> list[str]:
        return [
            str(self.bin_dir / "postgres"),
            "-p",
            str(self.port),
            # TCP only: a socket path under a deep folder can pass the 107-byte limit.
            "-k",
            "",
            "-D",
            str(self.pgdata),
        ]

    def url(self, dbname: str = DATABASE) -> str:
        return psycopg.conninfo.make_conninfo(
            "", host=HOST, port=self.port, user=SUPERUSER, password=self.password, dbname=dbname
        )

    def is_ready(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def stop(self, timeout: float = 60.0) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        # SIGINT: fast shutdown (what SIGTERM, the base class's signal, would be: smart shutdown).
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        if not self._wait_gone(pid, timeout):
            return super().stop(timeout=1)
        self._forget()
        return True


def http_get(url: str, timeout: float = 2.0) -> tuple[int | None, Any]:
    """(status, parsed JSON body or text) of a GET on loopback; (None, None) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback URLs we build)
            return response.status, _parse(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _parse(exc.read())
    except (OSError, ValueError):
        return None, None


def http_post(
    url: str, payload: dict[str, Any], timeout: float = 60.0, *, method: str = "POST"
) -> tuple[int | None, Any]:
    request = urllib.request.Request(  # noqa: S310 (loopback URLs we build)
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, _parse(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _parse(exc.read())
    except (OSError, ValueError):
        return None, None


def _parse(body: bytes) -> Any:
    text = body.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _runs(pid: int, marker: str | None) -> bool:
    """Whether `pid` is a live (not zombie) process whose command line contains `marker`."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
        # An empty command line: the process is between fork and exec (setpriv execs in place).
        return marker is None or not cmdline or any(marker in part for part in cmdline)
    except psutil.Error:
        return False
