"""One settings object for the whole service, read from `GARDENOS_*` variables and `.env`."""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GARDENOS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "test", "production"] = "development"

    # Where GardenOS keeps its own state: the embedded database, generated secrets, the dev outbox.
    data_dir: Path = Path(".gardenos")
    # An existing PostgreSQL to use instead of the embedded one (the owner's URL: migrations run as it).
    database_url: str | None = None
    # The API's own login role's password, and the secret that signs JWTs: generated on first start
    # and kept in `<data_dir>/secrets.json` unless set here.
    authenticator_password: str | None = None
    jwt_secret: SecretStr | None = None

    # Embedded PostgreSQL.
    pg_port: int = Field(default=54329, ge=0, le=65535, description="0 picks a free port at first start")
    # When GardenOS runs as root, PostgreSQL runs as this unprivileged system user.
    service_user: str = "gardenos"
    # Where the database goes, as root, when the service user cannot reach `data_dir`.
    runtime_dir: Path = Path("/var/lib/gardenos")

    # API server.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Reverse proxies (IPs or CIDR networks, comma-separated) whose `X-Forwarded-For` and
    # `X-Forwarded-Proto` are believed. Empty: nobody's, so a client cannot choose the address that rate
    # limits and sessions record; behind a proxy, list it, or every client shares the proxy's limits.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    pool_min_size: int = Field(default=2, ge=0)
    pool_max_size: int = Field(default=20, ge=1)
    # How long a request waits for a database connection before it is told the database is unavailable.
    pool_timeout_s: float = Field(default=5.0, gt=0)

    # Request bounds. A body larger than its route's limit is refused with 413 while it is read (also one
    # sent chunked, without Content-Length): JSON bodies everywhere, CSV bodies of /rest/v1 inserts; the
    # upload of POST /api/v1/imports is bounded by GARDENOS_IMPORT_MAX_BYTES instead.
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_csv_body_bytes: int = Field(default=32 << 20, ge=1024)
    # How long one SQL statement may run, per database role the API switches to, and for the importer's
    # and the agents' statements (0: no limit). A statement cut off answers 504; nothing is saved.
    statement_timeout_anon_s: float = Field(default=5.0, ge=0)
    statement_timeout_authenticated_s: float = Field(default=15.0, ge=0)
    statement_timeout_service_role_s: float = Field(default=60.0, ge=0)
    import_statement_timeout_s: float = Field(default=600.0, ge=0)
    ai_statement_timeout_s: float = Field(default=60.0, ge=0)

    # Auth (/auth/v1). JWTs are HS256 with the project secret unless an asymmetric algorithm is chosen;
    # its private key is generated into `<data_dir>/jwt-signing-key.pem` unless given here (PEM text).
    jwt_algorithm: Literal["HS256", "ES256", "RS256"] = "HS256"
    jwt_private_key: SecretStr | None = None
    jwt_expiry_s: int = Field(default=3600, ge=30, le=7 * 86400)
    jwt_issuer: str = "gardenos"
    # A refresh token that was just rotated is accepted again for this long (concurrent tabs refreshing).
    refresh_token_reuse_interval_s: int = Field(default=10, ge=0, le=300)
    password_min_length: int = Field(default=8, ge=6, le=72)
    # Every door checks that a user token's session still stands and that the membership it claims still
    # holds, remembering the answer per session for this long (0: ask the database on every request).
    # Logout, revocation, bans and membership changes evict it at once by NOTIFY; this bounds how long a
    # lost notification can keep a revoked token working.
    revocation_cache_ttl_s: float = Field(default=5.0, ge=0, le=3600)
    # Signing up needs the emailed confirmation first (Supabase's default); on for local demos if wanted.
    mailer_autoconfirm: bool = False
    disable_signup: bool = False
    # Confirmation, magic-link, recovery and invite tokens (and their 6-digit codes) expire after this.
    otp_expiry_s: int = Field(default=3600, ge=60, le=86400)
    # Requests per window, counted per client IP and per email address.
    rate_limit_window_s: int = Field(default=300, ge=1)
    rate_limit_token_per_ip: int = Field(default=30, ge=1)
    rate_limit_token_per_email: int = Field(default=10, ge=1)
    rate_limit_signup_per_ip: int = Field(default=30, ge=1)
    rate_limit_email_sent_per_ip: int = Field(default=30, ge=1)
    rate_limit_email_sent_per_email: int = Field(default=4, ge=1)
    rate_limit_verify_per_ip: int = Field(default=30, ge=1)
    # Routes whose requests cost far more than a read, per signed-in user and per client IP: CSV
    # imports, AI tasks (model calls), and search (`/api/v1/search` embeds its query; `?q=` lists).
    rate_limit_import_per_user: int = Field(default=30, ge=1)
    rate_limit_import_per_ip: int = Field(default=60, ge=1)
    rate_limit_ai_per_user: int = Field(default=300, ge=1)
    rate_limit_ai_per_ip: int = Field(default=600, ge=1)
    rate_limit_search_per_user: int = Field(default=600, ge=1)
    rate_limit_search_per_ip: int = Field(default=1200, ge=1)

    # Mail (confirmation, magic link, OTP, recovery, invite); `site_url` is the app its links lead back to.
    # Without an SMTP host, mails go to the database's outbox instead: read them with `gardenos mail list`.
    site_url: str = "http://127.0.0.1:8000"
    # Where this API is reached from outside (verification links point here); defaults to `site_url`.
    api_external_url: str | None = None
    # The built web app served at `/` (`make web` builds it into the repository's web/dist, the default);
    # when the folder holds no index.html, GardenOS serves its APIs alone.
    web_dir: Path | None = None
    # Besides `site_url`, where /auth/v1 may redirect after a verification (no open redirects).
    additional_redirect_urls: list[str] = Field(default_factory=list)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    # starttls: upgrade a plain connection (port 587); tls: TLS from the start (465); none: no TLS.
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    mail_from: str = "GardenOS <no-reply@gardenos.local>"
    mail_timeout_s: float = Field(default=10.0, gt=0)

    # /rest/v1: PATCH and DELETE without a filter would touch every row the caller can see; refused
    # unless this is set (the guard pg-safeupdate gives PostgREST users).
    rest_allow_unfiltered_writes: bool = False
    # The most rows one /rest/v1 read answers (PostgREST's db-max-rows): a read without a smaller limit
    # gets this many, and a Content-Range from which the client pages on.
    rest_max_rows: int = Field(default=1000, ge=1)
    # `Accept: application/vnd.pgrst.plan+json|text` answers the request's EXPLAIN (PostgREST's
    # db-plan-enabled). Off by default: a plan shows row estimates of the whole table and the policies'
    # conditions, which a caller should not otherwise see.
    rest_plan_enabled: bool = False

    # /realtime/v1 (websockets): caps, each breach answered on the channel with a reason. Connections per
    # agency hold across every API process (realtime/limits.py); events/s is per process.
    realtime_max_connections_per_agency: int = Field(default=1000, ge=1)
    realtime_max_channels_per_connection: int = Field(default=100, ge=1)
    realtime_max_joins_per_s: float = Field(default=50.0, gt=0, description="per connection")
    realtime_max_events_per_s: float = Field(default=1000.0, gt=0, description="per agency")
    realtime_max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    # Frames queued for one client; a client that reads slower than its channels send is cut off here.
    realtime_send_queue: int = Field(default=1000, ge=10)
    # An API process renews its lease in realtime.nodes every sixth of this; one silent for this long
    # (kill -9, a lost host) is swept by the others, its presences leaving with a diff.
    realtime_node_timeout_s: float = Field(default=30.0, ge=1, le=3600)

    # AI agents (/ai). Workers run inside the API process unless turned off (`gardenos worker` runs them
    # alone); unset means on, except in tests (env=test), which start their own.
    ai_workers: bool | None = None
    ai_pool_size: int = Field(default=1, ge=0, le=100, description="agents per type at start")
    ai_pool_min: int = Field(default=1, ge=0, le=100)
    ai_pool_max: int = Field(default=10, ge=1, le=100)
    ai_autoscale: bool = True
    # A running task's lease: renewed by heartbeats every third of it; a worker silent for longer loses it.
    ai_lease_s: float = Field(default=30.0, gt=0)
    ai_poll_interval_s: float = Field(default=1.0, gt=0)
    # Tasks an agent may hold (the one it runs and the next ones) in a pool whose tasks take under 50 ms:
    # fewer claims for quick tasks; pools of slow tasks always hold one per agent.
    ai_prefetch: int = Field(default=4, ge=1, le=100)
    # Failed attempts retry after base·2^(n-1) seconds (capped, with jitter), up to a task's max_retries.
    ai_retry_base_s: float = Field(default=2.0, ge=0)
    ai_retry_max_s: float = Field(default=300.0, ge=0)
    # The LLM: an OpenAI-compatible API when a key is set (DeepSeek-V3 on DeepInfra by default, with its
    # prices per million tokens for the cost figures), else the offline provider.
    ai_llm_provider: Literal["auto", "openai", "offline"] = "auto"
    ai_llm_base_url: str = "https://api.deepinfra.com/v1/openai"
    ai_llm_api_key: SecretStr | None = None
    ai_llm_model: str = "deepseek-ai/DeepSeek-V3-0324"
    ai_llm_timeout_s: float = Field(default=60.0, gt=0)
    ai_llm_max_retries: int = Field(default=3, ge=0, le=10)
    ai_llm_price_input_per_mtok: float = Field(default=0.27, ge=0)
    ai_llm_price_output_per_mtok: float = Field(default=1.10, ge=0)
    # Embeddings (384-d): the int8 ONNX MiniLM on the CPU by default, or an OpenAI-compatible API.
    ai_embedder: Literal["auto", "onnx", "openai", "hashing"] = "auto"
    ai_embedding_base_url: str | None = None
    ai_embedding_api_key: SecretStr | None = None
    ai_embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    # How often workers look for leads and clients without an embedding of the current model (0: never).
    ai_embed_sweep_s: float = Field(default=60.0, ge=0)
    # How long `?wait=true` waits for a task's result before answering with the task as it is.
    ai_wait_timeout_s: float = Field(default=30.0, gt=0, le=600)

    # CSV imports (`gardenos import leads`, POST /api/v1/imports). Phone numbers written without a
    # country code are read as this region's (ISO 3166-1 alpha-2); so are day/month orders in dates.
    default_phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    # Where uploads wait for their import and where error reports are written (default DATA_DIR/imports).
    import_dir: Path | None = None
    # Larger files are refused before anything is read (split them, or raise this).
    import_max_bytes: int = Field(default=1 << 30, ge=1)

    # Realtime database changes (postgres_changes): read from one logical replication slot per GardenOS
    # node, named here. Every node (host) sharing one database needs its own name; a slot nobody reads
    # keeps WAL on the server (drop a retired node's with `SELECT pg_drop_replication_slot('…')`).
    realtime_changes: bool = True
    realtime_slot_name: str = Field(default="gardenos_realtime", pattern=r"^[a-z0-9_]{1,63}$")
    # How often the slot is polled when idle (a full batch is followed at once by the next).
    realtime_poll_interval_s: float = Field(default=0.05, gt=0, le=10)
    realtime_batch_size: int = Field(default=1000, ge=1)

    # Storage (/storage/v1): where the local-disk backend keeps objects (default DATA_DIR/storage), and
    # the largest object any bucket takes (a bucket's `file_size_limit` may only lower it).
    storage_dir: Path | None = None
    storage_max_upload_bytes: int = Field(default=5 << 30, ge=1)
    # How long a signed URL may live at most (Supabase clients ask for seconds).
    storage_max_signed_url_s: int = Field(default=7 * 24 * 3600, ge=1)
    # Resumable (TUS) uploads: the most one PATCH may carry (clients send 6 MB chunks, as Supabase's
    # docs say; a request past this is a 413), and how long an upload nobody writes to stays resumable
    # before the sweeper removes it with its bytes (each accepted chunk pushes the expiry back).
    storage_resumable_max_chunk_bytes: int = Field(default=64 << 20, ge=1 << 16)
    storage_resumable_expiry_s: int = Field(default=24 * 3600, ge=1)
    # The sweeper (at start, then every SWEEP_INTERVAL_S; 0: at start only) removes what uploads of a
    # dead process left: on disk a temporary whose writer is gone (its lock is free) at once, any
    # temporary or S3 multipart upload not written to for ABANDONED_UPLOAD_S, and stored bytes no
    # object names that are older than that (a process killed between storing and recording them).
    storage_abandoned_upload_s: float = Field(default=3600.0, gt=0)
    storage_sweep_interval_s: float = Field(default=3600.0, ge=0)
    # S3-compatible storage for the objects instead of STORAGE_DIR when a bucket is set: as the backup's
    # S3 settings (path-style requests when an endpoint is set; keys unset: boto3's usual sources).
    # Objects go under `<prefix>/<agency uuid>/<random id>`. Every API node sees the same bucket, so it
    # is the natural backend of a cluster (or a STORAGE_DIR that every node mounts).
    storage_s3_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    storage_s3_prefix: str = "gardenos/storage"
    storage_s3_endpoint: str | None = Field(default=None, description="e.g. http://127.0.0.1:9000; unset AWS")
    storage_s3_region: str = "us-east-1"
    storage_s3_access_key_id: str | None = None
    storage_s3_secret_access_key: SecretStr | None = None
    # Image transformations (/storage/v1/render/image), bounded so a hostile image cannot exhaust the
    # server: sources up to MAX_SOURCE_BYTES, at most MAX_PIXELS decoded (counted from the header before
    # decoding; a JPEG is decoded scaled down for a smaller output), output sides clamped to
    # MAX_DIMENSION, at most CONCURRENCY transformations at once (each holding its source and ~4 bytes a
    # decoded pixel, 8 with transparency: ~200 MB at most with these defaults), a 503 past TIMEOUT_S.
    # Results are cached on this node's disk (default DATA_DIR/storage-cache) up to CACHE_BYTES (0: no
    # cache), least recently used out first.
    storage_transform_max_source_bytes: int = Field(default=25 << 20, ge=1)
    storage_transform_max_pixels: int = Field(default=25_000_000, ge=1)
    storage_transform_max_dimension: int = Field(default=2500, ge=1, le=16384)
    storage_transform_concurrency: int = Field(default=2, ge=1, le=64)
    storage_transform_timeout_s: float = Field(default=15, gt=0, le=600)
    storage_transform_cache_dir: Path | None = None
    storage_transform_cache_bytes: int = Field(default=1 << 30, ge=0)

    # How long a stopping server waits for open requests and websockets before closing them.
    shutdown_grace_s: int = Field(default=10, ge=1, le=600)

    # Demo data loaded by `gardenos up` on first start.
    demo: bool = True
    demo_leads: int = Field(default=5000, ge=0)
    demo_clients: int = Field(default=500, ge=0)

    # Cluster mode (`gardenos cluster …`): etcd, Patroni-managed PostgreSQL nodes and HAProxy on loopback.
    # `cluster` makes `gardenos up` use the cluster's read-write port instead of the embedded server.
    cluster: bool = False
    cluster_dir: Path | None = Field(default=None, description="default: <data_dir>/cluster")
    cluster_nodes: int = Field(default=3, ge=1, le=9, description="fixed when the cluster is created")
    cluster_rw_port: int = Field(default=5000, ge=0, le=65535, description="HAProxy → leader; 0: any")
    cluster_ro_port: int = Field(default=5001, ge=0, le=65535, description="HAProxy → replicas; 0: any")
    # Strict synchronous mode: no commit is acknowledged before a standby has it (0 loss on one failure),
    # at the price of refusing writes while no standby is there.
    cluster_sync_strict: bool = True
    # How a commit waits for the standbys. `quorum` (PostgreSQL's `ANY 1 (…)`): for the first standby to
    # have it, and on a crash Patroni promotes whichever standby has the most WAL, so the others only follow
    # it. `priority` (`FIRST 1`): for one named standby, the only one allowed to take over; another standby
    # that happened to receive more WAL than it must be rewound and restarted first, and with strict mode
    # writes wait for that (measured: 6-7 s more unavailability in 2 of 29 crash rounds).
    cluster_sync_mode: Literal["quorum", "priority"] = "quorum"
    # Patroni's tightest legal timings: ttl >= 20, loop_wait >= 1, retry_timeout >= 3,
    # loop_wait + 2 * retry_timeout <= ttl.
    cluster_ttl_s: int = Field(default=20, ge=20)
    cluster_loop_wait_s: int = Field(default=2, ge=1)
    cluster_retry_timeout_s: int = Field(default=4, ge=3)
    # Base backups and the WAL archive (default: <cluster dir>/backups); encrypted when a key is set.
    backup_dir: Path | None = None
    backup_encryption_key: SecretStr | None = Field(default=None, min_length=32)
    # S3-compatible storage (AWS S3, MinIO, Ceph RGW, Garage, …) for base backups and the WAL archive,
    # used instead of the backup folder when a bucket is set. Objects go under `<prefix>/base/` and
    # `<prefix>/wal/`. Keys unset: boto3's usual sources (AWS_* variables, an instance role).
    backup_s3_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    backup_s3_prefix: str = "gardenos"
    backup_s3_endpoint: str | None = Field(default=None, description="e.g. http://127.0.0.1:9000; unset: AWS")
    backup_s3_region: str = "us-east-1"
    backup_s3_access_key_id: str | None = None
    backup_s3_secret_access_key: SecretStr | None = None
    # Scheduled base backups in cluster mode (`cluster up` starts the schedule, see backup/schedule.py):
    # how long after the newest base backup the next one is taken ('24h', '6h', '90m', '1d12h'; 'off').
    # Daily by default: a restore replays the WAL since its base backup, so the interval bounds that work.
    backup_schedule: str = "24h"
    # Retention (backup/retention.py), applied after each scheduled backup and by `gardenos backup
    # prune`: a base backup is removed only when it is not the newest, at least KEEP_COUNT backups are
    # newer than it, and a newer backup is itself older than KEEP_DAYS days (so restores still reach that
    # far back). The WAL archive is pruned to what the kept backups need.
    backup_keep_count: int = Field(default=7, ge=1)
    backup_keep_days: float = Field(default=7.0, ge=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"GARDENOS_TRUSTED_PROXIES: {entry!r} is not an IP address or a network "
                    "(10.0.0.5, 10.42.0.0/16, ::1); name each proxy, not `*`"
                ) from None
        return value

    @field_validator("backup_schedule")
    @classmethod
    def _schedule_is_an_interval(cls, value: str) -> str:
        parse_interval(value)
        return value.strip().lower()

    @model_validator(mode="after")
    def _cluster_timings_are_legal(self) -> Settings:
        if self.cluster_loop_wait_s + 2 * self.cluster_retry_timeout_s > self.cluster_ttl_s:
            raise ValueError(
                "GARDENOS_CLUSTER_LOOP_WAIT_S + 2 * GARDENOS_CLUSTER_RETRY_TIMEOUT_S must not exceed "
                "GARDENOS_CLUSTER_TTL_S (Patroni would refuse or silently change them)"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_real_urls_and_secrets(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        for name in ("site_url", "api_external_url"):
            value = getattr(self, name)
            if value is not None and urlsplit(value).hostname in ("localhost", "127.0.0.1", "::1", None):
                problems.append(
                    f"GARDENOS_{name.upper()} is {value!r}: mailed links would point at localhost"
                )
        if self.jwt_secret is None and self.jwt_algorithm == "HS256":
            problems.append("GARDENOS_JWT_SECRET is not set: set it from your secret store")
        elif self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            problems.append("GARDENOS_JWT_SECRET is shorter than 32 characters")
        if problems:
            raise ValueError("in production, " + "; ".join(problems))
        return self

    @property
    def ai_workers_enabled(self) -> bool:
        return self.ai_workers if self.ai_workers is not None else self.env != "test"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def external_url(self) -> str:
        return self.api_external_url or self.site_url

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def web_path(self) -> Path:
        """The built web app: `web_dir`, else the repository's web/dist (this is src/gardenos/settings.py)."""
        return (self.web_dir or Path(__file__).resolve().parents[2] / "web" / "dist").expanduser()

    @property
    def backup_schedule_s(self) -> float | None:
        """Seconds between scheduled base backups; None when the schedule is off."""
        return parse_interval(self.backup_schedule)


_INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_interval(text: str) -> float | None:
    """'24h', '90m', '1d12h', '30s' as seconds; 'off' (or '0') as None. Raises ValueError with the
    forms it takes."""
    compact = text.strip().lower().replace(" ", "")
    if compact in ("off", "0", "none", "false"):
        return None
    parts = _INTERVAL.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(
            f"{text!r} is not an interval: write it as '24h', '6h', '90m', '1d12h' or '30s', or 'off'"
        )
    seconds = sum(float(number) * _INTERVAL_UNITS[unit] for number, unit in parts)
    if seconds < 1:
        raise ValueError(f"{text!r} is shorter than a second: write 'off' to turn the schedule off")
    return seconds


@lru_cache
def get_settings() -> Settings:
    return Settings()
