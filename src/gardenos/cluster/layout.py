"""Where a cluster lives and what it was created with.

    <cluster dir>/
      cluster.json          ports, node names and passwords, fixed at creation (0600)
      etcd/                 etcd.yml, data/, etcd.log
      nodes/<name>/         patroni.yml, data/ (PGDATA), run/ (socket), patroni.log
      haproxy/              haproxy.cfg, haproxy.sock (stats), haproxy.log
      bin/walcrypt.py       the archive/restore command PostgreSQL runs
      bin/patroni_init.py   the small init each Patroni runs under (reaps the postmaster at once)
      backups/              base/<label>/ and wal/ (unless GARDENOS_BACKUP_DIR says elsewhere; with
                            S3-compatible storage, only the base backups being taken)
      backup-store.json     the S3-compatible storage walcrypt.py archives to, when configured (0600)
      backup.key            the backup encryption key, when set (0600)

As root, when the service user cannot enter the data folder (a clone under a 0700 home folder), the
cluster folder is created under GARDENOS_RUNTIME_DIR and `<data_dir>/cluster` is a symlink to it,
as for the embedded database.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from gardenos.embedded.postgres import free_port
from gardenos.embedded.service_user import RunAs, resolve_run_as
from gardenos.errors import ConfigurationError
from gardenos.settings import Settings

HOST = "127.0.0.1"
SUPERUSER = "gardenos"
REPLICATION_USER = "replicator"
REWIND_USER = "rewinder"
DATABASE = "gardenos"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    pg_port: int
    api_port: int


@dataclass(frozen=True)
class ClusterSpec:
    """What a cluster was created with; kept in `cluster.json` so every later command finds it."""

    scope: str
    nodes: tuple[NodeSpec, ...]
    etcd_client_port: int
    etcd_peer_port: int
    rw_port: int
    ro_port: int
    superuser_password: str
    replication_password: str
    rewind_password: str

    @classmethod
    def new(cls, settings: Settings, nodes: int) -> ClusterSpec:
        return cls(
            scope="gardenos",
            nodes=tuple(NodeSpec(f"node{i}", free_port(), free_port()) for i in range(1, nodes + 1)),
            etcd_client_port=free_port(),
            etcd_peer_port=free_port(),
            rw_port=settings.cluster_rw_port or free_port(),
            ro_port=settings.cluster_ro_port or free_port(),
            superuser_password=secrets.token_urlsafe(24),
            replication_password=secrets.token_urlsafe(24),
            rewind_password=secrets.token_urlsafe(24),
        )

    @classmethod
    def load(cls, path: Path) -> ClusterSpec | None:
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["nodes"] = tuple(NodeSpec(**node) for node in raw["nodes"])
        return cls(**raw)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f, indent=2)
        tmp.replace(path)

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise ConfigurationError(
            f"no node {name!r} in this cluster; its nodes are {', '.join(n.name for n in self.nodes)}"
        )

    def ports(self) -> list[int]:
        """Every port the cluster listens on."""
        return [
            self.etcd_client_port,
            self.etcd_peer_port,
            self.rw_port,
            self.ro_port,
            *(port for n in self.nodes for port in (n.pg_port, n.api_port)),
        ]


class ClusterLayout:
    """The cluster's folders and files (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = (settings.cluster_dir or settings.data_path / "cluster").expanduser().absolute()
        self._run_as: RunAs | None = None

    @property
    def run_as(self) -> RunAs:
        if self._run_as is None:
            self._run_as = resolve_run_as(self.settings.service_user)
        return self._run_as

    @property
    def server_root(self) -> Path:
        """The real folder behind `root`: paths handed to the servers must not pass through a symlink
        in a folder the service user cannot enter."""
        return self.root.resolve()

    @property
    def spec_file(self) -> Path:
        return self.server_root / "cluster.json"

    @property
    def etcd_dir(self) -> Path:
        return self.server_root / "etcd"

    @property
    def haproxy_dir(self) -> Path:
        return self.server_root / "haproxy"

    def node_dir(self, name: str) -> Path:
        return self.server_root / "nodes" / name

    def pgdata(self, name: str) -> Path:
        return self.node_dir(name) / "data"

    @property
    def script_dir(self) -> Path:
        return self.server_root / "bin"

    @property
    def key_file(self) -> Path:
        return self.server_root / "backup.key"

    @property
    def store_file(self) -> Path:
        """S3-compatible storage's bucket, prefix, endpoint and keys, for walcrypt.py (0600)."""
        return self.server_root / "backup-store.json"

    @property
    def backup_dir(self) -> Path:
        configured = self.settings.backup_dir
        return configured.expanduser().absolute() if configured else self.server_root / "backups"

    @property
    def wal_archive(self) -> Path:
        return self.backup_dir / "wal"

    @property
    def base_backups(self) -> Path:
        return self.backup_dir / "base"

    @property
    def restores_dir(self) -> Path:
        return self.server_root / "restores"

    def exists(self) -> bool:
        return self.root.exists() and self.spec_file.exists()

    def load_spec(self) -> ClusterSpec:
        spec = ClusterSpec.load(self.spec_file) if self.root.exists() else None
        if spec is None:
            raise ConfigurationError(
                f"no cluster in {self.root}: create one with `gardenos cluster up`",
            )
        return spec

    # -- creating the folders -------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the cluster folder where the service user can reach it, and the folders each
        process writes to, owned by that user."""
        if self.root.is_symlink() and not self.root.exists():
            self.root.unlink()  # its relocated folder was removed: start afresh
        if not self.root.exists():
            self.root.parent.mkdir(parents=True, exist_ok=True)
            if self.run_as.can_reach(self.root.parent):
                self.root.mkdir(mode=0o711)
            else:
                runtime = self.settings.runtime_dir
                clusters = runtime / "clusters"
                for folder in (runtime, clusters):
                    folder.mkdir(parents=True, exist_ok=True)
                    folder.chmod(0o711)
                if not self.run_as.can_reach(clusters):
                    raise ConfigurationError(
                        f"the service user {self.run_as.name!r} can reach neither {self.root.parent} nor "
                        f"{runtime}; set GARDENOS_RUNTIME_DIR to a folder outside any private (0700) "
                        "folder, such as /var/lib/gardenos"
                    )
                target = clusters / hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
                target.mkdir(mode=0o711, exist_ok=True)
                self.root.symlink_to(target, target_is_directory=True)
        (self.server_root / "nodes").mkdir(mode=0o711, exist_ok=True)
        self.script_dir.mkdir(mode=0o755, exist_ok=True)
        for folder in (self.etcd_dir, self.haproxy_dir, self.restores_dir):
            self.owned_dir(folder)
        self.prepare_backup_dir()

    def prepare_backup_dir(self) -> None:
        self.owned_dir(self.backup_dir)
        for folder in (self.wal_archive, self.base_backups):
            self.owned_dir(folder)
        if not self.run_as.can_reach(self.wal_archive):
            raise ConfigurationError(
                f"the service user {self.run_as.name!r} cannot reach the backup folder {self.backup_dir}; "
                "set GARDENOS_BACKUP_DIR to a folder it can enter"
            )

    def owned_dir(self, folder: Path) -> Path:
        """A folder of the service user's own (0700)."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.run_as.chown(folder)
        return folder

    def write_private(self, path: Path, text: str) -> bool:
        """A file only the service user (and root) can read: configurations carry passwords. Returns
        whether it changed (an unchanged file is left alone)."""
        try:
            if path.read_text() == text:
                return False
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.run_as.chown(tmp)
        tmp.replace(path)
        return True
