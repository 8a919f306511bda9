"""The web app's end-to-end tests need node, chromium and the built app."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.support import WEB


@pytest.fixture
def node() -> str:
    """node, once everything a browser test needs is in place (`make test` puts it there)."""
    found = shutil.which("node")
    assert found, "node is not installed: `make test` installs Debian's nodejs"
    assert Path("/usr/bin/chromium").exists(), "chromium is not installed: `make browser-deps` installs it"
    assert (WEB / "dist" / "index.html").is_file(), "the web app is not built: `make web` builds it"
    assert (WEB / "node_modules" / "playwright-core").is_dir(), "`make web-deps` installs playwright-core"
    return found
