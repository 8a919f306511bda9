"""Run one of tests/js's node scripts (the official @supabase/supabase-js, tus-js-client, against a live
API) and read the JSON it prints last: what every JS compatibility test does before asserting on results."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).parent / "js"


def run_js_check(script: str, *args: str, timeout: float = 120) -> dict[str, Any]:
    """`node tests/js/<script> ARGS`: its last line of output, parsed (each script prints one JSON object
    of results, its calls' `{data, error}` by name)."""
    node = shutil.which("node")
    assert node, "node is not installed: `make test` installs Debian's nodejs"
    assert (HARNESS / "node_modules" / ".package-lock.json").is_file(), (
        "tests/js's packages (supabase-js, tus-js-client) are not installed: run `npm ci --prefix tests/js` "
        "(make test does)"
    )
    done = subprocess.run(
        [node, str(HARNESS / script), *args],
        cwd=HARNESS,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
