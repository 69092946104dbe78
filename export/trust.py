"""The user's trust store: SHA-256 digests of the code artifacts (TorchScript) this user exported.

Loading a TorchScript file runs its code, so only a file this user exported loads without `--trust`. The
manifest beside the artifact cannot vouch for it: whoever can replace `model.ts` can rewrite the manifest's
sha256 in the same folder. The store lives outside every results folder, in the user's data directory
(`$BENCH_TRUST_STORE`, else `$XDG_DATA_HOME/bench/trusted-artifacts`, else
`~/.local/share/bench/trusted-artifacts`), one line per artifact: `<sha256> <UTC time> <path when written>`.
Someone who can write there can already run code as this user, so the store adds no new weakness.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from export.util import sha256_file
from train.errors import BenchError

TRUST_STORE_ENV = "BENCH_TRUST_STORE"


def trust_store_path() -> Path:
    """Where this user's trust store is (it may not exist yet)."""
    if os.environ.get(TRUST_STORE_ENV):
        return Path(os.environ[TRUST_STORE_ENV]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "bench" / "trusted-artifacts"


def trusted_digests() -> set[str]:
    """Every digest in the store (empty when there is none yet)."""
    path = trust_store_path()
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except (FileNotFoundError, NotADirectoryError):  # nothing exported yet (or nowhere it could be)
        return set()
    except OSError as exc:
        raise BenchError(f"cannot read the trust store {path}: {exc.strerror or exc}; set "
                         f"${TRUST_STORE_ENV} to a readable file") from None
    return {line.split()[0] for line in lines if line.strip()}


def is_trusted(path: Path) -> bool:
    """Whether the file at `path` is byte for byte one this user's `bench export` wrote."""
    return Path(path).is_file() and sha256_file(path) in trusted_digests()


def record_trusted(path: Path) -> str:
    """Add the digest of the artifact `bench export` just wrote at `path`; the digest."""
    digest = sha256_file(path)
    if digest in trusted_digests():
        return digest
    store = trust_store_path()
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        # One short line in append mode: concurrent exports never interleave within a line.
        with open(store, "a", encoding="utf-8") as fh:
            fh.write(f"{digest} {stamp} {Path(path).resolve()}\n")
    except OSError as exc:
        raise BenchError(f"cannot record {path} in the trust store {store}: {exc.strerror or exc}; set "
                         f"${TRUST_STORE_ENV} to a writable file") from None
    return digest
