"""The data folder's `gardenos up` lock. flock locks belong to an open file, so two `UpLock`s of one
process contend as two processes would."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gardenos.embedded.uplock import UpLock, UpRecord
from gardenos.errors import ConfigurationError


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    first = UpLock(tmp_path)
    assert first.acquire("127.0.0.1:8000") is None
    first.set_phase("serving")
    with pytest.raises(ConfigurationError) as refused:
        UpLock(tmp_path).acquire("127.0.0.1:8001")
    assert f"another `gardenos up` (pid {os.getpid()}) is running" in refused.value.message
    assert "serving 127.0.0.1:8000" in refused.value.message
    first.release()
    assert UpLock(tmp_path).acquire("127.0.0.1:8001") is not None


def test_a_holder_that_is_stopping_is_waited_for(tmp_path: Path) -> None:
    first = UpLock(tmp_path)
    first.acquire("127.0.0.1:8000")
    first.set_phase("stopping")
    waited: list[UpRecord] = []
    waiting = threading.Event()

    def announce(holder: UpRecord) -> None:
        waited.append(holder)
        waiting.set()

    releaser = threading.Thread(target=lambda: waiting.wait(30) and first.release())
    releaser.start()
    previous = UpLock(tmp_path).acquire("127.0.0.1:8001", wait_s=60, waiting=announce)
    releaser.join()
    assert [h.phase for h in waited] == ["stopping"]
    assert previous is not None
    assert previous.phase == "stopped"


def test_a_holder_still_stopping_after_the_wait_is_reported(tmp_path: Path) -> None:
    first = UpLock(tmp_path)
    first.acquire("127.0.0.1:8000")
    first.set_phase("stopping")
    with pytest.raises(ConfigurationError) as refused:
        UpLock(tmp_path).acquire("127.0.0.1:8001", wait_s=0.3)
    assert f"(pid {os.getpid()})" in refused.value.message
    assert "still stopping after 0 s" in refused.value.message


HOLDER = """
import sys, time
from pathlib import Path
from gardenos.embedded.uplock import STARTING_POSTGRES, UpLock
lock = UpLock(Path(sys.argv[1]))
lock.acquire("127.0.0.1:8000")
lock.set_postgres(STARTING_POSTGRES)
lock.set_postgres(4242)
lock.set_phase("serving")
print("holding", flush=True)
time.sleep(600)
"""


def test_the_record_of_a_holder_killed_hard_names_the_postgres_it_started(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(ConfigurationError):
            UpLock(tmp_path).acquire("127.0.0.1:8001")
    finally:
        holder.kill()  # SIGKILL: the kernel releases the lock, nothing else is written
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    previous = UpLock(tmp_path).acquire("127.0.0.1:8001")
    assert previous is not None
    assert (previous.pid, previous.phase, previous.postgres_pid) == (holder.pid, "serving", 4242)
    assert previous.started(4242)
    assert not previous.started(4343)
