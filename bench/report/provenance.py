"""Which run and which weights each row of a report comes from: the `run` and `weights` columns a table gets
when it mixes them, and the notes that say what each run was (complete, interrupted, --no-memory,
contended)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bench.records.schema import ResultRow, RowKey
from bench.records.store import BenchmarkResults
from bench.report.tabular import Cell, Column, TableData

RUN_COLUMN = Column("run", align="left", wrap=False)
WEIGHTS_COLUMN = Column("weights", align="left")


def weights_tag(label: str) -> str:
    """A row's `weights` for a cell: 'untrained, seed 0' as it is, a checkpoint by its file name
    ('checkpoint cora-gcn.pt'); the notes give the whole path."""
    if label.startswith("checkpoint "):
        return f"checkpoint {Path(label.removeprefix('checkpoint ')).name}"
    return label or "not recorded"


def run_cell(bench: BenchmarkResults, rows: Sequence[ResultRow]) -> Cell:
    """The runs behind `rows` for a cell: '#2', '#1, #2', '#3 (memory #1)' where memory came from another."""
    tags = []
    for r in rows:
        tag = bench.tag(r.source)
        donor = bench.memory_from.get(r.key)
        tags.append(f"{tag} (memory {bench.tag(donor)})" if donor is not None else tag)
    shown = [t for t in dict.fromkeys(tags) if t]
    return ", ".join(shown) or None


def weights_cell(rows: Sequence[ResultRow]) -> Cell:
    """The weights `rows` were timed on, for a cell ('untrained, seed 0'; several joined by ' + ')."""
    shown = list(dict.fromkeys(weights_tag(r.weights) for r in rows if r.p50_ms is not None))
    return " + ".join(shown) or None


def mixes_runs(bench: BenchmarkResults, rows: Sequence[ResultRow]) -> bool:
    """True when `rows` take their timings or memory from more than one run."""
    return len(_paths(bench, rows)) > 1


def mixes_weights(rows: Sequence[ResultRow]) -> bool:
    """True when `rows` were timed on different kinds of weights (trained beside untrained, or two seeds),
    or one model's rows on different weights (retrained between runs). Each model trained on its own
    checkpoint is not a mix."""
    timed = [r for r in rows if r.p50_ms is not None]
    per_model: dict[str, set[str]] = {}
    for r in timed:
        per_model.setdefault(r.model, set()).add(r.weights)
    kinds = {"checkpoint" if r.weights.startswith("checkpoint ") else r.weights for r in timed}
    return len(kinds) > 1 or any(len(weights) > 1 for weights in per_model.values())


def _paths(bench: BenchmarkResults, rows: Sequence[ResultRow]) -> list[Path]:
    """The run files behind `rows` (timings and borrowed memory), oldest first."""
    found = {r.source for r in rows} | {bench.memory_from[r.key] for r in rows if r.key in bench.memory_from}
    return [p for p in bench.files if p in found]


def runs_notes(bench: BenchmarkResults, rows: Sequence[ResultRow]) -> list[str]:
    """One line per run behind `rows` when there are several ('run #1: <file>: complete, …'); for a single
    run, a line only when it was interrupted or skipped memory."""
    from bench.measure.contention import CONTENDED_SHARE

    paths = _paths(bench, rows)
    lines = []
    for path in paths:
        run = bench.run(path)
        if run is None:
            continue
        traits = [f"{run.interruption or 'interrupted'}: only the cases that finished" if run.interrupted
                  else "complete"]
        if not run.memory:
            traits.append("no peak memory (--no-memory)")
        share = run.foreign_cpu_share
        if share is not None:
            contended = " — CONTENDED, its timings are suspect" if share > CONTENDED_SHARE else ""
            traits.append(f"other processes used {share:.0%} of the CPUs{contended}")
        if len(paths) > 1:
            lines.append(f"run {bench.tag(path)}: {path} ({'; '.join(traits)})")
        elif run.interrupted or not run.memory:
            lines.append(f"run {path}: {'; '.join(traits)}")
    if len(paths) > 1:
        how = ("the runs named with --run; a case in several comes from the newest" if bench.chosen else
               "each row from the newest complete run of its case; `bench report --run FILE` picks runs")
        lines.append(f"rows come from {len(paths)} runs ({how}): compare rows of one run where it matters")
    return lines


def memory_notes(bench: BenchmarkResults, rows: Sequence[ResultRow]) -> list[str]:
    """Lines saying which rows' peak memory comes from an earlier run, and which have none, and why."""
    lines = []
    borrowed = [r for r in rows if r.key in bench.memory_from]
    if borrowed:
        timing = sorted({bench.tag(r.source) for r in borrowed})
        donors = sorted({bench.tag(bench.memory_from[r.key]) for r in borrowed})
        lines.append(f"peak memory of {len(borrowed)} row(s) is from run {', '.join(donors)}: the run that "
                     f"timed them ({', '.join(timing)}) ran with --no-memory; memory is measured in a "
                     "process of its own per row, on the same artifact: it does not depend on the timing run")
    missing = [r for r in rows if r.key in bench.memory_missing]
    if missing:
        files = sorted({str(bench.memory_missing[r.key]) for r in missing})
        lines.append(f"peak memory of {len(missing)} row(s) is empty: {', '.join(files)} ran with "
                     "--no-memory and no other run on file measured those cases on the same artifact")
    return lines


def left_out_notes(bench: BenchmarkResults, models: Sequence[str]) -> list[str]:
    """The interrupted runs holding some of `models` that the report did not use, and why: an interrupted run
    is never mixed in unless named with --run."""
    return [f"left out: {run.path}: {run.left_out}" for run in _left_out(bench, models)]


def _left_out(bench: BenchmarkResults, models: Sequence[str]) -> list:
    return [run for run in bench.runs if run.left_out and run.interrupted and set(run.models) & set(models)]


def mark_runs(table: TableData, bench: BenchmarkResults) -> TableData:
    """A benchmark table (`benchmark.<device>` or `benchmark.cross_device`) with a `run` column when its rows
    come from more than one run, a `weights` column when they were timed on different weights, a row note
    where a row's memory came from another run or is missing, and notes naming each run. Rows are matched
    to their results by their model, runtime and batch cells; a table without those is returned as it is."""
    names = [c.name for c in table.columns]
    if not {"model", "runtime", "batch"} <= set(names):
        return table
    device = table.key.removeprefix("benchmark.")
    devices = ([c.removeprefix("p50 ms ") for c in names if c.startswith("p50 ms ")]
               if device == "cross_device" else [device])
    per_row = []
    for row in table.rows:
        cells = dict(zip(names, row.cells, strict=True))
        found = [bench.get(RowKey(str(cells["model"]), str(cells["runtime"]), d, cells["batch"]))
                 for d in devices] if isinstance(cells["batch"], int) else []
        per_row.append([f for f in found if f is not None])
    shown = [r for found in per_row for r in found]
    # Across devices the runs differ by nature (the notes name each machine): a column only where one
    # device's figures come from several runs.
    add_run = any(mixes_runs(bench, [r for r in shown if r.device == d]) for d in devices)
    # A run table that mixes weights already says per row whether they were trained (tables.TRAINED_COLUMN).
    columns, add_weights = list(table.columns), mixes_weights(shown) and "trained" not in names
    columns += [RUN_COLUMN] if add_run else []
    columns += [WEIGHTS_COLUMN] if add_weights else []
    rows = []
    for row, found in zip(table.rows, per_row, strict=True):
        extra: list[Cell] = []
        if add_run:
            extra.append(" / ".join(str(run_cell(bench, [f]) or "—") for f in found) if found else None)
        if add_weights:
            extra.append(weights_cell(found))
        notes = [row.note] if row.note else []  # borrowed memory shows in the run cell: '#3 (memory #1)'
        notes += ["no peak memory: its run skipped it (--no-memory)" for f in found
                  if f.key in bench.memory_missing]
        rows.append(replace(row, cells=(*row.cells, *extra), note="; ".join(notes)))
    runs = runs_notes(bench, shown)
    # One line per run names each file and its contention: the table's own list of files says it twice.
    repeated = ("benchmark files:", "contended:") if len(_paths(bench, shown)) > 1 else ()
    notes = [n for n in table.notes if not n.startswith(repeated)] + runs + memory_notes(bench, shown)
    if add_weights:
        notes.append("weights: the rows were timed on different weights (trained checkpoints beside "
                     "untrained seeded ones); latency depends on the architecture, not on the values; "
                     "in full: "
                     + "; ".join(sorted({r.weights for r in shown if r.weights})))
    return replace(table, columns=tuple(columns), rows=tuple(rows), notes=tuple(notes))


def plot_footer(bench: BenchmarkResults | None, rows: Sequence[ResultRow]) -> str:
    """A figure's footer: the run behind `rows` (or each run, by tag), how contended each was, and the
    weights; '' without results to name."""
    if bench is None:
        return ""
    from bench.measure.contention import CONTENDED_SHARE

    paths = _paths(bench, rows)
    lines = []
    for path in paths:
        run = bench.run(path)
        share = run.foreign_cpu_share if run is not None else None
        contended = " (CONTENDED)" if share is not None and share > CONTENDED_SHARE else ""
        state = ("other processes' CPU share not recorded" if share is None else
                 f"other processes {share:.0%} of the CPUs{contended}")
        if run is not None and run.interrupted:
            state += f", {run.interruption or 'interrupted'}"
        prefix = f"run {bench.tag(path)}" if len(paths) > 1 else "run"
        lines.append(f"{prefix}: {path.name}, {state}")
    weights = sorted({weights_tag(r.weights) for r in rows if r.p50_ms is not None})
    if weights:
        lines.append(f"weights: {' + '.join(weights)}")
    return "\n".join(lines)


def point_tags(bench: BenchmarkResults | None, rows: Sequence[ResultRow]) -> dict[RowKey, str]:
    """Row -> its run's tag, when `rows` come from more than one run (else empty: one run, no tags)."""
    if bench is None or not mixes_runs(bench, rows):
        return {}
    return {r.key: bench.tag(r.source) for r in rows}


def add_left_out(tables: Sequence[TableData], bench: BenchmarkResults,
                 models: Sequence[str]) -> list[TableData]:
    """The benchmark tables with notes naming the interrupted runs left out of them: each under its device's
    table, or the first table when its device has none."""
    out = list(tables)
    index = {t.key.removeprefix("benchmark."): i for i, t in enumerate(out)}
    for run in _left_out(bench, models) if out else []:
        at = next((index[d] for d in run.devices if d in index), 0)
        out[at] = replace(out[at], notes=(*out[at].notes, f"left out: {run.path}: {run.left_out}"))
    return out
