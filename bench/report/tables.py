"""One builder per command table. Each returns a TableData that every --format renders with the same
columns (bench.report.render); the synthesis tables of `bench report` live in bench.report.synthesis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.records.schema import MIN_ROUNDS, REFERENCE_RUNTIME, ResultRow
from bench.report.tabular import NOT_RUN, Cell, Column, Row, TableData
from train.registry import ModelSpec, get_model

MIB = 2**20
UNSTABLE_NOTE = "unstable: IQR/median {:.2f} > 0.10 after extra rounds"
# Minor page faults per call from which a row says the allocator is in its time: 256 faults are 1 MiB of
# pages handed back by free and faulted in again (about a quarter to half a millisecond here).
FAULTS_NOTED = 256
FAULTS_NOTE = "{:,.0f} page faults per call: freed memory faulted back in (the allocator is in this time)"


def memory_method_short(method: str) -> str:
    """A peak-memory method's name for a table cell: 'RSS', 'CUDA alloc', 'NVML' (the JSON keeps it whole)."""
    for key, short in (("VmHWM", "RSS"), ("RSS", "RSS"), ("allocator", "CUDA alloc"), ("NVML", "NVML")):
        if key in method:
            return short
    return method or "?"


def run_command(models: Sequence[str], device: str, runtimes: Sequence[str] = ()) -> str:
    """The `bench run` line that times these models (all runtimes unless named) on `device`."""
    parts = ["bench run", f"--models {','.join(models)}"]
    if runtimes:
        parts.append(f"--runtimes {','.join(runtimes)}")
    parts.append(f"--device {device}")
    return f"`{' '.join(parts)}`"


# --- bench run / bench report: the latency table ---------------------------------------------------------

RUNTIME_SHORT = (("torchscript", "ts"), ("onnxruntime", "ort"))  # what a narrow terminal shows instead
RUN_COLUMNS = (
    Column("model", align="left", wrap=False, key=True),
    Column("runtime", align="left", wrap=False, key=True, short=RUNTIME_SHORT), Column("batch", key=True),
    Column("unit", align="left", wrap=False), Column("status", align="left", wrap=False), Column("rounds"),
    Column("p50 ms", ".3f"), Column("p99 ms", ".3f"), Column("throughput/s", ",.0f"),
    Column("speedup vs eager", ".2f", unit="×"), Column("95 % CI", align="left", wrap=False),
    Column("GFLOP/s", ".1f"), Column("% of GEMM", ".1f"), Column("% of hw", ".1f"),
    Column("peak MiB", ".1f"), Column("load MiB", ".1f"), Column("infer MiB", ".1f"),
    Column("memory", align="left", wrap=False), Column("IQR/median", ".2f"), Column("faults/call", ",.0f"),
    Column("parity", align="left", wrap=False, short=(("reference", "ref"),)), Column("max abs diff", ".1e"),
    Column("size MiB", ".2f"),
)
# The default view: what a decision between runtimes needs, readable at 80 columns; --wide shows RUN_COLUMNS.
COMPACT_RUN_COLUMNS = ("model", "runtime", "batch", "p50 ms", "speedup vs eager", "95 % CI", "peak MiB",
                       "parity")


def run_table(rows: Sequence[ResultRow], device: str, models: Sequence[str] = (),
              notes: Sequence[str] = (), wide: bool = False) -> TableData:
    """`bench run`'s table (and `bench report`'s summary) for one device, rows in case order; skipped and
    failed rows with their reason in the note; `models` never timed here appear as 'not run' with the
    command. The default view has the columns a choice of runtime needs (COMPACT_RUN_COLUMNS): latency,
    speedup with its interval, parity, peak memory; `wide` adds rounds, p99, throughput, roofline,
    stability, the memory split and method, parity's difference and the file size."""
    columns = RUN_COLUMNS if wide else tuple(c for c in RUN_COLUMNS if c.name in COMPACT_RUN_COLUMNS)
    rows = [r for r in rows if r.device == device]
    out = [_run_row(r, columns, wide) for r in rows]
    # Trained and untrained rows side by side: each row says which (latency is the architecture's, but a
    # reader must not take an untrained row for the trained model).
    kinds = {_trained_cell(r) for r in rows} - {None}  # several checkpoints, all trained: no column
    if len(kinds) > 1:
        columns = (*columns, TRAINED_COLUMN)
        out = [replace(row, cells=(*row.cells, _trained_cell(r))) for row, r in zip(out, rows, strict=True)]
    if any("test_acc" in r.accuracy for r in rows):  # a quantized row: its accuracy beside eager's
        columns = (*columns, *ACCURACY_COLUMNS)
        out = [replace(row, cells=(*row.cells, *_accuracy_cells(r, rows)))
               for row, r in zip(out, rows, strict=True)]
    out = [_with_accuracy_reason(row, r) for row, r in zip(out, rows, strict=True)]
    timed = {r.model for r in rows}
    for model in models:
        if model not in timed:
            unit = "nodes" if get_model(model).is_graph else "samples"
            cells = {"model": model, "runtime": "all", "unit": unit, "status": NOT_RUN}
            out.append(Row(tuple(cells.get(c.name) for c in columns),
                           f"{NOT_RUN}: {run_command([model], device)}"))
    lines = (_wide_notes if wide else _compact_notes)(rows)
    lines += _run_context_notes(rows)
    lines += [ACCURACY_NOTE] if any("test_acc" in r.accuracy for r in rows) else []
    lines += [*notes, *sources_notes(rows)]
    return TableData(f"benchmark.{device}", f"Inference latency on {device}", columns, tuple(out),
                     tuple(lines), sections=True)


FIRST_RESULT_COLUMNS = (
    Column("model", align="left", wrap=False, key=True),
    Column("runtime", align="left", wrap=False, key=True, short=RUNTIME_SHORT), Column("batch", key=True),
    Column("export s", ".2f"), Column("load s", ".2f"), Column("1st call ms", ".2f"),
    Column("total s", ".2f"), Column("p50 ms", ".3f"), Column("repaid after", ",.0f", unit=" calls"),
)


def first_result_table(rows: Sequence[ResultRow], device: str) -> TableData | None:
    """Time to first result per model × runtime on `device` (None when no row recorded it): making the
    artifact (its export, from the manifest), loading it (compile included where a runtime compiles at
    load), the first call; and after how many calls a faster runtime has repaid its start-up over eager.
    Each model × runtime's first size in the run: the one whose session was freshly loaded."""
    first: dict[tuple[str, str], ResultRow] = {}
    for r in rows:
        startup = r.extra.get("first_result")
        # A session reused from an earlier size carries that size's load: only fresh loads count here.
        if r.device == device and r.status == "ok" and _complete_startup(startup) \
                and not startup.get("reused_session"):
            first.setdefault((r.model, r.runtime), r)
    if not first:
        return None
    out = []
    for (model, runtime), r in first.items():
        startup = r.extra["first_result"]
        eager = first.get((model, REFERENCE_RUNTIME))
        repaid, note = _repaid_after(r, eager)
        compile_s = startup.get("compile_s")
        if isinstance(compile_s, (int, float)):
            note = "; ".join(filter(None, [f"load includes a {compile_s:.1f} s compile", note]))
        out.append(Row((model, runtime, r.batch, startup.get("export_s"), startup.get("load_s"),
                        startup["first_call_s"] * 1e3, startup["total_s"], r.p50_ms, repaid), note))
    notes = ("export s: making the artifact, as its manifest recorded it (none for eager and compile: they "
             "load weights.pt); load s: reading it here (torch.compile compiles in it; the runtime's "
             "imports, done once per process before the first row, are not in it: bench.preload_s in the "
             "JSON); 1st call: the first call at that batch; total: their sum, the time to a first result",
             "repaid after: calls at that batch after which the runtime's faster calls have paid back its "
             "longer start-up over eager's (p50 difference); — where it starts no slower or never runs "
             "faster")
    return TableData(f"first_result.{device}", f"Time to first result on {device}", FIRST_RESULT_COLUMNS,
                     tuple(out), notes, sections=True)


def _complete_startup(startup: object) -> bool:
    """Whether a row's `first_result` has the figures the table needs (a damaged file may lack them)."""
    return isinstance(startup, dict) and all(isinstance(startup.get(k), (int, float))
                                              for k in ("load_s", "first_call_s", "total_s"))


def _repaid_after(r: ResultRow, eager: ResultRow | None) -> tuple[Cell, str]:
    """(calls after which `r` has paid back its extra start-up over eager, a note when it never does)."""
    if eager is None or r.runtime == REFERENCE_RUNTIME or r.p50_ms is None or eager.p50_ms is None \
            or eager.batch != r.batch:
        return None, ""
    extra_s = r.extra["first_result"]["total_s"] - eager.extra["first_result"]["total_s"]
    saved_s = (eager.p50_ms - r.p50_ms) / 1e3
    if extra_s <= 0:
        return None, ""  # ready no later than eager: nothing to repay
    if saved_s <= 0:
        return None, "never repaid: no faster than eager per call"
    return extra_s / saved_s, ""


FRONT_END_COLUMNS = (
    Column("model", align="left", wrap=False, key=True),
    Column("runtime", align="left", wrap=False, key=True, short=RUNTIME_SHORT), Column("batch", key=True),
    Column("with front end ms", ".3f"), Column("without ms", ".3f"), Column("front end ms/clip", ".3f"),
    Column("share", ".0%"),
)


def front_end_table(rows: Sequence[ResultRow], device: str) -> TableData | None:
    """What preprocessing inside the graph costs: each model that runs another's weights on raw input
    (esc50-wave: esc50-cnn behind the log-mel front end) against that model, same runtime and batch, from
    the same rows; a runtime that could not run the front end shows why. None when no pair ran."""
    from train.registry import model_names

    ok = {(r.model, r.runtime, r.batch): r for r in rows if r.device == device and r.status == "ok"}
    out = []
    for name in model_names():
        base = get_model(name).weights_of
        if not base:
            continue
        for r in rows:
            if r.device != device or r.model != name:
                continue
            without = ok.get((base, r.runtime, r.batch))
            if r.status != "ok" or r.p50_ms is None:
                out.append(Row((name, r.runtime, r.batch, None, None, None, None),
                               f"{r.status}: {r.reason}", style="yellow"))
            elif without is not None and without.p50_ms is not None:
                cost = r.p50_ms - without.p50_ms
                # Negative: the whole model ran faster than the network alone (two compiles, or noise):
                # the front end's cost is below what these two rows can resolve, and the note says so.
                note = f"vs {base}" if cost >= 0 else (f"vs {base}: faster with the front end, so its cost "
                                                       "is below what these rows resolve")
                out.append(Row((name, r.runtime, r.batch, r.p50_ms, without.p50_ms, cost / r.batch,
                                cost / r.p50_ms), note))
    if not out:
        return None
    notes = ("front end ms/clip: (p50 with the front end − p50 of the same network on precomputed features) "
             "÷ batch, same runtime and run; share: of the whole call",)
    return TableData(f"front_end.{device}", f"Preprocessing in the graph on {device}", FRONT_END_COLUMNS,
                     tuple(out), notes, sections=True)


TRAINED_COLUMN = Column("trained", align="left", wrap=False)


ACCURACY_COLUMNS = (Column("test acc", ".4f"), Column("Δ acc pp", "+.2f"))
ACCURACY_NOTE = ("test acc: the trained checkpoint's accuracy on the real test split through that runtime "
                 "(eager's on its row; as `bench accuracy`); Δ acc pp: minus eager's, in percentage points")


def _accuracy_cells(r: ResultRow, rows: Sequence[ResultRow]) -> tuple[Cell, Cell]:
    """(test accuracy, its difference from eager's in pp) of a row that measured one; eager's row shows the
    eager accuracy its model's quantized rows were read against."""
    if "test_acc" in r.accuracy:
        return r.accuracy["test_acc"], r.accuracy.get("delta_vs_eager_pp")
    if r.runtime == REFERENCE_RUNTIME and r.p50_ms is not None:
        return next((o.accuracy["eager_test_acc"] for o in rows
                     if o.model == r.model and "eager_test_acc" in o.accuracy), None), None
    return None, None


def _with_accuracy_reason(row: Row, r: ResultRow) -> Row:
    """The row, its note saying why a quantized row's accuracy was not measured (untrained weights, no test
    split), when it was not."""
    reason = r.accuracy.get("reason")
    if not reason:
        return row
    return replace(row, note="; ".join(filter(None, [row.note, f"test accuracy not measured: {reason}"])))


def _trained_cell(r: ResultRow) -> Cell:
    """'yes' for a row timed on a trained checkpoint, 'no' for seeded untrained weights, — when unknown."""
    if r.p50_ms is None or not r.weights:
        return None
    return "yes" if r.weights.startswith("checkpoint") else "no"


def _speedup_note(rows: Sequence[ResultRow]) -> str:
    if any(r.paired_speedup is not None for r in rows):
        return ("speedup: eager ÷ this runtime in interleaved rounds (geometric mean of per-round ratios, "
                "95 % bootstrap CI) where paired, else eager p50 ÷ this p50")
    return "speedup = eager p50 ÷ this p50, same model, device, size and run"


def _memory_note(rows: Sequence[ResultRow], wide: bool) -> list[str]:
    methods = sorted({r.peak_memory_method for r in rows if r.peak_memory_bytes is not None})
    if methods:
        split = ("load = loading and binding inputs, infer = the calls after warm-up, peak = the larger"
                 if wide else "peak = the larger of loading and inference (--wide: each)")
        return ["peak MiB: memory above a baseline taken after the imports, each row in a process of its "
                f"own; {split}; " + "; ".join(methods)]
    return ["peak memory: not recorded by these runs (--no-memory)"] if rows else []


def _inputs_note(rows: Sequence[ResultRow]) -> list[str]:
    """Which dense rows ran on real data (the rest: seeded standard-normal inputs)."""
    real: dict[str, list[str]] = {}
    for row in rows:
        label = str(row.extra.get("inputs") or "")
        if label and row.unit != "nodes" and row.model not in real.setdefault(label, []):
            real[label].append(row.model)
    return [f"inputs of {', '.join(models)}: {label}; other rows: seeded random inputs"
            for label, models in real.items()]


def _graph_note(rows: Sequence[ResultRow]) -> list[str]:
    """What graph the graph rows ran on: the real Cora, or a random graph of its size and why."""
    if not any(r.unit == "nodes" for r in rows):
        return []
    graphs = sorted({str(r.extra.get("inputs") or "") for r in rows if r.unit == "nodes"} - {""})
    where = "; ".join(graphs) if graphs else "a random graph of Cora's size (older runs: not recorded)"
    return [f"batch of a graph model: the nodes of the graph it ran on: {where}"]


def _compact_notes(rows: Sequence[ResultRow]) -> list[str]:
    """What the default view's columns mean, in as few lines as an 80-column terminal can bear."""
    lines = [f"p50 ms: median time per call; {_speedup_note(rows)}",
             "parity: the output vs eager's on the benchmarked inputs (reference: eager itself)"]
    lines += _memory_note(rows, wide=False)
    lines += _graph_note(rows) + _inputs_note(rows)
    lines.append("--wide: every column (rounds, p99, throughput, roofline, stability, memory split, size)")
    return lines


def _wide_notes(rows: Sequence[ResultRow]) -> list[str]:
    """What every column of the --wide view means."""
    lines = ["p50/p99 over the rows' rounds (a round's time ÷ its calls); p99 shown from 100 rounds on; "
             f"throughput = batch ÷ p50; {_speedup_note(rows)}",
             "GFLOP/s = counted FLOPs (matmul/conv) ÷ p50; % of GEMM: of the best GEMM measured in the same "
             "run and precision (torch, and ONNX Runtime on the CPU); % of hw: of the theoretical fp32 peak "
             "(bench env shows its inputs; above 100 % the clock it assumed is below the real one)",
             "IQR/median > 0.10 after extra rounds marks a row unstable; faults/call: minor page faults "
             "per call, every thread (freed memory faulted back in; see host memory)",
             "parity: the row's output vs eager on the benchmarked inputs "
             "(pass: |diff| ≤ atol + rtol·|eager|)"]
    return lines + _memory_note(rows, wide=True) + _graph_note(rows) + _inputs_note(rows)


def _setting_note(values: set[str], one: str, mixed: str) -> list[str]:
    """`one` with the value when every row shares it, `mixed` with them all when they differ, else none."""
    if len(values) == 1:
        return [one.format(next(iter(values)))]
    return [mixed.format(" and ".join(sorted(values)))] if values else []


def _run_context_notes(rows: Sequence[ResultRow]) -> list[str]:
    """Precision policies, host memory, transfer scope and the independent timing behind `rows` (both
    views)."""
    lines = _setting_note({_policy_text(r.extra["precision"]) for r in rows if r.extra.get("precision")},
                          "precision: {} (every runtime alike; parity tolerance follows)",
                          "MIXED precision: rows come from runs under {}; compare rows of one policy only")
    measured = [r for r in rows if r.p50_ms is not None]
    # Rows from files older than the setting ran glibc's defaults: counted, so a mix says MIXED.
    recorded = any(r.extra.get("allocator") for r in measured)
    lines += _setting_note({str(r.extra.get("allocator") or "not recorded (glibc defaults)")
                            for r in measured}
                           if recorded else set(),
                           "host memory: {} (--allocator)",
                           "MIXED host memory: rows come from runs under {}; torch runtimes' times differ "
                           "by it")
    transfer = sum(1 for r in rows if str(r.extra.get("timing_scope", "")).startswith("host"))
    if transfer:
        timed = len([r for r in rows if r.status == "ok"])
        lines.append(f"timing: {transfer} of {timed} rows include host→device→host copies on every call "
                     "(--include-transfer); the others have device-resident inputs")
    return lines + independent_notes(rows)


def _run_row(r: ResultRow, columns: Sequence[Column], wide: bool) -> Row:
    """One row of the run table: figures for a measured case, the status and its reason otherwise (no
    figure: a reader of any format finds only numbers in the figure columns)."""
    cells: dict[str, Cell] = {"model": r.model, "runtime": r.runtime, "batch": r.batch, "unit": r.unit,
                              "status": r.status}
    if r.status != "ok" and r.p50_ms is None:  # never timed: the status and its reason
        return Row(tuple(cells.get(c.name) for c in columns), f"{r.status}: {r.reason}",
                   style="yellow" if r.status == "skipped" else "red")
    eager = r.runtime == REFERENCE_RUNTIME
    peak = r.peak_memory_bytes
    speedup, interval = _speedup_cells(r)
    load, infer = _memory_cells(r)
    cells |= {
        "rounds": r.rounds, "p50 ms": r.p50_ms, "p99 ms": r.backed_ms("p99"),
        "throughput/s": r.throughput_per_s, "speedup vs eager": speedup, "95 % CI": interval,
        "GFLOP/s": r.gflops_achieved, "% of GEMM": r.pct_of_peak, "% of hw": r.pct_of_hardware_peak,
        "peak MiB": None if peak is None else peak / MIB, "load MiB": load, "infer MiB": infer,
        "memory": memory_method_short(r.peak_memory_method) if peak is not None else None,
        "IQR/median": r.iqr_over_median, "faults/call": r.page_faults_per_call,
        "parity": "reference" if eager else {True: "pass", False: "FAIL"}.get(r.parity_passed),
        "max abs diff": None if eager else r.parity_max_abs,
        "size MiB": None if r.artifact_bytes is None else r.artifact_bytes / MIB}
    notes, style = [], ""
    if r.status == "failed":  # timed, then failed (its output missed parity): figures kept, no speedup
        notes, style = [f"failed: {r.reason}"], "red"
    elif r.parity_passed is False:
        notes, style = ["parity FAILED: outputs differ from eager beyond tolerance"], "red"
    elif r.unstable:
        notes = [UNSTABLE_NOTE.format(r.iqr_over_median or 0.0)]
    if r.page_faults_per_call is not None and r.page_faults_per_call >= FAULTS_NOTED:
        notes.append(FAULTS_NOTE.format(r.page_faults_per_call))
    if wide and r.p99_ms is not None and r.backed_ms("p99") is None:  # the compact view shows no p99
        notes.append(f"p99 needs ≥ {MIN_ROUNDS['p99']} rounds, this row had {r.rounds} "
                     "(--min-rounds, --max-time)")
    return Row(tuple(cells.get(c.name) for c in columns), "; ".join(notes), style)


def independent_notes(rows: Sequence[ResultRow]) -> list[str]:
    """How the harness compares with the independent timing of --verify-timing, when the rows carry one."""
    ratios = [r.extra["independent_timing"]["harness_over_independent"] for r in rows
              if isinstance(r.extra.get("independent_timing"), dict)]
    if not ratios:
        return []
    close = sum(1 for ratio in ratios if abs(ratio - 1) <= 0.05)
    return [f"independent check (--verify-timing, torch's Timer right after each row): {close} of "
            f"{len(ratios)} rows' p50 within ±5 % of it (harness ÷ Timer from {min(ratios):.2f} to "
            f"{max(ratios):.2f})"]


def _policy_text(policy: dict) -> str:
    """'fp32 (TF32 off), cuDNN autotuning off' from a row's precision record."""
    tf32 = "TF32 on" if policy.get("precision") == "tf32" else "TF32 off"
    tuning = "on" if policy.get("cudnn_benchmark") else "off"
    return f"{policy.get('precision')} ({tf32}), cuDNN autotuning {tuning}"


def _memory_cells(r: ResultRow) -> tuple[Cell, Cell]:
    """(load MiB, inference MiB); a run before the split recorded one peak: shown as load, inference —."""
    if r.load_memory_bytes is not None:
        return r.load_memory_bytes / MIB, r.inference_memory_bytes / MIB
    peak = r.peak_memory_bytes
    return (None if peak is None else peak / MIB), None


def _speedup_cells(r: ResultRow) -> tuple[Cell, Cell]:
    """(speedup vs eager, its 95 % interval): paired rounds when the run timed them, else the p50 ratio."""
    if r.runtime == REFERENCE_RUNTIME:
        return (1.0 if r.status == "ok" else None), None
    if r.status != "ok":
        return None, None
    interval = r.paired_interval
    if r.paired_speedup is not None and interval is not None:
        return r.paired_speedup, f"{interval[0]:.2f}–{interval[1]:.2f}"
    return r.speedup_vs_eager, None


def sources_notes(rows: Sequence[ResultRow]) -> list[str]:
    """Notes naming the benchmark files, contended runs and weights behind `rows`."""
    from bench.measure.contention import CONTENDED_SHARE

    files = sorted({str(r.source) for r in rows if r.source is not None})
    by_weights: dict[str, list[str]] = {}
    for r in rows:
        if r.weights and r.model not in by_weights.setdefault(r.weights, []):
            by_weights[r.weights].append(r.model)
    # One set of weights: said once; several: which models were timed on which
    weights = sorted(by_weights) if len(by_weights) <= 1 else [
        f"{label} ({', '.join(models)})" for label, models in sorted(by_weights.items())]
    out = [f"benchmark files: {', '.join(files)}"] if files else []
    contended = sorted({(str(r.source), r.foreign_cpu_share) for r in rows if r.source is not None
                        and r.foreign_cpu_share is not None and r.foreign_cpu_share > CONTENDED_SHARE})
    out += [f"contended: other processes used {share:.0%} of the CPUs while {Path(path).name} was timed"
            for path, share in contended]
    return out + ([f"weights benchmarked: {'; '.join(weights)}"] if weights else [])


def run_notes(threads: int, foreign_cpu_share: float, json_path: Path | None) -> list[str]:
    """What `bench run` adds under its own table: threads, contention, where the JSON went."""
    lines = [f"{threads} CPU thread(s) for every runtime; other processes used {foreign_cpu_share:.0%} of "
             "the CPUs while timing"]
    return lines + ([] if json_path else ["JSON: none (nothing was timed)"])


# --- bench export, bench models, bench env, bench accuracy -----------------------------------------------


def export_table(results: Sequence) -> TableData:
    """`bench export` parity table, one row per export.pipeline.ExportResult (parity vs eager, fp32)."""
    columns = (Column("model", align="left"), Column("format", align="left"), Column("ok", align="left"),
               Column("exporter", align="left"), Column("size MiB", ".2f"), Column("export s", ".2f"),
               Column("max abs", ".1e"), Column("max rel", ".1e"), Column("argmax agree", ".1%"),
               Column("checked on", align="left"))
    rows = []
    for r in results:
        p = r.parity
        rows.append(Row((r.model, r.format, "ok" if r.ok else "FAILED", r.exporter or None,
                         None if r.size_bytes is None else r.size_bytes / MIB, r.export_time_s,
                         p.max_abs if p else None, p.max_rel if p else None,
                         p.argmax_agreement if p else None, p.checked_on if p else None),
                        r.reason, style="" if r.ok else "red"))
    first = next((r.parity for r in results if r.parity), None)
    notes = (f"pass: |export − eager| ≤ atol {first.atol:g} + rtol {first.rtol:g}·|eager|, every logit",) \
        if first else ()
    return TableData("export", "Exports: parity against eager PyTorch", columns, tuple(rows), notes)


def models_table(rows: Sequence[tuple[ModelSpec, int, int]]) -> TableData:
    """Registry table: model | dataset | parameters | input (one sample) | FLOPs at batch 1 (graphs: Cora)."""
    columns = (Column("model", align="left"), Column("dataset", align="left"), Column("parameters", ","),
               Column("input (one sample)", align="left"), Column("FLOPs @ batch 1", ","))
    body = tuple(Row((spec.name, spec.dataset, params, spec.sample_shape(), flops),
                     "FLOPs on the full Cora graph (2708 nodes)" if spec.is_graph else "")
                 for spec, params, flops in rows)
    return TableData("models", "Reference models", columns, body,
                     ("FLOPs: torch's flop counter, matmul and convolution only",))


def environment_rows(environment: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs of the environment block."""
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
        *_peak_rows(environment.get("hardware_peak") or {}),
        ("git commit", str(environment.get("git_commit"))),
    ]


def _peak_rows(peaks: dict[str, Any]) -> list[tuple[str, str]]:
    """The theoretical fp32 peaks and every input behind them, one row per device."""
    rows = []
    for peak in ([peaks["cpu"]] if "cpu" in peaks else []) + list(peaks.get("cuda") or []):
        figure = "unknown" if peak.get("gflops") is None else f"{peak['gflops']:,.1f} GFLOP/s"
        inputs = ", ".join(f"{k} {v}" for k, v in (peak.get("inputs") or {}).items())
        rows.append((f"fp32 peak, theoretical ({peak.get('device')})", f"{figure} from {inputs}"))
    return rows


def environment_table(environment: dict[str, Any], where: str = "this machine") -> TableData:
    """The hardware/software block as a two-column table; `where` says whose it is."""
    rows = tuple(Row((label, value)) for label, value in environment_rows(environment))
    return TableData("environment", f"Environment ({where})",
                     (Column("item", align="left"), Column("value", align="left")), rows)


def accuracy_table(rows: Sequence, json_path: Path | None = None) -> TableData:
    """`bench accuracy` (bench.run.accuracy.AccuracyRow objects): test accuracy per runtime, checkpoint's for
    reference."""
    columns = (
        Column("model", align="left"), Column("runtime", align="left"), Column("test_acc", ".4f"),
        Column("Δ vs eager (pp)", "+.2f"), Column("≠ eager", "d"), Column("samples", "d"),
        Column("checkpoint test_acc", ".4f"),
    )
    table_rows = tuple(
        Row((r.model, r.runtime, r.test_acc, r.delta_vs_eager_pp, r.differs_from_eager, r.samples,
             r.checkpoint_test_acc), r.note)
        for r in rows
    )
    notes = ("test split through each runtime on CPU; Δ and ≠ eager compare with the eager row",)
    if json_path is not None:
        notes += (f"saved to {json_path}",)
    return TableData("accuracy", "Test accuracy per exported format", columns, table_rows, notes)


# --- training tools: lr-find, sweep, sanity, baselines ---------------------------------------------------


def lr_find_table(model: str, result, path) -> TableData:
    """LR range test (a train.lr_find.LRFindResult): ~12 log-spaced rows of lr | loss | smoothed loss."""
    step = max(1, len(result.lrs) // 12)
    shown = list(range(0, len(result.lrs), step))
    if result.lrs and shown[-1] != len(result.lrs) - 1:
        shown.append(len(result.lrs) - 1)
    columns = (Column("lr", ".2e"), Column("loss", ".4f"), Column("smoothed loss", ".4f"))
    rows = tuple(Row((result.lrs[i], result.losses[i], result.smoothed[i])) for i in shown)
    steepest = f"{result.suggestion:.2e}" if result.suggestion else "—"
    lowest = f"{result.min_loss_lr:.2e}" if result.min_loss_lr else "—"
    ending = "stopped when the loss diverged" if result.stopped_early else "reached the last rate"
    notes = (f"steepest descent at lr {steepest}; lowest smoothed loss at lr {lowest} (a tenth of it is the "
             f"classic pick); {ending}", f"JSON: {path}")
    return TableData("lr_find", f"LR finder: {model}", columns, rows, notes)


def sweep_table(result) -> TableData:
    """Grid search (a train.sweep.SweepResult), best first: Run | <grid keys> | val_acc | val_f1 | val_loss |
    best epoch | train s."""
    columns = (Column("Run", align="left"),
               *(Column(key.removeprefix("model_kwargs."), align="left") for key in result.keys),
               Column("val_acc", ".4f"), Column("val_f1", ".4f"), Column("val_loss", ".4f"),
               Column("best epoch"), Column("train s", ".2f"))
    rows = tuple(Row((row.name, *(str(row.values[k]) for k in result.keys), row.val_acc, row.val_f1,
                      row.val_loss, row.best_epoch, row.total_train_time_s),
                     "★ best" if i == 0 else "", style="bold" if i == 0 else "")
                 for i, row in enumerate(result.rows))
    notes = (f"JSON: {result.path}",) if result.path else ()
    return TableData("sweep", f"Grid search: {result.model} (selected by val_acc)", columns, rows, notes)


def sanity_table(report: dict) -> TableData:
    """Sanity checks of train.sanity.run_sanity: initial loss vs ln(C), gradients, tiny-subset overfit."""
    fit = report["overfit"]
    columns = (Column("check", align="left"), Column("expected", align="left"), Column("observed"))
    rows = (
        Row(("initial loss", f"≈ ln(classes) = {report['expected_loss']:.3f}",
             f"{report['initial_loss']:.3f}")),
        Row(("gradient norm after one backward", "finite, > 0", f"{report['grad_norm']:.3f}"),
            "" if report["grads_ok"] else "FAILED", style="" if report["grads_ok"] else "red"),
        Row((f"overfit {fit['samples']} samples, {fit['epochs']} epochs (lr {fit['lr']:g}, "
             f"wd {fit['weight_decay']:g})", "train loss → 0, train acc → 1",
             f"loss {fit['first_train_loss']:.3f} → {fit['final_train_loss']:.4f}, "
             f"acc {fit['final_train_acc']:.3f}")),
    )
    return TableData("sanity", f"Sanity checks: {report['model']}", columns, rows)


def baselines_table(dataset: str, result: dict) -> TableData:
    """Majority-class and uniform-random accuracy on the test split (report 001: both 0.02 on ESC-50)."""
    columns = (Column("baseline", align="left"), Column("test accuracy", ".4f"))
    rows = (Row((f"majority train class ({result['majority_class']})", result["majority_test_acc"])),
            Row(("uniform random (expected 1/C)", result["uniform_expected_acc"])),
            Row(("uniform random (one seeded draw)", result["uniform_test_acc"])))
    return TableData("baselines", f"Baselines: {dataset} test split ({result['test_samples']} samples)",
                     columns, rows)


# --- bench doctor -----------------------------------------------------------------------------------------


def doctor_table(results: Sequence, summary: Path, dry_run: bool) -> TableData:
    """`bench doctor` (bench.run.doctor.StepResult objects): step, status, seconds, files; reason as note."""
    columns = (Column("step", align="left"), Column("status", align="left"), Column("seconds", ".1f"),
               Column("files", align="left"))
    styles = {"failed": "red", "timed out": "red", "skipped": "yellow"}
    rows = tuple(Row((r.name, r.status, None if dry_run else r.seconds, ", ".join(r.files) or None), r.reason,
                     style=styles.get(r.status, "")) for r in results)
    title = "GPU check: plan (dry run, nothing was run)" if dry_run else "GPU check"
    return TableData("doctor", title, columns, rows, (f"summary: {summary}",))
