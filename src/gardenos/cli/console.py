"""Shared console output for the CLI: results on stdout (`console`), progress, spinners and notes for
the person on stderr (`err_console`), so that `gardenos … > file` or `| tee log` keeps only results.

A file or a pipe has no width. Rich would still wrap and cut what goes there at $COLUMNS (or the width
of whichever terminal it finds on stdin/stderr, else 80): a JWT broken across lines, an import id
split over three, a table cell cut with "…". Written anywhere but a terminal, a console here is as
wide as its content: lines are never wrapped (soft wrap) and tables take the width their cells need."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console

# The width of a console that writes to a file or a pipe: no line we print comes near it, and rich
# sizes a table (expand=False) by its content, never by this.
UNBOUNDED = 1_000_000


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream is no terminal
        return False


def make_console(*, stderr: bool = False) -> Console:
    # Asked of the stream itself, not rich's `is_terminal`: FORCE_COLOR or TTY_COMPATIBLE put colours
    # into a pipe, but a pipe still has no width.
    if is_terminal(sys.stderr if stderr else sys.stdout):
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=UNBOUNDED)


def stdout_is_terminal() -> bool:
    return is_terminal(sys.stdout)


def print_json(data: Any) -> None:
    """One JSON document on stdout, for scripts (plain print: rich would read `[...]` in it as markup)."""
    print(json.dumps(data, default=_plain))


def _plain(value: object) -> str:
    """Dates as ISO 8601; ids, paths and the like as their text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


console = make_console()
err_console = make_console(stderr=True)
