"""Configuration files for etcd, Patroni and HAProxy, rendered from the one template set in
`cluster/templates/` (the production manifests render the same files with their own values).

Templates use `string.Template` (`${name}`): every value is given, a missing one is an error. Values
that land in YAML are written as JSON strings, which YAML reads as quoted scalars, so a password or a
path with `:` or `#` in it stays one value.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from gardenos.cluster.layout import HOST, REPLICATION_USER, REWIND_USER, SUPERUSER, ClusterSpec, NodeSpec
from gardenos.settings import Settings


def template(name: str) -> Template:
    return Template(resources.files("gardenos.cluster").joinpath("templates", name).read_text())


def _yaml(value: str | Path) -> str:
    return json.dumps(str(value))


@dataclass(frozen=True)
class NodePaths:
    """Where one node's files are, as the service user sees them."""

    data_dir: Path
    socket_dir: Path
    pgpass: Path


def render_etcd(spec: ClusterSpec, data_dir: Path) -> str:
    return template("etcd.yml").substitute(
        name="gardenos-etcd",
        scope=spec.scope,
        host=HOST,
        data_dir=_yaml(data_dir),
        client_port=spec.etcd_client_port,
        peer_port=spec.etcd_peer_port,
    )


def archive_command(
    python: Path, script: Path, wal_archive: Path, key_file: Path | None, store_file: Path | None = None
) -> str:
    """PostgreSQL's archive_command: walcrypt.py copies (encrypts) a WAL file into the archive, the
    backup folder's `wal/` or, with a store file, `<prefix>/wal/` in S3-compatible storage."""
    dest = "wal/%f" if store_file is not None else f"{shlex.quote(str(wal_archive))}/%f"
    return _walcrypt(python, script, f"archive %p {dest}", key_file, store_file)


def restore_command(
    python: Path, script: Path, wal_archive: Path, key_file: Path | None, store_file: Path | None = None
) -> str:
    src = "wal/%f" if store_file is not None else f"{shlex.quote(str(wal_archive))}/%f"
    return _walcrypt(python, script, f"restore {src} %p", key_file, store_file)


def command(python: Path, script: Path, *arguments: str) -> str:
    """A command line running one of the cluster's scripts with the service user's Python."""
    return " ".join(shlex.quote(str(part)) for part in (python, script, *arguments))


def _walcrypt(
    python: Path, script: Path, arguments: str, key_file: Path | None, store_file: Path | None
) -> str:
    command = f"{shlex.quote(str(python))} {shlex.quote(str(script))} {arguments}"
    if key_file is not None:
        command += f" --key-file {shlex.quote(str(key_file))}"
    if store_file is not None:
        command += f" --store {shlex.quote(str(store_file))}"
    return command


def render_patroni(
    spec: ClusterSpec,
    node: NodeSpec,
    settings: Settings,
    *,
    paths: NodePaths,
    bin_dir: Path,
    archive: str,
    callback: str,
) -> str:
    return template("patroni.yml").substitute(
        scope=spec.scope,
        name=node.name,
        host=HOST,
        api_port=node.api_port,
        pg_port=node.pg_port,
        etcd_hosts=f"{HOST}:{spec.etcd_client_port}",
        ttl=settings.cluster_ttl_s,
        loop_wait=settings.cluster_loop_wait_s,
        retry_timeout=settings.cluster_retry_timeout_s,
        sync_mode="quorum" if settings.cluster_sync_mode == "quorum" else "true",
        sync_strict=json.dumps(settings.cluster_sync_strict),
        data_dir=_yaml(paths.data_dir),
        socket_dir=_yaml(paths.socket_dir),
        pgpass=_yaml(paths.pgpass),
        bin_dir=_yaml(bin_dir),
        superuser=SUPERUSER,
        superuser_password=_yaml(spec.superuser_password),
        replication_user=REPLICATION_USER,
        replication_password=_yaml(spec.replication_password),
        rewind_user=REWIND_USER,
        rewind_password=_yaml(spec.rewind_password),
        archive_command=_yaml(archive),
        slot_callback=_yaml(callback),
    )


def render_haproxy(spec: ClusterSpec, stats_socket: Path) -> str:
    server = template("haproxy-server.cfg")
    servers = "".join(
        server.substitute(name=n.name, host=HOST, pg_port=n.pg_port, api_port=n.api_port) for n in spec.nodes
    ).rstrip("\n")
    return template("haproxy.cfg").substitute(
        host=HOST,
        rw_port=spec.rw_port,
        ro_port=spec.ro_port,
        stats_socket=stats_socket,
        primary_servers=servers,
        replica_servers=servers,
    )
