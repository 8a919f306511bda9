"""`make bench`: run every benchmark and print its figures with the baseline from the same run."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import agents, api, auth, backup, cluster, demo_data, importer, realtime, realtime_changes, storage


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--leads", type=int, default=1_000_000, help="leads for demo-data, api and revocation"
    )
    parser.add_argument("--clients", type=int, default=100_000, help="clients for demo-data and api")
    parser.add_argument("--agencies", type=int, default=10, help="api: agencies (the largest has half)")
    parser.add_argument("--duration", type=int, default=15, help="api: seconds per wrk/pgbench run")
    parser.add_argument(
        "--keep-db",
        type=Path,
        help="api: keep the loaded database in this folder; a later run of the same size reuses it",
    )
    parser.add_argument("--vectors", type=int, default=1_000_000, help="agents: vectors for semantic search")
    parser.add_argument("--cluster-rounds", type=int, default=5, help="cluster: rounds of each fault")
    parser.add_argument("--archive-switches", type=int, default=20, help="backup: WAL switches timed")
    parser.add_argument("--import-rows", type=int, default=1_000_000, help="importer: rows of the CSV")
    parser.add_argument(
        "--rt-clients",
        default="100,1000,5000",
        help="realtime: connected clients at each fan-out step (comma-separated, increasing)",
    )
    parser.add_argument("--rt-seconds", type=int, default=5, help="realtime: seconds of each paced run")
    parser.add_argument("--rt-payload", type=int, default=100, help="realtime: padding bytes per broadcast")
    parser.add_argument(
        "--rt-burst",
        type=int,
        default=50_000,
        help="realtime: deliveries in each burst (at least 10 per client)",
    )
    parser.add_argument(
        "--rt-subscribers", type=int, default=1000, help="realtime: postgres_changes subscribers"
    )
    parser.add_argument(
        "--rt-insert-rate", type=int, default=200, help="realtime: inserts/s under the subscribers"
    )
    parser.add_argument("--rt-loaders", type=int, default=2, help="realtime: load-generator processes")
    parser.add_argument(
        "--storage-large-mb",
        type=int,
        default=256,
        help="storage: MiB of the large object (256 keeps the run short; the issue's figure is 1024)",
    )
    parser.add_argument("--storage-objects", type=int, default=32, help="storage: 1 MiB objects each way")
    parser.add_argument(
        "--storage-small", type=int, default=1000, help="storage: 4 KiB objects and signed GETs"
    )
    parser.add_argument(
        "--only",
        choices=[
            "auth",
            "demo-data",
            "api",
            "revocation",
            "importer",
            "agents",
            "cluster",
            "backup",
            "realtime-changes",
            "realtime",
            "storage",
        ],
        help="run one benchmark",
    )
    args = parser.parse_args()
    if args.only in (None, "auth"):
        auth.run()
    if args.only in (None, "demo-data"):
        demo_data.run(leads=args.leads, clients=args.clients)
    if args.only in (None, "api"):
        api.run(
            leads=args.leads,
            clients=args.clients,
            agencies=args.agencies,
            duration=args.duration,
            keep=args.keep_db,
        )
    if args.only == "revocation":  # a full run measures it at the end of `api`, on the same database
        api.run_revocation(
            leads=args.leads,
            clients=args.clients,
            agencies=args.agencies,
            duration=args.duration,
            keep=args.keep_db,
        )
    if args.only in (None, "importer"):
        importer.run(leads=args.leads, rows=args.import_rows)
    if args.only in (None, "agents"):
        agents.run(vectors=args.vectors)
    if args.only in (None, "cluster"):
        cluster.run(rounds=args.cluster_rounds)
    if args.only in (None, "backup"):
        backup.run(switches=args.archive_switches)
    if args.only in (None, "realtime-changes"):
        realtime_changes.run()
    if args.only in (None, "realtime"):
        realtime.run(
            sizes=[int(size) for size in args.rt_clients.split(",")],
            seconds=args.rt_seconds,
            payload_bytes=args.rt_payload,
            burst_deliveries=args.rt_burst,
            subscribers=args.rt_subscribers,
            insert_rate=args.rt_insert_rate,
            loader_count=args.rt_loaders,
        )
    if args.only in (None, "storage"):
        storage.run(large_mb=args.storage_large_mb, objects=args.storage_objects, small=args.storage_small)


main()
