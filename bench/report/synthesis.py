"""The reports' synthesis tables built from results/ files, with 'not run' and the command for every gap."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.records.schema import ResultRow
from bench.records.store import BenchmarkResults, SweepRecord, TrainingRecord
from bench.report.provenance import (
    add_left_out,
    left_out_notes,
    mark_runs,
    mixes_runs,
    mixes_weights,
    run_cell,
    runs_notes,
    weights_cell,
)
from bench.report.providers import mark_providers
from bench.report.tables import (
    MIB,
    RUNTIME_SHORT,
    environment_table,
    first_result_table,
    front_end_table,
    run_command,
    run_table,
    sources_notes,
)
from bench.report.tabular import NOT_RUN, Cell, Column, Row, Stat, TableData
from train.data.registry import dataset_names, get_dataset
from train.registry import VARIANT_MARK, get_model, models_for_dataset
from train.reports import MNIST_CONFIGURATIONS, MNIST_MLP_EPOCHS, MNIST_MLP_RUNS
from train.runs import interruption_text


def train_command(dataset: str, model: str, extra: str = "") -> str:
    """The `bench train` line that writes results/training/<dataset>/<model>.json (a variant
    <model>@<name>: `--model <model> --name <name>`)."""
    base, _, variant = model.partition(VARIANT_MARK)
    named = f" --name {variant}" if variant else ""
    return f"`bench train {dataset} --model {base}{named}{' ' + extra if extra else ''}`"


def with_variants(models: list[str], records: dict[str, TrainingRecord]) -> list[str]:
    """`models`, each followed by its trained variants on file (<model>@<name>, by name): side by side."""
    out = []
    for name in models:
        out.append(name)
        out += sorted(m for m in records if m.partition(VARIANT_MARK)[0] == name and m != name)
    return out


def metric(record: TrainingRecord, key: str) -> Stat | None:
    """`key` over the record's seeds (its summary), else the first seed's value; None when absent."""
    entry = record.summary.get(key)
    if entry is not None:
        return Stat(float(entry["mean"]), float(entry.get("std", 0.0)), int(entry.get("n", 1)))
    value = record.runs[0]["metrics"].get(key)
    return Stat(float(value)) if isinstance(value, (int, float)) else None


def marked(label: str, record: TrainingRecord | None) -> str:
    """`label`, followed by '(interrupted at epoch 5/50)' when `record` is of a run Ctrl-C ended."""
    mark = interruption_text(record.data) if record is not None else None
    return label if mark is None else f"{label} ({mark})"


def partial_note(record: TrainingRecord, command: str) -> str:
    """Why a record marked interrupted is in a table, and what replaces it ('' for a complete record)."""
    if interruption_text(record.data) is None:
        return ""
    return (f"partial run (Ctrl-C) on file as the model's record: its metrics cover the finished epochs "
            f"only; a complete {command} replaces it")


def _seeds_note(records: Sequence[TrainingRecord]) -> str:
    seeds = sorted({len(r.runs) for r in records})
    many = " (mean ± std where more than one seed ran)" if seeds and max(seeds) > 1 else ""
    return (f"test metrics are those of the best-validation-accuracy weights{many}; "
            f"metrics files: {', '.join(str(r.path) for r in records)}")


# --- Cora, report 000 table 6.a --------------------------------------------------------------------------


def _forward_cell(found: ResultRow | None, model: str, runtime: str, device: str) -> tuple[Cell, str]:
    """The p50 of a full-graph row, or a status word and what to do about it."""
    if found is None:
        return NOT_RUN, f"{runtime}/{device}: {run_command([model], device, [runtime])}"
    if found.status != "ok":
        return found.status, f"{runtime}/{device} {found.status}: {found.reason}"
    return found.p50_ms, ""


def cora_table(training: dict[str, TrainingRecord], bench: BenchmarkResults,
               runtimes: Sequence[str]) -> TableData:
    """Report 000, 6.a: Model | test_acc | test_macro_f1 | total_train_time_s | train_loop_time | forward
    p50 (ms) per runtime and device, graph models at full size (2708 nodes). Where the forward cells come
    from more than one run, or were timed on different weights (a trained GCN beside untrained MLP and
    SAGE), a `run` and a `weights benchmarked` column say which row is which."""
    devices = sorted(set(bench.devices()) | {"cpu"}, key=lambda d: (d != "cpu", d))
    columns = [Column("Model", align="left"), Column("test_acc", ".4f"), Column("test_acc last epoch", ".4f"),
               Column("test_acc best epoch", ".4f"), Column("test_macro_f1", ".4f"),
               Column("total_train_time_s", ".2f"), Column("train_loop_time (s)", ".2f")]
    columns += [Column(f"forward_ms p50 {rt}/{dev}", ".3f") for dev in devices for rt in runtimes]
    rows, timed = [], []
    cora_models = [spec.name for spec in models_for_dataset("cora")]
    for model in with_variants(cora_models, training):  # trained variants beside their model
        label = get_model(model).title
        notes = []
        record = training.get(model)
        if record is None:
            cells: list[Cell] = [label, *[NOT_RUN] * 6]
            notes.append(f"train: {train_command('cora', model)}")
        else:
            cells = [marked(label, record), metric(record, "test_acc"), metric(record, "final_test_acc"),
                     metric(record, "best_test_acc_any_epoch"), metric(record, "test_f1"),
                     metric(record, "total_train_time_s"), metric(record, "train_loop_time")]
            notes += [n for n in (partial_note(record, train_command("cora", model)),) if n]
        missing, found_rows = [], []
        for dev in devices:
            for rt in runtimes:
                found = _graph_row(bench, model, rt, dev)
                cell, note = _forward_cell(found, model, rt, dev)
                cells.append(cell)
                if found is None:
                    missing.append((rt, dev))
                else:
                    found_rows.append(found)
                    if note:
                        notes.append(note)
        notes += _missing_runs_note(model, missing, runtimes)
        rows.append((cells, found_rows, "; ".join(notes)))
        timed += found_rows
    by_run, by_weights = mixes_runs(bench, timed), mixes_weights(timed)
    columns += [Column("run", align="left", wrap=False)] if by_run else []
    columns += [Column("weights benchmarked", align="left")] if by_weights else []
    body = tuple(Row((*cells, *([run_cell(bench, found)] if by_run else []),
                      *([weights_cell(found)] if by_weights else [])), note) for cells, found, note in rows)
    notes = ["test_acc: at the best-validation epoch (the checkpoint); last epoch: after the final epoch, "
             "what the report's 6.a quotes (MLP 0.5750, GCN 0.8030, GraphSAGE 0.7360); best epoch: the "
             "highest test accuracy any epoch reached, its \"0.8060 best\" (GraphSAGE, 3.e), not a model "
             "choice (older records without per-epoch test scores: —)",
             "times: total_train_time_s = forward+backward+step summed over epochs; train_loop_time = wall "
             "time of the loop incl. per-epoch evaluation",
             "forward_ms p50 stands for the report's avg_forward_ms: median of the pytest-benchmark rounds "
             "of a full-graph forward (2708 nodes); a cell comes from the newest complete run of that case "
             "(an interrupted run is never used unless named with `bench report --run`)"]
    if by_weights:
        notes.append("weights benchmarked: the forward_ms cells of these rows were timed on different "
                     "weights (a trained checkpoint beside untrained seeded weights); the training metrics "
                     "are always the trained model's; latency depends on the architecture, not the weights")
    if "cuda" not in devices:
        notes.append("the report's 6.a figures were on a GPU; no CUDA run is on file: "
                     f"{run_command(cora_models, 'cuda')} on a CUDA machine")
    if training:
        notes.append(_seeds_note(list(training.values())))
    notes += sources_notes([b for b in bench.rows if b.model in cora_models])
    notes += runs_notes(bench, timed) + left_out_notes(bench, cora_models)
    return TableData("cora.synthesis", "Cora: synthesis (report 000, table 6.a)", tuple(columns), body,
                     tuple(notes))


def _graph_row(bench: BenchmarkResults, model: str, runtime: str, device: str) -> ResultRow | None:
    """The full-graph row of `model` on `runtime`/`device` the report uses (graph rows count nodes, not
    samples; the largest graph when several sizes were timed)."""
    rows = [b for b in bench.rows if b.key[:3] == (model, runtime, device) and b.unit == "nodes"]
    return max(rows, key=lambda b: b.batch) if rows else None


def _missing_runs_note(model: str, missing: list[tuple[str, str]], runtimes: Sequence[str]) -> list[str]:
    """One `bench run` command per device for the cases of `model` never timed."""
    notes = []
    for dev in dict.fromkeys(d for _, d in missing):
        absent = [rt for rt, d in missing if d == dev]
        named = () if len(absent) == len(runtimes) else absent
        notes.append(f"benchmark: {run_command([model], dev, named)}")
    return notes


# --- MNIST, report 003: configurations and time to 97 % ---------------------------------------------------


_OPTIMISER_NAMES = {"sgd": "SGD", "sgd-momentum": "SGD momentum", "adam": "Adam", "rmsprop": "RMSprop"}


def _describe(config: dict[str, Any]) -> tuple[str, str, str]:
    """(optimiser, BatchNorm, LR scheduler) cells of a training config."""
    optimiser = f"{_OPTIMISER_NAMES.get(config.get('optimizer'), config.get('optimizer'))} " \
                f"lr {float(config.get('lr', 0)):g}"
    kwargs = config.get("model_kwargs") or {}
    model = str(config.get("model", "")).partition(VARIANT_MARK)[0]  # mnist-cnn-bn@adam-bn is BN too
    batchnorm = model == "mnist-cnn-bn" or bool(kwargs.get("batchnorm"))
    scheduler = "none"
    if config.get("scheduler") == "step":
        scheduler = f"StepLR(step {config.get('step_size')}, gamma {config.get('gamma')})"
    return optimiser, "yes" if batchnorm else "no", scheduler


@dataclass(frozen=True)
class MnistRow:
    """A configuration row: its record (None when not run), the command for it, the config it describes."""

    name: str
    record: TrainingRecord | None
    command: str
    config: dict[str, Any]  # the record's config, or the report's for a configuration not run


def mnist_rows(training: dict[str, TrainingRecord]) -> list[MnistRow]:
    """The report's five configurations first, then any other MNIST record on file under its description."""
    out, used = [], set()
    for conf in MNIST_CONFIGURATIONS:
        record = next((r for r in training.values() if conf.matches(r.config)), None)
        if record is not None:
            used.add(record.model)
        reported = {"model": conf.model, "optimizer": conf.optimizer, "lr": conf.lr,
                    "scheduler": conf.scheduler, "step_size": 3, "gamma": 0.5}
        command = train_command("mnist", f"{conf.model}{VARIANT_MARK}{conf.variant}", conf.options)
        out.append(MnistRow(conf.name, record, command,
                            record.config if record else reported))
    for model, record in sorted(training.items()):
        if model not in used and model not in _batch_variants(training):  # those have their own table
            optimiser, _, scheduler = _describe(record.config)
            name = f"{model} · {optimiser}" + ("" if scheduler == "none" else " · StepLR")
            out.append(MnistRow(name, record, train_command("mnist", model), record.config))
    return out


_BATCH_VARIANT = re.compile(r"mnist-cnn@batch(\d+)")


def _batch_variants(training: dict[str, TrainingRecord]) -> dict[str, int]:
    """Report 003's batch-size runs on file (`bench reproduce mnist-cnn` names them mnist-cnn@batch<size>)."""
    return {model: int(m.group(1)) for model in training if (m := _BATCH_VARIANT.fullmatch(model))}


def batch_size_table(training: dict[str, TrainingRecord]) -> TableData:
    """Report 003's batch-size study: batch | test accuracy | time | s/epoch | time to target | epochs."""
    columns = (Column("Batch size"), Column("test accuracy", ".2%"), Column("total_train_time_s", ".1f"),
               Column("s/epoch", ".2f"), Column("time to target (s)", ".1f"), Column("epochs"))
    rows = []
    for model, size in sorted(_batch_variants(training).items(), key=lambda item: item[1]):
        record = training[model]
        rows.append(Row((size, metric(record, "test_acc"), metric(record, "total_train_time_s"),
                         metric(record, "time_per_epoch_s"), metric(record, "time_to_target_s"),
                         record.config.get("epochs")), partial_note(record, train_command("mnist", model))))
    notes = ("the report trained mnist-cnn with Adam at batch 64, 256 and 512 for 5 epochs; time to target = "
             "training compute time until the target accuracy (— : not reached or not set)",)
    return TableData("mnist.batch_sizes", "MNIST CNN: batch size (report 003)", columns, tuple(rows), notes)


def mnist_configuration_table(training: dict[str, TrainingRecord]) -> TableData:
    """Report 003: Configuration | Optimiser | BatchNorm | LR scheduler | test accuracy | time | epochs."""
    columns = (Column("Configuration", align="left"), Column("Model", align="left"),
               Column("Optimiser", align="left"), Column("BatchNorm", align="left"),
               Column("LR scheduler", align="left"), Column("test accuracy", ".2%"),
               Column("total_train_time_s", ".1f"), Column("epochs"))
    rows = []
    for entry in mnist_rows(training):
        described = (entry.name, entry.config["model"], *_describe(entry.config))
        if entry.record is None:
            rows.append(Row((*described, NOT_RUN, NOT_RUN, None), f"train: {entry.command}"))
        else:
            rows.append(Row((marked(entry.name, entry.record), *described[1:],
                             metric(entry.record, "test_acc"), metric(entry.record, "total_train_time_s"),
                             entry.config.get("epochs")), partial_note(entry.record, entry.command)))
    notes = ["the report trained 10 epochs at batch 128 (reported ~98.5 % SGD, ~99.0 % SGD+BN, ~99.2 % Adam, "
             "~99.3 % Adam+BN, ~99.4 % Adam+BN+StepLR)",
             "each configuration's command trains a named variant (<model>@<name>, its own checkpoint and "
             "record), so the five stay on file side by side; a record matches a configuration by its "
             "model, optimiser, learning rate and scheduler"]
    if training:
        notes.append(_seeds_note(list(training.values())))
    return TableData("mnist.configurations", "MNIST CNN: configurations (report 003)", columns, tuple(rows),
                     tuple(notes))


def mnist_target_table(training: dict[str, TrainingRecord]) -> TableData:
    """Report 003 recap: Configuration | time to 97 % (s) | epochs to 97 % | final test accuracy."""
    target = next((r.runs[0]["metrics"].get("target_accuracy") for r in training.values()
                   if r.runs[0]["metrics"].get("target_accuracy")), 0.97)
    splits = sorted({str(r.runs[0]["metrics"].get("target_split", "val")) for r in training.values()
                     if "time_to_target_s" in r.runs[0]["metrics"]}) or ["val"]
    split = splits[0] if len(splits) == 1 else "val or test"
    columns = (Column("Configuration", align="left"), Column(f"time to {target:.0%} {split} (s)", ".1f"),
               Column(f"wall time to {target:.0%} (s)", ".1f"),
               Column(f"epochs to {target:.0%}", ".1f"), Column("final test accuracy", ".2%"))
    rows = []
    for entry in mnist_rows(training):
        name, record = entry.name, entry.record
        if record is None:
            rows.append(Row((name, NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN), f"train: {entry.command}"))
            continue
        final = metric(record, "final_test_acc")
        name, partial = marked(name, record), partial_note(record, entry.command)
        if "time_to_target_s" not in record.runs[0]["metrics"]:
            rows.append(Row((name, "not measured", "not measured", "not measured", final),
                            partial or f"retrain with --set target_accuracy={target:g}: {entry.command}"))
        elif any(run["metrics"].get("time_to_target_s") is None for run in record.runs):
            watched = record.runs[0]["metrics"].get("target_split", "val")
            below = f"{watched} accuracy stayed below {target:.0%} in at least one seed"
            rows.append(Row((name, "not reached", "not reached", "not reached", final),
                            f"{below}; {partial}" if partial else below))
        else:
            times = metric(record, "time_to_target_s"), metric(record, "time_to_target_wall_s")
            rows.append(Row((name, *times, metric(record, "epochs_to_target"), final), partial))
    notes = (f"time to target = training compute time (forward+backward+step, s) until the {split} accuracy "
             f"first reached {target:.0%}; wall time = the loop's, evaluation included (report 003's "
             f"definition with --set target_split=test); final test accuracy = last epoch's weights",)
    return TableData("mnist.time_to_target", f"MNIST CNN: time to {target:.0%} (report 003)", columns,
                     tuple(rows), notes)


# --- MNIST, report 002: the MLP along each axis ----------------------------------------------------------


def mlp_axis_tables(training: dict[str, TrainingRecord]) -> list[TableData]:
    """Report 002 side by side, one table per axis (activation, optimiser, dropout, depth × width × lr,
    BatchNorm × initialisation): accuracy, speed (s/epoch) and training memory of each setting."""
    tables = []
    for axis in dict.fromkeys(run.axis for run in MNIST_MLP_RUNS):
        columns = (Column(axis[:1].upper() + axis[1:], align="left"), Column("test accuracy", ".2%"),
                   Column("val accuracy", ".2%"), Column("test loss", ".3f"), Column("s/epoch", ".2f"),
                   Column("peak train MiB", ".0f"), Column("epochs"))
        rows = []
        for run in (r for r in MNIST_MLP_RUNS if r.axis == axis):
            record = training.get(run.model)
            command = train_command("mnist", run.model, " ".join(
                (*run.options, "--epochs", str(MNIST_MLP_EPOCHS), *(("--histograms",) if run.histograms
                                                                    else ()))))
            if record is None:
                rows.append(Row((run.setting, NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN, None),
                                f"train: {command}"))
                continue
            rows.append(Row((marked(run.setting, record), metric(record, "test_acc"),
                             metric(record, "val_acc"), metric(record, "test_loss"),
                             metric(record, "time_per_epoch_s"), _peak_training_mib(record),
                             record.config.get("epochs")),
                            partial_note(record, command)))
        notes = [f"report 002 trained each setting {MNIST_MLP_EPOCHS} epochs at batch 64 (it gives no "
                 "figures to compare with); test metrics of the best-validation weights; s/epoch = "
                 "forward + backward + step per epoch; peak train MiB = CUDA peak allocated, or on CPU the "
                 "memory newly made resident while training",
                 "every setting is a named variant mnist-mlp@<name>: `bench reproduce mnist-mlp` trains the "
                 "missing ones"]
        if axis == "BatchNorm × initialisation":
            notes.append("init zeros/kaiming set fc1.weight only, as the report did; weight and gradient "
                         "histograms per epoch in TensorBoard (--histograms)")
        tables.append(TableData(f"mnist.mlp.{_slug(axis)}", f"MNIST MLP: {axis} (report 002)", columns,
                                tuple(rows), tuple(notes)))
    return tables


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# --- ESC-50 and CIFAR-100: training and grid searches -----------------------------------------------------


def training_table(dataset: str, training: dict[str, TrainingRecord],
                   models: Sequence[str] | None = None, partial: dict[str, str] | None = None) -> TableData:
    """The reports' training table, one row per model (default: every registered model of `dataset`, 'not
    run' where no record is on file): validation and test metrics of the best-validation weights, last-epoch
    test accuracy, train times, time to the target accuracy when set, best epoch and seeds; mean ± std.
    A record of an interrupted run is marked in its Model cell; `partial` gives its note (model -> text)."""
    targets = {r.runs[0]["metrics"].get("target_accuracy") for r in training.values()} - {None}
    target = max(targets) if targets else None
    columns = [Column("Model", align="left"), Column("val_acc", ".4f"), Column("test_acc", ".4f"),
               Column("test_macro_f1", ".4f"), Column("test_loss", ".4f"),
               Column("last epoch test_acc", ".4f"), Column("total_train_time_s", ".2f"),
               Column("train_loop_time (s)", ".2f"), Column("s/epoch", ".2f"),
               Column("peak train MiB", ".1f")]
    if target is not None:
        columns.append(Column(f"time to {target:.0%} val (s)", ".2f"))
    columns += [Column("best epoch / epochs", align="left"), Column("seeds", align="left")]
    # The same seeds for every model (the usual case) are said once, in a note: the table then reads at
    # 80 columns.
    seed_sets = {tuple(run["config"].get("seed") for run in record.runs) for record in training.values()}
    common_seeds = next(iter(seed_sets)) if len(seed_sets) == 1 else None
    # Speed and memory per epoch: records from before they were measured have neither (no empty columns).
    measured = any(key in run["metrics"] for r in training.values() for run in r.runs
                   for key in ("time_per_epoch_s", "peak_rss_bytes", "peak_memory_bytes"))
    if not measured:
        columns = [c for c in columns if c.name not in ("s/epoch", "peak train MiB")]
    rows = []
    trained = [spec.name for spec in models_for_dataset(dataset, trained_only=True)]  # esc50-wave is not
    for name in models if models is not None else with_variants(trained, training):
        record = training.get(name)
        if record is None:
            gaps = [NOT_RUN] * (9 if measured else 7)
            rows.append(Row((name, *gaps, *([None] if target is not None else []), None, None),
                            f"train: {train_command(dataset, name)}"))
            continue
        best = ", ".join(str(run["metrics"].get("best_epoch")) for run in record.runs)
        cells: list[Cell] = [name, metric(record, "val_acc"), metric(record, "test_acc"),
                             metric(record, "test_f1"), metric(record, "test_loss"),
                             metric(record, "final_test_acc"), metric(record, "total_train_time_s"),
                             metric(record, "train_loop_time")]
        if measured:
            cells += [metric(record, "time_per_epoch_s"), _peak_training_mib(record)]
        if target is not None:
            cells.append(_time_to_target(record))
        cells += [f"{best} / {record.config.get('epochs')}",
                  ", ".join(str(run["config"].get("seed")) for run in record.runs)]
        if interruption_text(record.data) is None:
            rows.append(Row(tuple(cells)))
        else:  # a partial run: marked in the Model cell, with where it is and what replaces it
            cells[0] = marked(name, record)
            note = (partial or {}).get(name) or partial_note(record, train_command(dataset, name))
            rows.append(Row(tuple(cells), note, "yellow"))
    reported = get_dataset(dataset).reported_result
    notes = [reported] if reported else []
    notes.append("times: total_train_time_s = forward+backward+step summed over epochs; "
                 "train_loop_time = wall time of the loop incl. per-epoch evaluation; s/epoch = "
                 "total_train_time_s ÷ epochs")
    if measured:
        notes.append("peak train MiB: the CUDA allocator's peak during the training loop on a CUDA run, "
                     "else the process's anonymous resident memory sampled every 5 ms during the loop, above "
                     "its value at the start (— : a record from before it was measured)")
    if training:
        notes.append(_seeds_note(list(training.values())))
    if common_seeds is not None:
        notes.append(f"seed(s) of every model: {', '.join(map(str, common_seeds))}")
        columns = columns[:-1]
        rows = [replace(row, cells=row.cells[:-1]) for row in rows]
    return TableData(f"{dataset}.training", f"{get_dataset(dataset).title}: training", tuple(columns),
                     tuple(rows), tuple(notes))


def _peak_training_mib(record: TrainingRecord) -> Stat | None:
    """Peak memory of the training loop in MiB: the CUDA allocator's on a CUDA run, else the process's
    sampled RSS above the loop's start; None for records that predate it."""
    for key in ("peak_memory_bytes", "peak_rss_bytes"):
        found = metric(record, key)
        if found is not None:
            return Stat(found.mean / MIB, found.std / MIB, found.n)
    return None


def _time_to_target(record: TrainingRecord) -> Cell:
    """Seconds of training until validation accuracy first reached the target, or why there is none."""
    times = [run["metrics"].get("time_to_target_s") for run in record.runs]
    if "time_to_target_s" not in record.runs[0]["metrics"]:
        return "not measured"
    if all(t is not None for t in times):
        return metric(record, "time_to_target_s")
    return "not reached" if all(t is None for t in times) else "not by every seed"


def grid_tables(dataset: str, sweeps: Sequence[SweepRecord]) -> list[TableData]:
    """The newest sweep of each model as the reports' grid table; 'not run' with the report's grid if none."""
    if sweeps:
        return [grid_table(dataset, sweep) for sweep in sweeps]
    command = f"`bench sweep {get_dataset(dataset).reported_grid}`"
    if not _has_sweep_command():
        command += " (`bench sweep` is not installed in this checkout yet)"
    columns = (Column("Run", align="left"), Column("lr"), Column("weight_decay"), Column("val_acc"),
               Column("val_loss"))
    row = Row(("—", NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN), f"the report's grid: {command}")
    return [TableData(f"{dataset}.grid", f"{get_dataset(dataset).title}: grid search", columns, (row,),
                      (f"no sweep of {dataset} in results/sweeps/",))]


def grid_table(dataset: str, sweep: SweepRecord) -> TableData:
    """Run | lr | weight_decay | other swept keys | val_acc | val_loss | val_macro_f1 | best epoch | time,
    ranked by validation accuracy as `bench sweep` stored them."""
    base = dict(sweep.data.get("base_config") or {})
    keys = ["lr", "weight_decay"] + [k for k in sweep.grid if k not in ("lr", "weight_decay")]
    swept = [Column(k.removeprefix("model_kwargs."), align="left") for k in keys]
    columns = (Column("Run", align="left"), *swept,
               Column("val_acc", ".4f"), Column("val_loss", ".4f"), Column("val_macro_f1", ".4f"),
               Column("best epoch"), Column("total_train_time_s", ".1f"))
    rows = []
    for rank, point in enumerate(sweep.rows, start=1):
        values = point.get("values") or {}
        cells = [_plain_cell(values[k]) if k in values else _plain_cell(_lookup(base, k)) for k in keys]
        rows.append(Row((str(rank), *cells, point.get("val_acc"), point.get("val_loss"), point.get("val_f1"),
                         point.get("best_epoch"), point.get("total_train_time_s"))))
    epochs = base.get("epochs")
    notes = (f"{sweep.model}: runs ranked by val_acc (1 = best), {epochs} epoch(s) each, "
             f"seed {base.get('seed')}; unswept values from the base config", f"sweep file: {sweep.path}")
    return TableData(f"{dataset}.grid", f"{get_dataset(dataset).title}: grid search ({sweep.model})", columns,
                     tuple(rows), notes)


def _has_sweep_command() -> bool:
    return importlib.util.find_spec("bench.commands.sweep") is not None


def _lookup(config: dict[str, Any], key: str) -> Any:
    """`key` in a config dict; `model_kwargs.<k>` reaches into model_kwargs."""
    top, _, sub = key.partition(".")
    return (config.get("model_kwargs") or {}).get(sub) if top == "model_kwargs" and sub else config.get(key)


def _plain_cell(value: Any) -> Cell:
    """Scalars as they are, lists as compact text ('[32,64,128]')."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(str(_plain_cell(v)) for v in value) + "]"
    return str(value)


# --- benchmark summary, one table per device --------------------------------------------------------------


def benchmark_tables(bench: BenchmarkResults, models: Sequence[str], wide: bool = False) -> list[TableData]:
    """One latency table per device on file (cpu, with 'not run' rows, when nothing is), then CPU and CUDA
    side by side when both are on file; the compact view by default, every column when `wide`."""
    rows = [b for b in bench.rows if b.model in models]
    devices = sorted({b.device for b in rows}, key=lambda d: (d != "cpu", d)) or ["cpu"]
    tables = [run_table(rows, device, models, wide=wide) for device in devices]
    # Time to first result where a runtime compiles (start-up decides there).
    startup = [first_result_table(rows, device) for device in devices
               if any(not _is_default_runtime(r.runtime) for r in rows if r.device == device)]
    tables += [table for table in startup if table is not None]
    tables += [table for table in (front_end_table(rows, device) for device in devices) if table is not None]
    if len(devices) > 1:
        tables.append(cross_device_table(bench, rows, devices, wide=wide))
    return tables


def _runtimes_for_cora(bench: BenchmarkResults) -> list[str]:
    """The default runtimes, and any other the benchmark files timed (aoti, compile when asked for)."""
    from bench.runtimes import default_runtime_names, runtime_names

    timed = {r.runtime for r in bench.rows}
    return [name for name in runtime_names() if name in default_runtime_names() or name in timed]


def _is_default_runtime(name: str) -> bool:
    """Whether `name` is among the runtimes a plain run covers (an unknown, older name counts as one)."""
    from bench.errors import BenchError
    from bench.runtimes import get_runtime

    try:
        return get_runtime(name).default
    except BenchError:
        return True


def cross_device_table(bench: BenchmarkResults, rows: Sequence[ResultRow],
                       devices: Sequence[str], wide: bool = False) -> TableData:
    """model | runtime | batch | p50 ms per device | speedup of each other device over the first, for every
    case measured on more than one device (`wide` adds the unit); the notes name the machine behind each
    device's figures."""
    first, others = devices[0], devices[1:]
    by_key = {(r.model, r.runtime, r.batch, r.device): r for r in rows if r.status == "ok"}
    cases = list(dict.fromkeys((r.model, r.runtime, r.batch, r.unit) for r in rows if r.status == "ok"))
    columns = [Column("model", align="left", wrap=False, key=True),
               Column("runtime", align="left", wrap=False, key=True, short=RUNTIME_SHORT),
               Column("batch", key=True)]
    columns += [Column("unit", align="left", wrap=False)] if wide else []
    columns += [Column(f"p50 ms {device}", ".3f") for device in devices]
    columns += [Column(f"{device} speedup vs {first}", ".2f", unit="×") for device in others]
    out = []
    for model, runtime, batch, unit in cases:
        found = [by_key.get((model, runtime, batch, device)) for device in devices]
        if sum(f is not None for f in found) < 2:
            continue
        p50 = [f.p50_ms if f is not None else None for f in found]
        speedups = [p50[0] / p if p50[0] and p else None for p in p50[1:]]
        out.append(Row((model, runtime, batch, *([unit] if wide else []), *p50, *speedups)))
    notes = [f"{device}: {'; '.join(sorted({bench.machine(r) for r in rows if r.device == device}))}"
             for device in devices]
    notes.append("speedup = p50 on the first device ÷ p50 on this one, same model, runtime and batch; the "
                 "two figures may come from different runs and machines (named above)")
    return TableData("benchmark.cross_device", f"Latency across devices: {' vs '.join(devices)}",
                     tuple(columns), tuple(out), tuple(notes), sections=True)



def _training_tables(dataset: str, training: dict[str, TrainingRecord],
                     bench: BenchmarkResults) -> list[TableData]:
    """A dataset's training tables: the report's own layout where it has one, else the training table."""

    if dataset == "cora":  # report 000's table 6.a puts training metrics beside forward latency
        return [cora_table(training, bench, _runtimes_for_cora(bench))]
    if dataset == "mnist":  # report 003 compares optimiser/BatchNorm/scheduler configurations, 002 the MLP
        mlp = {run.model for run in MNIST_MLP_RUNS}
        report_003 = {m: r for m, r in training.items() if m not in mlp}
        return [mnist_configuration_table(report_003), mnist_target_table(report_003),
                *([batch_size_table(training)] if _batch_variants(training) else []),
                *(mlp_axis_tables(training) if mlp & set(training) else [])]
    return [training_table(dataset, training)]


def report_tables(results_dir, dataset: str = "all", wide: bool = False,
                  runs: Sequence[Path] | None = None) -> list[TableData]:
    """Every synthesis table for `dataset` ("all": every registered one), then the benchmark summary per
    device (every column when `wide`), environment first: the machine of the newest run used, else this
    machine's. Benchmark rows come from load_benchmarks: each case's newest complete run, or exactly the
    `runs` files (`bench report --run`); tables that mix runs or weights say which row is which."""
    from bench.records.store import load_benchmarks, load_sweeps, load_training

    datasets = dataset_names() if dataset == "all" else (get_dataset(dataset).name,)
    bench = load_benchmarks(results_dir, runs)
    if bench.environment is not None:
        tables = [mark_providers(environment_table(bench.environment,
                                                   f"where the newest benchmark ran: {bench.newest}"),
                                 bench.environment)]
    else:
        from bench.measure.environment import collect_environment

        here = collect_environment()
        where = "this machine; " + ("no benchmark run used (the latency tables say why)" if bench.runs
                                    else "no benchmark file on record")
        tables = [mark_providers(environment_table(here, where), here)]
    for name in datasets:
        training = load_training(results_dir, name)
        sweeps = load_sweeps(results_dir, name)
        tables += _training_tables(name, training, bench)
        if sweeps or get_dataset(name).reported_grid:  # a grid the report ran and nobody reran: show the gap
            tables += grid_tables(name, sweeps)
    models = [spec.name for name in datasets for spec in models_for_dataset(name)]
    summary = [mark_runs(table, bench) for table in benchmark_tables(bench, models, wide)]
    return tables + add_left_out(summary, bench, models)


def trained_table(dataset: str, reports: Sequence, results_dir: Path | None = None) -> TableData:
    """`bench train`'s own results (train.runner.ModelReport objects) as the training table; a run Ctrl-C
    ended is marked, with where it was kept and which checkpoint `bench run` uses instead."""
    records, partial = {}, {}
    for r in reports:
        records[r.model] = TrainingRecord(r.metrics_path, r.record())
        if r.interrupted is not None:
            partial[r.model] = (f"kept in {r.run_dir}, not promoted; {r.in_use}" if r.run_dir is not None
                                else "nothing saved (saving is off)")
    table = training_table(dataset, records, [r.model for r in reports], partial)
    if results_dir is None or not reports:
        return table
    device = reports[0].runs[0].metrics.get("device", "—")
    where = (f"device {device}; checkpoints in {results_dir}/checkpoints, metrics in "
             f"{results_dir}/training/{dataset} (complete runs only); every run's own files in "
             f"{results_dir}/training/{dataset}/runs")
    return replace(table, notes=(*table.notes, where))
