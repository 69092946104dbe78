"""`bench sanity <model>`: initial loss vs ln(classes) and overfitting a tiny training subset."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import (
    DATA_DIR,
    DEVICE,
    DOWNLOAD,
    FORMAT,
    RESULTS_DIR,
    SETS,
    model_config,
    options,
    save_result,
)
from bench.report.console import err, print_tables
from bench.report.render import check_format
from bench.report.tables import sanity_table
from train.sanity import run_sanity


def sanity(
    model: str = typer.Argument(..., help="A registered model, e.g. esc50-cnn."),
    samples: int = typer.Option(32, "--samples", help="Training samples to overfit (report 001: 32)."),
    epochs: int = typer.Option(200, "--epochs", help="Overfit epochs (report 001: 200)."),
    lr: float = typer.Option(1e-3, "--lr", help="Overfit learning rate (report 001: 1e-3)."),
    weight_decay: float = typer.Option(1e-4, "--weight-decay", help="Overfit weight decay (report: 1e-4)."),
    sets: list[str] = SETS,
    data_dir: Path = DATA_DIR,
    results_dir: Path = RESULTS_DIR,
    device: str = DEVICE,
    download: bool = DOWNLOAD,
    fmt: str = FORMAT,
) -> None:
    """Check the pipeline learns: initial loss ≈ ln(C), non-zero gradients, a tiny subset overfits."""
    check_format(fmt)
    cfg = model_config(model, sets)
    run = options(data_dir, results_dir, device, download)
    report = run_sanity(cfg, run, samples, epochs, lr, weight_decay)
    print_tables([sanity_table(report)], fmt)
    saved = save_result(results_dir / "sanity" / f"{cfg.model}.json", report, cfg)
    err.print(f"wrote {saved}", markup=False, highlight=False)
