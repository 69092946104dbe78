"""Rich tables: the only module that formats results for people."""

from __future__ import annotations

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from train.registry import ModelSpec


def format_count(n: float) -> str:
    """1234567 -> '1.23 M' (k, M, G, T)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f}"


def models_table(rows: list[tuple[ModelSpec, int, int]]) -> Table:
    """Registry table: name | dataset | parameters | input | FLOPs @1 (graphs: full Cora)."""
    table = Table(title="Reference models")
    for col in ("model", "dataset", "parameters", "input (one sample)", "FLOPs @ batch 1"):
        table.add_column(col, justify="right" if col in ("parameters", "FLOPs @ batch 1") else "left")
    for spec, params, flops in rows:
        flops_cell = format_count(flops) + (" (2708 nodes)" if spec.is_graph else "")
        table.add_row(spec.name, spec.dataset, f"{params:,}", spec.sample_shape(), flops_cell)
    return table


def environment_panel(environment: dict) -> Panel:
    """The hardware/software block as a two-column Rich panel."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in environment_rows(environment):
        grid.add_row(label, value)
    return Panel(grid, title="Environment", expand=False)


def environment_rows(environment: dict) -> list[tuple[str, str]]:
    """(label, value) pairs of the environment block, shared by every output format."""
    cuda = environment.get("cuda", {})
    gpu = ", ".join(cuda.get("gpus", [])) if cuda.get("available") else "none (CUDA not available)"
    packages = environment.get("packages", {})
    return [
        ("OS", str(environment.get("os"))),
        ("CPU", str(environment.get("cpu"))),
        ("cores", f"{environment.get('physical_cores')} physical, "
                  f"{environment.get('logical_cores')} logical"),
        ("threads used", str(environment.get("threads_used"))),
        ("RAM", f"{environment.get('ram_gib')} GiB"),
        ("Python", str(environment.get("python"))),
        ("packages", ", ".join(f"{k} {v}" for k, v in packages.items())),
        ("CUDA", f"torch built for {cuda.get('torch_cuda_build')}, cuDNN {cuda.get('cudnn')}, "
                 f"driver {cuda.get('driver', 'n/a')}"),
        ("GPU", gpu),
        ("ONNX Runtime providers", ", ".join(environment.get("onnxruntime_providers_available", []))),
        ("git commit", str(environment.get("git_commit"))),
    ]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def comparison_table(result) -> Table:
    """`bench compare` table: row | before | after | delta | vs eager before/after | verdict."""
    table = Table(title=f"{result.metric} latency (ms), regression above +{result.threshold_pct:g} %")
    for col in ("model", "runtime", "device", "batch", "before", "after", "delta",
                "÷ eager before", "÷ eager after", "verdict"):
        table.add_column(col, justify="left" if col in ("model", "runtime", "device", "verdict")
                         else "right")
    for row in result.rows:
        if row.before_ms is None and row.after_ms is not None:
            verdict = "only in after"
        elif row.after_ms is None and row.before_ms is not None:
            verdict = "only in before"
        elif row.delta_pct is None:
            verdict = "no figure"
        else:
            verdict = "[red]REGRESSED[/red]" if row.regressed else "ok"
        delta = "—" if row.delta_pct is None else f"{row.delta_pct:+.1f} %"
        table.add_row(*map(str, row.key), _ms(row.before_ms), _ms(row.after_ms), delta,
                      _ratio(row.before_vs_eager), _ratio(row.after_vs_eager), verdict)
    return table


def format_bytes(n: int | None) -> str:
    """412345 -> '402.7 KiB' (binary units); None -> '—'."""
    if n is None:
        return "—"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _parity_cell(row) -> str:
    """'✓ 2.4e-07' / '✗ 3.1e-02' (max |diff| vs eager); eager is the reference itself."""
    if row.runtime == "eager":
        return "reference"
    if row.parity_passed is None:
        return "—"
    mark = "[green]✓[/green]" if row.parity_passed else "[red]✗ FAIL[/red]"
    return f"{mark} {row.parity_max_abs:.1e}" if isinstance(row.parity_max_abs, float) else mark


def _throughput_cell(row) -> str:
    per_s = row.throughput_per_s
    if per_s is None:
        return "—"
    return format_count(per_s) + (" nodes" if row.unit == "nodes" else "")


def memory_method_short(method: str) -> str:
    """A peak-memory method's name for a table cell: 'RSS', 'CUDA alloc', 'NVML' (the JSON keeps it whole)."""
    for key, short in (("VmHWM", "RSS"), ("RSS", "RSS"), ("allocator", "CUDA alloc"), ("NVML", "NVML")):
        if key in method:
            return short
    return method or "?"


def _memory_cell(row) -> str:
    if row.peak_memory_bytes is None:
        return "—"
    return f"{row.peak_memory_bytes / 2**20:.1f} ({memory_method_short(row.peak_memory_method)})"


def _stability_cell(row) -> str:
    if row.unstable is None:
        return "—"
    ratio = f"{row.iqr_over_median:.2f}" if row.iqr_over_median is not None else "?"
    return f"[yellow]{ratio} unstable[/yellow]" if row.unstable else ratio


def latency_table(rows: list, device: str, caption: str = "") -> Table:
    """`bench run` table for one device: model | runtime | batch | p50 | p99 | throughput | speedup | GFLOP/s
    | % peak | peak MiB (method) | IQR/median (unstable flag) | parity | size, with skipped and failed rows
    and their reasons in the last column."""
    table = Table(title=f"Inference latency on {device}", caption=caption or None)
    for col in ("model", "runtime", "batch"):
        table.add_column(col, justify="right" if col == "batch" else "left")
    for col in ("p50 ms", "p99 ms", "throughput/s", "speedup vs eager", "GFLOP/s", "% peak",
                "peak MiB (method)", "IQR/med", "parity", "size"):
        table.add_column(col, justify="left" if col in ("parity", "IQR/med") else "right")
    rows = [r for r in rows if r.device == device]
    notes = any(r.status != "ok" for r in rows)
    if notes:
        table.add_column("note", overflow="fold", max_width=48)
    previous_model = None
    for row in rows:
        if previous_model is not None and row.model != previous_model:
            table.add_section()
        previous_model = row.model
        batch = f"{row.batch} nodes" if row.unit == "nodes" else str(row.batch)
        if row.status != "ok":
            style = "yellow" if row.status == "skipped" else "red"
            table.add_row(row.model, row.runtime, batch, *["—"] * 10,
                          f"[{style}]{row.status}[/{style}]: {escape(row.reason)}")
            continue
        speedup = "1.00×" if row.runtime == "eager" else (
            "—" if row.speedup_vs_eager is None else f"{row.speedup_vs_eager:.2f}×")
        gflops = "—" if row.gflops_achieved is None else f"{row.gflops_achieved:.1f}"
        pct = "—" if row.pct_of_peak is None else f"{row.pct_of_peak:.1f} %"
        cells = [row.model, row.runtime, batch, f"{row.p50_ms:.3f}", f"{row.p99_ms:.3f}",
                 _throughput_cell(row), speedup, gflops, pct, _memory_cell(row), _stability_cell(row),
                 _parity_cell(row), format_bytes(row.artifact_bytes)]
        table.add_row(*cells, *([""] if notes else []))
    return table


def run_caption(rows: list, json_path, threads: int, foreign_cpu_share: float) -> str:
    """Below the table: threads, CPU taken by other processes, weight sources, where the JSON went."""
    weights = sorted({r.weights for r in rows if r.weights})
    return (f"{threads} CPU thread(s) for every runtime · other processes used {foreign_cpu_share:.0%} of "
            f"the CPUs while timing · weights: {'; '.join(weights) or '—'} · p50/p99 over pytest-benchmark "
            f"rounds · GFLOP/s = counted FLOPs / p50; % peak of this run's fp32 matmul · peak MiB above the "
            f"row's baseline, in a process of its own (RSS: VmHWM; CUDA alloc: torch allocator; NVML) · "
            f"unstable: IQR/median > 0.10 after extra rounds · JSON: {json_path or 'none (nothing timed)'}")


class RunProgress:
    """Rich progress for `bench run`, fed with bench.run.runner.RunEvent objects (exports, then cases)."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=False)
        self._exports = None
        self._cases = None

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def update(self, event) -> None:
        """Advance the bar that `event` belongs to."""
        progress = self._progress
        if event.kind == "export":
            if self._exports is None:
                self._exports = progress.add_task("exporting", total=event.total)
            progress.update(self._exports, description=f"export {event.subject}")
        elif event.kind == "exported":
            note = f" ([yellow]failed: {event.status}[/yellow])" if event.status else ""
            progress.update(self._exports, advance=1, description=f"exported {event.subject}{note}")
        elif event.kind == "collected":
            self._cases = progress.add_task("benchmarking", total=event.total)
        elif event.kind == "finished" and self._cases is not None:
            colour = {"passed": "green", "skipped": "yellow"}.get(event.status, "red")
            progress.update(self._cases, advance=1,
                            description=f"[{colour}]{event.status}[/{colour}] {event.subject}")


def export_table(results: list) -> Table:
    """`bench export` parity table, one row per export.pipeline.ExportResult: model | format | ok | exporter
    | size | export s | max abs | max rel | argmax agree | checked on | reason (parity vs eager, fp32)."""
    from rich.text import Text  # reasons quote exceptions: brackets in them must not be read as markup

    table = Table(title="Exports: parity against eager PyTorch")
    right = {"size", "export s", "max abs", "max rel", "argmax agree"}
    for col in ("model", "format", "ok", "exporter", "size", "export s", "max abs", "max rel", "argmax agree",
                "checked on", "reason"):
        table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    for r in results:
        p = r.parity
        table.add_row(
            r.model, r.format, "[green]ok[/green]" if r.ok else "[red]FAILED[/red]", Text(r.exporter or "—"),
            f"{r.size_bytes / 2**20:.2f} MiB" if r.size_bytes is not None else "—",
            f"{r.export_time_s:.2f}" if r.export_time_s is not None else "—",
            f"{p.max_abs:.1e}" if p else "—", f"{p.max_rel:.1e}" if p else "—",
            f"{p.argmax_agreement:.1%}" if p else "—", p.checked_on if p else "—", Text(r.reason),
        )
    if results:
        p = next((r.parity for r in results if r.parity), None)
        if p:
            table.caption = f"pass: |export − eager| ≤ atol {p.atol:g} + rtol {p.rtol:g}·|eager|, every logit"
    return table


class TrainingProgress:
    """Rich progress for `bench train`: one bar per (model, seed), advanced each epoch (a train.runner
    Observer)."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=False)
        self._tasks: dict[tuple[str, int], int] = {}
        # Without a terminal, bars never refresh: a log (CI, nohup) gets one line per epoch instead.
        self._console = console
        self._lines = not console.is_terminal

    def __enter__(self) -> TrainingProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def run_started(self, cfg) -> None:
        """A bar for this model and seed."""
        key = (cfg.model, cfg.seed)
        self._tasks[key] = self._progress.add_task(f"{cfg.model} seed {cfg.seed}", total=cfg.epochs)

    def epoch_done(self, cfg, stats) -> None:
        """Advance by one epoch; show train loss and val accuracy."""
        if self._lines:
            self._console.print(
                f"{cfg.model} seed {cfg.seed} epoch {stats.epoch}/{cfg.epochs} · "
                f"loss {stats.train_loss:.4f} · val_acc {stats.val_acc:.4f} · {stats.elapsed_s:.1f} s",
                markup=False, highlight=False)
        self._progress.update(
            self._tasks[(cfg.model, cfg.seed)], advance=1,
            description=f"{cfg.model} seed {cfg.seed} · loss {stats.train_loss:.4f} · "
                        f"val_acc {stats.val_acc:.4f}")

    def run_finished(self, cfg, metrics: dict) -> None:
        """Final description: best epoch and its test accuracy."""
        self._progress.update(
            self._tasks[(cfg.model, cfg.seed)],
            description=f"{cfg.model} seed {cfg.seed} · best epoch {metrics['best_epoch']} · "
                        f"test_acc {metrics['test_acc']:.4f}")


def _mean_std_cell(summary: dict, key: str, fmt: str, unit: str = "") -> str:
    """'0.8030' for one seed, '0.8030 ± 0.0040' for several; '—' when absent."""
    entry = summary.get(key)
    if entry is None:
        return "—"
    cell = format(entry["mean"], fmt)
    if entry["n"] > 1:
        cell += f" ± {format(entry['std'], fmt)}"
    return cell + unit


def training_table(dataset: str, reports: list, results_dir) -> Table:
    """The reports' training table, one row per train.runner.ModelReport: Model | test_acc | test_f1 |
    total_train_time_s | train_loop_time, then val_acc, best epoch, last-epoch test_acc, seeds (and time to
    target if set).
    Test metrics are those of the best-validation-accuracy weights; mean ± std over seeds."""
    with_target = any("time_to_target_s" in r.runs[0].metrics for r in reports)
    target = next((r.runs[0].metrics.get("target_accuracy") for r in reports if with_target), None)
    table = Table(title=f"Training: {dataset}")
    columns = ["Model", "test_acc", "test_f1", "total_train_time_s", "train_loop_time", "val_acc",
               "best epoch", "last-epoch test_acc", "seeds"]
    if with_target:
        columns.insert(5, f"time to {target:.0%} val")
    for col in columns:
        table.add_column(col, justify="left" if col in ("Model", "seeds") else "right")
    for r in reports:
        s = r.summary
        seeds = [run.config.seed for run in r.runs]
        best_epochs = ", ".join(str(run.metrics["best_epoch"]) for run in r.runs)
        row = [r.model, _mean_std_cell(s, "test_acc", ".4f"), _mean_std_cell(s, "test_f1", ".4f"),
               _mean_std_cell(s, "total_train_time_s", ".2f", " s"),
               _mean_std_cell(s, "train_loop_time", ".2f", " s"),
               _mean_std_cell(s, "val_acc", ".4f"), best_epochs, _mean_std_cell(s, "final_test_acc", ".4f"),
               ", ".join(map(str, seeds))]
        if with_target:
            times = [run.metrics.get("time_to_target_s") for run in r.runs]
            if all(t is not None for t in times):
                cell = _mean_std_cell(s, "time_to_target_s", ".2f", " s")
            else:
                cell = "not reached" if all(t is None for t in times) else "not by every seed"
            row.insert(5, cell)
        table.add_row(*row)
    device = reports[0].runs[0].metrics["device"] if reports else "—"
    table.caption = (f"device {device} · test metrics of the best-val-accuracy weights · times: "
                     "total_train_time_s = forward+backward+step, train_loop_time = wall incl. evaluation · "
                     f"checkpoints in {results_dir}/checkpoints, metrics in {results_dir}/training/{dataset}")
    return table


def lr_find_table(model: str, result, path) -> Table:
    """LR range test (a train.lr_find.LRFindResult): ~12 log-spaced rows of lr | loss | smoothed loss, then
    the suggestions."""
    table = Table(title=f"LR finder: {model}")
    for col in ("lr", "loss", "smoothed loss"):
        table.add_column(col, justify="right")
    step = max(1, len(result.lrs) // 12)
    shown = list(range(0, len(result.lrs), step))
    if result.lrs and shown[-1] != len(result.lrs) - 1:
        shown.append(len(result.lrs) - 1)
    for i in shown:
        table.add_row(f"{result.lrs[i]:.2e}", f"{result.losses[i]:.4f}", f"{result.smoothed[i]:.4f}")
    steepest = f"{result.suggestion:.2e}" if result.suggestion else "—"
    lowest = f"{result.min_loss_lr:.2e}" if result.min_loss_lr else "—"
    ending = "stopped when the loss diverged" if result.stopped_early else "reached the last rate"
    table.caption = (f"steepest descent at lr {steepest} · lowest smoothed loss at lr {lowest} "
                     f"(a tenth of it is the classic pick) · {ending} · JSON: {path}")
    return table


def sweep_table(result) -> Table:
    """Grid search (a train.sweep.SweepResult), best first: Run | <grid keys> | val_acc | val_f1 | val_loss |
    best epoch | train s."""
    table = Table(title=f"Grid search: {result.model} (selected by val_acc)")
    table.add_column("Run")
    for key in result.keys:
        table.add_column(key.removeprefix("model_kwargs."), justify="right")
    for col in ("val_acc", "val_f1", "val_loss", "best epoch", "train s"):
        table.add_column(col, justify="right")
    for i, row in enumerate(result.rows):
        values = [str(row.values[k]) for k in result.keys]
        table.add_row(("[bold]" + escape(row.name) + "[/bold] ★") if i == 0 else escape(row.name), *values,
                      f"{row.val_acc:.4f}", f"{row.val_f1:.4f}", f"{row.val_loss:.4f}", str(row.best_epoch),
                      f"{row.total_train_time_s:.2f}")
    table.caption = f"JSON: {result.path}" if result.path else ""
    return table


def sanity_table(report: dict) -> Table:
    """Sanity checks of train.sanity.run_sanity: initial loss vs ln(C), gradients, tiny-subset overfit."""
    fit = report["overfit"]
    table = Table(title=f"Sanity checks: {report['model']}")
    table.add_column("check")
    table.add_column("expected")
    table.add_column("observed", justify="right")
    table.add_row("initial loss", f"≈ ln(classes) = {report['expected_loss']:.3f}",
                  f"{report['initial_loss']:.3f}")
    table.add_row("gradient norm after one backward", "finite, > 0",
                  f"{report['grad_norm']:.3f}" + ("" if report["grads_ok"] else " [red]FAILED[/red]"))
    table.add_row(f"overfit {fit['samples']} samples, {fit['epochs']} epochs (lr {fit['lr']:g}, "
                  f"wd {fit['weight_decay']:g})", "train loss → 0, train acc → 1",
                  f"loss {fit['first_train_loss']:.3f} → {fit['final_train_loss']:.4f}, "
                  f"acc {fit['final_train_acc']:.3f}")
    return table


def baselines_table(dataset: str, result: dict) -> Table:
    """Majority-class and uniform-random accuracy on the test split (report 001: both 0.02 on ESC-50)."""
    table = Table(title=f"Baselines: {dataset} test split ({result['test_samples']} samples)")
    table.add_column("baseline")
    table.add_column("test accuracy", justify="right")
    table.add_row(f"majority train class ({result['majority_class']})", f"{result['majority_test_acc']:.4f}")
    table.add_row("uniform random (expected 1/C)", f"{result['uniform_expected_acc']:.4f}")
    table.add_row("uniform random (one seeded draw)", f"{result['uniform_test_acc']:.4f}")
    return table
