"""The one user-facing error type, shared by every layer."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """A problem with the user's input or environment; the CLI prints it on one line, exit 2."""

    exit_code = 2


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean onnxruntime?)' for the closest of `choices` to a mistyped `name`, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
