"""`bench export`: TorchScript and ONNX artifacts for one model or all, with a parity table."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import FORMAT
from bench.errors import BenchError
from bench.report.console import err, print_tables
from bench.report.render import check_format
from bench.report.tables import export_table
from train.registry import get_model, model_names


def export(
    model: str = typer.Argument(..., help="Model name (see `bench models`) or 'all'."),
    out_dir: Path = typer.Option(
        Path("results/exports"), "--out", help="Folder holding one sub-folder per model."
    ),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        help="Trained checkpoint from `bench train` (default: untrained, seeded weights).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the untrained weights (ignored with --checkpoint)."),
    fmt: str = FORMAT,
) -> None:
    """Export to every format, check parity against eager; exit 1 if any export failed."""
    check_format(fmt)
    from export.pipeline import export_model  # torch.onnx and friends load only when exporting

    names = model_names() if model == "all" else [get_model(model).name]
    if checkpoint is not None and len(names) > 1:
        raise BenchError("--checkpoint holds one model's weights: name that model instead of 'all'")
    results = []
    for name in names:
        err.print(f"exporting {name} …", highlight=False)
        results += export_model(get_model(name), out_dir, checkpoint=checkpoint, seed=seed)
    print_tables([export_table(results)], fmt)
    failed = [r for r in results if not r.ok]
    if failed:
        err.print(f"{len(failed)} of {len(results)} exports failed", highlight=False)
        raise typer.Exit(1)
