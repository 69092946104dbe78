"""The two Rich consoles: tables to stdout, errors and progress to stderr."""

from rich.console import Console

out = Console()
err = Console(stderr=True)
