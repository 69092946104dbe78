"""Exported artifacts a benchmark needs: export what is missing or stale, and say where weights came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from train.checkpoint import CheckpointError, train_command
from train.registry import ModelSpec

__all__ = ["CheckpointError", "ModelArtifacts", "checkpoint_for", "ensure_exported", "read_artifacts"]


@dataclass(frozen=True)
class ModelArtifacts:
    """One model's export directory and, per export format, why it is unusable (absent when usable)."""

    model: str
    model_dir: Path
    weights: str  # the manifest's source: "checkpoint <path>" or "untrained, seed <n>"
    failed: dict[str, str] = field(default_factory=dict)  # export format -> reason
    model_kwargs: dict = field(default_factory=dict)  # the architecture the weights were exported with
    note: str = ""  # what ensure_exported did that the user should hear of (a malformed manifest replaced)
    # export format -> (seconds its export took, exporter), from the manifest: what making it cost
    made: dict[str, tuple[float | None, str]] = field(default_factory=dict)

    def unavailable_reason(self, export_format: str | None) -> str | None:
        """Why the artifact of `export_format` cannot be benchmarked; None when it can (None: weights)."""
        if export_format is None:
            return None
        return self.failed.get(export_format)


def checkpoint_for(spec: ModelSpec, checkpoints_dir: Path) -> Path | None:
    """`<checkpoints_dir>/<model>.pt` (`<weights_of>.pt` for a model that runs another's weights) when
    training left one, else None (seeded untrained weights); a folder or other non-file there is a
    CheckpointError, not a silent fall back to untrained weights."""
    path = Path(checkpoints_dir) / f"{spec.weights_of or spec.name}.pt"
    if path.exists() and not path.is_file():
        raise CheckpointError(path, "is not a file",
                              f"remove it, or retrain with {train_command(spec.name)}")
    return path if path.is_file() else None


def ensure_exported(
    spec: ModelSpec, exports_dir: Path, checkpoints_dir: Path, seed: int = 0, *, reuse: bool = False,
    formats: tuple[str, ...] | None = None,
) -> ModelArtifacts:
    """Export those of `formats` (default: the default formats) that are missing or stale (`reuse`: take
    what is there as it is); formats exported before from the same weights stay.

    A manifest that is not valid JSON or has the wrong shape is stale like any other: the export is redone
    over it (artifacts are derived data, nothing is lost) and the result's `note` says so.
    A checkpoint bench cannot use raises `train.checkpoint.CheckpointError` (a BenchError, exit 2) before
    anything is written: `.path` is the file, `.problem` the reason without the path ("is not a readable
    torch checkpoint (...)", "does not fit model ...", ...), str() the whole line with what to run."""
    from export.pipeline import artifact_dir, export_model, stale_formats, untrusted_code

    checkpoint = checkpoint_for(spec, checkpoints_dir)
    model_dir = artifact_dir(exports_dir, spec.name)
    note = ""
    stale = () if reuse else stale_formats(spec, exports_dir, checkpoint, seed, formats)
    if stale:
        note = _malformed_manifest(model_dir)
        from export.formats import get_format

        replaced = {get_format(fmt).artifact for fmt in stale}
        foreign = [path for path in untrusted_code(model_dir) if path.name in replaced]
        if foreign and not note:  # said, not done silently: someone else's code was in the results folder
            note = (f"re-exported {spec.name}: replaced {', '.join(p.name for p in foreign)}, which your "
                    "`bench export` did not write (not in your trust store)")
        export_model(spec, exports_dir, checkpoint=checkpoint, seed=seed, formats=stale)
    artifacts = read_artifacts(spec, model_dir)
    return replace(artifacts, note=note) if note else artifacts


def _malformed_manifest(model_dir: Path) -> str:
    """'re-exported over <manifest>: <why it was unusable>' when the manifest exists but cannot be read."""
    from export.layout import MANIFEST_FILE, load_manifest
    from train.errors import BenchError

    if not (Path(model_dir) / MANIFEST_FILE).is_file():
        return ""
    try:
        load_manifest(model_dir)
    except BenchError as exc:
        return f"re-exported {Path(model_dir).name}: {str(exc).split('; re-run')[0]}"
    return ""


def read_artifacts(spec: ModelSpec, model_dir: Path) -> ModelArtifacts:
    """What the manifest in `model_dir` says: weight source and each format's failure reason."""
    from export.formats import format_names
    from export.layout import load_manifest

    manifest = load_manifest(model_dir)
    entries = manifest.get("formats") or {}
    failed, made = {}, {}
    for fmt in format_names():
        entry = entries.get(fmt)
        if entry is None:
            failed[fmt] = f"{fmt} not exported (absent from {model_dir}/manifest.json)"
        elif entry.get("ok") is not True:
            failed[fmt] = entry.get("reason") or f"{fmt} export failed"
        else:
            seconds = entry.get("export_time_s")
            made[fmt] = (float(seconds) if isinstance(seconds, (int, float)) else None,
                         str(entry.get("exporter") or fmt))
    return ModelArtifacts(spec.name, Path(model_dir), str(manifest.get("source", "unknown")), failed,
                          dict(manifest.get("model_kwargs") or {}), made=made)
