"""Options shared by several commands, defined once, and the helpers the training commands share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from bench.report.render import FORMATS
from train.config import TrainConfig, configs_for, parse_sets
from train.data.paths import DATA_DIR_ENV, default_data_dir
from train.processes import environment_variable
from train.registry import get_model
from train.runner import RunOptions

DATA_DIR = typer.Option(
    None, "--data-dir", help=f"Dataset directory (default ${DATA_DIR_ENV} or ~/.cache/bench/data).")
RESULTS_DIR = typer.Option(Path("results"), "--results-dir", help="Where results are read and written.")
DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda (cuda without a GPU: error).")
SETS = typer.Option(None, "--set", help="Override a config key, e.g. --set weight_decay=1e-4 (repeatable).")
DOWNLOAD = typer.Option(True, "--download/--no-download", help="Download missing datasets.")
FORMAT = typer.Option("rich", "--format", help=f"The table on stdout as one of: {', '.join(FORMATS)}.")
THREADS = typer.Option(None, "--threads", help="CPU threads for every runtime (default: usable cores).")
MODELS = typer.Option("", "--models", help="Comma-separated models, or all (default: the eight reference "
                                            "models; esc50-wave when named).")
WIDE = typer.Option(False, "--wide",
                    help="Every column of the latency table (rounds, p99, throughput, roofline, stability, "
                         "memory split, size); the default view reads at 80 columns. Every --format alike.")
WIDE_HINT = "drop --wide for the compact view, or --format markdown"
COMPACT_HINT = "a wider terminal, or --format markdown, shows it whole"


def model_config(model: str, sets: list[str] | None, **overrides) -> TrainConfig:
    """The packaged config of `model` (its dataset's YAML) with `--set` and the given overrides."""
    values = parse_sets(sets or [])
    values.update({k: v for k, v in overrides.items() if v is not None})
    (cfg,) = configs_for(get_model(model).dataset, [model], values)
    return cfg


def options(data_dir: Path | None, results_dir: Path, device: str, download: bool, **kwargs) -> RunOptions:
    """RunOptions with the default data directory filled in."""
    return RunOptions(data_dir=data_dir or default_data_dir(), results_dir=results_dir, device=device,
                      download=download, **kwargs)


@contextmanager
def data_dir_env(data_dir: Path | None) -> Iterator[None]:
    """While a command runs, `--data-dir` is its (and its children's) $BENCH_DATA_DIR, where the exports'
    int8 calibration and parity images and the suites' real inputs are looked for; put back afterwards,
    so a command run in-process (tests, notebooks) leaves the caller's environment as it was."""
    if data_dir is None:
        yield
        return
    with environment_variable(DATA_DIR_ENV, str(Path(data_dir).expanduser().resolve())):
        yield


def save_result(target: Path, result: dict, cfg: TrainConfig) -> Path:
    """A check's result (sanity, baselines) as JSON beside the training records, with the config it ran
    with and when: what `bench reproduce` finds on file, instead of only a printed table."""
    from datetime import datetime

    from train.fileio import ensure_output_dir, write_json

    ensure_output_dir(target.parent)
    return write_json(target, {"model": cfg.model, "dataset": cfg.dataset,
                               "created": datetime.now().isoformat(timespec="seconds"),
                               "config": cfg.to_dict(), **result})

