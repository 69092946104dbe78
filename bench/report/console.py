"""The two Rich consoles (tables to stdout, errors and progress to stderr) and printing tables in a format."""

import os
import sys

from rich.console import Console


def _width() -> int | None:
    """None (the terminal's width, or $COLUMNS) on a TTY or with COLUMNS set; 320 columns when piped, so
    that logs keep a wide table's lines whole."""
    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return None
    return 320


out = Console(width=_width())
err = Console(stderr=True, width=_width())


def print_tables(tables, fmt: str, hint: str = "", console: Console | None = None) -> None:
    """Print bench.report.tabular tables on stdout as `fmt`: rich, markdown, csv or json. Rich tables are
    laid out for the terminal's width at the time of printing and never cropped: a table that cannot fit
    runs past the edge with a note (`hint`: the narrower view or format to suggest)."""
    from bench.report.render import render_text, to_rich

    if fmt == "rich":
        if console is None:
            console = out
            console.width = _width()  # read $COLUMNS and the terminal now, not when this module was imported
        for table in tables:
            console.print(to_rich(table, console.width, hint), crop=False)
    else:
        text = render_text(list(tables), fmt)
        # End on a newline: a line bench writes on stderr next must not join the table's last line.
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
