"""Helpers shared by tests: the session database's handles and settings for a private GardenOS."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gardenos.db.target import DatabaseTarget
from gardenos.embedded.postgres import EmbeddedPostgres
from gardenos.settings import Settings


@dataclass(frozen=True)
class SessionDatabase:
    settings: Settings
    target: DatabaseTarget

    @property
    def pg(self) -> EmbeddedPostgres:
        assert self.target.embedded is not None
        return self.target.embedded

    @property
    def owner_url(self) -> str:
        return self.target.owner_url

    @property
    def api_url(self) -> str:
        return self.target.api_url

    def env(self) -> dict[str, str]:
        """Environment for a `gardenos` subprocess that should use this database."""
        return {
            **os.environ,
            "GARDENOS_DATA_DIR": str(self.settings.data_dir),
            "GARDENOS_RUNTIME_DIR": str(self.settings.runtime_dir),
        }


def make_settings(base: Path, **overrides: object) -> Settings:
    """Settings for a private GardenOS under `base`. As root, the database may be relocated to the
    runtime folder, which must be reachable by the service user: pytest's own tmp folders are 0700."""
    runtime = Path(tempfile.mkdtemp(prefix="gardenos-test-rt-"))
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=base / "data",
        runtime_dir=runtime,
        pg_port=0,
        **overrides,  # type: ignore[arg-type]
    )


def remove_runtime(settings: Settings) -> None:
    shutil.rmtree(settings.runtime_dir, ignore_errors=True)
