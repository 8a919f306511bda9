"""One settings object for the whole service, read from `GARDENOS_*` variables and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    pool_min_size: int = Field(default=2, ge=0)
    pool_max_size: int = Field(default=20, ge=1)
    # How long a request waits for a database connection before it is told the database is unavailable.
    pool_timeout_s: float = Field(default=5.0, gt=0)

    # Auth (/auth/v1). JWTs are HS256 with the project secret unless an asymmetric algorithm is chosen;
    # its private key is generated into `<data_dir>/jwt-signing-key.pem` unless given here (PEM text).
    jwt_algorithm: Literal["HS256", "ES256", "RS256"] = "HS256"
    jwt_private_key: SecretStr | None = None
    jwt_expiry_s: int = Field(default=3600, ge=30, le=7 * 86400)
    jwt_issuer: str = "gardenos"
    # A refresh token that was just rotated is accepted again for this long (concurrent tabs refreshing).
    refresh_token_reuse_interval_s: int = Field(default=10, ge=0, le=300)
    password_min_length: int = Field(default=8, ge=6, le=72)
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

    # Mail (confirmation, magic link, OTP, recovery, invite); `site_url` is the app its links lead back to.
    # Without an SMTP host, mails go to the database's outbox instead: read them with `gardenos mail list`.
    site_url: str = "http://127.0.0.1:8000"
    # Where this API is reached from outside (verification links point here); defaults to `site_url`.
    api_external_url: str | None = None
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

    # Demo data loaded by `gardenos up` on first start.
    demo: bool = True
    demo_leads: int = Field(default=5000, ge=0)
    demo_clients: int = Field(default=500, ge=0)

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
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def external_url(self) -> str:
        return self.api_external_url or self.site_url

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()
