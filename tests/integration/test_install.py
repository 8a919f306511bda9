"""The install contract: uv.lock agrees with pyproject.toml, and the runtime dependencies alone (what
`make up` installs) import every module of GardenOS and run its command.

Both run uv offline, from the cache that `make test`'s own install filled: no test reaches a registry."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, gardenos
modules = pkgutil.walk_packages(gardenos.__path__, "gardenos.")
names = [m.name for m in modules if m.name != "gardenos.__main__"]  # __main__ would run the command
for name in names:
    importlib.import_module(name)
print(len(names))
"""


@pytest.fixture(scope="module")
def uv() -> str:
    found = os.environ.get("UV") or (ROOT / ".uv/bin/uv").as_posix()
    if not Path(found).exists():
        found = shutil.which("uv") or ""
    assert found, "uv is not installed: `make test` installs it into .uv/ (requirements/uv.txt)"
    return found


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_lock_file_agrees_with_pyproject(uv: str) -> None:
    result = _run([uv, "lock", "--check", "--offline"])
    assert result.returncode == 0, (
        f"uv.lock is out of date with pyproject.toml: run `make lock`\n{result.stderr}"
    )


def test_runtime_dependencies_alone_import_every_module(uv: str, tmp_path: Path) -> None:
    venv = tmp_path / "runtime-venv"
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "copy",
    }
    env.pop("VIRTUAL_ENV", None)
    synced = _run([uv, "sync", "--locked", "--offline", "--no-dev", "--quiet"], env)
    assert synced.returncode == 0, synced.stderr
    installed = _run([uv, "pip", "list", "--python", str(venv / "bin/python"), "--format", "freeze"])
    assert "pytest==" not in installed.stdout, "the runtime venv must not hold the dev tools"

    imported = _run([str(venv / "bin/python"), "-c", IMPORT_EVERY_MODULE])
    assert imported.returncode == 0, imported.stderr
    assert int(imported.stdout.strip()) > 100

    for command in (
        [str(venv / "bin/gardenos"), "--help"],
        [str(venv / "bin/python"), "-m", "gardenos", "--help"],
    ):
        helped = _run(command)
        assert helped.returncode == 0, helped.stderr
        assert "up" in helped.stdout
