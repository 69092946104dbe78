"""`bench export`: TorchScript and ONNX artifacts for one model or all, with a parity table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from bench.commands.options import DATA_DIR, FORMAT, data_dir_env
from bench.errors import BenchError
from bench.report.console import err, print_tables
from bench.report.render import check_format
from bench.report.tables import export_table
from bench.run.artifacts import CheckpointError, checkpoint_for
from train.registry import get_model, model_names


def export(
    model: str = typer.Argument(..., help="Model name (see `bench models`) or 'all'."),
    out_dir: Path = typer.Option(
        Path("results/exports"), "--out", help="Folder holding one sub-folder per model."
    ),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        help="Trained checkpoint from `bench train` (default: <out>/../checkpoints/<model>.pt when "
        "`bench train` left one, as `bench run` does, else untrained, seeded weights).",
    ),
    untrained: bool = typer.Option(False, "--untrained", help="Export seeded untrained weights even where a "
                                   "trained checkpoint exists."),
    seed: int = typer.Option(0, "--seed", help="Seed of the untrained weights (ignored with a checkpoint)."),
    formats: str = typer.Option(
        "", "--formats",
        help="Comma-separated export formats, or all (default: torchscript, onnx; aoti compiles each model "
             "with AOTInductor for seconds to minutes, and onnx-int8 quantises, so they are made when "
             "named)."),
    data_dir: Path = DATA_DIR,
    fmt: str = FORMAT,
) -> None:
    """Export to each format, check parity against eager; exit 1 if any export failed. Each model's weights
    are its trained checkpoint when there is one (where `bench run` looks), else seeded untrained ones;
    stderr and the table's notes say which."""
    check_format(fmt)
    with data_dir_env(data_dir):  # --data-dir for this command and its children, put back after
        from export.checkpoint import source_label
        from export.pipeline import (  # torch.onnx and friends load only when exporting
            ExportResult,
            export_model,
        )

        chosen = _formats(formats)
        names = model_names() if model == "all" else [get_model(model).name]
        if checkpoint is not None and len(names) > 1:
            raise BenchError("--checkpoint holds one model's weights: name that model instead of 'all'")
        if checkpoint is not None and untrained:
            raise BenchError("--checkpoint and --untrained contradict each other: pass one")
        checkpoints_dir = Path(out_dir).parent / "checkpoints"  # results/exports beside results/checkpoints
        results, sources = [], {}
        for name in names:
            spec = get_model(name)
            try:
                found = checkpoint
                if found is None and not untrained:
                    found = checkpoint_for(spec, checkpoints_dir)  # a folder in its place: CheckpointError
                sources[name] = source_label(found, seed)
                err.print(f"exporting {name} from {sources[name]} …", markup=False, highlight=False)
                results += export_model(spec, out_dir, checkpoint=found, seed=seed, formats=chosen)
            except CheckpointError as exc:
                if checkpoint is not None:
                    raise  # the checkpoint the user named: exit 2
                # One unusable checkpoint found on disk fails that model's exports, not every model's.
                results += [ExportResult(name, fmt_name, False, None, None, None, None,
                                         str(exc)) for fmt_name in chosen]
        table = export_table(results)
        notes = (*table.notes, *_weights_notes(sources, checkpoints_dir, untrained))
        print_tables([replace(table, notes=notes)], fmt)
        failed = [r for r in results if not r.ok]
        if failed:
            err.print(f"{len(failed)} of {len(results)} exports failed", highlight=False)
            raise typer.Exit(1)


def _formats(text: str) -> tuple[str, ...]:
    """The formats `--formats` names (`all`: every one; empty: the default ones); unknown: BenchError."""
    from bench.run.selection import split_list
    from export.formats import default_format_names, format_names, get_format

    names = split_list(text)
    if not names:
        if text.strip():
            raise BenchError(f"--formats {text!r} names no format; choose from: all, "
                             f"{', '.join(format_names())}")
        return default_format_names()
    chosen = [get_format(name).name for name in names if name != "all"]  # every name checked, `all` or not
    return format_names() if "all" in names else tuple(dict.fromkeys(chosen))


def _weights_notes(sources: dict[str, str], checkpoints_dir: Path, untrained: bool) -> list[str]:
    """Which weights each model was exported from: trained checkpoints by model, untrained ones together."""
    trained = [f"{model}: {source}" for model, source in sources.items() if source.startswith("checkpoint")]
    seeded = [model for model, source in sources.items() if not source.startswith("checkpoint")]
    lines = [f"weights from trained checkpoints: {'; '.join(trained)}"] if trained else []
    if seeded:
        why = "--untrained" if untrained else f"no checkpoint in {checkpoints_dir}; `bench train` writes them"
        label = sources[seeded[0]]
        lines.append(f"weights untrained ({label.removeprefix('untrained, ')}): {', '.join(seeded)} ({why})")
    return lines
