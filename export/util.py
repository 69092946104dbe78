"""Small helpers shared by the export modules: error text and file hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path


def first_line(exc: BaseException) -> str:
    """'<Type>: <first non-empty line of the message>', for one-line reasons in tables and manifests."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else '(no message)'}"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
