"""The two Rich consoles (tables to stdout, errors and progress to stderr) and printing tables in a format."""

import os
import sys

from rich.console import Console


def _width() -> int | None:
    """Terminal width on a TTY; 320 columns when piped (the run table is ~230 wide): logs do not wrap it."""
    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return None
    return 320


out = Console(width=_width())
err = Console(stderr=True, width=_width())


def print_tables(tables, fmt: str) -> None:
    """Print bench.report.tabular tables on stdout as `fmt`: rich, markdown, csv or json."""
    from bench.report.render import render_text, to_rich

    if fmt == "rich":
        for table in tables:
            out.print(to_rich(table))
    else:
        sys.stdout.write(render_text(list(tables), fmt))
        sys.stdout.flush()
