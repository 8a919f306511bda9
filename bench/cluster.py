"""Failover figures: cold start to healthy, then rounds of each fault with a writer through HAProxy's
read-write port (`gardenos cluster failover-test`), on a private 3-node cluster removed afterwards.

Targets (issue 5): crash failover ≤ 20 s (Patroni's lease floor, ttl 20), planned switchover ≤ 5 s,
PostgreSQL-only crash ≤ 6 s, cold start to healthy < 20 s, always 0 acknowledged writes lost. The
baseline in the same run is the lease itself: a crash cannot fail over faster than ttl − loop_wait.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gardenos.cluster.cluster import Cluster
from gardenos.cluster.failover import FAULTS, RoundReport, run_round
from gardenos.settings import Settings

TARGETS = {"leader": 20.0, "patroni": 20.0, "postgres": 6.0, "switchover": 5.0}


def run(rounds: int = 5) -> None:
    console = Console()
    base = Path(tempfile.mkdtemp(prefix="gardenos-bench-cluster-"))
    runtime = Path(tempfile.mkdtemp(prefix="gardenos-bench-cluster-rt-"))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=base / "data",
        runtime_dir=runtime,
        cluster_rw_port=0,
        cluster_ro_port=0,
    )
    cluster = Cluster(settings)
    try:
        started = time.monotonic()
        cluster.up(3)
        cold = time.monotonic() - started
        console.print(
            f"cluster: cold start to healthy (leader + sync standby + replica): {cold:.1f} s (target < 20 s)"
        )
        reports: dict[str, list[RoundReport]] = {}
        for fault in ("switchover", "postgres", "leader", "patroni"):
            for number in range(1, rounds + 1):
                report = run_round(cluster, fault, number)
                reports.setdefault(fault, []).append(report)
                console.print(
                    f"  {fault} round {number}: {report.unavailability_s:.1f} s unavailable, "
                    f"{report.acknowledged_lost} lost, {report.in_doubt} in doubt, "
                    f"rejoin {report.rejoin_s:.1f} s"
                )
        table = Table(title=f"cluster failover ({rounds} rounds each; lease ttl {settings.cluster_ttl_s} s)")
        for column in (
            "fault",
            "unavailability median",
            "max",
            "target",
            "acknowledged",
            "lost",
            "in doubt",
            "rejoin median",
        ):
            table.add_column(column)
        for fault in FAULTS:
            found = reports.get(fault, [])
            if not found:
                continue
            gaps = [r.unavailability_s for r in found]
            table.add_row(
                fault,
                f"{statistics.median(gaps):.1f} s",
                f"{max(gaps):.1f} s",
                f"≤ {TARGETS[fault]:.0f} s",
                str(sum(r.acknowledged for r in found)),
                str(sum(r.acknowledged_lost for r in found)),
                str(sum(r.in_doubt for r in found)),
                f"{statistics.median(r.rejoin_s for r in found):.1f} s",
            )
        console.print(table)
        floor = settings.cluster_ttl_s - settings.cluster_loop_wait_s
        console.print(f"baseline: the leader lease bounds a crash failover from below at ≈ {floor} s")
    finally:
        cluster.down()
        cluster.remove()
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)
