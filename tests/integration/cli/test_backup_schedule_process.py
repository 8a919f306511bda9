"""The backup schedule's process as the cluster supervises it, on a cluster folder with nothing running
(no etcd, Patroni or HAProxy: cheap): started when the schedule is on, restarted when its settings
change, stopped by `cluster down`; a run that cannot take a backup is reported, with the next try,
where `cluster status` reads it. (`cluster up` with the schedule off stops it: tests/cluster/.)"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gardenos.backup.schedule import backup_status
from gardenos.cluster.cluster import Cluster
from gardenos.cluster.layout import ClusterSpec
from tests.support import make_settings, remove_runtime


def _poll(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    settings = make_settings(tmp_path, backup_schedule="1h")
    cluster = Cluster(settings)
    cluster.layout.spec_file.parent.mkdir(parents=True)
    ClusterSpec.new(settings, 3).save(cluster.layout.spec_file)
    try:
        yield cluster
    finally:
        cluster.backup_schedule().stop()
        remove_runtime(settings)


def test_the_schedule_process_follows_its_settings_and_stops_with_the_cluster(cluster: Cluster) -> None:
    process = cluster.backup_schedule()
    assert process.supervise()
    pid = process.pid()
    assert pid is not None
    # No node runs: the first run (due at once, there is no backup) fails and says when it retries.
    _poll(lambda: backup_status(cluster).last_error is not None, "the first run's failure")
    status = backup_status(cluster)
    assert (status.schedule_running, status.schedule_interval_s, status.newest) == (True, 3600, None)
    assert status.next_run is not None

    assert process.supervise()
    assert process.pid() == pid, "the same settings: left running"

    changed = Cluster(cluster.settings.model_copy(update={"backup_schedule": "2h"}))
    assert changed.backup_schedule().supervise()
    assert changed.backup_schedule().pid() not in (None, pid), "other settings: restarted"
    _poll(lambda: backup_status(changed).schedule_interval_s == 7200, "the new interval in its state")

    assert "backup-schedule" in changed.down()
    assert process.pid() is None
    assert "stopped" in process.log_tail()

    off = Cluster(cluster.settings.model_copy(update={"backup_schedule": "off"}))
    assert not off.backup_schedule().supervise()
    status = backup_status(off)
    assert (status.schedule_running, status.schedule_interval_s, status.next_run) == (False, None, None)
