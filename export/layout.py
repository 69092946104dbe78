"""Where an export lives on disk: one folder per model, its weights and manifest (artifacts: formats/)."""

from __future__ import annotations

import json
from pathlib import Path

from train.errors import BenchError

SCHEMA_VERSION = 1
WEIGHTS_FILE = "weights.pt"
MANIFEST_FILE = "manifest.json"
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
