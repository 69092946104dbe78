"""Where an export lives on disk: one folder per model, fixed file names, and its manifest."""

from __future__ import annotations

import json
from pathlib import Path

from train.errors import BenchError

SCHEMA_VERSION = 1
WEIGHTS_FILE = "weights.pt"
MANIFEST_FILE = "manifest.json"
ARTIFACT_FILES = {"torchscript": "model.ts", "onnx": "model.onnx"}  # format -> file name
REJECTED_SUFFIX = ".rejected"  # a written artifact that failed its checks: kept to inspect, never loaded


def artifact_dir(out_dir: Path, model: str) -> Path:
    """`<out_dir>/<model>`: the folder holding one model's weights, artifacts and manifest."""
    return Path(out_dir) / model


def load_manifest(model_dir: Path) -> dict:
    """The parsed manifest.json of `model_dir`; BenchError if it is missing or corrupt."""
    path = Path(model_dir) / MANIFEST_FILE
    if not path.is_file():
        raise BenchError(
            f"no {MANIFEST_FILE} in {model_dir}; run `bench export {Path(model_dir).name}` first"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path} is corrupt ({exc}); re-run `bench export {Path(model_dir).name}`") from exc
    if not isinstance(manifest, dict) or "model" not in manifest or "formats" not in manifest:
        raise BenchError(f"{path} is not an export manifest; re-run `bench export {Path(model_dir).name}`")
    return manifest


def check_produced_here(model_dir: Path, fmt: str) -> Path:
    """The artifact of `fmt` in `model_dir`, if its sha256 is the one `bench export` recorded in the manifest.

    A TorchScript archive is code: loading one runs it. Only a file this tool wrote (matched by checksum)
    loads without the user's explicit `--trust`; anything else is a BenchError saying so.
    """
    from export.util import sha256_file

    path = Path(model_dir) / ARTIFACT_FILES[fmt]
    hint = f"re-run `bench export {Path(model_dir).name}`, or pass --trust to load it anyway"
    try:
        manifest = load_manifest(model_dir)
    except BenchError:
        raise BenchError(f"refusing to load {path}: no valid {MANIFEST_FILE} from `bench export` vouches "
                         f"for it; {hint}") from None
    expected = (manifest.get("formats", {}).get(fmt) or {}).get("sha256")
    if not isinstance(expected, str) or not path.is_file() or sha256_file(path) != expected:
        raise BenchError(f"refusing to load {path}: its sha256 does not match the one `bench export` "
                         f"recorded in {MANIFEST_FILE}; {hint}")
    return path
