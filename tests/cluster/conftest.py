"""One real cluster for the whole package: etcd, three Patroni nodes and HAProxy on loopback, under a
temporary folder (as root, relocated into a runtime folder the service user can reach). The runtime
folder is kept between sessions (`<tmp>/gardenos-cluster-tests`): it caches the service user's Python
built for Patroni, as a server's runtime folder does; each session's cluster folder in it is removed.
Encrypted backups are on, so archiving and restores go through the encryption. The last test module
(`test_down.py`) brings the cluster down and checks nothing is left.

`gardenos(cluster, …)` runs a CLI command in this process (typer's runner) with the cluster's
settings, as a shell would with the same GARDENOS_* variables.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from gardenos.cli import console as cli_console
from gardenos.cli.main import app
from gardenos.cluster.cluster import Cluster
from gardenos.errors import GardenError
from gardenos.settings import Settings, get_settings
from tests.support import S3_BUCKET, S3_KEY_ID, S3_SECRET

BACKUP_KEY = "cluster-tests-backup-key-0123456789abcdef"
RUNTIME = Path(tempfile.gettempdir()) / "gardenos-cluster-tests"


def cluster_settings(base: Path) -> Settings:
    RUNTIME.mkdir(exist_ok=True)
    RUNTIME.chmod(0o711)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=base / "data",
        runtime_dir=RUNTIME,
        cluster_rw_port=0,
        cluster_ro_port=0,
        backup_encryption_key=BACKUP_KEY,  # type: ignore[arg-type]
        # No scheduled base backups beside the tests' own (test_backup_retention.py turns it on).
        backup_schedule="off",
        # Requests that find no database answer 503 sooner.
        pool_timeout_s=2.0,
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`test_down.py` brings the package's cluster down and checks nothing is left: it runs after every
    other test, whatever the other files are named (tests/conftest.py's scheduler keeps this order when
    the suite runs on xdist workers)."""
    down = [item for item in items if item.path == Path(__file__).parent / "test_down.py"]
    if down:
        items[:] = [item for item in items if item not in down] + down


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(cluster_settings(tmp_path_factory.mktemp("cluster")))
    try:
        running.up(3)
        yield running
    finally:
        running.down()
        running.remove()


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def gardenos(cluster: Cluster, *args: str, settings: Settings | None = None) -> CliResult:
    """`gardenos ARGS` with the cluster's settings (as GARDENOS_* variables), in this process."""
    chosen = settings or cluster.settings
    env = {
        "GARDENOS_DATA_DIR": str(chosen.data_dir),
        "GARDENOS_RUNTIME_DIR": str(chosen.runtime_dir),
        "GARDENOS_ENV": chosen.env,
        "GARDENOS_BACKUP_ENCRYPTION_KEY": chosen.backup_encryption_key.get_secret_value()
        if chosen.backup_encryption_key
        else None,
    }
    for name in Settings.model_fields:
        if name.startswith("backup_") and (value := getattr(chosen, name)) is not None:
            secret = getattr(value, "get_secret_value", None)
            env[f"GARDENOS_{name.upper()}"] = secret() if secret else str(value)
    widths = (cli_console.console.width, cli_console.err_console.width)
    cli_console.console.width = cli_console.err_console.width = 200
    get_settings.cache_clear()
    try:
        # The runner sets these variables for the call and restores the environment afterwards.
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)
    finally:
        get_settings.cache_clear()
        cli_console.console.width, cli_console.err_console.width = widths
    stderr = result.stderr
    code = result.exit_code
    if isinstance(result.exception, GardenError):
        # What `gardenos` (cli.main.main) prints for these, and its exit status.
        stderr += f"error: {result.exception.message}\n"
        code = 1
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(code, result.stdout, stderr)


def with_s3(settings: Settings, endpoint: str, prefix: str) -> Settings:
    return settings.model_copy(
        update={
            "backup_s3_bucket": S3_BUCKET,
            "backup_s3_prefix": prefix,
            "backup_s3_endpoint": endpoint,
            "backup_s3_access_key_id": S3_KEY_ID,
            "backup_s3_secret_access_key": SecretStr(S3_SECRET),
        }
    )
