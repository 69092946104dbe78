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
    problem = manifest_problem(manifest)
    if problem:
        raise BenchError(f"{path} is malformed ({problem}); re-run `bench export {Path(model_dir).name}`")
    return manifest


# The manifest fields readers use, and the JSON types `bench export` writes them as (absent is allowed).
_TOP = {"model": (str,), "source": (str,), "formats": (dict,), "weights": (dict,),
        "model_kwargs": (dict, type(None)), "schema_version": (int,)}
_ENTRY = {"ok": (bool,), "reason": (str,), "file": (str,), "sha256": (str, type(None))}


def manifest_problem(manifest: dict) -> str:
    """What makes a parsed manifest unusable ("" when nothing): a field of the wrong JSON type."""
    for key, types in _TOP.items():
        if key in manifest and not isinstance(manifest[key], types):
            return f"{key} is {_json_type(manifest[key])}, not {_json_type(types[0]())}"
    entries = {"weights": manifest.get("weights") or {},
               **{f"formats.{name}": entry for name, entry in manifest["formats"].items()}}
    for where, entry in entries.items():
        if not isinstance(entry, dict):
            return f"{where} is {_json_type(entry)}, not an object"
        for key, types in _ENTRY.items():
            if key in entry and not isinstance(entry[key], types):
                return f"{where}.{key} is {_json_type(entry[key])}, not {_json_type(types[0]())}"
        name = entry.get("file")
        if isinstance(name, str) and (Path(name).name != name or "\x00" in name):
            return f"{where}.file is {name!r}, not a file name inside the export folder"
    if not all(isinstance(k, str) for k in manifest.get("model_kwargs") or {}):
        return "model_kwargs has keys that are not names"
    return ""


def _json_type(value: object) -> str:
    """The JSON name of a value's type: object, array, string, number, true/false, null."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
