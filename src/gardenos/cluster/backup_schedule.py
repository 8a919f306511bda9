"""The backup schedule's process, supervised with the cluster: `cluster up` starts it (or restarts it
when its settings changed, or stops it when GARDENOS_BACKUP_SCHEDULE is off), `cluster down` stops it
first, `cluster status` reports it. What it does is `gardenos backup schedule run` (backup/schedule.py).

Why a process of its own rather than cron, a systemd timer or a thread in `gardenos up`: it lives and
dies with the cluster like etcd and HAProxy, on every machine that runs `cluster up`, with nothing to
install; it does not depend on the API running; and a `pg_basebackup` of a large database (minutes of
I/O) stays out of the API's process.

It runs as the user who runs the cluster commands (root included: it starts `pg_basebackup` as the
service user exactly as `gardenos backup` does), with the cluster's and backups' settings passed as
GARDENOS_* variables and its folder as working directory, so no `.env` elsewhere changes them.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import sys
from pathlib import Path

from pydantic import SecretStr

from gardenos.cluster.layout import ClusterLayout
from gardenos.cluster.processes import ProcessController
from gardenos.embedded.service_user import RunAs
from gardenos.settings import Settings

# The settings the schedule reads: where the cluster and its backups are, and how to reach them.
_PASSED = ("data_dir", "runtime_dir", "service_user")
_PASSED_PREFIXES = ("cluster_", "backup_")
STATE_FILE = "state.json"


def schedule_env(settings: Settings) -> dict[str, str]:
    """The GARDENOS_* variables that give the schedule's process the same cluster and backups."""
    env = {}
    for name in Settings.model_fields:
        if name not in _PASSED and not name.startswith(_PASSED_PREFIXES):
            continue
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, Path):
            # Absolute: the process runs in its own folder.
            text = str(value.expanduser().absolute())
        else:
            text = str(value)
        env[f"GARDENOS_{name.upper()}"] = text
    return env


class BackupScheduleProcess(ProcessController):
    kind = "backup-schedule"

    def __init__(self, layout: ClusterLayout, settings: Settings) -> None:
        entry = pwd.getpwuid(os.geteuid())
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("GARDENOS_")}
        super().__init__(
            "backup-schedule",
            RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, ()),
            layout.server_root / "schedule",
            env={**inherited, **schedule_env(settings)},
        )
        self.settings = settings

    @property
    def state_file(self) -> Path:
        return self.folder / STATE_FILE

    @property
    def _digest_file(self) -> Path:
        return self.folder / "settings.sha256"

    def argv(self) -> list[str]:
        # The folder last: it is what identifies this process (see ProcessController.marker).
        return [
            sys.executable,
            "-m",
            "gardenos",
            "backup",
            "schedule",
            "run",
            "--state-dir",
            str(self.folder),
        ]

    def is_ready(self) -> bool:
        return self.is_running()

    def _digest(self) -> str:
        assert self.env is not None
        settings = sorted((k, v) for k, v in self.env.items() if k.startswith("GARDENOS_"))
        return hashlib.sha256(repr((self.argv(), settings)).encode()).hexdigest()

    def supervise(self) -> bool:
        """Make the process match the settings: stopped when the schedule is off, (re)started when it
        does not run or runs with other settings. Returns whether it runs."""
        if self.settings.backup_schedule_s is None:
            self.stop()
            return False
        self.folder.mkdir(mode=0o700, exist_ok=True)
        digest = self._digest()
        try:
            same = self._digest_file.read_text() == digest
        except FileNotFoundError:
            same = False
        if self.is_running() and not same:
            self.stop()
        if not self.is_running():
            self._digest_file.write_text(digest)
            self.start()
        return True
