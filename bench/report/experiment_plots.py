"""The reports' experiment figures: the LR finder's loss curve, overfit-a-batch curves, grid-search
overlays, convergence races to a target accuracy, and the ESC-50 data figures (class distribution,
log-mel examples). Data in (files under results/, the dataset folder), matplotlib figures out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
            "#CCB974", "#64B5CD")
TOP_GRID_POINTS = 5  # a grid search's best points get colours and a legend entry; the rest stay grey


def lr_find_figure(result: dict[str, Any]) -> Figure:
    """Loss against learning rate on a log axis (raw and smoothed), the suggested rate and the minimum."""
    fig = Figure(figsize=(7.5, 4.4), layout="constrained")
    ax = fig.subplots()
    lrs = result["lrs"][: len(result["losses"])]
    ax.plot(lrs, result["losses"], color="#BBBBBB", linewidth=1, label="loss per batch")
    ax.plot(lrs, result["smoothed"][: len(lrs)], color="#4C72B0", linewidth=2, label="smoothed loss")
    for key, style, label in (("suggested_lr", "--", "suggested"), ("min_loss_lr", ":", "lowest smoothed")):
        value = result.get(key)
        if isinstance(value, (int, float)) and value > 0:
            ax.axvline(value, color="#C44E52", linestyle=style, linewidth=1.2, label=f"{label}: {value:.2g}")
    ax.set_xscale("log")
    finite = [v for v in result["smoothed"] if isinstance(v, (int, float)) and math.isfinite(v)]
    if finite:  # a divergent tail would flatten the useful part of the curve
        low, first = min(finite), finite[0]
        ax.set_ylim(low - 0.1 * abs(low), max(first * 1.5, low + 0.5))
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    stopped = "; stopped early: the loss diverged" if result.get("stopped_early") else ""
    ax.set_title(f"LR range test: {result.get('model', '?')} ({len(result['losses'])} batches{stopped})")
    return fig


def overfit_figure(sanity: dict[str, Any]) -> Figure:
    """Training loss (log scale) and accuracy per epoch on the few samples the check overfits."""
    overfit = sanity["overfit"]
    history = overfit["history"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    marker = {"marker": "o", "markersize": 3} if len(history) <= 50 else {}
    loss_ax.plot(epochs, [max(h["train_loss"], 1e-8) for h in history], color="#4C72B0", **marker)
    loss_ax.set_yscale("log")
    for axis in (loss_ax.yaxis.set_major_formatter, loss_ax.yaxis.set_minor_formatter):
        axis(FuncFormatter(lambda value, _pos: f"{value:g}"))
    loss_ax.set_ylabel("training loss (cross-entropy, log scale)")
    acc_ax.plot(epochs, [h["train_acc"] for h in history], color="#55A868", **marker)
    acc_ax.set_ylim(0, 1.02)
    acc_ax.set_ylabel("training accuracy (fraction correct)")
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"Overfitting {overfit['samples']} samples: {sanity.get('model', '?')} "
                 f"(lr {overfit['lr']:g}, weight decay {overfit['weight_decay']:g}); final loss "
                 f"{overfit['final_train_loss']:.2g}, accuracy {overfit['final_train_acc']:.0%}")
    return fig


def sweep_figure(sweep: dict[str, Any]) -> Figure:
    """Validation accuracy and loss per epoch of every grid point; the best TOP_GRID_POINTS in colour."""
    rows = [r for r in sweep["rows"] if r.get("history")]
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    acc_ax, loss_ax = fig.subplots(1, 2)
    ranked = sorted(rows, key=lambda r: -r["val_acc"])
    for rank, row in reversed(list(enumerate(ranked))):  # the best drawn last, on top
        history = row["history"]
        epochs = [h["epoch"] for h in history]
        top = rank < TOP_GRID_POINTS
        style = {"color": _COLOURS[rank % len(_COLOURS)] if top else "#CCCCCC",
                 "linewidth": 1.8 if top else 0.8, "zorder": 3 if top else 1}
        label = f"#{rank + 1} {_values(row['values'])}: {row['val_acc']:.3f}" if top else "_nolegend_"
        acc_ax.plot(epochs, [h["val_acc"] for h in history], marker="o", markersize=2.5, label=label, **style)
        loss_ax.plot(epochs, [h["val_loss"] for h in history], marker="o", markersize=2.5, **style)
    acc_ax.set_ylabel("validation accuracy (fraction correct)")
    loss_ax.set_ylabel("validation loss (cross-entropy)")
    for ax in (acc_ax, loss_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    # Below the plots: five long labels inside an axis would hide the curves.
    handles, labels = acc_ax.get_legend_handles_labels()
    ordered = sorted(zip(labels, handles, strict=True), key=lambda pair: int(pair[0][1:].split()[0]))
    fig.legend([h for _l, h in ordered], [label for label, _h in ordered], loc="outside lower center",
               ncols=2, fontsize=7,
               title=f"best {min(TOP_GRID_POINTS, len(rows))} by validation accuracy", title_fontsize=7)
    fig.suptitle(f"Grid search: {sweep.get('model', '?')}, {len(rows)} points × "
                 f"{max((len(r['history']) for r in rows), default=0)} epochs (grey: the other points)")
    return fig


def convergence_figure(title: str, curves: Sequence[tuple[str, list[dict]]], target: float | None) -> Figure:
    """Accuracy per epoch and against wall time of each named run (test where scored every epoch, else
    validation), with the target line: how fast each configuration gets there."""
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    epoch_ax, time_ax = fig.subplots(1, 2)
    split = "validation"
    for i, (name, history) in enumerate(curves):
        key = "test_acc" if all(isinstance(h.get("test_acc"), (int, float)) for h in history) else "val_acc"
        split = "test" if key == "test_acc" else split
        colour = _COLOURS[i % len(_COLOURS)]
        values = [h[key] for h in history]
        epoch_ax.plot([h["epoch"] for h in history], values, color=colour, marker="o", markersize=3,
                      label=name)
        time_ax.plot([h["elapsed_s"] for h in history], values, color=colour, marker="o", markersize=3,
                     label=name)
    for ax in (epoch_ax, time_ax):
        if target is not None:
            ax.axhline(target, color="#444444", linestyle="-.", linewidth=1, label=f"target {target:.0%}")
        ax.set_ylabel(f"{split} accuracy (fraction correct)")
        ax.grid(alpha=0.3)
    epoch_ax.set_xlabel("epoch")
    epoch_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    time_ax.set_xlabel("wall time since training started, evaluation included (s)")
    epoch_ax.legend(fontsize=7)
    fig.suptitle(title)
    return fig


def class_distribution_figure(clips: Sequence[tuple[int, int, str]]) -> Figure:
    """Clips per class, stacked by fold (ESC-50's five cross-validation folds)."""
    classes = sorted({(target, category) for _fold, target, category in clips})
    folds = sorted({fold for fold, _t, _c in clips})
    fig = Figure(figsize=(13, 4.8), layout="constrained")
    ax = fig.subplots()
    bottom = [0] * len(classes)
    for n, fold in enumerate(folds):
        counts = [sum(1 for f, t, _c in clips if f == fold and t == target) for target, _ in classes]
        ax.bar(range(len(classes)), counts, bottom=bottom, color=_COLOURS[n % len(_COLOURS)],
               label=f"fold {fold}")
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_xticks(range(len(classes)), [c or str(t) for t, c in classes], rotation=90, fontsize=7)
    ax.set_ylabel("clips")
    ax.legend(fontsize=7, ncols=len(folds))
    ax.set_title(f"ESC-50: {len(clips)} clips, {len(classes)} classes, {len(folds)} folds "
                 f"({min(bottom)}–{max(bottom)} clips per class)")
    return fig


def log_mel_figure(examples: Sequence[tuple[str, Any]], seconds: float, hop_s: float) -> Figure:
    """The features the model sees for a few clips: (label, (mels, frames) array) each, time in seconds."""
    columns = min(len(examples), 2)
    rows = math.ceil(len(examples) / columns)
    fig = Figure(figsize=(6 * columns, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    image = None
    for ax, (label, spec) in zip(axes.flat, examples, strict=False):
        image = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma",
                          extent=(0, spec.shape[1] * hop_s, 0, spec.shape[0]))
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("mel band")
        ax.set_xlim(0, seconds)
    for ax in list(axes.flat)[len(examples):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, label="log-mel power, standardised per band (z)")
    fig.suptitle("ESC-50 log-mel features as the model sees them (16 kHz, 64 mel bands, hop 10 ms)")
    return fig


def _values(values: dict[str, Any]) -> str:
    """A grid point's values in a short legend form: 'lr 0.01, wd 1e-05, blocks [2,2,2]'."""
    short = {"weight_decay": "wd", "kernel_size": "k"}
    parts = []
    for name, value in values.items():
        key = name.removeprefix("model_kwargs.")
        text = ",".join(map(str, value)) if isinstance(value, list) else f"{value:g}" \
            if isinstance(value, float) else str(value)
        parts.append(f"{short.get(key, key)} {text}")
    return ", ".join(parts)


def newest(paths: Sequence[Path]) -> Path | None:
    """The most recently modified of `paths` (None when empty)."""
    return max(paths, key=lambda p: p.stat().st_mtime, default=None)


# --- which figures the files on disk allow ------------------------------------------------------------------

EXAMPLE_CLIPS = 4  # log-mel examples: the first clip of this many classes


def write_experiment_plots(results_dir: Path, datasets: Sequence[str], data_dir: Path | None,
                           records: dict[str, list], outcome) -> None:
    """Every experiment figure the results (and, for ESC-50's data figures, the dataset) allow, into
    <results>/reports/; a figure that cannot be drawn is a reason in `outcome.skipped`."""
    from bench.report.plots import save_figure, selected_history
    from train.registry import models_for_dataset

    results, folder = Path(results_dir), Path(results_dir) / "reports"
    for dataset in datasets:
        for spec in models_for_dataset(dataset):
            finder = results / "lr_find" / f"{spec.name}.json"
            if finder.is_file():
                outcome.written += save_figure(lr_find_figure(_json(finder)), folder, f"lr_find_{spec.name}")
            sanity = results / "sanity" / f"{spec.name}.json"
            if sanity.is_file():
                data = _json(sanity)
                if (data.get("overfit") or {}).get("history"):
                    outcome.written += save_figure(overfit_figure(data), folder, f"overfit_{spec.name}")
                else:
                    outcome.skipped.append(f"overfit_{spec.name}: {sanity} holds no per-epoch curve (written "
                                           f"before curves were kept): rerun `bench sanity {spec.name}`")
            sweep_path = newest(sorted((results / "sweeps").glob(f"{spec.name}-*.json")))
            if sweep_path is not None:
                sweep = _json(sweep_path)
                if any(r.get("history") for r in sweep.get("rows", [])):
                    outcome.written += save_figure(sweep_figure(sweep), folder, f"sweep_{spec.name}")
                else:
                    outcome.skipped.append(f"sweep_{spec.name}: {sweep_path} holds no per-epoch curves "
                                           f"(written before they were kept): rerun the sweep")
        raced = [(r.model, selected_history(r), r) for r in records.get(dataset, [])
                 if _target(r) is not None and selected_history(r)]
        if raced:
            targets = sorted({_target(r) for _m, _h, r in raced})
            title = (f"Convergence: {dataset}, {len(raced)} run(s) racing to "
                     f"{', '.join(f'{t:.0%}' for t in targets)}")
            outcome.written += save_figure(
                convergence_figure(title, [(m, h) for m, h, _r in raced], targets[0] if len(targets) == 1
                                   else None), folder, f"convergence_{dataset}")
    if "esc50" in datasets:
        _esc50_figures(data_dir, folder, outcome)


def _esc50_figures(data_dir: Path | None, folder: Path, outcome) -> None:
    """ESC-50's class distribution (from its metadata) and log-mel examples (from its audio)."""
    from bench.report.plots import save_figure
    from train.data.audio import CLIP_SECONDS, HOP, SAMPLE_RATE, LogMel
    from train.data.esc50 import read_meta

    meta = Path(data_dir) / "esc50" / "meta" / "esc50.csv" if data_dir is not None else None
    if meta is None or not meta.is_file():
        outcome.skipped.append("esc50 class distribution and log-mel examples: no ESC-50 metadata "
                               f"({meta or 'no --data-dir given'})")
        return
    clips = read_meta(meta)
    outcome.written += save_figure(class_distribution_figure([(c.fold, c.target, c.category) for c in clips]),
                                   folder, "esc50_classes")
    chosen, seen = [], set()
    for clip in sorted(clips, key=lambda c: (c.fold, c.filename)):
        if clip.target not in seen and (meta.parent.parent / "audio" / clip.filename).is_file():
            chosen.append(clip)
            seen.add(clip.target)
        if len(chosen) == EXAMPLE_CLIPS:
            break
    if not chosen:
        outcome.skipped.append(f"esc50_log_mel: no audio beside {meta} (the metadata alone has no sound)")
        return
    logmel = LogMel()
    examples = [(f"{c.category or f'class {c.target}'} ({c.filename})",
                 logmel(meta.parent.parent / "audio" / c.filename)[0].numpy()) for c in chosen]
    outcome.written += save_figure(log_mel_figure(examples, CLIP_SECONDS, HOP / SAMPLE_RATE), folder,
                                   "esc50_log_mel")


def _target(record) -> float | None:
    """The target accuracy a training run raced to, if it had one."""
    from bench.report.plots import selected_run

    value = (selected_run(record).get("metrics") or {}).get("target_accuracy")
    return float(value) if isinstance(value, (int, float)) else None


def _json(path: Path) -> dict:
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))
