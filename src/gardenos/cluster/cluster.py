"""The cluster as a whole: bring it up, take snapshots of it, switch over, stop and start nodes, and
bring it down leaving nothing behind."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from gardenos.backup.archiving import archive_now
from gardenos.backup.storage import store_config
from gardenos.cluster import config, resume
from gardenos.cluster.backup_schedule import BackupScheduleProcess
from gardenos.cluster.layout import DATABASE, HOST, SUPERUSER, ClusterLayout, ClusterSpec
from gardenos.cluster.prerequisites import check_prerequisites
from gardenos.cluster.processes import (
    ClusterError,
    EtcdProcess,
    HAProxyProcess,
    PatroniProcess,
    ProcessController,
    http_get,
    http_post,
)
from gardenos.cluster.runtime import postgres_bin_dir, service_python
from gardenos.cluster.state import ClusterState, MemberState, parse_haproxy_stat
from gardenos.embedded.postgres import port_is_free
from gardenos.errors import BadRequest, ConfigurationError
from gardenos.settings import Settings

Progress = Callable[[str], None]
# How often waits look at the cluster again: a REST call and a stats-socket read, cheap enough to do
# often, so that a wait ends within a tenth of a second of what it waits for.
POLL_S = 0.1
# Patroni's init (see patroni_init.py), copied next to walcrypt.py.
LAUNCHER = "patroni_init.py"
# Patroni's callback that lets a former leader's failover slots be synchronised (failover_slots.py).
FAILOVER_SLOTS = "failover_slots.py"


def _quiet(message: str) -> None:
    del message


class Cluster:
    """Controls one cluster folder. Cheap to create: nothing runs or is read until asked."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = ClusterLayout(settings)
        self._spec: ClusterSpec | None = None
        self._python: Path | None = None
        self._controllers: dict[str, ProcessController] = {}
        # When each step of the last `up` was reached, in seconds from its start.
        self.last_up: dict[str, float] = {}

    # -- what it is made of -----------------------------------------------------------------------------

    @property
    def spec(self) -> ClusterSpec:
        if self._spec is None:
            self._spec = self.layout.load_spec()
        return self._spec

    @property
    def python(self) -> Path:
        if self._python is None:
            self._python = service_python(self.layout)
        return self._python

    def etcd(self) -> EtcdProcess:
        found = self._controllers.get("etcd")
        if not isinstance(found, EtcdProcess):
            found = EtcdProcess(self.layout.run_as, self.layout.etcd_dir, self.spec.etcd_client_port)
            self._controllers["etcd"] = found
        return found

    def haproxy(self) -> HAProxyProcess:
        found = self._controllers.get("haproxy")
        if not isinstance(found, HAProxyProcess):
            found = HAProxyProcess(self.layout.run_as, self.layout.haproxy_dir, self.spec.rw_port)
            self._controllers["haproxy"] = found
        return found

    def node(self, name: str) -> PatroniProcess:
        found = self._controllers.get(f"node:{name}")
        if not isinstance(found, PatroniProcess):
            spec = self.spec.node(name)
            found = PatroniProcess(
                name,
                self.layout.run_as,
                self.layout.node_dir(name),
                self.python,
                self.layout.script_dir / LAUNCHER,
                spec.api_port,
            )
            self._controllers[f"node:{name}"] = found
        return found

    def backup_schedule(self) -> BackupScheduleProcess:
        """The scheduled base backups' process (see backup_schedule.py)."""
        found = self._controllers.get("backup-schedule")
        if not isinstance(found, BackupScheduleProcess):
            found = BackupScheduleProcess(self.layout, self.settings)
            self._controllers["backup-schedule"] = found
        return found

    def nodes(self) -> list[PatroniProcess]:
        return [self.node(n.name) for n in self.spec.nodes]

    def url(self, port: int | None = None, *, dbname: str = DATABASE, **params: str | int | None) -> str:
        """A libpq URL as the cluster's superuser, through the read-write port unless told otherwise."""
        return make_conninfo(
            "",
            host=HOST,
            port=port or self.spec.rw_port,
            user=SUPERUSER,
            password=self.spec.superuser_password,
            dbname=dbname,
            **params,
        )

    def node_url(self, name: str, *, dbname: str = DATABASE) -> str:
        return self.url(self.spec.node(name).pg_port, dbname=dbname)

    # -- bringing it up ---------------------------------------------------------------------------------

    def up(
        self, nodes: int | None = None, *, progress: Progress = _quiet, timeout: float = 180
    ) -> ClusterState:
        """Start whatever is not running and wait until the cluster is healthy (idempotent).

        What the machine lacks (etcd, HAProxy) is reported before anything is made or started. etcd
        and HAProxy start together; the Patroni nodes start together as soon as etcd answers
        (the first to take the leader key bootstraps, the others clone it). `last_up` keeps when each
        step was reached, in seconds from the start."""
        check_prerequisites()
        clock = Milestones()
        self.last_up = clock.seen
        self.layout.prepare()
        spec = ClusterSpec.load(self.layout.spec_file)
        wanted = nodes or self.settings.cluster_nodes
        if spec is None:
            spec = ClusterSpec.new(self.settings, wanted)
            spec.save(self.layout.spec_file)
        elif nodes is not None and nodes != len(spec.nodes):
            raise ConfigurationError(
                f"the cluster in {self.layout.root} was created with {len(spec.nodes)} nodes; "
                f"--nodes {nodes} does not match (remove the folder to create a new cluster)"
            )
        if spec != self._spec:
            self._controllers.clear()  # they hold the ports of the spec they were made for
        self._spec = spec
        progress("preparing the service user's Python and PostgreSQL binaries")
        changed = self._write_configs(postgres_bin_dir(self.layout))
        self._check_ports()
        self._apply(changed)
        clock.mark("configured")
        progress("starting etcd and HAProxy")
        self.etcd().start()
        self.haproxy().start()
        self.etcd().wait_ready(30)
        clock.mark("etcd ready")
        resumed = self._resume(progress)
        if resumed is not None:
            clock.mark("leader resumed")
        progress(f"starting {len(spec.nodes)} Patroni nodes")
        for node in self.nodes():
            node.start()
        self.haproxy().wait_ready(15)
        clock.mark("haproxy ready")
        progress("waiting for a leader and a streaming synchronous standby")
        state = self.wait_healthy(timeout, observe=clock.observe)
        self._ensure_database()
        clock.mark("database ready")
        # Once healthy: a schedule with no backup yet takes its first one at once.
        self.backup_schedule().supervise()
        return state

    def _resume(self, progress: Progress, timeout: float = 60) -> str | None:
        """After a clean `down`: start the old leader as a primary and its Patroni, and wait until it
        holds the leader key, so that the cluster goes on on the same timeline (see resume.py).
        Returns the node, or None when the cluster is left to Patroni's usual start."""
        if any(node.is_running() or node.postmaster_pid() for node in self.nodes()):
            return None
        bin_dir = postgres_bin_dir(self.layout)
        leader = resume.clean_leader(self.layout, bin_dir, [n.name for n in self.spec.nodes])
        if leader is None:
            return None
        progress(f"resuming {leader}, the leader at the clean stop, on its timeline")
        node = self.node(leader)
        resume.start_primary(
            self.layout,
            bin_dir,
            leader,
            self.node_url(leader, dbname="postgres"),
            # pg_ctl opens it as the service user (Patroni's log is opened by us, as root).
            self.layout.node_dir(leader) / "postgres-resumed.log",
            timeout,
        )
        node.start()
        deadline = time.monotonic() + timeout
        while (found := self.state().leader) is None or found.name != leader:
            if found is not None or time.monotonic() > deadline:
                # Another node leads (or none does): Patroni decides from here on.
                return None
            time.sleep(POLL_S)
        return leader

    def _write_configs(self, bin_dir: Path) -> set[str]:
        """Write every configuration file; returns the processes whose file changed ('etcd',
        'haproxy', node names)."""
        layout, spec = self.layout, self.spec
        changed: set[str] = set()
        if layout.write_private(
            layout.etcd_dir / "etcd.yml", config.render_etcd(spec, layout.etcd_dir / "data")
        ):
            changed.add("etcd")
        script = layout.script_dir / "walcrypt.py"
        for package, name in (
            ("gardenos.backup", "walcrypt.py"),
            ("gardenos.cluster", LAUNCHER),
            ("gardenos.cluster", FAILOVER_SLOTS),
        ):
            copy = layout.script_dir / name
            copy.write_bytes(resources.files(package).joinpath(name).read_bytes())
            copy.chmod(0o644)
        key = self.settings.backup_encryption_key
        if key is not None:
            layout.write_private(layout.key_file, key.get_secret_value())
        else:
            layout.key_file.unlink(missing_ok=True)
        store = store_config(self.settings)
        if store is not None:
            layout.write_private(layout.store_file, store)
        else:
            layout.store_file.unlink(missing_ok=True)
        archive = config.archive_command(
            self.python,
            script,
            layout.wal_archive,
            layout.key_file if key is not None else None,
            layout.store_file if store is not None else None,
        )
        for node in spec.nodes:
            folder = layout.owned_dir(layout.node_dir(node.name))
            paths = config.NodePaths(
                data_dir=folder / "data",
                socket_dir=layout.owned_dir(folder / "run"),
                pgpass=folder / "pgpass",
            )
            callback = config.command(
                self.python, layout.script_dir / FAILOVER_SLOTS, str(folder / "patroni.yml")
            )
            text = config.render_patroni(
                spec, node, self.settings, paths=paths, bin_dir=bin_dir, archive=archive, callback=callback
            )
            if layout.write_private(folder / "patroni.yml", text):
                changed.add(node.name)
        if layout.write_private(
            layout.haproxy_dir / "haproxy.cfg", config.render_haproxy(spec, self.haproxy().stats_socket)
        ):
            changed.add("haproxy")
        return changed

    def _apply(self, changed: set[str]) -> None:
        """Make running processes follow their changed configuration files: Patroni reloads (and
        reloads PostgreSQL's settings), HAProxy restarts (a fraction of a second without routing)."""
        for node in self.nodes():
            if node.name in changed and node.is_running():
                status, body = http_post(f"{node.api_url}/reload", {}, timeout=10)
                if status not in (200, 202):
                    raise ClusterError(f"{node.name}'s Patroni refused to reload ({status}): {body}")
        if "haproxy" in changed and self.haproxy().is_running():
            self.haproxy().stop(10)
            self.haproxy().start()

    def _check_ports(self) -> None:
        spec = self.spec
        claims: list[tuple[ProcessController, list[int]]] = [
            (self.etcd(), [spec.etcd_client_port, spec.etcd_peer_port]),
            (self.haproxy(), [spec.rw_port, spec.ro_port]),
        ]
        for node_spec in spec.nodes:
            node = self.node(node_spec.name)
            ports = [node_spec.api_port] + ([] if node.postmaster_pid() else [node_spec.pg_port])
            claims.append((node, ports))
        taken = [
            f"{port} ({process.kind} {process.name})"
            for process, ports in claims
            if not process.is_running()
            for port in ports
            if not port_is_free(port)
        ]
        if taken:
            raise ConfigurationError(
                f"ports recorded for the cluster in {self.layout.spec_file} are taken by other programs: "
                f"{', '.join(taken)}; stop them, or remove the cluster folder to create one on free ports"
            )

    def _ensure_database(self) -> None:
        with psycopg.connect(self.url(dbname="postgres"), autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    # -- looking at it ----------------------------------------------------------------------------------

    def state(self) -> ClusterState:
        """A snapshot: the members as any answering Patroni reports them, and HAProxy's backends."""
        members: tuple[MemberState, ...] = ()
        problem: str | None = "no Patroni REST API answers"
        for node in self.nodes():
            status, body = http_get(f"{node.api_url}/cluster")
            if status == 200 and isinstance(body, dict):
                members = tuple(MemberState.from_patroni(m) for m in body.get("members", []))
                problem = None
                break
        backends = parse_haproxy_stat(self.haproxy().command("show stat"))
        return ClusterState(members=members, backends=backends, problem=problem)

    def is_running(self) -> bool:
        return self.layout.exists() and any(p.is_running() for p in [*self._all(), self.backup_schedule()])

    @property
    def sync_wanted(self) -> int:
        """Synchronous standbys of a healthy cluster: every standby in quorum mode, one in priority mode."""
        return len(self.spec.nodes) - 1 if self.settings.cluster_sync_mode == "quorum" else 1

    def wait_healthy(
        self, timeout: float = 120, *, observe: Callable[[ClusterState], None] | None = None
    ) -> ClusterState:
        deadline = time.monotonic() + timeout
        state = self.state()
        nudged = 0.0
        while True:
            if observe is not None:
                observe(state)
            if state.is_healthy(len(self.spec.nodes), sync_wanted=self.sync_wanted):
                return state
            lacking = len(state.sync_standbys) < min(self.sync_wanted, len(state.replicas))
            if state.leader and state.replicas and lacking and time.monotonic() > nudged + 1:
                nudged = time.monotonic()
                self._nudge(state.leader.name)
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the cluster was not healthy within {timeout:.0f} s: {_describe(state)}; "
                    f"logs: {self.layout.server_root}/nodes/*/patroni.log"
                )
            time.sleep(POLL_S)
            state = self.state()

    def _nudge(self, leader: str) -> None:
        """Have the leader's Patroni run its HA loop now rather than within loop_wait: a streaming
        replica is made the synchronous standby (and shown as one) a loop or two sooner.

        Patroni wakes its loop on a PATCH of the dynamic configuration; this one sets loop_wait to the
        value it has, so nothing changes."""
        api = self.node(leader).api_url
        status, current = http_get(f"{api}/config")
        if status == 200 and isinstance(current, dict) and "loop_wait" in current:
            http_post(f"{api}/config", {"loop_wait": current["loop_wait"]}, timeout=5, method="PATCH")

    def wait_member(self, name: str, timeout: float = 120) -> ClusterState:
        """Until `name` is a member again that is leader or streaming, and the cluster is healthy."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            member = state.member(name)
            if (
                member
                and (member.is_leader or member.is_streaming)
                and state.is_healthy(len(self.spec.nodes), sync_wanted=self.sync_wanted)
            ):
                return state
            if time.monotonic() > deadline:
                raise ClusterError(f"{name} did not rejoin within {timeout:.0f} s: {_describe(state)}")
            time.sleep(POLL_S)

    def log_files(self) -> dict[str, Path]:
        """Every process's log by name: the nodes', then etcd's and HAProxy's."""
        names = [n.name for n in self.spec.nodes] + ["etcd", "haproxy", "backup-schedule"]
        return {name: self.log_file(name) for name in names}

    def log_file(self, name: str) -> Path:
        if name == "etcd":
            return self.etcd().log_file
        if name == "backup-schedule":
            return self.backup_schedule().log_file
        if name == "haproxy":
            return self.haproxy().log_file
        return self.node(name).log_file

    # -- changing it ------------------------------------------------------------------------------------

    def switchover(self, to: str | None = None, *, timeout: float = 60) -> tuple[str, str]:
        """A planned change of leader (to a synchronous standby unless told). Returns (old, new)."""
        state = self.wait_healthy(timeout)
        leader = state.leader
        assert leader is not None
        if to is not None:
            self.spec.node(to)
            if to == leader.name:
                raise BadRequest(f"{to} is already the leader")
        status, body = http_post(
            f"{self.node(leader.name).api_url}/switchover",
            {"leader": leader.name, **({"candidate": to} if to else {})},
            timeout=timeout,
        )
        if status != 200:
            raise ClusterError(f"Patroni refused the switchover ({status}): {body}")
        deadline = time.monotonic() + timeout
        while True:
            state = self.wait_healthy(max(1.0, deadline - time.monotonic()))
            if state.leader is not None and state.leader.name != leader.name:
                return leader.name, state.leader.name
            time.sleep(POLL_S)

    def stop_node(self, name: str, *, kill: bool = False) -> bool:
        """Stop a node's Patroni and PostgreSQL; `kill`: SIGKILL both at once (a crash)."""
        node = self.node(name)
        if not kill:
            return node.stop()
        killed_patroni = node.kill()
        killed_postgres = node.kill_postgres()
        return killed_patroni or killed_postgres

    def start_node(self, name: str) -> None:
        self.layout.prepare()
        self._write_configs(postgres_bin_dir(self.layout))
        self.node(name).start()

    def down(self, *, progress: Progress = _quiet, timeout: float = 60) -> list[str]:
        """Stop everything: replicas, then the leader, HAProxy, etcd. Returns what was running."""
        if not self.layout.exists():
            return []
        stopped: list[str] = []
        # First: a scheduled backup must not start while the nodes stop (one being taken is cut short).
        if self.backup_schedule().stop(timeout):
            stopped.append("backup-schedule")
        leader = self.state().leader
        if leader is not None:
            progress("archiving the last WAL and checkpointing")
            self._settle(leader.name, timeout)
        replicas = [n for n in self.nodes() if leader is None or n.name != leader.name]
        progress("stopping the replicas")
        with ThreadPoolExecutor(max_workers=max(1, len(replicas))) as pool:
            for node, ran in zip(replicas, pool.map(lambda n: n.stop(timeout), replicas), strict=True):
                if ran:
                    stopped.append(node.name)
        if leader is not None:
            progress(f"stopping the leader {leader.name}")
            if self.node(leader.name).stop(timeout):
                stopped.append(leader.name)
        progress("stopping HAProxy and etcd")
        for process in (self.haproxy(), self.etcd()):
            if process.stop(timeout):
                stopped.append(process.kind)
        self._wait_ports_free(timeout=15)
        return stopped

    def _settle(self, leader: str, timeout: float) -> None:
        """Before a clean stop: the leader's WAL up to now archived (the archive then covers every
        commit until the stop), and a checkpoint on every node so that each stops (and next starts)
        without much WAL to write or replay. Best effort: a stop must not fail for it."""
        with contextlib.suppress(ClusterError, psycopg.Error):
            archive_now(self.node_url(leader, dbname="postgres"), timeout=min(timeout, 30))

        def checkpoint(name: str) -> None:
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(
                    self.node_url(name, dbname="postgres"), autocommit=True, connect_timeout=5
                ) as conn,
            ):
                conn.execute("CHECKPOINT")

        with ThreadPoolExecutor(max_workers=len(self.spec.nodes)) as pool:
            list(pool.map(checkpoint, [n.name for n in self.spec.nodes]))

    def _wait_ports_free(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while busy := [p for p in self.spec.ports() if not port_is_free(p)]:
            if time.monotonic() > deadline:
                raise ClusterError(f"ports still in use after the cluster stopped: {busy}")
            time.sleep(0.1)

    def remove(self) -> None:
        """Delete the cluster's folder (it must be down)."""
        if self.is_running():
            raise ConfigurationError("the cluster is running: `gardenos cluster down` first")
        target = self.layout.server_root
        if self.layout.root.is_symlink():
            self.layout.root.unlink()
        shutil.rmtree(target, ignore_errors=True)
        self._spec = None
        self._controllers.clear()

    def _all(self) -> list[ProcessController]:
        return [self.etcd(), *self.nodes(), self.haproxy()]


class Milestones:
    """The first moment each step of a start (or a failover) was seen, in seconds from the start."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.seen: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.seen.setdefault(name, round(time.monotonic() - self.started, 2))

    def observe(self, state: ClusterState) -> None:
        leader = state.leader
        if leader is not None:
            self.mark("leader running")
            if state.routed("primary") == (leader.name,):
                self.mark("haproxy routes the leader")
        if state.replicas:
            self.mark("first replica streaming")
        if state.sync_standbys:
            self.mark("sync standby streaming")


def _describe(state: ClusterState) -> str:
    if state.problem:
        return state.problem
    members = ", ".join(f"{m.name} {m.role} {m.state}" for m in state.members) or "no members"
    return f"{members}; HAProxy routes writes to {list(state.routed('primary')) or 'nothing'}"
