"""A process controller judges a process by its pid file once another command has replaced the child it
started (`gardenos cluster down` + `up` from the command line while a long-lived `Cluster` object, such as
a test fixture's, still holds its own ended child)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gardenos.cluster.processes import ProcessController
from gardenos.embedded.service_user import RunAs

ME = RunAs(name="me", uid=os.getuid(), gid=os.getgid(), prefix=())


class Sleeper(ProcessController):
    kind = "sleeper"

    def argv(self) -> list[str]:
        # The marker (the last argument, which Python leaves in sys.argv) is what the pid file is
        # checked against.
        return [sys.executable, "-c", "import time; time.sleep(300)", str(self.folder / "sleeper.marker")]

    def is_ready(self) -> bool:
        return self.is_running()


@pytest.fixture
def controllers(tmp_path: Path) -> Iterator[tuple[Sleeper, Sleeper]]:
    first, second = Sleeper("s", ME, tmp_path), Sleeper("s", ME, tmp_path)
    try:
        yield first, second
    finally:
        second.stop(timeout=5)
        first.stop(timeout=5)


def test_a_controller_whose_child_was_replaced_waits_on_the_running_process(
    controllers: tuple[Sleeper, Sleeper],
) -> None:
    first, second = controllers
    started = first.start()
    first.wait_ready(5)
    # Another command stops it and starts its own.
    assert second.stop(timeout=5)
    replaced = second.start()
    second.wait_ready(5)
    assert replaced != started
    # The first controller finds the running process, and does not report its own ended child as a
    # failed start.
    assert first.start() == replaced
    first.wait_ready(5)
