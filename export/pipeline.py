"""Export one model to every format, check each artifact against eager, record it all in manifest.json."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from export.cases import export_example, parity_cases, stack_outputs
from export.checkpoint import build_model, export_problem, load_weights, source_label
from export.formats import ExportFormat, default_format_names, format_names, get_format
from export.layout import (
    MANIFEST_FILE,
    REJECTED_SUFFIX,
    SCHEMA_VERSION,
    WEIGHTS_FILE,
    artifact_dir,
    load_manifest,
)
from export.parity import DEFAULT_ATOL, DEFAULT_RTOL, Parity, compare_outputs, quantized_tolerance
from export.reload import FreshReload, verify_artifacts
from export.trust import is_trusted, record_trusted
from export.util import first_line, sha256_file
from train.errors import BenchError
from train.fileio import sweep_stale_temps, torch_save, write_json
from train.registry import ModelSpec

__all__ = [
    "ExportResult",
    "Parity",
    "artifact_dir",
    "export_model",
    "is_export_current",
    "load_manifest",
    "stale_formats",
]


@dataclass(frozen=True)
class ExportResult:
    """One model in one format: written and matching eager (ok), or why not (reason)."""

    model: str
    format: str
    ok: bool
    path: Path | None  # the artifact, None when nothing usable was written
    size_bytes: int | None
    export_time_s: float | None  # seconds to capture, write and check the file (parity excluded)
    parity: Parity | None  # in-process, artifact reloaded from disk, on inputs sized unlike the export's
    reason: str  # "" when ok
    exporter: str = ""  # e.g. "torch.jit.script", "torch.export (dynamo)"


@dataclass(frozen=True)
class _Outcome:
    """One format's export as the pipeline tracks it, before it becomes a result and a manifest entry."""

    ok: bool
    reason: str
    exporter: str = ""
    export_time_s: float | None = None
    parity: Parity | None = None
    details: dict | None = None  # format-specific manifest fields
    fresh: FreshReload | None = None


def export_model(
    spec: ModelSpec,
    out_dir: Path,
    *,
    formats: Sequence[str] | None = None,
    checkpoint: Path | None = None,
    seed: int = 0,
    fresh_process: bool = True,
) -> list[ExportResult]:
    """Write weights.pt, each format's artifact and manifest.json under `artifact_dir(out_dir, spec.name)`
    (`formats`: names from export/formats, default the default ones; others already exported from the
    same weights stay in the manifest).

    A bad checkpoint or an unwritable folder raises BenchError; a format that fails to export, reload
    or match eager is an ExportResult with ok=False and its reason, and the other formats go on.
    `fresh_process` also reloads each artifact in a clean interpreter (about 3 s more per model).
    """
    formats = _check_formats(formats)
    model_dir = artifact_dir(out_dir, spec.name)
    sweep_stale_temps(model_dir)  # half-written artifacts of an export that was killed
    trained, model_kwargs = build_model(spec, checkpoint, seed)
    weights = torch_save(model_dir / WEIGHTS_FILE, trained.state_dict())
    # Export the model rebuilt from weights.pt, as the eager runtime does: all three share these weights.
    model = load_weights(spec, weights, model_kwargs)
    cases, checked_on = parity_cases(spec)
    with torch.inference_mode():
        reference = stack_outputs([model(*case) for case in cases])
    problem = export_problem(model)
    outcomes = {
        fmt.name: _export_format(fmt, spec, model, model_dir, cases, reference, checked_on, problem)
        for fmt in formats
    }
    if fresh_process:
        outcomes = _check_in_fresh_process(spec, model_dir, model_kwargs, outcomes)
    for fmt, outcome in outcomes.items():
        _settle_file(model_dir / get_format(fmt).artifact, outcome.ok)
        if outcome.ok and get_format(fmt).is_code:
            record_trusted(model_dir / get_format(fmt).artifact)  # this user wrote it: it may load (trust.py)
    manifest = _manifest(spec, model_dir, checkpoint, seed, model_kwargs, outcomes, checked_on)
    write_json(model_dir / MANIFEST_FILE, manifest)
    return [_result(spec.name, fmt, outcome, model_dir) for fmt, outcome in outcomes.items()]


def is_export_current(spec: ModelSpec, out_dir: Path, checkpoint: Path | None, seed: int,
                      formats: Sequence[str] | None = None) -> bool:
    """True when the manifest exists with the same source and every one of `formats` (default: the default
    formats) is ok, its file matching its sha256 (see `stale_formats`)."""
    return not stale_formats(spec, out_dir, checkpoint, seed, formats)


def stale_formats(spec: ModelSpec, out_dir: Path, checkpoint: Path | None, seed: int,
                  formats: Sequence[str] | None = None) -> tuple[str, ...]:
    """Which of `formats` (default: the default formats) must be exported again: all of them when the
    weights are missing, changed or from another source; else those absent, failed, altered on disk, or
    code this user's trust store does not know (exported elsewhere, or swapped along with its sha256), or
    made by tools that no longer load it (an AOTInductor package of another torch)."""
    wanted = tuple(fmt.name for fmt in _check_formats(formats))
    model_dir = artifact_dir(out_dir, spec.name)
    try:
        manifest = load_manifest(model_dir)
    except BenchError:
        return wanted
    if manifest.get("schema_version") != SCHEMA_VERSION or manifest.get("model") != spec.name:
        return wanted
    if manifest.get("source") != source_label(checkpoint, seed):
        return wanted
    if checkpoint is not None and not _file_matches(Path(checkpoint), manifest.get("checkpoint_sha256")):
        return wanted
    weights = manifest.get("weights") or {}
    if not _file_matches(model_dir / str(weights.get("file")), weights.get("sha256")):
        return wanted
    stale = []
    for name in wanted:
        entry = manifest["formats"].get(name) or {}
        path = model_dir / get_format(name).artifact
        written = model_dir / str(entry.get("file"))
        current = entry.get("ok") is True and _file_matches(written, entry.get("sha256"))
        fmt = get_format(name)
        if not current or not fmt.is_current(entry) or (fmt.is_code and not is_trusted(path)):
            stale.append(name)
    return tuple(stale)


def untrusted_code(model_dir: Path) -> list[Path]:
    """The code artifacts (TorchScript) in `model_dir` that this user's `bench export` did not write."""
    paths = [Path(model_dir) / fmt.artifact for fmt in map(get_format, format_names()) if fmt.is_code]
    return [path for path in paths if path.is_file() and not is_trusted(path)]


def _check_formats(formats: Sequence[str] | None) -> tuple[ExportFormat, ...]:
    """The named formats (the default ones when None), BenchError on an unknown name or an empty list."""
    if formats is None:
        formats = default_format_names()
    if isinstance(formats, str):
        formats = (formats,)
    if not formats:
        raise BenchError(f"no export format given; choose from: {', '.join(format_names())}")
    return tuple(get_format(name) for name in dict.fromkeys(formats))


def _export_format(
    fmt: ExportFormat,
    spec: ModelSpec,
    model: nn.Module,
    model_dir: Path,
    cases: list,
    reference: torch.Tensor,
    checked_on: str,
    problem: str,
) -> _Outcome:
    """Export `model` to `fmt`, reload the file in this process and compare it with eager on `cases`."""
    if problem:
        return _Outcome(False, f"not exported: {problem}")
    path = model_dir / fmt.artifact
    example, example_label = export_example(spec)
    started = time.perf_counter()
    try:
        saved = fmt.save(model, spec, example, path)
    except BenchError:
        raise  # an unwritable output folder is the user's to fix, for every model alike
    except Exception as exc:  # noqa: BLE001 - recorded as this format's failure; the others go on
        return _Outcome(False, f"export failed: {first_line(exc)}")
    elapsed = time.perf_counter() - started
    exporter, details = saved.exporter, {**saved.details, "export_example": example_label}
    try:
        candidate = stack_outputs(fmt.run(path, spec, cases))
        atol, rtol = quantized_tolerance(reference) if fmt.quantized else (DEFAULT_ATOL, DEFAULT_RTOL)
        parity = compare_outputs(reference, candidate, atol=atol, rtol=rtol, checked_on=checked_on)
    except Exception as exc:  # noqa: BLE001 - as above
        return _Outcome(False, f"reload failed: {first_line(exc)}", exporter, elapsed, None, details)
    reason = "" if parity.passed else _parity_reason(parity)
    return _Outcome(parity.passed, reason, exporter, elapsed, parity, details)


def _parity_reason(parity: Parity) -> str:
    """One line saying how far outside tolerance an export is."""
    return (
        f"parity failed on {parity.checked_on}: max abs {parity.max_abs:.3g}, max rel {parity.max_rel:.3g} "
        f"(atol {parity.atol:g}, rtol {parity.rtol:g}), argmax agreement {parity.argmax_agreement:.1%}"
    )


def _check_in_fresh_process(
    spec: ModelSpec, model_dir: Path, model_kwargs: dict, outcomes: dict[str, _Outcome]
) -> dict[str, _Outcome]:
    """Reload every artifact that passed in a clean interpreter; a failure there fails the format."""
    passed = [fmt for fmt, outcome in outcomes.items() if outcome.ok]
    if not passed:
        return outcomes
    checked = {r.format: r for r in verify_artifacts([(spec, model_dir, model_kwargs)], passed)}
    updated = dict(outcomes)
    for fmt, fresh in checked.items():
        outcome = replace(outcomes[fmt], fresh=fresh)
        if not fresh.ok:
            why = fresh.error or _parity_reason(fresh.parity)
            outcome = replace(outcome, ok=False, reason=f"fresh-process reload: {why}")
        updated[fmt] = outcome
    return updated


def _settle_file(path: Path, ok: bool) -> None:
    """Keep a passing artifact; rename a failing one to *.rejected so no runtime ever loads it."""
    rejected = path.with_name(path.name + REJECTED_SUFFIX)
    if ok:
        rejected.unlink(missing_ok=True)
    elif path.exists():
        os.replace(path, rejected)


def _manifest(
    spec: ModelSpec,
    model_dir: Path,
    checkpoint: Path | None,
    seed: int,
    model_kwargs: dict,
    outcomes: dict[str, _Outcome],
    checked_on: str,
) -> dict:
    """manifest.json: where the weights came from, versions, and each format's file, exporter and parity."""
    weights = model_dir / WEIGHTS_FILE
    weights_entry = {
        "file": WEIGHTS_FILE,
        "size_bytes": weights.stat().st_size,
        "sha256": sha256_file(weights),
    }
    formats = _carried_over(model_dir, weights_entry["sha256"], exclude=outcomes)
    formats.update({fmt: _entry(fmt, outcome, model_dir) for fmt, outcome in outcomes.items()})
    return {
        "schema_version": SCHEMA_VERSION,
        "model": spec.name,
        "source": source_label(checkpoint, seed),
        "checkpoint_sha256": sha256_file(Path(checkpoint)) if checkpoint is not None else None,
        "model_kwargs": model_kwargs,  # builder overrides: spec.build(**model_kwargs) fits weights.pt
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "weights": weights_entry,
        "inputs": [
            {"name": t.name, "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
            for t in spec.inputs
        ],
        "parity_inputs": checked_on,
        "tolerances": {"atol": DEFAULT_ATOL, "rtol": DEFAULT_RTOL},
        "formats": formats,
    }


def _entry(fmt: str, outcome: _Outcome, model_dir: Path) -> dict:
    """One format's manifest entry."""
    path = model_dir / get_format(fmt).artifact
    written = outcome.ok and path.is_file()
    fresh = outcome.fresh
    return {
        "ok": outcome.ok,
        "reason": outcome.reason,
        "file": get_format(fmt).artifact,
        "size_bytes": path.stat().st_size if written else None,
        "sha256": sha256_file(path) if written else None,
        "export_time_s": round(outcome.export_time_s, 4) if outcome.export_time_s is not None else None,
        "exporter": outcome.exporter,
        **(outcome.details or {}),
        "parity": outcome.parity.as_dict() if outcome.parity else None,
        "fresh_process": None
        if fresh is None
        else {
            "ok": fresh.ok,
            "error": fresh.error,
            "parity": fresh.parity.as_dict() if fresh.parity else None,
            "imports": ", ".join(("torch", *get_format(fmt).load_needs)) + " only (python -I)",
        },
    }


def _carried_over(model_dir: Path, weights_sha: str, exclude: dict) -> dict:
    """Entries of formats not exported this time, kept only if made from identical weights, files intact."""
    try:
        previous = load_manifest(model_dir)
    except BenchError:
        previous = {"formats": {}}
    same_weights = (previous.get("weights") or {}).get("sha256") == weights_sha
    kept = {}
    for fmt in format_names():
        if fmt in exclude:
            continue
        entry = previous["formats"].get(fmt)
        path = model_dir / get_format(fmt).artifact
        if same_weights and entry and _file_matches(path, entry.get("sha256")):
            kept[fmt] = entry
        else:
            path.unlink(missing_ok=True)  # stale: made from other weights, so no runtime may load it
    return kept


def _result(model: str, fmt: str, outcome: _Outcome, model_dir: Path) -> ExportResult:
    """The public result for one format."""
    path = model_dir / get_format(fmt).artifact
    written = outcome.ok and path.is_file()
    return ExportResult(
        model=model,
        format=fmt,
        ok=outcome.ok,
        path=path if written else None,
        size_bytes=path.stat().st_size if written else None,
        export_time_s=outcome.export_time_s,
        parity=outcome.parity,
        reason=outcome.reason,
        exporter=outcome.exporter,
    )


def _file_matches(path: Path, sha256: object) -> bool:
    """`path` exists and hashes to `sha256`."""
    return isinstance(sha256, str) and path.is_file() and sha256_file(path) == sha256


def _versions() -> dict[str, str]:
    """Versions of everything an artifact's bytes depend on."""
    import numpy
    import onnx
    import onnxruntime
    import onnxscript
    import torch_geometric

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxscript": onnxscript.__version__,
        "torch_geometric": torch_geometric.__version__,
        "numpy": numpy.__version__,
    }
