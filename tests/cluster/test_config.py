"""The configuration templates render to files etcd, Patroni and HAProxy accept (no processes here)."""

from __future__ import annotations

from pathlib import Path

import yaml

from gardenos.cluster import config
from gardenos.cluster.layout import ClusterSpec, NodeSpec
from gardenos.cluster.state import parse_haproxy_stat
from gardenos.settings import Settings

SPEC = ClusterSpec(
    scope="gardenos",
    nodes=(NodeSpec("node1", 6001, 7001), NodeSpec("node2", 6002, 7002)),
    etcd_client_port=2379,
    etcd_peer_port=2380,
    rw_port=5000,
    ro_port=5001,
    superuser_password="p:w #'\"x",
    replication_password="r",
    rewind_password="w",
)


def _render(settings: Settings, archive: str = "true") -> str:
    return config.render_patroni(
        SPEC,
        SPEC.nodes[0],
        settings,
        paths=config.NodePaths(Path("/d"), Path("/r"), Path("/p")),
        bin_dir=Path("/b"),
        archive=archive,
        callback=config.command(Path("/py thon"), Path("/bin/failover_slots.py"), "/n/patroni.yml"),
    )


def test_patroni_yaml_keeps_awkward_values_whole() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    archive = config.archive_command(Path("/py thon"), Path("/bin/w.py"), Path("/wal"), Path("/k"))
    text = _render(settings, archive)
    parsed = yaml.safe_load(text)
    assert parsed["postgresql"]["authentication"]["superuser"]["password"] == "p:w #'\"x"
    assert parsed["postgresql"]["parameters"]["archive_command"] == archive
    assert "'/py thon'" in archive
    assert "--key-file /k" in archive
    dcs = parsed["bootstrap"]["dcs"]
    assert (dcs["ttl"], dcs["loop_wait"], dcs["retry_timeout"]) == (20, 2, 4)
    assert dcs["synchronous_mode"] == "quorum"
    assert dcs["synchronous_mode_strict"] is True
    assert dcs["postgresql"]["use_pg_rewind"] is True
    callbacks = parsed["postgresql"]["callbacks"]
    assert callbacks["on_role_change"] == "'/py thon' /bin/failover_slots.py /n/patroni.yml"
    assert callbacks["on_start"] == callbacks["on_role_change"]


def test_priority_mode_renders_patronis_plain_synchronous_mode() -> None:
    settings = Settings(_env_file=None, cluster_sync_mode="priority")  # type: ignore[call-arg]
    text = _render(settings, "true")
    assert yaml.safe_load(text)["bootstrap"]["dcs"]["synchronous_mode"] is True


def test_patroni_settings_that_shorten_recovery() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    text = _render(settings, "true")
    parsed = yaml.safe_load(text)
    parameters = parsed["postgresql"]["parameters"]
    # A standby reconnects to a restarted or new leader within 250 ms (default 5 s) ...
    assert parameters["wal_retrieve_retry_interval"] == "250ms"
    # ... and crash recovery flushes the data folder with one syncfs() rather than 1,600 fsync()s.
    assert parameters["recovery_init_sync_method"] == "syncfs"
    assert parsed["postgresql"]["basebackup"] == {"checkpoint": "fast", "sync-method": "syncfs"}
    assert {"sync-method": "syncfs"} in parsed["bootstrap"]["initdb"]


def test_archive_and_restore_commands_for_s3_storage() -> None:
    archive = config.archive_command(Path("/py"), Path("/w.py"), Path("/wal"), None, Path("/s 3.json"))
    assert archive == "/py /w.py archive %p wal/%f --store '/s 3.json'"
    restore = config.restore_command(Path("/py"), Path("/w.py"), Path("/wal"), Path("/k"), Path("/s.json"))
    assert restore == "/py /w.py restore wal/%f %p --key-file /k --store /s.json"
    assert config.restore_command(Path("/py"), Path("/w.py"), Path("/wal"), None) == (
        "/py /w.py restore /wal/%f %p"
    )


def test_haproxy_routes_every_node_on_both_ports() -> None:
    text = config.render_haproxy(SPEC, Path("/s.sock"))
    assert text.count("server node1 127.0.0.1:6001 check port 7001") == 2
    assert "bind 127.0.0.1:5000" in text
    assert "GET /primary" in text
    assert "bind 127.0.0.1:5001" in text
    assert "GET /replica" in text
    assert "on-marked-down shutdown-sessions" in text
    # The 1 s / 500 ms: checked every second while up, every 500 ms once failing or down.
    assert text.count("inter 1s fastinter 500ms downinter 500ms fall 2 rise 1") == 2


def test_etcd_config_serves_v3_only() -> None:
    parsed = yaml.safe_load(config.render_etcd(SPEC, Path("/e")))
    assert parsed["enable-v2"] is False
    assert parsed["enable-grpc-gateway"] is True
    assert parsed["listen-client-urls"] == "http://127.0.0.1:2379"


def test_haproxy_stat_parsing() -> None:
    csv_text = "# pxname,svname,status,x\nprimary,FRONTEND,OPEN,\nprimary,node1,UP,\nprimary,node2,DOWN,\n"
    backends = parse_haproxy_stat(csv_text)
    assert [(b.server, b.status) for b in backends] == [("node1", "UP"), ("node2", "DOWN")]
