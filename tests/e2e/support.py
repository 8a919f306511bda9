"""What the web app's end-to-end tests share: where the app and its scripts are, and running one of
web/e2e's playwright-core scripts against a `gardenos up`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.live import UpProcess

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
# Screenshots stay after the run (gitignored), for a person to look at.
ARTEFACTS = ROOT / "test-artefacts" / "e2e"


def run_script(node: str, up: UpProcess, script: str, *args: str, timeout: float = 180) -> dict[str, Any]:
    """Run web/e2e/`script` with the server's URL first; its last line of output is its JSON outcome."""
    result = subprocess.run(
        [node, str(WEB / "e2e" / script), up.url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{up.output()}"
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome
