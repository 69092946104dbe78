"""`bench compare`'s table: matched rows with their deltas, intervals, speedups over eager and verdicts; the
unmatched ones summarised in a note (listed with --show-unmatched)."""

from __future__ import annotations

from bench.measure.contention import CONTENDED_SHARE
from bench.measure.stability import UNSTABLE_IQR
from bench.records.compare import (
    CONFIDENCE,
    FAILED,
    FASTER,
    MISSING,
    NO_FIGURE,
    REGRESSED,
    RESAMPLES,
    SLOWER_NOISY,
    ComparedRow,
    Comparison,
    percent,
    share_text,
)
from bench.report.tabular import Column, Row, TableData

SPEEDUP = "speedup vs eager"  # the run table's name and direction: eager ÷ this runtime, above 1 is faster
STYLES = {REGRESSED: "red", FAILED: "red", MISSING: "red", NO_FIGURE: "red", SLOWER_NOISY: "yellow",
          FASTER: "green"}


def _interval_text(ci: tuple[float, float] | None) -> str | None:
    """The 95 % interval of after ÷ before as a delta in %, e.g. '+18.2 to +31.0'."""
    if ci is None:
        return None
    return f"{(ci[0] - 1) * 100:+.1f} to {(ci[1] - 1) * 100:+.1f}"


def _row(r: ComparedRow) -> Row:
    """One table row; a row that would fail but was allowed by a flag says so and is not red."""
    cells = (*r.key, r.before_ms, r.after_ms, r.delta_pct, _interval_text(r.ratio_ci),
             r.before_speedup, r.after_speedup, r.verdict)
    allowed = r.verdict in (MISSING, NO_FIGURE) and not r.fails
    note = r.note + (" (allowed)" if allowed else "")
    return Row(cells, note, style="" if allowed else STYLES.get(r.verdict, ""))


def comparison_table(result: Comparison, show_unmatched: bool = False) -> TableData:
    """`bench compare` (a records.compare.Comparison): row | before | after | delta and its 95 % interval |
    speedup vs eager in each file | verdict; unmatched rows counted in a note unless `show_unmatched`."""
    columns = (Column("model", align="left"), Column("runtime", align="left"),
               Column("device", align="left"), Column("batch"), Column("before ms", ".3f"),
               Column("after ms", ".3f"), Column("delta %", "+.1f"),
               Column("delta 95 % CI", align="left", wrap=False),
               Column(f"{SPEEDUP} (before)", ".2f", unit="×"), Column(f"{SPEEDUP} (after)", ".2f", unit="×"),
               Column("verdict", align="left"))
    shown = [r for r in result.rows if show_unmatched or r.matched]
    threshold = f"{result.threshold_pct:g} %"
    notes = [f"{result.metric} latency per call in ms; a row REGRESSES when after is slower than before "
             f"by more than {threshold} and the {percent(CONFIDENCE)} interval of the slowdown lies above 0",
             f"delta 95 % CI: bootstrap of both files' per-round samples ({RESAMPLES} resamples, seeded); "
             "without samples the threshold alone decides (the row's note says so)",
             f"{SPEEDUP}: eager's {result.metric} ÷ this row's, same model, device and batch, same file "
             "(above 1×: faster than eager)",
             f"noisy: unstable (IQR/median > {UNSTABLE_IQR:.2f}) in either run, or a contended run (other "
             f"processes above {percent(CONTENDED_SHARE)} of the CPUs): a significant slowdown there is "
             f"'{SLOWER_NOISY}', failing only with --strict"]
    before, after = result.foreign_cpu_share
    if any(s is not None and s > CONTENDED_SHARE for s in (before, after)):
        notes.append(f"contended: other processes used {share_text(before)} of the CPUs while before was "
                     f"timed, {share_text(after)} while after was")
    only_before, only_after = len(result.only_before), len(result.only_after)
    if (only_before or only_after) and not show_unmatched:
        notes.append(f"unmatched: {only_before} row(s) only in before, {only_after} only in after "
                     "(--show-unmatched lists them)")
    title = f"{result.metric} latency (ms), after vs before, regression above +{threshold}"
    return TableData("compare", title, columns, tuple(_row(r) for r in shown), tuple(notes))

