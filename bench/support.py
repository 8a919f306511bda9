"""A private embedded PostgreSQL for a benchmark, removed afterwards (or kept in a folder, to be reused)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gardenos.db.target import DatabaseTarget
from gardenos.settings import Settings


@contextmanager
def private_database(keep: Path | None = None, **settings: Any) -> Iterator[DatabaseTarget]:
    """With `keep`, the database lives in that folder and stays there, for the next run to reuse."""
    if keep is not None:
        base, runtime = keep, keep.with_name(keep.name + "-runtime")
        base.mkdir(parents=True, exist_ok=True)
        runtime.mkdir(parents=True, exist_ok=True)
    else:
        base = Path(tempfile.mkdtemp(prefix="gardenos-bench-"))
        runtime = Path(tempfile.mkdtemp(prefix="gardenos-bench-rt-"))
    target = DatabaseTarget(
        Settings(_env_file=None, data_dir=base / "data", runtime_dir=runtime, pg_port=0, **settings)  # type: ignore[call-arg]
    )
    assert target.embedded is not None
    try:
        target.embedded.start()
        target.prepare()
        yield target
    finally:
        target.embedded.stop()
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
            shutil.rmtree(runtime, ignore_errors=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
