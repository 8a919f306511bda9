"""Archived WAL fetched ahead of a restore's recovery.

PostgreSQL asks for one WAL file at a time and waits while its restore_command runs. Ours starts the
service user's Python, imports `cryptography`, decrypts 16 MiB and writes it: about half a second a
segment on a busy machine, most of a restore's time when the target is recent (recovery replays every
segment since the base backup, and each `restore`, `backup list` and `cluster down` switches to a new
one). So while the restored server recovers, `gardenos restore` decrypts the segments recovery will
ask for next into a folder beside it, a few ahead, in its own process; the restore_command moves a
fetched segment into place (a rename) and falls back to the archive for anything else (not fetched
yet, or a wrong guess). History files (small, asked for several times) are fetched before the start
and copied. pgBackRest (`archive-get` with `archive-async`) and WAL-G (`WALG_DOWNLOAD_CONCURRENCY`)
prefetch for the same reason.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
from pathlib import Path

from gardenos.backup.archiving import segment_number
from gardenos.backup.storage import BackupStore
from gardenos.backup.window import segment_index
from gardenos.embedded.service_user import RunAs

# Segments fetched and not yet taken: enough to keep recovery busy, little disk.
AHEAD = 4
POLL_S = 0.02


def plan(names: list[str], first: int | None) -> list[str]:
    """The segments recovery to the latest timeline will ask for, in order: from segment index `first`
    on, each index under its highest timeline (recovery tries the newest timeline whose history
    reaches a segment first). `.partial` and `.backup` files are never asked for by name here."""
    best: dict[int, str] = {}
    for name in names:
        number = segment_number(name)
        if number is None or len(name) != 24:
            continue
        index = segment_index(number)
        if first is not None and index < first:
            continue
        if index not in best or name[:8] > best[index][:8]:
            best[index] = name
    return [best[index] for index in sorted(best)]


def command(fallback: str, segments: Path, histories: Path) -> str:
    """The restore_command: a fetched segment is moved into place, a history file copied, anything else
    (or a file taken away meanwhile) comes from the archive through `fallback`, whose exit status
    (1: not in the archive, above 125: stop) is the command's."""
    seg, hist = shlex.quote(str(segments)), shlex.quote(str(histories))
    return f"mv -f {seg}/%f %p 2>/dev/null || cp {hist}/%f %p 2>/dev/null || {fallback}"


class Prefetcher:
    """Fetches `names` in order into `folder`, at most AHEAD at a time; a segment recovery took (moved
    away) makes room, and one it went past without taking is removed."""

    def __init__(
        self, store: BackupStore, key: bytes | None, names: list[str], folder: Path, run_as: RunAs
    ) -> None:
        self.store = store
        self.key = key
        self.names = names
        self.folder = folder
        self.run_as = run_as
        self.fetched = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-prefetch", daemon=True)

    def start(self) -> Prefetcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        staging = self.folder / ".staging"
        staging.mkdir(exist_ok=True)
        waiting: dict[str, int] = {}
        taken_up_to = -1
        try:
            for name in self.names:
                index = segment_index(name[8:24])
                while not self._stop.is_set():
                    for other, at in list(waiting.items()):
                        if not (self.folder / other).exists():
                            taken_up_to = max(taken_up_to, at)
                            del waiting[other]
                    for other, at in list(waiting.items()):
                        if at < taken_up_to:
                            (self.folder / other).unlink(missing_ok=True)
                            del waiting[other]
                    if len(waiting) < AHEAD:
                        break
                    self._stop.wait(POLL_S)
                if self._stop.is_set():
                    return
                if index < taken_up_to:
                    continue
                part = staging / name
                self.store.fetch_wal(name, part, self.key)
                self.run_as.chown(part)
                part.replace(self.folder / name)
                waiting[name] = index
                self.fetched += 1
        except Exception as exc:  # the fallback fetches what this could not
            self.error = exc
        finally:
            with contextlib.suppress(OSError):
                for leftover in staging.iterdir():
                    leftover.unlink()
