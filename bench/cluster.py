"""Failover figures: cold starts to healthy, then rounds of each fault with a writer through HAProxy's
read-write port, and rounds through the GardenOS API (`gardenos cluster failover-test`), on a private
3-node cluster removed afterwards.

Targets (issue 5): crash failover ≤ 20 s (Patroni's lease floor, ttl 20), planned switchover ≤ 5 s,
PostgreSQL-only crash ≤ 6 s, cold start to healthy < 20 s, always 0 acknowledged writes lost. The
baseline in the same run is the lease itself: a crash cannot fail over faster than ttl − loop_wait.

Every round is printed with its timeline (when Patroni noticed, when the leader took writes again,
when HAProxy routed to it, when a synchronous standby attached), and the machine's load average
before each kind of round, since the figures depend on it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gardenos.cluster.api_target import serve_api
from gardenos.cluster.cluster import Cluster
from gardenos.cluster.failover import Fault, RoundReport, run_round
from gardenos.settings import Settings

TARGETS = {"leader": 20.0, "patroni": 20.0, "postgres": 6.0, "switchover": 5.0, "cold start": 20.0}
SQL_FAULTS: tuple[Fault, ...] = ("switchover", "postgres", "leader", "patroni")
API_FAULTS: tuple[Fault, ...] = ("postgres", "leader")


def bench_settings(name: str, **extra: Any) -> Settings:
    """Settings of a new cluster in a temporary folder, on free ports. The runtime folder keeps the service
    user's Python and the PostgreSQL binaries between runs, as on a server: a cold start here is a new
    cluster on a machine that has run GardenOS before."""
    base = Path(tempfile.mkdtemp(prefix=f"gardenos-bench-{name}-"))
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=base / "data",
        runtime_dir=defaults.runtime_dir,
        cluster_rw_port=0,
        cluster_ro_port=0,
        # A scheduled base backup at start would copy the database during the first measured rounds.
        **{"backup_schedule": "off", **extra},
    )


def run(rounds: int = 5) -> None:
    console = Console(width=150)
    settings = bench_settings("cluster")
    base = settings.data_dir.parent
    cluster = Cluster(settings)
    cold: list[float] = []
    reports: dict[str, list[RoundReport]] = {}
    try:
        started = time.monotonic()
        python = cluster.python
        console.print(
            f"cluster: the service user's Python ({python}) ready in {time.monotonic() - started:.1f} s "
            "(built once per runtime folder and set of versions; not part of a cold start)"
        )
        console.print(f"cluster: load before the cold starts: {_load()}")
        for number in range(1, rounds + 1):
            started = time.monotonic()
            cluster.up(3)
            cold.append(time.monotonic() - started)
            steps = ", ".join(f"{name} {at:.1f}" for name, at in cluster.last_up.items())
            console.print(f"  cold start {number}: healthy in {cold[-1]:.1f} s ({steps})")
            if number < rounds:
                cluster.down()
                cluster.remove()
        for fault in SQL_FAULTS:
            console.print(f"cluster: load before {fault} rounds: {_load()}")
            for number in range(1, rounds + 1):
                report = run_round(cluster, fault, number)
                reports.setdefault(f"{fault} (sql)", []).append(report)
                _print_round(console, report)
        console.print("cluster: starting the API against the cluster")
        with serve_api(cluster) as api:
            for fault in API_FAULTS:
                console.print(f"cluster: load before {fault} rounds through the API: {_load()}")
                for number in range(1, rounds + 1):
                    report = run_round(cluster, fault, number, api=api)
                    reports.setdefault(f"{fault} (api)", []).append(report)
                    _print_round(console, report)
        console.print(f"cluster: load at the end: {_load()}")
        _print_table(console, settings, rounds, cold, reports)
    finally:
        cluster.down()
        cluster.remove()
        shutil.rmtree(base, ignore_errors=True)


def _print_round(console: Console, r: RoundReport) -> None:
    steps = ", ".join(f"{name} {at:.1f}" for name, at in sorted(r.timeline.items(), key=lambda i: i[1]))
    answers = f", answers {r.responses}" if r.responses else ""
    console.print(
        f"  {r.fault} through {r.through} round {r.round}: {r.unavailability_s:.1f} s unavailable, "
        f"{r.acknowledged} acknowledged, {r.acknowledged_lost} lost, {r.in_doubt} in doubt "
        f"({r.in_doubt_committed} committed), rejoin {r.rejoin_s:.1f} s{answers}; timeline (s): {steps}"
    )


def _print_table(
    console: Console,
    settings: Settings,
    rounds: int,
    cold: list[float],
    reports: dict[str, list[RoundReport]],
) -> None:
    table = Table(title=f"cluster ({rounds} rounds each; lease ttl {settings.cluster_ttl_s} s)")
    for column in ("kind", "every round (s)", "median", "max", "target", "acknowledged", "lost", "in doubt"):
        table.add_column(column)
    table.add_row(
        "cold start to healthy",
        ", ".join(f"{c:.1f}" for c in cold),
        f"{statistics.median(cold):.1f} s",
        f"{max(cold):.1f} s",
        f"< {TARGETS['cold start']:.0f} s",
        "",
        "",
        "",
    )
    for kind, found in reports.items():
        gaps = [r.unavailability_s for r in found]
        table.add_row(
            kind,
            ", ".join(f"{g:.1f}" for g in gaps),
            f"{statistics.median(gaps):.1f} s",
            f"{max(gaps):.1f} s",
            f"≤ {TARGETS[found[0].fault]:.0f} s",
            str(sum(r.acknowledged for r in found)),
            str(sum(r.acknowledged_lost for r in found)),
            str(sum(r.in_doubt for r in found)),
        )
    console.print(table)
    api = [r for kind, found in reports.items() if kind.endswith("(api)") for r in found]
    if api:
        total = {k: sum(r.responses.get(k, 0) for r in api) for k in ("201", "503", "other_5xx", "no_answer")}
        console.print(f"API answers over all rounds: {total} (other_5xx must be 0)")
    floor = settings.cluster_ttl_s - settings.cluster_loop_wait_s
    console.print(
        f"baseline: the leader lease bounds a crash failover from below at {floor}–{settings.cluster_ttl_s} s"
    )


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"
