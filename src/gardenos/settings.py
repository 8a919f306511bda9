"""One settings object for the whole service, read from `GARDENOS_*` variables and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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

    # Demo data loaded by `gardenos up` on first start.
    demo: bool = True
    demo_leads: int = Field(default=5000, ge=0)
    demo_clients: int = Field(default=500, ge=0)

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()
