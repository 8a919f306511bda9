"""Every command answers `--help`; and the CLI starts without the heavy libraries: `gardenos --help`,
every command's `--help` and the cheap commands never import the LLM client, the embedding runtime, the
demo-data generator or the web stack. The commands that need them import them when they run (each took
from 0.4 to 1.5 s to import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from gardenos.cli.main import app

HEAVY = ("openai", "onnxruntime", "numpy", "faker", "fastapi", "starlette", "uvicorn")

# Runs `gardenos ARGS` through the real entry point for each ARGS in turn, in one process, and prints
# which of HEAVY each left imported (an import stays: the first command that loads one is the culprit).
RUN_AND_LIST = """
import json, sys
from gardenos.cli.main import main
heavy, found = json.loads(sys.argv[1]), {}
for args in json.loads(sys.argv[2]):
    sys.argv = ["gardenos", *args]
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)
    found[" ".join(args)] = sorted(name for name in heavy if name in sys.modules)
print(json.dumps(found), file=sys.stderr)
"""


def _commands(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*path, name))
        if isinstance(command, TyperGroup):
            found += _commands(command, (*path, name))
    return found


def _loaded(tmp_path: Path, *commands: list[str]) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, json.dumps(HEAVY), json.dumps(commands)],
        env={**os.environ, "GARDENOS_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, list[str]] = json.loads(result.stderr.strip().splitlines()[-1])
    return loaded


def _every_help() -> list[list[str]]:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    every = [[*command, "--help"] for command in _commands(root)]
    assert len(every) > 20, every
    return every


def test_help_everywhere() -> None:
    """In this process (typer's runner): the subprocess below goes through the real entry point."""
    for args in [["--help"], *_every_help()]:
        result = CliRunner().invoke(app, args, env={"COLUMNS": "120"})
        assert result.exit_code == 0, (args, result.output)
        assert "Usage" in result.output, (args, result.output)


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    every = _every_help()
    loaded = _loaded(tmp_path, ["--help"], *every)
    assert loaded == {" ".join(args): [] for args in [["--help"], *every]}


def test_cheap_commands_import_no_heavy_library(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, ["--version"], ["keys", "--anon"])
    assert loaded == {"--version": [], "keys --anon": []}
