"""The one user-facing error type, shared by every layer."""


class BenchError(Exception):
    """A problem with the user's input or environment; the CLI prints it on one line, exit 2."""

    exit_code = 2
