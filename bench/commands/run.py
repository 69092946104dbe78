"""`bench run`: benchmark models × runtimes on one device; one table, one pytest-benchmark JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import COMPACT_HINT, FORMAT, MODELS, THREADS, WIDE, WIDE_HINT, data_dir_env
from bench.commands.scale_out import SCALE_OUT, run_in_shards
from bench.errors import BenchError
from bench.measure.contention import CONTENDED_SHARE
from bench.measure.devices import default_threads
from bench.report.console import err, print_tables
from bench.report.progress import RunProgress
from bench.report.render import check_format
from bench.report.tables import first_result_table, front_end_table, run_notes, run_table
from bench.report.tensorboard import log_benchmark
from bench.run.config import RunConfig
from bench.run.launcher import launch_settings
from bench.run.runner import run_benchmarks
from bench.run.selection import parse_runtimes
from bench.runtimes import get_runtime


def run(
    device: str = typer.Option("cpu", "--device", help="cpu or cuda; cuda without a GPU is an error."),
    models: str = MODELS,
    runtimes: str = typer.Option(
        "", "--runtimes",
        help="Comma-separated runtimes, or all (default: eager, torchscript, onnxruntime; aoti and compile "
             "compile each model for seconds to minutes, so they run when named)."),
    compile_mode: str | None = typer.Option(
        None, "--compile-mode",
        help="torch.compile mode of the compile runtime: default or max-autotune (the same as "
             "--runtime-option compile.mode=...)."),
    batch_sizes: str = typer.Option("1,64", "--batch-sizes",
                                    help="Comma-separated batch sizes; graph models run once on full Cora."),
    data_dir: Path = typer.Option(
        None, "--data-dir",
        help="Where the graph rows look for Cora (default $BENCH_DATA_DIR or ~/.cache/bench/data): the "
             "real citation graph when it is there, else a random graph of its size, labelled per row; "
             "also where onnx-int8 finds its calibration images."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir",
                                     help="Exports, checkpoints and benchmarks/ live here."),
    threads: int | None = THREADS,
    warmup: int = typer.Option(10, "--warmup", help="Untimed calls before timing each case."),
    max_time: float = typer.Option(1.0, "--max-time", help="Seconds of timed rounds per case."),
    min_rounds: int = typer.Option(5, "--min-rounds", help="Timed rounds per case at least."),
    memory: bool = typer.Option(True, "--memory/--no-memory",
                                help="Peak memory per row, each in a fresh process (--no-memory skips it)."),
    include_transfer: bool = typer.Option(False, "--include-transfer",
                                          help="Time host→device→host: CPU inputs in, output back."),
    stability_budget: float | None = typer.Option(
        None, "--stability-budget",
        help="Seconds per case to warm up until stable, and again for extra rounds when IQR/median > 0.10 "
             "(default: --max-time)."),
    fmt: str = FORMAT,
    wide: bool = WIDE,
    trust: bool = typer.Option(False, "--trust",
                               help="Load TorchScript files even if their sha256 is not the one "
                                    "`bench export` recorded (TorchScript is code: only files you trust)."),
    precision: str = typer.Option("fp32", "--precision",
                                  help="fp32 (TF32 off for every runtime) or tf32 (on for every runtime); "
                                       "the parity tolerance follows."),
    cudnn_benchmark: bool = typer.Option(False, "--cudnn-benchmark/--no-cudnn-benchmark",
                                         help="cuDNN algorithm autotuning for every runtime (CUDA)."),
    runtime_option: list[str] = typer.Option(
        None, "--runtime-option",
        help="A runtime's own setting, e.g. onnxruntime.intra_op_spinning=false or "
             "onnxruntime.graph_optimization=basic (repeatable; recorded per row)."),
    ort_option: list[str] = typer.Option(
        None, "--ort-option",
        help="Any ONNX Runtime setting as key=value: a SessionOptions attribute (enable_mem_pattern=false), "
             "a session config entry (session.set_denormal_as_zero=1) or provider.<key> for the execution "
             "provider; the same as --runtime-option onnxruntime.key=value (repeatable; read back from the "
             "session and recorded per row)."),
    verify_timing: bool = typer.Option(
        False, "--verify-timing",
        help="Re-time each CPU row right after with torch.utils.benchmark.Timer (ONNX Runtime through a raw "
             "session): a second opinion on the harness, recorded per row."),
    allocator: str = typer.Option(
        None, "--allocator",
        help="Host memory of the timing process: retain (default on glibc: freed memory kept, as jemalloc "
             "or tcmalloc would; no page faults per call) or system (the C library's defaults: large "
             "blocks faulted in again every call). Every row records its page faults per call."),
    paired: bool = typer.Option(True, "--paired/--no-paired",
                                help="Also time each model × batch's runtimes in interleaved rounds: "
                                     "paired speedups with a 95 % confidence interval."),
    tensorboard: bool = typer.Option(False, "--tensorboard",
                                     help="Also log the rows to <results>/runs/bench/<time> (TensorBoard)."),
    launcher: str = typer.Option(
        None, "--launcher", rich_help_panel=SCALE_OUT,
        help="Shard the matrix into jobs through submitit, one model per job: local (subprocesses here, one "
             "after another) or slurm (sbatch); a rerun submits only the shards without a result."),
    launcher_profile: Path = typer.Option(None, "--launcher-profile", rich_help_panel=SCALE_OUT,
                                          help="YAML of launcher settings (partition, gpus, cpus_per_task, "
                                               "time_limit_min, account, setup, …); options override it."),
    partition: str = typer.Option(None, "--partition", rich_help_panel=SCALE_OUT, help="Slurm partition."),
    gpus: int = typer.Option(None, "--gpus", rich_help_panel=SCALE_OUT, help="GPUs per Slurm job."),
    cpus_per_task: int = typer.Option(None, "--cpus-per-task", rich_help_panel=SCALE_OUT,
                                      help="CPUs per Slurm job (default: --threads)."),
    time_limit: int = typer.Option(None, "--time-limit", rich_help_panel=SCALE_OUT,
                                   help="Minutes per job (default 60); past it the job is killed, its shard "
                                        "failed, and a rerun submits it again."),
    account: str = typer.Option(None, "--account", rich_help_panel=SCALE_OUT, help="Slurm account."),
    max_parallel: int = typer.Option(None, "--max-parallel", rich_help_panel=SCALE_OUT,
                                     help="Jobs at once (local default 1: shards on one machine time each "
                                          "other; Slurm default: all; --detach submits all)."),
    models_per_shard: int = typer.Option(None, "--models-per-shard", rich_help_panel=SCALE_OUT,
                                         help="Models per job (default 1)."),
    detach: bool = typer.Option(False, "--detach", rich_help_panel=SCALE_OUT,
                                help="Slurm: submit and return; rerun the same command to collect."),
) -> None:
    """Time every model × runtime × batch size; save results/benchmarks/<UTC time>_<device>.json."""
    if compile_mode is not None and "compile" not in parse_runtimes(runtimes):
        raise BenchError("--compile-mode sets the compile runtime's mode, which this run does not include; "
                         "add compile to --runtimes")
    check_format(fmt)
    scale_out = {"partition": partition, "gpus": gpus, "cpus_per_task": cpus_per_task,
                 "time_limit_min": time_limit, "account": account, "max_parallel": max_parallel,
                 "models_per_shard": models_per_shard, "detach": detach or None}
    settings = None
    if launcher is None and launcher_profile is None:
        given = [name for name, value in scale_out.items() if value is not None]
        if given:
            raise BenchError(f"{', '.join(given)} set(s) how shards are launched; add --launcher local or "
                             "--launcher slurm")
    else:
        settings = launch_settings(launcher_profile, launcher=launcher, **scale_out)
    if threads is None:  # a Slurm job's runtimes use the CPUs it asks for, not the login node's count
        threads = settings.cpus_per_task if settings and settings.cpus_per_task else default_threads()
    config = RunConfig.from_text(
        device=device, models=models, runtimes=runtimes, batch_sizes=batch_sizes, results_dir=results_dir,
        memory=memory, include_transfer=include_transfer, stability_budget_s=stability_budget,
        threads=threads, warmup=warmup, max_time_s=max_time,
        min_rounds=min_rounds, trust=trust, precision=precision, cudnn_benchmark=cudnn_benchmark,
        paired=paired, runtime_options=[*(runtime_option or []), *_compile_mode_option(compile_mode),
                                        *(f"onnxruntime.{setting}" for setting in ort_option or [])],
        verify_timing=verify_timing, data_dir=str(data_dir.resolve()) if data_dir else "",
        **({"allocator": allocator} if allocator is not None else {}),
    )
    if settings is not None:
        with data_dir_env(data_dir):
            run_in_shards(config, settings, fmt=fmt, wide=wide, tensorboard=tensorboard)
        return
    with data_dir_env(data_dir):  # --data-dir for this command and its children, put back after
        with RunProgress(err) as progress:
            outcome = run_benchmarks(config, on_event=progress.update)
        notes = run_notes(config.threads, outcome.foreign_cpu_share, outcome.json_path)
        tables = [run_table(outcome.rows, config.device, notes=notes, wide=wide)]
        startup = first_result_table(outcome.rows, config.device)
        # Shown where start-up decides: a run with a runtime that compiles.
        if startup is not None and any(not get_runtime(name).default for name in config.runtimes):
            tables.append(startup)
        front_end = front_end_table(outcome.rows, config.device)
        if front_end is not None:
            tables.append(front_end)
        print_tables(tables, fmt, hint=WIDE_HINT if wide else COMPACT_HINT)
        if tensorboard and outcome.json_path is not None:
            logged = log_benchmark(outcome.json_path, config.results_dir / "runs" / "bench")
            err.print(f"TensorBoard: {logged} (tensorboard --logdir {config.results_dir / 'runs'})",
                      markup=False, highlight=False)
        if outcome.foreign_cpu_share > CONTENDED_SHARE:
            err.print(f"warning: other processes used {outcome.foreign_cpu_share:.0%} of the CPUs while "
                      "timing; these numbers are contended (multi-threaded ones most)",
                      markup=False, highlight=False)
        if outcome.json_path is None:
            err.print(f"nothing was timed, so no JSON was written ({outcome.wall_s:.1f} s)", markup=False)
        else:
            err.print(f"wrote {outcome.json_path} in {outcome.wall_s:.1f} s", markup=False, highlight=False)
        if outcome.failed:
            err.print(f"{len(outcome.failed)} case(s) failed; see {outcome.log_path}",
                      markup=False, highlight=False)
        if outcome.unexportable:  # a tool is missing: the other rows ran, and the user hears what to install
            raise BenchError("; ".join(outcome.unexportable.values()))
        if outcome.failed:
            raise typer.Exit(1)


def _compile_mode_option(mode: str | None) -> list[str]:
    """`--compile-mode` as the compile runtime's option (validated there; an error if compile is not run)."""
    return [] if mode is None else [f"compile.mode={mode}"]
