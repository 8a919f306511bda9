"""Running PostgreSQL as an unprivileged user when GardenOS itself runs as root.

initdb and postgres refuse to run as root. As root we create (or reuse) a system user and start the
server through `setpriv`, which execs in place: the PID we record is the server's own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gardenos.errors import ConfigurationError


@dataclass(frozen=True)
class RunAs:
    """Who the database processes run as, and the argv prefix that makes them so."""

    name: str
    uid: int
    gid: int
    prefix: tuple[str, ...]

    @property
    def is_current_user(self) -> bool:
        return not self.prefix

    def can_reach(self, path: Path) -> bool:
        """Whether this user can enter (directory) or execute (file) `path`, as the kernel decides."""
        if self.is_current_user:
            return os.access(path, os.X_OK)
        result = subprocess.run([*self.prefix, "test", "-x", str(path)], check=False, capture_output=True)
        return result.returncode == 0

    def chown(self, path: Path) -> None:
        if not self.is_current_user:
            os.chown(path, self.uid, self.gid)


def resolve_run_as(service_user: str) -> RunAs:
    """The current user when not root; otherwise the service user, created on first use."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, ())
    try:
        entry = pwd.getpwnam(service_user)
    except KeyError:
        entry = _create_system_user(service_user)
    if entry.pw_uid == 0:
        raise ConfigurationError(
            f"GARDENOS_SERVICE_USER={service_user!r} is root; PostgreSQL refuses to run as root. "
            "Name an unprivileged user."
        )
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ConfigurationError("`setpriv` is missing: install Debian's util-linux package.")
    prefix = (setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--")
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, prefix)


def _create_system_user(name: str) -> pwd.struct_passwd:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    nologin = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    result = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--shell", nologin, name],
        check=False,
        capture_output=True,
        text=True,
    )
    # Exit 9: another process created it between our look-up and useradd.
    if result.returncode not in (0, 9):
        raise ConfigurationError(
            f"could not create the system user {name!r} that runs PostgreSQL: {result.stderr.strip()}"
        )
    return pwd.getpwnam(name)
