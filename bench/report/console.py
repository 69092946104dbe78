"""The two Rich consoles: tables to stdout, errors and progress to stderr."""

import os
import sys

from rich.console import Console


def _width() -> int | None:
    """Terminal width on a TTY; 200 columns when piped, so logged or pasted tables don't wrap."""
    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return None
    return 200


out = Console(width=_width())
err = Console(stderr=True, width=_width())
