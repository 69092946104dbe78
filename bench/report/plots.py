"""Report figures (matplotlib, no pyplot): latency, throughput, speedup, peak memory, training curves.

Benchmark figures name the run(s) behind them, how contended each was and the weights in a footer; a value
axis spanning orders of magnitude is logarithmic and then shows dots, never bars (a bar's length on a log
axis means nothing)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.records.schema import REFERENCE_RUNTIME, ResultRow, RowKey
from bench.records.store import BenchmarkResults, TrainingRecord
from bench.report.provenance import plot_footer, point_tags
from train.fileio import write_bytes

MIB = 2**20
FORMATS = ("png", "svg")
LOG_SPAN = 30.0  # max/min ratio above which a value axis turns logarithmic (and bars become dots)
_RUNTIME_COLOURS = {"eager": "#4C72B0", "torchscript": "#DD8452", "onnxruntime": "#55A868"}
_OTHER_COLOURS = ("#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")
_MODEL_COLOURS = ("#4C72B0", "#DD8452", "#55A868", *_OTHER_COLOURS)


@dataclass
class PlotOutcome:
    """Files written (PNG and SVG per figure) and, per figure not drawn, why."""

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def save_figure(fig: Figure, folder: Path, stem: str) -> list[Path]:
    """Write `fig` as <stem>.png (150 dpi) and <stem>.svg under `folder`, atomically; the paths written."""
    paths = []
    for fmt in FORMATS:
        buffer = io.BytesIO()
        # No date in the SVG: the same results give the same file.
        fig.savefig(buffer, format=fmt, dpi=150, metadata={"Date": None} if fmt == "svg" else None)
        paths.append(write_bytes(Path(folder) / f"{stem}.{fmt}", buffer.getvalue()))
    return paths


def runtime_colour(runtime: str, runtimes: Sequence[str]) -> str:
    """A fixed colour per known runtime, so every figure agrees; others in order."""
    if runtime in _RUNTIME_COLOURS:
        return _RUNTIME_COLOURS[runtime]
    others = [r for r in runtimes if r not in _RUNTIME_COLOURS]
    return _OTHER_COLOURS[others.index(runtime) % len(_OTHER_COLOURS)]


def _log_axis(axis, suffix: str = "", compact: bool = False) -> None:
    """Log scale ticked at 1, 2, 5 × 10^k with plain numbers ('0.05', '200'; '20k' when `compact`),
    no minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: (_compact(v) if compact else f"{v:g}") + suffix))
    axis.set_minor_formatter(NullFormatter())


def _is_log(values: Sequence[float | None]) -> bool:
    """True when `values` span more than LOG_SPAN (0.01 ms beside 5 s): only a log axis shows them all."""
    positive = [v for v in values if v and v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_SPAN


def _value_axis(ax, log: bool, suffix: str = "") -> str:
    """A log axis (the figure draws dots), else linear from zero, where bar lengths compare honestly;
    returns the scale's name for the axis label."""
    if log:
        ax.set_yscale("log")
        _log_axis(ax.yaxis, suffix)
        return "log scale"
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}{suffix}"))
    return "linear"


def _footer(fig: Figure, text: str) -> None:
    """`text` (the runs, their contention, the weights) in small type under the figure."""
    if text:
        fig.supxlabel(text, x=0.01, ha="left", fontsize=7, color="#444444")


def _compact(value: float) -> str:
    """200 -> '200', 20000 -> '20k', 2e6 -> '2M', 0.05 -> '0.05'."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{unit}"
    return f"{value:g}"


def _ratio_label(value: float) -> str:
    """2.714 -> '2.71×', 128.3 -> '128×'."""
    return f"{value:.0f}×" if value >= 10 else f"{value:.2f}×"


def _size_label(row: ResultRow) -> str:
    return f"{row.batch} nodes" if row.unit == "nodes" else f"batch {row.batch}"


def _groups(rows: Sequence[ResultRow]) -> list[tuple[str, int]]:
    """(model, size) in the order the rows came, each once."""
    return list(dict.fromkeys((b.model, b.batch) for b in rows))


def _runtimes(rows: Sequence[ResultRow]) -> list[str]:
    """Runtimes present, eager first."""
    return sorted({b.runtime for b in rows}, key=lambda r: (r != REFERENCE_RUNTIME, r))


def _grouped_bars(ax, rows: Sequence[ResultRow], runtimes: Sequence[str], value, whisker=None,
                  label_fmt=None, dots: bool = False, tags: dict[RowKey, str] | None = None) -> None:
    """One group per (model, size), one bar per runtime; `value(row)` is the bar height, `whisker`
    (optional) the top of an error bar drawn from the bar's top, `label_fmt` (optional) writes each height
    above its bar. `dots`: a dot at each value instead of a bar (log axes). `tags`: row -> its run, added to
    the group's label when the figure mixes runs."""
    groups = _groups(rows)
    by_key = {(b.model, b.batch, b.runtime): b for b in rows}
    width = 0.8 / len(runtimes)
    for i, runtime in enumerate(runtimes):
        xs, heights, upper = [], [], []
        for g, (model, size) in enumerate(groups):
            b = by_key.get((model, size, runtime))
            if b is None or value(b) is None:
                continue
            xs.append(g - 0.4 + width * (i + 0.5))
            heights.append(value(b))
            upper.append(max(whisker(b) - value(b), 0.0) if whisker else 0.0)
        yerr = [[0.0] * len(xs), upper] if whisker else None
        colour = runtime_colour(runtime, runtimes)
        if dots:
            ax.errorbar(xs, heights, yerr=yerr, fmt="o", markersize=6, capsize=3, label=runtime, color=colour,
                        ecolor="#333333", elinewidth=1)
            for x, h in zip(xs, heights, strict=True) if label_fmt else ():
                ax.annotate(label_fmt(h), (x, h), xytext=(0, 6), textcoords="offset points", ha="center",
                            fontsize=7)
            continue
        bars = ax.bar(xs, heights, width, yerr=yerr, capsize=3, label=runtime, color=colour,
                      error_kw={"elinewidth": 1, "ecolor": "#333333"})
        if label_fmt:
            ax.bar_label(bars, labels=[label_fmt(h) for h in heights], fontsize=7, padding=2)
    labels = []
    for model, size in groups:
        members = [b for b in rows if (b.model, b.batch) == (model, size)]
        runs = list(dict.fromkeys((tags or {}).get(b.key, "") for b in members)) if tags else []
        run_line = f"\nrun {', '.join(r for r in runs if r)}" if any(runs) else ""
        labels.append(f"{model}\n{_size_label(members[0])}{run_line}")
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.set_axisbelow(True)


def _bar_figure(groups: int) -> tuple[Figure, object]:
    fig = Figure(figsize=(max(6.0, 1.3 * groups + 2.0), 4.8), layout="constrained")
    return fig, fig.add_subplot()


def latency_figure(rows: Sequence[ResultRow], device: str, bench: BenchmarkResults | None = None) -> Figure:
    """p50 with whiskers up to p99, per runtime, for every (model, size) on `device`: bars on a linear axis,
    dots on a log one (when the values span orders of magnitude); `bench` names the runs in the footer."""
    runtimes = _runtimes(rows)
    fig, ax = _bar_figure(len(_groups(rows)))
    log = _is_log([b.p50_ms for b in rows] + [b.p99_ms for b in rows])
    _grouped_bars(ax, rows, runtimes, lambda b: b.p50_ms, lambda b: b.p99_ms, dots=log,
                  tags=point_tags(bench, rows))
    scale = _value_axis(ax, log)
    ax.set_ylabel(f"latency per call (ms, {scale})")
    ax.set_title(f"Inference latency on {device}: {'dots' if log else 'bars'} p50, whiskers up to p99")
    ax.legend(title="runtime", fontsize=8)
    _footer(fig, plot_footer(bench, rows))
    return fig


def speedup_figure(rows: Sequence[ResultRow], device: str, bench: BenchmarkResults | None = None) -> Figure:
    """Eager p50 / runtime p50 per (model, size), non-eager runtimes; a line marks eager's 1×; dots when the
    ratios span orders of magnitude (log axis)."""
    others = [b for b in rows if b.runtime != REFERENCE_RUNTIME and b.speedup_vs_eager is not None]
    runtimes = _runtimes(others)
    fig, ax = _bar_figure(len(_groups(others)))
    log = _is_log([1.0] + [b.speedup_vs_eager for b in others])
    _grouped_bars(ax, others, runtimes, lambda b: b.speedup_vs_eager, label_fmt=_ratio_label, dots=log,
                  tags=point_tags(bench, others))
    ax.axhline(1.0, color="#333333", linestyle="--", linewidth=1, label="eager (1×)")
    scale = _value_axis(ax, log, "×")
    ax.margins(y=0.12)
    ax.set_ylabel(f"speedup vs eager (× at p50, {scale}; above 1 = faster)")
    ax.set_title(f"Speedup over eager PyTorch on {device}")
    ax.legend(title="runtime", fontsize=8)
    _footer(fig, plot_footer(bench, others))
    return fig


def memory_figure(rows: Sequence[ResultRow], device: str, bench: BenchmarkResults | None = None) -> Figure:
    """Peak memory (MiB, linear axis) per runtime, for every (model, size) that recorded one; the footer
    names the runs, and the run a bar's memory came from when the run that timed it skipped memory."""
    measured = [b for b in rows if b.peak_memory_bytes is not None]
    runtimes = _runtimes(measured)
    fig, ax = _bar_figure(len(_groups(measured)))
    _grouped_bars(ax, measured, runtimes, lambda b: b.peak_memory_bytes / MIB, label_fmt=lambda v: f"{v:.3g}")
    ax.set_ylabel("peak memory above baseline (MiB)")
    methods = sorted({str(b.extra.get("peak_memory_method", "method not recorded")) for b in measured})
    ax.set_title(f"Peak memory by runtime on {device}\n({'; '.join(methods)})", fontsize=10)
    ax.legend(title="runtime", fontsize=8)
    _footer(fig, "\n".join(t for t in (plot_footer(bench, measured), _memory_origin(bench, measured)) if t))
    return fig


def _memory_origin(bench: BenchmarkResults | None, rows: Sequence[ResultRow]) -> str:
    """Which bars' memory comes from an earlier run than their timing, and which cases have none."""
    if bench is None:
        return ""
    lines = []
    borrowed = [r for r in rows if r.key in bench.memory_from]
    if borrowed:
        donors = ", ".join(sorted({bench.memory_from[r.key].name for r in borrowed}))
        lines.append(f"memory of {len(borrowed)} bar(s) from {donors}: the run timing them skipped memory")
    missing = {r.key for r in rows} & set(bench.memory_missing)
    if missing:
        lines.append(f"{len(missing)} case(s) have no bar: their run skipped memory and no run measured them")
    return "\n".join(lines)


def throughput_figure(rows: Sequence[ResultRow], device: str,
                      bench: BenchmarkResults | None = None) -> Figure:
    """Samples per second (at p50) against batch size, one panel per model, one line per runtime; when the
    points come from different runs each is labelled with its run (a curve joining a contended run's point
    to a quiet run's is no trend), and the footer names the runs."""
    tags = point_tags(bench, rows)
    models = list(dict.fromkeys(b.model for b in rows))
    runtimes = _runtimes(rows)
    cols = min(3, len(models))
    nrows = -(-len(models) // cols)
    footer = plot_footer(bench, rows)
    # Wide enough for the title and the footer's file names even with one panel.
    fig = Figure(figsize=(max(6.4, 4.2 * cols), 3.4 * nrows + 0.6 + 0.15 * footer.count("\n")),
                 layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax, model in zip(axes.flat, models, strict=False):
        for runtime in runtimes:
            found = sorted((b for b in rows if b.model == model and b.runtime == runtime
                            and b.throughput_per_s is not None), key=lambda b: b.batch)
            if found:
                ax.plot([b.batch for b in found], [b.throughput_per_s for b in found], marker="o",
                        label=runtime, color=runtime_colour(runtime, runtimes))
            for b in found if tags else ():
                ax.annotate(tags[b.key], (b.batch, b.throughput_per_s), xytext=(4, 4),
                            textcoords="offset points", fontsize=7, color=runtime_colour(runtime, runtimes))
        sizes = sorted({b.batch for b in rows if b.model == model})
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.margins(x=0.12)  # room for a run label beside the last point
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yscale("log")
        _log_axis(ax.yaxis, compact=True)
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("batch size (samples, log scale)")
        ax.set_ylabel("throughput (samples/s, log)")
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(models):]:
        ax.set_visible(False)
    mixed = "\npoints labelled by run: points of different runs are not one curve" if tags else ""
    fig.suptitle(f"Throughput vs batch size on {device} (at p50 latency){mixed}")
    _footer(fig, footer)
    return fig


KEPT_LABEL = "kept epoch (best validation accuracy)"


def training_figure(dataset: str, records: Sequence[TrainingRecord]) -> Figure:
    """Loss and accuracy per epoch of each model's selected seed: train solid, validation dashed, a marker
    at every epoch (a one-epoch run is a point, not an empty plot), a star on the epoch whose weights were
    kept (the best validation accuracy)."""
    # Taller with many runs: their legend goes below the plots, where it hides no curve.
    fig = Figure(figsize=(11, 4.4 + 0.22 * max(0, len(records) - 3)), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    starred = False
    for i, record in enumerate(records):
        history = selected_history(record)
        colour = _MODEL_COLOURS[i % len(_MODEL_COLOURS)]
        epochs = [h["epoch"] for h in history]
        kept = next((h for h in history if h["epoch"] == kept_epoch(record)), None)
        for ax, key in ((loss_ax, "loss"), (acc_ax, "acc")):
            ax.plot(epochs, [h[f"train_{key}"] for h in history], color=colour, marker="o", markersize=3,
                    label=f"{record.model} train")
            ax.plot(epochs, [h[f"val_{key}"] for h in history], color=colour, linestyle="--", marker="o",
                    markersize=3, label=f"{record.model} val")
            if kept is not None:
                ax.plot([kept["epoch"]], [kept[f"val_{key}"]], linestyle="none", marker="*", markersize=13,
                        color=colour, markeredgecolor="#222222", zorder=5,
                        label=KEPT_LABEL if not starred else "_nolegend_")
        tested = [h for h in history if isinstance(h.get("test_acc"), (int, float))]
        if tested:  # scored every epoch (Cora; a test-split target): dotted
            acc_ax.plot([h["epoch"] for h in tested], [h["test_acc"] for h in tested], color=colour,
                        linestyle=":", linewidth=1.5, label=f"{record.model} test")
        starred = starred or kept is not None
    targets = sorted({float(t) for r in records for t in [selected_run(r).get("metrics", {}).get(
        "target_accuracy")] if isinstance(t, (int, float))})
    for target in targets:  # the accuracy the runs raced to (report 003: 97 %)
        acc_ax.axhline(target, color="#444444", linewidth=1, linestyle="-.", label=f"target {target:.0%}")
    loss_ax.set_ylabel("cross-entropy loss")
    loss_ax.set_title("Loss per epoch")
    acc_ax.set_ylabel("accuracy (fraction correct)")
    acc_ax.set_title("Accuracy per epoch")
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if len(records) > 3:  # one legend for both plots (the accuracy plot's labels cover the loss plot's)
        fig.legend(*acc_ax.get_legend_handles_labels(), loc="outside lower center", fontsize=7,
                   ncols=4 if any("test" in label for label in acc_ax.get_legend_handles_labels()[1]) else 3)
    else:
        for ax in (loss_ax, acc_ax):
            ax.legend(fontsize=7)
    dotted = "; dotted: test" if any(isinstance(h.get("test_acc"), (int, float)) for r in records
                                    for h in selected_history(r)) else ""
    fig.suptitle(f"Training curves: {dataset} (solid: train, dashed: validation{dotted}; ★ {KEPT_LABEL})")
    return fig


def selected_run(record: TrainingRecord) -> dict:
    """The seed whose checkpoint was kept (the first seed if it is not named)."""
    selected = record.data.get("selected_seed")
    return next((r for r in record.runs if r["config"].get("seed") == selected), record.runs[0])


def selected_history(record: TrainingRecord) -> list[dict]:
    """Per-epoch history of the seed whose checkpoint was kept (the first seed if it is not named)."""
    return list(selected_run(record).get("history") or [])


def kept_epoch(record: TrainingRecord) -> int | None:
    """The epoch whose weights the selected seed kept (its best validation accuracy), None if not recorded."""
    best = (selected_run(record).get("metrics") or {}).get("best_epoch")
    return best if isinstance(best, int) else None


def write_benchmark_plots(rows: Sequence[ResultRow], folder: Path, outcome: PlotOutcome,
                          bench: BenchmarkResults | None = None) -> None:
    """Latency, speedup, throughput and peak-memory figures per device (measured rows only); `bench` (the
    results the rows come from) names their runs in each figure."""
    measured = [b for b in rows if b.status == "ok"]
    if not measured:
        outcome.skipped.append("benchmark plots: no measured benchmark row on file (run `bench run`)")
        return
    for device in sorted({b.device for b in measured}, key=lambda d: (d != "cpu", d)):
        on_device = [b for b in measured if b.device == device]
        outcome.written += save_figure(latency_figure(on_device, device, bench), folder, f"latency_{device}")
        if any(b.runtime != REFERENCE_RUNTIME and b.speedup_vs_eager for b in on_device):
            outcome.written += save_figure(speedup_figure(on_device, device, bench), folder,
                                           f"speedup_{device}")
        else:
            outcome.skipped.append(f"speedup_{device}: no runtime was timed beside eager on the same case")
        batched = [b for b in on_device if b.unit == "samples"]
        if batched:
            outcome.written += save_figure(throughput_figure(batched, device, bench), folder,
                                           f"throughput_{device}")
        else:
            outcome.skipped.append(f"throughput_{device}: only graph models (one full-graph size) were timed")
        if any(b.peak_memory_bytes is not None for b in on_device):
            outcome.written += save_figure(memory_figure(on_device, device, bench), folder,
                                           f"memory_{device}")
        else:
            outcome.skipped.append(f"memory_{device}: the benchmark rows hold no peak_memory_bytes "
                                   "(this `bench run` did not record peak memory)")


def write_training_plots(dataset: str, records: Sequence[TrainingRecord], folder: Path,
                         outcome: PlotOutcome) -> None:
    """One training-curve figure for `dataset` when any record holds per-epoch history."""
    with_history = [r for r in records if selected_history(r)]
    if with_history:
        outcome.written += save_figure(training_figure(dataset, with_history), folder, f"training_{dataset}")
    else:
        outcome.skipped.append(f"training_{dataset}: no training metrics with per-epoch history "
                               f"(run `bench train {dataset}`)")


def write_report_plots(results_dir: Path, dataset: str = "all",
                       runs: Sequence[Path] | None = None, data_dir: Path | None = None) -> PlotOutcome:
    """Every figure `bench report --plots` draws for `dataset` ("all": the four), under <results>/reports/,
    from the rows `bench report` shows (each case's newest complete run, or exactly the `runs` files), the
    experiment files (LR finder, sanity checks, sweeps) and, for ESC-50's data figures, `data_dir`."""
    from bench.records.store import load_benchmarks, load_training
    from bench.report.experiment_plots import write_experiment_plots
    from train.data.registry import dataset_names
    from train.registry import models_for_dataset

    datasets = dataset_names() if dataset == "all" else (dataset,)
    folder = Path(results_dir) / "reports"
    models = {spec.name for name in datasets for spec in models_for_dataset(name)}
    outcome = PlotOutcome()
    bench = load_benchmarks(results_dir, runs)
    rows = [b for b in bench.rows if b.model in models]
    write_benchmark_plots(rows, folder, outcome, bench)
    by_dataset = {}
    for name in datasets:
        records = load_training(results_dir, name)
        ordered = [records[spec.name] for spec in models_for_dataset(name) if spec.name in records]
        ordered += [r for m, r in records.items() if r not in ordered]  # models no longer registered
        write_training_plots(name, ordered, folder, outcome)
        by_dataset[name] = ordered
    write_experiment_plots(results_dir, datasets, data_dir, by_dataset, outcome)
    return outcome
